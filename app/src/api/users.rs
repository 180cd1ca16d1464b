//! End users of an organization and their per-user limits.

use leptos::prelude::*;
use tollbooth::end_users::{EndUserLimits, EndUserUsage, EndUsersPage, LimitSettings};

use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::ssr;
#[cfg(feature = "ssr")]
use tollbooth::end_users::{self, LimitOverride, LimitValues, ListQuery};
#[cfg(feature = "ssr")]
use tollbooth::orgs::Role;

/// One page of the organization's end users (any member).
#[server(endpoint = "list_end_users")]
pub async fn list_end_users(
    org_id: String,
    search: Option<String>,
    sort: Option<String>,
    offset: Option<i64>,
) -> Result<EndUsersPage, AppError> {
    let (ctx, scope, _) = ssr::scope(&org_id).await?;
    let q = ListQuery { search, sort, limit: Some(PAGE), offset };
    Ok(end_users::list(&ctx.db, &scope.org_id, &q).await?)
}

/// End users a page of the Users list shows.
pub const PAGE: i64 = 50;

/// One end user's limits and usage panel (any member).
#[server(endpoint = "end_user")]
pub async fn end_user(org_id: String, user_id: String) -> Result<(EndUserLimits, EndUserUsage), AppError> {
    let (ctx, scope, _) = ssr::scope(&org_id).await?;
    let limits = end_users::limits(&ctx.db, &scope.org_id, &user_id).await?;
    Ok((limits, end_users::usage(&ctx.db, &scope.org_id, &user_id).await?))
}

/// Saves the default per-user limits and the switch (owners and admins);
/// fields as typed, blank for no limit, the checkbox present for on.
#[server(endpoint = "save_user_limit_settings")]
pub async fn save_user_limit_settings(
    org_id: String,
    #[server(default)] enabled: Option<String>,
    #[server(default)] tokens_per_day: String,
    #[server(default)] cost_per_day: String,
    #[server(default)] tokens_per_month: String,
    #[server(default)] cost_per_month: String,
    #[server(default)] requests_per_minute: String,
) -> Result<LimitSettings, AppError> {
    let (ctx, scope, user) = ssr::scope(&org_id).await?;
    scope.require(Role::Admin)?;
    let defaults = LimitValues::from_text(&tokens_per_day, &cost_per_day, &tokens_per_month, &cost_per_month, &requests_per_minute)?;
    let input = LimitSettings { enabled: enabled.is_some(), defaults };
    Ok(end_users::save_settings(&ctx.db, &scope.org_id, &input, &ssr::by(&user).await).await?)
}

/// Sets or deletes one end user's override (owners and admins): `mode` is
/// `default` (delete the override), `custom`, `unlimited` or `blocked`.
#[server(endpoint = "set_end_user_limits")]
pub async fn set_end_user_limits(
    org_id: String,
    user_id: String,
    mode: String,
    #[server(default)] tokens_per_day: String,
    #[server(default)] cost_per_day: String,
    #[server(default)] tokens_per_month: String,
    #[server(default)] cost_per_month: String,
    #[server(default)] requests_per_minute: String,
) -> Result<EndUserLimits, AppError> {
    let (ctx, scope, user) = ssr::scope(&org_id).await?;
    scope.require(Role::Admin)?;
    let by = ssr::by(&user).await;
    if mode == "default" {
        end_users::delete_limits(&ctx.db, &scope.org_id, &user_id, &by).await?;
        return Ok(end_users::limits(&ctx.db, &scope.org_id, &user_id).await?);
    }
    let limits = match mode.as_str() {
        "custom" => LimitValues::from_text(&tokens_per_day, &cost_per_day, &tokens_per_month, &cost_per_month, &requests_per_minute)?,
        _ => LimitValues::default(),
    };
    Ok(end_users::set_limits(&ctx.db, &scope.org_id, &user_id, &LimitOverride { mode, limits }, &by).await?)
}
