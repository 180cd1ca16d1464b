//! Storage of the narrow rollups: the ingest transaction's upserts, and
//! reading summed rows back.

use std::collections::HashMap;
use std::hash::Hash;

use sqlx::{AnyConnection, Row};

use super::{latency_columns, Rollup, Sums, LATENCY_BUCKETS, SUM_COLUMNS};
use crate::db::{values_rows, Engine};
use crate::metering::unpriced::UnpricedModel;
use crate::Result;

/// Rows per multi-row upsert (SQLite allows 32,766 parameters per statement).
const CHUNK: usize = 150;

/// Adds a batch's folded sums to every rollup of `org_id`, in the caller's
/// transaction. Keys go in a fixed order (tables, then keys sorted) so that
/// concurrent batches lock rows in the same order.
pub async fn write(conn: &mut AnyConnection, engine: Engine, org_id: &str, r: &Rollup<'_>) -> Result<()> {
    if r.is_empty() {
        return Ok(());
    }
    upsert(conn, engine, org_id, "rollup_org_hourly", &["hour"], &r.org_hourly, |k| vec![Key::I(*k)], true).await?;
    upsert(conn, engine, org_id, "rollup_org_daily", &["day"], &r.org_daily, |k| vec![Key::I(*k)], true).await?;
    let model_key = |k: &(i64, &str, &str)| vec![Key::I(k.0), Key::S(k.1.to_string()), Key::S(k.2.to_string())];
    upsert(conn, engine, org_id, "rollup_model_hourly", &["hour", "model", "provider"], &r.model_hourly, model_key, true).await?;
    upsert(conn, engine, org_id, "rollup_model_daily", &["day", "model", "provider"], &r.model_daily, model_key, true).await?;
    for dim in super::Dim::ALL {
        let key = |k: &(i64, &str)| vec![Key::I(k.0), Key::S(k.1.to_string())];
        upsert(conn, engine, org_id, dim.table(), &["day", dim.column()], &r.dims[dim as usize], key, false).await?;
    }
    if r.total.events == 0 {
        return Ok(()); // a fold of backfilled events: counted in the totals when stored
    }
    let total = HashMap::from([((), r.total.clone())]);
    upsert(conn, engine, org_id, "usage_totals", &[], &total, |_| vec![], false).await
}

/// A key value to bind.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    I(i64),
    S(String),
}

#[allow(clippy::too_many_arguments)]
async fn upsert<K: Eq + Hash>(
    conn: &mut AnyConnection,
    engine: Engine,
    org_id: &str,
    table: &str,
    key_columns: &[&str],
    rows: &HashMap<K, Sums>,
    key_of: impl Fn(&K) -> Vec<Key>,
    histogram: bool,
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut sorted: Vec<(Vec<Key>, &Sums)> = rows.iter().map(|(k, s)| (key_of(k), s)).collect();
    sorted.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut value_columns: Vec<String> = SUM_COLUMNS.iter().map(|c| c.to_string()).collect();
    if histogram {
        value_columns.extend(latency_columns());
    }
    let keys = std::iter::once("org_id").chain(key_columns.iter().copied()).collect::<Vec<_>>().join(", ");
    let updates = value_columns.iter().map(|c| format!("{c} = {table}.{c} + excluded.{c}")).collect::<Vec<_>>().join(", ");
    let width = 1 + key_columns.len() + value_columns.len();
    for chunk in sorted.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO {table} ({keys}, {}) VALUES {} ON CONFLICT ({keys}) DO UPDATE SET {updates}",
            value_columns.join(", "),
            values_rows(engine, chunk.len(), width),
        );
        let mut q = sqlx::query(&sql);
        for (key, sums) in chunk {
            q = q.bind(org_id);
            for k in key {
                q = match k {
                    Key::I(i) => q.bind(*i),
                    Key::S(s) => q.bind(s.clone()),
                };
            }
            for v in sums.values() {
                q = q.bind(v);
            }
            if histogram {
                for n in sums.latency {
                    q = q.bind(n);
                }
            }
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// The `SUM(…)` select list of every summed column (and of the histogram
/// when `histogram`), aliased to the column names.
pub(crate) fn sum_select(histogram: bool) -> String {
    let mut cols: Vec<String> = SUM_COLUMNS.iter().map(|c| format!("CAST(SUM({c}) AS BIGINT) AS {c}")).collect();
    if histogram {
        cols.extend(latency_columns().map(|c| format!("CAST(SUM({c}) AS BIGINT) AS {c}")));
    }
    cols.join(", ")
}

/// Reads the summed columns of a row selected with [`sum_select`].
pub(crate) fn sums_of(r: &sqlx::any::AnyRow, histogram: bool) -> Result<Sums> {
    let mut v = [0i64; super::SUMS];
    for (slot, c) in v.iter_mut().zip(SUM_COLUMNS) {
        *slot = r.try_get::<Option<i64>, _>(c)?.unwrap_or(0);
    }
    let mut lat = [0i64; LATENCY_BUCKETS];
    if histogram {
        for (slot, c) in lat.iter_mut().zip(latency_columns()) {
            *slot = r.try_get::<Option<i64>, _>(c.as_str())?.unwrap_or(0);
        }
    }
    Ok(Sums::from_values(v, lat))
}

/// The organization's lifetime totals (zero before its first event).
pub async fn lifetime(conn: &mut AnyConnection, org_id: &str) -> Result<Sums> {
    let row = sqlx::query(&format!("SELECT {} FROM usage_totals WHERE org_id = $1", sum_select(false)))
        .bind(org_id)
        .fetch_one(conn)
        .await?;
    sums_of(&row, false)
}

/// The organization's cost (nano-USD) in its hourly rollup, for the hours
/// starting in `[from, to)`, with its backfilled events still waiting to be
/// folded (one statement, so a fold in between counts nothing twice).
pub(crate) async fn org_hourly_cost(conn: &mut AnyConnection, org_id: &str, from_ms: i64, to_ms: i64) -> Result<i64> {
    let rollup = "SELECT COALESCE(SUM(cost_nano), 0) FROM rollup_org_hourly WHERE org_id = $1 AND hour >= $2 AND hour < $3";
    let sql = if super::pending::waiting(&mut *conn, org_id).await? > 0 {
        format!(
            "SELECT CAST(({rollup}) + (SELECT COALESCE(SUM(cost_nano), 0) FROM {} WHERE org_id = $1 AND ts >= $2 AND ts < $3) AS BIGINT)",
            super::pending::TABLE
        )
    } else {
        format!("SELECT CAST(({rollup}) AS BIGINT)")
    };
    Ok(sqlx::query_scalar(&sql).bind(org_id).bind(from_ms).bind(to_ms).fetch_one(conn).await?)
}

/// One model's use in the daily model rollup since a day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelTotals {
    pub model: String,
    pub calls: i64,
    pub requests: i64,
    pub input_tokens: i64,
    pub cached_input_tokens: i64,
    pub cache_creation_tokens: i64,
    pub output_tokens: i64,
    pub reasoning_tokens: i64,
    pub cost_nano: i64,
}

/// The organization's use per model in the daily model rollup from `since`
/// (a UTC midnight), by model name.
pub(crate) async fn daily_by_model(conn: &mut AnyConnection, org_id: &str, since: i64) -> Result<Vec<ModelTotals>> {
    let rows = sqlx::query(
        "SELECT model, CAST(SUM(events) AS BIGINT) AS calls, CAST(SUM(requests) AS BIGINT) AS requests, \
         CAST(SUM(input_tokens) AS BIGINT) AS input_tokens, CAST(SUM(cached_input_tokens) AS BIGINT) AS cached_input_tokens, \
         CAST(SUM(cache_creation_tokens) AS BIGINT) AS cache_creation_tokens, CAST(SUM(output_tokens) AS BIGINT) AS output_tokens, \
         CAST(SUM(reasoning_tokens) AS BIGINT) AS reasoning_tokens, CAST(SUM(cost_nano) AS BIGINT) AS spend \
         FROM rollup_model_daily WHERE org_id = $1 AND day >= $2 GROUP BY model ORDER BY model",
    )
    .bind(org_id)
    .bind(since)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(ModelTotals {
                model: r.try_get("model")?,
                calls: r.try_get("calls")?,
                requests: r.try_get("requests")?,
                input_tokens: r.try_get("input_tokens")?,
                cached_input_tokens: r.try_get("cached_input_tokens")?,
                cache_creation_tokens: r.try_get("cache_creation_tokens")?,
                output_tokens: r.try_get("output_tokens")?,
                reasoning_tokens: r.try_get("reasoning_tokens")?,
                cost_nano: r.try_get("spend")?,
            })
        })
        .collect()
}

/// Models seen without a price, most unpriced events first: of one
/// organization, or of the whole platform (`None`), from the hourly model
/// rollup's unpriced rows (a partial index holds only those);
/// `last_seen_ms` is the start of the last hour the model was seen.
pub(crate) async fn unpriced(conn: &mut AnyConnection, org_id: Option<&str>) -> Result<Vec<UnpricedModel>> {
    let rows = sqlx::query(
        "SELECT model, CAST(SUM(unpriced_events) AS BIGINT) AS events, COUNT(DISTINCT org_id) AS orgs, MAX(hour) AS last_seen \
         FROM rollup_model_hourly WHERE unpriced_events > 0 AND ($1 = '' OR org_id = $1) \
         GROUP BY model ORDER BY SUM(unpriced_events) DESC, model LIMIT 200",
    )
    .bind(org_id.unwrap_or_default())
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(UnpricedModel {
                model: r.try_get("model")?,
                events: r.try_get("events")?,
                organizations: r.try_get("orgs")?,
                last_seen_ms: r.try_get("last_seen")?,
            })
        })
        .collect()
}

/// Sums of the organization-by-UTC-day rollup over a set of days, as the
/// platform's dashboard and usage report read them.
#[derive(Debug, Default, Clone)]
pub struct OrgDaySums {
    pub requests: i64,
    pub errors: i64,
    /// Input plus output tokens.
    pub tokens: i64,
    pub cost_nano: i64,
    pub latency_count: i64,
    pub latency_sum_ms: i64,
    /// Organizations with any requests, tokens or cost.
    pub active: i64,
    pub latency: [i64; LATENCY_BUCKETS],
}

fn org_day_select() -> String {
    let mut cols = vec![
        "CAST(COALESCE(SUM(requests), 0) AS BIGINT) AS requests".to_string(),
        "CAST(COALESCE(SUM(errors), 0) AS BIGINT) AS errors".into(),
        "CAST(COALESCE(SUM(input_tokens + output_tokens), 0) AS BIGINT) AS tokens".into(),
        "CAST(COALESCE(SUM(cost_nano), 0) AS BIGINT) AS cost".into(),
        "CAST(COALESCE(SUM(latency_count), 0) AS BIGINT) AS latency_count".into(),
        "CAST(COALESCE(SUM(latency_sum_ms), 0) AS BIGINT) AS latency_sum".into(),
        "COUNT(DISTINCT CASE WHEN requests > 0 OR input_tokens + output_tokens > 0 OR cost_nano > 0 THEN org_id END) AS active".into(),
    ];
    cols.extend(latency_columns().map(|c| format!("CAST(COALESCE(SUM({c}), 0) AS BIGINT) AS {c}")));
    cols.join(", ")
}

fn org_day_sums_of(r: &sqlx::any::AnyRow) -> Result<OrgDaySums> {
    let mut a = OrgDaySums {
        requests: r.try_get("requests")?,
        errors: r.try_get("errors")?,
        tokens: r.try_get("tokens")?,
        cost_nano: r.try_get("cost")?,
        latency_count: r.try_get("latency_count")?,
        latency_sum_ms: r.try_get("latency_sum")?,
        active: r.try_get("active")?,
        ..Default::default()
    };
    for (slot, c) in a.latency.iter_mut().zip(latency_columns()) {
        *slot = r.try_get(c.as_str())?;
    }
    Ok(a)
}

/// The organization-by-UTC-day rollup over the days in `[from, to)`, of one
/// organization (`Some`) or all: the sums in all, and per bucket. A bucket
/// is a day's start, or with `starts` (ascending bucket starts, UTC ms) the
/// greatest start not after the day; buckets without rows are absent. The
/// sums in all add up the buckets; the active organizations in all (which do
/// not add up) are counted by a narrow query of their own.
pub(crate) async fn org_days(
    conn: &mut AnyConnection,
    org_id: Option<&str>,
    from_ms: i64,
    to_ms: i64,
    starts: Option<&[i64]>,
) -> Result<(OrgDaySums, Vec<(i64, OrgDaySums)>)> {
    let filter = "day >= $1 AND day < $2 AND ($3 = '' OR org_id = $3)";
    let bucket = match starts {
        None => "day".to_string(),
        Some(b) => crate::db::bucket_case("day", b),
    };
    let rows = sqlx::query(&format!("SELECT {bucket} AS bucket, {} FROM rollup_org_daily WHERE {filter} GROUP BY 1", org_day_select()))
        .bind(from_ms)
        .bind(to_ms)
        .bind(org_id.unwrap_or_default())
        .fetch_all(&mut *conn)
        .await?;
    let per = rows.iter().map(|r| Ok((r.try_get("bucket")?, org_day_sums_of(r)?))).collect::<Result<Vec<_>>>()?;
    let mut total = OrgDaySums::default();
    for (_, b) in &per {
        total.requests += b.requests;
        total.errors += b.errors;
        total.tokens += b.tokens;
        total.cost_nano += b.cost_nano;
        total.latency_count += b.latency_count;
        total.latency_sum_ms += b.latency_sum_ms;
        for (t, n) in total.latency.iter_mut().zip(b.latency) {
            *t += n;
        }
    }
    total.active = sqlx::query_scalar(&format!(
        "SELECT COUNT(DISTINCT org_id) FROM rollup_org_daily WHERE {filter} \
         AND (requests > 0 OR input_tokens + output_tokens > 0 OR cost_nano > 0)"
    ))
    .bind(from_ms)
    .bind(to_ms)
    .bind(org_id.unwrap_or_default())
    .fetch_one(&mut *conn)
    .await?;
    Ok((total, per))
}

/// The `n` organizations with the most tokens and the `n` with the most cost
/// over the days in `[from, to)`, from one aggregation: (organization,
/// tokens, cost in nano-USD), largest first, by tokens then by cost.
pub(crate) async fn top_orgs(conn: &mut AnyConnection, from_ms: i64, to_ms: i64, n: i64) -> Result<(Vec<(String, i64, i64)>, Vec<(String, i64, i64)>)> {
    let rows = sqlx::query(
        "SELECT org_id, tokens, cost, by_tokens, by_cost FROM ( \
           SELECT org_id, tokens, cost, \
             ROW_NUMBER() OVER (ORDER BY tokens DESC, org_id) AS by_tokens, ROW_NUMBER() OVER (ORDER BY cost DESC, org_id) AS by_cost \
           FROM (SELECT org_id, CAST(SUM(input_tokens + output_tokens) AS BIGINT) AS tokens, CAST(SUM(cost_nano) AS BIGINT) AS cost \
                 FROM rollup_org_daily WHERE day >= $1 AND day < $2 GROUP BY org_id) per_org \
         ) ranked WHERE by_tokens <= $3 OR by_cost <= $3",
    )
    .bind(from_ms)
    .bind(to_ms)
    .bind(n)
    .fetch_all(conn)
    .await?;
    let mut by_tokens = vec![];
    let mut by_cost = vec![];
    for r in &rows {
        let row: (String, i64, i64) = (r.try_get("org_id")?, r.try_get("tokens")?, r.try_get("cost")?);
        let (t, c): (i64, i64) = (r.try_get("by_tokens")?, r.try_get("by_cost")?);
        if t <= n {
            by_tokens.push((t, row.clone()));
        }
        if c <= n {
            by_cost.push((c, row));
        }
    }
    by_tokens.sort_by_key(|(rank, _)| *rank);
    by_cost.sort_by_key(|(rank, _)| *rank);
    Ok((by_tokens.into_iter().map(|(_, r)| r).collect(), by_cost.into_iter().map(|(_, r)| r).collect()))
}

/// Each organization's cost (nano-USD) in the daily rollup from `since` (a
/// UTC midnight), of the organizations in `only` (`None`: all);
/// organizations without rows are absent.
pub(crate) async fn cost_by_org_since(conn: &mut AnyConnection, since: i64, only: Option<&[String]>) -> Result<HashMap<String, i64>> {
    let ids = match only {
        Some([]) => return Ok(HashMap::new()),
        Some(ids) => format!(" AND org_id IN ({})", (0..ids.len()).map(|i| format!("${}", i + 2)).collect::<Vec<_>>().join(", ")),
        None => String::new(),
    };
    let sql = format!(
        "SELECT org_id, CAST(COALESCE(SUM(cost_nano), 0) AS BIGINT) AS cost FROM rollup_org_daily WHERE day >= $1{ids} GROUP BY org_id"
    );
    let mut q = sqlx::query(&sql).bind(since);
    for id in only.unwrap_or_default() {
        q = q.bind(id.as_str());
    }
    let rows = q.fetch_all(conn).await?;
    rows.iter().map(|r| Ok((r.try_get("org_id")?, r.try_get("cost")?))).collect()
}

/// Models seen without a price across the platform in the hours starting in
/// `[from, to)`, most unpriced events first: (model, events, organizations,
/// start of the last hour seen), at most 100. From the hourly model rollup's
/// unpriced rows (a partial index holds only those), never from raw events.
pub(crate) async fn unpriced_between(conn: &mut AnyConnection, from_ms: i64, to_ms: i64) -> Result<Vec<(String, i64, i64, i64)>> {
    let rows = sqlx::query(
        "SELECT model, CAST(SUM(unpriced_events) AS BIGINT) AS events, COUNT(DISTINCT org_id) AS orgs, MAX(hour) AS last_seen \
         FROM rollup_model_hourly WHERE unpriced_events > 0 AND hour >= $1 AND hour < $2 \
         GROUP BY model ORDER BY SUM(unpriced_events) DESC, model LIMIT 100",
    )
    .bind(from_ms)
    .bind(to_ms)
    .fetch_all(conn)
    .await?;
    rows.iter().map(|r| Ok((r.try_get("model")?, r.try_get("events")?, r.try_get("orgs")?, r.try_get("last_seen")?))).collect()
}
