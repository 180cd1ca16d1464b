//! Ingest: record a batch of usage, then fan it out.
//!
//! One entry point for every way usage arrives (the ingest API, the commit
//! of a reservation, and the gateway): [`record`]. It prices and folds the
//! batch ([`crate::metering`], pure), stores the events, and hands the
//! [`Recorded`] value to the modules that react to usage, in one
//! transaction and in this order (**the ingest order**):
//!
//! In the transaction, after the events are inserted
//! ([`metering::store::insert_batch`]):
//! 1. `metering`: the narrow rollups (organization and model by UTC hour
//!    and day with their latency histograms; user, project, feature and
//!    session by day; the lifetime totals), folded before the transaction
//!    ([`metering::analytics::store::write`]); then the partly priced events'
//!    gaps and the names priced by another entry
//!    ([`metering::store::record_pricing`]);
//! 2. `quota`: the usage counters of each local day, the organization's and
//!    each end user's, and each end user's month totals ([`quota::counters`]);
//! 3. `budgets`: each covering budget's spend counter for its period, and
//!    the thresholds the batch crosses ([`budgets::enforce`]); the counters'
//!    new values are returned for step 5;
//! 4. `alerts`: an alert (and its notifications in the outbox) per threshold
//!    crossed ([`alerts::budget`]); then, when an endpoint of the
//!    organization receives `usage.recorded`, one row with the ids stored,
//!    for its batched webhooks ([`alerts::usage_hooks`]; one row a batch,
//!    none for organizations without such an endpoint).
//!
//! Then, still holding the write lock: the price book must not have moved
//! (else the attempt is priced again), and
//! 5. `quota`: the in-memory ledger (SQLite) learns the day counters and the
//!    pause budgets' new spend, and unholds the reservation being settled,
//!    in one step just before the commit (so no decision sees that
//!    reservation both held and spent, or neither); it forgets the
//!    organization if the commit fails.
//!
//! After the commit, when anything was stored:
//! 6. `alerts`: the activity checks (spend spike, error rate, latency), at
//!    most every few seconds per organization.
//!
//! A new reaction to recorded usage is a step of [`fan_out`] (in the
//! transaction) or of [`after_commit`], at the place its dependencies allow.

use serde::Serialize;

use crate::alerts;
use crate::budgets::enforce;
use crate::calendar::zone;
use crate::clock::now_ms;
use crate::db::Db;
use crate::ids::is_valid_id;
use crate::metering::{self, Batch, EventResult, Outcome, ParsedEvent, Pricing, Recorded, Sender};
use crate::quota::{self, counters::Counted, CapSpent, ReservationView};
use crate::{Error, Result};

/// Attempts at a batch when the price book, or the set of stored ids,
/// changes while it is being stored.
const ATTEMPTS: usize = 4;

/// Records a batch: each parsed event is priced with the price in force at its
/// timestamp and stored, and the reactions run, all in one transaction
/// committed before this returns. An id already stored for the organization,
/// or repeated within the batch, is a duplicate and counts nothing twice.
/// Events that failed to parse come back rejected, in their place.
pub async fn record_usage(db: &Db, sender: &Sender, events: Vec<ParsedEvent>) -> Result<Vec<EventResult>> {
    match record(db, sender, events, None).await? {
        Ingested::Stored(results) => Ok(results),
        Ingested::AlreadyCommitted => Err(Error::Internal("no reservation to settle".into())),
    }
}

/// What [`record`] did.
#[derive(Debug)]
pub enum Ingested {
    /// The batch is stored; one result per event, in order.
    Stored(Vec<EventResult>),
    /// The reservation it was to settle was committed before: nothing stored.
    AlreadyCommitted,
}

/// Records a batch and, when `settle` names a reservation of the sender's
/// organization, commits that reservation in the same transaction (its held
/// amounts are released as the actual usage lands). A reservation committed
/// before makes this store nothing, so a repeated commit counts once.
///
/// The work is done before the write transaction where it can be, so that
/// concurrent batches overlap: pricing with the in-memory price cache and
/// folding the rollups. The transaction then inserts the events with
/// multi-row INSERTs and checks, holding the write lock, that every one was
/// inserted and that the price book did not change meanwhile. If an id was
/// already stored (a retry), the attempt rolls back, reads which ids are
/// stored and stores only the others; if the price book moved, it reprices.
/// So nothing is priced with stale prices or counted twice.
pub async fn record(db: &Db, sender: &Sender, events: Vec<ParsedEvent>, settle: Option<&str>) -> Result<Ingested> {
    match settle {
        Some(id) => record_settling(db, sender, events, Settle::Once(id)).await,
        None => record_settling(db, sender, events, Settle::Each(&[])).await,
    }
}

/// The reservations a batch commits.
#[derive(Debug, Clone, Copy)]
pub enum Settle<'a> {
    /// One reservation committed with its actual usage (the REST commit):
    /// if it was committed before, the batch stores nothing
    /// ([`Ingested::AlreadyCommitted`]), so a repeated commit counts once.
    Once(&'a str),
    /// The reservations of several calls recorded together (the gateway's
    /// group commit): each is committed; one no longer active (expired,
    /// released) stops nothing, usage being a fact, and the events' own ids
    /// keep a call from counting twice.
    Each(&'a [String]),
}

/// [`record`], committing the reservations `settle` names in the batch's
/// transaction.
pub async fn record_settling(db: &Db, sender: &Sender, events: Vec<ParsedEvent>, settle: Settle<'_>) -> Result<Ingested> {
    let batch = Batch::fold(events)?;
    let client_ids = batch.client_ids();
    let received_at = now_ms();
    // Optimistic: most batches hold only new ids. If the insert finds some
    // already stored, the attempt is rolled back and the next one skips them.
    let mut stored = metering::Stored::new();
    for _ in 0..ATTEMPTS {
        let priced = batch.price(db).await?;
        let recorded = batch.recorded(&priced, sender, &stored, received_at);

        let mut tx = db.begin().await?;
        let settled: Vec<&str> = match settle {
            Settle::Once(id) => {
                if !quota::store::settle(&mut tx, &sender.org_id, id, "committed", now_ms()).await? {
                    tx.rollback().await?;
                    return match quota::store::get(&mut *db.reader().acquire().await?, &sender.org_id, id).await? {
                        Some(_) => Ok(Ingested::AlreadyCommitted),
                        None => Err(Error::NotFound("reservation")),
                    };
                }
                vec![id]
            }
            Settle::Each(ids) => {
                quota::store::commit_all(&mut tx, &sender.org_id, ids, now_ms()).await?;
                ids.iter().map(String::as_str).collect()
            }
        };
        let time_zone = crate::orgs::store::time_zone(&mut tx, &sender.org_id).await?.ok_or(Error::NotFound("organization"))?;
        if !metering::store::insert_batch(&mut tx, db.engine, &recorded, received_at).await? {
            // Some ids are stored already (a retry, or the same id sent
            // concurrently): look them up and store only the others.
            tx.rollback().await?;
            let mut conn = db.reader().acquire().await?;
            stored = metering::store::stored_costs(&mut conn, db.engine, &sender.org_id, &client_ids).await?;
            continue;
        }
        let (counted, budget_spend) = fan_out(&mut tx, db, &recorded, &time_zone, now_ms()).await?;
        if crate::pricing::cache::version(&mut tx).await? != priced.version {
            tx.rollback().await?;
            continue;
        }
        // 5. The in-memory quota ledger (SQLite) learns of the usage while
        // this transaction still holds the single writer; if the commit
        // fails it forgets the organization and reloads from the database.
        let ledger = db.quota_memory();
        ledger.apply_usage(&sender.org_id, &counted, &budget_spend, &settled);
        if let Err(e) = tx.commit().await {
            ledger.forget(&sender.org_id);
            return Err(e.into());
        }
        // PostgreSQL: this process's view of its quota lease counts it too.
        db.quota_leases().apply_usage(&sender.org_id, &counted.days, &settled);
        if !recorded.is_empty() {
            metering::analytics::pending::note_batch(db, now_ms());
            after_commit(db, &sender.org_id, now_ms()).await;
        }
        drop(recorded);
        let answers = batch.answers(&priced, &stored);
        count(db, &answers);
        return Ok(Ingested::Stored(answers));
    }
    Err(Error::Unavailable("the price book or these event ids kept changing while this batch was stored; send it again".into()))
}

/// The operator's event counters: accepted (of which unpriced, partly priced), duplicate, rejected.
fn count(db: &Db, answers: &[EventResult]) {
    let m = db.metrics();
    let n = |f: &dyn Fn(&EventResult) -> bool| answers.iter().filter(|r| f(r)).count() as u64;
    m.count_events("accepted", n(&|r| r.status == Outcome::Accepted));
    m.count_events("unpriced", n(&|r| r.status == Outcome::Accepted && r.priced == Some(Pricing::Unpriced)));
    m.count_events("partly_priced", n(&|r| r.status == Outcome::Accepted && r.priced == Some(Pricing::Partial)));
    m.count_events("duplicate", n(&|r| r.status == Outcome::Duplicate));
    m.count_events("rejected", n(&|r| r.status == Outcome::Rejected));
}

/// Steps 1 to 4 of the ingest order, in the batch's transaction after its
/// events are inserted. Returns the day counters' units and the budgets'
/// new spend, for the ledger.
async fn fan_out(
    conn: &mut sqlx::AnyConnection,
    db: &Db,
    recorded: &Recorded<'_>,
    time_zone: &str,
    now: i64,
) -> Result<(Counted, Vec<CapSpent>)> {
    // 1. metering: the narrow rollups, the pricing gaps and resolved names.
    metering::analytics::store::write(&mut *conn, db.engine, recorded.org_id, &recorded.rollup).await?;
    metering::analytics::pending::append(&mut *conn, db.engine, recorded.org_id, recorded.backfilled()).await?;
    metering::store::record_pricing(&mut *conn, recorded).await?;
    // 2. quota: the usage counters of each local day, the organization's
    // and each end user's, and each end user's month totals.
    let counted = quota::counters::on_recorded(&mut *conn, db.engine, recorded, zone(time_zone)).await?;
    // 3. budgets: the spend counters, and the thresholds crossed.
    let spent = enforce::on_recorded(&mut *conn, recorded, time_zone, now).await?;
    // 4. alerts: one alert per threshold crossed, with its notifications;
    // the batch's ids for usage.recorded webhooks.
    alerts::budget::on_crossings(&mut *conn, recorded.org_id, &spent.crossings, now).await?;
    alerts::usage_hooks::on_recorded(&mut *conn, recorded, now).await?;
    Ok((counted, spent.spent))
}

/// Step 6 of the ingest order, after a batch that stored something
/// committed. Nothing here fails the batch.
async fn after_commit(db: &Db, org_id: &str, now: i64) {
    // 6. alerts: spend spike, error rate and latency.
    alerts::activity::after_commit(db, org_id, now).await;
}

/// The result of a commit.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Committed {
    #[serde(flatten)]
    pub reservation: ReservationView,
    /// False when this commit repeated an earlier one (nothing was recorded).
    pub recorded: bool,
    pub results: Vec<EventResult>,
}

/// Commits a reservation with the actual usage: the events are recorded as
/// by the ingest API and the reservation's held amounts are released, in one
/// transaction. A second commit records nothing and says so. Committing an
/// expired or released reservation still records the events (usage is a
/// fact).
pub async fn commit_reservation(db: &Db, sender: &Sender, id: &str, events: Vec<ParsedEvent>) -> Result<Committed> {
    if !is_valid_id(id) {
        return Err(Error::NotFound("reservation"));
    }
    quota::flush(db).await?;
    let (recorded, results) = match record(db, sender, events, Some(id)).await? {
        Ingested::Stored(results) => (true, results),
        Ingested::AlreadyCommitted => (false, Vec::new()),
    };
    Ok(Committed { reservation: quota::get_reservation(db, &sender.org_id, id).await?, recorded, results })
}
