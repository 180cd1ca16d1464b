//! Issue 15, accounts over HTTP: throttled guessing (login and invites),
//! signup limits, the client IP behind proxies, and the neutral invite page.

use reqwest::StatusCode;
use serde_json::Value;
use tollbooth::accounts::throttle::MAX_FAILURES_PER_EMAIL;
use tollbooth::accounts::BAD_CREDENTIALS;
use tollbooth::audit::AuditFilter;
use tollbooth::db::Engine;

use crate::app_test;
use crate::helpers::{spawn_app_with, TestApp, PASSWORD};

/// An invite of `email` to a Team organization owned by `owner@example.com`; its token.
async fn invite(app: &TestApp, email: &str) -> String {
    let owner = app.fresh_client();
    let org = app.signup(&owner, "owner@example.com", "Inviting").await;
    let mut tx = app.test_db.db.begin().await.unwrap();
    tollbooth::plans::assign_plan(&mut tx, &org, "team").await.unwrap();
    tx.commit().await.unwrap();
    let resp = app.server_fn(&owner, "invite_member", &[("org_id", &org), ("email", email), ("role", "member")]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    body["link"].as_str().and_then(|l| l.rsplit('/').next()).expect("invite link").to_string()
}

/// The failed `auth.login` entries, newest first.
async fn failed_logins(app: &TestApp) -> Vec<tollbooth::audit::AuditEntryView> {
    let f = AuditFilter { action: "auth.login".into(), result: "failure".into(), ..Default::default() };
    tollbooth::audit::list(&app.test_db.db, None, &f, "UTC", 100).await.unwrap()
}

fn client_with_header(name: &'static str, value: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(name, value.parse().unwrap());
    reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).default_headers(headers).build().unwrap()
}

app_test! {
    async fn twenty_parallel_wrong_logins_get_at_most_five_answers_and_the_rest_429(app) {
        app.signup(&app.fresh_client(), "ada@example.com", "E").await;
        let calls = (0..20).map(|_| {
            let client = app.fresh_client();
            let app = &app;
            async move {
                let resp = app.server_fn(&client, "login", &[("email", "ada@example.com"), ("password", "wrong-password")]).await;
                let status = resp.status();
                (status, resp.json::<Value>().await.unwrap_or(Value::Null))
            }
        });
        let answers = futures::future::join_all(calls).await;
        let checked = answers.iter().filter(|(s, b)| *s == StatusCode::UNAUTHORIZED && b["message"] == BAD_CREDENTIALS).count();
        let throttled = answers.iter().filter(|(s, _)| *s == StatusCode::TOO_MANY_REQUESTS).count();
        println!("20 parallel wrong logins: {checked} answered '{BAD_CREDENTIALS}', {throttled} throttled");
        assert!(checked <= MAX_FAILURES_PER_EMAIL as usize, "{checked} guesses were checked: {answers:?}");
        assert_eq!(checked + throttled, 20, "{answers:?}");
    }

    async fn guessing_an_accounts_password_through_an_invite_is_throttled_and_audited(app) {
        let victim = app.fresh_client();
        app.signup(&victim, "victim@example.com", "Victim's").await;
        let token = invite(&app, "victim@example.com").await;
        let guesser = app.fresh_client();
        for _ in 0..MAX_FAILURES_PER_EMAIL {
            let resp = app.server_fn(&guesser, "accept_invite", &[("token", &token), ("password", "a-wrong-guess")]).await;
            assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        }
        // The right password is refused too now, and login is throttled alike.
        let resp = app.server_fn(&guesser, "accept_invite", &[("token", &token), ("password", PASSWORD)]).await;
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(resp.headers().get("retry-after").is_some());
        let resp = app.server_fn(&app.fresh_client(), "login", &[("email", "victim@example.com"), ("password", PASSWORD)]).await;
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);

        let log = failed_logins(&app).await;
        let via_invite: Vec<_> = log.iter().filter(|e| e.details.contains("\"via\":\"invite\"")).collect();
        assert_eq!(via_invite.len(), MAX_FAILURES_PER_EMAIL as usize + 1, "{log:?}");
        for e in via_invite {
            assert_eq!((e.actor_label.as_str(), e.actor_id.as_deref(), e.ip.as_deref()), ("victim@example.com", None, Some("127.0.0.1")));
        }
    }

    async fn the_invite_preview_and_page_do_not_tell_whether_an_account_exists(app) {
        app.signup(&app.fresh_client(), "known@example.com", "Known").await;
        let token = invite(&app, "known@example.com").await;
        let resp = app.server_fn(&app.fresh_client(), "get_invite", &[("token", &token)]).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let preview: Value = resp.json().await.unwrap();
        assert_eq!(preview["email"], "known@example.com");
        assert!(preview.get("account_exists").is_none(), "{preview}");
        let html = app.fresh_client().get(app.url(&format!("/invite/{token}"))).send().await.unwrap().text().await.unwrap();
        assert!(html.contains("your existing account&#x27;s, or a new one") || html.contains("your existing account's, or a new one"), "{html}");
        assert!(!html.contains("Enter the password of your account") && !html.contains("Choose a password for your new account"));
    }

    async fn a_spoofed_x_forwarded_for_is_ignored_without_trusted_proxies(app) {
        let spoofer = client_with_header("x-forwarded-for", "203.0.113.9");
        let resp = app.server_fn(&spoofer, "login", &[("email", "nobody@example.com"), ("password", "wrong-password")]).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        let log = failed_logins(&app).await;
        assert_eq!(log[0].ip.as_deref(), Some("127.0.0.1"), "{log:?}");
    }
}

async fn duplicate_signups_are_neutral_and_signups_per_ip_are_limited(engine: Engine) {
    let Some(app) = spawn_app_with(engine, |c| c.signups_per_ip_per_hour = 3).await else { return };
    app.signup(&app.fresh_client(), "ada@example.com", "First").await;
    let resp = app.server_fn(&app.fresh_client(), "signup", &[("email", "ADA@example.com"), ("password", PASSWORD), ("org_name", "Second")]).await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    let message = resp.json::<Value>().await.unwrap()["message"].as_str().unwrap_or_default().to_lowercase();
    assert!(!message.contains("exist") && !message.contains("already") && !message.contains("taken"), "{message}");
    app.signup(&app.fresh_client(), "bob@example.com", "Third").await;
    // The fourth attempt from this IP within the hour (failures count too).
    let resp = app.server_fn(&app.fresh_client(), "signup", &[("email", "cy@example.com"), ("password", PASSWORD), ("org_name", "Fourth")]).await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(resp.headers().get("retry-after").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_signups_are_neutral_and_signups_per_ip_are_limited_sqlite() {
    duplicate_signups_are_neutral_and_signups_per_ip_are_limited(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_signups_are_neutral_and_signups_per_ip_are_limited_postgres() {
    duplicate_signups_are_neutral_and_signups_per_ip_are_limited(Engine::Postgres).await;
}

async fn x_forwarded_for_from_a_trusted_proxy_names_the_client(engine: Engine) {
    let Some(app) = spawn_app_with(engine, |c| c.trusted_proxies = "127.0.0.1".into()).await else { return };
    // The client wrote the first hop; the proxy (trusted) appended the second.
    let proxied = client_with_header("x-forwarded-for", "198.51.100.1, 203.0.113.9");
    let resp = app.server_fn(&proxied, "login", &[("email", "nobody@example.com"), ("password", "wrong-password")]).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let log = failed_logins(&app).await;
    assert_eq!(log[0].ip.as_deref(), Some("203.0.113.9"), "{log:?}");
    // The throttle counts that IP, not the proxy's.
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM throttle_attempts WHERE throttle_key = 'ip:203.0.113.9'")
        .fetch_one(app.test_db.db.reader())
        .await
        .unwrap();
    assert_eq!(n, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x_forwarded_for_from_a_trusted_proxy_names_the_client_sqlite() {
    x_forwarded_for_from_a_trusted_proxy_names_the_client(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x_forwarded_for_from_a_trusted_proxy_names_the_client_postgres() {
    x_forwarded_for_from_a_trusted_proxy_names_the_client(Engine::Postgres).await;
}
