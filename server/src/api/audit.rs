//! The audit log as CSV for signed-in browsers: `/o/{org}/audit.csv` (the
//! organization's owners and admins, dates in its zone) and
//! `/admin/audit.csv` (platform admins, every organization, dates in UTC).
//! Both take the log page's filter: `actor`, `action`, `result`, `from`, `to`.

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use tollbooth::audit::{self, AuditFilter};
use tollbooth::orgs::Role;

use super::error::ApiError;
use crate::startup::AppState;

/// Every matching entry (the page shows the newest 500).
const CSV_LIMIT: i64 = 100_000;

/// The user a browser download's session signs in (the same check as the
/// server functions'), or 401.
pub(crate) async fn session_user(state: &AppState, session: &tower_sessions::Session) -> Result<tollbooth::accounts::UserView, ApiError> {
    let user = tollbooth_app::ssr::session_user(&state.db, session).await?;
    Ok(user.ok_or(tollbooth::Error::Unauthorized("please sign in"))?)
}

fn csv_response(name: &str, body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        body,
    )
        .into_response()
}

/// `GET /o/{org}/audit.csv`.
pub async fn org_csv(
    State(state): State<AppState>,
    Path(org_id): Path<String>,
    session: tower_sessions::Session,
    filter: Result<Query<AuditFilter>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(f) = filter.map_err(ApiError::from)?;
    let user = session_user(&state, &session).await?;
    let scope = tollbooth_app::ssr::member_scope_of(&state.db, &user, &org_id).await?;
    scope.require(Role::Admin)?;
    let org = tollbooth::orgs::get(&state.db, &scope).await?;
    let entries = audit::list(&state.db, Some(&org.id), &f, &org.time_zone, CSV_LIMIT).await?;
    Ok(csv_response(&format!("tollbooth-audit-{}.csv", org.id), audit::csv(&entries)))
}

/// `GET /admin/audit.csv`.
pub async fn admin_csv(
    State(state): State<AppState>,
    session: tower_sessions::Session,
    filter: Result<Query<AuditFilter>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(f) = filter.map_err(ApiError::from)?;
    let user = session_user(&state, &session).await?;
    if !user.is_platform_admin {
        return Err(tollbooth::Error::Forbidden("platform admins only".into()).into());
    }
    let entries = audit::list(&state.db, None, &f, "UTC", CSV_LIMIT).await?;
    Ok(csv_response("tollbooth-audit.csv", audit::csv(&entries)))
}
