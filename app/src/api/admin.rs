//! Platform administration: organizations, the plan catalog and
//! per-organization plan changes and limit overrides.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use tollbooth::orgs::OrgSummary;
use tollbooth::plans::{LimitInput, OrgPlan, PlanInput, PlanView};

use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::ssr;

/// The signed-in platform admin (401 unless signed in, 403 unless an admin).
#[cfg(feature = "ssr")]
async fn admin() -> Result<(ssr::AppContext, tollbooth::accounts::UserView), AppError> {
    ssr::platform_admin().await
}

/// Every organization with its member count (platform admins only).
#[server(endpoint = "admin_list_orgs")]
pub async fn admin_list_orgs() -> Result<Vec<OrgSummary>, AppError> {
    let ctx = ssr::ctx()?;
    let user = ssr::require_user().await?;
    Ok(tollbooth::orgs::list_all(&ctx.db, &user).await?)
}

/// One organization as the admin's org page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminOrgDetail {
    pub org: OrgSummary,
    pub plan: OrgPlan,
    /// Plans it can be moved to: not archived, plus its current one.
    pub plans: Vec<PlanView>,
}

/// An organization, its plan with every limit and override, and the plans
/// it can be moved to.
#[server(endpoint = "admin_org")]
pub async fn admin_org(org_id: String) -> Result<AdminOrgDetail, AppError> {
    let (ctx, user) = admin().await?;
    let org = tollbooth::orgs::list_all(&ctx.db, &user)
        .await?
        .into_iter()
        .find(|o| o.id == org_id)
        .ok_or_else(|| ssr::fail(tollbooth::Error::NotFound("organization")))?;
    let plan = tollbooth::plans::org_plan(&ctx.db, &org.id).await?;
    let plans = tollbooth::plans::list(&ctx.db)
        .await?
        .into_iter()
        .filter(|p| p.archived_at.is_none() || p.code == plan.plan_code)
        .collect();
    Ok(AdminOrgDetail { org, plan, plans })
}

/// Moves an organization to another plan.
#[server(endpoint = "admin_set_org_plan")]
pub async fn admin_set_org_plan(org_id: String, plan: String) -> Result<OrgPlan, AppError> {
    // The core records the change in the audit log, in its transaction.
    let (ctx, user) = admin().await?;
    let by = ssr::by(&user).await;
    Ok(tollbooth::plans::set_org_plan(&ctx.db, &user, &org_id, &plan, by.origin()).await?)
}

/// Sets a custom limit for one organization (an empty value: unlimited).
#[server(endpoint = "admin_set_override")]
pub async fn admin_set_override(org_id: String, limit: LimitInput) -> Result<OrgPlan, AppError> {
    let (ctx, user) = admin().await?;
    let by = ssr::by(&user).await;
    Ok(tollbooth::plans::set_override(&ctx.db, &user, &org_id, &limit, by.origin()).await?)
}

/// Removes an organization's custom limit: the plan's applies again.
#[server(endpoint = "admin_clear_override")]
pub async fn admin_clear_override(org_id: String, metric: String, period: String) -> Result<OrgPlan, AppError> {
    let (ctx, user) = admin().await?;
    let by = ssr::by(&user).await;
    Ok(tollbooth::plans::clear_override(&ctx.db, &user, &org_id, &metric, &period, by.origin()).await?)
}

/// The whole plan catalog, archived plans included, with organization counts.
#[server(endpoint = "admin_plans")]
pub async fn admin_plans() -> Result<Vec<PlanView>, AppError> {
    let (ctx, _) = admin().await?;
    Ok(tollbooth::plans::list(&ctx.db).await?)
}

/// One plan of the catalog.
#[server(endpoint = "admin_plan")]
pub async fn admin_plan(code: String) -> Result<PlanView, AppError> {
    let (ctx, _) = admin().await?;
    Ok(tollbooth::plans::get(&ctx.db, &code).await?)
}

/// Adds a plan without limits (they are set on its page); returns its code.
#[server(endpoint = "admin_create_plan")]
pub async fn admin_create_plan(
    code: String,
    name: String,
    description: String,
    monthly_price_usd: String,
    is_public: bool,
    sort_order: i64,
) -> Result<String, AppError> {
    let (ctx, user) = admin().await?;
    // Retention and the Stripe price start at their defaults (13 months, none); the plan's page edits them.
    let input = PlanInput { code, name, description, monthly_price_usd, is_public, sort_order, ..Default::default() };
    Ok(tollbooth::plans::create(&ctx.db, &user, &input).await.map(|p| p.code)?)
}

/// Saves a plan's name, price, visibility, retention and limits.
#[server(endpoint = "admin_update_plan")]
pub async fn admin_update_plan(plan: PlanInput) -> Result<PlanView, AppError> {
    let (ctx, user) = admin().await?;
    Ok(tollbooth::plans::update(&ctx.db, &user, &plan).await?)
}

/// Archives a plan (no organization can be moved onto it) or restores it.
#[server(endpoint = "admin_set_plan_archived")]
pub async fn admin_set_plan_archived(code: String, archived: bool) -> Result<PlanView, AppError> {
    let (ctx, user) = admin().await?;
    Ok(tollbooth::plans::set_archived(&ctx.db, &user, &code, archived).await?)
}

/// Deletes a plan no organization is on.
#[server(endpoint = "admin_delete_plan")]
pub async fn admin_delete_plan(code: String) -> Result<(), AppError> {
    let (ctx, user) = admin().await?;
    Ok(tollbooth::plans::delete(&ctx.db, &user, &code).await?)
}

/// What the drill-down shows beside the plan: people, keys, money, alerts
/// and the organization's audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgActivityView {
    pub members: Vec<tollbooth::orgs::MemberView>,
    /// Names, prefixes and dates only: a key's hash never leaves the server.
    pub keys: Vec<tollbooth::api_keys::ApiKeyView>,
    pub invoices: Vec<AdminInvoiceLine>,
    /// The credit balance, exact (nano-USD).
    pub credit_balance_nanos: i64,
    pub credits: Vec<tollbooth::billing::CreditEntryView>,
    pub alerts: Vec<tollbooth::alerts::AlertView>,
    pub audit: Vec<tollbooth::audit::AuditEntryView>,
}

/// One invoice in the drill-down's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminInvoiceLine {
    pub id: String,
    pub number: String,
    pub period_label: String,
    pub plan_name: String,
    pub status: String,
    pub total_cents: i64,
}

/// Members, keys, invoices, credits, alerts and the latest audit entries of one organization.
#[server(endpoint = "admin_org_activity")]
pub async fn admin_org_activity(org_id: String) -> Result<OrgActivityView, AppError> {
    let (ctx, user) = admin().await?;
    let scope = tollbooth::orgs::admin_scope(&ctx.db, &user, &org_id).await?;
    let members = tollbooth::orgs::list_members(&ctx.db, &scope).await?;
    let keys = tollbooth::api_keys::list(&ctx.db, &scope).await?;
    let invoices = tollbooth::billing::invoices::list(&ctx.db, &org_id)
        .await?
        .into_iter()
        .map(|i| AdminInvoiceLine { id: i.id, number: i.number, period_label: i.period_label, plan_name: i.plan_name, status: i.status, total_cents: i.total_cents })
        .collect();
    let balance = tollbooth::billing::credits::balance(&ctx.db, &org_id).await?;
    let credits = tollbooth::billing::credits::recent(&ctx.db, &org_id, 50).await?;
    let alerts = tollbooth::alerts::list(&ctx.db, &org_id, false, 20).await?;
    let audit = tollbooth::audit::list(&ctx.db, Some(&org_id), &Default::default(), "UTC", 50).await?;
    Ok(OrgActivityView {
        members,
        keys,
        invoices,
        credit_balance_nanos: balance,
        credits,
        alerts,
        audit,
    })
}

/// Adds (positive) or removes (negative) credit with a reason; audited.
#[server(endpoint = "admin_adjust_credits")]
pub async fn admin_adjust_credits(org_id: String, amount_usd: String, reason: String) -> Result<(), AppError> {
    // The core records the adjustment in the audit log, in its transaction.
    let (ctx, user) = admin().await?;
    let by = ssr::by(&user).await;
    tollbooth::billing::credits::adjust(&ctx.db, &user, &org_id, &amount_usd, &reason, ctx.billing.credit_floor_nanos, by.origin()).await?;
    Ok(())
}

/// Suspends an organization: its members see the suspended page and its API
/// keys are refused (the core records the audit entry).
#[server(endpoint = "admin_suspend_org")]
pub async fn admin_suspend_org(org_id: String, reason: String) -> Result<(), AppError> {
    let (ctx, user) = admin().await?;
    let by = ssr::by(&user).await;
    Ok(tollbooth::orgs::suspend(&ctx.db, &user, &org_id, &reason, by.origin()).await?)
}

/// Lifts a suspension (audited by the core).
#[server(endpoint = "admin_reactivate_org")]
pub async fn admin_reactivate_org(org_id: String) -> Result<(), AppError> {
    let (ctx, user) = admin().await?;
    let by = ssr::by(&user).await;
    Ok(tollbooth::orgs::reactivate(&ctx.db, &user, &org_id, by.origin()).await?)
}

/// Why an organization is suspended, as its members and admins read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuspensionView {
    /// RFC 3339 UTC.
    pub since: String,
    pub reason: String,
}

/// The organization's suspension, if any (platform admins).
#[server(endpoint = "admin_org_suspension")]
pub async fn admin_org_suspension(org_id: String) -> Result<Option<SuspensionView>, AppError> {
    let (ctx, _) = admin().await?;
    let s = tollbooth::orgs::suspension(&ctx.db, &org_id).await?;
    Ok(s.map(|(at, reason)| SuspensionView { since: tollbooth::clock::to_rfc3339(at), reason }))
}

/// The suspension of an organization the signed-in user belongs to, if any.
#[server(endpoint = "org_suspension")]
pub async fn org_suspension(org_id: String) -> Result<Option<SuspensionView>, AppError> {
    let (ctx, scope, _) = ssr::scope_even_if_suspended(&org_id).await?;
    let s = tollbooth::orgs::suspension(&ctx.db, &scope.org_id).await?;
    Ok(s.map(|(at, reason)| SuspensionView { since: tollbooth::clock::to_rfc3339(at), reason }))
}
