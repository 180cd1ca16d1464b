//! The API contract: `GET /api/openapi.json` covers every route, names no
//! route that does not exist, is a valid OpenAPI 3.1 document, and keeps
//! the house rules (money as patterned strings, security, an example per
//! operation); `GET /api/docs` is served by Tollbooth itself.
//!
//! The routes are read from the router's source (axum cannot list them), as
//! the cross-tenant test reads its REST routes: a route added without an
//! operation, or an operation whose route is gone, fails here.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::{Method, StatusCode};
use serde_json::Value;
use tollbooth::db::Engine;

use crate::helpers::{spawn_app, spawn_app_with};

/// The routers' sources and the prefix each is mounted at.
const ROUTERS: &[(&str, &str, &str)] = &[
    ("api/mod.rs", include_str!("../../src/api/mod.rs"), "/api/v1"),
    ("api/admin.rs", include_str!("../../src/api/admin.rs"), "/api/admin"),
    ("gateway/mod.rs", include_str!("../../src/gateway/mod.rs"), ""),
    ("startup.rs", include_str!("../../src/startup.rs"), ""),
];

/// Routes of the root router that are not part of the API, with why.
const NOT_API: &[(&str, &str)] = &[
    ("/o/{org}/usage.csv", "browser download, authenticated by the session cookie"),
    ("/o/{org}/audit.csv", "browser download, authenticated by the session cookie"),
    ("/admin/audit.csv", "browser download, authenticated by the session cookie"),
    ("/o/{org}/invoices/{id}/csv", "browser download, authenticated by the session cookie"),
    ("/alerts/confirm/{token}", "an HTML page opened from a confirmation mail"),
];

/// The text of the call starting at `open` (just after its `(`), up to
/// the matching `)`.
fn call_text(src: &str, open: usize) -> &str {
    let mut depth = 1;
    for (i, c) in src[open..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return &src[open..open + i];
                }
            }
            _ => {}
        }
    }
    &src[open..]
}

/// Every (method, path) the routers register, with the full path.
fn routes_in_source() -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (_, src, prefix) in ROUTERS {
        for (at, _) in src.match_indices(".route(") {
            let call = call_text(src, at + ".route(".len());
            let Some(path) = call.trim_start().strip_prefix('"').and_then(|r| r.split('"').next()) else { continue };
            let full = format!("{prefix}{path}");
            if NOT_API.iter().any(|(p, _)| *p == full) {
                continue;
            }
            let mut methods = 0;
            for (token, method) in [("get(", "GET"), ("post(", "POST"), ("put(", "PUT"), ("delete(", "DELETE"), ("patch(", "PATCH")] {
                let uses = call.match_indices(token).any(|(i, _)| {
                    let before = call[..i].chars().last();
                    matches!(before, Some('.') | Some(' ') | Some(':') | Some('\n') | Some('('))
                });
                if uses {
                    out.insert((method.to_string(), full.clone()));
                    methods += 1;
                }
            }
            assert!(methods > 0, "no method found for route {full}");
        }
    }
    out
}

/// Every (method, path) the document describes.
fn operations(doc: &Value) -> BTreeMap<(String, String), Value> {
    let mut out = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().unwrap() {
            if ["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                out.insert((method.to_uppercase(), path.clone()), op.clone());
            }
        }
    }
    out
}

async fn fetch_doc(app: &crate::helpers::TestApp) -> Value {
    let r = app.client.get(app.url("/api/openapi.json")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()[reqwest::header::CONTENT_TYPE].to_str().unwrap().starts_with("application/json"));
    r.json().await.unwrap()
}

#[tokio::test]
async fn every_route_has_an_operation_in_the_spec_and_every_operation_a_route() {
    let app = spawn_app_with(Engine::Sqlite, |c| c.metrics_token = Some("scrape-me".parse().unwrap())).await.unwrap();
    let doc = fetch_doc(&app).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let ops = operations(&doc);
    let documented: BTreeSet<_> = ops.keys().cloned().collect();
    let routes = routes_in_source();
    // The parse found the routers (guards against a rename emptying it).
    assert!(routes.len() > 60, "only {} routes read from the source", routes.len());
    for (prefix, call) in [("/api/v1", ".nest(\"/api/v1\", api::router())"), ("/api/admin", ".nest(\"/api/admin\", api::admin::router())"), ("", ".merge(crate::gateway::routes())")] {
        assert!(ROUTERS[3].1.contains(call), "startup.rs no longer mounts {prefix:?} with {call}: update ROUTERS");
    }

    let missing: Vec<_> = routes.difference(&documented).collect();
    assert!(missing.is_empty(), "routes without an operation in /api/openapi.json: {missing:?}");
    let phantom: Vec<_> = documented.difference(&routes).collect();
    assert!(phantom.is_empty(), "operations without a route in the router's source: {phantom:?}");

    // And each documented operation answers as a route on the running
    // server (the router's fallback is 404, a wrong method 405): no
    // credentials, so every one stops at authentication or answers.
    for (method, path) in &documented {
        let url = app.url(&path.replace("{id}", "x").replace("{name}", "x").replace("{key}", "x"));
        let r = app.client.request(Method::from_bytes(method.as_bytes()).unwrap(), url).send().await.unwrap();
        assert!(
            r.status() != StatusCode::NOT_FOUND && r.status() != StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path} is in the spec but the server answers {}",
            r.status()
        );
    }
}

#[tokio::test]
async fn the_spec_is_a_valid_openapi_3_1_document() {
    let app = spawn_app(Engine::Sqlite).await.unwrap();
    let doc = fetch_doc(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let doc_path = dir.path().join("openapi.json");
    std::fs::write(&doc_path, serde_json::to_vec(&doc).unwrap()).unwrap();
    let schema = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api/openapi-3.1/schema.json");
    // The OpenAPI 3.1 schema (vendored, see SOURCE.md beside it) for the
    // document, and JSON Schema 2020-12 for each of its schemas.
    let script = r#"
import json, sys
from jsonschema import Draft202012Validator
schema = json.load(open(sys.argv[1]))
doc = json.load(open(sys.argv[2]))
errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in Draft202012Validator(schema).iter_errors(doc)]
for name, s in doc.get("components", {}).get("schemas", {}).items():
    for e in Draft202012Validator(Draft202012Validator.META_SCHEMA).iter_errors(s):
        errors.append(f"components/schemas/{name}: {e.message}")
print("\n".join(errors))
sys.exit(1 if errors else 0)
"#;
    let out = std::process::Command::new(crate::llm_double_sdk::python()).arg("-c").arg(script).arg(&schema).arg(&doc_path).output().unwrap();
    assert!(
        out.status.success(),
        "/api/openapi.json is not a valid OpenAPI 3.1 document (run scripts/setup.sh if jsonschema is missing):\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every `…_usd` property anywhere in the document's schemas.
fn usd_properties<'a>(path: String, v: &'a Value, out: &mut Vec<(String, &'a Value)>) {
    match v {
        Value::Object(o) => {
            if let Some(Value::Object(props)) = o.get("properties") {
                for (k, p) in props {
                    if k.ends_with("_usd") {
                        out.push((format!("{path}/{k}"), p));
                    }
                }
            }
            for (k, c) in o {
                usd_properties(format!("{path}/{k}"), c, out);
            }
        }
        Value::Array(a) => a.iter().enumerate().for_each(|(i, c)| usd_properties(format!("{path}/{i}"), c, out)),
        _ => {}
    }
}

#[tokio::test]
async fn the_spec_keeps_the_house_rules() {
    let app = spawn_app(Engine::Sqlite).await.unwrap();
    let doc = fetch_doc(&app).await;
    let schemes = &doc["components"]["securitySchemes"];
    for s in ["api_key", "x_api_key", "admin_token"] {
        assert!(schemes.get(s).is_some(), "security scheme {s} missing");
    }
    assert!(doc["components"]["schemas"]["ErrorBody"]["properties"]["error"].is_object());
    assert!(doc["components"]["schemas"]["Usd"]["pattern"].is_string());

    for ((method, path), op) in operations(&doc) {
        let name = format!("{method} {path}");
        assert!(op["operationId"].is_string(), "{name}: no operationId");
        let text = op.to_string();
        assert!(text.contains("\"example"), "{name}: no example");
        let security = op["security"].to_string();
        if path.starts_with("/api/v1") {
            assert!(security.contains("api_key"), "{name}: no api_key security");
            assert!(op["responses"]["401"]["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/ErrorBody", "{name}: 401 is not the ErrorBody");
        } else if path.starts_with("/api/admin") {
            assert!(security.contains("admin_token"), "{name}: no admin_token security");
        } else if path.starts_with("/v1/") {
            assert!(security.contains("api_key") && security.contains("x_api_key"), "{name}: the gateway takes both key forms");
            assert!(text.contains("Tollbooth-Request-Id"), "{name}: Tollbooth-Request-Id undocumented");
        }
    }

    // Money is a decimal string with a pattern, never a number.
    let mut usd = Vec::new();
    usd_properties(String::new(), &doc, &mut usd);
    assert!(usd.len() > 10, "only {} money fields found", usd.len());
    for (at, p) in usd {
        let s = p.to_string();
        let ok = s.contains("#/components/schemas/Usd") || s.contains("\"pattern\"");
        assert!(ok, "{at} is money without the Usd pattern: {s}");
        assert!(!s.contains("\"number\""), "{at} is money as a JSON number: {s}");
    }
}

#[tokio::test]
async fn the_docs_page_is_served_with_its_viewer_from_this_site() {
    let app = spawn_app(Engine::Sqlite).await.unwrap();
    let r = app.client.get(app.url("/api/docs")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let csp = r.headers()[reqwest::header::CONTENT_SECURITY_POLICY].to_str().unwrap().to_string();
    assert!(r.headers()[reqwest::header::CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
    let html = r.text().await.unwrap();
    // Scripts and styles from this site only, and no inline script: the
    // policy allows 'self' (and a nonce the page does not have).
    assert!(csp.contains("script-src 'self'"), "{csp}");
    for asset in ["/vendor/swagger-ui/swagger-ui-bundle.js", "/vendor/swagger-ui/swagger-ui.css", "/vendor/swagger-ui/tollbooth-init.js"] {
        assert!(html.contains(&format!("\"{asset}\"")), "the page does not load {asset}");
    }
    assert!(!html.contains("http://") && !html.contains("https://"), "the page loads something from elsewhere:\n{html}");
    for script in html.split("<script").skip(1) {
        assert!(script.trim_start().starts_with("src="), "inline script on the docs page: <script{script}");
    }
    // The start script (served from vendor/ once scripts/build.sh copied
    // it) points the viewer at this server's document and at no validator.
    let init = include_str!("../../assets/swagger-ui-init.js");
    assert!(init.contains("url: '/api/openapi.json'") && init.contains("validatorUrl: null"));
    let build = include_str!("../../../scripts/build.sh");
    assert!(build.contains("swagger-ui-init.js") && build.contains("swagger-ui-bundle.js"), "scripts/build.sh no longer copies Swagger UI");
}

crate::app_test! {
    // Found reading the fuzzing's 400s: a body or query string the
    // extractor refused named the field only inside the message (and the
    // alerts list named a field "query"). Each names it in `error.field`.
    async fn a_refused_body_or_query_string_names_its_field(app) {
        let out = tollbooth_server::cli::create_org(&app.test_db.db, &app.config, "Acme", "owner@example.com", None).await.unwrap();
        let key = out.api_key;
        let gets = [
            ("/api/v1/usage?limit=abc", "limit"),
            ("/api/v1/events?limit=x", "limit"),
            ("/api/v1/alerts?unacknowledged=maybe", "unacknowledged"),
            ("/api/v1/webhooks/deliveries?limit=z", "limit"),
            ("/api/v1/audit-events?before=x", "before"),
            ("/api/v1/audit-events?nope=1", "nope"),
        ];
        for (path, field) in gets {
            let (status, body) = app.call(Method::GET, path, &key, None).await;
            assert_eq!((status, body["error"]["field"].clone()), (StatusCode::BAD_REQUEST, Value::from(field)), "{path}: {body}");
        }
        let posts = [
            (Method::POST, "/api/v1/quota/check", serde_json::json!({"checks": [{"metric": 5, "amount": 1}]}), "checks[0].metric"),
            (Method::POST, "/api/v1/quota/check", serde_json::json!({}), "checks"),
            (Method::POST, "/api/v1/budgets", serde_json::json!({"scope": "organization", "period": "monthly", "amount_usd": 5}), "amount_usd"),
            (Method::PUT, "/api/v1/alert-settings", serde_json::json!({"email_enabled": "yes"}), "email_enabled"),
            (Method::POST, "/api/v1/estimate", serde_json::json!({"model": "m", "input_tokens": -1}), "input_tokens"),
        ];
        for (method, path, sent, field) in posts {
            let (status, body) = app.call(method.clone(), path, &key, Some(sent)).await;
            assert!(status.is_client_error(), "{method} {path}: {status} {body}");
            assert_eq!(body["error"]["field"], Value::from(field), "{method} {path}: {body}");
        }
    }
}
