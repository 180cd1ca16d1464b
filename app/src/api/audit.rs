//! The audit log pages: an organization's (its owners and admins) and the
//! whole platform's (platform admins), each with a report of the range.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use tollbooth::audit::{AuditEntryView, AuditFilter, AuditReport};

use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::ssr;

/// How many entries a page lists (the CSV has them all).
pub const PAGE_ENTRIES: i64 = 500;

/// What an audit page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPageData {
    /// Newest first, at most [`PAGE_ENTRIES`].
    pub entries: Vec<AuditEntryView>,
    /// The report of the filter's dates (default: the last 30 days).
    pub report: AuditReport,
    /// The report's first and last day, `YYYY-MM-DD`.
    pub from: String,
    pub to: String,
    pub time_zone: String,
}

/// The report's range: the filter's dates, else the last 30 days.
#[cfg(feature = "ssr")]
fn range(f: &AuditFilter, time_zone: &str) -> Result<tollbooth::date_range::DateRange, AppError> {
    let blank = f.from.trim().is_empty() || f.to.trim().is_empty();
    Ok(tollbooth::date_range::DateRange::parse(
        blank.then_some("30d"),
        (!blank).then_some(f.from.trim()),
        (!blank).then_some(f.to.trim()),
        time_zone,
        tollbooth::clock::now_ms(),
    )?)
}

#[cfg(feature = "ssr")]
async fn page(db: &tollbooth::db::Db, org_id: Option<&str>, filter: &AuditFilter, time_zone: &str) -> Result<AuditPageData, AppError> {
    let entries = tollbooth::audit::list(db, org_id, filter, time_zone, PAGE_ENTRIES).await?;
    let r = range(filter, time_zone)?;
    let report = tollbooth::audit::report(db, org_id, r.start_ms(), r.end_ms()).await?;
    Ok(AuditPageData {
        entries,
        report,
        from: r.from.format("%Y-%m-%d").to_string(),
        to: r.to.format("%Y-%m-%d").to_string(),
        time_zone: time_zone.to_string(),
    })
}

/// One organization's log and report (its owners and admins).
#[server(endpoint = "org_audit", input = leptos::server_fn::codec::Json)]
pub async fn org_audit(org_id: String, filter: AuditFilter) -> Result<AuditPageData, AppError> {
    let (ctx, scope, _) = ssr::scope(&org_id).await?;
    scope.require(tollbooth::orgs::Role::Admin)?;
    let org = tollbooth::orgs::get(&ctx.db, &scope).await?;
    page(&ctx.db, Some(&org.id), &filter, &org.time_zone).await
}

/// Every organization's log and the platform report (platform admins; dates in UTC).
#[server(endpoint = "admin_audit", input = leptos::server_fn::codec::Json)]
pub async fn admin_audit(filter: AuditFilter) -> Result<AuditPageData, AppError> {
    let (ctx, _) = ssr::platform_admin().await?;
    page(&ctx.db, None, &filter, "UTC").await
}
