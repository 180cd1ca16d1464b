//! Rollups: per organization × hour and × day, by model, provider, user,
//! project and feature (`usage_rollups`), and per organization × hour with the
//! session as well (`session_rollups`). A batch is first folded in memory (one
//! row per distinct key), then added to the stored rows with multi-row
//! upserts in the batch's transaction, so the totals always equal the sum of
//! the events.

use std::collections::HashMap;

use sqlx::AnyConnection;

use super::store::rollups::{self, Dims};
use super::{CallStatus, NewEvent};
use crate::db::Engine;
use crate::Result;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// Upper bounds (ms) of the latency histogram's buckets: roughly ×1.5 steps
/// from 10 ms to 10 minutes, then everything above. A p95 read from it is the
/// bound of the bucket holding the 95th percentile: at most 50% high, never low.
pub const LATENCY_BOUNDS_MS: &[i64] = &[
    10, 15, 25, 40, 60, 90, 135, 200, 300, 450, 700, 1_000, 1_500, 2_250, 3_500, 5_000, 7_500, 11_000, 17_000,
    25_000, 40_000, 60_000, 90_000, 135_000, 200_000, 300_000, 600_000, i64::MAX,
];

/// The histogram bucket (its upper bound) for a latency.
pub fn latency_bucket(ms: i64) -> i64 {
    *LATENCY_BOUNDS_MS.iter().find(|b| ms <= **b).unwrap_or(&i64::MAX)
}

/// The bound holding the `q` quantile (0..1) of a histogram given as (bound, count).
pub fn quantile(hist: &[(i64, i64)], q: f64) -> Option<i64> {
    let total: i64 = hist.iter().map(|(_, n)| n).sum();
    if total == 0 {
        return None;
    }
    let mut sorted = hist.to_vec();
    sorted.sort();
    let rank = ((total as f64) * q).ceil().max(1.0) as i64;
    let mut seen = 0;
    sorted.into_iter().find(|(_, n)| {
        seen += n;
        seen >= rank
    }).map(|(b, _)| b)
}

/// Which rollup a row belongs to: `usage_rollups` by hour or by UTC day, or
/// `session_rollups` (hourly, with the session as a dimension).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Grain {
    Hour,
    Day,
    SessionHour,
}

impl Grain {
    fn name(self) -> &'static str {
        match self {
            Grain::Hour | Grain::SessionHour => "hour",
            Grain::Day => "day",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Key<'a> {
    grain: Grain,
    bucket_start: i64,
    session_id: &'a str,
    model: &'a str,
    provider: &'a str,
    user_id: &'a str,
    project_id: &'a str,
    feature: &'a str,
}

#[derive(Debug, Clone, Default)]
struct Sums {
    events: i64,
    requests: i64,
    errors: i64,
    input_tokens: i64,
    cached_input_tokens: i64,
    cache_creation_tokens: i64,
    output_tokens: i64,
    reasoning_tokens: i64,
    images: i64,
    duration_ms: i64,
    cost_nano: i64,
    unpriced_events: i64,
    latency_count: i64,
    latency_sum_ms: i64,
}

impl Sums {
    fn add(&mut self, e: &NewEvent, cost_nano: Option<i64>) {
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
        if let Some(l) = e.latency_ms {
            self.latency_count += 1;
            self.latency_sum_ms += l as i64;
        }
    }

    fn values(&self) -> [i64; 14] {
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
            self.latency_count,
            self.latency_sum_ms,
        ]
    }
}

/// The summed columns, in [`Sums::values`] order.
const SUM_COLUMNS: [&str; 14] = [
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
    "latency_count",
    "latency_sum_ms",
];

/// Accumulates a batch's events before writing.
#[derive(Debug, Default)]
pub struct Rollup<'a> {
    rows: HashMap<Key<'a>, Sums>,
    latency: HashMap<(&'static str, i64, &'a str, i64), i64>,
}

impl<'a> Rollup<'a> {
    /// Adds one stored event with its cost (`None`: unpriced).
    pub fn add(&mut self, e: &'a NewEvent, cost_nano: Option<i64>) {
        for grain in [Grain::Hour, Grain::Day, Grain::SessionHour] {
            let size = if grain == Grain::Day { DAY_MS } else { HOUR_MS };
            let bucket_start = e.timestamp_ms.div_euclid(size) * size;
            let key = Key {
                grain,
                bucket_start,
                session_id: if grain == Grain::SessionHour { e.session_id.as_deref().unwrap_or_default() } else { "" },
                model: &e.model,
                provider: e.provider.as_deref().unwrap_or_default(),
                user_id: e.user_id.as_deref().unwrap_or_default(),
                project_id: e.project_id.as_deref().unwrap_or_default(),
                feature: e.feature.as_deref().unwrap_or_default(),
            };
            self.rows.entry(key).or_default().add(e, cost_nano);
            if let (Some(l), true) = (e.latency_ms, grain != Grain::SessionHour) {
                *self.latency.entry((grain.name(), bucket_start, e.model.as_str(), latency_bucket(l as i64))).or_default() += 1;
            }
        }
    }

    /// Adds the accumulated sums to the stored rollups: multi-row upserts,
    /// keys in a fixed order so concurrent batches lock rows in the same order.
    pub async fn write(&self, conn: &mut AnyConnection, engine: Engine, org_id: &str) -> Result<()> {
        let mut rows: Vec<(&Key<'a>, &Sums)> = self.rows.iter().collect();
        rows.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let (session, usage): (Vec<_>, Vec<_>) = rows.into_iter().partition(|(k, _)| k.grain == Grain::SessionHour);
        let stored = |rows: &[(&Key<'a>, &Sums)], value: fn(&Key<'a>) -> &'a str| -> Vec<(&'a str, Dims<'a>, [i64; 14])> {
            rows.iter()
                .map(|(k, s)| {
                    let dims = Dims {
                        bucket_start: k.bucket_start,
                        model: k.model,
                        provider: k.provider,
                        user_id: k.user_id,
                        project_id: k.project_id,
                        feature: k.feature,
                    };
                    (value(k), dims, s.values())
                })
                .collect()
        };
        let usage = stored(&usage, |k| k.grain.name());
        let session = stored(&session, |k| k.session_id);
        rollups::upsert_sums(conn, engine, org_id, "usage_rollups", "grain", &SUM_COLUMNS, &usage).await?;
        rollups::upsert_sums(conn, engine, org_id, "session_rollups", "session_id", &SUM_COLUMNS, &session).await?;
        let mut latency: Vec<_> = self.latency.iter().map(|(k, n)| (*k, *n)).collect();
        latency.sort_unstable();
        rollups::add_latency(conn, engine, org_id, &latency).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_buckets_and_quantiles() {
        assert_eq!(latency_bucket(0), 10);
        assert_eq!(latency_bucket(10), 10);
        assert_eq!(latency_bucket(11), 15);
        assert_eq!(latency_bucket(10_000_000), i64::MAX);
        // 94 fast calls and 6 slow ones: p95 lands in the slow bucket.
        let hist = [(40, 94), (1_000, 6)];
        assert_eq!(quantile(&hist, 0.95), Some(1_000));
        assert_eq!(quantile(&hist, 0.5), Some(40));
        assert_eq!(quantile(&[], 0.95), None);
    }
}
