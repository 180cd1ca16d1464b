//! Authentication of REST calls by organization API key.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::StatusCode;
use tollbooth::api_keys::{self, ApiPrincipal};

use super::error::ApiError;
use crate::startup::AppState;

/// The organization and key a request authenticated as.
#[derive(Debug, Clone)]
pub struct ApiKey(pub ApiPrincipal);

impl FromRequestParts<AppState> for ApiKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or(tollbooth::Error::Unauthorized("missing API key; send Authorization: Bearer tb_live_…"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or(tollbooth::Error::Unauthorized("malformed Authorization header; expected Bearer <API key>"))?;
        let principal = api_keys::authenticate(&state.db, token).await?;
        // A suspended organization's keys are refused on every endpoint
        // (ingest included); cached per organization for a few seconds.
        if let Some((_, reason)) = tollbooth::orgs::suspension_cached(&state.db, &principal.org_id).await? {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "suspended",
                format!("This organization is suspended: {reason}. Contact your platform administrator."),
            ));
        }
        Ok(ApiKey(principal))
    }
}
