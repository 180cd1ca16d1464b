//! A budget's spend day by day through its current period, for the chart on
//! the budget's page.
//!
//! Days are the organization's local calendar days, like the period itself.
//! The organization's spend comes from its day counters (`usage_counters`,
//! keyed by local midnight); a project's, user's or API key's from its events,
//! summed in SQL per quarter hour and folded into local days here. Every zone
//! in use today is offset from UTC by a whole number of quarter hours, so
//! local midnight always falls on a quarter-hour boundary and no quarter hour
//! straddles two days: the fold is exact.

use serde::{Deserialize, Serialize};

/// One local day of a budget's current period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpendDay {
    /// `YYYY-MM-DD` in the organization's time zone.
    pub date: String,
    /// Exact USD spent that day; `None` for days still ahead.
    pub spent_usd: Option<String>,
    /// Exact USD spent from the period's start through the end of that day;
    /// `None` for days still ahead.
    pub cumulative_usd: Option<String>,
}

/// A budget's current period, day by day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpendSeries {
    pub budget_id: String,
    pub time_zone: String,
    /// Every day of the period, first to last; the elapsed ones (through
    /// today) carry amounts.
    pub days: Vec<SpendDay>,
}

#[cfg(feature = "ssr")]
pub use store::spend_by_day;

#[cfg(feature = "ssr")]
mod store {
    use std::collections::BTreeMap;

    use chrono::{Days, NaiveDate};

    use super::{SpendDay, SpendSeries};
    use crate::budgets::{get, period_window, Scope};
    use crate::metering::store::{self as events, Dimension};
    use crate::quota::store::counters;
    use crate::db::Db;
    use crate::pricing::NanoUsd;
    use crate::calendar::{local_date, zone};
    use crate::Result;

    /// Events are summed per quarter hour (milliseconds), then folded into days.
    const SLOT_MS: i64 = 15 * 60 * 1000;

    /// The cumulative exact spend per local day of budget `id`'s period
    /// containing `now_ms`, for the budget's scope.
    pub async fn spend_by_day(db: &Db, org_id: &str, id: &str, now_ms: i64) -> Result<SpendSeries> {
        let budget = get(db, org_id, id).await?;
        let mut conn = db.reader().acquire().await?;
        let time_zone = crate::orgs::store::existing_time_zone(&mut conn, org_id).await?;
        let tz = zone(&time_zone);
        let w = period_window(tz, budget.period, now_ms);

        // (instant, nano-USD) pairs, each instant inside the day it belongs to.
        let spent_at = match budget.scope {
            Scope::Organization => counters::cost_by_day(&mut conn, org_id, w).await?,
            scope => {
                let dimension = match scope {
                    Scope::Project => Dimension::Project,
                    Scope::User => Dimension::User,
                    _ => Dimension::ApiKey,
                };
                let value = budget.scope_id.as_deref().unwrap_or_default();
                events::cost_of_by_slot(&mut conn, org_id, dimension, value, w, SLOT_MS).await?
            }
        };
        let mut by_day: BTreeMap<NaiveDate, i64> = BTreeMap::new();
        for (at, spent) in spent_at {
            *by_day.entry(local_date(tz, at)).or_default() += spent;
        }

        let today = local_date(tz, now_ms.clamp(w.start_ms, w.end_ms - 1));
        let last = local_date(tz, w.end_ms - 1);
        let mut days = Vec::new();
        let mut total: i64 = 0;
        let mut d = local_date(tz, w.start_ms);
        while d <= last {
            let elapsed = d <= today;
            let spent = by_day.get(&d).copied().unwrap_or(0);
            total = total.saturating_add(spent);
            let usd = |n: i64| elapsed.then(|| NanoUsd::from_nanos(n).to_short_usd_string());
            days.push(SpendDay { date: d.format("%Y-%m-%d").to_string(), spent_usd: usd(spent), cumulative_usd: usd(total) });
            match d.checked_add_days(Days::new(1)) {
                Some(next) => d = next,
                None => break,
            }
        }
        Ok(SpendSeries { budget_id: budget.id, time_zone, days })
    }
}
