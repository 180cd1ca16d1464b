//! `POST /api/v1/events`: usage ingest.
//!
//! The body is one event object or `{"events": [...]}` with at most 1,000.
//! The answer is 200 when every event was accepted or a duplicate, and 207
//! (Multi-Status) when at least one was rejected; either way `results` has
//! one entry per event, in order. It is sent after the batch is committed.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::error::Category;
use serde_json::value::RawValue;
use tollbooth::clock::now_ms;
use tollbooth::metering::{self, EventResult, Outcome, Sender, MAX_BATCH};

use super::auth::IngestKey;
use super::error::ApiError;
use crate::startup::AppState;

/// Largest request body: a full batch with generous metadata.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

#[derive(Debug, Serialize)]
pub struct IngestResponse {
    pub accepted: usize,
    pub duplicates: usize,
    pub rejected: usize,
    pub results: Vec<EventResult>,
}

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid", message)
}

fn invalid_json(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", format!("body: is not valid JSON: {e}"))
}

/// The body's event objects, as raw JSON slices of it.
fn events_of(body: &str) -> Result<Vec<&RawValue>, ApiError> {
    /// The batch form; any other object is a single event.
    #[derive(Deserialize)]
    struct Envelope<'a> {
        #[serde(borrow)]
        events: Option<&'a RawValue>,
    }
    let not_events = || bad_request("body: send one event object or {\"events\": [...]}");
    let envelope: Envelope = serde_json::from_str(body).map_err(|e| match e.classify() {
        Category::Data => not_events(),
        _ => invalid_json(e),
    })?;
    let values: Vec<&RawValue> = match envelope.events {
        Some(events) => serde_json::from_str(events.get())
            .map_err(|_| bad_request("events: must be an array of event objects"))?,
        None if body.trim_start().starts_with('{') => vec![serde_json::from_str(body).map_err(invalid_json)?],
        None => return Err(not_events()),
    };
    if values.is_empty() {
        return Err(bad_request("events: must not be empty"));
    }
    if values.len() > MAX_BATCH {
        return Err(bad_request(format!("events: {} events sent; at most {MAX_BATCH} per request", values.len())));
    }
    Ok(values)
}

/// Refuses a body announced larger than the limit before reading any of it.
pub async fn refuse_oversized(req: Request, next: Next) -> Response {
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    match announced {
        Some(n) if n > MAX_BODY_BYTES => too_large().into_response(),
        _ => next.run(req).await,
    }
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("body: larger than {} MiB; send at most {MAX_BATCH} events per request", MAX_BODY_BYTES / (1024 * 1024)),
    )
}

/// The events of a JSON body (ingest, and the commit of a reservation).
pub(crate) fn parse_body(headers: &HeaderMap, body: Result<Bytes, BytesRejection>) -> Result<Vec<metering::ParsedEvent>, ApiError> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json")));
    if !json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_json",
            "body: send it with Content-Type: application/json",
        ));
    }
    let body = body.map_err(|r| if r.status() == StatusCode::PAYLOAD_TOO_LARGE { too_large() } else { invalid_json(r.body_text()) })?;
    let text = std::str::from_utf8(&body).map_err(invalid_json)?;
    Ok(metering::parse_raw_batch(&events_of(text)?, now_ms()))
}

pub async fn ingest(
    State(state): State<AppState>,
    IngestKey(key): IngestKey,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<IngestResponse>), ApiError> {
    let parsed = parse_body(&headers, body)?;
    let sender = Sender { org_id: key.org_id, api_key_id: Some(key.key_id) };
    let results = tollbooth::ingest::record_usage(&state.db, &sender, parsed).await?;
    let count = |o: Outcome| results.iter().filter(|r| r.status == o).count();
    let response = IngestResponse {
        accepted: count(Outcome::Accepted),
        duplicates: count(Outcome::Duplicate),
        rejected: count(Outcome::Rejected),
        results,
    };
    let status = if response.rejected > 0 { StatusCode::MULTI_STATUS } else { StatusCode::OK };
    Ok((status, Json(response)))
}
