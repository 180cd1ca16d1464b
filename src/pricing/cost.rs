//! The charging rule: what one usage event costs at one model's prices.
//!
//! Every unit an event reports is charged from a LiteLLM key of the model's
//! entry, or named as unpriced ([`Charge::unpriced`]); never a silent $0.
//!
//! ```text
//! tokens   (input − cache reads − cache writes − audio in − image in) × input_cost_per_token
//!          + cache reads × cache_read_input_token_cost                 (else the input price)
//!          + 5-minute cache writes × cache_creation_input_token_cost  (else the input price)
//!          + 1-hour cache writes × cache_creation_input_token_cost_above_1hr      (no fallback)
//!          + audio in × input_cost_per_audio_token                                (no fallback)
//!          + image in × input_cost_per_image_token                    (else the input price)
//!          + (output − reasoning − audio out − image out) × output_cost_per_token
//!          + reasoning × output_cost_per_reasoning_token              (else the output price)
//!          + audio out × output_cost_per_audio_token                              (no fallback)
//!          + image out × output_cost_per_image_token                  (else the output price)
//! images   input images × input_cost_per_image
//!          + output images × output_cost_per_image_<size> when `size` is given, else output_cost_per_image
//!            (a model that prices images only as tokens charges them through the tokens the event
//!            reports: vision input inside input_tokens, generated images as image_output_tokens)
//! pixels   × output_cost_per_pixel for image generation and edits, else input_cost_per_pixel
//! seconds  × output_cost_per_second_<resolution> when `resolution` is given, else the first of
//!            output_cost_per_video_per_second, output/input_cost_per_second (see `per_second`),
//!            input_cost_per_audio_per_second, input_cost_per_video_per_second, cost_per_second
//! chars    × input_cost_per_character (else output_cost_per_character)
//! queries  × input_cost_per_query (search and rerank APIs), else
//!            search_context_cost_per_query.search_context_size_<size, default medium>
//! pages    × ocr_cost_per_page
//! requests × input_cost_per_request; on a model priced per query and not per request,
//!            an event without `queries` is one query per request
//! ```
//!
//! Counts that are parts of a total are carved out of it, never added twice:
//! prompt tokens *include* cache reads, cache writes, audio and image input
//! tokens (these four are disjoint); 1-hour cache writes are part of cache
//! writes; completion tokens include reasoning, audio and image output tokens.
//! This is LiteLLM's reading of its map (`generic_cost_per_token`).
//!
//! Which price of a key is in force, in this order:
//! 1. the input-size tier (`…_above_<N>k_tokens`): every token of a request
//!    past a threshold is priced at the highest such tier, its service-tier
//!    variant first (`…_above_272k_tokens_priority`), then its standard price;
//! 2. the service-tier variant (`…_batches`, `…_priority`, `…_flex`);
//! 3. the off-peak price when the event's time is in an off-peak window
//!    ([`super::off_peak`]);
//! 4. the standard price.
//!
//! A service tier without its own price for a key is charged the standard
//! price, and the charge says so ([`Charge::notes`]). Audio tokens and 1-hour
//! cache writes have no fallback because providers price them apart (audio
//! at several times the text rate, 1-hour writes at twice the input rate):
//! charging the text rate would be a silent error, so they are unpriced.
//! Image tokens fall back to the text rate because that is how Gemini and
//! OpenAI bill image input that has no price of its own.
//!
//! Everything is summed exactly in [`Decimal`] and rounded once, at the end,
//! to [`NanoUsd`] (half to even; see [`NanoUsd::from_decimal_usd`]).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::money::{NanoUsd, UnitPrice};
use super::off_peak::{Applies, OffPeak};
use super::{ModelPrice, Tier};
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
    /// Prompt tokens written to Anthropic's 1-hour cache; part of `cache_creation_tokens`.
    pub cache_creation_1h_tokens: u64,
    /// Audio prompt tokens (not read from the cache); part of `input_tokens`.
    pub audio_input_tokens: u64,
    /// Image prompt tokens (not read from the cache); part of `input_tokens`.
    pub image_input_tokens: u64,
    /// All completion tokens, including reasoning tokens.
    pub output_tokens: u64,
    /// Reasoning ("thinking") tokens; part of `output_tokens`.
    pub reasoning_tokens: u64,
    /// Audio completion tokens; part of `output_tokens`.
    pub audio_output_tokens: u64,
    /// Image completion tokens; part of `output_tokens`.
    pub image_output_tokens: u64,
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
    /// Billable calls, for per-request prices (and per-query ones, see the module doc).
    pub requests: u64,
    /// Characters of text to speech.
    pub characters: u64,
    /// Pixels of images generated or processed.
    pub pixels: u64,
    /// Search queries (web search context, grounding, search APIs).
    pub queries: u64,
    /// Pages read (OCR).
    pub pages: u64,
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
        if self.cache_creation_1h_tokens > self.cache_creation_tokens {
            return Err(Error::invalid("cache_creation_1h_tokens", "must not exceed cache_creation_tokens (which include 1-hour writes)"));
        }
        let input_parts = [self.cached_input_tokens, self.cache_creation_tokens, self.audio_input_tokens, self.image_input_tokens];
        let audio_in = input_parts[..3].iter().try_fold(0u64, |a, b| a.checked_add(*b));
        if audio_in.is_none_or(|total| total > self.input_tokens) {
            return Err(Error::invalid(
                "audio_input_tokens",
                "plus cached_input_tokens and cache_creation_tokens must not exceed input_tokens (which include audio)",
            ));
        }
        if input_parts.iter().try_fold(0u64, |a, b| a.checked_add(*b)).is_none_or(|total| total > self.input_tokens) {
            return Err(Error::invalid(
                "image_input_tokens",
                "plus cached_input_tokens, cache_creation_tokens and audio_input_tokens must not exceed input_tokens",
            ));
        }
        if self.reasoning_tokens > self.output_tokens {
            return Err(Error::invalid("reasoning_tokens", "must not exceed output_tokens (which include reasoning)"));
        }
        let output_parts = [self.reasoning_tokens, self.audio_output_tokens, self.image_output_tokens];
        if output_parts[..2].iter().try_fold(0u64, |a, b| a.checked_add(*b)).is_none_or(|total| total > self.output_tokens) {
            return Err(Error::invalid("audio_output_tokens", "plus reasoning_tokens must not exceed output_tokens (which include audio)"));
        }
        if output_parts.iter().try_fold(0u64, |a, b| a.checked_add(*b)).is_none_or(|total| total > self.output_tokens) {
            return Err(Error::invalid(
                "image_output_tokens",
                "plus reasoning_tokens and audio_output_tokens must not exceed output_tokens",
            ));
        }
        Ok(())
    }
}

/// Which of a provider's service tiers served the call: its prices are the
/// model's `…_batches`, `…_priority` or `…_flex` variants.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ServiceTier {
    #[default]
    Default,
    Batch,
    Priority,
    Flex,
}

impl ServiceTier {
    /// Reads `default`, `batch`, `priority` or `flex`.
    pub fn parse(text: &str) -> Result<Self, Error> {
        match text {
            "default" => Ok(ServiceTier::Default),
            "batch" => Ok(ServiceTier::Batch),
            "priority" => Ok(ServiceTier::Priority),
            "flex" => Ok(ServiceTier::Flex),
            _ => Err(Error::invalid("service_tier", "must be default, batch, priority or flex")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ServiceTier::Default => "default",
            ServiceTier::Batch => "batch",
            ServiceTier::Priority => "priority",
            ServiceTier::Flex => "flex",
        }
    }

    pub fn is_default(&self) -> bool {
        *self == ServiceTier::Default
    }

    /// The suffix of the tier's price keys in LiteLLM's map.
    fn suffix(self) -> Option<&'static str> {
        match self {
            ServiceTier::Default => None,
            ServiceTier::Batch => Some("batches"),
            ServiceTier::Priority => Some("priority"),
            ServiceTier::Flex => Some("flex"),
        }
    }
}

/// What besides the counts decides the prices of an event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Conditions<'a> {
    /// When the call was made (UTC ms), for off-peak windows; `None`: standard prices.
    pub at_ms: Option<i64>,
    pub service_tier: ServiceTier,
    /// Video resolution (`720p`, `1080p`, …) for per-resolution per-second prices.
    pub resolution: Option<&'a str>,
    /// Image size (`1K`, `1024`, …) for per-size image prices, or the search
    /// context size (`low`, `medium`, `high`) of search queries.
    pub size: Option<&'a str>,
    /// Image quality; chooses a price-book entry (see alias resolution), not a key.
    pub quality: Option<&'a str>,
}

/// What an event costs, exactly, and what could not be charged.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Charge {
    /// The exact, unrounded cost in USD of the units that were priced.
    pub usd: Decimal,
    /// The usage fields that were non-zero but that nothing in the model's
    /// prices charges (not even a fallback), in the order of [`Usage`]'s
    /// fields: the event is only partly priced.
    pub unpriced: Vec<&'static str>,
    /// Prices that stood in for others: a service tier without its own
    /// price, off-peak rates, an off-peak zone this release cannot place.
    pub notes: Vec<String>,
}

impl Charge {
    /// The cost rounded once to the nearest nano-USD (half to even).
    pub fn nanos(&self) -> Result<NanoUsd, Error> {
        NanoUsd::from_decimal_usd(self.usd)
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
    /// The token prices for a request with this many input tokens, at
    /// standard prices (no service tier, no off-peak).
    ///
    /// Tiers are all-or-nothing, as Google, Anthropic and Alibaba bill them
    /// and LiteLLM computes them: when the request's input tokens exceed a
    /// tier's threshold, *every* token of the request (not only those past
    /// the threshold) is priced at the highest such tier. A kind the tier does
    /// not set falls back to the base price of that kind; a cache price that
    /// is set nowhere falls back to the input price in force, a reasoning
    /// price to the output price in force.
    pub fn token_rates(&self, input_tokens: u64) -> Rates {
        let book = Lookup::new(self, input_tokens, &Conditions::default(), &mut Vec::new());
        let zero = |f: Option<Found>| f.map(|f| f.usd).unwrap_or_default();
        let input = book.find("input_cost_per_token");
        let output = book.find("output_cost_per_token");
        Rates {
            tier_threshold: book.tier.map(|t| t.threshold_tokens),
            input: zero(input),
            output: zero(output),
            cache_read: zero(book.find("cache_read_input_token_cost").or(input)),
            cache_write: zero(book.find("cache_creation_input_token_cost").or(input)),
            reasoning: zero(book.find("output_cost_per_reasoning_token").or(output)),
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

    /// What one second costs when the event names no resolution, at
    /// standard prices: the price the meter charges (video, audio, runtime;
    /// see the module doc), for showing beside a model.
    pub fn charged_per_second(&self) -> Option<Decimal> {
        let book = Lookup::new(self, 0, &Conditions::default(), &mut Vec::new());
        second_price(self, &book, None).ok().flatten().map(|f| f.usd)
    }

    /// What one output image costs when the event names no size, at
    /// standard prices (the meter's price for generated images).
    pub fn charged_per_image(&self) -> Option<Decimal> {
        let book = Lookup::new(self, 0, &Conditions::default(), &mut Vec::new());
        if self.images_are_output() {
            image_price(self, &book, None).ok().flatten().map(|f| f.usd)
        } else {
            book.find("input_cost_per_image").map(|f| f.usd)
        }
    }

    /// The price of one call: per request, else per query.
    pub fn per_call(&self) -> Option<UnitPrice> {
        self.per_request.or(self.per_query)
    }

    /// The model's standard (base) price under a LiteLLM key, whether the
    /// parser put it in a named field or in [`ModelPrice::extra`].
    pub fn base_price(&self, key: &str) -> Option<Decimal> {
        let named = match key {
            "input_cost_per_token" => self.input,
            "output_cost_per_token" => self.output,
            "cache_read_input_token_cost" => self.cache_read,
            "cache_creation_input_token_cost" => self.cache_write,
            "output_cost_per_reasoning_token" => self.reasoning,
            "input_cost_per_image" => self.input_per_image,
            "output_cost_per_image" => self.output_per_image,
            "input_cost_per_second" => self.input_per_second,
            "output_cost_per_second" => self.output_per_second,
            "input_cost_per_request" => self.per_request,
            "input_cost_per_query" => self.per_query,
            _ => return self.extra.get(key).copied(),
        };
        named.map(UnitPrice::usd)
    }

    /// The suffixes of the keys `<prefix>_<suffix>` the model has (sizes of
    /// per-size image prices, resolutions of per-resolution second prices).
    fn variants_of(&self, prefix: &str) -> Vec<String> {
        let head = format!("{prefix}_");
        let tier_variant = |rest: &str| ["batches", "priority", "flex"].iter().any(|t| rest == *t || rest.ends_with(&format!("_{t}")));
        self.extra
            .keys()
            .filter_map(|k| k.strip_prefix(&head))
            .filter(|rest| !rest.contains("token") && !rest.contains("interval") && !tier_variant(rest))
            .map(str::to_string)
            .collect()
    }
}

/// A price found for a key, and whether it is the service tier's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Found {
    usd: Decimal,
    /// False when a service tier was asked for and its standard price stood in.
    own: bool,
}

/// Looks up the price in force of a key for one event (the order is in the module doc).
struct Lookup<'a> {
    m: &'a ModelPrice,
    tier: Option<&'a Tier>,
    /// How the map spells the tier's threshold in keys (`272k`, `128`).
    tier_label: Option<String>,
    suffix: Option<&'static str>,
    off_peak: Option<OffPeak>,
}

impl<'a> Lookup<'a> {
    fn new(m: &'a ModelPrice, input_tokens: u64, c: &Conditions<'_>, notes: &mut Vec<String>) -> Self {
        let tier = m.tiers.iter().filter(|t| input_tokens > t.threshold_tokens).max_by_key(|t| t.threshold_tokens);
        let tier_label = tier.map(|t| match t.threshold_tokens {
            n if n % 1000 == 0 => format!("{}k", n / 1000),
            n => n.to_string(),
        });
        let off_peak = match (c.at_ms, m.off_peak_pricing.as_deref().and_then(OffPeak::parse)) {
            (Some(at), Some(o)) => match o.applies_at(at) {
                Applies::Yes => {
                    notes.push("off-peak prices (the call was made in an off-peak window)".to_string());
                    Some(o)
                }
                Applies::No => None,
                Applies::UnknownZone(zone) => {
                    notes.push(format!("off-peak windows not applied: unknown weekday_timezone {zone:?}"));
                    None
                }
            },
            _ => None,
        };
        Lookup { m, tier, tier_label, suffix: c.service_tier.suffix(), off_peak }
    }

    /// The tier's standard price of a key: a named field of the tier, else
    /// `<key>_above_<N>_tokens` in the entry's other prices.
    fn tier_standard(&self, key: &str) -> Option<Decimal> {
        let tier = self.tier?;
        let named = match key {
            "input_cost_per_token" => Some(tier.input),
            "output_cost_per_token" => Some(tier.output),
            "cache_read_input_token_cost" => Some(tier.cache_read),
            "cache_creation_input_token_cost" => Some(tier.cache_write),
            "output_cost_per_reasoning_token" => Some(tier.reasoning),
            _ => None,
        };
        match named {
            Some(p) => p.map(UnitPrice::usd),
            None => self.m.extra.get(&format!("{key}_above_{}_tokens", self.tier_label.as_deref()?)).copied(),
        }
    }

    fn find(&self, key: &str) -> Option<Found> {
        let variant = |k: String| self.suffix.and_then(|s| self.m.extra.get(&format!("{k}_{s}")).copied());
        let standard = |usd: Decimal| Found { usd, own: self.suffix.is_none() };
        if let Some(label) = &self.tier_label {
            if let Some(usd) = variant(format!("{key}_above_{label}_tokens")) {
                return Some(Found { usd, own: true });
            }
            if let Some(usd) = self.tier_standard(key) {
                return Some(standard(usd));
            }
        }
        if let Some(usd) = variant(key.to_string()) {
            return Some(Found { usd, own: true });
        }
        if let Some(usd) = self.off_peak.as_ref().and_then(|o| o.rates.get(key)) {
            return Some(standard(*usd));
        }
        self.m.base_price(key).map(standard)
    }

    /// The first key of `keys` the model prices.
    fn first(&self, keys: &[&str]) -> Option<Found> {
        keys.iter().find_map(|k| self.find(k))
    }
}

/// What `usage` costs at `price`, rounded once to the nearest nano-USD (half
/// to even), at standard prices. Fails when the usage contradicts itself (see
/// [`Usage::validate`]) or is too large to price.
pub fn cost(price: &ModelPrice, usage: &Usage) -> Result<NanoUsd, Error> {
    NanoUsd::from_decimal_usd(cost_exact(price, usage)?)
}

/// The exact, unrounded cost in USD at standard prices. For showing a price
/// breakdown; charge with [`cost`] or [`charge`].
pub fn cost_exact(price: &ModelPrice, usage: &Usage) -> Result<Decimal, Error> {
    Ok(charge(price, usage, &Conditions::default())?.usd)
}

/// The usage fields that were non-zero but that nothing in `price` prices,
/// not even a fallback: they were charged zero. A meter flags these rather
/// than bill silently at zero. (Contradictory usage: none listed.)
pub fn unpriced_units(price: &ModelPrice, usage: &Usage) -> Vec<&'static str> {
    charge(price, usage, &Conditions::default()).map(|c| c.unpriced).unwrap_or_default()
}

/// The charge of one event: every unit it reports, each at the price in
/// force for it (see the module doc), summed exactly; the units nothing
/// prices are listed, not charged. Fails, naming the field, when the usage
/// contradicts itself, when `resolution` or `size` names a variant the model
/// does not price while it prices others, or when the usage is too large.
pub fn charge(price: &ModelPrice, usage: &Usage, c: &Conditions<'_>) -> Result<Charge, Error> {
    usage.validate()?;
    let mut notes = Vec::new();
    let book = Lookup::new(price, usage.input_tokens, c, &mut notes);
    let u = usage;
    let input = book.find("input_cost_per_token");
    let output = book.find("output_cost_per_token");
    let per_query = book.find("input_cost_per_query");
    let per_request = book.find("input_cost_per_request");
    let queries_per_request = u.queries == 0 && per_request.is_none() && per_query.is_some();

    // An entry priced by the pixel (Azure's DALL·E 3 by size and quality)
    // charges each image at width × height pixels when the event gives a size.
    let (out_images, out_image_price) = match (u.output_images, image_price_or_pixels(price, &book, c.size)?) {
        (0, _) => (Decimal::ZERO, None),
        (n, ImagePrice::PerImage(f)) => (Decimal::from(n), f),
        (n, ImagePrice::PerPixel(f, pixels)) => (Decimal::from(n).checked_mul(Decimal::from(pixels)).ok_or_else(|| Error::invalid("images", "is too large to price"))?, Some(f)),
    };
    let parts: [(&'static str, Decimal, Option<Found>); 19] = [
        ("input_tokens", (u.input_tokens - u.cached_input_tokens - u.cache_creation_tokens - u.audio_input_tokens - u.image_input_tokens).into(), input),
        ("cached_input_tokens", u.cached_input_tokens.into(), book.find("cache_read_input_token_cost").or(input)),
        ("cache_creation_tokens", (u.cache_creation_tokens - u.cache_creation_1h_tokens).into(), book.find("cache_creation_input_token_cost").or(input)),
        ("cache_creation_1h_tokens", u.cache_creation_1h_tokens.into(), book.find("cache_creation_input_token_cost_above_1hr")),
        ("audio_input_tokens", u.audio_input_tokens.into(), book.find("input_cost_per_audio_token")),
        ("image_input_tokens", u.image_input_tokens.into(), book.find("input_cost_per_image_token").or(input)),
        ("output_tokens", (u.output_tokens - u.reasoning_tokens - u.audio_output_tokens - u.image_output_tokens).into(), output),
        ("reasoning_tokens", u.reasoning_tokens.into(), book.find("output_cost_per_reasoning_token").or(output)),
        ("audio_output_tokens", u.audio_output_tokens.into(), book.find("output_cost_per_audio_token")),
        ("image_output_tokens", u.image_output_tokens.into(), book.find("output_cost_per_image_token").or(output)),
        ("images", u.input_images.into(), book.find("input_cost_per_image").or(covered(u.input_tokens > 0 && input.is_some()))),
        ("images", out_images, out_image_price.or(covered(u.image_output_tokens > 0 && book.find("output_cost_per_image_token").is_some()))),
        ("pixels", u.pixels.into(), pixel_price(price, &book)),
        ("seconds", Decimal::from_i128_with_scale(i128::from(u.duration_ms), 3), if u.duration_ms > 0 { second_price(price, &book, c.resolution)? } else { None }),
        ("characters", u.characters.into(), book.first(&["input_cost_per_character", "output_cost_per_character"])),
        ("queries", u.queries.into(), if u.queries > 0 { per_query.or(search_price(&book, c.size)?) } else { None }),
        ("pages", u.pages.into(), book.find("ocr_cost_per_page")),
        ("requests", u.requests.into(), per_request),
        ("requests", if queries_per_request { u.requests.into() } else { Decimal::ZERO }, per_query),
    ];

    let too_large = || Error::invalid("usage", "is too large to price");
    let mut out = Charge { notes, ..Charge::default() };
    let mut standard_for_tier = Vec::new();
    for (unit, quantity, found) in parts {
        if quantity.is_zero() {
            continue;
        }
        match found {
            // A request with no per-request price is a count, not a billable unit.
            None if unit == "requests" => {}
            None => {
                if !out.unpriced.contains(&unit) {
                    out.unpriced.push(unit);
                }
            }
            Some(f) => {
                if !f.own && !standard_for_tier.contains(&unit) {
                    standard_for_tier.push(unit);
                }
                if !f.usd.is_zero() {
                    out.usd = quantity.checked_mul(f.usd).and_then(|part| out.usd.checked_add(part)).ok_or_else(too_large)?;
                }
            }
        }
    }
    if !standard_for_tier.is_empty() {
        out.notes.push(format!(
            "service_tier {}: the model has no {} price for {}; standard prices charged",
            c.service_tier.as_str(),
            c.service_tier.as_str(),
            standard_for_tier.join(", ")
        ));
    }
    Ok(out)
}

/// A unit charged through other units of the same event (images a model
/// bills as tokens): nothing more to charge, and not unpriced.
fn covered(yes: bool) -> Option<Found> {
    yes.then_some(Found { usd: Decimal::ZERO, own: true })
}

/// How an output image is priced.
enum ImagePrice {
    PerImage(Option<Found>),
    /// At a pixel price, this many pixels per image.
    PerPixel(Found, u64),
}

/// An output image's price; when the model has no per-image price but a
/// pixel price and the event's `size` is `<width>x<height>`, the image's pixels.
fn image_price_or_pixels(m: &ModelPrice, book: &Lookup<'_>, size: Option<&str>) -> Result<ImagePrice, Error> {
    let per_image = image_price(m, book, size)?;
    if per_image.is_some() {
        return Ok(ImagePrice::PerImage(per_image));
    }
    match (pixel_price(m, book), size.and_then(pixels_of_size)) {
        (Some(f), Some(pixels)) => Ok(ImagePrice::PerPixel(f, pixels)),
        _ => Ok(ImagePrice::PerImage(None)),
    }
}

/// `1024x1792` (or `1024-x-1792`, as the map's keys spell it) → 1,835,008.
pub fn pixels_of_size(size: &str) -> Option<u64> {
    let size = size.to_ascii_lowercase().replace("-x-", "x");
    let (w, h) = size.split_once('x')?;
    w.trim().parse::<u64>().ok()?.checked_mul(h.trim().parse::<u64>().ok()?)
}

/// An output image's price: by `size` when the model prices sizes apart.
fn image_price(m: &ModelPrice, book: &Lookup<'_>, size: Option<&str>) -> Result<Option<Found>, Error> {
    pick_variant(m, book, "output_cost_per_image", size, "size")
}

/// A second's price: by `resolution` when the model prices resolutions
/// apart, else the first per-second price the model has (module doc).
fn second_price(m: &ModelPrice, book: &Lookup<'_>, resolution: Option<&str>) -> Result<Option<Found>, Error> {
    if resolution.is_some() && !m.variants_of("output_cost_per_second").is_empty() {
        return pick_variant(m, book, "output_cost_per_second", resolution, "resolution");
    }
    let per_second = m.per_second().and_then(|p| {
        let key = if Some(p) == m.output_per_second { "output_cost_per_second" } else { "input_cost_per_second" };
        book.find(key)
    });
    Ok(book
        .find("output_cost_per_video_per_second")
        .or(per_second)
        .or_else(|| book.first(&["input_cost_per_audio_per_second", "input_cost_per_video_per_second", "cost_per_second"])))
}

/// `<prefix>_<choice>` when `choice` is given and the model has such keys
/// (matched without regard to case); a choice the model does not price
/// while it prices others is refused, naming `field` and the choices.
fn pick_variant(m: &ModelPrice, book: &Lookup<'_>, prefix: &str, choice: Option<&str>, field: &'static str) -> Result<Option<Found>, Error> {
    let variants = m.variants_of(prefix);
    match choice {
        Some(choice) if !variants.is_empty() => match variants.iter().find(|v| v.eq_ignore_ascii_case(choice)) {
            Some(v) => Ok(book.find(&format!("{prefix}_{v}"))),
            None => Err(Error::invalid(field, format!("{} has no price for {choice:?}; it prices {}", m.name, variants.join(", ")))),
        },
        _ => Ok(book.find(prefix)),
    }
}

/// A pixel's price: output pixels for image generation and edits, else input.
fn pixel_price(m: &ModelPrice, book: &Lookup<'_>) -> Option<Found> {
    if m.images_are_output() {
        book.first(&["output_cost_per_pixel", "input_cost_per_pixel"])
    } else {
        book.first(&["input_cost_per_pixel", "output_cost_per_pixel"])
    }
}

/// A search query's price by search context size (`size`: low, medium or
/// high; medium when not given, as OpenAI and LiteLLM default).
fn search_price(book: &Lookup<'_>, size: Option<&str>) -> Result<Option<Found>, Error> {
    let has_search = ["low", "medium", "high"].iter().any(|s| book.m.extra.contains_key(&format!("search_context_cost_per_query.search_context_size_{s}")));
    if !has_search {
        return Ok(None);
    }
    let size = match size.map(str::to_ascii_lowercase) {
        None => "medium".to_string(),
        Some(s) if ["low", "medium", "high"].contains(&s.as_str()) => s,
        Some(_) => return Err(Error::invalid("size", "must be low, medium or high for search queries")),
    };
    Ok(book.find(&format!("search_context_cost_per_query.search_context_size_{size}")))
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
        let u = Usage { input_tokens: 10, output_images: 1, duration_ms: 5, requests: 1, ..Usage::default() };
        assert_eq!(unpriced_units(&gpt4o(), &u), vec!["images", "seconds"], "a request is a count, not a unit to price");
        let embedding = {
            let mut m = ModelPrice::new("text-embedding-3-small", "openai");
            m.input = p("2e-08");
            m
        };
        assert!(unpriced_units(&embedding, &Usage { input_tokens: 10, ..Usage::default() }).is_empty());
        assert_eq!(unpriced_units(&embedding, &Usage { output_tokens: 1, ..Usage::default() }), vec!["output_tokens"]);
    }

    fn with_extra(mut m: ModelPrice, prices: &[(&str, &str)]) -> ModelPrice {
        for (k, v) in prices {
            m.extra.insert(k.to_string(), dec(v));
        }
        m
    }

    fn charged(m: &ModelPrice, u: Usage, c: Conditions<'_>) -> Charge {
        charge(m, &u, &c).unwrap()
    }

    /// Family: audio tokens (`input_cost_per_audio_token`, `output_cost_per_audio_token`).
    #[test]
    fn audio_tokens_are_carved_out_at_their_own_prices_and_never_at_the_text_rate() {
        // gpt-4o-audio-preview-2024-12-17: text 2.5e-6 / 1e-5, audio 4e-5 / 8e-5.
        let mut m = ModelPrice::new("gpt-4o-audio-preview-2024-12-17", "openai");
        m.input = p("2.5e-06");
        m.output = p("1e-05");
        let m = with_extra(m, &[("input_cost_per_audio_token", "4e-05"), ("output_cost_per_audio_token", "8e-05")]);
        let u = Usage { input_tokens: 1_000, audio_input_tokens: 600, output_tokens: 500, audio_output_tokens: 400, ..Usage::default() };
        // 400 × 2.5e-6 + 600 × 4e-5 + 100 × 1e-5 + 400 × 8e-5 = 0.001 + 0.024 + 0.001 + 0.032
        let c = charged(&m, u, Conditions::default());
        assert_eq!((c.nanos().unwrap().nanos(), c.unpriced.len()), (58_000_000, 0));
        // Without audio prices the audio tokens are charged nothing and named.
        let c = charged(&gpt4o(), u, Conditions::default());
        assert_eq!(c.unpriced, vec!["audio_input_tokens", "audio_output_tokens"]);
        assert_eq!(c.nanos().unwrap().nanos(), 1_000_000 + 1_000_000, "only the text tokens");
    }

    /// Family: image tokens (`input_cost_per_image_token`, `output_cost_per_image_token`).
    #[test]
    fn image_tokens_use_their_prices_else_the_text_rate() {
        // gpt-image-1: text in 5e-6, image in 1e-5, image out 4e-5.
        let mut m = ModelPrice::new("gpt-image-1", "openai");
        m.mode = Some(super::super::Mode::ImageGeneration);
        m.input = p("5e-06");
        let m = with_extra(m, &[("input_cost_per_image_token", "1e-05"), ("output_cost_per_image_token", "4e-05")]);
        let u = Usage { input_tokens: 300, image_input_tokens: 200, output_tokens: 4_160, image_output_tokens: 4_160, ..Usage::default() };
        // 100 × 5e-6 + 200 × 1e-5 + 4,160 × 4e-5 = 0.0005 + 0.002 + 0.1664
        assert_eq!(charged(&m, u, Conditions::default()).nanos().unwrap().nanos(), 168_900_000);
        // gpt-4o has no image-token price: image input is input at the text rate.
        let u = Usage { input_tokens: 1_000, image_input_tokens: 765, ..Usage::default() };
        let c = charged(&gpt4o(), u, Conditions::default());
        assert_eq!((c.nanos().unwrap().nanos(), c.unpriced.len()), (2_500_000, 0));
    }

    /// Family: 1-hour cache writes (`cache_creation_input_token_cost_above_1hr`).
    #[test]
    fn one_hour_cache_writes_are_part_of_cache_writes_at_their_own_price() {
        // claude-sonnet-4-5: input 3e-6, 5-minute writes 3.75e-6, 1-hour writes 6e-6.
        let mut m = ModelPrice::new("claude-sonnet-4-5", "anthropic");
        m.input = p("3e-06");
        m.cache_write = p("3.75e-06");
        let m = with_extra(m, &[("cache_creation_input_token_cost_above_1hr", "6e-06")]);
        let u = Usage { input_tokens: 3_000, cache_creation_tokens: 2_000, cache_creation_1h_tokens: 1_500, ..Usage::default() };
        // 1,000 × 3e-6 + 500 × 3.75e-6 + 1,500 × 6e-6 = 0.003 + 0.001875 + 0.009
        assert_eq!(charged(&m, u, Conditions::default()).nanos().unwrap().nanos(), 13_875_000);
        // A model without a 1-hour price: the 1-hour writes are unpriced, not charged at the 5-minute rate.
        let mut no_1h = m.clone();
        no_1h.extra.clear();
        let c = charged(&no_1h, u, Conditions::default());
        assert_eq!(c.unpriced, vec!["cache_creation_1h_tokens"]);
        assert_eq!(c.nanos().unwrap().nanos(), 3_000_000 + 1_875_000);
        // More 1-hour writes than writes contradicts itself.
        let bad = Usage { cache_creation_1h_tokens: 2_001, ..u };
        assert_eq!(charge(&m, &bad, &Conditions::default()).unwrap_err().field(), Some("cache_creation_1h_tokens"));
    }

    /// gpt-5.4's standard, batch, flex and priority prices, with its 272k tier.
    fn gpt54() -> ModelPrice {
        let mut m = ModelPrice::new("gpt-5.4", "openai");
        m.input = p("2.5e-06");
        m.output = p("1.5e-05");
        m.cache_read = p("2.5e-07");
        let mut t = Tier::new(272_000);
        t.input = p("5e-06");
        t.output = p("2.25e-05");
        t.cache_read = p("5e-07");
        m.tiers.push(t);
        with_extra(
            m,
            &[
                ("input_cost_per_token_batches", "1.25e-06"),
                ("output_cost_per_token_batches", "7.5e-06"),
                ("cache_read_input_token_cost_batches", "1.3e-07"),
                ("input_cost_per_token_above_272k_tokens_batches", "2.5e-06"),
                ("output_cost_per_token_above_272k_tokens_batches", "1.125e-05"),
                ("input_cost_per_token_priority", "5e-06"),
                ("output_cost_per_token_priority", "3e-05"),
                ("cache_read_input_token_cost_priority", "5e-07"),
                ("input_cost_per_token_flex", "1.25e-06"),
                ("output_cost_per_token_flex", "7.5e-06"),
            ],
        )
    }

    /// Family: service tiers (`*_batches`, `*_priority`, `*_flex`, and their tier variants).
    #[test]
    fn a_service_tier_uses_its_variant_prices_and_notes_standard_ones_standing_in() {
        let u = Usage { input_tokens: 10_000, cached_input_tokens: 2_000, output_tokens: 1_000, ..Usage::default() };
        let at = |tier| charged(&gpt54(), u, Conditions { service_tier: tier, ..Conditions::default() });
        // Standard: 8,000 × 2.5e-6 + 2,000 × 2.5e-7 + 1,000 × 1.5e-5 = 0.02 + 0.0005 + 0.015
        assert_eq!(at(ServiceTier::Default).nanos().unwrap().nanos(), 35_500_000);
        // Batch: 8,000 × 1.25e-6 + 2,000 × 1.3e-7 + 1,000 × 7.5e-6 = 0.01 + 0.00026 + 0.0075
        let batch = at(ServiceTier::Batch);
        assert_eq!((batch.nanos().unwrap().nanos(), batch.notes.len()), (17_760_000, 0));
        // Priority: 8,000 × 5e-6 + 2,000 × 5e-7 + 1,000 × 3e-5 = 0.04 + 0.001 + 0.03
        assert_eq!(at(ServiceTier::Priority).nanos().unwrap().nanos(), 71_000_000);
        // Flex has no cache-read price: the standard one stands in, and the charge says so.
        // 8,000 × 1.25e-6 + 2,000 × 2.5e-7 + 1,000 × 7.5e-6 = 0.01 + 0.0005 + 0.0075
        let flex = at(ServiceTier::Flex);
        assert_eq!(flex.nanos().unwrap().nanos(), 18_000_000);
        assert_eq!(flex.notes, vec!["service_tier flex: the model has no flex price for cached_input_tokens; standard prices charged"]);
        assert!(flex.unpriced.is_empty());
        // Past 272k input tokens, batch uses the tier's batch prices.
        let big = Usage { input_tokens: 300_000, output_tokens: 1_000, ..Usage::default() };
        let c = charged(&gpt54(), big, Conditions { service_tier: ServiceTier::Batch, ..Conditions::default() });
        // 300,000 × 2.5e-6 + 1,000 × 1.125e-5
        assert_eq!(c.nanos().unwrap().nanos(), 761_250_000);
        // Priority has no tier price: the tier's standard prices, noted.
        let c = charged(&gpt54(), big, Conditions { service_tier: ServiceTier::Priority, ..Conditions::default() });
        assert_eq!(c.nanos().unwrap().nanos(), 1_500_000_000 + 22_500_000);
        assert_eq!(c.notes.len(), 1);
        assert!(c.notes[0].contains("input_tokens, output_tokens"), "{:?}", c.notes);
    }

    #[test]
    fn service_tiers_parse_and_refuse_unknown_names() {
        assert_eq!(ServiceTier::parse("batch").unwrap(), ServiceTier::Batch);
        assert_eq!(ServiceTier::parse("flex").unwrap().as_str(), "flex");
        assert_eq!(ServiceTier::parse("scale").unwrap_err().field(), Some("service_tier"));
        assert_eq!(ServiceTier::parse("Batch").unwrap_err().field(), Some("service_tier"));
    }

    /// Family: characters (`input_cost_per_character`).
    #[test]
    fn tts_characters_are_priced_per_character() {
        let m = with_extra(ModelPrice::new("tts-1", "openai"), &[("input_cost_per_character", "1.5e-05")]);
        let c = charged(&m, Usage { characters: 1_234, requests: 1, ..Usage::default() }, Conditions::default());
        assert_eq!((c.nanos().unwrap().nanos(), c.unpriced.len()), (18_510_000, 0));
        assert_eq!(unpriced_units(&gpt4o(), &Usage { characters: 5, ..Usage::default() }), vec!["characters"]);
    }

    /// Family: seconds (`output_cost_per_video_per_second`, `output_cost_per_second_<resolution>`,
    /// `input_cost_per_audio_per_second`, `cost_per_second`).
    #[test]
    fn video_seconds_are_priced_per_second_and_by_resolution_when_given() {
        let sora = with_extra(ModelPrice::new("sora-2", "openai"), &[("output_cost_per_video_per_second", "0.1")]);
        let eight = Usage { duration_ms: 8_000, requests: 1, ..Usage::default() };
        assert_eq!(charged(&sora, eight, Conditions::default()).nanos().unwrap().to_usd_string(), "0.800000000");
        // A resolution on a model without per-resolution prices changes nothing.
        let c = charged(&sora, eight, Conditions { resolution: Some("1080p"), ..Conditions::default() });
        assert_eq!(c.nanos().unwrap().nanos(), 800_000_000);

        let mut veo = ModelPrice::new("vertex_ai/veo-3.1", "vertex_ai");
        veo.output_per_second = p("0.4");
        let veo = with_extra(veo, &[("output_cost_per_second_720p", "0.2"), ("output_cost_per_second_1080p", "0.4"), ("output_cost_per_second_4k", "0.6")]);
        let res = |r| charged(&veo, eight, Conditions { resolution: r, ..Conditions::default() }).nanos().unwrap().nanos();
        assert_eq!(res(Some("720p")), 1_600_000_000);
        assert_eq!(res(Some("4K")), 4_800_000_000, "matched without regard to case");
        assert_eq!(res(None), 3_200_000_000, "the plain per-second price");
        let err = charge(&veo, &eight, &Conditions { resolution: Some("8k"), ..Conditions::default() }).unwrap_err();
        assert_eq!(err.field(), Some("resolution"));
        assert!(err.to_string().contains("1080p"), "{err}");

        let cost_per_second = with_extra(ModelPrice::new("runwayml/gen4_turbo", "runwayml"), &[("cost_per_second", "0.05")]);
        assert_eq!(charged(&cost_per_second, eight, Conditions::default()).nanos().unwrap().nanos(), 400_000_000);
        let gemini_audio = with_extra(ModelPrice::new("gemini-1.5-pro", "vertex_ai"), &[("input_cost_per_audio_per_second", "0.00003125")]);
        assert_eq!(charged(&gemini_audio, eight, Conditions::default()).nanos().unwrap().nanos(), 250_000);
        // Seconds on a token-only model are named, never a silent zero.
        assert_eq!(charged(&gpt4o(), eight, Conditions::default()).unpriced, vec!["seconds"]);
    }

    #[test]
    fn the_prices_shown_beside_a_model_are_the_ones_charged() {
        let sora = with_extra(ModelPrice::new("sora-2", "openai"), &[("output_cost_per_video_per_second", "0.1")]);
        assert_eq!(sora.charged_per_second(), Some(dec("0.1")));
        assert_eq!(sora.per_second(), None, "the plain per-second fields do not know video");
        assert_eq!(gpt4o().charged_per_second(), None);
        let mut dalle = ModelPrice::new("aiml/dall-e-3", "aiml");
        dalle.mode = Some(super::super::Mode::ImageGeneration);
        dalle.output_per_image = p("0.052");
        assert_eq!(dalle.charged_per_image(), Some(dec("0.052")));
    }

    #[test]
    fn images_billed_as_tokens_are_charged_through_their_tokens() {
        // gpt-4o bills a vision input's images as prompt tokens: the count is not a unit of its own.
        let vision = Usage { input_tokens: 1_000, input_images: 2, ..Usage::default() };
        let c = charged(&gpt4o(), vision, Conditions::default());
        assert_eq!((c.nanos().unwrap().nanos(), c.unpriced.len()), (2_500_000, 0));
        // Without prompt tokens the images are priced by nothing.
        assert_eq!(unpriced_units(&gpt4o(), &Usage { input_images: 2, ..Usage::default() }), vec!["images"]);
        // gpt-image-1 bills generated images as image tokens.
        let mut m = ModelPrice::new("gpt-image-1", "openai");
        m.mode = Some(super::super::Mode::ImageGeneration);
        let m = with_extra(m, &[("output_cost_per_image_token", "4e-05")]);
        let made = Usage { output_tokens: 4_160, image_output_tokens: 4_160, output_images: 1, ..Usage::default() };
        let c = charged(&m, made, Conditions::default());
        assert_eq!((c.nanos().unwrap().nanos(), c.unpriced.len()), (166_400_000, 0));
        assert_eq!(unpriced_units(&m, &Usage { output_images: 1, ..Usage::default() }), vec!["images"]);
    }

    /// Family: images by size (`output_cost_per_image_<size>`) and per pixel (`*_cost_per_pixel`).
    #[test]
    fn images_are_priced_by_size_when_the_model_prices_sizes_apart() {
        let mut nano = ModelPrice::new("fal_ai/fal-ai/nano-banana-2", "fal_ai");
        nano.mode = Some(super::super::Mode::ImageGeneration);
        nano.output_per_image = p("0.08");
        let nano = with_extra(nano, &[("output_cost_per_image_1K", "0.08"), ("output_cost_per_image_2K", "0.12"), ("output_cost_per_image_4K", "0.16")]);
        let two = Usage { output_images: 2, ..Usage::default() };
        let size = |s| charged(&nano, two, Conditions { size: s, ..Conditions::default() }).nanos().unwrap().nanos();
        assert_eq!(size(Some("4K")), 320_000_000);
        assert_eq!(size(Some("2k")), 240_000_000);
        assert_eq!(size(None), 160_000_000);
        assert_eq!(charge(&nano, &two, &Conditions { size: Some("8K"), ..Conditions::default() }).unwrap_err().field(), Some("size"));

        // Azure's hd/1024-x-1792/dall-e-3 entry prices input pixels: an image of that size is its pixels.
        let mut dalle = ModelPrice::new("azure/hd/1024-x-1792/dall-e-3", "azure");
        dalle.mode = Some(super::super::Mode::ImageGeneration);
        let dalle = with_extra(dalle, &[("input_cost_per_pixel", "6.29e-08")]);
        let one = Usage { output_images: 1, ..Usage::default() };
        let c = charged(&dalle, one, Conditions { size: Some("1024x1792"), ..Conditions::default() });
        // 1,835,008 × 6.29e-8 = 0.1154220032
        assert_eq!(c.nanos().unwrap().nanos(), 115_422_003);
        assert!(c.unpriced.is_empty());
        // Pixels given directly.
        let c = charged(&dalle, Usage { pixels: 1_000_000, ..Usage::default() }, Conditions::default());
        assert_eq!(c.nanos().unwrap().nanos(), 62_900_000);
        // Without a size the image cannot be turned into pixels: named.
        assert_eq!(charged(&dalle, one, Conditions::default()).unpriced, vec!["images"]);
        assert_eq!(pixels_of_size("1024-x-1024"), Some(1_048_576));
        assert_eq!(pixels_of_size("large"), None);
    }

    /// Family: queries (`input_cost_per_query`, `search_context_cost_per_query.*`).
    #[test]
    fn queries_are_priced_per_query_or_by_search_context_size() {
        let mut search = ModelPrice::new("perplexity/search", "perplexity");
        search.per_query = p("0.005");
        assert_eq!(charged(&search, Usage { queries: 3, requests: 1, ..Usage::default() }, Conditions::default()).nanos().unwrap().nanos(), 15_000_000);
        // Without `queries`, a call to a per-query API is one query per request (as before).
        assert_eq!(charged(&search, Usage { requests: 2, ..Usage::default() }, Conditions::default()).nanos().unwrap().nanos(), 10_000_000);

        let web = with_extra(
            gpt4o(),
            &[
                ("search_context_cost_per_query.search_context_size_low", "0.03"),
                ("search_context_cost_per_query.search_context_size_medium", "0.035"),
                ("search_context_cost_per_query.search_context_size_high", "0.05"),
            ],
        );
        let u = Usage { input_tokens: 1_000, queries: 2, requests: 1, ..Usage::default() };
        let at = |size| charged(&web, u, Conditions { size, ..Conditions::default() }).nanos().unwrap().nanos();
        assert_eq!(at(None), 2_500_000 + 70_000_000, "medium by default");
        assert_eq!(at(Some("high")), 2_500_000 + 100_000_000);
        assert_eq!(charge(&web, &u, &Conditions { size: Some("huge"), ..Conditions::default() }).unwrap_err().field(), Some("size"));
        assert_eq!(unpriced_units(&gpt4o(), &Usage { queries: 1, ..Usage::default() }), vec!["queries"]);
    }

    /// Family: pages (`ocr_cost_per_page`, with its batch variant).
    #[test]
    fn ocr_pages_are_priced_per_page() {
        let ocr = with_extra(ModelPrice::new("mistral/mistral-ocr-latest", "mistral"), &[("ocr_cost_per_page", "0.004"), ("ocr_cost_per_page_batches", "0.002")]);
        let u = Usage { pages: 25, requests: 1, ..Usage::default() };
        assert_eq!(charged(&ocr, u, Conditions::default()).nanos().unwrap().nanos(), 100_000_000);
        let batch = charged(&ocr, u, Conditions { service_tier: ServiceTier::Batch, ..Conditions::default() });
        assert_eq!(batch.nanos().unwrap().nanos(), 50_000_000);
        assert_eq!(unpriced_units(&gpt4o(), &Usage { pages: 1, ..Usage::default() }), vec!["pages"]);
    }

    /// Family: off-peak (`off_peak_pricing`), by the event's time.
    #[test]
    fn off_peak_prices_apply_inside_the_windows_only() {
        let mut m = ModelPrice::new("deepseek-v4-pro", "deepseek");
        m.input = p("1.32e-06");
        m.output = p("3.96e-06");
        m.cache_read = p("4.4e-08");
        m.off_peak_pricing = Some(
            r#"{"cache_read_input_token_cost": 2.2e-08, "input_cost_per_token": 6.6e-07, "output_cost_per_token": 1.98e-06,
               "windows": [{"hours_utc": ["00:00-01:00", "04:00-06:00", "10:00-00:00"], "weekdays": [1, 2, 3, 4, 5]},
                           {"hours_utc": "00:00-00:00", "weekdays": [6, 7]}]}"#
                .into(),
        );
        let u = Usage { input_tokens: 1_000_000, cached_input_tokens: 500_000, output_tokens: 100_000, ..Usage::default() };
        let at = |ms| charged(&m, u, Conditions { at_ms: Some(ms), ..Conditions::default() });
        let monday = 1_796_601_600_000i64; // 2026-12-07T00:00:00Z
        let hour = 3_600_000;
        // Peak: 500k × 1.32e-6 + 500k × 4.4e-8 + 100k × 3.96e-6 = 0.66 + 0.022 + 0.396
        let peak = 1_078_000_000;
        assert_eq!(at(monday + 2 * hour).nanos().unwrap().nanos(), peak);
        // A Saturday: exactly half.
        let saturday = at(monday + 5 * 24 * hour + 14 * hour);
        assert_eq!(saturday.nanos().unwrap().nanos(), peak / 2);
        assert_eq!(saturday.notes, vec!["off-peak prices (the call was made in an off-peak window)"]);
        // The edges of Monday's 04:00-06:00 window.
        assert_eq!(at(monday + 4 * hour - 1).nanos().unwrap().nanos(), peak);
        assert_eq!(at(monday + 4 * hour).nanos().unwrap().nanos(), peak / 2);
        assert_eq!(at(monday + 6 * hour - 1).nanos().unwrap().nanos(), peak / 2);
        assert_eq!(at(monday + 6 * hour).nanos().unwrap().nanos(), peak);
        // Without a time (a price estimate), standard prices.
        assert_eq!(cost(&m, &u).unwrap().nanos(), peak);
    }

    /// Reference prices read straight from the shipped map's JSON text,
    /// without the parser or the rule under test: each number's text turned
    /// into a `Decimal` by rust_decimal itself.
    mod reference {
        use std::collections::BTreeMap;

        use rust_decimal::prelude::*;
        use serde_json::value::RawValue;

        pub type Entry<'a> = BTreeMap<String, &'a RawValue>;

        pub fn number(raw: &RawValue) -> Option<Decimal> {
            let t = raw.get().trim();
            if t == "null" || t.starts_with('"') || t.starts_with('{') || t.starts_with('[') || t == "true" || t == "false" {
                return None;
            }
            Decimal::from_str_exact(t).or_else(|_| Decimal::from_scientific(t)).ok()
        }

        pub fn get(e: &Entry<'_>, key: &str) -> Option<Decimal> {
            e.get(key).and_then(|r| number(r))
        }

        const KINDS: [&str; 5] = [
            "input_cost_per_token",
            "output_cost_per_token",
            "cache_read_input_token_cost",
            "cache_creation_input_token_cost",
            "output_cost_per_reasoning_token",
        ];

        /// Thresholds of `<kind>_above_<N>[k]_tokens` keys, ascending, with their spelling.
        pub fn thresholds(e: &Entry<'_>) -> Vec<(u64, String)> {
            let mut out: Vec<(u64, String)> = vec![];
            for key in e.keys() {
                for kind in KINDS {
                    let Some(rest) = key.strip_prefix(kind).and_then(|r| r.strip_prefix("_above_")).and_then(|r| r.strip_suffix("_tokens")) else {
                        continue;
                    };
                    let n = match rest.strip_suffix('k') {
                        Some(d) => d.parse::<u64>().ok().map(|v| v * 1000),
                        None => rest.parse::<u64>().ok(),
                    };
                    if let Some(n) = n {
                        if !out.iter().any(|(t, _)| *t == n) {
                            out.push((n, rest.to_string()));
                        }
                    }
                }
            }
            out.sort();
            out
        }

        /// The token ranges of a `tiered_pricing` list: (start, prices by kind);
        /// `None` when the list is not one of token ranges only.
        pub fn ranges(e: &Entry<'_>) -> Option<Vec<(u64, BTreeMap<String, Decimal>)>> {
            let list: Vec<BTreeMap<String, &RawValue>> = serde_json::from_str(e.get("tiered_pricing")?.get()).ok()?;
            let mut out = vec![];
            for item in list {
                let range: Vec<f64> = serde_json::from_str(item.get("range")?.get()).ok()?;
                let mut prices = BTreeMap::new();
                for (k, v) in &item {
                    if k == "range" {
                        continue;
                    }
                    if !KINDS.contains(&k.as_str()) {
                        return None;
                    }
                    prices.insert(k.clone(), number(v)?);
                }
                out.push((*range.first()? as u64, prices));
            }
            Some(out)
        }

        /// What a call costs at the entry's standard prices, exactly: the
        /// tier passed by the input (the highest `_above_` threshold below
        /// it, or the `tiered_pricing` range holding it) prices every token;
        /// cache prices fall back to the input price in force, reasoning to
        /// the output price in force.
        pub fn cost(e: &Entry<'_>, input: u64, cached: u64, written: u64, output: u64, reasoning: u64) -> Decimal {
            let mut rate: BTreeMap<&str, Option<Decimal>> = KINDS.iter().map(|k| (*k, get(e, k))).collect();
            if let Some(ranges) = ranges(e) {
                // The range at 0 fills what the entry leaves unset.
                if let Some((_, base)) = ranges.iter().find(|(start, _)| *start == 0) {
                    for k in KINDS {
                        if rate[k].is_none() {
                            rate.insert(k, base.get(k).copied());
                        }
                    }
                }
                if let Some((_, r)) = ranges.iter().filter(|(start, _)| *start > 0 && input > *start).max_by_key(|(s, _)| *s) {
                    let own_input = r.get("input_cost_per_token").copied();
                    let own_output = r.get("output_cost_per_token").copied();
                    for k in KINDS {
                        let own = r.get(k).copied().or(match k {
                            "cache_read_input_token_cost" | "cache_creation_input_token_cost" => own_input,
                            "output_cost_per_reasoning_token" => own_output,
                            _ => None,
                        });
                        if own.is_some() {
                            rate.insert(k, own);
                        }
                    }
                }
            }
            if let Some((_, label)) = thresholds(e).into_iter().filter(|(t, _)| input > *t).last() {
                for k in KINDS {
                    if let Some(v) = get(e, &format!("{k}_above_{label}_tokens")) {
                        rate.insert(k, Some(v));
                    }
                }
            }
            let input_rate = rate["input_cost_per_token"].unwrap_or_default();
            let output_rate = rate["output_cost_per_token"].unwrap_or_default();
            let read = rate["cache_read_input_token_cost"].unwrap_or(input_rate);
            let write = rate["cache_creation_input_token_cost"].unwrap_or(input_rate);
            let think = rate["output_cost_per_reasoning_token"].unwrap_or(output_rate);
            Decimal::from(input - cached - written) * input_rate
                + Decimal::from(cached) * read
                + Decimal::from(written) * write
                + Decimal::from(output - reasoning) * output_rate
                + Decimal::from(reasoning) * think
        }

        /// Rounded to nano-USD, half to even.
        pub fn nanos(usd: Decimal) -> i64 {
            (usd * Decimal::from(1_000_000_000)).round_dp_with_strategy(0, RoundingStrategy::MidpointNearestEven).to_i64().unwrap()
        }
    }

    #[test]
    fn every_model_with_token_prices_costs_what_the_reference_says() {
        let book = super::super::PriceBook::default_catalog().unwrap();
        let raw: std::collections::BTreeMap<String, &serde_json::value::RawValue> =
            serde_json::from_str(super::super::DEFAULT_CATALOG_JSON).unwrap();
        let mut checked = 0;
        let mut tiered = 0;
        for (name, entry) in &raw {
            let Ok(e) = serde_json::from_str::<reference::Entry<'_>>(entry.get()) else { continue };
            if reference::get(&e, "input_cost_per_token").is_none() && reference::get(&e, "output_cost_per_token").is_none() {
                continue;
            }
            let Some(model) = book.get(name) else { continue };
            // A small call, then calls past the highest threshold the entry has (else 300k).
            let top = reference::thresholds(&e)
                .last()
                .map(|(t, _)| *t)
                .into_iter()
                .chain(reference::ranges(&e).unwrap_or_default().iter().map(|(s, _)| *s))
                .max();
            if top.is_some_and(|t| t > 0) {
                tiered += 1;
            }
            let big = top.unwrap_or(300_000) + 12_345;
            for (input, cached, written, output, reasoning) in [(1_000, 300, 200, 700, 100), (big, 4_000, 1_500, 3_000, 1_000), (big, 0, 0, 1, 0)] {
                let u = Usage {
                    input_tokens: input,
                    cached_input_tokens: cached,
                    cache_creation_tokens: written,
                    output_tokens: output,
                    reasoning_tokens: reasoning,
                    // Tokens only: a per-request or per-query price (rerank) is another family.
                    requests: 0,
                    ..Usage::default()
                };
                let got = charge(model, &u, &Conditions::default()).unwrap().nanos().unwrap().nanos();
                let want = reference::nanos(reference::cost(&e, input, cached, written, output, reasoning));
                assert_eq!(got, want, "{name} at {input} input tokens");
            }
            checked += 1;
        }
        eprintln!("{checked} models with token prices priced as the reference says, {tiered} of them with tiers");
        assert!(checked > 3_500, "checked {checked} models");
        assert!(tiered > 250, "{tiered} models with tiers");
    }

    /// One event per non-token key family on a shipped model that has it,
    /// with the expected cost worked out by hand from the map's numbers.
    #[test]
    fn the_shipped_map_prices_each_non_token_family() {
        let book = super::super::PriceBook::default_catalog().unwrap();
        let at = |name: &str, u: Usage, c: Conditions<'_>| {
            let c = charge(book.get(name).unwrap_or_else(|| panic!("{name} is shipped")), &u, &c).unwrap();
            assert!(c.unpriced.is_empty(), "{name}: {:?}", c.unpriced);
            c.nanos().unwrap().to_usd_string()
        };
        let d = Conditions::default;
        // Video seconds: sora-2, $0.10 a second.
        assert_eq!(at("sora-2", Usage { duration_ms: 8_000, requests: 1, ..Usage::default() }, d()), "0.800000000");
        // TTS characters: tts-1, $15 per 1M characters.
        assert_eq!(at("tts-1", Usage { characters: 1_000, requests: 1, ..Usage::default() }, d()), "0.015000000");
        // Audio tokens: gpt-realtime, text in 4e-6, audio in 3.2e-5, text out 1.6e-5, audio out 6.4e-5.
        let u = Usage { input_tokens: 2_000, audio_input_tokens: 1_500, output_tokens: 1_000, audio_output_tokens: 900, ..Usage::default() };
        // 500 × 4e-6 + 1,500 × 3.2e-5 + 100 × 1.6e-5 + 900 × 6.4e-5 = 0.002 + 0.048 + 0.0016 + 0.0576
        assert_eq!(at("gpt-realtime", u, d()), "0.109200000");
        // Images: aiml/dall-e-3, $0.052 an image; gemini-2.5-flash-image's output image tokens at 3e-5.
        assert_eq!(at("aiml/dall-e-3", Usage { output_images: 2, ..Usage::default() }, d()), "0.104000000");
        let u = Usage { input_tokens: 100, output_tokens: 1_290, image_output_tokens: 1_290, ..Usage::default() };
        assert_eq!(at("gemini/gemini-2.5-flash-image", u, d()), "0.038730000"); // 100 × 3e-7 + 1,290 × 3e-5
        // Queries: perplexity/search at $0.005; gpt-4o-search-preview's search context at $0.025.
        assert_eq!(at("perplexity/search", Usage { queries: 4, requests: 1, ..Usage::default() }, d()), "0.020000000");
        assert_eq!(at("gpt-4o-search-preview", Usage { queries: 1, requests: 1, ..Usage::default() }, d()), "0.025000000");
        // Pages: mistral-ocr-latest, $0.004 a page, $0.002 in batch.
        assert_eq!(at("mistral/mistral-ocr-latest", Usage { pages: 10, ..Usage::default() }, d()), "0.040000000");
        let batch = Conditions { service_tier: ServiceTier::Batch, ..Conditions::default() };
        assert_eq!(at("mistral/mistral-ocr-latest", Usage { pages: 10, ..Usage::default() }, batch), "0.020000000");
        // 1-hour cache writes: claude-sonnet-4-5, $6 per 1M.
        let u = Usage { input_tokens: 1_000_000, cache_creation_tokens: 1_000_000, cache_creation_1h_tokens: 1_000_000, ..Usage::default() };
        assert_eq!(at("claude-sonnet-4-5", u, d()), "6.000000000");
        // Batch tokens: gpt-4o at half price.
        let u = Usage { input_tokens: 1_000_000, output_tokens: 1_000_000, ..Usage::default() };
        assert_eq!(at("gpt-4o", u, batch), "6.250000000");
        // Off-peak: deepseek-v4-pro on a Saturday is half the peak price.
        let saturday = Conditions { at_ms: Some(1_797_076_800_000), ..Conditions::default() }; // 2026-12-12T12:00:00Z
        assert_eq!(at("deepseek-v4-pro", u, d()), "5.280000000");
        assert_eq!(at("deepseek-v4-pro", u, saturday), "2.640000000");
    }

    /// A model that prices every dimension, without tiers (a tier makes the
    /// price depend on the call's size, so a split call is not additive).
    fn everything() -> ModelPrice {
        let mut m = gpt4o();
        m.cache_write = p("3.75e-06");
        m.reasoning = p("1.7e-05");
        m.input_per_image = p("0.0011");
        m.output_per_image = p("0.134");
        m.output_per_second = p("0.1");
        m.per_request = p("0.005");
        m.per_query = p("0.0025");
        with_extra(
            m,
            &[
                ("cache_creation_input_token_cost_above_1hr", "6e-06"),
                ("input_cost_per_audio_token", "3.2e-05"),
                ("output_cost_per_audio_token", "6.4e-05"),
                ("input_cost_per_image_token", "1e-05"),
                ("output_cost_per_image_token", "4e-05"),
                ("input_cost_per_character", "1.5e-05"),
                ("input_cost_per_pixel", "8.39233e-08"),
                ("ocr_cost_per_page", "0.004"),
            ],
        )
    }

    /// The leaves of a usage: every count that is not a sum of others.
    fn from_leaves(l: &[u64; 17]) -> Usage {
        Usage {
            cached_input_tokens: l[1],
            cache_creation_tokens: l[2] + l[3],
            cache_creation_1h_tokens: l[3],
            audio_input_tokens: l[4],
            image_input_tokens: l[5],
            input_tokens: l[0] + l[1] + l[2] + l[3] + l[4] + l[5],
            reasoning_tokens: l[7],
            audio_output_tokens: l[8],
            image_output_tokens: l[9],
            output_tokens: l[6] + l[7] + l[8] + l[9],
            input_images: l[10],
            output_images: l[11],
            duration_ms: l[12],
            characters: l[13],
            pixels: l[14],
            queries: l[15],
            pages: l[16],
            requests: 1,
        }
    }

    proptest! {
        /// Per dimension: splitting one count of an event into two events
        /// (the other counts in the first) moves the total by at most one
        /// nano-USD, since each event rounds once, by at most half.
        #[test]
        fn every_dimension_is_additive_over_splits(
            leaves in proptest::array::uniform17(0u64..3_000_000),
            which in 0usize..17,
            cut in 0u64..=100,
            tier in 0usize..4,
        ) {
            let m = everything();
            let c = Conditions {
                service_tier: [ServiceTier::Default, ServiceTier::Batch, ServiceTier::Priority, ServiceTier::Flex][tier],
                ..Conditions::default()
            };
            let mut a = leaves;
            a[which] = leaves[which] * cut / 100;
            let mut b = [0u64; 17];
            b[which] = leaves[which] - a[which];
            let (whole, a, mut b) = (from_leaves(&leaves), from_leaves(&a), from_leaves(&b));
            b.requests = 0;
            let n = |u: &Usage| charge(&m, u, &c).unwrap().nanos().unwrap().nanos();
            let split = n(&a) + n(&b);
            let joined = n(&whole);
            prop_assert!((split - joined).abs() <= 1, "dimension {which}: split {split} vs joined {joined}");
        }
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
