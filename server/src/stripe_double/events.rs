//! Events: recorded in the double's state, signed with
//! `tollbooth::signature::header` and POSTed to the webhook URL one at a
//! time, in the order they were queued.

use std::sync::Arc;

use anyhow::Context;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::{now_secs, objects, Shared};

/// One event the double created, with every delivery attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    pub id: String,
    pub event_type: String,
    /// The whole event as sent.
    pub event: Value,
    pub deliveries: Vec<Delivery>,
}

/// One POST of an event to the webhook URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The receiver's HTTP status; `None` when it could not be reached.
    pub status: Option<u16>,
    /// Why it could not be reached.
    pub error: Option<String>,
}

/// A delivery to make; `done` is told when it has been made.
pub(crate) struct Job {
    event_id: String,
    done: Option<oneshot::Sender<()>>,
}

/// Creates and records an event (not yet delivered); returns its id.
pub(crate) fn record(shared: &Shared, event_type: &str, object: Value, previous: Option<Value>) -> String {
    let id = shared.new_id("evt");
    let event = objects::event(&id, event_type, now_secs(), object, previous);
    shared.state().events.push(EventRecord { id: id.clone(), event_type: event_type.to_string(), event, deliveries: Vec::new() });
    shared.changed.notify_waiters();
    id
}

/// Queues events for delivery after the caller answers (API calls).
pub(crate) fn deliver_later(shared: &Shared, event_ids: Vec<String>) {
    for event_id in event_ids {
        let _ = shared.deliveries.send(Job { event_id, done: None });
    }
}

/// Queues an event and waits until it has been delivered (hosted pages, tests).
pub(crate) async fn deliver_now(shared: &Shared, event_id: &str) -> anyhow::Result<()> {
    let (tx, rx) = oneshot::channel();
    shared
        .deliveries
        .send(Job { event_id: event_id.to_string(), done: Some(tx) })
        .map_err(|_| anyhow::anyhow!("the Stripe double's delivery task has stopped"))?;
    rx.await.context("the Stripe double's delivery task stopped before delivering")
}

/// The delivery task: one event at a time, in queue order.
pub(crate) async fn deliver_in_order(shared: Arc<Shared>, http: reqwest::Client, mut jobs: mpsc::UnboundedReceiver<Job>) {
    while let Some(job) = jobs.recv().await {
        if let Some(url) = shared.config.webhook_url.clone() {
            let event = shared.state().events.iter().find(|e| e.id == job.event_id).map(|e| e.event.clone());
            if let Some(event) = event {
                let delivery = post(&http, &url, &shared.config.webhook_secret, &event).await;
                if let Some(e) = shared.state().events.iter_mut().find(|e| e.id == job.event_id) {
                    e.deliveries.push(delivery);
                }
                shared.changed.notify_waiters();
            }
        }
        if let Some(done) = job.done {
            let _ = done.send(());
        }
    }
}

async fn post(http: &reqwest::Client, url: &str, secret: &str, event: &Value) -> Delivery {
    let body = event.to_string();
    let signature = tollbooth::signature::header(secret, now_secs(), &body);
    let sent = http
        .post(url)
        .header("Content-Type", "application/json; charset=utf-8")
        .header("Stripe-Signature", signature)
        .header("User-Agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)")
        .body(body)
        .send()
        .await;
    match sent {
        Ok(resp) => Delivery { status: Some(resp.status().as_u16()), error: None },
        Err(e) => {
            tracing::warn!(error = %e, %url, "Stripe double: webhook delivery failed");
            Delivery { status: None, error: Some(e.to_string()) }
        }
    }
}
