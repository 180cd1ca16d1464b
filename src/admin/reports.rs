//! Platform-wide reads for admins: tenants, usage series, the dashboard.
//! Read from the daily rollups (UTC days), never from raw events, except the
//! unpriced models (raw events without a cost).

use std::collections::{BTreeMap, HashMap, HashSet};

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

/// Sums of one organization's daily rollups on one UTC day.
#[derive(Debug, Default, Clone, Copy)]
struct Day {
    requests: i64,
    errors: i64,
    tokens: i64,
    cost: i64,
    latency_count: i64,
    latency_sum: i64,
}

/// Daily rollups in `[from, to)`, summed per (organization, UTC day start).
async fn daily(db: &Db, org_id: Option<&str>, from_ms: i64, to_ms: i64) -> Result<Vec<(String, i64, Day)>> {
    let rows = sqlx::query(
        "SELECT org_id, bucket_start, requests, errors, input_tokens, output_tokens, cost_nano, latency_count, latency_sum_ms \
         FROM usage_rollups WHERE grain = 'day' AND bucket_start >= $1 AND bucket_start < $2 AND ($3 = '' OR org_id = $3)",
    )
    .bind(from_ms)
    .bind(to_ms)
    .bind(org_id.unwrap_or_default())
    .fetch_all(db.reader())
    .await?;
    let mut acc: HashMap<(String, i64), Day> = HashMap::new();
    for r in &rows {
        let d = acc.entry((r.try_get("org_id")?, r.try_get("bucket_start")?)).or_default();
        d.requests += r.try_get::<i64, _>("requests")?;
        d.errors += r.try_get::<i64, _>("errors")?;
        d.tokens += r.try_get::<i64, _>("input_tokens")? + r.try_get::<i64, _>("output_tokens")?;
        d.cost += r.try_get::<i64, _>("cost_nano")?;
        d.latency_count += r.try_get::<i64, _>("latency_count")?;
        d.latency_sum += r.try_get::<i64, _>("latency_sum_ms")?;
    }
    Ok(acc.into_iter().map(|((o, b), d)| (o, b, d)).collect())
}

async fn org_names(db: &Db) -> Result<HashMap<String, String>> {
    let rows = sqlx::query("SELECT id, name FROM organizations").fetch_all(db.reader()).await?;
    rows.iter().map(|r| Ok((r.try_get("id")?, r.try_get("name")?))).collect()
}

fn top(per_org: &HashMap<String, (i64, i64)>, names: &HashMap<String, String>, by_cost: bool, n: usize) -> Vec<Consumer> {
    let mut v: Vec<_> = per_org.iter().collect();
    v.sort_by(|a, b| {
        let ka = if by_cost { a.1 .1 } else { a.1 .0 };
        let kb = if by_cost { b.1 .1 } else { b.1 .0 };
        kb.cmp(&ka).then(a.0.cmp(b.0))
    });
    v.into_iter()
        .take(n)
        .map(|(id, (t, c))| Consumer { org_id: id.clone(), org_name: names.get(id).cloned().unwrap_or_default(), tokens: *t, cost_usd: usd(*c) })
        .collect()
}

/// Every organization with its plan, status, this UTC month's cost and
/// member count, newest first; `search` matches the name (case-insensitive)
/// or the id.
pub async fn tenants(db: &Db, search: &str) -> Result<Vec<TenantRow>> {
    let now = now_ms();
    let month_start = ms_of(day_of(now).with_day(1).unwrap_or_else(|| day_of(now)));
    let rows = sqlx::query(
        "SELECT o.id, o.name, o.created_at, o.plan_code, o.suspended_at, o.suspended_reason, \
         (SELECT COUNT(*) FROM memberships m WHERE m.org_id = o.id) AS members \
         FROM organizations o ORDER BY o.created_at DESC, o.id",
    )
    .fetch_all(db.reader())
    .await?;
    let mut cost: HashMap<String, i64> = HashMap::new();
    for (org, _, d) in daily(db, None, month_start, now + DAY_MS).await? {
        *cost.entry(org).or_default() += d.cost;
    }
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
            month_cost_usd: usd(cost.get(&id).copied().unwrap_or(0)),
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
    let names = org_names(db).await?;
    if let Some(t) = tenant_id {
        if !names.contains_key(t) {
            return Err(Error::NotFound("tenant"));
        }
    }
    let days = daily(db, tenant_id, from_ms, to_ms).await?;
    let keys = bucket_keys(bucket, from_ms, to_ms);
    let mut series: BTreeMap<NaiveDate, (i64, i64)> = keys.iter().map(|k| (*k, (0, 0))).collect();
    let mut per_org: HashMap<String, (i64, i64)> = HashMap::new();
    let (mut total_t, mut total_c) = (0i64, 0i64);
    for (org, b, d) in &days {
        let e = series.entry(bucket_start(bucket, day_of(*b))).or_default();
        e.0 += d.tokens;
        e.1 += d.cost;
        let o = per_org.entry(org.clone()).or_default();
        o.0 += d.tokens;
        o.1 += d.cost;
        total_t += d.tokens;
        total_c += d.cost;
    }
    Ok(UsageReport {
        tenant_id: tenant_id.map(str::to_string),
        metric,
        period: bucket,
        start_date: day_of(from_ms).to_string(),
        end_date: day_of(to_ms - 1).to_string(),
        total_tokens: total_t,
        total_cost_usd: usd(total_c),
        series: series.into_iter().map(|(k, (t, c))| UsagePoint { bucket: k.to_string(), tokens: t, cost_usd: usd(c) }).collect(),
        top_consumers: tenant_id.is_none().then(|| top(&per_org, &names, metric == UsageMetric::Cost, 10)),
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
    let names = org_names(db).await?;
    let keys = bucket_keys(bucket, from_ms, to_ms);
    let days = daily(db, None, from_ms, to_ms).await?;

    #[derive(Default, Clone)]
    struct B {
        d: Day,
        orgs: HashSet<String>,
        hist: BTreeMap<i64, i64>,
    }
    let mut per: BTreeMap<NaiveDate, B> = keys.iter().map(|k| (*k, B::default())).collect();
    let mut all = B::default();
    let mut per_org: HashMap<String, (i64, i64)> = HashMap::new();
    for (org, b, d) in &days {
        let e = per.entry(bucket_start(bucket, day_of(*b))).or_default();
        for x in [&mut e.d, &mut all.d] {
            x.requests += d.requests;
            x.errors += d.errors;
            x.tokens += d.tokens;
            x.cost += d.cost;
            x.latency_count += d.latency_count;
            x.latency_sum += d.latency_sum;
        }
        if d.requests > 0 || d.tokens > 0 || d.cost > 0 {
            e.orgs.insert(org.clone());
            all.orgs.insert(org.clone());
        }
        let o = per_org.entry(org.clone()).or_default();
        o.0 += d.tokens;
        o.1 += d.cost;
    }
    let hist_rows = sqlx::query("SELECT bucket_start, le_ms, n FROM latency_histogram WHERE grain = 'day' AND bucket_start >= $1 AND bucket_start < $2")
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(db.reader())
        .await?;
    for r in &hist_rows {
        let (b, le, n): (i64, i64, i64) = (r.try_get("bucket_start")?, r.try_get("le_ms")?, r.try_get("n")?);
        *per.entry(bucket_start(bucket, day_of(b))).or_default().hist.entry(le).or_default() += n;
        *all.hist.entry(le).or_default() += n;
    }
    let p95 = |h: &BTreeMap<i64, i64>| {
        let v: Vec<(i64, i64)> = h.iter().map(|(a, b)| (*a, *b)).collect();
        crate::metering::rollup::quantile(&v, 0.95).map(|x| x.to_string())
    };
    let avg = |d: &Day| (d.latency_count > 0).then(|| (d.latency_sum / d.latency_count).to_string());

    let created: Vec<i64> = sqlx::query_scalar("SELECT created_at FROM organizations").fetch_all(db.reader()).await?;
    let existing_at = |end: i64| created.iter().filter(|c| **c < end).count().to_string();
    let series = |f: &dyn Fn(&NaiveDate, &B) -> Option<String>| per.iter().map(|(k, b)| (k.to_string(), f(k, b))).collect::<Vec<_>>();
    let bucket_end = |k: &NaiveDate| {
        let next = match bucket {
            Bucket::Daily => *k + chrono::Duration::days(1),
            Bucket::Weekly => *k + chrono::Duration::days(7),
            Bucket::Monthly => k.checked_add_months(chrono::Months::new(1)).unwrap_or(*k),
        };
        ms_of(next).min(to_ms)
    };

    let names_ref = &names;
    let flagged = |kind: &'static str| async move {
        let rows = sqlx::query(
            "SELECT org_id, COUNT(*) AS n, MAX(created_at) AS last_at FROM alerts WHERE kind = $1 AND created_at >= $2 AND created_at < $3 \
             GROUP BY org_id ORDER BY MAX(created_at) DESC",
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
                    org_name: names_ref.get(&org_id).cloned().unwrap_or_default(),
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

    let unpriced = sqlx::query(
        "SELECT model, COUNT(*) AS events, COUNT(DISTINCT org_id) AS orgs, MAX(ts) AS last_seen FROM usage_events \
         WHERE cost_nano IS NULL AND ts >= $1 AND ts < $2 GROUP BY model ORDER BY COUNT(*) DESC, model LIMIT 100",
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
        organizations: figure(Some(existing_at(to_ms)), series(&|k, _| Some(existing_at(bucket_end(k))))),
        active_organizations: figure(Some(all.orgs.len().to_string()), series(&|_, b| Some(b.orgs.len().to_string()))),
        api_calls: figure(Some(all.d.requests.to_string()), series(&|_, b| Some(b.d.requests.to_string()))),
        tokens: figure(Some(all.d.tokens.to_string()), series(&|_, b| Some(b.d.tokens.to_string()))),
        cost_usd: figure(Some(usd(all.d.cost)), series(&|_, b| Some(usd(b.d.cost)))),
        avg_latency_ms: figure(avg(&all.d), series(&|_, b| avg(&b.d))),
        p95_latency_ms: figure(p95(&all.hist), series(&|_, b| p95(&b.hist))),
        error_rate_percent: figure(pct(all.d.errors, all.d.requests), series(&|_, b| pct(b.d.errors, b.d.requests))),
        top_by_tokens: top(&per_org, &names, false, 10),
        top_by_cost: top(&per_org, &names, true, 10),
        over_quota,
        over_budget,
        unpriced_models: unpriced,
        recent_failures,
    })
}
