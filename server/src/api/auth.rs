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
            // Counted per minute for the audit log, not written per call.
            let target = format!("api_key {}", principal.key_id);
            state.db.refusals().note_denied(&principal.org_id, &target, "organization suspended", tollbooth::clock::now_ms());
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "suspended",
                tollbooth::orgs::suspended_message(&reason),
            ));
        }
        Ok(ApiKey(principal))
    }
}

/// Where a REST call came from, for the audit log.
#[derive(Debug, Clone, Default)]
pub struct RequestOrigin {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for RequestOrigin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let ip = tollbooth_app::ssr::client_ip_of(&parts.extensions);
        let user_agent = parts.headers.get(axum::http::header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_string);
        Ok(RequestOrigin { ip, user_agent })
    }
}

impl RequestOrigin {
    /// The key acting from this origin.
    pub fn key(self, key: &ApiPrincipal) -> tollbooth::audit::By {
        tollbooth::audit::By::api_key(&key.key_id, &key.key_name).from(self.ip, self.user_agent)
    }
}
