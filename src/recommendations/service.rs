//! Recommendations of one organization: its usage over the window, the
//! prices in force now, and its dismissals.

use std::collections::{BTreeSet, HashSet};

use sqlx::AnyConnection;

use super::{parse_key, recommend, store, ModelUsage, Recommendation, WINDOW_DAYS};
use crate::clock::now_ms;
use crate::db::Db;
use crate::metering::analytics;
use crate::metering::store as events;
use crate::pricing::store::{in_force, in_force_of_provider};
use crate::pricing::{cache, NanoUsd, PriceBook};
use crate::{Error, Result};

const DAY_MS: i64 = 86_400_000;

/// The start of the window ending at `now`: midnight UTC of the day
/// [`WINDOW_DAYS`]` - 1` days ago, so the window is today and the 29 whole
/// days before it, and lines up with the daily usage rollups.
pub fn window_start(now: i64) -> i64 {
    now - now.rem_euclid(DAY_MS) - (WINDOW_DAYS - 1) * DAY_MS
}

fn org(org_id: &str) -> Result<&str> {
    if org_id.trim().is_empty() {
        return Err(Error::invalid("org_id", "is required"));
    }
    Ok(org_id)
}

fn count(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// What the organization used per model since `since` (a UTC midnight): the
/// token mix from the daily rollups, the failed spend from the events.
async fn usage_by_model(conn: &mut AnyConnection, org_id: &str, since: i64) -> Result<Vec<ModelUsage>> {
    let mut usage = analytics::store::daily_by_model(&mut *conn, org_id, since)
        .await?
        .into_iter()
        .map(|t| ModelUsage {
            model: t.model,
            calls: count(t.calls),
            requests: count(t.requests),
            input_tokens: count(t.input_tokens),
            cached_input_tokens: count(t.cached_input_tokens),
            cache_creation_tokens: count(t.cache_creation_tokens),
            output_tokens: count(t.output_tokens),
            reasoning_tokens: count(t.reasoning_tokens),
            recorded_spend: NanoUsd::from_nanos(t.cost_nano),
            failed_calls: 0,
            failed_spend: NanoUsd::ZERO,
        })
        .collect::<Vec<_>>();
    for (model, failed_calls, failed_spend) in events::failed_spend_by_model(&mut *conn, org_id, since).await? {
        if let Some(u) = usage.iter_mut().find(|u| u.model == model) {
            u.failed_calls = count(failed_calls);
            u.failed_spend = NanoUsd::from_nanos(failed_spend);
        }
    }
    Ok(usage)
}

/// The prices in force at `now` of the models used and of every model of
/// their providers (the candidates). Unpriced models are simply absent.
async fn prices_for(db: &Db, conn: &mut AnyConnection, usage: &[ModelUsage], now: i64) -> Result<PriceBook> {
    let version = cache::version(&mut *conn).await?;
    let histories = db.price_cache().histories(&mut *conn, version, usage.iter().map(|u| u.model.as_str())).await?;
    let mut book = PriceBook::default();
    for h in histories.values() {
        if let Some(row) = in_force(h, now) {
            book.insert(row.price.clone());
        }
    }
    let providers: BTreeSet<String> = book.iter().map(|p| p.provider.clone()).collect();
    for provider in providers {
        for price in in_force_of_provider(&mut *conn, &provider, now).await? {
            if book.get(&price.name).is_none() {
                book.insert(price);
            }
        }
    }
    Ok(book)
}

/// The organization's recommendations that nobody has dismissed, computed
/// from its last [`WINDOW_DAYS`] days of usage and the prices in force now.
pub async fn list(db: &Db, org_id: &str) -> Result<Vec<Recommendation>> {
    let org_id = org(org_id)?;
    let now = now_ms();
    let mut conn = db.reader().acquire().await?;
    let usage = usage_by_model(&mut conn, org_id, window_start(now)).await?;
    if usage.is_empty() {
        return Ok(vec![]);
    }
    let book = prices_for(db, &mut conn, &usage, now).await?;
    let dismissed: HashSet<String> = store::dismissed(&mut conn, org_id).await?.into_iter().collect();
    Ok(recommend(&usage, &book)?.into_iter().filter(|r| !dismissed.contains(&r.key)).collect())
}

/// Hides a recommendation from the organization for good, by its key.
/// Dismissing twice is a no-op (the first dismissal is kept). `dismissed_by`
/// names who did it: a user id, or `api_key:<id>` over the REST API.
pub async fn dismiss(db: &Db, org_id: &str, key: &str, dismissed_by: &str) -> Result<()> {
    let org_id = org(org_id)?;
    let key = parse_key(key)?;
    store::dismiss(&mut *db.writer().acquire().await?, org_id, &key, dismissed_by, now_ms()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_today_and_the_29_days_before() {
        // 2026-01-31T15:00:00Z -> 2026-01-02T00:00:00Z
        let now = 1_769_871_600_000;
        assert_eq!(window_start(now), 1_767_312_000_000);
        assert_eq!(window_start(now) % DAY_MS, 0);
        assert_eq!(window_start(1_769_817_600_000), 1_767_312_000_000, "at midnight the day counts whole");
    }
}
