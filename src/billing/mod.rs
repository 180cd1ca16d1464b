//! Billing: the money rules of invoices, proration, overage and prepaid
//! credits. Pure functions with their tests beside them; storage and Stripe
//! come on top of them.
//!
//! Amounts are computed exactly in nano-USD and rounded once, to the cent,
//! per invoice line: a usage line is summed units × unit price, rounded
//! once, never a sum of rounded event costs. Rounding is half to even, as
//! for event costs (see [`crate::pricing::NanoUsd::from_decimal_usd`]), so
//! it has no upward bias. An invoice's total is the sum of its lines, by
//! construction.

use serde::{Deserialize, Serialize};

use crate::Error;

#[cfg(feature = "ssr")] pub mod stripe;

/// Nano-USD in one cent.
pub const NANOS_PER_CENT: i128 = 10_000_000;

/// Rounds an exact nano-USD amount to whole cents, half to even.
pub fn round_to_cents(nanos: i128) -> i64 {
    round_ratio(nanos, NANOS_PER_CENT)
}

/// `num / den` (den > 0) rounded to the nearest integer, half to even.
fn round_ratio(num: i128, den: i128) -> i64 {
    let q = num.div_euclid(den);
    let r = num.rem_euclid(den);
    let up = match (r * 2).cmp(&den) {
        std::cmp::Ordering::Less => false,
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Equal => q % 2 != 0,
    };
    (q + i128::from(up)) as i64
}

/// Cents as a USD string with two decimals ("-12.30").
pub fn cents_to_usd(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// What an invoice line is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    /// The plan's fee for the period.
    Base,
    /// Credit for the unused part of the old plan after a mid-period upgrade.
    ProrationCredit,
    /// The new plan's fee for the rest of the period after an upgrade.
    ProrationCharge,
    /// Usage beyond a soft limit, at the plan's overage price.
    Overage,
    /// Prepaid credits drawn to pay the invoice (negative).
    CreditsApplied,
}

/// One line of an invoice, in cents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    pub kind: LineKind,
    pub description: String,
    pub amount_cents: i64,
}

/// An upgrade in the middle of a period: the unused time of the old plan is
/// credited and the new plan is charged for the rest of the period, each at
/// the exact fraction of the period left (milliseconds), each rounded once.
/// Downgrades are not prorated: they take effect when the period ends.
pub fn proration(old_fee_nanos: i64, new_fee_nanos: i64, period_start: i64, period_end: i64, at: i64) -> Result<[Line; 2], Error> {
    if period_end <= period_start {
        return Err(Error::invalid("period", "must end after it starts"));
    }
    if !(period_start..period_end).contains(&at) {
        return Err(Error::invalid("at", "the change must fall inside the billing period"));
    }
    if new_fee_nanos < old_fee_nanos {
        return Err(Error::invalid("plan", "a downgrade takes effect at the end of the period, without proration"));
    }
    let left = i128::from(period_end - at);
    let length = i128::from(period_end - period_start);
    // fee × left / length is a rational number of nano-USD: rounded to the
    // cent exactly, in one step.
    let part = |fee: i64| round_ratio(i128::from(fee) * left, length * NANOS_PER_CENT);
    Ok([
        Line { kind: LineKind::ProrationCredit, description: "Unused time on the previous plan".into(), amount_cents: -part(old_fee_nanos) },
        Line { kind: LineKind::ProrationCharge, description: "Remaining time on the new plan".into(), amount_cents: part(new_fee_nanos) },
    ])
}

/// The overage line of a soft limit: units used beyond the included amount
/// at the plan's price per unit (nano-USD), summed then rounded once.
/// `None` when nothing is over.
pub fn overage(metric_label: &str, used: i64, included: i64, unit_price_nanos: i64) -> Option<Line> {
    let over = used.saturating_sub(included);
    if over <= 0 || unit_price_nanos <= 0 {
        return None;
    }
    let cents = round_to_cents(i128::from(over) * i128::from(unit_price_nanos));
    Some(Line {
        kind: LineKind::Overage,
        description: format!("{metric_label}: {over} beyond the {included} included"),
        amount_cents: cents,
    })
}

/// A closed invoice: its lines and their sum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice {
    pub lines: Vec<Line>,
    pub total_cents: i64,
}

/// Closes an invoice from its charge lines, drawing prepaid credits (cents
/// available above the floor) to pay what it can. Credits never make the
/// total negative and never draw more than is available. Returns the invoice
/// and the cents drawn.
pub fn close_invoice(charges: Vec<Line>, credits_available_cents: i64) -> (Invoice, i64) {
    let subtotal: i64 = charges.iter().map(|l| l.amount_cents).sum();
    let drawn = subtotal.min(credits_available_cents).max(0);
    let mut lines = charges;
    if drawn > 0 {
        lines.push(Line { kind: LineKind::CreditsApplied, description: "Prepaid credits applied".into(), amount_cents: -drawn });
    }
    let total_cents = lines.iter().map(|l| l.amount_cents).sum();
    (Invoice { lines, total_cents }, drawn)
}

/// How much of `amount` (nano-USD) prepaid credits can pay from `balance`
/// without going below `floor`.
pub fn drawable(balance: i64, floor: i64, amount: i64) -> i64 {
    amount.min(balance.saturating_sub(floor)).max(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DAY: i64 = 86_400_000;
    const USD: i64 = 1_000_000_000;

    #[test]
    fn cents_round_half_to_even_once() {
        assert_eq!(round_to_cents(5_000_000), 0, "half a cent rounds to the even 0");
        assert_eq!(round_to_cents(15_000_000), 2, "1.5 cents rounds to 2");
        assert_eq!(round_to_cents(14_999_999), 1);
        assert_eq!(round_to_cents(-15_000_000), -2);
        assert_eq!(cents_to_usd(-1230), "-12.30");
        assert_eq!(cents_to_usd(5), "0.05");
    }

    #[test]
    fn an_upgrade_halfway_credits_half_the_old_fee_and_charges_half_the_new() {
        // Starter-like $29 → $99 on day 15 of a 30-day period.
        let [credit, charge] = proration(29 * USD, 99 * USD, 0, 30 * DAY, 15 * DAY).unwrap();
        assert_eq!((credit.amount_cents, charge.amount_cents), (-1450, 4950));
        // A third of a period left of $29: 966.666… cents → 967.
        let [credit, _] = proration(29 * USD, 99 * USD, 0, 30 * DAY, 20 * DAY).unwrap();
        assert_eq!(credit.amount_cents, -967);
        assert_eq!(proration(99 * USD, 29 * USD, 0, 30 * DAY, DAY).unwrap_err().field(), Some("plan"));
        assert_eq!(proration(29 * USD, 99 * USD, 0, 30 * DAY, 30 * DAY).unwrap_err().field(), Some("at"));
    }

    #[test]
    fn overage_is_summed_units_times_price_rounded_once() {
        // $2 per 1M tokens = 2,000 nanos per token; 1,234,567 tokens over.
        let l = overage("Tokens", 11_234_567, 10_000_000, 2_000).unwrap();
        assert_eq!(l.amount_cents, 247, "$2.469134 → $2.47");
        assert!(overage("Tokens", 10, 10, 2_000).is_none());
        // 1,000 events of 1,499 tokens: rounding each event's $0.002998 to a
        // cent would bill $0; the summed line bills $3.00.
        assert_eq!(overage("Tokens", 1_499_000, 0, 2_000).unwrap().amount_cents, 300);
    }

    #[test]
    fn credits_pay_what_they_can_and_never_go_below_the_floor() {
        let base = Line { kind: LineKind::Base, description: "Pro".into(), amount_cents: 2900 };
        let (inv, drawn) = close_invoice(vec![base.clone()], 1000);
        assert_eq!((inv.total_cents, drawn), (1900, 1000));
        let (inv, drawn) = close_invoice(vec![base], 10_000);
        assert_eq!((inv.total_cents, drawn), (0, 2900));
        assert_eq!(drawable(10 * USD, 2 * USD, 9 * USD), 8 * USD);
        assert_eq!(drawable(USD, 2 * USD, USD), 0);
    }

    proptest! {
        #[test]
        fn an_invoice_total_is_the_sum_of_its_lines(
            amounts in proptest::collection::vec(-1_000_000i64..10_000_000, 0..12),
            credits in 0i64..20_000_000,
        ) {
            let lines: Vec<Line> = amounts.iter().map(|&a| Line { kind: LineKind::Base, description: String::new(), amount_cents: a }).collect();
            let subtotal: i64 = amounts.iter().sum();
            let (inv, drawn) = close_invoice(lines, credits);
            prop_assert_eq!(inv.total_cents, inv.lines.iter().map(|l| l.amount_cents).sum::<i64>());
            prop_assert!(drawn >= 0 && drawn <= credits);
            prop_assert_eq!(inv.total_cents, subtotal - drawn);
            if subtotal >= 0 { prop_assert!(inv.total_cents >= 0); }
        }

        #[test]
        fn proration_never_credits_more_than_the_fee_and_is_zero_for_the_same_plan(
            fee in 0i64..1_000 * USD, extra in 0i64..1_000 * USD,
            length in 1i64..(31 * DAY), at_frac in 0u32..1000,
        ) {
            let at = length * i64::from(at_frac) / 1000;
            let [credit, charge] = proration(fee, fee + extra, 0, length, at).unwrap();
            prop_assert!(-credit.amount_cents <= round_to_cents(i128::from(fee)));
            prop_assert!(charge.amount_cents >= -credit.amount_cents);
            let [c2, ch2] = proration(fee, fee, 0, length, at).unwrap();
            prop_assert_eq!(c2.amount_cents + ch2.amount_cents, 0);
        }
    }
}
