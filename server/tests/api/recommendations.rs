use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tollbooth::pricing::{store as prices, Mode, ModelPrice, PriceBook, UnitPrice};
use tollbooth_server::cli::create_org;

use crate::app_test;
use crate::helpers::TestApp;

async fn send(app: &TestApp, method: Method, path: &str, auth: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut req = app.client.request(method, app.url(path)).header("Authorization", auth);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn chat(name: &str, input: &str, output: &str) -> ModelPrice {
    let mut m = ModelPrice::new(name, "acme-http");
    m.mode = Some(Mode::Chat);
    m.input = Some(UnitPrice::parse(input).unwrap());
    m.output = Some(UnitPrice::parse(output).unwrap());
    m.capabilities.insert("supports_function_calling".into(), true);
    m
}

/// The dismiss path of a key; model names may hold `/`, so it is URL-encoded.
fn dismiss_path(key: &str) -> String {
    format!("/api/v1/recommendations/{}/dismiss", key.replace('%', "%25").replace('/', "%2F"))
}

app_test! {
    async fn recommendations_are_listed_and_dismissed_per_organization(app) {
        let mut book = PriceBook::default();
        book.insert(chat("acme/big", "0.00001", "0.00003"));
        book.insert(chat("acme/small", "0.000001", "0.000003"));
        prices::import(&app.test_db.db, &book, "test", Some(0)).await.unwrap();
        let acme = create_org(&app.test_db.db, &app.config, "Acme", "owner@example.com", None).await.unwrap();
        let other = create_org(&app.test_db.db, &app.config, "Other", "other@example.com", None).await.unwrap();
        let auth = format!("Bearer {}", acme.api_key);
        let other_auth = format!("Bearer {}", other.api_key);

        let (status, body) = send(&app, Method::GET, "/api/v1/recommendations", &auth, None).await;
        assert_eq!((status, body), (StatusCode::OK, json!({"recommendations": []})), "nothing used, nothing to recommend");

        // 2 calls of 1,000 input and 100 output tokens: $0.026 on big, $0.0026 on small.
        let events = json!({"events": [
            {"model": "acme/big", "input_tokens": 1000, "output_tokens": 100},
            {"model": "acme/big", "input_tokens": 1000, "output_tokens": 100}
        ]});
        let (status, _) = send(&app, Method::POST, "/api/v1/events", &auth, Some(events)).await;
        assert_eq!(status, StatusCode::OK);
        let (status, body) = send(&app, Method::GET, "/api/v1/recommendations", &auth, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let recs = body["recommendations"].as_array().unwrap();
        assert_eq!(recs.len(), 1, "{body}");
        let r = &recs[0];
        let key = r["key"].as_str().unwrap().to_string();
        assert_eq!(key, "cheaper_model:acme/big:acme/small");
        assert_eq!((r["kind"].clone(), r["model"].clone(), r["alternative_model"].clone()), (json!("cheaper_model"), json!("acme/big"), json!("acme/small")));
        assert_eq!(r["monthly_saving_usd"], json!("0.0234"));
        assert_eq!(r["evidence"]["calls"], json!(2));
        assert!(r["detail"].as_str().unwrap().contains("30 days"));

        // Another organization neither sees it nor can dismiss it for Acme.
        let (status, body) = send(&app, Method::GET, "/api/v1/recommendations", &other_auth, None).await;
        assert_eq!((status, body), (StatusCode::OK, json!({"recommendations": []})));
        let (status, _) = send(&app, Method::POST, &dismiss_path(&key), &other_auth, None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (_, body) = send(&app, Method::GET, "/api/v1/recommendations", &auth, None).await;
        assert_eq!(body["recommendations"].as_array().unwrap().len(), 1, "Other's dismissal is Other's own");

        // Bad keys and bad credentials get JSON errors.
        let (status, body) = send(&app, Method::POST, &dismiss_path("nonsense:acme/big"), &auth, None).await;
        assert_eq!((status, body["error"]["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("key")));
        let long = format!("cheaper_model:{}", "m".repeat(300));
        let (status, body) = send(&app, Method::POST, &dismiss_path(&long), &auth, None).await;
        assert_eq!((status, body["error"]["code"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("invalid")));
        let bad = format!("Bearer tb_live_{}", "0".repeat(48));
        for path in ["/api/v1/recommendations".to_string(), dismiss_path(&key)] {
            let method = if path.ends_with("/dismiss") { Method::POST } else { Method::GET };
            let (status, body) = send(&app, method, &path, &bad, None).await;
            assert_eq!((status, body["error"]["code"].clone()), (StatusCode::UNAUTHORIZED, json!("unauthorized")), "{path}");
        }

        // Dismissing is idempotent and hides it.
        for _ in 0..2 {
            let resp = app.client.post(app.url(&dismiss_path(&key))).header("Authorization", &auth).send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::NO_CONTENT);
            assert!(resp.bytes().await.unwrap().is_empty());
        }
        let (_, body) = send(&app, Method::GET, "/api/v1/recommendations", &auth, None).await;
        assert_eq!(body, json!({"recommendations": []}));
    }

    async fn the_recommendations_page_says_when_there_is_nothing_yet(app) {
        let org = app.signup(&app.client, "a@example.com", "A").await;
        let resp = app.client.get(app.url(&format!("/o/{org}/recommendations"))).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let html = resp.text().await.unwrap();
        assert!(html.contains("Nothing to recommend yet."), "{html}");
    }
}
