//! API key services: create, list, revoke, authenticate.

use serde_json::json;
use sqlx::Row;

use super::{is_well_formed, ApiKeyView, NewApiKey, Scope, Scopes, DISPLAY_PREFIX_LEN, KEY_PREFIX, KEY_SECRET_HEX_LEN};
use crate::audit::{self, By};
use crate::clock::now_ms;
use crate::db::Db;
use crate::ids::{is_valid_id, new_id};
use crate::orgs::{OrgScope, Role};
use crate::secrets;
use crate::{Error, Result};

/// `last_used_at` is refreshed at most this often, so that authenticating
/// does not turn every API read into a write.
pub const LAST_USED_RESOLUTION_MS: i64 = 60_000;

/// Who an API call acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiPrincipal {
    pub org_id: String,
    pub org_name: String,
    pub key_id: String,
    pub key_name: String,
    /// The organization's time zone (IANA name).
    pub time_zone: String,
    /// The key's own rate limit in requests per minute, if set.
    pub rate_limit_per_minute: Option<i64>,
    /// What the key may do.
    pub scopes: Scopes,
}

impl ApiPrincipal {
    /// `Forbidden` naming the scope when the key lacks it.
    pub fn require(&self, scope: Scope) -> Result<()> {
        if self.scopes.has(scope) {
            Ok(())
        } else {
            Err(Error::Forbidden(format!("this key lacks the {} scope", scope.as_str())))
        }
    }

    /// `Forbidden` unless the key has at least one of `scopes`.
    pub fn require_any(&self, scopes: &[Scope]) -> Result<()> {
        match scopes.iter().find(|s| self.scopes.has(**s)) {
            Some(_) => Ok(()),
            None => {
                let names: Vec<_> = scopes.iter().map(|s| s.as_str()).collect();
                Err(Error::Forbidden(format!("this key lacks the {} scope", names.join(" or "))))
            }
        }
    }
}

/// What a new key is made with.
#[derive(Debug, Clone)]
pub struct NewKey<'a> {
    pub name: &'a str,
    /// Its own rate limit in requests per minute, on top of the plan's.
    pub rate_limit_per_minute: Option<i64>,
    pub scopes: Scopes,
}

fn parse_name(raw: &str) -> Result<String> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(Error::invalid("name", "is required"));
    }
    if s.chars().count() > 80 {
        return Err(Error::invalid("name", "must be at most 80 characters"));
    }
    Ok(s.to_string())
}

/// Creates a key (owners and admins) with its scopes, and its own rate limit
/// in requests per minute if given (on top of the plan's). The secret is in
/// the result and nowhere else.
pub async fn create(db: &Db, scope: &OrgScope, new: &NewKey<'_>, by: &By) -> Result<NewApiKey> {
    scope.require(Role::Admin)?;
    insert(db, &scope.org_id, Some(&scope.user_id), new, by).await
}

/// Creates a key for an organization on the operator's behalf (the CLI):
/// no member creates it, so no role is checked; the caller is trusted.
pub async fn create_for_org(db: &Db, org_id: &str, new: &NewKey<'_>, by: &By) -> Result<NewApiKey> {
    if !is_valid_id(org_id) {
        return Err(Error::NotFound("organization"));
    }
    let exists: Option<String> =
        sqlx::query_scalar("SELECT id FROM organizations WHERE id = $1").bind(org_id).fetch_optional(db.reader()).await?;
    exists.ok_or(Error::NotFound("organization"))?;
    insert(db, org_id, None, new, by).await
}

async fn insert(db: &Db, org_id: &str, created_by: Option<&str>, new: &NewKey<'_>, by: &By) -> Result<NewApiKey> {
    let name = parse_name(new.name)?;
    let rate_limit_per_minute = super::check_rate_limit(new.rate_limit_per_minute)?;
    let secret = format!("{KEY_PREFIX}{}", secrets::random_hex(KEY_SECRET_HEX_LEN / 2));
    let key = ApiKeyView {
        id: new_id(),
        name,
        prefix: secret[..DISPLAY_PREFIX_LEN].to_string(),
        created_at: now_ms(),
        last_used_at: None,
        revoked_at: None,
        rate_limit_per_minute,
        scopes: new.scopes,
    };
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO api_keys (id, org_id, name, prefix, key_hash, created_by, created_at, rate_limit_per_minute, scopes) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&key.id)
    .bind(org_id)
    .bind(&key.name)
    .bind(&key.prefix)
    .bind(secrets::digest(&secret))
    .bind(created_by)
    .bind(key.created_at)
    .bind(key.rate_limit_per_minute)
    .bind(key.scopes.to_string())
    .execute(&mut *tx)
    .await?;
    let details = json!({
        "name": key.name, "prefix": key.prefix, "rate_limit_per_minute": key.rate_limit_per_minute, "scopes": key.scopes,
    });
    audit::record_in(&mut tx, db.engine, &by.entry(Some(org_id), "api_key.create", Some(&key.id)).details(details)).await?;
    tx.commit().await?;
    Ok(NewApiKey { key, secret })
}

/// The organization's keys, newest first, revoked ones included.
pub async fn list(db: &Db, scope: &OrgScope) -> Result<Vec<ApiKeyView>> {
    let rows = sqlx::query(
        "SELECT id, name, prefix, created_at, last_used_at, revoked_at, rate_limit_per_minute, scopes FROM api_keys WHERE org_id = $1 \
         ORDER BY created_at DESC, id DESC",
    )
    .bind(&scope.org_id)
    .fetch_all(db.reader())
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(ApiKeyView {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                prefix: r.try_get("prefix")?,
                created_at: r.try_get("created_at")?,
                last_used_at: r.try_get("last_used_at")?,
                revoked_at: r.try_get("revoked_at")?,
                rate_limit_per_minute: r.try_get("rate_limit_per_minute")?,
                scopes: stored_scopes(&r)?,
            })
        })
        .collect()
}

/// The scopes column as stored (written only by [`Scopes`]' own form).
fn stored_scopes(r: &sqlx::any::AnyRow) -> Result<Scopes> {
    let text: String = r.try_get("scopes")?;
    Scopes::parse(&text).map_err(|e| Error::Internal(format!("stored scopes {text:?}: {e}")))
}

/// Changes what a key may do (owners and admins); written to the audit log
/// with the scopes before and after. Setting the same scopes records nothing.
pub async fn set_scopes(db: &Db, scope: &OrgScope, key_id: &str, scopes: Scopes, by: &By) -> Result<ApiKeyView> {
    scope.require(Role::Admin)?;
    if !is_valid_id(key_id) {
        return Err(Error::NotFound("API key"));
    }
    let mut tx = db.begin().await?;
    let row = sqlx::query("SELECT name, revoked_at, scopes FROM api_keys WHERE id = $1 AND org_id = $2")
        .bind(key_id)
        .bind(&scope.org_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(Error::NotFound("API key"))?;
    if row.try_get::<Option<i64>, _>("revoked_at")?.is_some() {
        return Err(Error::conflict("scopes", "this key is revoked; create a new one"));
    }
    let before = stored_scopes(&row)?;
    if before != scopes {
        sqlx::query("UPDATE api_keys SET scopes = $3 WHERE id = $1 AND org_id = $2")
            .bind(key_id)
            .bind(&scope.org_id)
            .bind(scopes.to_string())
            .execute(&mut *tx)
            .await?;
        let details = json!({ "name": row.try_get::<String, _>("name")?, "from": before, "to": scopes });
        audit::record_in(&mut tx, db.engine, &by.entry(Some(&scope.org_id), "api_key.scopes_change", Some(key_id)).details(details))
            .await?;
    }
    tx.commit().await?;
    list(db, scope).await?.into_iter().find(|k| k.id == key_id).ok_or(Error::NotFound("API key"))
}

/// Revokes a key of the organization (owners and admins). Revoking twice is fine.
pub async fn revoke(db: &Db, scope: &OrgScope, key_id: &str, by: &By) -> Result<()> {
    scope.require(Role::Admin)?;
    if !is_valid_id(key_id) {
        return Err(Error::NotFound("API key"));
    }
    let mut tx = db.begin().await?;
    let row = sqlx::query("SELECT name, revoked_at FROM api_keys WHERE id = $1 AND org_id = $2")
        .bind(key_id)
        .bind(&scope.org_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(Error::NotFound("API key"))?;
    // Revoking a revoked key changes nothing and records nothing.
    if row.try_get::<Option<i64>, _>("revoked_at")?.is_some() {
        return Ok(());
    }
    sqlx::query("UPDATE api_keys SET revoked_at = $3 WHERE id = $1 AND org_id = $2")
        .bind(key_id)
        .bind(&scope.org_id)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
    let details = json!({ "name": row.try_get::<String, _>("name")? });
    audit::record_in(&mut tx, db.engine, &by.entry(Some(&scope.org_id), "api_key.revoke", Some(key_id)).details(details)).await?;
    tx.commit().await?;
    Ok(())
}

/// The principal for a bearer token, or `Unauthorized` for a malformed, unknown
/// or revoked key.
pub async fn authenticate(db: &Db, token: &str) -> Result<ApiPrincipal> {
    if !is_well_formed(token) {
        return Err(Error::Unauthorized("malformed API key; expected Authorization: Bearer tb_live_…"));
    }
    let row = sqlx::query(
        "SELECT k.id, k.name, k.org_id, k.revoked_at, k.last_used_at, k.rate_limit_per_minute, k.scopes, o.name AS org_name, o.time_zone \
         FROM api_keys k JOIN organizations o ON o.id = k.org_id WHERE k.key_hash = $1",
    )
    .bind(secrets::digest(token))
    .fetch_optional(db.reader())
    .await?
    .ok_or(Error::Unauthorized("unknown API key"))?;
    if row.try_get::<Option<i64>, _>("revoked_at")?.is_some() {
        return Err(Error::Unauthorized("this API key has been revoked"));
    }
    let principal = ApiPrincipal {
        org_id: row.try_get("org_id")?,
        org_name: row.try_get("org_name")?,
        key_id: row.try_get("id")?,
        key_name: row.try_get("name")?,
        time_zone: row.try_get("time_zone")?,
        rate_limit_per_minute: row.try_get("rate_limit_per_minute")?,
        scopes: stored_scopes(&row)?,
    };
    let now = now_ms();
    let last: Option<i64> = row.try_get("last_used_at")?;
    if last.is_none_or(|t| now - t >= LAST_USED_RESOLUTION_MS) {
        sqlx::query("UPDATE api_keys SET last_used_at = $2 WHERE id = $1")
            .bind(&principal.key_id)
            .bind(now)
            .execute(db.writer())
            .await?;
    }
    Ok(principal)
}
