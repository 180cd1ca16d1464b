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
                               "currency": "usd", "amount_total": 1000, "metadata": {"pack": "credits-10", "org_id": org}}}})
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
    // The refusals below are counted per minute: start them early in one.
    if now_ms() % 60_000 > 45_000 {
        tokio::time::sleep(std::time::Duration::from_millis((60_000 - now_ms() % 60_000) as u64 + 100)).await;
    }
    let now = now.max(now_ms() / 1000);

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

    // The audit log has the four refusals as one counted security entry
    // (after the minute's flush), and the one applied event.
    let db = &app.test_db.db;
    let only = |action: &str| tollbooth::audit::AuditFilter { action: action.into(), ..Default::default() };
    tollbooth::audit::flush_refusals(&app.server_db, now_ms() + 60_000, true).await.unwrap();
    let rejected = tollbooth::audit::list(db, None, &only("security.webhook_rejected"), "UTC", 100).await.unwrap();
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    let e = &rejected[0];
    assert_eq!((e.result.as_str(), e.ip.as_deref(), e.target.as_deref(), e.org_id.as_deref()), ("denied", Some("127.0.0.1"), Some("127.0.0.1"), None));
    let details: Value = serde_json::from_str(&e.details).unwrap();
    assert_eq!(details["count"], json!(4), "{details}");
    let applied = tollbooth::audit::list(db, Some(&o.org_id), &only("billing.webhook"), "UTC", 100).await.unwrap();
    assert_eq!((applied.len(), applied[0].target.as_deref()), (1, Some("evt_1")));
    assert_eq!(tollbooth::audit::verify(db).await.unwrap().1, None);

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

/// Forged signatures cost little: only the first few `v1` entries count, a
/// huge header over a large body is refused, the body is capped at 1 MiB,
/// and a flood of refusals is one audit entry per minute with its count.
async fn forged_stripe_signatures_are_cheap_to_refuse_and_counted_not_logged_one_by_one(engine: Engine) {
    let Some(app) = spawn_app_with(engine, |c| c.stripe_webhook_secret = Some(SECRET.parse().unwrap())).await else { return };
    let o = create_org(&app.test_db.db, &app.config, "Acme", "owner@acme.test", None).await.unwrap();
    let auth = format!("Bearer {}", o.api_key);
    if now_ms() % 60_000 > 40_000 {
        tokio::time::sleep(std::time::Duration::from_millis((60_000 - now_ms() % 60_000) as u64 + 100)).await;
    }
    let now = now_ms() / 1000;
    let body = pack_event("evt_5", &o.org_id);
    let good = signature::header(SECRET, now, &body);
    let sig = good.split_once(",v1=").unwrap().1;
    let junk = |n: usize| (0..n).map(|i| format!("v1={i:064x}")).collect::<Vec<_>>().join(",");

    // The valid signature placed after five others is not looked at.
    let (status, err) = post_event(&app, &body, Some(format!("t={now},{},v1={sig}", junk(5)))).await;
    assert_eq!((status, err["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("bad_signature")), "{err}");
    let (status, ok) = post_event(&app, &body, Some(format!("t={now},{},v1={sig}", junk(4)))).await;
    assert_eq!((status, ok["outcome"].as_str()), (StatusCode::OK, Some("applied")), "fifth of five is fine: {ok}");

    // Thousands of entries (as many as an HTTP header holds) over ~1 MB.
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(1_000_000));
    let started = std::time::Instant::now();
    let (status, _) = post_event(&app, &big, Some(format!("t={now},{}", junk(3000)))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    println!("3,000 v1 entries over a 1 MB body refused over HTTP in {:?}", started.elapsed());

    // Over 1 MiB: 413 with the JSON error, before any signature work.
    let huge = "x".repeat(1024 * 1024 + 1);
    let (status, err) = post_event(&app, &huge, Some(signature::header(SECRET, now, &huge))).await;
    assert_eq!((status, err["error"]["code"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large")), "{err}");

    // Many refusals in one minute: one audit entry with the count, after the flush.
    for _ in 0..25 {
        let (status, _) = post_event(&app, &body, Some(signature::header("whsec_wrong", now, &body))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    let only = tollbooth::audit::AuditFilter { action: "security.webhook_rejected".into(), ..Default::default() };
    let before = tollbooth::audit::list(&app.test_db.db, None, &only, "UTC", 100).await.unwrap();
    tollbooth::audit::flush_refusals(&app.server_db, now_ms() + 60_000, true).await.unwrap();
    let after = tollbooth::audit::list(&app.test_db.db, None, &only, "UTC", 100).await.unwrap();
    assert!(before.is_empty() || after.len() == 1, "written by the background flush or by this one");
    assert_eq!(after.len(), 1, "{after:?}");
    let details: Value = serde_json::from_str(&after[0].details).unwrap();
    assert_eq!(details["count"], json!(27), "five-and-valid, 3,000 junk, 25 wrong secrets: {details}");
    assert_eq!(balance(&app, &auth).await, "10.00");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_stripe_signatures_are_cheap_to_refuse_sqlite() {
    forged_stripe_signatures_are_cheap_to_refuse_and_counted_not_logged_one_by_one(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_stripe_signatures_are_cheap_to_refuse_postgres() {
    forged_stripe_signatures_are_cheap_to_refuse_and_counted_not_logged_one_by_one(Engine::Postgres).await;
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

mod with_the_stripe_double {
    use super::*;
    use tollbooth::billing::service::{self, parse_price_map};
    use tollbooth::billing::stripe::Stripe;
    use tollbooth::billing::{Billing, LineKind, Settings};
    use tollbooth::orgs::{OrgScope, Role};
    use tollbooth_server::stripe_double::{self, DoubleConfig, RunningDouble};

    const KEY: &str = "sk_test_billing_flow";

    struct World {
        app: TestApp,
        double: RunningDouble,
        billing: Billing,
        scope: OrgScope,
        auth: String,
        web: reqwest::Client,
    }

    async fn world(engine: Engine) -> Option<World> {
        let double = stripe_double::spawn(DoubleConfig {
            secret_key: KEY.into(),
            webhook_url: None,
            webhook_secret: SECRET.into(),
            public_url: None,
        })
        .await
        .unwrap();
        for (price, cents) in [("price_pro", 2900), ("price_team", 9900), ("price_c10", 1000)] {
            double.set_price(price, cents);
        }
        let base = double.base_url();
        let app = spawn_app_with(engine, |c| {
            c.stripe_secret_key = Some(KEY.parse().unwrap());
            c.stripe_api_base = base.clone();
            c.stripe_webhook_secret = Some(SECRET.parse().unwrap());
            c.stripe_plan_prices = "pro=price_pro,team=price_team".into();
            c.stripe_credit_pack_prices = "credits-10=price_c10".into();
        })
        .await?;
        double.set_webhook_url(&app.url("/webhooks/stripe"));
        // The same settings as the app's, for calling the services the pages call.
        let billing = Billing::new(
            Some(Stripe::new(KEY, &base).unwrap()),
            None,
            Settings {
                plan_prices: parse_price_map("STRIPE_PLAN_PRICES", "pro=price_pro,team=price_team").unwrap(),
                pack_prices: parse_price_map("STRIPE_CREDIT_PACK_PRICES", "credits-10=price_c10").unwrap(),
                credit_floor_nanos: 0,
                grace_days: 7,
            },
        );
        let o = create_org(&app.test_db.db, &app.config, "Acme", "owner@acme.test", None).await.unwrap();
        let user: String = sqlx::query_scalar("SELECT user_id FROM memberships WHERE org_id = $1")
            .bind(&o.org_id)
            .fetch_one(app.test_db.db.reader())
            .await
            .unwrap();
        let scope = OrgScope { org_id: o.org_id.clone(), user_id: user, role: Role::Owner };
        let web = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Some(World { auth: format!("Bearer {}", o.api_key), app, double, billing, scope, web })
    }

    async fn overview(w: &World) -> Value {
        let resp = w.app.client.get(w.app.url("/api/v1/billing")).header("Authorization", &w.auth).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        resp.json().await.unwrap()
    }

    /// Opens the double's hosted checkout page and presses Pay; returns where it redirects.
    async fn pay(w: &World, checkout_url: &str) -> String {
        let page = w.web.get(checkout_url).send().await.unwrap().text().await.unwrap();
        assert!(page.contains("Pay"), "{page}");
        let resp = w.web.post(format!("{checkout_url}/pay")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        resp.headers()["location"].to_str().unwrap().to_string()
    }

    async fn checkout_upgrade_credits_change_and_close(engine: Engine) {
        let Some(w) = world(engine).await else { return };
        let db = &w.app.test_db.db;
        let billing_url = w.app.url(&format!("/o/{}/billing", w.scope.org_id));

        // Upgrade: a Checkout Session for Pro; nothing changes before Stripe says so.
        let url = service::start_checkout(db, &w.billing, &w.scope, "owner@acme.test", "pro", &billing_url, now_ms()).await.unwrap();
        assert!(url.starts_with(&w.double.base_url()), "{url}");
        assert_eq!(overview(&w).await["plan_code"], "starter", "not before the webhook");
        let back = pay(&w, &url).await;
        assert!(back.starts_with(&format!("{billing_url}?checkout=success&session_id=cs_")), "{back}");
        let o = overview(&w).await;
        assert_eq!(o["plan_code"], "pro", "the signed webhooks moved the organization: {o}");
        assert_eq!(o["subscription"]["status"], "active");
        // The customer was created once, with the org id; the subscription renews at the next period.
        let customers = w.double.customers();
        assert_eq!(customers.len(), 1);
        assert_eq!(customers[0]["metadata"]["org_id"], w.scope.org_id.as_str());
        let next = tollbooth::billing::invoices::period(tollbooth::calendar::zone("UTC"), now_ms()).end_ms / 1000;
        assert_eq!(w.double.subscriptions()[0]["items"]["data"][0]["current_period_end"], next);
        let preview_kinds: Vec<String> = o["preview"]["lines"].as_array().unwrap().iter().map(|l| l["kind"].as_str().unwrap().to_string()).collect();
        assert_eq!(preview_kinds, vec!["proration_charge"], "the rest of the month on Pro: {o}");

        // A second Checkout for the same customer reuses it.
        let url = service::buy_credits(db, &w.billing, &w.scope, "owner@acme.test", "credits-10", &billing_url, now_ms()).await.unwrap();
        pay(&w, &url).await;
        assert_eq!(w.double.customers().len(), 1, "the customer is reused");
        assert_eq!(overview(&w).await["credit_balance_nanos"], 10_000_000_000i64);
        let upgrade_again = service::start_checkout(db, &w.billing, &w.scope, "owner@acme.test", "team", &billing_url, now_ms()).await;
        assert!(upgrade_again.unwrap_err().to_string().contains("Change plan"));

        // Change plan: Team now (prorated, Stripe's subscription moves), then a downgrade that waits.
        let preview = service::preview_change(db, &w.billing, &w.scope.org_id, "team", now_ms()).await.unwrap();
        assert_eq!((preview.kind.as_str(), preview.via_checkout), ("upgrade", false));
        assert_eq!(preview.lines.iter().map(|l| l.kind).collect::<Vec<_>>(), vec![LineKind::ProrationCredit, LineKind::ProrationCharge]);
        service::change_plan(db, &w.billing, &w.scope, "team", now_ms()).await.unwrap();
        assert_eq!(overview(&w).await["plan_code"], "team");
        assert_eq!(w.double.subscriptions()[0]["items"]["data"][0]["price"]["id"], "price_team");
        let down = service::change_plan(db, &w.billing, &w.scope, "pro", now_ms()).await.unwrap();
        assert_eq!(down.kind, "downgrade");
        let o = overview(&w).await;
        assert_eq!((o["plan_code"].as_str(), o["pending_plan"][0].as_str()), (Some("team"), Some("pro")), "{o}");

        // The period closes: the downgrade applies, and every line but the base fee goes to Stripe once.
        service::run_due(db, &w.billing, next * 1000 + 60_000).await.unwrap();
        let o = overview(&w).await;
        assert_eq!(o["plan_code"], "pro");
        assert!(o["pending_plan"].is_null());
        assert_eq!(w.double.subscriptions()[0]["items"]["data"][0]["price"]["id"], "price_pro");
        let invoice = &o["invoices"][0];
        assert_eq!(invoice["sent_to_stripe"], true, "{invoice}");
        let lines = invoice["lines"].as_array().unwrap();
        let total: i64 = lines.iter().map(|l| l["amount_cents"].as_i64().unwrap()).sum();
        assert_eq!(invoice["total_cents"].as_i64().unwrap(), total);
        let items = w.double.invoice_items();
        let billed: Vec<i64> = lines.iter().filter(|l| l["kind"] != "base").map(|l| l["amount_cents"].as_i64().unwrap()).collect();
        let sent: Vec<i64> = items.iter().map(|i| i["amount"].as_i64().unwrap()).collect();
        assert_eq!(sent, billed, "{items:?}");
        service::run_due(db, &w.billing, next * 1000 + 120_000).await.unwrap();
        assert_eq!(w.double.invoice_items().len(), items.len(), "sent once");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn checkout_upgrade_credits_change_and_close_sqlite() {
        checkout_upgrade_credits_change_and_close(Engine::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn checkout_upgrade_credits_change_and_close_postgres() {
        checkout_upgrade_credits_change_and_close(Engine::Postgres).await;
    }

    /// A trial converted through Checkout on its last day: the paid plan
    /// starts at once, billed once (the rest of the period, prorated, as
    /// an upgrade from Starter; no base fee for the trial), and the trial
    /// never expires afterwards.
    async fn a_trial_converted_through_checkout_on_its_last_day_is_billed_once(engine: Engine) {
        let Some(w) = world(engine).await else { return };
        let db = &w.app.test_db.db;
        let billing_url = w.app.url(&format!("/o/{}/billing", w.scope.org_id));
        let by = tollbooth::audit::By::system("test");
        let day = tollbooth::trials::DAY_MS;
        // Started 13 days and a half ago: half a day left.
        let t = tollbooth::trials::start(db, &w.scope, &by, now_ms() - 14 * day + day / 2).await.unwrap();
        assert_eq!(overview(&w).await["plan_code"], "pro");
        let url = service::start_checkout(db, &w.billing, &w.scope, "owner@acme.test", "pro", &billing_url, now_ms()).await.unwrap();
        pay(&w, &url).await;
        let o = overview(&w).await;
        assert_eq!((o["plan_code"].as_str(), o["subscription"]["status"].as_str()), (Some("pro"), Some("active")), "{o}");
        let kinds: Vec<&str> = o["preview"]["lines"].as_array().unwrap().iter().map(|l| l["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["proration_charge"], "only the rest of the period on Pro: {o}");
        let latest = tollbooth::trials::latest(db, &w.scope.org_id, now_ms()).await.unwrap().unwrap();
        assert_eq!((latest.status.as_str(), latest.converted_plan.as_deref()), ("converted", Some("pro")));

        // The trial's end passes: nothing moves.
        let ends = tollbooth::clock::parse_rfc3339(&t.ends_at).unwrap();
        assert_eq!(tollbooth::trials::run_due(db, ends + 60_000).await.unwrap(), tollbooth::trials::DuePass::default());
        assert_eq!(overview(&w).await["plan_code"], "pro");

        // The period closes: the invoice is the prorated charge alone, sent to Stripe once.
        let next = tollbooth::billing::invoices::period(tollbooth::calendar::zone("UTC"), now_ms()).end_ms;
        service::run_due(db, &w.billing, next.max(ends) + 120_000).await.unwrap();
        let o = overview(&w).await;
        let invoice = o["invoices"].as_array().unwrap().iter().find(|i| i["lines"].as_array().unwrap().iter().any(|l| l["kind"] == "proration_charge")).expect("the period's invoice").clone();
        let kinds: Vec<&str> = invoice["lines"].as_array().unwrap().iter().map(|l| l["kind"].as_str().unwrap()).collect();
        assert!(!kinds.contains(&"base"), "no base fee for the trial's period: {invoice}");
        assert_eq!(w.double.invoice_items().len(), 1, "charged once");
        let audit: Vec<String> = sqlx::query_scalar("SELECT action FROM audit_log WHERE org_id = $1 AND action LIKE 'trial.%' ORDER BY seq")
            .bind(&w.scope.org_id)
            .fetch_all(db.reader())
            .await
            .unwrap();
        assert_eq!(audit, ["trial.start", "trial.convert"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_trial_converted_on_its_last_day_is_billed_once_sqlite() {
        a_trial_converted_through_checkout_on_its_last_day_is_billed_once(Engine::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_trial_converted_on_its_last_day_is_billed_once_postgres() {
        a_trial_converted_through_checkout_on_its_last_day_is_billed_once(Engine::Postgres).await;
    }
}
