//! The gateway's own refusals and failures, in the wire format of the
//! provider the client speaks, so an official SDK raises its usual error
//! class: OpenAI's `{"error": {"message", "type", "param", "code"}}`,
//! Anthropic's `{"type": "error", "error": {"type", "message"}}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tollbooth::providers::Family;

use super::REQUEST_ID;

/// A refusal or failure of the gateway itself (an upstream's own errors
/// pass through unchanged).
#[derive(Debug)]
pub struct GatewayError {
    pub status: StatusCode,
    /// A short machine code (`budget_exceeded`, `model_not_allowed`, …).
    pub code: String,
    pub message: String,
    pub param: Option<String>,
    pub retry_after: Option<u64>,
}

impl GatewayError {
    pub fn new(status: StatusCode, code: impl Into<String>, message: impl Into<String>) -> Self {
        GatewayError { status, code: code.into(), message: message.into(), param: None, retry_after: None }
    }

    /// The core's error, as the gateway reports it. A limit or budget
    /// refusal names what refused and, for plan limits, where to upgrade.
    pub fn from_core(e: tollbooth::Error, public_url: &str) -> Self {
        use tollbooth::Error as E;
        // Bad input is 400 in both providers' conventions (the REST API's 422).
        let status = match &e {
            E::Invalid { .. } => StatusCode::BAD_REQUEST,
            _ => StatusCode::from_u16(e.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        };
        if status.is_server_error() {
            tracing::error!(error = ?e, "gateway call failed");
        }
        let param = e.field().map(str::to_string);
        match e {
            E::LimitReached(r) => {
                let code = if r.limit.starts_with("budget:") { "budget_exceeded" } else { "limit_exceeded" };
                let message = format!("{}{}", r.message, upgrade_suffix(Some(&r.details), public_url));
                GatewayError { status, code: code.into(), message, param: None, retry_after: r.retry_after_secs }
            }
            E::Throttled { retry_after_secs } => {
                GatewayError { status, code: "throttled".into(), message: e.public_message(), param, retry_after: Some(retry_after_secs) }
            }
            E::Unavailable(_) => GatewayError { status, code: "unavailable".into(), message: e.public_message(), param, retry_after: Some(1) },
            other => {
                let code = match &other {
                    E::Invalid { .. } => "invalid_request",
                    E::NotFound(_) => "not_found",
                    E::Unauthorized(_) => "invalid_api_key",
                    E::Forbidden(_) => "permission_denied",
                    E::Conflict { .. } => "conflict",
                    _ => "internal_error",
                };
                GatewayError { status, code: code.into(), message: other.public_message(), param, retry_after: None }
            }
        }
    }

    /// The error type each provider's SDK maps to its exception class.
    fn kind(&self, family: Family) -> &'static str {
        let s = self.status.as_u16();
        match family {
            Family::OpenAi => match s {
                400 | 413 | 422 => "invalid_request_error",
                401 => "authentication_error",
                402 | 403 => "permission_error",
                404 => "not_found_error",
                429 => "rate_limit_error",
                _ => "api_error",
            },
            Family::Anthropic => match s {
                400 | 422 => "invalid_request_error",
                401 => "authentication_error",
                402 | 403 => "permission_error",
                404 => "not_found_error",
                413 => "request_too_large",
                429 => "rate_limit_error",
                529 => "overloaded_error",
                504 => "timeout_error",
                _ => "api_error",
            },
        }
    }

    /// The response in `family`'s format, with the request id.
    pub fn respond(self, family: Family, request_id: &str) -> Response {
        let body = match family {
            Family::OpenAi => json!({"error": {
                "message": self.message, "type": self.kind(family), "param": self.param, "code": self.code,
            }}),
            Family::Anthropic => json!({"type": "error", "error": {"type": self.kind(family), "message": self.message}}),
        };
        let mut resp = (self.status, axum::Json(body)).into_response();
        let h = resp.headers_mut();
        if let Ok(v) = HeaderValue::from_str(request_id) {
            h.insert(REQUEST_ID, v);
        }
        if let Some(secs) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

/// `. Upgrade: <url>` when a refusal's details name an upgrade path (plan
/// limits), else nothing: the gateway's messages carry the link the REST
/// API gives as `upgrade_url`.
pub fn upgrade_suffix(details: Option<&serde_json::Value>, public_url: &str) -> String {
    match details.and_then(|d| d.get("upgrade_path")).and_then(|p| p.as_str()) {
        Some(path) => format!(". Upgrade: {}{path}", public_url.trim_end_matches('/')),
        None => String::new(),
    }
}

impl From<tollbooth::Error> for GatewayError {
    fn from(e: tollbooth::Error) -> Self {
        GatewayError::from_core(e, "")
    }
}
