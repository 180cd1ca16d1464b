use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tollbooth::pricing::{store as prices, ModelPrice, PriceBook, UnitPrice};
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

app_test! {
    async fn budgets_are_created_listed_measured_updated_and_deleted(app) {
        let mut p = ModelPrice::new("gpt-budget", "openai");
        p.input = Some(UnitPrice::parse("0.00001").unwrap());
        let mut book = PriceBook::default();
        book.insert(p);
        prices::import(&app.test_db.db, &book, "test", Some(0)).await.unwrap();
        let acme = create_org(&app.test_db.db, &app.config, "Acme", "owner@example.com", None).await.unwrap();
        let auth = format!("Bearer {}", acme.api_key);

        let (status, b) = send(&app, Method::POST, "/api/v1/budgets", &auth,
            Some(json!({"scope": "project", "scope_id": "bot", "period": "monthly", "amount_usd": "1.00", "action": "pause"}))).await;
        assert_eq!(status, StatusCode::CREATED, "{b}");
        assert_eq!((b["thresholds"].clone(), b["amount_usd"].clone(), b["action"].clone()), (json!([50, 80, 100]), json!("1.00"), json!("pause")));
        let id = b["id"].as_str().unwrap().to_string();
        let (status, org_budget) = send(&app, Method::POST, "/api/v1/budgets", &auth,
            Some(json!({"scope": "organization", "period": "weekly", "amount_usd": "10", "thresholds": [90, 25]}))).await;
        assert_eq!((status, org_budget["thresholds"].clone()), (StatusCode::CREATED, json!([25, 90])));

        // $0.80 on the project, $0.10 elsewhere: 80% of the project budget.
        let events = json!({"events": [
            {"model": "gpt-budget", "input_tokens": 80000, "project_id": "bot"},
            {"model": "gpt-budget", "input_tokens": 10000, "project_id": "other"}
        ]});
        let (status, _) = send(&app, Method::POST, "/api/v1/events", &auth, Some(events)).await;
        assert_eq!(status, StatusCode::OK);
        let (status, s) = send(&app, Method::GET, &format!("/api/v1/budgets/{id}/status"), &auth, None).await;
        assert_eq!(status, StatusCode::OK, "{s}");
        assert_eq!((s["spent_usd"].clone(), s["remaining_usd"].clone(), s["percent"].clone()), (json!("0.80"), json!("0.20"), json!("80.00")));
        assert!(s["period_start"].as_str().unwrap().ends_with("-01T00:00:00Z"));
        let forecast: f64 = s["forecast_usd"].as_str().unwrap().parse().unwrap();
        assert!(forecast >= 0.80, "the forecast is at least what is spent: {s}");
        let org_id = org_budget["id"].as_str().unwrap();
        let (_, s) = send(&app, Method::GET, &format!("/api/v1/budgets/{org_id}/status"), &auth, None).await;
        assert_eq!(s["spent_usd"], json!("0.90"));

        let (status, list) = send(&app, Method::GET, "/api/v1/budgets", &auth, None).await;
        assert_eq!((status, list.as_array().unwrap().len()), (StatusCode::OK, 2));
        let (status, updated) = send(&app, Method::PUT, &format!("/api/v1/budgets/{id}"), &auth,
            Some(json!({"name": "Bot", "scope": "project", "scope_id": "bot", "period": "daily", "amount_usd": "0.40"}))).await;
        assert_eq!((status, updated["name"].clone(), updated["period"].clone()), (StatusCode::OK, json!("Bot"), json!("daily")));
        let (_, s) = send(&app, Method::GET, &format!("/api/v1/budgets/{id}/status"), &auth, None).await;
        assert_eq!((s["percent"].clone(), s["remaining_usd"].clone(), s["on_track"].clone()), (json!("200.00"), json!("0.00"), json!(false)));

        // Bad input names the field; another organization sees nothing.
        let (status, bad) = send(&app, Method::POST, "/api/v1/budgets", &auth,
            Some(json!({"scope": "project", "period": "monthly", "amount_usd": "5"}))).await;
        assert_eq!((status, bad["error"]["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("scope_id")));
        let other = create_org(&app.test_db.db, &app.config, "Other", "other@example.com", None).await.unwrap();
        let other_auth = format!("Bearer {}", other.api_key);
        let (status, _) = send(&app, Method::GET, &format!("/api/v1/budgets/{id}/status"), &other_auth, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = send(&app, Method::DELETE, &format!("/api/v1/budgets/{id}"), &other_auth, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        let (status, _) = send(&app, Method::DELETE, &format!("/api/v1/budgets/{id}"), &auth, None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = send(&app, Method::GET, &format!("/api/v1/budgets/{id}/status"), &auth, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}
