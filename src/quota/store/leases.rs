//! Storage of quota leases (`quota_leases`): the headroom each server
//! process may grant without asking the database (see [`crate::quota::lease`]).

use sqlx::{AnyConnection, Row};

use crate::db::{values_rows, Engine};
use crate::plans::{Metric, Period};
use crate::Result;

/// One holder's slack on one limit in one window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slack {
    pub metric: Metric,
    pub period: Period,
    pub window_end: i64,
    pub slack: i64,
}

/// The unexpired slack every holder but `holder` has leased in the
/// organization, summed per limit and window.
pub async fn others(conn: &mut AnyConnection, org_id: &str, holder: &str, now_ms: i64) -> Result<Vec<Slack>> {
    slack_of(conn, org_id, Some(holder), now_ms).await
}

/// The unexpired slack of every holder of the organization, summed per
/// limit and window.
pub async fn all(conn: &mut AnyConnection, org_id: &str, now_ms: i64) -> Result<Vec<Slack>> {
    slack_of(conn, org_id, None, now_ms).await
}

async fn slack_of(conn: &mut AnyConnection, org_id: &str, but: Option<&str>, now_ms: i64) -> Result<Vec<Slack>> {
    let rows = sqlx::query(
        "SELECT metric, period, window_end, CAST(SUM(slack) AS BIGINT) AS slack FROM quota_leases \
         WHERE org_id = $1 AND holder <> $2 AND expires_at > $3 AND slack > 0 GROUP BY metric, period, window_end",
    )
    .bind(org_id)
    .bind(but.unwrap_or(""))
    .bind(now_ms)
    .fetch_all(conn)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let (Ok(metric), Ok(period)) = (Metric::parse(&r.try_get::<String, _>("metric")?), Period::parse(&r.try_get::<String, _>("period")?))
        else {
            continue;
        };
        out.push(Slack { metric, period, window_end: r.try_get("window_end")?, slack: r.try_get("slack")? });
    }
    Ok(out)
}

/// Replaces `holder`'s leases in the organization with `slack`, valid until
/// `expires_at`.
pub async fn put(conn: &mut AnyConnection, engine: Engine, org_id: &str, holder: &str, slack: &[Slack], expires_at: i64) -> Result<()> {
    sqlx::query("DELETE FROM quota_leases WHERE org_id = $1 AND holder = $2").bind(org_id).bind(holder).execute(&mut *conn).await?;
    let rows: Vec<&Slack> = slack.iter().filter(|s| s.slack > 0).collect();
    if rows.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO quota_leases (org_id, holder, metric, period, window_end, slack, expires_at) VALUES {}",
        values_rows(engine, rows.len(), 7)
    );
    let mut q = sqlx::query(&sql);
    for s in rows {
        q = q.bind(org_id).bind(holder).bind(s.metric.as_str()).bind(s.period.as_str()).bind(s.window_end).bind(s.slack).bind(expires_at);
    }
    q.execute(conn).await?;
    Ok(())
}

/// Drops leases that expired before `before` (bookkeeping: they already
/// count for nothing).
pub async fn purge_expired(conn: &mut AnyConnection, before: i64) -> Result<u64> {
    Ok(sqlx::query("DELETE FROM quota_leases WHERE expires_at <= $1").bind(before).execute(conn).await?.rows_affected())
}
