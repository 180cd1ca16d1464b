//! Per-user limits: what each end user of an organization (the `user_id` of
//! its events, reservations and gateway calls) may use per day and month,
//! in tokens and cost, and how many reservations a minute it may make.
//!
//! An organization sets default limits for every end user and a master
//! switch; an override gives one user its own limits (`custom`: each limit
//! set replaces the default, one left out keeps it), none (`unlimited`) or
//! refuses it everything (`blocked`). The switch off, nothing here applies.
//!
//! The rule is the plan limits' rule ([`rules::evaluate`]) over the user's
//! own tally: its tokens and cost of the current local day and month (kept
//! per user and day with the events, [`super::counters`]) and what its
//! reservations in flight hold. Limits are hard: `used + held + ask ≤ limit`.
//! Both ledgers decide it in the step that decides the plan's limits, so
//! concurrent reservations of one user never pass its limits either.

use std::collections::HashMap;

use chrono_tz::Tz;

use super::rules::{self, Ask, Decision, Tally};
use super::store::users as store;
use crate::calendar::window;
use super::Units;
use crate::error::Refusal;
use crate::plans::{Limit, Metric, OrgLimit, OrgPlan, Period};

/// Longest `user_id` accepted (as events allow).
pub const MAX_USER_ID: usize = 200;

/// Limits of one end user; `None` is no limit. Cost in nano-USD.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UserLimits {
    pub tokens_per_day: Option<i64>,
    pub cost_per_day: Option<i64>,
    pub tokens_per_month: Option<i64>,
    pub cost_per_month: Option<i64>,
    pub requests_per_minute: Option<i64>,
}

impl UserLimits {
    /// Each limit of `self`, or `base`'s where `self` sets none.
    pub fn or(self, base: UserLimits) -> UserLimits {
        UserLimits {
            tokens_per_day: self.tokens_per_day.or(base.tokens_per_day),
            cost_per_day: self.cost_per_day.or(base.cost_per_day),
            tokens_per_month: self.tokens_per_month.or(base.tokens_per_month),
            cost_per_month: self.cost_per_month.or(base.cost_per_month),
            requests_per_minute: self.requests_per_minute.or(base.requests_per_minute),
        }
    }

    /// The windowed limits as hard plan limits (rate limits apart).
    pub fn windowed(&self) -> Vec<Limit> {
        [
            (Metric::Tokens, Period::Day, self.tokens_per_day),
            (Metric::CostUsd, Period::Day, self.cost_per_day),
            (Metric::Tokens, Period::Month, self.tokens_per_month),
            (Metric::CostUsd, Period::Month, self.cost_per_month),
        ]
        .into_iter()
        .filter_map(|(metric, period, v)| v.map(|value| Limit { metric, period, value, hard: true, overage_nanos: None }))
        .collect()
    }

    pub fn is_empty(&self) -> bool {
        *self == UserLimits::default()
    }
}

/// An organization's per-user limit settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserLimitSettings {
    /// The master switch.
    pub enabled: bool,
    pub defaults: UserLimits,
}

/// One end user's override of the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Override {
    Custom(UserLimits),
    Unlimited,
    Blocked,
}

impl Override {
    pub fn mode(&self) -> &'static str {
        match self {
            Override::Custom(_) => "custom",
            Override::Unlimited => "unlimited",
            Override::Blocked => "blocked",
        }
    }
}

/// What applies to one end user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effective {
    /// No per-user limit (the switch off, an `unlimited` override, no limit set).
    Free,
    Blocked,
    Limited(UserLimits),
}

/// The limits in force for a user, given the settings and its override.
pub fn effective(settings: &UserLimitSettings, over: Option<&Override>) -> Effective {
    if !settings.enabled {
        return Effective::Free;
    }
    let limits = match over {
        Some(Override::Blocked) => return Effective::Blocked,
        Some(Override::Unlimited) => return Effective::Free,
        Some(Override::Custom(own)) => own.or(settings.defaults),
        None => settings.defaults,
    };
    if limits.is_empty() { Effective::Free } else { Effective::Limited(limits) }
}

/// An organization's settings and overrides, as a ledger holds them.
#[derive(Debug, Clone, Default)]
pub struct UserBook {
    pub settings: UserLimitSettings,
    pub overrides: HashMap<String, Override>,
}

impl UserBook {
    /// What applies to `user_id` (nothing to a call without a user).
    pub fn effective(&self, user_id: Option<&str>) -> Effective {
        match user_id {
            Some(u) if self.settings.enabled => effective(&self.settings, self.overrides.get(u)),
            _ => Effective::Free,
        }
    }
}

/// What one end user used in the current local day and month, and what its
/// reservations in flight hold ([`Units`] positions: tokens, cost, requests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UserUse {
    pub day: Units,
    pub month: Units,
    pub held: Units,
}

/// What per-user limits make of a call.
#[derive(Debug)]
pub enum UserCheck {
    /// No per-user limit applies.
    Free,
    /// The user's use must be loaded first (the in-memory ledger).
    Load,
    /// The user's windowed limits decided (allowed or not); its requests
    /// per minute, if limited, are taken by a reservation once granted.
    Decided(Decision, Option<i64>),
    /// A blocked user.
    Blocked(Refusal),
}

impl UserCheck {
    /// The decision as a reservation takes it (after [`UserCheck::Load`] is
    /// dealt with): `Ok` with the requests per minute to take, if limited,
    /// or the refusal naming the user's limit.
    pub fn grant(self, user_id: &str, now_ms: i64) -> Result<Option<i64>, Refusal> {
        match self {
            UserCheck::Free | UserCheck::Load => Ok(None),
            UserCheck::Blocked(r) => Err(r),
            UserCheck::Decided(d, _) if !d.allowed => Err(refusal(user_id, &d, now_ms)),
            UserCheck::Decided(_, per_minute) => Ok(per_minute),
        }
    }
}

/// The rule: may `user_id` use `asks` now, given what it used and holds?
/// Only tokens and cost are limited per window (the asks are merged); the
/// results are empty when no limit of the user applies to the asks.
pub fn decide(user_id: &str, eff: &Effective, used: &UserUse, tz: Tz, now_ms: i64, asks: &[Ask]) -> UserCheck {
    let (limits, per_minute) = match eff {
        Effective::Free => return UserCheck::Free,
        Effective::Blocked => return UserCheck::Blocked(blocked(user_id)),
        Effective::Limited(l) => (l.windowed(), l.requests_per_minute),
    };
    let asks: Vec<Ask> = asks.iter().filter(|a| limits.iter().any(|l| l.metric == a.metric)).copied().collect();
    if asks.is_empty() {
        return UserCheck::Decided(Decision { allowed: true, results: Vec::new() }, per_minute);
    }
    let plan = OrgPlan {
        org_id: String::new(),
        plan_code: String::new(),
        plan_name: String::new(),
        time_zone: String::new(),
        limits: limits.into_iter().map(|l| OrgLimit { metric: l.metric, period: l.period, plan: Some(l), overridden: None }).collect(),
    };
    let tally = Tally { day: used.day, month: used.month, reserved: used.held, resources: Vec::new() };
    UserCheck::Decided(rules::evaluate(&plan, tz, now_ms, &tally, &asks), per_minute)
}

/// [`decide`] from the database (PostgreSQL, under the organization's row
/// lock): the settings, the user's override, and its use and holds read in
/// one statement.
pub(crate) async fn check_in(
    conn: &mut sqlx::AnyConnection,
    org_id: &str,
    user_id: Option<&str>,
    tz: Tz,
    asks: &[Ask],
    now_ms: i64,
) -> crate::Result<UserCheck> {
    let Some(user) = user_id else { return Ok(UserCheck::Free) };
    let settings = store::settings(&mut *conn, org_id).await?;
    if !settings.enabled {
        return Ok(UserCheck::Free);
    }
    let over = store::get_override(&mut *conn, org_id, user).await?;
    let eff = effective(&settings, over.as_ref());
    let used = match eff {
        Effective::Limited(_) => {
            let month = window(tz, Period::Month, now_ms);
            store::user_use(conn, org_id, user, month, window(tz, Period::Day, now_ms).start_ms, now_ms).await?
        }
        _ => UserUse::default(),
    };
    Ok(decide(user, &eff, &used, tz, now_ms, asks))
}

/// The refusal of a decision its user's limits refused (429 until the
/// first refused window resets), naming the user and the limit.
pub fn refusal(user_id: &str, d: &Decision, now_ms: i64) -> Refusal {
    let message = d.refused().map_or_else(String::new, |r| format!("End user {user_id:?}: {}", r.explain()));
    Refusal {
        status: 429,
        limit: d.refused().map_or_else(String::new, |r| format!("user {}/{}", r.metric, r.window.as_str())),
        details: serde_json::json!({
            "allowed": false,
            "user_id": user_id,
            "reason": message,
            "user_results": d.results,
        }),
        message,
        retry_after_secs: d.retry_after_secs(now_ms),
    }
}

/// A blocked user: refused everything (403) until its override changes.
pub fn blocked(user_id: &str) -> Refusal {
    let message = format!("End user {user_id:?} is blocked by the organization (its per-user limit override)");
    Refusal {
        status: 403,
        limit: "user blocked".into(),
        details: serde_json::json!({"allowed": false, "user_id": user_id, "reason": message}),
        message,
        retry_after_secs: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> i64 {
        chrono::DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z").unwrap().timestamp_millis()
    }

    fn tz() -> Tz {
        "Europe/Paris".parse().unwrap()
    }

    fn on(defaults: UserLimits) -> UserLimitSettings {
        UserLimitSettings { enabled: true, defaults }
    }

    const TEN_K_A_DAY: UserLimits = UserLimits { tokens_per_day: Some(10_000), ..ZERO };
    const ZERO: UserLimits =
        UserLimits { tokens_per_day: None, cost_per_day: None, tokens_per_month: None, cost_per_month: None, requests_per_minute: None };

    #[test]
    fn the_switch_off_frees_everyone_even_a_blocked_user() {
        let s = UserLimitSettings { enabled: false, defaults: TEN_K_A_DAY };
        assert_eq!(effective(&s, None), Effective::Free);
        assert_eq!(effective(&s, Some(&Override::Blocked)), Effective::Free);
    }

    #[test]
    fn an_override_replaces_the_limits_it_sets_and_keeps_the_others() {
        let s = on(UserLimits { tokens_per_day: Some(10_000), cost_per_month: Some(5_000_000_000), ..ZERO });
        let raised = Override::Custom(UserLimits { tokens_per_day: Some(50_000), ..ZERO });
        assert_eq!(
            effective(&s, Some(&raised)),
            Effective::Limited(UserLimits { tokens_per_day: Some(50_000), cost_per_month: Some(5_000_000_000), ..ZERO })
        );
        assert_eq!(effective(&s, Some(&Override::Unlimited)), Effective::Free);
        assert_eq!(effective(&s, Some(&Override::Blocked)), Effective::Blocked);
        assert_eq!(effective(&on(ZERO), None), Effective::Free, "the switch on without limits limits nothing");
    }

    fn decided(c: UserCheck) -> Decision {
        match c {
            UserCheck::Decided(d, _) => d,
            other => panic!("expected a decision, got {other:?}"),
        }
    }

    #[test]
    fn a_user_is_refused_what_would_pass_its_limit_with_what_it_holds() {
        let eff = effective(&on(TEN_K_A_DAY), None);
        let ask = |n| [Ask { metric: Metric::Tokens, amount: n }];
        let used = UserUse { day: [9_000, 0, 0, 0, 0, 0], month: [9_000, 0, 0, 0, 0, 0], held: [500, 0, 0, 0, 0, 0] };
        let d = decided(decide("alice", &eff, &used, tz(), now(), &ask(500)));
        assert!(d.allowed, "exactly the limit is allowed");
        assert_eq!(d.results.len(), 1);
        assert_eq!(d.results[0].remaining, Some(500));
        let d = decided(decide("alice", &eff, &used, tz(), now(), &ask(501)));
        assert!(!d.allowed);
        let r = refusal("alice", &d, now());
        assert_eq!(r.status, 429);
        assert_eq!(r.limit, "user tokens/day");
        assert!(r.message.starts_with("End user \"alice\": "), "{}", r.message);
        assert!(r.message.contains("10,000 per day"), "{}", r.message);
        assert!(r.retry_after_secs.is_some_and(|s| s > 0));
        // Cost asks are not limited by a tokens limit.
        let cost = [Ask { metric: Metric::CostUsd, amount: 1 }];
        assert!(decided(decide("alice", &eff, &used, tz(), now(), &cost)).results.is_empty());
    }

    #[test]
    fn a_blocked_user_is_refused_with_403() {
        let UserCheck::Blocked(r) = decide("bob", &Effective::Blocked, &UserUse::default(), tz(), now(), &[]) else { panic!() };
        assert_eq!((r.status, r.limit.as_str()), (403, "user blocked"));
    }

    #[test]
    fn the_book_limits_only_calls_with_a_user() {
        let mut book = UserBook { settings: on(TEN_K_A_DAY), overrides: HashMap::new() };
        book.overrides.insert("vip".into(), Override::Unlimited);
        assert_eq!(book.effective(None), Effective::Free);
        assert_eq!(book.effective(Some("vip")), Effective::Free);
        assert_eq!(book.effective(Some("x")), Effective::Limited(TEN_K_A_DAY));
    }
}
