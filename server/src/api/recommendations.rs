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
#[derive(Debug, Serialize)]
pub struct RecommendationList {
    pub recommendations: Vec<Recommendation>,
}

pub async fn list(State(state): State<AppState>, ReadKey(key): ReadKey) -> Result<Json<RecommendationList>, ApiError> {
    Ok(Json(RecommendationList { recommendations: recommendations::list(&state.db, &key.org_id).await? }))
}

/// Dismisses by key (URL-encoded: model names may hold `/`); idempotent.
pub async fn dismiss(
    State(state): State<AppState>,
    ManageKey(key): ManageKey,
    rec: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Path(rec) = rec.map_err(|_| tollbooth::Error::invalid("key", "must be a URL-encoded recommendation key"))?;
    recommendations::dismiss(&state.db, &key.org_id, &rec, &format!("api_key:{}", key.key_id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
