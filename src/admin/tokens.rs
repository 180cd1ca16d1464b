//! Platform admin API tokens (`tb_admin_…`): created, listed and revoked by
//! platform admins; SHA-256 stored like API keys. Authentication joins the
//! token's user and requires `is_platform_admin` on every call, so a token
//! can only ever belong to an admin and stops working when its user is demoted.

use sqlx::Row;

use super::{is_admin_token, AdminTokenView, NewAdminToken, ADMIN_TOKEN_PREFIX, ADMIN_TOKEN_SECRET_HEX_LEN};
use crate::accounts::UserView;
use crate::audit::{self, Actor, NewEntry};
use crate::clock::now_ms;
use crate::db::Db;
use crate::ids::{is_valid_id, new_id};
use crate::secrets;
use crate::{Error, Result};

const DISPLAY_PREFIX_LEN: usize = ADMIN_TOKEN_PREFIX.len() + 6;

fn require_platform_admin(actor: &UserView) -> Result<()> {
    if actor.is_platform_admin {
        Ok(())
    } else {
        Err(Error::Forbidden("platform admins only".into()))
    }
}

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

/// Creates a token for the acting platform admin; the secret is in the result
/// only. Recorded as `admin.token_create`.
pub async fn create_token(db: &Db, actor: &UserView, name: &str) -> Result<NewAdminToken> {
    require_platform_admin(actor)?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 80 {
        return Err(Error::invalid("name", "is required, at most 80 characters"));
    }
    let secret = format!("{ADMIN_TOKEN_PREFIX}{}", secrets::random_hex(ADMIN_TOKEN_SECRET_HEX_LEN / 2));
    let token = AdminTokenView {
        id: new_id(),
        user_id: actor.id.clone(),
        name: name.to_string(),
        prefix: secret[..DISPLAY_PREFIX_LEN].to_string(),
        created_at: now_ms(),
        last_used_at: None,
        revoked_at: None,
    };
    let mut tx = db.begin().await?;
    // Re-checked in the store: the actor may have been demoted since the page loaded.
    let still_admin: Option<i64> = sqlx::query_scalar("SELECT is_platform_admin FROM users WHERE id = $1")
        .bind(&actor.id)
        .fetch_optional(&mut *tx)
        .await?;
    if still_admin.unwrap_or(0) == 0 {
        return Err(Error::Forbidden("platform admins only".into()));
    }
    sqlx::query(
        "INSERT INTO admin_tokens (id, user_id, name, prefix, token_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&token.id)
    .bind(&token.user_id)
    .bind(&token.name)
    .bind(&token.prefix)
    .bind(secrets::digest(&secret))
    .bind(token.created_at)
    .execute(&mut *tx)
    .await?;
    let entry = NewEntry::new(None, Actor::user(&actor.id, &actor.email), "admin.token_create", Some(&token.id))
        .details(serde_json::json!({ "name": token.name, "prefix": token.prefix }));
    audit::record_in(&mut tx, db.engine, &entry).await?;
    tx.commit().await?;
    Ok(NewAdminToken { token, secret })
}

/// Every admin token (platform admins), newest first, revoked ones included.
pub async fn list_tokens(db: &Db, actor: &UserView) -> Result<Vec<AdminTokenView>> {
    require_platform_admin(actor)?;
    let rows = sqlx::query(
        "SELECT id, user_id, name, prefix, created_at, last_used_at, revoked_at FROM admin_tokens ORDER BY created_at DESC, id DESC",
    )
    .fetch_all(db.reader())
    .await?;
    rows.iter().map(view_of).collect()
}

/// Revokes a token (platform admins); revoking twice is fine.
pub async fn revoke_token(db: &Db, actor: &UserView, token_id: &str) -> Result<()> {
    require_platform_admin(actor)?;
    if !is_valid_id(token_id) {
        return Err(Error::NotFound("admin token"));
    }
    let mut tx = db.begin().await?;
    let n = sqlx::query("UPDATE admin_tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1")
        .bind(token_id)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(Error::NotFound("admin token"));
    }
    let entry = NewEntry::new(None, Actor::user(&actor.id, &actor.email), "admin.token_revoke", Some(token_id));
    audit::record_in(&mut tx, db.engine, &entry).await?;
    tx.commit().await?;
    Ok(())
}

/// The platform admin a bearer token acts for, or `Unauthorized` for a
/// malformed, unknown or revoked token or one whose user is no longer a
/// platform admin.
pub async fn authenticate_token(db: &Db, token: &str) -> Result<(UserView, AdminTokenView)> {
    if !is_admin_token(token) {
        return Err(Error::Unauthorized("missing or malformed admin token; send Authorization: Bearer tb_admin_…"));
    }
    let row = sqlx::query(
        "SELECT t.id, t.user_id, t.name, t.prefix, t.created_at, t.last_used_at, t.revoked_at, u.email, u.is_platform_admin \
         FROM admin_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1",
    )
    .bind(secrets::digest(token))
    .fetch_optional(db.reader())
    .await?
    .ok_or(Error::Unauthorized("unknown admin token"))?;
    let view = view_of(&row)?;
    if view.revoked_at.is_some() {
        return Err(Error::Unauthorized("this admin token has been revoked"));
    }
    if row.try_get::<i64, _>("is_platform_admin")? == 0 {
        return Err(Error::Unauthorized("this admin token's user is no longer a platform admin"));
    }
    let user = UserView { id: view.user_id.clone(), email: row.try_get("email")?, is_platform_admin: true };
    let now = now_ms();
    if view.last_used_at.is_none_or(|t| now - t >= crate::api_keys::LAST_USED_RESOLUTION_MS) {
        sqlx::query("UPDATE admin_tokens SET last_used_at = $2 WHERE id = $1").bind(&view.id).bind(now).execute(db.writer()).await?;
    }
    Ok((user, view))
}

/// Creates a token for the platform admin with this e-mail (the CLI).
pub async fn create_token_for_email(db: &Db, email: &str, name: &str) -> Result<NewAdminToken> {
    let email = crate::accounts::Email::parse(email)?;
    let row = sqlx::query("SELECT id, email, is_platform_admin FROM users WHERE email = $1")
        .bind(email.as_str())
        .fetch_optional(db.reader())
        .await?
        .ok_or(Error::NotFound("user"))?;
    let user = UserView { id: row.try_get("id")?, email: row.try_get("email")?, is_platform_admin: row.try_get::<i64, _>("is_platform_admin")? != 0 };
    create_token(db, &user, name).await
}
