//! Delivers the notifications outbox in its own task, several at a time.
//!
//! A webhook endpoint may take up to [`WEBHOOK_TIMEOUT`] to answer, or never
//! answer at all. Delivered one at a time in the loop that also runs billing
//! and reservation expiry, one slow endpoint would stall every organization's
//! notifications and the platform's jobs. Here each notification runs as its
//! own task: at most [`MAX_IN_FLIGHT`] at once, and at most
//! [`MAX_IN_FLIGHT_PER_ORG`] of one organization, so an organization whose
//! endpoints hang uses up its own slots and no one else's. Only what can
//! start now is claimed (an organization at its cap is skipped when
//! claiming), so a claimed notification never waits out its lease in a
//! queue; the outbox's rules (claim with a lease, mark sent only while
//! pending) are unchanged.
//!
//! Each poll first turns waiting usage into `usage.recorded` deliveries
//! ([`tollbooth::alerts::usage_hooks::derive`]: what has waited the
//! window goes into the outbox, in the transaction that takes it), so the
//! same claim-and-deliver path sends them.

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tollbooth::alerts::{outbox, usage_hooks};
use tollbooth::clock::now_ms;
use tollbooth::db::Db;

use crate::notify::{Notifier, WEBHOOK_TIMEOUT};

/// Most notifications being delivered at once, all organizations together.
pub const MAX_IN_FLIGHT: usize = 32;

/// Most notifications of one organization being delivered at once.
pub const MAX_IN_FLIGHT_PER_ORG: usize = 4;

/// How often the outbox is polled for due messages when nothing finishes.
pub const POLL_EVERY: Duration = Duration::from_secs(1);

/// How long deliveries under way may finish at shutdown before they are
/// dropped (a dropped one is retried when its lease runs out).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Starts the delivery task; it completes after `stop` turns true.
pub fn spawn(db: Db, notifier: Notifier, usage_window: Duration, mut stop: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut running: JoinSet<()> = JoinSet::new();
        let mut org_of: HashMap<tokio::task::Id, String> = HashMap::new();
        let mut per_org: HashMap<String, usize> = HashMap::new();
        let mut last_derive = 0;
        let mut tick = tokio::time::interval(POLL_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                Some(done) = running.join_next_with_id(), if !running.is_empty() => {
                    let id = match done {
                        Ok((id, ())) => id,
                        Err(e) => {
                            tracing::error!(error = %e, "a notification delivery task failed");
                            e.id()
                        }
                    };
                    if let Some(org) = org_of.remove(&id) {
                        release(&mut per_org, &org);
                    }
                }
                _ = stop.changed() => break,
            }
            derive_usage(&db, usage_window, &mut last_derive).await;
            claim_and_start(&db, &notifier, &mut running, &mut org_of, &mut per_org).await;
        }
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, async { while running.join_next().await.is_some() {} }).await;
        running.abort_all();
    })
}

/// Queues the usage that has waited `window` for its webhooks (at most once
/// every half second, however often deliveries finish).
async fn derive_usage(db: &Db, window: Duration, last: &mut i64) {
    let now = now_ms();
    if now - *last < POLL_EVERY.as_millis() as i64 / 2 {
        return;
    }
    *last = now;
    if let Err(e) = usage_hooks::derive(db, now, window.as_millis() as i64).await {
        tracing::warn!(error = ?e, "queueing usage webhooks failed; retried");
    }
}

fn release(per_org: &mut HashMap<String, usize>, org: &str) {
    if let Some(n) = per_org.get_mut(org) {
        *n -= 1;
        if *n == 0 {
            per_org.remove(org);
        }
    }
}

/// Claims what the free slots allow and starts each delivery.
async fn claim_and_start(
    db: &Db,
    notifier: &Notifier,
    running: &mut JoinSet<()>,
    org_of: &mut HashMap<tokio::task::Id, String>,
    per_org: &mut HashMap<String, usize>,
) {
    let free = MAX_IN_FLIGHT.saturating_sub(running.len());
    if free == 0 {
        return;
    }
    let full: Vec<String> = per_org.iter().filter(|(_, n)| **n >= MAX_IN_FLIGHT_PER_ORG).map(|(o, _)| o.clone()).collect();
    let mut room = per_org.clone();
    let accept = |org: &str| {
        let n = room.entry(org.to_string()).or_insert(0);
        *n += 1;
        *n <= MAX_IN_FLIGHT_PER_ORG
    };
    let due = match outbox::claim_due_where(db, now_ms(), free as i64, &full, accept).await {
        Ok(due) => due,
        Err(e) => {
            tracing::warn!(error = ?e, "claiming due notifications failed");
            return;
        }
    };
    for item in due {
        *per_org.entry(item.org_id.clone()).or_insert(0) += 1;
        let org = item.org_id.clone();
        let (db, notifier) = (db.clone(), notifier.clone());
        // Bounded however the transport behaves: the lease must outlast it.
        let handle = running.spawn(async move {
            if tokio::time::timeout(WEBHOOK_TIMEOUT * 3, notifier.deliver(&db, &item)).await.is_err() {
                tracing::warn!(notification = %item.id, "a delivery overran; retried after its lease");
            }
        });
        org_of.insert(handle.id(), org);
    }
}
