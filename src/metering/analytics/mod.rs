//! Analytics at volume: narrow rollups maintained on write, and reads
//! proportional to the answer.
//!
//! **Tables** (migration 0014), each one dimension plus time, never a cross
//! product: the organization by UTC hour and UTC day, × model (and its
//! provider) by hour and day, × user, × project, × feature, × session by day,
//! and lifetime totals. Hourly and daily tables of the organization and of
//! models carry a latency histogram as 28 columns, so a p95 is read from one
//! row of sums. Ingest folds a batch into them ([`Rollup`]) and adds the sums
//! in the batch's transaction ([`store::write`]), so every table always equals
//! the events it summarizes.
//!
//! **Reads** ([`query`]) are one SQL statement that aggregates in the
//! database (`GROUP BY`, and for dimensions `ORDER BY cost DESC LIMIT`): a
//! range is read as whole UTC days from the daily tables plus the hours at its
//! ends from the hourly ones (for the user/project/feature/session tables,
//! which have no hourly version, the ends come from the raw events through
//! their `(org_id, ts)` index: at most two partial days). Days and months in
//! the organization's zone are bucketed in SQL by their UTC boundaries, so a
//! zone other than UTC costs the hourly tables instead of the daily ones but
//! rebuilds nothing. What no table answers (two dimensions other than model
//! and provider, a dimension by hour, or a dimension by local day outside UTC)
//! reads raw events and is capped at [`RAW_MAX_DAYS`]; grouping by the two
//! high-cardinality dimensions (user, session) is capped at
//! [`WIDE_MAX_DAYS`]. A range past a cap is refused with the cap named.

mod fold;
pub mod pending;
mod plan;
pub mod store;

pub use fold::{backfill_before, Rollup};
pub use plan::{bucket_case, query, Answer, Filter, Group, Line, Query, TimeGrain, RAW_MAX_DAYS, WIDE_MAX_DAYS};

use crate::metering::{CallStatus, NewEvent};
use crate::metering::rollup::{quantile, LATENCY_BOUNDS_MS};

/// Buckets of the latency histogram (see [`LATENCY_BOUNDS_MS`]).
pub const LATENCY_BUCKETS: usize = 28;

/// The four dimensions kept by day, besides models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dim {
    User = 0,
    Project = 1,
    Feature = 2,
    Session = 3,
}

impl Dim {
    pub const ALL: [Dim; 4] = [Dim::User, Dim::Project, Dim::Feature, Dim::Session];

    /// The column in `usage_events` (and in its daily table).
    pub fn column(self) -> &'static str {
        match self {
            Dim::User => "user_id",
            Dim::Project => "project_id",
            Dim::Feature => "feature",
            Dim::Session => "session_id",
        }
    }

    pub(crate) fn table(self) -> &'static str {
        match self {
            Dim::User => "rollup_user_daily",
            Dim::Project => "rollup_project_daily",
            Dim::Feature => "rollup_feature_daily",
            Dim::Session => "rollup_session_daily",
        }
    }
}

/// What a set of events adds up to. Costs are exact nano-USD of the priced
/// events; `latency[i]` counts the calls in the i-th latency bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sums {
    pub events: i64,
    pub requests: i64,
    pub errors: i64,
    pub input_tokens: i64,
    pub cached_input_tokens: i64,
    pub cache_creation_tokens: i64,
    pub output_tokens: i64,
    pub reasoning_tokens: i64,
    pub images: i64,
    pub duration_ms: i64,
    pub cost_nano: i64,
    pub unpriced_events: i64,
    /// Priced events with units their price does not cover (their cost is partial).
    pub partial_events: i64,
    pub latency_count: i64,
    pub latency_sum_ms: i64,
    pub latency: [i64; LATENCY_BUCKETS],
}

/// How many summed columns a rollup row has.
pub(crate) const SUMS: usize = 15;

/// The summed columns of every rollup table, in [`Sums::values`] order.
pub(crate) const SUM_COLUMNS: [&str; SUMS] = [
    "events",
    "requests",
    "errors",
    "input_tokens",
    "cached_input_tokens",
    "cache_creation_tokens",
    "output_tokens",
    "reasoning_tokens",
    "images",
    "duration_ms",
    "cost_nano",
    "unpriced_events",
    "partial_events",
    "latency_count",
    "latency_sum_ms",
];

/// The histogram columns: `lat_00` … `lat_27`.
pub fn latency_columns() -> impl Iterator<Item = String> {
    (0..LATENCY_BUCKETS).map(|i| format!("lat_{i:02}"))
}

/// The histogram bucket of a latency.
pub(crate) fn latency_index(ms: i64) -> usize {
    LATENCY_BOUNDS_MS.iter().position(|b| ms <= *b).unwrap_or(LATENCY_BUCKETS - 1)
}

impl Sums {
    /// Adds one event with its cost (`None`: unpriced); `histogram` says
    /// whether this table keeps the latency histogram.
    pub(crate) fn add(&mut self, e: &NewEvent, cost_nano: Option<i64>, partial: bool, histogram: bool) {
        self.events += 1;
        self.requests += e.requests as i64;
        self.errors += i64::from(e.status != CallStatus::Success);
        self.input_tokens += e.input_tokens as i64;
        self.cached_input_tokens += e.cached_input_tokens as i64;
        self.cache_creation_tokens += e.cache_creation_tokens as i64;
        self.output_tokens += e.output_tokens as i64;
        self.reasoning_tokens += e.reasoning_tokens as i64;
        self.images += e.images as i64;
        self.duration_ms += e.duration_ms as i64;
        match cost_nano {
            Some(c) => self.cost_nano += c,
            None => self.unpriced_events += 1,
        }
        self.partial_events += i64::from(cost_nano.is_some() && partial);
        if let Some(l) = e.latency_ms {
            self.latency_count += 1;
            self.latency_sum_ms += l as i64;
            if histogram {
                self.latency[latency_index(l as i64)] += 1;
            }
        }
    }

    /// The summed columns in [`SUM_COLUMNS`] order.
    pub(crate) fn values(&self) -> [i64; SUMS] {
        [
            self.events,
            self.requests,
            self.errors,
            self.input_tokens,
            self.cached_input_tokens,
            self.cache_creation_tokens,
            self.output_tokens,
            self.reasoning_tokens,
            self.images,
            self.duration_ms,
            self.cost_nano,
            self.unpriced_events,
            self.partial_events,
            self.latency_count,
            self.latency_sum_ms,
        ]
    }

    pub(crate) fn from_values(v: [i64; SUMS], latency: [i64; LATENCY_BUCKETS]) -> Self {
        Sums {
            events: v[0],
            requests: v[1],
            errors: v[2],
            input_tokens: v[3],
            cached_input_tokens: v[4],
            cache_creation_tokens: v[5],
            output_tokens: v[6],
            reasoning_tokens: v[7],
            images: v[8],
            duration_ms: v[9],
            cost_nano: v[10],
            unpriced_events: v[11],
            partial_events: v[12],
            latency_count: v[13],
            latency_sum_ms: v[14],
            latency,
        }
    }

    /// Adds another set of sums.
    pub fn merge(&mut self, o: &Sums) {
        let mut v = self.values();
        for (a, b) in v.iter_mut().zip(o.values()) {
            *a += b;
        }
        let mut lat = self.latency;
        for (a, b) in lat.iter_mut().zip(o.latency) {
            *a += b;
        }
        *self = Sums::from_values(v, lat);
    }

    /// The average latency of the calls that reported one.
    pub fn avg_latency_ms(&self) -> Option<i64> {
        (self.latency_count > 0).then(|| self.latency_sum_ms / self.latency_count)
    }

    /// The upper bound of the latency bucket holding the 95th percentile
    /// (at most 50% high, never low); `None` without a histogram.
    pub fn p95_latency_ms(&self) -> Option<i64> {
        let hist: Vec<(i64, i64)> = LATENCY_BOUNDS_MS.iter().copied().zip(self.latency).filter(|(_, n)| *n > 0).collect();
        quantile(&hist, 0.95)
    }

    /// errors / events as a decimal string with 4 places.
    pub fn error_rate(&self) -> String {
        // A ratio for display, not money: f64 is fine here.
        if self.events == 0 {
            "0.0000".into()
        } else {
            format!("{:.4}", self.errors as f64 / self.events as f64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_buckets_cover_every_latency() {
        assert_eq!(LATENCY_BOUNDS_MS.len(), LATENCY_BUCKETS);
        assert_eq!(latency_index(0), 0);
        assert_eq!(latency_index(10), 0);
        assert_eq!(latency_index(11), 1);
        assert_eq!(latency_index(600_000), 26);
        assert_eq!(latency_index(600_001), 27);
        assert_eq!(latency_columns().last().unwrap(), "lat_27");
    }

    #[test]
    fn p95_and_error_rate_come_from_the_sums() {
        let mut s = Sums { events: 3, errors: 1, ..Default::default() };
        s.latency[3] = 94; // 25–40 ms
        s.latency[11] = 6; // 700–1,000 ms
        assert_eq!(s.p95_latency_ms(), Some(1_000));
        assert_eq!(s.error_rate(), "0.3333");
        assert_eq!(Sums::default().p95_latency_ms(), None);
        assert_eq!(Sums { events: 8, errors: 1, ..Default::default() }.error_rate(), "0.1250");
        let mut a = Sums { events: 1, cost_nano: 5, ..Default::default() };
        a.merge(&s);
        assert_eq!((a.events, a.cost_nano, a.latency[11]), (4, 5, 6));
    }
}
