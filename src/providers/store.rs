//! The `provider_connections` table (migration 0015). Every query is
//! scoped to one organization; the service is the only caller.

use sqlx::{AnyConnection, Row};

use super::secret_box::Sealed;
use super::ProviderKind;
use crate::db::Db;
use crate::{Error, Result};

/// A stored connection, its key still sealed.
#[derive(Debug, Clone)]
pub(super) struct Stored {
    pub org_id: String,
    pub name: String,
    pub kind: ProviderKind,
    pub base_url: Option<String>,
    pub sealed: Sealed,
    pub key_last4: String,
    pub updated_at: i64,
}

const COLUMNS: &str = "org_id, name, kind, base_url, api_key_ciphertext, nonce, key_last4, updated_at";

fn stored(r: &sqlx::any::AnyRow) -> Result<Stored> {
    let kind: String = r.try_get("kind")?;
    Ok(Stored {
        org_id: r.try_get("org_id")?,
        name: r.try_get("name")?,
        kind: ProviderKind::parse(&kind).map_err(|_| Error::Internal(format!("stored provider kind {kind:?}")))?,
        base_url: r.try_get("base_url")?,
        sealed: Sealed { ciphertext: r.try_get("api_key_ciphertext")?, nonce: r.try_get("nonce")? },
        key_last4: r.try_get("key_last4")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// The organization's connections by name.
pub(super) async fn list(db: &Db, org_id: &str) -> Result<Vec<Stored>> {
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM provider_connections WHERE org_id = $1 ORDER BY name"))
        .bind(org_id)
        .fetch_all(db.reader())
        .await?;
    rows.iter().map(stored).collect()
}

/// One connection, inside a transaction.
pub(super) async fn find_in(conn: &mut AnyConnection, org_id: &str, name: &str) -> Result<Option<Stored>> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM provider_connections WHERE org_id = $1 AND name = $2"))
        .bind(org_id)
        .bind(name)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(stored).transpose()
}

/// How many connections the organization has.
pub(super) async fn count_in(conn: &mut AnyConnection, org_id: &str) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM provider_connections WHERE org_id = $1").bind(org_id).fetch_one(conn).await?)
}

/// What a write stores.
pub(super) struct Write<'a> {
    pub org_id: &'a str,
    pub name: &'a str,
    pub kind: ProviderKind,
    pub base_url: Option<&'a str>,
    pub sealed: &'a Sealed,
    pub key_last4: &'a str,
    pub at: i64,
    pub by: &'a str,
}

pub(super) async fn insert(conn: &mut AnyConnection, w: &Write<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO provider_connections (org_id, name, kind, base_url, api_key_ciphertext, nonce, key_last4, created_at, updated_at, updated_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9)",
    )
    .bind(w.org_id)
    .bind(w.name)
    .bind(w.kind.as_str())
    .bind(w.base_url)
    .bind(&w.sealed.ciphertext)
    .bind(&w.sealed.nonce)
    .bind(w.key_last4)
    .bind(w.at)
    .bind(w.by)
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn update(conn: &mut AnyConnection, w: &Write<'_>) -> Result<()> {
    sqlx::query(
        "UPDATE provider_connections SET kind = $3, base_url = $4, api_key_ciphertext = $5, nonce = $6, key_last4 = $7, \
         updated_at = $8, updated_by = $9 WHERE org_id = $1 AND name = $2",
    )
    .bind(w.org_id)
    .bind(w.name)
    .bind(w.kind.as_str())
    .bind(w.base_url)
    .bind(&w.sealed.ciphertext)
    .bind(&w.sealed.nonce)
    .bind(w.key_last4)
    .bind(w.at)
    .bind(w.by)
    .execute(conn)
    .await?;
    Ok(())
}

/// Removes a connection; how many rows went (0 or 1).
pub(super) async fn delete(conn: &mut AnyConnection, org_id: &str, name: &str) -> Result<u64> {
    let done = sqlx::query("DELETE FROM provider_connections WHERE org_id = $1 AND name = $2").bind(org_id).bind(name).execute(conn).await?;
    Ok(done.rows_affected())
}

/// How many connections exist on the server, and the latest written one
/// (the start-up check decrypts it).
pub(super) async fn census(db: &Db) -> Result<(i64, Option<Stored>)> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM provider_connections").fetch_one(db.reader()).await?;
    let latest = sqlx::query(&format!("SELECT {COLUMNS} FROM provider_connections ORDER BY updated_at DESC LIMIT 1"))
        .fetch_optional(db.reader())
        .await?;
    Ok((n, latest.as_ref().map(stored).transpose()?))
}
