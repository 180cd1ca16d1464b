//! Projections and comparisons the usage panel and the billing page show:
//! the month-end spend projected from the recent rate, and each card's change
//! against the previous period of equal length. Exact integer arithmetic
//! (money is nano-USD); the one rule lives here.

use serde::{Deserialize, Serialize};

use crate::pricing::NanoUsd;

/// Length of the window the projection's daily rate is taken from.
pub const RATE_WINDOW_MS: i64 = 7 * 86_400_000;

/// How the projection is made, as the pages state it.
pub const METHOD: &str = "this month so far plus, for the time left in the month, the average daily spend of the last 7 days";

/// The month-end spend projected from the last 7 days' rate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Projection {
    /// Spend so far this month.
    pub month_to_date: NanoUsd,
    /// Average spend per 24 hours over the last 7 days.
    pub daily_average: NanoUsd,
    /// `month_to_date` plus the average rate over the time left.
    pub projected: NanoUsd,
    /// The method, in words ([`METHOD`]).
    pub method: String,
}

/// `a × b / c` rounded half up, in 128 bits (no overflow for any i64 inputs
/// whose result fits), saturating to i64.
fn mul_div_round(a: i64, b: i64, c: i64) -> i64 {
    if c == 0 {
        return 0;
    }
    let (n, d) = (a as i128 * b as i128, c as i128);
    let q = if (n >= 0) == (d > 0) { (n.abs() + d.abs() / 2) / d.abs() } else { -((n.abs() + d.abs() / 2) / d.abs()) };
    q.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// The projection at `now_ms` for a month ending at `month_end_ms`, from the
/// spend so far this month and the spend over the [`RATE_WINDOW_MS`] before
/// `now_ms`: `month_to_date + last_7_days × time_left / 7 days`, rounded to
/// the nano-dollar. After the month's end nothing is added.
pub fn project_month_end(month_to_date: NanoUsd, last_7_days: NanoUsd, now_ms: i64, month_end_ms: i64) -> Projection {
    let left = (month_end_ms - now_ms).max(0);
    let added = mul_div_round(last_7_days.nanos(), left, RATE_WINDOW_MS);
    Projection {
        month_to_date,
        daily_average: NanoUsd::from_nanos(mul_div_round(last_7_days.nanos(), 1, 7)),
        projected: NanoUsd::from_nanos(month_to_date.nanos().saturating_add(added)),
        method: METHOD.to_string(),
    }
}

/// The previous period of equal length before `[from_ms, to_ms)`.
pub fn previous_period(from_ms: i64, to_ms: i64) -> (i64, i64) {
    (from_ms - (to_ms - from_ms), from_ms)
}

/// A card's change against the previous period, as a person reads it:
/// `+12.5%`, `−3.0%`, `no change`, `new` (nothing before, something now) or
/// `—` (nothing in either). Tenths of a percent, rounded half away from zero.
pub fn change_text(current: i64, previous: i64) -> String {
    if previous == 0 {
        return if current == 0 { "—".into() } else { "new".into() };
    }
    let per_mille = mul_div_round(current.saturating_sub(previous), 1000, previous.abs());
    if per_mille == 0 {
        return "no change".into();
    }
    let sign = if per_mille > 0 { "+" } else { "−" };
    let a = per_mille.unsigned_abs();
    format!("{sign}{}.{}%", a / 10, a % 10)
}

#[cfg(feature = "ssr")]
pub use read::month_end;

#[cfg(feature = "ssr")]
mod read {
    use std::str::FromStr;

    use super::*;
    use crate::db::Db;
    use crate::metering::usage::{self, month_start_ms, UsageQuery};
    use crate::Result;

    /// The month-end projection of `org_id` (zone `time_zone`) at `now`:
    /// this month's spend and the last 7 days' from the rollups, at once.
    pub async fn month_end(db: &Db, org_id: &str, time_zone: &str, now: i64) -> Result<Projection> {
        // Rollup buckets are hourly; an hour past "now" covers the current one.
        let cost = |from_ms: i64| {
            let q = UsageQuery { from_ms, to_ms: now + 3_600_000, ..Default::default() };
            async move { Ok::<i64, crate::Error>(usage::report(db, org_id, time_zone, &q).await?.rows.first().map_or(0, |r| r.cost_nanos)) }
        };
        let (month, week) = tokio::try_join!(cost(month_start_ms(time_zone, now)), cost(now - RATE_WINDOW_MS))?;
        let tz = chrono_tz::Tz::from_str(time_zone).unwrap_or(chrono_tz::UTC);
        let end = crate::calendar::window(tz, crate::plans::Period::Month, now).end_ms;
        Ok(project_month_end(NanoUsd::from_nanos(month), NanoUsd::from_nanos(week), now, end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;
    fn usd(n: i64) -> NanoUsd {
        NanoUsd::from_nanos(n * 1_000_000_000)
    }

    #[test]
    fn the_projection_adds_the_last_weeks_daily_rate_for_the_time_left() {
        // $70 over the last 7 days is $10 a day; 10 days left; $100 so far.
        let p = project_month_end(usd(100), usd(70), 0, 10 * DAY);
        assert_eq!(p.daily_average, usd(10));
        assert_eq!(p.projected, usd(200));
        assert_eq!(p.method, METHOD);
        // Half a day left: $5 more.
        assert_eq!(project_month_end(usd(100), usd(70), 0, DAY / 2).projected, usd(105));
        // The month is over: nothing added; no usage: nothing projected.
        assert_eq!(project_month_end(usd(100), usd(70), 5, 0).projected, usd(100));
        assert_eq!(project_month_end(NanoUsd::ZERO, NanoUsd::ZERO, 0, 30 * DAY).projected, NanoUsd::ZERO);
    }

    #[test]
    fn the_projection_is_exact_to_the_nano_dollar_and_rounds_half_up() {
        // 1 nano-dollar over 7 days, 3.5 days left: 0.5 → 1.
        assert_eq!(project_month_end(NanoUsd::ZERO, NanoUsd::from_nanos(1), 0, 7 * DAY / 2).projected.nanos(), 1);
        // 1 nano-dollar, 1 day left: 1/7 → 0.
        assert_eq!(project_month_end(NanoUsd::ZERO, NanoUsd::from_nanos(1), 0, DAY).projected.nanos(), 0);
        // Large amounts do not overflow: $900 million a week for 31 days.
        let big = project_month_end(NanoUsd::ZERO, usd(900_000_000), 0, 31 * DAY);
        assert_eq!(big.projected.nanos(), 3_985_714_285_714_285_714);
    }

    #[test]
    fn the_previous_period_has_the_same_length_and_ends_where_this_one_starts() {
        assert_eq!(previous_period(100, 160), (40, 100));
    }

    #[test]
    fn changes_read_as_signed_percentages_with_one_decimal() {
        assert_eq!(change_text(1125, 1000), "+12.5%");
        assert_eq!(change_text(970, 1000), "−3.0%");
        assert_eq!(change_text(1000, 1000), "no change");
        assert_eq!(change_text(5, 0), "new");
        assert_eq!(change_text(0, 0), "—");
        assert_eq!(change_text(0, 1000), "−100.0%");
        assert_eq!(change_text(3000, 1000), "+200.0%");
        // 1/3 more: 33.333…% → 33.3%; 2/3 more: 66.666…% → 66.7%.
        assert_eq!(change_text(4, 3), "+33.3%");
        assert_eq!(change_text(5, 3), "+66.7%");
        assert_eq!(change_text(i64::MAX, 1), format!("+{}.{}%", i64::MAX / 10, i64::MAX % 10));
    }
}
