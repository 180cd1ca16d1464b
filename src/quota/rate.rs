//! Per-minute rate limits with governor's GCRA: a limit of N per minute allows
//! a burst of N and refills one every 60/N seconds, so a client that waits the
//! `Retry-After` it was given succeeds.
//!
//! Requests per minute apply to each organization (the plan's limit) and to
//! each API key (the key's own limit, when set); tokens per minute apply to
//! the tokens an organization reserves. The state is per process: with
//! several server processes each enforces the limit on the requests it
//! serves (the strict, shared accounting is the quota ledger's job).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota};
use serde_json::json;

use crate::error::Refusal;
use crate::plans::{Metric, OrgPlan, Period};
use crate::Error;

/// How long a plan read for rate limiting is reused.
const PLAN_TTL: Duration = Duration::from_secs(5);

/// The limiters of one process.
#[derive(Debug, Default)]
pub struct RateLimits {
    limiters: Mutex<HashMap<(String, u32), Arc<DefaultDirectRateLimiter>>>,
    plans: Mutex<HashMap<String, (Instant, u64, Arc<OrgPlan>)>>,
}

impl crate::db::Db {
    /// This process's rate limiters for this database.
    pub fn rate_limits(&self) -> Arc<RateLimits> {
        self.state()
    }
}

/// What is limited, for the refusal's message.
#[derive(Debug, Clone, Copy)]
enum Scope<'a> {
    Org(&'a str),
    Key(&'a str),
}

impl RateLimits {
    fn limiter(&self, key: String, per_minute: u32) -> Arc<DefaultDirectRateLimiter> {
        let mut map = self.limiters.lock().expect("rate limiters");
        map.entry((key, per_minute))
            .or_insert_with(|| {
                let n = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
                Arc::new(DefaultDirectRateLimiter::direct(Quota::per_minute(n)))
            })
            .clone()
    }

    /// A recent read of the organization's plan (limits change rarely; a
    /// change is seen within a few seconds, or at once in this process).
    pub(crate) fn cached_plan(&self, org_id: &str, epoch: u64) -> Option<Arc<OrgPlan>> {
        let map = self.plans.lock().expect("plan cache");
        let (at, e, plan) = map.get(org_id)?;
        (*e == epoch && at.elapsed() < PLAN_TTL).then(|| plan.clone())
    }

    pub(crate) fn remember_plan(&self, plan: Arc<OrgPlan>, epoch: u64) {
        self.plans.lock().expect("plan cache").insert(plan.org_id.clone(), (Instant::now(), epoch, plan));
    }

    /// Admits one API request of `key_id` in `plan`'s organization, or refuses
    /// with 429 naming the limit and when to retry.
    pub fn admit_request(&self, plan: &OrgPlan, key_id: &str, key_per_minute: Option<i64>) -> Result<(), Error> {
        if let Some(l) = plan.limit(Metric::Requests, Period::Minute) {
            self.take(&plan.org_id, Scope::Org(&plan.org_id), Metric::Requests, l.value, 1)?;
        }
        if let Some(n) = key_per_minute {
            self.take(&plan.org_id, Scope::Key(key_id), Metric::Requests, n, 1)?;
        }
        Ok(())
    }

    /// Takes `tokens` from the organization's tokens-per-minute limit.
    pub fn take_tokens(&self, plan: &OrgPlan, tokens: i64) -> Result<(), Error> {
        match plan.limit(Metric::Tokens, Period::Minute) {
            Some(l) if tokens > 0 => self.take(&plan.org_id, Scope::Org(&plan.org_id), Metric::Tokens, l.value, tokens),
            _ => Ok(()),
        }
    }

    fn take(&self, org_id: &str, scope: Scope<'_>, metric: Metric, per_minute: i64, n: i64) -> Result<(), Error> {
        let per_minute_u32 = u32::try_from(per_minute.max(0)).unwrap_or(u32::MAX);
        let (key, who) = match scope {
            Scope::Org(id) => (format!("org:{id}:{metric}"), "organization"),
            Scope::Key(id) => (format!("key:{id}:{metric}"), "API key"),
        };
        let refuse = |retry: Option<Duration>| -> Error {
            let secs = retry.map(|d| d.as_secs_f64().ceil() as u64).unwrap_or(60).max(1);
            let message = match retry {
                Some(_) => format!(
                    "rate limit of {} {} per minute for this {who} reached; retry in {secs} s",
                    metric.format_amount(per_minute),
                    metric.as_str()
                ),
                None => format!(
                    "{} {} is more than this {who}'s whole rate limit of {} per minute",
                    metric.format_amount(n),
                    metric.as_str(),
                    metric.format_amount(per_minute)
                ),
            };
            Error::LimitReached(Box::new(Refusal {
                message,
                status: 429,
                limit: match scope {
                    Scope::Org(_) => format!("{metric}/minute"),
                    Scope::Key(id) => format!("{metric}/minute key {id}"),
                },
                details: json!({
                    "metric": metric.as_str(),
                    "window": "minute",
                    "scope": if matches!(scope, Scope::Org(_)) { "organization" } else { "api_key" },
                    "limit": per_minute,
                    // The whole burst is in use when a request is refused.
                    "used": per_minute,
                    "requested": n,
                    "retry_after_seconds": secs,
                    "reset_at": crate::clock::to_rfc3339(crate::clock::now_ms() + secs as i64 * 1000),
                    "upgrade_path": super::upgrade_path(org_id),
                }),
                retry_after_secs: Some(secs),
            }))
        };
        if per_minute_u32 == 0 {
            return Err(refuse(Some(Duration::from_secs(60))));
        }
        let limiter = self.limiter(key, per_minute_u32);
        let cells = NonZeroU32::new(u32::try_from(n).unwrap_or(u32::MAX)).unwrap_or(NonZeroU32::MIN);
        match limiter.check_n(cells) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(refuse(Some(not_until.wait_time_from(DefaultClock::default().now())))),
            Err(_) => Err(refuse(None)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plans::{Limit, OrgLimit};

    fn plan(rpm: i64) -> OrgPlan {
        let l = Limit { metric: Metric::Requests, period: Period::Minute, value: rpm, hard: true, overage_nanos: None };
        OrgPlan {
            org_id: "org".into(),
            plan_code: "starter".into(),
            plan_name: "Starter".into(),
            time_zone: "UTC".into(),
            limits: vec![OrgLimit { metric: l.metric, period: l.period, plan: Some(l), overridden: None }],
        }
    }

    #[test]
    fn a_burst_of_the_limit_passes_and_the_next_is_refused_with_a_retry_time() {
        let r = RateLimits::default();
        let p = plan(3);
        for _ in 0..3 {
            r.admit_request(&p, "k", None).unwrap();
        }
        let Err(Error::LimitReached(refusal)) = r.admit_request(&p, "k", None) else { panic!("expected a refusal") };
        assert_eq!(refusal.status, 429);
        assert!(refusal.message.contains("rate limit of 3 requests per minute"), "{}", refusal.message);
        let secs = refusal.retry_after_secs.unwrap();
        assert!((1..=20).contains(&secs), "one request refills in 20 s: {secs}");
    }

    #[test]
    fn a_key_limit_applies_to_that_key_only() {
        let r = RateLimits::default();
        let p = plan(1000);
        r.admit_request(&p, "a", Some(1)).unwrap();
        assert!(r.admit_request(&p, "a", Some(1)).is_err());
        r.admit_request(&p, "b", Some(1)).unwrap();
    }

    #[test]
    fn more_tokens_than_the_whole_limit_are_refused_outright() {
        let r = RateLimits::default();
        let l = Limit { metric: Metric::Tokens, period: Period::Minute, value: 100, hard: true, overage_nanos: None };
        let mut p = plan(10);
        p.limits.push(OrgLimit { metric: l.metric, period: l.period, plan: Some(l), overridden: None });
        r.take_tokens(&p, 60).unwrap();
        assert!(r.take_tokens(&p, 60).is_err());
        let Err(Error::LimitReached(refusal)) = r.take_tokens(&p, 500) else { panic!() };
        assert!(refusal.message.contains("more than this organization's whole rate limit"), "{}", refusal.message);
    }
}
