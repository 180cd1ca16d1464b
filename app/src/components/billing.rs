//! Billing in the organization shell (the dunning banner) and the small
//! formatting helpers the billing pages share. Amounts arrive as integer
//! cents or nano-USD and are written with the core's exact formatters.

use leptos::prelude::*;
use tollbooth::billing::cents_to_usd;
use tollbooth::pricing::NanoUsd;

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

/// The sentence of the dunning banner.
pub fn dunning_text(grace_until: &str) -> String {
    format!(
        "Payment failed. Update your payment method by {} or this organization moves to Starter.",
        date_label(grace_until)
    )
}

/// Shown on every organization page while a failed payment's grace period runs.
#[component]
pub fn DunningBanner(grace_until: Option<String>, billing_href: String) -> impl IntoView {
    grace_until.map(|until| {
        view! {
            <div class="budget-banner danger dunning-banner" role="alert" data-testid="dunning-banner">
                <span>{dunning_text(&until)}</span>
                <a href=billing_href class="button-link">"Go to billing"</a>
            </div>
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn the_dunning_banner_names_the_day() {
        assert_eq!(
            dunning_text("2026-11-30T14:00:00+01:00"),
            "Payment failed. Update your payment method by 30 Nov 2026 or this organization moves to Starter."
        );
    }
}
