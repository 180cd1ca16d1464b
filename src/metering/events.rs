//! Reading raw events: newest first with keyset paging (a cursor of the last
//! row's timestamp and id), so deep pages cost the same as the first and an
//! export never holds more than one page in memory.

use serde::Serialize;

use crate::db::Db;
use crate::{Error, Result};

/// Largest page.
pub const MAX_LIMIT: i64 = 1000;

/// Which events to read. `to_ms` is exclusive.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub from_ms: i64,
    pub to_ms: i64,
    pub model: Option<String>,
    pub user_id: Option<String>,
    pub project_id: Option<String>,
    pub feature: Option<String>,
    pub session_id: Option<String>,
    pub status: Option<String>,
}

/// Where the previous page stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub ts: i64,
    pub id: String,
}

impl Cursor {
    /// Opaque text form: `<ts>.<hex of id>`.
    pub fn encode(&self) -> String {
        format!("{}.{}", self.ts, hex::encode(self.id.as_bytes()))
    }

    pub fn decode(s: &str) -> Result<Self> {
        let bad = || Error::invalid("cursor", "is not a cursor returned by this API");
        let (ts, id) = s.split_once('.').ok_or_else(bad)?;
        Ok(Cursor {
            ts: ts.parse().map_err(|_| bad())?,
            id: String::from_utf8(hex::decode(id).map_err(|_| bad())?).map_err(|_| bad())?,
        })
    }
}

/// An event as the API returns it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EventView {
    pub id: String,
    pub timestamp: String,
    pub user_id: Option<String>,
    pub project_id: Option<String>,
    pub session_id: Option<String>,
    pub feature: Option<String>,
    pub provider: Option<String>,
    pub model: String,
    pub input_tokens: i64,
    pub cached_input_tokens: i64,
    pub cache_creation_tokens: i64,
    pub output_tokens: i64,
    pub reasoning_tokens: i64,
    pub images: i64,
    pub duration_ms: i64,
    pub requests: i64,
    pub latency_ms: Option<i64>,
    #[cfg_attr(feature = "ssr", schema(value_type = crate::openapi::EventStatus))]
    pub status: String,
    pub error: Option<String>,
    /// USD decimal string; `null` when the model had no price.
    #[cfg_attr(feature = "ssr", schema(value_type = Option<crate::openapi::Usd>))]
    pub cost_usd: Option<String>,
    /// The same cost in nano-USD, for readers in the core (not sent).
    #[serde(skip)]
    pub cost_nano: Option<i64>,
    pub metadata: Option<String>,
    /// The other priced dimensions as sent (absent ones left out).
    #[serde(flatten)]
    pub detail: super::event::Detail,
    /// `true`, `false` (no price) or `"partial"` (see [`super::Pricing`]).
    pub priced: super::Pricing,
    /// The fields nothing priced (a partial event).
    pub unpriced_units: Vec<String>,
    /// The price-book entry that priced the event (the name sent is `model`).
    pub priced_model: Option<String>,
    /// Prices that stood in for others.
    pub pricing_notes: Vec<String>,
}

/// One page of events, newest first, and the cursor of the next page.
/// Reads live and archived events alike (`usage_events UNION ALL
/// usage_events_archive`), so exports of ranges past retention still work.
pub async fn list(db: &Db, org_id: &str, f: &EventFilter, after: Option<&Cursor>, limit: i64) -> Result<(Vec<EventView>, Option<Cursor>)> {
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(Error::invalid("limit", format!("must be between 1 and {MAX_LIMIT}")));
    }
    let (c_ts, c_id) = after.map(|c| (c.ts, c.id.clone())).unwrap_or((i64::MAX, String::new()));
    let mut conn = db.reader().acquire().await?;
    let mut events = super::store::list(&mut conn, org_id, f, c_ts, c_id, limit + 1).await?;
    drop(conn);
    let next = if events.len() as i64 > limit {
        events.truncate(limit as usize);
        events.last().map(|e| Cursor { ts: crate::clock::parse_rfc3339(&e.timestamp).unwrap_or(0), id: e.id.clone() })
    } else {
        None
    };
    Ok((events, next))
}

#[cfg(test)]
mod tests {
    use super::Cursor;

    #[test]
    fn cursors_round_trip_and_junk_is_refused() {
        let c = Cursor { ts: 1_700_000_000_123, id: "req.1/ü".into() };
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        for bad in ["", "x", "12.zz", "abc.6869"] {
            assert_eq!(Cursor::decode(bad).unwrap_err().field(), Some("cursor"));
        }
    }
}

/// The columns of the events CSV (export and the browser download).
const CSV_HEADER: &[&str] = &[
    "id", "timestamp", "user_id", "project_id", "session_id", "feature", "provider", "model", "input_tokens",
    "cached_input_tokens", "cache_creation_tokens", "output_tokens", "reasoning_tokens", "images", "duration_ms",
    "requests", "latency_ms", "status", "error", "cost_usd", "metadata", "priced", "unpriced_units", "priced_model",
    "usage_detail",
];

/// A page of events as CSV rows (with the header row for the first page);
/// cells are safe to open in a spreadsheet (see [`crate::spreadsheet`]).
pub fn csv(events: &[EventView], header: bool) -> Vec<u8> {
    let mut out = if header { crate::spreadsheet::CsvOut::with_header(CSV_HEADER) } else { crate::spreadsheet::CsvOut::default() };
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let num = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
    for e in events {
        let cells = [
            e.id.clone(), e.timestamp.clone(), opt(&e.user_id), opt(&e.project_id), opt(&e.session_id), opt(&e.feature),
            opt(&e.provider), e.model.clone(), e.input_tokens.to_string(), e.cached_input_tokens.to_string(),
            e.cache_creation_tokens.to_string(), e.output_tokens.to_string(), e.reasoning_tokens.to_string(),
            e.images.to_string(), e.duration_ms.to_string(), e.requests.to_string(), num(e.latency_ms), e.status.clone(),
            opt(&e.error), opt(&e.cost_usd), opt(&e.metadata),
            match e.priced {
                super::Pricing::Priced => "true".into(),
                super::Pricing::Unpriced => "false".into(),
                super::Pricing::Partial => "partial".into(),
            },
            e.unpriced_units.join(" "), opt(&e.priced_model), e.detail.to_json().unwrap_or_default(),
        ];
        out.row(cells.iter().map(String::as_str));
    }
    out.into_bytes()
}
