//! The one rule of enforcement: given the limits in force, what is used and
//! what is reserved, may this amount go ahead? Pure, so it is tested here and
//! shared by both ledgers (in memory on SQLite, in the database on PostgreSQL).
//!
//! A hard limit allows an amount when `used + reserved + amount <= limit`,
//! and once it is reached (`used + reserved >= limit`) refuses even a zero
//! amount, until the window resets or the limit rises. A soft limit always
//! allows; what goes beyond it is overage, billed later. Rate limits (per
//! minute) are enforced by [`super::rate`], not here.

use chrono_tz::Tz;
use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use crate::calendar::{to_local_rfc3339, window};
use super::Units;
use crate::plans::{Metric, OrgPlan, Period};
use crate::pricing::NanoUsd;
use crate::Error;

/// Most items in one check or reservation.
pub const MAX_ITEMS: usize = 20;
/// Largest amount one request may ask of a metric: 10^15 units (tokens,
/// requests, …), or $1,000,000 of cost (10^15 nano-USD). Far beyond any real
/// call, and small enough that the running totals of every reservation an
/// hour could hold stay far from `i64::MAX`.
pub const MAX_ASK: i64 = 1_000_000_000_000_000;

/// One amount asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ask {
    pub metric: Metric,
    /// In the metric's unit (nano-USD for cost).
    pub amount: i64,
}

/// What is counted now for the organization.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub day: Units,
    pub month: Units,
    pub reserved: Units,
    /// Standing counts of the resource metrics named in the asks.
    pub resources: Vec<(Metric, i64)>,
}

impl Tally {
    fn used(&self, metric: Metric, period: Period) -> i64 {
        match (period, super::index(metric)) {
            (Period::Day, Some(i)) => self.day[i],
            (Period::Month, Some(i)) => self.month[i],
            (Period::Total, None) => self.resources.iter().find(|(m, _)| *m == metric).map_or(0, |(_, v)| *v),
            _ => 0,
        }
    }

    fn reserved(&self, metric: Metric) -> i64 {
        super::index(metric).map_or(0, |i| self.reserved[i])
    }
}

/// The answer for one metric over one window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitResult {
    pub metric: Metric,
    pub window: Period,
    /// `None`: unlimited.
    pub limit: Option<i64>,
    pub hard: bool,
    pub used: i64,
    pub reserved: i64,
    pub requested: i64,
    /// `None` when unlimited.
    pub remaining: Option<i64>,
    /// When the window resets (local RFC 3339); `None` for standing counts.
    pub reset_at: Option<String>,
    pub reset_at_ms: Option<i64>,
    pub allowed: bool,
}

impl LimitResult {
    /// A sentence naming the limit, its value, the use and the reset.
    pub fn explain(&self) -> String {
        let m = self.metric;
        let limit = self.limit.map_or("unlimited".to_string(), |l| m.format_amount(l));
        let per = self.window.per();
        let name = m.label();
        let mut s = if per.is_empty() {
            format!("{name} limit of {limit} reached: {} in use", m.format_amount(self.used))
        } else {
            format!(
                "{name} limit of {limit} {per} reached: {} used and {} reserved, {} requested",
                m.format_amount(self.used),
                m.format_amount(self.reserved),
                m.format_amount(self.requested)
            )
        };
        if let Some(r) = &self.reset_at {
            s.push_str(&format!("; resets at {r}"));
        }
        s
    }
}

/// Amounts go out as JSON numbers, except cost, which is an exact decimal
/// string of USD (no float ever holds money).
impl Serialize for LimitResult {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("LimitResult", 9)?;
        st.serialize_field("metric", &self.metric)?;
        st.serialize_field("window", &self.window)?;
        let amount = |v: i64| -> serde_json::Value {
            if self.metric == Metric::CostUsd {
                serde_json::Value::String(NanoUsd::from_nanos(v).to_short_usd_string())
            } else {
                serde_json::Value::from(v)
            }
        };
        st.serialize_field("limit", &self.limit.map(amount))?;
        st.serialize_field("hard", &self.hard)?;
        st.serialize_field("used", &amount(self.used))?;
        st.serialize_field("reserved", &amount(self.reserved))?;
        st.serialize_field("remaining", &self.remaining.map(amount))?;
        st.serialize_field("reset_at", &self.reset_at)?;
        st.serialize_field("allowed", &self.allowed)?;
        st.end()
    }
}

/// The answer to a check: allowed when every result is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub results: Vec<LimitResult>,
}

impl Decision {
    /// The first refused result.
    pub fn refused(&self) -> Option<&LimitResult> {
        self.results.iter().find(|r| !r.allowed)
    }

    /// Seconds until the first refused window resets (for `Retry-After`).
    pub fn retry_after_secs(&self, now_ms: i64) -> Option<u64> {
        let r = self.refused()?.reset_at_ms?;
        Some(((r - now_ms).max(0) as u64).div_ceil(1000).max(1))
    }
}

/// Sums repeated metrics and checks the amounts.
pub fn merge(asks: &[Ask]) -> Result<Vec<Ask>, Error> {
    if asks.is_empty() {
        return Err(Error::invalid("checks", "must name at least one metric"));
    }
    if asks.len() > MAX_ITEMS {
        return Err(Error::invalid("checks", format!("at most {MAX_ITEMS} items")));
    }
    let mut merged: Vec<Ask> = Vec::with_capacity(asks.len());
    for a in asks {
        if a.amount < 0 {
            return Err(Error::invalid("amount", format!("{} amount must not be negative", a.metric)));
        }
        match merged.iter_mut().find(|m| m.metric == a.metric) {
            Some(m) => {
                m.amount = m.amount.checked_add(a.amount).ok_or_else(|| Error::invalid("amount", "is too large"))?
            }
            None => merged.push(*a),
        }
    }
    if let Some(a) = merged.iter().find(|a| a.amount > MAX_ASK) {
        return Err(Error::invalid("amount", format!("{} amount is too large: at most {} per request", a.metric, a.metric.format_amount(MAX_ASK))));
    }
    merged.sort_by_key(|a| a.metric);
    Ok(merged)
}

/// Evaluates merged asks against the plan's limits at `now_ms`.
pub fn evaluate(plan: &OrgPlan, tz: Tz, now_ms: i64, tally: &Tally, asks: &[Ask]) -> Decision {
    let mut results = Vec::new();
    for ask in asks {
        let limits: Vec<_> = plan.limits_on(ask.metric).filter(|l| l.period != Period::Minute).collect();
        let reserved = tally.reserved(ask.metric);
        if limits.is_empty() {
            let period = if ask.metric.is_resource() { Period::Total } else { Period::Month };
            let reset = (period != Period::Total).then(|| window(tz, period, now_ms).end_ms);
            results.push(LimitResult {
                metric: ask.metric,
                window: period,
                limit: None,
                hard: false,
                used: tally.used(ask.metric, period),
                reserved,
                requested: ask.amount,
                remaining: None,
                reset_at: reset.map(|r| to_local_rfc3339(tz, r)),
                reset_at_ms: reset,
                allowed: true,
            });
            continue;
        }
        for limit in limits {
            let used = tally.used(ask.metric, limit.period);
            let held = used.saturating_add(reserved);
            let allowed = !limit.hard || (held.saturating_add(ask.amount) <= limit.value && (ask.amount > 0 || held < limit.value));
            let reset = (limit.period != Period::Total).then(|| window(tz, limit.period, now_ms).end_ms);
            results.push(LimitResult {
                metric: ask.metric,
                window: limit.period,
                limit: Some(limit.value),
                hard: limit.hard,
                used,
                reserved,
                requested: ask.amount,
                remaining: Some((limit.value - held).max(0)),
                reset_at: reset.map(|r| to_local_rfc3339(tz, r)),
                reset_at_ms: reset,
                allowed,
            });
        }
    }
    Decision { allowed: results.iter().all(|r| r.allowed), results }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ask_beyond_the_largest_is_refused_naming_amount() {
        let ask = |metric, amount| Ask { metric, amount };
        assert!(merge(&[ask(Metric::Tokens, MAX_ASK)]).is_ok());
        for asks in [vec![ask(Metric::Tokens, MAX_ASK + 1)], vec![ask(Metric::CostUsd, MAX_ASK), ask(Metric::CostUsd, 1)], vec![ask(Metric::Requests, i64::MAX - 1)]] {
            let e = merge(&asks).unwrap_err();
            assert_eq!(e.field(), Some("amount"), "{e:?}");
        }
    }
    use crate::plans::{Limit, OrgLimit};

    fn plan(limits: Vec<Limit>) -> OrgPlan {
        OrgPlan {
            org_id: "o".into(),
            plan_code: "starter".into(),
            plan_name: "Starter".into(),
            time_zone: "Europe/Paris".into(),
            limits: limits
                .into_iter()
                .map(|l| OrgLimit { metric: l.metric, period: l.period, plan: Some(l), overridden: None })
                .collect(),
        }
    }

    fn hard(metric: Metric, period: Period, value: i64) -> Limit {
        Limit { metric, period, value, hard: true, overage_nanos: None }
    }

    fn now() -> i64 {
        chrono::DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z").unwrap().timestamp_millis()
    }

    fn tally(month_tokens: i64, reserved_tokens: i64) -> Tally {
        let mut t = Tally::default();
        t.month[0] = month_tokens;
        t.day[0] = month_tokens;
        t.reserved[0] = reserved_tokens;
        t
    }

    #[test]
    fn a_hard_limit_counts_reserved_amounts_as_used() {
        let p = plan(vec![hard(Metric::Tokens, Period::Month, 100)]);
        let tz = chrono_tz::Europe::Paris;
        let ask = [Ask { metric: Metric::Tokens, amount: 10 }];
        let d = evaluate(&p, tz, now(), &tally(80, 10), &ask);
        assert!(d.allowed, "80 + 10 + 10 = 100 fits");
        assert_eq!(d.results[0].remaining, Some(10));
        assert_eq!(d.results[0].reset_at.as_deref(), Some("2026-12-01T00:00:00+01:00"));
        let d = evaluate(&p, tz, now(), &tally(80, 11), &ask);
        assert!(!d.allowed, "80 + 11 + 10 > 100");
        let why = d.refused().unwrap().explain();
        assert!(why.contains("limit of 100 per month reached: 80 used and 11 reserved, 10 requested"), "{why}");
        assert!(d.retry_after_secs(now()).unwrap() > 0);
    }

    #[test]
    fn a_reached_hard_limit_refuses_even_a_zero_amount() {
        let p = plan(vec![hard(Metric::Tokens, Period::Month, 100)]);
        let zero = [Ask { metric: Metric::Tokens, amount: 0 }];
        assert!(!evaluate(&p, chrono_tz::UTC, now(), &tally(100, 0), &zero).allowed);
        assert!(evaluate(&p, chrono_tz::UTC, now(), &tally(99, 0), &zero).allowed);
        // Usage recorded without a reservation may overshoot: remaining is 0, not negative.
        let over = evaluate(&p, chrono_tz::UTC, now(), &tally(130, 0), &zero);
        assert_eq!(over.results[0].remaining, Some(0));
    }

    #[test]
    fn soft_limits_allow_and_unlimited_metrics_report_their_use() {
        let soft = Limit { hard: false, overage_nanos: Some(2_000), ..hard(Metric::Tokens, Period::Month, 100) };
        let p = plan(vec![soft]);
        let ask = [Ask { metric: Metric::Tokens, amount: 500 }, Ask { metric: Metric::Images, amount: 2 }];
        let d = evaluate(&p, chrono_tz::UTC, now(), &tally(100, 0), &ask);
        assert!(d.allowed);
        assert_eq!(d.results.len(), 2);
        assert_eq!(d.results[1].limit, None);
        assert_eq!(d.results[1].remaining, None);
    }

    #[test]
    fn every_window_of_a_metric_is_checked() {
        let p = plan(vec![hard(Metric::Requests, Period::Day, 10), hard(Metric::Requests, Period::Month, 1000)]);
        let mut t = Tally::default();
        t.day[2] = 10;
        t.month[2] = 50;
        let d = evaluate(&p, chrono_tz::UTC, now(), &t, &[Ask { metric: Metric::Requests, amount: 1 }]);
        assert!(!d.allowed);
        assert_eq!(d.refused().unwrap().window, Period::Day);
        assert!(d.results.iter().any(|r| r.window == Period::Month && r.allowed));
    }

    #[test]
    fn cost_is_serialized_as_an_exact_decimal_string() {
        let p = plan(vec![hard(Metric::CostUsd, Period::Month, 5_000_000_000)]);
        let mut t = Tally::default();
        t.month[1] = 1_250_000_000;
        let d = evaluate(&p, chrono_tz::UTC, now(), &t, &[Ask { metric: Metric::CostUsd, amount: 1 }]);
        let json = serde_json::to_value(&d.results[0]).unwrap();
        assert_eq!(json["limit"], "5.00");
        assert_eq!(json["used"], "1.25");
        assert_eq!(json["remaining"], "3.75");
    }

    #[test]
    fn asks_are_merged_and_checked() {
        let m = merge(&[
            Ask { metric: Metric::Tokens, amount: 5 },
            Ask { metric: Metric::Images, amount: 1 },
            Ask { metric: Metric::Tokens, amount: 7 },
        ])
        .unwrap();
        assert_eq!(m, vec![Ask { metric: Metric::Tokens, amount: 12 }, Ask { metric: Metric::Images, amount: 1 }]);
        assert!(merge(&[]).is_err());
        assert!(merge(&[Ask { metric: Metric::Tokens, amount: -1 }]).is_err());
    }
}
