//! Storage of the embed signing key and each organization's embed origins
//! (tables `embed_signing_key`, `embed_origins`; this module owns both).

use sqlx::{AnyConnection, Row};

use crate::Result;

/// Stores `secret` as the signing key unless one exists, and returns the
/// stored one: concurrent first uses in several processes all end up with
/// the row that won.
pub(super) async fn signing_key(conn: &mut AnyConnection, secret: &str, now: i64) -> Result<String> {
    sqlx::query("INSERT INTO embed_signing_key (id, secret, created_at) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING")
        .bind(secret)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    let row = sqlx::query("SELECT secret FROM embed_signing_key WHERE id = 1").fetch_one(conn).await?;
    Ok(row.try_get("secret")?)
}

/// The organization's origins, in the order they were listed.
pub(super) async fn origins(conn: &mut AnyConnection, org_id: &str) -> Result<Vec<String>> {
    let rows = sqlx::query("SELECT origin FROM embed_origins WHERE org_id = $1 ORDER BY created_at, origin")
        .bind(org_id)
        .fetch_all(conn)
        .await?;
    rows.into_iter().map(|r| Ok(r.try_get("origin")?)).collect()
}

/// Replaces the organization's origins with `origins` (listed order kept
/// by `created_at` steps of 1 ms).
pub(super) async fn replace_origins(conn: &mut AnyConnection, org_id: &str, origins: &[String], now: i64) -> Result<()> {
    sqlx::query("DELETE FROM embed_origins WHERE org_id = $1").bind(org_id).execute(&mut *conn).await?;
    for (i, origin) in origins.iter().enumerate() {
        sqlx::query("INSERT INTO embed_origins (org_id, origin, created_at) VALUES ($1, $2, $3)")
            .bind(org_id)
            .bind(origin)
            .bind(now + i as i64)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}
