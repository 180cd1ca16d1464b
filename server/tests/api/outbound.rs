//! What Tollbooth sends out (security review, issue 15): webhooks go only to
//! public addresses, a slow endpoint holds up no one else, and extra alert
//! recipients confirm before they get mail.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tollbooth::alerts::outbox;
use tollbooth::clock::now_ms;

use crate::alerts::{confirmation_token, eventually, ingest, org, receiver, send};
use crate::helpers::{allow_private_webhooks, TestApp};
use crate::{app_test, app_test_with};

/// Each kind of non-public destination, as a customer might type it.
const INSIDE: &[&str] = &[
    "http://169.254.169.254/latest/meta-data/",
    "http://127.0.0.1:5432/",
    "http://localhost:3000/admin",
    "http://api.localhost/",
    "http://10.0.0.1/hook",
    "http://172.16.5.4/hook",
    "http://192.168.1.1/hook",
    "http://100.64.0.1/hook",
    "http://224.0.0.251/hook",
    "http://255.255.255.255/hook",
    "http://0.0.0.0:8080/",
    "http://2130706433/",
    "http://[::1]/",
    "http://[::]/",
    "http://[fd00::1]/",
    "http://[fe80::1]/",
    "http://[ff02::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:a9fe:a9fe]/",
];

/// A budget of $1 with thresholds at 50% and 80%, then $0.85 of usage: two alerts.
async fn two_alerts(app: &TestApp, auth: &str) {
    let (status, body) = send(app, Method::POST, "/api/v1/budgets", auth,
        Some(json!({"name": "Org monthly", "scope": "organization", "period": "monthly", "amount_usd": "1.00"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    ingest(app, auth, 85_000, "web").await;
}

/// Adds an endpoint straight to the store, as if saved before the rule (or
/// before its name resolved somewhere else).
async fn insert_endpoint(app: &TestApp, org_id: &str, url: &str) -> String {
    let id = tollbooth::ids::new_id();
    sqlx::query("INSERT INTO webhook_endpoints (id, org_id, url, secret, created_at) VALUES ($1, $2, $3, 'whsec_x', $4)")
        .bind(&id)
        .bind(org_id)
        .bind(url)
        .bind(now_ms())
        .execute(app.test_db.db.writer())
        .await
        .unwrap();
    id
}

/// A receiver that accepts connections and never answers; counts them.
async fn hanging_receiver() -> (String, Arc<AtomicUsize>) {
    let accepted = Arc::new(AtomicUsize::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let count = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            held.push(socket);
        }
    });
    (url, accepted)
}

app_test! {
    async fn webhook_urls_into_the_operators_network_are_refused_when_saved(app) {
        let (org_id, auth) = org(&app, "Acme", "owner@acme.example").await;
        for url in INSIDE {
            let (status, body) = send(&app, Method::POST, "/api/v1/webhooks", &auth, Some(json!({"url": url}))).await;
            assert_eq!((status, body["error"]["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("url")), "{url}: {body}");
            assert!(body["error"]["message"].as_str().unwrap().contains("public internet addresses"), "{url}: {body}");
        }
        let (_, body) = send(&app, Method::POST, "/api/v1/webhooks", &auth, Some(json!({"url": "http://localhost:3000/admin"}))).await;
        assert!(body["error"]["message"].as_str().unwrap().contains("loopback"), "the message says why: {body}");
        // A public address is fine.
        let (status, body) = send(&app, Method::POST, "/api/v1/webhooks", &auth, Some(json!({"url": "https://8.8.8.8/hook"}))).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (_, list) = send(&app, Method::GET, "/api/v1/webhooks", &auth, None).await;
        assert_eq!(list.as_array().unwrap().len(), 1, "only the public one was saved");

        // The settings page's server function refuses the same way.
        let owner = app.signup(&app.client, "owner2@acme.example", "Acme 2").await;
        let resp = app.server_fn(&app.client, "create_webhook", &[("org_id", &owner), ("url", "http://169.254.169.254/latest/meta-data/")]).await;
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let text = resp.text().await.unwrap();
        assert!(text.contains("url: ") && text.contains("link-local"), "{text}");

        // Saved endpoints are audited with their actor: the API key from REST,
        // the signed-in user from the pages.
        let resp = app.server_fn(&app.client, "create_webhook", &[("org_id", &owner), ("url", "https://8.8.4.4/in")]).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let only = tollbooth::audit::AuditFilter { action: "webhook.create".into(), ..Default::default() };
        let rest = tollbooth::audit::list(&app.test_db.db, Some(&org_id), &only, "UTC", 10).await.unwrap();
        assert_eq!((rest.len(), rest[0].actor_kind.as_str(), rest[0].ip.as_deref()), (1, "api_key", Some("127.0.0.1")), "{rest:?}");
        let page = tollbooth::audit::list(&app.test_db.db, Some(&owner), &only, "UTC", 10).await.unwrap();
        assert_eq!((page.len(), page[0].actor_label.as_str()), (1, "owner2@acme.example"), "{page:?}");
    }

    async fn an_endpoint_on_a_private_address_receives_nothing_and_its_log_says_could_not_connect(app) {
        let (org_id, auth) = org(&app, "Acme", "owner@acme.example").await;
        let (url, got) = receiver().await;
        let by_ip = insert_endpoint(&app, &org_id, &url).await;
        let by_name = insert_endpoint(&app, &org_id, &url.replace("127.0.0.1", "localhost")).await;
        two_alerts(&app, &auth).await;
        let log = eventually("four logged attempts", || async {
            let (_, log) = send(&app, Method::GET, "/api/v1/webhooks/deliveries", &auth, None).await;
            (log.as_array().is_some_and(|l| l.len() >= 4)).then_some(log)
        }).await;
        for d in log.as_array().unwrap() {
            assert_eq!((d["status_code"].clone(), d["error"].clone()), (Value::Null, json!("could not connect")), "{d}");
        }
        let ids: Vec<&str> = log.as_array().unwrap().iter().map(|d| d["endpoint_id"].as_str().unwrap()).collect();
        assert!(ids.contains(&by_ip.as_str()) && ids.contains(&by_name.as_str()), "the IP literal and the name resolving to loopback: {ids:?}");
        assert!(got.lock().unwrap().is_empty(), "the receiver on 127.0.0.1 got nothing");
    }
}

app_test_with! { allow_private_webhooks;
    async fn a_hanging_endpoint_of_one_organization_does_not_delay_another(app) {
        let (_, auth_a) = org(&app, "Slow", "owner@slow.example").await;
        let (_, auth_b) = org(&app, "Quick", "owner@quick.example").await;
        let (hang_url, accepted) = hanging_receiver().await;
        let (status, _) = send(&app, Method::POST, "/api/v1/webhooks", &auth_a, Some(json!({"url": hang_url}))).await;
        assert_eq!(status, StatusCode::CREATED);
        let (url_b, got_b) = receiver().await;
        let (status, _) = send(&app, Method::POST, "/api/v1/webhooks", &auth_b, Some(json!({"url": url_b}))).await;
        assert_eq!(status, StatusCode::CREATED);

        // A's two webhooks are under way and will not be answered.
        two_alerts(&app, &auth_a).await;
        eventually("A's endpoint to be called", || {
            let n = accepted.load(Ordering::SeqCst);
            async move { (n >= 1).then_some(()) }
        }).await;

        // B's arrive long before A's 10-second timeout.
        let started = Instant::now();
        two_alerts(&app, &auth_b).await;
        let deadline = Duration::from_secs(5);
        while got_b.lock().unwrap().len() < 2 {
            assert!(started.elapsed() < deadline, "B's webhooks were held up behind A's endpoint");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        println!("B's two webhooks arrived {:?} after its alerts, with A's endpoint hanging", started.elapsed());
    }
}

app_test! {
    async fn an_extra_recipient_gets_alert_mail_only_after_following_the_confirmation_link(app) {
        let (org_id, auth) = org(&app, "Acme", "owner@acme.example").await;
        let (status, s) = send(&app, Method::GET, "/api/v1/alert-settings", &auth, None).await;
        assert_eq!(status, StatusCode::OK);
        let mut changed = s.clone();
        changed["extra_recipients"] = json!(["ops@elsewhere.example", "late@elsewhere.example"]);
        let (status, saved) = send(&app, Method::PUT, "/api/v1/alert-settings", &auth, Some(changed.clone())).await;
        assert_eq!(status, StatusCode::OK, "{saved}");
        assert_eq!(saved["extra_recipient_states"][0], json!({"email": "ops@elsewhere.example", "state": "pending"}));

        let mails = |to: &'static str| {
            let db = app.test_db.db.clone();
            let org_id = org_id.clone();
            async move { outbox::list_mail(&db, Some(&org_id), 100).await.unwrap().into_iter().filter(|m| m.recipient == to).collect::<Vec<_>>() }
        };
        // An alert before confirming mails the owner only.
        let (status, _) = send(&app, Method::POST, "/api/v1/budgets", &auth,
            Some(json!({"name": "Org monthly", "scope": "organization", "period": "monthly", "amount_usd": "1.00", "thresholds": [50, 80]}))).await;
        assert_eq!(status, StatusCode::CREATED);
        ingest(&app, &auth, 60_000, "web").await; // 50%
        assert_eq!(mails("owner@acme.example").await.len(), 1);
        let ops = mails("ops@elsewhere.example").await;
        assert_eq!(ops.len(), 1, "only the confirmation: {ops:?}");
        assert!(ops[0].subject.contains("Confirm alert mail"));

        // A bad token and an expired one get the 404 page.
        let resp = app.client.get(app.url(&format!("/alerts/confirm/{}", "ab".repeat(32)))).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        assert!(resp.text().await.unwrap().contains("not valid or has expired"));
        let resp = app.client.get(app.url("/alerts/confirm/nonsense")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        let late = confirmation_token(&app, &org_id, "late@elsewhere.example").await;
        sqlx::query("UPDATE alert_recipient_confirmations SET expires_at = $1 WHERE email = 'late@elsewhere.example'")
            .bind(now_ms() - 1)
            .execute(app.test_db.db.writer())
            .await
            .unwrap();
        let resp = app.client.get(app.url(&format!("/alerts/confirm/{late}"))).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "expired");

        // Following the link confirms; the next alert mails the address too.
        let token = confirmation_token(&app, &org_id, "ops@elsewhere.example").await;
        let resp = app.fresh_client().get(app.url(&format!("/alerts/confirm/{token}"))).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let page = resp.text().await.unwrap();
        assert!(page.contains("Confirmed") && page.contains("ops@elsewhere.example"), "{page}");
        let (_, s) = send(&app, Method::GET, "/api/v1/alert-settings", &auth, None).await;
        assert_eq!(s["extra_recipients"], json!(["ops@elsewhere.example", "late@elsewhere.example"]), "the list is as before");
        assert_eq!(s["extra_recipient_states"], json!([
            {"email": "ops@elsewhere.example", "state": "confirmed"},
            {"email": "late@elsewhere.example", "state": "expired"},
        ]));
        ingest(&app, &auth, 30_000, "web").await; // 90%: crosses 80%
        let ops = mails("ops@elsewhere.example").await;
        assert_eq!(ops.len(), 2, "the confirmation and the alert: {ops:?}");
        assert!(ops.iter().any(|m| m.subject.contains("Budget threshold")));
        assert_eq!(mails("late@elsewhere.example").await.len(), 1, "the unconfirmed address got only its confirmation");

        // Removing and re-adding the same day sends no second confirmation.
        changed["extra_recipients"] = json!(["ops@elsewhere.example"]);
        send(&app, Method::PUT, "/api/v1/alert-settings", &auth, Some(changed.clone())).await;
        changed["extra_recipients"] = json!(["ops@elsewhere.example", "late@elsewhere.example"]);
        send(&app, Method::PUT, "/api/v1/alert-settings", &auth, Some(changed)).await;
        assert_eq!(mails("late@elsewhere.example").await.len(), 1);
    }
}
