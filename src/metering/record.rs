//! Recording a batch, the metering part: fold the batch (ids, repeats),
//! price each event with the price in force at its timestamp, and describe
//! what a transaction stores as a [`Recorded`] value for the modules that
//! react to it. All of it is pure except reading the price book (through
//! the in-memory [`PriceCache`](crate::pricing::cache)); the transaction
//! itself and the order of the reactions are [`crate::ingest`]'s.

use std::collections::HashMap;

use serde::Serialize;

use super::event::{NewEvent, ParsedEvent};
use super::analytics::Rollup;
use crate::db::Db;
use crate::ids::new_id;
use crate::pricing::cache::{self, History};
use crate::pricing::store::{in_force, PriceRow};
use crate::pricing::{cost, ModelPrice, NanoUsd};
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

/// A batch with each event's id given and repeats of an id folded: what is
/// priced and stored, and what the answers are built from.
pub struct Batch {
    slots: Vec<Slot>,
    items: Vec<Item>,
}

impl Batch {
    /// Gives each event its id and folds repeats of an id within the batch;
    /// refuses a batch over [`MAX_BATCH`].
    pub fn fold(events: Vec<ParsedEvent>) -> Result<Batch> {
        if events.len() > MAX_BATCH {
            return Err(Error::invalid("events", format!("at most {MAX_BATCH} events per request")));
        }
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
        Ok(Batch { slots, items })
    }

    /// The ids the client sent (only these can be stored already).
    pub fn client_ids(&self) -> Vec<&str> {
        self.items.iter().filter(|i| i.client_id).map(|i| i.id.as_str()).collect()
    }

    /// Prices every event with the price book as it is now: its version and,
    /// per event, the cost with the price row in force at its timestamp
    /// (`None`: the model has no price then), or why it cannot be priced.
    pub async fn price(&self, db: &Db) -> Result<Priced> {
        let mut conn = db.reader().acquire().await?;
        let version = cache::version(&mut conn).await?;
        let models = self.items.iter().map(|i| i.event.model.as_str());
        let histories = db.price_cache().histories(&mut conn, version, models).await?;
        drop(conn);
        let costs = self.items.iter().map(|i| price(&i.event, &histories[&i.event.model])).collect();
        Ok(Priced { version, costs })
    }

    /// What a transaction stores for `sender`: every priced event whose id is
    /// not in `stored`, in id order (so that concurrent batches sharing ids
    /// lock them alike), with the rollups folded (before the transaction,
    /// so that concurrent batches overlap).
    pub fn recorded<'a>(&'a self, priced: &'a Priced, sender: &'a Sender, stored: &HashMap<String, Option<i64>>) -> Recorded<'a> {
        let mut events: Vec<RecordedEvent<'a>> = self
            .items
            .iter()
            .zip(&priced.costs)
            .filter(|(item, _)| !stored.contains_key(&item.id))
            .filter_map(|(item, c)| {
                let c = c.as_ref().ok()?;
                Some(RecordedEvent { id: &item.id, event: &item.event, cost_nano: c.as_ref().map(|c| c.nanos), price: c.as_ref().map(Cost::row) })
            })
            .collect();
        events.sort_unstable_by(|a, b| a.id.cmp(b.id));
        let mut rollup = Rollup::default();
        for e in &events {
            rollup.add(e.event, e.cost_nano);
        }
        Recorded { org_id: &sender.org_id, api_key_id: sender.api_key_id.as_deref(), events, rollup }
    }

    /// The answer for each event of the batch, in the order received: ids in
    /// `stored` are duplicates with their stored cost; a later repeat of an
    /// id in the batch is a duplicate of its first.
    pub fn answers(self, priced: &Priced, stored: &HashMap<String, Option<i64>>) -> Vec<EventResult> {
        let items = &self.items;
        let answer = |i: usize, repeat: bool| -> EventResult {
            let id = &items[i].id;
            let (status, cost) = match (stored.get(id), &priced.costs[i]) {
                (Some(stored), _) => (Outcome::Duplicate, *stored),
                (None, Err(e)) => return EventResult::rejected(Some(id.clone()), e),
                (None, Ok(c)) => (if repeat { Outcome::Duplicate } else { Outcome::Accepted }, c.as_ref().map(|c| c.nanos)),
            };
            EventResult {
                id: Some(id.clone()),
                status,
                cost_usd: cost.map(|n| NanoUsd::from_nanos(n).to_usd_string()),
                priced: Some(cost.is_some()),
                error: None,
            }
        };
        self.slots
            .into_iter()
            .map(|slot| match slot {
                Slot::Rejected(r) => r,
                Slot::First(i) => answer(i, false),
                Slot::Repeat(i) => answer(i, true),
            })
            .collect()
    }
}

/// An event's exact cost and the price row that priced it.
pub struct Cost {
    pub nanos: i64,
    history: History,
    row: usize,
}

impl Cost {
    /// The price row in force at the event's timestamp.
    pub fn row(&self) -> &PriceRow {
        &self.history[self.row]
    }
}

/// A batch priced with one version of the price book.
pub struct Priced {
    /// The price book's version the costs were computed with.
    pub version: i64,
    /// Per item of the batch: its cost (`None`: no price), or why it cannot be priced.
    costs: Vec<Result<Option<Cost>>>,
}

/// The cost of one event with the price in force at its timestamp and that
/// price row; `None` when the model has no price then.
fn price(event: &NewEvent, history: &History) -> Result<Option<Cost>> {
    let Some(row) = in_force(history, event.timestamp_ms) else { return Ok(None) };
    let c = charge(&row.price, event)?;
    let index = history.iter().position(|r| std::ptr::eq(r, row)).expect("the row is in its history");
    Ok(Some(Cost { nanos: c.nanos(), history: history.clone(), row: index }))
}

/// An event at a price: the one rule of an event's cost.
fn charge(price: &ModelPrice, event: &NewEvent) -> Result<NanoUsd> {
    Ok(cost(price, &event.usage(price.images_are_output()))?)
}

/// An event's exact cost before it is stored, as the batch that stores it
/// computes it (the price in force at its timestamp, from the price cache):
/// what the gateway tells a caller while the event waits for its group
/// commit. `None` when the model has no price then.
pub async fn quote(db: &Db, event: &NewEvent) -> Result<Option<NanoUsd>> {
    match cache::price_at(db, &event.model, event.timestamp_ms).await? {
        Some(price) => Ok(Some(charge(&price, event)?)),
        None => Ok(None),
    }
}

/// One event a batch stores: its id, what was sent, its exact cost (`None`:
/// unpriced) and the price row that priced it.
#[derive(Debug, Clone, Copy)]
pub struct RecordedEvent<'a> {
    pub id: &'a str,
    pub event: &'a NewEvent,
    pub cost_nano: Option<i64>,
    pub price: Option<&'a PriceRow>,
}

/// What one transaction of a batch stores: the value the modules reacting
/// to recorded usage consume, in that same transaction, in the order
/// [`crate::ingest`] documents.
pub struct Recorded<'a> {
    pub org_id: &'a str,
    /// The key that sent the batch (API calls).
    pub api_key_id: Option<&'a str>,
    /// The events stored, in id order.
    pub events: Vec<RecordedEvent<'a>>,
    /// The events folded into rollup rows.
    pub rollup: Rollup<'a>,
}

impl Recorded<'_> {
    /// Whether the transaction stores nothing (every event a duplicate or rejected).
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}
