//! `POST /api/v1/events`: usage ingest.
//!
//! The body is one event object or `{"events": [...]}` with at most 1,000.
//! The answer is 200 when every event was accepted or a duplicate, and 207
//! (Multi-Status) when at least one was rejected; either way `results` has
//! one entry per event, in order. It is sent after the batch is committed.

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use serde_json::Value;
use tollbooth::clock::now_ms;
use tollbooth::metering::{self, EventResult, Outcome, Sender, MAX_BATCH};

use super::auth::ApiKey;
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

/// Splits the body into event objects.
fn events_of(body: Value) -> Result<Vec<Value>, ApiError> {
    let values = match body {
        Value::Object(mut m) if m.contains_key("events") => match m.remove("events") {
            Some(Value::Array(a)) => a,
            _ => return Err(bad_request("events: must be an array of event objects")),
        },
        obj @ Value::Object(_) => vec![obj],
        _ => return Err(bad_request("body: send one event object or {\"events\": [...]}")),
    };
    if values.is_empty() {
        return Err(bad_request("events: must not be empty"));
    }
    if values.len() > MAX_BATCH {
        return Err(bad_request(format!("events: {} events sent; at most {MAX_BATCH} per request", values.len())));
    }
    Ok(values)
}

pub async fn ingest(
    State(state): State<AppState>,
    ApiKey(key): ApiKey,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<(StatusCode, Json<IngestResponse>), ApiError> {
    let Json(body) = body.map_err(ApiError::from)?;
    let parsed = metering::parse_batch(&events_of(body)?, now_ms());
    let sender = Sender { org_id: key.org_id, api_key_id: Some(key.key_id) };
    let results = metering::record_usage(&state.db, &sender, parsed).await?;
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
