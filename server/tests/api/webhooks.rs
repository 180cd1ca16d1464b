//! Webhook subscriptions over HTTP (issue 23): event types in the REST API,
//! signed `usage.recorded` batches, and nothing lost or sent twice when the
//! server is killed mid-stream.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use axum::http::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tollbooth::alerts::{usage_hooks, webhooks};
use tollbooth::clock::now_ms;
use tollbooth::db::Engine;
use tollbooth::testing::TestDb;
use tollbooth_server::cli::create_org;

use crate::alerts::{eventually, org, send};
use crate::app_test_with;
use crate::helpers::{allow_private_webhooks, config_for, Server};

/// One request a receiver got: the `Tollbooth-Delivery` and
/// `Tollbooth-Signature` headers and the body.
#[derive(Debug, Clone)]
struct Received {
    delivery: String,
    signature: String,
    body: String,
}

/// A webhook receiver on port 0 that keeps every request and answers 204.
async fn receiver() -> (String, Arc<Mutex<Vec<Received>>>) {
    let got: Arc<Mutex<Vec<Received>>> = Arc::default();
    let keep = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let keep = keep.clone();
            async move {
                let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                keep.lock().unwrap().push(Received { delivery: header("tollbooth-delivery"), signature: header("tollbooth-signature"), body });
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, got)
}

/// The event ids of every usage delivery received, checking on the way that
/// each is signed with `secret`, carries its delivery id in the header and
/// the body, holds at most 1,000 events, and that a delivery id seen twice
/// (a retry) came with the same events. Returns the ids in delivery order.
fn usage_ids(got: &[Received], secret: &str) -> Vec<String> {
    let mut by_delivery: HashMap<String, Vec<String>> = HashMap::new();
    let mut ids = Vec::new();
    for r in got {
        assert!(webhooks::verify(secret, &r.signature, &r.body, now_ms() / 1000, 600), "signature {} over {}", r.signature, r.body);
        let body: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body["type"], json!("usage.recorded"), "{body}");
        assert_eq!(body["id"], json!(r.delivery), "the body's id is the delivery header");
        let events: Vec<String> = body["events"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_string()).collect();
        assert!(!events.is_empty() && events.len() <= 1000, "{} events in one delivery", events.len());
        match by_delivery.get(&r.delivery) {
            Some(before) => assert_eq!(before, &events, "a retried delivery repeats its events"),
            None => {
                by_delivery.insert(r.delivery.clone(), events.clone());
                ids.extend(events);
            }
        }
    }
    ids
}

/// Asserts every id of `expected` arrived exactly once across deliveries.
fn assert_exactly_once(ids: &[String], expected: &HashSet<String>) {
    let mut seen = HashSet::new();
    for id in ids {
        assert!(seen.insert(id.clone()), "event {id} came in two different deliveries");
    }
    let missing: Vec<&String> = expected.difference(&seen).collect();
    assert!(missing.is_empty(), "{} events never arrived, e.g. {:?}", missing.len(), missing.iter().take(3).collect::<Vec<_>>());
    assert_eq!(seen.len(), expected.len(), "only the events ingested arrived");
}

/// Sends `n` events with ids `{prefix}-{i}` in one batch.
async fn ingest(client: &reqwest::Client, base: &str, auth: &str, prefix: &str, n: usize) -> reqwest::Result<reqwest::Response> {
    let events: Vec<Value> = (0..n).map(|i| json!({"id": format!("{prefix}-{i:04}"), "model": "gpt-alert", "input_tokens": 10 + i})).collect();
    client.post(format!("{base}/api/v1/events")).header("Authorization", auth).json(&json!({"events": events})).send().await
}

app_test_with! { allow_private_webhooks;
    async fn alerts_carry_their_threshold_and_observed_figures_beside_the_sentences(app) {
        let (_, auth) = org(&app, "Figures", "owner@figures.example").await;
        let (status, _) = send(&app, Method::POST, "/api/v1/budgets", &auth,
            Some(json!({"name": "Org monthly", "scope": "organization", "period": "monthly", "amount_usd": "1.00"}))).await;
        assert_eq!(status, StatusCode::CREATED);
        crate::alerts::ingest(&app, &auth, 85_000, "web").await; // $0.85: 50% and 80%
        let (status, list) = send(&app, Method::GET, "/api/v1/alerts", &auth, None).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        let eighty = list["alerts"].as_array().unwrap().iter().find(|a| a["threshold_percent"] == json!(80)).expect("the 80% alert");
        assert_eq!(eighty["threshold"], json!("80% of $1.00"), "the sentence stays");
        assert_eq!((eighty["threshold_usd"].clone(), eighty["observed_usd"].clone()), (json!("0.800000000"), json!("0.850000000")), "{eighty}");
        let (_, page) = send(&app, Method::GET, "/api/v1/events?limit=1", &auth, None).await;
        assert_eq!(page["events"][0]["cost_usd"], json!("0.850000000"), "money as the events API writes it");
    }

    async fn webhook_event_types_are_chosen_validated_and_changed_through_the_api(app) {
        let (_, auth) = org(&app, "Subs", "owner@subs.example").await;
        let (status, body) = send(&app, Method::POST, "/api/v1/webhooks", &auth,
            Some(json!({"url": "http://127.0.0.1:9/hook", "event_types": ["usage.recorded", "usage.created"]}))).await;
        assert_eq!((status, body["error"]["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("event_types")), "{body}");
        assert!(body["error"]["message"].as_str().unwrap().contains("usage.created"), "{body}");

        let (status, plain) = send(&app, Method::POST, "/api/v1/webhooks", &auth, Some(json!({"url": "http://127.0.0.1:9/a"}))).await;
        assert_eq!(status, StatusCode::CREATED, "{plain}");
        assert_eq!(plain["endpoint"]["event_types"], json!(["alert.created"]));
        let (status, created) = send(&app, Method::POST, "/api/v1/webhooks", &auth,
            Some(json!({"url": "http://127.0.0.1:9/b", "event_types": ["invoice.finalized", "usage.recorded"]}))).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        assert_eq!(created["endpoint"]["event_types"], json!(["usage.recorded", "invoice.finalized"]));

        let id = plain["endpoint"]["id"].as_str().unwrap();
        let path = format!("/api/v1/webhooks/{id}");
        let (status, changed) = send(&app, Method::PATCH, &path, &auth, Some(json!({"event_types": ["plan.changed", "budget.exhausted"]}))).await;
        assert_eq!(status, StatusCode::OK, "{changed}");
        assert_eq!(changed["event_types"], json!(["budget.exhausted", "plan.changed"]));
        let (status, body) = send(&app, Method::PATCH, &path, &auth, Some(json!({"event_types": []}))).await;
        assert_eq!((status, body["error"]["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("event_types")), "{body}");
        let (status, body) = send(&app, Method::PATCH, &path, &auth, Some(json!({"event_types": ["alert.created", 3]}))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let (_, list) = send(&app, Method::GET, "/api/v1/webhooks", &auth, None).await;
        assert_eq!(list[0]["event_types"], json!(["budget.exhausted", "plan.changed"]), "{list}");

        let (_, other) = org(&app, "Other", "owner@other.example").await;
        let (status, body) = send(&app, Method::PATCH, &path, &other, Some(json!({"event_types": ["alert.created"]}))).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    }

    async fn the_settings_page_subscribes_endpoints_with_checkboxes(app) {
        let org = app.signup(&app.client, "owner@boxes.example", "Boxes").await;
        let html = app.client.get(app.url(&format!("/o/{org}/alerts/settings"))).send().await.unwrap().text().await.unwrap();
        assert!(html.contains("data-testid=\"event-types\"") && html.contains("name=\"event_types[1]\" value=\"usage.recorded\""), "{html}");

        // The form posts the ticked boxes only, by index.
        let resp = app.server_fn(&app.client, "create_webhook", &[("org_id", &org), ("url", "http://127.0.0.1:9/a"),
            ("event_types[0]", "alert.created"), ("event_types[1]", "usage.recorded")]).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let created: Value = resp.json().await.unwrap();
        assert_eq!(created["endpoint"]["event_types"], json!(["alert.created", "usage.recorded"]));
        let id = created["endpoint"]["id"].as_str().unwrap();
        let resp = app.server_fn(&app.client, "set_webhook_event_types", &[("org_id", &org), ("endpoint_id", id), ("event_types[4]", "invoice.finalized")]).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.json::<Value>().await.unwrap()["event_types"], json!(["invoice.finalized"]));
        let resp = app.server_fn(&app.client, "set_webhook_event_types", &[("org_id", &org), ("endpoint_id", id)]).await;
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(resp.text().await.unwrap().contains("event_types: must name at least one"));
        let resp = app.server_fn(&app.client, "list_webhooks", &[("org_id", &org)]).await;
        assert_eq!(resp.json::<Value>().await.unwrap()["endpoints"][0]["event_types"], json!(["invoice.finalized"]));
    }

    async fn recorded_usage_reaches_a_subscribed_endpoint_in_signed_batches(app) {
        let (_, auth) = org(&app, "Usage", "owner@usage.example").await;
        let (url, got) = receiver().await;
        let (status, ep) = send(&app, Method::POST, "/api/v1/webhooks", &auth, Some(json!({"url": url, "event_types": ["usage.recorded"]}))).await;
        assert_eq!(status, StatusCode::CREATED, "{ep}");
        let secret = ep["secret"].as_str().unwrap().to_string();
        let mut expected = HashSet::new();
        for (prefix, n) in [("a", 1000), ("b", 700)] {
            let resp = ingest(&app.client, &app.url(""), &auth, prefix, n).await.unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            expected.extend((0..n).map(|i| format!("{prefix}-{i:04}")));
        }
        let ids = eventually("1,700 events at the endpoint", || {
            let got = got.clone();
            let secret = secret.clone();
            async move { let ids = usage_ids(&got.lock().unwrap(), &secret); (ids.len() >= 1700).then_some(ids) }
        }).await;
        assert_exactly_once(&ids, &expected);
        let (_, log) = send(&app, Method::GET, "/api/v1/webhooks/deliveries", &auth, None).await;
        assert!(log.as_array().unwrap().iter().any(|d| d["subject"].as_str().unwrap().starts_with("usage.recorded: ")), "{log}");

        // The events as GET /api/v1/events shows them.
        let (_, page) = send(&app, Method::GET, "/api/v1/events?limit=1", &auth, None).await;
        let latest = &page["events"][0];
        let bodies: Vec<Value> = got.lock().unwrap().iter().map(|r| serde_json::from_str(&r.body).unwrap()).collect();
        let same = bodies.iter().flat_map(|b| b["events"].as_array().unwrap().clone()).find(|e| e["id"] == latest["id"]).unwrap();
        assert_eq!(&same, latest);
    }
}

/// The binary is killed (SIGKILL) with usage waiting for its webhooks, then
/// started again on the same database: the endpoint gets every event
/// exactly once (a delivery repeated as a retry has the same delivery id).
async fn usage_webhooks_survive_a_kill_mid_stream(engine: Engine) {
    let Some(t) = TestDb::new(engine).await else { return };
    let env = [("TOLLBOOTH_WEBHOOK_ALLOW_PRIVATE", "true"), ("TOLLBOOTH_USAGE_WEBHOOK_SECONDS", "2")];
    let mut first = Server::start_with(&t.url, &env);
    first.wait_ready().await;
    let o = create_org(&t.db, &config_for(&t.url), "Killed", "owner@killed.example", None).await.unwrap();
    let auth = format!("Bearer {}", o.api_key);
    let client = reqwest::Client::new();
    let (url, got) = receiver().await;
    let resp = client.post(format!("{}/api/v1/webhooks", first.base)).header("Authorization", &auth)
        .json(&json!({"url": url, "event_types": ["usage.recorded"]})).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let secret = resp.json::<Value>().await.unwrap()["secret"].as_str().unwrap().to_string();
    let mut expected = HashSet::new();
    let count = |got: &Arc<Mutex<Vec<Received>>>| usage_ids(&got.lock().unwrap(), &secret).len();

    // A stream the first process ingests and delivers.
    for b in 0..8 {
        let prefix = format!("first{b}");
        assert_eq!(ingest(&client, &first.base, &auth, &prefix, 150).await.unwrap().status(), StatusCode::OK);
        expected.extend((0..150).map(|i| format!("{prefix}-{i:04}")));
    }
    eventually("the first stream delivered", || async { (count(&got) == expected.len()).then_some(()) }).await;

    // A burst, and the process is killed at once: the burst's batches have
    // waited less than the 2 s window, so they are still in the database.
    for b in 0..5 {
        let prefix = format!("burst{b}");
        assert_eq!(ingest(&client, &first.base, &auth, &prefix, 200).await.unwrap().status(), StatusCode::OK);
        expected.extend((0..200).map(|i| format!("{prefix}-{i:04}")));
    }
    first.kill();
    let waiting = usage_hooks::waiting(&t.db).await.unwrap();
    assert!(waiting > 0, "the kill came with usage still waiting for its webhooks");
    assert!(count(&got) < expected.len());

    // A new process on the same database sends what waited, and what comes next.
    let second = Server::start_with(&t.url, &env);
    second.wait_ready().await;
    for b in 0..4 {
        let prefix = format!("second{b}");
        assert_eq!(ingest(&client, &second.base, &auth, &prefix, 250).await.unwrap().status(), StatusCode::OK);
        expected.extend((0..250).map(|i| format!("{prefix}-{i:04}")));
    }
    // The burst sent again (the client never knew whether it landed): duplicates, not sent twice.
    assert_eq!(ingest(&client, &second.base, &auth, "burst4", 200).await.unwrap().status(), StatusCode::OK);
    let ids = eventually("every event at the endpoint", || async {
        let ids = usage_ids(&got.lock().unwrap(), &secret);
        (ids.len() >= expected.len()).then_some(ids)
    }).await;
    assert_exactly_once(&ids, &expected);
    assert_eq!(usage_hooks::waiting(&t.db).await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_webhooks_survive_a_kill_mid_stream_sqlite() {
    usage_webhooks_survive_a_kill_mid_stream(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_webhooks_survive_a_kill_mid_stream_postgres() {
    usage_webhooks_survive_a_kill_mid_stream(Engine::Postgres).await;
}
