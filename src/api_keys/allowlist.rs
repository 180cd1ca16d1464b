//! A key's model allowlist: the glob patterns of the models the key may call
//! through the gateway (`gpt-4o*`, `claude-*`, `groq/*`). No allowlist means
//! every model.
//!
//! Matching is on the model as the client asked for it (connection prefix
//! included), case-sensitive like the providers' own ids: `*` matches any run
//! of characters (`/` too), `?` exactly one. The canonical form, stored in
//! `api_keys.model_allowlist`, is the patterns one per line, trimmed,
//! without duplicates, in the order first given: the order the person chose
//! is the order they read back.

use serde::{Deserialize, Serialize};

use crate::Error;

/// At most this many patterns per key.
pub const MAX_MODEL_PATTERNS: usize = 50;
/// A pattern is at most this many characters.
pub const MAX_MODEL_PATTERN_CHARS: usize = 200;

/// The field every allowlist error names.
const FIELD: &str = "model_allowlist";

/// A non-empty list of valid model patterns (an empty allowlist is `None`:
/// every model).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ModelAllowlist(Vec<String>);

/// Characters of model names as providers and the price book spell them
/// (`bedrock/us.anthropic.claude-3-5-sonnet-20241022-v2:0`,
/// `claude-3-5-sonnet@20240620`), plus the two wildcards.
fn is_pattern_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '/' | '@' | '+' | '*' | '?')
}

fn check_pattern(p: &str) -> Result<(), Error> {
    let n = p.chars().count();
    if n > MAX_MODEL_PATTERN_CHARS {
        return Err(Error::invalid(FIELD, format!("{:?}… is over {MAX_MODEL_PATTERN_CHARS} characters", p.chars().take(20).collect::<String>())));
    }
    if let Some(c) = p.chars().find(|c| !is_pattern_char(*c)) {
        return Err(Error::invalid(
            FIELD,
            format!("{p:?} holds {c:?}: use letters, digits, - _ . : / @ + and the wildcards * (any run) and ? (one character)"),
        ));
    }
    Ok(())
}

impl ModelAllowlist {
    /// Reads patterns as typed in a form: one per line or comma-separated,
    /// blanks ignored. Nothing at all is `None` (every model).
    pub fn parse(text: &str) -> Result<Option<Self>, Error> {
        Self::from_list(text.split(['\n', ',']))
    }

    /// Reads a list of patterns (the REST API's `models`). An empty list is
    /// `None` (every model); each pattern is trimmed, blanks and repeats
    /// dropped, the first occurrence's place kept.
    pub fn from_list<I, S>(list: I) -> Result<Option<Self>, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut out: Vec<String> = Vec::new();
        for raw in list {
            let p = raw.as_ref().trim();
            if p.is_empty() || out.iter().any(|q| q == p) {
                continue;
            }
            check_pattern(p)?;
            out.push(p.to_string());
            if out.len() > MAX_MODEL_PATTERNS {
                return Err(Error::invalid(FIELD, format!("at most {MAX_MODEL_PATTERNS} patterns; {p:?} is one too many")));
            }
        }
        Ok((!out.is_empty()).then_some(ModelAllowlist(out)))
    }

    /// The patterns, in order.
    pub fn patterns(&self) -> &[String] {
        &self.0
    }

    /// The stored form: one pattern per line.
    pub fn to_stored(&self) -> String {
        self.0.join("\n")
    }

    /// Whether `model` (as requested) matches one of the patterns.
    #[cfg(feature = "ssr")]
    pub fn allows(&self, model: &str) -> bool {
        self.0.iter().any(|p| wildmatch::WildMatch::new(p).matches(model))
    }
}

impl std::fmt::Display for ModelAllowlist {
    /// As a person reads it: `gpt-4o*, claude-*`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join(", "))
    }
}

impl Serialize for ModelAllowlist {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for ModelAllowlist {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let list = Vec::<String>::deserialize(d)?;
        ModelAllowlist::from_list(&list)
            .map_err(serde::de::Error::custom)?
            .ok_or_else(|| serde::de::Error::custom("a model allowlist holds at least one pattern"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(text: &str) -> ModelAllowlist {
        ModelAllowlist::parse(text).unwrap().unwrap()
    }

    #[test]
    fn patterns_are_read_from_lines_or_commas_trimmed_deduplicated_in_order() {
        let a = list(" gpt-4o* \n\nclaude-*, groq/* ,gpt-4o*\r\n");
        assert_eq!(a.patterns(), ["gpt-4o*", "claude-*", "groq/*"]);
        assert_eq!(a.to_stored(), "gpt-4o*\nclaude-*\ngroq/*");
        assert_eq!(ModelAllowlist::parse(&a.to_stored()).unwrap(), Some(a.clone()), "the stored form reads back");
        assert_eq!(a.to_string(), "gpt-4o*, claude-*, groq/*");
        assert_eq!(ModelAllowlist::parse("  \n , ").unwrap(), None, "nothing: every model");
        assert_eq!(ModelAllowlist::from_list(Vec::<String>::new()).unwrap(), None);
    }

    #[test]
    fn bad_patterns_are_refused_naming_the_field_and_the_pattern() {
        let too_long = "a".repeat(MAX_MODEL_PATTERN_CHARS + 1);
        for (bad, shown) in [("gpt 4o", "\"gpt 4o\""), ("gpt-[45]o", "\"gpt-[45]o\""), ("{a,b}", "\"{a"), ("m\\*", "\"m\\\\*\""), (too_long.as_str(), "\"aaaa")] {
            let e = ModelAllowlist::parse(bad).unwrap_err();
            assert_eq!(e.field(), Some("model_allowlist"), "{bad}");
            assert!(e.to_string().contains(shown), "{bad}: {e}");
        }
        assert!(ModelAllowlist::parse(&"a".repeat(MAX_MODEL_PATTERN_CHARS)).is_ok());
        let fifty: Vec<String> = (0..MAX_MODEL_PATTERNS).map(|i| format!("m{i}")).collect();
        assert_eq!(ModelAllowlist::from_list(&fifty).unwrap().unwrap().patterns().len(), 50);
        let e = ModelAllowlist::from_list(fifty.iter().map(String::as_str).chain(["m50"])).unwrap_err();
        assert!(e.to_string().contains("at most 50") && e.to_string().contains("m50"), "{e}");
        // Repeats do not count towards the limit.
        assert!(ModelAllowlist::from_list(fifty.iter().chain(fifty.iter())).is_ok());
    }

    #[test]
    fn star_matches_any_run_and_question_mark_one_character() {
        let a = list("gpt-4o*, claude-?-haiku, groq/*");
        for ok in ["gpt-4o", "gpt-4o-mini", "gpt-4o-2024-08-06", "claude-3-haiku", "groq/llama-3.1-8b", "groq/meta/llama"] {
            assert!(a.allows(ok), "{ok}");
        }
        for no in ["gpt-4", "gpt-4.1", "openai/gpt-4o", "claude-3-5-haiku", "claude-sonnet-4-5", "GPT-4o", "groq", "xgroq/llama"] {
            assert!(!a.allows(no), "{no}");
        }
        assert!(list("*").allows("anything/at:all"));
        assert!(list("gpt-4o-mini").allows("gpt-4o-mini") && !list("gpt-4o-mini").allows("gpt-4o-mini-2024"));
    }

    #[test]
    fn it_travels_as_a_list_of_patterns() {
        let a = list("gpt-4o*\nclaude-*");
        assert_eq!(serde_json::to_string(&a).unwrap(), r#"["gpt-4o*","claude-*"]"#);
        assert_eq!(serde_json::from_str::<ModelAllowlist>(r#"["gpt-4o*"," claude-* "]"#).unwrap(), a);
        assert!(serde_json::from_str::<ModelAllowlist>("[]").is_err());
        assert!(serde_json::from_str::<ModelAllowlist>(r#"["a b"]"#).is_err());
    }
}
