use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tollbooth::alerts::{outbox, webhooks};
use tollbooth::clock::now_ms;
use tollbooth::db::Engine;
use tollbooth::pricing::{store as prices, ModelPrice, PriceBook, UnitPrice};
use tollbooth_server::cli::create_org;

use crate::helpers::{allow_private_webhooks, spawn_app_with, TestApp};
use crate::{app_test, app_test_with};

pub async fn send(app: &TestApp, method: Method, path: &str, auth: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut req = app.client.request(method, app.url(path)).header("Authorization", auth);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// `gpt-alert` at $0.00001 per input token; an organization and its key.
pub async fn org(app: &TestApp, name: &str, email: &str) -> (String, String) {
    let mut p = ModelPrice::new("gpt-alert", "openai");
    p.input = Some(UnitPrice::parse("0.00001").unwrap());
    let mut book = PriceBook::default();
    book.insert(p);
    prices::import(&app.test_db.db, &book, "test", Some(0)).await.unwrap();
    let o = create_org(&app.test_db.db, &app.config, name, email, None).await.unwrap();
    (o.org_id, format!("Bearer {}", o.api_key))
}

pub async fn ingest(app: &TestApp, auth: &str, tokens: u64, project: &str) {
    let events = json!({"events": [{"model": "gpt-alert", "input_tokens": tokens, "project_id": project}]});
    let (status, body) = send(app, Method::POST, "/api/v1/events", auth, Some(events)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Polls until `f` gives `Some`, for at most 30 s.
pub async fn eventually<T, F: std::future::Future<Output = Option<T>>>(what: &str, mut f: impl FnMut() -> F) -> T {
    for _ in 0..300 {
        if let Some(v) = f().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

/// The token of the latest confirmation mail to `email`, read from the outbox.
pub async fn confirmation_token(app: &TestApp, org_id: &str, email: &str) -> String {
    let mail = eventually("a confirmation mail in the outbox", || async {
        let m = outbox::list_mail(&app.test_db.db, Some(org_id), 50).await.unwrap();
        m.into_iter().find(|m| m.recipient == email && m.subject.contains("Confirm alert mail"))
    })
    .await;
    let link = mail.body.split("/alerts/confirm/").nth(1).expect("a confirmation link");
    link.split_whitespace().next().unwrap().to_string()
}

/// A webhook receiver on port 0 that keeps every request's signature and body.
pub async fn receiver() -> (String, Arc<Mutex<Vec<(String, String)>>>) {
    let got: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let keep = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let keep = keep.clone();
            async move {
                let sig = headers.get("tollbooth-signature").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                keep.lock().unwrap().push((sig, body));
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, got)
}

app_test_with! { allow_private_webhooks;
    async fn a_crossed_budget_threshold_alerts_in_app_by_mail_outbox_and_signed_webhook(app) {
        let (org_id, auth) = org(&app, "Acme", "owner@acme.example").await;
        let (url, got) = receiver().await;
        let (status, ep) = send(&app, Method::POST, "/api/v1/webhooks", &auth, Some(json!({"url": url}))).await;
        assert_eq!(status, StatusCode::CREATED, "{ep}");
        let secret = ep["secret"].as_str().unwrap().to_string();
        let (status, bad) = send(&app, Method::POST, "/api/v1/webhooks", &auth, Some(json!({"url": "ftp://nope"}))).await;
        assert_eq!((status, bad["error"]["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("url")), "{bad}");

        let (status, _) = send(&app, Method::POST, "/api/v1/budgets", &auth,
            Some(json!({"name": "Org monthly", "scope": "organization", "period": "monthly", "amount_usd": "1.00"}))).await;
        assert_eq!(status, StatusCode::CREATED);
        ingest(&app, &auth, 85_000, "web").await; // $0.85: 50% and 80%

        let (status, list) = send(&app, Method::GET, "/api/v1/alerts", &auth, None).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        assert_eq!(list["unacknowledged"], json!(2));
        let thresholds: Vec<&str> = list["alerts"].as_array().unwrap().iter().map(|a| a["threshold"].as_str().unwrap()).collect();
        assert_eq!(thresholds.len(), 2);
        assert!(thresholds.contains(&"80% of $1.00") && thresholds.contains(&"50% of $1.00"), "{list}");
        let first = list["alerts"][0].clone();
        assert_eq!(first["kind"], json!("budget_threshold"));

        // Both webhooks arrive, each correctly signed with the endpoint's secret.
        let hooks = eventually("two webhooks", || {
            let got = got.clone();
            async move { let g = got.lock().unwrap().clone(); (g.len() >= 2).then_some(g) }
        }).await;
        assert_eq!(hooks.len(), 2);
        for (sig, body) in &hooks {
            assert!(webhooks::verify(&secret, sig, body, now_ms() / 1000, 300), "signature {sig} over {body}");
            assert!(!webhooks::verify("whsec_wrong", sig, body, now_ms() / 1000, 300));
            let v: Value = serde_json::from_str(body).unwrap();
            assert_eq!((v["type"].clone(), v["organization_id"].clone()), (json!("alert.created"), json!(org_id)));
        }
        let log = eventually("two logged, sent deliveries", || async {
            let (_, log) = send(&app, Method::GET, "/api/v1/webhooks/deliveries", &auth, None).await;
            let done = log.as_array().is_some_and(|l| l.len() == 2 && l.iter().all(|d| d["state"] == json!("sent")));
            done.then_some(log)
        }).await;
        assert!(log.as_array().unwrap().iter().all(|d| d["status_code"] == json!(204) && d["state"] == json!("sent")), "{log}");

        // No SMTP configured: the mail is held in the outbox for platform admins.
        let mail = eventually("held mail", || {
            let db = app.test_db.db.clone();
            let org_id = org_id.clone();
            async move {
                let m = outbox::list_mail(&db, Some(&org_id), 10).await.unwrap();
                (m.len() == 2 && m.iter().all(|m| m.state == "held")).then_some(m)
            }
        }).await;
        assert_eq!(mail[0].recipient, "owner@acme.example");
        assert!(mail.iter().any(|m| m.body.contains("reached 80%")), "{mail:?}");

        // Acknowledge through the API; another organization's key gets 404.
        let id = first["id"].as_str().unwrap();
        let (status, acked) = send(&app, Method::POST, &format!("/api/v1/alerts/{id}/ack"), &auth, None).await;
        assert_eq!(status, StatusCode::OK);
        assert!(acked["acknowledged_by"].as_str().unwrap().starts_with("api key"));
        let (_, list) = send(&app, Method::GET, "/api/v1/alerts?unacknowledged=true", &auth, None).await;
        assert_eq!((list["unacknowledged"].clone(), list["alerts"].as_array().unwrap().len()), (json!(1), 1));
        let (_, other) = org(&app, "Other", "owner@other.example").await;
        let (status, body) = send(&app, Method::POST, &format!("/api/v1/alerts/{id}/ack"), &other, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        let (status, body) = send(&app, Method::GET, "/api/v1/alerts?limit=0", &auth, None).await;
        assert_eq!((status, body["error"]["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("limit")), "{body}");
    }
}

app_test! {
    async fn a_paused_budget_refuses_checks_and_reservations_of_its_scope_with_429(app) {
        let (_, auth) = org(&app, "Acme", "owner@acme.example").await;
        let (_, b) = send(&app, Method::POST, "/api/v1/budgets", &auth,
            Some(json!({"name": "Bot", "scope": "project", "scope_id": "bot", "period": "daily", "amount_usd": "0.10", "action": "pause"}))).await;
        ingest(&app, &auth, 20_000, "bot").await; // $0.20
        let ask = |project: &str| json!({"project_id": project, "checks": [{"metric": "tokens", "amount": 100}]});
        let resp = app.client.post(app.url("/api/v1/reservations")).header("Authorization", &auth).json(&ask("bot")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(resp.headers().get("retry-after").is_some());
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["budget"]["id"], b["id"], "{body}");
        assert!(body["error"]["message"].as_str().unwrap_or_default().contains("\"Bot\""), "{body}");
        let (status, body) = send(&app, Method::POST, "/api/v1/quota/check", &auth, Some(ask("bot"))).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
        let (status, body) = send(&app, Method::POST, "/api/v1/reservations", &auth, Some(ask("web"))).await;
        assert_eq!(status, StatusCode::CREATED, "another project goes on: {body}");
        // Events of the paused project are still recorded.
        ingest(&app, &auth, 1_000, "bot").await;
    }

    async fn alert_settings_are_read_saved_and_checked(app) {
        let (_, auth) = org(&app, "Acme", "owner@acme.example").await;
        let (status, s) = send(&app, Method::GET, "/api/v1/alert-settings", &auth, None).await;
        assert_eq!((status, s["spike_percent"].clone(), s["email_enabled"].clone()), (StatusCode::OK, json!(200), json!(true)));
        let mut changed = s.clone();
        changed["spike_percent"] = json!(300);
        changed["extra_recipients"] = json!(["Ops@Acme.example"]);
        let (status, saved) = send(&app, Method::PUT, "/api/v1/alert-settings", &auth, Some(changed.clone())).await;
        assert_eq!((status, saved["extra_recipients"].clone()), (StatusCode::OK, json!(["ops@acme.example"])), "{saved}");
        assert_eq!(saved["extra_recipient_states"], json!([{"email": "ops@acme.example", "state": "pending"}]), "{saved}");
        changed["spike_percent"] = json!(50);
        let (status, err) = send(&app, Method::PUT, "/api/v1/alert-settings", &auth, Some(changed)).await;
        assert_eq!((status, err["error"]["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("spike_percent")), "{err}");
        let (_, s) = send(&app, Method::GET, "/api/v1/alert-settings", &auth, None).await;
        assert_eq!(s["spike_percent"], json!(300), "a refused change keeps what was stored");
    }
}

/// A local SMTP server (Python's aiosmtpd, installed by scripts/setup.sh)
/// writing what it receives to a Maildir.
struct SmtpSink {
    child: Child,
    port: u16,
    maildir: std::path::PathBuf,
}

impl SmtpSink {
    fn start() -> SmtpSink {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let python = std::env::var("TOLLBOOTH_TEST_PYTHON").map(std::path::PathBuf::from).unwrap_or_else(|_| root.join(".venv-test/bin/python"));
        assert!(python.exists(), "{} is missing: run scripts/setup.sh (it installs aiosmtpd for the mail tests)", python.display());
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let maildir = std::env::temp_dir().join(format!("tollbooth-smtp-{}", tollbooth::secrets::random_hex(6)));
        let child = Command::new(python)
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        SmtpSink { child, port, maildir }
    }

    async fn wait_ready(&self) {
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("aiosmtpd did not start on port {}", self.port);
    }

    /// The raw messages received so far.
    fn messages(&self) -> Vec<String> {
        let Ok(dir) = std::fs::read_dir(self.maildir.join("new")) else { return Vec::new() };
        dir.filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok()).collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.maildir);
    }
}

async fn alert_mail_reaches_a_local_smtp_server(engine: Engine) {
    let sink = SmtpSink::start();
    sink.wait_ready().await;
    let url = format!("smtp://127.0.0.1:{}", sink.port);
    let Some(app) = spawn_app_with(engine, |c| c.smtp_url = Some(url.parse().unwrap())).await else { return };
    let (org_id, auth) = org(&app, "Acme", "owner@acme.example").await;
    let (status, _) = send(&app, Method::PUT, "/api/v1/alert-settings", &auth, Some(json!({
        "email_enabled": true, "spike_enabled": true, "spike_percent": 200, "spike_min_usd": "1",
        "error_rate_percent": 5, "error_min_requests": 20, "latency_p95_ms": null,
        "notify_owners": true, "notify_admins": true, "extra_recipients": ["finance@acme.example"]
    }))).await;
    assert_eq!(status, StatusCode::OK);
    // The extra address is asked first; it confirms through its link.
    let asked = eventually("the confirmation mail at the SMTP server", || {
        let m = sink.messages();
        async move { (m.len() == 1).then_some(m) }
    }).await;
    assert!(asked[0].contains("To: finance@acme.example") && asked[0].contains("Confirm alert mail"), "{}", asked[0]);
    let token = confirmation_token(&app, &org_id, "finance@acme.example").await;
    let resp = app.client.get(app.url(&format!("/alerts/confirm/{token}"))).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    send(&app, Method::POST, "/api/v1/budgets", &auth,
        Some(json!({"name": "Org monthly", "scope": "organization", "period": "monthly", "amount_usd": "1.00", "thresholds": [80]}))).await;
    ingest(&app, &auth, 90_000, "web").await;
    let got = eventually("three mails at the SMTP server", || {
        let m = sink.messages();
        async move { (m.len() >= 3).then_some(m) }
    }).await;
    assert_eq!(got.len(), 3, "the confirmation, then the alert to the owner and the extra address, once each");
    let got: Vec<String> = got.into_iter().filter(|m| m.contains("Budget threshold")).collect();
    let all = got.join("\n");
    assert!(all.contains("To: owner@acme.example") && all.contains("To: finance@acme.example"), "{all}");
    assert!(all.contains("Subject: [Tollbooth] Acme: Budget threshold"), "{all}");
    assert!(all.contains("reached 80%"), "{all}");
    let states = eventually("sent states", || {
        let db = app.test_db.db.clone();
        let org_id = org_id.clone();
        async move {
            let m = outbox::list_mail(&db, Some(&org_id), 10).await.unwrap();
            m.iter().all(|m| m.state == "sent").then_some(m)
        }
    }).await;
    assert_eq!(states.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_mail_reaches_a_local_smtp_server_sqlite() {
    alert_mail_reaches_a_local_smtp_server(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_mail_reaches_a_local_smtp_server_postgres() {
    alert_mail_reaches_a_local_smtp_server(Engine::Postgres).await;
}
