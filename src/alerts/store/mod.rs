//! Storage of alerts (`alerts`) and, in the submodules, of what goes with
//! them: the outbox (`notifications`), webhook endpoints and their delivery
//! log, the settings, and the confirmations of extra recipients. The alerts
//! module owns these tables.

pub(crate) mod outbox;
pub(crate) mod recipients;
pub(crate) mod settings;
pub(crate) mod usage_hooks;
pub(crate) mod webhooks;

use sqlx::{AnyConnection, Row};

use super::{AlertKind, AlertView, NewAlert};
use crate::calendar::to_local_rfc3339;
use crate::{Error, Result};

const COLUMNS: &str = "id, kind, scope, scope_id, budget_id, period_start, period_end, observed, threshold, message, \
                       created_at, acknowledged_by, acknowledged_at, threshold_percent, threshold_nanos, observed_nanos";

fn view_of(r: &sqlx::any::AnyRow, tz: chrono_tz::Tz) -> Result<AlertView> {
    let local = |ms: i64| to_local_rfc3339(tz, ms);
    let kind: String = r.try_get("kind")?;
    let scope_id: String = r.try_get("scope_id")?;
    Ok(AlertView {
        id: r.try_get("id")?,
        kind: AlertKind::parse(&kind).ok_or_else(|| Error::Internal(format!("bad alert kind {kind:?} in store")))?,
        scope: r.try_get("scope")?,
        scope_id: (!scope_id.is_empty()).then_some(scope_id),
        budget_id: r.try_get("budget_id")?,
        period_start: r.try_get::<Option<i64>, _>("period_start")?.map(local),
        period_end: r.try_get::<Option<i64>, _>("period_end")?.map(local),
        observed: r.try_get("observed")?,
        threshold: r.try_get("threshold")?,
        threshold_percent: r.try_get("threshold_percent")?,
        threshold_usd: usd(r.try_get("threshold_nanos")?),
        observed_usd: usd(r.try_get("observed_nanos")?),
        message: r.try_get("message")?,
        created_at: local(r.try_get("created_at")?),
        acknowledged_by: r.try_get("acknowledged_by")?,
        acknowledged_at: r.try_get::<Option<i64>, _>("acknowledged_at")?.map(local),
    })
}

fn usd(nanos: Option<i64>) -> Option<String> {
    nanos.map(|n| crate::pricing::NanoUsd::from_nanos(n).to_usd_string())
}

/// Stores an alert unless its dedupe key fired before in the organization;
/// returns whether it was stored.
pub(crate) async fn insert(conn: &mut AnyConnection, id: &str, org_id: &str, alert: &NewAlert, now: i64) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO alerts (id, org_id, kind, dedupe_key, budget_id, scope, scope_id, period_start, period_end, \
         observed, threshold, message, created_at, threshold_percent, threshold_nanos, observed_nanos) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
         ON CONFLICT (org_id, dedupe_key) DO NOTHING",
    )
    .bind(id)
    .bind(org_id)
    .bind(alert.kind.as_str())
    .bind(&alert.dedupe_key)
    .bind(&alert.budget_id)
    .bind(&alert.scope)
    .bind(&alert.scope_id)
    .bind(alert.period_start)
    .bind(alert.period_end)
    .bind(&alert.observed)
    .bind(&alert.threshold)
    .bind(&alert.message)
    .bind(now)
    .bind(alert.threshold_percent)
    .bind(alert.threshold_nanos)
    .bind(alert.observed_nanos)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() != 0)
}

/// The organization's alerts, newest first (only unacknowledged ones when
/// asked), with times in `tz`.
pub(crate) async fn list(conn: &mut AnyConnection, org_id: &str, tz: chrono_tz::Tz, unacknowledged_only: bool, limit: i64) -> Result<Vec<AlertView>> {
    let filter = if unacknowledged_only { " AND acknowledged_at IS NULL" } else { "" };
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM alerts WHERE org_id = $1{filter} ORDER BY created_at DESC, id DESC LIMIT $2"
    ))
    .bind(org_id)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(|r| view_of(r, tz)).collect()
}

/// One alert of the organization, which must exist, with times in `tz`.
pub(crate) async fn get(conn: &mut AnyConnection, org_id: &str, id: &str, tz: chrono_tz::Tz) -> Result<AlertView> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM alerts WHERE id = $1 AND org_id = $2"))
        .bind(id)
        .bind(org_id)
        .fetch_one(conn)
        .await?;
    view_of(&row, tz)
}

/// How many of the organization's alerts nobody has acknowledged.
pub(crate) async fn unread_count(conn: &mut AnyConnection, org_id: &str) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM alerts WHERE org_id = $1 AND acknowledged_at IS NULL")
        .bind(org_id)
        .fetch_one(conn)
        .await?)
}

/// Marks an alert acknowledged by `by` at `now`, keeping an earlier
/// acknowledgement; returns whether the alert exists.
pub(crate) async fn acknowledge(conn: &mut AnyConnection, org_id: &str, id: &str, by: &str, now: i64) -> Result<bool> {
    let found = sqlx::query(
        "UPDATE alerts SET acknowledged_by = COALESCE(acknowledged_by, $3), acknowledged_at = COALESCE(acknowledged_at, $4) \
         WHERE id = $1 AND org_id = $2",
    )
    .bind(id)
    .bind(org_id)
    .bind(by)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(found.rows_affected() != 0)
}

/// Acknowledges every open alert of the organization; returns how many.
pub(crate) async fn acknowledge_all(conn: &mut AnyConnection, org_id: &str, by: &str, now: i64) -> Result<u64> {
    let done = sqlx::query(
        "UPDATE alerts SET acknowledged_by = $2, acknowledged_at = $3 WHERE org_id = $1 AND acknowledged_at IS NULL",
    )
    .bind(org_id)
    .bind(by)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Organizations with alerts of `kind` created in `[from, to)`: (organization,
/// how many, the last one's time), most recent first.
pub(crate) async fn orgs_with(conn: &mut AnyConnection, kind: &str, from_ms: i64, to_ms: i64) -> Result<Vec<(String, i64, i64)>> {
    let rows = sqlx::query(
        "SELECT org_id, COUNT(*) AS n, MAX(created_at) AS last_at FROM alerts WHERE kind = $1 AND created_at >= $2 AND created_at < $3 \
         GROUP BY org_id ORDER BY MAX(created_at) DESC",
    )
    .bind(kind)
    .bind(from_ms)
    .bind(to_ms)
    .fetch_all(conn)
    .await?;
    rows.iter().map(|r| Ok((r.try_get("org_id")?, r.try_get("n")?, r.try_get("last_at")?))).collect()
}
