//! Platform-wide reads for admins: tenants, usage series, the dashboard.
//! Read from the organization-by-UTC-day rollup (indexed by day), aggregated
//! in SQL: each query returns a row per bucket, per organization listed, or
//! one row, never a row per organization-day.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate, TimeZone, Utc};

use super::{AdminSummary, Bucket, Consumer, Figure, FlaggedOrg, TenantPage, TenantRow, UnpricedSeen, UsageMetric, UsagePoint, UsageReport};
use crate::alerts;
use crate::audit::{self, AuditFilter};
use crate::clock::{now_ms, to_rfc3339};
use crate::db::Db;
use crate::metering::analytics::{self, store::OrgDaySums};
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

/// Sums of the organization-by-UTC-day rollup over a set of days,
/// aggregated in SQL (one row per bucket, never one per organization-day).
type Agg = OrgDaySums;

/// Sums over `[from, to)` of one organization or all, in all and per bucket.
async fn aggregate(db: &Db, tenant: Option<&str>, bucket: Bucket, keys: &[NaiveDate], from_ms: i64, to_ms: i64) -> Result<(Agg, BTreeMap<NaiveDate, Agg>)> {
    let starts = bucket_starts(bucket, keys);
    let (total, rows) = analytics::store::org_days(&mut *db.reader().acquire().await?, tenant, from_ms, to_ms, starts.as_deref()).await?;
    let mut per: BTreeMap<NaiveDate, Agg> = keys.iter().map(|k| (*k, Agg::default())).collect();
    for (b, a) in rows {
        per.insert(bucket_start(bucket, day_of(b)), a);
    }
    Ok((total, per))
}

/// The bucket starts (UTC ms) a day is mapped to in SQL, `None` for days.
fn bucket_starts(bucket: Bucket, keys: &[NaiveDate]) -> Option<Vec<i64>> {
    match bucket {
        Bucket::Daily => None,
        _ => Some(keys.iter().map(|k| ms_of(*k)).collect()),
    }
}

/// The `n` organizations with the most tokens and the `n` with the most
/// cost over `[from, to)`.
async fn top(db: &Db, from_ms: i64, to_ms: i64, n: i64) -> Result<(Vec<Consumer>, Vec<Consumer>)> {
    let mut conn = db.reader().acquire().await?;
    let (by_tokens, by_cost) = analytics::store::top_orgs(&mut conn, from_ms, to_ms, n).await?;
    let ids: Vec<String> = by_tokens.iter().chain(&by_cost).map(|r| r.0.clone()).collect();
    let names = orgs::store::names_of(&mut conn, &ids).await?;
    let named = |rows: Vec<(String, i64, i64)>| {
        rows.into_iter()
            .filter_map(|(org_id, tokens, cost)| {
                let org_name = names.get(&org_id)?.clone();
                Some(Consumer { org_id, org_name, tokens, cost_usd: usd(cost) })
            })
            .collect()
    };
    Ok((named(by_tokens), named(by_cost)))
}

/// Every organization with its plan, status, this UTC month's cost and
/// member count, newest first; `search` matches the name (case-insensitive)
/// or the id; `trialing_only` keeps the organizations with an active trial.
pub async fn tenants(db: &Db, search: &str, trialing_only: bool) -> Result<Vec<TenantRow>> {
    Ok(tenants_page(db, search, trialing_only, 0, None).await?.rows)
}

/// One page of [`tenants`]: `limit` rows from `offset` (`None`: all), and
/// how many match in all. Filtered, counted and paged in SQL; the month's
/// cost summed for the listed organizations only.
pub async fn tenants_page(db: &Db, search: &str, trialing_only: bool, offset: i64, limit: Option<i64>) -> Result<TenantPage> {
    let now = now_ms();
    let month_start = ms_of(day_of(now).with_day(1).unwrap_or_else(|| day_of(now)));
    let mut conn = db.reader().acquire().await?;
    let (rows, total) = orgs::store::tenants(&mut conn, search, trialing_only, offset, limit).await?;
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    // A page sums its own organizations; the whole list sums them all.
    let month_cost = analytics::store::cost_by_org_since(&mut conn, month_start, limit.is_some().then_some(ids.as_slice())).await?;
    let trial_ends = crate::trials::active_ends(&mut conn).await?;
    let rows = rows
        .into_iter()
        .map(|r| TenantRow {
            trial_ends_at: trial_ends.get(&r.id).copied().map(to_rfc3339),
            month_cost_usd: usd(month_cost.get(&r.id).copied().unwrap_or(0)),
            id: r.id,
            name: r.name,
            plan: r.plan_code,
            status: if r.suspended_at.is_some() { "suspended" } else { "active" }.into(),
            suspended_reason: r.suspended_reason,
            created_at: to_rfc3339(r.created_at),
            members: r.members,
        })
        .collect();
    Ok(TenantPage { rows, total, offset: offset.max(0) })
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
        if !orgs::store::exists(&mut *db.reader().acquire().await?, t).await? {
            return Err(Error::NotFound("tenant"));
        }
    }
    let keys = bucket_keys(bucket, from_ms, to_ms);
    let (total, per) = aggregate(db, tenant_id, bucket, &keys, from_ms, to_ms).await?;
    let top_consumers = match tenant_id {
        None => {
            let (by_tokens, by_cost) = top(db, from_ms, to_ms, 10).await?;
            Some(if metric == UsageMetric::Cost { by_cost } else { by_tokens })
        }
        Some(_) => None,
    };
    Ok(UsageReport {
        tenant_id: tenant_id.map(str::to_string),
        metric,
        period: bucket,
        start_date: day_of(from_ms).to_string(),
        end_date: day_of(to_ms - 1).to_string(),
        total_tokens: total.tokens,
        total_cost_usd: usd(total.cost_nano),
        series: per.into_iter().map(|(k, a)| UsagePoint { bucket: k.to_string(), tokens: a.tokens, cost_usd: usd(a.cost_nano) }).collect(),
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
    let p95 = |a: &Agg| {
        let v: Vec<(i64, i64)> = crate::metering::rollup::LATENCY_BOUNDS_MS.iter().copied().zip(a.latency).filter(|(_, n)| *n > 0).collect();
        crate::metering::rollup::quantile(&v, 0.95).map(|x| x.to_string())
    };
    let avg = |a: &Agg| (a.latency_count > 0).then(|| (a.latency_sum_ms / a.latency_count).to_string());

    // Organizations that existed at each bucket's end: counted per bucket of
    // creation in SQL, accumulated here (one row per bucket).
    let created = async {
        let mut conn = db.reader().acquire().await?;
        let before = orgs::store::created_before(&mut conn, from_ms).await?;
        Ok::<_, Error>((before, orgs::store::created_per_bucket(&mut conn, from_ms, to_ms, bucket_starts(bucket, &keys).as_deref()).await?))
    };
    let flagged = |kind: &'static str| async move {
        let mut conn = db.reader().acquire().await?;
        let rows = alerts::store::orgs_with(&mut conn, kind, from_ms, to_ms).await?;
        let names = orgs::store::names_of(&mut conn, &rows.iter().map(|r| r.0.clone()).collect::<Vec<_>>()).await?;
        Ok::<_, Error>(
            rows.into_iter()
                .filter_map(|(org_id, alerts, last_at)| {
                    let org_name = names.get(&org_id)?.clone();
                    Some(FlaggedOrg { org_name, org_id, kind: kind.to_string(), alerts, last_at: to_rfc3339(last_at) })
                })
                .collect::<Vec<_>>(),
        )
    };
    // From the hourly model rollup's unpriced rows, never from raw events.
    let unpriced = async { analytics::store::unpriced_between(&mut *db.reader().acquire().await?, from_ms, to_ms).await };
    let failures = |result: &'static str| async move {
        audit::list(db, None, &AuditFilter { result: result.into(), ..Default::default() }, "UTC", 20).await
    };
    // Independent reads, run at once (each on its own connection).
    let ((all, per), (before, created_rows), over_quota, over_budget, unpriced, failed, denied, (top_by_tokens, top_by_cost), partly_priced) = tokio::try_join!(
        aggregate(db, None, bucket, &keys, from_ms, to_ms),
        created,
        flagged("quota_exceeded"),
        flagged("budget_exhausted"),
        unpriced,
        failures("failure"),
        failures("denied"),
        top(db, from_ms, to_ms, 10),
        crate::metering::unpriced::partly_priced_models(db, None),
    )?;
    let mut created: BTreeMap<NaiveDate, i64> = BTreeMap::new();
    for (b, n) in created_rows {
        *created.entry(bucket_start(bucket, day_of(b))).or_default() += n;
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

    let unpriced = unpriced
        .into_iter()
        .map(|(model, events, organizations, last_seen)| UnpricedSeen { model, events, organizations, last_seen: to_rfc3339(last_seen) })
        .collect::<Vec<_>>();
    let mut recent_failures = failed;
    recent_failures.extend(denied);
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
        cost_usd: figure(Some(usd(all.cost_nano)), series(&|_, b| Some(usd(b.cost_nano)))),
        avg_latency_ms: figure(avg(&all), series(&|_, b| avg(b))),
        p95_latency_ms: figure(p95(&all), series(&|_, b| p95(b))),
        error_rate_percent: figure(pct(all.errors, all.requests), series(&|_, b| pct(b.errors, b.requests))),
        top_by_tokens,
        top_by_cost,
        over_quota,
        over_budget,
        unpriced_models: unpriced,
        partly_priced_models: partly_priced
            .into_iter()
            .filter(|m| m.last_seen_ms >= from_ms)
            .collect(),
        recent_failures,
    })
}
