//! Alias resolution: which price-book entry prices a model name as an
//! application or SDK sent it.
//!
//! The names to try, in this one order (the first with a price in force at
//! the event's time wins):
//! 0. for an image with a `quality` and/or `size`, the entry LiteLLM keys by
//!    them: `<quality>/<W>-x-<H>/<name>`, then `<W>-x-<H>/<name>` (DALL·E,
//!    gpt-image-1, Stable Diffusion), each also under the event's provider
//!    (`azure/hd/1024-x-1024/dall-e-3`);
//! 1. the exact name;
//! 2. the event's `provider` + `/` + name, as LiteLLM keys it (`anthropic/…`,
//!    `gemini/…`, `bedrock/…`; a provider's common other spellings map to
//!    LiteLLM's: `google` → `gemini`, `vertex` → `vertex_ai`, `aws` → `bedrock`);
//! 3. the name without a known provider prefix (`openai/gpt-4o` → `gpt-4o`,
//!    `models/gemini-2.5-pro` → `gemini-2.5-pro`), prefix by prefix;
//! 4. each of the names above with a Bedrock or Vertex region removed: a
//!    cross-region inference profile (`us.`, `eu.`, `apac.`, `global.`, … in
//!    front of `anthropic.claude-…`) or a region path segment
//!    (`bedrock/us-east-1/…`, `vertex_ai/us-central1/…`).
//!
//! Nothing else is changed: a dated snapshot never falls back to an undated
//! name, nor one version to another (`claude-sonnet-4-5-20250929` is not
//! `claude-sonnet-4-5`), because their prices can differ and a wrong price
//! is worse than a visible missing one.

/// Provider spellings an event may use, and LiteLLM's prefix for them.
const PROVIDER_SPELLINGS: [(&str, &str); 12] = [
    ("google", "gemini"),
    ("google_ai_studio", "gemini"),
    ("vertex", "vertex_ai"),
    ("google_vertex", "vertex_ai"),
    ("aws", "bedrock"),
    ("amazon", "bedrock"),
    ("aws_bedrock", "bedrock"),
    ("azure_openai", "azure"),
    ("mistralai", "mistral"),
    ("x-ai", "xai"),
    ("together", "together_ai"),
    ("fireworks", "fireworks_ai"),
];

/// First path segments that name a provider (LiteLLM's prefixes, and the
/// `models/` that Google's SDKs put in front of Gemini names).
const KNOWN_PREFIXES: [&str; 40] = [
    "openai", "anthropic", "gemini", "google", "vertex_ai", "vertex_ai_beta", "bedrock", "bedrock_converse", "azure",
    "azure_ai", "mistral", "deepseek", "groq", "xai", "cohere", "cohere_chat", "together_ai", "fireworks_ai",
    "openrouter", "perplexity", "cerebras", "deepinfra", "ollama", "ai21", "nvidia_nim", "sambanova", "replicate",
    "huggingface", "databricks", "watsonx", "voyage", "anyscale", "cloudflare", "friendliai", "moonshot", "dashscope",
    "volcengine", "meta_llama", "github", "models",
];

/// Cross-region inference profile prefixes of Bedrock model ids.
const REGION_PROFILES: [&str; 8] = ["us", "eu", "apac", "global", "us-gov", "jp", "au", "ca"];

/// LiteLLM's prefix for a provider as an event names it.
pub fn litellm_prefix(provider: &str) -> String {
    let p = provider.trim().to_ascii_lowercase();
    PROVIDER_SPELLINGS.iter().find(|(from, _)| *from == p).map(|(_, to)| to.to_string()).unwrap_or(p)
}

/// The names to try for `name` sent with `provider`, in the order of the
/// module doc, without repeats; the first is always the name itself unless
/// an image's quality or size names an entry first.
pub fn candidates(name: &str, provider: Option<&str>, size: Option<&str>, quality: Option<&str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let push = |n: String, out: &mut Vec<String>| {
        if !n.is_empty() && !out.contains(&n) {
            out.push(n);
        }
    };
    let prefix = provider.map(litellm_prefix).filter(|p| !p.is_empty());
    let under_provider = |n: &str| prefix.as_ref().filter(|p| !n.starts_with(&format!("{p}/"))).map(|p| format!("{p}/{n}"));

    // 0. Image entries keyed by quality and size.
    let dims = size.and_then(size_key);
    let mut sized = Vec::new();
    if let (Some(q), Some(d)) = (quality, &dims) {
        sized.push(format!("{}/{d}/{name}", q.trim().to_ascii_lowercase()));
    }
    if let Some(d) = &dims {
        sized.push(format!("{d}/{name}"));
    }
    for s in sized {
        if let Some(p) = under_provider(&s) {
            push(p, &mut out);
        }
        push(s, &mut out);
    }

    // 1–3.
    let mut names = vec![name.to_string()];
    if let Some(p) = under_provider(name) {
        names.push(p);
    }
    let mut rest = name;
    while let Some((first, tail)) = rest.split_once('/') {
        if !KNOWN_PREFIXES.contains(&first.to_ascii_lowercase().as_str()) {
            break;
        }
        names.push(tail.to_string());
        rest = tail;
    }
    // 4.
    let unregioned: Vec<String> = names.iter().filter_map(|n| without_region(n)).collect();
    for n in names.into_iter().chain(unregioned) {
        push(n, &mut out);
    }
    out
}

/// `1024x1792`, `1024X1792` or `1024-x-1792` → `1024-x-1792`, as the map's keys spell sizes.
fn size_key(size: &str) -> Option<String> {
    let s = size.trim().to_ascii_lowercase().replace("-x-", "x");
    let (w, h) = s.split_once('x')?;
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    (digits(w) && digits(h)).then(|| format!("{w}-x-{h}"))
}

/// Whether a path segment is a cloud region (`us-east-1`, `us-central1`,
/// `europe-west4`, `us-gov-west-1`): lowercase words joined by `-`, ending
/// in digits.
fn is_region(segment: &str) -> bool {
    let parts: Vec<&str> = segment.split('-').collect();
    parts.len() >= 2
        && parts[0].len() >= 2
        && parts[0].bytes().all(|b| b.is_ascii_lowercase())
        && segment.bytes().last().is_some_and(|b| b.is_ascii_digit())
        && segment.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The name with its region segments and its model id's cross-region
/// profile removed; `None` when it has neither.
fn without_region(name: &str) -> Option<String> {
    let mut segments: Vec<&str> = name.split('/').collect();
    let before = segments.len();
    let last = segments.pop()?;
    segments.retain(|s| !is_region(s));
    let mut changed = segments.len() + 1 != before;
    let id = match last.split_once('.') {
        // `us.anthropic.claude-…`: a profile, then a vendor and a model id.
        Some((profile, rest)) if REGION_PROFILES.contains(&profile) && rest.contains('.') => {
            changed = true;
            rest
        }
        _ => last,
    };
    segments.push(id);
    changed.then(|| segments.join("/"))
}

/// The name a dated snapshot is a version of: `gpt-5-nano-2025-08-07` →
/// `gpt-5-nano`, `claude-3-5-sonnet-20241022` → `claude-3-5-sonnet`; `None`
/// when the name ends in no date (`-YYYY-MM-DD` or `-YYYYMMDD`). Resolution
/// never uses this (see the module doc: a snapshot's price may differ); lists
/// use it to show a model and its dated alias once when they cost the same.
pub fn undated(name: &str) -> Option<&str> {
    let date_at = |base_len: usize, date: &str| {
        let digits: String = date.chars().filter(char::is_ascii_digit).collect();
        let ok = digits.len() == 8
            && digits.starts_with("20")
            && matches!(digits[4..6].parse::<u32>(), Ok(1..=12))
            && matches!(digits[6..8].parse::<u32>(), Ok(1..=31));
        (ok && base_len > 0).then(|| &name[..base_len])
    };
    let bytes = name.as_bytes();
    let n = bytes.len();
    // -YYYY-MM-DD
    if n > 11 && bytes[n - 11] == b'-' && bytes[n - 6] == b'-' && bytes[n - 3] == b'-' {
        let date = &name[n - 10..];
        if date.chars().filter(char::is_ascii_digit).count() == 8 {
            return date_at(n - 11, date);
        }
    }
    // -YYYYMMDD
    if n > 9 && bytes[n - 9] == b'-' && name[n - 8..].chars().all(|c| c.is_ascii_digit()) {
        return date_at(n - 9, &name[n - 8..]);
    }
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_dated_snapshot_names_its_undated_model() {
        use super::undated;
        assert_eq!(undated("gpt-5-nano-2025-08-07"), Some("gpt-5-nano"));
        assert_eq!(undated("claude-3-5-sonnet-20241022"), Some("claude-3-5-sonnet"));
        assert_eq!(undated("openai/gpt-4o-2024-08-06"), Some("openai/gpt-4o"));
        for plain in ["gpt-5-nano", "gpt-4o", "o1-2024-13-01", "model-12345678", "gpt-4-0613", "-2025-08-07", "x-2025-08-7x"] {
            assert_eq!(undated(plain), None, "{plain}");
        }
    }

    use super::*;

    fn c(name: &str, provider: Option<&str>) -> Vec<String> {
        candidates(name, provider, None, None)
    }

    #[test]
    fn the_exact_name_comes_first_then_the_provider_prefix() {
        assert_eq!(c("claude-sonnet-4-5", Some("anthropic")), vec!["claude-sonnet-4-5", "anthropic/claude-sonnet-4-5"]);
        assert_eq!(c("gemini-2.5-pro", Some("google")), vec!["gemini-2.5-pro", "gemini/gemini-2.5-pro"]);
        assert_eq!(c("gpt-4o", None), vec!["gpt-4o"]);
        // Already under that provider: not doubled.
        assert_eq!(c("anthropic/claude-sonnet-4-5", Some("anthropic")), vec!["anthropic/claude-sonnet-4-5", "claude-sonnet-4-5"]);
    }

    #[test]
    fn known_provider_prefixes_are_removed_one_by_one() {
        assert_eq!(c("openai/gpt-4o", None), vec!["openai/gpt-4o", "gpt-4o"]);
        assert_eq!(c("models/gemini-2.5-pro", Some("gemini")), vec!["models/gemini-2.5-pro", "gemini/models/gemini-2.5-pro", "gemini-2.5-pro"]);
        assert_eq!(
            c("openrouter/anthropic/claude-3.5-sonnet", None),
            vec!["openrouter/anthropic/claude-3.5-sonnet", "anthropic/claude-3.5-sonnet", "claude-3.5-sonnet"]
        );
        // An unknown first segment is part of the name.
        assert_eq!(c("acme/gpt-4o", None), vec!["acme/gpt-4o"]);
    }

    #[test]
    fn bedrock_and_vertex_regions_are_removed_last() {
        assert_eq!(
            c("us.anthropic.claude-sonnet-4-5-20250929-v1:0", Some("bedrock")),
            vec![
                "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                "bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                "anthropic.claude-sonnet-4-5-20250929-v1:0",
                "bedrock/anthropic.claude-sonnet-4-5-20250929-v1:0",
            ]
        );
        assert_eq!(
            c("bedrock/eu-west-3/mistral.mistral-large-2402-v1:0", None),
            vec!["bedrock/eu-west-3/mistral.mistral-large-2402-v1:0", "eu-west-3/mistral.mistral-large-2402-v1:0", "bedrock/mistral.mistral-large-2402-v1:0", "mistral.mistral-large-2402-v1:0"]
        );
        assert_eq!(c("vertex_ai/us-central1/gemini-2.5-pro", None).last().unwrap(), "gemini-2.5-pro");
        // A dotted version is not a region profile.
        assert_eq!(c("gpt-4.1", None), vec!["gpt-4.1"]);
        assert_eq!(c("qwen2.5-72b", None), vec!["qwen2.5-72b"]);
    }

    #[test]
    fn versions_are_never_guessed() {
        for n in c("claude-sonnet-4-5-20250929", Some("anthropic")) {
            assert!(n.ends_with("claude-sonnet-4-5-20250929"), "{n}");
        }
        for n in c("us.anthropic.claude-3-5-sonnet-20241022-v2:0", Some("bedrock")) {
            assert!(n.ends_with("claude-3-5-sonnet-20241022-v2:0"), "{n}");
        }
    }

    #[test]
    fn image_entries_by_quality_and_size_come_first() {
        assert_eq!(
            candidates("dall-e-3", Some("azure"), Some("1024x1792"), Some("HD")),
            vec![
                "azure/hd/1024-x-1792/dall-e-3",
                "hd/1024-x-1792/dall-e-3",
                "azure/1024-x-1792/dall-e-3",
                "1024-x-1792/dall-e-3",
                "dall-e-3",
                "azure/dall-e-3",
            ]
        );
        // A size that is not WxH (search context, `1K`) names no entry.
        assert_eq!(candidates("gpt-4o", None, Some("high"), None), vec!["gpt-4o"]);
    }

    #[test]
    fn provider_spellings_map_to_litellm_prefixes() {
        assert_eq!(litellm_prefix("Google"), "gemini");
        assert_eq!(litellm_prefix("aws"), "bedrock");
        assert_eq!(litellm_prefix("anthropic"), "anthropic");
    }
}
