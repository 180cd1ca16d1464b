//! Authentication of REST calls by organization API key.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
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
        Ok(ApiKey(api_keys::authenticate(&state.db, token).await?))
    }
}
