//! `POST /api/v1/events`: usage ingest.
//!
//! The body is one event object or `{"events": [...]}` with at most 1,000.
//! The answer is 200 when every event was accepted or a duplicate, 207
//! (Multi-Status) when some were rejected and others not, and 422 when every
//! event was rejected (with `error` naming the first rejected field, e.g.
//! an unknown `service_tier` or negative `seconds`); in each case `results`
//! has one entry per event, in order. It is sent after the batch is committed.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::Serialize;
use tollbooth::metering::{EventResult, Outcome, Sender};

use super::auth::IngestKey;
use super::body::parse_body;
use super::error::ApiError;
use crate::state::AppState;

/// The answer of an ingest: counts, and one result per event in order.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IngestResponse {
    pub accepted: usize,
    pub duplicates: usize,
    pub rejected: usize,
    pub results: Vec<EventResult>,
}

#[utoipa::path(
    post, path = "/api/v1/events", operation_id = "ingest_events", tag = "usage", security(("api_key" = [])),
    description = "Records one event or a batch of up to 1,000 (scope `ingest`; never rate limited). Sent after the batch is committed.",
    request_body(content = crate::openapi::schemas::EventsBody, content_type = "application/json"),
    responses(
        (status = 200, description = "Every event accepted or a duplicate", body = IngestResponse,
            example = json!({"accepted": 1, "duplicates": 0, "rejected": 0, "results": [{"id": "call-7f3a", "status": "accepted", "cost_usd": "0.000480000", "priced": true}]})),
        (status = 207, description = "Some events rejected, others not", body = IngestResponse),
        (status = 422, description = "Every event rejected: the error names the first bad field, with the per-event results beside it", body = crate::openapi::schemas::ErrorBody),
    ),
)]
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
    if response.rejected > 0 && response.rejected == response.results.len() {
        let first = &response.results[0];
        let message = first.error.clone().unwrap_or_default();
        let mut e = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message);
        e.field = first.field.map(std::borrow::Cow::Borrowed);
        e.details = Some(serde_json::to_value(&response).map_err(|err| ApiError::from(tollbooth::Error::Internal(err.to_string())))?);
        return Err(e);
    }
    let status = if response.rejected > 0 { StatusCode::MULTI_STATUS } else { StatusCode::OK };
    Ok((status, Json(response)))
}
