//! Reading raw events: newest first with keyset paging (a cursor of the last
//! row's timestamp and id), so deep pages cost the same as the first and an
//! export never holds more than one page in memory.

use serde::Serialize;
use sqlx::Row;

use crate::clock::to_rfc3339;
use crate::db::Db;
use crate::pricing::NanoUsd;
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
    pub status: String,
    pub error: Option<String>,
    /// USD decimal string; `null` when the model had no price.
    pub cost_usd: Option<String>,
    pub metadata: Option<String>,
}

/// One page of events, newest first, and the cursor of the next page.
/// Reads live and archived events alike (`usage_events UNION ALL
/// usage_events_archive`), so exports of ranges past retention still work.
pub async fn list(db: &Db, org_id: &str, f: &EventFilter, after: Option<&Cursor>, limit: i64) -> Result<(Vec<EventView>, Option<Cursor>)> {
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(Error::invalid("limit", format!("must be between 1 and {MAX_LIMIT}")));
    }
    let (c_ts, c_id) = after.map(|c| (c.ts, c.id.clone())).unwrap_or((i64::MAX, String::new()));
    let rows = sqlx::query(
        "SELECT id, ts, user_id, project_id, session_id, feature, provider, model, input_tokens, cached_input_tokens, \
         cache_creation_tokens, output_tokens, reasoning_tokens, images, duration_ms, requests, latency_ms, status, error, \
         cost_nano, metadata FROM (SELECT * FROM usage_events UNION ALL SELECT * FROM usage_events_archive) e \
         WHERE org_id = $1 AND ts >= $2 AND ts < $3 \
         AND ($4 = '' OR model = $4) AND ($5 = '' OR user_id = $5) AND ($6 = '' OR project_id = $6) \
         AND ($7 = '' OR feature = $7) AND ($8 = '' OR status = $8) \
         AND (ts < $9 OR (ts = $9 AND id < $10) OR $10 = '') AND ts <= $9 AND ($12 = '' OR session_id = $12) \
         ORDER BY ts DESC, id DESC LIMIT $11",
    )
    .bind(org_id)
    .bind(f.from_ms)
    .bind(f.to_ms)
    .bind(f.model.clone().unwrap_or_default())
    .bind(f.user_id.clone().unwrap_or_default())
    .bind(f.project_id.clone().unwrap_or_default())
    .bind(f.feature.clone().unwrap_or_default())
    .bind(f.status.clone().unwrap_or_default())
    .bind(c_ts)
    .bind(c_id)
    .bind(limit + 1)
    .bind(f.session_id.clone().unwrap_or_default())
    .fetch_all(db.reader())
    .await?;
    let mut events = rows
        .into_iter()
        .map(|r| {
            Ok(EventView {
                id: r.try_get("id")?,
                timestamp: to_rfc3339(r.try_get("ts")?),
                user_id: r.try_get("user_id")?,
                project_id: r.try_get("project_id")?,
                session_id: r.try_get("session_id")?,
                feature: r.try_get("feature")?,
                provider: r.try_get("provider")?,
                model: r.try_get("model")?,
                input_tokens: r.try_get("input_tokens")?,
                cached_input_tokens: r.try_get("cached_input_tokens")?,
                cache_creation_tokens: r.try_get("cache_creation_tokens")?,
                output_tokens: r.try_get("output_tokens")?,
                reasoning_tokens: r.try_get("reasoning_tokens")?,
                images: r.try_get("images")?,
                duration_ms: r.try_get("duration_ms")?,
                requests: r.try_get("requests")?,
                latency_ms: r.try_get("latency_ms")?,
                status: r.try_get("status")?,
                error: r.try_get("error")?,
                cost_usd: r.try_get::<Option<i64>, _>("cost_nano")?.map(|n| NanoUsd::from_nanos(n).to_usd_string()),
                metadata: r.try_get("metadata")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
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
    "requests", "latency_ms", "status", "error", "cost_usd", "metadata",
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
        ];
        out.row(cells.iter().map(String::as_str));
    }
    out.into_bytes()
}
