//! Alerts, alert settings and outgoing webhooks over REST:
//! `GET /api/v1/alerts`, `POST /api/v1/alerts/{id}/ack`,
//! `GET/PUT /api/v1/alert-settings`, `GET/POST /api/v1/webhooks`,
//! `DELETE /api/v1/webhooks/{id}`, `POST /api/v1/webhooks/{id}/enable`,
//! `GET /api/v1/webhooks/deliveries`.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use tollbooth::alerts::{self, settings, webhooks, AlertSettings, AlertView, CreatedEndpoint, DeliveryView, EndpointView};

use super::error::ApiError;
use super::auth::{ManageKey, ReadKey};
use crate::startup::AppState;

#[derive(Debug, Deserialize)]
pub struct AlertsQuery {
    /// `true`: only alerts nobody acknowledged.
    pub unacknowledged: Option<bool>,
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct AlertsResponse {
    pub alerts: Vec<AlertView>,
    pub unacknowledged: i64,
}

pub async fn list(
    State(state): State<AppState>,
    ReadKey(key): ReadKey,
    q: Result<Query<AlertsQuery>, QueryRejection>,
) -> Result<Json<AlertsResponse>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::from(tollbooth::Error::invalid("query", e.body_text())))?;
    let list = alerts::list(&state.db, &key.org_id, q.unacknowledged.unwrap_or(false), q.limit.unwrap_or(100)).await?;
    let unacknowledged = alerts::unread_count(&state.db, &key.org_id).await?;
    Ok(Json(AlertsResponse { alerts: list, unacknowledged }))
}

pub async fn ack(State(state): State<AppState>, ManageKey(key): ManageKey, Path(id): Path<String>) -> Result<Json<AlertView>, ApiError> {
    let by = format!("api key {}", key.key_name);
    Ok(Json(alerts::acknowledge(&state.db, &key.org_id, &id, &by).await?))
}

pub async fn get_settings(State(state): State<AppState>, ManageKey(key): ManageKey) -> Result<Json<AlertSettings>, ApiError> {
    Ok(Json(settings::get(&state.db, &key.org_id).await?))
}

pub async fn put_settings(
    State(state): State<AppState>,
    ManageKey(key): ManageKey,
    req: Result<Json<AlertSettings>, JsonRejection>,
) -> Result<Json<AlertSettings>, ApiError> {
    let Json(input) = req.map_err(ApiError::from)?;
    Ok(Json(settings::update(&state.db, &key.org_id, &input).await?))
}

pub async fn list_webhooks(State(state): State<AppState>, ManageKey(key): ManageKey) -> Result<Json<Vec<EndpointView>>, ApiError> {
    Ok(Json(webhooks::list(&state.db, &key.org_id).await?))
}

#[derive(Debug, Deserialize)]
pub struct NewEndpoint {
    pub url: String,
}

pub async fn create_webhook(
    State(state): State<AppState>,
    ManageKey(key): ManageKey,
    req: Result<Json<NewEndpoint>, JsonRejection>,
) -> Result<(StatusCode, Json<CreatedEndpoint>), ApiError> {
    let Json(input) = req.map_err(ApiError::from)?;
    Ok((StatusCode::CREATED, Json(webhooks::create(&state.db, &key.org_id, &input.url).await?)))
}

pub async fn delete_webhook(State(state): State<AppState>, ManageKey(key): ManageKey, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    webhooks::delete(&state.db, &key.org_id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn enable_webhook(
    State(state): State<AppState>,
    ManageKey(key): ManageKey,
    Path(id): Path<String>,
) -> Result<Json<EndpointView>, ApiError> {
    Ok(Json(webhooks::enable(&state.db, &key.org_id, &id).await?))
}

#[derive(Debug, Deserialize)]
pub struct LimitQuery {
    pub limit: Option<i64>,
}

pub async fn deliveries(
    State(state): State<AppState>,
    ManageKey(key): ManageKey,
    q: Result<Query<LimitQuery>, QueryRejection>,
) -> Result<Json<Vec<DeliveryView>>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::from(tollbooth::Error::invalid("query", e.body_text())))?;
    Ok(Json(webhooks::deliveries(&state.db, &key.org_id, q.limit.unwrap_or(100)).await?))
}
