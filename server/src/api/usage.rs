//! `GET /api/v1/usage`: the usage report, read from the narrow rollups.

use axum::extract::{Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use tollbooth::clock::{now_ms, to_rfc3339};
use tollbooth::metering::usage::{self, UsageQuery, UsageRow};

use super::auth::ReadKey;
use super::error::ApiError;
use super::{time_param, DAY_MS};
use crate::state::AppState;


#[derive(Debug, Deserialize)]
pub struct Params {
    from: Option<String>,
    to: Option<String>,
    group_by: Option<String>,
    model: Option<String>,
    user_id: Option<String>,
    project_id: Option<String>,
    feature: Option<String>,
    limit: Option<i64>,
}

/// The usage report.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UsageResponse {
    from: String,
    to: String,
    #[schema(value_type = Vec<crate::openapi::schemas::GroupBy>)]
    group_by: Vec<&'static str>,
    time_zone: String,
    rows: Vec<UsageRow>,
    /// Groups in all: more than `rows` when `limit` cut a grouping by
    /// dimensions (largest cost first).
    groups: i64,
}

/// Defaults: the last 30 days, grouped by day.
#[utoipa::path(
    get, path = "/api/v1/usage", operation_id = "usage_report", tag = "usage", security(("api_key" = [])),
    description = "Usage grouped by time and/or dimensions, read from the rollups (scope `read`).",
    params(crate::openapi::schemas::UsageParams),
    responses((status = 200, description = "The report", body = UsageResponse,
        example = json!({"from": "2026-11-01T00:00:00Z", "to": "2026-12-01T00:00:00Z", "group_by": ["day"], "time_zone": "UTC", "rows": [], "groups": 0}))),
)]
pub async fn report(
    State(state): State<AppState>,
    ReadKey(key): ReadKey,
    params: Result<Query<Params>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<UsageResponse>, ApiError> {
    let Query(p) = params.map_err(ApiError::from)?;
    let to = time_param("to", p.to.as_deref(), now_ms())?;
    let from = time_param("from", p.from.as_deref(), to - 30 * DAY_MS)?;
    UsageQuery::check_range(from, to)?;
    let q = UsageQuery {
        from_ms: from,
        to_ms: to,
        group_by: UsageQuery::parse_group_by(p.group_by.as_deref())?,
        model: p.model,
        user_id: p.user_id,
        project_id: p.project_id,
        feature: p.feature,
        limit: p.limit,
    };
    let report = usage::report(&state.db, &key.org_id, &key.time_zone, &q).await?;
    Ok(Json(UsageResponse {
        from: to_rfc3339(from),
        to: to_rfc3339(to),
        group_by: q.group_by.iter().map(|g| g.name()).collect(),
        time_zone: key.time_zone,
        rows: report.rows,
        groups: report.groups,
    }))
}
