//! The charging rule: what one usage event costs at one model's prices.
//!
//! ```text
//! cost = (input − cache reads − cache writes) × input price
//!      + cache reads  × cache-read price  (else input price)
//!      + cache writes × cache-write price (else input price)
//!      + (output − reasoning) × output price
//!      + reasoning × reasoning price (else output price)
//!      + input images × input per-image + output images × output per-image
//!      + seconds × per-second price + requests × per-request price
//! ```
//!
//! This is LiteLLM's own reading of its map (see `cost_per_token` there):
//! prompt tokens *include* cache reads and writes, completion tokens include
//! reasoning, so the special kinds are carved out of the totals, never added
//! twice. A unit with no price at all is charged nothing, as in LiteLLM;
//! [`unpriced_units`] tells the caller when that happened.
//!
//! Everything is summed exactly in [`Decimal`] and rounded once, at the end,
//! to [`NanoUsd`] (half to even; see [`NanoUsd::from_decimal_usd`]).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::money::{NanoUsd, UnitPrice};
use super::ModelPrice;
use crate::Error;

/// What one call consumed, as the provider reported it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct Usage {
    /// All prompt tokens, including cache reads and cache writes (OpenAI's
    /// `prompt_tokens`; for Anthropic, `input_tokens` + both cache counts).
    pub input_tokens: u64,
    /// Prompt tokens read from the cache; part of `input_tokens`.
    pub cached_input_tokens: u64,
    /// Prompt tokens written to the cache; part of `input_tokens`.
    pub cache_creation_tokens: u64,
    /// All completion tokens, including reasoning tokens.
    pub output_tokens: u64,
    /// Reasoning ("thinking") tokens; part of `output_tokens`.
    pub reasoning_tokens: u64,
    /// Images sent to the model (vision, image edits).
    pub input_images: u64,
    /// Images the model produced.
    pub output_images: u64,
    /// Billable duration (audio transcribed or spoken, video generated,
    /// runtime) in milliseconds. An integer so that usage stays exact,
    /// `Eq`, and never negative; providers report durations to the
    /// millisecond at best, and a millisecond of the dearest per-second price
    /// in the map is well below a cent.
    pub duration_ms: u64,
    /// Billable calls, for per-request and per-query prices (search, rerank).
    pub requests: u64,
}

impl Usage {
    /// Refuses counts that contradict each other: the special kinds are
    /// parts of the totals, so they cannot exceed them.
    pub fn validate(&self) -> Result<(), Error> {
        if self.cached_input_tokens > self.input_tokens {
            return Err(Error::invalid("cached_input_tokens", "must not exceed input_tokens (which include cache reads)"));
        }
        let cache_total = self.cached_input_tokens.checked_add(self.cache_creation_tokens);
        if cache_total.is_none_or(|total| total > self.input_tokens) {
            return Err(Error::invalid(
                "cache_creation_tokens",
                "plus cached_input_tokens must not exceed input_tokens (which include cache reads and writes)",
            ));
        }
        if self.reasoning_tokens > self.output_tokens {
            return Err(Error::invalid("reasoning_tokens", "must not exceed output_tokens (which include reasoning)"));
        }
        Ok(())
    }
}

/// The token prices that apply to one request, after picking its tier and
/// applying the fallbacks. Unpriced kinds are zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rates {
    /// The threshold of the tier in force, if any.
    pub tier_threshold: Option<u64>,
    pub input: Decimal,
    pub output: Decimal,
    pub cache_read: Decimal,
    pub cache_write: Decimal,
    pub reasoning: Decimal,
}

impl ModelPrice {
    /// The token prices for a request with this many input tokens.
    ///
    /// Tiers are all-or-nothing, as Google, Anthropic and Alibaba bill them
    /// and LiteLLM computes them: when the request's input tokens exceed a
    /// tier's threshold, *every* token of the request (not only those past
    /// the threshold) is priced at the highest such tier. A kind the tier does
    /// not set falls back to the base price of that kind; a cache price that
    /// is set nowhere falls back to the input price in force, a reasoning
    /// price to the output price in force.
    pub fn token_rates(&self, input_tokens: u64) -> Rates {
        let tier = self
            .tiers
            .iter()
            .filter(|t| input_tokens > t.threshold_tokens)
            .max_by_key(|t| t.threshold_tokens);
        let pick = |tiered: Option<UnitPrice>, base: Option<UnitPrice>| tiered.or(base).map(UnitPrice::usd);
        let input = pick(tier.and_then(|t| t.input), self.input).unwrap_or_default();
        let output = pick(tier.and_then(|t| t.output), self.output).unwrap_or_default();
        Rates {
            tier_threshold: tier.map(|t| t.threshold_tokens),
            input,
            output,
            cache_read: pick(tier.and_then(|t| t.cache_read), self.cache_read).unwrap_or(input),
            cache_write: pick(tier.and_then(|t| t.cache_write), self.cache_write).unwrap_or(input),
            reasoning: pick(tier.and_then(|t| t.reasoning), self.reasoning).unwrap_or(output),
        }
    }

    /// The price of one second. A duration is billed once, at the output
    /// rate when it is set and non-zero, else at the input rate: LiteLLM's
    /// map gives Whisper both (each $0.0001, charged once), Soniox only a
    /// non-zero output rate, AssemblyAI only a non-zero input rate.
    pub fn per_second(&self) -> Option<UnitPrice> {
        match self.output_per_second {
            Some(p) if !p.usd().is_zero() => Some(p),
            _ => self.input_per_second.or(self.output_per_second),
        }
    }

    /// The price of one call: per request, else per query.
    pub fn per_call(&self) -> Option<UnitPrice> {
        self.per_request.or(self.per_query)
    }
}

/// What `usage` costs at `price`, rounded once to the nearest nano-USD (half
/// to even). Fails when the usage contradicts itself (see
/// [`Usage::validate`]) or is too large to price.
pub fn cost(price: &ModelPrice, usage: &Usage) -> Result<NanoUsd, Error> {
    NanoUsd::from_decimal_usd(cost_exact(price, usage)?)
}

/// The exact, unrounded cost in USD. For showing a price breakdown; charge
/// with [`cost`].
pub fn cost_exact(price: &ModelPrice, usage: &Usage) -> Result<Decimal, Error> {
    usage.validate()?;
    let rates = price.token_rates(usage.input_tokens);
    let plain_input = usage.input_tokens - usage.cached_input_tokens - usage.cache_creation_tokens;
    let plain_output = usage.output_tokens - usage.reasoning_tokens;
    let seconds = Decimal::from_i128_with_scale(i128::from(usage.duration_ms), 3);
    let usd = |p: Option<UnitPrice>| p.map(UnitPrice::usd).unwrap_or_default();

    let parts = [
        (Decimal::from(plain_input), rates.input),
        (Decimal::from(usage.cached_input_tokens), rates.cache_read),
        (Decimal::from(usage.cache_creation_tokens), rates.cache_write),
        (Decimal::from(plain_output), rates.output),
        (Decimal::from(usage.reasoning_tokens), rates.reasoning),
        (Decimal::from(usage.input_images), usd(price.input_per_image)),
        (Decimal::from(usage.output_images), usd(price.output_per_image)),
        (seconds, usd(price.per_second())),
        (Decimal::from(usage.requests), usd(price.per_call())),
    ];
    let too_large = || Error::invalid("usage", "is too large to price");
    parts.iter().try_fold(Decimal::ZERO, |sum, (quantity, rate)| {
        if quantity.is_zero() || rate.is_zero() {
            return Ok(sum);
        }
        quantity.checked_mul(*rate).and_then(|part| sum.checked_add(part)).ok_or_else(too_large)
    })
}

/// The usage fields that were non-zero but that nothing in `price` prices,
/// not even a fallback: they were charged zero. A meter should flag these
/// rather than bill silently at zero.
pub fn unpriced_units(price: &ModelPrice, usage: &Usage) -> Vec<&'static str> {
    let tiered = |f: fn(&super::Tier) -> Option<UnitPrice>| price.tiers.iter().any(|t| f(t).is_some());
    let has_input = price.input.is_some() || tiered(|t| t.input);
    let has_output = price.output.is_some() || tiered(|t| t.output);
    let plain_input = usage.input_tokens.saturating_sub(usage.cached_input_tokens.saturating_add(usage.cache_creation_tokens));
    let checks = [
        ("input_tokens", plain_input, has_input),
        ("cached_input_tokens", usage.cached_input_tokens, has_input || price.cache_read.is_some() || tiered(|t| t.cache_read)),
        ("cache_creation_tokens", usage.cache_creation_tokens, has_input || price.cache_write.is_some() || tiered(|t| t.cache_write)),
        ("output_tokens", usage.output_tokens.saturating_sub(usage.reasoning_tokens), has_output),
        ("reasoning_tokens", usage.reasoning_tokens, has_output || price.reasoning.is_some() || tiered(|t| t.reasoning)),
        ("input_images", usage.input_images, price.input_per_image.is_some()),
        ("output_images", usage.output_images, price.output_per_image.is_some()),
        ("duration_ms", usage.duration_ms, price.per_second().is_some()),
        ("requests", usage.requests, price.per_call().is_some()),
    ];
    checks.iter().filter(|(_, quantity, priced)| *quantity > 0 && !priced).map(|(name, _, _)| *name).collect()
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use proptest::prelude::*;

    use super::super::Tier;
    use super::*;

    fn p(text: &str) -> Option<UnitPrice> {
        Some(UnitPrice::parse(text).unwrap())
    }

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    /// gpt-4o's prices: $2.50 / $10 per million tokens, cache reads $1.25.
    fn gpt4o() -> ModelPrice {
        let mut m = ModelPrice::new("gpt-4o", "openai");
        m.input = p("2.5e-06");
        m.output = p("1e-05");
        m.cache_read = p("1.25e-06");
        m
    }

    fn nanos(price: &ModelPrice, usage: Usage) -> i64 {
        cost(price, &usage).unwrap().nanos()
    }

    #[test]
    fn plain_tokens_cost_input_plus_output() {
        // 1,000 × $0.0000025 + 500 × $0.00001 = $0.0025 + $0.005
        let u = Usage { input_tokens: 1_000, output_tokens: 500, ..Usage::default() };
        assert_eq!(nanos(&gpt4o(), u), 7_500_000);
        assert_eq!(cost(&gpt4o(), &u).unwrap().to_usd_string(), "0.007500000");
    }

    #[test]
    fn cache_reads_are_carved_out_of_input_at_the_cache_read_price() {
        // 600 plain × 2.5e-6 + 400 cached × 1.25e-6 = 0.0015 + 0.0005
        let u = Usage { input_tokens: 1_000, cached_input_tokens: 400, ..Usage::default() };
        assert_eq!(nanos(&gpt4o(), u), 2_000_000);
        // Without a cache-read price, cache reads cost the input price.
        let mut m = gpt4o();
        m.cache_read = None;
        assert_eq!(nanos(&m, u), 2_500_000);
    }

    #[test]
    fn cache_writes_are_carved_out_of_input_at_the_cache_write_price() {
        // Claude Sonnet 4.5: input 3e-6, cache write 3.75e-6, cache read 3e-7.
        let mut m = ModelPrice::new("claude-sonnet-4-5", "anthropic");
        m.input = p("3e-06");
        m.output = p("1.5e-05");
        m.cache_write = p("3.75e-06");
        m.cache_read = p("3e-07");
        // 100 plain × 3e-6 + 1,000 writes × 3.75e-6 + 2,000 reads × 3e-7 + 10 out × 1.5e-5
        let u = Usage {
            input_tokens: 3_100,
            cache_creation_tokens: 1_000,
            cached_input_tokens: 2_000,
            output_tokens: 10,
            ..Usage::default()
        };
        assert_eq!(nanos(&m, u), 300_000 + 3_750_000 + 600_000 + 150_000);
        // Without a cache-write price, cache writes cost the input price.
        m.cache_write = None;
        assert_eq!(nanos(&m, u), 300_000 + 3_000_000 + 600_000 + 150_000);
    }

    #[test]
    fn reasoning_tokens_use_the_reasoning_price_when_there_is_one() {
        let mut m = gpt4o();
        m.reasoning = p("4e-05");
        // 200 text × 1e-5 + 800 reasoning × 4e-5
        let u = Usage { output_tokens: 1_000, reasoning_tokens: 800, ..Usage::default() };
        assert_eq!(nanos(&m, u), 2_000_000 + 32_000_000);
    }

    #[test]
    fn reasoning_tokens_cost_the_output_price_when_there_is_none() {
        let u = Usage { output_tokens: 1_000, reasoning_tokens: 800, ..Usage::default() };
        assert_eq!(nanos(&gpt4o(), u), 10_000_000);
    }

    /// gemini-2.5-pro: above 200k input tokens every token costs the tier's price.
    fn gemini() -> ModelPrice {
        let mut m = ModelPrice::new("gemini-2.5-pro", "vertex_ai");
        m.input = p("1.25e-06");
        m.output = p("1e-05");
        m.cache_read = p("1.25e-07");
        let mut tier = Tier::new(200_000);
        tier.input = p("2.5e-06");
        tier.output = p("1.5e-05");
        tier.cache_write = p("2.5e-07");
        m.tiers.push(tier);
        m
    }

    #[test]
    fn a_request_at_the_threshold_stays_on_base_prices() {
        let u = Usage { input_tokens: 200_000, output_tokens: 1_000, ..Usage::default() };
        assert_eq!(gemini().token_rates(200_000).tier_threshold, None);
        // 200,000 × 1.25e-6 + 1,000 × 1e-5 = 0.25 + 0.01
        assert_eq!(nanos(&gemini(), u), 260_000_000);
    }

    #[test]
    fn a_request_past_the_threshold_prices_all_its_tokens_at_the_tier() {
        let u = Usage { input_tokens: 200_001, output_tokens: 1_000, ..Usage::default() };
        assert_eq!(gemini().token_rates(200_001).tier_threshold, Some(200_000));
        // 200,001 × 2.5e-6 + 1,000 × 1.5e-5 = 0.5000025 + 0.015
        assert_eq!(nanos(&gemini(), u), 515_002_500);
    }

    #[test]
    fn a_tier_falls_back_to_base_prices_for_kinds_it_does_not_set() {
        let rates = gemini().token_rates(300_000);
        assert_eq!(rates.cache_read, dec("0.000000125")); // base cache read; the tier has none
        assert_eq!(rates.cache_write, dec("0.00000025")); // the tier's
        assert_eq!(rates.reasoning, dec("0.000015")); // no reasoning price: the tier's output
        assert_eq!(gemini().token_rates(10).cache_write, dec("0.00000125")); // base input
    }

    #[test]
    fn the_highest_tier_passed_applies() {
        // kyma/qwen3.7-flash: tiers above 32k and 256k input tokens.
        let mut m = ModelPrice::new("kyma/qwen3.7-flash", "kyma");
        m.input = p("4.35e-08");
        let mut t256 = Tier::new(256_000);
        t256.input = p("2.7e-07");
        let mut t32 = Tier::new(32_000);
        t32.input = p("1.35e-07");
        m.tiers = vec![t256, t32]; // order does not matter
        assert_eq!(m.token_rates(32_000).input, dec("0.0000000435"));
        assert_eq!(m.token_rates(100_000).input, dec("0.000000135"));
        assert_eq!(m.token_rates(300_000).input, dec("0.00000027"));
    }

    #[test]
    fn images_are_priced_per_image_in_and_out() {
        // gemini-3-pro-image: $0.0011 per input image, $0.134 per output image.
        let mut m = ModelPrice::new("gemini-3-pro-image", "vertex_ai");
        m.input_per_image = p("0.0011");
        m.output_per_image = p("0.134");
        let u = Usage { input_images: 2, output_images: 3, ..Usage::default() };
        assert_eq!(nanos(&m, u), 2_200_000 + 402_000_000);
    }

    #[test]
    fn seconds_are_priced_per_second_from_milliseconds() {
        let mut whisper = ModelPrice::new("whisper-1", "openai");
        whisper.input_per_second = p("0.0001");
        whisper.output_per_second = p("0.0001");
        // 61.5 s × $0.0001, charged once although both rates are set.
        let u = Usage { duration_ms: 61_500, ..Usage::default() };
        assert_eq!(nanos(&whisper, u), 6_150_000);
        // A zero output rate does not hide the input rate (AssemblyAI), and vice versa (Soniox).
        let mut assembly = ModelPrice::new("assemblyai/best", "assemblyai");
        assembly.input_per_second = p("3.333e-05");
        assembly.output_per_second = p("0.0");
        assert_eq!(nanos(&assembly, Usage { duration_ms: 1_000, ..Usage::default() }), 33_330);
        let mut soniox = ModelPrice::new("soniox/stt-async-v4", "soniox");
        soniox.input_per_second = p("0.0");
        soniox.output_per_second = p("2.77778e-05");
        assert_eq!(nanos(&soniox, Usage { duration_ms: 1, ..Usage::default() }), 28); // 27.7778 nano
    }

    #[test]
    fn requests_are_priced_per_request_or_per_query() {
        let mut pplx = ModelPrice::new("perplexity/sonar-small-online", "perplexity");
        pplx.per_request = p("0.005");
        pplx.output = p("2.8e-07");
        let u = Usage { requests: 1, output_tokens: 100, ..Usage::default() };
        assert_eq!(nanos(&pplx, u), 5_000_000 + 28_000);
        let mut rerank = ModelPrice::new("rerank-v3.5", "cohere");
        rerank.per_query = p("0.002");
        assert_eq!(nanos(&rerank, Usage { requests: 3, ..Usage::default() }), 6_000_000);
    }

    #[test]
    fn the_sum_is_rounded_once_half_to_even() {
        let mut m = ModelPrice::new("m", "p");
        m.input = p("5e-10"); // half a nano-USD per token
        let one = Usage { input_tokens: 1, ..Usage::default() };
        let three = Usage { input_tokens: 3, ..Usage::default() };
        assert_eq!(nanos(&m, one), 0); // 0.5 -> 0 (even)
        assert_eq!(nanos(&m, three), 2); // 1.5 -> 2 (even)
        assert_eq!(nanos(&m, Usage { input_tokens: 5, ..Usage::default() }), 2); // 2.5 -> 2
        // Two half-nano parts are summed before rounding: 0.5 + 0.5 = 1, not 0 + 0.
        m.output = p("5e-10");
        assert_eq!(nanos(&m, Usage { input_tokens: 1, output_tokens: 1, ..Usage::default() }), 1);
    }

    #[test]
    fn contradictory_usage_is_refused_naming_the_field() {
        let field = |u: Usage| cost(&gpt4o(), &u).unwrap_err().field();
        let u = Usage { input_tokens: 10, cached_input_tokens: 11, ..Usage::default() };
        assert_eq!(field(u), Some("cached_input_tokens"));
        let u = Usage { input_tokens: 10, cached_input_tokens: 6, cache_creation_tokens: 5, ..Usage::default() };
        assert_eq!(field(u), Some("cache_creation_tokens"));
        let u = Usage { output_tokens: 10, reasoning_tokens: 11, ..Usage::default() };
        assert_eq!(field(u), Some("reasoning_tokens"));
        let u = Usage { input_tokens: 10, cached_input_tokens: 6, cache_creation_tokens: 4, ..Usage::default() };
        assert!(cost(&gpt4o(), &u).is_ok());
    }

    #[test]
    fn huge_usage_is_refused_not_wrapped() {
        let mut m = gpt4o();
        m.output_per_image = p("79228162514264337593543950335");
        let u = Usage { output_images: u64::MAX, ..Usage::default() };
        assert_eq!(cost(&m, &u).unwrap_err().field(), Some("usage"));
        // Within Decimal but beyond i64 nano-USD.
        let u = Usage { output_tokens: u64::MAX, ..Usage::default() };
        assert_eq!(cost(&gpt4o(), &u).unwrap_err().field(), Some("amount"));
    }

    #[test]
    fn unpriced_units_are_reported() {
        let u = Usage { input_tokens: 10, output_images: 1, duration_ms: 5, ..Usage::default() };
        assert_eq!(unpriced_units(&gpt4o(), &u), vec!["output_images", "duration_ms"]);
        let embedding = {
            let mut m = ModelPrice::new("text-embedding-3-small", "openai");
            m.input = p("2e-08");
            m
        };
        assert!(unpriced_units(&embedding, &Usage { input_tokens: 10, ..Usage::default() }).is_empty());
        assert_eq!(unpriced_units(&embedding, &Usage { output_tokens: 1, ..Usage::default() }), vec!["output_tokens"]);
    }

    #[test]
    fn every_model_in_the_shipped_catalog_can_price_a_typical_call() {
        let book = super::super::PriceBook::default_catalog().unwrap();
        let u = Usage {
            input_tokens: 300_000,
            cached_input_tokens: 1_000,
            cache_creation_tokens: 1_000,
            output_tokens: 2_000,
            reasoning_tokens: 500,
            input_images: 1,
            output_images: 1,
            duration_ms: 60_000,
            requests: 1,
        };
        for model in book.iter() {
            let c = cost(model, &u).unwrap_or_else(|e| panic!("{}: {e}", model.name));
            assert!(c >= NanoUsd::ZERO, "{}", model.name);
        }
        let gpt4o = book.get("gpt-4o").unwrap();
        let call = Usage { input_tokens: 1_000_000, output_tokens: 1_000_000, ..Usage::default() };
        assert_eq!(cost(gpt4o, &call).unwrap().to_usd_string(), "12.500000000");
    }

    proptest! {
        /// Splitting one call's usage into two events moves the total by at
        /// most one nano-USD: each event rounds once, by at most half.
        #[test]
        fn splitting_usage_moves_the_total_by_at_most_one_nano(
            input in 0u64..5_000_000,
            cached_share in 0u64..=100,
            output in 0u64..2_000_000,
            reasoning_share in 0u64..=100,
            cut_in in 0u64..=100,
            cut_out in 0u64..=100,
        ) {
            let mut m = gpt4o();
            m.reasoning = p("1.7e-05");
            m.cache_read = p("1.3e-07");
            let whole = Usage {
                input_tokens: input,
                cached_input_tokens: input * cached_share / 100,
                output_tokens: output,
                reasoning_tokens: output * reasoning_share / 100,
                ..Usage::default()
            };
            let part = |n: u64, pct: u64| n * pct / 100;
            let a = Usage {
                input_tokens: part(whole.input_tokens, cut_in),
                cached_input_tokens: part(whole.cached_input_tokens, cut_in).min(part(whole.input_tokens, cut_in)),
                output_tokens: part(whole.output_tokens, cut_out),
                reasoning_tokens: part(whole.reasoning_tokens, cut_out).min(part(whole.output_tokens, cut_out)),
                ..Usage::default()
            };
            let b = Usage {
                input_tokens: whole.input_tokens - a.input_tokens,
                cached_input_tokens: whole.cached_input_tokens - a.cached_input_tokens,
                output_tokens: whole.output_tokens - a.output_tokens,
                reasoning_tokens: whole.reasoning_tokens - a.reasoning_tokens,
                ..Usage::default()
            };
            prop_assume!(b.validate().is_ok());
            let split = cost(&m, &a).unwrap().nanos() + cost(&m, &b).unwrap().nanos();
            let joined = cost(&m, &whole).unwrap().nanos();
            prop_assert!((split - joined).abs() <= 1, "split {split} vs joined {joined}");
        }
    }
}
