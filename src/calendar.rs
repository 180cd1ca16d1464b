//! Calendar windows in an organization's time zone: a day starts at local
//! midnight, a month on the 1st at local midnight. Windows are half-open UTC
//! ranges `[start, end)`; `end` is when a limit resets.
//!
//! Where a time zone skips midnight (a DST change at 00:00, as in Chile or
//! Lebanon), the day starts at the first instant that exists locally.

use std::str::FromStr;

use chrono::{Datelike, Days, Months, NaiveDate, NaiveTime, TimeZone};
use chrono_tz::Tz;

use crate::plans::Period;

/// One window of a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start_ms: i64,
    pub end_ms: i64,
}

/// Reads an IANA zone name; unknown names are UTC (they are validated when saved).
pub fn zone(name: &str) -> Tz {
    Tz::from_str(name).unwrap_or(chrono_tz::UTC)
}

/// The UTC instant local `date` begins in `tz`.
pub fn start_of_day(tz: Tz, date: NaiveDate) -> i64 {
    // Midnight, or the first local minute after a gap.
    for minutes in (0..=180).step_by(15) {
        let t = NaiveTime::from_hms_opt(minutes / 60, minutes % 60, 0).expect("valid time");
        if let Some(dt) = tz.from_local_datetime(&date.and_time(t)).earliest() {
            return dt.timestamp_millis();
        }
    }
    // No zone has a gap this long; fall back to UTC midnight.
    date.and_time(NaiveTime::MIN).and_utc().timestamp_millis()
}

/// The local calendar date of `ms` in `tz`.
pub fn local_date(tz: Tz, ms: i64) -> NaiveDate {
    tz.timestamp_millis_opt(ms).single().map(|t| t.date_naive()).unwrap_or_else(|| {
        chrono::DateTime::from_timestamp_millis(ms).map(|t| t.date_naive()).unwrap_or_default()
    })
}

/// The window of `period` containing `ms`. `Total` has no window (it is the
/// whole time; `[i64::MIN, i64::MAX)`), `Minute` is the UTC minute.
pub fn window(tz: Tz, period: Period, ms: i64) -> Window {
    match period {
        Period::Minute => {
            let start = ms.div_euclid(60_000) * 60_000;
            Window { start_ms: start, end_ms: start + 60_000 }
        }
        Period::Day => {
            let d = local_date(tz, ms);
            let next = d.checked_add_days(Days::new(1)).unwrap_or(d);
            Window { start_ms: start_of_day(tz, d), end_ms: start_of_day(tz, next) }
        }
        Period::Month => {
            let d = local_date(tz, ms);
            let first = d.with_day(1).unwrap_or(d);
            let next = first.checked_add_months(Months::new(1)).unwrap_or(first);
            Window { start_ms: start_of_day(tz, first), end_ms: start_of_day(tz, next) }
        }
        Period::Total => Window { start_ms: i64::MIN, end_ms: i64::MAX },
    }
}

/// The start of the local day containing `ms` (the key of the day counters).
pub fn day_start(tz: Tz, ms: i64) -> i64 {
    start_of_day(tz, local_date(tz, ms))
}

/// `ms` as RFC 3339 in the zone, e.g. `2026-12-01T00:00:00+01:00`.
pub fn to_local_rfc3339(tz: Tz, ms: i64) -> String {
    tz.timestamp_millis_opt(ms)
        .single()
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| crate::clock::to_rfc3339(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(rfc: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(rfc).unwrap().timestamp_millis()
    }

    #[test]
    fn a_day_starts_at_local_midnight() {
        let tz = zone("Europe/Paris");
        // 23:30 local on Jan 31 is still Jan 31 in Paris although it is 22:30 UTC.
        let w = window(tz, Period::Day, ms("2026-01-31T22:30:00Z"));
        assert_eq!(w.start_ms, ms("2026-01-31T00:00:00+01:00"));
        assert_eq!(w.end_ms, ms("2026-02-01T00:00:00+01:00"));
        // 23:30 UTC is already Feb 1 in Paris.
        let w = window(tz, Period::Day, ms("2026-01-31T23:30:00Z"));
        assert_eq!(w.start_ms, ms("2026-02-01T00:00:00+01:00"));
    }

    #[test]
    fn a_month_starts_on_the_first_at_local_midnight_across_dst() {
        let tz = zone("America/New_York");
        let w = window(tz, Period::Month, ms("2026-03-31T12:00:00Z"));
        assert_eq!(w.start_ms, ms("2026-03-01T00:00:00-05:00"));
        // DST began on March 8: April starts at midnight EDT.
        assert_eq!(w.end_ms, ms("2026-04-01T00:00:00-04:00"));
        // 03:00 UTC on April 1 is still March 31 in New York.
        assert_eq!(window(tz, Period::Month, ms("2026-04-01T03:00:00Z")).start_ms, w.start_ms);
        // A 23-hour day.
        let d = window(tz, Period::Day, ms("2026-03-08T12:00:00Z"));
        assert_eq!(d.end_ms - d.start_ms, 23 * 3_600_000);
    }

    #[test]
    fn half_hour_zones_and_year_ends() {
        let tz = zone("Asia/Kolkata");
        let w = window(tz, Period::Month, ms("2026-12-31T18:29:59Z"));
        assert_eq!(w.start_ms, ms("2026-12-01T00:00:00+05:30"));
        assert_eq!(w.end_ms, ms("2027-01-01T00:00:00+05:30"));
        assert_eq!(window(tz, Period::Month, ms("2026-12-31T18:30:00Z")).start_ms, w.end_ms);
    }

    #[test]
    fn a_skipped_midnight_starts_the_day_at_the_first_local_instant() {
        // Chile moved clocks from 00:00 to 01:00 on 2026-09-06.
        let tz = zone("America/Santiago");
        let w = window(tz, Period::Day, ms("2026-09-06T12:00:00Z"));
        assert_eq!(w.start_ms, ms("2026-09-06T01:00:00-03:00"));
        assert_eq!(w.end_ms, ms("2026-09-07T00:00:00-03:00"));
    }

    #[test]
    fn minutes_and_totals() {
        let w = window(chrono_tz::UTC, Period::Minute, 61_500);
        assert_eq!((w.start_ms, w.end_ms), (60_000, 120_000));
        assert_eq!(window(chrono_tz::UTC, Period::Total, 5).end_ms, i64::MAX);
        assert_eq!(to_local_rfc3339(zone("Europe/Paris"), ms("2026-12-01T00:00:00+01:00")), "2026-12-01T00:00:00+01:00");
    }
}
