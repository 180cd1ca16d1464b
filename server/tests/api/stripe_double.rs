//! The Stripe client (`tollbooth::billing::stripe`) against the local
//! Stripe double, for real: HTTP, form encoding, async-stripe's decoding of
//! the double's objects, hosted pages and signed webhooks checked by a small
//! receiver standing in for the app's `/webhooks/stripe`.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{json, Value};
use tollbooth::billing::stripe::{CheckoutMode, CheckoutRequest, InvoiceItemRequest, Stripe};
use tollbooth::Error;
use tollbooth_server::stripe_double::{self, DoubleConfig, RunningDouble};

const KEY: &str = "sk_test_double_0123456789abcdef";
const WHSEC: &str = "whsec_test_double";
const SUCCESS: &str = "http://app.test/billing/success?session={CHECKOUT_SESSION_ID}";

/// Stands in for the app's webhook endpoint: verifies `Stripe-Signature`
/// and keeps the events it accepted.
struct Receiver {
    url: String,
    accepted: Arc<Mutex<Vec<Value>>>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Receiver {
    async fn spawn() -> Self {
        let accepted = Arc::new(Mutex::new(Vec::new()));
        let app = axum::Router::new().route("/webhooks/stripe", post(receive)).with_state(Arc::clone(&accepted));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/webhooks/stripe", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Receiver { url, accepted, _stop: stop }
    }

    fn types(&self) -> Vec<String> {
        self.accepted.lock().unwrap().iter().map(|e| e["type"].as_str().unwrap().to_string()).collect()
    }

    fn last(&self, event_type: &str) -> Value {
        self.accepted.lock().unwrap().iter().rev().find(|e| e["type"] == event_type).cloned().unwrap_or(Value::Null)
    }
}

async fn receive(State(accepted): State<Arc<Mutex<Vec<Value>>>>, headers: HeaderMap, body: String) -> StatusCode {
    let Some(sig) = headers.get("stripe-signature").and_then(|v| v.to_str().ok()) else { return StatusCode::BAD_REQUEST };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    if tollbooth::signature::verify(WHSEC, sig, &body, now, 300).is_err() {
        return StatusCode::BAD_REQUEST;
    }
    accepted.lock().unwrap().push(serde_json::from_str(&body).unwrap());
    StatusCode::OK
}

struct World {
    double: RunningDouble,
    receiver: Receiver,
    stripe: Stripe,
    http: reqwest::Client,
}

async fn world() -> World {
    let receiver = Receiver::spawn().await;
    let double = stripe_double::spawn(DoubleConfig {
        secret_key: KEY.into(),
        webhook_url: Some(receiver.url.clone()),
        webhook_secret: WHSEC.into(),
        public_url: None,
    })
    .await
    .unwrap();
    double.set_price("price_pro", 4900);
    double.set_price("price_team", 9900);
    double.set_price("price_credits", 2500);
    let stripe = Stripe::new(KEY, &double.base_url()).unwrap();
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    World { double, receiver, stripe, http }
}

fn checkout(mode: CheckoutMode, customer_id: &str, price_id: &str) -> CheckoutRequest {
    CheckoutRequest {
        mode,
        customer_id: customer_id.into(),
        client_reference_id: "org_1".into(),
        price_id: price_id.into(),
        quantity: 1,
        success_url: SUCCESS.into(),
        cancel_url: "http://app.test/billing".into(),
        metadata: vec![("org_id".into(), "org_1".into()), ("plan".into(), "pro".into())],
        billing_cycle_anchor: None,
    }
}

/// Customer, Checkout for `price_pro`, Pay: returns (customer id, subscription id).
async fn paid_subscription(w: &World) -> (String, String) {
    let customer = w.stripe.create_customer("org_1", "Acme", "owner@example.com").await.unwrap();
    let session = w.stripe.create_checkout_session(&checkout(CheckoutMode::Subscription, &customer, "price_pro")).await.unwrap();
    let paid = w.http.post(format!("{}/pay", session.url)).send().await.unwrap();
    assert_eq!(paid.status(), StatusCode::SEE_OTHER);
    let sub = w.receiver.last("customer.subscription.created")["data"]["object"]["id"].as_str().unwrap().to_string();
    (customer, sub)
}

fn refusal(e: Error) -> String {
    match e {
        Error::Unavailable(m) => m,
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn a_customer_is_created_with_the_org_id_in_its_metadata() {
    let w = world().await;
    let id = w.stripe.create_customer("org_1", "Acme", "owner@example.com").await.unwrap();
    assert!(id.starts_with("cus_"), "{id}");
    let customers = w.double.customers();
    assert_eq!(customers.len(), 1);
    assert_eq!(customers[0]["id"], id.as_str());
    assert_eq!(customers[0]["metadata"]["org_id"], "org_1");
    assert_eq!(customers[0]["email"], "owner@example.com");
    let req = &w.double.requests()[0];
    assert_eq!((req.method.as_str(), req.path.as_str()), ("POST", "/v1/customers"));
    assert!(req.params.contains(&("metadata[org_id]".into(), "org_1".into())), "{:?}", req.params);
}

#[tokio::test]
async fn paying_a_subscription_checkout_sends_created_completed_paid_in_order_then_redirects_to_success() {
    let w = world().await;
    let customer = w.stripe.create_customer("org_1", "Acme", "owner@example.com").await.unwrap();
    let session = w.stripe.create_checkout_session(&checkout(CheckoutMode::Subscription, &customer, "price_pro")).await.unwrap();
    assert!(session.id.starts_with("cs_test_"), "{}", session.id);
    assert_eq!(session.url, format!("{}/checkout/{}", w.double.public_url(), session.id));

    // What went over the wire is Stripe's bracket notation.
    let sent = w.double.requests().into_iter().find(|r| r.path == "/v1/checkout/sessions").unwrap();
    for (k, v) in [
        ("mode", "subscription"),
        ("customer", customer.as_str()),
        ("client_reference_id", "org_1"),
        ("line_items[0][price]", "price_pro"),
        ("line_items[0][quantity]", "1"),
        ("success_url", SUCCESS),
        ("metadata[plan]", "pro"),
    ] {
        assert!(sent.params.contains(&(k.to_string(), v.to_string())), "{k}={v} not in {:?}", sent.params);
    }

    let page = w.http.get(&session.url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains(">Pay</button>"), "{html}");
    assert!(html.contains("price_pro") && html.contains("subscription") && html.contains("49.00"), "{html}");

    let paid = w.http.post(format!("{}/pay", session.url)).send().await.unwrap();
    assert_eq!(paid.status(), StatusCode::SEE_OTHER);
    let location = paid.headers()["location"].to_str().unwrap();
    assert_eq!(location, format!("http://app.test/billing/success?session={}", session.id));

    // Delivered, verified and accepted before the redirect.
    assert_eq!(w.receiver.types(), ["customer.subscription.created", "checkout.session.completed", "invoice.paid"]);
    assert!(w.double.events().iter().all(|e| e.deliveries.iter().map(|d| d.status) .eq([Some(200)])), "{:?}", w.double.events());

    let sub = w.receiver.last("customer.subscription.created")["data"]["object"].clone();
    let completed = w.receiver.last("checkout.session.completed");
    assert_eq!(completed["api_version"], stripe_double::objects::API_VERSION);
    let completed = &completed["data"]["object"];
    assert_eq!(completed["status"], "complete");
    assert_eq!(completed["payment_status"], "paid");
    assert_eq!(completed["subscription"], sub["id"]);
    assert_eq!(completed["client_reference_id"], "org_1");
    let invoice = &w.receiver.last("invoice.paid")["data"]["object"];
    assert_eq!(invoice["status"], "paid");
    assert_eq!(invoice["billing_reason"], "subscription_create");
    assert_eq!(invoice["amount_paid"], 4900);
    assert_eq!(invoice["customer"], customer.as_str());
    assert_eq!(invoice["subscription"], sub["id"]);
    assert_eq!(invoice["parent"]["subscription_details"]["subscription"], sub["id"]);

    let state = w.stripe.retrieve_subscription(sub["id"].as_str().unwrap()).await.unwrap();
    assert_eq!(state.status, "active");
    assert_eq!(state.customer_id, customer);
    assert_eq!(state.price_id.as_deref(), Some("price_pro"));
    assert!(!state.cancel_at_period_end);
    let days = (state.current_period_end - state.current_period_start) / 86_400;
    assert!((28..=31).contains(&days), "a monthly period, got {days} days");

    // The session now reads as complete through the API as well.
    let got: Value = w
        .http
        .get(format!("{}/v1/checkout/sessions/{}", w.double.base_url(), session.id))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["status"], "complete");
    assert_eq!(got["subscription"], sub["id"]);
}

#[tokio::test]
async fn paying_a_payment_checkout_sends_only_checkout_session_completed_with_amount_and_metadata() {
    let w = world().await;
    let customer = w.stripe.create_customer("org_1", "Acme", "owner@example.com").await.unwrap();
    let session = w.stripe.create_checkout_session(&checkout(CheckoutMode::Payment, &customer, "price_credits")).await.unwrap();
    let paid = w.http.post(format!("{}/pay", session.url)).send().await.unwrap();
    assert_eq!(paid.status(), StatusCode::SEE_OTHER);
    assert_eq!(w.receiver.types(), ["checkout.session.completed"]);
    let completed = &w.receiver.last("checkout.session.completed")["data"]["object"];
    assert_eq!(completed["mode"], "payment");
    assert_eq!(completed["payment_status"], "paid");
    assert_eq!(completed["amount_total"], 2500);
    assert_eq!(completed["metadata"], json!({"org_id": "org_1", "plan": "pro"}));
    assert!(w.double.subscriptions().is_empty());

    // A session is paid once.
    let again = w.http.post(format!("{}/pay", session.url)).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn a_subscription_changes_price_without_proration_is_set_to_cancel_at_period_end_and_then_cancelled() {
    let w = world().await;
    let (_, sub) = paid_subscription(&w).await;
    let before = w.stripe.retrieve_subscription(&sub).await.unwrap();

    let changed = w.stripe.change_subscription_price(&sub, "price_team").await.unwrap();
    assert_eq!(changed.price_id.as_deref(), Some("price_team"));
    assert_eq!((changed.current_period_start, changed.current_period_end), (before.current_period_start, before.current_period_end));
    let update = w.double.requests().into_iter().rfind(|r| r.method == "POST" && r.path == format!("/v1/subscriptions/{sub}")).unwrap();
    assert!(update.params.contains(&("proration_behavior".into(), "none".into())), "{:?}", update.params);
    assert!(update.params.contains(&("items[0][price]".into(), "price_team".into())));
    assert!(update.params.iter().any(|(k, v)| k == "items[0][id]" && v.starts_with("si_")));
    assert_eq!(w.double.subscriptions()[0]["items"]["data"].as_array().unwrap().len(), 1, "the item is swapped, not added");

    assert!(w.stripe.set_cancel_at_period_end(&sub, true).await.unwrap().cancel_at_period_end);
    assert!(!w.stripe.set_cancel_at_period_end(&sub, false).await.unwrap().cancel_at_period_end);
    let cancelled = w.stripe.cancel_subscription(&sub).await.unwrap();
    assert_eq!(cancelled.status, "canceled");

    // API-caused events go out after the call answers; wait for all seven.
    let events = w.double.wait_for_events(7).await.unwrap();
    assert!(events.iter().all(|e| e.deliveries.iter().all(|d| d.status == Some(200))));
    assert_eq!(
        w.receiver.types()[3..],
        ["customer.subscription.updated", "customer.subscription.updated", "customer.subscription.updated", "customer.subscription.deleted"]
    );
    let price_change = &events[3].event["data"];
    assert_eq!(price_change["object"]["items"]["data"][0]["price"]["id"], "price_team");
    assert_eq!(price_change["previous_attributes"]["items"]["data"][0]["price"]["id"], "price_pro");
    assert_eq!(events[4].event["data"]["previous_attributes"]["cancel_at_period_end"], false);
    assert_eq!(w.receiver.last("customer.subscription.deleted")["data"]["object"]["status"], "canceled");
}

#[tokio::test]
async fn an_invoice_item_sent_twice_with_one_idempotency_key_is_created_once() {
    let w = world().await;
    let (customer, sub) = paid_subscription(&w).await;
    let item = InvoiceItemRequest {
        customer_id: customer.clone(),
        subscription_id: Some(sub.clone()),
        amount_cents: -1234,
        description: "Proration credit".into(),
        idempotency_key: "proration-org_1-2026-11".into(),
        metadata: vec![("org_id".into(), "org_1".into())],
    };
    let first = w.stripe.create_invoice_item(&item).await.unwrap();
    let second = w.stripe.create_invoice_item(&item).await.unwrap();
    assert!(first.starts_with("ii_"), "{first}");
    assert_eq!(first, second);
    let items = w.double.invoice_items();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["amount"], -1234);
    assert_eq!(items[0]["currency"], "usd");
    assert_eq!(items[0]["parent"]["subscription_details"]["subscription"], sub.as_str());
    let keys: Vec<_> = w.double.requests().into_iter().filter(|r| r.path == "/v1/invoiceitems").map(|r| r.idempotency_key).collect();
    assert_eq!(keys, [Some(item.idempotency_key.clone()), Some(item.idempotency_key.clone())]);

    // Another key is another item; the same key with other parameters is refused.
    let other = w.stripe.create_invoice_item(&InvoiceItemRequest { idempotency_key: "overage-org_1-2026-11".into(), amount_cents: 500, ..item.clone() }).await.unwrap();
    assert_ne!(other, first);
    let reused = w.stripe.create_invoice_item(&InvoiceItemRequest { amount_cents: 1, ..item }).await.unwrap_err();
    assert!(refusal(reused).starts_with("Stripe refused: Keys for idempotent requests"));
    assert_eq!(w.double.invoice_items().len(), 2);
}

#[tokio::test]
async fn a_checkout_without_success_url_is_refused_naming_the_param() {
    let w = world().await;
    let customer = w.stripe.create_customer("org_1", "Acme", "owner@example.com").await.unwrap();
    let resp = w
        .http
        .post(format!("{}/v1/checkout/sessions", w.double.base_url()))
        .bearer_auth(KEY)
        .form(&[("mode", "subscription"), ("customer", &customer), ("line_items[0][price]", "price_pro"), ("line_items[0][quantity]", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert_eq!(body["error"]["param"], "success_url");
    assert_eq!(body["error"]["message"], "Missing required param: success_url.");

    // Through the client, Stripe's message comes back as the refusal.
    let mut req = checkout(CheckoutMode::Subscription, "cus_unknown", "price_pro");
    let e = w.stripe.create_checkout_session(&req).await.unwrap_err();
    assert_eq!(refusal(e), "Stripe refused: No such customer: 'cus_unknown'");
    req.customer_id = customer;
    req.quantity = 2;
    assert!(w.stripe.create_checkout_session(&req).await.is_ok());
}

#[tokio::test]
async fn a_wrong_api_key_is_refused_with_401_and_the_key_is_never_shown() {
    let w = world().await;
    let resp = w.http.post(format!("{}/v1/customers", w.double.base_url())).bearer_auth("sk_test_wrong_key_999999").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.starts_with("Invalid API Key provided: sk_test_"), "{message}");
    assert!(!message.contains("wrong_key"), "{message}");
    let no_key = w.http.get(format!("{}/v1/subscriptions/sub_x", w.double.base_url())).send().await.unwrap();
    assert_eq!(no_key.status(), StatusCode::UNAUTHORIZED);

    let wrong = Stripe::new("sk_test_wrong_key_999999", &w.double.base_url()).unwrap();
    let e = refusal(wrong.create_customer("org_1", "Acme", "owner@example.com").await.unwrap_err());
    assert!(e.starts_with("Stripe refused: Invalid API Key provided"), "{e}");
    assert!(!e.contains("sk_test_wrong_key_999999"), "{e}");
    assert!(w.double.customers().is_empty() && w.double.requests().is_empty());
}

#[tokio::test]
async fn unknown_ids_are_404_resource_missing() {
    let w = world().await;
    let resp = w.http.get(format!("{}/v1/subscriptions/sub_nope", w.double.base_url())).bearer_auth(KEY).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "resource_missing");
    assert_eq!(body["error"]["message"], "No such subscription: 'sub_nope'");
    let e = w.stripe.cancel_subscription("sub_nope").await.unwrap_err();
    assert_eq!(refusal(e), "Stripe refused: No such subscription: 'sub_nope'");
    let e = w.stripe.create_portal_session("cus_nope", "http://app.test/billing").await.unwrap_err();
    assert_eq!(refusal(e), "Stripe refused: No such customer: 'cus_nope'");
}

#[tokio::test]
async fn the_portal_cancels_at_period_end_and_returns() {
    let w = world().await;
    let (customer, sub) = paid_subscription(&w).await;
    let url = w.stripe.create_portal_session(&customer, "http://app.test/billing").await.unwrap();
    assert!(url.starts_with(&format!("{}/portal/bps_", w.double.public_url())), "{url}");
    let html = w.http.get(&url).send().await.unwrap().text().await.unwrap();
    assert!(html.contains(&sub) && html.contains("price_pro") && html.contains(">Cancel subscription</button>"), "{html}");
    assert!(html.contains("href=\"http://app.test/billing\""), "{html}");

    let resp = w.http.post(format!("{url}/cancel")).form(&[("subscription", sub.as_str())]).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()["location"], "http://app.test/billing");
    let updated = w.receiver.last("customer.subscription.updated");
    assert_eq!(updated["data"]["object"]["cancel_at_period_end"], true);
    assert!(w.stripe.retrieve_subscription(&sub).await.unwrap().cancel_at_period_end);
}

#[tokio::test]
async fn events_can_be_invented_and_resent() {
    let w = world().await;
    let sent = w.double.send_event("invoice.payment_failed", json!({"id": "in_x", "object": "invoice", "customer": "cus_x"})).await.unwrap();
    assert!(sent.id.starts_with("evt_"));
    assert_eq!(sent.deliveries.last().and_then(|d| d.status), Some(200));
    let again = w.double.resend(&sent.id).await.unwrap();
    assert_eq!(again.status, Some(200));
    let ids: Vec<Value> = w.receiver.accepted.lock().unwrap().iter().map(|e| e["id"].clone()).collect();
    assert_eq!(ids, [json!(sent.id), json!(sent.id)]);
    assert_eq!(w.double.events()[0].deliveries.len(), 2);
}

#[tokio::test]
async fn an_unreachable_stripe_is_reported_as_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener); // nothing listens there now
    let stripe = Stripe::new(KEY, &format!("http://{addr}")).unwrap();
    let e = refusal(stripe.create_customer("org_1", "Acme", "owner@example.com").await.unwrap_err());
    assert!(e.starts_with("Stripe is unreachable"), "{e}");
}
