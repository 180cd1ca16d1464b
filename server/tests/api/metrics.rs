//! `GET /metrics`: off by default, behind its token or on its own listener,
//! and counters that move by what the traffic did.

use reqwest::StatusCode;
use serde_json::json;
use tollbooth::plans::{self, LimitInput};
use tollbooth_server::cli::create_org;

use crate::helpers::{spawn_app, spawn_app_with, TestApp};

const TOKEN: &str = "metrics-token-0123456789";

fn with_token(c: &mut tollbooth_server::config::Config) {
    c.metrics_token = Some(TOKEN.parse().unwrap());
}

async fn scrape(app: &TestApp) -> String {
    let r = app.client.get(app.url("/metrics")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));
    r.text().await.unwrap()
}

/// The value of the sample named exactly `series` (name and labels), 0 when absent.
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

async fn counters_move_by_what_the_traffic_did(engine: tollbooth::db::Engine) {
    let Some(app) = spawn_app_with(engine, with_token).await else { return };
    let db = &app.test_db.db;
    let acme = create_org(db, &app.config, "Acme", "owner@acme.test", None).await.unwrap();
    let root = tollbooth::accounts::create_admin(db, "root@example.com", Some("correct horse battery")).await.unwrap().user;
    let input = LimitInput { metric: "requests".into(), period: "day".into(), value: "2".into(), hard: true, overage_usd: String::new() };
    plans::set_override(db, &root, &acme.org_id, &input, Default::default()).await.unwrap();
    let mut p = tollbooth::pricing::ModelPrice::new("gpt-test", "openai");
    p.input = Some(tollbooth::pricing::UnitPrice::parse("0.0000025").unwrap());
    let mut book = tollbooth::pricing::PriceBook::default();
    book.insert(p);
    tollbooth::pricing::store::import(db, &book, "test", Some(0)).await.unwrap();
    let before = scrape(&app).await;
    assert_eq!(value(&before, "tollbooth_events_total{outcome=\"accepted\"}"), 0.0);

    // Reservations (before the events, which count as requests): one granted, one refused by the requests/day limit.
    let reserve = || {
        app.client.post(app.url("/api/v1/reservations")).bearer_auth(&acme.api_key).json(&json!({"checks": [{"metric": "requests", "amount": 2}]})).send()
    };
    assert_eq!(reserve().await.unwrap().status(), StatusCode::CREATED);
    assert_eq!(reserve().await.unwrap().status(), StatusCode::TOO_MANY_REQUESTS);

    // Events: two stored (one of a model without a price), one rejected, one repeated.
    let events = json!({"events": [
        {"id": "m1", "model": "gpt-test", "input_tokens": 10, "output_tokens": 5},
        {"id": "m2", "model": "no-such-model-anywhere", "input_tokens": 10},
        {"id": "m3", "model": "gpt-test", "input_tokens": -1},
    ]});
    let post = |body: serde_json::Value| app.client.post(app.url("/api/v1/events")).bearer_auth(&acme.api_key).json(&body).send();
    assert_eq!(post(events).await.unwrap().status(), StatusCode::MULTI_STATUS);
    assert_eq!(post(json!({"id": "m1", "model": "gpt-test", "input_tokens": 10, "output_tokens": 5})).await.unwrap().status(), StatusCode::OK);
    let after = scrape(&app).await;
    assert_eq!(value(&after, "tollbooth_events_total{outcome=\"accepted\"}"), 2.0, "{after}");
    assert_eq!(value(&after, "tollbooth_events_total{outcome=\"unpriced\"}"), 1.0);
    assert_eq!(value(&after, "tollbooth_events_total{outcome=\"rejected\"}"), 1.0);
    assert_eq!(value(&after, "tollbooth_events_total{outcome=\"duplicate\"}"), 1.0);
    assert_eq!(value(&after, "tollbooth_reservations_total{outcome=\"granted\",limit=\"\"}"), 1.0);
    assert_eq!(value(&after, "tollbooth_reservations_total{outcome=\"refused\",limit=\"requests/day\"}"), 1.0);
    assert_eq!(value(&after, "tollbooth_http_requests_total{method=\"POST\",route=\"/api/v1/events\",status=\"207\"}"), 1.0);
    assert_eq!(value(&after, "tollbooth_http_requests_total{method=\"POST\",route=\"/api/v1/reservations\",status=\"429\"}"), 1.0);
    assert_eq!(value(&after, "tollbooth_http_request_duration_seconds_count{method=\"POST\",route=\"/api/v1/reservations\"}"), 2.0);
    // The route template, never the raw path.
    let _ = app.client.get(app.url("/api/v1/budgets/0190a0a0-0000-7000-8000-000000000000/status")).bearer_auth(&acme.api_key).send().await.unwrap();
    let after = scrape(&app).await;
    assert_eq!(value(&after, "tollbooth_http_requests_total{method=\"GET\",route=\"/api/v1/budgets/{id}/status\",status=\"404\"}"), 1.0, "{after}");
    assert!(!after.contains("0190a0a0-0000"), "ids never become labels");
    // State read at scrape time.
    assert!(value(&after, "tollbooth_db_pool_connections{pool=\"writer\"}") >= 1.0, "{after}");
    assert!(after.contains("tollbooth_outbox_backlog{kind=\"mail\"}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_move_by_what_the_traffic_did_sqlite() {
    counters_move_by_what_the_traffic_did(tollbooth::db::Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_move_by_what_the_traffic_did_postgres() {
    counters_move_by_what_the_traffic_did(tollbooth::db::Engine::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_off_by_default_and_need_their_token() {
    let app = spawn_app(tollbooth::db::Engine::Sqlite).await.unwrap();
    assert_eq!(app.client.get(app.url("/metrics")).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    let app = spawn_app_with(tollbooth::db::Engine::Sqlite, with_token).await.unwrap();
    assert_eq!(app.client.get(app.url("/metrics")).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let r = app.client.get(app.url("/metrics")).bearer_auth("wrong").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("TOLLBOOTH_METRICS_TOKEN"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_listener_serves_without_a_token() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let app = spawn_app_with(tollbooth::db::Engine::Sqlite, |c| c.metrics_addr = Some(addr)).await.unwrap();
    let _ = app.client.get(app.url("/healthz")).send().await.unwrap();
    let mut text = String::new();
    for _ in 0..50 {
        if let Ok(r) = app.client.get(format!("http://{addr}/metrics")).send().await {
            text = r.text().await.unwrap();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(text.contains("tollbooth_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 1"), "{text}");
    // Not on the main address without a token.
    assert_eq!(app.client.get(app.url("/metrics")).send().await.unwrap().status(), StatusCode::NOT_FOUND);
}
