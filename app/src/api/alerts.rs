//! Alerts in the app: the bell's count and the budget banner, the alert list
//! and acknowledging, alert settings, outgoing webhooks, and the mail outbox
//! for platform admins.
//!
//! Any member may read and acknowledge alerts; owners and admins change the
//! settings and webhooks; only platform admins read the outbox.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use tollbooth::alerts::{AlertSettings, AlertView, CreatedEndpoint, DeliveryView, EndpointView, MailView};
use tollbooth::budgets::banner::BudgetBanner;

use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::ssr;
#[cfg(feature = "ssr")]
use tollbooth::alerts::{self, outbox, settings, webhooks};
#[cfg(feature = "ssr")]
use tollbooth::budgets::banner;
#[cfg(feature = "ssr")]
use tollbooth::orgs::Role;

/// Alerts listed on the alerts page (newest first).
pub const ALERTS_SHOWN: i64 = 200;
/// Webhook deliveries listed in the log.
pub const DELIVERIES_SHOWN: i64 = 100;
/// Outbox mails listed for platform admins.
pub const MAILS_SHOWN: i64 = 200;

/// What every organization page shows about alerts: the bell's count and
/// the budget banners.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertSummary {
    pub unread: i64,
    pub banners: Vec<BudgetBanner>,
}

/// The bell's unread count and the budgets at 80%+ this period.
#[server(endpoint = "get_alert_summary")]
pub async fn get_alert_summary(org_id: String) -> Result<AlertSummary, AppError> {
    let (ctx, scope, _) = ssr::scope(&org_id).await?;
    let unread = alerts::unread_count(&ctx.db, &scope.org_id).await?;
    let banners = banner::budget_banners(&ctx.db, &scope.org_id).await?;
    Ok(AlertSummary { unread, banners })
}

/// The organization's alerts, newest first; only unacknowledged ones when asked.
#[server(endpoint = "list_alerts")]
pub async fn list_alerts(org_id: String, unacknowledged_only: bool) -> Result<Vec<AlertView>, AppError> {
    let (ctx, scope, _) = ssr::scope(&org_id).await?;
    Ok(alerts::list(&ctx.db, &scope.org_id, unacknowledged_only, ALERTS_SHOWN).await?)
}

/// Marks one alert as seen by the signed-in member.
#[server(endpoint = "acknowledge_alert")]
pub async fn acknowledge_alert(org_id: String, alert_id: String) -> Result<AlertView, AppError> {
    let (ctx, scope, user) = ssr::scope(&org_id).await?;
    Ok(alerts::acknowledge(&ctx.db, &scope.org_id, &alert_id, &user.email).await?)
}

/// Marks every open alert as seen; returns how many.
#[server(endpoint = "acknowledge_all_alerts")]
pub async fn acknowledge_all_alerts(org_id: String) -> Result<u64, AppError> {
    let (ctx, scope, user) = ssr::scope(&org_id).await?;
    Ok(alerts::acknowledge_all(&ctx.db, &scope.org_id, &user.email).await?)
}

/// The organization's alert settings (every member may read them).
#[server(endpoint = "get_alert_settings")]
pub async fn get_alert_settings(org_id: String) -> Result<AlertSettings, AppError> {
    let (ctx, scope, _) = ssr::scope(&org_id).await?;
    Ok(settings::get(&ctx.db, &scope.org_id).await?)
}

/// A whole number typed into a form, or a readable refusal naming the field.
#[cfg(feature = "ssr")]
fn whole<T: std::str::FromStr>(field: &'static str, text: &str) -> Result<T, AppError> {
    text.trim()
        .parse()
        .map_err(|_| ssr::fail(tollbooth::Error::invalid(field, format!("{:?} is not a whole number", text.trim()))))
}

/// Saves the alert settings from the settings form (owners and admins).
/// Checkboxes arrive only when ticked; the latency field is empty for off;
/// extra addresses are separated by commas.
#[allow(clippy::too_many_arguments)]
#[server(endpoint = "update_alert_settings")]
pub async fn update_alert_settings(
    org_id: String,
    #[server(default)] email_enabled: Option<String>,
    #[server(default)] spike_enabled: Option<String>,
    spike_percent: String,
    spike_min_usd: String,
    error_rate_percent: String,
    error_min_requests: String,
    #[server(default)] latency_p95_ms: String,
    #[server(default)] notify_owners: Option<String>,
    #[server(default)] notify_admins: Option<String>,
    #[server(default)] extra_recipients: String,
) -> Result<AlertSettings, AppError> {
    let (ctx, scope, user) = ssr::scope(&org_id).await?;
    scope.require(Role::Admin)?;
    let latency = latency_p95_ms.trim();
    let input = AlertSettings {
        email_enabled: email_enabled.is_some(),
        spike_enabled: spike_enabled.is_some(),
        spike_percent: whole("spike_percent", &spike_percent)?,
        spike_min_usd: spike_min_usd.trim().to_string(),
        error_rate_percent: whole("error_rate_percent", &error_rate_percent)?,
        error_min_requests: whole("error_min_requests", &error_min_requests)?,
        latency_p95_ms: if latency.is_empty() { None } else { Some(whole("latency_p95_ms", latency)?) },
        notify_owners: notify_owners.is_some(),
        notify_admins: notify_admins.is_some(),
        extra_recipients: extra_recipients.split(',').map(str::trim).filter(|a| !a.is_empty()).map(String::from).collect(),
        extra_recipient_states: Vec::new(),
    };
    Ok(settings::update(&ctx.db, &scope.org_id, &input, &ssr::by(&user).await, &ctx.public_url).await?)
}

/// The webhook endpoints and their delivery log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhooksView {
    pub endpoints: Vec<EndpointView>,
    pub deliveries: Vec<DeliveryView>,
}

/// Endpoints and the latest deliveries (owners and admins: URLs may carry tokens).
#[server(endpoint = "list_webhooks")]
pub async fn list_webhooks(org_id: String) -> Result<WebhooksView, AppError> {
    let (ctx, scope, _) = ssr::scope(&org_id).await?;
    scope.require(Role::Admin)?;
    let endpoints = webhooks::list(&ctx.db, &scope.org_id).await?;
    let deliveries = webhooks::deliveries(&ctx.db, &scope.org_id, DELIVERIES_SHOWN).await?;
    Ok(WebhooksView { endpoints, deliveries })
}

/// Adds an endpoint (public addresses only, unless the server allows
/// private ones); its signing secret is returned this once.
/// `event_types` absent: alerts only.
#[server(endpoint = "create_webhook")]
pub async fn create_webhook(org_id: String, url: String, event_types: Option<Vec<String>>) -> Result<CreatedEndpoint, AppError> {
    let (ctx, scope, user) = ssr::scope(&org_id).await?;
    scope.require(Role::Admin)?;
    Ok(webhooks::create(&ctx.db, &scope.org_id, &url, event_types.as_deref(), ctx.egress, &ssr::by(&user).await).await?)
}

/// Sets what an endpoint receives (none ticked is refused naming `event_types`).
#[server(endpoint = "set_webhook_event_types")]
pub async fn set_webhook_event_types(org_id: String, endpoint_id: String, event_types: Option<Vec<String>>) -> Result<EndpointView, AppError> {
    let (ctx, scope, user) = ssr::scope(&org_id).await?;
    scope.require(Role::Admin)?;
    let types = event_types.unwrap_or_default();
    Ok(webhooks::set_event_types(&ctx.db, &scope.org_id, &endpoint_id, &types, &ssr::by(&user).await).await?)
}

/// Removes an endpoint.
#[server(endpoint = "delete_webhook")]
pub async fn delete_webhook(org_id: String, endpoint_id: String) -> Result<(), AppError> {
    let (ctx, scope, user) = ssr::scope(&org_id).await?;
    scope.require(Role::Admin)?;
    Ok(webhooks::delete(&ctx.db, &scope.org_id, &endpoint_id, &ssr::by(&user).await).await?)
}

/// Turns a disabled endpoint back on.
#[server(endpoint = "enable_webhook")]
pub async fn enable_webhook(org_id: String, endpoint_id: String) -> Result<EndpointView, AppError> {
    let (ctx, scope, user) = ssr::scope(&org_id).await?;
    scope.require(Role::Admin)?;
    Ok(webhooks::enable(&ctx.db, &scope.org_id, &endpoint_id, &ssr::by(&user).await).await?)
}

/// Alert mail of every organization, newest first (platform admins only).
#[server(endpoint = "admin_outbox")]
pub async fn admin_outbox() -> Result<Vec<MailView>, AppError> {
    let (ctx, _) = ssr::platform_admin().await?;
    Ok(outbox::list_mail(&ctx.db, None, MAILS_SHOWN).await?)
}
