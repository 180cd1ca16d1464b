//! A local Stripe double: the parts of Stripe's API Tollbooth calls, with
//! Stripe's paths, form encoding, object JSON and error JSON, plus plain
//! hosted Checkout and billing-portal pages that send signed webhooks.
//! State is in memory; one double per test (port 0) or one per dev run
//! (`tollbooth stripe-double`).
//!
//! Request bodies are parsed into a flat list of `(key, value)` pairs with
//! the bracketed keys kept verbatim (`line_items[0][price]`), using the
//! `form_urlencoded` crate (already in the tree through `url`): the double
//! only looks up known keys, and tests see exactly what went over the wire,
//! which a nested decoder (serde_qs) would normalise away.
//!
//! Webhooks go out one at a time, in order, from a single delivery task.
//! Events caused by an API call are delivered after the call has answered,
//! as Stripe does (so an app that holds a lock while calling Stripe cannot
//! deadlock on its own webhook). Events caused by a hosted page are
//! delivered before the page redirects, so the app knows of the payment by
//! the time the browser comes back to it.

mod api;
mod events;
pub mod objects;
mod pages;

use std::collections::HashMap;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use serde_json::{Map, Value};
use tokio::sync::{mpsc, Notify};

use crate::local_server::{self, LocalServer};

pub use events::{Delivery, EventRecord};

/// How the double is started.
#[derive(Debug, Clone)]
pub struct DoubleConfig {
    /// The secret key callers must send as `Authorization: Bearer <key>`.
    pub secret_key: String,
    /// Where signed events are POSTed; none are sent when `None` (they are
    /// still recorded).
    pub webhook_url: Option<String>,
    /// The `whsec_...` secret events are signed with.
    pub webhook_secret: String,
    /// The URL hosted pages are reached at (default: the bound address).
    pub public_url: Option<String>,
}

/// A request the API received (after authentication).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    /// Without the query string.
    pub path: String,
    /// Query and form parameters, keys verbatim (`metadata[org_id]`).
    pub params: Vec<(String, String)>,
    pub idempotency_key: Option<String>,
}

/// Form parameters of one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    pub fn parse(bytes: &[u8]) -> Self {
        Params(form_urlencoded::parse(bytes).into_owned().collect())
    }

    /// The last value sent for `key` (Stripe takes the last one too).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// The value of a required parameter; a missing or empty one is refused
    /// as Stripe refuses it.
    pub fn require(&self, key: &str) -> Result<&str, ApiError> {
        self.get(key).filter(|v| !v.is_empty()).ok_or_else(|| ApiError::missing(key))
    }

    /// `metadata[k]=v` pairs as a JSON map.
    pub fn metadata(&self) -> Map<String, Value> {
        self.0
            .iter()
            .filter_map(|(k, v)| {
                let key = k.strip_prefix("metadata[")?.strip_suffix(']')?;
                Some((key.to_string(), Value::String(v.clone())))
            })
            .collect()
    }
}

/// Stripe's error answer: a status and `{"error":{type, message, param?, code?}}`.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: u16,
    pub body: Value,
}

impl ApiError {
    fn new(status: u16, kind: &str, message: String, param: Option<&str>, code: Option<&str>) -> Self {
        let mut error = serde_json::json!({"type": kind, "message": message});
        if let Some(p) = param {
            error["param"] = p.into();
        }
        if let Some(c) = code {
            error["code"] = c.into();
            error["doc_url"] = format!("https://stripe.com/docs/error-codes/{}", c.replace('_', "-")).into();
        }
        ApiError { status, body: serde_json::json!({ "error": error }) }
    }

    pub fn missing(param: &str) -> Self {
        Self::new(400, "invalid_request_error", format!("Missing required param: {param}."), Some(param), Some("parameter_missing"))
    }

    pub fn invalid(param: &str, message: impl Into<String>) -> Self {
        Self::new(400, "invalid_request_error", message.into(), Some(param), Some("parameter_invalid"))
    }

    /// `kind` is the object's name in Stripe's message ("customer", "subscription").
    pub fn no_such(kind: &str, id: &str, param: &str) -> Self {
        Self::new(404, "invalid_request_error", format!("No such {kind}: '{id}'"), Some(param), Some("resource_missing"))
    }

    pub fn unauthorized(message: String) -> Self {
        Self::new(401, "invalid_request_error", message, None, None)
    }

    pub fn idempotency(message: &str) -> Self {
        Self::new(400, "idempotency_error", message.to_string(), None, None)
    }

    pub fn state(message: impl Into<String>) -> Self {
        Self::new(400, "invalid_request_error", message.into(), None, None)
    }
}

impl axum::response::IntoResponse for ApiError {
    fn into_response(self) -> axum::response::Response {
        let status = axum::http::StatusCode::from_u16(self.status).unwrap_or(axum::http::StatusCode::BAD_REQUEST);
        (status, axum::Json(self.body)).into_response()
    }
}

/// A checkout session with what it sells (Stripe keeps line items apart
/// from the session object too).
#[derive(Debug, Clone)]
pub(crate) struct StoredSession {
    pub object: Value,
    pub price_id: String,
    pub quantity: u64,
    /// `subscription_data[billing_cycle_anchor]`: the first renewal (unix
    /// seconds). With `subscription_data[proration_behavior]=none` the first
    /// invoice charges nothing until then.
    pub billing_cycle_anchor: Option<i64>,
    pub prorate_first_period: bool,
}

/// A response stored under an idempotency key.
#[derive(Debug, Clone)]
pub(crate) struct StoredResponse {
    pub path: String,
    pub params: Params,
    pub status: u16,
    pub body: axum::body::Bytes,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub customers: Vec<Value>,
    pub checkout_sessions: Vec<StoredSession>,
    pub portal_sessions: Vec<Value>,
    pub subscriptions: Vec<Value>,
    pub invoices: Vec<Value>,
    pub invoice_items: Vec<Value>,
    /// Unit amounts in cents; a price not listed costs 0.
    pub prices: HashMap<String, i64>,
    pub idempotency: HashMap<String, StoredResponse>,
    pub requests: Vec<RecordedRequest>,
    pub events: Vec<EventRecord>,
}

impl State {
    pub fn customer(&self, id: &str) -> Option<&Value> {
        self.customers.iter().find(|c| c["id"] == id)
    }

    pub fn subscription_mut(&mut self, id: &str) -> Option<&mut Value> {
        self.subscriptions.iter_mut().find(|s| s["id"] == id)
    }

    pub fn session_mut(&mut self, id: &str) -> Option<&mut StoredSession> {
        self.checkout_sessions.iter_mut().find(|s| s.object["id"] == id)
    }

    pub fn unit_amount(&self, price_id: &str) -> i64 {
        self.prices.get(price_id).copied().unwrap_or(0)
    }
}

/// What every handler shares.
pub(crate) struct Shared {
    pub config: DoubleConfig,
    /// Where events go (settable after start: a test's app binds after the double).
    webhook_url: std::sync::RwLock<Option<String>>,
    pub public_url: String,
    state: Mutex<State>,
    /// Tells waiters that an event was recorded or delivered.
    pub changed: Notify,
    pub deliveries: mpsc::UnboundedSender<events::Job>,
    id_tag: String,
    next_id: AtomicU64,
}

impl Shared {
    /// Where events are sent now.
    pub fn webhook_url(&self) -> Option<String> {
        self.webhook_url.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The state, for a short non-async section.
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A new Stripe-looking id (`cus_3f9a…0001`), unique across runs of
    /// the double so ids kept by an app from an earlier run do not collide.
    pub fn new_id(&self, prefix: &str) -> String {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        format!("{prefix}_{}{n:06}", self.id_tag)
    }
}

/// A running double; stops when dropped.
pub struct RunningDouble {
    server: LocalServer,
    shared: Arc<Shared>,
}

/// Starts the double on 127.0.0.1 on a free port.
pub async fn spawn(config: DoubleConfig) -> anyhow::Result<RunningDouble> {
    spawn_on(config, 0).await
}

/// Starts the double on 127.0.0.1:`port` (0 for a free one).
pub async fn spawn_on(config: DoubleConfig, port: u16) -> anyhow::Result<RunningDouble> {
    let listener = LocalServer::bind(port, "the Stripe double").await?;
    let addr = listener.local_addr()?;
    let public_url = config.public_url.clone().unwrap_or_else(|| format!("http://{addr}")).trim_end_matches('/').to_string();
    let (tx, rx) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared {
        webhook_url: std::sync::RwLock::new(config.webhook_url.clone()),
        config,
        public_url,
        state: Mutex::new(State::default()),
        changed: Notify::new(),
        deliveries: tx,
        id_tag: local_server::run_tag(),
        next_id: AtomicU64::new(1),
    });
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().context("building the webhook client")?;
    tokio::spawn(events::deliver_in_order(Arc::clone(&shared), http, rx));
    let app = router(Arc::clone(&shared));
    Ok(RunningDouble { server: LocalServer::serve(listener, app)?, shared })
}

fn router(shared: Arc<Shared>) -> Router {
    api::router(Arc::clone(&shared)).merge(pages::router(shared))
}

/// Unix seconds now.
pub(crate) fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// The same day of the next month, clamped to its last day (Jan 31 → Feb 28),
/// at the same time of day: how Stripe advances a monthly period.
pub(crate) fn one_month_after(secs: i64) -> i64 {
    use time::{Date, Month, OffsetDateTime};
    let Ok(t) = OffsetDateTime::from_unix_timestamp(secs) else { return secs + 30 * 86_400 };
    let (year, month) = if t.month() == Month::December { (t.year() + 1, Month::January) } else { (t.year(), t.month().next()) };
    let day = t.day().min(month.length(year));
    match Date::from_calendar_date(year, month, day) {
        Ok(date) => t.replace_date(date).unix_timestamp(),
        Err(_) => secs + 30 * 86_400,
    }
}

impl RunningDouble {
    /// Sends later events to `url` (e.g. an app started after the double).
    pub fn set_webhook_url(&self, url: &str) {
        *self.shared.webhook_url.write().unwrap_or_else(|e| e.into_inner()) = Some(url.to_string());
    }

    /// The API base to give the client: `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// Where hosted pages are linked from (`{public_url}/checkout/{id}`).
    pub fn public_url(&self) -> &str {
        &self.shared.public_url
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// Sets a price's unit amount in cents (a price not set costs 0).
    pub fn set_price(&self, price_id: &str, unit_amount_cents: i64) {
        self.shared.state().prices.insert(price_id.to_string(), unit_amount_cents);
    }

    pub fn customers(&self) -> Vec<Value> {
        self.shared.state().customers.clone()
    }

    pub fn checkout_sessions(&self) -> Vec<Value> {
        self.shared.state().checkout_sessions.iter().map(|s| s.object.clone()).collect()
    }

    pub fn portal_sessions(&self) -> Vec<Value> {
        self.shared.state().portal_sessions.clone()
    }

    pub fn subscriptions(&self) -> Vec<Value> {
        self.shared.state().subscriptions.clone()
    }

    pub fn invoices(&self) -> Vec<Value> {
        self.shared.state().invoices.clone()
    }

    pub fn invoice_items(&self) -> Vec<Value> {
        self.shared.state().invoice_items.clone()
    }

    /// Every authenticated API request, in order of arrival.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.state().requests.clone()
    }

    /// Every event created, in order, with its deliveries so far.
    pub fn events(&self) -> Vec<EventRecord> {
        self.shared.state().events.clone()
    }

    /// Builds an event of `event_type` around `object`, signs it, delivers
    /// it (waiting for the receiver's answer) and returns its record. For
    /// tests that replay, reorder or invent events.
    pub async fn send_event(&self, event_type: &str, object: Value) -> anyhow::Result<EventRecord> {
        let id = events::record(&self.shared, event_type, object, None);
        events::deliver_now(&self.shared, &id).await?;
        self.event(&id).context("the event was recorded")
    }

    /// Delivers a recorded event again (newly signed), as Stripe's "Resend"
    /// does, and returns the receiver's answer.
    pub async fn resend(&self, event_id: &str) -> anyhow::Result<Delivery> {
        anyhow::ensure!(self.event(event_id).is_some(), "no event {event_id} was sent by this double");
        events::deliver_now(&self.shared, event_id).await?;
        let record = self.event(event_id).context("the event was recorded")?;
        record.deliveries.last().cloned().context("no webhook URL is configured, so nothing was delivered")
    }

    /// Waits until at least `count` events exist and each has been
    /// delivered (or has nowhere to go), at most 30 s; returns them all.
    pub async fn wait_for_events(&self, count: usize) -> anyhow::Result<Vec<EventRecord>> {
        let done = |events: &[EventRecord]| {
            events.len() >= count && events.iter().all(|e| !e.deliveries.is_empty() || self.shared.webhook_url().is_none())
        };
        tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                let notified = self.shared.changed.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if done(&self.shared.state().events) {
                    return;
                }
                notified.await;
            }
        })
        .await
        .map_err(|_| anyhow::anyhow!("fewer than {count} events were delivered within 30 s: {:?}", self.event_types()))?;
        Ok(self.events())
    }

    /// The types of the events created so far, in order.
    pub fn event_types(&self) -> Vec<String> {
        self.shared.state().events.iter().map(|e| e.event_type.clone()).collect()
    }

    fn event(&self, id: &str) -> Option<EventRecord> {
        self.shared.state().events.iter().find(|e| e.id == id).cloned()
    }

    /// Runs until `signal` completes (for the CLI).
    pub async fn run_until(self, signal: impl std::future::Future<Output = ()>) {
        signal.await;
        drop(self);
    }
}

/// `tollbooth stripe-double`: runs the double until Ctrl-C. `prices` are
/// `price_id=cents` pairs.
pub async fn run_cli(config: DoubleConfig, port: u16, prices: &[String]) -> anyhow::Result<()> {
    let mut parsed = Vec::new();
    for p in prices {
        let (id, cents) = p.split_once('=').with_context(|| format!("--price {p:?}: expected price_id=cents"))?;
        let cents: i64 = cents.parse().with_context(|| format!("--price {p:?}: {cents:?} is not a whole number of cents"))?;
        parsed.push((id.to_string(), cents));
    }
    let webhook = config.webhook_url.clone();
    let double = spawn_on(config, port).await?;
    for (id, cents) in parsed {
        double.set_price(&id, cents);
    }
    println!("Stripe double listening on {} (hosted pages at {})", double.base_url(), double.public_url());
    match webhook {
        Some(url) => println!("sending signed events to {url}"),
        None => println!("no --webhook-url: events are recorded, not sent"),
    }
    double.run_until(crate::startup::shutdown_signal()).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_month_after_keeps_the_day_or_clamps_it_to_the_month_end() {
        // 2026-01-31T10:00:00Z → 2026-02-28T10:00:00Z
        assert_eq!(one_month_after(1_769_853_600), 1_772_272_800);
        // 2026-12-15T00:00:00Z → 2027-01-15T00:00:00Z
        assert_eq!(one_month_after(1_797_292_800), 1_799_971_200);
    }

    #[test]
    fn params_keep_bracketed_keys_and_read_metadata() {
        let p = Params::parse(b"line_items[0][price]=price_x&metadata[org_id]=org_1&metadata[plan]=pro&success_url=http%3A%2F%2Fa%2Fb%3Fs%3D%7BCHECKOUT_SESSION_ID%7D");
        assert_eq!(p.get("line_items[0][price]"), Some("price_x"));
        assert_eq!(p.get("success_url"), Some("http://a/b?s={CHECKOUT_SESSION_ID}"));
        assert_eq!(p.metadata().get("org_id"), Some(&Value::String("org_1".into())));
        assert_eq!(p.metadata().len(), 2);
        assert_eq!(p.require("mode").unwrap_err().body["error"]["param"], "mode");
    }
}
