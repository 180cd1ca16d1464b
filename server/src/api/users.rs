//! End users and their limits: `GET /api/v1/users` (scope `read`) lists the
//! organization's end users with this period's usage against their limits;
//! `GET/PUT/DELETE /api/v1/users/{user_id}/limits` read and set one user's
//! override (`PUT`/`DELETE`: scope `manage`); `GET/PUT /api/v1/user-limits`
//! the default limits of every end user and the master switch.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use tollbooth::end_users::{self, EndUserLimits, EndUsersPage, LimitOverride, LimitSettings, ListQuery};

use super::auth::{ManageKey, ReadKey, RequestOrigin};
use super::body::ApiQuery;
use super::error::ApiError;
use crate::state::AppState;

/// `GET /api/v1/users`'s query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsersQuery {
    /// A part of the `user_id` (case-sensitive).
    pub search: Option<String>,
    /// `cost_month` (default), `tokens_month`, `cost_today`, `tokens_today`, `requests`, `user_id`.
    pub sort: Option<String>,
    /// 1–200, default 50.
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

#[utoipa::path(
    get, path = "/api/v1/users", operation_id = "list_users", tag = "users", security(("api_key" = [])),
    description = "The organization's end users (the `user_id` of events) with usage this calendar month in its zone, or an override, \
        with today's and this month's tokens, exact cost and requests, and their per-user limits in force with their use. Most used first.",
    params(UsersQuery),
    responses((status = 200, description = "One page of end users", body = EndUsersPage,
        example = json!({"settings": {"enabled": true, "tokens_per_day": 10000, "cost_per_day_usd": "5.00", "tokens_per_month": null, "cost_per_month_usd": null, "requests_per_minute": 60},
            "users": [{"user_id": "user-42", "today": {"tokens": 1200, "cost_usd": "0.0184", "requests": 4}, "month": {"tokens": 88000, "cost_usd": "1.2034", "requests": 310},
                "last_active": "2026-12-07", "mode": "default", "status": "limited",
                "lines": [{"metric": "tokens", "period": "day", "limit": 10000, "hard": true, "used": 1200, "reserved": 0, "reset_at": "2026-12-08T00:00:00+01:00", "overridden": false}]}],
            "total": 1, "time_zone": "Europe/Paris"}))),
)]
pub async fn list(State(state): State<AppState>, ReadKey(key): ReadKey, ApiQuery(q): ApiQuery<UsersQuery>) -> Result<Json<EndUsersPage>, ApiError> {
    let q = ListQuery { search: q.search, sort: q.sort, limit: q.limit, offset: q.offset };
    Ok(Json(end_users::list(&state.db, &key.org_id, &q).await?))
}

#[utoipa::path(
    get, path = "/api/v1/users/{user_id}/limits", operation_id = "get_user_limits", tag = "users", security(("api_key" = [])),
    description = "One end user's limits: its override (`mode`: default, custom, unlimited, blocked), the limits in force, and its use today and this month.",
    params(("user_id" = String, Path, description = "The end user's id (URL-encoded)")),
    responses((status = 200, description = "The user's limits and use", body = EndUserLimits,
        example = json!({"user_id": "user-42", "enabled": true, "mode": "custom", "own": {"tokens_per_day": 50000, "cost_per_day_usd": null, "tokens_per_month": null, "cost_per_month_usd": null, "requests_per_minute": null},
            "effective": {"tokens_per_day": 50000, "cost_per_day_usd": "5.00", "tokens_per_month": null, "cost_per_month_usd": null, "requests_per_minute": 60},
            "status": "limited", "lines": [], "today": {"tokens": 1200, "cost_usd": "0.0184", "requests": 4}, "month": {"tokens": 88000, "cost_usd": "1.2034", "requests": 310}}))),
)]
pub async fn get_limits(State(state): State<AppState>, ReadKey(key): ReadKey, Path(user_id): Path<String>) -> Result<Json<EndUserLimits>, ApiError> {
    Ok(Json(end_users::limits(&state.db, &key.org_id, &user_id).await?))
}

#[utoipa::path(
    put, path = "/api/v1/users/{user_id}/limits", operation_id = "put_user_limits", tag = "users", security(("api_key" = [])),
    description = "Sets the user's override: `custom` with at least one limit (each limit set replaces the default, one left out keeps it), \
        `unlimited`, or `blocked` (every reservation and gateway call of the user refused with 403). Applies at once to checks, reservations and the gateway.",
    params(("user_id" = String, Path, description = "The end user's id (URL-encoded)")),
    request_body(content = LimitOverride, example = json!({"mode": "custom", "tokens_per_day": 50000, "cost_per_day_usd": "10.00"})),
    responses((status = 200, description = "Saved: the user's limits now", body = EndUserLimits,
        example = json!({"user_id": "user-42", "enabled": true, "mode": "custom", "own": {"tokens_per_day": 50000, "cost_per_day_usd": null, "tokens_per_month": null, "cost_per_month_usd": null, "requests_per_minute": null},
            "effective": {"tokens_per_day": 50000, "cost_per_day_usd": "5.00", "tokens_per_month": null, "cost_per_month_usd": null, "requests_per_minute": 60},
            "status": "limited", "lines": [], "today": {"tokens": 1200, "cost_usd": "0.0184", "requests": 4}, "month": {"tokens": 88000, "cost_usd": "1.2034", "requests": 310}}))),
)]
pub async fn put_limits(
    State(state): State<AppState>,
    ManageKey(key): ManageKey,
    origin: RequestOrigin,
    Path(user_id): Path<String>,
    req: Result<Json<LimitOverride>, JsonRejection>,
) -> Result<Json<EndUserLimits>, ApiError> {
    let Json(input) = req.map_err(ApiError::from)?;
    let by = origin.key(&key);
    Ok(Json(end_users::set_limits(&state.db, &key.org_id, &user_id, &input, &by).await?))
}

#[utoipa::path(
    delete, path = "/api/v1/users/{user_id}/limits", operation_id = "delete_user_limits", tag = "users", security(("api_key" = [])),
    description = "Deletes the user's override: the organization's defaults apply again. Idempotent.",
    params(("user_id" = String, Path, description = "The end user's id (URL-encoded)")),
    responses((status = 200, description = "The user's limits now", body = EndUserLimits,
        example = json!({"user_id": "user-42", "enabled": true, "mode": "default", "own": null,
            "effective": {"tokens_per_day": 10000, "cost_per_day_usd": "5.00", "tokens_per_month": null, "cost_per_month_usd": null, "requests_per_minute": 60},
            "status": "limited", "lines": [], "today": {"tokens": 1200, "cost_usd": "0.0184", "requests": 4}, "month": {"tokens": 88000, "cost_usd": "1.2034", "requests": 310}}))),
)]
pub async fn delete_limits(
    State(state): State<AppState>,
    ManageKey(key): ManageKey,
    origin: RequestOrigin,
    Path(user_id): Path<String>,
) -> Result<Json<EndUserLimits>, ApiError> {
    let by = origin.key(&key);
    end_users::delete_limits(&state.db, &key.org_id, &user_id, &by).await?;
    Ok(Json(end_users::limits(&state.db, &key.org_id, &user_id).await?))
}

#[utoipa::path(
    get, path = "/api/v1/user-limits", operation_id = "get_user_limit_settings", tag = "users", security(("api_key" = [])),
    description = "The default limits of every end user and the master switch (off: no per-user limit applies, overrides included).",
    responses((status = 200, description = "The settings", body = LimitSettings,
        example = json!({"enabled": true, "tokens_per_day": 10000, "cost_per_day_usd": "5.00", "tokens_per_month": null, "cost_per_month_usd": null, "requests_per_minute": 60}))),
)]
pub async fn get_settings(State(state): State<AppState>, ReadKey(key): ReadKey) -> Result<Json<LimitSettings>, ApiError> {
    Ok(Json(end_users::settings(&state.db, &key.org_id).await?))
}

#[utoipa::path(
    put, path = "/api/v1/user-limits", operation_id = "put_user_limit_settings", tag = "users", security(("api_key" = [])),
    description = "Replaces the settings. Tokens and requests per minute are whole numbers, cost a decimal USD string; a limit absent or null is none. \
        A bad value is 422 naming its field.",
    request_body(content = LimitSettings, example = json!({"enabled": true, "tokens_per_day": 10000, "cost_per_day_usd": "5.00", "requests_per_minute": 60})),
    responses((status = 200, description = "Saved", body = LimitSettings,
        example = json!({"enabled": true, "tokens_per_day": 10000, "cost_per_day_usd": "5.00", "tokens_per_month": null, "cost_per_month_usd": null, "requests_per_minute": 60}))),
)]
pub async fn put_settings(
    State(state): State<AppState>,
    ManageKey(key): ManageKey,
    origin: RequestOrigin,
    req: Result<Json<LimitSettings>, JsonRejection>,
) -> Result<Json<LimitSettings>, ApiError> {
    let Json(input) = req.map_err(ApiError::from)?;
    let by = origin.key(&key);
    Ok(Json(end_users::save_settings(&state.db, &key.org_id, &input, &by).await?))
}
