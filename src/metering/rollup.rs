//! Rollups: per organization × hour and × day, by model, provider, user,
//! project and feature. A batch is first folded in memory (one row per
//! distinct key), then added to the stored rows with one upsert per key, in
//! the batch's transaction, so the totals always equal the sum of the events.

use std::collections::BTreeMap;

use sqlx::AnyConnection;

use super::{CallStatus, NewEvent};
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

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    grain: &'static str,
    bucket_start: i64,
    model: String,
    provider: String,
    user_id: String,
    project_id: String,
    feature: String,
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

/// Accumulates a batch's events before writing.
#[derive(Debug, Default)]
pub struct Rollup {
    rows: BTreeMap<Key, Sums>,
    latency: BTreeMap<(&'static str, i64, String, i64), i64>,
}

impl Rollup {
    /// Adds one stored event with its cost (`None`: unpriced).
    pub fn add(&mut self, e: &NewEvent, cost_nano: Option<i64>) {
        for (grain, size) in [("hour", HOUR_MS), ("day", DAY_MS)] {
            let bucket_start = e.timestamp_ms.div_euclid(size) * size;
            let key = Key {
                grain,
                bucket_start,
                model: e.model.clone(),
                provider: e.provider.clone().unwrap_or_default(),
                user_id: e.user_id.clone().unwrap_or_default(),
                project_id: e.project_id.clone().unwrap_or_default(),
                feature: e.feature.clone().unwrap_or_default(),
            };
            let s = self.rows.entry(key).or_default();
            s.events += 1;
            s.requests += e.requests as i64;
            s.errors += i64::from(e.status != CallStatus::Success);
            s.input_tokens += e.input_tokens as i64;
            s.cached_input_tokens += e.cached_input_tokens as i64;
            s.cache_creation_tokens += e.cache_creation_tokens as i64;
            s.output_tokens += e.output_tokens as i64;
            s.reasoning_tokens += e.reasoning_tokens as i64;
            s.images += e.images as i64;
            s.duration_ms += e.duration_ms as i64;
            match cost_nano {
                Some(c) => s.cost_nano += c,
                None => s.unpriced_events += 1,
            }
            if let Some(l) = e.latency_ms {
                s.latency_count += 1;
                s.latency_sum_ms += l as i64;
                *self.latency.entry((grain, bucket_start, e.model.clone(), latency_bucket(l as i64))).or_default() += 1;
            }
        }
    }

    /// Adds the accumulated sums to the stored rollups.
    pub async fn write(self, conn: &mut AnyConnection, org_id: &str) -> Result<()> {
        for (k, s) in self.rows {
            sqlx::query(
                "INSERT INTO usage_rollups (org_id, grain, bucket_start, model, provider, user_id, project_id, feature, \
                 events, requests, errors, input_tokens, cached_input_tokens, cache_creation_tokens, output_tokens, \
                 reasoning_tokens, images, duration_ms, cost_nano, unpriced_events, latency_count, latency_sum_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22) \
                 ON CONFLICT (org_id, grain, bucket_start, model, provider, user_id, project_id, feature) DO UPDATE SET \
                 events = usage_rollups.events + excluded.events, \
                 requests = usage_rollups.requests + excluded.requests, \
                 errors = usage_rollups.errors + excluded.errors, \
                 input_tokens = usage_rollups.input_tokens + excluded.input_tokens, \
                 cached_input_tokens = usage_rollups.cached_input_tokens + excluded.cached_input_tokens, \
                 cache_creation_tokens = usage_rollups.cache_creation_tokens + excluded.cache_creation_tokens, \
                 output_tokens = usage_rollups.output_tokens + excluded.output_tokens, \
                 reasoning_tokens = usage_rollups.reasoning_tokens + excluded.reasoning_tokens, \
                 images = usage_rollups.images + excluded.images, \
                 duration_ms = usage_rollups.duration_ms + excluded.duration_ms, \
                 cost_nano = usage_rollups.cost_nano + excluded.cost_nano, \
                 unpriced_events = usage_rollups.unpriced_events + excluded.unpriced_events, \
                 latency_count = usage_rollups.latency_count + excluded.latency_count, \
                 latency_sum_ms = usage_rollups.latency_sum_ms + excluded.latency_sum_ms",
            )
            .bind(org_id)
            .bind(k.grain)
            .bind(k.bucket_start)
            .bind(k.model)
            .bind(k.provider)
            .bind(k.user_id)
            .bind(k.project_id)
            .bind(k.feature)
            .bind(s.events)
            .bind(s.requests)
            .bind(s.errors)
            .bind(s.input_tokens)
            .bind(s.cached_input_tokens)
            .bind(s.cache_creation_tokens)
            .bind(s.output_tokens)
            .bind(s.reasoning_tokens)
            .bind(s.images)
            .bind(s.duration_ms)
            .bind(s.cost_nano)
            .bind(s.unpriced_events)
            .bind(s.latency_count)
            .bind(s.latency_sum_ms)
            .execute(&mut *conn)
            .await?;
        }
        for ((grain, bucket_start, model, le), n) in self.latency {
            sqlx::query(
                "INSERT INTO latency_histogram (org_id, grain, bucket_start, model, le_ms, n) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (org_id, grain, bucket_start, model, le_ms) DO UPDATE SET n = latency_histogram.n + excluded.n",
            )
            .bind(org_id)
            .bind(grain)
            .bind(bucket_start)
            .bind(model)
            .bind(le)
            .bind(n)
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
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
