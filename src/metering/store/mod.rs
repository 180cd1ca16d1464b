//! Storage of usage events (`usage_events`, `usage_events_archive`).
//! Metering owns these tables: every other module reads them through the
//! functions here. The rollups kept beside them are stored by
//! [`super::analytics::store`].

use std::collections::HashMap;

use sqlx::{AnyConnection, Row};

use super::events::{EventFilter, EventView};
use super::event::Detail;
use super::{Pricing, Recorded, Stored, StoredPricing};
use crate::calendar::Window;
use crate::clock::to_rfc3339;
use crate::db::{values_rows, Engine};
use crate::pricing::NanoUsd;
use crate::Result;

const COLUMNS: usize = 31;
/// Rows per multi-row INSERT: 5,400 parameters, under both engines' limits.
const CHUNK: usize = 200;

/// Whether the organization has an event with this id, stored or archived
/// (two primary-key lookups).
pub(crate) async fn has_event(conn: &mut AnyConnection, org_id: &str, id: &str) -> Result<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM (SELECT 1 AS one FROM usage_events WHERE org_id = $1 AND id = $2 \
         UNION ALL SELECT 1 AS one FROM usage_events_archive WHERE org_id = $1 AND id = $2) found",
    )
    .bind(org_id)
    .bind(id)
    .fetch_one(conn)
    .await?;
    Ok(n > 0)
}

/// Inserts a recorded batch's events (received at `received_at`) with
/// multi-row INSERTs, skipping any whose id is already stored for the
/// organization; returns whether every one was inserted. The events have
/// distinct ids (the batch folds repeats).
///
/// (No `RETURNING`: on SQLite, returning the ids costs ~40% of the insert;
/// the count is compared with what was expected instead.)
pub(crate) async fn insert_batch(conn: &mut AnyConnection, engine: Engine, batch: &Recorded<'_>, received_at: i64) -> Result<bool> {
    let mut inserted = 0;
    for chunk in batch.events.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO usage_events (org_id, id, ts, received_at, api_key_id, user_id, project_id, session_id, feature, \
             provider, model, input_tokens, cached_input_tokens, cache_creation_tokens, output_tokens, reasoning_tokens, \
             images, duration_ms, requests, latency_ms, status, error, ip, user_agent, metadata, cost_nano, price_id, \
             usage_detail, priced_model, unpriced_units, pricing_notes) \
             VALUES {} ON CONFLICT (org_id, id) DO NOTHING",
            values_rows(engine, chunk.len(), COLUMNS)
        );
        let mut q = sqlx::query(&sql);
        for row in chunk {
            let e = row.event;
            q = q
                .bind(batch.org_id)
                .bind(row.id)
                .bind(e.timestamp_ms)
                .bind(received_at)
                .bind(batch.api_key_id)
                .bind(e.user_id.as_deref())
                .bind(e.project_id.as_deref())
                .bind(e.session_id.as_deref())
                .bind(e.feature.as_deref())
                .bind(e.provider.as_deref())
                .bind(e.model.as_str())
                .bind(e.input_tokens as i64)
                .bind(e.cached_input_tokens as i64)
                .bind(e.cache_creation_tokens as i64)
                .bind(e.output_tokens as i64)
                .bind(e.reasoning_tokens as i64)
                .bind(e.images as i64)
                .bind(e.duration_ms as i64)
                .bind(e.requests as i64)
                .bind(e.latency_ms.map(|v| v as i64))
                .bind(e.status.as_str())
                .bind(e.error.as_deref())
                .bind(e.ip.as_deref())
                .bind(e.user_agent.as_deref())
                .bind(e.metadata.as_deref())
                .bind(row.cost_nano)
                .bind(row.price.map(|p| p.id.as_str()))
                .bind(e.detail.to_json())
                .bind(row.price.map(|p| p.price.name.as_str()))
                .bind(row.unpriced_units)
                .bind(row.pricing_notes);
        }
        inserted += q.execute(&mut *conn).await?.rows_affected();
    }
    Ok(inserted == batch.events.len() as u64)
}

/// Which of `ids` are stored for the organization, with their costs and
/// pricing (a duplicate reports the original's).
pub(crate) async fn stored_costs(conn: &mut AnyConnection, engine: Engine, org_id: &str, ids: &[&str]) -> Result<Stored> {
    let mut out = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        let params = values_rows(engine, 1, chunk.len() + 1);
        let (first, rest) = params[1..params.len() - 1].split_once(", ").unwrap_or((&params[1..params.len() - 1], ""));
        let sql = format!(
            "SELECT id, cost_nano, unpriced_units, priced_model, pricing_notes FROM usage_events WHERE org_id = {first} AND id IN ({rest})"
        );
        let mut q = sqlx::query(&sql).bind(org_id);
        for id in chunk {
            q = q.bind(*id);
        }
        for r in q.fetch_all(&mut *conn).await? {
            let stored = StoredPricing {
                cost_nano: r.try_get("cost_nano")?,
                unpriced_units: r.try_get("unpriced_units")?,
                priced_model: r.try_get("priced_model")?,
                pricing_notes: r.try_get("pricing_notes")?,
            };
            out.insert(r.try_get("id")?, stored);
        }
    }
    Ok(out)
}

/// One page of live and archived events matching `f`, newest first, from
/// the keyset position `(c_ts, c_id)` (`c_id` empty: from the start), at
/// most `limit` rows.
pub(crate) async fn list(conn: &mut AnyConnection, org_id: &str, f: &EventFilter, c_ts: i64, c_id: String, limit: i64) -> Result<Vec<EventView>> {
    let rows = sqlx::query(&format!(
        "SELECT {VIEW_COLUMNS} FROM (SELECT * FROM usage_events UNION ALL SELECT * FROM usage_events_archive) e \
         WHERE org_id = $1 AND ts >= $2 AND ts < $3 \
         AND ($4 = '' OR model = $4) AND ($5 = '' OR user_id = $5) AND ($6 = '' OR project_id = $6) \
         AND ($7 = '' OR feature = $7) AND ($8 = '' OR status = $8) \
         AND (ts < $9 OR (ts = $9 AND id < $10) OR $10 = '') AND ts <= $9 AND ($12 = '' OR session_id = $12) \
         ORDER BY ts DESC, id DESC LIMIT $11"
    ))
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
    .bind(limit)
    .bind(f.session_id.clone().unwrap_or_default())
    .fetch_all(conn)
    .await?;
    rows.iter().map(event_view).collect()
}

/// The columns [`event_view`] reads.
const VIEW_COLUMNS: &str = "id, ts, user_id, project_id, session_id, feature, provider, model, input_tokens, cached_input_tokens, \
     cache_creation_tokens, output_tokens, reasoning_tokens, images, duration_ms, requests, latency_ms, status, error, \
     cost_nano, metadata, usage_detail, priced_model, unpriced_units, pricing_notes";

/// An event row (of [`VIEW_COLUMNS`]) as the events API shows it.
fn event_view(r: &sqlx::any::AnyRow) -> Result<EventView> {
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
        cost_nano: r.try_get("cost_nano")?,
        metadata: r.try_get("metadata")?,
        detail: Detail::from_json(r.try_get::<Option<String>, _>("usage_detail")?.as_deref()),
        priced: Pricing::of(r.try_get("cost_nano")?, r.try_get::<Option<String>, _>("unpriced_units")?.as_deref()),
        unpriced_units: list_of(r.try_get("unpriced_units")?, ','),
        priced_model: r.try_get("priced_model")?,
        pricing_notes: list_of(r.try_get("pricing_notes")?, '\n'),
    })
}

/// The organization's events with these ids (live, then archived for those
/// not found live), in the order of `ids`; ids not stored are left out.
pub(crate) async fn by_ids(conn: &mut AnyConnection, engine: Engine, org_id: &str, ids: &[String]) -> Result<Vec<EventView>> {
    let mut found: HashMap<String, EventView> = HashMap::with_capacity(ids.len());
    for table in ["usage_events", "usage_events_archive"] {
        let missing: Vec<&String> = ids.iter().filter(|id| !found.contains_key(*id)).collect();
        for chunk in missing.chunks(CHUNK) {
            let params = values_rows(engine, 1, chunk.len() + 1);
            let (first, rest) = params[1..params.len() - 1].split_once(", ").unwrap_or((&params[1..params.len() - 1], ""));
            let sql = format!("SELECT {VIEW_COLUMNS} FROM {table} WHERE org_id = {first} AND id IN ({rest})");
            let mut q = sqlx::query(&sql).bind(org_id);
            for id in chunk {
                q = q.bind(id.as_str());
            }
            for r in q.fetch_all(&mut *conn).await? {
                let e = event_view(&r)?;
                found.insert(e.id.clone(), e);
            }
        }
        if found.len() == ids.len() {
            break;
        }
    }
    Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
}

/// The columns an archived event keeps (all of them).
const ARCHIVE_COLUMNS: &str = "org_id, id, ts, received_at, api_key_id, user_id, project_id, session_id, feature, provider, model, \
     input_tokens, cached_input_tokens, cache_creation_tokens, output_tokens, reasoning_tokens, images, duration_ms, requests, \
     latency_ms, status, error, ip, user_agent, metadata, cost_nano, price_id, usage_detail, priced_model, unpriced_units, pricing_notes";

/// A stored list (comma- or newline-joined) as its items.
fn list_of(text: Option<String>, sep: char) -> Vec<String> {
    text.map(|t| t.split(sep).filter(|s| !s.is_empty()).map(str::to_string).collect()).unwrap_or_default()
}

/// The ids of the organization's oldest live events before `cutoff`, at most `limit`.
pub(crate) async fn ids_before(conn: &mut AnyConnection, org_id: &str, cutoff: i64, limit: i64) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar("SELECT id FROM usage_events WHERE org_id = $1 AND ts < $2 ORDER BY ts, id LIMIT $3")
        .bind(org_id)
        .bind(cutoff)
        .bind(limit)
        .fetch_all(conn)
        .await?)
}

/// Copies these events to the archive (a copy already there is kept), then
/// deletes them from the live table, in the caller's transaction.
pub(crate) async fn archive(conn: &mut AnyConnection, org_id: &str, ids: &[String]) -> Result<()> {
    for chunk in ids.chunks(200) {
        let list = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect::<Vec<_>>().join(", ");
        let insert = format!(
            "INSERT INTO usage_events_archive ({ARCHIVE_COLUMNS}) SELECT {ARCHIVE_COLUMNS} FROM usage_events WHERE org_id = $1 AND id IN ({list}) \
             ON CONFLICT (org_id, id) DO NOTHING"
        );
        let delete = format!("DELETE FROM usage_events WHERE org_id = $1 AND id IN ({list})");
        for sql in [insert, delete] {
            let mut q = sqlx::query(&sql).bind(org_id);
            for id in chunk {
                q = q.bind(id);
            }
            q.execute(&mut *conn).await?;
        }
    }
    Ok(())
}

/// Exact cost (nano-USD) of the organization's events in `[from, to)`.
pub(crate) async fn cost_between(conn: &mut AnyConnection, org_id: &str, from_ms: i64, to_ms: i64) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(cost_nano), 0) AS BIGINT) FROM usage_events WHERE org_id = $1 AND ts >= $2 AND ts < $3",
    )
    .bind(org_id)
    .bind(from_ms)
    .bind(to_ms)
    .fetch_one(conn)
    .await?)
}

/// Requests in `[from, to]` (both ends included), and how many of them failed.
pub(crate) async fn requests_and_failures(conn: &mut AnyConnection, org_id: &str, from_ms: i64, to_ms: i64) -> Result<(i64, i64)> {
    Ok(sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(requests), 0) AS BIGINT), \
         CAST(COALESCE(SUM(CASE WHEN status = 'error' THEN requests ELSE 0 END), 0) AS BIGINT) \
         FROM usage_events WHERE org_id = $1 AND ts >= $2 AND ts <= $3",
    )
    .bind(org_id)
    .bind(from_ms)
    .bind(to_ms)
    .fetch_one(conn)
    .await?)
}

/// How many events in `[from, to]` (both ends included) carry a latency.
pub(crate) async fn latency_samples(conn: &mut AnyConnection, org_id: &str, from_ms: i64, to_ms: i64) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM usage_events WHERE org_id = $1 AND ts >= $2 AND ts <= $3 AND latency_ms IS NOT NULL",
    )
    .bind(org_id)
    .bind(from_ms)
    .bind(to_ms)
    .fetch_one(conn)
    .await?)
}

/// The latency at 0-based `rank` among the events of `[from, to]` that carry one, in ascending order.
pub(crate) async fn latency_at_rank(conn: &mut AnyConnection, org_id: &str, from_ms: i64, to_ms: i64, rank: i64) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT latency_ms FROM usage_events WHERE org_id = $1 AND ts >= $2 AND ts <= $3 AND latency_ms IS NOT NULL \
         ORDER BY latency_ms LIMIT 1 OFFSET $4",
    )
    .bind(org_id)
    .bind(from_ms)
    .bind(to_ms)
    .bind(rank)
    .fetch_one(conn)
    .await?)
}

/// Which event column a spend is narrowed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    Project,
    User,
    ApiKey,
}

impl Dimension {
    fn column(self) -> &'static str {
        match self {
            Dimension::Project => "project_id",
            Dimension::User => "user_id",
            Dimension::ApiKey => "api_key_id",
        }
    }
}

/// Exact cost (nano-USD) in the window of the events whose `dimension` is `value`.
pub(crate) async fn cost_of(conn: &mut AnyConnection, org_id: &str, dimension: Dimension, value: &str, w: Window) -> Result<i64> {
    Ok(sqlx::query_scalar(&format!(
        "SELECT CAST(COALESCE(SUM(cost_nano), 0) AS BIGINT) FROM usage_events \
         WHERE org_id = $1 AND ts >= $2 AND ts < $3 AND {} = $4",
        dimension.column()
    ))
    .bind(org_id)
    .bind(w.start_ms)
    .bind(w.end_ms)
    .bind(value)
    .fetch_one(conn)
    .await?)
}

/// The cost in the window of the events whose `dimension` is `value`, summed
/// per slot of `slot_ms` (aligned on UTC multiples): (slot start, nano-USD).
pub(crate) async fn cost_of_by_slot(
    conn: &mut AnyConnection,
    org_id: &str,
    dimension: Dimension,
    value: &str,
    w: Window,
    slot_ms: i64,
) -> Result<Vec<(i64, i64)>> {
    let rows = sqlx::query(&format!(
        "SELECT (ts / {slot_ms}) * {slot_ms} AS at, CAST(COALESCE(SUM(cost_nano), 0) AS BIGINT) AS spent \
         FROM usage_events WHERE org_id = $1 AND ts >= $2 AND ts < $3 AND {} = $4 \
         GROUP BY ts / {slot_ms}",
        dimension.column()
    ))
    .bind(org_id)
    .bind(w.start_ms)
    .bind(w.end_ms)
    .bind(value)
    .fetch_all(conn)
    .await?;
    rows.iter().map(|r| Ok((r.try_get("at")?, r.try_get("spent")?))).collect()
}

/// Failed calls that cost something, per model, since `since`: (model, calls, nano-USD).
pub(crate) async fn failed_spend_by_model(conn: &mut AnyConnection, org_id: &str, since: i64) -> Result<Vec<(String, i64, i64)>> {
    let rows = sqlx::query(
        "SELECT model, COUNT(*) AS failed_calls, CAST(SUM(cost_nano) AS BIGINT) AS failed_spend FROM usage_events \
         WHERE org_id = $1 AND ts >= $2 AND status = 'error' AND cost_nano > 0 GROUP BY model",
    )
    .bind(org_id)
    .bind(since)
    .fetch_all(conn)
    .await?;
    rows.iter().map(|r| Ok((r.try_get("model")?, r.try_get("failed_calls")?, r.try_get("failed_spend")?))).collect()
}

/// What the usage counters count of the organization's live events in a
/// window, summed per local day and model mode in SQL (a row per day and
/// mode, never one per event): `starts` are the window's local day starts,
/// ascending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountedDay {
    /// The local day's start (UTC ms).
    pub day: i64,
    pub mode: Option<String>,
    pub tokens: i64,
    pub cost_nano: i64,
    pub requests: i64,
    pub images: i64,
    /// Each event's duration in whole seconds, rounded up, summed.
    pub seconds: i64,
}

pub(crate) async fn counted_days(conn: &mut AnyConnection, org_id: &str, w: Window, starts: &[i64]) -> Result<Vec<CountedDay>> {
    let day = crate::db::bucket_case("e.ts", starts);
    let rows = sqlx::query(&format!(
        "SELECT {day} AS day, m.mode AS mode, CAST(SUM(e.input_tokens + e.output_tokens) AS BIGINT) AS tokens, \
         CAST(SUM(COALESCE(e.cost_nano, 0)) AS BIGINT) AS cost, CAST(SUM(e.requests) AS BIGINT) AS requests, \
         CAST(SUM(e.images) AS BIGINT) AS images, CAST(SUM((e.duration_ms + 999) / 1000) AS BIGINT) AS seconds \
         FROM usage_events e LEFT JOIN models m ON m.name = e.model \
         WHERE e.org_id = $1 AND e.ts >= $2 AND e.ts < $3 GROUP BY 1, 2"
    ))
    .bind(org_id)
    .bind(w.start_ms)
    .bind(w.end_ms)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(CountedDay {
                day: r.try_get("day")?,
                mode: r.try_get("mode")?,
                tokens: r.try_get("tokens")?,
                cost_nano: r.try_get("cost")?,
                requests: r.try_get("requests")?,
                images: r.try_get("images")?,
                seconds: r.try_get("seconds")?,
            })
        })
        .collect()
}

/// Tokens, cost and requests per end user and local day (`starts`: the
/// window's local day starts), summed from the events: what the per-user
/// counters must hold. (user, day start, units).
pub(crate) async fn counted_user_days(conn: &mut AnyConnection, org_id: &str, w: Window, starts: &[i64]) -> Result<Vec<(String, i64, crate::quota::Units)>> {
    let day = crate::db::bucket_case("e.ts", starts);
    let rows = sqlx::query(&format!(
        "SELECT e.user_id AS user_id, {day} AS day, CAST(SUM(e.input_tokens + e.output_tokens) AS BIGINT) AS tokens, \
         CAST(SUM(COALESCE(e.cost_nano, 0)) AS BIGINT) AS cost, CAST(SUM(e.requests) AS BIGINT) AS requests \
         FROM usage_events e WHERE e.org_id = $1 AND e.ts >= $2 AND e.ts < $3 AND e.user_id IS NOT NULL GROUP BY 1, 2"
    ))
    .bind(org_id)
    .bind(w.start_ms)
    .bind(w.end_ms)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("user_id")?, r.try_get("day")?, [r.try_get("tokens")?, r.try_get("cost")?, r.try_get("requests")?, 0, 0, 0])))
        .collect()
}

/// Adds a recorded batch's partly priced events to `pricing_gaps` and its
/// names priced by another entry to `model_aliases`, in the caller's
/// transaction; keys in sorted order so concurrent batches lock alike.
pub(crate) async fn record_pricing(conn: &mut AnyConnection, batch: &Recorded<'_>) -> Result<()> {
    use std::collections::BTreeMap;
    // (events, first seen, last seen)
    fn seen(map_entry: &mut (i64, i64, i64), ts: i64) {
        map_entry.0 += 1;
        map_entry.1 = map_entry.1.min(ts);
        map_entry.2 = map_entry.2.max(ts);
    }
    let mut gaps: BTreeMap<(&str, &str), (i64, i64, i64)> = BTreeMap::new();
    let mut aliases: BTreeMap<(&str, &str, &str), (i64, i64, i64)> = BTreeMap::new();
    for e in &batch.events {
        let ts = e.event.timestamp_ms;
        if let Some(units) = e.unpriced_units {
            seen(gaps.entry((e.event.model.as_str(), units)).or_insert((0, ts, ts)), ts);
        }
        if let Some(row) = e.price.filter(|p| p.price.name != e.event.model) {
            let key = (e.event.model.as_str(), e.event.provider.as_deref().unwrap_or(""), row.price.name.as_str());
            seen(aliases.entry(key).or_insert((0, ts, ts)), ts);
        }
    }
    for ((model, units), (n, first, last)) in gaps {
        sqlx::query(
            "INSERT INTO pricing_gaps (org_id, model, units, events, first_seen, last_seen) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (org_id, model, units) DO UPDATE SET events = pricing_gaps.events + excluded.events, \
             first_seen = CASE WHEN excluded.first_seen < pricing_gaps.first_seen THEN excluded.first_seen ELSE pricing_gaps.first_seen END, \
             last_seen = CASE WHEN excluded.last_seen > pricing_gaps.last_seen THEN excluded.last_seen ELSE pricing_gaps.last_seen END",
        )
        .bind(batch.org_id)
        .bind(model)
        .bind(units)
        .bind(n)
        .bind(first)
        .bind(last)
        .execute(&mut *conn)
        .await?;
    }
    for ((model, provider, entry), (n, first, last)) in aliases {
        sqlx::query(
            "INSERT INTO model_aliases (org_id, model, provider, entry, events, first_seen, last_seen) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (org_id, model, provider, entry) DO UPDATE SET events = model_aliases.events + excluded.events, \
             first_seen = CASE WHEN excluded.first_seen < model_aliases.first_seen THEN excluded.first_seen ELSE model_aliases.first_seen END, \
             last_seen = CASE WHEN excluded.last_seen > model_aliases.last_seen THEN excluded.last_seen ELSE model_aliases.last_seen END",
        )
        .bind(batch.org_id)
        .bind(model)
        .bind(provider)
        .bind(entry)
        .bind(n)
        .bind(first)
        .bind(last)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Partly priced models of one organization or of all (`None`), most events first, at most 200.
pub(crate) async fn pricing_gaps(conn: &mut AnyConnection, org_id: Option<&str>) -> Result<Vec<super::unpriced::PartlyPricedModel>> {
    let rows = sqlx::query(
        "SELECT model, units, CAST(SUM(events) AS BIGINT) AS events, COUNT(DISTINCT org_id) AS orgs, MAX(last_seen) AS last_seen \
         FROM pricing_gaps WHERE ($1 = '' OR org_id = $1) GROUP BY model, units ORDER BY SUM(events) DESC, model, units LIMIT 200",
    )
    .bind(org_id.unwrap_or_default())
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(super::unpriced::PartlyPricedModel {
                model: r.try_get("model")?,
                units: list_of(r.try_get("units")?, ','),
                events: r.try_get("events")?,
                organizations: r.try_get("orgs")?,
                last_seen_ms: r.try_get("last_seen")?,
            })
        })
        .collect()
}

/// Names priced by another entry, of one organization or of all (`None`), most events first, at most 500.
pub(crate) async fn model_aliases(conn: &mut AnyConnection, org_id: Option<&str>) -> Result<Vec<super::unpriced::ResolvedName>> {
    let rows = sqlx::query(
        "SELECT model, provider, entry, CAST(SUM(events) AS BIGINT) AS events, COUNT(DISTINCT org_id) AS orgs, MAX(last_seen) AS last_seen \
         FROM model_aliases WHERE ($1 = '' OR org_id = $1) GROUP BY model, provider, entry \
         ORDER BY SUM(events) DESC, model, provider, entry LIMIT 500",
    )
    .bind(org_id.unwrap_or_default())
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(super::unpriced::ResolvedName {
                model: r.try_get("model")?,
                provider: r.try_get("provider")?,
                entry: r.try_get("entry")?,
                events: r.try_get("events")?,
                organizations: r.try_get("orgs")?,
                last_seen_ms: r.try_get("last_seen")?,
            })
        })
        .collect()
}
