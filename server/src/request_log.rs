//! What the request log says about a request: its id, and its URI with
//! secrets redacted.
//!
//! Every request gets an id ([`RequestId`], a UUIDv7 made by
//! [`assign_request_id`]), sent back as `Tollbooth-Request-Id`, recorded on
//! the request's span (so every log line inside it carries it, and an
//! OpenTelemetry trace has it as the span attribute `request_id`); a
//! gateway call records its event under the same id.
//!
//! Invite links carry their token in the path (`/invite/<token>`), and the
//! token is all it takes to join (or to try passwords against an account):
//! log lines, which are shipped and kept far more widely than the database,
//! must not hold it.

use axum::extract::Request as AxumRequest;
use axum::http::{HeaderValue, Request, Uri};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Span;

/// The header carrying a request's id in every answer.
pub const REQUEST_ID_HEADER: &str = "tollbooth-request-id";

/// A request's id (a request extension).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Gives the request its id before its span is made, and names it in the
/// answer (unless the handler already did).
pub async fn assign_request_id(mut req: AxumRequest, next: Next) -> Response {
    let id = tollbooth::ids::new_id();
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut resp = next.run(req).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().entry(REQUEST_ID_HEADER).or_insert(v);
    }
    resp
}

const REDACTED: &str = "[redacted]";

/// The URI as logged: the segment after `invite`, any `inv_…` segment, and
/// the value of any query parameter whose name contains `token` redacted.
pub fn redact_uri(uri: &Uri) -> String {
    let mut out = String::new();
    let mut after_invite = false;
    for (i, seg) in uri.path().split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        if (after_invite && !seg.is_empty()) || seg.starts_with("inv_") {
            out.push_str(REDACTED);
        } else {
            out.push_str(seg);
        }
        after_invite = seg == "invite";
    }
    if let Some(q) = uri.query() {
        out.push('?');
        let pairs: Vec<String> = q
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if k.to_ascii_lowercase().contains("token") => format!("{k}={REDACTED}"),
                _ => pair.to_string(),
            })
            .collect();
        out.push_str(&pairs.join("&"));
    }
    out
}

/// The span of one request, as tower-http's default one (method, URI,
/// version) but with the URI redacted.
pub fn make_span<B>(req: &Request<B>) -> Span {
    let id = req.extensions().get::<RequestId>().map_or("", |r| r.0.as_str());
    // `otel.name` names the span in a trace: the method (the route is not
    // known yet, and the URI holds ids).
    tracing::info_span!(
        "request",
        method = %req.method(),
        uri = %redact_uri(req.uri()),
        version = ?req.version(),
        request_id = %id,
        otel.name = %req.method(),
        otel.kind = "server",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> String {
        redact_uri(&s.parse().unwrap())
    }

    #[test]
    fn invite_tokens_are_redacted_from_logged_paths() {
        let token = "inv_0123456789abcdef0123456789abcdef0123456789abcdef";
        assert_eq!(r(&format!("/invite/{token}")), "/invite/[redacted]");
        assert_eq!(r(&format!("/invite/{token}/")), "/invite/[redacted]/");
        assert_eq!(r("/invite/not-even-a-token"), "/invite/[redacted]");
        assert_eq!(r(&format!("/anything/{token}?x=1")), "/anything/[redacted]?x=1");
        assert_eq!(r("/x?token=abc&from=2026-01-01&invite_token=def"), "/x?token=[redacted]&from=2026-01-01&invite_token=[redacted]");
    }

    #[test]
    fn other_uris_are_logged_as_they_are() {
        for u in ["/", "/o/0190a0a0-0000-7000-8000-000000000000/usage.csv?from=2026-01-01", "/api/v1/events", "/invite"] {
            assert_eq!(r(u), u);
        }
    }
}
