//! Storage of the usage counters (`usage_counters`): what each local day of
//! an organization used, per usage metric (see [`crate::quota::counters`]).

use sqlx::{AnyConnection, Row};

use crate::calendar::Window;
use crate::db::{values_rows, Engine};
use crate::quota::Units;
use crate::Result;

/// The counted columns, in [`Units`] order.
pub(crate) const COLUMNS: [&str; 6] = ["tokens", "cost_nanos", "requests", "images", "video_seconds", "chat_messages"];

/// Adds units to the stored counters of these days (in the order given, so
/// that concurrent batches lock rows alike).
pub(crate) async fn add(conn: &mut AnyConnection, engine: Engine, org_id: &str, days: &[(i64, Units)]) -> Result<()> {
    let updates = COLUMNS.iter().map(|c| format!("{c} = usage_counters.{c} + excluded.{c}")).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "INSERT INTO usage_counters (org_id, day_start, {}) VALUES {} ON CONFLICT (org_id, day_start) DO UPDATE SET {updates}",
        COLUMNS.join(", "),
        values_rows(engine, days.len(), 2 + COLUMNS.len()),
    );
    let mut q = sqlx::query(&sql);
    for (day, units) in days {
        q = q.bind(org_id).bind(*day);
        for u in units {
            q = q.bind(*u);
        }
    }
    q.execute(conn).await?;
    Ok(())
}

/// The stored counters of the days starting in the window: (day start, units), in no set order.
pub(crate) async fn days(conn: &mut AnyConnection, org_id: &str, w: Window) -> Result<Vec<(i64, Units)>> {
    read_days(conn, org_id, w, "").await
}

/// [`days`], in day order.
pub(crate) async fn days_in_order(conn: &mut AnyConnection, org_id: &str, w: Window) -> Result<Vec<(i64, Units)>> {
    read_days(conn, org_id, w, " ORDER BY day_start").await
}

async fn read_days(conn: &mut AnyConnection, org_id: &str, w: Window, order: &str) -> Result<Vec<(i64, Units)>> {
    let rows = sqlx::query(&format!(
        "SELECT day_start, {} FROM usage_counters WHERE org_id = $1 AND day_start >= $2 AND day_start < $3{order}",
        COLUMNS.join(", ")
    ))
    .bind(org_id)
    .bind(w.start_ms)
    .bind(w.end_ms)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            let mut u = Units::default();
            for (i, c) in COLUMNS.iter().enumerate() {
                u[i] = r.try_get(*c)?;
            }
            Ok((r.try_get("day_start")?, u))
        })
        .collect()
}

/// Deletes the counters of the days starting in the window.
pub(crate) async fn delete_days(conn: &mut AnyConnection, org_id: &str, w: Window) -> Result<()> {
    sqlx::query("DELETE FROM usage_counters WHERE org_id = $1 AND day_start >= $2 AND day_start < $3")
        .bind(org_id)
        .bind(w.start_ms)
        .bind(w.end_ms)
        .execute(conn)
        .await?;
    Ok(())
}

/// The organization's exact cost (nano-USD) over the days starting in the window.
pub(crate) async fn cost(conn: &mut AnyConnection, org_id: &str, w: Window) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(cost_nanos), 0) AS BIGINT) FROM usage_counters \
         WHERE org_id = $1 AND day_start >= $2 AND day_start < $3",
    )
    .bind(org_id)
    .bind(w.start_ms)
    .bind(w.end_ms)
    .fetch_one(conn)
    .await?)
}

/// The organization's cost per day over the days starting in the window: (day start, nano-USD).
pub(crate) async fn cost_by_day(conn: &mut AnyConnection, org_id: &str, w: Window) -> Result<Vec<(i64, i64)>> {
    let rows = sqlx::query(
        "SELECT day_start AS at, cost_nanos AS spent FROM usage_counters \
         WHERE org_id = $1 AND day_start >= $2 AND day_start < $3",
    )
    .bind(org_id)
    .bind(w.start_ms)
    .bind(w.end_ms)
    .fetch_all(conn)
    .await?;
    rows.iter().map(|r| Ok((r.try_get("at")?, r.try_get("spent")?))).collect()
}

/// The organization's units summed over the days starting in the window.
pub(crate) async fn sum(conn: &mut AnyConnection, org_id: &str, w: Window) -> Result<Units> {
    let row = sqlx::query(
        "SELECT CAST(COALESCE(SUM(tokens), 0) AS BIGINT) AS a, CAST(COALESCE(SUM(cost_nanos), 0) AS BIGINT) AS b, CAST(COALESCE(SUM(requests), 0) AS BIGINT) AS c, \
         CAST(COALESCE(SUM(images), 0) AS BIGINT) AS d, CAST(COALESCE(SUM(video_seconds), 0) AS BIGINT) AS e, CAST(COALESCE(SUM(chat_messages), 0) AS BIGINT) AS f \
         FROM usage_counters WHERE org_id = $1 AND day_start >= $2 AND day_start < $3",
    )
    .bind(org_id)
    .bind(w.start_ms)
    .bind(w.end_ms)
    .fetch_one(conn)
    .await?;
    let mut units = Units::default();
    for (i, c) in ["a", "b", "c", "d", "e", "f"].iter().enumerate() {
        units[i] = row.try_get::<i64, _>(*c)?;
    }
    Ok(units)
}

/// Organizations whose counters need checking at start, with their zone.
/// SQLite (one process keeps the ledger): every one with events or counters
/// in the last `since`. PostgreSQL (the counters are the ledger, shared):
/// only those with events but no counters since then (a database from
/// before the counters). Reads the events and organizations beside the
/// counters in one statement.
pub(crate) async fn to_verify(conn: &mut AnyConnection, engine: Engine, since: i64) -> Result<Vec<(String, String)>> {
    let sql = match engine {
        Engine::Sqlite => {
            "SELECT o.id, o.time_zone FROM organizations o \
             WHERE EXISTS (SELECT 1 FROM usage_events e WHERE e.org_id = o.id AND e.ts >= $1) \
             OR EXISTS (SELECT 1 FROM usage_counters c WHERE c.org_id = o.id AND c.day_start >= $1)"
        }
        Engine::Postgres => {
            "SELECT o.id, o.time_zone FROM organizations o \
             WHERE EXISTS (SELECT 1 FROM usage_events e WHERE e.org_id = o.id AND e.ts >= $1) \
             AND NOT EXISTS (SELECT 1 FROM usage_counters c WHERE c.org_id = o.id AND c.day_start >= $1)"
        }
    };
    Ok(sqlx::query_as(sql).bind(since).fetch_all(conn).await?)
}
