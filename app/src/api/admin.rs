//! Platform administration.

use leptos::prelude::*;
use tollbooth::orgs::OrgSummary;

use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::ssr;

/// Every organization with its member count (platform admins only).
#[server(endpoint = "admin_list_orgs")]
pub async fn admin_list_orgs() -> Result<Vec<OrgSummary>, AppError> {
    let user = ssr::require_user().await?;
    tollbooth::orgs::list_all(&ssr::ctx()?.db, &user).await.map_err(ssr::fail)
}
