//! The usage panel's data: one server function, returning the core's read
//! model ([`tollbooth::metering::panel`]) as it is. Amounts are exact
//! nano-USD; the page formats them.

use leptos::prelude::*;
use tollbooth::metering::unpriced::UnpricedModel;

pub use tollbooth::metering::panel::{
    Breakdown, BreakdownRow, DayPoint, Dimension, PanelData, PanelQuery, RangeView, RecentEvent, Totals, BREAKDOWN_ROWS,
    RECENT_EVENTS,
};

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

/// Unpriced models across all organizations (platform admins only).
#[server(endpoint = "admin_unpriced_models")]
pub async fn admin_unpriced_models() -> Result<Vec<UnpricedModel>, AppError> {
    let (ctx, _) = ssr::platform_admin().await?;
    Ok(tollbooth::metering::unpriced::unpriced_models(&ctx.db, None).await?)
}
