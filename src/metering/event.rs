//! One usage event as the ingest API receives it, decoded straight from its
//! JSON text into a typed form (no `Value` tree; this is the ingest hot path)
//! and then checked, so that a bad event is rejected with a message naming the
//! field while the rest of its batch is accepted.

use std::borrow::Cow;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::pricing::{Conditions, ServiceTier, Usage};
use crate::{Error, Result};

/// How far in the future a timestamp may be (clock skew allowance).
pub const MAX_FUTURE_MS: i64 = 5 * 60 * 1000;
/// Largest `metadata` object, serialized.
pub const MAX_METADATA_BYTES: usize = 4096;
/// Longest client idempotency key.
pub const MAX_ID_LEN: usize = 128;

/// Outcome of a call, as the client reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallStatus {
    Success,
    Error,
    RateLimited,
}

impl CallStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CallStatus::Success => "success",
            CallStatus::Error => "error",
            CallStatus::RateLimited => "rate_limited",
        }
    }

    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "success" => Ok(CallStatus::Success),
            "error" => Ok(CallStatus::Error),
            "rate_limited" => Ok(CallStatus::RateLimited),
            _ => Err(Error::invalid("status", "must be success, error or rate_limited")),
        }
    }
}

/// A validated event, before pricing. `images` is kept as sent; the model's
/// mode decides whether they are input or output images when priced.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// The client's idempotency key, or `None` to have one generated.
    pub id: Option<String>,
    pub timestamp_ms: i64,
    pub user_id: Option<String>,
    pub project_id: Option<String>,
    pub session_id: Option<String>,
    pub feature: Option<String>,
    pub provider: Option<String>,
    pub model: String,
    pub input_tokens: u64,
    pub cached_input_tokens: u64,
    pub cache_creation_tokens: u64,
    pub output_tokens: u64,
    pub reasoning_tokens: u64,
    pub images: u64,
    pub duration_ms: u64,
    pub requests: u64,
    /// The other priced dimensions and the choices that pick their prices.
    pub detail: Detail,
    pub latency_ms: Option<u64>,
    pub status: CallStatus,
    pub error: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The metadata object, serialized.
    pub metadata: Option<String>,
}

impl NewEvent {
    /// An empty successful call at time 0 to no model (a base for building
    /// events field by field).
    pub fn blank() -> Self {
        NewEvent {
            id: None,
            timestamp_ms: 0,
            user_id: None,
            project_id: None,
            session_id: None,
            feature: None,
            provider: None,
            model: String::new(),
            input_tokens: 0,
            cached_input_tokens: 0,
            cache_creation_tokens: 0,
            output_tokens: 0,
            reasoning_tokens: 0,
            images: 0,
            duration_ms: 0,
            requests: 1,
            detail: Detail::default(),
            latency_ms: None,
            status: CallStatus::Success,
            error: None,
            ip: None,
            user_agent: None,
            metadata: None,
        }
    }

    /// The usage to price, with images assigned by the model's mode.
    pub fn usage(&self, images_are_output: bool) -> Usage {
        let d = &self.detail;
        Usage {
            input_tokens: self.input_tokens,
            cached_input_tokens: self.cached_input_tokens,
            cache_creation_tokens: self.cache_creation_tokens,
            cache_creation_1h_tokens: d.cache_creation_1h_tokens,
            audio_input_tokens: d.audio_input_tokens,
            image_input_tokens: d.image_input_tokens,
            output_tokens: self.output_tokens,
            reasoning_tokens: self.reasoning_tokens,
            audio_output_tokens: d.audio_output_tokens,
            image_output_tokens: d.image_output_tokens,
            input_images: if images_are_output { 0 } else { self.images },
            output_images: if images_are_output { self.images } else { 0 },
            duration_ms: self.duration_ms,
            requests: self.requests,
            characters: d.characters,
            pixels: d.pixels,
            queries: d.queries,
            pages: d.pages,
        }
    }

    /// What besides the counts picks the event's prices: its time (off-peak
    /// windows), service tier, resolution, image size and quality.
    pub fn conditions(&self) -> Conditions<'_> {
        Conditions {
            at_ms: Some(self.timestamp_ms),
            service_tier: self.detail.service_tier,
            resolution: self.detail.resolution.as_deref(),
            size: self.detail.size.as_deref(),
            quality: self.detail.quality.as_deref(),
        }
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The priced dimensions of an event beyond tokens, images, seconds and
/// requests, and the choices that pick their prices. Every field is
/// optional on the wire; stored as JSON (`usage_events.usage_detail`, absent
/// fields left out, `NULL` when all are) and returned in the events API.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", schema(as = EventDetail))]
#[serde(default)]
pub struct Detail {
    /// Audio prompt tokens; part of `input_tokens`.
    #[serde(skip_serializing_if = "is_zero")]
    pub audio_input_tokens: u64,
    /// Audio completion tokens; part of `output_tokens`.
    #[serde(skip_serializing_if = "is_zero")]
    pub audio_output_tokens: u64,
    /// Image prompt tokens; part of `input_tokens`.
    #[serde(skip_serializing_if = "is_zero")]
    pub image_input_tokens: u64,
    /// Image completion tokens; part of `output_tokens`.
    #[serde(skip_serializing_if = "is_zero")]
    pub image_output_tokens: u64,
    /// Tokens written to the 1-hour cache; part of `cache_creation_tokens`.
    #[serde(skip_serializing_if = "is_zero")]
    pub cache_creation_1h_tokens: u64,
    /// Characters of text to speech.
    #[serde(skip_serializing_if = "is_zero")]
    pub characters: u64,
    /// Pixels of images generated or processed.
    #[serde(skip_serializing_if = "is_zero")]
    pub pixels: u64,
    /// Search queries (web search context, grounding, search APIs).
    #[serde(skip_serializing_if = "is_zero")]
    pub queries: u64,
    /// Pages read (OCR).
    #[serde(skip_serializing_if = "is_zero")]
    pub pages: u64,
    #[serde(skip_serializing_if = "ServiceTier::is_default")]
    pub service_tier: ServiceTier,
    /// Video resolution for per-resolution prices (`720p`, `1080p`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution: Option<String>,
    /// Image size (`1024x1024`, `1K`, …) or search context size (`low`, `medium`, `high`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    /// Image quality (`standard`, `hd`, `low`, `medium`, `high`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quality: Option<String>,
}

impl Detail {
    /// The stored JSON; `None` when every field is absent.
    pub fn to_json(&self) -> Option<String> {
        (*self != Detail::default()).then(|| serde_json::to_string(self).expect("a detail serializes"))
    }

    /// Reads the stored JSON (`None`: nothing stored). A value this release
    /// cannot read is shown empty rather than failing a listing.
    pub fn from_json(json: Option<&str>) -> Detail {
        json.and_then(|j| serde_json::from_str(j).ok()).unwrap_or_default()
    }
}

/// An event that failed to parse, with the id it carried (if any) so the
/// client can match the rejection to its event.
#[derive(Debug)]
pub struct Rejected {
    pub id: Option<String>,
    pub error: Error,
}

/// A parsed event or its rejection.
pub type ParsedEvent = std::result::Result<NewEvent, Rejected>;

/// Parses every event of a batch, keeping rejections in place.
pub fn parse_batch(values: &[Value], now_ms: i64) -> Vec<ParsedEvent> {
    values.iter().map(|v| parse_one(&v.to_string(), now_ms)).collect()
}

/// Parses every event of a batch received as raw JSON (the ingest API's path:
/// no intermediate `Value` tree), keeping rejections in place.
pub fn parse_raw_batch(raws: &[&RawValue], now_ms: i64) -> Vec<ParsedEvent> {
    raws.iter().map(|raw| parse_one(raw.get(), now_ms)).collect()
}

fn parse_one(json: &str, now_ms: i64) -> ParsedEvent {
    parse_event_json(json, now_ms).map_err(|error| {
        /// Reads only the id of an event that failed to parse, to answer with it.
        #[derive(Deserialize)]
        struct IdOnly {
            id: Option<String>,
        }
        let id = serde_json::from_str::<IdOnly>(json).ok().and_then(|i| i.id);
        Rejected { id: id.map(|s| s.chars().take(MAX_ID_LEN).collect()), error }
    })
}

const FIELDS: &[&str] = &[
    "id", "timestamp", "user_id", "project_id", "session_id", "feature", "provider", "model", "input_tokens",
    "cached_input_tokens", "cache_creation_tokens", "output_tokens", "reasoning_tokens", "images", "seconds",
    "requests", "latency_ms", "status", "error", "ip", "user_agent", "metadata", "audio_input_tokens",
    "audio_output_tokens", "image_input_tokens", "image_output_tokens", "cache_creation_1h_tokens", "characters",
    "pixels", "queries", "pages", "service_tier", "resolution", "size", "quality",
];

/// An event as sent, typed; strings are borrowed from the body when they
/// hold no escapes.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire<'a> {
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    timestamp: Option<Cow<'a, str>>,
    #[serde(borrow)]
    user_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    project_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    session_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    feature: Option<Cow<'a, str>>,
    #[serde(borrow)]
    provider: Option<Cow<'a, str>>,
    #[serde(borrow)]
    model: Option<Cow<'a, str>>,
    input_tokens: Option<u64>,
    cached_input_tokens: Option<u64>,
    cache_creation_tokens: Option<u64>,
    output_tokens: Option<u64>,
    reasoning_tokens: Option<u64>,
    images: Option<u64>,
    seconds: Option<serde_json::Number>,
    requests: Option<u64>,
    latency_ms: Option<u64>,
    #[serde(borrow)]
    status: Option<Cow<'a, str>>,
    #[serde(borrow)]
    error: Option<Cow<'a, str>>,
    #[serde(borrow)]
    ip: Option<Cow<'a, str>>,
    #[serde(borrow)]
    user_agent: Option<Cow<'a, str>>,
    #[serde(borrow)]
    metadata: Option<&'a RawValue>,
    audio_input_tokens: Option<u64>,
    audio_output_tokens: Option<u64>,
    image_input_tokens: Option<u64>,
    image_output_tokens: Option<u64>,
    cache_creation_1h_tokens: Option<u64>,
    characters: Option<u64>,
    pixels: Option<u64>,
    queries: Option<u64>,
    pages: Option<u64>,
    #[serde(borrow)]
    service_tier: Option<Cow<'a, str>>,
    #[serde(borrow)]
    resolution: Option<Cow<'a, str>>,
    #[serde(borrow)]
    size: Option<Cow<'a, str>>,
    #[serde(borrow)]
    quality: Option<Cow<'a, str>>,
}

/// What a field must be, for the message naming it.
fn expectation(field: &str) -> &'static str {
    match field {
        "input_tokens" | "cached_input_tokens" | "cache_creation_tokens" | "output_tokens" | "reasoning_tokens"
        | "images" | "requests" | "latency_ms" | "audio_input_tokens" | "audio_output_tokens" | "image_input_tokens"
        | "image_output_tokens" | "cache_creation_1h_tokens" | "characters" | "pixels" | "queries" | "pages" => {
            "must be a non-negative integer"
        }
        "seconds" => "must be a non-negative number",
        "metadata" => "must be a JSON object",
        _ => "must be a string",
    }
}

/// Turns a decoding error into one that names the field.
fn wire_error(e: serde_path_to_error::Error<serde_json::Error>) -> Error {
    let message = e.inner().to_string();
    let quoted = || message.split('`').nth(1).unwrap_or_default().to_string();
    if message.starts_with("unknown field") {
        return Error::invalid("event", format!("unknown field {:?}", quoted()));
    }
    if message.starts_with("duplicate field") {
        return Error::invalid("event", format!("field {:?} appears twice", quoted()));
    }
    let path = e.path().to_string();
    match FIELDS.iter().find(|f| **f == path) {
        Some(field) => Error::invalid(field, expectation(field)),
        None if e.inner().is_data() => Error::invalid("event", "must be a JSON object"),
        None => Error::invalid("event", "is not valid JSON"),
    }
}

/// Parses one event object, given as JSON text, received at `now_ms`.
pub fn parse_event(value: &Value, now_ms: i64) -> Result<NewEvent> {
    parse_event_json(&value.to_string(), now_ms)
}

/// Parses one event object, given as JSON text, received at `now_ms`.
pub fn parse_event_json(json: &str, now_ms: i64) -> Result<NewEvent> {
    let w: Wire = serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(json)).map_err(wire_error)?;
    let timestamp_ms = match text(w.timestamp, "timestamp", 64)? {
        None => now_ms,
        Some(t) => chrono::DateTime::parse_from_rfc3339(&t)
            .map_err(|_| Error::invalid("timestamp", "must be an RFC 3339 time such as 2026-01-31T12:00:00Z"))?
            .timestamp_millis(),
    };
    if timestamp_ms > now_ms + MAX_FUTURE_MS {
        return Err(Error::invalid("timestamp", "is more than 5 minutes in the future"));
    }
    let model = text(w.model, "model", 200)?.ok_or_else(|| Error::invalid("model", "is required"))?;
    let metadata = match w.metadata.map(|m| m.get().trim()) {
        None => None,
        Some(m) if m.starts_with('{') => {
            if m.len() > MAX_METADATA_BYTES {
                return Err(Error::invalid("metadata", format!("is {} bytes; at most {MAX_METADATA_BYTES}", m.len())));
            }
            Some(m.to_string())
        }
        Some(_) => return Err(Error::invalid("metadata", "must be a JSON object")),
    };
    let event = NewEvent {
        id: text(w.id, "id", MAX_ID_LEN)?,
        timestamp_ms,
        user_id: text(w.user_id, "user_id", 200)?,
        project_id: text(w.project_id, "project_id", 200)?,
        session_id: text(w.session_id, "session_id", 200)?,
        feature: text(w.feature, "feature", 100)?,
        provider: text(w.provider, "provider", 100)?,
        model,
        input_tokens: count(w.input_tokens, "input_tokens")?.unwrap_or(0),
        cached_input_tokens: count(w.cached_input_tokens, "cached_input_tokens")?.unwrap_or(0),
        cache_creation_tokens: count(w.cache_creation_tokens, "cache_creation_tokens")?.unwrap_or(0),
        output_tokens: count(w.output_tokens, "output_tokens")?.unwrap_or(0),
        reasoning_tokens: count(w.reasoning_tokens, "reasoning_tokens")?.unwrap_or(0),
        images: count(w.images, "images")?.unwrap_or(0),
        duration_ms: seconds_as_ms(w.seconds)?,
        requests: count(w.requests, "requests")?.unwrap_or(1),
        detail: Detail {
            audio_input_tokens: count(w.audio_input_tokens, "audio_input_tokens")?.unwrap_or(0),
            audio_output_tokens: count(w.audio_output_tokens, "audio_output_tokens")?.unwrap_or(0),
            image_input_tokens: count(w.image_input_tokens, "image_input_tokens")?.unwrap_or(0),
            image_output_tokens: count(w.image_output_tokens, "image_output_tokens")?.unwrap_or(0),
            cache_creation_1h_tokens: count(w.cache_creation_1h_tokens, "cache_creation_1h_tokens")?.unwrap_or(0),
            characters: count(w.characters, "characters")?.unwrap_or(0),
            pixels: count(w.pixels, "pixels")?.unwrap_or(0),
            queries: count(w.queries, "queries")?.unwrap_or(0),
            pages: count(w.pages, "pages")?.unwrap_or(0),
            service_tier: match text(w.service_tier, "service_tier", 32)? {
                None => ServiceTier::Default,
                Some(t) => ServiceTier::parse(&t)?,
            },
            resolution: text(w.resolution, "resolution", 32)?,
            size: text(w.size, "size", 32)?,
            quality: text(w.quality, "quality", 32)?,
        },
        latency_ms: count(w.latency_ms, "latency_ms")?,
        status: match text(w.status, "status", 32)? {
            None => CallStatus::Success,
            Some(s) => CallStatus::parse(&s)?,
        },
        error: text(w.error, "error", 2000)?,
        ip: text(w.ip, "ip", 64)?,
        user_agent: text(w.user_agent, "user_agent", 512)?,
        metadata,
    };
    event.usage(false).validate()?;
    Ok(event)
}

/// An optional string field, trimmed, empty as absent, at most `max` characters.
fn text(value: Option<Cow<'_, str>>, field: &'static str, max: usize) -> Result<Option<String>> {
    let Some(s) = value else { return Ok(None) };
    let s = s.trim();
    if s.len() > max && s.chars().count() > max {
        Err(Error::invalid(field, format!("must be at most {max} characters")))
    } else if s.is_empty() {
        Ok(None)
    } else {
        Ok(Some(s.to_string()))
    }
}

/// An optional count that must fit the store's BIGINT.
fn count(value: Option<u64>, field: &'static str) -> Result<Option<u64>> {
    match value {
        Some(v) if v > i64::MAX as u64 => Err(Error::invalid(field, "must be a non-negative integer")),
        v => Ok(v),
    }
}

/// `seconds` (a non-negative number, fractions allowed) as whole milliseconds,
/// rounded half to even.
fn seconds_as_ms(value: Option<serde_json::Number>) -> Result<u64> {
    let bad = || Error::invalid("seconds", "must be a non-negative number");
    let Some(n) = value else { return Ok(0) };
    let text = n.to_string();
    let d = Decimal::from_str_exact(&text).or_else(|_| Decimal::from_scientific(&text)).map_err(|_| bad())?;
    if d.is_sign_negative() {
        return Err(bad());
    }
    (d * Decimal::from(1000))
        .round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointNearestEven)
        .to_u64()
        .filter(|v| *v <= i64::MAX as u64)
        .ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    fn field_of(v: Value) -> &'static str {
        parse_event(&v, NOW).unwrap_err().field().unwrap()
    }

    #[test]
    fn a_full_event_parses() {
        let e = parse_event(
            &json!({"id": "req-1", "timestamp": "2027-01-15T08:00:00Z", "user_id": "u1", "model": "gpt-4o",
                    "input_tokens": 1200, "cached_input_tokens": 200, "output_tokens": 300, "reasoning_tokens": 100,
                    "seconds": 1.5, "status": "error", "error": "boom", "metadata": {"k": "v"}}),
            NOW,
        )
        .unwrap();
        assert_eq!(e.id.as_deref(), Some("req-1"));
        assert_eq!(e.timestamp_ms, NOW, "2027-01-15T08:00:00Z is 1.8e12 ms");
        assert_eq!(e.duration_ms, 1500);
        assert_eq!(e.requests, 1, "requests defaults to 1");
        assert_eq!(e.status, CallStatus::Error);
        assert_eq!(e.metadata.as_deref(), Some("{\"k\":\"v\"}"));
    }

    #[test]
    fn defaults_apply_when_fields_are_absent() {
        let e = parse_event(&json!({"model": "m"}), NOW).unwrap();
        assert_eq!((e.id, e.timestamp_ms, e.status, e.input_tokens), (None, NOW, CallStatus::Success, 0));
    }

    #[test]
    fn each_bad_field_is_named() {
        assert_eq!(field_of(json!({})), "model");
        assert_eq!(field_of(json!({"model": "m", "input_tokens": -1})), "input_tokens");
        assert_eq!(field_of(json!({"model": "m", "output_tokens": 1.5})), "output_tokens");
        assert_eq!(field_of(json!({"model": "m", "input_tokens": "12"})), "input_tokens");
        assert_eq!(field_of(json!({"model": "m", "input_tokens": 10, "cached_input_tokens": 11})), "cached_input_tokens");
        assert_eq!(field_of(json!({"model": "m", "output_tokens": 1, "reasoning_tokens": 2})), "reasoning_tokens");
        assert_eq!(field_of(json!({"model": "m", "timestamp": "yesterday"})), "timestamp");
        assert_eq!(field_of(json!({"model": "m", "status": "ok"})), "status");
        assert_eq!(field_of(json!({"model": "m", "seconds": -1})), "seconds");
        assert_eq!(field_of(json!({"model": "m", "metadata": [1]})), "metadata");
        assert_eq!(field_of(json!({"model": "m", "metadata": {"x": "y".repeat(5000)}})), "metadata");
        assert_eq!(field_of(json!({"model": "m", "id": "x".repeat(129)})), "id");
        assert_eq!(field_of(json!({"model": "m", "input_token": 5})), "event");
        assert_eq!(field_of(json!("not an object")), "event");
    }

    #[test]
    fn a_raw_batch_keeps_rejections_in_place_with_their_ids() {
        let body = r#"[{"id": "a\u00e9", "model": "m\"x"}, {"id": "b", "model": "m", "images": -2}, 7,
                       {"id": "c", "model": "m", "model": "n"}]"#;
        let raws: Vec<&RawValue> = serde_json::from_str(body).unwrap();
        let out = parse_raw_batch(&raws, NOW);
        let ok = out[0].as_ref().unwrap();
        assert_eq!((ok.id.as_deref(), ok.model.as_str()), (Some("aé"), "m\"x"), "escapes decode");
        let bad = out[1].as_ref().unwrap_err();
        assert_eq!((bad.id.as_deref(), bad.error.field()), (Some("b"), Some("images")));
        assert_eq!(bad.error.to_string(), "images: must be a non-negative integer");
        let not_object = out[2].as_ref().unwrap_err();
        assert_eq!((not_object.id.as_deref(), not_object.error.to_string().as_str()), (None, "event: must be a JSON object"));
        assert_eq!(out[3].as_ref().unwrap_err().error.to_string(), "event: field \"model\" appears twice");
    }

    #[test]
    fn timestamps_more_than_five_minutes_ahead_are_refused() {
        let ahead = chrono::DateTime::from_timestamp_millis(NOW + MAX_FUTURE_MS + 1000).unwrap().to_rfc3339();
        assert_eq!(field_of(json!({"model": "m", "timestamp": ahead})), "timestamp");
        let near = chrono::DateTime::from_timestamp_millis(NOW + 60_000).unwrap().to_rfc3339();
        assert!(parse_event(&json!({"model": "m", "timestamp": near}), NOW).is_ok());
    }
}
