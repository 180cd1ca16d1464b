//! Backfilled events and their deferred fold.
//!
//! An event dated before [`backfill_before`](super::backfill_before) (an
//! import, a client that sends late) is stored as every event is, counted in
//! the lifetime totals, and appended to `rollup_pending` instead of being
//! added to the narrow rollups in the ingest transaction: its rollup rows are
//! cold, and a batch of 1,000 random past events touched about 1,000 random
//! rows in each of eight tables (10× slower than recent events). [`fold`]
//! later takes the oldest pending events in large batches and adds them to
//! the rollups with the same fold and upserts as ingest, deleting them in the
//! same transaction (on PostgreSQL, `SKIP LOCKED` lets every server run it).
//!
//! Until then the usage report reads them beside the rollups
//! ([`super::query`] adds this table to every part of a range it reads from
//! rollups), so an answer never misses a stored event. The platform-wide
//! reads (admin dashboard, unpriced models, recommendations) see a
//! backfilled event once it is folded, a second or so later.

use std::collections::BTreeMap;

use sqlx::{AnyConnection, Row};

use super::{latency_index, store, Rollup, LATENCY_BUCKETS};
use crate::db::{values_rows, Db, Engine};
use crate::metering::{CallStatus, NewEvent, RecordedEvent};
use crate::Result;

/// The table's columns as `INSERT` lists them.
const COLUMNS: [&str; 21] = [
    "org_id",
    "ts",
    "model",
    "provider",
    "user_id",
    "project_id",
    "feature",
    "session_id",
    "requests",
    "status",
    "input_tokens",
    "cached_input_tokens",
    "cache_creation_tokens",
    "output_tokens",
    "reasoning_tokens",
    "images",
    "duration_ms",
    "cost_nano",
    "unpriced_units",
    "latency_ms",
    "latency_bucket",
];

/// Rows per multi-row INSERT.
const CHUNK: usize = 200;

/// The table the usage report reads beside the rollups.
pub(crate) const TABLE: &str = "rollup_pending";

/// Appends backfilled events, in the batch's transaction.
pub async fn append<'e, 'a: 'e>(
    conn: &mut AnyConnection,
    engine: Engine,
    org_id: &str,
    events: impl Iterator<Item = &'e RecordedEvent<'a>>,
) -> Result<()> {
    let events: Vec<&RecordedEvent> = events.collect();
    if events.is_empty() {
        return Ok(());
    }
    waiting_add(conn, org_id, events.len() as i64).await?;
    for chunk in events.chunks(CHUNK) {
        let sql = format!("INSERT INTO {TABLE} ({}) VALUES {}", COLUMNS.join(", "), values_rows(engine, chunk.len(), COLUMNS.len()));
        let mut q = sqlx::query(&sql);
        for r in chunk {
            let e = r.event;
            q = q
                .bind(org_id)
                .bind(e.timestamp_ms)
                .bind(e.model.as_str())
                .bind(e.provider.as_deref())
                .bind(e.user_id.as_deref())
                .bind(e.project_id.as_deref())
                .bind(e.feature.as_deref())
                .bind(e.session_id.as_deref())
                .bind(e.requests as i64)
                .bind(e.status.as_str())
                .bind(e.input_tokens as i64)
                .bind(e.cached_input_tokens as i64)
                .bind(e.cache_creation_tokens as i64)
                .bind(e.output_tokens as i64)
                .bind(e.reasoning_tokens as i64)
                .bind(e.images as i64)
                .bind(e.duration_ms as i64)
                .bind(r.cost_nano)
                .bind(r.unpriced_units)
                .bind(e.latency_ms.map(|l| l as i64))
                .bind(e.latency_ms.map(|l| latency_index(l as i64) as i32));
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Counts `n` more (or fewer) of the organization's events waiting.
async fn waiting_add(conn: &mut AnyConnection, org_id: &str, n: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO usage_totals (org_id, pending_events) VALUES ($1, $2) \
         ON CONFLICT (org_id) DO UPDATE SET pending_events = usage_totals.pending_events + excluded.pending_events",
    )
    .bind(org_id)
    .bind(n)
    .execute(conn)
    .await?;
    Ok(())
}

/// How many of the organization's events wait to be folded.
pub async fn waiting(conn: &mut AnyConnection, org_id: &str) -> Result<i64> {
    let n: Option<i64> = sqlx::query_scalar("SELECT pending_events FROM usage_totals WHERE org_id = $1").bind(org_id).fetch_optional(conn).await?;
    Ok(n.unwrap_or(0))
}

/// The latency histogram of a pending row, as the rollups' `lat_NN` columns.
pub(crate) fn latency_selects() -> impl Iterator<Item = String> {
    (0..LATENCY_BUCKETS).map(|i| format!("CASE WHEN latency_bucket = {i} THEN 1 ELSE 0 END AS lat_{i:02}"))
}

/// Folds the oldest pending events, at most `limit`, into the rollups and
/// deletes them, in one transaction. Returns how many it folded.
pub async fn fold(db: &Db, limit: i64) -> Result<usize> {
    let lock = match db.engine {
        Engine::Postgres => " FOR UPDATE SKIP LOCKED",
        Engine::Sqlite => "",
    };
    let mut tx = db.begin().await?;
    let rows = sqlx::query(&format!(
        "DELETE FROM {TABLE} WHERE seq IN (SELECT seq FROM {TABLE} ORDER BY seq LIMIT $1{lock}) RETURNING {}",
        COLUMNS[..COLUMNS.len() - 1].join(", ")
    ))
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    if rows.is_empty() {
        tx.rollback().await?;
        return Ok(0);
    }
    // (event, cost, partly priced) per organization.
    let mut by_org: BTreeMap<String, Vec<(NewEvent, Option<i64>, bool)>> = BTreeMap::new();
    for r in &rows {
        let mut e = NewEvent::blank();
        e.timestamp_ms = r.try_get("ts")?;
        e.model = r.try_get("model")?;
        e.provider = r.try_get("provider")?;
        e.user_id = r.try_get("user_id")?;
        e.project_id = r.try_get("project_id")?;
        e.feature = r.try_get("feature")?;
        e.session_id = r.try_get("session_id")?;
        e.requests = r.try_get::<i64, _>("requests")? as u64;
        e.status = CallStatus::parse(&r.try_get::<String, _>("status")?)?;
        let n = |c: &str| r.try_get::<i64, _>(c).map(|v| v as u64);
        e.input_tokens = n("input_tokens")?;
        e.cached_input_tokens = n("cached_input_tokens")?;
        e.cache_creation_tokens = n("cache_creation_tokens")?;
        e.output_tokens = n("output_tokens")?;
        e.reasoning_tokens = n("reasoning_tokens")?;
        e.images = n("images")?;
        e.duration_ms = n("duration_ms")?;
        e.latency_ms = r.try_get::<Option<i64>, _>("latency_ms")?.map(|l| l as u64);
        let cost: Option<i64> = r.try_get("cost_nano")?;
        let partial = r.try_get::<Option<String>, _>("unpriced_units")?.is_some();
        by_org.entry(r.try_get("org_id")?).or_default().push((e, cost, partial));
    }
    for (org_id, events) in &by_org {
        let mut rollup = Rollup::default();
        for (e, cost, partial) in events {
            rollup.add(e, *cost, *partial);
        }
        // Already in the lifetime totals: counted when stored.
        rollup.total = Default::default();
        store::write(&mut *tx, db.engine, org_id, &rollup).await?;
        waiting_add(&mut *tx, org_id, -(events.len() as i64)).await?;
    }
    tx.commit().await?;
    Ok(rows.len())
}

/// Folds every pending event, `batch` at a time (the background task's
/// round, and what tests call before reading the rollups directly).
pub async fn fold_all(db: &Db, batch: i64) -> Result<usize> {
    let mut total = 0;
    loop {
        let n = fold(db, batch).await?;
        total += n;
        if (n as i64) < batch {
            return Ok(total);
        }
        tokio::task::yield_now().await;
    }
}

/// When this process last stored a batch (any batch): the fold gives the
/// single writer to ingest while batches keep coming (see [`quiet_ms`]).
#[derive(Debug, Default)]
pub struct Activity {
    last_batch_ms: std::sync::atomic::AtomicI64,
}

/// Notes that a batch was stored now.
pub fn note_batch(db: &Db, now: i64) {
    db.state::<Activity>().last_batch_ms.store(now, std::sync::atomic::Ordering::Relaxed);
}

/// Milliseconds since this process last stored a batch.
pub fn quiet_ms(db: &Db, now: i64) -> i64 {
    now - db.state::<Activity>().last_batch_ms.load(std::sync::atomic::Ordering::Relaxed)
}

/// Events waiting to be folded (all organizations), for the operator's metrics.
pub async fn backlog(conn: &mut AnyConnection) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT CAST(COALESCE(SUM(pending_events), 0) AS BIGINT) FROM usage_totals").fetch_one(conn).await?)
}
