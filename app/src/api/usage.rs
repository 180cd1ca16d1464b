//! The usage panel's data: one server function, returning the core's read
//! model ([`tollbooth::metering::panel`]) as it is. Amounts are exact
//! nano-USD; the page formats them.

use leptos::prelude::*;
use tollbooth::metering::unpriced::UnpricedModel;

pub use tollbooth::metering::panel::{
    Breakdown, BreakdownRow, DayPoint, Dimension, PanelData, PanelQuery, RangeView, RecentEvent, Totals, BREAKDOWN_ROWS,
    RECENT_EVENTS,
};

pub use tollbooth::metering::projection::Projection;
pub use tollbooth::metering::pulse::Pulse;

use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::ssr;

/// The usage panel of one organization for the asked range (its members,
/// and platform admins read-only in the drill-down). JSON-encoded: the default URL encoding drops a query whose fields are all
/// `None` (the plain `/o/:org` URL) and the call would then fail to decode.
#[server(endpoint = "usage_panel", input = leptos::server_fn::codec::Json)]
pub async fn usage_panel(org_id: String, query: PanelQuery) -> Result<PanelData, AppError> {
    let (ctx, scope) = ssr::read_scope(&org_id).await?;
    let org = tollbooth::orgs::get(&ctx.db, &scope).await?;
    Ok(tollbooth::metering::panel::usage_panel(&ctx.db, &org, &query, tollbooth::clock::now_ms()).await?)
}

/// One breakdown of the panel's range: the users' and sessions' rows, which
/// the panel leaves for their tab to ask for (as many groups as active
/// users or sessions). Readable by whoever may read the panel.
#[server(endpoint = "usage_breakdown", input = leptos::server_fn::codec::Json)]
pub async fn usage_breakdown(org_id: String, query: PanelQuery, dimension: Dimension) -> Result<Breakdown, AppError> {
    let (ctx, scope) = ssr::read_scope(&org_id).await?;
    let org = tollbooth::orgs::get(&ctx.db, &scope).await?;
    Ok(tollbooth::metering::panel::usage_breakdown(&ctx.db, &org, &query, dimension, tollbooth::clock::now_ms()).await?)
}

/// The organization's pulse (events recorded, this month's cost, the
/// nearest hard limit): the sidebar meter polls it, and the usage panel
/// reads itself again when its `events` change. Any member.
#[server(endpoint = "usage_pulse")]
pub async fn usage_pulse(org_id: String) -> Result<Pulse, AppError> {
    let (ctx, scope, _) = ssr::scope(&org_id).await?;
    let org = tollbooth::orgs::get(&ctx.db, &scope).await?;
    Ok(tollbooth::metering::pulse::pulse(&ctx.db, &org.id, &org.time_zone, tollbooth::clock::now_ms()).await?)
}

/// This calendar month's spend projected to its end, with the method (the
/// billing page shows it; the usage panel has it in its data). Any member.
#[server(endpoint = "spend_projection")]
pub async fn spend_projection(org_id: String) -> Result<Projection, AppError> {
    let (ctx, scope, _) = ssr::scope(&org_id).await?;
    let org = tollbooth::orgs::get(&ctx.db, &scope).await?;
    Ok(tollbooth::metering::projection::month_end(&ctx.db, &org.id, &org.time_zone, tollbooth::clock::now_ms()).await?)
}

/// Unpriced models across all organizations (platform admins only).
#[server(endpoint = "admin_unpriced_models")]
pub async fn admin_unpriced_models() -> Result<Vec<UnpricedModel>, AppError> {
    let (ctx, _) = ssr::platform_admin().await?;
    Ok(tollbooth::metering::unpriced::unpriced_models(&ctx.db, None).await?)
}
