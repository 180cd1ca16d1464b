//! The usage panel's read model: everything the organization's home page
//! shows for a range (this month's cards, the range's totals, daily points,
//! breakdowns, the latest events, unpriced models), in one value. Amounts are
//! [`NanoUsd`]; the page formats them.
//!
//! Every figure comes from the narrow rollups ([`super::analytics`]) in one
//! `GROUP BY` each through the usage report ([`super::usage`]); the lifetime
//! cost from the running totals; the reads run at once. Breakdowns send the
//! top [`BREAKDOWN_ROWS`] by cost and count the rest. Users and sessions,
//! as many groups as active users or sessions, are not read with the panel:
//! their tab asks for them ([`usage_breakdown`]), for ranges up to
//! [`WIDE_MAX_DAYS`](super::analytics::WIDE_MAX_DAYS) days.

use serde::{Deserialize, Serialize};

use super::unpriced::{PartlyPricedModel, UnpricedModel};
use crate::pricing::NanoUsd;

/// Most rows a breakdown sends (largest cost first); the rest are counted.
pub const BREAKDOWN_ROWS: usize = 200;
/// Events shown under "Recent activity".
pub const RECENT_EVENTS: i64 = 20;

/// What the page asks for, straight from its URL query: the range
/// (`range=7d|30d|90d|month`, or `from`/`to` dates) and the recent-activity filter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PanelQuery {
    pub range: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub model: Option<String>,
    pub status: Option<String>,
    pub user: Option<String>,
    pub project: Option<String>,
    pub feature: Option<String>,
}

/// The resolved range: local dates (both included) and the UTC window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangeView {
    /// `7d`, `30d`, `90d`, `month` or `custom`.
    pub key: String,
    pub from_date: String,
    pub to_date: String,
    /// RFC 3339 UTC start of the window (inclusive), for links to the APIs.
    pub from: String,
    /// RFC 3339 UTC end of the window (exclusive).
    pub to: String,
}

/// Sums over a period.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Cost of the priced events.
    pub cost: NanoUsd,
    pub unpriced_events: i64,
    /// Events priced only in part (their cost misses the units named on each).
    #[serde(default)]
    pub partial_events: i64,
    pub events: i64,
    pub requests: i64,
    pub errors: i64,
    /// errors / events, 4 decimal places.
    pub error_rate: String,
    pub input_tokens: i64,
    pub cached_input_tokens: i64,
    pub output_tokens: i64,
}

/// One local day of the range (days without usage are zero).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayPoint {
    /// `YYYY-MM-DD` in the organization's time zone.
    pub date: String,
    pub cost: NanoUsd,
    pub input_tokens: i64,
    pub cached_input_tokens: i64,
    pub output_tokens: i64,
}

/// The dimensions of the breakdown table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Dimension {
    Model,
    User,
    Project,
    Feature,
    Session,
}

impl Dimension {
    pub const ALL: [Dimension; 5] =
        [Dimension::Model, Dimension::User, Dimension::Project, Dimension::Feature, Dimension::Session];

    pub fn label(self) -> &'static str {
        match self {
            Dimension::Model => "Model",
            Dimension::User => "User",
            Dimension::Project => "Project",
            Dimension::Feature => "Feature",
            Dimension::Session => "Session",
        }
    }
}

/// One line of a breakdown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakdownRow {
    /// The model, user id, project id, feature or session id; empty when events had none.
    pub name: String,
    pub events: i64,
    pub requests: i64,
    pub errors: i64,
    pub input_tokens: i64,
    pub cached_input_tokens: i64,
    pub output_tokens: i64,
    pub cost: NanoUsd,
    pub unpriced_events: i64,
    /// Events priced only in part.
    #[serde(default)]
    pub partial_events: i64,
    /// Cost per 1,000 tokens (input + output) in USD, exact to 9 decimal
    /// places; `None` without tokens, or unless every event was priced whole
    /// (a rate over partly priced or unpriced events would understate it).
    pub cost_per_1k_usd: Option<String>,
    /// Only for models (see the usage report).
    pub p95_latency_ms: Option<i64>,
}

/// The breakdown by one dimension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Breakdown {
    pub dimension: Dimension,
    pub rows: Vec<BreakdownRow>,
    /// Rows left out beyond [`BREAKDOWN_ROWS`].
    pub more: usize,
    /// Why this breakdown is not shown for the range (a range cap), if so.
    #[serde(default)]
    pub unavailable: Option<String>,
    /// Not read with the panel: users and sessions are as many groups as
    /// active users or sessions, so the page asks for their rows
    /// ([`usage_breakdown`]) when their tab is opened.
    #[serde(default)]
    pub deferred: bool,
}

impl Dimension {
    /// Whether the panel leaves this breakdown for its tab to ask for.
    pub fn deferred(self) -> bool {
        matches!(self, Dimension::User | Dimension::Session)
    }
}

/// One recent event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecentEvent {
    pub id: String,
    /// RFC 3339 UTC.
    pub timestamp: String,
    pub model: String,
    pub user_id: Option<String>,
    pub project_id: Option<String>,
    pub feature: Option<String>,
    pub input_tokens: i64,
    pub cached_input_tokens: i64,
    pub output_tokens: i64,
    /// `None`: the model had no price.
    pub cost: Option<NanoUsd>,
    /// The fields nothing priced: the cost covers the rest only ("partial").
    #[serde(default)]
    pub unpriced_units: Vec<String>,
    pub status: String,
    /// Set for a call recorded by the gateway.
    #[serde(default)]
    pub gateway: Option<GatewayCall>,
}

/// What the gateway recorded of a call it served (from the event's
/// metadata): the endpoint, whether it streamed, its time to first token,
/// and whether its usage is an estimate (the stream broke before the
/// provider reported it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayCall {
    pub endpoint: String,
    pub stream: bool,
    pub first_token_ms: Option<u64>,
    pub estimated: bool,
}

impl GatewayCall {
    /// Reads an event's metadata; `None` unless the gateway wrote it.
    pub fn from_metadata(metadata: &str) -> Option<Self> {
        let v: serde_json::Value = serde_json::from_str(metadata).ok()?;
        if v.get("gateway").and_then(serde_json::Value::as_bool) != Some(true) {
            return None;
        }
        Some(GatewayCall {
            endpoint: v.get("endpoint")?.as_str()?.to_string(),
            stream: v.get("stream").and_then(serde_json::Value::as_bool).unwrap_or(false),
            first_token_ms: v.get("time_to_first_token_ms").and_then(serde_json::Value::as_u64),
            estimated: v.get("usage_estimated").and_then(serde_json::Value::as_bool).unwrap_or(false),
        })
    }

    /// One line for the activity table: `/v1/messages · stream · first token 120 ms · usage estimated`.
    pub fn describe(&self) -> String {
        let mut parts = vec![self.endpoint.clone()];
        if self.stream {
            parts.push("stream".into());
        }
        if let Some(t) = self.first_token_ms {
            parts.push(format!("first token {t} ms"));
        }
        if self.estimated {
            parts.push("usage estimated".into());
        }
        parts.join(" · ")
    }
}

#[cfg(test)]
mod gateway_call_tests {
    use super::GatewayCall;

    #[test]
    fn gateway_metadata_reads_into_one_line() {
        let g = GatewayCall::from_metadata(r#"{"gateway":true,"endpoint":"/v1/messages","stream":true,"upstream_status":200,"time_to_first_token_ms":42,"usage_estimated":true}"#).unwrap();
        assert_eq!(g.describe(), "/v1/messages · stream · first token 42 ms · usage estimated");
        let g = GatewayCall::from_metadata(r#"{"gateway":true,"endpoint":"/v1/embeddings","stream":false}"#).unwrap();
        assert_eq!(g.describe(), "/v1/embeddings");
        assert_eq!(GatewayCall::from_metadata(r#"{"endpoint":"/v1/messages"}"#), None, "only what the gateway wrote");
        assert_eq!(GatewayCall::from_metadata("not json"), None);
    }
}

/// The whole usage panel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PanelData {
    pub time_zone: String,
    /// The current calendar month (org time zone), for the cards.
    pub month: Totals,
    pub lifetime_cost: NanoUsd,
    pub range: RangeView,
    pub totals: Totals,
    pub daily: Vec<DayPoint>,
    pub breakdowns: Vec<Breakdown>,
    /// Latest events of the range matching the filter, newest first.
    pub recent: Vec<RecentEvent>,
    /// Models this organization sent without a price in the price book.
    pub unpriced_models: Vec<UnpricedModel>,
    /// Models this organization sent with units their price does not cover.
    #[serde(default)]
    pub partly_priced_models: Vec<PartlyPricedModel>,
    /// The time of equal length just before this month so far (the cards'
    /// period-over-period change, [`super::projection::previous_period`]).
    #[serde(default)]
    pub previous_month: Totals,
    /// This month's spend projected to its end ([`super::projection`]).
    #[serde(default)]
    pub projection: Option<super::projection::Projection>,
}

#[cfg(feature = "ssr")]
pub use read::{usage_breakdown, usage_panel};

#[cfg(feature = "ssr")]
mod read {
    use std::collections::HashMap;

    use super::*;
    use crate::clock::to_rfc3339;
    use crate::date_range::DateRange;
    use crate::db::Db;
    use crate::metering::analytics;
    use crate::metering::events::{self, EventFilter};
    use crate::metering::unpriced::unpriced_models;
    use crate::metering::usage::{self, month_start_ms, GroupBy, UsageQuery, UsageRow};
    use crate::orgs::OrgView;
    use crate::pricing::money::cost_per_1k_tokens;
    use crate::Result;

    /// The usage panel of `org` for the asked range, at `now`.
    pub async fn usage_panel(db: &Db, org: &OrgView, query: &PanelQuery, now: i64) -> Result<PanelData> {
        let range = DateRange::parse(query.range.as_deref(), query.from.as_deref(), query.to.as_deref(), &org.time_zone, now)?;
        let (from, to) = (range.start_ms(), range.end_ms());
        // Every figure comes from the narrow rollups in one GROUP BY each
        // (metering::analytics); the lifetime from the running totals.
        let report = |from_ms: i64, to_ms: i64, group_by: Vec<GroupBy>, limit: Option<i64>| {
            let q = UsageQuery { from_ms, to_ms, group_by, limit, ..Default::default() };
            async move { usage::report(db, &org.id, &org.time_zone, &q).await }
        };

        let blank = |s: &Option<String>| s.as_ref().map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        let filter = EventFilter {
            from_ms: from,
            to_ms: to,
            model: blank(&query.model),
            user_id: blank(&query.user),
            project_id: blank(&query.project),
            feature: blank(&query.feature),
            status: blank(&query.status),
            session_id: None,
        };

        // The reads are independent: they run at once, each on its own
        // connection, and the panel waits for the slowest.
        let month_start = month_start_ms(&org.time_zone, now);
        let (prev_from, prev_to) = crate::metering::projection::previous_period(month_start, now);
        // Of the breakdown's tabs, the server renders the first (models,
        // which the cost-by-model chart also draws); the others are asked
        // for when selected (`usage_breakdown`), so a long range does not
        // aggregate a year of project and feature rows nobody may look at.
        let (month, lifetime, totals, by_day, by_model, (recent, _), unpriced, partly_priced, previous, projection) = tokio::try_join!(
            // Rollup buckets are hourly; an hour past "now" covers the current bucket.
            report(month_start, now + 3_600_000, vec![], None),
            async { analytics::store::lifetime(&mut *db.reader().acquire().await?, &org.id).await },
            report(from, to, vec![], None),
            report(from, to, vec![GroupBy::Day], None),
            breakdown(db, org, from, to, Dimension::Model),
            events::list(db, &org.id, &filter, None, RECENT_EVENTS),
            unpriced_models(db, Some(&org.id)),
            crate::metering::unpriced::partly_priced_models(db, Some(&org.id)),
            report(prev_from.min(prev_to - 1), prev_to, vec![], None),
            crate::metering::projection::month_end(db, &org.id, &org.time_zone, now),
        )?;
        let (month, totals, by_day) = (month.rows, totals.rows, by_day.rows);
        let deferred = |dim| Breakdown { dimension: dim, rows: vec![], more: 0, unavailable: None, deferred: true };
        let breakdowns = std::iter::once(by_model).chain(Dimension::ALL.into_iter().filter(|d| *d != Dimension::Model).map(deferred)).collect();

        let mut daily: HashMap<String, UsageRow> =
            by_day.into_iter().map(|r| (r.group.get("day").map(|d| d[..10.min(d.len())].to_string()).unwrap_or_default(), r)).collect();
        let daily = range
            .days()
            .map(|d| {
                let date = d.format("%Y-%m-%d").to_string();
                let r = daily.remove(&date);
                DayPoint {
                    cost: r.as_ref().map_or(NanoUsd::ZERO, |r| NanoUsd::from_nanos(r.cost_nanos)),
                    input_tokens: r.as_ref().map_or(0, |r| r.input_tokens),
                    cached_input_tokens: r.as_ref().map_or(0, |r| r.cached_input_tokens),
                    output_tokens: r.as_ref().map_or(0, |r| r.output_tokens),
                    date,
                }
            })
            .collect();

        Ok(PanelData {
            time_zone: org.time_zone.clone(),
            month: month.first().map(totals_of).unwrap_or_else(empty_totals),
            lifetime_cost: NanoUsd::from_nanos(lifetime.cost_nano),
            range: RangeView {
                key: range.kind.key().to_string(),
                from_date: range.from.format("%Y-%m-%d").to_string(),
                to_date: range.to.format("%Y-%m-%d").to_string(),
                from: to_rfc3339(from),
                to: to_rfc3339(to),
            },
            totals: totals.first().map(totals_of).unwrap_or_else(empty_totals),
            daily,
            breakdowns,
            recent: recent
                .into_iter()
                .map(|e| RecentEvent {
                    id: e.id,
                    timestamp: e.timestamp,
                    model: e.model,
                    user_id: e.user_id,
                    project_id: e.project_id,
                    feature: e.feature,
                    input_tokens: e.input_tokens,
                    cached_input_tokens: e.cached_input_tokens,
                    output_tokens: e.output_tokens,
                    cost: e.cost_nano.map(NanoUsd::from_nanos),
                    unpriced_units: e.unpriced_units,
                    status: e.status,
                    gateway: e.metadata.as_deref().and_then(GatewayCall::from_metadata),
                })
                .collect(),
            unpriced_models: unpriced,
            partly_priced_models: partly_priced,
            previous_month: previous.rows.first().map(totals_of).unwrap_or_else(empty_totals),
            projection: Some(projection),
        })
    }

    /// One breakdown of the panel's range (the rows a deferred tab asks for).
    pub async fn usage_breakdown(db: &Db, org: &OrgView, query: &PanelQuery, dim: Dimension, now: i64) -> Result<Breakdown> {
        let range = DateRange::parse(query.range.as_deref(), query.from.as_deref(), query.to.as_deref(), &org.time_zone, now)?;
        breakdown(db, org, range.start_ms(), range.end_ms(), dim).await
    }

    /// The top [`BREAKDOWN_ROWS`] groups of `dim` over `[from, to)` by cost,
    /// the rest counted; users and sessions past their range cap say so.
    async fn breakdown(db: &Db, org: &OrgView, from: i64, to: i64, dim: Dimension) -> Result<Breakdown> {
        let g = match dim {
            Dimension::Model => GroupBy::Model,
            Dimension::User => GroupBy::User,
            Dimension::Project => GroupBy::Project,
            Dimension::Feature => GroupBy::Feature,
            Dimension::Session => GroupBy::Session,
        };
        // Users and sessions are as many groups as active users or
        // sessions: past the cap the panel says so instead of reading them.
        let days = (to - from + 86_399_999) / 86_400_000;
        let cap = analytics::WIDE_MAX_DAYS;
        if matches!(dim, Dimension::User | Dimension::Session) && days > cap {
            let unavailable = Some(format!("Shown for ranges of up to {cap} days: pick a shorter range to see each {}.", dim.label().to_lowercase()));
            return Ok(Breakdown { dimension: dim, rows: vec![], more: 0, unavailable, deferred: false });
        }
        let q = UsageQuery { from_ms: from, to_ms: to, group_by: vec![g], limit: Some(BREAKDOWN_ROWS as i64), ..Default::default() };
        let r = usage::report(db, &org.id, &org.time_zone, &q).await?;
        let more = (r.groups as usize).saturating_sub(r.rows.len());
        let rows = r.rows.into_iter().map(|row| breakdown_row(g.name(), row)).collect();
        Ok(Breakdown { dimension: dim, rows, more, unavailable: None, deferred: false })
    }

    fn empty_totals() -> Totals {
        Totals { cost: NanoUsd::ZERO, error_rate: "0.0000".into(), ..Default::default() }
    }

    fn totals_of(r: &UsageRow) -> Totals {
        Totals {
            cost: NanoUsd::from_nanos(r.cost_nanos),
            unpriced_events: r.unpriced_events,
            partial_events: r.partial_events,
            events: r.events,
            requests: r.requests,
            errors: r.errors,
            error_rate: r.error_rate.clone(),
            input_tokens: r.input_tokens,
            cached_input_tokens: r.cached_input_tokens,
            output_tokens: r.output_tokens,
        }
    }

    fn breakdown_row(dimension: &str, r: UsageRow) -> BreakdownRow {
        let priced = r.unpriced_events == 0 && r.partial_events == 0;
        let cost = NanoUsd::from_nanos(r.cost_nanos);
        BreakdownRow {
            name: r.group.get(dimension).cloned().unwrap_or_default(),
            cost_per_1k_usd: if priced { cost_per_1k_tokens(cost, r.input_tokens + r.output_tokens) } else { None },
            events: r.events,
            requests: r.requests,
            errors: r.errors,
            input_tokens: r.input_tokens,
            cached_input_tokens: r.cached_input_tokens,
            output_tokens: r.output_tokens,
            cost,
            unpriced_events: r.unpriced_events,
            partial_events: r.partial_events,
            p95_latency_ms: r.p95_latency_ms,
        }
    }
}
