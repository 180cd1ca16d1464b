//! Alerts, alert settings and outgoing webhooks over REST:
//! `GET /api/v1/alerts`, `POST /api/v1/alerts/{id}/ack`,
//! `GET/PUT /api/v1/alert-settings`, `GET/POST /api/v1/webhooks`,
//! `DELETE /api/v1/webhooks/{id}`, `POST /api/v1/webhooks/{id}/enable`,
//! `GET /api/v1/webhooks/deliveries`; and the confirmation link of an extra
//! alert recipient, `GET /alerts/confirm/{token}`.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Html;
use axum::Json;
use serde::{Deserialize, Serialize};
use tollbooth::alerts::{self, settings, webhooks, AlertSettings, AlertView, CreatedEndpoint, DeliveryView, EndpointView};

use super::error::ApiError;
use super::auth::{ManageKey, ReadKey, RequestOrigin};
use crate::state::AppState;

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

/// Saves the settings; `extra_recipient_states` in the body is ignored (newly
/// listed extra addresses are sent a confirmation mail).
pub async fn put_settings(
    State(state): State<AppState>,
    ManageKey(key): ManageKey,
    origin: RequestOrigin,
    req: Result<Json<AlertSettings>, JsonRejection>,
) -> Result<Json<AlertSettings>, ApiError> {
    let Json(input) = req.map_err(ApiError::from)?;
    let by = origin.key(&key);
    Ok(Json(settings::update(&state.db, &key.org_id, &input, &by, &state.ctx.public_url).await?))
}

pub async fn list_webhooks(State(state): State<AppState>, ManageKey(key): ManageKey) -> Result<Json<Vec<EndpointView>>, ApiError> {
    Ok(Json(webhooks::list(&state.db, &key.org_id).await?))
}

#[derive(Debug, Deserialize)]
pub struct NewEndpoint {
    pub url: String,
}

/// Adds an endpoint: a URL whose host is or resolves to a non-public
/// address is a 422 naming `url` (unless the server allows private ones).
pub async fn create_webhook(
    State(state): State<AppState>,
    ManageKey(key): ManageKey,
    origin: RequestOrigin,
    req: Result<Json<NewEndpoint>, JsonRejection>,
) -> Result<(StatusCode, Json<CreatedEndpoint>), ApiError> {
    let Json(input) = req.map_err(ApiError::from)?;
    let by = origin.key(&key);
    Ok((StatusCode::CREATED, Json(webhooks::create(&state.db, &key.org_id, &input.url, state.ctx.egress, &by).await?)))
}

pub async fn delete_webhook(
    State(state): State<AppState>,
    ManageKey(key): ManageKey,
    origin: RequestOrigin,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    webhooks::delete(&state.db, &key.org_id, &id, &origin.key(&key)).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn enable_webhook(
    State(state): State<AppState>,
    ManageKey(key): ManageKey,
    origin: RequestOrigin,
    Path(id): Path<String>,
) -> Result<Json<EndpointView>, ApiError> {
    Ok(Json(webhooks::enable(&state.db, &key.org_id, &id, &origin.key(&key)).await?))
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

/// `GET /alerts/confirm/{token}`: the link in a confirmation mail. A small
/// plain page; an unknown or expired link is a 404 page (the two look alike).
pub async fn confirm_recipient(State(state): State<AppState>, Path(token): Path<String>) -> (StatusCode, Html<String>) {
    match alerts::recipients::confirm(&state.db, &token, tollbooth::clock::now_ms()).await {
        Ok(c) => (
            StatusCode::OK,
            page(
                "Confirmed",
                &format!("{} will now receive the alert mail of {} on Tollbooth.", escape(&c.email), escape(&c.org_name)),
            ),
        ),
        Err(tollbooth::Error::NotFound(_)) => (
            StatusCode::NOT_FOUND,
            page("Link not valid", "This confirmation link is not valid or has expired. Ask the organization to add your address again."),
        ),
        Err(e) => {
            tracing::error!(error = ?e, "confirming an alert recipient failed");
            (StatusCode::INTERNAL_SERVER_ERROR, page("Something went wrong", "Please try the link again later."))
        }
    }
}

fn page(title: &str, text: &str) -> Html<String> {
    Html(format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"robots\" content=\"noindex\">\
         <title>{title} · Tollbooth</title></head><body><h1>{title}</h1><p>{text}</p></body></html>"
    ))
}

/// HTML-escapes text put into the page (an organization's name is typed by its owner).
fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}
