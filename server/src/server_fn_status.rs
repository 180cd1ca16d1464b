//! The status of server-function errors raised before our code runs.
//!
//! leptos answers a server function whose arguments do not decode (a missing
//! or malformed field) with HTTP 500, whatever the error says; the body is our
//! `AppError`, whose `status` says 400 (see `AppError::from_server_fn_error`).
//! This layer gives such a response the status its body names. Only 500s are
//! read, so successful answers pass untouched.

use axum::body::{to_bytes, Body};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tollbooth_app::error::AppError;

/// Largest error body read (errors are a sentence; anything larger passes as is).
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Sets a 500 response's status to the 4xx its `AppError` body names.
pub async fn fix_status(resp: Response) -> Response {
    if resp.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_ERROR_BODY).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    if let Ok(err) = serde_json::from_slice::<AppError>(&bytes) {
        if let Ok(status) = StatusCode::from_u16(err.status) {
            if status.is_client_error() {
                parts.status = status;
            }
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}
