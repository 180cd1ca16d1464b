//! API keys of an organization.

use leptos::prelude::*;
use tollbooth::api_keys::{ApiKeyView, NewApiKey};

use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::ssr;

/// The organization's keys (never their secrets).
#[server(endpoint = "list_api_keys")]
pub async fn list_api_keys(org_id: String) -> Result<Vec<ApiKeyView>, AppError> {
    let (ctx, scope, _) = ssr::scope(&org_id).await?;
    tollbooth::api_keys::list(&ctx.db, &scope).await.map_err(ssr::fail)
}

/// Creates a key, with its own rate limit in requests per minute when
/// `rate_limit` is not blank; the secret is returned this once.
#[server(endpoint = "create_api_key")]
pub async fn create_api_key(org_id: String, name: String, #[server(default)] rate_limit: String) -> Result<NewApiKey, AppError> {
    let (ctx, scope, user) = ssr::scope(&org_id).await?;
    let origin = ssr::origin().await;
    let rate_limit = tollbooth::api_keys::parse_rate_limit(&rate_limit).map_err(ssr::fail)?;
    let made = tollbooth::api_keys::create(&ctx.db, &scope, &name, rate_limit).await.map_err(ssr::fail)?;
    let actor = tollbooth::audit::Actor::user(&user.id, &user.email);
    let details = serde_json::json!({ "name": made.key.name, "prefix": made.key.prefix });
    ssr::audit_after(&ctx, Some(&org_id), actor, "api_key.create", Some(&made.key.id), tollbooth::audit::Outcome::Success, &origin, details).await;
    Ok(made)
}

/// Revokes a key.
#[server(endpoint = "revoke_api_key")]
pub async fn revoke_api_key(org_id: String, key_id: String) -> Result<(), AppError> {
    let (ctx, scope, user) = ssr::scope(&org_id).await?;
    let origin = ssr::origin().await;
    tollbooth::api_keys::revoke(&ctx.db, &scope, &key_id).await.map_err(ssr::fail)?;
    let actor = tollbooth::audit::Actor::user(&user.id, &user.email);
    ssr::audit_after(&ctx, Some(&org_id), actor, "api_key.revoke", Some(&key_id), tollbooth::audit::Outcome::Success, &origin, serde_json::json!({})).await;
    Ok(())
}
