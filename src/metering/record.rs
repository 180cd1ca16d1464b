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
use crate::pricing::{alias, charge, NanoUsd};
use crate::{Error, Result};

/// Largest batch the ingest API takes.
pub const MAX_BATCH: usize = 1000;

/// What happened to one event of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Accepted,
    Duplicate,
    Rejected,
}

/// How much of an event was priced: `true` only when every unit it
/// reported was charged; `false` when its model has no price (no cost);
/// `"partial"` when the model is priced but some units it reported are not
/// (the cost covers the others; the units are named beside it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pricing {
    Priced,
    Unpriced,
    Partial,
}

impl Pricing {
    /// From a stored event: its cost and the units nothing priced.
    pub fn of(cost_nano: Option<i64>, unpriced_units: Option<&str>) -> Pricing {
        match (cost_nano, unpriced_units) {
            (None, _) => Pricing::Unpriced,
            (Some(_), Some(u)) if !u.is_empty() => Pricing::Partial,
            (Some(_), _) => Pricing::Priced,
        }
    }
}

impl Serialize for Pricing {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Pricing::Priced => s.serialize_bool(true),
            Pricing::Unpriced => s.serialize_bool(false),
            Pricing::Partial => s.serialize_str("partial"),
        }
    }
}

/// The per-event answer of the ingest API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EventResult {
    /// The client's id, the generated one, or `null` for an event rejected before it had one.
    pub id: Option<String>,
    pub status: Outcome,
    /// Exact cost in USD as a decimal string; `null` when unpriced or rejected.
    #[cfg_attr(feature = "ssr", schema(value_type = Option<crate::openapi::Usd>))]
    pub cost_usd: Option<String>,
    /// `true`, `false` (stored as unpriced) or `"partial"` (see [`Pricing`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priced: Option<Pricing>,
    /// The event fields nothing in the model's price charged (`"partial"` only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unpriced_units: Vec<String>,
    /// The price-book entry that priced the event, when it is not the name sent (alias resolution).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priced_as: Option<String>,
    /// Prices that stood in for others (a service tier without its own, off-peak rates).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pricing_notes: Vec<String>,
    /// Why the event was rejected, naming the field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The field a rejection is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'static str>,
}

impl EventResult {
    fn rejected(id: Option<String>, e: &Error) -> Self {
        EventResult {
            id,
            status: Outcome::Rejected,
            cost_usd: None,
            priced: None,
            unpriced_units: vec![],
            priced_as: None,
            pricing_notes: vec![],
            error: Some(e.public_message()),
            field: e.field(),
        }
    }
}

/// What is stored of an event already recorded: its cost, the units
/// nothing priced, the entry that priced it and the notes (a duplicate
/// answers with these).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredPricing {
    pub cost_nano: Option<i64>,
    pub unpriced_units: Option<String>,
    pub priced_model: Option<String>,
    pub pricing_notes: Option<String>,
}

/// Stored events by id.
pub type Stored = HashMap<String, StoredPricing>;

/// Splits a stored comma- or newline-joined list.
fn split_list(text: Option<&str>, sep: char) -> Vec<String> {
    text.map(|t| t.split(sep).filter(|s| !s.is_empty()).map(str::to_string).collect()).unwrap_or_default()
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
    ///
    /// Each event's model is resolved to a price-book entry by
    /// [`alias::candidates`], in rounds: the first candidate of every event,
    /// then the next candidate of those still without a price in force at
    /// their time, and so on; so a known name costs one cache lookup.
    pub async fn price(&self, db: &Db) -> Result<Priced> {
        let mut conn = db.reader().acquire().await?;
        let version = cache::version(&mut conn).await?;
        let cache = db.price_cache();
        let candidates: Vec<Vec<String>> = self
            .items
            .iter()
            .map(|i| {
                let e = &i.event;
                alias::candidates(&e.model, e.provider.as_deref(), e.detail.size.as_deref(), e.detail.quality.as_deref())
            })
            .collect();
        let mut histories: HashMap<String, History> = HashMap::new();
        let mut chosen: Vec<Option<History>> = vec![None; self.items.len()];
        for round in 0.. {
            let open: Vec<usize> = (0..self.items.len()).filter(|&i| chosen[i].is_none() && candidates[i].len() > round).collect();
            if open.is_empty() {
                break;
            }
            let wanted = open.iter().map(|&i| candidates[i][round].as_str()).filter(|n| !histories.contains_key(*n));
            let loaded = cache.histories(&mut conn, version, wanted).await?;
            histories.extend(loaded);
            for i in open {
                let h = &histories[&candidates[i][round]];
                if in_force(h, self.items[i].event.timestamp_ms).is_some() {
                    chosen[i] = Some(h.clone());
                }
            }
        }
        drop(conn);
        let costs = self.items.iter().zip(&chosen).map(|(i, h)| price(&i.event, h.as_ref())).collect();
        Ok(Priced { version, costs })
    }

    /// What a transaction stores for `sender`: every priced event whose id is
    /// not in `stored`, in id order (so that concurrent batches sharing ids
    /// lock them alike), with the rollups folded (before the transaction,
    /// so that concurrent batches overlap).
    pub fn recorded<'a>(&'a self, priced: &'a Priced, sender: &'a Sender, stored: &Stored, now: i64) -> Recorded<'a> {
        let mut events: Vec<RecordedEvent<'a>> = self
            .items
            .iter()
            .zip(&priced.costs)
            .filter(|(item, _)| !stored.contains_key(&item.id))
            .filter_map(|(item, c)| {
                let c = c.as_ref().ok()?;
                Some(RecordedEvent {
                    id: &item.id,
                    event: &item.event,
                    cost_nano: c.as_ref().map(|c| c.nanos),
                    price: c.as_ref().map(Cost::row),
                    unpriced_units: c.as_ref().and_then(|c| c.unpriced_units.as_deref()),
                    pricing_notes: c.as_ref().and_then(|c| c.notes.as_deref()),
                })
            })
            .collect();
        events.sort_unstable_by(|a, b| a.id.cmp(b.id));
        let backfill_before = crate::metering::analytics::backfill_before(now);
        let mut rollup = Rollup::default();
        for e in &events {
            if e.event.timestamp_ms < backfill_before {
                rollup.add_lifetime(e.event, e.cost_nano, e.unpriced_units.is_some());
            } else {
                rollup.add(e.event, e.cost_nano, e.unpriced_units.is_some());
            }
        }
        Recorded { org_id: &sender.org_id, api_key_id: sender.api_key_id.as_deref(), events, rollup, backfill_before }
    }

    /// The answer for each event of the batch, in the order received: ids in
    /// `stored` are duplicates with their stored cost; a later repeat of an
    /// id in the batch is a duplicate of its first.
    pub fn answers(self, priced: &Priced, stored: &Stored) -> Vec<EventResult> {
        let items = &self.items;
        let answer = |i: usize, repeat: bool| -> EventResult {
            let id = &items[i].id;
            let (status, p) = match (stored.get(id), &priced.costs[i]) {
                (Some(stored), _) => (Outcome::Duplicate, stored.clone()),
                (None, Err(e)) => return EventResult::rejected(Some(id.clone()), e),
                (None, Ok(c)) => (if repeat { Outcome::Duplicate } else { Outcome::Accepted }, c.as_ref().map(Cost::stored).unwrap_or_default()),
            };
            EventResult {
                id: Some(id.clone()),
                status,
                cost_usd: p.cost_nano.map(|n| NanoUsd::from_nanos(n).to_usd_string()),
                priced: Some(Pricing::of(p.cost_nano, p.unpriced_units.as_deref())),
                unpriced_units: split_list(p.unpriced_units.as_deref(), ','),
                priced_as: p.priced_model.filter(|m| *m != items[i].event.model),
                pricing_notes: split_list(p.pricing_notes.as_deref(), '\n'),
                error: None,
                field: None,
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

/// An event's exact cost, the price row that priced it, and what it could
/// not charge.
pub struct Cost {
    pub nanos: i64,
    history: History,
    row: usize,
    /// The event fields nothing priced, comma-joined (`None`: every unit charged).
    pub unpriced_units: Option<String>,
    /// Prices that stood in for others, one per line.
    pub notes: Option<String>,
}

impl Cost {
    /// The price row in force at the event's timestamp.
    pub fn row(&self) -> &PriceRow {
        &self.history[self.row]
    }

    /// What is stored of this cost.
    fn stored(&self) -> StoredPricing {
        StoredPricing {
            cost_nano: Some(self.nanos),
            unpriced_units: self.unpriced_units.clone(),
            priced_model: Some(self.row().price.name.clone()),
            pricing_notes: self.notes.clone(),
        }
    }
}

/// A batch priced with one version of the price book.
pub struct Priced {
    /// The price book's version the costs were computed with.
    pub version: i64,
    /// Per item of the batch: its cost (`None`: no price), or why it cannot be priced.
    costs: Vec<Result<Option<Cost>>>,
}

/// The cost of one event with the price in force at its timestamp in the
/// history its model resolved to, and that price row; `None` when no
/// entry has a price then.
fn price(event: &NewEvent, history: Option<&History>) -> Result<Option<Cost>> {
    let Some(history) = history else { return Ok(None) };
    let Some(row) = in_force(history, event.timestamp_ms) else { return Ok(None) };
    let c = charge(&row.price, &event.usage(row.price.images_are_output()), &event.conditions())?;
    let index = history.iter().position(|r| std::ptr::eq(r, row)).expect("the row is in its history");
    Ok(Some(Cost {
        nanos: c.nanos()?.nanos(),
        history: history.clone(),
        row: index,
        unpriced_units: (!c.unpriced.is_empty()).then(|| c.unpriced.join(",")),
        notes: (!c.notes.is_empty()).then(|| c.notes.join("\n")),
    }))
}

/// An event's exact cost before it is stored, as the batch that stores it
/// computes it (its model resolved by [`alias::candidates`] in the same
/// order, the price in force at its timestamp, from the price cache): what
/// the gateway tells a caller while the event waits for its group commit.
/// `None` when no entry has a price then.
pub async fn quote(db: &Db, event: &NewEvent) -> Result<Option<NanoUsd>> {
    let e = event;
    let detail = &e.detail;
    match cache::resolve(db, &e.model, e.provider.as_deref(), detail.size.as_deref(), detail.quality.as_deref(), e.timestamp_ms).await? {
        Some((_, history)) => Ok(price(e, Some(&history))?.map(|c| NanoUsd::from_nanos(c.nanos))),
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
    /// The fields nothing priced, comma-joined (`None`: all charged, or unpriced).
    pub unpriced_units: Option<&'a str>,
    /// Prices that stood in for others, one per line.
    pub pricing_notes: Option<&'a str>,
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
    /// The events folded into rollup rows (those dated from
    /// `backfill_before` on; the older ones only into the lifetime totals).
    pub rollup: Rollup<'a>,
    /// Events dated before this wait in `rollup_pending` for their rollup rows.
    pub backfill_before: i64,
}

impl<'a> Recorded<'a> {
    /// The backfilled events, which wait in `rollup_pending`.
    pub fn backfilled(&self) -> impl Iterator<Item = &RecordedEvent<'a>> {
        self.events.iter().filter(|e| e.event.timestamp_ms < self.backfill_before)
    }
}

impl Recorded<'_> {
    /// Whether the transaction stores nothing (every event a duplicate or rejected).
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}
