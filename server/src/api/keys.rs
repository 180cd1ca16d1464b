//! API keys over REST (the `manage` scope): `PUT /api/v1/keys/{id}/model-allowlist`
//! `{"models": ["gpt-4o*", "claude-*"]}` sets the models a key of the
//! organization may call through the gateway; `{"models": null}` or `[]`
//! allows every model again. Answers the key as listed (never its secret).

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::Json;
use serde_json::Value;
use tollbooth::api_keys::{self, ApiKeyView, ModelAllowlist};

use super::auth::{ManageKey, RequestOrigin};
use super::error::ApiError;
use crate::state::AppState;

/// The patterns of a PUT: `models` must be present (a body without it is
/// refused rather than read as "every model"), `null` or a list of strings.
fn allowlist_of(body: &Value) -> Result<Option<ModelAllowlist>, tollbooth::Error> {
    let wrong = || tollbooth::Error::invalid("model_allowlist", "send {\"models\": [\"gpt-4o*\", …]}, or null to allow every model");
    match body.get("models") {
        None => Err(wrong()),
        Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => {
            let patterns = items.iter().map(|v| v.as_str().ok_or_else(wrong)).collect::<Result<Vec<_>, _>>()?;
            ModelAllowlist::from_list(patterns)
        }
        Some(_) => Err(wrong()),
    }
}

#[utoipa::path(
    put, path = "/api/v1/keys/{id}/model-allowlist", operation_id = "put_model_allowlist", tag = "keys", security(("api_key" = [])),
    description = "Sets the models a key of the organization may call through the gateway (scope `manage`).",
    params(("id" = String, Path, example = "0190a0a0-0000-7000-8000-00000000abcd", description = "The key's id")),
    request_body(content = crate::openapi::schemas::ModelAllowlistBody),
    responses((status = 200, description = "The key as listed (never its secret)", body = tollbooth::api_keys::ApiKeyView,
        example = json!({"id": "0190a0a0-0000-7000-8000-0000000000a1", "name": "backend", "prefix": "tb_live_ab12", "created_at": 1764547200000i64, "last_used_at": null, "revoked_at": null, "rate_limit_per_minute": null, "scopes": ["ingest", "read"], "model_allowlist": ["gpt-4o*", "claude-*"]}))),
)]
pub async fn put_model_allowlist(
    State(state): State<AppState>,
    ManageKey(key): ManageKey,
    origin: RequestOrigin,
    Path(id): Path<String>,
    req: Result<Json<Value>, JsonRejection>,
) -> Result<Json<ApiKeyView>, ApiError> {
    let Json(body) = req.map_err(ApiError::from)?;
    let allowlist = allowlist_of(&body)?;
    let by = origin.key(&key);
    Ok(Json(api_keys::set_model_allowlist_by_key(&state.db, &key, &id, allowlist, &by).await?))
}
