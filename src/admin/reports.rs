//! Platform-wide reads for admins: tenants, usage series, the dashboard.
//! Read from the organization-by-UTC-day rollup (indexed by day), aggregated
//! in SQL: each query returns a row per bucket, per organization listed, or
//! one row, never a row per organization-day.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate, TimeZone, Utc};
use sqlx::Row;

use super::{AdminSummary, Bucket, Consumer, Figure, FlaggedOrg, TenantRow, UnpricedSeen, UsageMetric, UsagePoint, UsageReport};
use crate::audit::{self, AuditFilter};
use crate::clock::{now_ms, to_rfc3339};
use crate::db::Db;
use crate::pricing::NanoUsd;
use crate::{Error, Result};

const DAY_MS: i64 = 86_400_000;

fn usd(nanos: i64) -> String {
    NanoUsd::from_nanos(nanos).to_usd_string()
}

fn day_of(ms: i64) -> NaiveDate {
    Utc.timestamp_millis_opt(ms).single().map(|t| t.date_naive()).unwrap_or_default()
}

fn ms_of(d: NaiveDate) -> i64 {
    d.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp_millis()).unwrap_or_default()
}

/// The first day of the bucket holding `d`.
pub fn bucket_start(bucket: Bucket, d: NaiveDate) -> NaiveDate {
    match bucket {
        Bucket::Daily => d,
        Bucket::Weekly => d - chrono::Duration::days(d.weekday().num_days_from_monday() as i64),
        Bucket::Monthly => d.with_day(1).unwrap_or(d),
    }
}

/// The bucket starts covering `[from, to)` (UTC days).
fn bucket_keys(bucket: Bucket, from_ms: i64, to_ms: i64) -> Vec<NaiveDate> {
    let mut out = Vec::new();
    if to_ms <= from_ms {
        return out;
    }
    let last = day_of(to_ms - 1);
    let mut d = day_of(from_ms);
    while d <= last {
        let k = bucket_start(bucket, d);
        if out.last() != Some(&k) {
            out.push(k);
        }
        d = d.succ_opt().unwrap_or(last + chrono::Duration::days(1));
    }
    out
}

/// Sums of the organization-by-UTC-day rollup over a set of days,
/// aggregated in SQL (one row per bucket, never one per organization-day).
#[derive(Debug, Default, Clone)]
struct Agg {
    requests: i64,
    errors: i64,
    tokens: i64,
    cost: i64,
    latency_count: i64,
    latency_sum: i64,
    /// Organizations with any requests, tokens or cost.
    active: i64,
    hist: [i64; crate::metering::analytics::LATENCY_BUCKETS],
}

fn agg_select() -> String {
    let mut cols = vec![
        "CAST(COALESCE(SUM(requests), 0) AS BIGINT) AS requests".to_string(),
        "CAST(COALESCE(SUM(errors), 0) AS BIGINT) AS errors".into(),
        "CAST(COALESCE(SUM(input_tokens + output_tokens), 0) AS BIGINT) AS tokens".into(),
        "CAST(COALESCE(SUM(cost_nano), 0) AS BIGINT) AS cost".into(),
        "CAST(COALESCE(SUM(latency_count), 0) AS BIGINT) AS latency_count".into(),
        "CAST(COALESCE(SUM(latency_sum_ms), 0) AS BIGINT) AS latency_sum".into(),
        "COUNT(DISTINCT CASE WHEN requests > 0 OR input_tokens + output_tokens > 0 OR cost_nano > 0 THEN org_id END) AS active".into(),
    ];
    cols.extend(crate::metering::analytics::latency_columns().map(|c| format!("CAST(COALESCE(SUM({c}), 0) AS BIGINT) AS {c}")));
    cols.join(", ")
}

fn agg_of(r: &sqlx::any::AnyRow) -> Result<Agg> {
    let mut a = Agg {
        requests: r.try_get("requests")?,
        errors: r.try_get("errors")?,
        tokens: r.try_get("tokens")?,
        cost: r.try_get("cost")?,
        latency_count: r.try_get("latency_count")?,
        latency_sum: r.try_get("latency_sum")?,
        active: r.try_get("active")?,
        ..Default::default()
    };
    for (slot, c) in a.hist.iter_mut().zip(crate::metering::analytics::latency_columns()) {
        *slot = r.try_get(c.as_str())?;
    }
    Ok(a)
}

/// The bucket (UTC day start, ms) of a `day` column: the day itself, or the
/// greatest bucket start not after it.
fn bucket_sql(col: &str, bucket: Bucket, keys: &[NaiveDate]) -> String {
    match bucket {
        Bucket::Daily => col.to_string(),
        _ => crate::metering::analytics::bucket_case(col, &keys.iter().map(|k| ms_of(*k)).collect::<Vec<_>>()),
    }
}

/// Sums over `[from, to)` of one organization or all, in all and per bucket.
async fn aggregate(db: &Db, tenant: Option<&str>, bucket: Bucket, keys: &[NaiveDate], from_ms: i64, to_ms: i64) -> Result<(Agg, BTreeMap<NaiveDate, Agg>)> {
    let filter = "day >= $1 AND day < $2 AND ($3 = '' OR org_id = $3)";
    let total = sqlx::query(&format!("SELECT {} FROM rollup_org_daily WHERE {filter}", agg_select()))
        .bind(from_ms)
        .bind(to_ms)
        .bind(tenant.unwrap_or_default())
        .fetch_one(db.reader())
        .await?;
    let rows = sqlx::query(&format!(
        "SELECT {} AS bucket, {} FROM rollup_org_daily WHERE {filter} GROUP BY 1",
        bucket_sql("day", bucket, keys),
        agg_select()
    ))
    .bind(from_ms)
    .bind(to_ms)
    .bind(tenant.unwrap_or_default())
    .fetch_all(db.reader())
    .await?;
    let mut per: BTreeMap<NaiveDate, Agg> = keys.iter().map(|k| (*k, Agg::default())).collect();
    for r in &rows {
        per.insert(bucket_start(bucket, day_of(r.try_get("bucket")?)), agg_of(r)?);
    }
    Ok((agg_of(&total)?, per))
}

/// The `n` organizations with the most tokens or cost over `[from, to)`.
async fn top(db: &Db, from_ms: i64, to_ms: i64, by_cost: bool, n: i64) -> Result<Vec<Consumer>> {
    let order = if by_cost { "cost" } else { "tokens" };
    let rows = sqlx::query(&format!(
        "SELECT r.org_id, o.name, CAST(SUM(r.input_tokens + r.output_tokens) AS BIGINT) AS tokens, \
         CAST(SUM(r.cost_nano) AS BIGINT) AS cost FROM rollup_org_daily r JOIN organizations o ON o.id = r.org_id \
         WHERE r.day >= $1 AND r.day < $2 GROUP BY r.org_id, o.name ORDER BY {order} DESC, r.org_id LIMIT $3"
    ))
    .bind(from_ms)
    .bind(to_ms)
    .bind(n)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Consumer {
                org_id: r.try_get("org_id")?,
                org_name: r.try_get("name")?,
                tokens: r.try_get("tokens")?,
                cost_usd: usd(r.try_get("cost")?),
            })
        })
        .collect()
}

/// Every organization with its plan, status, this UTC month's cost and
/// member count, newest first; `search` matches the name (case-insensitive)
/// or the id.
pub async fn tenants(db: &Db, search: &str) -> Result<Vec<TenantRow>> {
    let now = now_ms();
    let month_start = ms_of(day_of(now).with_day(1).unwrap_or_else(|| day_of(now)));
    // One row per organization, its month's cost summed in SQL.
    let rows = sqlx::query(
        "SELECT o.id, o.name, o.created_at, o.plan_code, o.suspended_at, o.suspended_reason, \
         (SELECT COUNT(*) FROM memberships m WHERE m.org_id = o.id) AS members, \
         (SELECT CAST(COALESCE(SUM(r.cost_nano), 0) AS BIGINT) FROM rollup_org_daily r WHERE r.org_id = o.id AND r.day >= $1) AS month_cost \
         FROM organizations o ORDER BY o.created_at DESC, o.id",
    )
    .bind(month_start)
    .fetch_all(db.reader())
    .await?;
    let needle = search.trim().to_lowercase();
    let mut out = Vec::new();
    for r in &rows {
        let id: String = r.try_get("id")?;
        let name: String = r.try_get("name")?;
        if !needle.is_empty() && !name.to_lowercase().contains(&needle) && !id.to_lowercase().contains(&needle) {
            continue;
        }
        let suspended: Option<i64> = r.try_get("suspended_at")?;
        out.push(TenantRow {
            month_cost_usd: usd(r.try_get("month_cost")?),
            id,
            name,
            plan: r.try_get("plan_code")?,
            status: if suspended.is_some() { "suspended" } else { "active" }.into(),
            suspended_reason: r.try_get("suspended_reason")?,
            created_at: to_rfc3339(r.try_get("created_at")?),
            members: r.try_get("members")?,
        });
    }
    Ok(out)
}

/// Parses the usage report's dates (`YYYY-MM-DD`, UTC, both included;
/// default the last 30 days up to today). Returns `[from, to)` in ms.
pub fn parse_range(start: Option<&str>, end: Option<&str>) -> Result<(i64, i64)> {
    let parse = |field: &'static str, s: &str| {
        NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| Error::invalid(field, "must be a date like 2026-11-23"))
    };
    let today = day_of(now_ms());
    let end = match end {
        Some(s) => parse("endDate", s)?,
        None => today,
    };
    let start = match start {
        Some(s) => parse("startDate", s)?,
        None => end - chrono::Duration::days(29),
    };
    if end < start {
        return Err(Error::invalid("endDate", "must not be before startDate"));
    }
    if (end - start).num_days() > 3660 {
        return Err(Error::invalid("startDate", "the range must be at most 10 years"));
    }
    Ok((ms_of(start), ms_of(end) + DAY_MS))
}

/// Usage series over `[from, to)`: one organization's (`Some`, unknown →
/// `NotFound`) or the platform's with the top 10 organizations by `metric`.
pub async fn usage_report(db: &Db, tenant_id: Option<&str>, metric: UsageMetric, bucket: Bucket, from_ms: i64, to_ms: i64) -> Result<UsageReport> {
    if let Some(t) = tenant_id {
        let found: Option<String> = sqlx::query_scalar("SELECT id FROM organizations WHERE id = $1").bind(t).fetch_optional(db.reader()).await?;
        found.ok_or(Error::NotFound("tenant"))?;
    }
    let keys = bucket_keys(bucket, from_ms, to_ms);
    let (total, per) = aggregate(db, tenant_id, bucket, &keys, from_ms, to_ms).await?;
    let top_consumers = match tenant_id {
        None => Some(top(db, from_ms, to_ms, metric == UsageMetric::Cost, 10).await?),
        Some(_) => None,
    };
    Ok(UsageReport {
        tenant_id: tenant_id.map(str::to_string),
        metric,
        period: bucket,
        start_date: day_of(from_ms).to_string(),
        end_date: day_of(to_ms - 1).to_string(),
        total_tokens: total.tokens,
        total_cost_usd: usd(total.cost),
        series: per.into_iter().map(|(k, a)| UsagePoint { bucket: k.to_string(), tokens: a.tokens, cost_usd: usd(a.cost) }).collect(),
        top_consumers,
    })
}

fn figure(total: Option<String>, series: Vec<(String, Option<String>)>) -> Figure {
    Figure { total, series }
}

fn pct(num: i64, den: i64) -> Option<String> {
    (den > 0).then(|| format!("{:.2}", num as f64 * 100.0 / den as f64))
}

/// The platform admin dashboard for `[from, to)` with series per `bucket`
/// (UTC). Platform admins only.
pub async fn summary(db: &Db, from_ms: i64, to_ms: i64, bucket: Bucket) -> Result<AdminSummary> {
    if to_ms <= from_ms {
        return Err(Error::invalid("to", "must be after from"));
    }
    let keys = bucket_keys(bucket, from_ms, to_ms);
    let (all, per) = aggregate(db, None, bucket, &keys, from_ms, to_ms).await?;
    let p95 = |a: &Agg| {
        let v: Vec<(i64, i64)> = crate::metering::rollup::LATENCY_BOUNDS_MS.iter().copied().zip(a.hist).filter(|(_, n)| *n > 0).collect();
        crate::metering::rollup::quantile(&v, 0.95).map(|x| x.to_string())
    };
    let avg = |a: &Agg| (a.latency_count > 0).then(|| (a.latency_sum / a.latency_count).to_string());

    // Organizations that existed at each bucket's end: counted per bucket of
    // creation in SQL, accumulated here (one row per bucket).
    let before: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM organizations WHERE created_at < $1").bind(from_ms).fetch_one(db.reader()).await?;
    let created_rows = sqlx::query(&format!(
        "SELECT {} AS bucket, COUNT(*) AS n FROM organizations WHERE created_at >= $1 AND created_at < $2 GROUP BY 1",
        bucket_sql(&format!("(created_at / {DAY_MS}) * {DAY_MS}"), bucket, &keys)
    ))
    .bind(from_ms)
    .bind(to_ms)
    .fetch_all(db.reader())
    .await?;
    let mut created: BTreeMap<NaiveDate, i64> = BTreeMap::new();
    for r in &created_rows {
        *created.entry(bucket_start(bucket, day_of(r.try_get("bucket")?))).or_default() += r.try_get::<i64, _>("n")?;
    }
    let mut running = before;
    let existing: BTreeMap<NaiveDate, i64> = keys
        .iter()
        .map(|k| {
            running += created.get(k).copied().unwrap_or(0);
            (*k, running)
        })
        .collect();
    let series = |f: &dyn Fn(&NaiveDate, &Agg) -> Option<String>| per.iter().map(|(k, b)| (k.to_string(), f(k, b))).collect::<Vec<_>>();

    let flagged = |kind: &'static str| async move {
        let rows = sqlx::query(
            "SELECT a.org_id, o.name, COUNT(*) AS n, MAX(a.created_at) AS last_at FROM alerts a JOIN organizations o ON o.id = a.org_id \
             WHERE a.kind = $1 AND a.created_at >= $2 AND a.created_at < $3 GROUP BY a.org_id, o.name ORDER BY MAX(a.created_at) DESC",
        )
        .bind(kind)
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(db.reader())
        .await?;
        rows.iter()
            .map(|r| {
                let org_id: String = r.try_get("org_id")?;
                Ok(FlaggedOrg {
                    org_name: r.try_get("name")?,
                    org_id,
                    kind: kind.to_string(),
                    alerts: r.try_get("n")?,
                    last_at: to_rfc3339(r.try_get("last_at")?),
                })
            })
            .collect::<Result<Vec<_>>>()
    };
    let over_quota = flagged("quota_exceeded").await?;
    let over_budget = flagged("budget_exhausted").await?;

    // From the hourly model rollup's unpriced rows (a partial index holds
    // only those), never from raw events.
    let unpriced = sqlx::query(
        "SELECT model, CAST(SUM(unpriced_events) AS BIGINT) AS events, COUNT(DISTINCT org_id) AS orgs, MAX(hour) AS last_seen \
         FROM rollup_model_hourly WHERE unpriced_events > 0 AND hour >= $1 AND hour < $2 \
         GROUP BY model ORDER BY SUM(unpriced_events) DESC, model LIMIT 100",
    )
    .bind(from_ms)
    .bind(to_ms)
    .fetch_all(db.reader())
    .await?
    .iter()
    .map(|r| {
        Ok(UnpricedSeen {
            model: r.try_get("model")?,
            events: r.try_get("events")?,
            organizations: r.try_get("orgs")?,
            last_seen: to_rfc3339(r.try_get("last_seen")?),
        })
    })
    .collect::<Result<Vec<_>>>()?;

    let mut recent_failures = audit::list(db, None, &AuditFilter { result: "failure".into(), ..Default::default() }, "UTC", 20).await?;
    recent_failures.extend(audit::list(db, None, &AuditFilter { result: "denied".into(), ..Default::default() }, "UTC", 20).await?);
    recent_failures.sort_by(|a, b| b.seq.cmp(&a.seq));
    recent_failures.truncate(20);

    Ok(AdminSummary {
        from_ms,
        to_ms,
        bucket,
        organizations: figure(Some(running.to_string()), series(&|k, _| Some(existing.get(k).copied().unwrap_or(before).to_string()))),
        active_organizations: figure(Some(all.active.to_string()), series(&|_, b| Some(b.active.to_string()))),
        api_calls: figure(Some(all.requests.to_string()), series(&|_, b| Some(b.requests.to_string()))),
        tokens: figure(Some(all.tokens.to_string()), series(&|_, b| Some(b.tokens.to_string()))),
        cost_usd: figure(Some(usd(all.cost)), series(&|_, b| Some(usd(b.cost)))),
        avg_latency_ms: figure(avg(&all), series(&|_, b| avg(b))),
        p95_latency_ms: figure(p95(&all), series(&|_, b| p95(b))),
        error_rate_percent: figure(pct(all.errors, all.requests), series(&|_, b| pct(b.errors, b.requests))),
        top_by_tokens: top(db, from_ms, to_ms, false, 10).await?,
        top_by_cost: top(db, from_ms, to_ms, true, 10).await?,
        over_quota,
        over_budget,
        unpriced_models: unpriced,
        recent_failures,
    })
}
