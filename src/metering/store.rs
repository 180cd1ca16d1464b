//! Storage of usage events.

use std::collections::{HashMap, HashSet};

use sqlx::{AnyConnection, Row};

use super::NewEvent;
use crate::db::values_rows;
use crate::Result;

/// A priced event ready to store.
pub(super) struct EventRow<'a> {
    pub id: &'a str,
    pub event: &'a NewEvent,
    pub cost_nano: Option<i64>,
    pub price_id: Option<&'a str>,
}

/// What every row of one batch shares.
pub(super) struct BatchOf<'a> {
    pub org_id: &'a str,
    pub api_key_id: Option<&'a str>,
    pub received_at: i64,
}

const COLUMNS: usize = 27;
/// Rows per multi-row INSERT: 5,400 parameters, under both engines' limits.
const CHUNK: usize = 200;

/// Inserts the rows whose id was not yet seen for the organization, with
/// multi-row INSERTs; returns the ids that were new. Rows must have distinct
/// ids (the caller folds duplicates within a batch).
pub(super) async fn insert_new(conn: &mut AnyConnection, batch: &BatchOf<'_>, rows: &[EventRow<'_>]) -> Result<HashSet<String>> {
    let mut inserted = HashSet::with_capacity(rows.len());
    for chunk in rows.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO usage_events (org_id, id, ts, received_at, api_key_id, user_id, project_id, session_id, feature, \
             provider, model, input_tokens, cached_input_tokens, cache_creation_tokens, output_tokens, reasoning_tokens, \
             images, duration_ms, requests, latency_ms, status, error, ip, user_agent, metadata, cost_nano, price_id) \
             VALUES {} ON CONFLICT (org_id, id) DO NOTHING RETURNING id",
            values_rows(chunk.len(), COLUMNS)
        );
        let mut q = sqlx::query(&sql);
        for row in chunk {
            let e = row.event;
            q = q
                .bind(batch.org_id)
                .bind(row.id)
                .bind(e.timestamp_ms)
                .bind(batch.received_at)
                .bind(batch.api_key_id)
                .bind(e.user_id.as_deref())
                .bind(e.project_id.as_deref())
                .bind(e.session_id.as_deref())
                .bind(e.feature.as_deref())
                .bind(e.provider.as_deref())
                .bind(e.model.as_str())
                .bind(e.input_tokens as i64)
                .bind(e.cached_input_tokens as i64)
                .bind(e.cache_creation_tokens as i64)
                .bind(e.output_tokens as i64)
                .bind(e.reasoning_tokens as i64)
                .bind(e.images as i64)
                .bind(e.duration_ms as i64)
                .bind(e.requests as i64)
                .bind(e.latency_ms.map(|v| v as i64))
                .bind(e.status.as_str())
                .bind(e.error.as_deref())
                .bind(e.ip.as_deref())
                .bind(e.user_agent.as_deref())
                .bind(e.metadata.as_deref())
                .bind(row.cost_nano)
                .bind(row.price_id);
        }
        for r in q.fetch_all(&mut *conn).await? {
            inserted.insert(r.try_get::<String, _>(0)?);
        }
    }
    Ok(inserted)
}

/// The stored costs of events (for duplicates, which report the original cost).
pub(super) async fn costs_of(conn: &mut AnyConnection, org_id: &str, ids: &[&str]) -> Result<HashMap<String, Option<i64>>> {
    let mut out = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        let list = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect::<Vec<_>>().join(", ");
        let sql = format!("SELECT id, cost_nano FROM usage_events WHERE org_id = $1 AND id IN ({list})");
        let mut q = sqlx::query(&sql).bind(org_id);
        for id in chunk {
            q = q.bind(*id);
        }
        for r in q.fetch_all(&mut *conn).await? {
            out.insert(r.try_get("id")?, r.try_get("cost_nano")?);
        }
    }
    Ok(out)
}
