//! The audit log as CSV for signed-in browsers: `/o/{org}/audit.csv` (the
//! organization's owners and admins, dates in its zone) and
//! `/admin/audit.csv` (platform admins, every organization, dates in UTC).
//! Both take the log page's filter: `actor`, `action`, `result`, `from`, `to`.
//!
//! And the organization's trail over REST: `POST /api/v1/audit-events`
//! (a product's own `app.` entries, key scope `ingest`, rate limited) and
//! `GET /api/v1/audit-events` (scope `read`, the same filters, keyset paging).

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use tollbooth::audit::{self, AuditFilter, AuditPage};
use tollbooth::orgs::Role;

use super::auth::{EnforceKey, ReadKey, SessionUser};
use super::body::ApiQuery;
use super::error::ApiError;
use crate::state::AppState;

/// Every matching entry (the page shows the newest 500).
const CSV_LIMIT: i64 = 100_000;

fn csv_response(name: &str, body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        body,
    )
        .into_response()
}

/// `GET /o/{org}/audit.csv`.
pub async fn org_csv(
    State(state): State<AppState>,
    Path(org_id): Path<String>,
    ApiQuery(f): ApiQuery<AuditFilter>,
    user: SessionUser,
) -> Result<Response, ApiError> {
    let scope = user.member_scope(&state, &org_id).await?;
    scope.require(Role::Admin)?;
    let org = tollbooth::orgs::get(&state.db, &scope).await?;
    let entries = audit::list(&state.db, Some(&org.id), &f, &org.time_zone, CSV_LIMIT).await?;
    Ok(csv_response(&format!("tollbooth-audit-{}.csv", org.id), audit::csv(&entries)))
}

/// `GET /admin/audit.csv`.
pub async fn admin_csv(
    State(state): State<AppState>,
    ApiQuery(f): ApiQuery<AuditFilter>,
    SessionUser(user): SessionUser,
) -> Result<Response, ApiError> {
    if !user.is_platform_admin {
        return Err(tollbooth::Error::Forbidden("platform admins only".into()).into());
    }
    let entries = audit::list(&state.db, None, &f, "UTC", CSV_LIMIT).await?;
    Ok(csv_response("tollbooth-audit.csv", audit::csv(&entries)))
}

/// `POST /api/v1/audit-events`: one entry or `{events: [...]}` (≤ 100),
/// written in one transaction; 201 when something was written, 200 when
/// every entry was a duplicate of one sent before (by `id`).
#[utoipa::path(
    post, path = "/api/v1/audit-events", operation_id = "write_audit_events", tag = "audit", security(("api_key" = [])),
    description = "Writes the product's own `app.<name>` entries into the organization's hash-chained trail, once per id.",
    request_body(content = crate::openapi::schemas::AuditEventsBody, example = json!({"id": "kb-upload-81", "action": "app.kb.uploaded", "target": "doc 81", "details": {"pages": 3}})),
    responses(
        (status = 201, description = "Something was written", body = crate::openapi::schemas::AuditEventsWritten,
            example = json!({"recorded": 1, "duplicates": 0, "results": [{"id": "kb-upload-81", "status": "recorded", "entry_id": "0190a0a0-0000-7000-8000-0000000000f1"}]})),
        (status = 200, description = "Every entry was a duplicate", body = crate::openapi::schemas::AuditEventsWritten),
    ),
)]
pub async fn write(
    State(state): State<AppState>,
    EnforceKey(key): EnforceKey,
    req: Result<Json<Value>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let Json(body) = req.map_err(ApiError::from)?;
    let events = audit::parse_app_events(body)?;
    let results = audit::record_app_events(&state.db, &key, &events).await?;
    let recorded = results.iter().filter(|r| r.status == "recorded").count();
    let status = if recorded > 0 { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(json!({ "recorded": recorded, "duplicates": results.len() - recorded, "results": results }))))
}

/// The trail's query: the audit page's filters, `before` (the previous
/// page's `next_before`) and `limit` (1–500, default 100).
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrailQuery {
    pub actor: String,
    pub action: String,
    pub result: String,
    pub from: String,
    pub to: String,
    pub before: Option<i64>,
    pub limit: Option<i64>,
}

/// `GET /api/v1/audit-events`: the organization's entries, system and app,
/// newest first, dates in its time zone.
#[utoipa::path(
    get, path = "/api/v1/audit-events", operation_id = "list_audit_events", tag = "audit", security(("api_key" = [])),
    params(crate::openapi::schemas::TrailParams),
    responses((status = 200, description = "Entries, newest first, and the next page's cursor", body = tollbooth::audit::AuditPage, example = json!({"entries": [], "next_before": null}))),
)]
pub async fn trail(State(state): State<AppState>, ReadKey(key): ReadKey, ApiQuery(q): ApiQuery<TrailQuery>) -> Result<Json<AuditPage>, ApiError> {
    let filter = AuditFilter { actor: q.actor, action: q.action, result: q.result, from: q.from, to: q.to };
    Ok(Json(audit::page_of_trail(&state.db, &key.org_id, &filter, &key.time_zone, q.before, q.limit.unwrap_or(100)).await?))
}
