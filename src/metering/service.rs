//! `record_usage`: price a batch of events and store it in one transaction.

use std::collections::HashMap;

use serde::Serialize;

use super::store::{self, EventRow};
use super::event::ParsedEvent;
use super::rollup::Rollup;
use crate::clock::now_ms;
use crate::db::Db;
use crate::ids::new_id;
use crate::pricing::store::{history, in_force, PriceRow};
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

/// Records a batch: each parsed event is priced with the price in force at its
/// timestamp and stored, and the rollups are updated, all in one transaction
/// committed before this returns;
/// an id already stored for the organization is a duplicate and counts nothing
/// twice. Events that failed to parse come back rejected, in their place.
pub async fn record_usage(db: &Db, sender: &Sender, events: Vec<ParsedEvent>) -> Result<Vec<EventResult>> {
    if events.len() > MAX_BATCH {
        return Err(Error::invalid("events", format!("at most {MAX_BATCH} events per request")));
    }
    let received_at = now_ms();
    let mut tx = db.begin().await?;
    let mut prices: HashMap<String, Vec<PriceRow>> = HashMap::new();
    let mut results = Vec::with_capacity(events.len());
    let mut rollup = Rollup::default();
    for parsed in events {
        let event = match parsed {
            Ok(e) => e,
            Err(rejected) => {
                results.push(EventResult::rejected(rejected.id, &rejected.error));
                continue;
            }
        };
        if !prices.contains_key(&event.model) {
            let h = history(&mut tx, &event.model).await?;
            prices.insert(event.model.clone(), h);
        }
        let row = in_force(&prices[&event.model], event.timestamp_ms);
        let id = event.id.clone().unwrap_or_else(new_id);
        let priced = match row {
            Some(r) => {
                let images_out = matches!(r.price.mode, Some(Mode::ImageGeneration | Mode::ImageEdit));
                match cost(&r.price, &event.usage(images_out)) {
                    Ok(c) => Some((c, r.id.clone())),
                    Err(e) => {
                        results.push(EventResult::rejected(Some(id), &e));
                        continue;
                    }
                }
            }
            None => None,
        };
        let inserted = store::insert(
            &mut tx,
            EventRow {
                org_id: &sender.org_id,
                id: &id,
                api_key_id: sender.api_key_id.as_deref(),
                event: &event,
                cost_nano: priced.as_ref().map(|(c, _)| c.nanos()),
                price_id: priced.as_ref().map(|(_, p)| p.as_str()),
                received_at,
            },
        )
        .await?;
        let (status, cost_nano) = if inserted {
            let cost_nano = priced.as_ref().map(|(c, _)| c.nanos());
            rollup.add(&event, cost_nano);
            (Outcome::Accepted, cost_nano)
        } else {
            (Outcome::Duplicate, store::cost_of(&mut tx, &sender.org_id, &id).await?.flatten())
        };
        results.push(EventResult {
            id: Some(id),
            status,
            cost_usd: cost_nano.map(|n| NanoUsd::from_nanos(n).to_usd_string()),
            priced: Some(cost_nano.is_some()),
            error: None,
        });
    }
    rollup.write(&mut tx, &sender.org_id).await?;
    tx.commit().await?;
    Ok(results)
}
