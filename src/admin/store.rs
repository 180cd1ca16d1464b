//! Storage of platform admin tokens (`admin_tokens`).

use sqlx::{AnyConnection, Row};

use super::AdminTokenView;
use crate::Result;

fn view_of(r: &sqlx::any::AnyRow) -> Result<AdminTokenView> {
    Ok(AdminTokenView {
        id: r.try_get("id")?,
        user_id: r.try_get("user_id")?,
        name: r.try_get("name")?,
        prefix: r.try_get("prefix")?,
        created_at: r.try_get("created_at")?,
        last_used_at: r.try_get("last_used_at")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}

/// Inserts a token with the hash of its secret.
pub(crate) async fn insert(conn: &mut AnyConnection, token: &AdminTokenView, token_hash: &str) -> Result<()> {
    sqlx::query("INSERT INTO admin_tokens (id, user_id, name, prefix, token_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(&token.id)
        .bind(&token.user_id)
        .bind(&token.name)
        .bind(&token.prefix)
        .bind(token_hash)
        .bind(token.created_at)
        .execute(conn)
        .await?;
    Ok(())
}

/// Every token, newest first, revoked ones included.
pub(crate) async fn list(conn: &mut AnyConnection) -> Result<Vec<AdminTokenView>> {
    let rows = sqlx::query(
        "SELECT id, user_id, name, prefix, created_at, last_used_at, revoked_at FROM admin_tokens ORDER BY created_at DESC, id DESC",
    )
    .fetch_all(conn)
    .await?;
    rows.iter().map(view_of).collect()
}

/// Revokes a token at `now` (keeping an earlier revocation); returns whether it exists.
pub(crate) async fn revoke(conn: &mut AnyConnection, token_id: &str, now: i64) -> Result<bool> {
    let n = sqlx::query("UPDATE admin_tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1")
        .bind(token_id)
        .bind(now)
        .execute(conn)
        .await?
        .rows_affected();
    Ok(n != 0)
}

/// The token whose secret hashes to `token_hash`, with its user's e-mail
/// and whether the user is a platform admin now (joined: authentication
/// checks both in one statement).
pub(crate) async fn by_hash(conn: &mut AnyConnection, token_hash: &str) -> Result<Option<(AdminTokenView, String, bool)>> {
    let row = sqlx::query(
        "SELECT t.id, t.user_id, t.name, t.prefix, t.created_at, t.last_used_at, t.revoked_at, u.email, u.is_platform_admin \
         FROM admin_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1",
    )
    .bind(token_hash)
    .fetch_optional(conn)
    .await?;
    row.map(|r| Ok((view_of(&r)?, r.try_get("email")?, r.try_get::<i64, _>("is_platform_admin")? != 0))).transpose()
}

/// Records that a token was used at `now`.
pub(crate) async fn touch(conn: &mut AnyConnection, token_id: &str, now: i64) -> Result<()> {
    sqlx::query("UPDATE admin_tokens SET last_used_at = $2 WHERE id = $1").bind(token_id).bind(now).execute(conn).await?;
    Ok(())
}
