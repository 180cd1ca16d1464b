//! Off-peak prices: DeepSeek's time-of-day discount (LiteLLM's
//! `off_peak_pricing`), decided by the event's timestamp.
//!
//! ```json
//! "off_peak_pricing": {
//!   "input_cost_per_token": 6.6e-07, "output_cost_per_token": 1.98e-06,
//!   "cache_read_input_token_cost": 2.2e-08,
//!   "weekday_timezone": "Asia/Shanghai",            // optional
//!   "windows": [
//!     {"hours_utc": ["00:00-01:00", "04:00-06:00", "10:00-00:00"], "weekdays": [1, 2, 3, 4, 5]},
//!     {"hours_utc": "00:00-00:00", "weekdays": [6, 7]}
//!   ]
//! }
//! ```
//!
//! The rule, written once here:
//! - a window is `start-end` in UTC hours and minutes, **start included, end
//!   excluded** (`04:00-06:00` holds 04:00:00.000 and 05:59:59.999, not
//!   06:00); an end of `00:00` is midnight at the end of the day, so
//!   `10:00-00:00` runs to the end of the day and `00:00-00:00` is the whole
//!   day; an end before its start wraps past midnight, the part after
//!   midnight belonging to the day the window started;
//! - `weekdays` are ISO (1 = Monday … 7 = Sunday), of the UTC date unless
//!   `weekday_timezone` names another zone (Tencent's DeepSeek: the weekday
//!   in Shanghai, the hours still UTC). Zones are fixed offsets without
//!   daylight saving (this module compiles for the browser, without a zone
//!   database); an unknown zone applies no discount and says so;
//! - off-peak prices replace the standard prices they name, for the whole
//!   event (the provider prices a call by when it was made).

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde_json::value::RawValue;

use super::money::parse_exact_decimal;

const DAY_MS: i64 = 86_400_000;
const MINUTE_MS: i64 = 60_000;

/// Zones a `weekday_timezone` may name, as fixed UTC offsets in minutes
/// (none of them observes daylight saving).
const ZONES: [(&str, i64); 8] = [
    ("UTC", 0),
    ("Etc/UTC", 0),
    ("Asia/Shanghai", 480),
    ("Asia/Hong_Kong", 480),
    ("Asia/Singapore", 480),
    ("Asia/Taipei", 480),
    ("Asia/Tokyo", 540),
    ("Asia/Seoul", 540),
];

/// One window: ISO weekdays and minute ranges of the UTC day.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Window {
    weekdays: Vec<i64>,
    /// `[start, end)` in minutes after UTC midnight; `end` may exceed 1440
    /// for a window that wraps past midnight.
    minutes: Vec<(i64, i64)>,
}

/// A model's off-peak prices and when they apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffPeak {
    /// Prices by LiteLLM name (`input_cost_per_token`, …).
    pub rates: BTreeMap<String, Decimal>,
    windows: Vec<Window>,
    /// The weekday's zone offset in minutes; `None`: a zone this module does not know.
    weekday_offset: Option<i64>,
    zone: Option<String>,
}

/// Whether off-peak prices apply at an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applies {
    Yes,
    No,
    /// The entry names a weekday zone this release cannot place.
    UnknownZone(String),
}

impl OffPeak {
    /// Reads the raw `off_peak_pricing` JSON kept in [`super::ModelPrice`];
    /// `None` when it holds no window or no price (nothing to apply).
    pub fn parse(json: &str) -> Option<OffPeak> {
        let fields: BTreeMap<String, &RawValue> = serde_json::from_str(json).ok()?;
        let mut rates = BTreeMap::new();
        let mut windows = Vec::new();
        let mut zone = None;
        for (key, value) in &fields {
            match key.as_str() {
                "windows" => {
                    let list: Vec<&RawValue> = serde_json::from_str(value.get()).ok()?;
                    for w in list {
                        windows.push(parse_window(w)?);
                    }
                }
                "weekday_timezone" => zone = Some(serde_json::from_str::<String>(value.get()).ok()?),
                _ if key.contains("cost") => {
                    let rate = parse_exact_decimal(value.get().trim()).ok().filter(|d| !d.is_sign_negative())?;
                    rates.insert(key.clone(), rate);
                }
                _ => {}
            }
        }
        if windows.is_empty() || rates.is_empty() {
            return None;
        }
        let weekday_offset = match &zone {
            None => Some(0),
            Some(z) => ZONES.iter().find(|(name, _)| name == z).map(|(_, offset)| *offset),
        };
        Some(OffPeak { rates, windows, weekday_offset, zone })
    }

    /// Whether the off-peak prices apply to a call made at `at_ms` (UTC ms).
    pub fn applies_at(&self, at_ms: i64) -> Applies {
        let Some(offset) = self.weekday_offset else {
            return Applies::UnknownZone(self.zone.clone().unwrap_or_default());
        };
        let minute_of_day = at_ms.rem_euclid(DAY_MS) / MINUTE_MS;
        let weekday = |day_shift: i64| iso_weekday(at_ms + offset * MINUTE_MS - day_shift * DAY_MS);
        let inside = self.windows.iter().any(|w| {
            w.minutes.iter().any(|&(start, end)| {
                // Today's part of the window, or the wrapped part of yesterday's.
                (start <= minute_of_day && minute_of_day < end && w.weekdays.contains(&weekday(0)))
                    || (end > 1440 && minute_of_day < end - 1440 && w.weekdays.contains(&weekday(1)))
            })
        });
        if inside {
            Applies::Yes
        } else {
            Applies::No
        }
    }
}

/// ISO weekday (1 = Monday … 7 = Sunday) of the UTC date of `ms`
/// (1970-01-01 was a Thursday).
pub fn iso_weekday(ms: i64) -> i64 {
    (ms.div_euclid(DAY_MS) + 3).rem_euclid(7) + 1
}

fn parse_window(raw: &RawValue) -> Option<Window> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Hours {
        One(String),
        Many(Vec<String>),
    }
    #[derive(serde::Deserialize)]
    struct Wire {
        hours_utc: Hours,
        weekdays: Vec<i64>,
    }
    let w: Wire = serde_json::from_str(raw.get()).ok()?;
    let hours = match w.hours_utc {
        Hours::One(h) => vec![h],
        Hours::Many(h) => h,
    };
    if w.weekdays.iter().any(|d| !(1..=7).contains(d)) {
        return None;
    }
    let minutes = hours.iter().map(|h| parse_range(h)).collect::<Option<Vec<_>>>()?;
    Some(Window { weekdays: w.weekdays, minutes })
}

/// `"10:00-00:00"` → `(600, 1440)`; `"22:00-02:00"` → `(1320, 1560)`.
fn parse_range(text: &str) -> Option<(i64, i64)> {
    let (start, end) = text.split_once('-')?;
    let (start, end) = (parse_clock(start)?, parse_clock(end)?);
    Some(if end <= start { (start, end + 1440) } else { (start, end) })
}

fn parse_clock(text: &str) -> Option<i64> {
    let (h, m) = text.trim().split_once(':')?;
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    ((0..24).contains(&h) && (0..60).contains(&m)).then_some(h * 60 + m)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DeepSeek's windows as the shipped map has them.
    const DEEPSEEK: &str = r#"{"cache_read_input_token_cost": 2.2e-08, "input_cost_per_token": 6.6e-07,
        "output_cost_per_token": 1.98e-06, "windows": [
        {"hours_utc": ["00:00-01:00", "04:00-06:00", "10:00-00:00"], "weekdays": [1, 2, 3, 4, 5]},
        {"hours_utc": "00:00-00:00", "weekdays": [6, 7]}]}"#;

    /// 2026-12-07 is a Monday.
    const MONDAY: i64 = 1_796_601_600_000;

    fn at(day: i64, h: i64, m: i64, ms: i64) -> i64 {
        MONDAY + day * DAY_MS + h * 3_600_000 + m * MINUTE_MS + ms
    }

    fn off_peak(json: &str, t: i64) -> bool {
        OffPeak::parse(json).unwrap().applies_at(t) == Applies::Yes
    }

    #[test]
    fn iso_weekdays_from_the_epoch() {
        assert_eq!(iso_weekday(0), 4, "1970-01-01 was a Thursday");
        assert_eq!(iso_weekday(MONDAY), 1);
        assert_eq!(iso_weekday(at(5, 12, 0, 0)), 6);
        assert_eq!(iso_weekday(at(6, 23, 59, 59_999)), 7);
        assert_eq!(iso_weekday(at(7, 0, 0, 0)), 1);
        assert_eq!(iso_weekday(-1), 3, "the last ms of 1969-12-31, a Wednesday");
    }

    #[test]
    fn the_prices_are_read_exactly() {
        let o = OffPeak::parse(DEEPSEEK).unwrap();
        assert_eq!(o.rates["input_cost_per_token"].to_string(), "0.00000066");
        assert_eq!(o.rates.len(), 3);
    }

    #[test]
    fn weekday_windows_start_included_end_excluded() {
        // 00:00-01:00 on a Monday.
        assert!(off_peak(DEEPSEEK, at(0, 0, 0, 0)));
        assert!(off_peak(DEEPSEEK, at(0, 0, 59, 59_999)));
        assert!(!off_peak(DEEPSEEK, at(0, 1, 0, 0)));
        // 04:00-06:00.
        assert!(!off_peak(DEEPSEEK, at(0, 3, 59, 59_999)));
        assert!(off_peak(DEEPSEEK, at(0, 4, 0, 0)));
        assert!(off_peak(DEEPSEEK, at(0, 5, 59, 59_999)));
        assert!(!off_peak(DEEPSEEK, at(0, 6, 0, 0)));
        // 10:00-00:00 runs to the end of the day.
        assert!(!off_peak(DEEPSEEK, at(0, 9, 59, 59_999)));
        assert!(off_peak(DEEPSEEK, at(0, 10, 0, 0)));
        assert!(off_peak(DEEPSEEK, at(0, 23, 59, 59_999)));
        // Friday 23:59 is off-peak by the weekday rule, Saturday midnight by the weekend one.
        assert!(off_peak(DEEPSEEK, at(4, 23, 59, 59_999)));
        assert!(off_peak(DEEPSEEK, at(5, 0, 0, 0)));
    }

    #[test]
    fn the_weekend_is_off_peak_all_day_and_monday_is_not() {
        for h in 0..24 {
            assert!(off_peak(DEEPSEEK, at(5, h, 30, 0)), "Saturday {h}:30");
            assert!(off_peak(DEEPSEEK, at(6, h, 30, 0)), "Sunday {h}:30");
        }
        assert!(off_peak(DEEPSEEK, at(6, 23, 59, 59_999)));
        // Monday after the weekend: 00:00-01:00 again, then peak at 01:00.
        assert!(off_peak(DEEPSEEK, at(7, 0, 0, 0)));
        assert!(!off_peak(DEEPSEEK, at(7, 1, 0, 0)));
        // Peak hours on a weekday.
        assert!(!off_peak(DEEPSEEK, at(2, 2, 0, 0)));
        assert!(!off_peak(DEEPSEEK, at(2, 8, 0, 0)));
    }

    #[test]
    fn a_weekday_timezone_moves_the_weekday_not_the_hours() {
        let utc = r#"{"input_cost_per_token": 1e-07, "windows": [{"hours_utc": "20:00-21:00", "weekdays": [6]}]}"#;
        let shanghai = utc.replacen('{', r#"{"weekday_timezone": "Asia/Shanghai", "#, 1);
        // Friday 20:30 UTC is Saturday 04:30 in Shanghai.
        assert!(!off_peak(utc, at(4, 20, 30, 0)));
        assert!(off_peak(&shanghai, at(4, 20, 0, 0)));
        assert!(!off_peak(&shanghai, at(4, 21, 0, 0)), "the hours stay UTC");
        // Saturday 20:30 UTC is Sunday in Shanghai.
        assert!(off_peak(utc, at(5, 20, 30, 0)));
        assert!(!off_peak(&shanghai, at(5, 20, 30, 0)));
        // DeepSeek's own windows on Tencent: Sunday 16:00 UTC is Monday in Shanghai, inside 10:00-00:00.
        let tencent = DEEPSEEK.replacen('{', r#"{"weekday_timezone": "Asia/Shanghai", "#, 1);
        assert!(off_peak(&tencent, at(6, 16, 0, 0)));
        assert!(!off_peak(&tencent, at(7, 2, 0, 0)));
    }

    #[test]
    fn an_unknown_zone_applies_nothing_and_says_so() {
        let mars = DEEPSEEK.replacen('{', r#"{"weekday_timezone": "Mars/Olympus", "#, 1);
        assert_eq!(OffPeak::parse(&mars).unwrap().applies_at(at(5, 12, 0, 0)), Applies::UnknownZone("Mars/Olympus".into()));
    }

    #[test]
    fn a_window_that_wraps_past_midnight_belongs_to_its_first_day() {
        let night = r#"{"input_cost_per_token": 1e-07, "windows": [{"hours_utc": "22:00-02:00", "weekdays": [1]}]}"#;
        assert!(!off_peak(night, at(0, 21, 59, 59_999)));
        assert!(off_peak(night, at(0, 22, 0, 0)));
        assert!(off_peak(night, at(1, 1, 59, 59_999)), "Tuesday 01:59, the tail of Monday's window");
        assert!(!off_peak(night, at(1, 2, 0, 0)));
        assert!(!off_peak(night, at(0, 1, 0, 0)), "Monday 01:00 is the tail of Sunday's window, not listed");
    }

    #[test]
    fn malformed_windows_give_no_off_peak() {
        assert!(OffPeak::parse(r#"{"input_cost_per_token": 1e-07, "windows": []}"#).is_none());
        assert!(OffPeak::parse(r#"{"input_cost_per_token": 1e-07, "windows": [{"hours_utc": "25:00-26:00", "weekdays": [1]}]}"#).is_none());
        assert!(OffPeak::parse(r#"{"input_cost_per_token": 1e-07, "windows": [{"hours_utc": "01:00-02:00", "weekdays": [8]}]}"#).is_none());
        assert!(OffPeak::parse(r#"{"windows": [{"hours_utc": "01:00-02:00", "weekdays": [1]}]}"#).is_none());
    }
}
