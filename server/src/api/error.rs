//! The REST edge's error: every failure becomes a status and a JSON body
//! `{"error": {"code", "message", "field"?}}`. Internals are logged, never sent.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::borrow::Cow;

/// An error as the REST API reports it.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// The request field that is wrong: a name the core gives, or the path
    /// serde reports for a body or query string (`checks[0].metric`).
    pub field: Option<Cow<'static, str>>,
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
            field: e.field().map(Cow::Borrowed),
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

/// The field a deserialization error is about: the path serde reports
/// before its message (`checks[0].metric: invalid type…`, as axum's
/// extractors word it), or the field a `missing field `x``, `unknown field
/// `x`` or `duplicate field `x`` message names.
pub fn field_in(text: &str) -> Option<String> {
    let detail = text.split_once(": ").map_or(text, |(_, rest)| rest);
    if let Some((path, _)) = detail.split_once(": ") {
        let is_path = path.split('.').all(|seg| {
            let name = seg.split('[').next().unwrap_or("");
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
        if is_path {
            return Some(path.to_string());
        }
    }
    for lead in ["missing field `", "unknown field `", "duplicate field `"] {
        if let Some(rest) = detail.split(lead).nth(1) {
            return rest.split('`').next().filter(|f| !f.is_empty()).map(str::to_string);
        }
    }
    None
}

impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(r: axum::extract::rejection::JsonRejection) -> Self {
        let status = r.status();
        let code = if status == StatusCode::PAYLOAD_TOO_LARGE { "payload_too_large" } else { "invalid_json" };
        let text = r.body_text();
        let mut e = ApiError::new(status, code, format!("body: {text}"));
        e.field = field_in(&text).map(Cow::Owned);
        e
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(r: axum::extract::rejection::QueryRejection) -> Self {
        let text = r.body_text();
        let mut e = ApiError::new(StatusCode::BAD_REQUEST, "invalid", text.clone());
        e.field = field_in(&text).map(Cow::Owned);
        e
    }
}

#[cfg(test)]
mod tests {
    use super::field_in;

    #[test]
    fn the_field_is_read_from_the_extractors_messages() {
        let cases = [
            ("Failed to deserialize the JSON body into the target type: checks[0].metric: invalid type: integer `5`, expected a string at line 1 column 22", Some("checks[0].metric")),
            ("Failed to deserialize the JSON body into the target type: amount_usd: invalid type: integer `5`", Some("amount_usd")),
            ("Failed to deserialize the JSON body into the target type: missing field `checks` at line 1 column 2", Some("checks")),
            ("Failed to deserialize query string: limit: invalid digit found in string", Some("limit")),
            ("Failed to deserialize query string: duplicate field `trialing`", Some("trialing")),
            ("Failed to deserialize query string: nope: unknown field `nope`, expected one of `actor`", Some("nope")),
            ("Failed to parse the request body as JSON: EOF while parsing an object at line 1 column 1", None),
        ];
        for (text, field) in cases {
            assert_eq!(field_in(text).as_deref(), field, "{text}");
        }
    }
}
