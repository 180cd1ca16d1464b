//! Request bodies and query strings read into the API's error form: the
//! usage events of a JSON body (ingest, and the commit of a reservation),
//! its size limit, and query parameters rejected as JSON errors.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::error::Category;
use serde_json::value::RawValue;
use tollbooth::clock::now_ms;
use tollbooth::metering::{self, MAX_BATCH};

use super::error::ApiError;

/// Largest request body: a full batch with generous metadata.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid", message)
}

fn invalid_json(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", format!("body: is not valid JSON: {e}"))
}

/// The body's event objects, as raw JSON slices of it.
fn events_of(body: &str) -> Result<Vec<&RawValue>, ApiError> {
    /// The batch form; any other object is a single event.
    #[derive(Deserialize)]
    struct Envelope<'a> {
        #[serde(borrow)]
        events: Option<&'a RawValue>,
    }
    let not_events = || bad_request("body: send one event object or {\"events\": [...]}");
    let envelope: Envelope = serde_json::from_str(body).map_err(|e| match e.classify() {
        Category::Data => not_events(),
        _ => invalid_json(e),
    })?;
    let values: Vec<&RawValue> = match envelope.events {
        Some(events) => serde_json::from_str(events.get())
            .map_err(|_| bad_request("events: must be an array of event objects"))?,
        None if body.trim_start().starts_with('{') => vec![serde_json::from_str(body).map_err(invalid_json)?],
        None => return Err(not_events()),
    };
    if values.is_empty() {
        return Err(bad_request("events: must not be empty"));
    }
    if values.len() > MAX_BATCH {
        return Err(bad_request(format!("events: {} events sent; at most {MAX_BATCH} per request", values.len())));
    }
    Ok(values)
}

/// Refuses a body announced larger than the limit before reading any of it.
pub async fn refuse_oversized(req: Request, next: Next) -> Response {
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    match announced {
        Some(n) if n > MAX_BODY_BYTES => too_large().into_response(),
        _ => next.run(req).await,
    }
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("body: larger than {} MiB; send at most {MAX_BATCH} events per request", MAX_BODY_BYTES / (1024 * 1024)),
    )
}

/// The events of a JSON body (ingest, and the commit of a reservation).
pub fn parse_body(headers: &HeaderMap, body: Result<Bytes, BytesRejection>) -> Result<Vec<metering::ParsedEvent>, ApiError> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json")));
    if !json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_json",
            "body: send it with Content-Type: application/json",
        ));
    }
    let body = body.map_err(|r| if r.status() == StatusCode::PAYLOAD_TOO_LARGE { too_large() } else { invalid_json(r.body_text()) })?;
    let text = std::str::from_utf8(&body).map_err(invalid_json)?;
    Ok(metering::parse_raw_batch(&events_of(text)?, now_ms()))
}

/// A query string parsed into `T`, or the API's JSON error naming what is
/// wrong. Unlike a handler's `Result<Query<T>, _>`, it refuses before the
/// extractors after it run (the session downloads read the filter first).
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(v) = Query::<T>::from_request_parts(parts, state).await.map_err(ApiError::from)?;
        Ok(ApiQuery(v))
    }
}
