//! Billing over HTTP: Stripe's signed webhooks and the billing REST API.

use reqwest::StatusCode;
use serde_json::{json, Value};
use tollbooth::clock::now_ms;
use tollbooth::db::Engine;
use tollbooth::signature;
use tollbooth_server::cli::create_org;

use crate::helpers::{spawn_app_with, TestApp};

const SECRET: &str = "whsec_test_secret";

async fn post_event(app: &TestApp, body: &str, sig: Option<String>) -> (StatusCode, Value) {
    let mut req = app.client.post(app.url("/webhooks/stripe")).header("content-type", "application/json").body(body.to_string());
    if let Some(s) = sig {
        req = req.header("Stripe-Signature", s);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn pack_event(id: &str, org: &str) -> String {
    json!({"id": id, "object": "event", "type": "checkout.session.completed", "created": now_ms() / 1000,
           "data": {"object": {"id": format!("cs_{id}"), "object": "checkout.session", "mode": "payment",
                               "client_reference_id": org, "customer": "cus_x", "payment_status": "paid",
                               "amount_total": 1000, "metadata": {"pack": "credits-10", "org_id": org}}}})
    .to_string()
}

async fn balance(app: &TestApp, auth: &str) -> String {
    let resp = app.client.get(app.url("/api/v1/credits")).header("Authorization", auth).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json::<Value>().await.unwrap()["balance_usd"].as_str().unwrap().to_string()
}

async fn webhooks_need_a_good_recent_signature_and_apply_once(engine: Engine) {
    let Some(app) = spawn_app_with(engine, |c| c.stripe_webhook_secret = Some(SECRET.parse().unwrap())).await else { return };
    let o = create_org(&app.test_db.db, &app.config, "Acme", "owner@acme.test", None).await.unwrap();
    let auth = format!("Bearer {}", o.api_key);
    let body = pack_event("evt_1", &o.org_id);
    let now = now_ms() / 1000;

    // Refused: no header, a wrong secret, a stale timestamp, a changed body.
    let (status, err) = post_event(&app, &body, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["error"]["code"], "bad_signature");
    let (status, _) = post_event(&app, &body, Some(signature::header("whsec_wrong", now, &body))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, err) = post_event(&app, &body, Some(signature::header(SECRET, now - 301, &body))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(err["error"]["message"].as_str().unwrap().contains("timestamp"), "{err}");
    let tampered = body.replace("credits-10", "credits-200");
    let (status, _) = post_event(&app, &tampered, Some(signature::header(SECRET, now, &body))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(balance(&app, &auth).await, "0.00", "nothing refused was applied");

    // Good: applied once; the replay is acknowledged and applies nothing.
    let sig = signature::header(SECRET, now, &body);
    let (status, ok) = post_event(&app, &body, Some(sig.clone())).await;
    assert_eq!((status, ok["outcome"].as_str()), (StatusCode::OK, Some("applied")), "{ok}");
    let (status, replay) = post_event(&app, &body, Some(sig)).await;
    assert_eq!((status, replay["outcome"].as_str()), (StatusCode::OK, Some("replayed")));
    assert_eq!(balance(&app, &auth).await, "10.00");

    // Signed but not an event: 422 naming the field.
    let junk = r#"{"hello":"world"}"#;
    let (status, err) = post_event(&app, junk, Some(signature::header(SECRET, now, junk))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(err["error"]["field"], "id");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_need_a_good_recent_signature_and_apply_once_sqlite() {
    webhooks_need_a_good_recent_signature_and_apply_once(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_need_a_good_recent_signature_and_apply_once_postgres() {
    webhooks_need_a_good_recent_signature_and_apply_once(Engine::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_webhook_secret_the_endpoint_is_closed_and_billing_says_payments_are_off() {
    let app = spawn_app_with(Engine::Sqlite, |_| {}).await.unwrap();
    let (status, err) = post_event(&app, "{}", Some("t=1,v1=00".into())).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(err["error"]["code"], "webhooks_not_configured");
    let o = create_org(&app.test_db.db, &app.config, "Acme", "owner@acme.test", None).await.unwrap();
    let resp = app.client.get(app.url("/api/v1/billing")).header("Authorization", format!("Bearer {}", o.api_key)).send().await.unwrap();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["payments_configured"], false);
    assert_eq!(body["plan_code"], "starter");
    assert_eq!(body["preview"]["total_cents"], 0);
}
