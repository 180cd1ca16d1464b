//! Platform-wide reads for admins: tenants, usage series, the dashboard.
//! Read from the daily rollups (UTC days), never from raw events, except the
//! unpriced models (raw events without a cost).

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{Datelike, NaiveDate, TimeZone, Utc};

use super::{AdminSummary, Bucket, Consumer, Figure, FlaggedOrg, TenantRow, UnpricedSeen, UsageMetric, UsagePoint, UsageReport};
use crate::audit::{self, AuditFilter};
use crate::clock::{now_ms, to_rfc3339};
use crate::alerts;
use crate::db::Db;
use crate::metering::{self, store::rollups};
use crate::orgs;
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
    let rows = rollups::daily_rows(&mut *db.reader().acquire().await?, org_id, from_ms, to_ms).await?;
    let mut acc: HashMap<(String, i64), Day> = HashMap::new();
    for (org, bucket, r) in rows {
        let d = acc.entry((org, bucket)).or_default();
        d.requests += r.requests;
        d.errors += r.errors;
        d.tokens += r.input_tokens + r.output_tokens;
        d.cost += r.cost_nano;
        d.latency_count += r.latency_count;
        d.latency_sum += r.latency_sum_ms;
    }
    Ok(acc.into_iter().map(|((o, b), d)| (o, b, d)).collect())
}

async fn org_names(db: &Db) -> Result<HashMap<String, String>> {
    Ok(orgs::store::names(&mut *db.reader().acquire().await?).await?.into_iter().collect())
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
    let rows = orgs::store::tenants(&mut *db.reader().acquire().await?).await?;
    let mut cost: HashMap<String, i64> = HashMap::new();
    for (org, _, d) in daily(db, None, month_start, now + DAY_MS).await? {
        *cost.entry(org).or_default() += d.cost;
    }
    let needle = search.trim().to_lowercase();
    let mut out = Vec::new();
    for r in rows {
        if !needle.is_empty() && !r.name.to_lowercase().contains(&needle) && !r.id.to_lowercase().contains(&needle) {
            continue;
        }
        out.push(TenantRow {
            month_cost_usd: usd(cost.get(&r.id).copied().unwrap_or(0)),
            id: r.id,
            name: r.name,
            plan: r.plan_code,
            status: if r.suspended_at.is_some() { "suspended" } else { "active" }.into(),
            suspended_reason: r.suspended_reason,
            created_at: to_rfc3339(r.created_at),
            members: r.members,
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
    let hist_rows = rollups::daily_latency(&mut *db.reader().acquire().await?, from_ms, to_ms).await?;
    for (b, le, n) in hist_rows {
        *per.entry(bucket_start(bucket, day_of(b))).or_default().hist.entry(le).or_default() += n;
        *all.hist.entry(le).or_default() += n;
    }
    let p95 = |h: &BTreeMap<i64, i64>| {
        let v: Vec<(i64, i64)> = h.iter().map(|(a, b)| (*a, *b)).collect();
        crate::metering::rollup::quantile(&v, 0.95).map(|x| x.to_string())
    };
    let avg = |d: &Day| (d.latency_count > 0).then(|| (d.latency_sum / d.latency_count).to_string());

    let created = orgs::store::creation_times(&mut *db.reader().acquire().await?).await?;
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
        let rows = alerts::store::orgs_with(&mut *db.reader().acquire().await?, kind, from_ms, to_ms).await?;
        let rows = rows
            .into_iter()
            .map(|(org_id, alerts, last_at)| FlaggedOrg {
                org_name: names_ref.get(&org_id).cloned().unwrap_or_default(),
                org_id,
                kind: kind.to_string(),
                alerts,
                last_at: to_rfc3339(last_at),
            })
            .collect::<Vec<_>>();
        Ok::<_, Error>(rows)
    };
    let over_quota = flagged("quota_exceeded").await?;
    let over_budget = flagged("budget_exhausted").await?;

    let unpriced = metering::store::unpriced_between(&mut *db.reader().acquire().await?, from_ms, to_ms)
        .await?
        .into_iter()
        .map(|(model, events, organizations, last_seen)| UnpricedSeen { model, events, organizations, last_seen: to_rfc3339(last_seen) })
        .collect::<Vec<_>>();

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
