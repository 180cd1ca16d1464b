//! How figures read on every page: money (exact nano-USD or decimal text,
//! rounded for display only), counts, ratios, times and dates. The same on
//! the server and in the browser, so hydration matches.

use tollbooth::billing::cents_to_usd;
use tollbooth::pricing::NanoUsd;

/// Money shown to people, by the core's one rule ([`NanoUsd::for_people`]):
/// cents from half a cent up (`$10.08`), four significant digits below
/// (`$0.003214`, `$0.0000191`), so an amount never reads as `$0.00` when it
/// is not. Display only: the API keeps the exact figure, and pages put it in
/// a `title` ([`usd_exact_of`]) wherever the shown one is rounded.
pub fn usd_of(amount: NanoUsd) -> String {
    amount.for_people()
}

/// [`usd_of`] an exact USD decimal as the DTOs carry it (`"0.004000000"` →
/// `$0.004`); text that is not an amount is shown as it is, after a `$`.
pub fn usd(decimal: &str) -> String {
    match NanoUsd::parse_usd(decimal) {
        Ok(n) => usd_of(n),
        Err(_) => format!("${decimal}"),
    }
}

/// [`usd`] under the name the recommendations and the end users' pages
/// call it by: the same rule, not a second one.
pub fn usd_for_people(decimal: &str) -> String {
    usd(decimal)
}

/// The exact figure of a rounded amount, for a `title` tooltip
/// (`Exactly $10.082816585`); `None` when [`usd_of`] shows it exactly.
pub fn usd_exact_of(amount: NanoUsd) -> Option<String> {
    let exact = signed(&amount.to_short_usd_string());
    (exact != usd_of(amount)).then(|| format!("Exactly {exact}"))
}

/// [`usd_exact_of`] an exact USD decimal.
pub fn usd_exact(decimal: &str) -> Option<String> {
    NanoUsd::parse_usd(decimal).ok().and_then(usd_exact_of)
}

/// `12.30` → `$12.30`, `-4.50` → `-$4.50`.
fn signed(text: &str) -> String {
    match text.strip_prefix('-') {
        Some(abs) => format!("-${abs}"),
        None => format!("${text}"),
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

/// Cents as `$12.30`, `-$4.50` (whole cents: never rounded).
pub fn usd_cents(cents: i64) -> String {
    signed(&cents_to_usd(cents))
}

/// [`usd_of`] an amount in nano-USD (`958_680_000` → `$0.96`).
pub fn usd_nanos(nanos: i64) -> String {
    usd_of(NanoUsd::from_nanos(nanos))
}

/// [`usd_exact_of`] an amount in nano-USD.
pub fn usd_nanos_exact(nanos: i64) -> Option<String> {
    usd_exact_of(NanoUsd::from_nanos(nanos))
}

/// A unit price (a rate, not an amount: `$0.000002` per token) with all its
/// digits, as the price book has it: rates are not rounded for people.
pub fn usd_price(nanos: i64) -> String {
    signed(&NanoUsd::from_nanos(nanos).to_short_usd_string())
}

/// An amount as a plotting coordinate, rounded as [`usd_of`] shows it, so a
/// chart's tooltip reads like the page around it (display only).
pub fn plot_usd(amount: NanoUsd) -> f64 {
    usd_of(amount).replace('$', "").parse().unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiny_amounts_never_read_as_zero() {
        assert_eq!(usd("0.000019100"), "$0.0000191");
        assert_eq!(usd("0.000000001"), "$0.000000001");
        assert_eq!(usd("0.004000000"), "$0.004");
        assert_eq!(usd("0.000000000"), "$0.00");
    }

    #[test]
    fn money_reads_in_cents_or_four_significant_digits_below_a_cent() {
        assert_eq!(usd("12.345678901"), "$12.35");
        assert_eq!(usd("12.345000000"), "$12.35", "half a cent rounds up");
        assert_eq!(usd("0.036290000"), "$0.04");
        assert_eq!(usd("0.003214499"), "$0.003214");
        assert_eq!(usd("0.999990000"), "$1.00");
        assert_eq!(usd("10.082816585"), "$10.08");
        assert_eq!(usd("junk"), "$junk");
        assert_eq!(usd_of(NanoUsd::from_nanos(4_500_000)), "$0.0045");
        assert_eq!(usd_nanos(958_680_000), "$0.96");
        assert_eq!(count(1234567), "1,234,567");
        assert_eq!(count(12), "12");
    }

    #[test]
    fn a_rounded_amount_keeps_its_exact_figure_for_the_tooltip() {
        assert_eq!(usd_exact("10.082816585").as_deref(), Some("Exactly $10.082816585"));
        assert_eq!(usd_exact("0.003214499").as_deref(), Some("Exactly $0.003214499"));
        assert_eq!(usd_nanos_exact(-2_500_000_001).as_deref(), Some("Exactly -$2.500000001"));
        assert_eq!(usd_exact("12.50"), None, "shown exactly: no tooltip");
        assert_eq!(usd_exact("0.0045"), None);
        assert_eq!(usd_exact("0"), None);
        assert_eq!(usd_exact("junk"), None);
    }

    #[test]
    fn charts_plot_the_figure_people_read() {
        assert_eq!(plot_usd(NanoUsd::from_nanos(12_345_678_901)), 12.35);
        assert_eq!(plot_usd(NanoUsd::from_nanos(19_123)), 0.00001912);
        assert_eq!(plot_usd(NanoUsd::from_nanos(-50_000_000)), -0.05);
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
        assert_eq!(usd_nanos(25_000_000_000), "$25.00");
        assert_eq!(usd_nanos(-3_500_000_000), "-$3.50");
        assert_eq!(usd_price(2_000), "$0.000002", "unit prices keep their digits");
        assert_eq!(usd_price(958_680_000), "$0.95868");
    }
}
