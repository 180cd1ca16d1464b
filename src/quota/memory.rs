//! The in-memory ledger used on SQLite, where one server process owns the
//! database: per organization, the limits in force, what the current day and
//! month used, and the active reservations. A decision is a mutex-protected
//! arithmetic step (microseconds); every granted reservation is written
//! through to the database at once: queued to a writer that commits all
//! waiting reservations in one transaction (group commit), typically within a
//! millisecond. Reading or settling a reservation waits for that queue
//! first. A crash within that millisecond forgets the reservation (its
//! amounts are freed early); usage itself is never in memory only.
//!
//! Consistency with the database:
//! - an organization's state is loaded (limits, counters) through the single
//!   writer connection, so no ingest transaction is in flight meanwhile;
//! - ingest adds its units to a loaded state while it still holds that
//!   writer, just before committing (and drops the state if the commit fails);
//! - the caps (pause budgets) are loaded with the limits, each with its
//!   spend in its current period; ingest sets the spend it counted in the
//!   same step that adds the day counters and unholds the reservation it
//!   settles, so a decision sees a committed reservation either held or
//!   spent, never both and never neither;
//! - limits or caps changed by an admin bump an epoch, and a new day (or
//!   five seconds, for changes made by another process) reloads; a
//!   reload keeps the reservations held in memory (they are authoritative
//!   here; the first load reads them from the database);
//! - a state being replaced is retired under its lock, so a decision that
//!   raced the reload retries on the new state instead of being lost.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono_tz::Tz;
use tokio::sync::{mpsc, oneshot, OnceCell};

use super::caps::{Cap, CapSpent, Subject};
use super::counters::Counted;
use super::rules::Ask;
use super::users::{self, Effective, UserBook, UserCheck, UserUse};
use super::rules::Tally;
use super::store::{self, NewReservation};
use super::{Hooks, Units, COST};
use crate::calendar::{window, zone, Window};
use crate::db::{Db, Engine};
use crate::error::Refusal;
use crate::plans::{OrgPlan, Period};
use crate::{Error, Result};

/// How long limits and counters are trusted before being read again: a
/// change made by another process (the CLI's `set-plan`) is seen this soon.
/// Changes made through this process are seen at once (the epoch).
const RELOAD_EVERY: Duration = Duration::from_secs(5);

/// A reservation held in memory, with whom it is for (the caps covering
/// that caller count its cost).
#[derive(Debug, Clone)]
struct Held {
    expires_at: i64,
    amounts: Units,
    who: Subject,
}

/// One organization's ledger.
#[derive(Debug)]
pub(crate) struct OrgState {
    epoch: u64,
    loaded_at: Instant,
    retired: bool,
    pub plan: OrgPlan,
    pub tz: Tz,
    day: Window,
    month: Window,
    used_day: Units,
    used_month: Units,
    held: HashMap<String, Held>,
    reserved: Units,
    /// The organization's caps with their spend in their current period.
    caps: Vec<Cap>,
    /// Per-user limit settings and overrides.
    pub users: UserBook,
    /// What each end user with limits used in the current day and month,
    /// loaded at its first reservation ([`Memory::load_user`]) and kept up
    /// by ingest like the organization's counters.
    user_used: HashMap<String, (Units, Units)>,
}

impl OrgState {
    pub fn is_retired(&self) -> bool {
        self.retired
    }

    /// Drops expired reservations (they stop counting at their expiry).
    pub fn prune(&mut self, now_ms: i64) {
        let reserved = &mut self.reserved;
        self.held.retain(|_, h| {
            let keep = h.expires_at > now_ms;
            if !keep {
                sub(reserved, &h.amounts);
            }
            keep
        });
    }

    pub fn tally(&self, resources: Vec<(crate::plans::Metric, i64)>) -> Tally {
        Tally { day: self.used_day, month: self.used_month, reserved: self.reserved, resources }
    }

    pub fn hold(&mut self, id: &str, expires_at: i64, amounts: Units, who: &Subject) {
        add(&mut self.reserved, &amounts);
        self.held.insert(id.to_string(), Held { expires_at, amounts, who: who.clone() });
    }

    /// The first cap covering `who` that refuses `cost` more, as its owner
    /// judges it from the cap's spend and the cost held by the reservations
    /// it covers (call [`prune`](Self::prune) first). Organizations without
    /// caps pay nothing for this; with them, it is one pass over the held
    /// reservations per covering cap.
    pub fn refused_by_caps(&self, who: &Subject, cost: i64, now_ms: i64, hooks: &impl Hooks) -> Option<Refusal> {
        self.caps.iter().filter(|c| c.covers.covers(who)).find_map(|cap| {
            let (mut held, mut calls) = (0i64, 0i64);
            for h in self.held.values().filter(|h| h.amounts[COST] > 0 && cap.covers.covers(&h.who)) {
                held = held.saturating_add(h.amounts[COST]);
                calls += 1;
            }
            hooks.judge(cap, held, calls, cost, now_ms)
        })
    }

    pub fn unhold(&mut self, id: &str) {
        if let Some(h) = self.held.remove(id) {
            sub(&mut self.reserved, &h.amounts);
        }
    }

    /// The per-user limits of the caller (`Free` without a user).
    pub fn user_limits(&self, who: &Subject) -> Effective {
        self.users.effective(who.user_id.as_deref())
    }

    /// The user whose use must be loaded before deciding, if any.
    pub fn needs_user(&self, who: &Subject) -> Option<String> {
        let user = who.user_id.as_deref()?;
        (matches!(self.user_limits(who), Effective::Limited(_)) && !self.user_used.contains_key(user)).then(|| user.to_string())
    }

    /// What the caller's per-user limits make of `asks` (call
    /// [`prune`](Self::prune) first).
    pub fn user_check(&self, who: &Subject, asks: &[Ask], now_ms: i64) -> UserCheck {
        let Some(user) = who.user_id.as_deref() else { return UserCheck::Free };
        let eff = self.user_limits(who);
        let used = match eff {
            Effective::Limited(_) => match self.user_use(user) {
                Some(u) => u,
                None => return UserCheck::Load,
            },
            _ => UserUse::default(),
        };
        users::decide(user, &eff, &used, self.tz, now_ms, asks)
    }

    /// The user's use and what its reservations in flight hold (call
    /// [`prune`](Self::prune) first); `None` when not loaded.
    fn user_use(&self, user_id: &str) -> Option<UserUse> {
        let (day, month) = *self.user_used.get(user_id)?;
        let mut held = Units::default();
        for h in self.held.values().filter(|h| h.who.user_id.as_deref() == Some(user_id)) {
            add(&mut held, &h.amounts);
        }
        Some(UserUse { day, month, held })
    }
}

// Saturating: an overflow must never panic while the ledger's lock is held
// (a poisoned lock would refuse every later call of the organization).
// Asks are capped far below (quota::rules::MAX_ASK), so this never clips.
pub(super) fn add(a: &mut Units, b: &Units) {
    for (x, y) in a.iter_mut().zip(b) {
        *x = x.saturating_add(*y);
    }
}

pub(super) fn sub(a: &mut Units, b: &Units) {
    for (x, y) in a.iter_mut().zip(b) {
        *x = x.saturating_sub(*y);
    }
}

/// A handle on the reservation writer's queue.
pub(crate) struct Inserter(mpsc::UnboundedSender<Job>);

impl Inserter {
    /// Queues a granted reservation for the next group commit.
    pub fn insert(&self, row: NewReservation) -> Result<()> {
        self.0.send(Job::Insert(row)).map_err(|_| Error::Unavailable("the reservation writer stopped; retry".into()))
    }
}

/// Work for the writer: a granted reservation to store (and the organization
/// to correct if storing fails), a release (answered with whether it
/// released an active reservation, once committed), or a barrier answered
/// once everything queued before it is committed.
enum Job {
    Insert(NewReservation),
    Release(Release),
    Barrier(oneshot::Sender<()>),
}

/// A reservation to release at `at_ms`.
struct Release {
    org_id: String,
    id: String,
    at_ms: i64,
    done: oneshot::Sender<Result<Option<store::Stored>>>,
}

/// The ledgers of every organization of one database.
#[derive(Debug, Default)]
pub struct Memory {
    epoch: AtomicU64,
    orgs: Mutex<HashMap<String, Arc<Mutex<OrgState>>>>,
    writer: OnceCell<mpsc::UnboundedSender<Job>>,
    /// Organizations whose queued reservation failed to store.
    failed: Arc<Mutex<Vec<String>>>,
}

impl Memory {
    /// The current limits epoch.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// Limits changed somewhere: every state reloads them on next use.
    pub fn bump(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }

    fn fresh(&self, org_id: &str, now_ms: i64) -> Option<Arc<Mutex<OrgState>>> {
        let orgs = self.orgs.lock().expect("ledger map");
        let st = orgs.get(org_id)?;
        let g = st.lock().expect("org ledger");
        (g.epoch == self.epoch.load(Ordering::SeqCst)
            && g.loaded_at.elapsed() < RELOAD_EVERY
            && now_ms < g.day.end_ms
            && now_ms >= g.day.start_ms
            && !g.retired)
            .then(|| st.clone())
    }

    /// The organization's current state, loading it when missing or stale
    /// (its caps through `hooks`).
    pub async fn state(&self, db: &Db, org_id: &str, now_ms: i64, hooks: &impl Hooks) -> Result<Arc<Mutex<OrgState>>> {
        if let Some(st) = self.fresh(org_id, now_ms) {
            return Ok(st);
        }
        // Through the writer: no ingest transaction is in flight while loading.
        let mut conn = db.writer().acquire().await?;
        if let Some(st) = self.fresh(org_id, now_ms) {
            return Ok(st);
        }
        let epoch = self.epoch.load(Ordering::SeqCst);
        let plan = crate::plans::store::org_plan(&mut conn, org_id).await?;
        let tz = zone(&plan.time_zone);
        let (used_day, used_month) = super::counters::current(&mut conn, org_id, tz, now_ms).await?;
        let caps = hooks.caps(&mut conn, org_id, tz, now_ms).await?;
        let users = store::users::book(&mut conn, org_id).await?;
        let day = window(tz, Period::Day, now_ms);
        let old = self.orgs.lock().expect("ledger map").get(org_id).cloned();
        let (mut held, user_used) = match &old {
            Some(old) => {
                let mut g = old.lock().expect("org ledger");
                g.retired = true;
                // The users' counters carry over within the day (ingest kept them up).
                let user_used = if g.day == day { std::mem::take(&mut g.user_used) } else { HashMap::new() };
                (std::mem::take(&mut g.held), user_used)
            }
            None => (
                store::active(&mut conn, org_id, now_ms)
                    .await?
                    .into_iter()
                    .map(|a| (a.id, Held { expires_at: a.expires_at, amounts: a.amounts, who: a.who }))
                    .collect(),
                HashMap::new(),
            ),
        };
        held.retain(|_, h| h.expires_at > now_ms);
        let mut reserved = Units::default();
        for h in held.values() {
            add(&mut reserved, &h.amounts);
        }
        let st = Arc::new(Mutex::new(OrgState {
            epoch,
            loaded_at: Instant::now(),
            retired: false,
            day,
            month: window(tz, Period::Month, now_ms),
            plan,
            tz,
            used_day,
            used_month,
            held,
            reserved,
            caps,
            users,
            user_used,
        }));
        self.orgs.lock().expect("ledger map").insert(org_id.to_string(), st.clone());
        drop(conn);
        Ok(st)
    }

    /// Loads what an end user used this day and month into the state
    /// (through the writer, so no ingest transaction is in flight meanwhile;
    /// ingest keeps it up from then on).
    pub async fn load_user(&self, db: &Db, st: &Arc<Mutex<OrgState>>, org_id: &str, user_id: &str, now_ms: i64) -> Result<()> {
        let mut conn = db.writer().acquire().await?;
        let (day, month) = {
            let g = st.lock().expect("org ledger");
            (g.day, g.month)
        };
        let used = store::users::user_use(&mut conn, org_id, user_id, month, day.start_ms, now_ms).await?;
        let mut g = st.lock().expect("org ledger");
        if !g.retired && g.day == day {
            g.user_used.insert(user_id.to_string(), (used.day, used.month));
        }
        Ok(())
    }

    /// Adds a committing batch's units to a loaded state (the organization's
    /// and its end users'), sets the spend of the caps it counted, and
    /// unholds the reservation it settles: one step under the state's lock
    /// (called holding the writer, just before commit).
    pub fn apply_usage(&self, org_id: &str, counted: &Counted, caps: &[CapSpent], settled: &[&str]) {
        let Some(st) = self.orgs.lock().expect("ledger map").get(org_id).cloned() else { return };
        let mut g = st.lock().expect("org ledger");
        for (start, units) in &counted.days.0 {
            if *start == g.day.start_ms {
                add(&mut g.used_day, units);
            }
            if *start >= g.month.start_ms && *start < g.month.end_ms {
                add(&mut g.used_month, units);
            }
        }
        let (day, month) = (g.day, g.month);
        for ((user, start), units) in &counted.users.0 {
            if let Some((used_day, used_month)) = g.user_used.get_mut(user) {
                if *start == day.start_ms {
                    add(used_day, units);
                }
                if *start >= month.start_ms && *start < month.end_ms {
                    add(used_month, units);
                }
            }
        }
        for c in caps {
            if let Some(cap) = g.caps.iter_mut().find(|cap| cap.id == c.id && cap.window.start_ms == c.period_start) {
                cap.spent = c.spent;
            }
        }
        for id in settled {
            g.unhold(id);
        }
    }

    /// Forgets a reservation (released or committed).
    pub fn unhold(&self, org_id: &str, id: &str) {
        if let Some(st) = self.orgs.lock().expect("ledger map").get(org_id).cloned() {
            st.lock().expect("org ledger").unhold(id);
        }
    }

    /// Drops an organization's state (after a failed commit); the next use
    /// reloads it from the database.
    pub fn forget(&self, org_id: &str) {
        if let Some(st) = self.orgs.lock().expect("ledger map").remove(org_id) {
            st.lock().expect("org ledger").retired = true;
        }
    }

    async fn writer(&self, db: &Db) -> &mpsc::UnboundedSender<Job> {
        self.writer
            .get_or_init(|| async {
                let (tx, rx) = mpsc::unbounded_channel();
                tokio::spawn(group_commit(db.writer().clone(), db.engine, self.failed.clone(), rx));
                tx
            })
            .await
    }

    /// Writes a granted reservation through to the database: queued at once
    /// to the writer, which commits everything waiting in one transaction
    /// (group commit), typically within a millisecond. The caller answers
    /// without waiting for that commit (the decision is already final in
    /// memory); anything that reads or settles reservations first
    /// [`flush`](Self::flush)es, so it always finds the row.
    pub async fn write_through(&self, db: &Db, row: NewReservation) -> Result<()> {
        self.forget_failed();
        self.writer(db)
            .await
            .send(Job::Insert(row))
            .map_err(|_| Error::Unavailable("the reservation writer stopped; retry".into()))
    }

    /// The queue of reservations to store, for a caller that must queue
    /// under its own lock (the leases): [`Inserter::insert`] never waits.
    pub(crate) async fn inserter(&self, db: &Db) -> Inserter {
        Inserter(self.writer(db).await.clone())
    }

    /// Releases a reservation with the next group commit (after everything
    /// queued before it, its own grant included): as stored once released,
    /// or `None` when it was not active. Releases arriving together share
    /// one transaction, as grants do.
    pub async fn release(&self, db: &Db, org_id: &str, id: &str, at_ms: i64) -> Result<Option<store::Stored>> {
        let stopped = || Error::Unavailable("the reservation writer stopped; retry".into());
        let (done, answer) = oneshot::channel();
        let job = Job::Release(Release { org_id: org_id.to_string(), id: id.to_string(), at_ms, done });
        self.writer(db).await.send(job).map_err(|_| stopped())?;
        let released = answer.await.map_err(|_| stopped())??;
        self.forget_failed();
        Ok(released)
    }

    /// Waits until every reservation queued so far is committed.
    pub async fn flush(&self) -> Result<()> {
        let Some(tx) = self.writer.get() else { return Ok(()) };
        let (done_tx, done_rx) = oneshot::channel();
        tx.send(Job::Barrier(done_tx)).map_err(|_| Error::Unavailable("the reservation writer stopped; retry".into()))?;
        done_rx.await.map_err(|_| Error::Unavailable("the reservation writer stopped; retry".into()))?;
        self.forget_failed();
        Ok(())
    }

    /// A reservation that could not be stored (its organization deleted, a
    /// failing disk) must not keep holding its amounts: its organization is
    /// reloaded from the database.
    fn forget_failed(&self) {
        let failed: Vec<String> = std::mem::take(&mut *self.failed.lock().expect("failed writes"));
        for org in failed {
            self.forget(&org);
        }
    }
}

impl Db {
    /// The in-memory quota ledger of this database (used on SQLite).
    pub(crate) fn quota_memory(&self) -> Arc<Memory> {
        self.state()
    }
}

/// Commits waiting reservations together: one transaction for everything
/// queued while the previous one committed. If a batch fails, each of its
/// reservations is tried alone so one bad row fails only itself.
async fn group_commit(pool: sqlx::AnyPool, engine: Engine, failed: Arc<Mutex<Vec<String>>>, mut rx: mpsc::UnboundedReceiver<Job>) {
    // The task holds the writer pool (not the ledger), so it ends when the
    // ledger, and with it the sender, is dropped.
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < 500 {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        // Grants first, then releases: a release never overtakes its own
        // grant (both come through this queue in order).
        let (mut rows, mut releases): (Vec<&NewReservation>, Vec<&Release>) = (Vec::new(), Vec::new());
        for job in &jobs {
            match job {
                Job::Insert(r) => rows.push(r),
                Job::Release(r) => releases.push(r),
                Job::Barrier(_) => {}
            }
        }
        if !rows.is_empty() && write(&pool, engine, &rows).await.is_err() {
            for row in rows {
                if let Err(e) = write(&pool, engine, &[row]).await {
                    tracing::error!(error = ?e, reservation = %row.id, org_id = %row.org_id, "storing a granted reservation failed");
                    failed.lock().expect("failed writes").push(row.org_id.clone());
                }
            }
        }
        let mut released = if releases.is_empty() { Ok(HashMap::new()) } else { release_all(&pool, engine, &releases).await };
        for job in jobs {
            match job {
                Job::Barrier(done) => {
                    let _ = done.send(());
                }
                Job::Release(r) => {
                    let answer = match &mut released {
                        Ok(stored) => Ok(stored.remove(&r.id)),
                        Err(e) => Err(Error::Unavailable(format!("releasing the reservation failed: {e}; retry"))),
                    };
                    let _ = r.done.send(answer);
                }
                Job::Insert(_) => {}
            }
        }
    }
}

/// Releases in one transaction, at the latest time asked: the ones that
/// were active, by id.
async fn release_all(pool: &sqlx::AnyPool, engine: Engine, releases: &[&Release]) -> Result<HashMap<String, store::Stored>> {
    let at = releases.iter().map(|r| r.at_ms).max().unwrap_or_default();
    let pairs: Vec<(&str, &str)> = releases.iter().map(|r| (r.org_id.as_str(), r.id.as_str())).collect();
    let mut tx = pool.begin().await?;
    let released = store::release_many(&mut tx, engine, &pairs, at).await?;
    tx.commit().await?;
    Ok(released)
}

async fn write(pool: &sqlx::AnyPool, engine: Engine, rows: &[&NewReservation]) -> Result<()> {
    let mut tx = pool.begin().await?;
    store::insert(&mut tx, engine, rows).await?;
    tx.commit().await?;
    Ok(())
}
