//! `usage.recorded` webhooks: recorded usage, in batches, to the endpoints
//! subscribed to it.
//!
//! Ingest stays one write a batch, never one a event: when the organization
//! has an endpoint subscribed to `usage.recorded`, the batch's transaction
//! adds one row to `usage_webhook_batches` with the ids it stored
//! ([`on_recorded`], in step 4 of the ingest order). [`derive`] later takes an
//! organization's waiting rows, oldest first, reads their events as the
//! events API shows them, queues deliveries of at most [`MAX_EVENTS`]
//! events to each subscribed endpoint in the outbox and deletes the rows,
//! all in one transaction. So an event is in exactly one delivery per
//! endpoint: a crash before that commit leaves the rows for the next round,
//! a crash after it leaves the deliveries in the outbox, which retries each
//! with its own id (the delivery id, in the body and the
//! `Tollbooth-Delivery` header) until it is sent, like alert webhooks.
//!
//! Batching: an organization's rows wait until the oldest is
//! `window_ms` old, then everything waiting goes at once (in deliveries of
//! at most [`MAX_EVENTS`]); so an endpoint gets usage at most every window
//! unless more than [`MAX_EVENTS_PER_ROUND`] events wait, when the rest
//! follows at once.

use serde_json::{json, Map};
use sqlx::AnyConnection;

use super::store::usage_hooks as store;
use super::webhooks;
use super::WebhookEventType;
use crate::db::Db;
use crate::ids::new_id;
use crate::metering::Recorded;
use crate::Result;

/// How a usage delivery's subject (shown in the delivery log) begins.
pub const USAGE_SUBJECT: &str = "usage.recorded: ";

/// Most events in one delivery.
pub const MAX_EVENTS: usize = 1_000;

/// Most events one round takes from an organization in one transaction
/// (whole ingest batches; one larger batch is taken alone).
pub const MAX_EVENTS_PER_ROUND: usize = 10_000;

/// Most waiting batches one round reads of an organization.
const MAX_BATCHES_PER_ROUND: i64 = 2_000;

/// Most organizations one round serves.
const MAX_ORGS_PER_ROUND: i64 = 100;

/// In step 4 of the ingest order, in the batch's transaction: when an enabled
/// endpoint of the organization receives `usage.recorded`, notes the ids the
/// batch stored (one row).
pub async fn on_recorded(conn: &mut AnyConnection, recorded: &Recorded<'_>, now: i64) -> Result<()> {
    if recorded.is_empty() || !webhooks::any_subscribed(conn, recorded.org_id, WebhookEventType::UsageRecorded).await? {
        return Ok(());
    }
    let ids: Vec<&str> = recorded.events.iter().map(|e| e.id).collect();
    store::append(conn, recorded.org_id, ids.len() as i64, &serde_json::to_string(&ids).expect("ids serialize"), now).await
}

/// One round: every organization whose oldest waiting batch is at least
/// `window_ms` old has its waiting usage turned into deliveries. Returns how
/// many events were queued (one count per event, whatever the endpoints).
/// Safe to run in several servers at once: a round that finds the rows it
/// read already taken by another rolls back.
pub async fn derive(db: &Db, now: i64, window_ms: i64) -> Result<usize> {
    let orgs = store::due_orgs(&mut *db.reader().acquire().await?, now - window_ms, MAX_ORGS_PER_ROUND).await?;
    let mut queued = 0;
    for org_id in orgs {
        // One organization's failure (kept for the next round) stops no other's.
        match derive_org(db, &org_id, now).await {
            Ok(n) => queued += n,
            Err(e) => tracing::warn!(org = %org_id, error = ?e, "queueing usage webhooks failed; retried next round"),
        }
    }
    Ok(queued)
}

/// How long a settled (sent or failed) usage delivery stays in the outbox
/// and its delivery log: usage bodies are copies of events, so they are not
/// kept like alerts.
pub const KEEP_SETTLED_MS: i64 = 7 * 24 * 3_600_000;

/// Deletes usage deliveries settled and queued more than
/// [`KEEP_SETTLED_MS`] before `now` (with their delivery log); returns how
/// many. Pending ones are never deleted.
pub async fn prune(db: &Db, now: i64) -> Result<u64> {
    let mut deleted = 0;
    loop {
        let n = super::store::outbox::delete_settled_usage(&mut *db.writer().acquire().await?, now - KEEP_SETTLED_MS, 1_000).await?;
        deleted += n;
        if n < 1_000 {
            return Ok(deleted);
        }
    }
}

/// Takes the organization's oldest waiting batches (up to
/// [`MAX_EVENTS_PER_ROUND`] events) and queues their deliveries, in one
/// transaction.
async fn derive_org(db: &Db, org_id: &str, now: i64) -> Result<usize> {
    let mut tx = db.begin().await?;
    let waiting = store::oldest(&mut tx, db.engine, org_id, MAX_BATCHES_PER_ROUND).await?;
    let mut seqs = Vec::new();
    let mut events = 0;
    for (seq, n) in waiting {
        if !seqs.is_empty() && events + n > MAX_EVENTS_PER_ROUND as i64 {
            break;
        }
        seqs.push(seq);
        events += n;
    }
    if seqs.is_empty() {
        tx.rollback().await?;
        return Ok(0);
    }
    let Some(lists) = store::take(&mut tx, org_id, &seqs).await? else {
        // Another server took some of them first.
        tx.rollback().await?;
        return Ok(0);
    };
    let mut ids: Vec<String> = Vec::with_capacity(events as usize);
    for text in lists {
        let batch: Vec<String> = serde_json::from_str(&text).map_err(|e| crate::Error::Internal(format!("a usage webhook batch: {e}")))?;
        ids.extend(batch);
    }
    let endpoints = webhooks::subscribed_endpoint_ids(&mut tx, org_id, WebhookEventType::UsageRecorded).await?;
    let mut queued = 0;
    if !endpoints.is_empty() {
        let events = crate::metering::store::by_ids(&mut tx, db.engine, org_id, &ids).await?;
        for chunk in events.chunks(MAX_EVENTS) {
            // The subject's prefix marks usage deliveries for [`prune`].
            let subject = format!("{USAGE_SUBJECT}{} event{}", chunk.len(), if chunk.len() == 1 { "" } else { "s" });
            let mut fields = Map::new();
            fields.insert("events".into(), json!(chunk));
            for endpoint in &endpoints {
                let id = new_id();
                let body = webhooks::envelope(&id, WebhookEventType::UsageRecorded, org_id, now, fields.clone());
                super::store::outbox::insert(&mut tx, &id, org_id, None, "webhook", endpoint, &subject, &body, now).await?;
            }
            queued += chunk.len();
        }
    }
    tx.commit().await?;
    Ok(queued)
}

/// How many ingest batches wait for their usage webhooks (all organizations).
pub async fn waiting(db: &Db) -> Result<i64> {
    store::count(&mut *db.reader().acquire().await?).await
}
