//! Trials: the owner's "Start a 14-day Pro trial" and cancel, what the
//! billing page shows of a trial, and the platform admin's start / extend /
//! cancel and dashboard figures (the core checks every role).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use tollbooth::trials::{TrialOffer, TrialStats, TrialView};

use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::ssr;
#[cfg(feature = "ssr")]
use tollbooth::clock::now_ms;

/// The trial running (its own or Stripe's) and the self-serve trial the
/// organization could start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrialState {
    pub current: Option<TrialView>,
    pub offer: Option<TrialOffer>,
}

/// What the billing page shows of trials (members).
#[server(endpoint = "trial_panel")]
pub async fn trial_panel(org_id: String) -> Result<TrialState, AppError> {
    let (ctx, scope, _) = ssr::scope(&org_id).await?;
    let current = tollbooth::trials::current(&ctx.db, &scope.org_id, now_ms()).await?;
    let offer = if current.is_none() { tollbooth::trials::offer(&ctx.db, &scope.org_id).await? } else { None };
    Ok(TrialState { current, offer })
}

/// The owner starts the plan's self-serve trial (once per organization).
#[server(endpoint = "start_trial")]
pub async fn start_trial(org_id: String) -> Result<TrialView, AppError> {
    let (ctx, scope, user) = ssr::scope(&org_id).await?;
    Ok(tollbooth::trials::start(&ctx.db, &scope, &ssr::by(&user).await, now_ms()).await?)
}

/// The owner ends the trial now, back on the previous plan.
#[server(endpoint = "cancel_trial")]
pub async fn cancel_trial(org_id: String) -> Result<TrialView, AppError> {
    let (ctx, scope, user) = ssr::scope(&org_id).await?;
    Ok(tollbooth::trials::cancel(&ctx.db, &scope.org_id, Some(&scope), None, &ssr::by(&user).await, now_ms()).await?)
}

/// An organization's newest trial, active or ended (platform admins).
#[server(endpoint = "admin_org_trial")]
pub async fn admin_org_trial(org_id: String) -> Result<Option<TrialView>, AppError> {
    let (ctx, _) = ssr::platform_admin().await?;
    let now = now_ms();
    Ok(match tollbooth::trials::current(&ctx.db, &org_id, now).await? {
        Some(t) => Some(t),
        None => tollbooth::trials::latest(&ctx.db, &org_id, now).await?,
    })
}

/// Starts a trial of `plan` for `days` days (platform admins).
#[server(endpoint = "admin_start_trial")]
pub async fn admin_start_trial(org_id: String, plan: String, days: String) -> Result<TrialView, AppError> {
    let (ctx, user) = ssr::platform_admin().await?;
    Ok(tollbooth::trials::start_for(&ctx.db, &user, &org_id, &plan, &days, &ssr::by(&user).await, now_ms()).await?)
}

/// Moves the trial's end `days` later, with a reason (platform admins).
#[server(endpoint = "admin_extend_trial")]
pub async fn admin_extend_trial(org_id: String, days: String, reason: String) -> Result<TrialView, AppError> {
    let (ctx, user) = ssr::platform_admin().await?;
    Ok(tollbooth::trials::extend(&ctx.db, &user, &org_id, &days, &reason, &ssr::by(&user).await, now_ms()).await?)
}

/// Ends the trial now (platform admins).
#[server(endpoint = "admin_cancel_trial")]
pub async fn admin_cancel_trial(org_id: String) -> Result<TrialView, AppError> {
    let (ctx, user) = ssr::platform_admin().await?;
    Ok(tollbooth::trials::cancel(&ctx.db, &org_id, None, Some(&user), &ssr::by(&user).await, now_ms()).await?)
}

/// The dashboard's trial figures (platform admins).
#[server(endpoint = "admin_trial_stats")]
pub async fn admin_trial_stats() -> Result<TrialStats, AppError> {
    let (ctx, _) = ssr::platform_admin().await?;
    Ok(tollbooth::trials::stats(&ctx.db, now_ms(), 12).await?)
}
