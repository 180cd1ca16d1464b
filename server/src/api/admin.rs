//! The platform admin REST API under `/api/admin`, authenticated by
//! `Authorization: Bearer tb_admin_…` (see `tollbooth::admin`).

use axum::extract::{FromRequestParts, Query};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use tollbooth::accounts::UserView;
use tollbooth::admin::{self, Bucket, UsageMetric};

use super::error::ApiError;
use crate::state::AppState;

/// The platform admin a request authenticated as.
#[derive(Debug, Clone)]
pub struct AdminToken(pub UserView);

impl FromRequestParts<AppState> for AdminToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or(tollbooth::Error::Unauthorized("missing admin token; send Authorization: Bearer tb_admin_…"))?;
        let (user, _) = admin::authenticate_token(&state.db, token).await?;
        Ok(AdminToken(user))
    }
}

/// Routes mounted at `/api/admin`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tenants", get(tenants))
        .route("/usage", get(usage))
        .fallback(|| async { ApiError::not_found() })
}

#[derive(Debug, Deserialize)]
pub struct TenantsQuery {
    pub search: Option<String>,
}

async fn tenants(_: AdminToken, state: axum::extract::State<AppState>, Query(q): Query<TenantsQuery>) -> Result<Json<Value>, ApiError> {
    let rows = admin::tenants(&state.db, q.search.as_deref().unwrap_or_default()).await?;
    Ok(Json(json!({ "tenants": rows })))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageParams {
    pub tenant_id: Option<String>,
    pub metric: Option<String>,
    pub period: Option<String>,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
}

async fn usage(_: AdminToken, state: axum::extract::State<AppState>, Query(q): Query<UsageParams>) -> Result<Json<Value>, ApiError> {
    let metric = q.metric.as_deref().map(UsageMetric::parse).transpose()?.unwrap_or(UsageMetric::Cost);
    let bucket = q.period.as_deref().map(Bucket::parse).transpose()?.unwrap_or(Bucket::Daily);
    let (from, to) = admin::parse_range(q.start_date.as_deref(), q.end_date.as_deref())?;
    let tenant = q.tenant_id.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let r = admin::usage_report(&state.db, tenant, metric, bucket, from, to).await?;
    let value = |tokens: i64, cost: &str| match metric {
        UsageMetric::Tokens => json!(tokens),
        UsageMetric::Cost => json!(cost),
    };
    let series: Vec<Value> = r.series.iter().map(|p| json!({ "date": p.bucket, "value": value(p.tokens, &p.cost_usd) })).collect();
    let mut body = json!({
        "tenantId": r.tenant_id,
        "metric": r.metric,
        "period": r.period,
        "startDate": r.start_date,
        "endDate": r.end_date,
        "total": value(r.total_tokens, &r.total_cost_usd),
        "series": series,
    });
    if let Some(top) = r.top_consumers {
        body["top_consumers"] = top
            .iter()
            .map(|c| json!({ "tenantId": c.org_id, "name": c.org_name, "value": value(c.tokens, &c.cost_usd) }))
            .collect();
    }
    Ok(Json(body))
}
