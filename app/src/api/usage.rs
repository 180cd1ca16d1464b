//! The usage panel's data.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::ssr;

/// Per-model line of the breakdown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelLine {
    pub model: String,
    pub events: i64,
    pub input_tokens: i64,
    pub cached_input_tokens: i64,
    pub output_tokens: i64,
    pub cost_usd: String,
    pub unpriced_events: i64,
    pub p95_latency_ms: Option<i64>,
}

/// One recent event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecentEvent {
    pub id: String,
    pub timestamp: String,
    pub model: String,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cost_usd: Option<String>,
    pub status: String,
}

/// Totals of the current month (org time zone) and lifetime cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageOverview {
    pub time_zone: String,
    pub month_start: String,
    pub cost_month_usd: String,
    pub cost_lifetime_usd: String,
    pub unpriced_month: i64,
    pub input_tokens_month: i64,
    pub cached_input_tokens_month: i64,
    pub output_tokens_month: i64,
    pub requests_month: i64,
    pub events_month: i64,
    pub errors_month: i64,
    pub error_rate_month: String,
    pub by_model: Vec<ModelLine>,
    pub recent: Vec<RecentEvent>,
    /// Models this organization sent without a price in the price book.
    pub unpriced_models: Vec<UnpricedLine>,
}

/// A model seen without a price.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnpricedLine {
    pub model: String,
    pub events: i64,
    pub organizations: i64,
    pub last_seen_ms: i64,
}

/// The organization's usage this month, by model, and its latest events.
#[server(endpoint = "usage_panel")]
pub async fn usage_panel(org_id: String) -> Result<UsageOverview, AppError> {
    use tollbooth::clock::{now_ms, to_rfc3339};
    use tollbooth::metering::events::{self, EventFilter};
    use tollbooth::metering::usage::{self, month_start_ms, GroupBy, UsageQuery};

    let (ctx, scope, _) = ssr::scope(&org_id).await?;
    let org = tollbooth::orgs::get(&ctx.db, &scope).await.map_err(ssr::fail)?;
    let now = now_ms();
    let month = month_start_ms(&org.time_zone, now);
    let q = |from_ms, group_by| UsageQuery { from_ms, to_ms: now + 3_600_000, group_by, ..Default::default() };
    let total = usage::usage(&ctx.db, &org.id, &org.time_zone, &q(month, vec![])).await.map_err(ssr::fail)?;
    let lifetime = usage::usage(&ctx.db, &org.id, &org.time_zone, &q(0, vec![])).await.map_err(ssr::fail)?;
    let mut by_model = usage::usage(&ctx.db, &org.id, &org.time_zone, &q(month, vec![GroupBy::Model])).await.map_err(ssr::fail)?;
    let nanos = |s: &str| tollbooth::pricing::NanoUsd::parse_usd(s).map(|n| n.nanos()).unwrap_or(0);
    by_model.sort_by_key(|r| std::cmp::Reverse(nanos(&r.cost_usd)));
    let filter = EventFilter { from_ms: 0, to_ms: now + 3_600_000, ..Default::default() };
    let (recent, _) = events::list(&ctx.db, &org.id, &filter, None, 20).await.map_err(ssr::fail)?;
    let unpriced = tollbooth::metering::unpriced::unpriced_models(&ctx.db, Some(&org.id)).await.map_err(ssr::fail)?;
    let t = total.first();
    let get = |f: fn(&usage::UsageRow) -> i64| t.map(f).unwrap_or(0);
    Ok(UsageOverview {
        time_zone: org.time_zone.clone(),
        month_start: to_rfc3339(month),
        cost_month_usd: t.map(|r| r.cost_usd.clone()).unwrap_or_else(|| "0.000000000".into()),
        cost_lifetime_usd: lifetime.first().map(|r| r.cost_usd.clone()).unwrap_or_else(|| "0.000000000".into()),
        unpriced_month: get(|r| r.unpriced_events),
        input_tokens_month: get(|r| r.input_tokens),
        cached_input_tokens_month: get(|r| r.cached_input_tokens),
        output_tokens_month: get(|r| r.output_tokens),
        requests_month: get(|r| r.requests),
        events_month: get(|r| r.events),
        errors_month: get(|r| r.errors),
        error_rate_month: t.map(|r| r.error_rate.clone()).unwrap_or_else(|| "0.0000".into()),
        by_model: by_model
            .into_iter()
            .map(|r| ModelLine {
                model: r.group.get("model").cloned().unwrap_or_default(),
                events: r.events,
                input_tokens: r.input_tokens,
                cached_input_tokens: r.cached_input_tokens,
                output_tokens: r.output_tokens,
                cost_usd: r.cost_usd,
                unpriced_events: r.unpriced_events,
                p95_latency_ms: r.p95_latency_ms,
            })
            .collect(),
        recent: recent
            .into_iter()
            .map(|e| RecentEvent {
                id: e.id,
                timestamp: e.timestamp,
                model: e.model,
                input_tokens: e.input_tokens,
                output_tokens: e.output_tokens,
                cost_usd: e.cost_usd,
                status: e.status,
            })
            .collect(),
        unpriced_models: unpriced.into_iter().map(unpriced_line).collect(),
    })
}

#[cfg(feature = "ssr")]
fn unpriced_line(m: tollbooth::metering::unpriced::UnpricedModel) -> UnpricedLine {
    UnpricedLine { model: m.model, events: m.events, organizations: m.organizations, last_seen_ms: m.last_seen_ms }
}

/// Unpriced models across all organizations (platform admins only).
#[server(endpoint = "admin_unpriced_models")]
pub async fn admin_unpriced_models() -> Result<Vec<UnpricedLine>, AppError> {
    let user = ssr::require_user().await?;
    if !user.is_platform_admin {
        return Err(ssr::fail(tollbooth::Error::Forbidden("platform admins only".into())));
    }
    let list = tollbooth::metering::unpriced::unpriced_models(&ssr::ctx()?.db, None).await.map_err(ssr::fail)?;
    Ok(list.into_iter().map(unpriced_line).collect())
}
