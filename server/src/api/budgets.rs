//! Budgets over REST: `GET/POST /api/v1/budgets`, `PUT/DELETE
//! /api/v1/budgets/{id}`, `GET /api/v1/budgets/{id}/status`.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use tollbooth::budgets::{self, BudgetInput, BudgetStatus, BudgetView};

use super::auth::RequestOrigin;
use super::error::ApiError;
use super::auth::{ManageKey, ReadKey};
use crate::state::AppState;

fn body(r: Result<Json<BudgetInput>, JsonRejection>) -> Result<BudgetInput, ApiError> {
    r.map(|Json(v)| v).map_err(ApiError::from)
}

#[utoipa::path(
    get, path = "/api/v1/budgets", operation_id = "list_budgets", tag = "budgets", security(("api_key" = [])),
    responses((status = 200, description = "The organization's budgets", body = Vec<tollbooth::budgets::BudgetView>, example = json!([{"id": "0190a0a0-0000-7000-8000-0000000000b1", "name": "Monthly cap", "scope": "organization", "scope_id": null, "period": "monthly", "amount_usd": "500", "thresholds": [50, 80, 100], "action": "notify", "created_at": 1764547200000i64, "updated_at": 1764547200000i64}]))),
)]
pub async fn list(State(state): State<AppState>, ReadKey(key): ReadKey) -> Result<Json<Vec<BudgetView>>, ApiError> {
    Ok(Json(budgets::list(&state.db, &key.org_id).await?))
}

#[utoipa::path(
    post, path = "/api/v1/budgets", operation_id = "create_budget", tag = "budgets", security(("api_key" = [])),
    request_body(content = tollbooth::budgets::BudgetInput, example = json!({"name": "Monthly cap", "scope": "organization", "period": "monthly", "amount_usd": "500"})),
    responses((status = 201, description = "Created", body = tollbooth::budgets::BudgetView, example = json!({"id": "0190a0a0-0000-7000-8000-0000000000b1", "name": "Monthly cap", "scope": "organization", "scope_id": null, "period": "monthly", "amount_usd": "500", "thresholds": [50, 80, 100], "action": "notify", "created_at": 1764547200000i64, "updated_at": 1764547200000i64}))),
)]
pub async fn create(
    State(state): State<AppState>,
    ManageKey(key): ManageKey,
    origin: RequestOrigin,
    req: Result<Json<BudgetInput>, JsonRejection>,
) -> Result<(StatusCode, Json<BudgetView>), ApiError> {
    let input = body(req)?;
    Ok((StatusCode::CREATED, Json(budgets::create(&state.db, &key.org_id, &input, &origin.key(&key)).await?)))
}

#[utoipa::path(
    put, path = "/api/v1/budgets/{id}", operation_id = "update_budget", tag = "budgets", security(("api_key" = [])),
    params(("id" = String, Path, example = "0190a0a0-0000-7000-8000-00000000abcd", description = "The budget's id")),
    request_body(content = tollbooth::budgets::BudgetInput, example = json!({"name": "Monthly cap", "scope": "organization", "period": "monthly", "amount_usd": "750", "action": "pause"})),
    responses((status = 200, description = "Updated", body = tollbooth::budgets::BudgetView, example = json!({"id": "0190a0a0-0000-7000-8000-0000000000b1", "name": "Monthly cap", "scope": "organization", "scope_id": null, "period": "monthly", "amount_usd": "500", "thresholds": [50, 80, 100], "action": "notify", "created_at": 1764547200000i64, "updated_at": 1764547200000i64}))),
)]
pub async fn update(
    State(state): State<AppState>,
    ManageKey(key): ManageKey,
    Path(id): Path<String>,
    origin: RequestOrigin,
    req: Result<Json<BudgetInput>, JsonRejection>,
) -> Result<Json<BudgetView>, ApiError> {
    let input = body(req)?;
    Ok(Json(budgets::update(&state.db, &key.org_id, &id, &input, &origin.key(&key)).await?))
}

#[utoipa::path(
    delete, path = "/api/v1/budgets/{id}", operation_id = "delete_budget", tag = "budgets", security(("api_key" = [])),
    params(("id" = String, Path, example = "0190a0a0-0000-7000-8000-00000000abcd", description = "The budget's id")),
    responses((status = 204, description = "Deleted")),
)]
pub async fn delete(
    State(state): State<AppState>,
    ManageKey(key): ManageKey,
    Path(id): Path<String>,
    origin: RequestOrigin,
) -> Result<StatusCode, ApiError> {
    budgets::delete(&state.db, &key.org_id, &id, &origin.key(&key)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get, path = "/api/v1/budgets/{id}/status", operation_id = "budget_status", tag = "budgets", security(("api_key" = [])),
    params(("id" = String, Path, example = "0190a0a0-0000-7000-8000-00000000abcd", description = "The budget's id")),
    responses((status = 200, description = "Spend in the current period and the forecast", body = tollbooth::budgets::BudgetStatus,
        example = json!({"budget_id": "0190a0a0-0000-7000-8000-0000000000b1", "period_start": "2026-12-01T00:00:00Z", "period_end": "2027-01-01T00:00:00Z", "amount_usd": "500", "spent_usd": "412.5", "remaining_usd": "87.5", "percent": "82.50", "forecast_usd": "530.1", "on_track": false, "exceeds_at": "2026-12-28T16:00:00Z"}))),
)]
pub async fn status(State(state): State<AppState>, ReadKey(key): ReadKey, Path(id): Path<String>) -> Result<Json<BudgetStatus>, ApiError> {
    Ok(Json(budgets::status(&state.db, &key.org_id, &id).await?))
}
