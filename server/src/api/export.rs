//! `GET /api/v1/events` (a page of raw events) and `GET /api/v1/usage/export`
//! (every event in a range as CSV or JSON, streamed page by page so that a
//! year of events is never held in memory).

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use tollbooth::clock::now_ms;
use tollbooth::db::Db;
use tollbooth::metering::events::{self, Cursor, EventFilter, EventView};

use super::auth::{ReadKey, SessionUser};
use super::body::ApiQuery;
use super::error::ApiError;
use super::{time_param, DAY_MS};
use crate::state::AppState;

const EXPORT_PAGE: i64 = 1000;

#[derive(Debug, Deserialize)]
pub struct Params {
    from: Option<String>,
    to: Option<String>,
    model: Option<String>,
    user_id: Option<String>,
    project_id: Option<String>,
    feature: Option<String>,
    session_id: Option<String>,
    status: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
    format: Option<String>,
}

fn filter(p: &Params, default_days: i64) -> Result<EventFilter, ApiError> {
    let to = time_param("to", p.to.as_deref(), now_ms() + 1)?;
    let from = time_param("from", p.from.as_deref(), to - default_days * DAY_MS)?;
    if to <= from {
        return Err(tollbooth::Error::invalid("to", "must be after from").into());
    }
    Ok(EventFilter {
        from_ms: from,
        to_ms: to,
        model: p.model.clone(),
        user_id: p.user_id.clone(),
        project_id: p.project_id.clone(),
        feature: p.feature.clone(),
        session_id: p.session_id.clone(),
        status: p.status.clone(),
    })
}

/// A page of events and the cursor of the next one.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventsPage {
    events: Vec<EventView>,
    next_cursor: Option<String>,
}

/// Newest first; `limit` (default 100, max 1000) and `cursor` from the previous page.
#[utoipa::path(
    get, path = "/api/v1/events", operation_id = "list_events", tag = "usage", security(("api_key" = [])),
    description = "Raw events, newest first (scope `read`).",
    params(crate::openapi::schemas::EventsParams),
    responses((status = 200, description = "A page of events", body = EventsPage,
        example = json!({"events": [], "next_cursor": null}))),
)]
pub async fn list(
    State(state): State<AppState>,
    ReadKey(key): ReadKey,
    params: Result<Query<Params>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<EventsPage>, ApiError> {
    let Query(p) = params.map_err(ApiError::from)?;
    let f = filter(&p, 30)?;
    let cursor = p.cursor.as_deref().map(Cursor::decode).transpose()?;
    let (events, next) = events::list(&state.db, &key.org_id, &f, cursor.as_ref(), p.limit.unwrap_or(100)).await?;
    Ok(Json(EventsPage { events, next_cursor: next.map(|c| c.encode()) }))
}

#[derive(Clone, Copy, PartialEq)]
enum Format {
    Csv,
    Json,
}

/// Streams every event of the range (default: the last 30 days), newest first.
#[utoipa::path(
    get, path = "/api/v1/usage/export", operation_id = "export_usage", tag = "usage", security(("api_key" = [])),
    description = "Every event of the range, streamed page by page (scope `read`).",
    params(crate::openapi::schemas::ExportParams),
    responses((status = 200, description = "The events as CSV (default) or a JSON array",
        content(
            (String = "text/csv", example = "id,timestamp,model\ncall-7f3a,2026-12-01T10:00:00Z,gpt-4o-mini\n"),
            (Vec<tollbooth::metering::events::EventView> = "application/json"),
        ))),
)]
pub async fn export(
    State(state): State<AppState>,
    ReadKey(key): ReadKey,
    params: Result<Query<Params>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(p) = params.map_err(ApiError::from)?;
    let format = match p.format.as_deref().unwrap_or("csv") {
        "csv" => Format::Csv,
        "json" => Format::Json,
        _ => return Err(tollbooth::Error::invalid("format", "must be csv or json").into()),
    };
    let f = filter(&p, 30)?;
    stream_export(&state.db, &key.org_id, f, format).await
}

/// Signed-in browser download: `GET /o/{org}/usage.csv?from=&to=` with the
/// session cookie (members of the organization only; others get 404, and
/// members of a suspended organization 403).
pub async fn browser_csv(
    State(state): State<AppState>,
    axum::extract::Path(org_id): axum::extract::Path<String>,
    ApiQuery(p): ApiQuery<Params>,
    user: SessionUser,
) -> Result<Response, ApiError> {
    let scope = user.member_scope(&state, &org_id).await?;
    let f = filter(&p, 30)?;
    stream_export(&state.db, &scope.org_id, f, Format::Csv).await
}

async fn stream_export(db: &Db, org_id: &str, f: EventFilter, format: Format) -> Result<Response, ApiError> {
    // Fail before the first byte if the query cannot run at all.
    events::list(db, org_id, &f, None, 1).await?;
    let stream = pages(db.clone(), org_id.to_string(), f, format);
    let (ctype, ext) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
        Format::Json => ("application/json", "json"),
    };
    Ok((
        [
            (header::CONTENT_TYPE, ctype.to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"tollbooth-events.{ext}\"")),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// The body as a stream of pages: one query per page, keyset-paged.
fn pages(db: Db, org_id: String, f: EventFilter, format: Format) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    enum St {
        Start,
        After(Cursor),
        Done,
    }
    futures::stream::unfold(St::Start, move |st| {
        let (db, org_id, f) = (db.clone(), org_id.clone(), f.clone());
        async move {
            let (first, cursor) = match st {
                St::Done => return None,
                St::Start => (true, None),
                St::After(c) => (false, Some(c)),
            };
            let page = events::list(&db, &org_id, &f, cursor.as_ref(), EXPORT_PAGE).await;
            let (rows, next) = match page {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(error = ?e, "export page failed");
                    return Some((Err(std::io::Error::other("export failed")), St::Done));
                }
            };
            let mut out = match format {
                Format::Csv => events::csv(&rows, first),
                Format::Json => {
                    let mut s = String::from(if first { "[" } else { "" });
                    for (i, e) in rows.iter().enumerate() {
                        if !(first && i == 0) {
                            s.push(',');
                        }
                        s.push_str(&serde_json::to_string(e).unwrap_or_default());
                    }
                    s.into_bytes()
                }
            };
            let st = match next {
                Some(c) => St::After(c),
                None => {
                    if format == Format::Json {
                        out.extend_from_slice(b"]");
                    }
                    St::Done
                }
            };
            Some((Ok(out), st))
        }
    })
}
