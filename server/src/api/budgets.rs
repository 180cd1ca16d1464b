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

pub async fn list(State(state): State<AppState>, ReadKey(key): ReadKey) -> Result<Json<Vec<BudgetView>>, ApiError> {
    Ok(Json(budgets::list(&state.db, &key.org_id).await?))
}

pub async fn create(
    State(state): State<AppState>,
    ManageKey(key): ManageKey,
    origin: RequestOrigin,
    req: Result<Json<BudgetInput>, JsonRejection>,
) -> Result<(StatusCode, Json<BudgetView>), ApiError> {
    let input = body(req)?;
    Ok((StatusCode::CREATED, Json(budgets::create(&state.db, &key.org_id, &input, &origin.key(&key)).await?)))
}

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

pub async fn delete(
    State(state): State<AppState>,
    ManageKey(key): ManageKey,
    Path(id): Path<String>,
    origin: RequestOrigin,
) -> Result<StatusCode, ApiError> {
    budgets::delete(&state.db, &key.org_id, &id, &origin.key(&key)).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn status(State(state): State<AppState>, ReadKey(key): ReadKey, Path(id): Path<String>) -> Result<Json<BudgetStatus>, ApiError> {
    Ok(Json(budgets::status(&state.db, &key.org_id, &id).await?))
}
