//! Report ranges as people pick them: "last 7 days", "this month" or two
//! calendar dates, always meant in the organization's time zone.
//!
//! A range is whole local days, `from` and `to` both included, so "last 7
//! days" is today and the six days before it and a custom range ending today
//! includes today's events. It becomes a half-open UTC window
//! `[midnight of from, midnight after to)` for the stores.


use chrono::{Datelike, Days, NaiveDate, TimeZone};

use crate::calendar::{start_of_day, zone};
use crate::{Error, Result};

/// The longest custom range: a little over a year of daily points.
pub const MAX_DAYS: i64 = 400;

/// How the range was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeKind {
    Last7,
    Last30,
    Last90,
    ThisMonth,
    Custom,
}

impl RangeKind {
    /// The preset's name in URLs (`7d`, `30d`, `90d`, `month`, `custom`).
    pub fn key(self) -> &'static str {
        match self {
            RangeKind::Last7 => "7d",
            RangeKind::Last30 => "30d",
            RangeKind::Last90 => "90d",
            RangeKind::ThisMonth => "month",
            RangeKind::Custom => "custom",
        }
    }
}

/// Whole local days `from..=to` in one time zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateRange {
    pub kind: RangeKind,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub tz: chrono_tz::Tz,
}

impl DateRange {
    /// Reads a range from URL query values. `from` and `to` (`YYYY-MM-DD`)
    /// make a custom range and win over `range`; `range` is one of `7d`,
    /// `30d`, `90d`, `month`; nothing at all means the last 30 days.
    /// "Today" is `now_ms` in `time_zone` (unknown zones read as UTC).
    pub fn parse(range: Option<&str>, from: Option<&str>, to: Option<&str>, time_zone: &str, now_ms: i64) -> Result<Self> {
        let tz = zone(time_zone);
        let today = tz
            .timestamp_millis_opt(now_ms)
            .single()
            .map(|t| t.date_naive())
            .ok_or_else(|| Error::invalid("now", "is out of range"))?;
        if let (Some(f), Some(t)) = (blank(from), blank(to)) {
            let from = parse_date("from", f)?;
            let to = parse_date("to", t)?;
            if to < from {
                return Err(Error::invalid("to", "must not be before from"));
            }
            if (to - from).num_days() >= MAX_DAYS {
                return Err(Error::invalid("to", format!("a range spans at most {MAX_DAYS} days")));
            }
            return Ok(DateRange { kind: RangeKind::Custom, from, to, tz });
        }
        let back = |days: u64| today.checked_sub_days(Days::new(days - 1)).unwrap_or(today);
        let (kind, from) = match blank(range).unwrap_or("30d") {
            "7d" => (RangeKind::Last7, back(7)),
            "30d" => (RangeKind::Last30, back(30)),
            "90d" => (RangeKind::Last90, back(90)),
            "month" => (RangeKind::ThisMonth, today.with_day0(0).unwrap_or(today)),
            other => return Err(Error::invalid("range", format!("{other:?} is not one of 7d, 30d, 90d, month"))),
        };
        Ok(DateRange { kind, from, to: today, tz })
    }

    /// Start of the window: local midnight of `from`, in UTC milliseconds.
    pub fn start_ms(&self) -> i64 {
        start_of_day(self.tz, self.from)
    }

    /// End of the window (exclusive): local midnight after `to`.
    pub fn end_ms(&self) -> i64 {
        start_of_day(self.tz, self.to.succ_opt().unwrap_or(self.to))
    }

    /// Every day of the range, in order.
    pub fn days(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.from.iter_days().take_while(move |d| *d <= self.to)
    }
}

fn blank(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

fn parse_date(field: &'static str, s: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| Error::invalid(field, "must be a date such as 2026-01-31"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::parse_rfc3339;

    fn now() -> i64 {
        // 2026-03-15 01:30 UTC: still March 14 in New York.
        parse_rfc3339("2026-03-15T01:30:00Z").unwrap()
    }

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn presets_end_today_in_the_organizations_time_zone() {
        let r = DateRange::parse(Some("7d"), None, None, "America/New_York", now()).unwrap();
        assert_eq!((r.kind, r.from, r.to), (RangeKind::Last7, d("2026-03-08"), d("2026-03-14")));
        assert_eq!(r.days().count(), 7);
        let r = DateRange::parse(Some("month"), None, None, "UTC", now()).unwrap();
        assert_eq!((r.from, r.to), (d("2026-03-01"), d("2026-03-15")));
        let r = DateRange::parse(None, None, None, "UTC", now()).unwrap();
        assert_eq!((r.kind, r.days().count()), (RangeKind::Last30, 30));
        assert_eq!(DateRange::parse(Some("90d"), None, None, "UTC", now()).unwrap().days().count(), 90);
    }

    #[test]
    fn the_window_runs_from_local_midnight_to_the_midnight_after_the_last_day() {
        let r = DateRange::parse(None, Some("2026-03-01"), Some("2026-03-14"), "America/New_York", now()).unwrap();
        assert_eq!(r.kind, RangeKind::Custom);
        assert_eq!(r.start_ms(), parse_rfc3339("2026-03-01T05:00:00Z").unwrap());
        // DST began on March 8: New York is UTC-4 by the end.
        assert_eq!(r.end_ms(), parse_rfc3339("2026-03-15T04:00:00Z").unwrap());
    }

    #[test]
    fn bad_custom_ranges_are_refused_with_the_field_named() {
        let err = |f, t| match DateRange::parse(None, Some(f), Some(t), "UTC", now()) {
            Err(Error::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(err("2026-03-10", "2026-03-09"), "to");
        assert_eq!(err("March 1", "2026-03-09"), "from");
        assert_eq!(err("2024-01-01", "2026-03-09"), "to");
        assert!(DateRange::parse(Some("1y"), None, None, "UTC", now()).is_err());
        // One of the two dates alone falls back to the preset.
        assert_eq!(DateRange::parse(Some("7d"), Some("2026-03-01"), Some(""), "UTC", now()).unwrap().kind, RangeKind::Last7);
    }
}
