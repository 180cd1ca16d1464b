//! How figures read on every page: money (exact nano-USD or decimal text,
//! rounded for display only), counts, ratios, times and dates. The same on
//! the server and in the browser, so hydration matches.

use tollbooth::billing::cents_to_usd;
use tollbooth::pricing::NanoUsd;

/// `0.004000000` → `$0.0040`: amounts under a dollar show 4 decimals, others
/// cents; rounded half up for display only (stored amounts stay exact). A
/// non-zero amount that 4 decimals would show as `$0.0000` shows its exact
/// digits instead (`0.000019100` → `$0.0000191`).
pub fn usd(decimal: &str) -> String {
    match tollbooth::pricing::NanoUsd::parse_usd(decimal) {
        Ok(n) if n.nanos() != 0 && n.nanos().abs() < 50_000 => {
            let exact = usd_places(decimal, Some(9));
            exact.trim_end_matches('0').to_string()
        }
        _ => usd_places(decimal, None),
    }
}

/// An exact USD decimal rounded for people by the core's rule
/// ([`NanoUsd::for_people`]: cents, or 4 significant digits below a cent);
/// pages put the exact figure in a `title` beside it.
pub fn usd_for_people(decimal: &str) -> String {
    match NanoUsd::parse_usd(decimal) {
        Ok(n) => n.for_people(),
        Err(_) => format!("${decimal}"),
    }
}

/// A price per unit (e.g. per 1,000 tokens): 6 decimals under a dollar, or
/// all nine when that would show zero.
pub fn usd_rate(decimal: &str) -> String {
    let places = match tollbooth::pricing::NanoUsd::parse_usd(decimal) {
        Ok(n) if n.nanos() != 0 && n.nanos().abs() < 500 => 9,
        Ok(n) if n.nanos().abs() < 1_000_000_000 => 6,
        _ => 2,
    };
    usd_places(decimal, Some(places))
}

fn usd_places(decimal: &str, places: Option<u32>) -> String {
    let Ok(n) = tollbooth::pricing::NanoUsd::parse_usd(decimal) else { return format!("${decimal}") };
    let nanos = n.nanos();
    let places: u32 = places.unwrap_or(if nanos.abs() >= 1_000_000_000 { 2 } else { 4 });
    let unit = 10i64.pow(9 - places);
    let rounded = (nanos.abs() + unit / 2) / unit;
    let scale = 10i64.pow(places);
    let sign = if nanos < 0 { "-" } else { "" };
    format!("{sign}${}.{:0width$}", rounded / scale, rounded % scale, width = places as usize)
}

/// Thousands separators for counts (the core's rule, shared with plan limits).
pub fn count(n: i64) -> String {
    tollbooth::plans::group_thousands(n)
}

/// `part / whole` as a percentage with one decimal (`–` when `whole` is 0).
/// Display only: ratios of counts, never money.
pub fn percent(part: i64, whole: i64) -> String {
    if whole == 0 {
        return "–".into();
    }
    format!("{:.1}%", part as f64 * 100.0 / whole as f64)
}

/// The error rate text (`"0.2500"`) as a percentage.
pub fn rate_percent(rate: &str) -> String {
    format!("{:.2}%", rate.parse::<f64>().unwrap_or(0.0) * 100.0)
}

/// [`usd`] of an exact amount.
pub fn usd_of(amount: NanoUsd) -> String {
    usd(&amount.to_usd_string())
}

/// Formats UTC milliseconds as `YYYY-MM-DD HH:MM UTC`, identically on server and browser.
pub fn format_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm), proleptic Gregorian calendar.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02} UTC", rem / 3600, (rem % 3600) / 60)
}

/// An RFC 3339 time as the core gives it (`2026-12-01T00:00:00+01:00`),
/// written for people: `2026-12-01 00:00 +01:00`, or `… UTC` at offset zero.
/// Anything else is shown unchanged.
pub fn readable_time(rfc3339: &str) -> String {
    let s = rfc3339.trim();
    let b = s.as_bytes();
    if s.len() < 19 || b[10] != b'T' || !s.is_char_boundary(16) || !s.is_char_boundary(19) {
        return s.to_string();
    }
    // Skip fractional seconds, if any, to reach the offset.
    let rest = s[19..].trim_start_matches(|c: char| c == '.' || c.is_ascii_digit());
    let zone = match rest {
        "Z" | "+00:00" | "" => "UTC",
        z => z,
    };
    format!("{} {} {zone}", &s[..10], &s[11..16])
}

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// The (year, month, day) of a local date or RFC 3339 time.
fn ymd(local: &str) -> Option<(&str, usize, u32)> {
    let parts: Vec<&str> = local.get(..10)?.split('-').collect();
    match parts.as_slice() {
        [y, m, d] => match (m.parse::<usize>(), d.parse::<u32>()) {
            (Ok(m @ 1..=12), Ok(d)) => Some((y, m, d)),
            _ => None,
        },
        _ => None,
    }
}

/// `2026-12-01T00:00:00+01:00` → `1 Dec 2026` (the date as the organization
/// reads it; anything else unchanged).
pub fn date_label(local: &str) -> String {
    ymd(local).map(|(y, m, d)| format!("{d} {} {y}", MONTHS[m - 1])).unwrap_or_else(|| local.to_string())
}

/// `2026-12-01T00:00:00+01:00` → `1 Dec`.
pub fn day_month(local: &str) -> String {
    ymd(local).map(|(_, m, d)| format!("{d} {}", MONTHS[m - 1])).unwrap_or_else(|| local.to_string())
}

/// Cents as `$12.30`, `-$4.50`.
pub fn usd_cents(cents: i64) -> String {
    let text = cents_to_usd(cents);
    match text.strip_prefix('-') {
        Some(abs) => format!("-${abs}"),
        None => format!("${text}"),
    }
}

/// Nano-USD as `$10.00`, `-$0.000002` (exact).
pub fn usd_nanos(nanos: i64) -> String {
    let text = NanoUsd::from_nanos(nanos).to_short_usd_string();
    match text.strip_prefix('-') {
        Some(abs) => format!("-${abs}"),
        None => format!("${text}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiny_amounts_never_read_as_zero() {
        assert_eq!(usd("0.000019100"), "$0.0000191");
        assert_eq!(usd("0.004000000"), "$0.0040");
        assert_eq!(usd("0.000000000"), "$0.0000");
        assert_eq!(usd("12.345000000"), "$12.35");
    }

    #[test]
    fn money_and_counts_read_well() {
        assert_eq!(usd("0.004000000"), "$0.0040");
        assert_eq!(usd("12.345678901"), "$12.35");
        assert_eq!(usd("0.036290000"), "$0.0363");
        assert_eq!(usd("0.000690000"), "$0.0007");
        assert_eq!(usd("0.999990000"), "$1.0000");
        assert_eq!(usd("0.000000000"), "$0.0000");
        assert_eq!(count(1234567), "1,234,567");
        assert_eq!(count(12), "12");
    }

    #[test]
    fn savings_read_in_cents_or_four_significant_digits() {
        assert_eq!(usd_for_people("10.082816585"), "$10.08");
        assert_eq!(usd_for_people("0.0032"), "$0.0032");
        assert_eq!(usd_for_people("junk"), "$junk");
    }

    #[test]
    fn rates_per_thousand_tokens_keep_their_digits() {
        assert_eq!(usd_rate("0.003333333"), "$0.003333");
        assert_eq!(usd_rate("0.000020000"), "$0.000020");
        assert_eq!(usd_rate("0.000000020"), "$0.000000020");
        assert_eq!(usd_rate("1.500000000"), "$1.50");
        assert_eq!(percent(400, 1000), "40.0%");
        assert_eq!(percent(1, 0), "–");
    }

    #[test]
    fn formats_epoch_and_a_leap_day() {
        assert_eq!(format_time(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_time(1_709_210_096_000), "2024-02-29 12:34 UTC");
    }

    #[test]
    fn times_read_as_date_minutes_and_zone() {
        assert_eq!(readable_time("2026-12-01T00:00:00+01:00"), "2026-12-01 00:00 +01:00");
        assert_eq!(readable_time("2026-11-23T19:43:09Z"), "2026-11-23 19:43 UTC");
        assert_eq!(readable_time("2026-11-23T19:43:09.123+00:00"), "2026-11-23 19:43 UTC");
        assert_eq!(readable_time("yesterday"), "yesterday");
    }

    #[test]
    fn dates_read_as_the_organization_writes_them() {
        assert_eq!(date_label("2026-12-01T00:00:00+01:00"), "1 Dec 2026");
        assert_eq!(day_month("2026-12-01T00:00:00+01:00"), "1 Dec");
        assert_eq!(date_label("soon"), "soon");
        assert_eq!(day_month("2026-13-01"), "2026-13-01");
    }

    #[test]
    fn money_has_its_sign_before_the_dollar() {
        assert_eq!(usd_cents(1230), "$12.30");
        assert_eq!(usd_cents(-450), "-$4.50");
        assert_eq!(usd_cents(0), "$0.00");
        assert_eq!(usd_nanos(10_000_000_000), "$10.00");
        assert_eq!(usd_nanos(-2_000), "-$0.000002");
        assert_eq!(usd_nanos(958_680_000), "$0.95868");
        assert_eq!(usd_nanos(25_000_000_000), "$25.00");
        assert_eq!(usd_nanos(-3_500_000_000), "-$3.50");
    }
}
