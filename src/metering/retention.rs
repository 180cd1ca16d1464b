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

use crate::db::Db;
use crate::Result;

/// Events moved per transaction.
pub const ARCHIVE_BATCH: i64 = 1_000;

/// The instant before which an organization on a plan keeping `months`
/// months of raw events archives them.
pub fn cutoff_ms(now_ms: i64, months: i64) -> i64 {
    let now = Utc.timestamp_millis_opt(now_ms).single().unwrap_or_default();
    now.checked_sub_months(Months::new(months.clamp(0, 1200) as u32)).map(|t| t.timestamp_millis()).unwrap_or(i64::MIN)
}

/// Moves every event past its organization's retention to the archive, in
/// batches of [`ARCHIVE_BATCH`]; returns how many moved.
pub async fn archive_expired(db: &Db, now_ms: i64) -> Result<u64> {
    let orgs = crate::plans::store::retention_months(&mut *db.reader().acquire().await?).await?;
    let mut moved = 0u64;
    for (org_id, months) in &orgs {
        let cutoff = cutoff_ms(now_ms, *months);
        loop {
            let n = archive_batch(db, org_id, cutoff).await?;
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
    let ids = super::store::ids_before(&mut tx, org_id, cutoff, ARCHIVE_BATCH).await?;
    if ids.is_empty() {
        return Ok(0);
    }
    super::store::archive(&mut tx, org_id, &ids).await?;
    tx.commit().await?;
    Ok(ids.len() as u64)
}
