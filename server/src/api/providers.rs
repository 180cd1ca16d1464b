//! Provider connections over REST (the `manage` scope):
//! `GET /api/v1/providers`, `PUT /api/v1/providers/{name}` (create or
//! replace: 201 or 200), `DELETE /api/v1/providers/{name}` (204, 404 when
//! the key's organization has no connection by that name). Answers carry a
//! key's last 4 characters only.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use tollbooth::providers::{self, ConnectionInput, ProviderView};

use super::auth::{ManageKey, RequestOrigin};
use super::error::ApiError;
use crate::state::AppState;

/// The organization's provider connections.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProvidersResponse {
    pub providers: Vec<ProviderView>,
}

#[utoipa::path(
    get, path = "/api/v1/providers", operation_id = "list_providers", tag = "providers", security(("api_key" = [])),
    responses((status = 200, description = "Connections (a key's last 4 characters only)", body = ProvidersResponse, example = json!({"providers": [{"name": "groq", "kind": "openai_compatible", "base_url": "https://api.groq.com/openai/v1", "key_last4": "x9Qz", "updated_at": "2026-12-01T10:00:00Z"}]}))),
)]
pub async fn list(State(state): State<AppState>, ManageKey(key): ManageKey) -> Result<Json<ProvidersResponse>, ApiError> {
    Ok(Json(ProvidersResponse { providers: providers::list(&state.db, &key.org_id).await? }))
}

/// The body of a PUT. Every field is read as text so that the service can
/// name the one that is wrong. No `Debug`: it holds the key.
#[derive(Deserialize)]
pub struct ConnectionBody {
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub base_url: Option<String>,
    #[serde(default)]
    pub api_key: Option<String>,
}

#[utoipa::path(
    put, path = "/api/v1/providers/{name}", operation_id = "put_provider", tag = "providers", security(("api_key" = [])),
    params(("name" = String, Path, example = "groq", description = "The connection's name (`openai`, `anthropic`, or a name of your own)")),
    request_body(content = crate::openapi::schemas::ConnectionBody),
    responses(
        (status = 200, description = "Replaced", body = tollbooth::providers::ProviderView, example = json!({"name": "groq", "kind": "openai_compatible", "base_url": "https://api.groq.com/openai/v1", "key_last4": "x9Qz", "updated_at": "2026-12-01T10:00:00Z"})),
        (status = 201, description = "Created", body = tollbooth::providers::ProviderView),
    ),
)]
pub async fn put(
    State(state): State<AppState>,
    ManageKey(key): ManageKey,
    origin: RequestOrigin,
    Path(name): Path<String>,
    req: Result<Json<ConnectionBody>, JsonRejection>,
) -> Result<(StatusCode, Json<ProviderView>), ApiError> {
    let Json(body) = req.map_err(ApiError::from)?;
    let input = ConnectionInput { kind: body.kind.as_deref().unwrap_or_default(), base_url: body.base_url.as_deref(), api_key: body.api_key.as_deref() };
    let by = origin.key(&key);
    let saved = providers::upsert(&state.db, &state.ctx.providers, &key.org_id, &name, &input, &by).await?;
    let status = if saved.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(saved.connection)))
}

#[utoipa::path(
    delete, path = "/api/v1/providers/{name}", operation_id = "delete_provider", tag = "providers", security(("api_key" = [])),
    params(("name" = String, Path, example = "groq", description = "The connection's name")),
    responses((status = 204, description = "Deleted")),
)]
pub async fn delete(
    State(state): State<AppState>,
    ManageKey(key): ManageKey,
    origin: RequestOrigin,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    providers::delete(&state.db, &key.org_id, &name, &origin.key(&key)).await?;
    Ok(StatusCode::NO_CONTENT)
}
