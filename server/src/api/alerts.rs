//! Alerts, alert settings and outgoing webhooks over REST:
//! `GET /api/v1/alerts`, `POST /api/v1/alerts/{id}/ack`,
//! `GET/PUT /api/v1/alert-settings`, `GET/POST /api/v1/webhooks`,
//! `PATCH/DELETE /api/v1/webhooks/{id}`, `POST /api/v1/webhooks/{id}/enable`,
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

/// Alerts and the count not yet acknowledged.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AlertsResponse {
    pub alerts: Vec<AlertView>,
    pub unacknowledged: i64,
}

#[utoipa::path(
    get, path = "/api/v1/alerts", operation_id = "list_alerts", tag = "alerts", security(("api_key" = [])),
    params(crate::openapi::schemas::AlertsParams),
    responses((status = 200, description = "Alerts, newest first", body = AlertsResponse, example = json!({"alerts": [], "unacknowledged": 0}))),
)]
pub async fn list(
    State(state): State<AppState>,
    ReadKey(key): ReadKey,
    q: Result<Query<AlertsQuery>, QueryRejection>,
) -> Result<Json<AlertsResponse>, ApiError> {
    let Query(q) = q.map_err(ApiError::from)?;
    let list = alerts::list(&state.db, &key.org_id, q.unacknowledged.unwrap_or(false), q.limit.unwrap_or(100)).await?;
    let unacknowledged = alerts::unread_count(&state.db, &key.org_id).await?;
    Ok(Json(AlertsResponse { alerts: list, unacknowledged }))
}

#[utoipa::path(
    post, path = "/api/v1/alerts/{id}/ack", operation_id = "ack_alert", tag = "alerts", security(("api_key" = [])),
    params(("id" = String, Path, example = "0190a0a0-0000-7000-8000-00000000abcd", description = "The alert's id")),
    responses((status = 200, description = "The alert, acknowledged", body = tollbooth::alerts::AlertView,
        example = json!({"id": "0190a0a0-0000-7000-8000-0000000000c1", "kind": "budget_threshold", "scope": "organization", "scope_id": null, "budget_id": "0190a0a0-0000-7000-8000-0000000000b1", "period_start": "2026-12-01T00:00:00Z", "period_end": "2027-01-01T00:00:00Z", "observed": "$412.50", "threshold": "80%", "message": "Monthly cap is at 82.5%", "created_at": "2026-12-20T09:00:00Z", "acknowledged_by": "api key backend", "acknowledged_at": "2026-12-20T09:05:00Z"}))),
)]
pub async fn ack(State(state): State<AppState>, ManageKey(key): ManageKey, Path(id): Path<String>) -> Result<Json<AlertView>, ApiError> {
    let by = format!("api key {}", key.key_name);
    Ok(Json(alerts::acknowledge(&state.db, &key.org_id, &id, &by).await?))
}

#[utoipa::path(
    get, path = "/api/v1/alert-settings", operation_id = "get_alert_settings", tag = "alerts", security(("api_key" = [])),
    responses((status = 200, description = "The alert settings", body = tollbooth::alerts::AlertSettings, example = json!({"email_enabled": true, "spike_enabled": true, "spike_percent": 200, "spike_min_usd": "1", "error_rate_percent": 5, "error_min_requests": 20, "latency_p95_ms": null, "notify_owners": true, "notify_admins": false, "extra_recipients": [], "extra_recipient_states": []}))),
)]
pub async fn get_settings(State(state): State<AppState>, ManageKey(key): ManageKey) -> Result<Json<AlertSettings>, ApiError> {
    Ok(Json(settings::get(&state.db, &key.org_id).await?))
}

/// Saves the settings; `extra_recipient_states` in the body is ignored (newly
/// listed extra addresses are sent a confirmation mail).
#[utoipa::path(
    put, path = "/api/v1/alert-settings", operation_id = "put_alert_settings", tag = "alerts", security(("api_key" = [])),
    request_body(content = tollbooth::alerts::AlertSettings, example = json!({"email_enabled": true, "spike_enabled": true, "spike_percent": 200, "spike_min_usd": "1", "error_rate_percent": 5, "error_min_requests": 20, "latency_p95_ms": null, "notify_owners": true, "notify_admins": false, "extra_recipients": [], "extra_recipient_states": []})),
    responses((status = 200, description = "Saved", body = tollbooth::alerts::AlertSettings, example = json!({"email_enabled": true, "spike_enabled": true, "spike_percent": 200, "spike_min_usd": "1", "error_rate_percent": 5, "error_min_requests": 20, "latency_p95_ms": null, "notify_owners": true, "notify_admins": false, "extra_recipients": [], "extra_recipient_states": []}))),
)]
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

#[utoipa::path(
    get, path = "/api/v1/webhooks", operation_id = "list_webhooks", tag = "webhooks", security(("api_key" = [])),
    responses((status = 200, description = "Webhook endpoints", body = Vec<tollbooth::alerts::EndpointView>, example = json!([{"id": "0190a0a0-0000-7000-8000-0000000000d1", "url": "https://example.com/hooks/tollbooth", "event_types": ["alert.created", "usage.recorded"], "enabled": true, "consecutive_failures": 0, "disabled_reason": null, "created_at": "2026-12-01T10:00:00Z"}]))),
)]
pub async fn list_webhooks(State(state): State<AppState>, ManageKey(key): ManageKey) -> Result<Json<Vec<EndpointView>>, ApiError> {
    Ok(Json(webhooks::list(&state.db, &key.org_id).await?))
}

#[derive(Debug, Deserialize)]
pub struct NewEndpoint {
    pub url: String,
    /// What it receives; absent: `["alert.created"]`.
    pub event_types: Option<Vec<String>>,
}

/// Adds an endpoint: a URL whose host is or resolves to a non-public
/// address is a 422 naming `url` (unless the server allows private ones);
/// an unknown event type is a 422 naming `event_types`.
#[utoipa::path(
    post, path = "/api/v1/webhooks", operation_id = "create_webhook", tag = "webhooks", security(("api_key" = [])),
    description = "Adds an endpoint receiving `event_types` (default `[\"alert.created\"]`); a URL whose host is not public is 422 naming `url`, an unknown event type 422 naming `event_types`.",
    request_body(content = crate::openapi::schemas::NewWebhook),
    responses((status = 201, description = "Created; the signing secret is shown once", body = tollbooth::alerts::CreatedEndpoint,
        example = json!({"endpoint": {"id": "0190a0a0-0000-7000-8000-0000000000d1", "url": "https://example.com/hooks/tollbooth", "event_types": ["alert.created", "usage.recorded"], "enabled": true, "consecutive_failures": 0, "disabled_reason": null, "created_at": "2026-12-01T10:00:00Z"}, "secret": "whsec_…"}))),
)]
pub async fn create_webhook(
    State(state): State<AppState>,
    ManageKey(key): ManageKey,
    origin: RequestOrigin,
    req: Result<Json<NewEndpoint>, JsonRejection>,
) -> Result<(StatusCode, Json<CreatedEndpoint>), ApiError> {
    let Json(input) = req.map_err(ApiError::from)?;
    let by = origin.key(&key);
    let created = webhooks::create(&state.db, &key.org_id, &input.url, input.event_types.as_deref(), state.ctx.egress, &by).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[derive(Debug, Deserialize)]
pub struct EndpointChange {
    pub event_types: Vec<String>,
}

/// Changes what an endpoint receives.
#[utoipa::path(
    patch, path = "/api/v1/webhooks/{id}", operation_id = "update_webhook", tag = "webhooks", security(("api_key" = [])),
    description = "Sets the event types the endpoint receives; an unknown type, or none, is 422 naming `event_types`.",
    params(("id" = String, Path, example = "0190a0a0-0000-7000-8000-00000000abcd", description = "The endpoint's id")),
    request_body(content = crate::openapi::schemas::WebhookChange),
    responses(
        (status = 200, description = "Updated", body = tollbooth::alerts::EndpointView, example = json!({"id": "0190a0a0-0000-7000-8000-0000000000d1", "url": "https://example.com/hooks/tollbooth", "event_types": ["usage.recorded"], "enabled": true, "consecutive_failures": 0, "disabled_reason": null, "created_at": "2026-12-01T10:00:00Z"})),
        (status = 404, description = "No such endpoint in the organization", body = crate::openapi::schemas::ErrorBody),
        (status = 422, description = "An unknown event type, or none", body = crate::openapi::schemas::ErrorBody),
    ),
)]
pub async fn update_webhook(
    State(state): State<AppState>,
    ManageKey(key): ManageKey,
    origin: RequestOrigin,
    Path(id): Path<String>,
    req: Result<Json<EndpointChange>, JsonRejection>,
) -> Result<Json<EndpointView>, ApiError> {
    let Json(input) = req.map_err(ApiError::from)?;
    Ok(Json(webhooks::set_event_types(&state.db, &key.org_id, &id, &input.event_types, &origin.key(&key)).await?))
}

#[utoipa::path(
    delete, path = "/api/v1/webhooks/{id}", operation_id = "delete_webhook", tag = "webhooks", security(("api_key" = [])),
    params(("id" = String, Path, example = "0190a0a0-0000-7000-8000-00000000abcd", description = "The endpoint's id")),
    responses((status = 204, description = "Deleted")),
)]
pub async fn delete_webhook(
    State(state): State<AppState>,
    ManageKey(key): ManageKey,
    origin: RequestOrigin,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    webhooks::delete(&state.db, &key.org_id, &id, &origin.key(&key)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post, path = "/api/v1/webhooks/{id}/enable", operation_id = "enable_webhook", tag = "webhooks", security(("api_key" = [])),
    params(("id" = String, Path, example = "0190a0a0-0000-7000-8000-00000000abcd", description = "The endpoint's id")),
    responses((status = 200, description = "Enabled again", body = tollbooth::alerts::EndpointView, example = json!({"id": "0190a0a0-0000-7000-8000-0000000000d1", "url": "https://example.com/hooks/tollbooth", "event_types": ["alert.created", "usage.recorded"], "enabled": true, "consecutive_failures": 0, "disabled_reason": null, "created_at": "2026-12-01T10:00:00Z"}))),
)]
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

#[utoipa::path(
    get, path = "/api/v1/webhooks/deliveries", operation_id = "list_webhook_deliveries", tag = "webhooks", security(("api_key" = [])),
    params(crate::openapi::schemas::DeliveriesParams),
    responses((status = 200, description = "Delivery attempts, newest first", body = Vec<tollbooth::alerts::DeliveryView>, example = json!([]))),
)]
pub async fn deliveries(
    State(state): State<AppState>,
    ManageKey(key): ManageKey,
    q: Result<Query<LimitQuery>, QueryRejection>,
) -> Result<Json<Vec<DeliveryView>>, ApiError> {
    let Query(q) = q.map_err(ApiError::from)?;
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
