//! Group commit of the gateway's events: calls that end while a batch is
//! being stored wait together and are stored in the next one, one
//! transaction per organization and key, each committing its calls'
//! reservations ([`ingest::record_settling`]). At a thousand calls a second
//! one transaction per call would queue behind the single writer (seconds
//! on SQLite); a batch costs about what one call did.
//!
//! A call's answer does not wait for its event: a non-streamed answer's
//! `Tollbooth-Cost-USD` is the cost the batch will store
//! ([`tollbooth::metering::quote`]). The recorder counts the calls in flight
//! (admitted and not yet stored) and a server that stops waits for them
//! ([`Recorder::drain`]) before it closes the database.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::{mpsc, Notify};
use tollbooth::db::Db;
use tollbooth::ingest::{self, Settle};
use tollbooth::metering::{NewEvent, Sender};

/// Most events in one batch.
const MAX_BATCH: usize = 500;

/// One call's event and its reservation.
struct Job {
    sender: Sender,
    event: NewEvent,
    reservation_id: String,
    _in_flight: InFlight,
}

/// The recorder of one server: its queue, started on first use, and the
/// count of calls not yet stored.
#[derive(Debug, Clone, Default)]
pub struct Recorder {
    queue: Arc<OnceLock<mpsc::UnboundedSender<Job>>>,
    pending: Arc<Pending>,
}

#[derive(Debug, Default)]
struct Pending {
    calls: AtomicUsize,
    idle: Notify,
}

/// One call the server must not stop before storing: held from admission
/// until its event's batch is stored (or the call ends unrecorded).
#[derive(Debug)]
pub struct InFlight(Arc<Pending>);

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.calls.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl Recorder {
    /// Counts a call in flight until the guard is dropped.
    pub fn begin(&self) -> InFlight {
        self.pending.calls.fetch_add(1, Ordering::SeqCst);
        InFlight(self.pending.clone())
    }

    /// Queues the event (committing the reservation) for the next batch.
    pub fn submit(&self, db: &Db, sender: &Sender, event: NewEvent, reservation_id: &str) {
        let queue = self.queue.get_or_init(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(run(db.clone(), rx));
            tx
        });
        let job = Job { sender: sender.clone(), event, reservation_id: reservation_id.to_string(), _in_flight: self.begin() };
        if queue.send(job).is_err() {
            tracing::error!("gateway recorder stopped; the call was not recorded");
        }
    }

    /// Waits until every call in flight is stored, at most `within`;
    /// whether they all were.
    pub async fn drain(&self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let idle = self.pending.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            let left = self.pending.calls.load(Ordering::SeqCst);
            if left == 0 {
                return true;
            }
            tracing::info!(calls = left, "waiting for gateway calls in flight to be recorded");
            if tokio::time::timeout_at(deadline, idle).await.is_err() {
                tracing::error!(calls = self.pending.calls.load(Ordering::SeqCst), "stopping with gateway calls not recorded");
                return false;
            }
        }
    }
}

async fn run(db: Db, mut rx: mpsc::UnboundedReceiver<Job>) {
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        // One batch per organization and key (an event's sender).
        let mut groups: BTreeMap<(String, Option<String>), Vec<Job>> = BTreeMap::new();
        for j in jobs {
            groups.entry((j.sender.org_id.clone(), j.sender.api_key_id.clone())).or_default().push(j);
        }
        // Granted reservations are written through a queue on SQLite: the
        // batch settles them only once they are stored.
        if let Err(e) = tollbooth::quota::flush(&db).await {
            tracing::error!(error = ?e, "gateway: reservations not stored before recording");
        }
        for ((org_id, api_key_id), jobs) in groups {
            let sender = Sender { org_id, api_key_id };
            let reservations: Vec<String> = jobs.iter().map(|j| j.reservation_id.clone()).collect();
            // A failed batch is tried again (event ids are the request ids:
            // what a failed try stored is not stored twice).
            for attempt in 1..=3u32 {
                let events = jobs.iter().map(|j| Ok(j.event.clone())).collect();
                match ingest::record_settling(&db, &sender, events, Settle::Each(&reservations)).await {
                    Ok(_) => break,
                    Err(e) if attempt < 3 => {
                        tracing::warn!(error = ?e, org_id = %sender.org_id, calls = jobs.len(), attempt, "gateway: recording calls failed; retrying");
                        tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
                    }
                    Err(e) => tracing::error!(error = ?e, org_id = %sender.org_id, calls = jobs.len(), "gateway: recording calls failed"),
                }
            }
        }
    }
}
