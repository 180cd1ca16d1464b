//! Time as the store keeps it: integer UTC milliseconds since the Unix epoch.
//! One representation on both engines makes comparisons and windows portable.

/// Milliseconds since the Unix epoch, UTC.
pub type Millis = i64;

/// The current time in UTC milliseconds.
pub fn now_ms() -> Millis {
    chrono::Utc::now().timestamp_millis()
}

/// Renders UTC milliseconds as RFC 3339 (for APIs and logs).
pub fn to_rfc3339(ms: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// Parses an RFC 3339 time into UTC milliseconds.
pub fn parse_rfc3339(s: &str) -> Option<Millis> {
    chrono::DateTime::parse_from_rfc3339(s.trim()).ok().map(|t| t.timestamp_millis())
}
