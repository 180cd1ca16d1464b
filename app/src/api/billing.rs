//! Billing: every member reads the billing page and invoices; owners and
//! admins upgrade, change plans, buy credits and open Stripe's portal (the
//! core checks the role). Platform admins edit credit packs and adjust an
//! organization's credit.
//!
//! Checkout, credit purchases and the portal return a Stripe URL; the page
//! sends the browser there. The plan and the balance change when Stripe's
//! signed webhook arrives, never because the browser came back.

use leptos::prelude::*;
use tollbooth::billing::{BillingOverview as Overview, ChangePreview, CreditPackInput, CreditPackView, InvoiceView};

use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::ssr;
#[cfg(feature = "ssr")]
use tollbooth::billing::{credits, invoices, service};
#[cfg(feature = "ssr")]
use tollbooth::clock::now_ms;

/// Where Stripe sends the browser back to.
#[cfg(feature = "ssr")]
fn billing_url(ctx: &ssr::AppContext, org_id: &str) -> String {
    format!("{}/o/{org_id}/billing", ctx.public_url.trim_end_matches('/'))
}

/// Everything the billing page shows (members).
#[server(endpoint = "billing_overview")]
pub async fn billing_overview(org_id: String) -> Result<Overview, AppError> {
    let (ctx, scope, _) = ssr::scope(&org_id).await?;
    Ok(service::overview(&ctx.db, &ctx.billing, &scope.org_id, now_ms()).await?)
}

/// What moving to `plan` would do: proration lines, net, when (members).
#[server(endpoint = "billing_preview_change")]
pub async fn billing_preview_change(org_id: String, plan: String) -> Result<ChangePreview, AppError> {
    let (ctx, scope, _) = ssr::scope(&org_id).await?;
    Ok(service::preview_change(&ctx.db, &ctx.billing, &scope.org_id, &plan, now_ms()).await?)
}

/// Starts a Stripe Checkout for `plan` (from a free plan); returns its URL.
#[server(endpoint = "billing_checkout")]
pub async fn billing_checkout(org_id: String, plan: String) -> Result<String, AppError> {
    let (ctx, scope, user) = ssr::scope(&org_id).await?;
    let back = billing_url(&ctx, &scope.org_id);
    Ok(service::start_checkout(&ctx.db, &ctx.billing, &scope, &user.email, &plan, &back, now_ms()).await?)
}

/// Changes a subscribed organization's plan (upgrade now, downgrade at the
/// period's end); returns what was done.
#[server(endpoint = "billing_change_plan")]
pub async fn billing_change_plan(org_id: String, plan: String) -> Result<ChangePreview, AppError> {
    let (ctx, scope, _) = ssr::scope(&org_id).await?;
    Ok(service::change_plan(&ctx.db, &ctx.billing, &scope, &plan, now_ms()).await?)
}

/// Withdraws the downgrade waiting for the period's end ("Keep my plan").
#[server(endpoint = "billing_cancel_change")]
pub async fn billing_cancel_change(org_id: String) -> Result<(), AppError> {
    let (ctx, scope, _) = ssr::scope(&org_id).await?;
    Ok(service::cancel_pending_change(&ctx.db, &ctx.billing, &scope, now_ms()).await?)
}

/// A Stripe Customer Portal session's URL ("Manage billing").
#[server(endpoint = "billing_portal")]
pub async fn billing_portal(org_id: String) -> Result<String, AppError> {
    let (ctx, scope, _) = ssr::scope(&org_id).await?;
    let back = billing_url(&ctx, &scope.org_id);
    Ok(service::portal(&ctx.db, &ctx.billing, &scope, &back).await?)
}

/// Starts a Stripe Checkout for a credit pack; returns its URL.
#[server(endpoint = "billing_buy_credits")]
pub async fn billing_buy_credits(org_id: String, pack: String) -> Result<String, AppError> {
    let (ctx, scope, user) = ssr::scope(&org_id).await?;
    let back = billing_url(&ctx, &scope.org_id);
    Ok(service::buy_credits(&ctx.db, &ctx.billing, &scope, &user.email, &pack, &back, now_ms()).await?)
}

/// One closed invoice of the organization (members).
#[server(endpoint = "billing_invoice")]
pub async fn billing_invoice(org_id: String, id: String) -> Result<InvoiceView, AppError> {
    let (ctx, scope, _) = ssr::scope(&org_id).await?;
    Ok(invoices::get(&ctx.db, &scope.org_id, &id).await?)
}

/// Every credit pack, inactive ones included (platform admins).
#[server(endpoint = "admin_credit_packs")]
pub async fn admin_credit_packs() -> Result<Vec<CreditPackView>, AppError> {
    let (ctx, _) = ssr::platform_admin().await?;
    Ok(credits::packs(&ctx.db).await?)
}

/// Adds or changes a credit pack (platform admins).
#[server(endpoint = "admin_save_credit_pack")]
pub async fn admin_save_credit_pack(pack: CreditPackInput) -> Result<CreditPackView, AppError> {
    let (ctx, user) = ssr::platform_admin().await?;
    Ok(credits::save_pack(&ctx.db, &user, &pack).await?)
}


