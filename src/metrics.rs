//! The operator's figures, in the Prometheus text format (`GET /metrics`):
//! what each part of Tollbooth counts, kept per database handle (one set
//! per running server) with the `prometheus-client` crate (the Prometheus
//! project's own Rust client: typed label sets, no global registry, so two
//! servers in one process, as in the tests, keep their own counts).
//!
//! Counters move where the thing happens (ingest, reservations, the
//! gateway, deliveries); gauges that describe a state (outbox backlog,
//! database pools, background task lag) are read when scraped
//! ([`Metrics::render`] takes them).

use std::sync::atomic::AtomicI64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::db::Db;

/// The `Content-Type` of [`Metrics::render`]'s text (OpenMetrics, which
/// Prometheus scrapes natively).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    /// The route template (`/api/v1/budgets/{id}`), never the raw path.
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReservationLabels {
    /// `granted`, `refused` or `expired`.
    pub outcome: &'static str,
    /// For a refusal, what refused it: a limit's metric and period
    /// (`tokens/month`), `budget`, `rate`; empty otherwise.
    pub limit: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GatewayLabels {
    pub provider: String,
    /// `success`, `error` or `rate_limited` (the event's status).
    pub status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProviderLabels {
    pub provider: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    /// `mail` or `webhook`.
    pub kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PoolLabels {
    /// `reader` or `writer`.
    pub pool: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TaskLabels {
    pub task: &'static str,
}

type Seconds = Family<RouteLabels, Histogram, fn() -> Histogram>;
type ProviderSeconds = Family<ProviderLabels, Histogram, fn() -> Histogram>;
type IntGauge = Gauge<i64, AtomicI64>;

/// Request and call durations: 100 µs to ~52 s.
fn seconds() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.0, 20))
}

/// What the gateway adds: 10 µs to ~80 ms.
fn added_seconds() -> Histogram {
    Histogram::new(exponential_buckets(0.00001, 2.0, 14))
}

/// Every figure of one server.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub http_requests: Family<HttpLabels, Counter>,
    pub http_seconds: Seconds,
    pub events: Family<OutcomeLabels, Counter>,
    pub reservations: Family<ReservationLabels, Counter>,
    pub gateway_calls: Family<GatewayLabels, Counter>,
    pub gateway_upstream_seconds: ProviderSeconds,
    pub gateway_added_seconds: Histogram,
    pub deliveries_failed: Family<KindLabels, Counter>,
    outbox_backlog: Family<KindLabels, IntGauge>,
    rollup_backlog: IntGauge,
    pool_size: Family<PoolLabels, IntGauge>,
    pool_in_use: Family<PoolLabels, IntGauge>,
    pool_acquire_seconds: Family<PoolLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    task_lag_seconds: Family<TaskLabels, IntGauge>,
    /// When each background task last finished a round (ms since the epoch).
    task_last_run: std::sync::Mutex<std::collections::BTreeMap<&'static str, (i64, i64)>>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("tollbooth");
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests by route template, method and status", http_requests.clone());
        let http_seconds: Seconds = Family::new_with_constructor(seconds);
        registry.register("http_request_duration_seconds", "HTTP request duration by route template and method", http_seconds.clone());
        let events = Family::<OutcomeLabels, Counter>::default();
        registry.register("events", "Usage events by outcome: accepted, duplicate, rejected, unpriced", events.clone());
        let reservations = Family::<ReservationLabels, Counter>::default();
        registry.register("reservations", "Reservations granted, refused (by what refused them) and expired", reservations.clone());
        let gateway_calls = Family::<GatewayLabels, Counter>::default();
        registry.register("gateway_calls", "Gateway calls by provider and status", gateway_calls.clone());
        let gateway_upstream_seconds: ProviderSeconds = Family::new_with_constructor(seconds);
        registry.register(
            "gateway_upstream_duration_seconds",
            "Gateway calls: from forwarding to the upstream's last byte, by provider",
            gateway_upstream_seconds.clone(),
        );
        let gateway_added_seconds = added_seconds();
        registry.register(
            "gateway_added_seconds",
            "Gateway calls: time spent in Tollbooth before forwarding (key, limits, reservation)",
            gateway_added_seconds.clone(),
        );
        let deliveries_failed = Family::<KindLabels, Counter>::default();
        registry.register("deliveries_failed", "Alert mail and webhook delivery attempts that failed", deliveries_failed.clone());
        let outbox_backlog = Family::<KindLabels, IntGauge>::default();
        registry.register("outbox_backlog", "Alert mail and webhook deliveries waiting to be sent", outbox_backlog.clone());
        let rollup_backlog = IntGauge::default();
        registry.register("rollup_backlog", "Backfilled events waiting to be folded into the rollups", rollup_backlog.clone());
        let pool_size = Family::<PoolLabels, IntGauge>::default();
        registry.register("db_pool_connections", "Database pool connections open", pool_size.clone());
        let pool_in_use = Family::<PoolLabels, IntGauge>::default();
        registry.register("db_pool_connections_in_use", "Database pool connections in use", pool_in_use.clone());
        let pool_acquire_seconds = Family::<PoolLabels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
        registry.register(
            "db_pool_acquire_seconds",
            "Time the scrape waited for a database connection (the pool's wait time now)",
            pool_acquire_seconds.clone(),
        );
        let task_lag_seconds = Family::<TaskLabels, IntGauge>::default();
        registry.register(
            "task_lag_seconds",
            "Background tasks: seconds since the last round finished, beyond the task's interval",
            task_lag_seconds.clone(),
        );
        Metrics {
            registry,
            http_requests,
            http_seconds,
            events,
            reservations,
            gateway_calls,
            gateway_upstream_seconds,
            gateway_added_seconds,
            deliveries_failed,
            outbox_backlog,
            rollup_backlog,
            pool_size,
            pool_in_use,
            pool_acquire_seconds,
            task_lag_seconds,
            task_last_run: Default::default(),
        }
    }
}

impl Metrics {
    /// Counts usage events by outcome.
    pub fn count_events(&self, outcome: &'static str, n: u64) {
        if n > 0 {
            self.events.get_or_create(&OutcomeLabels { outcome }).inc_by(n);
        }
    }

    /// Counts one reservation decision.
    pub fn count_reservation(&self, outcome: &'static str, limit: &str) {
        self.count_reservations(outcome, limit, 1);
    }

    /// Counts `n` reservations by outcome (expiry marks many at once).
    pub fn count_reservations(&self, outcome: &'static str, limit: &str, n: u64) {
        if n > 0 {
            self.reservations.get_or_create(&ReservationLabels { outcome, limit: limit.to_string() }).inc_by(n);
        }
    }

    /// A background task finished a round; it runs every `interval_ms`.
    pub fn task_ran(&self, task: &'static str, now_ms: i64, interval_ms: i64) {
        if let Ok(mut t) = self.task_last_run.lock() {
            t.insert(task, (now_ms, interval_ms));
        }
    }

    /// The text a scrape gets, with the gauges read now.
    pub async fn render(&self, db: &Db, now_ms: i64) -> String {
        match crate::alerts::outbox::backlog(db).await {
            Ok((mail, webhooks)) => {
                self.outbox_backlog.get_or_create(&KindLabels { kind: "mail" }).set(mail);
                self.outbox_backlog.get_or_create(&KindLabels { kind: "webhook" }).set(webhooks);
            }
            Err(e) => tracing::warn!(error = ?e, "metrics: the outbox backlog could not be read"),
        }
        match db.reader().acquire().await {
            Ok(mut conn) => match crate::metering::analytics::pending::backlog(&mut conn).await {
                Ok(n) => {
                    self.rollup_backlog.set(n);
                }
                Err(e) => tracing::warn!(error = ?e, "metrics: the rollup backlog could not be read"),
            },
            Err(e) => tracing::warn!(error = ?e, "metrics: no connection for the rollup backlog"),
        }
        for (pool, stats) in [("reader", db.reader_stats().await), ("writer", db.writer_stats().await)] {
            let l = PoolLabels { pool };
            self.pool_size.get_or_create(&l).set(stats.size);
            self.pool_in_use.get_or_create(&l).set(stats.in_use);
            self.pool_acquire_seconds.get_or_create(&l).set(stats.acquire_seconds);
        }
        if let Ok(t) = self.task_last_run.lock() {
            for (task, (at, interval)) in t.iter() {
                let lag = ((now_ms - at - interval) / 1000).max(0);
                self.task_lag_seconds.get_or_create(&TaskLabels { task }).set(lag);
            }
        }
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = ?e, "metrics: encoding failed");
        }
        out
    }
}

impl Db {
    /// This server's figures.
    pub fn metrics(&self) -> std::sync::Arc<Metrics> {
        self.state()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_render_with_their_labels_and_the_prefix() {
        let m = Metrics::default();
        m.count_events("accepted", 3);
        m.count_events("duplicate", 0);
        m.count_reservation("refused", "tokens/month");
        m.http_requests.get_or_create(&HttpLabels { method: "GET".into(), route: "/api/v1/budgets/{id}".into(), status: 200 }).inc();
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &m.registry).unwrap();
        assert!(out.contains("tollbooth_events_total{outcome=\"accepted\"} 3"), "{out}");
        assert!(!out.contains("outcome=\"duplicate\""), "a zero count is not created: {out}");
        assert!(out.contains("tollbooth_reservations_total{outcome=\"refused\",limit=\"tokens/month\"} 1"), "{out}");
        assert!(out.contains("tollbooth_http_requests_total{method=\"GET\",route=\"/api/v1/budgets/{id}\",status=\"200\"} 1"), "{out}");
        assert!(out.ends_with("# EOF\n"));
    }
}
