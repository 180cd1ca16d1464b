//! Storage of the rollups (`usage_rollups`, `session_rollups`) and of the
//! latency histogram (`latency_histogram`): the upserts a recorded batch
//! adds, and every read of them (the usage report, the spike baseline, the
//! recommendations' usage per model, the platform's daily figures).

use sqlx::{AnyConnection, Row};

use crate::db::{values_rows, Engine};
use crate::Result;

/// Rows per multi-row upsert (SQLite allows 32,766 parameters per statement).
const CHUNK: usize = 200;

/// The dimensions of a rollup row, in the order of its key columns.
pub(crate) struct Dims<'a> {
    pub bucket_start: i64,
    pub model: &'a str,
    pub provider: &'a str,
    pub user_id: &'a str,
    pub project_id: &'a str,
    pub feature: &'a str,
}

/// Adds rows of sums to `table` with multi-row upserts. The two rollup
/// tables share their dimensions and sums and differ in one key column:
/// `usage_rollups` has the grain, `session_rollups` the session; each row
/// brings that column's value, its dimensions and its sums (in
/// `sum_columns` order). Rows are written in the order given.
pub(crate) async fn upsert_sums<const N: usize>(
    conn: &mut AnyConnection,
    engine: Engine,
    org_id: &str,
    table: &str,
    column: &str,
    sum_columns: &[&str; N],
    rows: &[(&str, Dims<'_>, [i64; N])],
) -> Result<()> {
    let keys = format!("org_id, {column}, bucket_start, model, provider, user_id, project_id, feature");
    let updates = sum_columns.iter().map(|c| format!("{c} = {table}.{c} + excluded.{c}")).collect::<Vec<_>>().join(", ");
    for chunk in rows.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO {table} ({keys}, {}) VALUES {} ON CONFLICT ({keys}) DO UPDATE SET {updates}",
            sum_columns.join(", "),
            values_rows(engine, chunk.len(), 8 + N),
        );
        let mut q = sqlx::query(&sql);
        for (value, k, sums) in chunk {
            q = q.bind(org_id).bind(*value).bind(k.bucket_start).bind(k.model).bind(k.provider);
            q = q.bind(k.user_id).bind(k.project_id).bind(k.feature);
            for v in sums {
                q = q.bind(*v);
            }
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Adds counts to the latency histogram: ((grain, bucket start, model,
/// bucket bound), count), written in the order given.
pub(crate) async fn add_latency(conn: &mut AnyConnection, engine: Engine, org_id: &str, rows: &[((&str, i64, &str, i64), i64)]) -> Result<()> {
    for chunk in rows.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO latency_histogram (org_id, grain, bucket_start, model, le_ms, n) VALUES {} \
             ON CONFLICT (org_id, grain, bucket_start, model, le_ms) DO UPDATE SET n = latency_histogram.n + excluded.n",
            values_rows(engine, chunk.len(), 6)
        );
        let mut q = sqlx::query(&sql);
        for ((grain, bucket_start, model, le), n) in chunk {
            q = q.bind(org_id).bind(*grain).bind(*bucket_start).bind(*model).bind(*le).bind(*n);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// The sums of the usage report, in this order.
pub(crate) const REPORT_SUMS: [&str; 13] = [
    "events", "requests", "errors", "input_tokens", "cached_input_tokens", "cache_creation_tokens",
    "output_tokens", "reasoning_tokens", "images", "duration_ms", "cost_nano", "unpriced_events", "latency_count",
];

/// One hourly rollup row as the usage report reads it.
pub(crate) struct ReportRow {
    pub bucket_start: i64,
    /// model, provider, user, project, feature, session.
    pub dims: [String; 6],
    /// In [`REPORT_SUMS`] order.
    pub sums: [i64; 13],
    pub latency_sum_ms: i64,
}

/// What the usage report reads: which rows, narrowed how.
pub(crate) struct ReportFilter<'a> {
    pub from_ms: i64,
    pub to_ms: i64,
    pub model: &'a str,
    pub user_id: &'a str,
    pub project_id: &'a str,
    pub feature: &'a str,
    /// Read the session rollups (hourly, with the session as a dimension)
    /// instead of the narrower usage rollups.
    pub by_session: bool,
}

/// The hourly rollup rows of the range (empty filters match everything).
pub(crate) async fn report_rows(conn: &mut AnyConnection, org_id: &str, f: &ReportFilter<'_>) -> Result<Vec<ReportRow>> {
    let sql = format!(
        "SELECT bucket_start, {session}, model, provider, user_id, project_id, feature, events, requests, errors, \
         input_tokens, cached_input_tokens, cache_creation_tokens, output_tokens, reasoning_tokens, images, duration_ms, \
         cost_nano, unpriced_events, latency_count, latency_sum_ms FROM {table} \
         WHERE org_id = $1 AND {grain} bucket_start >= $2 AND bucket_start < $3 \
         AND ($4 = '' OR model = $4) AND ($5 = '' OR user_id = $5) AND ($6 = '' OR project_id = $6) AND ($7 = '' OR feature = $7)",
        session = if f.by_session { "session_id" } else { "'' AS session_id" },
        table = if f.by_session { "session_rollups" } else { "usage_rollups" },
        grain = if f.by_session { "" } else { "grain = 'hour' AND" },
    );
    let rows = sqlx::query(&sql)
        .bind(org_id)
        .bind(f.from_ms)
        .bind(f.to_ms)
        .bind(f.model)
        .bind(f.user_id)
        .bind(f.project_id)
        .bind(f.feature)
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|r| {
            let mut sums = [0i64; 13];
            for (i, col) in REPORT_SUMS.iter().enumerate() {
                sums[i] = r.try_get::<i64, _>(*col)?;
            }
            Ok(ReportRow {
                bucket_start: r.try_get("bucket_start")?,
                dims: [
                    r.try_get("model")?,
                    r.try_get("provider")?,
                    r.try_get("user_id")?,
                    r.try_get("project_id")?,
                    r.try_get("feature")?,
                    r.try_get("session_id")?,
                ],
                sums,
                latency_sum_ms: r.try_get::<i64, _>("latency_sum_ms")?,
            })
        })
        .collect()
}

/// The organization's hourly latency histogram in the range: (bucket start,
/// model, bucket bound, count); an empty `model` matches every model.
pub(crate) async fn hourly_latency(conn: &mut AnyConnection, org_id: &str, from_ms: i64, to_ms: i64, model: &str) -> Result<Vec<(i64, String, i64, i64)>> {
    let rows = sqlx::query(
        "SELECT bucket_start, model, le_ms, n FROM latency_histogram WHERE org_id = $1 AND grain = 'hour' \
         AND bucket_start >= $2 AND bucket_start < $3 AND ($4 = '' OR model = $4)",
    )
    .bind(org_id)
    .bind(from_ms)
    .bind(to_ms)
    .bind(model)
    .fetch_all(conn)
    .await?;
    rows.iter().map(|r| Ok((r.try_get("bucket_start")?, r.try_get("model")?, r.try_get("le_ms")?, r.try_get("n")?))).collect()
}

/// The organization's cost (nano-USD) in the hourly rollups whose hour starts in `[from, to)`.
pub(crate) async fn hourly_cost(conn: &mut AnyConnection, org_id: &str, from_ms: i64, to_ms: i64) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(cost_nano), 0) AS BIGINT) FROM usage_rollups \
         WHERE org_id = $1 AND grain = 'hour' AND bucket_start >= $2 AND bucket_start < $3",
    )
    .bind(org_id)
    .bind(from_ms)
    .bind(to_ms)
    .fetch_one(conn)
    .await?)
}

/// One model's use in the daily rollups since a day.
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

/// The organization's use per model in the daily rollups from `since` (a UTC midnight), by model name.
pub(crate) async fn daily_by_model(conn: &mut AnyConnection, org_id: &str, since: i64) -> Result<Vec<ModelTotals>> {
    let rows = sqlx::query(
        "SELECT model, CAST(SUM(events) AS BIGINT) AS calls, CAST(SUM(requests) AS BIGINT) AS requests, \
         CAST(SUM(input_tokens) AS BIGINT) AS input_tokens, CAST(SUM(cached_input_tokens) AS BIGINT) AS cached_input_tokens, \
         CAST(SUM(cache_creation_tokens) AS BIGINT) AS cache_creation_tokens, CAST(SUM(output_tokens) AS BIGINT) AS output_tokens, \
         CAST(SUM(reasoning_tokens) AS BIGINT) AS reasoning_tokens, CAST(SUM(cost_nano) AS BIGINT) AS spend \
         FROM usage_rollups WHERE org_id = $1 AND grain = 'day' AND bucket_start >= $2 GROUP BY model ORDER BY model",
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

/// One daily rollup row as the platform's figures read it.
#[derive(Debug, Clone, Copy, Default)]
pub struct DailyRow {
    pub requests: i64,
    pub errors: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cost_nano: i64,
    pub latency_count: i64,
    pub latency_sum_ms: i64,
}

/// The daily rollup rows in `[from, to)` of one organization (`Some`) or of
/// all: (organization, UTC day start, sums), unordered.
pub(crate) async fn daily_rows(conn: &mut AnyConnection, org_id: Option<&str>, from_ms: i64, to_ms: i64) -> Result<Vec<(String, i64, DailyRow)>> {
    let rows = sqlx::query(
        "SELECT org_id, bucket_start, requests, errors, input_tokens, output_tokens, cost_nano, latency_count, latency_sum_ms \
         FROM usage_rollups WHERE grain = 'day' AND bucket_start >= $1 AND bucket_start < $2 AND ($3 = '' OR org_id = $3)",
    )
    .bind(from_ms)
    .bind(to_ms)
    .bind(org_id.unwrap_or_default())
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("org_id")?,
                r.try_get("bucket_start")?,
                DailyRow {
                    requests: r.try_get("requests")?,
                    errors: r.try_get("errors")?,
                    input_tokens: r.try_get("input_tokens")?,
                    output_tokens: r.try_get("output_tokens")?,
                    cost_nano: r.try_get("cost_nano")?,
                    latency_count: r.try_get("latency_count")?,
                    latency_sum_ms: r.try_get("latency_sum_ms")?,
                },
            ))
        })
        .collect()
}

/// The platform's daily latency histogram in `[from, to)`: (day start, bucket bound, count).
pub(crate) async fn daily_latency(conn: &mut AnyConnection, from_ms: i64, to_ms: i64) -> Result<Vec<(i64, i64, i64)>> {
    let rows = sqlx::query("SELECT bucket_start, le_ms, n FROM latency_histogram WHERE grain = 'day' AND bucket_start >= $1 AND bucket_start < $2")
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(conn)
        .await?;
    rows.iter().map(|r| Ok((r.try_get("bucket_start")?, r.try_get("le_ms")?, r.try_get("n")?))).collect()
}
