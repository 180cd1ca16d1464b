//! Reading LiteLLM's model price map.
//!
//! Numbers are never read as `f64`. The map is split into
//! [`RawValue`]s (serde_json's `raw_value` feature, which changes nothing for
//! other users of serde_json, unlike `arbitrary_precision`), and each
//! number's own text is turned into a [`Decimal`] by
//! [`parse_exact_decimal`](super::money::parse_exact_decimal).
//!
//! Where each field goes:
//! - named prices: `input_cost_per_token`, `output_cost_per_token`,
//!   `cache_read_input_token_cost`, `cache_creation_input_token_cost`,
//!   `output_cost_per_reasoning_token`, `input_cost_per_image`,
//!   `output_cost_per_image`, `input_cost_per_second`, `output_cost_per_second`,
//!   `input_cost_per_request`, `input_cost_per_query`;
//! - tiers: `{input_cost_per_token, output_cost_per_token,
//!   cache_read_input_token_cost, cache_creation_input_token_cost,
//!   output_cost_per_reasoning_token}_above_<N>[k]_tokens`, and `tiered_pricing`
//!   lists of token `range`s;
//! - every other number whose name says `cost` or `multiplier` → `extra`
//!   (objects of such numbers are flattened to `parent.child`);
//! - every boolean → `capabilities`; `max_input_tokens`, `max_output_tokens`;
//! - `off_peak_pricing` and `tiered_pricing` also kept as raw JSON text;
//! - the rest (limits such as `rpm`, `source`, `deprecation_date`, lists of
//!   endpoints or regions, metadata) is not about price and is not kept.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde_json::value::RawValue;

use super::money::{parse_exact_decimal, UnitPrice};
use super::{Mode, ModelPrice, PriceBook, Tier};
use crate::Error;

/// The documentation entry at the top of LiteLLM's map.
const SAMPLE_SPEC: &str = "sample_spec";

/// Token-price fields that can carry an `_above_<N>k_tokens` tier.
const TIERED_KINDS: [&str; 5] = [
    "input_cost_per_token",
    "output_cost_per_token",
    "cache_read_input_token_cost",
    "cache_creation_input_token_cost",
    "output_cost_per_reasoning_token",
];

pub(super) fn parse(json: &str) -> Result<PriceBook, Error> {
    let entries: BTreeMap<String, &RawValue> = serde_json::from_str(json)
        .map_err(|e| Error::invalid("price_book", format!("is not a JSON object of models: {e}")))?;
    let mut book = PriceBook::default();
    for (name, raw) in entries {
        if name == SAMPLE_SPEC || kind_of(raw) != Kind::Object {
            continue;
        }
        if let Some(model) = parse_model(&name, raw)? {
            book.insert(model);
        }
    }
    Ok(book)
}

/// The JSON kind of a raw value, from its first character (serde_json has
/// already checked that the text is valid JSON).
#[derive(Debug, PartialEq, Eq)]
enum Kind {
    Object,
    Array,
    String,
    Bool,
    Null,
    Number,
}

fn kind_of(raw: &RawValue) -> Kind {
    match raw.get().trim_start().as_bytes().first() {
        Some(b'{') => Kind::Object,
        Some(b'[') => Kind::Array,
        Some(b'"') => Kind::String,
        Some(b't' | b'f') => Kind::Bool,
        Some(b'n') => Kind::Null,
        _ => Kind::Number,
    }
}

/// An error about one field of one model.
fn field_error(model: &str, field: &str, message: impl std::fmt::Display) -> Error {
    Error::invalid("price_book", format!("model {model:?}, field {field}: {message}"))
}

fn object<'a>(model: &str, field: &str, raw: &'a RawValue) -> Result<BTreeMap<String, &'a RawValue>, Error> {
    serde_json::from_str(raw.get()).map_err(|e| field_error(model, field, e))
}

fn number(model: &str, field: &str, raw: &RawValue) -> Result<Decimal, Error> {
    if kind_of(raw) != Kind::Number {
        return Err(field_error(model, field, format!("{} is not a number", raw.get())));
    }
    let text = raw.get().trim();
    parse_exact_decimal(text).map_err(|m| field_error(model, field, format!("{text} {m}")))
}

fn price(model: &str, field: &str, raw: &RawValue) -> Result<UnitPrice, Error> {
    let value = number(model, field, raw)?;
    UnitPrice::new(value).map_err(|_| field_error(model, field, format!("{value} must not be negative")))
}

fn count(model: &str, field: &str, raw: &RawValue) -> Result<u64, Error> {
    let value = number(model, field, raw)?;
    let whole = value.normalize();
    if whole.scale() != 0 || whole.is_sign_negative() {
        return Err(field_error(model, field, format!("{value} is not a whole number of tokens")));
    }
    u64::try_from(whole.mantissa()).map_err(|_| field_error(model, field, format!("{value} is too large")))
}

fn string(model: &str, field: &str, raw: &RawValue) -> Result<String, Error> {
    serde_json::from_str(raw.get()).map_err(|_| field_error(model, field, format!("{} is not a string", raw.get())))
}

/// `input_cost_per_token_above_200k_tokens` → (`input_cost_per_token`, 200_000).
/// Service-tier variants (`…_tokens_priority`) and two-level ones
/// (`…_above_1hr_above_200k_tokens`) are not tiers of the base price.
fn tier_field(key: &str) -> Option<(&'static str, u64)> {
    TIERED_KINDS.iter().find_map(|kind| {
        let size = key.strip_prefix(kind)?.strip_prefix("_above_")?.strip_suffix("_tokens")?;
        let (digits, unit) = match size.strip_suffix('k') {
            Some(digits) => (digits, 1_000),
            None => (size, 1),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some((*kind, digits.parse::<u64>().ok()?.checked_mul(unit)?))
    })
}

/// The slot of a token price, in a model's base prices or in a tier.
fn token_slot<'a>(
    kind: &str,
    input: &'a mut Option<UnitPrice>,
    output: &'a mut Option<UnitPrice>,
    cache_read: &'a mut Option<UnitPrice>,
    cache_write: &'a mut Option<UnitPrice>,
    reasoning: &'a mut Option<UnitPrice>,
) -> Option<&'a mut Option<UnitPrice>> {
    match kind {
        "input_cost_per_token" => Some(input),
        "output_cost_per_token" => Some(output),
        "cache_read_input_token_cost" => Some(cache_read),
        "cache_creation_input_token_cost" => Some(cache_write),
        "output_cost_per_reasoning_token" => Some(reasoning),
        _ => None,
    }
}

fn tier_slot<'a>(tier: &'a mut Tier, kind: &str) -> Option<&'a mut Option<UnitPrice>> {
    let Tier { input, output, cache_read, cache_write, reasoning, .. } = tier;
    token_slot(kind, input, output, cache_read, cache_write, reasoning)
}

fn base_slot<'a>(m: &'a mut ModelPrice, kind: &str) -> Option<&'a mut Option<UnitPrice>> {
    let ModelPrice { input, output, cache_read, cache_write, reasoning, .. } = m;
    token_slot(kind, input, output, cache_read, cache_write, reasoning)
}

/// Reads one entry; `None` when it is not a model (no `litellm_provider`).
fn parse_model(name: &str, raw: &RawValue) -> Result<Option<ModelPrice>, Error> {
    let fields = object(name, "(entry)", raw)?;
    let Some(provider) = fields.get("litellm_provider") else {
        return Ok(None);
    };
    let mut m = ModelPrice::new(name, string(name, "litellm_provider", provider)?);
    let mut tiers: BTreeMap<u64, Tier> = BTreeMap::new();

    for (key, value) in &fields {
        let key = key.as_str();
        let kind = kind_of(value);
        if kind == Kind::Null {
            continue; // LiteLLM reads null as "not priced".
        }
        match key {
            "litellm_provider" => {}
            "mode" => m.mode = Some(Mode::parse(&string(name, key, value)?)),
            "input_cost_per_token" => m.input = Some(price(name, key, value)?),
            "output_cost_per_token" => m.output = Some(price(name, key, value)?),
            "cache_read_input_token_cost" => m.cache_read = Some(price(name, key, value)?),
            "cache_creation_input_token_cost" => m.cache_write = Some(price(name, key, value)?),
            "output_cost_per_reasoning_token" => m.reasoning = Some(price(name, key, value)?),
            "input_cost_per_image" => m.input_per_image = Some(price(name, key, value)?),
            "output_cost_per_image" => m.output_per_image = Some(price(name, key, value)?),
            "input_cost_per_second" => m.input_per_second = Some(price(name, key, value)?),
            "output_cost_per_second" => m.output_per_second = Some(price(name, key, value)?),
            "input_cost_per_request" => m.per_request = Some(price(name, key, value)?),
            "input_cost_per_query" => m.per_query = Some(price(name, key, value)?),
            "max_input_tokens" => m.max_input_tokens = Some(count(name, key, value)?),
            "max_output_tokens" => m.max_output_tokens = Some(count(name, key, value)?),
            "off_peak_pricing" => m.off_peak_pricing = Some(value.get().to_string()),
            "tiered_pricing" => m.tiered_pricing = Some(value.get().to_string()),
            _ if kind == Kind::Bool => {
                let flag: bool = serde_json::from_str(value.get()).map_err(|e| field_error(name, key, e))?;
                m.capabilities.insert(key.to_string(), flag);
            }
            _ if is_price_name(key) => match (tier_field(key), kind) {
                (Some((tier_kind, threshold)), _) => {
                    let tier = tiers.entry(threshold).or_insert_with(|| Tier::new(threshold));
                    if let Some(slot) = tier_slot(tier, tier_kind) {
                        *slot = Some(price(name, key, value)?);
                    }
                }
                (None, Kind::Object) => {
                    for (sub, sub_value) in object(name, key, value)? {
                        let path = format!("{key}.{sub}");
                        if kind_of(sub_value) != Kind::Null {
                            m.extra.insert(path.clone(), price(name, &path, sub_value)?.usd());
                        }
                    }
                }
                (None, _) => {
                    m.extra.insert(key.to_string(), price(name, key, value)?.usd());
                }
            },
            _ => {} // Not about price: see the module doc.
        }
    }

    if let Some(list) = fields.get("tiered_pricing") {
        apply_tiered_pricing(name, list, &mut m, &mut tiers)?;
    }
    m.tiers = tiers.into_values().collect();
    Ok(Some(m))
}

/// Whether a field name is a price (or a price multiplier), so its value must
/// be a non-negative number.
fn is_price_name(key: &str) -> bool {
    key.contains("cost") || key.contains("multiplier")
}

/// Turns a `tiered_pricing` list of token ranges into prices.
///
/// LiteLLM (Dashscope and kin) picks one range from the request's total input
/// tokens, `start < input <= end`, and bills every token of the request at
/// that range's rates; above the last range the last one applies. That is a
/// [`Tier`] with `threshold_tokens = start`; the range that starts at 0 fills
/// base prices the entry does not give at top level. Inside a range, a
/// missing cache price means the range's own input price and a missing
/// reasoning price the range's own output price, so those are written into
/// the tier explicitly. Lists that are not token ranges (per-result search
/// pricing) stay only in [`ModelPrice::tiered_pricing`].
fn apply_tiered_pricing(
    name: &str,
    list: &RawValue,
    m: &mut ModelPrice,
    tiers: &mut BTreeMap<u64, Tier>,
) -> Result<(), Error> {
    let items: Vec<&RawValue> = serde_json::from_str(list.get())
        .map_err(|_| field_error(name, "tiered_pricing", "is not a list"))?;
    let mut ranges = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let path = format!("tiered_pricing[{i}]");
        if kind_of(item) != Kind::Object {
            return Ok(());
        }
        let fields = object(name, &path, item)?;
        let Some(range) = fields.get("range") else { return Ok(()) };
        if fields.keys().any(|k| k != "range" && !TIERED_KINDS.contains(&k.as_str())) {
            return Ok(());
        }
        let bounds: Vec<&RawValue> = serde_json::from_str(range.get())
            .map_err(|_| field_error(name, &format!("{path}.range"), "is not a list"))?;
        let Some(start) = bounds.first() else {
            return Err(field_error(name, &format!("{path}.range"), "is empty"));
        };
        let start = count(name, &format!("{path}.range"), start)?;
        let mut tier = Tier::new(start);
        for (key, value) in &fields {
            if let Some(slot) = tier_slot(&mut tier, key) {
                *slot = Some(price(name, &format!("{path}.{key}"), value)?);
            }
        }
        ranges.push(tier);
    }
    for mut range in ranges {
        if range.threshold_tokens == 0 {
            for kind in TIERED_KINDS {
                let from_range = *tier_slot(&mut range, kind).expect("a tiered kind");
                let base = base_slot(m, kind).expect("a tiered kind");
                if base.is_none() {
                    *base = from_range;
                }
            }
            continue;
        }
        range.cache_read = range.cache_read.or(range.input);
        range.cache_write = range.cache_write.or(range.input);
        range.reasoning = range.reasoning.or(range.output);
        let tier = tiers.entry(range.threshold_tokens).or_insert_with(|| Tier::new(range.threshold_tokens));
        for kind in TIERED_KINDS {
            let from_range = *tier_slot(&mut range, kind).expect("a tiered kind");
            let slot = tier_slot(tier, kind).expect("a tiered kind");
            if slot.is_none() {
                *slot = from_range;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::super::DEFAULT_CATALOG_JSON;
    use super::*;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn usd(p: Option<UnitPrice>) -> Decimal {
        p.expect("price is set").usd()
    }

    #[test]
    fn tier_fields_are_recognised_and_variants_are_not() {
        assert_eq!(tier_field("input_cost_per_token_above_200k_tokens"), Some(("input_cost_per_token", 200_000)));
        assert_eq!(tier_field("cache_read_input_token_cost_above_272k_tokens"), Some(("cache_read_input_token_cost", 272_000)));
        assert_eq!(tier_field("output_cost_per_token_above_128_tokens"), Some(("output_cost_per_token", 128)));
        assert_eq!(tier_field("input_cost_per_token_above_200k_tokens_priority"), None);
        assert_eq!(tier_field("cache_creation_input_token_cost_above_1hr_above_200k_tokens"), None);
        assert_eq!(tier_field("cache_creation_input_token_cost_above_1hr"), None);
        assert_eq!(tier_field("input_cost_per_image_above_128k_tokens"), None);
    }

    #[test]
    fn skips_sample_spec_non_objects_and_entries_without_provider() {
        let book = PriceBook::parse_litellm(
            r#"{"sample_spec": {"input_cost_per_token": 0.0, "max_input_tokens": "text"},
                "note": "not a model", "n": 3,
                "fallback_generalizations": {"rules": []},
                "m": {"litellm_provider": "p", "input_cost_per_token": 1e-06}}"#,
        )
        .unwrap();
        assert_eq!(book.len(), 1);
        assert_eq!(usd(book.get("m").unwrap().input), dec("0.000001"));
    }

    #[test]
    fn a_bad_number_names_the_model_and_the_field() {
        let err = PriceBook::parse_litellm(r#"{"m": {"litellm_provider": "p", "output_cost_per_token": "3e-7"}}"#)
            .unwrap_err();
        assert_eq!(err.field(), Some("price_book"));
        let text = err.to_string();
        assert!(text.contains("\"m\"") && text.contains("output_cost_per_token"), "{text}");

        let err = PriceBook::parse_litellm(r#"{"m": {"litellm_provider": "p", "input_cost_per_token": -1e-7}}"#)
            .unwrap_err();
        assert!(err.to_string().contains("must not be negative"), "{err}");

        let err = PriceBook::parse_litellm(r#"{"m": {"litellm_provider": "p", "batch_cost": {"x": true}}}"#)
            .unwrap_err();
        assert!(err.to_string().contains("batch_cost.x"), "{err}");

        let err = PriceBook::parse_litellm(r#"{"m": {"litellm_provider": "p", "max_input_tokens": 1.5}}"#)
            .unwrap_err();
        assert!(err.to_string().contains("max_input_tokens"), "{err}");
    }

    #[test]
    fn not_a_json_object_is_refused() {
        assert!(PriceBook::parse_litellm("[]").is_err());
        assert!(PriceBook::parse_litellm("{").is_err());
    }

    #[test]
    fn null_prices_mean_not_priced() {
        let book =
            PriceBook::parse_litellm(r#"{"m": {"litellm_provider": "p", "input_cost_per_token": null}}"#).unwrap();
        assert_eq!(book.get("m").unwrap().input, None);
    }

    #[test]
    fn fields_land_where_the_module_doc_says() {
        let book = PriceBook::parse_litellm(
            r#"{"m": {
                "litellm_provider": "vertex_ai", "mode": "chat",
                "input_cost_per_token": 1.25e-06, "output_cost_per_token": 1e-05,
                "cache_read_input_token_cost": 1.25e-07,
                "input_cost_per_token_above_200k_tokens": 2.5e-06,
                "output_cost_per_token_above_200k_tokens": 1.5e-05,
                "cache_creation_input_token_cost_above_200k_tokens": 2.5e-07,
                "input_cost_per_token_above_200k_tokens_priority": 4.5e-06,
                "input_cost_per_token_batches": 6.25e-07,
                "search_context_cost_per_query": {"search_context_size_low": 0.035},
                "regional_processing_uplift_multiplier_eu": 1.1,
                "supports_vision": true, "supports_audio_output": false,
                "max_input_tokens": 1048576, "rpm": 10000, "source": "https://example.com",
                "off_peak_pricing": {"input_cost_per_token": 1e-07, "windows": []}
            }}"#,
        )
        .unwrap();
        let m = book.get("m").unwrap();
        assert_eq!(m.provider, "vertex_ai");
        assert_eq!(m.mode, Some(Mode::Chat));
        assert_eq!(usd(m.input), dec("0.00000125"));
        assert_eq!(usd(m.cache_read), dec("0.000000125"));
        assert_eq!(m.tiers.len(), 1);
        let t = &m.tiers[0];
        assert_eq!(t.threshold_tokens, 200_000);
        assert_eq!(usd(t.input), dec("0.0000025"));
        assert_eq!(usd(t.output), dec("0.000015"));
        assert_eq!(usd(t.cache_write), dec("0.00000025"));
        assert_eq!(t.cache_read, None);
        assert_eq!(m.extra["input_cost_per_token_above_200k_tokens_priority"], dec("0.0000045"));
        assert_eq!(m.extra["input_cost_per_token_batches"], dec("0.000000625"));
        assert_eq!(m.extra["search_context_cost_per_query.search_context_size_low"], dec("0.035"));
        assert_eq!(m.extra["regional_processing_uplift_multiplier_eu"], dec("1.1"));
        assert!(!m.extra.contains_key("rpm"));
        assert!(m.supports("vision") && !m.supports("audio_output"));
        assert_eq!(m.max_input_tokens, Some(1_048_576));
        assert!(m.off_peak_pricing.as_deref().unwrap().contains("windows"));
    }

    #[test]
    fn tiered_pricing_token_ranges_become_base_prices_and_tiers() {
        let book = PriceBook::parse_litellm(
            r#"{"q": {"litellm_provider": "dashscope", "tiered_pricing": [
                {"input_cost_per_token": 1.2e-06, "output_cost_per_token": 6e-06, "range": [0, 32000.0]},
                {"input_cost_per_token": 2.4e-06, "output_cost_per_token": 1.2e-05,
                 "cache_read_input_token_cost": 4.8e-07, "range": [32000.0, 128000.0]}
            ]}}"#,
        )
        .unwrap();
        let m = book.get("q").unwrap();
        assert_eq!(usd(m.input), dec("0.0000012"));
        assert_eq!(usd(m.output), dec("0.000006"));
        assert_eq!(m.tiers.len(), 1);
        let t = &m.tiers[0];
        assert_eq!(t.threshold_tokens, 32_000);
        assert_eq!(usd(t.cache_read), dec("0.00000048"));
        // Inside a range, missing cache-write and reasoning prices mean the range's own rates.
        assert_eq!(usd(t.cache_write), dec("0.0000024"));
        assert_eq!(usd(t.reasoning), dec("0.000012"));
        assert!(m.tiered_pricing.is_some());
    }

    #[test]
    fn tiered_pricing_that_is_not_token_ranges_is_only_kept_raw() {
        let book = PriceBook::parse_litellm(
            r#"{"s": {"litellm_provider": "exa_ai", "mode": "search", "tiered_pricing": [
                {"input_cost_per_query": 0.005, "max_results_range": [0, 25]}]}}"#,
        )
        .unwrap();
        let m = book.get("s").unwrap();
        assert!(m.tiers.is_empty() && m.input.is_none());
        assert!(m.tiered_pricing.as_deref().unwrap().contains("max_results_range"));
    }

    /// Model names in the shipped file whose `litellm_provider` is set: the
    /// models the price book must hold, every one of them.
    fn model_names_in_file() -> Vec<String> {
        let entries: BTreeMap<String, &RawValue> = serde_json::from_str(DEFAULT_CATALOG_JSON).unwrap();
        entries
            .into_iter()
            .filter(|(name, raw)| {
                name != SAMPLE_SPEC
                    && kind_of(raw) == Kind::Object
                    && object(name, "", raw).unwrap().contains_key("litellm_provider")
            })
            .map(|(name, _)| name)
            .collect()
    }

    #[test]
    fn the_shipped_catalog_parses_every_model() {
        let book = PriceBook::default_catalog().unwrap();
        assert!(book.len() > 4000, "only {} models", book.len());
        let names = model_names_in_file();
        assert_eq!(book.len(), names.len());
        for name in &names {
            assert!(book.get(name).is_some(), "{name} is missing");
        }
    }

    #[test]
    fn the_shipped_catalog_has_exact_prices_for_well_known_models() {
        let book = PriceBook::default_catalog().unwrap();
        let gpt4o = book.get("gpt-4o").unwrap();
        assert_eq!(gpt4o.provider, "openai");
        assert_eq!(gpt4o.mode, Some(Mode::Chat));
        assert_eq!(usd(gpt4o.input), dec("0.0000025"));
        assert_eq!(usd(gpt4o.output), dec("0.00001"));
        assert_eq!(usd(gpt4o.cache_read), dec("0.00000125"));
        assert_eq!(gpt4o.extra["input_cost_per_token_batches"], dec("0.00000125"));
        assert_eq!(gpt4o.max_input_tokens, Some(128_000));
        assert!(gpt4o.supports("prompt_caching") && gpt4o.supports("vision"));

        let gemini = book.get("gemini-2.5-pro").unwrap();
        assert_eq!(gemini.tiers.len(), 1);
        assert_eq!(gemini.tiers[0].threshold_tokens, 200_000);
        assert_eq!(usd(gemini.tiers[0].input), dec("0.0000025"));

        let whisper = book.get("whisper-1").unwrap();
        assert_eq!(whisper.mode, Some(Mode::AudioTranscription));
        assert_eq!(usd(whisper.input_per_second), dec("0.0001"));

        // A float artefact in the file is kept digit for digit, not rounded through f64.
        let qwen = book.get("opencode_go/qwen3.7-plus").unwrap();
        assert_eq!(usd(qwen.input), dec("0.00000040000000000000003"));

        let deepseek = book.iter().filter(|m| m.off_peak_pricing.is_some()).count();
        assert_eq!(deepseek, 10);
    }
}
