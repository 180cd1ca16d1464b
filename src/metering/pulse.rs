//! The organization's pulse: a few figures every organization page polls
//! (the sidebar meter) and the usage panel watches to know when to read
//! itself again. Cheap by construction: the lifetime running totals (one
//! row), this month's cost from the rollups (one `GROUP BY`), and the quota
//! status the panel's "Plan limits" shows.

use serde::{Deserialize, Serialize};

use crate::plans::Period;
use crate::pricing::NanoUsd;
use crate::quota::StatusLine;

/// What the sidebar shows and the panel watches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pulse {
    /// Events ever recorded (the running totals): it changes with every
    /// ingest that records something, so a page that sees it change reads again.
    pub events: i64,
    /// This calendar month's cost (organization's zone).
    pub month_cost: NanoUsd,
    /// The hard limit on usage closest to exhausted ([`nearest_limit`]).
    pub nearest: Option<StatusLine>,
}

/// The hard limit on usage over a day or a month that is most used (per
/// mille of its value, reservations included); the first listed wins a tie.
/// Standing counts (members, projects) are left out: a plan's one member
/// seat taken is a normal state, not spending running out.
pub fn nearest_limit(lines: &[StatusLine]) -> Option<&StatusLine> {
    lines
        .iter()
        .filter(|l| l.hard && matches!(l.period, Period::Day | Period::Month))
        .fold(None, |best: Option<&StatusLine>, l| match best {
            Some(b) if b.per_mille() >= l.per_mille() => Some(b),
            _ => Some(l),
        })
}

#[cfg(feature = "ssr")]
pub use read::pulse;

#[cfg(feature = "ssr")]
mod read {
    use super::*;
    use crate::db::Db;
    use crate::metering::analytics;
    use crate::metering::usage::{self, month_start_ms, UsageQuery};
    use crate::Result;

    /// The pulse of `org_id` (whose zone is `time_zone`) at `now`.
    pub async fn pulse(db: &Db, org_id: &str, time_zone: &str, now: i64) -> Result<Pulse> {
        // Rollup buckets are hourly; an hour past "now" covers the current one.
        let q = UsageQuery { from_ms: month_start_ms(time_zone, now), to_ms: now + 3_600_000, ..Default::default() };
        let (lifetime, month, quota) = tokio::try_join!(
            async { analytics::store::lifetime(&mut *db.reader().acquire().await?, org_id).await },
            usage::report(db, org_id, time_zone, &q),
            crate::quota::status(db, org_id),
        )?;
        Ok(Pulse {
            events: lifetime.events,
            month_cost: NanoUsd::from_nanos(month.rows.first().map_or(0, |r| r.cost_nanos)),
            nearest: nearest_limit(&quota.lines).cloned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plans::Metric;

    fn line(metric: Metric, period: Period, limit: i64, used: i64, hard: bool) -> StatusLine {
        StatusLine { metric, period, limit, hard, used, reserved: 0, reset_at: None, overridden: false }
    }

    #[test]
    fn the_nearest_limit_is_the_most_used_hard_window_on_usage() {
        let lines = vec![
            line(Metric::Members, Period::Total, 1, 1, true),
            line(Metric::Tokens, Period::Month, 1000, 300, true),
            line(Metric::CostUsd, Period::Month, 10_000_000_000, 5_000_000_000, true),
            line(Metric::Requests, Period::Day, 100, 90, false),
        ];
        let n = nearest_limit(&lines).unwrap();
        assert_eq!((n.metric, n.period), (Metric::CostUsd, Period::Month), "50% beats 30%; soft and standing limits left out");
        let tie = vec![line(Metric::Tokens, Period::Day, 10, 5, true), line(Metric::Requests, Period::Month, 10, 5, true)];
        assert_eq!(nearest_limit(&tie).unwrap().metric, Metric::Tokens, "the first listed wins a tie");
        assert_eq!(nearest_limit(&[line(Metric::Members, Period::Total, 1, 1, true)]), None);
        assert_eq!(nearest_limit(&[]), None);
    }
}
