//! The bundle and vendored scripts as scripts/build.sh leaves them: content-
//! hashed names named by the pages, precompressed copies sent with
//! `Content-Encoding`, and cache headers by name.

use std::path::Path;

use reqwest::header::{CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, IF_MODIFIED_SINCE, LAST_MODIFIED, VARY};
use reqwest::StatusCode;
use tollbooth::db::Engine;

use crate::helpers::{spawn_app_with, TestApp};

const JS_HASH: &str = "0123456789abcdef";
const WASM_HASH: &str = "fedcba9876543210";
const CSS_HASH: &str = "00112233445566aa";
const ECHARTS_HASH: &str = "aabbccddeeff0011";

/// A site root like the build's, each compressed copy with its own bytes
/// (which file was sent shows in the body).
fn write_site(root: &Path) {
    let pkg = root.join("pkg");
    let vendor = root.join("vendor");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::create_dir_all(&vendor).unwrap();
    let wasm = format!("tollbooth.{WASM_HASH}.wasm");
    std::fs::write(pkg.join(&wasm), b"\0asm raw").unwrap();
    std::fs::write(pkg.join(format!("{wasm}.br")), b"brotli bytes").unwrap();
    std::fs::write(pkg.join(format!("{wasm}.gz")), b"gzip bytes").unwrap();
    std::fs::write(pkg.join(format!("tollbooth.{JS_HASH}.js")), b"export default 1;").unwrap();
    std::fs::write(pkg.join(format!("tollbooth.{CSS_HASH}.css")), b"body{}").unwrap();
    std::fs::write(vendor.join(format!("echarts.{ECHARTS_HASH}.min.js")), b"var echarts;").unwrap();
    std::fs::write(vendor.join("unhashed.js"), b"var x;").unwrap();
    std::fs::write(
        pkg.join("hash.txt"),
        format!("js: {JS_HASH}\nwasm: {WASM_HASH}\ncss: {CSS_HASH}\necharts: {ECHARTS_HASH}\n"),
    )
    .unwrap();
}

async fn spawn_with_site(engine: Engine) -> Option<(TestApp, tempfile::TempDir)> {
    let site = tempfile::tempdir().unwrap();
    write_site(site.path());
    let root = site.path().display().to_string();
    let app = spawn_app_with(engine, move |c| c.site_root = root).await?;
    Some((app, site))
}

async fn the_bundle_is_sent_precompressed_as_wasm_and_kept_for_a_year(engine: Engine) {
    let Some((app, _site)) = spawn_with_site(engine).await else { return };
    let url = app.url(&format!("/pkg/tollbooth.{WASM_HASH}.wasm"));
    for (accept, encoding, body) in [
        (Some("gzip, deflate, br, zstd"), Some("br"), "brotli bytes"),
        (Some("gzip"), Some("gzip"), "gzip bytes"),
        (None, None, "\0asm raw"),
    ] {
        let mut req = app.client.get(&url);
        if let Some(a) = accept {
            req = req.header("Accept-Encoding", a);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{accept:?}");
        let h = resp.headers().clone();
        assert_eq!(h.get(CONTENT_ENCODING).map(|v| v.to_str().unwrap()), encoding, "{accept:?}");
        // instantiateStreaming refuses wasm of any other type.
        assert_eq!(h[CONTENT_TYPE], "application/wasm", "{accept:?}");
        assert_eq!(h[CACHE_CONTROL], "public, max-age=31536000, immutable");
        assert!(h[VARY].to_str().unwrap().to_ascii_lowercase().contains("accept-encoding"));
        // The CSP and the other security headers reach static files too.
        assert!(h.contains_key("content-security-policy"));
        assert_eq!(resp.bytes().await.unwrap(), body.as_bytes(), "{accept:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bundle_is_sent_precompressed_as_wasm_and_kept_for_a_year_sqlite() {
    the_bundle_is_sent_precompressed_as_wasm_and_kept_for_a_year(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bundle_is_sent_precompressed_as_wasm_and_kept_for_a_year_postgres() {
    the_bundle_is_sent_precompressed_as_wasm_and_kept_for_a_year(Engine::Postgres).await;
}

async fn files_without_a_hash_are_revalidated_and_missing_ones_are_404(engine: Engine) {
    let Some((app, _site)) = spawn_with_site(engine).await else { return };
    let resp = app.client.get(app.url("/vendor/unhashed.js")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[CACHE_CONTROL], "no-cache");
    let modified = resp.headers()[LAST_MODIFIED].clone();
    let resp = app.client.get(app.url("/vendor/unhashed.js")).header(IF_MODIFIED_SINCE, modified).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(resp.headers()[CACHE_CONTROL], "no-cache");

    let resp = app.client.get(app.url("/pkg/tollbooth.0000000000000000.wasm")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert!(resp.headers().get(CACHE_CONTROL).is_none(), "a 404 is not cached for a year");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_without_a_hash_are_revalidated_and_missing_ones_are_404_sqlite() {
    files_without_a_hash_are_revalidated_and_missing_ones_are_404(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_without_a_hash_are_revalidated_and_missing_ones_are_404_postgres() {
    files_without_a_hash_are_revalidated_and_missing_ones_are_404(Engine::Postgres).await;
}

async fn pages_name_the_hashed_files_and_leave_echarts_to_pages_with_charts(engine: Engine) {
    let Some((app, _site)) = spawn_with_site(engine).await else { return };
    let html = app.client.get(app.url("/login")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains(&format!("/pkg/tollbooth.{JS_HASH}.js")), "{html}");
    assert!(html.contains(&format!("/pkg/tollbooth.{WASM_HASH}.wasm")), "{html}");
    assert!(html.contains(&format!("/pkg/tollbooth.{CSS_HASH}.css")), "{html}");
    // Named for the chart component, never loaded by the page itself.
    assert!(html.contains(&format!(r#"<meta name="tollbooth-echarts" content="/vendor/echarts.{ECHARTS_HASH}.min.js">"#)), "{html}");
    assert!(!html.contains("<script src="), "{html}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_name_the_hashed_files_and_leave_echarts_to_pages_with_charts_sqlite() {
    pages_name_the_hashed_files_and_leave_echarts_to_pages_with_charts(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_name_the_hashed_files_and_leave_echarts_to_pages_with_charts_postgres() {
    pages_name_the_hashed_files_and_leave_echarts_to_pages_with_charts(Engine::Postgres).await;
}
