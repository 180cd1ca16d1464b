//! The verbs of enforcement: `check_for`, `reserve`, `release_reservation`,
//! and the organization's `status`. What comes before the plan's limits,
//! and what a refusal tells, are the caller's [`Hooks`]; committing a
//! reservation records usage, so it is [`crate::ingest`]'s.

use std::future::Future;
use std::sync::Arc;

use serde::Serialize;
use serde_json::json;
use sqlx::AnyConnection;

use super::caps::{Cap, Standing, Subject};
use super::lease::Step;
use super::rules::{self, Ask, Decision, Tally};
use super::users::{self, UserCheck};
use super::store::{self, NewReservation};
use crate::calendar::zone;
use super::{resources, QuotaStatus, StatusLine, Units, COST};
use crate::clock::{now_ms, to_rfc3339};
use crate::db::{Db, Engine};
use crate::error::Refusal;
use crate::ids::{is_valid_id, new_id};
use crate::metering::Sender;
use crate::plans::{Metric, OrgPlan, Period};
use crate::{Error, Result};

/// Default and largest reservation lifetime.
pub const DEFAULT_TTL_SECS: i64 = 60;
pub const MAX_TTL_SECS: i64 = 3600;

/// Limits or caps changed (a plan edited, an organization moved, an
/// override set, a budget saved or deleted): the in-memory ledger and the
/// rate limiter's plan cache reload them.
pub fn limits_changed(db: &Db) {
    db.quota_memory().bump();
}

/// Where a refused client can raise its limits (relative to the site).
pub fn upgrade_path(org_id: &str) -> String {
    format!("/o/{org_id}/billing")
}

/// The answer body of a check (and of a refused reservation).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", schema(as = QuotaCheck))]
pub struct CheckBody {
    pub allowed: bool,
    pub results: Vec<rules::LimitResult>,
    /// The end user's own limits (per-user limits), when they apply to the
    /// call's `user_id` and metrics.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub user_results: Vec<rules::LimitResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Where to upgrade: a path here, sent by the REST API as the absolute
    /// `upgrade_url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(rename = "upgrade_url"))]
    pub upgrade_path: Option<String>,
}

impl CheckBody {
    fn of(org_id: &str, d: Decision) -> Self {
        let reason = d.refused().map(|r| r.explain());
        CheckBody {
            allowed: d.allowed,
            upgrade_path: reason.as_ref().map(|_| upgrade_path(org_id)),
            reason,
            results: d.results,
            user_results: Vec::new(),
        }
    }

    /// The plan's answer with the end user's: refused by the user's limits
    /// (when the plan allowed), the reason names the user's limit.
    fn with_user(mut self, user_id: &str, user: Decision, now: i64) -> Self {
        if self.allowed && !user.allowed {
            self.allowed = false;
            self.reason = Some(users::refusal(user_id, &user, now).message);
        }
        self.user_results = user.results;
        self
    }
}

/// The audit log's name of a limit: `tokens/day`.
fn limit_key(r: &rules::LimitResult) -> String {
    format!("{}/{}", r.metric, r.window.as_str())
}

/// A refusal's status: 403 for a standing count (projects), 429 for a window.
fn refusal_status(window: Period) -> u16 {
    if window == Period::Total { 403 } else { 429 }
}

fn refused(org_id: &str, d: Decision, now: i64) -> Error {
    let retry = d.retry_after_secs(now);
    let status = d.refused().map_or(429, |r| refusal_status(r.window));
    let limit = d.refused().map(limit_key).unwrap_or_default();
    let body = CheckBody::of(org_id, d);
    Error::LimitReached(Box::new(Refusal {
        message: body.reason.clone().unwrap_or_default(),
        status,
        limit,
        details: serde_json::to_value(&body).unwrap_or_else(|_| json!({})),
        retry_after_secs: retry,
    }))
}

/// The organization's plan, shared with the rate limiter's short cache.
pub async fn plan_for_rate_limits(db: &Db, org_id: &str) -> Result<Arc<OrgPlan>> {
    let epoch = db.quota_memory().epoch();
    if let Some(p) = db.rate_limits().cached_plan(org_id, epoch) {
        return Ok(p);
    }
    let plan = Arc::new(crate::plans::org_plan(db, org_id).await?);
    db.rate_limits().remember_plan(plan.clone(), epoch);
    Ok(plan)
}

/// The organization's plan, zone and what it has used and reserved now, read
/// from the database (the ledger of PostgreSQL, and the usage panel's source).
async fn stored_tally(conn: &mut sqlx::AnyConnection, org_id: &str, now: i64) -> Result<(OrgPlan, chrono_tz::Tz, Tally)> {
    let plan = crate::plans::store::org_plan(conn, org_id).await?;
    let tz = zone(&plan.time_zone);
    let (day, month) = super::counters::current(conn, org_id, tz, now).await?;
    let reserved = store::reserved(conn, org_id, now).await?;
    Ok((plan, tz, Tally { day, month, reserved, resources: Vec::new() }))
}

/// Parses the asks of a request: `metric` names and amounts as sent.
pub fn parse_asks(items: &[(String, String)]) -> Result<Vec<Ask>> {
    let asks = items
        .iter()
        .map(|(m, a)| {
            let metric = Metric::parse(m)?;
            Ok(Ask { metric, amount: metric.parse_amount("amount", a)? })
        })
        .collect::<Result<Vec<_>>>()?;
    rules::merge(&asks)
}

/// What quota's verbs consult, and tell, beyond the plan's limits: the caps
/// that come before them (pause budgets: their spend, and the rule that
/// says whether one refuses) and a refused hard limit (the `quota_exceeded`
/// alert). Quota knows neither budgets nor alerts; [`crate::admission`]
/// supplies both (OpenMeter's entitlement hooks).
pub trait Hooks: Send + Sync + Clone + 'static {
    /// The organization's caps in force at `now` with their spend so far
    /// (SQLite: read with the in-memory ledger, on its connection).
    fn caps(&self, conn: &mut AnyConnection, org_id: &str, tz: chrono_tz::Tz, now: i64) -> impl Future<Output = Result<Vec<Cap>>> + Send;

    /// The caps covering `who`, each with its spend and the cost held by
    /// the active reservations it covers, read in one statement
    /// (PostgreSQL: on the caller's connection, in the transaction that then
    /// decides; one statement, so one snapshot).
    fn standing_in(&self, conn: &mut AnyConnection, org_id: &str, who: &Subject, now: i64) -> impl Future<Output = Result<Vec<Standing>>> + Send;

    /// Whether `cap` (covering the caller) refuses `cost` more, with `held`
    /// of it held by `calls` reservations in flight: its owner's rule.
    fn judge(&self, cap: &Cap, held: i64, calls: i64, cost: i64, now: i64) -> Option<Refusal>;

    /// A hard limit refused (already counted for the audit log).
    fn hard_limit_refused(&self, db: &Db, org_id: &str, refused: &HardRefusal, now: i64) -> impl Future<Output = ()> + Send;
}

/// A refusal by a hard limit, as its alert tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HardRefusal {
    /// The limit and its window: `tokens:month:<window end>` (`total` for standing counts).
    pub key: String,
    pub observed: String,
    pub threshold: String,
    pub message: String,
}

/// The cost asked for by merged asks.
fn cost_of(asks: &[Ask]) -> i64 {
    asks.iter().filter(|a| super::index(a.metric) == Some(COST)).map(|a| a.amount).sum()
}

/// The first of `standing` (caps covering the caller) that refuses `cost` more.
fn refused_by(standing: &[Standing], cost: i64, now: i64, hooks: &impl Hooks) -> Option<Refusal> {
    standing.iter().find_map(|s| hooks.judge(&s.cap, s.held, s.calls, cost, now))
}

/// Would these amounts be allowed now for `who`? A cap covering `who` that
/// refuses comes first (429 naming it); a refused hard limit is told to
/// `hooks`. Nothing else changes.
pub async fn check_for(db: &Db, org_id: &str, who: &Subject, asks: &[Ask], hooks: &impl Hooks) -> Result<CheckBody> {
    let asks = rules::merge(asks)?;
    let now = now_ms();
    let cost = cost_of(&asks);
    let resources = if asks.iter().any(|a| a.metric.is_resource()) {
        let mut conn = db.reader().acquire().await?;
        resources::counts(&mut conn, org_id, asks.iter().map(|a| a.metric)).await?
    } else {
        Vec::new()
    };
    let (decision, user) = match db.engine {
        Engine::Sqlite => loop {
            let memory = db.quota_memory();
            let st = memory.state(db, org_id, now, hooks).await?;
            let load = st.lock().expect("org ledger").needs_user(who);
            if let Some(user) = load {
                memory.load_user(db, &st, org_id, &user, now).await?;
            }
            let mut g = st.lock().expect("org ledger");
            g.prune(now);
            if let Some(r) = g.refused_by_caps(who, cost, now, hooks) {
                drop(g);
                db.refusals().note(org_id, &r, now);
                return Err(Error::LimitReached(Box::new(r)));
            }
            let user = match g.user_check(who, &asks, now) {
                UserCheck::Load => continue,
                u => u,
            };
            break (rules::evaluate(&g.plan, g.tz, now, &g.tally(resources), &asks), user);
        },
        Engine::Postgres => 'decided: {
            if resources.is_empty() {
                if let Some(d) = db.quota_leases().check(db, org_id, who, &asks, now, hooks) {
                    break 'decided (d, UserCheck::Free);
                }
            }
            let mut conn = db.reader().acquire().await?;
            if let Some(r) = refused_by(&hooks.standing_in(&mut conn, org_id, who, now).await?, cost, now, hooks) {
                db.refusals().note(org_id, &r, now);
                return Err(Error::LimitReached(Box::new(r)));
            }
            let (plan, tz, tally) = stored_tally(&mut conn, org_id, now).await?;
            let user = users::check_in(&mut conn, org_id, who.user_id.as_deref(), tz, &asks, now).await?;
            (rules::evaluate(&plan, tz, now, &Tally { resources, ..tally }, &asks), user)
        }
    };
    if !decision.allowed {
        note_refusal(db, org_id, &decision, now, hooks).await;
    }
    let body = CheckBody::of(org_id, decision);
    match (user, who.user_id.as_deref()) {
        (UserCheck::Blocked(r), _) => {
            db.refusals().note(org_id, &r, now);
            Err(Error::LimitReached(Box::new(r)))
        }
        (UserCheck::Decided(d, _), Some(user_id)) => {
            if !d.allowed {
                db.refusals().note(org_id, &users::refusal(user_id, &d, now), now);
            }
            Ok(body.with_user(user_id, d, now))
        }
        _ => Ok(body),
    }
}

/// Counts the refusal for the audit log and tells `hooks` of a hard limit
/// that refused (the `quota_exceeded` alert, once per limit and window).
async fn note_refusal(db: &Db, org_id: &str, d: &Decision, now: i64, hooks: &impl Hooks) {
    let Some(r) = d.refused() else { return };
    db.refusals().note_limit(org_id, &limit_key(r), &r.explain(), refusal_status(r.window), now);
    if !r.hard {
        return;
    }
    let window = r.reset_at_ms.map_or("total".to_string(), |ms| ms.to_string());
    let m = r.metric;
    let limit = r.limit.map_or("unlimited".to_string(), |l| m.format_amount(l));
    let refused = HardRefusal {
        key: format!("{}:{}:{window}", r.metric, r.window.as_str()),
        observed: format!("{} used", m.format_amount(r.used + r.reserved)),
        threshold: format!("{limit} {}", r.window.per()),
        message: format!("A request was refused: {}", r.explain()),
    };
    hooks.hard_limit_refused(db, org_id, &refused, now).await;
}

/// What a reservation asks for.
#[derive(Debug, Clone, Default)]
pub struct ReserveInput {
    pub user_id: Option<String>,
    pub project_id: Option<String>,
    pub asks: Vec<Ask>,
    pub ttl_seconds: Option<i64>,
}

/// A granted reservation.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", schema(as = Reservation))]
pub struct Granted {
    pub reservation_id: String,
    pub expires_at: String,
    pub results: Vec<rules::LimitResult>,
}

/// Checks and reserves atomically: granted amounts count as used until the
/// reservation is committed, released or expires. With any number of
/// concurrent reservations the granted amounts never pass a hard limit, nor
/// a cap covering the reservation's project, user and key (its cost held
/// plus what the cap's period spent never passes the cap).
pub async fn reserve(db: &Db, sender: &Sender, input: ReserveInput, hooks: &impl Hooks) -> Result<Granted> {
    let asks = rules::merge(&input.asks)?;
    if let Some(a) = asks.iter().find(|a| a.metric.is_resource()) {
        return Err(Error::invalid(
            "metric",
            format!("{} is a standing count, not reserved; change it through its own endpoint", a.metric),
        ));
    }
    let ttl = input.ttl_seconds.unwrap_or(DEFAULT_TTL_SECS);
    if !(1..=MAX_TTL_SECS).contains(&ttl) {
        return Err(Error::invalid("ttl_seconds", format!("must be between 1 and {MAX_TTL_SECS}")));
    }
    for (field, v) in [("user_id", &input.user_id), ("project_id", &input.project_id)] {
        if v.as_ref().is_some_and(|s| s.len() > 128) {
            return Err(Error::invalid(field, "must be at most 128 characters"));
        }
    }
    let mut amounts = Units::default();
    for a in &asks {
        if let Some(i) = super::index(a.metric) {
            amounts[i] = a.amount;
        }
    }
    let now = now_ms();
    let row = NewReservation {
        id: new_id(),
        org_id: sender.org_id.clone(),
        api_key_id: sender.api_key_id.clone(),
        user_id: input.user_id,
        project_id: input.project_id,
        created_at: now,
        expires_at: now + ttl * 1000,
        amounts,
    };
    let who = Subject { project_id: row.project_id.clone(), user_id: row.user_id.clone(), api_key_id: row.api_key_id.clone() };
    let decided = match db.engine {
        Engine::Sqlite => reserve_in_memory(db, &row, &who, hooks, &asks, now).await,
        Engine::Postgres => reserve_leased(db, &row, &who, hooks, &asks, now).await,
    };
    let metrics = db.metrics();
    let results = match decided {
        Ok(results) => results,
        Err(Refused(d)) => {
            if let Some(r) = d.refused() {
                metrics.count_reservation("refused", &format!("{}/{}", r.metric, r.window.as_str()));
            }
            note_refusal(db, &row.org_id, &d, now, hooks).await;
            return Err(refused(&row.org_id, d, now));
        }
        // A cap (a pause budget) or the tokens-per-minute rate.
        Err(Failed(e)) => {
            if let Error::LimitReached(r) = &e {
                // `budget:<id>`, `requests/minute key <id>`: the kind, never an id.
                let kind = r.limit.split([':', ' ']).next().unwrap_or_default();
                metrics.count_reservation("refused", kind);
            }
            return db.refusals().observe(&row.org_id, Err(e), now);
        }
    };
    metrics.count_reservation("granted", "");
    Ok(Granted { reservation_id: row.id, expires_at: to_rfc3339(row.expires_at), results })
}

/// A refusal by the caller's per-user limits.
fn user_refused(r: Refusal) -> NotGranted {
    Failed(Error::LimitReached(Box::new(r)))
}

/// Why a reservation was not granted.
enum NotGranted {
    Refused(Decision),
    Failed(Error),
}
use NotGranted::{Failed, Refused};

impl From<Error> for NotGranted {
    fn from(e: Error) -> Self {
        Failed(e)
    }
}

impl From<sqlx::Error> for NotGranted {
    fn from(e: sqlx::Error) -> Self {
        Failed(e.into())
    }
}

/// SQLite: the caps, the plan's limits, the tokens-per-minute rate and the
/// hold are one step under the organization's ledger lock.
async fn reserve_in_memory(
    db: &Db,
    row: &NewReservation,
    who: &Subject,
    hooks: &impl Hooks,
    asks: &[Ask],
    now: i64,
) -> std::result::Result<Vec<rules::LimitResult>, NotGranted> {
    let memory = db.quota_memory();
    loop {
        let st = memory.state(db, &row.org_id, now, hooks).await?;
        let load = st.lock().expect("org ledger").needs_user(who);
        if let Some(user) = load {
            memory.load_user(db, &st, &row.org_id, &user, now).await?;
        }
        let decision = {
            let mut g = st.lock().expect("org ledger");
            if g.is_retired() {
                continue;
            }
            g.prune(now);
            if let Some(r) = g.refused_by_caps(who, row.amounts[COST], now, hooks) {
                return Err(Failed(Error::LimitReached(Box::new(r))));
            }
            let d = rules::evaluate(&g.plan, g.tz, now, &g.tally(Vec::new()), asks);
            if !d.allowed {
                return Err(Refused(d));
            }
            let check = g.user_check(who, asks, now);
            if matches!(check, UserCheck::Load) {
                continue;
            }
            let user = who.user_id.as_deref().unwrap_or_default();
            if let Some(n) = check.grant(user, now).map_err(user_refused)? {
                db.rate_limits().admit_user(&row.org_id, user, n)?;
            }
            db.rate_limits().take_tokens(&g.plan, row.amounts[0])?;
            g.hold(&row.id, row.expires_at, row.amounts, who);
            d
        };
        if let Err(e) = memory.write_through(db, row.clone()).await {
            st.lock().expect("org ledger").unhold(&row.id);
            return Err(Failed(e));
        }
        return Ok(decision.results);
    }
}

/// PostgreSQL: decided in memory against this process's lease of the
/// organization's headroom ([`super::lease`]), renewing it when the ask does
/// not fit; a reservation a pause budget covers, or one the lease's view
/// allows but its slack cannot hold (other processes hold the rest), is
/// decided under the row lock.
async fn reserve_leased(
    db: &Db,
    row: &NewReservation,
    who: &Subject,
    hooks: &impl Hooks,
    asks: &[Ask],
    now: i64,
) -> std::result::Result<Vec<rules::LimitResult>, NotGranted> {
    // Tokens per minute first (shared by every process); given back when
    // the reservation is not granted.
    let plan = plan_for_rate_limits(db, &row.org_id).await?;
    let rate = db.rate_limits();
    rate.take_tokens_shared(db, &plan, row.amounts[0]).await?;
    let decided = decide_leased(db, row, who, hooks, asks, now).await;
    if decided.is_err() {
        rate.give_back_tokens(&plan, row.amounts[0]);
    }
    decided
}

async fn decide_leased(
    db: &Db,
    row: &NewReservation,
    who: &Subject,
    hooks: &impl Hooks,
    asks: &[Ask],
    now: i64,
) -> std::result::Result<Vec<rules::LimitResult>, NotGranted> {
    let leases = db.quota_leases();
    let inserter = db.quota_memory().inserter(db).await;
    // Another caller's renewal is tried first; after a renewal of its own,
    // an ask that does not fit gets an exact one (every grant stored, none
    // counted twice) and is refused if it still does not fit.
    let mut exact = false;
    let mut exact_done = false;
    for _ in 0..8 {
        match leases.try_grant(db, row, who, asks, &inserter, hooks, now)? {
            Step::Granted(d) => return Ok(d.results),
            Step::Covered => return reserve_in_database(db, row, who, hooks, asks, now).await,
            Step::Renew => {}
        }
        let own = leases.renew(db, &row.org_id, &row.amounts, hooks, exact).await?;
        if own && exact {
            exact_done = true;
            break;
        }
        exact |= own;
    }
    if !exact_done {
        leases.renew(db, &row.org_id, &row.amounts, hooks, true).await?;
    }
    match leases.try_grant(db, row, who, asks, &inserter, hooks, now)? {
        Step::Granted(d) => return Ok(d.results),
        Step::Covered => return reserve_in_database(db, row, who, hooks, asks, now).await,
        Step::Renew => {}
    }
    match leases.refusal(&row.org_id, asks, now) {
        Some(d) => Err(Refused(d)),
        None => reserve_in_database(db, row, who, hooks, asks, now).await,
    }
}

/// PostgreSQL, under the organization's row lock: one step for every
/// process sharing the database (the caps, the plan's limits, then the
/// caller's per-user limits). Every process's leased slack counts as
/// reserved (it covers grants not stored yet). The tokens per minute are
/// taken by the caller.
///
/// The caps are read in one statement after the lock is taken: under READ
/// COMMITTED each statement sees the database as of its own start, so it
/// sees every reservation granted before the lock was ours. Ingest does not
/// take this lock, but a commit that settles a reservation marks it
/// committed and adds its spend to the cap's counter in one transaction, and
/// one statement sees a transaction either wholly or not at all: the
/// reservation held, or its cost spent, never neither. (Two statements could
/// see the commit land between them and count it in neither.)
async fn reserve_in_database(
    db: &Db,
    row: &NewReservation,
    who: &Subject,
    hooks: &impl Hooks,
    asks: &[Ask],
    now: i64,
) -> std::result::Result<Vec<rules::LimitResult>, NotGranted> {
    let mut tx = db.begin().await?;
    resources::lock_org(&mut tx, db.engine, &row.org_id).await?;
    if let Some(r) = refused_by(&hooks.standing_in(&mut tx, &row.org_id, who, now).await?, row.amounts[COST], now, hooks) {
        return Err(Failed(Error::LimitReached(Box::new(r))));
    }
    let (plan, tz, mut tally) = stored_tally(&mut tx, &row.org_id, now).await?;
    for s in store::leases::all(&mut tx, &row.org_id, now).await? {
        if let Some(i) = super::index(s.metric) {
            if s.window_end == crate::calendar::window(tz, s.period, now).end_ms {
                tally.reserved[i] = tally.reserved[i].saturating_add(s.slack);
            }
        }
    }
    let d = rules::evaluate(&plan, tz, now, &tally, asks);
    if !d.allowed {
        return Err(Refused(d));
    }
    let user = who.user_id.as_deref().unwrap_or_default();
    let check = users::check_in(&mut tx, &row.org_id, who.user_id.as_deref(), tz, asks, now).await?;
    if let Some(n) = check.grant(user, now).map_err(user_refused)? {
        db.rate_limits().admit_user_shared(&mut tx, &row.org_id, user, n).await?;
    }
    store::insert(&mut tx, db.engine, &[row]).await?;
    tx.commit().await?;
    Ok(d.results)
}

/// A reservation as the API shows it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ReservationView {
    pub reservation_id: String,
    /// `active`, `committed`, `released` or `expired`.
    #[cfg_attr(feature = "ssr", schema(value_type = crate::openapi::ReservationState))]
    pub state: String,
    pub created_at: String,
    pub expires_at: String,
    pub settled_at: Option<String>,
}

fn view(id: &str, s: store::Stored, now: i64) -> ReservationView {
    let state = if s.state == "active" && s.expires_at <= now { "expired".to_string() } else { s.state };
    ReservationView {
        reservation_id: id.to_string(),
        state,
        created_at: to_rfc3339(s.created_at),
        expires_at: to_rfc3339(s.expires_at),
        settled_at: s.settled_at.map(to_rfc3339),
    }
}

/// Waits until every reservation granted so far is stored (on SQLite they
/// are written through a queue; on PostgreSQL they are stored when granted).
pub async fn flush(db: &Db) -> Result<()> {
    db.quota_memory().flush().await
}

/// One reservation of the organization.
pub async fn get_reservation(db: &Db, org_id: &str, id: &str) -> Result<ReservationView> {
    if !is_valid_id(id) {
        return Err(Error::NotFound("reservation"));
    }
    db.quota_memory().flush().await?;
    let mut conn = db.reader().acquire().await?;
    let s = store::get(&mut conn, org_id, id).await?.ok_or(Error::NotFound("reservation"))?;
    Ok(view(id, s, now_ms()))
}

/// Releases a reservation: its amounts stop counting. Idempotent: releasing
/// one that is already settled changes nothing and says its state.
pub async fn release_reservation(db: &Db, org_id: &str, id: &str) -> Result<ReservationView> {
    if !is_valid_id(id) {
        return Err(Error::NotFound("reservation"));
    }
    // Through the reservation writer: after its own grant is stored, and in
    // one transaction with the other releases and grants of the moment.
    let s = match db.quota_memory().release(db, org_id, id, now_ms()).await? {
        Some(released) => {
            db.quota_memory().unhold(org_id, id);
            db.quota_leases().unhold(org_id, id);
            released
        }
        // Settled before, expired, or not this organization's: as stored.
        None => store::get(&mut *db.reader().acquire().await?, org_id, id).await?.ok_or(Error::NotFound("reservation"))?,
    };
    Ok(view(id, s, now_ms()))
}

/// Marks expired reservations (they already stopped counting at expiry).
pub async fn expire_due(db: &Db) -> Result<u64> {
    let mut tx = db.begin().await?;
    let n = store::expire_due(&mut tx, now_ms()).await?;
    // Leases past their expiry count for nothing; a minute later they go.
    store::leases::purge_expired(&mut tx, now_ms() - 60_000).await?;
    tx.commit().await?;
    db.metrics().count_reservations("expired", "", n);
    Ok(n)
}

/// Recomputes organizations' current-month counters from the events and
/// fixes any that differ; returns how many were fixed. Run at start.
///
/// On SQLite, whose one server process keeps the ledger in memory, every
/// organization with events this month is verified. On PostgreSQL the
/// counters are the ledger and other processes may be writing them, so only
/// organizations with events but no counters this month (a database from
/// before counters existed) are filled in. On both, the end users' counters
/// of organizations with none this month (a database from before them) are
/// filled in from the events, and their month totals, when missing, from
/// their day counters.
pub async fn verify_counters(db: &Db) -> Result<usize> {
    let month_ago = now_ms() - 32 * 86_400_000;
    let orgs = store::counters::to_verify(&mut *db.reader().acquire().await?, db.engine, month_ago).await?;
    let mut fixed = 0;
    for (org_id, tz) in orgs {
        let mut tx = db.begin().await?;
        if super::counters::rebuild_month(&mut tx, db.engine, &org_id, zone(&tz), now_ms()).await? {
            fixed += 1;
            tracing::warn!(org_id, "usage counters differed from the events; rebuilt");
        }
        tx.commit().await?;
        db.quota_memory().forget(&org_id);
        db.quota_leases().forget(&org_id);
    }
    // The end users' counters of a database from before them (they are
    // written with the events, so only a missing month is filled in).
    let orgs = store::users::to_fill(&mut *db.reader().acquire().await?, month_ago).await?;
    for (org_id, tz) in orgs {
        let mut tx = db.begin().await?;
        resources::lock_org(&mut tx, db.engine, &org_id).await?;
        if super::counters::rebuild_user_days(&mut tx, db.engine, &org_id, zone(&tz), now_ms()).await? {
            fixed += 1;
        }
        tx.commit().await?;
        db.quota_memory().forget(&org_id);
    }
    // The end users' month totals of a database from before them: the
    // current month's, summed from its day counters (one INSERT … SELECT).
    let orgs = store::users::months_to_fill(&mut *db.reader().acquire().await?, month_ago).await?;
    for (org_id, tz) in orgs {
        let mut tx = db.begin().await?;
        resources::lock_org(&mut tx, db.engine, &org_id).await?;
        let month = crate::calendar::window(zone(&tz), Period::Month, now_ms());
        if store::users::fill_month(&mut tx, &org_id, month).await? > 0 {
            fixed += 1;
        }
        tx.commit().await?;
    }
    Ok(fixed)
}

/// Rebuilds an organization's counters after its time zone changed (its days
/// moved), inside the caller's transaction.
pub async fn time_zone_changed(conn: &mut sqlx::AnyConnection, db: &Db, org_id: &str, tz: &str) -> Result<()> {
    super::counters::rebuild_month(&mut *conn, db.engine, org_id, zone(tz), now_ms()).await?;
    super::counters::rebuild_user_days(conn, db.engine, org_id, zone(tz), now_ms()).await?;
    db.quota_memory().forget(org_id);
    db.quota_leases().forget(org_id);
    Ok(())
}

/// The organization's plan and its use of every windowed and counted limit.
pub async fn status(db: &Db, org_id: &str) -> Result<QuotaStatus> {
    let now = now_ms();
    let mut conn = db.reader().acquire().await?;
    let (plan, tz, Tally { day, month, reserved, .. }) = stored_tally(&mut conn, org_id, now).await?;
    let mut lines = Vec::new();
    for l in &plan.limits {
        let Some(limit) = l.effective() else { continue };
        if limit.period == Period::Minute {
            continue;
        }
        let (used, reserved) = match (limit.period, super::index(limit.metric)) {
            (Period::Day, Some(i)) => (day[i], reserved[i]),
            (Period::Month, Some(i)) => (month[i], reserved[i]),
            _ => (resources::count(&mut conn, org_id, limit.metric).await?, 0),
        };
        let reset = (limit.period != Period::Total).then(|| crate::calendar::window(tz, limit.period, now).end_ms);
        lines.push(StatusLine {
            metric: limit.metric,
            period: limit.period,
            limit: limit.value,
            hard: limit.hard,
            used,
            reserved,
            reset_at: reset.map(|r| crate::calendar::to_local_rfc3339(tz, r)),
            overridden: l.overridden.is_some(),
        });
    }
    Ok(QuotaStatus { is_demo: plan.demo_mode(), plan_code: plan.plan_code, plan_name: plan.plan_name, lines })
}
