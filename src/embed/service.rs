//! The embed services: issuing and verifying tokens, the organization's
//! origins, and the meter's figures.

use std::str::FromStr;
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::token::{self, Claims};
use super::{parse_origins, store, MeterView, DEFAULT_TTL_SECS, MAX_TTL_SECS, SPARKLINE_DAYS};
use crate::audit::{self, By};
use crate::date_range::DateRange;
use crate::db::Db;
use crate::metering::usage::{self, month_start_ms, GroupBy, UsageQuery};
use crate::plans::{Metric, Period};
use crate::pricing::NanoUsd;
use crate::{Error, Result};

/// `POST /api/v1/embed-tokens`'s body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[derive(utoipa::ToSchema)]
pub struct TokenRequest {
    /// The end user (`user_id` of events) whose figures the meter shows;
    /// absent: the whole organization's, against the plan's limits.
    #[serde(default)]
    pub user_id: Option<String>,
    /// Seconds the token works, 1 to 3600 (default 900).
    #[serde(default)]
    pub ttl_seconds: Option<i64>,
}

/// A new token and the meter's URL with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[derive(utoipa::ToSchema)]
pub struct IssuedToken {
    pub token: String,
    /// RFC 3339 UTC: the token stops working at this time.
    pub expires_at: String,
    /// The meter page for this token (add `&theme=dark` for the dark theme).
    pub url: String,
    pub user_id: Option<String>,
}

/// The key, read once per database handle (it never changes once stored).
#[derive(Default)]
struct KeyCache(OnceLock<Arc<Vec<u8>>>);

/// The database's embed signing key: created by the first process that
/// needs one, then the same for every process on the database.
async fn signing_key(db: &Db) -> Result<Arc<Vec<u8>>> {
    let cache = db.state::<KeyCache>();
    if let Some(k) = cache.0.get() {
        return Ok(k.clone());
    }
    let mut conn = db.writer().acquire().await?;
    let stored = store::signing_key(&mut conn, &crate::secrets::random_hex(32), crate::clock::now_ms()).await?;
    let key = hex::decode(stored.trim()).map_err(|_| Error::Internal("the stored embed signing key is not hex".into()))?;
    Ok(cache.0.get_or_init(|| Arc::new(key)).clone())
}

/// Issues a token for the organization (or one of its end users) that
/// works for `ttl_seconds`; `base_url` is the server's public URL.
pub async fn issue_token(db: &Db, org_id: &str, req: &TokenRequest, base_url: &str, now_ms: i64) -> Result<IssuedToken> {
    let ttl = req.ttl_seconds.unwrap_or(DEFAULT_TTL_SECS);
    if !(1..=MAX_TTL_SECS).contains(&ttl) {
        return Err(Error::invalid("ttl_seconds", format!("must be between 1 and {MAX_TTL_SECS} seconds")));
    }
    let user_id = match req.user_id.as_deref().map(str::trim) {
        None => None,
        Some("") => return Err(Error::invalid("user_id", "must not be empty; leave it out for the whole organization")),
        Some(u) if u.chars().count() > 200 => return Err(Error::invalid("user_id", "is longer than 200 characters")),
        Some(u) => Some(u.to_string()),
    };
    let expires_at = now_ms.div_euclid(1000) + ttl;
    let claims = Claims { org_id: org_id.to_string(), user_id: user_id.clone(), expires_at };
    let token = token::sign(&signing_key(db).await?, &claims);
    Ok(IssuedToken {
        url: format!("{}/embed/usage?token={token}", base_url.trim_end_matches('/')),
        token,
        expires_at: crate::clock::to_rfc3339(expires_at * 1000),
        user_id,
    })
}

/// The claims of a token this database's key signed that has not expired
/// at `now_ms` and whose organization still exists; otherwise
/// [`Error::Unauthorized`], the same whatever was wrong.
pub async fn verify_token(db: &Db, token: &str, now_ms: i64) -> Result<Claims> {
    let refused = Error::Unauthorized("this meter link is not valid or has expired");
    let claims = token::verify(&signing_key(db).await?, token, now_ms.div_euclid(1000)).map_err(|_| refused)?;
    let mut conn = db.reader().acquire().await?;
    if !crate::orgs::store::exists(&mut conn, &claims.org_id).await? {
        return Err(Error::Unauthorized("this meter link is not valid or has expired"));
    }
    Ok(claims)
}

/// The origins allowed to frame the organization's meter.
pub async fn origins(db: &Db, org_id: &str) -> Result<Vec<String>> {
    let mut conn = db.reader().acquire().await?;
    store::origins(&mut conn, org_id).await
}

/// Replaces the organization's embed origins (each parsed by
/// [`super::parse_origin`]; a bad one is refused naming `embed_origins`);
/// audited as `embed.origins_change` when the list changed.
pub async fn set_origins<S: AsRef<str>>(db: &Db, org_id: &str, raw: &[S], by: &By) -> Result<Vec<String>> {
    let origins = parse_origins(raw)?;
    let mut tx = db.begin().await?;
    let before = store::origins(&mut tx, org_id).await?;
    if before != origins {
        store::replace_origins(&mut tx, org_id, &origins, crate::clock::now_ms()).await?;
        let details = json!({ "before": before, "after": origins });
        audit::record_in(&mut tx, db.engine, &by.entry(Some(org_id), "embed.origins_change", Some(org_id)).details(details)).await?;
    }
    tx.commit().await?;
    Ok(origins)
}

/// The meter of a verified token at `now_ms`: this month's usage and cost
/// (the end user's when the token names one), the day and month limits on
/// usage (the user's own, or the plan's for organization tokens), the last [`SPARKLINE_DAYS`] days'
/// cost, and when the month resets. Read from the rollups in one `GROUP BY`
/// each, at once.
pub async fn meter(db: &Db, claims: &Claims, now_ms: i64) -> Result<MeterView> {
    let org_id = claims.org_id.as_str();
    let (org_name, tz_name) = {
        let mut conn = db.reader().acquire().await?;
        crate::orgs::store::existing_name_and_zone(&mut conn, org_id).await?
    };
    let tz = chrono_tz::Tz::from_str(&tz_name).unwrap_or(chrono_tz::UTC);
    let days = DateRange::parse(Some("30d"), None, None, &tz_name, now_ms)?;
    let report = |from_ms: i64, to_ms: i64, group_by: Vec<GroupBy>| {
        let q = UsageQuery { from_ms, to_ms, group_by, user_id: claims.user_id.clone(), ..Default::default() };
        let tz_name = tz_name.clone();
        async move { usage::report(db, org_id, &tz_name, &q).await }
    };
    // The end user's own limits (per-user limits), or the plan's.
    let quota = async {
        match &claims.user_id {
            Some(user) => crate::end_users::limits(db, org_id, user).await.map(|l| l.lines),
            None => crate::quota::status(db, org_id).await.map(|q| q.lines),
        }
    };
    // Rollup buckets are hourly; an hour past "now" covers the current one.
    let (month, daily, quota) = tokio::try_join!(
        report(month_start_ms(&tz_name, now_ms), now_ms + 3_600_000, vec![]),
        report(days.start_ms(), days.end_ms(), vec![GroupBy::Day]),
        quota,
    )?;
    let month = month.rows.into_iter().next();
    let mut by_day: std::collections::HashMap<String, i64> = daily
        .rows
        .into_iter()
        .map(|r| (r.group.get("day").map(|d| d.chars().take(10).collect()).unwrap_or_default(), r.cost_nanos))
        .collect();
    let daily_cost: Vec<(String, NanoUsd)> = days
        .days()
        .map(|d| {
            let date = d.format("%Y-%m-%d").to_string();
            let cost = by_day.remove(&date).unwrap_or(0);
            (date, NanoUsd::from_nanos(cost))
        })
        .collect();
    debug_assert!(daily_cost.len() == SPARKLINE_DAYS);
    let limits = quota.into_iter().filter(|l| Metric::USAGE.contains(&l.metric) && matches!(l.period, Period::Day | Period::Month)).collect();
    let resets = crate::calendar::window(tz, Period::Month, now_ms).end_ms;
    Ok(MeterView {
        org_name,
        user_id: claims.user_id.clone(),
        time_zone: tz_name.clone(),
        month_cost: NanoUsd::from_nanos(month.as_ref().map_or(0, |m| m.cost_nanos)),
        month_tokens: month.as_ref().map_or(0, |m| m.input_tokens.saturating_add(m.output_tokens)),
        month_requests: month.as_ref().map_or(0, |m| m.requests),
        limits,
        daily_cost,
        resets_at: crate::calendar::to_local_rfc3339(tz, resets),
    })
}
