//! Storage of the ingest batches waiting for their usage webhooks
//! (`usage_webhook_batches`).

use sqlx::{AnyConnection, Row};

use crate::db::Engine;
use crate::Result;

/// Notes a batch's stored ids (a JSON array of `events` ids).
pub(crate) async fn append(conn: &mut AnyConnection, org_id: &str, events: i64, event_ids: &str, now: i64) -> Result<()> {
    sqlx::query("INSERT INTO usage_webhook_batches (org_id, events, event_ids, created_at) VALUES ($1, $2, $3, $4)")
        .bind(org_id)
        .bind(events)
        .bind(event_ids)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

/// Organizations whose oldest waiting batch was noted at or before `cutoff`,
/// longest waiting first, at most `limit`.
pub(crate) async fn due_orgs(conn: &mut AnyConnection, cutoff: i64, limit: i64) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT org_id FROM usage_webhook_batches GROUP BY org_id HAVING MIN(created_at) <= $1 ORDER BY MIN(created_at) LIMIT $2",
    )
    .bind(cutoff)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// The organization's oldest waiting batches (sequence, how many events),
/// at most `limit`, locked until the transaction ends (PostgreSQL; SQLite's
/// writer is single): a second server waits, then sees what is left.
pub(crate) async fn oldest(conn: &mut AnyConnection, engine: Engine, org_id: &str, limit: i64) -> Result<Vec<(i64, i64)>> {
    let lock = match engine {
        Engine::Postgres => " FOR UPDATE",
        Engine::Sqlite => "",
    };
    Ok(sqlx::query_as(&format!(
        "SELECT seq, events FROM usage_webhook_batches WHERE org_id = $1 ORDER BY seq LIMIT $2{lock}"
    ))
    .bind(org_id)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// Deletes these batches of the organization, returning their id lists in
/// sequence order; `None` when one of them is gone (taken by another server).
pub(crate) async fn take(conn: &mut AnyConnection, org_id: &str, seqs: &[i64]) -> Result<Option<Vec<String>>> {
    let mut taken: Vec<(i64, String)> = Vec::with_capacity(seqs.len());
    for chunk in seqs.chunks(500) {
        let list = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect::<Vec<_>>().join(", ");
        let sql = format!("DELETE FROM usage_webhook_batches WHERE org_id = $1 AND seq IN ({list}) RETURNING seq, event_ids");
        let mut q = sqlx::query(&sql).bind(org_id);
        for seq in chunk {
            q = q.bind(*seq);
        }
        for r in q.fetch_all(&mut *conn).await? {
            taken.push((r.try_get("seq")?, r.try_get("event_ids")?));
        }
    }
    if taken.len() != seqs.len() {
        return Ok(None);
    }
    taken.sort_by_key(|(seq, _)| *seq);
    Ok(Some(taken.into_iter().map(|(_, ids)| ids).collect()))
}

/// How many batches wait, all organizations together.
pub(crate) async fn count(conn: &mut AnyConnection) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM usage_webhook_batches").fetch_one(conn).await?)
}
