//! The browser bundle and vendored scripts: `/pkg/*` and `/vendor/*` of the
//! site root, as scripts/build.sh leaves them (scripts/finish-site.mjs).
//!
//! - **Compression.** The build writes a brotli (`.br`) and a gzip (`.gz`)
//!   copy beside each compressible file; tower-http's `ServeDir` sends the
//!   best one the browser accepts, with `Content-Encoding` and the original
//!   file's `Content-Type` (`application/wasm` for the bundle, which
//!   `WebAssembly.instantiateStreaming` insists on). Compressing once at
//!   build time allows brotli's slowest, smallest setting at no cost per
//!   request. `Vary: Accept-Encoding` tells caches the body depends on it.
//! - **Caching.** A content-hashed name (`tollbooth.<16 hex digits>.wasm`)
//!   never changes content, so browsers keep it a year without asking
//!   again (`immutable`). Anything else must be revalidated (`no-cache`;
//!   `ServeDir` answers `If-Modified-Since` with 304).

use std::path::{Path, PathBuf};

use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use tower_http::services::ServeDir;

/// Cache policy of a content-hashed file: a year, never revalidated.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Cache policy of any other file: keep, but ask before each use.
pub const REVALIDATE: &str = "no-cache";

/// The hash file scripts/build.sh writes (`pkg/hash.txt`), as an absolute
/// path, if there is one. Leptos resolves the path against the binary's
/// folder (where cargo-leptos puts it), which an absolute path overrides.
pub fn hash_file(site_root: &Path) -> Option<PathBuf> {
    let path = std::path::absolute(site_root.join("pkg").join("hash.txt")).ok()?;
    path.is_file().then_some(path)
}

/// Routes `/pkg` and `/vendor` to their folders under `site_root`.
pub fn routes<S: Clone + Send + Sync + 'static>(site_root: &Path) -> Router<S> {
    let dir = |name: &str| ServeDir::new(site_root.join(name)).precompressed_br().precompressed_gzip();
    Router::new()
        .nest_service("/pkg", dir("pkg"))
        .nest_service("/vendor", dir("vendor"))
        .layer(axum::middleware::from_fn(cache_headers))
}

/// Adds `Cache-Control` (by the file name) and `Vary` to each answer.
async fn cache_headers(req: Request, next: Next) -> Response {
    let hashed = is_content_hashed(req.uri().path());
    let mut resp = next.run(req).await;
    let status = resp.status();
    let headers = resp.headers_mut();
    headers.append(header::VARY, HeaderValue::from_static("accept-encoding"));
    if status.is_success() || status == StatusCode::NOT_MODIFIED {
        let policy = if hashed { IMMUTABLE } else { REVALIDATE };
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
    }
    resp
}

/// Whether the path's file name carries a content hash: a dot-separated
/// part of exactly 16 lower-case hex digits, as scripts/finish-site.mjs
/// writes them (`tollbooth.0123456789abcdef.wasm`).
pub fn is_content_hashed(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or("");
    let mut parts = name.split('.');
    // The first part is the name itself, never the hash.
    parts.next();
    parts.any(|p| p.len() == 16 && p.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

#[cfg(test)]
mod tests {
    use super::is_content_hashed;

    #[test]
    fn hashed_names_are_recognized_by_their_sixteen_hex_digits() {
        assert!(is_content_hashed("/pkg/tollbooth.0123456789abcdef.wasm"));
        assert!(is_content_hashed("/vendor/echarts.0123456789abcdef.min.js"));
        assert!(is_content_hashed("/pkg/tollbooth.0123456789abcdef.wasm.br"));
    }

    #[test]
    fn other_names_are_not_hashed() {
        assert!(!is_content_hashed("/pkg/tollbooth.js"));
        assert!(!is_content_hashed("/pkg/tollbooth_bg.wasm"));
        assert!(!is_content_hashed("/pkg/hash.txt"));
        // 15 digits, 17 digits, upper case, or the hash as the name itself.
        assert!(!is_content_hashed("/pkg/tollbooth.0123456789abcde.js"));
        assert!(!is_content_hashed("/pkg/tollbooth.0123456789abcdef0.js"));
        assert!(!is_content_hashed("/pkg/tollbooth.0123456789ABCDEF.js"));
        assert!(!is_content_hashed("/pkg/0123456789abcdef.js"));
        // A hashed folder does not make its files immutable.
        assert!(!is_content_hashed("/pkg/snippets-0123456789abcdef/0123456789abcdef/inline0.js"));
    }
}
