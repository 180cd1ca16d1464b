//! Per-minute rate limits with GCRA: a limit of N per minute allows a burst
//! of N and refills one every 60/N seconds, so a client that waits the
//! `Retry-After` it was given succeeds.
//!
//! Requests per minute apply to each organization (the plan's limit) and to
//! each API key (the key's own limit, when set); tokens per minute apply to
//! the tokens an organization reserves.
//!
//! On SQLite, which one server process owns, the state is that process's
//! (governor). On PostgreSQL the limits hold across every process sharing
//! the database: the GCRA state of each limited key is a row
//! (`rate_limits`), and a process takes permits from it in small blocks
//! (one statement each), spending them from memory. A block is 1 permit at
//! first and doubles while a process uses them up within 100 ms, up to 2%
//! of the limit; permits not spent within a second are dropped. So the
//! processes together never admit more than the limit, and a request may be
//! refused early by at most the permits other processes hold unspent (2% of
//! the limit each).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota};
use serde_json::json;

use crate::db::{Db, Engine};
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
    /// PostgreSQL: permits taken from the shared state, per key.
    permits: Mutex<HashMap<String, Permits>>,
}

/// Permits of one key in this process's hands.
#[derive(Debug)]
struct Permits {
    left: i64,
    /// Unspent permits are dropped at this time.
    until: Instant,
    /// The size of the next block.
    block: i64,
}

/// How long permits taken from the shared state may be spent.
const PERMITS_LIVE: Duration = Duration::from_secs(1);
/// A block used up within this time makes the next one twice as large.
const BUSY: Duration = Duration::from_millis(100);

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
    /// An end user of the organization (its per-user limit).
    User(&'a str, &'a str),
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

    /// Admits one reservation of an end user under its requests-per-minute
    /// limit ([`super::users`]), with this process's limiter (SQLite).
    pub fn admit_user(&self, org_id: &str, user_id: &str, per_minute: i64) -> Result<(), Error> {
        self.take(org_id, Scope::User(org_id, user_id), Metric::Requests, per_minute, 1)
    }

    /// [`admit_user`](Self::admit_user) across every process sharing the
    /// database (PostgreSQL), on the caller's connection: the transaction
    /// that holds the organization's row lock and decides the reservation
    /// (a second connection would wait for that lock).
    pub async fn admit_user_shared(&self, conn: &mut sqlx::AnyConnection, org_id: &str, user_id: &str, per_minute: i64) -> Result<(), Error> {
        self.take_shared_on(conn, org_id, Scope::User(org_id, user_id), Metric::Requests, per_minute, 1).await
    }

    /// [`admit_request`](Self::admit_request) across every process sharing
    /// the database (PostgreSQL; on SQLite, this process's limiters).
    pub async fn admit_request_in(&self, db: &Db, plan: &OrgPlan, key_id: &str, key_per_minute: Option<i64>) -> Result<(), Error> {
        if db.engine == Engine::Sqlite {
            return self.admit_request(plan, key_id, key_per_minute);
        }
        let org = Scope::Org(&plan.org_id);
        let org_limit = plan.limit(Metric::Requests, Period::Minute).map(|l| l.value);
        if let Some(per_minute) = org_limit {
            self.take_shared(db, &plan.org_id, org, Metric::Requests, per_minute, 1).await?;
        }
        if let Some(n) = key_per_minute {
            if let Err(e) = self.take_shared(db, &plan.org_id, Scope::Key(key_id), Metric::Requests, n, 1).await {
                if org_limit.is_some() {
                    self.give_back(&org.key(Metric::Requests), 1);
                }
                return Err(e);
            }
        }
        Ok(())
    }

    /// [`take_tokens`](Self::take_tokens) across every process sharing the
    /// database (PostgreSQL only).
    pub(crate) async fn take_tokens_shared(&self, db: &Db, plan: &OrgPlan, tokens: i64) -> Result<(), Error> {
        match plan.limit(Metric::Tokens, Period::Minute) {
            Some(l) if tokens > 0 => self.take_shared(db, &plan.org_id, Scope::Org(&plan.org_id), Metric::Tokens, l.value, tokens).await,
            _ => Ok(()),
        }
    }

    /// Returns tokens taken with [`take_tokens_shared`](Self::take_tokens_shared)
    /// for a reservation that was then refused.
    pub(crate) fn give_back_tokens(&self, plan: &OrgPlan, tokens: i64) {
        if tokens > 0 && plan.limit(Metric::Tokens, Period::Minute).is_some() {
            self.give_back(&Scope::Org(&plan.org_id).key(Metric::Tokens), tokens);
        }
    }

    fn give_back(&self, key: &str, n: i64) {
        if let Some(p) = self.permits.lock().expect("permits").get_mut(key) {
            if p.until > Instant::now() {
                p.left += n;
            }
        }
    }

    /// Takes `n` permits of `scope`'s limit: from this process's hands, or a
    /// block from the shared state (GCRA: a limit of `per_minute` allows a
    /// burst of `per_minute` and refills one every 60/`per_minute` s).
    async fn take_shared(&self, db: &Db, org_id: &str, scope: Scope<'_>, metric: Metric, per_minute: i64, n: i64) -> Result<(), Error> {
        let mut conn = db.writer().acquire().await.map_err(Error::from)?;
        self.take_shared_on(&mut conn, org_id, scope, metric, per_minute, n).await
    }

    /// [`take_shared`](Self::take_shared) on the caller's connection (which
    /// may hold the organization's row lock: the state's row references it).
    async fn take_shared_on(
        &self,
        conn: &mut sqlx::AnyConnection,
        org_id: &str,
        scope: Scope<'_>,
        metric: Metric,
        per_minute: i64,
        n: i64,
    ) -> Result<(), Error> {
        if per_minute <= 0 {
            return Err(refusal(org_id, scope, metric, per_minute, n, Some(Duration::from_secs(60))));
        }
        if n > per_minute {
            return Err(refusal(org_id, scope, metric, per_minute, n, None));
        }
        let key = scope.key(metric);
        let block = {
            let mut map = self.permits.lock().expect("permits");
            let now = Instant::now();
            let p = map.entry(key.clone()).or_insert(Permits { left: 0, until: now, block: 1 });
            if p.until > now && p.left >= n {
                p.left -= n;
                return Ok(());
            }
            // Used up within BUSY of being taken: the next block is larger.
            let busy = p.until > now && p.until - now > PERMITS_LIVE - BUSY;
            p.block = if busy { (p.block * 2).min((per_minute / 50).max(1)) } else { 1 };
            p.block
        };
        let interval_us = (60_000_000 / per_minute).max(1);
        let burst_us = 60_000_000i64;
        let now_us = crate::clock::now_ms() * 1000;
        for k in [block.max(n), n] {
            if super::store::take_rate(&mut *conn, &key, org_id, now_us, k.saturating_mul(interval_us), burst_us).await? {
                let mut map = self.permits.lock().expect("permits");
                let p = map.entry(key).or_insert(Permits { left: 0, until: Instant::now(), block: k });
                let now = Instant::now();
                if p.until <= now {
                    p.left = 0;
                }
                p.left += k - n;
                p.until = now + PERMITS_LIVE;
                return Ok(());
            }
            if k == n {
                break;
            }
        }
        let tat = super::store::rate_tat(&mut *conn, &key).await?.unwrap_or(now_us);
        let wait_us = (tat.max(now_us) + n * interval_us - burst_us - now_us).max(1);
        Err(refusal(org_id, scope, metric, per_minute, n, Some(Duration::from_micros(wait_us as u64))))
    }

    fn take(&self, org_id: &str, scope: Scope<'_>, metric: Metric, per_minute: i64, n: i64) -> Result<(), Error> {
        let per_minute_u32 = u32::try_from(per_minute.max(0)).unwrap_or(u32::MAX);
        let key = scope.key(metric);
        let refuse = |retry| refusal(org_id, scope, metric, per_minute, n, retry);
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

impl Scope<'_> {
    fn key(self, metric: Metric) -> String {
        match self {
            Scope::Org(id) => format!("org:{id}:{metric}"),
            Scope::Key(id) => format!("key:{id}:{metric}"),
            Scope::User(org, user) => format!("user:{org}:{user}:{metric}"),
        }
    }
}

/// The refusal of `n` more of `metric` under a limit of `per_minute`:
/// when to retry, or `None` when `n` is more than the whole limit.
fn refusal(org_id: &str, scope: Scope<'_>, metric: Metric, per_minute: i64, n: i64, retry: Option<Duration>) -> Error {
    let who = match scope {
        Scope::Org(_) => "organization",
        Scope::Key(_) => "API key",
        Scope::User(..) => "end user",
    };
    {
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
                    Scope::User(..) => format!("user {metric}/minute"),
                },
                details: json!({
                    "metric": metric.as_str(),
                    "window": "minute",
                    "scope": match scope {
                        Scope::Org(_) => "organization",
                        Scope::Key(_) => "api_key",
                        Scope::User(..) => "user",
                    },
                    "limit": per_minute,
                    // The whole burst is in use when a request is refused.
                    "used": per_minute,
                    "requested": n,
                    "retry_after_seconds": secs,
                    "reset_at": crate::clock::to_rfc3339(crate::clock::now_ms() + secs as i64 * 1000),
                    "upgrade_path": super::upgrade_path(org_id),
                    "user_id": match scope {
                        Scope::User(_, u) => Some(u),
                        _ => None,
                    },
                }),
                retry_after_secs: Some(secs),
            }))
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
    fn an_end_users_limit_applies_to_that_user_only() {
        let r = RateLimits::default();
        let u = |user| r.take("org", Scope::User("org", user), Metric::Requests, 1, 1);
        u("alice").unwrap();
        let Err(Error::LimitReached(refusal)) = u("alice") else { panic!("expected a refusal") };
        assert!(refusal.message.contains("for this end user"), "{}", refusal.message);
        assert_eq!(refusal.limit, "user requests/minute");
        assert_eq!(refusal.details["user_id"], "alice");
        u("bob").unwrap();
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
