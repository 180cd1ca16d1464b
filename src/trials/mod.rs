//! Trials: an organization on a paid plan (Pro, Team) without payment until
//! a date.
//!
//! - **Start.** A plan offers a self-serve trial of N days (the plan editor's
//!   "offers a trial of N days"; 0: none). An owner on a free plan starts it
//!   once per organization; a platform admin starts one of any paid plan and
//!   length for any organization on a free plan.
//! - **While trialing** the plan's limits apply, with one change: soft
//!   limits are hard ([`unbilled`]). Nobody has paid and no card is on file,
//!   so usage beyond what the plan includes is refused rather than billed.
//!   The billing period's invoice is the one of the plan paid for before
//!   the trial (Starter: nothing), so a trial never bills a base fee.
//! - **Extend** (platform admin, reason required) moves the end; **cancel**
//!   (owner or platform admin) ends it now and returns to the previous plan.
//! - **Convert.** Paying through Stripe Checkout during the trial ends it at
//!   once: the paid plan starts that moment, billed as any upgrade from the
//!   plan the organization was on before the trial (this period's rest on
//!   the invoice, the subscription from the next period). The unused trial
//!   days are not carried over, and nothing is charged twice: the trial
//!   itself was never billed.
//! - **Expiry** runs in the billing task: 3 days before the end the owners
//!   get a mail and the banner turns to a warning; at the end the
//!   organization returns to the plan it came from, with a mail and a
//!   notice on every page for a week. Members and projects beyond that
//!   plan's limits stay, and new ones are refused, as after any downgrade.
//!
//! A Stripe subscription in `trialing` status (an operator who configured
//! trials on Stripe's side) shows the same way, ending when its period does.

#[cfg(feature = "ssr")]
mod service;
#[cfg(feature = "ssr")]
pub(crate) mod store;

#[cfg(feature = "ssr")]
pub use service::*;

use serde::{Deserialize, Serialize};

use crate::plans::Limit;
use crate::Error;

/// One day in milliseconds.
pub const DAY_MS: i64 = 86_400_000;

/// How long before its end a trial warns (mail, warning banner).
pub const WARN_BEFORE_MS: i64 = 3 * DAY_MS;

/// How long after expiry every page still says the trial ended.
pub const EXPIRED_NOTICE_MS: i64 = 7 * DAY_MS;

/// The longest trial a platform admin may start or extend to, in days.
pub const MAX_DAYS: i64 = 365;

/// A trial as the API, the banner and the admin pages show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", schema(as = Trial))]
pub struct TrialView {
    /// `None` for a trial kept by Stripe (a `trialing` subscription).
    pub id: Option<String>,
    pub org_id: String,
    pub plan_code: String,
    pub plan_name: String,
    /// RFC 3339 UTC; unknown for a Stripe-side trial.
    pub started_at: Option<String>,
    pub ends_at: String,
    /// `active`, `converted`, `canceled` or `expired`.
    #[cfg_attr(feature = "ssr", schema(value_type = crate::openapi::TrialStatus))]
    pub status: String,
    /// `self_serve`, `admin` or `stripe`.
    #[cfg_attr(feature = "ssr", schema(value_type = crate::openapi::TrialSource))]
    pub source: String,
    /// Whole days left, rounded up (0 once ended).
    pub days_left: i64,
    /// The plan expiry or cancel returns to.
    pub previous_plan_code: String,
    /// The plan paid for, once converted.
    pub converted_plan: Option<String>,
    pub ended_at: Option<String>,
}

/// The self-serve trial an organization could start now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrialOffer {
    pub plan_code: String,
    pub plan_name: String,
    pub days: i64,
}

/// What every organization page says about a trial.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrialNotice {
    /// `active`, `ending` (3 days or less left) or `expired`.
    pub kind: String,
    pub plan_name: String,
    /// Where an expired trial returned the organization.
    pub now_on: String,
    /// RFC 3339 UTC.
    pub ends_at: String,
    pub days_left: i64,
}

/// An active trial ending soon, for the admin dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TrialEnding {
    pub org_id: String,
    pub org_name: String,
    pub plan_name: String,
    pub ends_at: String,
    pub days_left: i64,
}

/// Trials started, converted and expired in one calendar month (UTC).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TrialMonth {
    /// `2026-12`.
    pub month: String,
    pub started: i64,
    pub converted: i64,
    pub expired: i64,
    pub canceled: i64,
}

/// The admin dashboard's trial figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TrialStats {
    pub active: i64,
    pub ending_soon: Vec<TrialEnding>,
    /// Newest month first.
    pub months: Vec<TrialMonth>,
    /// Converted out of the trials that ended in these months, as "37.5%";
    /// `None` when none ended.
    pub conversion_rate: Option<String>,
}

/// A limit as a trial applies it: hard, with no overage price (nobody pays
/// during a trial, so beyond the included amount is refused, not billed).
pub fn unbilled(l: Limit) -> Limit {
    Limit { hard: true, overage_nanos: None, ..l }
}

/// Whole days from `now` to `ends_at`, rounded up; 0 once past.
pub fn days_left(now: i64, ends_at: i64) -> i64 {
    if ends_at <= now {
        0
    } else {
        (ends_at - now + DAY_MS - 1) / DAY_MS
    }
}

/// Reads a number of days (a trial's length or an extension): 1 to 365.
pub fn parse_days(field: &'static str, raw: &str) -> Result<i64, Error> {
    let t = raw.trim();
    match t.parse::<i64>() {
        Ok(d) if (1..=MAX_DAYS).contains(&d) => Ok(d),
        _ => Err(Error::invalid(field, format!("{t:?} is not a number of days from 1 to {MAX_DAYS}"))),
    }
}

/// Reads the reason an extension needs.
pub fn parse_reason(raw: &str) -> Result<String, Error> {
    let t = raw.trim();
    if t.is_empty() {
        return Err(Error::invalid("reason", "is required: say why the trial is extended"));
    }
    if t.chars().count() > 500 {
        return Err(Error::invalid("reason", "must be at most 500 characters"));
    }
    Ok(t.to_string())
}

/// `converted` out of `ended` as a percentage with one decimal ("37.5%"),
/// rounded half up in integers.
pub fn conversion_rate(converted: i64, ended: i64) -> Option<String> {
    if ended <= 0 {
        return None;
    }
    let tenths = (converted * 1000 * 2 + ended) / (ended * 2);
    Some(format!("{}.{}%", tenths / 10, tenths % 10))
}

/// What the banner says: "Pro trial: 9 days left", the warning in the last
/// three days, and the week after expiry.
pub fn notice_text(n: &TrialNotice) -> String {
    match n.kind.as_str() {
        "expired" => format!("Your {} trial has ended: this organization is on {} now.", n.plan_name, n.now_on),
        _ if n.days_left == 1 => format!("{} trial: 1 day left", n.plan_name),
        _ => format!("{} trial: {} days left", n.plan_name, n.days_left),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plans::{Metric, Period};

    #[test]
    fn days_left_round_up_and_stop_at_zero() {
        assert_eq!(days_left(0, 14 * DAY_MS), 14);
        assert_eq!(days_left(1, 14 * DAY_MS), 14);
        assert_eq!(days_left(DAY_MS + 1, 14 * DAY_MS), 13);
        assert_eq!(days_left(14 * DAY_MS - 1, 14 * DAY_MS), 1);
        assert_eq!(days_left(14 * DAY_MS, 14 * DAY_MS), 0);
        assert_eq!(days_left(20 * DAY_MS, 14 * DAY_MS), 0);
    }

    #[test]
    fn days_and_reasons_name_their_field() {
        assert_eq!(parse_days("days", " 14 ").unwrap(), 14);
        for bad in ["", "0", "-1", "366", "two", "1.5"] {
            assert_eq!(parse_days("days", bad).unwrap_err().field(), Some("days"), "{bad}");
        }
        assert_eq!(parse_reason("  customer asked ").unwrap(), "customer asked");
        assert_eq!(parse_reason("  ").unwrap_err().field(), Some("reason"));
        assert_eq!(parse_reason(&"x".repeat(501)).unwrap_err().field(), Some("reason"));
    }

    #[test]
    fn a_trial_refuses_what_it_would_otherwise_bill() {
        let soft = Limit { metric: Metric::Tokens, period: Period::Month, value: 1_000_000, hard: false, overage_nanos: Some(2000) };
        let l = unbilled(soft);
        assert!(l.hard);
        assert_eq!((l.value, l.overage_nanos), (1_000_000, None));
    }

    #[test]
    fn the_conversion_rate_is_exact_to_a_tenth() {
        assert_eq!(conversion_rate(0, 0), None);
        assert_eq!(conversion_rate(3, 8).as_deref(), Some("37.5%"));
        assert_eq!(conversion_rate(1, 3).as_deref(), Some("33.3%"));
        assert_eq!(conversion_rate(2, 3).as_deref(), Some("66.7%"));
        assert_eq!(conversion_rate(5, 5).as_deref(), Some("100.0%"));
    }

    #[test]
    fn the_banner_counts_days_then_says_it_ended() {
        let mut n = TrialNotice { kind: "active".into(), plan_name: "Pro".into(), now_on: "Starter".into(), ends_at: String::new(), days_left: 9 };
        assert_eq!(notice_text(&n), "Pro trial: 9 days left");
        n.days_left = 1;
        assert_eq!(notice_text(&n), "Pro trial: 1 day left");
        n.kind = "expired".into();
        assert_eq!(notice_text(&n), "Your Pro trial has ended: this organization is on Starter now.");
    }
}
