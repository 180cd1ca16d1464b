//! Folding a batch into the narrow rollups: one row per distinct key of each
//! table, summed in memory, then added to the stored rows with multi-row
//! upserts in the batch's transaction (see [`super::store::write`]).

use std::collections::HashMap;

use super::{Dim, Sums};
use crate::metering::NewEvent;

pub(crate) const HOUR_MS: i64 = 3_600_000;
pub(crate) const DAY_MS: i64 = 24 * HOUR_MS;

/// The UTC hour and day an instant falls in.
pub(crate) fn hour_of(ts: i64) -> i64 {
    ts.div_euclid(HOUR_MS) * HOUR_MS
}

pub(crate) fn day_of(ts: i64) -> i64 {
    ts.div_euclid(DAY_MS) * DAY_MS
}

/// Events dated before this instant (the start of the previous UTC hour at
/// `now`) are backfilled: they wait in `rollup_pending` for the background
/// fold instead of touching cold rollup rows in the ingest transaction (see
/// [`super::pending`]).
pub fn backfill_before(now: i64) -> i64 {
    hour_of(now) - HOUR_MS
}

/// A batch's contribution to every narrow rollup of one organization.
#[derive(Debug, Default)]
pub struct Rollup<'a> {
    pub(crate) org_hourly: HashMap<i64, Sums>,
    pub(crate) org_daily: HashMap<i64, Sums>,
    pub(crate) model_hourly: HashMap<(i64, &'a str, &'a str), Sums>,
    pub(crate) model_daily: HashMap<(i64, &'a str, &'a str), Sums>,
    /// Per dimension: (day, value) → sums.
    pub(crate) dims: [HashMap<(i64, &'a str), Sums>; 4],
    pub(crate) total: Sums,
}

impl<'a> Rollup<'a> {
    /// Adds one backfilled event to the lifetime totals only: its rollup
    /// rows are folded later from `rollup_pending`.
    pub fn add_lifetime(&mut self, e: &'a NewEvent, cost_nano: Option<i64>, partial: bool) {
        self.total.add(e, cost_nano, partial, false);
    }

    /// Adds one stored event with its cost (`None`: unpriced).
    pub fn add(&mut self, e: &'a NewEvent, cost_nano: Option<i64>, partial: bool) {
        let (hour, day) = (hour_of(e.timestamp_ms), day_of(e.timestamp_ms));
        let provider = e.provider.as_deref().unwrap_or_default();
        self.org_hourly.entry(hour).or_default().add(e, cost_nano, partial, true);
        self.org_daily.entry(day).or_default().add(e, cost_nano, partial, true);
        self.model_hourly.entry((hour, e.model.as_str(), provider)).or_default().add(e, cost_nano, partial, true);
        self.model_daily.entry((day, e.model.as_str(), provider)).or_default().add(e, cost_nano, partial, true);
        for dim in Dim::ALL {
            let value = match dim {
                Dim::User => e.user_id.as_deref(),
                Dim::Project => e.project_id.as_deref(),
                Dim::Feature => e.feature.as_deref(),
                Dim::Session => e.session_id.as_deref(),
            };
            self.dims[dim as usize].entry((day, value.unwrap_or_default())).or_default().add(e, cost_nano, partial, false);
        }
        self.total.add(e, cost_nano, partial, false);
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.total.events == 0 && self.org_hourly.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(ts: i64, model: &str, user: Option<&str>, latency: Option<u64>) -> NewEvent {
        let json = serde_json::json!({
            "model": model, "input_tokens": 100, "output_tokens": 10, "user_id": user, "latency_ms": latency,
            "timestamp": crate::clock::to_rfc3339(ts),
        });
        crate::metering::parse_event_json(&json.to_string(), ts).unwrap()
    }

    #[test]
    fn a_batch_folds_into_one_row_per_key_of_each_table() {
        let t = 1_790_000_000_000; // an hour start + offset below
        let events = [
            event(t, "a", Some("u1"), Some(12)),
            event(t + 10, "a", Some("u1"), Some(2_000)),
            event(t + 10, "b", None, None),
            event(t + DAY_MS, "a", Some("u2"), Some(12)),
        ];
        let mut r = Rollup::default();
        for (i, e) in events.iter().enumerate() {
            r.add(e, if i == 2 { None } else { Some(5) }, i == 1);
        }
        assert_eq!(r.org_hourly.len(), 2);
        assert_eq!(r.org_daily.len(), 2);
        assert_eq!(r.model_hourly.len(), 3, "(hour, a), (hour, b), (next day's hour, a)");
        assert_eq!(r.dims[Dim::User as usize].len(), 3, "u1 and '' on day one, u2 on day two");
        let first = &r.org_hourly[&hour_of(t)];
        assert_eq!((first.events, first.cost_nano, first.unpriced_events, first.partial_events, first.input_tokens), (3, 10, 1, 1, 300));
        assert_eq!((first.latency_count, first.latency_sum_ms), (2, 2_012));
        assert_eq!(first.latency[1], 1, "12 ms lands in the 10–15 ms bucket");
        assert_eq!(first.latency[13], 1, "2,000 ms lands in the 1,500–2,250 ms bucket");
        assert_eq!(r.total.events, 4);
        assert_eq!(r.total.latency, [0; 28], "the running totals keep no histogram");
    }
}
