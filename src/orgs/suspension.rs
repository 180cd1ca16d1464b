//! Suspension of an organization by a platform admin.
//!
//! A suspended organization keeps its data; its API keys are refused with
//! 403 `suspended`, its members get 403 from every organization server
//! function and download ([`require_active`]; platform admins keep their
//! read-only drill-down) and see a "suspended" page. The API key
//! extractor asks [`suspension_cached`] on every call: answers are kept per
//! organization for [`SUSPENSION_CACHE_MS`] and dropped at once in this
//! process by [`suspend`]/[`reactivate`]; another process (several servers on
//! one PostgreSQL) sees the change within that time.

use crate::accounts::UserView;
use crate::audit::{self, Actor, NewEntry, Origin};
use crate::clock::now_ms;
use crate::db::Db;
use crate::expiring::Expiring;
use crate::ids::is_valid_id;
use crate::{Error, Result};

/// How long a suspension answer is reused by the API key check.
pub const SUSPENSION_CACHE_MS: i64 = 5_000;

static CACHE: Expiring<String, Option<(i64, String)>> = Expiring::new(SUSPENSION_CACHE_MS);

fn forget(org_id: &str) {
    CACHE.forget_if(|org, _| org == org_id);
}

/// When and why the organization was suspended; `None` when active (or unknown).
pub async fn suspension(db: &Db, org_id: &str) -> Result<Option<(i64, String)>> {
    if !is_valid_id(org_id) {
        return Ok(None);
    }
    let row = super::store::suspension(&mut *db.reader().acquire().await?, org_id).await?;
    Ok(match row {
        Some((Some(at), reason)) => Some((at, reason.unwrap_or_default())),
        _ => None,
    })
}

/// [`suspension`], answered from a per-process cache for up to
/// [`SUSPENSION_CACHE_MS`] (the API key check on every call).
pub async fn suspension_cached(db: &Db, org_id: &str) -> Result<Option<(i64, String)>> {
    let now = now_ms();
    if let Some(v) = CACHE.get(org_id, now) {
        return Ok(v);
    }
    let ticket = CACHE.ticket();
    let v = suspension(db, org_id).await?;
    CACHE.put(ticket, org_id.to_string(), v.clone(), now);
    Ok(v)
}

/// What a member (or an API key) of a suspended organization is told.
pub fn suspended_message(reason: &str) -> String {
    format!("This organization is suspended: {reason}. Contact your platform administrator.")
}

/// `Forbidden` with [`suspended_message`] when the organization is
/// suspended: the check every organization server function and browser
/// download makes for its members (answered from the cache, like the API
/// key check).
pub async fn require_active(db: &Db, org_id: &str) -> Result<()> {
    match suspension_cached(db, org_id).await? {
        Some((_, reason)) => Err(Error::Forbidden(suspended_message(&reason))),
        None => Ok(()),
    }
}

fn require_platform_admin(actor: &UserView) -> Result<()> {
    if actor.is_platform_admin {
        Ok(())
    } else {
        Err(Error::Forbidden("platform admins only".into()))
    }
}

fn parse_reason(raw: &str) -> Result<String> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(Error::invalid("reason", "is required"));
    }
    if s.chars().count() > 500 {
        return Err(Error::invalid("reason", "must be at most 500 characters"));
    }
    Ok(s.to_string())
}

/// Suspends an organization (platform admins), recording `admin.suspend`
/// with where the request came from in the same transaction. Suspending a
/// suspended organization updates the reason.
pub async fn suspend(db: &Db, actor: &UserView, org_id: &str, reason: &str, origin: Origin<'_>) -> Result<()> {
    require_platform_admin(actor)?;
    let reason = parse_reason(reason)?;
    if !is_valid_id(org_id) {
        return Err(Error::NotFound("organization"));
    }
    let mut tx = db.begin().await?;
    if !super::store::set_suspended(&mut tx, org_id, now_ms(), &reason).await? {
        return Err(Error::NotFound("organization"));
    }
    let entry = NewEntry::new(Some(org_id), Actor::user(&actor.id, &actor.email), "admin.suspend", Some(org_id))
        .origin(origin)
        .details(serde_json::json!({ "reason": reason }));
    audit::record_in(&mut tx, db.engine, &entry).await?;
    tx.commit().await?;
    forget(org_id);
    Ok(())
}

/// Lifts a suspension (platform admins), recording `admin.reactivate` with
/// where the request came from.
pub async fn reactivate(db: &Db, actor: &UserView, org_id: &str, origin: Origin<'_>) -> Result<()> {
    require_platform_admin(actor)?;
    if !is_valid_id(org_id) {
        return Err(Error::NotFound("organization"));
    }
    let mut tx = db.begin().await?;
    if !super::store::clear_suspension(&mut tx, org_id).await? {
        return Err(Error::NotFound("organization"));
    }
    let entry = NewEntry::new(Some(org_id), Actor::user(&actor.id, &actor.email), "admin.reactivate", Some(org_id)).origin(origin);
    audit::record_in(&mut tx, db.engine, &entry).await?;
    tx.commit().await?;
    forget(org_id);
    Ok(())
}
