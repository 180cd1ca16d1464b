//! Suspension, the platform admin REST API (`/api/admin`), and what a
//! platform admin reads of an organization in the drill-down.

use reqwest::StatusCode;
use serde_json::{json, Value};
use tollbooth::accounts::UserView;
use tollbooth_server::cli::create_org;

use crate::app_test;
use crate::helpers::{TestApp, PASSWORD};

async fn admin(app: &TestApp) -> UserView {
    tollbooth::accounts::create_admin(&app.test_db.db, "root@example.com", Some("correct horse battery")).await.unwrap().user
}

async fn get(app: &TestApp, path: &str, token: Option<&str>) -> (StatusCode, Value) {
    let mut req = app.client.get(app.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

app_test! {
    async fn a_suspended_organizations_keys_get_403_until_it_is_reactivated(app) {
        let db = &app.test_db.db;
        let root = admin(&app).await;
        let acme = create_org(db, &app.config, "Acme", "owner@acme.test", None).await.unwrap();
        let other = create_org(db, &app.config, "Other", "owner@other.test", None).await.unwrap();
        tollbooth::orgs::suspend(db, &root, &acme.org_id, "unpaid invoices", Default::default()).await.unwrap();
        assert!(tollbooth::orgs::suspension(db, &acme.org_id).await.unwrap().is_some());

        let (status, body) = app.get_me(Some(&format!("Bearer {}", acme.api_key))).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(body["error"]["code"], "suspended");
        assert_eq!(
            body["error"]["message"],
            "This organization is suspended: unpaid invoices. Contact your platform administrator."
        );
        let ingest = app
            .client
            .post(app.url("/api/v1/events"))
            .bearer_auth(&acme.api_key)
            .json(&json!({"model": "gpt-4o", "input_tokens": 10, "output_tokens": 5}))
            .send()
            .await
            .unwrap();
        assert_eq!(ingest.status(), StatusCode::FORBIDDEN);
        let (status, _) = app.get_me(Some(&format!("Bearer {}", other.api_key))).await;
        assert_eq!(status, StatusCode::OK, "another organization is unaffected");

        // The two refused calls are one access.denied entry with a count
        // (two if the minute turned between them), written by the server.
        tollbooth::audit::flush_refusals(&app.server_db, tollbooth::clock::now_ms(), true).await.unwrap();
        let f = tollbooth::audit::AuditFilter { action: "access.denied".into(), ..Default::default() };
        let denied = tollbooth::audit::list(db, Some(&acme.org_id), &f, "UTC", 10).await.unwrap();
        let counts: Vec<u64> = denied.iter().map(|e| serde_json::from_str::<Value>(&e.details).unwrap()["count"].as_u64().unwrap()).collect();
        assert_eq!(counts.iter().sum::<u64>(), 2, "{denied:?}");
        assert!(denied.iter().all(|e| e.result == "denied" && e.target.as_deref().is_some_and(|t| t.starts_with("api_key "))));

        tollbooth::orgs::reactivate(db, &root, &acme.org_id, Default::default()).await.unwrap();
        let (status, _) = app.get_me(Some(&format!("Bearer {}", acme.api_key))).await;
        assert_eq!(status, StatusCode::OK);

        let log = tollbooth::audit::list(db, Some(&acme.org_id), &Default::default(), "UTC", 10).await.unwrap();
        assert!(log.iter().any(|e| e.action == "admin.suspend"));
        assert!(log.iter().any(|e| e.action == "admin.reactivate"));
        let member = UserView { is_platform_admin: false, ..root.clone() };
        assert_eq!(tollbooth::orgs::suspend(db, &member, &acme.org_id, "x", Default::default()).await.unwrap_err().status_code(), 403);
    }

    // Found by schemathesis: a query string the extractor refused (a
    // repeated parameter) was answered in plain text, not the JSON error.
    async fn a_bad_admin_query_string_is_a_json_400_naming_the_parameter(app) {
        let root = admin(&app).await;
        let token = tollbooth::admin::create_token(&app.test_db.db, &root, "ci").await.unwrap().secret;
        for (path, name) in [("/api/admin/tenants?trialing=true&trialing=false", "trialing"), ("/api/admin/usage?startDate=2026-01-01&startDate=2026-01-02", "startDate")] {
            let (status, body) = get(&app, path, Some(&token)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
            assert_eq!(body["error"]["code"], "invalid", "{path}: {body}");
            assert!(body["error"]["message"].as_str().unwrap().contains(name), "{path}: {body}");
        }
    }

    async fn admin_api_needs_a_live_admin_token(app) {
        let db = &app.test_db.db;
        let root = admin(&app).await;
        create_org(db, &app.config, "Acme", "owner@acme.test", None).await.unwrap();
        let wrong = format!("tb_admin_{}", "0".repeat(48));
        for token in [None, Some("tb_live_nope"), Some(wrong.as_str())] {
            let (status, body) = get(&app, "/api/admin/tenants", token).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{token:?}");
            assert_eq!(body["error"]["code"], "unauthorized");
        }
        let not_admin = UserView { id: "x".into(), email: "m@acme.test".into(), is_platform_admin: false };
        assert_eq!(tollbooth::admin::create_token(db, &not_admin, "ci").await.unwrap_err().status_code(), 403);

        let made = tollbooth::admin::create_token(db, &root, "ci").await.unwrap();
        assert!(made.secret.starts_with("tb_admin_"));
        let (status, body) = get(&app, "/api/admin/tenants", Some(&made.secret)).await;
        assert_eq!(status, StatusCode::OK);
        let t = &body["tenants"][0];
        assert_eq!(t["name"], "Acme");
        assert_eq!(t["status"], "active");
        assert_eq!(t["month_cost_usd"], "0.000000000");
        assert_eq!(t["members"], 1);
        assert!(t["plan"].is_string() && t["created_at"].is_string() && t["id"].is_string());
        let (_, body) = get(&app, "/api/admin/tenants?search=nomatch", Some(&made.secret)).await;
        assert_eq!(body["tenants"].as_array().unwrap().len(), 0);

        tollbooth::admin::revoke_token(db, &root, &made.token.id).await.unwrap();
        let (status, _) = get(&app, "/api/admin/tenants", Some(&made.secret)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }

    async fn admin_usage_reports_series_and_top_consumers_and_names_bad_parameters(app) {
        let db = &app.test_db.db;
        let root = admin(&app).await;
        let acme = create_org(db, &app.config, "Acme", "owner@acme.test", None).await.unwrap();
        let token = tollbooth::admin::create_token(db, &root, "ci").await.unwrap().secret;
        let sent = app
            .client
            .post(app.url("/api/v1/events"))
            .bearer_auth(&acme.api_key)
            .json(&json!({"model": "gpt-4o", "input_tokens": 1000, "output_tokens": 500}))
            .send()
            .await
            .unwrap();
        assert_eq!(sent.status(), StatusCode::OK);

        let (status, body) = get(&app, "/api/admin/usage?metric=tokens", Some(&token)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["series"].as_array().unwrap().len(), 30);
        assert_eq!(body["total"], 1500);
        assert_eq!(body["top_consumers"][0]["tenantId"], acme.org_id.as_str());
        assert_eq!(body["top_consumers"][0]["value"], 1500);

        let (status, body) = get(&app, &format!("/api/admin/usage?tenantId={}&period=monthly", acme.org_id), Some(&token)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body["total"].is_string(), "cost is an exact string: {body}");
        assert!(body.get("top_consumers").is_none());

        for (query, field) in [("metric=bytes", "metric"), ("period=hourly", "period"), ("startDate=yesterday", "startDate"), ("endDate=2026-13-01", "endDate")] {
            let (status, body) = get(&app, &format!("/api/admin/usage?{query}"), Some(&token)).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
            assert_eq!(body["error"]["field"], field, "{query}");
        }
        let (status, _) = get(&app, "/api/admin/usage?tenantId=0190aaaa-0000-7000-8000-000000000000", Some(&token)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        let now = tollbooth::clock::now_ms();
        let s = tollbooth::admin::summary(db, now - 86_400_000, now + 86_400_000, tollbooth::admin::Bucket::Daily).await.unwrap();
        assert_eq!(s.tokens.total.as_deref(), Some("1500"));
        assert_eq!(s.active_organizations.total.as_deref(), Some("1"));
        assert_eq!(s.top_by_tokens[0].org_id, acme.org_id);

        // Latency and errors over both organizations, from the day rollups:
        // 18 calls at 100 ms and 2 at 3 s (2 of them errors) beside Acme's one
        // call without a latency.
        let other = create_org(db, &app.config, "Other", "owner@other.test", None).await.unwrap();
        let events: Vec<Value> = (0..20)
            .map(|i| {
                let mut e = json!({"model": "gpt-4o", "input_tokens": 10, "latency_ms": if i < 18 { 100 } else { 3000 }});
                if i % 10 == 0 {
                    e["status"] = json!("error");
                }
                e
            })
            .collect();
        let sent = app.client.post(app.url("/api/v1/events")).bearer_auth(&other.api_key).json(&json!({"events": events})).send().await.unwrap();
        assert_eq!(sent.status(), StatusCode::OK);
        let s = tollbooth::admin::summary(db, now - 86_400_000, now + 86_400_000, tollbooth::admin::Bucket::Daily).await.unwrap();
        assert_eq!(s.api_calls.total.as_deref(), Some("21"));
        assert_eq!(s.avg_latency_ms.total.as_deref(), Some("390"), "(18 × 100 + 2 × 3000) / 20");
        assert_eq!(s.p95_latency_ms.total.as_deref(), Some("3500"), "the 19th of 20 latencies is 3 s, in the bucket up to 3,500 ms");
        assert_eq!(s.error_rate_percent.total.as_deref(), Some("9.52"), "2 errors in 21 calls");
        assert_eq!(s.active_organizations.total.as_deref(), Some("2"));
    }
}

/// Signs `client` in; panics unless the server agrees.
async fn sign_in(app: &TestApp, client: &reqwest::Client, email: &str, password: &str) {
    let resp = app.server_fn(client, "login", &[("email", email), ("password", password)]).await;
    assert_eq!(resp.status(), StatusCode::OK, "login {email}: {}", resp.text().await.unwrap());
}

app_test! {
    async fn a_platform_admin_reads_an_organizations_usage_panel_and_invoice_csv_as_its_members_do(app) {
        let db = &app.test_db.db;
        admin(&app).await;
        let acme = create_org(db, &app.config, "Acme", "owner@acme.test", Some(PASSWORD)).await.unwrap();
        let sent = app
            .client
            .post(app.url("/api/v1/events"))
            .bearer_auth(&acme.api_key)
            .json(&json!({"model": "gpt-4o", "input_tokens": 1000, "output_tokens": 500, "latency_ms": 250}))
            .send()
            .await
            .unwrap();
        assert_eq!(sent.status(), StatusCode::OK);
        let invoice = tollbooth::ids::new_id();
        sqlx::query(
            "INSERT INTO invoices (id, org_id, number, period_start, period_end, plan_code, status, total_cents, created_at, closed_at) \
             VALUES ($1, $2, 'INV-ACME-1', 0, 1, 'starter', 'final', 1250, 0, 1)",
        )
        .bind(&invoice)
        .bind(&acme.org_id)
        .execute(db.writer())
        .await
        .unwrap();

        let owner = app.fresh_client();
        sign_in(&app, &owner, "owner@acme.test", PASSWORD).await;
        let root = app.fresh_client();
        sign_in(&app, &root, "root@example.com", "correct horse battery").await;
        let stranger = app.fresh_client();
        app.signup(&stranger, "someone@else.test", "Else").await;

        // The same panel and limits, to the figure; a non-member who is not an admin gets 404.
        let panel = |client: &reqwest::Client| {
            let body = json!({"org_id": acme.org_id, "query": {"range": "7d"}});
            client.post(app.url("/api/usage_panel")).header("Accept", "application/json").header("Origin", app.origin()).json(&body).send()
        };
        let (as_owner, as_admin) = (panel(&owner).await.unwrap(), panel(&root).await.unwrap());
        assert_eq!((as_owner.status(), as_admin.status()), (StatusCode::OK, StatusCode::OK));
        let (as_owner, as_admin): (Value, Value) = (as_owner.json().await.unwrap(), as_admin.json().await.unwrap());
        assert_eq!(as_admin, as_owner);
        assert_eq!(as_admin["month"]["input_tokens"], 1000);
        assert_eq!(panel(&stranger).await.unwrap().status(), StatusCode::NOT_FOUND);
        let form = [("org_id", acme.org_id.as_str())];
        let (q_owner, q_admin) = (app.server_fn(&owner, "org_quota", &form).await, app.server_fn(&root, "org_quota", &form).await);
        assert_eq!((q_owner.status(), q_admin.status()), (StatusCode::OK, StatusCode::OK));
        let q_admin: Value = q_admin.json().await.unwrap();
        assert_eq!(q_admin, q_owner.json::<Value>().await.unwrap());
        assert_eq!(q_admin["plan_code"], "starter");
        assert_eq!(app.server_fn(&stranger, "org_quota", &form).await.status(), StatusCode::NOT_FOUND);
        // Reading does not make the admin a member, nor move the admin's current organization.
        assert!(app.whoami(&root).await["current_org"].is_null());

        // The invoice CSV: the same file for the admin as for the owner.
        let path = format!("/o/{}/invoices/{invoice}/csv", acme.org_id);
        let csv = |client: &reqwest::Client| client.get(app.url(&path)).send();
        let (c_owner, c_admin) = (csv(&owner).await.unwrap(), csv(&root).await.unwrap());
        assert_eq!((c_owner.status(), c_admin.status()), (StatusCode::OK, StatusCode::OK));
        assert_eq!(c_admin.headers()["content-type"], "text/csv; charset=utf-8");
        assert_eq!(c_admin.headers()["content-disposition"], "attachment; filename=\"INV-ACME-1.csv\"");
        let (c_owner, c_admin) = (c_owner.text().await.unwrap(), c_admin.text().await.unwrap());
        assert_eq!(c_admin, c_owner);
        assert!(c_admin.starts_with("invoice,period,kind,description,quantity,unit_price_usd,amount_usd\n"), "{c_admin}");
        assert!(c_admin.contains("INV-ACME-1,") && c_admin.contains(",total,Total,,,12.50"), "{c_admin}");
        assert_eq!(csv(&stranger).await.unwrap().status(), StatusCode::NOT_FOUND);
        let other = tollbooth::ids::new_id();
        let missing = root.get(app.url(&format!("/o/{}/invoices/{other}/csv", acme.org_id))).send().await.unwrap();
        assert_eq!(missing.status(), StatusCode::NOT_FOUND, "an unknown invoice");
        assert_eq!(app.fresh_client().get(app.url(&path)).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    }

    async fn a_failed_login_and_a_key_creation_are_audited_with_ip_and_user_agent(app) {
        let client = reqwest::Client::builder().cookie_store(true).user_agent("audit-test/1.0").build().unwrap();
        let org = app.signup(&client, "ada@example.com", "Acme").await;
        let resp = app.server_fn(&client, "create_api_key", &[("org_id", &org), ("name", "ci"), ("scopes", "ingest,read,manage")]).await;
        assert_eq!(resp.status(), StatusCode::OK, "{}", resp.text().await.unwrap());
        let other = app.fresh_client();
        let resp = app.server_fn(&other, "login", &[("email", "ada@example.com"), ("password", "wrong password here")]).await;
        assert!(!resp.status().is_success());

        let db = &app.test_db.db;
        let all = tollbooth::audit::list(db, None, &Default::default(), "UTC", 50).await.unwrap();
        let failed = all.iter().find(|e| e.action == "auth.login" && e.result == "failure").expect("failed login audited");
        assert_eq!(failed.actor_label, "ada@example.com");
        assert!(failed.actor_id.is_none());
        assert!(failed.ip.as_deref().is_some_and(|ip| ip.contains("127.0.0.1")), "{failed:?}");
        assert!(!failed.details.contains("wrong password"));
        let created = all.iter().find(|e| e.action == "api_key.create").expect("key creation audited");
        assert_eq!(created.org_id.as_deref(), Some(org.as_str()));
        assert_eq!(created.actor_label, "ada@example.com");
        assert_eq!(created.user_agent.as_deref(), Some("audit-test/1.0"));
        assert!(created.ip.is_some());
        assert!(all.iter().any(|e| e.action == "auth.signup"));
        assert_eq!(tollbooth::audit::verify(db).await.unwrap().1, None);
    }
}

app_test! {
    async fn member_changes_and_denied_actions_are_audited_with_the_callers_origin(app) {
        let db = &app.test_db.db;
        let owner = app.fresh_client();
        let org = app.signup(&owner, "owner@example.com", "Acme").await;
        let mut tx = db.begin().await.unwrap();
        tollbooth::plans::assign_plan(&mut tx, &org, "team").await.unwrap();
        tx.commit().await.unwrap();
        let resp = app.server_fn(&owner, "invite_member", &[("org_id", &org), ("email", "m@example.com"), ("role", "member")]).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let link: Value = resp.json().await.unwrap();
        let token = link["link"].as_str().and_then(|l| l.rsplit('/').next()).unwrap().to_string();
        let member = app.fresh_client();
        app.signup(&member, "m@example.com", "Elsewhere").await;
        assert_eq!(app.server_fn(&member, "accept_invite", &[("token", &token)]).await.status(), StatusCode::OK);
        let owner_id = app.whoami(&owner).await["user"]["id"].as_str().expect("signed in").to_string();

        // A member may not change roles: 403, and the denial is in the log.
        let resp = app.server_fn(&member, "change_role", &[("org_id", &org), ("user_id", &owner_id), ("role", "member")]).await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        let f = tollbooth::audit::AuditFilter { action: "access.denied".into(), ..Default::default() };
        let mut denied = Vec::new();
        // Written by a task spawned beside the answer: wait for it to land.
        for _ in 0..200 {
            denied = tollbooth::audit::list(db, Some(&org), &f, "UTC", 10).await.unwrap();
            if !denied.is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        assert_eq!(denied.len(), 1, "one access.denied entry");
        let e = &denied[0];
        assert_eq!((e.actor_label.as_str(), e.target.as_deref(), e.result.as_str()), ("m@example.com", Some("/api/change_role"), "denied"));
        assert_eq!(e.ip.as_deref(), Some("127.0.0.1"));
        assert!(e.details.contains("role"), "{}", e.details);

        let f = tollbooth::audit::AuditFilter { action: "member.".into(), ..Default::default() };
        let members = tollbooth::audit::list(db, Some(&org), &f, "UTC", 10).await.unwrap();
        let actions: Vec<(&str, &str)> = members.iter().rev().map(|e| (e.action.as_str(), e.actor_label.as_str())).collect();
        assert_eq!(actions, vec![("member.invite", "owner@example.com"), ("member.join", "m@example.com")]);
        assert!(members.iter().all(|e| e.ip.as_deref() == Some("127.0.0.1")));
    }
}

app_test! {
    async fn a_platform_admins_action_is_audited_with_the_admins_origin(app) {
        let db = &app.test_db.db;
        admin(&app).await;
        let acme = create_org(db, &app.config, "Acme", "owner@acme.test", None).await.unwrap();
        let client = reqwest::Client::builder().cookie_store(true).user_agent("admin-browser/2.0").build().unwrap();
        let login = app.server_fn(&client, "login", &[("email", "root@example.com"), ("password", "correct horse battery")]).await;
        assert_eq!(login.status(), StatusCode::OK);
        let resp = app.server_fn(&client, "admin_suspend_org", &[("org_id", &acme.org_id), ("reason", "chargeback")]).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let resp = app.server_fn(&client, "admin_reactivate_org", &[("org_id", &acme.org_id)]).await;
        assert_eq!(resp.status(), StatusCode::OK);

        let f = tollbooth::audit::AuditFilter { action: "admin.".into(), ..Default::default() };
        let log = tollbooth::audit::list(db, Some(&acme.org_id), &f, "UTC", 10).await.unwrap();
        let got: Vec<(&str, Option<&str>, Option<&str>)> =
            log.iter().rev().map(|e| (e.action.as_str(), e.ip.as_deref(), e.user_agent.as_deref())).collect();
        assert_eq!(
            got,
            vec![("admin.suspend", Some("127.0.0.1"), Some("admin-browser/2.0")), ("admin.reactivate", Some("127.0.0.1"), Some("admin-browser/2.0"))]
        );
        assert!(log.iter().all(|e| e.actor_label == "root@example.com"));
    }
}
