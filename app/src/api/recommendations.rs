//! Savings recommendations of an organization.

use leptos::prelude::*;
use tollbooth::recommendations::Recommendation;

use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::ssr;

/// The organization's recommendations that nobody has dismissed.
#[server(endpoint = "list_recommendations")]
pub async fn list_recommendations(org_id: String) -> Result<Vec<Recommendation>, AppError> {
    let (ctx, scope, _) = ssr::scope(&org_id).await?;
    Ok(tollbooth::recommendations::list(&ctx.db, &scope.org_id).await?)
}

/// Dismisses a recommendation for the whole organization.
#[server(endpoint = "dismiss_recommendation")]
pub async fn dismiss_recommendation(org_id: String, key: String) -> Result<(), AppError> {
    let (ctx, scope, _) = ssr::scope(&org_id).await?;
    Ok(tollbooth::recommendations::dismiss(&ctx.db, &scope.org_id, &key, &scope.user_id).await?)
}
