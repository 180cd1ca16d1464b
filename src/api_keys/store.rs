//! Storage of API keys (`api_keys`).

use sqlx::{AnyConnection, Row};

use super::{ApiKeyView, ModelAllowlist, Scopes};
use crate::{Error, Result};

/// The scopes column as stored (written only by [`Scopes`]' own form).
fn stored_scopes(r: &sqlx::any::AnyRow) -> Result<Scopes> {
    let text: String = r.try_get("scopes")?;
    Scopes::parse(&text).map_err(|e| Error::Internal(format!("stored scopes {text:?}: {e}")))
}

/// The model allowlist column as stored (NULL: every model; written only
/// by [`ModelAllowlist::to_stored`]).
fn stored_allowlist(r: &sqlx::any::AnyRow) -> Result<Option<ModelAllowlist>> {
    let text: Option<String> = r.try_get("model_allowlist")?;
    text.map(|t| ModelAllowlist::parse(&t).map_err(|e| Error::Internal(format!("stored model allowlist {t:?}: {e}"))))
        .transpose()
        .map(Option::flatten)
}

/// Inserts a key with the hash of its secret.
pub(crate) async fn insert(conn: &mut AnyConnection, org_id: &str, key: &ApiKeyView, key_hash: &str, created_by: Option<&str>) -> Result<()> {
    sqlx::query(
        "INSERT INTO api_keys (id, org_id, name, prefix, key_hash, created_by, created_at, rate_limit_per_minute, scopes, model_allowlist) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&key.id)
    .bind(org_id)
    .bind(&key.name)
    .bind(&key.prefix)
    .bind(key_hash)
    .bind(created_by)
    .bind(key.created_at)
    .bind(key.rate_limit_per_minute)
    .bind(key.scopes.to_string())
    .bind(key.model_allowlist.as_ref().map(ModelAllowlist::to_stored))
    .execute(conn)
    .await?;
    Ok(())
}

const VIEW_COLUMNS: &str = "id, name, prefix, created_at, last_used_at, revoked_at, rate_limit_per_minute, scopes, model_allowlist";

fn view_of(r: &sqlx::any::AnyRow) -> Result<ApiKeyView> {
    Ok(ApiKeyView {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        prefix: r.try_get("prefix")?,
        created_at: r.try_get("created_at")?,
        last_used_at: r.try_get("last_used_at")?,
        revoked_at: r.try_get("revoked_at")?,
        rate_limit_per_minute: r.try_get("rate_limit_per_minute")?,
        scopes: stored_scopes(r)?,
        model_allowlist: stored_allowlist(r)?,
    })
}

/// The organization's keys, newest first, revoked ones included.
pub(crate) async fn list(conn: &mut AnyConnection, org_id: &str) -> Result<Vec<ApiKeyView>> {
    let rows = sqlx::query(&format!("SELECT {VIEW_COLUMNS} FROM api_keys WHERE org_id = $1 ORDER BY created_at DESC, id DESC"))
        .bind(org_id)
        .fetch_all(conn)
        .await?;
    rows.iter().map(view_of).collect()
}

/// One key of the organization, as listed.
pub(crate) async fn get(conn: &mut AnyConnection, org_id: &str, key_id: &str) -> Result<Option<ApiKeyView>> {
    let row = sqlx::query(&format!("SELECT {VIEW_COLUMNS} FROM api_keys WHERE id = $1 AND org_id = $2"))
        .bind(key_id)
        .bind(org_id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(view_of).transpose()
}

/// A key's name, revocation time, scopes and model allowlist.
pub(crate) struct KeyState {
    pub name: String,
    pub revoked_at: Option<i64>,
    pub scopes: Scopes,
    pub model_allowlist: Option<ModelAllowlist>,
}

/// One key of the organization.
pub(crate) async fn state(conn: &mut AnyConnection, org_id: &str, key_id: &str) -> Result<Option<KeyState>> {
    let row = sqlx::query("SELECT name, revoked_at, scopes, model_allowlist FROM api_keys WHERE id = $1 AND org_id = $2")
        .bind(key_id)
        .bind(org_id)
        .fetch_optional(conn)
        .await?;
    row.map(|r| {
        Ok(KeyState {
            name: r.try_get("name")?,
            revoked_at: r.try_get("revoked_at")?,
            scopes: stored_scopes(&r)?,
            model_allowlist: stored_allowlist(&r)?,
        })
    })
    .transpose()
}

/// Sets what a key may do.
pub(crate) async fn set_scopes(conn: &mut AnyConnection, org_id: &str, key_id: &str, scopes: Scopes) -> Result<()> {
    sqlx::query("UPDATE api_keys SET scopes = $3 WHERE id = $1 AND org_id = $2")
        .bind(key_id)
        .bind(org_id)
        .bind(scopes.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// Sets the models a key may call (`None`: every model).
pub(crate) async fn set_model_allowlist(conn: &mut AnyConnection, org_id: &str, key_id: &str, allowlist: Option<&ModelAllowlist>) -> Result<()> {
    sqlx::query("UPDATE api_keys SET model_allowlist = $3 WHERE id = $1 AND org_id = $2")
        .bind(key_id)
        .bind(org_id)
        .bind(allowlist.map(ModelAllowlist::to_stored))
        .execute(conn)
        .await?;
    Ok(())
}

/// A key's name and revocation time.
pub(crate) async fn name_and_revoked(conn: &mut AnyConnection, org_id: &str, key_id: &str) -> Result<Option<(String, Option<i64>)>> {
    let row = sqlx::query("SELECT name, revoked_at FROM api_keys WHERE id = $1 AND org_id = $2")
        .bind(key_id)
        .bind(org_id)
        .fetch_optional(conn)
        .await?;
    row.map(|r| Ok((r.try_get("name")?, r.try_get("revoked_at")?))).transpose()
}

/// Revokes a key at `now`.
pub(crate) async fn revoke(conn: &mut AnyConnection, org_id: &str, key_id: &str, now: i64) -> Result<()> {
    sqlx::query("UPDATE api_keys SET revoked_at = $3 WHERE id = $1 AND org_id = $2")
        .bind(key_id)
        .bind(org_id)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

/// A key found by the hash of its secret, with its organization's name,
/// time zone and gateway setting (joined: authentication reads them in one
/// statement).
pub(crate) struct ByHash {
    pub key_id: String,
    pub key_name: String,
    pub org_id: String,
    pub org_name: String,
    pub time_zone: String,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub rate_limit_per_minute: Option<i64>,
    pub scopes: Scopes,
    pub model_allowlist: Option<ModelAllowlist>,
    pub refuse_unpriced_models: bool,
}

/// The key whose secret hashes to `key_hash`.
pub(crate) async fn by_hash(conn: &mut AnyConnection, key_hash: &str) -> Result<Option<ByHash>> {
    let row = sqlx::query(
        "SELECT k.id, k.name, k.org_id, k.revoked_at, k.last_used_at, k.rate_limit_per_minute, k.scopes, k.model_allowlist, \
         o.name AS org_name, o.time_zone, o.refuse_unpriced_models FROM api_keys k JOIN organizations o ON o.id = k.org_id WHERE k.key_hash = $1",
    )
    .bind(key_hash)
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        Ok(ByHash {
            key_id: r.try_get("id")?,
            key_name: r.try_get("name")?,
            org_id: r.try_get("org_id")?,
            org_name: r.try_get("org_name")?,
            time_zone: r.try_get("time_zone")?,
            revoked_at: r.try_get("revoked_at")?,
            last_used_at: r.try_get("last_used_at")?,
            rate_limit_per_minute: r.try_get("rate_limit_per_minute")?,
            scopes: stored_scopes(&r)?,
            model_allowlist: stored_allowlist(&r)?,
            refuse_unpriced_models: r.try_get::<i64, _>("refuse_unpriced_models")? != 0,
        })
    })
    .transpose()
}

/// Records that a key was used at `now`.
pub(crate) async fn touch(conn: &mut AnyConnection, key_id: &str, now: i64) -> Result<()> {
    sqlx::query("UPDATE api_keys SET last_used_at = $2 WHERE id = $1").bind(key_id).bind(now).execute(conn).await?;
    Ok(())
}
