//! Authentication of REST calls by organization API key, the key's scopes,
//! and the requests-per-minute limits; and of the browser downloads by the
//! session cookie ([`SessionUser`]).
//!
//! A handler names what it needs by its extractor: [`IngestKey`] (record
//! usage; never rate limited), [`EnforceKey`] (checks and reservations),
//! [`ReadKey`], [`ManageKey`], or [`Limited`] (any scope). A key outside the
//! scope gets 403 before the rate limiter counts the call.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::StatusCode;
use tollbooth::accounts::UserView;
use tollbooth::api_keys::{self, ApiPrincipal, Scope};
use tollbooth::orgs::OrgScope;

use super::error::ApiError;
use crate::state::AppState;

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
        Ok(ApiKey(principal(state, token).await?))
    }
}

/// The organization and key of an API key's token; a suspended
/// organization's keys are refused on every endpoint (ingest and the gateway
/// included), cached per organization for a few seconds.
async fn principal(state: &AppState, token: &str) -> Result<ApiPrincipal, ApiError> {
    let principal = api_keys::authenticate(&state.db, token).await?;
    if let Some((_, reason)) = tollbooth::orgs::suspension_cached(&state.db, &principal.org_id).await? {
        // Counted per minute for the audit log, not written per call.
        let target = format!("api_key {}", principal.key_id);
        state.db.refusals().note_denied(&principal.org_id, &target, "organization suspended", tollbooth::clock::now_ms());
        return Err(ApiError::new(StatusCode::FORBIDDEN, "suspended", tollbooth::orgs::suspended_message(&reason)));
    }
    Ok(principal)
}

/// A gateway call's key (sent as `Authorization: Bearer` by OpenAI's SDKs,
/// `x-api-key` by Anthropic's): it must hold the `ingest` scope (the call is
/// metered and enforced) and fit the per-minute limits.
pub async fn gateway_key(state: &AppState, token: &str) -> Result<ApiPrincipal, ApiError> {
    let p = principal(state, token).await?;
    require(state, &p, &[Scope::Ingest])?;
    admit(state, &p).await?;
    Ok(p)
}

/// An API key whose request fits the organization's and the key's
/// requests-per-minute limits (any scope).
#[derive(Debug, Clone)]
pub struct Limited(pub ApiPrincipal);

impl FromRequestParts<AppState> for Limited {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let ApiKey(p) = ApiKey::from_request_parts(parts, state).await?;
        admit(state, &p).await?;
        Ok(Limited(p))
    }
}

/// Counts the call against the plan's and the key's per-minute limits.
async fn admit(state: &AppState, p: &ApiPrincipal) -> Result<(), ApiError> {
    let base = &state.ctx.public_url;
    let plan = tollbooth::quota::plan_for_rate_limits(&state.db, &p.org_id).await.map_err(|e| ApiError::from(e).with_base(base))?;
    let admitted = state.db.rate_limits().admit_request_in(&state.db, &plan, &p.key_id, p.rate_limit_per_minute).await;
    state.db.refusals().observe(&p.org_id, admitted, tollbooth::clock::now_ms()).map_err(|e| ApiError::from(e).with_base(base))
}

/// Refuses a key without one of `scopes` (counted as `access.denied` for the
/// audit log, per minute, like other refusals).
fn require(state: &AppState, p: &ApiPrincipal, scopes: &[Scope]) -> Result<(), ApiError> {
    p.require_any(scopes).map_err(|e| {
        let target = format!("api_key {}", p.key_id);
        state.db.refusals().note_denied(&p.org_id, &target, &e.to_string(), tollbooth::clock::now_ms());
        ApiError::from(e)
    })
}

/// An extractor for a key holding one of the given scopes, optionally
/// within the per-minute limits.
macro_rules! scoped_key {
    ($(#[$doc:meta])* $name:ident, [$($scope:ident),+], limited: $limited:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name(pub ApiPrincipal);

        impl FromRequestParts<AppState> for $name {
            type Rejection = ApiError;

            async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
                let ApiKey(p) = ApiKey::from_request_parts(parts, state).await?;
                require(state, &p, &[$(Scope::$scope),+])?;
                if $limited {
                    admit(state, &p).await?;
                }
                Ok($name(p))
            }
        }
    };
}

scoped_key!(
    /// A key with the `ingest` scope recording usage (events, committing or
    /// releasing a reservation): never rate limited, usage is a fact.
    IngestKey, [Ingest], limited: false
);
scoped_key!(
    /// A key with the `ingest` scope asking for a decision (quota checks,
    /// reservations, standing counts), within the per-minute limits.
    EnforceKey, [Ingest], limited: true
);
scoped_key!(
    /// A key with the `read` scope, within the per-minute limits.
    ReadKey, [Read], limited: true
);
scoped_key!(
    /// A key with the `manage` scope, within the per-minute limits.
    ManageKey, [Manage], limited: true
);
scoped_key!(
    /// A key with `ingest` or `read` (cost estimates: a client app asks
    /// before calling, a dashboard to plan), within the per-minute limits.
    EstimateKey, [Ingest, Read], limited: true
);

/// The user a browser download's session signs in (the same check as the
/// server functions', `tollbooth_app::ssr::session_user`), or 401. The
/// cookie-authenticated downloads (`/o/{org}/usage.csv`, `/o/{org}/audit.csv`,
/// `/admin/audit.csv`, `/o/{org}/invoices/{id}/csv`) take it; what the user
/// may read is then one of the two rules below.
#[derive(Debug, Clone)]
pub struct SessionUser(pub UserView);

impl FromRequestParts<AppState> for SessionUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let session = tower_sessions::Session::from_request_parts(parts, state)
            .await
            .map_err(|(_, why)| tollbooth::Error::Internal(format!("session layer: {why}")))?;
        let user = tollbooth_app::ssr::session_user(&state.db, &session).await?;
        Ok(SessionUser(user.ok_or(tollbooth::Error::Unauthorized("please sign in"))?))
    }
}

impl SessionUser {
    /// The user's scope as a member of an active organization (404 unless a
    /// member, 403 while it is suspended): the organization's own downloads.
    pub async fn member_scope(&self, state: &AppState, org_id: &str) -> Result<OrgScope, ApiError> {
        Ok(tollbooth_app::ssr::member_scope_of(&state.db, &self.0, org_id).await?)
    }

    /// The scope of a read-only view: a member's, or a platform admin's
    /// (the admin drill-down links these downloads too).
    pub async fn read_scope(&self, state: &AppState, org_id: &str) -> Result<OrgScope, ApiError> {
        Ok(tollbooth_app::ssr::read_scope_of(&state.db, &self.0, org_id).await?)
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
    /// This origin as the audit log records it.
    pub fn audit(&self) -> tollbooth::audit::Origin<'_> {
        tollbooth::audit::Origin { ip: self.ip.as_deref(), user_agent: self.user_agent.as_deref() }
    }

    /// The key acting from this origin.
    pub fn key(self, key: &ApiPrincipal) -> tollbooth::audit::By {
        tollbooth::audit::By::api_key(&key.key_id, &key.key_name).from(self.ip, self.user_agent)
    }
}
