//! Issue 15, sessions over HTTP: hashed ids, the 30-day absolute lifetime,
//! "sign out everywhere", and the password change page.

use std::sync::Arc;

use reqwest::cookie::{CookieStore, Jar};
use reqwest::StatusCode;
use serde_json::Value;
use tollbooth::audit::AuditFilter;
use tollbooth::clock::now_ms;

use crate::app_test;
use crate::helpers::{TestApp, PASSWORD};

const DAY_MS: i64 = 24 * 3600 * 1000;

/// A client whose cookie jar the test can read.
fn client_with_jar() -> (reqwest::Client, Arc<Jar>) {
    let jar = Arc::new(Jar::default());
    let client = reqwest::Client::builder().cookie_provider(jar.clone()).redirect(reqwest::redirect::Policy::none()).build().unwrap();
    (client, jar)
}

/// The session id the client holds.
fn session_id(app: &TestApp, jar: &Jar) -> String {
    let cookies = jar.cookies(&app.url("/").parse().unwrap()).expect("a session cookie");
    let cookies = cookies.to_str().unwrap().to_string();
    cookies
        .split(';')
        .map(str::trim)
        .find_map(|c| c.strip_prefix("tollbooth_session="))
        .expect("the tollbooth_session cookie")
        .to_string()
}

/// Moves the sign-in time stored in the session to `at`, as if it had signed in then.
async fn set_signed_in_at(app: &TestApp, session_id: &str, at: i64) {
    let db = &app.test_db.db;
    let key = tollbooth::secrets::digest(session_id);
    let data: String = sqlx::query_scalar("SELECT data FROM sessions WHERE id = $1").bind(&key).fetch_one(db.reader()).await.unwrap();
    let mut values: Value = serde_json::from_str(&data).unwrap();
    values["signed_in_at"] = at.into();
    sqlx::query("UPDATE sessions SET data = $2 WHERE id = $1").bind(&key).bind(values.to_string()).execute(db.writer()).await.unwrap();
}

async fn signed_in(app: &TestApp, client: &reqwest::Client) -> bool {
    !app.whoami(client).await.is_null()
}

async fn login(app: &TestApp, client: &reqwest::Client, password: &str) -> StatusCode {
    app.server_fn(client, "login", &[("email", "ada@example.com"), ("password", password)]).await.status()
}

app_test! {
    async fn the_sessions_table_holds_no_usable_session_id(app) {
        let (client, jar) = client_with_jar();
        app.signup(&client, "ada@example.com", "Engines").await;
        let id = session_id(&app, &jar);
        let rows: Vec<(String, String)> = sqlx::query_as("SELECT id, data FROM sessions").fetch_all(app.test_db.db.reader()).await.unwrap();
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(rows[0].0, tollbooth::secrets::digest(&id));
        assert!(!rows[0].1.contains(&id), "the data holds the id: {}", rows[0].1);
        // The stored key used as a cookie signs nobody in.
        let thief = app.fresh_client();
        let resp = thief.post(app.url("/api/whoami")).header("Accept", "application/json").header("Origin", app.origin()).header("Cookie", format!("tollbooth_session={}", rows[0].0)).send().await.unwrap();
        assert_eq!(resp.json::<Value>().await.unwrap(), Value::Null);
        assert!(signed_in(&app, &client).await);
    }

    async fn a_session_ends_thirty_days_after_sign_in_however_often_it_is_used(app) {
        let (client, jar) = client_with_jar();
        app.signup(&client, "ada@example.com", "Engines").await;
        let id = session_id(&app, &jar);
        set_signed_in_at(&app, &id, now_ms() - 29 * DAY_MS).await;
        assert!(signed_in(&app, &client).await, "29 days after sign-in, in daily use");
        set_signed_in_at(&app, &id, now_ms() - 31 * DAY_MS).await;
        assert!(!signed_in(&app, &client).await, "31 days after sign-in");
        assert_eq!(login(&app, &client, PASSWORD).await, StatusCode::OK, "signing in again works");
        assert!(signed_in(&app, &client).await);
    }

    async fn signing_out_everywhere_ends_every_session_of_the_user(app) {
        let here = app.fresh_client();
        let org = app.signup(&here, "ada@example.com", "Engines").await;
        let there = app.fresh_client();
        assert_eq!(login(&app, &there, PASSWORD).await, StatusCode::OK);
        let other_user = app.fresh_client();
        app.signup(&other_user, "bob@example.com", "Other").await;

        let resp = app.server_fn(&here, "logout_everywhere", &[]).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(!signed_in(&app, &here).await, "this session ends");
        assert!(!signed_in(&app, &there).await, "the other session ends");
        assert!(signed_in(&app, &other_user).await, "another user's session goes on");
        let csv = there.get(app.url(&format!("/o/{org}/usage.csv"))).send().await.unwrap();
        assert_eq!(csv.status(), StatusCode::UNAUTHORIZED, "downloads check the session too");
        assert_eq!(login(&app, &there, PASSWORD).await, StatusCode::OK);
        assert!(signed_in(&app, &there).await, "a new sign-in works");
        let f = AuditFilter { action: "auth.logout_everywhere".into(), ..Default::default() };
        let log = tollbooth::audit::list(&app.test_db.db, None, &f, "UTC", 10).await.unwrap();
        assert_eq!((log.len(), log[0].actor_label.as_str(), log[0].ip.as_deref()), (1, "ada@example.com", Some("127.0.0.1")));
        // Signed out, it answers 401.
        assert_eq!(app.server_fn(&app.fresh_client(), "logout_everywhere", &[]).await.status(), StatusCode::UNAUTHORIZED);
    }

    async fn changing_the_password_keeps_this_session_and_ends_the_others(app) {
        let here = app.fresh_client();
        app.signup(&here, "ada@example.com", "Engines").await;
        let there = app.fresh_client();
        assert_eq!(login(&app, &there, PASSWORD).await, StatusCode::OK);
        let change = |current: &'static str, new: &'static str, confirm: &'static str| {
            [("current_password", current), ("new_password", new), ("confirm_password", confirm)]
        };

        let resp = app.server_fn(&here, "change_password", &change("not-my-password", "brand-new-password", "brand-new-password")).await;
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(resp.text().await.unwrap().contains("current password"));
        let resp = app.server_fn(&here, "change_password", &change(PASSWORD, "brand-new-password", "another-password")).await;
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(signed_in(&app, &there).await, "refused changes end nothing");

        let resp = app.server_fn(&here, "change_password", &change(PASSWORD, "brand-new-password", "brand-new-password")).await;
        assert_eq!(resp.status(), StatusCode::OK, "{}", resp.text().await.unwrap());
        assert!(signed_in(&app, &here).await, "this session stays signed in");
        assert!(!signed_in(&app, &there).await, "the other session ends");
        assert_eq!(login(&app, &there, PASSWORD).await, StatusCode::UNAUTHORIZED);
        assert_eq!(login(&app, &there, "brand-new-password").await, StatusCode::OK);

        let f = AuditFilter { action: "auth.password_change".into(), ..Default::default() };
        let log = tollbooth::audit::list(&app.test_db.db, None, &f, "UTC", 10).await.unwrap();
        let got: Vec<(&str, Option<&str>)> = log.iter().rev().map(|e| (e.result.as_str(), e.ip.as_deref())).collect();
        assert_eq!(got, vec![("failure", Some("127.0.0.1")), ("success", Some("127.0.0.1"))]);
    }

    async fn wrong_current_passwords_are_throttled(app) {
        let here = app.fresh_client();
        app.signup(&here, "ada@example.com", "Engines").await;
        let wrong = [("current_password", "not-my-password"), ("new_password", "brand-new-password"), ("confirm_password", "brand-new-password")];
        for _ in 0..tollbooth::accounts::throttle::MAX_FAILURES_PER_EMAIL {
            assert_eq!(app.server_fn(&here, "change_password", &wrong).await.status(), StatusCode::UNPROCESSABLE_ENTITY);
        }
        let right = [("current_password", PASSWORD), ("new_password", "brand-new-password"), ("confirm_password", "brand-new-password")];
        let resp = app.server_fn(&here, "change_password", &right).await;
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    }

    async fn the_account_page_is_linked_from_the_sidebar_and_the_admin_page(app) {
        let client = app.fresh_client();
        let org = app.signup(&client, "ada@example.com", "Engines").await;
        let html = client.get(app.url("/account")).send().await.unwrap().text().await.unwrap();
        for text in ["Your account", "Current password", "New password, again", "Change password", "Sign out everywhere", "ada@example.com"] {
            assert!(html.contains(text), "/account lacks {text:?}");
        }
        let page = client.get(app.url(&format!("/o/{org}"))).send().await.unwrap().text().await.unwrap();
        assert!(page.contains("href=\"/account\""), "the sidebar links the account page");
        let resp = app.fresh_client().get(app.url("/account")).header("Accept", "text/html").send().await.unwrap();
        assert!(resp.status().is_redirection(), "signed out: {}", resp.status());
        assert_eq!(resp.headers()["location"], "/login");
        tollbooth::accounts::create_admin(&app.test_db.db, "root@example.com", Some(PASSWORD)).await.unwrap();
        let root = app.fresh_client();
        let resp = app.server_fn(&root, "login", &[("email", "root@example.com"), ("password", PASSWORD)]).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let admin = root.get(app.url("/admin")).send().await.unwrap().text().await.unwrap();
        assert!(admin.contains("href=\"/account\""), "the admin page links the account page");
    }
}
