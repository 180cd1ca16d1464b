//! The REST edge's error: every failure becomes a status and a JSON body
//! `{"error": {"code", "message", "field"?}}`. Internals are logged, never sent.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// An error as the REST API reports it.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<&'static str>,
    pub retry_after: Option<u64>,
    /// Fields merged into the body beside `error` (a limit refusal's details).
    pub details: Option<serde_json::Value>,
    /// The site's base URL, to turn a relative `upgrade_path` into `upgrade_url`.
    pub base_url: Option<String>,
}

/// Replaces a body's relative `upgrade_path` (from the core) with the
/// absolute `upgrade_url` clients are given.
pub fn absolute_upgrade_url(body: &mut serde_json::Value, base_url: &str) {
    if let Some(path) = body.as_object_mut().and_then(|o| o.remove("upgrade_path")) {
        body["upgrade_url"] = json!(format!("{}{}", base_url.trim_end_matches('/'), path.as_str().unwrap_or_default()));
    }
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), field: None, retry_after: None, details: None, base_url: None }
    }

    /// Makes upgrade links absolute with the site's base URL.
    pub fn with_base(mut self, base_url: &str) -> Self {
        self.base_url = Some(base_url.trim_end_matches('/').to_string());
        self
    }

    pub fn not_found() -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
    }
}

impl From<tollbooth::Error> for ApiError {
    fn from(e: tollbooth::Error) -> Self {
        use tollbooth::Error as E;
        let code = match &e {
            E::Invalid { .. } => "invalid",
            E::NotFound(_) => "not_found",
            E::Conflict { .. } => "conflict",
            E::Unauthorized(_) => "unauthorized",
            E::Forbidden(_) => "forbidden",
            E::Throttled { .. } => "throttled",
            E::Unavailable(_) => "unavailable",
            E::LimitReached(r) if r.status == 429 => "limit_exceeded",
            E::LimitReached(_) => "limit_reached",
            E::Store(_) | E::Internal(_) => "internal",
        };
        if e.status_code() >= 500 {
            tracing::error!(error = ?e, "request failed");
        }
        let retry_after = match &e {
            E::Throttled { retry_after_secs } => Some(*retry_after_secs),
            E::Unavailable(_) => Some(1),
            E::LimitReached(r) => r.retry_after_secs,
            _ => None,
        };
        let details = match &e {
            E::LimitReached(r) => Some(r.details.clone()),
            _ => None,
        };
        ApiError {
            status: StatusCode::from_u16(e.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code,
            message: e.public_message(),
            field: e.field(),
            retry_after,
            details,
            base_url: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": { "code": self.code, "message": self.message } });
        if let Some(f) = self.field {
            body["error"]["field"] = json!(f);
        }
        if let Some(serde_json::Value::Object(details)) = self.details {
            for (k, v) in details {
                body[k.as_str()] = v;
            }
            absolute_upgrade_url(&mut body, self.base_url.as_deref().unwrap_or_default());
        }
        let mut resp = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(r: axum::extract::rejection::JsonRejection) -> Self {
        let status = r.status();
        let code = if status == StatusCode::PAYLOAD_TOO_LARGE { "payload_too_large" } else { "invalid_json" };
        ApiError::new(status, code, format!("body: {}", r.body_text()))
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(r: axum::extract::rejection::QueryRejection) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid", r.body_text())
    }
}
