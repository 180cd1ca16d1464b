//! Group commit of the gateway's events: calls that end while a batch is
//! being stored wait together and are stored in the next one, one
//! transaction per organization and key, each committing its calls'
//! reservations ([`ingest::record_settling`]). At a thousand calls a second
//! one transaction per call would queue behind the single writer (seconds
//! on SQLite); a batch costs about what one call did. A call's answer
//! (non-streamed) still waits for its own event to be stored.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use tokio::sync::{mpsc, oneshot};
use tollbooth::db::Db;
use tollbooth::ingest::{self, Ingested, Settle};
use tollbooth::metering::{NewEvent, Sender};

/// Most events in one batch.
const MAX_BATCH: usize = 500;

/// One call's event, its reservation, and who waits for its exact cost.
struct Job {
    sender: Sender,
    event: NewEvent,
    reservation_id: String,
    done: oneshot::Sender<Option<String>>,
}

/// The recorder of one server: its queue, started on first use.
#[derive(Debug, Clone, Default)]
pub struct Recorder {
    queue: Arc<OnceLock<mpsc::UnboundedSender<Job>>>,
}

impl Recorder {
    /// Stores the event (committing the reservation) with the next batch and
    /// returns its exact cost (`None` when unpriced or not stored).
    pub async fn record(&self, db: &Db, sender: &Sender, event: NewEvent, reservation_id: &str) -> Option<String> {
        let queue = self.queue.get_or_init(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(run(db.clone(), rx));
            tx
        });
        let (done, answer) = oneshot::channel();
        let job = Job { sender: sender.clone(), event, reservation_id: reservation_id.to_string(), done };
        if queue.send(job).is_err() {
            tracing::error!("gateway recorder stopped; the call was not recorded");
            return None;
        }
        answer.await.ok().flatten()
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
            let events = jobs.iter().map(|j| Ok(j.event.clone())).collect();
            let costs: Vec<Option<String>> = match ingest::record_settling(&db, &sender, events, Settle::Each(&reservations)).await {
                Ok(Ingested::Stored(results)) => results.into_iter().map(|r| r.cost_usd).collect(),
                Ok(Ingested::AlreadyCommitted) => Vec::new(),
                Err(e) => {
                    tracing::error!(error = ?e, org_id = %sender.org_id, calls = jobs.len(), "gateway: recording calls failed");
                    Vec::new()
                }
            };
            let mut costs = costs.into_iter();
            for j in jobs {
                let _ = j.done.send(costs.next().flatten());
            }
        }
    }
}
