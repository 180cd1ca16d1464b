//! The budget banner every organization page shows: budgets whose spend in
//! the current period has reached 80% of their amount.
//!
//! It reads the period counters (`budget_spend`) that ingest keeps, so it is
//! one small query per page load and agrees with the alerts that fired.

use sqlx::Row;

use super::percent;
use crate::clock::now_ms;
use crate::db::Db;
use crate::pricing::NanoUsd;
use crate::calendar::{to_local_rfc3339, zone};
use crate::Result;

/// Share of a budget (percent) from which the banner shows it.
pub const BANNER_PERCENT: i64 = 80;

/// A budget at or past [`BANNER_PERCENT`] of its amount this period.
#[derive(Debug, Clone, PartialEq, Eq)]
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
pub async fn budget_banners(db: &Db, org_id: &str) -> Result<Vec<BudgetBanner>> {
    budget_banners_at(db, org_id, now_ms()).await
}

/// [`budget_banners`] as of `now` (UTC milliseconds).
pub async fn budget_banners_at(db: &Db, org_id: &str, now: i64) -> Result<Vec<BudgetBanner>> {
    let rows = sqlx::query(
        "SELECT b.id, b.name, b.amount_nanos, s.spent_nanos, s.period_end, o.time_zone \
         FROM budget_spend s JOIN budgets b ON b.id = s.budget_id JOIN organizations o ON o.id = b.org_id \
         WHERE s.org_id = $1 AND b.org_id = $1 AND s.period_start <= $2 AND s.period_end > $2",
    )
    .bind(org_id)
    .bind(now)
    .fetch_all(db.reader())
    .await?;
    let mut found: Vec<(i128, BudgetBanner)> = Vec::new();
    for r in &rows {
        let amount: i64 = r.try_get("amount_nanos")?;
        let spent: i64 = r.try_get("spent_nanos")?;
        // spent / amount >= 80%, in integers (i128: no overflow on large spend).
        if amount <= 0 || (spent as i128) * 100 < (amount as i128) * BANNER_PERCENT as i128 {
            continue;
        }
        let tz = zone(&r.try_get::<String, _>("time_zone")?);
        let banner = BudgetBanner {
            budget_id: r.try_get("id")?,
            name: r.try_get("name")?,
            percent: percent(spent, amount),
            spent_usd: NanoUsd::from_nanos(spent).to_short_usd_string(),
            amount_usd: NanoUsd::from_nanos(amount).to_short_usd_string(),
            period_end: to_local_rfc3339(tz, r.try_get("period_end")?),
            exhausted: spent >= amount,
        };
        // Sort key: the share in hundredths of a percent.
        found.push(((spent as i128) * 10_000 / amount as i128, banner));
    }
    found.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.name.cmp(&b.1.name)));
    Ok(found.into_iter().map(|(_, b)| b).collect())
}
