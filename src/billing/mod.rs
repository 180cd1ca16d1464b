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
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", schema(as = InvoiceLineKind))]
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

impl LineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LineKind::Base => "base",
            LineKind::ProrationCredit => "proration_credit",
            LineKind::ProrationCharge => "proration_charge",
            LineKind::Overage => "overage",
            LineKind::CreditsApplied => "credits_applied",
        }
    }

    /// Reads a stored kind (the table's CHECK allows only these).
    pub fn parse(s: &str) -> Self {
        match s {
            "proration_credit" => LineKind::ProrationCredit,
            "proration_charge" => LineKind::ProrationCharge,
            "overage" => LineKind::Overage,
            "credits_applied" => LineKind::CreditsApplied,
            _ => LineKind::Base,
        }
    }
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

/// A line as stored and shown: the rule's [`Line`] plus what an overage line
/// counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", schema(as = InvoiceLine))]
pub struct InvoiceLineView {
    pub kind: LineKind,
    pub description: String,
    /// Overage: units beyond the included amount.
    pub quantity: Option<i64>,
    /// Overage: nano-USD per unit.
    pub unit_price_nanos: Option<i64>,
    pub amount_cents: i64,
}

/// An invoice of one billing period (or the preview of the current one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", schema(as = Invoice))]
pub struct InvoiceView {
    pub id: String,
    pub number: String,
    pub org_id: String,
    pub org_name: String,
    /// Local RFC 3339 in the organization's time zone.
    pub period_start: String,
    pub period_end: String,
    /// "November 2026".
    pub period_label: String,
    pub plan_code: String,
    pub plan_name: String,
    /// `draft` (the period is open; a preview) or `final`.
    #[cfg_attr(feature = "ssr", schema(value_type = crate::openapi::InvoiceStatus))]
    pub status: String,
    pub lines: Vec<InvoiceLineView>,
    pub total_cents: i64,
    pub closed_at: Option<String>,
    /// Whether its overage went to Stripe as invoice items.
    pub sent_to_stripe: bool,
}

/// A prepaid credit pack on sale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", schema(as = CreditPack))]
pub struct CreditPackView {
    pub code: String,
    pub name: String,
    pub price_cents: i64,
    pub bonus_percent: i64,
    /// Credit granted: the price plus the bonus, in nano-USD.
    pub credit_nanos: i64,
    pub valid_days: i64,
    pub stripe_price_id: Option<String>,
    pub active: bool,
    pub sort_order: i64,
}

/// What a platform admin submits for a credit pack.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditPackInput {
    pub code: String,
    pub name: String,
    /// USD, e.g. "50" or "50.00".
    pub price_usd: String,
    pub bonus_percent: String,
    pub valid_days: String,
    pub stripe_price_id: String,
    pub active: bool,
    pub sort_order: i64,
}

/// One entry of the credit ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", schema(as = CreditEntry))]
pub struct CreditEntryView {
    pub id: String,
    /// purchase, usage, adjustment or expiry.
    #[cfg_attr(feature = "ssr", schema(value_type = crate::openapi::CreditKind))]
    pub kind: String,
    pub amount_nanos: i64,
    pub description: String,
    pub created_at: String,
    pub expires_at: Option<String>,
}

/// Usage of a metric this period against what the plan includes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct IncludedUsage {
    pub metric: crate::plans::Metric,
    pub used: i64,
    pub included: i64,
    pub hard: bool,
    /// Nano-USD per unit beyond a soft limit.
    pub overage_nanos: Option<i64>,
}

/// The organization's Stripe subscription as last seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", schema(as = Subscription))]
pub struct SubscriptionView {
    pub status: String,
    pub cancel_at_period_end: bool,
    pub renews_at: Option<String>,
}

/// A plan the organization can move to, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PlanChoice {
    pub code: String,
    pub name: String,
    pub description: String,
    pub monthly_price_nanos: i64,
    pub price_label: String,
    /// current, upgrade or downgrade.
    #[cfg_attr(feature = "ssr", schema(value_type = crate::openapi::PlanChange))]
    pub change: String,
    /// Whether it can be bought here (a Stripe Price is set, or it is free).
    pub purchasable: bool,
}

/// Everything the billing page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct BillingOverview {
    pub org_id: String,
    pub plan_code: String,
    pub plan_name: String,
    pub plan_price_label: String,
    pub period_start: String,
    pub period_end: String,
    pub period_label: String,
    /// Stripe keys are configured.
    pub payments_configured: bool,
    /// The organization has a Stripe customer (Manage billing works).
    pub has_customer: bool,
    pub subscription: Option<SubscriptionView>,
    /// A downgrade waiting for the period's end: (plan code, plan name, when).
    #[cfg_attr(feature = "ssr", schema(value_type = Option<Vec<String>>))]
    pub pending_plan: Option<(String, String, String)>,
    /// Payment failed: when, and the end of the grace period.
    pub payment_failed_at: Option<String>,
    pub grace_until: Option<String>,
    pub usage: Vec<IncludedUsage>,
    /// The current period's invoice so far.
    pub preview: InvoiceView,
    pub invoices: Vec<InvoiceView>,
    pub credit_balance_nanos: i64,
    pub credit_floor_nanos: i64,
    pub credit_entries: Vec<CreditEntryView>,
    pub packs: Vec<CreditPackView>,
    pub plans: Vec<PlanChoice>,
}

/// What a plan change would do, shown before the user confirms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangePreview {
    pub from_code: String,
    pub from_name: String,
    pub to_code: String,
    pub to_name: String,
    /// upgrade (now, prorated) or downgrade (at the period's end).
    pub kind: String,
    /// Proration lines an upgrade adds to this period's invoice.
    pub lines: Vec<Line>,
    pub net_cents: i64,
    /// Local RFC 3339: now for an upgrade, the period's end for a downgrade.
    pub effective_at: String,
    /// Upgrading from a free plan goes through Stripe Checkout.
    pub via_checkout: bool,
}

impl CreditPackInput {
    /// The pack it describes, or the first problem.
    pub fn parse(&self) -> Result<CreditPackView, Error> {
        let code = crate::plans::PlanCode::parse(&self.code).map_err(|_| {
            Error::invalid("code", "must be 2 to 40 characters: lower-case letters, digits, - or _, starting with a letter")
        })?;
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 60 {
            return Err(Error::invalid("name", "is required, at most 60 characters"));
        }
        let price_nanos = crate::plans::Metric::CostUsd.parse_amount("price", &self.price_usd)?;
        if price_nanos <= 0 || price_nanos % NANOS_PER_CENT as i64 != 0 {
            return Err(Error::invalid("price", "must be a positive amount in whole cents, e.g. 50 or 49.99"));
        }
        let bonus_percent = parse_int("bonus_percent", &self.bonus_percent, 0, 100, "a whole percentage from 0 to 100")?;
        let valid_days = parse_int("valid_days", &self.valid_days, 1, 3650, "a whole number of days from 1 to 3650")?;
        let price_cents = price_nanos / NANOS_PER_CENT as i64;
        Ok(CreditPackView {
            code: code.as_str().to_string(),
            name: name.to_string(),
            price_cents,
            bonus_percent,
            credit_nanos: pack_credit_nanos(price_cents, bonus_percent),
            valid_days,
            stripe_price_id: crate::plans::parse_stripe_price(&self.stripe_price_id)?,
            active: self.active,
            sort_order: self.sort_order,
        })
    }
}

fn parse_int(field: &'static str, text: &str, min: i64, max: i64, what: &str) -> Result<i64, Error> {
    match text.trim().parse::<i64>() {
        Ok(v) if (min..=max).contains(&v) => Ok(v),
        _ => Err(Error::invalid(field, format!("must be {what}"))),
    }
}

/// Credit a pack grants: its price plus the bonus, exactly (cents × (100 +
/// bonus) / 100 is a whole number of nano-USD for any whole percentage).
pub fn pack_credit_nanos(price_cents: i64, bonus_percent: i64) -> i64 {
    price_cents * NANOS_PER_CENT as i64 * (100 + bonus_percent) / 100
}

/// What is left of a purchase when it expires. Drawdowns spend the oldest
/// credit first (FIFO), so the balance belongs to the newest purchases: the
/// part of the balance not covered by purchases made after this one (and
/// still live) is this purchase's remainder, at most its amount.
pub fn expiring_remainder(balance: i64, purchase: i64, newer_live_purchases: i64) -> i64 {
    balance.saturating_sub(newer_live_purchases).clamp(0, purchase.max(0))
}

/// Where Stripe's subscription status leaves the organization: on the
/// subscribed plan (active, trialing, past due during the grace period) or
/// back on the free plan (canceled, unpaid, incomplete_expired, …).
pub fn status_keeps_plan(status: &str) -> bool {
    matches!(status, "active" | "trialing" | "past_due")
}

#[cfg(feature = "ssr")]
pub mod credits;
#[cfg(feature = "ssr")]
pub mod events;
#[cfg(feature = "ssr")]
pub mod invoices;
#[cfg(feature = "ssr")]
pub mod service;
#[cfg(feature = "ssr")]
mod store;
#[cfg(feature = "ssr")]
pub mod stripe;

#[cfg(feature = "ssr")]
pub use service::{Billing, Settings};

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

    #[test]
    fn packs_grant_price_plus_bonus_exactly() {
        assert_eq!(pack_credit_nanos(1000, 0), 10 * USD);
        assert_eq!(pack_credit_nanos(5000, 5), 52 * USD + USD / 2);
        assert_eq!(pack_credit_nanos(20000, 10), 220 * USD);
        assert_eq!(pack_credit_nanos(999, 7), 10_689_300_000, "$9.99 + 7% = $10.6893");
        let input = CreditPackInput { code: "c-5".into(), name: "Five".into(), price_usd: "5".into(), bonus_percent: "0".into(), valid_days: "30".into(), ..Default::default() };
        assert_eq!(input.parse().unwrap().credit_nanos, 5 * USD);
        for (bad, field) in [
            (CreditPackInput { price_usd: "0".into(), ..input.clone() }, "price"),
            (CreditPackInput { price_usd: "1.001".into(), ..input.clone() }, "price"),
            (CreditPackInput { bonus_percent: "101".into(), ..input.clone() }, "bonus_percent"),
            (CreditPackInput { valid_days: "0".into(), ..input.clone() }, "valid_days"),
            (CreditPackInput { stripe_price_id: "prod_1".into(), ..input.clone() }, "stripe_price_id"),
        ] {
            assert_eq!(bad.parse().unwrap_err().field(), Some(field));
        }
    }

    #[test]
    fn an_expiring_purchase_keeps_what_newer_purchases_do_not_cover() {
        // $10 bought, then $50; $5 used (from the oldest): balance $55.
        assert_eq!(expiring_remainder(55 * USD, 10 * USD, 50 * USD), 5 * USD);
        // $12 used: the first purchase is spent; nothing of it expires.
        assert_eq!(expiring_remainder(48 * USD, 10 * USD, 50 * USD), 0);
        // No newer purchases: at most the purchase itself expires.
        assert_eq!(expiring_remainder(80 * USD, 10 * USD, 0), 10 * USD);
        assert_eq!(expiring_remainder(-5 * USD, 10 * USD, 0), 0);
    }

    #[test]
    fn canceled_and_unpaid_subscriptions_leave_the_plan() {
        for s in ["active", "trialing", "past_due"] {
            assert!(status_keeps_plan(s), "{s}");
        }
        for s in ["canceled", "unpaid", "incomplete", "incomplete_expired", "paused", ""] {
            assert!(!status_keeps_plan(s), "{s}");
        }
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
