//! Trials over HTTP: the owner's server functions, `GET /api/v1/plan`'s
//! trial field, the platform admin's REST API, and expiry while a
//! reservation is active.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tollbooth::api_keys::{NewKey, Scope, Scopes};
use tollbooth::clock::now_ms;
use tollbooth::trials::DAY_MS;
use tollbooth_server::cli::create_org;

use crate::app_test;
use crate::helpers::TestApp;

async fn key_for(app: &TestApp, org_id: &str) -> String {
    let new = NewKey { name: "product", rate_limit_per_minute: None, scopes: Scopes::of(&[Scope::Ingest, Scope::Read]).unwrap(), model_allowlist: None };
    tollbooth::api_keys::create_for_org(&app.test_db.db, org_id, &new, &tollbooth::audit::By::system("test")).await.unwrap().secret
}

async fn server_fn(app: &TestApp, client: &reqwest::Client, name: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let r = app.server_fn(client, name, form).await;
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn trial_actions(app: &TestApp, org: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT action FROM audit_log WHERE org_id = $1 AND action LIKE 'trial.%' ORDER BY seq")
        .bind(org)
        .fetch_all(app.test_db.db.reader())
        .await
        .unwrap()
}

app_test! {
    async fn an_owner_starts_a_trial_an_admin_extends_it_and_the_api_shows_it_until_it_expires(app) {
        let db = &app.test_db.db;
        let root = tollbooth::accounts::create_admin(db, "root@example.com", Some("correct horse battery")).await.unwrap().user;
        let token = tollbooth::admin::create_token(db, &root, "ci").await.unwrap().secret;
        let owner = app.fresh_client();
        let org = app.signup(&owner, "owner@acme.test", "Acme").await;
        let key = key_for(&app, &org).await;
        let other = create_org(db, &app.config, "Other", "owner@other.test", None).await.unwrap();

        let (status, plan) = app.call(Method::GET, "/api/v1/plan", &key, None).await;
        assert_eq!(status, StatusCode::OK, "{plan}");
        assert!(plan["trial"].is_null() && plan.get("trial").is_some(), "{plan}");

        // The billing page offers the trial; the owner starts it.
        let (status, panel) = server_fn(&app, &owner, "trial_panel", &[("org_id", &org)]).await;
        assert_eq!(status, StatusCode::OK, "{panel}");
        assert_eq!(panel["offer"], json!({"plan_code": "pro", "plan_name": "Pro", "days": 14}));
        let (status, t) = server_fn(&app, &owner, "start_trial", &[("org_id", &org)]).await;
        assert_eq!(status, StatusCode::OK, "{t}");
        assert_eq!((t["plan_code"].as_str(), t["days_left"].as_i64()), (Some("pro"), Some(14)));
        let (status, again) = server_fn(&app, &owner, "start_trial", &[("org_id", &org)]).await;
        assert_eq!(status, StatusCode::CONFLICT, "{again}");

        let (_, plan) = app.call(Method::GET, "/api/v1/plan", &key, None).await;
        assert_eq!(plan["plan_code"], "pro");
        assert_eq!(plan["trial"]["plan"], "pro");
        assert!(plan["trial"]["started_at"].is_string() && plan["trial"]["ends_at"].is_string(), "{plan}");
        let (_, ctx) = server_fn(&app, &owner, "org_context", &[("org_id", &org)]).await;
        assert_eq!((ctx["trial"]["kind"].as_str(), ctx["trial"]["days_left"].as_i64()), (Some("active"), Some(14)), "{ctx}");

        // The platform admin: a reason is required to extend.
        let extend = format!("/api/admin/tenants/{org}/trial/extend");
        let (status, body) = app.call(Method::POST, &extend, &token, Some(json!({"days": 5}))).await;
        assert_eq!((status, body["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("reason")), "{body}");
        let (status, body) = app.call(Method::POST, &extend, &token, Some(json!({"days": "x", "reason": "r"}))).await;
        assert_eq!((status, body["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("days")), "{body}");
        let (status, body) = app.call(Method::POST, &extend, &token, Some(json!({"days": 5, "reason": "pilot with the data team"}))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["trial"]["days_left"], 19);
        // An API key is not an admin token; the owner's session is not a platform admin's.
        assert_eq!(app.call(Method::POST, &extend, &key, Some(json!({"days": 5, "reason": "x"}))).await.0, StatusCode::UNAUTHORIZED);
        let (status, _) = server_fn(&app, &owner, "admin_extend_trial", &[("org_id", &org), ("days", "5"), ("reason", "x")]).await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        // Any plan and length for another organization.
        let start_other = format!("/api/admin/tenants/{}/trial", other.org_id);
        let (status, body) = app.call(Method::POST, &start_other, &token, Some(json!({"plan": "team", "days": 0}))).await;
        assert_eq!((status, body["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("days")), "{body}");
        let (status, body) = app.call(Method::POST, &start_other, &token, Some(json!({"plan": "starter", "days": 3}))).await;
        assert_eq!((status, body["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("plan")), "{body}");
        let (status, body) = app.call(Method::POST, &start_other, &token, Some(json!({"plan": "team", "days": 3}))).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (status, body) = app.call(Method::POST, &start_other, &token, Some(json!({"plan": "team", "days": 3}))).await;
        assert_eq!((status, body["error"]["field"].as_str()), (StatusCode::CONFLICT, Some("trial")), "{body}");

        // The tenant list filters by trialing; the figures count both.
        let acme_only = create_org(db, &app.config, "Not trialing", "x@y.test", None).await.unwrap();
        let (_, list) = app.call(Method::GET, "/api/admin/tenants?trialing=true", &token, None).await;
        let ids: Vec<&str> = list["tenants"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap()).collect();
        assert!(ids.contains(&org.as_str()) && ids.contains(&other.org_id.as_str()) && !ids.contains(&acme_only.org_id.as_str()), "{list}");
        assert!(list["tenants"][0]["trial_ends_at"].is_string());
        assert_eq!(app.call(Method::GET, "/api/admin/tenants?trialing=maybe", &token, None).await.0, StatusCode::UNPROCESSABLE_ENTITY);
        let (_, stats) = app.call(Method::GET, "/api/admin/trials", &token, None).await;
        assert_eq!(stats["active"], 2, "{stats}");
        assert_eq!(stats["ending_soon"].as_array().unwrap().len(), 1, "Other's ends in 3 days: {stats}");

        // The billing task passes both ends: Starter again, the API says no trial.
        tollbooth::trials::run_due(db, now_ms() + 20 * DAY_MS).await.unwrap();
        let (_, plan) = app.call(Method::GET, "/api/v1/plan", &key, None).await;
        assert_eq!((plan["plan_code"].as_str(), plan["trial"].is_null()), (Some("starter"), true), "{plan}");
        assert_eq!(trial_actions(&app, &org).await, ["trial.start", "trial.extend", "trial.expire"]);
        let (_, body) = app.call(Method::GET, &format!("/api/admin/tenants/{org}/trial"), &token, None).await;
        assert_eq!(body["trial"]["status"], "expired");
        let (status, _) = app.call(Method::DELETE, &format!("/api/admin/tenants/{org}/trial"), &token, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "no active trial to cancel");
    }

    async fn a_trial_that_expires_while_a_reservation_is_active_commits_it_and_then_refuses(app) {
        let db = &app.test_db.db;
        let o = create_org(db, &app.config, "Acme", "owner@acme.test", None).await.unwrap();
        let user: String = sqlx::query_scalar("SELECT user_id FROM memberships WHERE org_id = $1").bind(&o.org_id).fetch_one(db.reader()).await.unwrap();
        let scope = tollbooth::orgs::OrgScope { org_id: o.org_id.clone(), user_id: user, role: tollbooth::orgs::Role::Owner };
        // Started 14 days ago less a minute: it ends in a minute.
        tollbooth::trials::start(db, &scope, &tollbooth::audit::By::system("test"), now_ms() - 14 * DAY_MS + 60_000).await.unwrap();
        let key = o.api_key.clone();
        let (status, r) = app.call(Method::POST, "/api/v1/reservations", &key, Some(json!({"checks": [{"metric": "tokens", "amount": 150000}]}))).await;
        assert_eq!(status, StatusCode::CREATED, "Pro's limits allow it: {r}");
        let id = r["reservation_id"].as_str().unwrap().to_string();

        tollbooth::trials::run_due(db, now_ms() + 120_000).await.unwrap();
        let (_, plan) = app.call(Method::GET, "/api/v1/plan", &key, None).await;
        assert_eq!(plan["plan_code"], "starter");

        let commit = json!({"events": [{"model": "no-such-model", "input_tokens": 100000, "output_tokens": 20000}]});
        let (status, body) = app.call(Method::POST, &format!("/api/v1/reservations/{id}/commit"), &key, Some(commit)).await;
        assert!(status.is_success(), "the reservation made under Pro commits: {status} {body}");
        assert_eq!((body["state"].as_str(), body["recorded"].as_bool()), (Some("committed"), Some(true)), "{body}");
        // Starter's month is used up. (The expiry ran on this test's own
        // handle; a SQLite server's ledger re-reads limits within 5 s, the
        // server's own billing task tells it at once.)
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        loop {
            let (status, body) = app.call(Method::POST, "/api/v1/reservations", &key, Some(json!({"checks": [{"metric": "tokens", "amount": 1}]}))).await;
            if status == StatusCode::TOO_MANY_REQUESTS {
                assert!(body["error"]["message"].as_str().unwrap_or_default().contains("100,000"), "{body}");
                break;
            }
            assert_eq!(status, StatusCode::CREATED, "{body}");
            assert!(std::time::Instant::now() < deadline, "Starter's limit never applied: {body}");
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
}
