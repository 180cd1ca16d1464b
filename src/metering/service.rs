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
use crate::pricing::{cost, Mode, NanoUsd};
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

/// Attempts at a batch when the price book changes while it is stored.
const ATTEMPTS: usize = 4;

/// Records a batch: each parsed event is priced with the price in force at its
/// timestamp and stored, and the rollups are updated, all in one transaction
/// committed before this returns. An id already stored for the organization,
/// or repeated within the batch, is a duplicate and counts nothing twice.
/// Events that failed to parse come back rejected, in their place.
///
/// Pricing uses the in-memory [`PriceCache`](crate::pricing::cache) outside
/// the transaction; the transaction then checks, holding the write lock, that
/// the price book did not change meanwhile, and starts over if it did.
pub async fn record_usage(db: &Db, sender: &Sender, events: Vec<ParsedEvent>) -> Result<Vec<EventResult>> {
    if events.len() > MAX_BATCH {
        return Err(Error::invalid("events", format!("at most {MAX_BATCH} events per request")));
    }
    let (slots, items) = fold(events);
    let batch = BatchOf { org_id: &sender.org_id, api_key_id: sender.api_key_id.as_deref(), received_at: now_ms() };
    let mut version = cache::version(&mut *db.reader().acquire().await?).await?;
    for _ in 0..ATTEMPTS {
        let histories = {
            let mut conn = db.reader().acquire().await?;
            db.price_cache().histories(&mut conn, version, items.iter().map(|i| i.event.model.as_str())).await?
        };
        let costs: Vec<Result<Option<(i64, &str)>>> = items.iter().map(|i| price(&i.event, &histories[&i.event.model])).collect();

        let mut rows: Vec<EventRow> = items
            .iter()
            .zip(&costs)
            .filter_map(|(item, c)| {
                let c = c.as_ref().ok()?;
                Some(EventRow { id: &item.id, event: &item.event, cost_nano: c.map(|c| c.0), price_id: c.map(|c| c.1) })
            })
            .collect();
        // A fixed order, so that concurrent batches sharing ids lock them alike.
        rows.sort_unstable_by(|a, b| a.id.cmp(b.id));

        let mut tx = db.begin().await?;
        let inserted = store::insert_new(&mut tx, &batch, &rows).await?;
        let mut rollup = Rollup::default();
        for row in rows.iter().filter(|r| inserted.contains(r.id)) {
            rollup.add(row.event, row.cost_nano);
        }
        rollup.write(&mut tx, &sender.org_id).await?;
        let seen: Vec<&str> = rows.iter().map(|r| r.id).filter(|id| !inserted.contains(*id)).collect();
        let stored = store::costs_of(&mut tx, &sender.org_id, &seen).await?;
        let now = cache::version(&mut tx).await?;
        if now != version {
            tx.rollback().await?;
            version = now;
            continue;
        }
        tx.commit().await?;

        let answer = |i: usize, repeat: bool| -> EventResult {
            let id = items[i].id.clone();
            match &costs[i] {
                Err(e) => EventResult::rejected(Some(id), e),
                Ok(c) => {
                    let (status, cost) = if inserted.contains(&id) {
                        let status = if repeat { Outcome::Duplicate } else { Outcome::Accepted };
                        (status, c.map(|c| c.0))
                    } else {
                        (Outcome::Duplicate, stored.get(&id).copied().flatten())
                    };
                    EventResult {
                        id: Some(id),
                        status,
                        cost_usd: cost.map(|n| NanoUsd::from_nanos(n).to_usd_string()),
                        priced: Some(cost.is_some()),
                        error: None,
                    }
                }
            }
        };
        return Ok(slots
            .into_iter()
            .map(|slot| match slot {
                Slot::Rejected(r) => r,
                Slot::First(i) => answer(i, false),
                Slot::Repeat(i) => answer(i, true),
            })
            .collect());
    }
    Err(Error::Unavailable("the price book kept changing while this batch was stored; send it again".into()))
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
                let id = event.id.clone().unwrap_or_else(new_id);
                if let Some(&i) = first.get(&id) {
                    slots.push(Slot::Repeat(i));
                } else {
                    first.insert(id.clone(), items.len());
                    slots.push(Slot::First(items.len()));
                    items.push(Item { id, event });
                }
            }
        }
    }
    (slots, items)
}

/// The cost of one event with the price in force at its timestamp and the id
/// of that price row; `None` when the model has no price then.
fn price<'h>(event: &NewEvent, history: &'h [PriceRow]) -> Result<Option<(i64, &'h str)>> {
    let Some(row) = in_force(history, event.timestamp_ms) else { return Ok(None) };
    let images_out = matches!(row.price.mode, Some(Mode::ImageGeneration | Mode::ImageEdit));
    let c = cost(&row.price, &event.usage(images_out))?;
    Ok(Some((c.nanos(), row.id.as_str())))
}
