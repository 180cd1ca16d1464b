//! A product's own audit entries (`/api/v1/audit-events`) and the platform
//! admin's limits API (`/api/admin/tenants/{id}/limits`).

use reqwest::StatusCode;
use serde_json::{json, Value};
use tollbooth::api_keys::{NewKey, Scope, Scopes};
use tollbooth_server::cli::create_org;

use crate::app_test;
use crate::helpers::TestApp;

async fn key_with(app: &TestApp, org_id: &str, scopes: &[Scope]) -> String {
    let new = NewKey { name: "product", rate_limit_per_minute: None, scopes: Scopes::of(scopes).unwrap(), model_allowlist: None };
    tollbooth::api_keys::create_for_org(&app.test_db.db, org_id, &new, &tollbooth::audit::By::system("test")).await.unwrap().secret
}

async fn post(app: &TestApp, key: &str, body: Value) -> (StatusCode, Value) {
    let r = app.client.post(app.url("/api/v1/audit-events")).bearer_auth(key).json(&body).send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn get(app: &TestApp, key: &str, query: &str) -> (StatusCode, Value) {
    let r = app.client.get(app.url(&format!("/api/v1/audit-events{query}"))).bearer_auth(key).send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn actions(page: &Value) -> Vec<String> {
    page["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap().to_string()).collect()
}

app_test! {
    async fn a_product_writes_app_entries_into_the_chain_once_per_id_and_reads_its_trail(app) {
        let db = &app.test_db.db;
        let acme = create_org(db, &app.config, "Acme", "owner@acme.test", None).await.unwrap();
        let other = create_org(db, &app.config, "Other", "owner@other.test", None).await.unwrap();
        let writer = key_with(&app, &acme.org_id, &[Scope::Ingest]).await;
        let reader = key_with(&app, &acme.org_id, &[Scope::Read]).await;

        let one = json!({"id": "kb-77", "action": "app.kb.uploaded", "target": "doc 77", "details": {"bytes": 1200},
                         "actor_label": "ana@customer.test", "user_id": "u-9", "ip": "203.0.113.9", "user_agent": "acme-web/2"});
        let (status, body) = post(&app, &writer, one.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!((body["recorded"].as_u64(), body["duplicates"].as_u64()), (Some(1), Some(0)));
        let first = body["results"][0]["entry_id"].as_str().unwrap().to_string();
        // The same id again: not written twice, the first entry named.
        let (status, body) = post(&app, &writer, one).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["results"][0], json!({"id": "kb-77", "status": "duplicate", "entry_id": first}));

        // A batch, and what is refused (nothing of a refused batch is written).
        let batch = json!({"events": [
            {"action": "app.config.branding_updated", "result": "success"},
            {"action": "app.error.api", "result": "failure", "details": {"code": 502}},
            {"action": "app.kb.deleted", "result": "denied"},
        ]});
        let (status, body) = post(&app, &writer, batch).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["recorded"], 3);
        for (bad, field) in [
            (json!({"action": "plan.change"}), "action"),
            (json!({"action": "trial.extend", "details": {}}), "action"),
            (json!({"events": [{"action": "app.ok"}, {"action": "api_key.revoke"}]}), "action"),
            (json!({"action": "app.x", "result": "maybe"}), "result"),
            (json!({"action": "app.x", "details": "text"}), "details"),
            (json!({"action": "app.x", "details": {"blob": "x".repeat(5000)}}), "details"),
            (json!({"events": []}), "events"),
            (json!([{"action": "app.x"}]), "body"),
        ] {
            let (status, body) = post(&app, &writer, bad.clone()).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
            assert_eq!(body["error"]["field"], field, "{bad}: {body}");
        }
        let (status, body) = post(&app, &writer, json!({"events": [{"action": "app.ok"}, {"action": "app.forged", "colour": "red"}]})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(body["error"]["message"].as_str().unwrap().contains("events[1]"), "{body}");

        // The trail: app entries beside the system's, newest first, paged.
        let (status, page) = get(&app, &reader, "?action=app.&limit=2").await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(actions(&page), ["app.kb.deleted", "app.error.api"]);
        let before = page["next_before"].as_i64().expect("a next page");
        let (_, page2) = get(&app, &reader, &format!("?action=app.&limit=2&before={before}")).await;
        assert_eq!(actions(&page2), ["app.config.branding_updated", "app.kb.uploaded"]);
        assert!(page2["next_before"].is_null(), "the last page: {page2}");
        let (_, page3) = get(&app, &reader, &format!("?action=app.&limit=2&before={}", page2["entries"][1]["seq"].as_i64().unwrap())).await;
        assert!(actions(&page3).is_empty() && page3["next_before"].is_null(), "{page3}");
        let uploaded = &page2["entries"][1];
        assert_eq!((uploaded["actor_kind"].as_str(), uploaded["actor_label"].as_str()), (Some("api_key"), Some("ana@customer.test")));
        assert_eq!((uploaded["target"].as_str(), uploaded["ip"].as_str(), uploaded["user_agent"].as_str()), (Some("doc 77"), Some("203.0.113.9"), Some("acme-web/2")));
        let details: Value = serde_json::from_str(uploaded["details"].as_str().unwrap()).unwrap();
        assert_eq!(details, json!({"details": {"bytes": 1200}, "user_id": "u-9", "key_name": "product", "id": "kb-77"}));
        let (_, failures) = get(&app, &reader, "?result=failure").await;
        assert_eq!(actions(&failures), ["app.error.api"]);
        let (_, all) = get(&app, &reader, "").await;
        assert!(actions(&all).iter().any(|a| a == "api_key.create"), "system entries too: {all}");
        for bad in ["?limit=0", "?limit=501", "?before=0", "?result=maybe", "?colour=red"] {
            let (status, body) = get(&app, &reader, bad).await;
            assert!(status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::BAD_REQUEST, "{bad}: {status} {body}");
        }

        // Scopes: writing needs ingest, reading needs read.
        assert_eq!(post(&app, &reader, json!({"action": "app.x"})).await.0, StatusCode::FORBIDDEN);
        assert_eq!(get(&app, &writer, "").await.0, StatusCode::FORBIDDEN);
        // Another organization sees none of it.
        let other_reader = key_with(&app, &other.org_id, &[Scope::Read]).await;
        let (_, theirs) = get(&app, &other_reader, "?action=app.").await;
        assert!(actions(&theirs).is_empty(), "{theirs}");
        // The same id is another organization's own.
        let other_writer = key_with(&app, &other.org_id, &[Scope::Ingest]).await;
        assert_eq!(post(&app, &other_writer, json!({"id": "kb-77", "action": "app.kb.uploaded"})).await.0, StatusCode::CREATED);

        // The chain verifies with the app entries in it.
        let (checked, broken) = tollbooth::audit::verify(db).await.unwrap();
        assert!(broken.is_none(), "{broken:?}");
        assert!(checked >= 5);
    }

    async fn platform_admins_set_and_clear_a_tenants_limits_over_rest(app) {
        use reqwest::Method;
        let db = &app.test_db.db;
        let root = tollbooth::accounts::create_admin(db, "root@example.com", Some("correct horse battery")).await.unwrap().user;
        let token = tollbooth::admin::create_token(db, &root, "ci").await.unwrap().secret;
        let acme = create_org(db, &app.config, "Acme", "owner@acme.test", None).await.unwrap();
        let path = format!("/api/admin/tenants/{}/limits", acme.org_id);
        let tokens_month = |body: &Value| body["limits"].as_array().unwrap().iter().find(|l| l["metric"] == "tokens" && l["period"] == "month").cloned();

        let (status, body) = app.call(Method::GET, &path, &token, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["tenant_id"], acme.org_id.as_str());
        assert!(body["plan"].is_string() && body["limits"].is_array());

        let (status, body) = app.call(Method::PUT, &path, &token, Some(json!({"metric": "tokens", "period": "month", "limit": 50000}))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let l = tokens_month(&body).expect("the tokens/month line");
        assert_eq!(l["override"], json!({"limit": 50000, "hard": true, "overage_usd": null}));
        assert_eq!(l["effective"]["limit"], 50000);
        let plan = tollbooth::plans::org_plan(db, &acme.org_id).await.unwrap();
        assert_eq!(plan.limit(tollbooth::plans::Metric::Tokens, tollbooth::plans::Period::Month).map(|l| l.value), Some(50000));

        // Cost in USD as a string; null: unlimited.
        let (status, body) = app.call(Method::PUT, &path, &token, Some(json!({"metric": "cost_usd", "period": "month", "limit": "12.50", "hard": false}))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let cost = body["limits"].as_array().unwrap().iter().find(|l| l["metric"] == "cost_usd" && l["period"] == "month").unwrap().clone();
        assert_eq!((cost["override"]["limit"].as_str(), cost["override"]["hard"].as_bool()), (Some("12.500000000"), Some(false)));
        let (_, body) = app.call(Method::PUT, &path, &token, Some(json!({"metric": "tokens", "period": "month", "limit": null}))).await;
        let l = tokens_month(&body).unwrap();
        assert!(l["override"].is_null() && l.get("override").is_some() && l["effective"].is_null(), "overridden to unlimited: {l}");

        for (bad, field) in [
            (json!({"metric": "tokens", "period": "month"}), "limit"),
            (json!({"metric": "tokens", "period": "month", "limit": -5}), "limit"),
            (json!({"metric": "bananas", "period": "month", "limit": 5}), "metric"),
            (json!({"metric": "tokens", "period": "fortnight", "limit": 5}), "period"),
            (json!({"metric": "tokens", "period": "month", "limit": [5]}), "limit"),
        ] {
            let (status, body) = app.call(Method::PUT, &path, &token, Some(bad.clone())).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
            assert_eq!(body["error"]["field"], field, "{bad}: {body}");
        }

        let (status, body) = app.call(Method::DELETE, &format!("{path}?metric=tokens&period=month"), &token, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(tokens_month(&body).unwrap().get("override").is_none(), "the plan's limit applies again");
        let (status, _) = app.call(Method::DELETE, &format!("{path}?metric=tokens&period=month"), &token, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, body) = app.call(Method::DELETE, &path, &token, None).await;
        assert_eq!((status, body["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("metric")));

        // Audited as the drill-down's changes are, with the admin as actor.
        let f = tollbooth::audit::AuditFilter { action: "plan.".into(), ..Default::default() };
        let log = tollbooth::audit::list(db, Some(&acme.org_id), &f, "UTC", 10).await.unwrap();
        let seen: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(seen, ["plan.override_clear", "plan.override_set", "plan.override_set", "plan.override_set"]);
        assert!(log.iter().all(|e| e.actor_label == "root@example.com"));

        // Only a live admin token; an unknown tenant is 404.
        let (status, _) = app.call(Method::GET, &path, &acme.api_key, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, _) = app.call(Method::GET, "/api/admin/tenants/0190a0a0-0000-7000-8000-000000000000/limits", &token, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}
