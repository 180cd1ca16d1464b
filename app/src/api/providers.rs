//! Provider connections of an organization (the Providers page) and what
//! the Connect page needs.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use tollbooth::providers::{DefaultsView, ProviderView};

use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::ssr;
#[cfg(feature = "ssr")]
use tollbooth::orgs::Role;

/// The Providers page's data: the organization's connections (last 4
/// characters of each key only) and which server defaults exist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvidersOverview {
    pub connections: Vec<ProviderView>,
    pub defaults: DefaultsView,
    /// Whether this server can store keys (it has a secret key).
    pub can_store_keys: bool,
}

/// The organization's connections (every member may look).
#[server(endpoint = "list_providers")]
pub async fn list_providers(org_id: String) -> Result<ProvidersOverview, AppError> {
    let (ctx, scope, _) = ssr::scope(&org_id).await?;
    let connections = tollbooth::providers::list(&ctx.db, &scope.org_id).await?;
    Ok(ProvidersOverview {
        connections,
        defaults: ctx.providers.defaults.view(),
        can_store_keys: ctx.providers.secrets.is_available(),
    })
}

/// Creates or replaces a connection (owners and admins). A blank key keeps
/// the stored one when replacing.
#[server(endpoint = "save_provider")]
pub async fn save_provider(
    org_id: String,
    name: String,
    kind: String,
    #[server(default)] base_url: String,
    #[server(default)] api_key: String,
) -> Result<ProviderView, AppError> {
    let (ctx, scope, user) = ssr::scope(&org_id).await?;
    scope.require(Role::Admin)?;
    let input = tollbooth::providers::ConnectionInput { kind: &kind, base_url: Some(&base_url), api_key: Some(&api_key) };
    let by = ssr::by(&user).await;
    let saved = tollbooth::providers::upsert(&ctx.db, &ctx.providers, &scope.org_id, &name, &input, &by).await?;
    Ok(saved.connection)
}

/// Removes a connection (owners and admins).
#[server(endpoint = "delete_provider")]
pub async fn delete_provider(org_id: String, name: String) -> Result<(), AppError> {
    let (ctx, scope, user) = ssr::scope(&org_id).await?;
    scope.require(Role::Admin)?;
    Ok(tollbooth::providers::delete(&ctx.db, &scope.org_id, &name, &ssr::by(&user).await).await?)
}

/// Where the gateway is reached: the server's public URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectView {
    pub public_url: String,
}

/// The Connect page's data (every member).
#[server(endpoint = "connect_info")]
pub async fn connect_info(org_id: String) -> Result<ConnectView, AppError> {
    let (ctx, _, _) = ssr::scope(&org_id).await?;
    Ok(ConnectView { public_url: ctx.public_url.trim_end_matches('/').to_string() })
}
