//! Storage of usage events.

use sqlx::AnyConnection;

use super::NewEvent;
use crate::Result;

/// A priced event ready to store.
pub(super) struct EventRow<'a> {
    pub org_id: &'a str,
    pub id: &'a str,
    pub api_key_id: Option<&'a str>,
    pub event: &'a NewEvent,
    pub cost_nano: Option<i64>,
    pub price_id: Option<&'a str>,
    pub received_at: i64,
}

/// Inserts an event unless its id was seen for this organization; returns
/// whether it was new.
pub(super) async fn insert(conn: &mut AnyConnection, row: EventRow<'_>) -> Result<bool> {
    let e = row.event;
    let r = sqlx::query(
        "INSERT INTO usage_events (org_id, id, ts, received_at, api_key_id, user_id, project_id, session_id, feature, \
         provider, model, input_tokens, cached_input_tokens, cache_creation_tokens, output_tokens, reasoning_tokens, \
         images, duration_ms, requests, latency_ms, status, error, ip, user_agent, metadata, cost_nano, price_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, \
         $23, $24, $25, $26, $27) ON CONFLICT (org_id, id) DO NOTHING",
    )
    .bind(row.org_id)
    .bind(row.id)
    .bind(e.timestamp_ms)
    .bind(row.received_at)
    .bind(row.api_key_id)
    .bind(&e.user_id)
    .bind(&e.project_id)
    .bind(&e.session_id)
    .bind(&e.feature)
    .bind(&e.provider)
    .bind(&e.model)
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
    .bind(&e.error)
    .bind(&e.ip)
    .bind(&e.user_agent)
    .bind(&e.metadata)
    .bind(row.cost_nano)
    .bind(row.price_id)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// The stored cost of an event (for duplicates, which report the original cost).
pub(super) async fn cost_of(conn: &mut AnyConnection, org_id: &str, id: &str) -> Result<Option<Option<i64>>> {
    Ok(sqlx::query_scalar("SELECT cost_nano FROM usage_events WHERE org_id = $1 AND id = $2")
        .bind(org_id)
        .bind(id)
        .fetch_optional(conn)
        .await?)
}
