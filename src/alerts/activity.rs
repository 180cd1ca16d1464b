//! Alerts on the organization's recent activity, evaluated right after a
//! batch commits (at most once per organization every few seconds, so a
//! stream of small batches does not run the queries each time): spend
//! spikes, error rate and p95 latency. Each fires once per window.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use super::{is_error_rate_high, is_spike, p95_rank, AlertKind, NewAlert};
use crate::db::Db;
use crate::metering::analytics;
use crate::metering::store as events;
use crate::pricing::NanoUsd;
use crate::Result;

const HOUR_MS: i64 = 3_600_000;
const WEEK_MS: i64 = 7 * 24 * HOUR_MS;
const QUARTER_MS: i64 = 15 * 60_000;
/// Fewest latency samples in 15 minutes before p95 counts.
pub const LATENCY_MIN_SAMPLES: i64 = 20;
/// Least time between two evaluations of one organization.
pub const DEBOUNCE_MS: i64 = 5_000;

static LAST_RUN: Mutex<Option<HashMap<String, i64>>> = Mutex::new(None);

/// Whether the organization is due an evaluation (and marks it as run).
fn due(org_id: &str, now: i64) -> bool {
    let mut g = LAST_RUN.lock().expect("activity debounce");
    let map = g.get_or_insert_with(HashMap::new);
    if map.len() > 100_000 {
        map.retain(|_, t| now - *t < DEBOUNCE_MS);
    }
    match map.get(org_id) {
        Some(&t) if now - t < DEBOUNCE_MS => false,
        _ => {
            map.insert(org_id.to_string(), now);
            true
        }
    }
}

/// Called after a batch commits: evaluates the organization unless it was
/// evaluated in the last [`DEBOUNCE_MS`]. Errors are logged, not returned:
/// the batch is stored whatever happens here.
pub async fn after_commit(db: &Db, org_id: &str, now: i64) {
    if !due(org_id, now) {
        return;
    }
    if let Err(e) = evaluate(db, org_id, now).await {
        tracing::warn!(org = %org_id, error = %e, "activity alerts not evaluated");
    }
}

/// Evaluates spike, error rate and latency for the organization at `now`,
/// firing what the rules say. Returns the kinds fired.
pub async fn evaluate(db: &Db, org_id: &str, now: i64) -> Result<Vec<AlertKind>> {
    let mut conn = db.reader().acquire().await?;
    let (settings, spike_min) = super::settings::get_raw(&mut conn, org_id).await?;
    let mut alerts = Vec::new();

    if settings.spike_enabled {
        let last_hour = events::cost_between(&mut conn, org_id, now - HOUR_MS, now + 1).await?;
        // The baseline reads the organization's hourly rollup (168 rows at
        // most), never a week of raw events: the 168 whole UTC hours
        // before the hour in which the last-hour window starts.
        let base_end = (now - HOUR_MS) - (now - HOUR_MS).rem_euclid(HOUR_MS);
        let week = analytics::store::org_hourly_cost(&mut conn, org_id, base_end - WEEK_MS, base_end).await?;
        if is_spike(last_hour, week, settings.spike_percent, spike_min) {
            // For people (the exact figures are the alert's nanos).
            let avg = NanoUsd::from_nanos(week / 168).for_people();
            let seen = NanoUsd::from_nanos(last_hour).for_people();
            let pct = (last_hour as i128 * 100 * 168 / (week as i128).max(1)) as i64;
            let bucket = now - now.rem_euclid(HOUR_MS);
            alerts.push(NewAlert {
                kind: AlertKind::Spike,
                dedupe_key: format!("spike:{bucket}"),
                budget_id: None,
                scope: "organization".into(),
                scope_id: String::new(),
                period_start: Some(now - HOUR_MS),
                period_end: Some(now),
                observed: format!("{seen} in the last hour"),
                threshold: format!("{}% of {avg}/hour", settings.spike_percent),
                threshold_percent: Some(i64::from(settings.spike_percent)),
                // The last hour's spend the threshold stands for: percent × the hourly average.
                threshold_nanos: Some((week as i128 * settings.spike_percent as i128 / (100 * 168)) as i64),
                observed_nanos: Some(last_hour),
                message: format!(
                    "Spend spike: {seen} in the last hour is {pct}% of the hourly average of the previous 7 days ({avg}); the alert threshold is {}%.",
                    settings.spike_percent
                ),
            });
        }
    }

    let from = now - QUARTER_MS;
    let bucket = now - now.rem_euclid(QUARTER_MS);
    let (total, failed) = events::requests_and_failures(&mut conn, org_id, from, now).await?;
    if is_error_rate_high(failed, total, settings.error_rate_percent, settings.error_min_requests) {
        let rate = crate::budgets::percent(failed, total);
        alerts.push(NewAlert {
            kind: AlertKind::ErrorRate,
            dedupe_key: format!("error_rate:{bucket}"),
            budget_id: None,
            scope: "organization".into(),
            scope_id: String::new(),
            period_start: Some(from),
            period_end: Some(now),
            observed: format!("{rate}% ({failed} of {total} requests)"),
            threshold: format!("{}%", settings.error_rate_percent),
            threshold_percent: Some(i64::from(settings.error_rate_percent)),
            threshold_nanos: None,
            observed_nanos: None,
            message: format!(
                "{failed} of {total} requests in the last 15 minutes failed ({rate}%), above the {}% alert threshold.",
                settings.error_rate_percent
            ),
        });
    }

    if let Some(limit) = settings.latency_p95_ms {
        let n = events::latency_samples(&mut conn, org_id, from, now).await?;
        if n >= LATENCY_MIN_SAMPLES {
            let p95 = events::latency_at_rank(&mut conn, org_id, from, now, p95_rank(n)).await?;
            if p95 > limit as i64 {
                alerts.push(NewAlert {
                    kind: AlertKind::HighLatency,
                    dedupe_key: format!("high_latency:{bucket}"),
                    budget_id: None,
                    scope: "organization".into(),
                    scope_id: String::new(),
                    period_start: Some(from),
                    period_end: Some(now),
                    observed: format!("p95 {p95} ms over {n} calls"),
                    threshold: format!("{limit} ms"),
                    threshold_percent: None,
                    threshold_nanos: None,
                    observed_nanos: None,
                    message: format!(
                        "The 95th percentile latency of the last 15 minutes is {p95} ms over {n} calls, above the {limit} ms alert threshold."
                    ),
                });
            }
        }
    }
    drop(conn);

    let mut fired = Vec::new();
    if !alerts.is_empty() {
        let mut tx = db.begin().await?;
        for a in &alerts {
            if super::fire(&mut tx, org_id, a, now).await?.is_some() {
                fired.push(a.kind);
            }
        }
        tx.commit().await?;
    }
    Ok(fired)
}

static QUOTA_FIRED: Mutex<Option<HashSet<String>>> = Mutex::new(None);

/// Fires `quota_exceeded` for a refused hard limit, once per limit window.
/// Refusals can come in floods: a key fired by this process is remembered,
/// so only the first refusal of a window writes.
pub async fn quota_refused(db: &Db, org_id: &str, limit_key: &str, observed: String, threshold: String, message: String, now: i64) {
    let key = format!("quota:{limit_key}");
    {
        let mut g = QUOTA_FIRED.lock().expect("quota alerts");
        let set = g.get_or_insert_with(HashSet::new);
        if set.len() > 100_000 {
            set.clear();
        }
        if !set.insert(format!("{org_id}:{key}")) {
            return;
        }
    }
    let alert = NewAlert {
        kind: AlertKind::QuotaExceeded,
        dedupe_key: key,
        budget_id: None,
        scope: "organization".into(),
        scope_id: String::new(),
        period_start: None,
        period_end: None,
        observed,
        threshold,
        threshold_percent: None,
        threshold_nanos: None,
        observed_nanos: None,
        message,
    };
    let result = async {
        let mut tx = db.begin().await?;
        super::fire(&mut tx, org_id, &alert, now).await?;
        tx.commit().await?;
        Ok::<_, crate::Error>(())
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(org = %org_id, error = %e, "quota alert not stored");
    }
}
