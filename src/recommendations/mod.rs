//! Savings recommendations from an organization's own usage and the price book.
//!
//! Two families, each with its evidence so a person can check it:
//!
//! - **Cheaper models**: for each model used in the window, the models of the
//!   same provider and mode that have every capability it has, priced on this
//!   organization's own token mix (see [`is_like_for_like`], [`price_mix`]).
//! - **Inefficiencies**: prompts far longer than answers, large prompts that
//!   never hit the cache on a model that caches, and money spent on calls that
//!   failed.
//!
//! Everything here is pure (no storage, no clock) so the rules are tested
//! beside them; [`service`] reads the usage and the prices in force and hands
//! them to [`recommend`]. Money is exact throughout ([`NanoUsd`]).
//!
//! Every recommendation has a stable key (`kind:model[:alternative]`), so a
//! dismissal outlives the next computation.

#[cfg(feature = "ssr")]
mod service;
#[cfg(feature = "ssr")]
mod store;

#[cfg(feature = "ssr")]
pub use service::{dismiss, list, window_start};

use std::cmp::Reverse;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::plans::group_thousands;
use crate::pricing::{cost, unpriced_units, Mode, ModelPrice, NanoUsd, PriceBook, Usage};
use crate::{Error, Result};

/// The usage looked at: the last 30 days, taken as a month for savings.
pub const WINDOW_DAYS: i64 = 30;
/// Fewest calls to a model in the window before an inefficiency is reported
/// about it: below that, a pattern is as likely to be a one-off test.
pub const MIN_CALLS: u64 = 20;
/// Input tokens per output token above which prompts count as oversized.
pub const MAX_INPUT_PER_OUTPUT: u64 = 20;
/// Average input tokens per call from which a prompt counts as large enough
/// that prompt caching pays (providers cache prefixes of 1,024 tokens and up).
pub const LARGE_PROMPT_TOKENS: u64 = 2_000;
/// Cheaper alternatives shown per model used.
pub const ALTERNATIVES_PER_MODEL: usize = 2;
/// Longest recommendation key accepted when dismissing.
pub const MAX_KEY_CHARS: usize = 300;

/// What a recommendation is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", schema(as = RecommendationKind))]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    CheaperModel,
    HighInputOutputRatio,
    NoCacheReads,
    FailedRequestSpend,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::CheaperModel, Kind::HighInputOutputRatio, Kind::NoCacheReads, Kind::FailedRequestSpend];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::CheaperModel => "cheaper_model",
            Kind::HighInputOutputRatio => "high_input_output_ratio",
            Kind::NoCacheReads => "no_cache_reads",
            Kind::FailedRequestSpend => "failed_request_spend",
        }
    }
}

/// One recommendation, as the API and the page show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Recommendation {
    /// Stable across computations: `kind:model` or `cheaper_model:model:alternative`.
    pub key: String,
    pub kind: Kind,
    pub title: String,
    /// A sentence with the evidence in numbers.
    pub detail: String,
    pub model: Option<String>,
    pub alternative_model: Option<String>,
    /// Exact USD as a decimal string, over the window taken as a month.
    #[cfg_attr(feature = "ssr", schema(value_type = Option<crate::openapi::Usd>))]
    pub monthly_saving_usd: Option<String>,
    /// The figures behind the recommendation, by name.
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub evidence: serde_json::Value,
}

impl Recommendation {
    /// The evidence as labelled lines a person reads (`"input tokens"`,
    /// `"1000000"`), in the evidence's key order; lists are joined.
    pub fn evidence_lines(&self) -> Vec<(String, String)> {
        fn text(v: &serde_json::Value) -> String {
            use serde_json::Value;
            match v {
                Value::String(s) => s.clone(),
                Value::Array(items) if items.is_empty() => "none".to_string(),
                Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join(", "),
                Value::Null => "—".to_string(),
                other => other.to_string(),
            }
        }
        match &self.evidence {
            serde_json::Value::Object(map) => map.iter().map(|(k, v)| (k.replace('_', " "), text(v))).collect(),
            _ => vec![],
        }
    }
}

/// One model's usage by this organization over the window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelUsage {
    pub model: String,
    /// Events (calls) recorded.
    pub calls: u64,
    /// Billable requests (the events' `requests`, 1 each unless sent).
    pub requests: u64,
    pub input_tokens: u64,
    pub cached_input_tokens: u64,
    pub cache_creation_tokens: u64,
    pub output_tokens: u64,
    pub reasoning_tokens: u64,
    /// What the priced events cost when they were recorded.
    pub recorded_spend: NanoUsd,
    /// Calls with status `error` that cost something, and what they cost.
    pub failed_calls: u64,
    pub failed_spend: NanoUsd,
}

impl ModelUsage {
    /// The token mix as one [`Usage`], for pricing.
    pub fn mix(&self) -> Usage {
        Usage {
            input_tokens: self.input_tokens,
            cached_input_tokens: self.cached_input_tokens,
            cache_creation_tokens: self.cache_creation_tokens,
            output_tokens: self.output_tokens,
            reasoning_tokens: self.reasoning_tokens,
            requests: self.requests,
            ..Usage::default()
        }
    }

    /// Input tokens of an average call (rounded down; 0 without calls).
    pub fn average_input(&self) -> u64 {
        self.input_tokens.checked_div(self.calls).unwrap_or(0)
    }
}

/// Whether `candidate` can stand in for `used`: another model of the same
/// provider, with the same mode, and every capability flag `used` has set
/// true also true on it (a candidate may have more).
///
/// Same provider because switching provider is a new contract, key and data
/// agreement, not a configuration change; it also keeps resellers of the same
/// model (and free self-hosted entries priced at zero) out of the list. A model
/// without a mode matches nothing: we cannot tell what it would replace.
pub fn is_like_for_like(used: &ModelPrice, candidate: &ModelPrice) -> bool {
    candidate.name != used.name
        && candidate.provider == used.provider
        && used.mode.is_some()
        && candidate.mode == used.mode
        && used.capabilities.iter().filter(|(_, on)| **on).all(|(flag, _)| candidate.capabilities.get(flag) == Some(&true))
}

/// `price` with the input-size tier an average call of `input_per_call`
/// tokens would be charged at made its base price, and no tiers left.
///
/// [`cost`] picks a tier from one request's input size; summed over a month
/// the input would pass every threshold. Pricing the month's mix at the
/// rates of its average call is exact for a model without tiers and the
/// best single figure for one with them.
pub fn at_call_size(price: &ModelPrice, input_per_call: u64) -> ModelPrice {
    let mut flat = price.clone();
    let tier = price.tiers.iter().filter(|t| input_per_call > t.threshold_tokens).max_by_key(|t| t.threshold_tokens);
    if let Some(t) = tier {
        // A kind the tier leaves unset keeps its base price; a cache or
        // reasoning price set nowhere still falls back to the (tiered)
        // input or output price inside `cost`, as `token_rates` does.
        flat.input = t.input.or(price.input);
        flat.output = t.output.or(price.output);
        flat.cache_read = t.cache_read.or(price.cache_read);
        flat.cache_write = t.cache_write.or(price.cache_write);
        flat.reasoning = t.reasoning.or(price.reasoning);
    }
    flat.tiers.clear();
    flat
}

/// What `usage`'s token mix costs at `price` today (see [`at_call_size`]).
pub fn price_mix(price: &ModelPrice, usage: &ModelUsage) -> Result<NanoUsd> {
    cost(&at_call_size(price, usage.average_input()), &usage.mix())
}

/// Every recommendation for `usage` (one entry per model used), with `book`
/// holding the prices in force of the models used and of their candidates.
/// Cheaper models first, largest saving first; then inefficiencies.
pub fn recommend(usage: &[ModelUsage], book: &PriceBook) -> Result<Vec<Recommendation>> {
    let mut cheaper = vec![];
    let mut findings = vec![];
    for u in usage {
        let price = book.get(&u.model);
        if let Some(p) = price {
            cheaper.extend(cheaper_models(p, u, book.iter())?);
        }
        // Only models that answer in tokens have answers to compare prompts
        // with (an embedding's input is all there is).
        if price.is_none_or(|p| matches!(p.mode, None | Some(Mode::Chat | Mode::Completion | Mode::Responses))) {
            findings.extend(high_input_output_ratio(u));
        }
        findings.extend(price.and_then(|p| no_cache_reads(p, u)));
        findings.extend(failed_request_spend(u));
    }
    cheaper.sort_by_key(|(saving, r)| (Reverse(*saving), r.key.clone()));
    Ok(cheaper.into_iter().map(|(_, r)| r).chain(findings).collect())
}

/// Up to [`ALTERNATIVES_PER_MODEL`] like-for-like models on which `usage`
/// would have cost less, with the saving; largest saving first.
///
/// A candidate is skipped when it leaves unpriced a unit this usage pays for
/// on the model used, or prices the whole mix at zero (a self-hosted or
/// placeholder entry, not a saving anyone can bank).
pub fn cheaper_models<'a>(
    used: &ModelPrice,
    usage: &ModelUsage,
    candidates: impl IntoIterator<Item = &'a ModelPrice>,
) -> Result<Vec<(NanoUsd, Recommendation)>> {
    let mix = usage.mix();
    let current = price_mix(used, usage)?;
    let unpriced_now = unpriced_units(used, &mix);
    let mut found = vec![];
    for c in candidates.into_iter().filter(|c| is_like_for_like(used, c)) {
        if unpriced_units(c, &mix).iter().any(|unit| !unpriced_now.contains(unit)) {
            continue;
        }
        let alternative = price_mix(c, usage)?;
        let Some(saving) = current.checked_sub(alternative) else { continue };
        if alternative.nanos() <= 0 || saving.nanos() <= 0 {
            continue;
        }
        found.push((saving, cheaper_model(used, c, usage, current, alternative, saving)));
    }
    // A dated snapshot that costs what its undated model costs is the same
    // advice twice (`gpt-5-nano` and `gpt-5-nano-2025-08-07`): the undated
    // name stands for both.
    let offered: Vec<(String, NanoUsd)> = found.iter().filter_map(|(s, r)| r.alternative_model.clone().map(|m| (m, *s))).collect();
    found.retain(|(saving, r)| {
        let Some(base) = r.alternative_model.as_deref().and_then(crate::pricing::alias::undated) else { return true };
        !offered.iter().any(|(m, s)| m == base && s == saving)
    });
    found.sort_by_key(|(saving, r)| (Reverse(*saving), r.key.clone()));
    found.truncate(ALTERNATIVES_PER_MODEL);
    Ok(found)
}

/// Exact USD, for the API's fields and the evidence (the sentences round
/// for people: [`NanoUsd::for_people`]).
fn usd(n: NanoUsd) -> String {
    n.to_short_usd_string()
}

fn count(v: u64) -> String {
    group_thousands(i64::try_from(v).unwrap_or(i64::MAX))
}

fn cheaper_model(
    used: &ModelPrice,
    alt: &ModelPrice,
    u: &ModelUsage,
    current: NanoUsd,
    alternative: NanoUsd,
    saving: NanoUsd,
) -> Recommendation {
    let mode = used.mode.as_ref().map(|m| m.as_str().to_string()).unwrap_or_default();
    let capabilities: Vec<&str> = used.capabilities.iter().filter(|(_, on)| **on).map(|(k, _)| k.as_str()).collect();
    Recommendation {
        key: format!("{}:{}:{}", Kind::CheaperModel.as_str(), used.name, alt.name),
        kind: Kind::CheaperModel,
        title: format!("Switch {} to {}", used.name, alt.name),
        detail: format!(
            "Over the last {WINDOW_DAYS} days this organization made {} calls to {} ({} input tokens, {} of them cache reads; \
             {} output tokens), which cost {} at today's prices. The same tokens on {}, a {mode} model of {} with every \
             capability {} has, would cost {}: about {} a month saved ({WINDOW_DAYS} days taken as a month).",
            count(u.calls),
            used.name,
            count(u.input_tokens),
            count(u.cached_input_tokens),
            count(u.output_tokens),
            current.for_people(),
            alt.name,
            used.provider,
            used.name,
            alternative.for_people(),
            saving.for_people(),
        ),
        model: Some(used.name.clone()),
        alternative_model: Some(alt.name.clone()),
        monthly_saving_usd: Some(usd(saving)),
        evidence: json!({
            "window_days": WINDOW_DAYS,
            "calls": u.calls,
            "requests": u.requests,
            "input_tokens": u.input_tokens,
            "cached_input_tokens": u.cached_input_tokens,
            "cache_creation_tokens": u.cache_creation_tokens,
            "output_tokens": u.output_tokens,
            "reasoning_tokens": u.reasoning_tokens,
            "recorded_spend_usd": usd(u.recorded_spend),
            "current_cost_usd": usd(current),
            "alternative_cost_usd": usd(alternative),
            "mode": mode,
            "capabilities": capabilities,
        }),
    }
}

/// Prompts much longer than the answers: more than [`MAX_INPUT_PER_OUTPUT`]
/// input tokens per output token over at least [`MIN_CALLS`] calls. Often a
/// whole history or document resent on every call.
pub fn high_input_output_ratio(u: &ModelUsage) -> Option<Recommendation> {
    let oversized = u128::from(u.input_tokens) > u128::from(u.output_tokens) * u128::from(MAX_INPUT_PER_OUTPUT);
    if u.calls < MIN_CALLS || u.input_tokens == 0 || !oversized {
        return None;
    }
    let ratio = u.input_tokens.checked_div(u.output_tokens);
    let said = match ratio {
        Some(r) => format!("{} input tokens for every output token", count(r)),
        None => "input tokens and no output tokens at all".to_string(),
    };
    Some(Recommendation {
        key: format!("{}:{}", Kind::HighInputOutputRatio.as_str(), u.model),
        kind: Kind::HighInputOutputRatio,
        title: format!("Prompts to {} are much longer than its answers", u.model),
        detail: format!(
            "Over the last {WINDOW_DAYS} days, {} calls to {} sent {} input tokens and got {} output tokens back: {said} \
             (more than {MAX_INPUT_PER_OUTPUT} is unusual). Trimming resent history or context, or retrieving only the \
             relevant passages, cuts input cost.",
            count(u.calls),
            u.model,
            count(u.input_tokens),
            count(u.output_tokens),
        ),
        model: Some(u.model.clone()),
        alternative_model: None,
        monthly_saving_usd: None,
        evidence: json!({
            "window_days": WINDOW_DAYS,
            "calls": u.calls,
            "input_tokens": u.input_tokens,
            "output_tokens": u.output_tokens,
            "input_per_output_token": ratio,
            "threshold": MAX_INPUT_PER_OUTPUT,
        }),
    })
}

/// Large prompts that never hit the cache on a model that supports prompt
/// caching: an average call of at least [`LARGE_PROMPT_TOKENS`] input tokens,
/// over at least [`MIN_CALLS`] calls, and not one cached input token.
pub fn no_cache_reads(price: &ModelPrice, u: &ModelUsage) -> Option<Recommendation> {
    if u.calls < MIN_CALLS || !price.supports("prompt_caching") || u.cached_input_tokens > 0 {
        return None;
    }
    let average = u.average_input();
    if average < LARGE_PROMPT_TOKENS {
        return None;
    }
    Some(Recommendation {
        key: format!("{}:{}", Kind::NoCacheReads.as_str(), u.model),
        kind: Kind::NoCacheReads,
        title: format!("Large prompts to {} never hit the cache", u.model),
        detail: format!(
            "Over the last {WINDOW_DAYS} days, {} calls to {} averaged {} input tokens, yet none was read from the cache, \
             though {} supports prompt caching. Putting the unchanging part of the prompt (instructions, documents, tool \
             definitions) first, and marking it cacheable where the provider asks for that, bills repeats at the cheaper \
             cache-read price.",
            count(u.calls),
            u.model,
            count(average),
            u.model,
        ),
        model: Some(u.model.clone()),
        alternative_model: None,
        monthly_saving_usd: None,
        evidence: json!({
            "window_days": WINDOW_DAYS,
            "calls": u.calls,
            "input_tokens": u.input_tokens,
            "average_input_tokens": average,
            "cached_input_tokens": u.cached_input_tokens,
            "cache_creation_tokens": u.cache_creation_tokens,
            "threshold_tokens": LARGE_PROMPT_TOKENS,
        }),
    })
}

/// Money spent on calls that failed (status `error` with a cost), on a model
/// with at least [`MIN_CALLS`] calls. The saving is that spend: a call that
/// succeeds the first time is not paid for twice.
pub fn failed_request_spend(u: &ModelUsage) -> Option<Recommendation> {
    if u.calls < MIN_CALLS || u.failed_calls == 0 || u.failed_spend.nanos() <= 0 {
        return None;
    }
    Some(Recommendation {
        key: format!("{}:{}", Kind::FailedRequestSpend.as_str(), u.model),
        kind: Kind::FailedRequestSpend,
        title: format!("Failed calls to {} still cost money", u.model),
        detail: format!(
            "Over the last {WINDOW_DAYS} days, {} of {} calls to {} failed and still cost {}. Look at their errors: \
             timeouts after long generations, output cut off by a limit, or malformed requests retried unchanged.",
            count(u.failed_calls),
            count(u.calls),
            u.model,
            u.failed_spend.for_people(),
        ),
        model: Some(u.model.clone()),
        alternative_model: None,
        monthly_saving_usd: Some(usd(u.failed_spend)),
        evidence: json!({
            "window_days": WINDOW_DAYS,
            "calls": u.calls,
            "failed_calls": u.failed_calls,
            "failed_spend_usd": usd(u.failed_spend),
            "recorded_spend_usd": usd(u.recorded_spend),
        }),
    })
}

/// A recommendation key as a client sends it to dismiss: at most
/// [`MAX_KEY_CHARS`] characters, a known kind, a colon and a model.
pub fn parse_key(raw: &str) -> Result<String> {
    let bad = |m: &str| Error::invalid("key", m.to_string());
    if raw.is_empty() {
        return Err(bad("is required"));
    }
    if raw.chars().count() > MAX_KEY_CHARS {
        return Err(bad(&format!("must be at most {MAX_KEY_CHARS} characters")));
    }
    if raw.chars().any(char::is_control) {
        return Err(bad("must not contain control characters"));
    }
    let known = Kind::ALL.iter().any(|k| raw.strip_prefix(k.as_str()).and_then(|r| r.strip_prefix(':')).is_some_and(|m| !m.is_empty()));
    if !known {
        let kinds: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
        return Err(bad(&format!("must be a recommendation's key: one of {} then ':' and a model", kinds.join(", "))));
    }
    Ok(raw.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pricing::{Mode, Tier, UnitPrice};

    fn p(text: &str) -> Option<UnitPrice> {
        Some(UnitPrice::parse(text).unwrap())
    }

    fn model(name: &str, input: &str, output: &str, caps: &[&str]) -> ModelPrice {
        let mut m = ModelPrice::new(name, "openai");
        m.mode = Some(Mode::Chat);
        m.input = p(input);
        m.output = p(output);
        for c in caps {
            m.capabilities.insert(format!("supports_{c}"), true);
        }
        m
    }

    fn usage(model: &str, calls: u64, input: u64, output: u64) -> ModelUsage {
        ModelUsage { model: model.into(), calls, requests: calls, input_tokens: input, output_tokens: output, ..ModelUsage::default() }
    }

    #[test]
    fn a_candidate_needs_the_same_provider_mode_and_every_capability() {
        let used = model("big", "0.00001", "0.00003", &["vision", "function_calling"]);
        let mut richer = model("small", "0.000001", "0.000003", &["vision", "function_calling", "pdf_input"]);
        assert!(is_like_for_like(&used, &richer), "more capabilities are fine");
        richer.capabilities.insert("supports_vision".into(), false);
        assert!(!is_like_for_like(&used, &richer), "a capability set false is missing");
        let lacking = model("small", "0.000001", "0.000003", &["function_calling"]);
        assert!(!is_like_for_like(&used, &lacking));
        let mut other_mode = model("small", "0.000001", "0.000003", &["vision", "function_calling"]);
        other_mode.mode = Some(Mode::Completion);
        assert!(!is_like_for_like(&used, &other_mode));
        let mut other_provider = model("small", "0.000001", "0.000003", &["vision", "function_calling"]);
        other_provider.provider = "azure".into();
        assert!(!is_like_for_like(&used, &other_provider));
        assert!(!is_like_for_like(&used, &used), "a model does not replace itself");
        let mut no_mode = used.clone();
        no_mode.mode = None;
        let mut twin = no_mode.clone();
        twin.name = "twin".into();
        assert!(!is_like_for_like(&no_mode, &twin), "without a mode nothing matches");
    }

    #[test]
    fn a_model_and_its_dated_alias_at_the_same_price_are_offered_once() {
        let used = model("big", "0.00001", "0.00003", &[]);
        let nano = model("gpt-5-nano", "0.00000005", "0.0000004", &[]);
        let dated = model("gpt-5-nano-2025-08-07", "0.00000005", "0.0000004", &[]);
        let pricier_snapshot = model("gpt-5-mini-2025-08-07", "0.0000003", "0.000002", &[]);
        let mini = model("gpt-5-mini", "0.00000025", "0.000002", &[]);
        let u = usage("big", 10, 100_000, 10_000);
        let names = |found: Vec<(NanoUsd, Recommendation)>| -> Vec<String> {
            found.into_iter().map(|(_, r)| r.alternative_model.unwrap()).collect()
        };
        // Without the rule the two slots went to gpt-5-nano twice over.
        assert_eq!(names(cheaper_models(&used, &u, [&dated, &nano, &mini]).unwrap()), vec!["gpt-5-nano", "gpt-5-mini"]);
        assert_eq!(
            names(cheaper_models(&used, &u, [&mini, &pricier_snapshot]).unwrap()),
            vec!["gpt-5-mini", "gpt-5-mini-2025-08-07"],
            "a snapshot at another price stays"
        );
        // Alone, the snapshot is offered under its own name.
        let alone = cheaper_models(&used, &u, [&dated]).unwrap();
        assert_eq!(alone[0].1.alternative_model.as_deref(), Some("gpt-5-nano-2025-08-07"));
    }

    #[test]
    fn false_flags_of_the_model_used_are_not_required() {
        let mut used = model("big", "0.00001", "0.00003", &["vision"]);
        used.capabilities.insert("supports_audio_input".into(), false);
        let candidate = model("small", "0.000001", "0.000003", &["vision"]);
        assert!(is_like_for_like(&used, &candidate));
    }

    #[test]
    fn the_mix_is_priced_at_the_tier_of_the_average_call() {
        let mut m = model("tiered", "0.000001", "0.00001", &[]);
        let mut tier = Tier::new(200_000);
        tier.input = p("0.000002");
        m.tiers.push(tier);
        // 300 calls of 1,000 input tokens: base prices, although the sum
        // (300,000) passes the threshold.
        let small = usage("tiered", 300, 300_000, 0);
        assert_eq!(price_mix(&m, &small).unwrap(), NanoUsd::from_nanos(300_000_000));
        // Calls of 250,000 tokens each are charged at the tier.
        let large = usage("tiered", 2, 500_000, 10);
        // 500,000 × 0.000002 + 10 × 0.00001 (the tier leaves output at base)
        assert_eq!(price_mix(&m, &large).unwrap(), NanoUsd::from_nanos(1_000_100_000));
    }

    #[test]
    fn cheaper_models_are_priced_on_the_same_mix_and_keep_the_best_two() {
        let used = model("gpt-big", "0.0000025", "0.00001", &["vision"]);
        let mini = model("gpt-mini", "0.00000015", "0.0000006", &["vision"]);
        let mid = model("gpt-mid", "0.000001", "0.000004", &["vision"]);
        let cheap_no_vision = model("gpt-text", "0.0000001", "0.0000001", &[]);
        let dearer = model("gpt-huge", "0.00001", "0.00003", &["vision"]);
        let nano = model("gpt-nano", "0.0000005", "0.000002", &["vision"]);
        let free = model("gpt-free", "0", "0", &["vision"]);
        let u = ModelUsage { cached_input_tokens: 0, ..usage("gpt-big", 100, 1_000_000, 200_000) };
        let all = [&mini, &mid, &cheap_no_vision, &dearer, &nano, &free, &used];
        let found = cheaper_models(&used, &u, all).unwrap();
        // Today: 1,000,000 × 0.0000025 + 200,000 × 0.00001 = 2.5 + 2 = $4.50.
        // Mini: 0.15 + 0.12 = $0.27, saving $4.23; nano: 0.5 + 0.4 = $0.90, saving $3.60.
        let got: Vec<(i64, &str)> = found.iter().map(|(s, r)| (s.nanos(), r.alternative_model.as_deref().unwrap())).collect();
        assert_eq!(got, [(4_230_000_000, "gpt-mini"), (3_600_000_000, "gpt-nano")]);
        let r = &found[0].1;
        assert_eq!(r.key, "cheaper_model:gpt-big:gpt-mini");
        assert_eq!(r.monthly_saving_usd.as_deref(), Some("4.23"));
        assert_eq!(r.evidence["current_cost_usd"], "4.50");
        assert_eq!(r.evidence["alternative_cost_usd"], "0.27");
        assert!(r.detail.contains("1,000,000 input tokens") && r.detail.contains("30 days taken as a month"), "{}", r.detail);
    }

    #[test]
    fn a_candidate_that_leaves_a_paid_unit_unpriced_is_skipped() {
        let used = model("big", "0.00001", "0.00003", &[]);
        let mut no_output_price = model("small", "0.000001", "0.000003", &[]);
        no_output_price.output = None;
        let u = usage("big", 10, 1_000, 1_000);
        assert!(cheaper_models(&used, &u, [&no_output_price]).unwrap().is_empty());
        // With no output in the mix, the missing output price does not matter.
        let input_only = usage("big", 10, 1_000, 0);
        assert_eq!(cheaper_models(&used, &input_only, [&no_output_price]).unwrap().len(), 1);
    }

    #[test]
    fn cache_reads_count_at_each_models_cache_price() {
        let mut used = model("big", "0.000003", "0.000015", &["prompt_caching"]);
        used.cache_read = p("0.0000003");
        let mut small = model("small", "0.000001", "0.000005", &["prompt_caching"]);
        small.cache_read = p("0.0000001");
        let u = ModelUsage { cached_input_tokens: 900_000, ..usage("big", 50, 1_000_000, 10_000) };
        // Today: 100,000 × 3e-6 + 900,000 × 3e-7 + 10,000 × 1.5e-5 = 0.30 + 0.27 + 0.15 = 0.72
        // Small: 100,000 × 1e-6 + 900,000 × 1e-7 + 10,000 × 5e-6 = 0.10 + 0.09 + 0.05 = 0.24
        let found = cheaper_models(&used, &u, [&small]).unwrap();
        assert_eq!(found[0].0, NanoUsd::from_nanos(480_000_000));
    }

    #[test]
    fn a_high_input_output_ratio_needs_volume_and_more_than_twenty_to_one() {
        assert!(high_input_output_ratio(&usage("m", 19, 100_000, 10)).is_none(), "too few calls");
        assert!(high_input_output_ratio(&usage("m", 20, 20_000, 1_000)).is_none(), "exactly 20:1 is fine");
        let r = high_input_output_ratio(&usage("m", 20, 20_001, 1_000)).unwrap();
        assert_eq!((r.key.as_str(), r.kind), ("high_input_output_ratio:m", Kind::HighInputOutputRatio));
        assert_eq!(r.evidence["input_per_output_token"], 20);
        let r = high_input_output_ratio(&usage("m", 25, 450_000, 10_000)).unwrap();
        assert!(r.detail.contains("45 input tokens for every output token"), "{}", r.detail);
        let none_out = high_input_output_ratio(&usage("m", 25, 5_000, 0)).unwrap();
        assert!(none_out.detail.contains("no output tokens"));
        assert!(high_input_output_ratio(&usage("m", 25, 0, 0)).is_none());
    }

    #[test]
    fn no_cache_reads_needs_large_prompts_caching_support_and_no_reads() {
        let caching = model("m", "0.000003", "0.000015", &["prompt_caching"]);
        let plain = model("m", "0.000003", "0.000015", &[]);
        let big = usage("m", 20, 40_000, 100);
        let r = no_cache_reads(&caching, &big).unwrap();
        assert_eq!(r.key, "no_cache_reads:m");
        assert_eq!(r.evidence["average_input_tokens"], 2_000);
        assert!(no_cache_reads(&plain, &big).is_none(), "the model cannot cache");
        assert!(no_cache_reads(&caching, &usage("m", 20, 39_999, 100)).is_none(), "average below 2,000");
        assert!(no_cache_reads(&caching, &usage("m", 19, 40_000, 100)).is_none(), "too few calls");
        let some_hits = ModelUsage { cached_input_tokens: 1, ..big };
        assert!(no_cache_reads(&caching, &some_hits).is_none());
    }

    #[test]
    fn failed_spend_reports_amount_and_count() {
        let u = ModelUsage { failed_calls: 3, failed_spend: NanoUsd::from_nanos(1_250_000), ..usage("m", 40, 10, 10) };
        let r = failed_request_spend(&u).unwrap();
        assert_eq!(r.key, "failed_request_spend:m");
        assert_eq!(r.monthly_saving_usd.as_deref(), Some("0.00125"));
        assert!(r.detail.contains("3 of 40 calls"), "{}", r.detail);
        assert!(failed_request_spend(&ModelUsage { calls: 19, ..u.clone() }).is_none());
        assert!(failed_request_spend(&ModelUsage { failed_spend: NanoUsd::ZERO, ..u }).is_none());
    }

    #[test]
    fn recommend_puts_the_largest_saving_first_and_skips_unpriced_models() {
        let mut book = PriceBook::default();
        book.insert(model("a-big", "0.00001", "0.00001", &[]));
        book.insert(model("a-small", "0.000001", "0.000001", &[]));
        book.insert(model("b-big", "0.00002", "0.00002", &["vision"]));
        book.insert(model("b-small", "0.000002", "0.000002", &["vision"]));
        let used = [usage("a-big", 1, 1_000, 0), usage("b-big", 1, 1_000, 0), usage("unpriced", 50, 1_000_000, 1)];
        let recs = recommend(&used, &book).unwrap();
        let keys: Vec<&str> = recs.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "cheaper_model:b-big:b-small",
                "cheaper_model:a-big:a-small",
                "cheaper_model:a-big:b-small",
                "high_input_output_ratio:unpriced"
            ]
        );
        // b-small has everything a-big has (nothing), so it is a candidate too.
        assert_eq!(recs[2].monthly_saving_usd.as_deref(), Some("0.008"));
    }

    #[test]
    fn an_embedding_model_is_never_told_its_prompts_outgrow_its_answers() {
        let mut book = PriceBook::default();
        let mut e = model("embed", "0.00000002", "0", &[]);
        e.mode = Some(Mode::Embedding);
        book.insert(e);
        book.insert(model("chat", "0.000001", "0.000001", &[]));
        let recs = recommend(&[usage("embed", 50, 1_000_000, 0), usage("chat", 50, 1_000_000, 1)], &book).unwrap();
        let keys: Vec<&str> = recs.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(keys, ["high_input_output_ratio:chat"]);
    }

    #[test]
    fn evidence_reads_as_labelled_lines() {
        let used = model("big", "0.00001", "0.00003", &["vision"]);
        let small = model("small", "0.000001", "0.000003", &["vision"]);
        let (_, r) = cheaper_models(&used, &usage("big", 3, 1_000, 10), [&small]).unwrap().remove(0);
        let lines = r.evidence_lines();
        assert!(lines.contains(&("input tokens".to_string(), "1000".to_string())), "{lines:?}");
        assert!(lines.contains(&("capabilities".to_string(), "supports_vision".to_string())));
        assert!(lines.contains(&("current cost usd".to_string(), "0.0103".to_string())));
    }

    #[test]
    fn keys_are_checked_before_dismissing() {
        assert_eq!(parse_key("cheaper_model:gpt-4o:gpt-4o-mini").unwrap(), "cheaper_model:gpt-4o:gpt-4o-mini");
        assert!(parse_key("no_cache_reads:bedrock/anthropic.claude-3:0").is_ok());
        for bad in ["", "cheaper_model", "cheaper_model:", "nonsense:gpt-4o", "gpt-4o", "no_cache_reads:a\nb"] {
            let e = parse_key(bad).unwrap_err();
            assert_eq!(e.field(), Some("key"), "{bad:?}");
        }
        assert!(parse_key(&format!("no_cache_reads:{}", "m".repeat(300))).is_err());
        assert!(parse_key(&format!("no_cache_reads:{}", "m".repeat(300 - 15))).is_ok());
    }
}
