//! API keys of an organization.

use leptos::prelude::*;
use tollbooth::api_keys::{ApiKeyView, NewApiKey};
#[cfg(feature = "ssr")]
use tollbooth::api_keys::{ModelAllowlist, Scopes};

use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::ssr;

/// The organization's keys (never their secrets).
#[server(endpoint = "list_api_keys")]
pub async fn list_api_keys(org_id: String) -> Result<Vec<ApiKeyView>, AppError> {
    let (ctx, scope, _) = ssr::scope(&org_id).await?;
    Ok(tollbooth::api_keys::list(&ctx.db, &scope).await?)
}

/// Creates a key with `scopes` (comma-separated, at least one), with its own
/// rate limit in requests per minute when `rate_limit` is not blank, and the
/// models it may call through the gateway when `models` (glob patterns, one
/// per line or comma-separated) is not blank; the secret is returned this once.
#[server(endpoint = "create_api_key")]
pub async fn create_api_key(
    org_id: String,
    name: String,
    #[server(default)] rate_limit: String,
    #[server(default)] scopes: String,
    #[server(default)] models: String,
) -> Result<NewApiKey, AppError> {
    let (ctx, scope, user) = ssr::scope(&org_id).await?;
    let rate_limit_per_minute = tollbooth::api_keys::parse_rate_limit(&rate_limit)?;
    let scopes = Scopes::parse(&scopes)?;
    let model_allowlist = ModelAllowlist::parse(&models)?;
    let new = tollbooth::api_keys::NewKey { name: &name, rate_limit_per_minute, scopes, model_allowlist };
    Ok(tollbooth::api_keys::create(&ctx.db, &scope, &new, &ssr::by(&user).await).await?)
}

/// Changes a key's scopes (comma-separated names).
#[server(endpoint = "set_api_key_scopes")]
pub async fn set_api_key_scopes(org_id: String, key_id: String, #[server(default)] scopes: String) -> Result<ApiKeyView, AppError> {
    let (ctx, scope, user) = ssr::scope(&org_id).await?;
    let scopes = Scopes::parse(&scopes)?;
    Ok(tollbooth::api_keys::set_scopes(&ctx.db, &scope, &key_id, scopes, &ssr::by(&user).await).await?)
}

/// Sets the models a key may call through the gateway: glob patterns, one
/// per line or comma-separated; blank allows every model.
#[server(endpoint = "set_api_key_models")]
pub async fn set_api_key_models(org_id: String, key_id: String, #[server(default)] models: String) -> Result<ApiKeyView, AppError> {
    let (ctx, scope, user) = ssr::scope(&org_id).await?;
    let allowlist = ModelAllowlist::parse(&models)?;
    Ok(tollbooth::api_keys::set_model_allowlist(&ctx.db, &scope, &key_id, allowlist, &ssr::by(&user).await).await?)
}

/// Revokes a key.
#[server(endpoint = "revoke_api_key")]
pub async fn revoke_api_key(org_id: String, key_id: String) -> Result<(), AppError> {
    let (ctx, scope, user) = ssr::scope(&org_id).await?;
    Ok(tollbooth::api_keys::revoke(&ctx.db, &scope, &key_id, &ssr::by(&user).await).await?)
}
