//! Enforcement API: quota checks, reservations, resource counts, and the
//! organization's plan. Checks and reservations are rate limited per
//! organization and per key; committing and releasing are not (they report
//! usage and free capacity).

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::Deserialize;
use serde_json::Value;
use tollbooth::metering::Sender;
use tollbooth::admission::{self, Subject};
use tollbooth::ingest::{self, Committed};
use tollbooth::quota::{self, CheckBody, Granted, QuotaStatus, ReservationView, ReserveInput};

use super::auth::{EnforceKey, EstimateKey, IngestKey, ReadKey};
use super::error::ApiError;
use super::body::parse_body;
use crate::state::AppState;

/// One `{metric, amount}`; the amount is a number or, for cost, a decimal string.
#[derive(Debug, Deserialize)]
pub struct CheckItem {
    pub metric: String,
    pub amount: Value,
}

#[derive(Debug, Deserialize)]
pub struct CheckRequest {
    pub user_id: Option<String>,
    pub project_id: Option<String>,
    pub checks: Vec<CheckItem>,
    pub ttl_seconds: Option<i64>,
}

fn asks(items: &[CheckItem]) -> Result<Vec<quota::rules::Ask>, ApiError> {
    let pairs = items
        .iter()
        .map(|i| {
            let amount = match &i.amount {
                Value::Number(n) => n.to_string(),
                Value::String(s) => s.clone(),
                _ => return Err(tollbooth::Error::invalid("amount", format!("{} amount must be a number", i.metric))),
            };
            Ok((i.metric.clone(), amount))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(quota::parse_asks(&pairs)?)
}

fn body<T>(r: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    r.map(|Json(v)| v).map_err(ApiError::from)
}

/// The check body with an absolute upgrade URL.
fn check_json(state: &AppState, b: CheckBody) -> Value {
    let mut v = serde_json::to_value(&b).unwrap_or(Value::Null);
    super::error::absolute_upgrade_url(&mut v, &state.ctx.public_url);
    v
}

/// `POST /api/v1/quota/check`: would these amounts be allowed? No side effects.
#[utoipa::path(
    post, path = "/api/v1/quota/check", operation_id = "check_quota", tag = "enforcement", security(("api_key" = [])),
    description = "Would these amounts be allowed? No side effects (scope `ingest`).",
    request_body(content = crate::openapi::schemas::QuotaCheckRequest),
    responses((status = 200, description = "One result per limit in force", body = tollbooth::quota::CheckBody,
        example = json!({"allowed": true, "results": [{"metric": "tokens", "window": "month", "limit": 1000000, "hard": true, "used": 1200, "reserved": 0, "remaining": 998800, "reset_at": "2027-01-01T00:00:00Z", "allowed": true}]}))),
)]
pub async fn check(
    State(state): State<AppState>,
    EnforceKey(key): EnforceKey,
    req: Result<Json<CheckRequest>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let req = body(req)?;
    let who = Subject { project_id: req.project_id, user_id: req.user_id, api_key_id: Some(key.key_id) };
    let answer = admission::check_for(&state.db, &key.org_id, &who, &asks(&req.checks)?)
        .await
        .map_err(|e| ApiError::from(e).with_base(&state.ctx.public_url))?;
    Ok(Json(check_json(&state, answer)))
}

/// `POST /api/v1/reservations`: check and reserve atomically; 201, or 429
/// with the check body and `Retry-After`.
#[utoipa::path(
    post, path = "/api/v1/reservations", operation_id = "reserve", tag = "enforcement", security(("api_key" = [])),
    description = "Checks and reserves atomically (scope `ingest`). A refusal is 429 with the check body and `Retry-After`.",
    request_body(content = crate::openapi::schemas::ReserveRequest),
    responses((status = 201, description = "Reserved", body = tollbooth::quota::Granted,
        example = json!({"reservation_id": "0190a0a0-0000-7000-8000-0000000000r1", "expires_at": "2026-12-01T10:02:00Z", "results": []}))),
)]
pub async fn reserve(
    State(state): State<AppState>,
    EnforceKey(key): EnforceKey,
    req: Result<Json<CheckRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<Granted>), ApiError> {
    let req = body(req)?;
    let input = ReserveInput { user_id: req.user_id, project_id: req.project_id, asks: asks(&req.checks)?, ttl_seconds: req.ttl_seconds };
    let sender = Sender { org_id: key.org_id, api_key_id: Some(key.key_id) };
    let granted = admission::reserve(&state.db, &sender, input).await.map_err(|e| ApiError::from(e).with_base(&state.ctx.public_url))?;
    Ok((StatusCode::CREATED, Json(granted)))
}

/// `GET /api/v1/reservations/{id}`.
#[utoipa::path(
    get, path = "/api/v1/reservations/{id}", operation_id = "get_reservation", tag = "enforcement", security(("api_key" = [])),
    params(("id" = String, Path, example = "0190a0a0-0000-7000-8000-00000000abcd", description = "The reservation's id")),
    responses((status = 200, description = "The reservation's state", body = tollbooth::quota::ReservationView,
        example = json!({"reservation_id": "0190a0a0-0000-7000-8000-0000000000r1", "state": "active", "created_at": "2026-12-01T10:00:00Z", "expires_at": "2026-12-01T10:01:00Z", "settled_at": null}))),
)]
pub async fn get(State(state): State<AppState>, EnforceKey(key): EnforceKey, Path(id): Path<String>) -> Result<Json<ReservationView>, ApiError> {
    Ok(Json(quota::get_reservation(&state.db, &key.org_id, &id).await?))
}

/// `POST /api/v1/reservations/{id}/commit` with the actual usage event(s).
#[utoipa::path(
    post, path = "/api/v1/reservations/{id}/commit", operation_id = "commit_reservation", tag = "enforcement", security(("api_key" = [])),
    description = "Records the call's events and settles the reservation in one transaction; a second commit records nothing.",
    params(("id" = String, Path, example = "0190a0a0-0000-7000-8000-00000000abcd", description = "The reservation's id")),
    request_body(content = crate::openapi::schemas::EventsBody, content_type = "application/json"),
    responses(
        (status = 200, description = "Committed", body = tollbooth::ingest::Committed,
            example = json!({"reservation_id": "0190a0a0-0000-7000-8000-0000000000r1", "state": "committed", "created_at": "2026-12-01T10:00:00Z", "expires_at": "2026-12-01T10:01:00Z", "settled_at": "2026-12-01T10:00:30Z", "recorded": true, "results": []})),
        (status = 207, description = "Committed with some events rejected", body = tollbooth::ingest::Committed),
    ),
)]
pub async fn commit(
    State(state): State<AppState>,
    IngestKey(key): IngestKey,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Committed>), ApiError> {
    let parsed = parse_body(&headers, body)?;
    let sender = Sender { org_id: key.org_id, api_key_id: Some(key.key_id) };
    let done = ingest::commit_reservation(&state.db, &sender, &id, parsed).await?;
    let rejected = done.results.iter().any(|r| r.status == tollbooth::metering::Outcome::Rejected);
    Ok((if rejected { StatusCode::MULTI_STATUS } else { StatusCode::OK }, Json(done)))
}

/// `DELETE /api/v1/reservations/{id}`: release (idempotent).
#[utoipa::path(
    delete, path = "/api/v1/reservations/{id}", operation_id = "release_reservation", tag = "enforcement", security(("api_key" = [])),
    description = "Releases a reservation; idempotent (scope `ingest`, never rate limited).",
    params(("id" = String, Path, example = "0190a0a0-0000-7000-8000-00000000abcd", description = "The reservation's id")),
    responses((status = 200, description = "The reservation's state", body = tollbooth::quota::ReservationView,
        example = json!({"reservation_id": "0190a0a0-0000-7000-8000-0000000000r1", "state": "released", "created_at": "2026-12-01T10:00:00Z", "expires_at": "2026-12-01T10:01:00Z", "settled_at": "2026-12-01T10:00:30Z"}))),
)]
pub async fn release(State(state): State<AppState>, IngestKey(key): IngestKey, Path(id): Path<String>) -> Result<Json<ReservationView>, ApiError> {
    Ok(Json(quota::release_reservation(&state.db, &key.org_id, &id).await?))
}

#[derive(Debug, Deserialize)]
pub struct DocumentsChange {
    pub delta: i64,
}

/// `POST /api/v1/resources/documents` `{delta}`: 200 with the count, or 403
/// beyond the plan.
#[utoipa::path(
    post, path = "/api/v1/resources/documents", operation_id = "change_documents", tag = "enforcement", security(("api_key" = [])),
    request_body(content = crate::openapi::schemas::DocumentsDelta),
    responses((status = 200, description = "The count after the change; 403 beyond the plan", body = tollbooth::quota::resources::DocumentsCount,
        example = json!({"used": 12, "limit": 100}))),
)]
pub async fn documents(
    State(state): State<AppState>,
    EnforceKey(key): EnforceKey,
    req: Result<Json<DocumentsChange>, JsonRejection>,
) -> Result<Json<quota::resources::DocumentsCount>, ApiError> {
    let req = body(req)?;
    let out = quota::resources::change_documents(&state.db, &key.org_id, req.delta)
        .await
        .map_err(|e| ApiError::from(e).with_base(&state.ctx.public_url))?;
    Ok(Json(out))
}

/// `GET /api/v1/plan`: the plan and how much of each limit is used, with
/// `trial: {plan, started_at, ends_at}` while one runs (else `null`).
#[utoipa::path(
    get, path = "/api/v1/plan", operation_id = "get_plan", tag = "enforcement", security(("api_key" = [])),
    responses((status = 200, description = "The plan, each limit's use, and the trial", body = crate::openapi::schemas::PlanAnswer,
        example = json!({"plan_code": "starter", "plan_name": "Starter", "is_demo": false, "lines": [], "trial": null}))),
)]
pub async fn plan(State(state): State<AppState>, ReadKey(key): ReadKey) -> Result<Json<serde_json::Value>, ApiError> {
    let status: QuotaStatus = quota::status(&state.db, &key.org_id).await?;
    let trial = tollbooth::trials::current(&state.db, &key.org_id, tollbooth::clock::now_ms()).await?;
    let mut body = serde_json::to_value(&status).map_err(|e| tollbooth::Error::Internal(e.to_string()))?;
    body["trial"] = match trial {
        Some(t) => serde_json::json!({
            "plan": t.plan_code,
            "plan_name": t.plan_name,
            "started_at": t.started_at,
            "ends_at": t.ends_at,
            "days_left": t.days_left,
            "source": t.source,
        }),
        None => serde_json::Value::Null,
    };
    Ok(Json(body))
}

#[derive(Debug, Deserialize)]
pub struct EstimateRequest {
    pub model: String,
    pub input_tokens: u64,
    #[serde(default)]
    pub max_output_tokens: u64,
}

/// `POST /api/v1/estimate` `{model, input_tokens, max_output_tokens}` →
/// `{min_cost_usd, max_cost_usd}` from the price in force now.
#[utoipa::path(
    post, path = "/api/v1/estimate", operation_id = "estimate_cost", tag = "enforcement", security(("api_key" = [])),
    description = "The cost range of a call from the price in force now (scope `ingest` or `read`).",
    request_body(content = crate::openapi::schemas::EstimateRequest),
    responses((status = 200, description = "The estimate", body = tollbooth::pricing::estimate::Estimate,
        example = json!({"model": "gpt-4o-mini", "min_cost_usd": "0.00018", "max_cost_usd": "0.00048", "price_effective_from": "2026-01-01T00:00:00Z"}))),
)]
pub async fn estimate(
    State(state): State<AppState>,
    EstimateKey(_key): EstimateKey,
    req: Result<Json<EstimateRequest>, JsonRejection>,
) -> Result<Json<tollbooth::pricing::estimate::Estimate>, ApiError> {
    let req = body(req)?;
    Ok(Json(tollbooth::pricing::estimate::estimate(&state.db, &req.model, req.input_tokens, req.max_output_tokens).await?))
}
