//! Pricing: what one model charges per unit, and what one usage event costs.
//!
//! Pure and synchronous (no storage, no clock), so it compiles for wasm too and
//! the UI can show the same numbers the meter charges.
//!
//! - [`money`]: [`UnitPrice`] (exact decimal USD per unit) and [`NanoUsd`]
//!   (integer 10⁻⁹ USD, what an event costs).
//! - [`PriceBook::parse_litellm`]: reads LiteLLM's model price map
//!   (`model_prices_and_context_window.json`) without any `f64` step.
//! - [`cost`]: the charging rule for one event's [`Usage`].
//!
//! A snapshot of LiteLLM's map (MIT-licensed, ~4,500 models) ships as
//! [`DEFAULT_CATALOG_JSON`], so a fresh install can price usage offline.

#[cfg(feature = "ssr")]
pub mod admin;
pub mod alias;
#[cfg(feature = "ssr")]
pub mod cache;
mod cost;
pub mod edit;
pub mod imports;
#[cfg(feature = "ssr")]
pub mod estimate;
mod litellm;
pub mod money;
pub mod off_peak;
#[cfg(feature = "ssr")]
pub mod store;

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

pub use cost::{charge, cost, cost_exact, unpriced_units, Charge, Conditions, Rates, ServiceTier, Usage};
pub use edit::{PriceEdit, PriceFields, PriceKind};
pub use money::{NanoUsd, UnitPrice};

use crate::Error;

/// LiteLLM's model price map as shipped with this release: the default price
/// book. Parse it with [`PriceBook::default_catalog`].
pub const DEFAULT_CATALOG_JSON: &str = include_str!("litellm_model_prices.json");

/// What kind of API a model serves, from LiteLLM's `mode`. Unknown modes are
/// kept verbatim in [`Mode::Other`] so a newer price map still loads.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum Mode {
    Chat,
    Completion,
    Responses,
    Embedding,
    ImageGeneration,
    ImageEdit,
    AudioTranscription,
    AudioSpeech,
    VideoGeneration,
    Realtime,
    Rerank,
    Moderation,
    Search,
    Ocr,
    Other(String),
}

impl Mode {
    const NAMED: [(Mode, &'static str); 14] = [
        (Mode::Chat, "chat"),
        (Mode::Completion, "completion"),
        (Mode::Responses, "responses"),
        (Mode::Embedding, "embedding"),
        (Mode::ImageGeneration, "image_generation"),
        (Mode::ImageEdit, "image_edit"),
        (Mode::AudioTranscription, "audio_transcription"),
        (Mode::AudioSpeech, "audio_speech"),
        (Mode::VideoGeneration, "video_generation"),
        (Mode::Realtime, "realtime"),
        (Mode::Rerank, "rerank"),
        (Mode::Moderation, "moderation"),
        (Mode::Search, "search"),
        (Mode::Ocr, "ocr"),
    ];

    /// Reads LiteLLM's spelling; never fails (see [`Mode::Other`]).
    pub fn parse(raw: &str) -> Mode {
        Self::NAMED
            .iter()
            .find(|(_, name)| *name == raw)
            .map(|(mode, _)| mode.clone())
            .unwrap_or_else(|| Mode::Other(raw.to_string()))
    }

    /// The modes this release knows, in LiteLLM's spelling (for forms).
    pub fn known() -> impl Iterator<Item = &'static str> {
        Self::NAMED.iter().map(|(_, name)| *name)
    }

    /// LiteLLM's spelling.
    pub fn as_str(&self) -> &str {
        match self {
            Mode::Other(raw) => raw,
            known => Self::NAMED.iter().find(|(mode, _)| mode == known).map(|(_, name)| *name).unwrap_or(""),
        }
    }
}

impl From<String> for Mode {
    fn from(raw: String) -> Mode {
        Mode::parse(&raw)
    }
}

impl From<Mode> for String {
    fn from(mode: Mode) -> String {
        mode.as_str().to_string()
    }
}

/// Token prices that replace the base ones when a request's input is larger
/// than `threshold_tokens` (LiteLLM's `*_above_200k_tokens` fields, and the
/// token ranges of its `tiered_pricing` lists). A kind the tier leaves unset
/// is charged at the model's base price for that kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tier {
    /// The tier applies when input tokens are strictly greater than this.
    pub threshold_tokens: u64,
    pub input: Option<UnitPrice>,
    pub output: Option<UnitPrice>,
    pub cache_read: Option<UnitPrice>,
    pub cache_write: Option<UnitPrice>,
    /// Set only by `tiered_pricing` lists (LiteLLM has no
    /// `output_cost_per_reasoning_token_above_*` field today).
    pub reasoning: Option<UnitPrice>,
}

impl Tier {
    /// A tier with no prices set yet.
    pub fn new(threshold_tokens: u64) -> Self {
        Tier { threshold_tokens, input: None, output: None, cache_read: None, cache_write: None, reasoning: None }
    }
}

/// Everything a price map says about one model's prices. `None` means the
/// map does not price that unit for this model (see [`cost`] for fallbacks).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelPrice {
    /// The key in the price map, e.g. `gpt-4o` or `bedrock/us.anthropic.claude-…`.
    pub name: String,
    /// LiteLLM's `litellm_provider`, e.g. `openai`.
    pub provider: String,
    pub mode: Option<Mode>,
    /// Per prompt token not read from or written to the cache.
    pub input: Option<UnitPrice>,
    /// Per completion token that is not a reasoning token.
    pub output: Option<UnitPrice>,
    /// Per prompt token read from the cache (`cache_read_input_token_cost`).
    pub cache_read: Option<UnitPrice>,
    /// Per prompt token written to the cache (`cache_creation_input_token_cost`;
    /// Anthropic's 5-minute cache; the 1-hour price is in `extra`).
    pub cache_write: Option<UnitPrice>,
    /// Per reasoning token (`output_cost_per_reasoning_token`).
    pub reasoning: Option<UnitPrice>,
    pub input_per_image: Option<UnitPrice>,
    pub output_per_image: Option<UnitPrice>,
    pub input_per_second: Option<UnitPrice>,
    pub output_per_second: Option<UnitPrice>,
    /// Per call (`input_cost_per_request`, e.g. Perplexity's online models).
    pub per_request: Option<UnitPrice>,
    /// Per query (`input_cost_per_query`: rerank and search APIs).
    pub per_query: Option<UnitPrice>,
    /// Input-size tiers, ascending by threshold.
    pub tiers: Vec<Tier>,
    /// Every boolean field of the entry (`supports_vision`, `supports_prompt_caching`,
    /// `thinking_always_on`, …) under its own name.
    pub capabilities: BTreeMap<String, bool>,
    pub max_input_tokens: Option<u64>,
    pub max_output_tokens: Option<u64>,
    /// Every other price the map gives, by its LiteLLM name, so nothing is
    /// lost: batch, flex and priority variants, audio/video/character prices,
    /// 1-hour cache writes, regional multipliers. Prices nested in an object
    /// are flattened to `parent.child` (`search_context_cost_per_query.search_context_size_low`).
    pub extra: BTreeMap<String, Decimal>,
    /// DeepSeek's time-of-day discount, kept as the raw JSON text; applied by
    /// [`charge`] from the event's timestamp (see [`off_peak`]).
    pub off_peak_pricing: Option<String>,
    /// LiteLLM's `tiered_pricing` list, kept as the raw JSON text. Lists of
    /// token ranges are also turned into base prices and [`Tier`]s; other
    /// lists (per-result search pricing) are only kept here.
    pub tiered_pricing: Option<String>,
}

impl ModelPrice {
    /// A model with no prices: the start of a custom price.
    pub fn new(name: impl Into<String>, provider: impl Into<String>) -> Self {
        ModelPrice {
            name: name.into(),
            provider: provider.into(),
            mode: None,
            input: None,
            output: None,
            cache_read: None,
            cache_write: None,
            reasoning: None,
            input_per_image: None,
            output_per_image: None,
            input_per_second: None,
            output_per_second: None,
            per_request: None,
            per_query: None,
            tiers: Vec::new(),
            capabilities: BTreeMap::new(),
            max_input_tokens: None,
            max_output_tokens: None,
            extra: BTreeMap::new(),
            off_peak_pricing: None,
            tiered_pricing: None,
        }
    }

    /// Whether an event's images are the model's output (image generation
    /// and edits) rather than its input (vision): the meter charges them at
    /// the output or the input per-image price accordingly.
    pub fn images_are_output(&self) -> bool {
        matches!(self.mode, Some(Mode::ImageGeneration | Mode::ImageEdit))
    }

    /// The per-image price an event's images are charged at (see
    /// [`ModelPrice::images_are_output`]).
    pub fn per_image(&self) -> Option<UnitPrice> {
        if self.images_are_output() { self.output_per_image } else { self.input_per_image }
    }

    /// Whether the map says the model supports a capability, by its name with
    /// or without the `supports_` prefix (`"vision"`, `"supports_vision"`).
    /// Unknown means no.
    pub fn supports(&self, capability: &str) -> bool {
        let key = if capability.starts_with("supports_") {
            capability.to_string()
        } else {
            format!("supports_{capability}")
        };
        self.capabilities.get(&key).copied().unwrap_or(false)
    }
}

/// The prices of many models, by name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PriceBook {
    models: BTreeMap<String, ModelPrice>,
}

impl PriceBook {
    /// Reads LiteLLM's model price map. Skips the `sample_spec` documentation
    /// entry, entries that are not objects, and entries without a
    /// `litellm_provider` (configuration such as `fallback_generalizations`,
    /// not models). A price that is not a non-negative number fails the whole
    /// read, naming the model and field: a half-read price book would
    /// silently charge zero.
    pub fn parse_litellm(json: &str) -> Result<PriceBook, Error> {
        litellm::parse(json)
    }

    /// The price book shipped with this release ([`DEFAULT_CATALOG_JSON`]).
    pub fn default_catalog() -> Result<PriceBook, Error> {
        Self::parse_litellm(DEFAULT_CATALOG_JSON)
    }

    /// The model's prices, by its exact name in the map.
    pub fn get(&self, model: &str) -> Option<&ModelPrice> {
        self.models.get(model)
    }

    /// Adds or replaces a model (a custom or negotiated price); returns the
    /// one it replaced.
    pub fn insert(&mut self, price: ModelPrice) -> Option<ModelPrice> {
        self.models.insert(price.name.clone(), price)
    }

    pub fn len(&self) -> usize {
        self.models.len()
    }

    pub fn is_empty(&self) -> bool {
        self.models.is_empty()
    }

    /// All models, ordered by name.
    pub fn iter(&self) -> impl Iterator<Item = &ModelPrice> {
        self.models.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_round_trips_known_and_unknown_names() {
        assert_eq!(Mode::parse("image_generation"), Mode::ImageGeneration);
        assert_eq!(Mode::ImageGeneration.as_str(), "image_generation");
        assert_eq!(Mode::parse("decisions"), Mode::Other("decisions".into()));
        assert_eq!(Mode::parse("decisions").as_str(), "decisions");
        let json = serde_json::to_string(&Mode::AudioSpeech).unwrap();
        assert_eq!(json, "\"audio_speech\"");
        assert_eq!(serde_json::from_str::<Mode>(&json).unwrap(), Mode::AudioSpeech);
    }

    #[test]
    fn supports_accepts_the_name_with_or_without_prefix() {
        let mut m = ModelPrice::new("m", "p");
        m.capabilities.insert("supports_vision".into(), true);
        m.capabilities.insert("supports_audio_input".into(), false);
        assert!(m.supports("vision"));
        assert!(m.supports("supports_vision"));
        assert!(!m.supports("audio_input"));
        assert!(!m.supports("reasoning"));
    }

    #[test]
    fn insert_replaces_a_model_by_name() {
        let mut book = PriceBook::default();
        assert!(book.is_empty());
        assert!(book.insert(ModelPrice::new("m", "p")).is_none());
        assert!(book.insert(ModelPrice::new("m", "q")).is_some());
        assert_eq!(book.len(), 1);
        assert_eq!(book.get("m").unwrap().provider, "q");
    }
}
