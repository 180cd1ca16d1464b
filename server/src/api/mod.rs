//! The REST API under `/api/v1`, authenticated by organization API keys.

pub mod admin;
pub mod alerts;
pub mod audit;
pub mod auth;
pub mod billing;
pub mod body;
pub mod budgets;
pub mod embed;
pub mod users;
pub mod error;
pub mod events;
pub mod export;
pub mod keys;
pub mod providers;
pub mod quota;
pub mod recommendations;
pub mod usage;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;

use self::auth::Limited;
use self::error::ApiError;
use crate::state::AppState;

/// One day in milliseconds (default ranges of the read APIs).
pub(crate) const DAY_MS: i64 = 86_400_000;

/// An optional RFC 3339 query parameter as UTC ms, or `default` when absent.
pub(crate) fn time_param(field: &'static str, raw: Option<&str>, default: i64) -> Result<i64, ApiError> {
    match raw {
        None => Ok(default),
        Some(s) => tollbooth::clock::parse_rfc3339(s)
            .ok_or_else(|| tollbooth::Error::invalid(field, "must be an RFC 3339 time such as 2026-01-31T00:00:00Z").into()),
    }
}

/// Routes mounted at `/api/v1`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/me", get(me))
        .route(
            "/events",
            post(events::ingest)
                .layer(DefaultBodyLimit::max(body::MAX_BODY_BYTES))
                .layer(axum::middleware::from_fn(body::refuse_oversized))
                .get(export::list),
        )
        .route("/usage/export", get(export::export))
        .route("/usage", get(usage::report))
        .route("/quota/check", post(quota::check))
        .route("/reservations", post(quota::reserve))
        .route("/reservations/{id}", get(quota::get).delete(quota::release))
        .route(
            "/reservations/{id}/commit",
            post(quota::commit)
                .layer(DefaultBodyLimit::max(body::MAX_BODY_BYTES))
                .layer(axum::middleware::from_fn(body::refuse_oversized)),
        )
        .route("/resources/documents", post(quota::documents))
        .route("/plan", get(quota::plan))
        .route("/estimate", post(quota::estimate))
        .route("/budgets", get(budgets::list).post(budgets::create))
        .route("/budgets/{id}", axum::routing::put(budgets::update).delete(budgets::delete))
        .route("/budgets/{id}/status", get(budgets::status))
        .route("/alerts", get(alerts::list))
        .route("/alerts/{id}/ack", post(alerts::ack))
        .route("/alert-settings", get(alerts::get_settings).put(alerts::put_settings))
        .route("/webhooks", get(alerts::list_webhooks).post(alerts::create_webhook))
        .route("/webhooks/deliveries", get(alerts::deliveries))
        .route("/webhooks/{id}", axum::routing::delete(alerts::delete_webhook).patch(alerts::update_webhook))
        .route("/webhooks/{id}/enable", post(alerts::enable_webhook))
        .route("/billing", get(billing::overview))
        .route("/invoices", get(billing::list_invoices))
        .route("/invoices/{id}", get(billing::get_invoice))
        .route("/invoices/{id}/csv", get(billing::invoice_csv))
        .route("/credits", get(billing::credits))
        .route("/keys/{id}/model-allowlist", axum::routing::put(keys::put_model_allowlist))
        .route("/providers", get(providers::list))
        .route("/providers/{name}", axum::routing::put(providers::put).delete(providers::delete))
        .route("/audit-events", get(audit::trail).post(audit::write))
        .route("/embed-tokens", post(embed::create_token))
        .route("/embed-origins", get(embed::get_origins).put(embed::put_origins))
        .route("/users", get(users::list))
        .route("/users/{user_id}/limits", get(users::get_limits).put(users::put_limits).delete(users::delete_limits))
        .route("/user-limits", get(users::get_settings).put(users::put_settings))
        .route("/recommendations", get(recommendations::list))
        .route("/recommendations/{key}/dismiss", post(recommendations::dismiss))
        .fallback(|| async { ApiError::not_found() })
}

/// `GET /api/v1/me`: who this key acts for.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MeResponse {
    pub org_id: String,
    pub org_name: String,
    pub key_id: String,
    pub key_name: String,
}

#[utoipa::path(
    get, path = "/api/v1/me", operation_id = "me", tag = "keys", security(("api_key" = [])),
    responses((status = 200, description = "The organization and key this key acts for (any scope)", body = MeResponse,
        example = json!({"org_id": "0190a0a0-0000-7000-8000-000000000001", "org_name": "Acme", "key_id": "0190a0a0-0000-7000-8000-0000000000a1", "key_name": "backend"}))),
)]
pub(crate) async fn me(Limited(p): Limited) -> Json<MeResponse> {
    Json(MeResponse { org_id: p.org_id, org_name: p.org_name, key_id: p.key_id, key_name: p.key_name })
}
