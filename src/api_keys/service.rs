//! API key services: create, list, change (scopes, model allowlist),
//! revoke, authenticate.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use serde_json::json;

use super::{is_well_formed, store, ApiKeyView, ModelAllowlist, NewApiKey, Scope, Scopes, DISPLAY_PREFIX_LEN, KEY_PREFIX, KEY_SECRET_HEX_LEN};
use crate::audit::{self, By};
use crate::clock::now_ms;
use crate::db::Db;
use crate::expiring::Expiring;
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
    /// The models the key may call through the gateway; `None`: every model.
    pub model_allowlist: Option<ModelAllowlist>,
    /// The organization's setting: the gateway refuses calls to models
    /// without a price instead of recording them unpriced.
    pub refuse_unpriced_models: bool,
}

impl ApiPrincipal {
    /// Whether the key may call `model` (as requested) through the gateway.
    pub fn allows_model(&self, model: &str) -> bool {
        self.model_allowlist.as_ref().is_none_or(|a| a.allows(model))
    }

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
    /// The models it may call through the gateway; `None`: every model.
    pub model_allowlist: Option<ModelAllowlist>,
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
    if !crate::orgs::store::exists(&mut *db.reader().acquire().await?, org_id).await? {
        return Err(Error::NotFound("organization"));
    }
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
        model_allowlist: new.model_allowlist.clone(),
    };
    let mut tx = db.begin().await?;
    store::insert(&mut tx, org_id, &key, &secrets::digest(&secret), created_by).await?;
    let details = json!({
        "name": key.name, "prefix": key.prefix, "rate_limit_per_minute": key.rate_limit_per_minute, "scopes": key.scopes,
        "model_allowlist": key.model_allowlist,
    });
    audit::record_in(&mut tx, db.engine, &by.entry(Some(org_id), "api_key.create", Some(&key.id)).details(details)).await?;
    tx.commit().await?;
    Ok(NewApiKey { key, secret })
}

/// The organization's keys, newest first, revoked ones included.
pub async fn list(db: &Db, scope: &OrgScope) -> Result<Vec<ApiKeyView>> {
    store::list(&mut *db.reader().acquire().await?, &scope.org_id).await
}

/// Changes what a key may do (owners and admins); written to the audit log
/// with the scopes before and after. Setting the same scopes records nothing.
pub async fn set_scopes(db: &Db, scope: &OrgScope, key_id: &str, scopes: Scopes, by: &By) -> Result<ApiKeyView> {
    scope.require(Role::Admin)?;
    if !is_valid_id(key_id) {
        return Err(Error::NotFound("API key"));
    }
    let mut tx = db.begin().await?;
    let key = store::state(&mut tx, &scope.org_id, key_id).await?.ok_or(Error::NotFound("API key"))?;
    if key.revoked_at.is_some() {
        return Err(Error::conflict("scopes", "this key is revoked; create a new one"));
    }
    let before = key.scopes;
    if before != scopes {
        store::set_scopes(&mut tx, &scope.org_id, key_id, scopes).await?;
        let details = json!({ "name": key.name, "from": before, "to": scopes });
        audit::record_in(&mut tx, db.engine, &by.entry(Some(&scope.org_id), "api_key.scopes_change", Some(key_id)).details(details))
            .await?;
    }
    tx.commit().await?;
    forget_key(key_id);
    list(db, scope).await?.into_iter().find(|k| k.id == key_id).ok_or(Error::NotFound("API key"))
}

/// Sets or clears (`None`: every model) the models a key may call through
/// the gateway (owners and admins); audited as `api_key.models_change`
/// with the patterns before and after. Setting the same list records nothing.
pub async fn set_model_allowlist(db: &Db, scope: &OrgScope, key_id: &str, allowlist: Option<ModelAllowlist>, by: &By) -> Result<ApiKeyView> {
    scope.require(Role::Admin)?;
    change_model_allowlist(db, &scope.org_id, key_id, allowlist, by).await
}

/// [`set_model_allowlist`] by an API key of the organization (the REST
/// API): the key must hold the `manage` scope.
pub async fn set_model_allowlist_by_key(
    db: &Db,
    key: &ApiPrincipal,
    key_id: &str,
    allowlist: Option<ModelAllowlist>,
    by: &By,
) -> Result<ApiKeyView> {
    key.require(Scope::Manage)?;
    change_model_allowlist(db, &key.org_id, key_id, allowlist, by).await
}

async fn change_model_allowlist(db: &Db, org_id: &str, key_id: &str, allowlist: Option<ModelAllowlist>, by: &By) -> Result<ApiKeyView> {
    if !is_valid_id(key_id) {
        return Err(Error::NotFound("API key"));
    }
    let mut tx = db.begin().await?;
    let key = store::state(&mut tx, org_id, key_id).await?.ok_or(Error::NotFound("API key"))?;
    if key.revoked_at.is_some() {
        return Err(Error::conflict("model_allowlist", "this key is revoked; create a new one"));
    }
    if key.model_allowlist != allowlist {
        store::set_model_allowlist(&mut tx, org_id, key_id, allowlist.as_ref()).await?;
        let details = json!({ "name": key.name, "from": key.model_allowlist, "to": allowlist });
        audit::record_in(&mut tx, db.engine, &by.entry(Some(org_id), "api_key.models_change", Some(key_id)).details(details)).await?;
    }
    let view = store::get(&mut tx, org_id, key_id).await?.ok_or(Error::NotFound("API key"))?;
    tx.commit().await?;
    forget_key(key_id);
    Ok(view)
}

/// Revokes a key of the organization (owners and admins). Revoking twice is fine.
pub async fn revoke(db: &Db, scope: &OrgScope, key_id: &str, by: &By) -> Result<()> {
    scope.require(Role::Admin)?;
    if !is_valid_id(key_id) {
        return Err(Error::NotFound("API key"));
    }
    let mut tx = db.begin().await?;
    let (name, revoked_at) = store::name_and_revoked(&mut tx, &scope.org_id, key_id).await?.ok_or(Error::NotFound("API key"))?;
    // Revoking a revoked key changes nothing and records nothing.
    if revoked_at.is_some() {
        return Ok(());
    }
    store::revoke(&mut tx, &scope.org_id, key_id, now_ms()).await?;
    let details = json!({ "name": name });
    audit::record_in(&mut tx, db.engine, &by.entry(Some(&scope.org_id), "api_key.revoke", Some(key_id)).details(details)).await?;
    tx.commit().await?;
    forget_key(key_id);
    Ok(())
}

/// The principal for a bearer token, or `Unauthorized` for a malformed, unknown
/// or revoked key.
///
/// Every API call and gateway call asks, so a known key's principal is
/// reused for [`KEY_CACHE_MS`]: revoking a key, changing its scopes or
/// models, or the organization's settings through this process is seen at
/// once; through another process (several servers on one PostgreSQL) within
/// that time.
pub async fn authenticate(db: &Db, token: &str) -> Result<ApiPrincipal> {
    if !is_well_formed(token) {
        return Err(Error::Unauthorized("malformed API key; expected Authorization: Bearer tb_live_…"));
    }
    let digest = secrets::digest(token);
    let now = now_ms();
    let known = match KEYS.get(&digest, now) {
        Some(known) => known,
        None => {
            let ticket = KEYS.ticket();
            let key = store::by_hash(&mut *db.reader().acquire().await?, &digest).await?.ok_or(Error::Unauthorized("unknown API key"))?;
            if key.revoked_at.is_some() {
                return Err(Error::Unauthorized("this API key has been revoked"));
            }
            let known = Arc::new(Known {
                principal: ApiPrincipal {
                    org_id: key.org_id,
                    org_name: key.org_name,
                    key_id: key.key_id,
                    key_name: key.key_name,
                    time_zone: key.time_zone,
                    rate_limit_per_minute: key.rate_limit_per_minute,
                    scopes: key.scopes,
                    model_allowlist: key.model_allowlist,
                    refuse_unpriced_models: key.refuse_unpriced_models,
                },
                last_used_at: AtomicI64::new(key.last_used_at.unwrap_or(i64::MIN)),
            });
            KEYS.put(ticket, digest, known.clone(), now);
            known
        }
    };
    // One caller per resolution period writes `last_used_at`.
    let last = known.last_used_at.load(Ordering::Relaxed);
    if (last == i64::MIN || now - last >= LAST_USED_RESOLUTION_MS)
        && known.last_used_at.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
    {
        store::touch(&mut *db.writer().acquire().await?, &known.principal.key_id, now).await?;
    }
    Ok(known.principal.clone())
}

/// How long this process reuses a key's principal.
pub const KEY_CACHE_MS: i64 = 5_000;

/// A key [`authenticate`] found, by the digest of its token.
struct Known {
    principal: ApiPrincipal,
    last_used_at: AtomicI64,
}

static KEYS: Expiring<String, Arc<Known>> = Expiring::new(KEY_CACHE_MS);

/// Drops this process's cached principal of a changed key.
fn forget_key(key_id: &str) {
    KEYS.forget_if(|_, k| k.principal.key_id == key_id);
}

/// Drops this process's cached principals of an organization's keys (its
/// name, time zone or gateway setting changed).
pub fn forget_org_keys(org_id: &str) {
    KEYS.forget_if(|_, k| k.principal.org_id == org_id);
}
