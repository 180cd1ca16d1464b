//! The latency histogram's buckets, shared by the narrow rollups (which keep
//! one count per bucket, see [`crate::metering::analytics`]) and the
//! dashboards that read percentiles from them.

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
