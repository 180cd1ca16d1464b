//! Storage of reservations (`reservations`, `reservation_amounts`), of the
//! counted documents (`org_resources`) and, in [`counters`], of the usage
//! counters. Quota owns these tables.

pub(crate) mod counters;
pub(crate) mod leases;
pub(crate) mod users;

use std::collections::HashMap;

use sqlx::{AnyConnection, Row};

use super::{index, Subject, Units};
use crate::db::{values_rows, Engine};
use crate::plans::Metric;
use crate::Result;

/// A reservation as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReservation {
    pub id: String,
    pub org_id: String,
    pub api_key_id: Option<String>,
    pub user_id: Option<String>,
    pub project_id: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub amounts: Units,
}

/// Inserts reservations (all active) with their amounts.
pub async fn insert(conn: &mut AnyConnection, engine: Engine, rows: &[&NewReservation]) -> Result<()> {
    for chunk in rows.chunks(200) {
        let sql = format!(
            "INSERT INTO reservations (id, org_id, api_key_id, user_id, project_id, state, created_at, expires_at) VALUES {}",
            values_rows(engine, chunk.len(), 8)
        );
        let mut q = sqlx::query(&sql);
        for r in chunk {
            q = q.bind(&r.id).bind(&r.org_id).bind(&r.api_key_id).bind(&r.user_id).bind(&r.project_id);
            q = q.bind("active").bind(r.created_at).bind(r.expires_at);
        }
        q.execute(&mut *conn).await?;
        let amounts: Vec<(&str, Metric, i64)> = chunk
            .iter()
            .flat_map(|r| Metric::USAGE.iter().zip(r.amounts).filter(|(_, a)| *a > 0).map(|(m, a)| (r.id.as_str(), *m, a)))
            .collect();
        for part in amounts.chunks(300) {
            let sql = format!(
                "INSERT INTO reservation_amounts (reservation_id, metric, amount) VALUES {}",
                values_rows(engine, part.len(), 3)
            );
            let mut q = sqlx::query(&sql);
            for (id, m, a) in part {
                q = q.bind(*id).bind(m.as_str()).bind(*a);
            }
            q.execute(&mut *conn).await?;
        }
    }
    Ok(())
}

/// An active reservation as the ledger loads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Active {
    pub id: String,
    pub expires_at: i64,
    pub amounts: Units,
    pub who: Subject,
}

/// Active, unexpired reservations of the organization with their amounts
/// and whom they are for.
pub async fn active(conn: &mut AnyConnection, org_id: &str, now_ms: i64) -> Result<Vec<Active>> {
    let rows = sqlx::query(
        "SELECT r.id, r.expires_at, r.project_id, r.user_id, r.api_key_id, a.metric, a.amount FROM reservations r \
         JOIN reservation_amounts a ON a.reservation_id = r.id \
         WHERE r.org_id = $1 AND r.state = 'active' AND r.expires_at > $2 ORDER BY r.id",
    )
    .bind(org_id)
    .bind(now_ms)
    .fetch_all(conn)
    .await?;
    let mut out: Vec<Active> = Vec::new();
    for r in rows {
        let id: String = r.try_get("id")?;
        if out.last().is_none_or(|l| l.id != id) {
            let who = Subject { project_id: r.try_get("project_id")?, user_id: r.try_get("user_id")?, api_key_id: r.try_get("api_key_id")? };
            out.push(Active { id, expires_at: r.try_get("expires_at")?, amounts: Units::default(), who });
        }
        if let Some(i) = Metric::parse(&r.try_get::<String, _>("metric")?).ok().and_then(index) {
            out.last_mut().expect("pushed above").amounts[i] += r.try_get::<i64, _>("amount")?;
        }
    }
    Ok(out)
}

/// The cost held by the organization's active, unexpired reservations, one
/// row per reservation holding any, with whom it is for: `project_id`,
/// `user_id`, `api_key_id`, `amount` (nano-USD); `$1` is the organization,
/// `$2` now. A subquery for a reader that must see it in the same statement
/// as its own tables (a budget's headroom on PostgreSQL, where each
/// statement has its own snapshot).
pub(crate) const HELD_COST: &str = "SELECT r.project_id, r.user_id, r.api_key_id, a.amount FROM reservations r \
     JOIN reservation_amounts a ON a.reservation_id = r.id \
     WHERE r.org_id = $1 AND r.state = 'active' AND r.expires_at > $2 AND a.metric = 'cost_usd' AND a.amount > 0";

/// The sum of the active, unexpired reservations' amounts.
pub async fn reserved(conn: &mut AnyConnection, org_id: &str, now_ms: i64) -> Result<Units> {
    let rows = sqlx::query(
        "SELECT a.metric, CAST(SUM(a.amount) AS BIGINT) AS amount FROM reservations r \
         JOIN reservation_amounts a ON a.reservation_id = r.id \
         WHERE r.org_id = $1 AND r.state = 'active' AND r.expires_at > $2 GROUP BY a.metric",
    )
    .bind(org_id)
    .bind(now_ms)
    .fetch_all(conn)
    .await?;
    let mut units = Units::default();
    for r in rows {
        if let Some(i) = Metric::parse(&r.try_get::<String, _>("metric")?).ok().and_then(index) {
            units[i] = r.try_get("amount")?;
        }
    }
    Ok(units)
}

/// A reservation's state and times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub state: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub settled_at: Option<i64>,
}

/// One reservation of the organization.
pub async fn get(conn: &mut AnyConnection, org_id: &str, id: &str) -> Result<Option<Stored>> {
    let Some(r) = sqlx::query("SELECT state, created_at, expires_at, settled_at FROM reservations WHERE id = $1 AND org_id = $2")
        .bind(id)
        .bind(org_id)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(stored(&r)?))
}

fn stored(r: &sqlx::any::AnyRow) -> Result<Stored> {
    Ok(Stored {
        state: r.try_get("state")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        settled_at: r.try_get("settled_at")?,
    })
}

/// Moves a reservation to `to` unless it is already there or committed
/// (committed is final). Returns whether it moved; the row stays locked to
/// the end of the transaction, so a concurrent second settle waits and then
/// sees the first one's result.
pub async fn settle(conn: &mut AnyConnection, org_id: &str, id: &str, to: &str, now_ms: i64) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE reservations SET state = $3, settled_at = $4 WHERE id = $1 AND org_id = $2 AND state <> 'committed' AND state <> $3",
    )
    .bind(id)
    .bind(org_id)
    .bind(to)
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Commits every reservation of `ids` not committed yet, in one statement
/// per 500 ids (the gateway's group commit settles its calls together).
pub async fn commit_all(conn: &mut AnyConnection, org_id: &str, ids: &[String], now_ms: i64) -> Result<()> {
    for chunk in ids.chunks(500) {
        let list: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 3)).collect();
        let sql = format!(
            "UPDATE reservations SET state = 'committed', settled_at = $2 WHERE org_id = $1 AND state <> 'committed' AND id IN ({})",
            list.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(org_id).bind(now_ms);
        for id in chunk {
            q = q.bind(id);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Marks active reservations past their expiry as expired (bookkeeping: they
/// stopped counting when they expired).
pub async fn expire_due(conn: &mut AnyConnection, now_ms: i64) -> Result<u64> {
    let done = sqlx::query("UPDATE reservations SET state = 'expired', settled_at = $1 WHERE state = 'active' AND expires_at <= $1")
        .bind(now_ms)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}

/// Releases the active ones of `reservations` (organization, id) at
/// `now_ms`, 200 per statement: the ones released, by id, as stored now.
pub(crate) async fn release_many(
    conn: &mut AnyConnection,
    engine: Engine,
    reservations: &[(&str, &str)],
    now_ms: i64,
) -> Result<HashMap<String, Stored>> {
    let mut released = HashMap::new();
    for chunk in reservations.chunks(200) {
        let pairs: Vec<String> = (0..chunk.len())
            .map(|i| match engine {
                Engine::Sqlite => "(?, ?)".to_string(),
                Engine::Postgres => format!("(${}, ${})", 2 * i + 2, 2 * i + 3),
            })
            .collect();
        let first = if engine == Engine::Sqlite { "?" } else { "$1" };
        let sql = format!(
            "UPDATE reservations SET state = 'released', settled_at = {first} \
             WHERE state = 'active' AND (org_id, id) IN (VALUES {}) RETURNING id, state, created_at, expires_at, settled_at",
            pairs.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(now_ms);
        for (org_id, id) in chunk {
            q = q.bind(*org_id).bind(*id);
        }
        for r in q.fetch_all(&mut *conn).await? {
            released.insert(r.try_get("id")?, stored(&r)?);
        }
    }
    Ok(released)
}

/// Sets the documents count.
pub(crate) async fn set_documents(conn: &mut AnyConnection, org_id: &str, used: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO org_resources (org_id, resource, used) VALUES ($1, 'documents', $2) \
         ON CONFLICT (org_id, resource) DO UPDATE SET used = $2",
    )
    .bind(org_id)
    .bind(used)
    .execute(conn)
    .await?;
    Ok(())
}

/// Serializes changes to one organization's counted resources: its row lock
/// on PostgreSQL (`FOR UPDATE`; SQLite's single writer already serializes).
///
/// This and [`standing_count`] read other modules' tables (`organizations`,
/// `projects`, `memberships`, `invites`): the plan's standing counts are
/// enforcement's own reads, and the modules owning those tables ask quota
/// for room before they add a row, so reading through them would make each
/// import the other.
pub(crate) async fn lock_org(conn: &mut AnyConnection, org_id: &str) -> Result<()> {
    sqlx::query("SELECT id FROM organizations WHERE id = $1 FOR UPDATE").bind(org_id).fetch_optional(conn).await?;
    Ok(())
}

/// How many of `metric` the organization has at `now`: active projects, the
/// documents reported, or members plus open invites; `None` for a metric
/// that is not a standing count.
pub(crate) async fn standing_count(conn: &mut AnyConnection, org_id: &str, metric: Metric, now: i64) -> Result<Option<i64>> {
    let sql = match metric {
        Metric::Projects => "SELECT COUNT(*) FROM projects WHERE org_id = $1 AND archived_at IS NULL",
        Metric::Documents => "SELECT COALESCE(MAX(used), 0) FROM org_resources WHERE org_id = $1 AND resource = 'documents'",
        Metric::Members => {
            "SELECT (SELECT COUNT(*) FROM memberships WHERE org_id = $1) + \
             (SELECT COUNT(*) FROM invites WHERE org_id = $1 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $2)"
        }
        _ => return Ok(None),
    };
    let mut q = sqlx::query_scalar::<_, i64>(sql).bind(org_id);
    if metric == Metric::Members {
        q = q.bind(now);
    }
    Ok(Some(q.fetch_one(conn).await?))
}

/// Takes `add_us` of a shared rate limit (GCRA, PostgreSQL): moves the key's
/// theoretical arrival time to `max(tat, now) + add_us` if that stays within
/// `burst_us` of now, in one statement. Returns whether it was taken.
pub(crate) async fn take_rate(conn: &mut AnyConnection, key: &str, org_id: &str, now_us: i64, add_us: i64, burst_us: i64) -> Result<bool> {
    let taken = sqlx::query(
        "INSERT INTO rate_limits (key, org_id, tat_us) SELECT $1, $2, $3 + $4 WHERE $4 <= $5 \
         ON CONFLICT (key) DO UPDATE SET tat_us = GREATEST(rate_limits.tat_us, $3) + $4 \
         WHERE GREATEST(rate_limits.tat_us, $3) + $4 - $3 <= $5",
    )
    .bind(key)
    .bind(org_id)
    .bind(now_us)
    .bind(add_us)
    .bind(burst_us)
    .execute(conn)
    .await?;
    Ok(taken.rows_affected() == 1)
}

/// A shared rate limit's theoretical arrival time (microseconds), if any.
pub(crate) async fn rate_tat(conn: &mut AnyConnection, key: &str) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar("SELECT tat_us FROM rate_limits WHERE key = $1").bind(key).fetch_optional(conn).await?)
}
