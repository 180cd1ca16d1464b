//! `record_usage`: price a batch of events and store it in one transaction.

use std::collections::HashMap;

use serde::Serialize;

use super::event::{NewEvent, ParsedEvent};
use super::rollup::Rollup;
use super::store::{self, BatchOf, EventRow};
use crate::clock::now_ms;
use crate::db::Db;
use crate::ids::new_id;
use crate::pricing::cache;
use crate::pricing::store::{in_force, PriceRow};
use crate::pricing::{cost, NanoUsd};
use crate::alerts;
use crate::budgets::enforce::{self, Spend};
use crate::quota::{self, counters::DayUnits};
use crate::{Error, Result};

/// Largest batch the ingest API takes.
pub const MAX_BATCH: usize = 1000;

/// What happened to one event of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Accepted,
    Duplicate,
    Rejected,
}

/// The per-event answer of the ingest API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventResult {
    /// The client's id, the generated one, or `null` for an event rejected before it had one.
    pub id: Option<String>,
    pub status: Outcome,
    /// Exact cost in USD as a decimal string; `null` when unpriced or rejected.
    pub cost_usd: Option<String>,
    /// Whether a price was found for the model (false: stored as unpriced).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priced: Option<bool>,
    /// Why the event was rejected, naming the field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl EventResult {
    fn rejected(id: Option<String>, e: &Error) -> Self {
        EventResult { id, status: Outcome::Rejected, cost_usd: None, priced: None, error: Some(e.public_message()) }
    }
}

/// Who sends the batch: the organization and, for API calls, the key.
#[derive(Debug, Clone)]
pub struct Sender {
    pub org_id: String,
    pub api_key_id: Option<String>,
}

/// An event of the batch with its id (the client's or a generated one).
struct Item {
    id: String,
    /// Whether the client sent the id (a generated one is new by construction).
    client_id: bool,
    event: NewEvent,
}

/// One position of the batch, in the order received.
enum Slot {
    /// Refused by the parser.
    Rejected(EventResult),
    /// The first event of the batch with its id (index into the items).
    First(usize),
    /// A later event of the same batch with an id seen before in it.
    Repeat(usize),
}

/// Attempts at a batch when the price book, or the set of stored ids,
/// changes while it is being stored.
const ATTEMPTS: usize = 4;

/// Records a batch: each parsed event is priced with the price in force at its
/// timestamp and stored, and the rollups are updated, all in one transaction
/// committed before this returns. An id already stored for the organization,
/// or repeated within the batch, is a duplicate and counts nothing twice.
/// Events that failed to parse come back rejected, in their place.
///
/// The work is done before the write transaction where it can be, so that
/// concurrent batches overlap: pricing with the in-memory
/// [`PriceCache`](crate::pricing::cache) and folding the rollups. The
/// transaction then inserts the events with multi-row INSERTs and checks,
/// holding the write lock, that every one was inserted and that the price
/// book did not change meanwhile. If an id was already stored (a retry), the
/// attempt rolls back, reads which ids are stored and stores only the others;
/// if the price book moved, it reprices. So nothing is priced with stale
/// prices or counted twice.
pub async fn record_usage(db: &Db, sender: &Sender, events: Vec<ParsedEvent>) -> Result<Vec<EventResult>> {
    match record(db, sender, events, None).await? {
        Recorded::Stored(results) => Ok(results),
        Recorded::AlreadyCommitted => Err(Error::Internal("no reservation to settle".into())),
    }
}

/// What [`record`] did.
#[derive(Debug)]
pub enum Recorded {
    /// The batch is stored; one result per event, in order.
    Stored(Vec<EventResult>),
    /// The reservation it was to settle was committed before: nothing stored.
    AlreadyCommitted,
}

/// Records a batch and, when `settle` names a reservation of the sender's
/// organization, commits that reservation in the same transaction (its held
/// amounts are released as the actual usage lands). A reservation committed
/// before makes this store nothing, so a repeated commit counts once.
pub async fn record(db: &Db, sender: &Sender, events: Vec<ParsedEvent>, settle: Option<&str>) -> Result<Recorded> {
    if events.len() > MAX_BATCH {
        return Err(Error::invalid("events", format!("at most {MAX_BATCH} events per request")));
    }
    let (slots, items) = fold(events);
    let batch = BatchOf { engine: db.engine, org_id: &sender.org_id, api_key_id: sender.api_key_id.as_deref(), received_at: now_ms() };
    let client_ids: Vec<&str> = items.iter().filter(|i| i.client_id).map(|i| i.id.as_str()).collect();
    // Optimistic: most batches hold only new ids. If the insert finds some
    // already stored, the attempt is rolled back and the next one skips them.
    let mut stored: HashMap<String, Option<i64>> = HashMap::new();
    for _ in 0..ATTEMPTS {
        let (version, histories) = {
            let mut conn = db.reader().acquire().await?;
            let version = cache::version(&mut conn).await?;
            let models = items.iter().map(|i| i.event.model.as_str());
            (version, db.price_cache().histories(&mut conn, version, models).await?)
        };
        let costs: Vec<Result<Option<(i64, &PriceRow)>>> = items.iter().map(|i| price(&i.event, &histories[&i.event.model])).collect();
        let mut rows: Vec<EventRow> = items
            .iter()
            .zip(&costs)
            .filter(|(item, _)| !stored.contains_key(&item.id))
            .filter_map(|(item, c)| {
                let c = c.as_ref().ok()?;
                Some(EventRow { id: &item.id, event: &item.event, cost_nano: c.map(|c| c.0), price_id: c.map(|c| c.1.id.as_str()) })
            })
            .collect();
        // A fixed order, so that concurrent batches sharing ids lock them alike.
        rows.sort_unstable_by(|a, b| a.id.cmp(b.id));
        let mut rollup = Rollup::default();
        for row in &rows {
            rollup.add(row.event, row.cost_nano);
        }

        let mut tx = db.begin().await?;
        if let Some(id) = settle {
            if !quota::store::settle(&mut tx, &sender.org_id, id, "committed", now_ms()).await? {
                tx.rollback().await?;
                return match quota::store::get(&mut *db.reader().acquire().await?, &sender.org_id, id).await? {
                    Some(_) => Ok(Recorded::AlreadyCommitted),
                    None => Err(Error::NotFound("reservation")),
                };
            }
        }
        // Usage per local day of the organization, for the quota counters.
        let tz_name = org_time_zone(&mut tx, &sender.org_id).await?;
        let tz = crate::calendar::zone(&tz_name);
        let mut days = DayUnits::default();
        for (item, c) in items.iter().zip(&costs) {
            if let (false, Ok(c)) = (stored.contains_key(&item.id), c) {
                let units = quota::counters::units_of(&item.event, c.map(|c| c.0), c.and_then(|c| c.1.price.mode.as_ref()));
                days.add(tz, item.event.timestamp_ms, units);
            }
        }
        let inserted = store::insert(&mut tx, &batch, &rows).await?;
        if inserted != rows.len() as u64 {
            // Some ids are stored already (a retry, or the same id sent
            // concurrently): look them up and store only the others.
            tx.rollback().await?;
            let mut conn = db.reader().acquire().await?;
            stored = store::stored_costs(&mut conn, db.engine, &sender.org_id, &client_ids).await?;
            continue;
        }
        rollup.write(&mut tx, db.engine, &sender.org_id).await?;
        days.write(&mut tx, db.engine, &sender.org_id).await?;
        // Budgets: their period counters move with the usage, and the
        // thresholds this batch crosses fire (with their notifications) in
        // this same transaction.
        let spends: Vec<Spend> = rows
            .iter()
            .map(|r| Spend {
                ts: r.event.timestamp_ms,
                cost_nanos: r.cost_nano.unwrap_or(0),
                project_id: r.event.project_id.as_deref(),
                user_id: r.event.user_id.as_deref(),
                api_key_id: sender.api_key_id.as_deref(),
            })
            .collect();
        enforce::on_usage(&mut tx, &sender.org_id, &tz_name, &spends, now_ms()).await?;
        if cache::version(&mut tx).await? != version {
            tx.rollback().await?;
            continue;
        }
        // The in-memory quota ledger (SQLite) learns of the usage while this
        // transaction still holds the single writer; if the commit fails it
        // forgets the organization and reloads from the database.
        db.quota_memory().apply_usage(&sender.org_id, &days, settle);
        if let Err(e) = tx.commit().await {
            db.quota_memory().forget(&sender.org_id);
            return Err(e.into());
        }
        if !rows.is_empty() {
            enforce::forget(&sender.org_id);
            alerts::activity::after_commit(db, &sender.org_id, now_ms()).await;
        }

        let answer = |i: usize, repeat: bool| -> EventResult {
            let id = &items[i].id;
            let (status, cost) = match (stored.get(id), &costs[i]) {
                (Some(stored), _) => (Outcome::Duplicate, *stored),
                (None, Err(e)) => return EventResult::rejected(Some(id.clone()), e),
                (None, Ok(c)) => (if repeat { Outcome::Duplicate } else { Outcome::Accepted }, c.map(|c| c.0)),
            };
            EventResult {
                id: Some(id.clone()),
                status,
                cost_usd: cost.map(|n| NanoUsd::from_nanos(n).to_usd_string()),
                priced: Some(cost.is_some()),
                error: None,
            }
        };
        return Ok(Recorded::Stored(
            slots
                .into_iter()
                .map(|slot| match slot {
                    Slot::Rejected(r) => r,
                    Slot::First(i) => answer(i, false),
                    Slot::Repeat(i) => answer(i, true),
                })
                .collect(),
        ));
    }
    Err(Error::Unavailable("the price book or these event ids kept changing while this batch was stored; send it again".into()))
}

/// Gives each event its id and folds repeats of an id within the batch.
fn fold(events: Vec<ParsedEvent>) -> (Vec<Slot>, Vec<Item>) {
    let mut slots = Vec::with_capacity(events.len());
    let mut items: Vec<Item> = Vec::with_capacity(events.len());
    let mut first: HashMap<String, usize> = HashMap::with_capacity(events.len());
    for parsed in events {
        match parsed {
            Err(rejected) => slots.push(Slot::Rejected(EventResult::rejected(rejected.id, &rejected.error))),
            Ok(event) => {
                let client_id = event.id.is_some();
                let id = event.id.clone().unwrap_or_else(new_id);
                if let Some(&i) = first.get(&id) {
                    slots.push(Slot::Repeat(i));
                } else {
                    first.insert(id.clone(), items.len());
                    slots.push(Slot::First(items.len()));
                    items.push(Item { id, client_id, event });
                }
            }
        }
    }
    (slots, items)
}

/// The cost of one event with the price in force at its timestamp and that
/// price row; `None` when the model has no price then.
fn price<'h>(event: &NewEvent, history: &'h [PriceRow]) -> Result<Option<(i64, &'h PriceRow)>> {
    let Some(row) = in_force(history, event.timestamp_ms) else { return Ok(None) };
    let c = cost(&row.price, &event.usage(row.price.images_are_output()))?;
    Ok(Some((c.nanos(), row)))
}

/// The organization's time zone, read in the writing transaction.
async fn org_time_zone(conn: &mut sqlx::AnyConnection, org_id: &str) -> Result<String> {
    let tz = crate::orgs::store::time_zone(conn, org_id).await?;
    tz.ok_or(Error::NotFound("organization"))
}
