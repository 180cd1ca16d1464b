//! The platform admin REST API under `/api/admin`, authenticated by
//! `Authorization: Bearer tb_admin_…` (see `tollbooth::admin`).

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Deserializer};
use serde_json::{json, Value};
use tollbooth::accounts::UserView;
use tollbooth::admin::{self, Bucket, UsageMetric};
use tollbooth::plans::{self, Limit, LimitInput, Metric, OrgPlan};
use tollbooth::pricing::NanoUsd;

use super::auth::RequestOrigin;
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
        .route("/tenants/{id}/limits", get(limits).put(set_limit).delete(clear_limit))
        .route("/tenants/{id}/trial", get(trial).post(start_trial).delete(cancel_trial))
        .route("/tenants/{id}/trial/extend", axum::routing::post(extend_trial))
        .route("/trials", get(trial_stats))
        .fallback(|| async { ApiError::not_found() })
}

#[derive(Debug, Deserialize)]
pub struct TenantsQuery {
    pub search: Option<String>,
    /// `true`: only organizations with an active trial.
    pub trialing: Option<String>,
}

#[utoipa::path(
    get, path = "/api/admin/tenants", operation_id = "admin_list_tenants", tag = "admin", security(("admin_token" = [])),
    params(crate::openapi::schemas::TenantsParams),
    responses((status = 200, description = "Organizations", body = crate::openapi::schemas::TenantList,
        example = json!({"tenants": [{"id": "0190a0a0-0000-7000-8000-000000000001", "name": "Acme", "plan": "pro", "status": "active", "suspended_reason": null, "created_at": "2026-01-05T09:00:00Z", "month_cost_usd": "1204.330000000", "members": 4, "trial_ends_at": null}]}))),
)]
pub(crate) async fn tenants(_: AdminToken, state: axum::extract::State<AppState>, super::body::ApiQuery(q): super::body::ApiQuery<TenantsQuery>) -> Result<Json<Value>, ApiError> {
    let trialing = match q.trialing.as_deref().map(str::trim) {
        None | Some("") | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(tollbooth::Error::invalid("trialing", "must be true or false").into()),
    };
    let rows = admin::tenants(&state.db, q.search.as_deref().unwrap_or_default(), trialing).await?;
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

#[utoipa::path(
    get, path = "/api/admin/usage", operation_id = "admin_usage", tag = "admin", security(("admin_token" = [])),
    params(crate::openapi::schemas::AdminUsageParams),
    responses((status = 200, description = "A series in UTC buckets, from the daily rollups", body = crate::openapi::schemas::AdminUsage,
        example = json!({"tenantId": null, "metric": "cost", "period": "daily", "startDate": "2026-11-01", "endDate": "2026-11-30", "total": "1204.33", "series": [{"date": "2026-11-01", "value": "40.10"}], "top_consumers": []}))),
)]
pub(crate) async fn usage(_: AdminToken, state: axum::extract::State<AppState>, super::body::ApiQuery(q): super::body::ApiQuery<UsageParams>) -> Result<Json<Value>, ApiError> {
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

/// A limit as the REST API shows it: cost in USD as a decimal string, other
/// metrics as whole numbers.
fn limit_json(l: &Limit) -> Value {
    let value = match l.metric {
        Metric::CostUsd => json!(NanoUsd::from_nanos(l.value).to_usd_string()),
        _ => json!(l.value),
    };
    json!({
        "limit": value,
        "hard": l.hard,
        "overage_usd": l.overage_nanos.map(|n| NanoUsd::from_nanos(n).to_usd_string()),
    })
}

/// The tenant's limits: the plan's, the platform admin's override (absent:
/// none; `null`: overridden to unlimited) and the one in force.
fn limits_json(plan: &OrgPlan) -> Value {
    let limits: Vec<Value> = plan
        .limits
        .iter()
        .map(|l| {
            let mut v = json!({
                "metric": l.metric,
                "period": l.period,
                "plan": l.plan.as_ref().map(limit_json),
                "effective": l.effective().map(limit_json),
            });
            if let Some(o) = &l.overridden {
                v["override"] = o.as_ref().map_or(Value::Null, limit_json);
            }
            v
        })
        .collect();
    json!({ "tenant_id": plan.org_id, "plan": plan.plan_code, "plan_name": plan.plan_name, "limits": limits })
}

/// `GET /api/admin/tenants/{id}/limits`.
#[utoipa::path(
    get, path = "/api/admin/tenants/{id}/limits", operation_id = "admin_get_limits", tag = "admin", security(("admin_token" = [])),
    params(("id" = String, Path, example = "0190a0a0-0000-7000-8000-00000000abcd", description = "The organization's id")),
    responses((status = 200, description = "The tenant's limits", body = crate::openapi::schemas::TenantLimits, example = json!({"tenant_id": "0190a0a0-0000-7000-8000-000000000001", "plan": "pro", "plan_name": "Pro", "limits": []}))),
)]
pub(crate) async fn limits(_: AdminToken, State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    if !tollbooth::ids::is_valid_id(&id) {
        return Err(tollbooth::Error::NotFound("organization").into());
    }
    Ok(Json(limits_json(&plans::org_plan(&state.db, &id).await?)))
}

/// A field that is present, even as `null`, is `Some`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// `PUT /api/admin/tenants/{id}/limits` body: `limit` is required, `null`
/// for unlimited; a number or a decimal string (USD for `cost_usd`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LimitBody {
    metric: String,
    period: String,
    #[serde(default, deserialize_with = "present")]
    limit: Option<Value>,
    /// Default `true`: a custom limit refuses what would pass it.
    hard: Option<bool>,
    overage_usd: Option<String>,
}

/// `PUT /api/admin/tenants/{id}/limits`: sets one custom limit (the
/// drill-down's form over REST), audited as `plan.override_set`.
#[utoipa::path(
    put, path = "/api/admin/tenants/{id}/limits", operation_id = "admin_set_limit", tag = "admin", security(("admin_token" = [])),
    description = "Sets one custom limit; audited as `plan.override_set`.",
    params(("id" = String, Path, example = "0190a0a0-0000-7000-8000-00000000abcd", description = "The organization's id")),
    request_body(content = crate::openapi::schemas::SetLimit),
    responses((status = 200, description = "The tenant's limits", body = crate::openapi::schemas::TenantLimits, example = json!({"tenant_id": "0190a0a0-0000-7000-8000-000000000001", "plan": "pro", "plan_name": "Pro", "limits": []}))),
)]
pub(crate) async fn set_limit(
    AdminToken(admin): AdminToken,
    State(state): State<AppState>,
    Path(id): Path<String>,
    origin: RequestOrigin,
    body: Result<Json<LimitBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(b) = body.map_err(ApiError::from)?;
    let value = match b.limit {
        None => return Err(tollbooth::Error::invalid("limit", "is required: a number, a decimal string, or null for unlimited").into()),
        Some(Value::Null) => String::new(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) if !s.trim().is_empty() => s,
        Some(_) => return Err(tollbooth::Error::invalid("limit", "must be a number, a decimal string, or null for unlimited").into()),
    };
    let input = LimitInput {
        metric: b.metric,
        period: b.period,
        value,
        hard: b.hard.unwrap_or(true),
        overage_usd: b.overage_usd.unwrap_or_default(),
    };
    Ok(Json(limits_json(&plans::set_override(&state.db, &admin, &id, &input, origin.audit()).await?)))
}

#[derive(Debug, Deserialize)]
pub(crate) struct ClearQuery {
    metric: Option<String>,
    period: Option<String>,
}

/// `DELETE /api/admin/tenants/{id}/limits?metric=…&period=…`: the plan's
/// limit applies again; audited as `plan.override_clear`.
#[utoipa::path(
    delete, path = "/api/admin/tenants/{id}/limits", operation_id = "admin_clear_limit", tag = "admin", security(("admin_token" = [])),
    description = "Removes a custom limit (404 when there is none); audited as `plan.override_clear`.",
    params(("id" = String, Path, example = "0190a0a0-0000-7000-8000-00000000abcd", description = "The organization's id"), crate::openapi::schemas::ClearLimitParams),
    responses((status = 200, description = "The tenant's limits", body = crate::openapi::schemas::TenantLimits, example = json!({"tenant_id": "0190a0a0-0000-7000-8000-000000000001", "plan": "pro", "plan_name": "Pro", "limits": []}))),
)]
pub(crate) async fn clear_limit(
    AdminToken(admin): AdminToken,
    State(state): State<AppState>,
    Path(id): Path<String>,
    origin: RequestOrigin,
    super::body::ApiQuery(q): super::body::ApiQuery<ClearQuery>,
) -> Result<Json<Value>, ApiError> {
    let metric = q.metric.ok_or(tollbooth::Error::invalid("metric", "is required (query parameter)"))?;
    let period = q.period.ok_or(tollbooth::Error::invalid("period", "is required (query parameter)"))?;
    Ok(Json(limits_json(&plans::clear_override(&state.db, &admin, &id, &metric, &period, origin.audit()).await?)))
}

/// The platform admin as the audit log names them, from this request.
fn admin_by(admin: &UserView, origin: RequestOrigin) -> tollbooth::audit::By {
    tollbooth::audit::By::user(&admin.id, &admin.email).from(origin.ip, origin.user_agent)
}

/// `GET /api/admin/tenants/{id}/trial`: the newest trial, active or ended (`null`: none).
#[utoipa::path(
    get, path = "/api/admin/tenants/{id}/trial", operation_id = "admin_get_trial", tag = "admin", security(("admin_token" = [])),
    params(("id" = String, Path, example = "0190a0a0-0000-7000-8000-00000000abcd", description = "The organization's id")),
    responses((status = 200, description = "The newest trial, active or ended (`null`: none)", body = crate::openapi::schemas::TrialAnswer, example = json!({"trial": {"id": "0190a0a0-0000-7000-8000-0000000000t1", "org_id": "0190a0a0-0000-7000-8000-000000000001", "plan_code": "pro", "plan_name": "Pro", "started_at": "2026-12-01T00:00:00Z", "ends_at": "2026-12-15T00:00:00Z", "status": "active", "source": "admin", "days_left": 9, "previous_plan_code": "starter", "converted_plan": null, "ended_at": null}}))),
)]
pub(crate) async fn trial(_: AdminToken, State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let now = tollbooth::clock::now_ms();
    let t = match tollbooth::trials::current(&state.db, &id, now).await? {
        Some(t) => Some(t),
        None => tollbooth::trials::latest(&state.db, &id, now).await?,
    };
    Ok(Json(json!({ "trial": t })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StartTrialBody {
    plan: String,
    days: Value,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExtendTrialBody {
    days: Value,
    reason: Option<String>,
}

/// Days as JSON sends them: a whole number or its text.
fn days_text(v: &Value) -> Result<String, ApiError> {
    match v {
        Value::Number(n) => Ok(n.to_string()),
        Value::String(s) => Ok(s.clone()),
        _ => Err(tollbooth::Error::invalid("days", "must be a whole number of days").into()),
    }
}

/// `POST /api/admin/tenants/{id}/trial` `{plan, days}`: starts a trial of
/// any paid plan and length (1 to 365 days); audited as `trial.start`.
#[utoipa::path(
    post, path = "/api/admin/tenants/{id}/trial", operation_id = "admin_start_trial", tag = "admin", security(("admin_token" = [])),
    params(("id" = String, Path, example = "0190a0a0-0000-7000-8000-00000000abcd", description = "The organization's id")),
    request_body(content = crate::openapi::schemas::StartTrial),
    responses(
        (status = 201, description = "Started; audited as `trial.start`", body = crate::openapi::schemas::TrialAnswer, example = json!({"trial": {"id": "0190a0a0-0000-7000-8000-0000000000t1", "org_id": "0190a0a0-0000-7000-8000-000000000001", "plan_code": "pro", "plan_name": "Pro", "started_at": "2026-12-01T00:00:00Z", "ends_at": "2026-12-15T00:00:00Z", "status": "active", "source": "admin", "days_left": 9, "previous_plan_code": "starter", "converted_plan": null, "ended_at": null}})),
        (status = 409, description = "A trial runs (`trial`) or the organization already pays (`plan`)", body = crate::openapi::schemas::ErrorBody),
    ),
)]
pub(crate) async fn start_trial(
    AdminToken(admin): AdminToken,
    State(state): State<AppState>,
    Path(id): Path<String>,
    origin: RequestOrigin,
    body: Result<Json<StartTrialBody>, JsonRejection>,
) -> Result<(axum::http::StatusCode, Json<Value>), ApiError> {
    let Json(b) = body.map_err(ApiError::from)?;
    let days = days_text(&b.days)?;
    let t = tollbooth::trials::start_for(&state.db, &admin, &id, &b.plan, &days, &admin_by(&admin, origin), tollbooth::clock::now_ms()).await?;
    Ok((axum::http::StatusCode::CREATED, Json(json!({ "trial": t }))))
}

/// `POST /api/admin/tenants/{id}/trial/extend` `{days, reason}`: moves the
/// end `days` later; the reason is required; audited as `trial.extend`.
#[utoipa::path(
    post, path = "/api/admin/tenants/{id}/trial/extend", operation_id = "admin_extend_trial", tag = "admin", security(("admin_token" = [])),
    params(("id" = String, Path, example = "0190a0a0-0000-7000-8000-00000000abcd", description = "The organization's id")),
    request_body(content = crate::openapi::schemas::ExtendTrial),
    responses((status = 200, description = "Extended; audited as `trial.extend`", body = crate::openapi::schemas::TrialAnswer, example = json!({"trial": {"id": "0190a0a0-0000-7000-8000-0000000000t1", "org_id": "0190a0a0-0000-7000-8000-000000000001", "plan_code": "pro", "plan_name": "Pro", "started_at": "2026-12-01T00:00:00Z", "ends_at": "2026-12-15T00:00:00Z", "status": "active", "source": "admin", "days_left": 9, "previous_plan_code": "starter", "converted_plan": null, "ended_at": null}}))),
)]
pub(crate) async fn extend_trial(
    AdminToken(admin): AdminToken,
    State(state): State<AppState>,
    Path(id): Path<String>,
    origin: RequestOrigin,
    body: Result<Json<ExtendTrialBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(b) = body.map_err(ApiError::from)?;
    let days = days_text(&b.days)?;
    let reason = b.reason.unwrap_or_default();
    let t = tollbooth::trials::extend(&state.db, &admin, &id, &days, &reason, &admin_by(&admin, origin), tollbooth::clock::now_ms()).await?;
    Ok(Json(json!({ "trial": t })))
}

/// `DELETE /api/admin/tenants/{id}/trial`: ends the active trial now, back
/// on the previous plan; audited as `trial.cancel`.
#[utoipa::path(
    delete, path = "/api/admin/tenants/{id}/trial", operation_id = "admin_cancel_trial", tag = "admin", security(("admin_token" = [])),
    params(("id" = String, Path, example = "0190a0a0-0000-7000-8000-00000000abcd", description = "The organization's id")),
    responses((status = 200, description = "Ended now, back on the previous plan; audited as `trial.cancel`", body = crate::openapi::schemas::TrialAnswer, example = json!({"trial": {"id": "0190a0a0-0000-7000-8000-0000000000t1", "org_id": "0190a0a0-0000-7000-8000-000000000001", "plan_code": "pro", "plan_name": "Pro", "started_at": "2026-12-01T00:00:00Z", "ends_at": "2026-12-15T00:00:00Z", "status": "active", "source": "admin", "days_left": 9, "previous_plan_code": "starter", "converted_plan": null, "ended_at": null}}))),
)]
pub(crate) async fn cancel_trial(AdminToken(admin): AdminToken, State(state): State<AppState>, Path(id): Path<String>, origin: RequestOrigin) -> Result<Json<Value>, ApiError> {
    let t = tollbooth::trials::cancel(&state.db, &id, None, Some(&admin), &admin_by(&admin, origin), tollbooth::clock::now_ms()).await?;
    Ok(Json(json!({ "trial": t })))
}

/// `GET /api/admin/trials`: trials ending in the next 7 days, and started /
/// converted / expired per month (12 months) with the conversion rate.
#[utoipa::path(
    get, path = "/api/admin/trials", operation_id = "admin_trial_stats", tag = "admin", security(("admin_token" = [])),
    responses((status = 200, description = "Trials ending soon and per month", body = tollbooth::trials::TrialStats,
        example = json!({"active": 3, "ending_soon": [], "months": [{"month": "2026-12", "started": 5, "converted": 2, "expired": 1, "canceled": 0}], "conversion_rate": "66.7%"}))),
)]
pub(crate) async fn trial_stats(_: AdminToken, State(state): State<AppState>) -> Result<Json<tollbooth::trials::TrialStats>, ApiError> {
    Ok(Json(tollbooth::trials::stats(&state.db, tollbooth::clock::now_ms(), 12).await?))
}
