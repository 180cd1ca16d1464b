//! The budget banner every organization page shows: budgets whose spend in
//! the current period has reached 80% of their amount.
//!
//! It reads the period counters (`budget_spend`) that ingest keeps, so it is
//! one small query per page load and agrees with the alerts that fired.

use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use super::{percent, store};
#[cfg(feature = "ssr")]
use crate::calendar::{to_local_rfc3339, zone};
#[cfg(feature = "ssr")]
use crate::clock::now_ms;
#[cfg(feature = "ssr")]
use crate::db::Db;
#[cfg(feature = "ssr")]
use crate::pricing::NanoUsd;
#[cfg(feature = "ssr")]
use crate::Result;

/// Share of a budget (percent) from which the banner shows it.
pub const BANNER_PERCENT: i64 = 80;

/// A budget at or past [`BANNER_PERCENT`] of its amount this period, as the
/// banner shows it (the pages receive this view as it is).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetBanner {
    pub budget_id: String,
    pub name: String,
    /// Spent as a percentage of the amount, two decimals (`"85.00"`).
    pub percent: String,
    /// Exact USD amounts (`"0.85"`, `"1.00"`).
    pub spent_usd: String,
    pub amount_usd: String,
    /// When the current period ends (RFC 3339, organization's zone).
    pub period_end: String,
    /// The whole amount is spent.
    pub exhausted: bool,
}

/// The organization's budgets at 80% or more of their amount in the period
/// that contains now, fullest first.
#[cfg(feature = "ssr")]
pub async fn budget_banners(db: &Db, org_id: &str) -> Result<Vec<BudgetBanner>> {
    budget_banners_at(db, org_id, now_ms()).await
}

/// [`budget_banners`] as of `now` (UTC milliseconds).
#[cfg(feature = "ssr")]
pub async fn budget_banners_at(db: &Db, org_id: &str, now: i64) -> Result<Vec<BudgetBanner>> {
    let rows = store::current_spend(&mut *db.reader().acquire().await?, org_id, now).await?;
    let mut found: Vec<(i128, BudgetBanner)> = Vec::new();
    for r in rows {
        let (amount, spent) = (r.amount, r.spent);
        // spent / amount >= 80%, in integers (i128: no overflow on large spend).
        if amount <= 0 || (spent as i128) * 100 < (amount as i128) * BANNER_PERCENT as i128 {
            continue;
        }
        let tz = zone(&r.time_zone);
        let banner = BudgetBanner {
            budget_id: r.budget_id,
            name: r.name,
            percent: percent(spent, amount),
            spent_usd: NanoUsd::from_nanos(spent).to_short_usd_string(),
            amount_usd: NanoUsd::from_nanos(amount).to_short_usd_string(),
            period_end: to_local_rfc3339(tz, r.period_end),
            exhausted: spent >= amount,
        };
        // Sort key: the share in hundredths of a percent.
        found.push(((spent as i128) * 10_000 / amount as i128, banner));
    }
    found.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.name.cmp(&b.1.name)));
    Ok(found.into_iter().map(|(_, b)| b).collect())
}
