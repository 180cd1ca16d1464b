//! `GET /metrics` for the operator's Prometheus, and the HTTP figures.
//!
//! Off by default. `TOLLBOOTH_METRICS_ADDR` serves it on a listener of its
//! own (for a private network or a sidecar: no token), and
//! `TOLLBOOTH_METRICS_TOKEN` serves it on the main address to a scraper
//! that sends `Authorization: Bearer <token>`. Without either, `/metrics` is
//! 404 like any unknown path.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tollbooth::db::Db;
use tollbooth::metrics::{HttpLabels, RouteLabels, CONTENT_TYPE};

use crate::api::error::ApiError;
use crate::state::AppState;

/// Counts every request by route template, method and status, with its
/// duration (a layer on the router: the matched route is known).
pub async fn track(State(m): State<std::sync::Arc<tollbooth::metrics::Metrics>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().as_str().to_string();
    let route = req.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let resp = next.run(req).await;
    m.http_requests.get_or_create(&HttpLabels { method: method.clone(), route: route.clone(), status: resp.status().as_u16() }).inc();
    m.http_seconds.get_or_create(&RouteLabels { method, route }).observe(started.elapsed().as_secs_f64());
    resp
}

async fn render(db: &Db) -> Response {
    let body = db.metrics().render(db, tollbooth::clock::now_ms()).await;
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], body).into_response()
}

/// `GET /metrics` on the main address: only with the metrics token.
#[utoipa::path(
    get, path = "/metrics", operation_id = "metrics", tag = "operations",
    description = "Prometheus text format. Served here only when TOLLBOOTH_METRICS_TOKEN is set (else 404), to a scraper sending it; TOLLBOOTH_METRICS_ADDR serves it on a listener of its own without a token.",
    security(("metrics_token" = [])),
    responses(
        (status = 200, description = "The figures", content_type = "application/openmetrics-text", body = String, example = "# TYPE tollbooth_http_requests total\n"),
        (status = 401, description = "Missing or wrong token", body = crate::openapi::schemas::ErrorBody),
        (status = 404, description = "Metrics are not served on this address", body = crate::openapi::schemas::ErrorBody),
    ),
)]
pub async fn scrape(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(token) = state.metrics_token.as_deref() else { return ApiError::not_found().into_response() };
    let sent = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")).map(str::trim);
    // Compared as digests: the time taken says nothing about the token.
    let ok = sent.is_some_and(|s| tollbooth::secrets::digest(s) == tollbooth::secrets::digest(token));
    if !ok {
        return ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "send the metrics token: Authorization: Bearer <TOLLBOOTH_METRICS_TOKEN>")
            .into_response();
    }
    render(&state.db).await
}

/// The router of the metrics listener (`TOLLBOOTH_METRICS_ADDR`).
pub fn listener_routes(db: Db) -> Router {
    Router::new().route("/metrics", get(|State(db): State<Db>| async move { render(&db).await })).with_state(db)
}
