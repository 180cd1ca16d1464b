//! Defences for what browsers send and receive, applied to every request:
//!
//! - **CSRF.** Pages and server functions (`/api/<name>`) are authenticated
//!   by the session cookie. `SameSite=Lax` alone lets a sibling subdomain
//!   (same site) post with it, and lets any site sign a victim in to the
//!   attacker's account (login CSRF: the login sets the cookie). So every
//!   state-changing request outside the key-authenticated APIs must name this
//!   site in `Origin` (or, when a browser omits it, `Referer`); anything
//!   else, including neither, is refused with 403 before a handler runs.
//!   Browsers always send `Origin` on POST; only non-browser clients omit
//!   both, and those have no cookie to abuse.
//! - **Security headers** on every response: a Content-Security-Policy the
//!   app works under (scripts and wasm from this site plus the page's own
//!   hydration script by a per-response nonce; no framing), `nosniff`,
//!   a `Referrer-Policy` that keeps paths (invite links) on this site, and
//!   `Strict-Transport-Security` when the public URL is https.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// A per-response CSP nonce; the shell's hydration script carries it.
#[derive(Debug, Clone)]
pub struct CspNonce(pub String);

/// What the guard allows and sends.
#[derive(Debug, Clone)]
pub struct BrowserGuard {
    /// The public URL's origin (`https://tollbooth.example.com`).
    public_origin: String,
    /// Without a configured public URL, the origin a browser reached us at
    /// (`http://` + its `Host`) is also this site: a user opening
    /// `http://localhost:3000` must be able to sign in.
    trust_host: bool,
    /// The public URL is https: send HSTS.
    https: bool,
}

/// Paths whose writes are authenticated by a key or a signature, never by
/// the cookie, so they are outside the CSRF rule.
const KEY_AUTHENTICATED: &[&str] = &["/api/v1/", "/api/admin/", "/webhooks/", "/v1/"];

impl BrowserGuard {
    /// `public_url` is the configured (or derived) base URL; `configured`
    /// says whether an operator set it.
    pub fn new(public_url: &str, configured: bool) -> Self {
        let public_origin = origin_of(public_url).unwrap_or_else(|| public_url.trim_end_matches('/').to_ascii_lowercase());
        BrowserGuard { https: public_origin.starts_with("https://"), public_origin, trust_host: !configured }
    }

    /// Whether a request with these headers comes from this site's pages.
    fn same_origin(&self, headers: &HeaderMap) -> Result<(), String> {
        let text = |name| headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok());
        let claimed = match (text(header::ORIGIN), text(header::REFERER)) {
            // An Origin, even "null" (sandboxed frames), decides alone.
            (Some(o), _) => origin_of(o),
            (_, Some(r)) => origin_of(r),
            _ => return Err("the request names no Origin or Referer".into()),
        };
        let Some(claimed) = claimed else { return Err("its Origin or Referer is not this site's URL".into()) };
        if claimed == self.public_origin {
            return Ok(());
        }
        if self.trust_host {
            if let Some(host) = text(header::HOST) {
                if claimed == format!("http://{}", host.to_ascii_lowercase()) {
                    return Ok(());
                }
            }
        }
        Err(format!("{claimed} is not this site"))
    }

    fn content_security_policy(&self, nonce: &str) -> String {
        // 'wasm-unsafe-eval' lets the page compile its own wasm bundle (not
        // eval of strings); style attributes are allowed for the width of
        // progress bars, style elements are not.
        format!(
            "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; \
             style-src-attr 'unsafe-inline'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
             object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        )
    }

    fn add_headers(&self, headers: &mut HeaderMap, nonce: &str) {
        let mut set = |name: header::HeaderName, value: String| {
            if let Ok(v) = HeaderValue::from_str(&value) {
                // A handler that chose its own (a frameable embed) keeps it.
                headers.entry(name).or_insert(v);
            }
        };
        set(header::CONTENT_SECURITY_POLICY, self.content_security_policy(nonce));
        set(header::X_CONTENT_TYPE_OPTIONS, "nosniff".into());
        set(header::REFERRER_POLICY, "same-origin".into());
        if self.https {
            set(header::STRICT_TRANSPORT_SECURITY, "max-age=31536000".into());
        }
        // A page whose own CSP lets listed origins frame it (the embedded
        // meter) must not be denied by the older header: browsers that know
        // frame-ancestors ignore X-Frame-Options, but not all do.
        let frameable = headers
            .get(header::CONTENT_SECURITY_POLICY)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|csp| csp.contains("frame-ancestors") && !csp.contains("frame-ancestors 'none'"));
        if !frameable {
            headers.entry(header::X_FRAME_OPTIONS).or_insert(HeaderValue::from_static("DENY"));
        }
    }
}

/// `scheme://host[:port]` of a URL, lower-cased, default ports dropped.
fn origin_of(url: &str) -> Option<String> {
    let url = url.trim();
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    // Credentials never belong to an origin.
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h).to_ascii_lowercase();
    if host_port.is_empty() {
        return None;
    }
    let default = if scheme == "https" { ":443" } else { ":80" };
    let host_port = host_port.strip_suffix(default).unwrap_or(&host_port);
    Some(format!("{scheme}://{host_port}"))
}

fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE)
}

/// The middleware: refuses cross-site writes, then adds the headers.
pub async fn guard(State(guard): State<std::sync::Arc<BrowserGuard>>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if changes_state(req.method()) && !KEY_AUTHENTICATED.iter().any(|p| path.starts_with(p)) {
        if let Err(why) = guard.same_origin(req.headers()) {
            tracing::warn!(target: "security", event = "csrf_refused", path, %why, "cross-site request refused");
            let body = json!({ "error": { "code": "forbidden", "message": format!("cross-site request refused: {why}") } });
            let mut resp = (StatusCode::FORBIDDEN, Json(body)).into_response();
            guard.add_headers(resp.headers_mut(), &tollbooth::secrets::random_hex(16));
            return resp;
        }
    }
    let nonce = tollbooth::secrets::random_hex(16);
    req.extensions_mut().insert(CspNonce(nonce.clone()));
    let mut resp = next.run(req).await;
    guard.add_headers(resp.headers_mut(), &nonce);
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn origins_are_normalized() {
        assert_eq!(origin_of("HTTPS://Example.COM:443/x?y").as_deref(), Some("https://example.com"));
        assert_eq!(origin_of("http://127.0.0.1:3000/login").as_deref(), Some("http://127.0.0.1:3000"));
        assert_eq!(origin_of("http://u:p@evil.example/").as_deref(), Some("http://evil.example"));
        assert_eq!(origin_of("ftp://x"), None);
        assert_eq!(origin_of("null"), None);
    }

    #[test]
    fn only_this_sites_origin_or_referer_may_change_state() {
        let g = BrowserGuard::new("https://tollbooth.example.com/", true);
        assert!(g.same_origin(&headers(&[("origin", "https://tollbooth.example.com")])).is_ok());
        assert!(g.same_origin(&headers(&[("referer", "https://tollbooth.example.com/o/x/keys")])).is_ok());
        for bad in [
            vec![("origin", "https://evil.example")],
            vec![("origin", "https://app.tollbooth.example.com")],
            vec![("origin", "http://tollbooth.example.com")],
            vec![("referer", "https://evil.example/https://tollbooth.example.com")],
            vec![("origin", "null")],
            vec![],
        ] {
            assert!(g.same_origin(&headers(&bad)).is_err(), "{bad:?}");
        }
        // A configured public URL is the only origin: the Host header does not widen it.
        let spoof = headers(&[("origin", "http://10.0.0.5:3000"), ("host", "10.0.0.5:3000")]);
        assert!(g.same_origin(&spoof).is_err());
    }

    #[test]
    fn without_a_configured_url_the_host_the_browser_used_is_this_site() {
        let g = BrowserGuard::new("http://127.0.0.1:3000", false);
        assert!(g.same_origin(&headers(&[("origin", "http://127.0.0.1:3000")])).is_ok());
        assert!(g.same_origin(&headers(&[("origin", "http://localhost:3000"), ("host", "localhost:3000")])).is_ok());
        assert!(g.same_origin(&headers(&[("origin", "http://evil.example"), ("host", "localhost:3000")])).is_err());
    }

    #[test]
    fn headers_carry_the_nonce_and_hsts_only_over_https() {
        let mut h = HeaderMap::new();
        BrowserGuard::new("http://127.0.0.1:3000", false).add_headers(&mut h, "abc123");
        let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("script-src 'self' 'nonce-abc123' 'wasm-unsafe-eval'") && csp.contains("frame-ancestors 'none'"));
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert!(!h.contains_key(header::STRICT_TRANSPORT_SECURITY));
        let mut h = HeaderMap::new();
        BrowserGuard::new("https://t.example", true).add_headers(&mut h, "n");
        assert_eq!(h[header::STRICT_TRANSPORT_SECURITY], "max-age=31536000");
        assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
    }

    #[test]
    fn a_page_that_names_its_framing_origins_keeps_its_policy_without_x_frame_options() {
        let g = BrowserGuard::new("http://127.0.0.1:3000", false);
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; frame-ancestors https://a.example"));
        g.add_headers(&mut h, "n");
        assert_eq!(h[header::CONTENT_SECURITY_POLICY], "default-src 'none'; frame-ancestors https://a.example");
        assert!(!h.contains_key(header::X_FRAME_OPTIONS));
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"));
        g.add_headers(&mut h, "n");
        assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
    }
}
