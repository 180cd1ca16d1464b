//! Retention of raw events: events older than their organization's plan
//! retention (`plans.retention_months`, calendar months in UTC) move from
//! `usage_events` to `usage_events_archive`. Rollups, invoices and the audit
//! log are not touched, so every total stays the same; the event listing and
//! export read both tables.
//!
//! Each batch is one transaction: copy (`ON CONFLICT DO NOTHING` on the
//! archive's primary key) then delete the same rows, so a crash between
//! batches loses nothing and a re-run duplicates nothing.

use chrono::{Months, TimeZone, Utc};
use sqlx::Row;

use crate::db::Db;
use crate::Result;

/// Events moved per transaction.
pub const ARCHIVE_BATCH: i64 = 1_000;

const COLUMNS: &str = "org_id, id, ts, received_at, api_key_id, user_id, project_id, session_id, feature, provider, model, \
     input_tokens, cached_input_tokens, cache_creation_tokens, output_tokens, reasoning_tokens, images, duration_ms, requests, \
     latency_ms, status, error, ip, user_agent, metadata, cost_nano, price_id";

/// The instant before which an organization on a plan keeping `months`
/// months of raw events archives them.
pub fn cutoff_ms(now_ms: i64, months: i64) -> i64 {
    let now = Utc.timestamp_millis_opt(now_ms).single().unwrap_or_default();
    now.checked_sub_months(Months::new(months.clamp(0, 1200) as u32)).map(|t| t.timestamp_millis()).unwrap_or(i64::MIN)
}

/// Moves every event past its organization's retention to the archive, in
/// batches of [`ARCHIVE_BATCH`]; returns how many moved.
pub async fn archive_expired(db: &Db, now_ms: i64) -> Result<u64> {
    let orgs = sqlx::query("SELECT o.id, p.retention_months FROM organizations o JOIN plans p ON p.code = o.plan_code")
        .fetch_all(db.reader())
        .await?;
    let mut moved = 0u64;
    for r in &orgs {
        let org_id: String = r.try_get("id")?;
        let cutoff = cutoff_ms(now_ms, r.try_get("retention_months")?);
        loop {
            let n = archive_batch(db, &org_id, cutoff).await?;
            moved += n;
            if n < ARCHIVE_BATCH as u64 {
                break;
            }
        }
    }
    Ok(moved)
}

async fn archive_batch(db: &Db, org_id: &str, cutoff: i64) -> Result<u64> {
    let mut tx = db.begin().await?;
    let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM usage_events WHERE org_id = $1 AND ts < $2 ORDER BY ts, id LIMIT $3")
        .bind(org_id)
        .bind(cutoff)
        .bind(ARCHIVE_BATCH)
        .fetch_all(&mut *tx)
        .await?;
    if ids.is_empty() {
        return Ok(0);
    }
    for chunk in ids.chunks(200) {
        let list = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect::<Vec<_>>().join(", ");
        let insert = format!(
            "INSERT INTO usage_events_archive ({COLUMNS}) SELECT {COLUMNS} FROM usage_events WHERE org_id = $1 AND id IN ({list}) \
             ON CONFLICT (org_id, id) DO NOTHING"
        );
        let delete = format!("DELETE FROM usage_events WHERE org_id = $1 AND id IN ({list})");
        for sql in [insert, delete] {
            let mut q = sqlx::query(&sql).bind(org_id);
            for id in chunk {
                q = q.bind(id);
            }
            q.execute(&mut *tx).await?;
        }
    }
    tx.commit().await?;
    Ok(ids.len() as u64)
}
