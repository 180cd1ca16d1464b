//! Savings recommendations over REST: `GET /api/v1/recommendations` and
//! `POST /api/v1/recommendations/{key}/dismiss`.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use tollbooth::recommendations::{self, Recommendation};

use super::error::ApiError;
use super::auth::{ManageKey, ReadKey};
use crate::state::AppState;

/// The body of `GET /api/v1/recommendations`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RecommendationList {
    pub recommendations: Vec<Recommendation>,
}

#[utoipa::path(
    get, path = "/api/v1/recommendations", operation_id = "list_recommendations", tag = "recommendations", security(("api_key" = [])),
    responses((status = 200, description = "Savings recommendations", body = RecommendationList, example = json!({"recommendations": []}))),
)]
pub async fn list(State(state): State<AppState>, ReadKey(key): ReadKey) -> Result<Json<RecommendationList>, ApiError> {
    Ok(Json(RecommendationList { recommendations: recommendations::list(&state.db, &key.org_id).await? }))
}

/// Dismisses by key (URL-encoded: model names may hold `/`); idempotent.
#[utoipa::path(
    post, path = "/api/v1/recommendations/{key}/dismiss", operation_id = "dismiss_recommendation", tag = "recommendations", security(("api_key" = [])),
    params(("key" = String, Path, example = "cheaper_model:gpt-4o:gpt-4o-mini", description = "The recommendation's key, URL-encoded")),
    responses((status = 204, description = "Dismissed (idempotent)")),
)]
pub async fn dismiss(
    State(state): State<AppState>,
    ManageKey(key): ManageKey,
    rec: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Path(rec) = rec.map_err(|_| tollbooth::Error::invalid("key", "must be a URL-encoded recommendation key"))?;
    recommendations::dismiss(&state.db, &key.org_id, &rec, &format!("api_key:{}", key.key_id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
