//! Platform admin API tokens (`tb_admin_…`): created, listed and revoked by
//! platform admins; SHA-256 stored like API keys. Authentication joins the
//! token's user and requires `is_platform_admin` on every call, so a token
//! can only ever belong to an admin and stops working when its user is demoted.

use super::{is_admin_token, store, AdminTokenView, NewAdminToken, ADMIN_TOKEN_PREFIX, ADMIN_TOKEN_SECRET_HEX_LEN};
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
    if !crate::accounts::store::is_platform_admin(&mut tx, &actor.id).await? {
        return Err(Error::Forbidden("platform admins only".into()));
    }
    store::insert(&mut tx, &token, &secrets::digest(&secret)).await?;
    let entry = NewEntry::new(None, Actor::user(&actor.id, &actor.email), "admin.token_create", Some(&token.id))
        .details(serde_json::json!({ "name": token.name, "prefix": token.prefix }));
    audit::record_in(&mut tx, db.engine, &entry).await?;
    tx.commit().await?;
    Ok(NewAdminToken { token, secret })
}

/// Every admin token (platform admins), newest first, revoked ones included.
pub async fn list_tokens(db: &Db, actor: &UserView) -> Result<Vec<AdminTokenView>> {
    require_platform_admin(actor)?;
    store::list(&mut *db.reader().acquire().await?).await
}

/// Revokes a token (platform admins); revoking twice is fine.
pub async fn revoke_token(db: &Db, actor: &UserView, token_id: &str) -> Result<()> {
    require_platform_admin(actor)?;
    if !is_valid_id(token_id) {
        return Err(Error::NotFound("admin token"));
    }
    let mut tx = db.begin().await?;
    if !store::revoke(&mut tx, token_id, now_ms()).await? {
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
    let (view, email, is_platform_admin) =
        store::by_hash(&mut *db.reader().acquire().await?, &secrets::digest(token)).await?.ok_or(Error::Unauthorized("unknown admin token"))?;
    if view.revoked_at.is_some() {
        return Err(Error::Unauthorized("this admin token has been revoked"));
    }
    if !is_platform_admin {
        return Err(Error::Unauthorized("this admin token's user is no longer a platform admin"));
    }
    let user = UserView { id: view.user_id.clone(), email, is_platform_admin: true };
    let now = now_ms();
    if view.last_used_at.is_none_or(|t| now - t >= crate::api_keys::LAST_USED_RESOLUTION_MS) {
        store::touch(&mut *db.writer().acquire().await?, &view.id, now).await?;
    }
    Ok((user, view))
}

/// Creates a token for the platform admin with this e-mail (the CLI).
pub async fn create_token_for_email(db: &Db, email: &str, name: &str) -> Result<NewAdminToken> {
    let email = crate::accounts::Email::parse(email)?;
    let user = crate::accounts::store::find_view_by_email(&mut *db.reader().acquire().await?, email.as_str())
        .await?
        .ok_or(Error::NotFound("user"))?;
    create_token(db, &user, name).await
}
