//! Leases of quota headroom: how reservations are decided on PostgreSQL,
//! where any number of server processes share one database.
//!
//! Each process leases, per organization and hard limit, a slice of the
//! remaining headroom (its *slack*) in one short transaction under the
//! organization's row lock, then decides reservations in memory against it
//! (a mutex-protected arithmetic step, like the SQLite ledger), writing
//! granted reservations through the same group-commit queue. What the
//! database guards, whenever anything is leased or decided under the lock,
//! is
//!
//! ```text
//! used + active reservations + every holder's unexpired slack <= limit
//! ```
//!
//! so the processes together never grant past a hard limit.
//!
//! - **Sizing.** A renewal tops the slack up to what the process granted in
//!   the last [`HORIZON`] (at least 32 times the ask that triggered it), but
//!   never more than half of what is free, so other processes always find
//!   room. Near a limit the slices shrink to the ask itself: the last units
//!   are decided one renewal each, exactly as under a plain row lock.
//! - **Renewal.** While an organization is busy its lease is renewed in the
//!   background at least every [`RENEW_EVERY`] and when a slack falls under
//!   half its size; a reservation waits for the database only when its ask
//!   does not fit, when the lease ran out, or at a new day.
//! - **Pending grants.** A grant is queued for the database under the same
//!   lock as the decision. A renewal first marks the count of grants not yet
//!   stored, waits for the queue, and keeps that count in its row, so a
//!   reservation is always covered by the database: by its own row once
//!   stored, by the holder's slack until then (both, for a moment: the
//!   error is on the safe side).
//! - **Crash.** A lease lives [`LEASE_TTL_MS`]; a process that dies strands
//!   its slack (at most half of the free headroom, in practice about one
//!   horizon of its traffic) for at most that long. Rows past their expiry
//!   count for nothing and are purged with expired reservations.
//! - **What it does not cover.** A reservation covered by a pause budget (a
//!   cap) is decided under the row lock as before: caps are per project,
//!   user or key and rarely hot. Usage recorded without a reservation, and
//!   limits changed through another process, are seen at the next renewal
//!   (within a second while busy). The usage figures a refusal and a check
//!   show are this process's view: the last renewal plus its own traffic.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono_tz::Tz;

use super::caps::{Cap, Subject};
use super::counters::DayUnits;
use super::memory::{add, sub, Inserter};
use super::rules::{self, Ask, Decision, Tally};
use super::store::{self, leases::Slack, NewReservation};
use super::{index, Hooks, Units};
use crate::calendar::{window, zone, Window};
use crate::db::Db;
use crate::ids::new_id;
use crate::plans::{Metric, OrgPlan, Period};
use crate::Result;

/// How long a lease is valid in the database.
pub const LEASE_TTL_MS: i64 = 3_000;
/// A lease is used up to this long before its expiry, so clocks a little
/// apart and a slow renewal never use an expired one.
const MARGIN_MS: i64 = 1_000;
/// A busy organization's lease is renewed at least this often.
const RENEW_EVERY: Duration = Duration::from_millis(500);
/// Renewals size the slack to the traffic of this long.
const HORIZON_MS: i64 = 1_000;
/// A first lease (or one after an idle spell) holds this many times the ask.
const FIRST_ASKS: i64 = 32;

/// The leases of one process on one database.
#[derive(Debug)]
pub struct Leases {
    holder: String,
    orgs: Mutex<HashMap<String, Arc<OrgLease>>>,
}

impl Default for Leases {
    fn default() -> Self {
        Leases { holder: new_id(), orgs: Mutex::default() }
    }
}

impl Db {
    /// This process's quota leases (used on PostgreSQL).
    pub(crate) fn quota_leases(&self) -> Arc<Leases> {
        self.state()
    }
}

#[derive(Debug, Default)]
pub(crate) struct OrgLease {
    state: Mutex<Option<Leased>>,
    renewal: tokio::sync::Mutex<()>,
    /// Renewals done: a caller that waited for another's need not renew again.
    renewals: AtomicU64,
    renewing: AtomicBool,
}

/// One hard limit's slack.
#[derive(Debug, Clone)]
struct Slot {
    metric: Metric,
    idx: usize,
    period: Period,
    window_end: i64,
    slack: i64,
    /// Other holders' slack at the last renewal.
    others: i64,
    /// Granted since the last renewal (sizes the next one).
    taken: i64,
}

/// An organization's lease and this process's view of its usage.
#[derive(Debug)]
struct Leased {
    epoch: u64,
    renewed_at: Instant,
    usable_until: i64,
    plan: OrgPlan,
    tz: Tz,
    caps: Vec<Cap>,
    /// Per-user limits are on: a call with a user is decided under the row lock.
    users_limited: bool,
    day: Window,
    used_day: Units,
    used_month: Units,
    /// Active reservations at the last renewal plus this process's grants since.
    reserved: Units,
    /// This process's unexpired grants, by id: (expiry, amounts).
    held: HashMap<String, (i64, Units)>,
    /// Grants queued since the renewal's mark (maybe not stored yet).
    unstored: Units,
    slots: Vec<Slot>,
    /// An exact renewal is under way: nothing is granted until it is done.
    frozen: bool,
}

/// What the in-memory step made of a reservation.
pub(crate) enum Step {
    Granted(Decision),
    /// A pause budget covers the caller, or per-user limits apply to it:
    /// decide under the row lock.
    Covered,
    /// The lease cannot decide: renew and try again.
    Renew,
}

impl Leased {
    fn tally(&self) -> Tally {
        Tally { day: self.used_day, month: self.used_month, reserved: self.reserved, resources: Vec::new() }
    }

    /// The tally a refusal tells: other holders' slack counts as reserved.
    fn tally_with_others(&self) -> Tally {
        let mut t = self.tally();
        for (i, r) in t.reserved.iter_mut().enumerate() {
            let others = self.slots.iter().filter(|s| s.idx == i).map(|s| s.others).max().unwrap_or(0);
            *r = r.saturating_add(others);
        }
        t
    }

    fn usable(&self, epoch: u64, now: i64) -> bool {
        self.epoch == epoch && now < self.usable_until && now >= self.day.start_ms && now < self.day.end_ms
    }

    fn wants_renewal(&self) -> bool {
        self.renewed_at.elapsed() >= RENEW_EVERY || self.slots.iter().any(|s| s.slack < s.taken / 2)
    }
}

impl Leases {
    fn org(&self, org_id: &str) -> Arc<OrgLease> {
        self.orgs.lock().expect("lease map").entry(org_id.to_string()).or_default().clone()
    }

    /// Tries to grant `row` from the lease: the caps, the limits against this
    /// process's view, and the slack of every hard limit the row asks of.
    /// A grant is held and queued for the database in the same step.
    pub(crate) fn try_grant<H: Hooks>(
        &self,
        db: &Db,
        row: &NewReservation,
        who: &Subject,
        asks: &[Ask],
        inserter: &Inserter,
        hooks: &H,
        now: i64,
    ) -> Result<Step> {
        let org = self.org(&row.org_id);
        let epoch = db.quota_memory().epoch();
        let step = {
            let mut g = org.state.lock().expect("lease");
            let Some(st) = g.as_mut().filter(|st| st.usable(epoch, now) && !st.frozen) else { return Ok(Step::Renew) };
            if st.caps.iter().any(|c| c.covers.covers(who) && c.window.start_ms <= now && now < c.window.end_ms)
                || (st.users_limited && who.user_id.is_some())
            {
                return Ok(Step::Covered);
            }
            if st.slots.iter().any(|s| row.amounts[s.idx] > s.slack) {
                return Ok(Step::Renew);
            }
            let d = rules::evaluate(&st.plan, st.tz, now, &st.tally(), asks);
            if !d.allowed {
                return Ok(Step::Renew);
            }
            inserter.insert(row.clone())?;
            for s in &mut st.slots {
                s.slack -= row.amounts[s.idx];
                s.taken += row.amounts[s.idx];
            }
            add(&mut st.reserved, &row.amounts);
            add(&mut st.unstored, &row.amounts);
            st.held.insert(row.id.clone(), (row.expires_at, row.amounts));
            let renew = st.wants_renewal();
            (d, renew)
        };
        let (d, renew) = step;
        if renew {
            renew_in_background(db, &row.org_id, &org, hooks);
        }
        Ok(Step::Granted(d))
    }

    /// The refusal of `asks` as this process sees the organization after a
    /// renewal (other holders' slack counting as reserved), or `None` when
    /// the view allows them (then the caller decides under the row lock).
    pub(crate) fn refusal(&self, org_id: &str, asks: &[Ask], now: i64) -> Option<Decision> {
        let org = self.org(org_id);
        let g = org.state.lock().expect("lease");
        let st = g.as_ref()?;
        let d = rules::evaluate(&st.plan, st.tz, now, &st.tally_with_others(), asks);
        (!d.allowed).then_some(d)
    }

    /// A check from this process's view of the organization, or `None` when
    /// a pause budget covers the caller or the view is stale (the caller
    /// reads the database).
    /// A view older than [`RENEW_EVERY`] (or none) is renewed in the
    /// background, so an organization that only checks is answered from
    /// memory too.
    pub(crate) fn check<H: Hooks>(&self, db: &Db, org_id: &str, who: &Subject, asks: &[Ask], now: i64, hooks: &H) -> Option<Decision> {
        let org = self.org(org_id);
        let (answer, stale) = {
            let g = org.state.lock().expect("lease");
            match g.as_ref().filter(|st| st.usable(db.quota_memory().epoch(), now)) {
                None => (None, true),
                Some(st) if st.caps.iter().any(|c| c.covers.covers(who)) || (st.users_limited && who.user_id.is_some()) => (None, false),
                Some(st) => (Some(rules::evaluate(&st.plan, st.tz, now, &st.tally(), asks)), st.renewed_at.elapsed() >= RENEW_EVERY),
            }
        };
        if stale {
            renew_in_background(db, org_id, &org, hooks);
        }
        answer
    }

    /// Renews the organization's lease: stores what this process granted,
    /// reads the organization under its row lock and tops its slack up. With
    /// `need`, each hard limit's slack is raised to at least its amount when
    /// that much is free; `hooks` read the pause budgets. Returns `false`
    /// without renewing when another renewal finished while this one waited
    /// its turn (the caller tries that one first).
    ///
    /// Grants go on while a renewal runs, and those queued after its mark
    /// count twice for a moment (stored and still counted as queued): safe,
    /// but near a limit it can keep the last units from an ask. An `exact`
    /// renewal stops grants from its mark until it is done, so every grant
    /// is stored when it reads, and counts once; it is what decides an ask
    /// that a plain renewal could not fit.
    pub(crate) async fn renew(&self, db: &Db, org_id: &str, need: &Units, hooks: &impl Hooks, exact: bool) -> Result<bool> {
        let org = self.org(org_id);
        let seen = org.renewals.load(Ordering::SeqCst);
        let _one = org.renewal.lock().await;
        if !exact && org.renewals.load(Ordering::SeqCst) != seen {
            return Ok(false);
        }
        // The mark: grants before it are stored once the queue is flushed.
        if let Some(st) = org.state.lock().expect("lease").as_mut() {
            st.unstored = Units::default();
            st.frozen = exact;
        }
        db.quota_memory().flush().await?;
        let now = crate::clock::now_ms();
        let epoch = db.quota_memory().epoch();
        let mut tx = db.begin().await?;
        super::resources::lock_org(&mut tx, db.engine, org_id).await?;
        let plan = crate::plans::store::org_plan(&mut tx, org_id).await?;
        let tz = zone(&plan.time_zone);
        let (used_day, used_month) = super::counters::current(&mut tx, org_id, tz, now).await?;
        let reserved = store::reserved(&mut tx, org_id, now).await?;
        let caps = hooks.caps(&mut tx, org_id, tz, now).await?;
        let users_limited = store::users::enabled(&mut tx, org_id).await?;
        let others = store::leases::others(&mut tx, org_id, &self.holder, now).await?;
        let expires_at = now + LEASE_TTL_MS;
        // Decide the new slack under the lease's lock; grants go on meanwhile
        // from the old slack, which the new row keeps covering.
        let (slots, rows) = {
            let g = org.state.lock().expect("lease");
            let old = g.as_ref();
            let unstored = old.map(|o| o.unstored).unwrap_or_default();
            let elapsed = old.map_or(HORIZON_MS, |o| (o.renewed_at.elapsed().as_millis() as i64).max(1));
            let mut slots = Vec::new();
            let mut rows = Vec::new();
            for limit in plan.limits.iter().filter_map(|l| l.effective()) {
                let (Some(idx), true) = (index(limit.metric), limit.hard) else { continue };
                if !matches!(limit.period, Period::Day | Period::Month) {
                    continue;
                }
                let w = window(tz, limit.period, now);
                let used = if limit.period == Period::Day { used_day[idx] } else { used_month[idx] };
                let other: i64 = others
                    .iter()
                    .filter(|o| o.metric == limit.metric && o.period == limit.period && o.window_end == w.end_ms)
                    .map(|o| o.slack)
                    .sum();
                let prev = old.and_then(|o| o.slots.iter().find(|s| s.metric == limit.metric && s.period == limit.period));
                let kept = prev.filter(|p| p.window_end == w.end_ms).map_or(0, |p| p.slack.max(0));
                let taken = prev.map_or(0, |p| p.taken);
                let free = (limit.value as i128 - used as i128 - reserved[idx] as i128 - other as i128 - unstored[idx] as i128 - kept as i128)
                    .clamp(0, i64::MAX as i128) as i64;
                let want = (taken as i128 * HORIZON_MS as i128 / elapsed as i128).max(need[idx] as i128 * FIRST_ASKS as i128).min(i64::MAX as i128) as i64;
                let add = top_up(free, kept, want, need[idx]);
                let slack = kept + add;
                slots.push(Slot { metric: limit.metric, idx, period: limit.period, window_end: w.end_ms, slack: add, others: other, taken: 0 });
                rows.push(Slack { metric: limit.metric, period: limit.period, window_end: w.end_ms, slack: slack.saturating_add(unstored[idx]) });
            }
            (slots, rows)
        };
        store::leases::put(&mut tx, db.engine, org_id, &self.holder, &rows, expires_at).await?;
        tx.commit().await?;
        // Install: the kept slack is what is left of the old one now (grants
        // went on while the transaction ran), plus what was added.
        let mut g = org.state.lock().expect("lease");
        let old = g.take();
        let mut slots = slots;
        for s in &mut slots {
            if let Some(p) = old.as_ref().and_then(|o| o.slots.iter().find(|p| p.metric == s.metric && p.period == s.period && p.window_end == s.window_end)) {
                s.slack += p.slack.max(0);
                s.taken = 0;
            }
        }
        let (unstored, mut held) = old.map(|o| (o.unstored, o.held)).unwrap_or_default();
        held.retain(|_, (expires_at, _)| *expires_at > now);
        let mut view_reserved = reserved;
        add(&mut view_reserved, &unstored);
        *g = Some(Leased {
            epoch,
            renewed_at: Instant::now(),
            usable_until: expires_at - MARGIN_MS,
            day: window(tz, Period::Day, now),
            plan,
            tz,
            caps,
            users_limited,
            used_day,
            used_month,
            reserved: view_reserved,
            held,
            unstored,
            slots,
            frozen: false,
        });
        org.renewals.fetch_add(1, Ordering::SeqCst);
        Ok(true)
    }

    /// A reservation of this process was released or committed: its amounts
    /// stop counting in the view (the database counts them at the next
    /// renewal either way).
    pub(crate) fn unhold(&self, org_id: &str, id: &str) {
        let Some(org) = self.orgs.lock().expect("lease map").get(org_id).cloned() else { return };
        let mut g = org.state.lock().expect("lease");
        if let Some(st) = g.as_mut() {
            if let Some((_, a)) = st.held.remove(id) {
                sub(&mut st.reserved, &a);
            }
        }
    }

    /// Usage recorded by this process: the view counts it at once.
    pub(crate) fn apply_usage(&self, org_id: &str, days: &DayUnits, settled: &[&str]) {
        let Some(org) = self.orgs.lock().expect("lease map").get(org_id).cloned() else { return };
        let mut g = org.state.lock().expect("lease");
        let Some(st) = g.as_mut() else { return };
        let month = window(st.tz, Period::Month, st.day.start_ms);
        for (start, units) in &days.0 {
            if *start == st.day.start_ms {
                add(&mut st.used_day, units);
            }
            if *start >= month.start_ms && *start < month.end_ms {
                add(&mut st.used_month, units);
            }
        }
        for id in settled {
            if let Some((_, a)) = st.held.remove(*id) {
                sub(&mut st.reserved, &a);
            }
        }
    }

    /// Drops the organization's view (its time zone changed): the next
    /// decision renews.
    pub(crate) fn forget(&self, org_id: &str) {
        if let Some(org) = self.orgs.lock().expect("lease map").get(org_id).cloned() {
            *org.state.lock().expect("lease") = None;
        }
    }
}

/// How much slack a renewal adds to one limit: enough to hold `want` in
/// all (`kept` is what the process still holds), never more than half of
/// what is `free`, so other processes find room; but an ask (`need`) that
/// fits in what is free gets what it lacks, even the last unit.
fn top_up(free: i64, kept: i64, want: i64, need: i64) -> i64 {
    let top_up = want.saturating_sub(kept).max(0).min(free / 2);
    let short = need.saturating_sub(kept);
    if short > top_up && short <= free {
        short
    } else {
        top_up
    }
}

/// Renews the organization's lease in a task of its own, unless one is
/// already on its way.
fn renew_in_background<H: Hooks>(db: &Db, org_id: &str, org: &Arc<OrgLease>, hooks: &H) {
    if org.renewing.swap(true, Ordering::SeqCst) {
        return;
    }
    let (db, org_id, org, hooks) = (db.clone(), org_id.to_string(), org.clone(), hooks.clone());
    tokio::spawn(async move {
        if let Err(e) = db.quota_leases().renew(&db, &org_id, &Units::default(), &hooks, false).await {
            tracing::warn!(error = %e, org_id, "renewing a quota lease failed");
        }
        org.renewing.store(false, Ordering::SeqCst);
    });
}


#[cfg(test)]
mod tests {
    use super::top_up;

    #[test]
    fn a_renewal_takes_at_most_half_of_what_is_free() {
        assert_eq!(top_up(1_000, 0, 5_000, 1), 500);
        assert_eq!(top_up(1_000, 0, 100, 1), 100, "no more than the traffic wants");
        assert_eq!(top_up(1_000, 80, 100, 1), 20, "what is kept counts");
        assert_eq!(top_up(1_000, 200, 100, 1), 0, "slack is never taken back while in use");
    }

    #[test]
    fn an_ask_that_fits_gets_even_the_last_units() {
        assert_eq!(top_up(1, 0, 32, 1), 1, "half of 1 is 0, but the ask fits");
        assert_eq!(top_up(10, 0, 320, 10), 10);
        assert_eq!(top_up(10, 4, 320, 10), 6, "what is kept plus what is added holds the ask");
        assert_eq!(top_up(9, 0, 320, 10), 4, "an ask that does not fit gets the usual share; it is refused");
        assert_eq!(top_up(0, 0, 320, 10), 0);
    }
}
