//! The embeddable usage meter over HTTP: tokens from `POST
//! /api/v1/embed-tokens`, the page at `GET /embed/usage`, its framing
//! policy from `PUT /api/v1/embed-origins`, and refusals.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tollbooth::api_keys::{NewKey, Scope, Scopes};
use tollbooth::audit::By;
use tollbooth::embed::TokenRequest;
use tollbooth::pricing::{store as prices, ModelPrice, PriceBook, UnitPrice};
use tollbooth_server::cli::create_org;

use crate::app_test;
use crate::helpers::TestApp;

/// A price for `gpt-test` ($0.0000025 per input token, $0.00001 per output
/// token) and an organization; its API key (all scopes) and id.
async fn org(app: &TestApp, name: &str, email: &str) -> (String, String) {
    let mut p = ModelPrice::new("gpt-test", "openai");
    p.input = Some(UnitPrice::parse("0.0000025").unwrap());
    p.output = Some(UnitPrice::parse("0.00001").unwrap());
    let mut book = PriceBook::default();
    book.insert(p);
    prices::import(&app.test_db.db, &book, "test", Some(0)).await.unwrap();
    let out = create_org(&app.test_db.db, &app.config, name, email, None).await.unwrap();
    (out.api_key, out.org_id)
}

async fn ingest(app: &TestApp, key: &str, events: Value) {
    let (status, out) = app.call(Method::POST, "/api/v1/events", key, Some(json!({ "events": events }))).await;
    assert_eq!(status, StatusCode::OK, "{out}");
}

async fn token(app: &TestApp, key: &str, body: Value) -> String {
    let (status, out) = app.call(Method::POST, "/api/v1/embed-tokens", key, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{out}");
    assert!(out["url"].as_str().unwrap().ends_with(&format!("/embed/usage?token={}", out["token"].as_str().unwrap())));
    out["token"].as_str().unwrap().to_string()
}

/// The meter page: status, its headers, its body.
async fn page(app: &TestApp, query: &str) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let resp = app.client.get(app.url(&format!("/embed/usage?{query}"))).send().await.unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    (status, headers, resp.text().await.unwrap())
}

fn header<'a>(h: &'a reqwest::header::HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).map(|v| v.to_str().unwrap())
}

app_test! {
    async fn an_organization_token_shows_this_months_usage_against_the_plan(app) {
        let (key, _) = org(&app, "Acme", "owner@example.com").await;
        // 1,000 input and 200 output tokens: $0.0025 + $0.002 = $0.0045.
        ingest(&app, &key, json!([{"id": "a", "model": "gpt-test", "user_id": "u1", "input_tokens": 1000, "output_tokens": 200}])).await;
        let t = token(&app, &key, json!({"ttl_seconds": 600})).await;
        let (status, h, body) = page(&app, &format!("token={t}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(header(&h, "content-type").unwrap().starts_with("text/html"));
        assert!(body.contains("data-testid=\"meter-cost\" title=\"$0.004500000\">$0.0045<"), "{body}");
        assert!(body.contains("data-testid=\"meter-tokens\">1,200<"), "{body}");
        assert!(body.contains("data-testid=\"meter-requests\">1<"), "{body}");
        assert!(body.contains("Usage · Acme") && body.contains("data-testid=\"meter-sparkline\""));
        // Starter has limits: each shows its use against the plan's value.
        assert!(body.contains("data-testid=\"meter-limits\""), "{body}");
        assert!(body.contains("data-testid=\"meter-reset\""));
        assert!(!body.contains("<script"), "the meter runs no script");
        assert_eq!(header(&h, "cache-control"), Some("no-store"));
        assert_eq!(header(&h, "referrer-policy"), Some("no-referrer"));
        // No origins listed yet: nobody may frame it.
        assert!(header(&h, "content-security-policy").unwrap().ends_with("frame-ancestors 'none'"));
        assert_eq!(header(&h, "x-frame-options"), Some("DENY"));
        let (_, _, dark) = page(&app, &format!("token={t}&theme=dark")).await;
        assert!(dark.contains("<html lang=\"en\" class=\"dark\">"));
    }

    async fn the_listed_origins_and_only_they_may_frame_the_meter(app) {
        let (key, _) = org(&app, "Acme", "owner@example.com").await;
        let body = json!({"origins": ["https://App.Example.com/", "http://127.0.0.1:5555", "https://app.example.com:443"]});
        let (status, out) = app.call(Method::PUT, "/api/v1/embed-origins", &key, Some(body)).await;
        assert_eq!(status, StatusCode::OK, "{out}");
        assert_eq!(out["origins"], json!(["https://app.example.com", "http://127.0.0.1:5555"]));
        let (_, got) = app.call(Method::GET, "/api/v1/embed-origins", &key, None).await;
        assert_eq!(got, out);
        let t = token(&app, &key, json!({})).await;
        let (status, h, _) = page(&app, &format!("token={t}")).await;
        assert_eq!(status, StatusCode::OK);
        let csp = header(&h, "content-security-policy").unwrap();
        assert!(csp.ends_with("frame-ancestors https://app.example.com http://127.0.0.1:5555"), "{csp}");
        assert!(csp.contains("default-src 'none'"), "{csp}");
        assert_eq!(header(&h, "x-frame-options"), None, "the CSP decides");
        // Every other page stays unframeable.
        for path in ["/login", "/api/openapi.json", "/healthz"] {
            let h = app.client.get(app.url(path)).send().await.unwrap().headers().clone();
            assert_eq!(header(&h, "x-frame-options"), Some("DENY"), "{path}");
            assert!(header(&h, "content-security-policy").unwrap().contains("frame-ancestors 'none'"), "{path}");
        }
        // A 401 page is not framed either.
        let (_, h, _) = page(&app, "token=nope").await;
        assert_eq!(header(&h, "x-frame-options"), Some("DENY"));
        // Bad origins are refused naming the field; the list stays.
        for bad in ["http://app.example.com", "https://*.example.com", "https://app.example.com/meter", "app.example.com"] {
            let (status, out) = app.call(Method::PUT, "/api/v1/embed-origins", &key, Some(json!({"origins": [bad]}))).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {out}");
            assert_eq!(out["error"]["field"], "embed_origins", "{bad}");
        }
        let (_, still) = app.call(Method::GET, "/api/v1/embed-origins", &key, None).await;
        assert_eq!(still, got);
        // An empty list closes the frame again.
        app.call(Method::PUT, "/api/v1/embed-origins", &key, Some(json!({"origins": []}))).await;
        let (_, h, _) = page(&app, &format!("token={t}")).await;
        assert!(header(&h, "content-security-policy").unwrap().ends_with("frame-ancestors 'none'"));
    }

    async fn a_user_token_shows_only_that_users_usage_against_its_own_limits(app) {
        let (key, _) = org(&app, "Acme", "owner@example.com").await;
        ingest(&app, &key, json!([
            {"id": "a", "model": "gpt-test", "user_id": "u1", "input_tokens": 1000},
            {"id": "b", "model": "gpt-test", "user_id": "u1", "input_tokens": 1000},
            {"id": "c", "model": "gpt-test", "user_id": "u2", "input_tokens": 70000},
        ])).await;
        let t = token(&app, &key, json!({"user_id": "u1"})).await;
        let (status, _, body) = page(&app, &format!("token={t}")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("Your usage this month"));
        assert!(body.contains("data-testid=\"meter-tokens\">2,000<"), "{body}");
        // Money for people: half a cent and up reads in cents, the exact figure in the title.
        assert!(body.contains("title=\"$0.005000000\">$0.01<"), "{body}");
        assert!(body.contains("data-testid=\"meter-requests\">2<"), "{body}");
        assert!(!body.contains("meter-limits"), "no per-user limits: no plan limits either");
        assert!(!body.contains("72,000") && !body.contains("70,000"));
        // With per-user limits on, the user's own limit shows with its use.
        let (status, b) = app.call(Method::PUT, "/api/v1/user-limits", &key, Some(json!({"enabled": true, "tokens_per_day": 5000}))).await;
        assert_eq!(status, StatusCode::OK, "{b}");
        let t = token(&app, &key, json!({"user_id": "u1"})).await;
        let (_, _, body) = page(&app, &format!("token={t}")).await;
        assert!(body.contains("meter-limits") && body.contains("2,000 / 5,000"), "{body}");
        assert!(!body.contains("100,000"), "not the plan's limit: {body}");
        // A user without usage sees zeros, not the organization's figures.
        let t = token(&app, &key, json!({"user_id": "nobody"})).await;
        let (_, _, body) = page(&app, &format!("token={t}")).await;
        assert!(body.contains("data-testid=\"meter-tokens\">0<") && body.contains(">$0.00<"), "{body}");
    }

    async fn a_token_shows_its_own_organization_and_cannot_be_turned_to_another(app) {
        let (key_a, org_a) = org(&app, "Alpha", "a@example.com").await;
        let (key_b, org_b) = org(&app, "Beta", "b@example.com").await;
        ingest(&app, &key_a, json!([{"id": "a", "model": "gpt-test", "input_tokens": 1111}])).await;
        ingest(&app, &key_b, json!([{"id": "a", "model": "gpt-test", "input_tokens": 2222}])).await;
        let tb = token(&app, &key_b, json!({})).await;
        let (_, _, body) = page(&app, &format!("token={tb}")).await;
        assert!(body.contains("Usage · Beta") && body.contains(">2,222<") && !body.contains("1,111"), "{body}");
        // A's token with its payload rewritten to name B keeps A's signature: refused.
        let ta = token(&app, &key_a, json!({})).await;
        let forged = {
            let (signed, tag) = ta.rsplit_once('.').unwrap();
            let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(&signed["tbe1.".len()..]).unwrap()).unwrap();
            assert!(payload.contains(&org_a), "{payload}");
            format!("tbe1.{}.{tag}", URL_SAFE_NO_PAD.encode(payload.replace(&org_a, &org_b)))
        };
        let swapped = {
            let (_, payload_b) = tb.rsplit_once('.').unwrap().0.split_once('.').unwrap();
            let tag_a = ta.rsplit_once('.').unwrap().1;
            format!("tbe1.{payload_b}.{tag_a}")
        };
        for bad in [forged, swapped] {
            let (status, _, body) = page(&app, &format!("token={bad}")).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{bad}");
            assert!(!body.contains("2,222") && !body.contains("1,111"));
        }
        // B's origins do not open A's page.
        app.call(Method::PUT, "/api/v1/embed-origins", &key_b, Some(json!({"origins": ["https://beta.example"]}))).await;
        let (_, h, _) = page(&app, &format!("token={ta}")).await;
        assert!(header(&h, "content-security-policy").unwrap().ends_with("frame-ancestors 'none'"));
    }

    async fn expired_tampered_and_missing_tokens_get_a_plain_401_page(app) {
        let (key, org_id) = org(&app, "Acme", "owner@example.com").await;
        ingest(&app, &key, json!([{"id": "a", "model": "gpt-test", "input_tokens": 4321}])).await;
        // Issued two hours ago for one hour (through the core, as the API
        // would have then): expired now.
        let req = TokenRequest { user_id: None, ttl_seconds: Some(3600) };
        let old = tollbooth::embed::issue_token(&app.test_db.db, &org_id, &req, "http://x", tollbooth::clock::now_ms() - 7_200_000)
            .await
            .unwrap()
            .token;
        let fresh = token(&app, &key, json!({})).await;
        let mut tampered = fresh.clone().into_bytes();
        let i = tampered.len() - 3;
        tampered[i] = if tampered[i] == b'x' { b'y' } else { b'x' };
        let tampered = String::from_utf8(tampered).unwrap();
        for query in [format!("token={old}"), format!("token={tampered}"), "token=".into(), String::new(), "token=tbe1.e30.AAAA".into()] {
            let (status, h, body) = page(&app, &query).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{query}");
            assert!(header(&h, "content-type").unwrap().starts_with("text/html"));
            assert!(body.contains("not valid or has expired"), "{body}");
            assert!(!body.contains("4,321"), "{query}");
        }
        let (status, _, _) = page(&app, &format!("token={fresh}")).await;
        assert_eq!(status, StatusCode::OK);
    }

    async fn bad_token_requests_name_the_field_and_need_the_read_scope(app) {
        let (key, org_id) = org(&app, "Acme", "owner@example.com").await;
        for (body, field) in [
            (json!({"ttl_seconds": 0}), "ttl_seconds"),
            (json!({"ttl_seconds": 3601}), "ttl_seconds"),
            (json!({"user_id": " "}), "user_id"),
            (json!({"user_id": "x".repeat(201)}), "user_id"),
        ] {
            let (status, out) = app.call(Method::POST, "/api/v1/embed-tokens", &key, Some(body.clone())).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {out}");
            assert_eq!(out["error"]["field"], field, "{body}");
        }
        let (status, out) = app.call(Method::POST, "/api/v1/embed-tokens", &key, Some(json!({"ttl_seconds": "ten"}))).await;
        assert!(status.is_client_error(), "{out}");
        let t = token(&app, &key, json!({"ttl_seconds": 3600})).await;
        let (status, _, body) = page(&app, &format!("token={t}&theme=blue")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body.contains("theme"));
        // An ingest-only key may not ask for one.
        let new = NewKey { name: "ingest", rate_limit_per_minute: None, scopes: Scopes::of(&[Scope::Ingest]).unwrap(), model_allowlist: None };
        let ingest_only = tollbooth::api_keys::create_for_org(&app.test_db.db, &org_id, &new, &By::system("test")).await.unwrap().secret;
        let (status, out) = app.call(Method::POST, "/api/v1/embed-tokens", &ingest_only, Some(json!({}))).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{out}");
        assert!(out["error"]["message"].as_str().unwrap().contains("read"), "{out}");
    }
}
