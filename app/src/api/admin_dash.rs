//! The platform admin dashboard (`/admin`): figures over a range with a
//! series per day, week or month, and the organization list.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use tollbooth::admin::{AdminSummary, TenantPage};

use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::ssr;

/// The dashboard's range as the URL gives it: `period` (`day`, `week` or
/// `month`: the series' bucket and, without dates, the default range) and
/// optional `from`/`to` (`YYYY-MM-DD`, UTC, both included).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DashQuery {
    pub period: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// The dashboard's data and the range it covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DashboardView {
    pub summary: AdminSummary,
    /// `day`, `week` or `month`.
    pub period: String,
    /// First and last day, `YYYY-MM-DD` (UTC).
    pub from: String,
    pub to: String,
}

#[cfg(feature = "ssr")]
fn blank(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Figures of the range (platform admins only). Without dates: the last 30
/// days by day, the last 12 weeks by week, the last 12 months by month.
#[server(endpoint = "admin_dashboard", input = leptos::server_fn::codec::Json)]
pub async fn admin_dashboard(query: DashQuery) -> Result<DashboardView, AppError> {
    use tollbooth::admin::{self, Bucket};
    use tollbooth::clock::{now_ms, to_rfc3339};
    let (ctx, _) = ssr::platform_admin().await?;
    let bucket = Bucket::parse(blank(&query.period).unwrap_or("day"))?;
    let (from, to) = match (blank(&query.from), blank(&query.to)) {
        (Some(f), Some(t)) => admin::parse_range(Some(f), Some(t))?,
        _ => {
            // Buckets are aligned by the core; this only picks how far back.
            let days_back = match bucket {
                Bucket::Daily => 29,
                Bucket::Weekly => 83,
                Bucket::Monthly => 364,
            };
            let start = to_rfc3339(now_ms() - days_back * 86_400_000);
            admin::parse_range(start.get(..10), None)?
        }
    };
    let summary = admin::summary(&ctx.db, from, to, bucket).await?;
    let day = |ms: i64| tollbooth::clock::to_rfc3339(ms).get(..10).unwrap_or_default().to_string();
    let period = match bucket {
        Bucket::Daily => "day",
        Bucket::Weekly => "week",
        Bucket::Monthly => "month",
    };
    Ok(DashboardView { summary, period: period.into(), from: day(from), to: day(to - 1) })
}

/// Organizations listed per page of the admin tenant list.
pub const TENANTS_PER_PAGE: i64 = 50;

/// One page (from 1) of the organizations matching `search` (name or id)
/// with plan, status and this month's cost, newest first, and how many match
/// (platform admins only); `trialing` present: only those with an active trial.
#[server(endpoint = "admin_tenants")]
pub async fn admin_tenants(search: String, #[server(default)] trialing: Option<String>, #[server(default)] page: Option<u32>) -> Result<TenantPage, AppError> {
    let (ctx, _) = ssr::platform_admin().await?;
    let only = trialing.as_deref().is_some_and(|t| !t.is_empty() && t != "false");
    let offset = (i64::from(page.unwrap_or(1).max(1)) - 1) * TENANTS_PER_PAGE;
    Ok(tollbooth::admin::tenants_page(&ctx.db, &search, only, offset, Some(TENANTS_PER_PAGE)).await?)
}
