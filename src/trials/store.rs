//! Storage of trials (the `trials` table; this module owns it).

use sqlx::{AnyConnection, Row};

use crate::Result;

/// A stored trial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TrialRow {
    pub id: String,
    pub org_id: String,
    pub plan_code: String,
    pub previous_plan_code: String,
    pub self_serve: bool,
    pub started_at: i64,
    pub ends_at: i64,
    pub status: String,
    pub ended_at: Option<i64>,
    pub converted_plan: Option<String>,
    pub warned_at: Option<i64>,
}

const COLUMNS: &str = "id, org_id, plan_code, previous_plan_code, self_serve, started_at, ends_at, status, ended_at, converted_plan, warned_at";

fn row_of(r: &sqlx::any::AnyRow) -> Result<TrialRow> {
    Ok(TrialRow {
        id: r.try_get("id")?,
        org_id: r.try_get("org_id")?,
        plan_code: r.try_get("plan_code")?,
        previous_plan_code: r.try_get("previous_plan_code")?,
        self_serve: r.try_get::<i64, _>("self_serve")? != 0,
        started_at: r.try_get("started_at")?,
        ends_at: r.try_get("ends_at")?,
        status: r.try_get("status")?,
        ended_at: r.try_get("ended_at")?,
        converted_plan: r.try_get("converted_plan")?,
        warned_at: r.try_get("warned_at")?,
    })
}

/// The organization's active trial.
pub(crate) async fn active(conn: &mut AnyConnection, org_id: &str) -> Result<Option<TrialRow>> {
    let sql = format!("SELECT {COLUMNS} FROM trials WHERE org_id = $1 AND status = 'active'");
    sqlx::query(&sql).bind(org_id).fetch_optional(conn).await?.as_ref().map(row_of).transpose()
}

/// The organization's newest trial, active or ended.
pub(crate) async fn latest(conn: &mut AnyConnection, org_id: &str) -> Result<Option<TrialRow>> {
    let sql = format!("SELECT {COLUMNS} FROM trials WHERE org_id = $1 ORDER BY started_at DESC, id DESC LIMIT 1");
    sqlx::query(&sql).bind(org_id).fetch_optional(conn).await?.as_ref().map(row_of).transpose()
}

pub(crate) async fn insert(conn: &mut AnyConnection, t: &TrialRow, started_by: Option<&str>) -> Result<()> {
    sqlx::query(
        "INSERT INTO trials (id, org_id, plan_code, previous_plan_code, self_serve, started_by, started_at, ends_at, status) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'active')",
    )
    .bind(&t.id)
    .bind(&t.org_id)
    .bind(&t.plan_code)
    .bind(&t.previous_plan_code)
    .bind(t.self_serve as i64)
    .bind(started_by)
    .bind(t.started_at)
    .bind(t.ends_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Moves an active trial's end (a new end also re-arms the 3-day notice).
pub(crate) async fn set_end(conn: &mut AnyConnection, org_id: &str, id: &str, ends_at: i64) -> Result<bool> {
    let done = sqlx::query("UPDATE trials SET ends_at = $3, warned_at = NULL WHERE org_id = $1 AND id = $2 AND status = 'active'")
        .bind(org_id)
        .bind(id)
        .bind(ends_at)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Ends an active trial as `status`; false when it was not active any more
/// (another process ended it first: the conditional UPDATE decides).
pub(crate) async fn end(conn: &mut AnyConnection, org_id: &str, id: &str, status: &str, at: i64, converted_plan: Option<&str>) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE trials SET status = $3, ended_at = $4, converted_plan = $5 WHERE org_id = $1 AND id = $2 AND status = 'active'",
    )
    .bind(org_id)
    .bind(id)
    .bind(status)
    .bind(at)
    .bind(converted_plan)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Marks the "ends in 3 days" notice sent; false when it was already.
pub(crate) async fn mark_warned(conn: &mut AnyConnection, org_id: &str, id: &str, at: i64) -> Result<bool> {
    let done = sqlx::query("UPDATE trials SET warned_at = $3 WHERE org_id = $1 AND id = $2 AND status = 'active' AND warned_at IS NULL")
        .bind(org_id)
        .bind(id)
        .bind(at)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Active trials ending before `before`, soonest first.
pub(crate) async fn active_ending_before(conn: &mut AnyConnection, before: i64) -> Result<Vec<TrialRow>> {
    let sql = format!("SELECT {COLUMNS} FROM trials WHERE status = 'active' AND ends_at < $1 ORDER BY ends_at, id");
    sqlx::query(&sql).bind(before).fetch_all(conn).await?.iter().map(row_of).collect()
}

/// Organizations with an active trial.
pub(crate) async fn trialing_org_ids(conn: &mut AnyConnection) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar("SELECT org_id FROM trials WHERE status = 'active'").fetch_all(conn).await?)
}

/// Every active trial's end, by organization.
pub(crate) async fn active_ends(conn: &mut AnyConnection) -> Result<std::collections::HashMap<String, i64>> {
    let rows = sqlx::query("SELECT org_id, ends_at FROM trials WHERE status = 'active'").fetch_all(conn).await?;
    rows.iter().map(|r| Ok((r.try_get("org_id")?, r.try_get("ends_at")?))).collect()
}

/// How many trials are active.
pub(crate) async fn active_count(conn: &mut AnyConnection) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM trials WHERE status = 'active'").fetch_one(conn).await?)
}

/// Active trials ending before `before` with their organization's and
/// plan's names, soonest first.
pub(crate) async fn ending_with_names(conn: &mut AnyConnection, before: i64) -> Result<Vec<(String, String, String, i64)>> {
    let rows = sqlx::query(
        "SELECT t.org_id, o.name AS org_name, COALESCE(p.name, t.plan_code) AS plan_name, t.ends_at \
         FROM trials t JOIN organizations o ON o.id = t.org_id LEFT JOIN plans p ON p.code = t.plan_code \
         WHERE t.status = 'active' AND t.ends_at < $1 ORDER BY t.ends_at, t.id",
    )
    .bind(before)
    .fetch_all(conn)
    .await?;
    rows.iter().map(|r| Ok((r.try_get("org_id")?, r.try_get("org_name")?, r.try_get("plan_name")?, r.try_get("ends_at")?))).collect()
}

/// Trials started in [from, to), and those that converted, expired or were
/// canceled in it: counted in the database.
pub(crate) async fn month_counts(conn: &mut AnyConnection, from: i64, to: i64) -> Result<(i64, i64, i64, i64)> {
    let r = sqlx::query(
        "SELECT \
           COALESCE(SUM(CASE WHEN started_at >= $1 AND started_at < $2 THEN 1 ELSE 0 END), 0) AS started, \
           COALESCE(SUM(CASE WHEN status = 'converted' AND ended_at >= $1 AND ended_at < $2 THEN 1 ELSE 0 END), 0) AS converted, \
           COALESCE(SUM(CASE WHEN status = 'expired' AND ended_at >= $1 AND ended_at < $2 THEN 1 ELSE 0 END), 0) AS expired, \
           COALESCE(SUM(CASE WHEN status = 'canceled' AND ended_at >= $1 AND ended_at < $2 THEN 1 ELSE 0 END), 0) AS canceled \
         FROM trials WHERE (started_at >= $1 AND started_at < $2) OR (ended_at >= $1 AND ended_at < $2)",
    )
    .bind(from)
    .bind(to)
    .fetch_one(conn)
    .await?;
    Ok((r.try_get("started")?, r.try_get("converted")?, r.try_get("expired")?, r.try_get("canceled")?))
}
