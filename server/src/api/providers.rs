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

#[derive(Debug, Serialize)]
pub struct ProvidersResponse {
    pub providers: Vec<ProviderView>,
}

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

pub async fn delete(
    State(state): State<AppState>,
    ManageKey(key): ManageKey,
    origin: RequestOrigin,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    providers::delete(&state.db, &key.org_id, &name, &origin.key(&key)).await?;
    Ok(StatusCode::NO_CONTENT)
}
