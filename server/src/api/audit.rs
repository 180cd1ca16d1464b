//! The audit log as CSV for signed-in browsers: `/o/{org}/audit.csv` (the
//! organization's owners and admins, dates in its zone) and
//! `/admin/audit.csv` (platform admins, every organization, dates in UTC).
//! Both take the log page's filter: `actor`, `action`, `result`, `from`, `to`.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use tollbooth::audit::{self, AuditFilter};
use tollbooth::orgs::Role;

use super::auth::SessionUser;
use super::body::ApiQuery;
use super::error::ApiError;
use crate::state::AppState;

/// Every matching entry (the page shows the newest 500).
const CSV_LIMIT: i64 = 100_000;

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
    ApiQuery(f): ApiQuery<AuditFilter>,
    user: SessionUser,
) -> Result<Response, ApiError> {
    let scope = user.member_scope(&state, &org_id).await?;
    scope.require(Role::Admin)?;
    let org = tollbooth::orgs::get(&state.db, &scope).await?;
    let entries = audit::list(&state.db, Some(&org.id), &f, &org.time_zone, CSV_LIMIT).await?;
    Ok(csv_response(&format!("tollbooth-audit-{}.csv", org.id), audit::csv(&entries)))
}

/// `GET /admin/audit.csv`.
pub async fn admin_csv(
    State(state): State<AppState>,
    ApiQuery(f): ApiQuery<AuditFilter>,
    SessionUser(user): SessionUser,
) -> Result<Response, ApiError> {
    if !user.is_platform_admin {
        return Err(tollbooth::Error::Forbidden("platform admins only".into()).into());
    }
    let entries = audit::list(&state.db, None, &f, "UTC", CSV_LIMIT).await?;
    Ok(csv_response("tollbooth-audit.csv", audit::csv(&entries)))
}
