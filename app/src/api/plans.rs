//! Plans, quota use and projects as an organization's members see them.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use tollbooth::plans::PlanView;
use tollbooth::projects::ProjectView;
use tollbooth::quota::QuotaStatus;

use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::ssr;

/// The Plans page: the plans on offer and the organization's own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanChoice {
    /// Public, non-archived plans in display order, plus the current plan
    /// when it is not one of them (a custom or demo plan).
    pub plans: Vec<PlanView>,
    pub current: String,
}

/// The organization's plan and how much of each limit it has used (its
/// members, and platform admins read-only in the drill-down).
#[server(endpoint = "org_quota")]
pub async fn org_quota(org_id: String) -> Result<QuotaStatus, AppError> {
    let (ctx, scope) = ssr::read_scope(&org_id).await?;
    Ok(tollbooth::quota::status(&ctx.db, &scope.org_id).await?)
}

/// The plans an organization can compare.
#[server(endpoint = "list_plans")]
pub async fn list_plans(org_id: String) -> Result<PlanChoice, AppError> {
    let (ctx, scope, _) = ssr::scope(&org_id).await?;
    let current = tollbooth::plans::org_plan(&ctx.db, &scope.org_id).await?.plan_code;
    let plans = tollbooth::plans::list(&ctx.db)
        .await?
        .into_iter()
        .filter(|p| (p.is_public && p.archived_at.is_none()) || p.code == current)
        // How many organizations are on each plan is the operator's business.
        .map(|p| PlanView { organizations: 0, ..p })
        .collect();
    Ok(PlanChoice { plans, current })
}

/// The organization's projects, active ones first.
#[server(endpoint = "list_projects")]
pub async fn list_projects(org_id: String) -> Result<Vec<ProjectView>, AppError> {
    let (ctx, scope, _) = ssr::scope(&org_id).await?;
    Ok(tollbooth::projects::list(&ctx.db, &scope).await?)
}

/// Creates a project (slug derived from the name when empty), within the plan.
#[server(endpoint = "create_project")]
pub async fn create_project(org_id: String, name: String, slug: String) -> Result<ProjectView, AppError> {
    let (ctx, scope, _) = ssr::scope(&org_id).await?;
    Ok(tollbooth::projects::create(&ctx.db, &scope, &name, &slug).await?)
}

/// Archives a project, or restores it (within the plan).
#[server(endpoint = "set_project_archived")]
pub async fn set_project_archived(org_id: String, project_id: String, archived: bool) -> Result<(), AppError> {
    let (ctx, scope, _) = ssr::scope(&org_id).await?;
    Ok(tollbooth::projects::set_archived(&ctx.db, &scope, &project_id, archived).await?)
}
