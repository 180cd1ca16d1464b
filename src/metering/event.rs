//! One usage event as the ingest API receives it, parsed field by field so
//! that a bad event is rejected with a message naming the field while the
//! rest of its batch is accepted.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde_json::{Map, Value};

use crate::pricing::Usage;
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
    pub latency_ms: Option<u64>,
    pub status: CallStatus,
    pub error: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The metadata object, serialized.
    pub metadata: Option<String>,
}

impl NewEvent {
    /// The usage to price, with images assigned by the model's mode.
    pub fn usage(&self, images_are_output: bool) -> Usage {
        Usage {
            input_tokens: self.input_tokens,
            cached_input_tokens: self.cached_input_tokens,
            cache_creation_tokens: self.cache_creation_tokens,
            output_tokens: self.output_tokens,
            reasoning_tokens: self.reasoning_tokens,
            input_images: if images_are_output { 0 } else { self.images },
            output_images: if images_are_output { self.images } else { 0 },
            duration_ms: self.duration_ms,
            requests: self.requests,
        }
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
    values
        .iter()
        .map(|v| {
            parse_event(v, now_ms).map_err(|error| Rejected {
                id: v.get("id").and_then(Value::as_str).map(|s| s.chars().take(MAX_ID_LEN).collect()),
                error,
            })
        })
        .collect()
}

const FIELDS: &[&str] = &[
    "id", "timestamp", "user_id", "project_id", "session_id", "feature", "provider", "model", "input_tokens",
    "cached_input_tokens", "cache_creation_tokens", "output_tokens", "reasoning_tokens", "images", "seconds",
    "requests", "latency_ms", "status", "error", "ip", "user_agent", "metadata",
];

/// Parses one event object received at `now_ms`.
pub fn parse_event(value: &Value, now_ms: i64) -> Result<NewEvent> {
    let obj = value.as_object().ok_or_else(|| Error::invalid("event", "must be a JSON object"))?;
    if let Some(unknown) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(Error::invalid("event", format!("unknown field {unknown:?}")));
    }
    let timestamp_ms = match text(obj, "timestamp", 64)? {
        None => now_ms,
        Some(t) => chrono::DateTime::parse_from_rfc3339(&t)
            .map_err(|_| Error::invalid("timestamp", "must be an RFC 3339 time such as 2026-01-31T12:00:00Z"))?
            .timestamp_millis(),
    };
    if timestamp_ms > now_ms + MAX_FUTURE_MS {
        return Err(Error::invalid("timestamp", "is more than 5 minutes in the future"));
    }
    let model = text(obj, "model", 200)?.ok_or_else(|| Error::invalid("model", "is required"))?;
    let metadata = match obj.get("metadata") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => {
            let s = serde_json::to_string(m).map_err(|e| Error::Internal(e.to_string()))?;
            if s.len() > MAX_METADATA_BYTES {
                return Err(Error::invalid("metadata", format!("is {} bytes; at most {MAX_METADATA_BYTES}", s.len())));
            }
            Some(s)
        }
        Some(_) => return Err(Error::invalid("metadata", "must be a JSON object")),
    };
    let event = NewEvent {
        id: text(obj, "id", MAX_ID_LEN)?,
        timestamp_ms,
        user_id: text(obj, "user_id", 200)?,
        project_id: text(obj, "project_id", 200)?,
        session_id: text(obj, "session_id", 200)?,
        feature: text(obj, "feature", 100)?,
        provider: text(obj, "provider", 100)?,
        model,
        input_tokens: count(obj, "input_tokens")?.unwrap_or(0),
        cached_input_tokens: count(obj, "cached_input_tokens")?.unwrap_or(0),
        cache_creation_tokens: count(obj, "cache_creation_tokens")?.unwrap_or(0),
        output_tokens: count(obj, "output_tokens")?.unwrap_or(0),
        reasoning_tokens: count(obj, "reasoning_tokens")?.unwrap_or(0),
        images: count(obj, "images")?.unwrap_or(0),
        duration_ms: seconds_as_ms(obj)?,
        requests: count(obj, "requests")?.unwrap_or(1),
        latency_ms: count(obj, "latency_ms")?,
        status: match text(obj, "status", 32)? {
            None => CallStatus::Success,
            Some(s) => CallStatus::parse(&s)?,
        },
        error: text(obj, "error", 2000)?,
        ip: text(obj, "ip", 64)?,
        user_agent: text(obj, "user_agent", 512)?,
        metadata,
    };
    event.usage(false).validate()?;
    Ok(event)
}

/// An optional string field, trimmed, empty as absent, at most `max` characters.
fn text(obj: &Map<String, Value>, field: &'static str, max: usize) -> Result<Option<String>> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let s = s.trim();
            if s.chars().count() > max {
                Err(Error::invalid(field, format!("must be at most {max} characters")))
            } else if s.is_empty() {
                Ok(None)
            } else {
                Ok(Some(s.to_string()))
            }
        }
        Some(_) => Err(Error::invalid(field, "must be a string")),
    }
}

/// An optional non-negative integer that fits the store's BIGINT.
fn count(obj: &Map<String, Value>, field: &'static str) -> Result<Option<u64>> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(v) if v <= i64::MAX as u64 => Ok(Some(v)),
            _ => Err(Error::invalid(field, "must be a non-negative integer")),
        },
        Some(_) => Err(Error::invalid(field, "must be a non-negative integer")),
    }
}

/// `seconds` (a non-negative number, fractions allowed) as whole milliseconds,
/// rounded half to even.
fn seconds_as_ms(obj: &Map<String, Value>) -> Result<u64> {
    let bad = || Error::invalid("seconds", "must be a non-negative number");
    match obj.get("seconds") {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Number(n)) => {
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
        Some(_) => Err(bad()),
    }
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
    fn timestamps_more_than_five_minutes_ahead_are_refused() {
        let ahead = chrono::DateTime::from_timestamp_millis(NOW + MAX_FUTURE_MS + 1000).unwrap().to_rfc3339();
        assert_eq!(field_of(json!({"model": "m", "timestamp": ahead})), "timestamp");
        let near = chrono::DateTime::from_timestamp_millis(NOW + 60_000).unwrap().to_rfc3339();
        assert!(parse_event(&json!({"model": "m", "timestamp": near}), NOW).is_ok());
    }
}
