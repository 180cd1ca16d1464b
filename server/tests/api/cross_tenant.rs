//! Cross-tenant isolation, table-driven: every server function and every
//! REST route is listed here. For each one that takes an id, a member (or
//! an API key) of organization A gets 404 for organization B's ids.
//!
//! The lists are complete by construction: server functions come from the
//! registry of the running binary, REST routes from the router's source, so
//! adding an endpoint without an entry here fails this test.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tollbooth::alerts::{AlertKind, NewAlert};
use tollbooth::clock::now_ms;
use tollbooth::db::Engine;
use tollbooth_server::cli::create_org;

use crate::helpers::{spawn_app, TestApp};

/// Ids of organization B's things, and A's own org id.
pub(crate) struct Ids {
    pub(crate) org_a: String,
    pub(crate) org_b: String,
    pub(crate) budget: String,
    pub(crate) project: String,
    pub(crate) alert: String,
    pub(crate) endpoint: String,
    pub(crate) key: String,
    pub(crate) member: String,
    pub(crate) invite: String,
    pub(crate) invoice: String,
    pub(crate) reservation: String,
    pub(crate) provider: String,
}

impl Ids {
    pub(crate) fn get(&self, what: Res) -> &str {
        match what {
            Res::Budget => &self.budget,
            Res::Project => &self.project,
            Res::Alert => &self.alert,
            Res::Endpoint => &self.endpoint,
            Res::Key => &self.key,
            Res::Member => &self.member,
            Res::Invite => &self.invite,
            Res::Invoice => &self.invoice,
            Res::Reservation => &self.reservation,
            Res::Provider => &self.provider,
        }
    }
}

/// Kinds of B's resources.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Res {
    Budget,
    Project,
    Alert,
    Endpoint,
    Key,
    Member,
    Invite,
    Invoice,
    Reservation,
    /// A provider connection's name (names are per organization).
    Provider,
}

/// How a server function is checked.
pub(crate) enum Fn {
    /// Takes an organization id (plus other, non-id arguments): B's org id → 404.
    Org(&'static [(&'static str, &'static str)]),
    /// Takes an organization id and the id of one of its things (field name):
    /// B's org id → 404, and A's org id with B's thing → 404.
    OrgAnd(&'static str, Res, &'static [(&'static str, &'static str)]),
    /// Like `Org`, for a JSON-encoded function: the other arguments as JSON.
    OrgJson(&'static str),
    /// Like `AdminOnly`, for a JSON-encoded function.
    AdminJson(&'static str),
    /// Platform admins only: a member gets 403 (admins may act on every organization).
    AdminOnly(&'static [(&'static str, &'static str)]),
    /// Takes no id of an organization's things (why).
    NoId(&'static str),
}

const BUDGET_FIELDS: &[(&str, &str)] = &[("scope", "organization"), ("period", "monthly"), ("amount_usd", "5")];
const PRICES: &[(&str, &str)] = &[("model", "gpt-4o"), ("name", "m"), ("provider", "p"), ("mode", "chat"), ("effective_from", ""), ("prices[input]", ""), ("prices[output]", ""), ("prices[cache_read]", ""), ("prices[cache_write]", ""), ("prices[reasoning]", ""), ("prices[input_per_image]", ""), ("prices[output_per_image]", ""), ("prices[input_per_second]", ""), ("prices[output_per_second]", ""), ("prices[per_request]", ""), ("prices[per_query]", ""), ];
const PLAN: &[(&str, &str)] = &[("plan[code]", "pro"), ("plan[name]", "Pro"), ("plan[description]", ""), ("plan[monthly_price_usd]", "1"), ("plan[is_public]", "true"), ("plan[sort_order]", "1")];
const ALERT_SETTINGS: &[(&str, &str)] =
    &[("spike_percent", "200"), ("spike_min_usd", "1"), ("error_rate_percent", "5"), ("error_min_requests", "20")];

/// Every server function, by endpoint name.
pub(crate) fn server_fns() -> Vec<(&'static str, Fn)> {
    use Fn::*;
    vec![
        ("whoami", NoId("the signed-in user")),
        ("signup", NoId("creates a new organization")),
        ("login", NoId("credentials")),
        ("logout", NoId("the session")),
        ("logout_everywhere", NoId("the signed-in user's own sessions")),
        ("change_password", NoId("the signed-in user's own password")),
        ("get_invite", NoId("a secret token, not an id")),
        ("accept_invite", NoId("a secret token, not an id")),
        ("org_context", Org(&[])),
        ("org_quota", Org(&[])),
        ("update_org", Org(&[("name", "pwned"), ("time_zone", "UTC")])),
        ("embed_origins", Org(&[])),
        ("update_embed_origins", Org(&[("origins", "https://evil.example")])),
        ("list_plans", Org(&[])),
        ("usage_panel", OrgJson(r#"{"query": {"range": "7d"}}"#)),
        ("usage_pulse", Org(&[])),
        ("spend_projection", Org(&[])),
        ("usage_breakdown", OrgJson(r#"{"query": {"range": "7d"}, "dimension": "User"}"#)),
        ("list_projects", Org(&[])),
        ("create_project", Org(&[("name", "x"), ("slug", "x")])),
        ("set_project_archived", OrgAnd("project_id", Res::Project, &[("archived", "true")])),
        ("list_api_keys", Org(&[])),
        ("create_api_key", Org(&[("name", "x"), ("scopes", "ingest,read,manage")])),
        ("revoke_api_key", OrgAnd("key_id", Res::Key, &[])),
        ("set_api_key_scopes", OrgAnd("key_id", Res::Key, &[("scopes", "read")])),
        ("set_api_key_models", OrgAnd("key_id", Res::Key, &[("models", "gpt-4o*")])),
        ("list_members", Org(&[])),
        ("change_role", OrgAnd("user_id", Res::Member, &[("role", "member")])),
        ("remove_member", OrgAnd("user_id", Res::Member, &[])),
        ("invite_member", Org(&[("email", "x@example.com"), ("role", "owner")])),
        ("revoke_invite", OrgAnd("invite_id", Res::Invite, &[])),
        ("list_budgets", Org(&[])),
        ("budget_targets", Org(&[])),
        ("budget_detail", OrgAnd("budget_id", Res::Budget, &[])),
        ("create_budget", Org(BUDGET_FIELDS)),
        ("update_budget", OrgAnd("budget_id", Res::Budget, BUDGET_FIELDS)),
        ("delete_budget", OrgAnd("budget_id", Res::Budget, &[])),
        ("get_alert_summary", Org(&[])),
        ("list_alerts", Org(&[("unacknowledged_only", "false")])),
        ("acknowledge_alert", OrgAnd("alert_id", Res::Alert, &[])),
        ("acknowledge_all_alerts", Org(&[])),
        ("get_alert_settings", Org(&[])),
        ("update_alert_settings", Org(ALERT_SETTINGS)),
        ("list_webhooks", Org(&[])),
        ("create_webhook", Org(&[("url", "https://example.com/hook")])),
        ("delete_webhook", OrgAnd("endpoint_id", Res::Endpoint, &[])),
        ("enable_webhook", OrgAnd("endpoint_id", Res::Endpoint, &[])),
        ("set_webhook_event_types", OrgAnd("endpoint_id", Res::Endpoint, &[("event_types[0]", "usage.recorded")])),
        ("list_providers", Org(&[])),
        ("save_provider", Org(&[("name", "openai"), ("kind", "openai"), ("api_key", "sk-not-for-b-1234567")])),
        ("delete_provider", OrgAnd("name", Res::Provider, &[])),
        ("connect_info", Org(&[])),
        ("list_recommendations", Org(&[])),
        ("dismiss_recommendation", Org(&[("key", "cheaper_model:a:b")])),
        ("list_end_users", Org(&[])),
        ("end_user", Org(&[("user_id", "alice")])),
        ("save_user_limit_settings", Org(&[("enabled", "on"), ("tokens_per_day", "1")])),
        ("set_end_user_limits", Org(&[("user_id", "alice"), ("mode", "blocked")])),
        ("billing_overview", Org(&[])),
        ("billing_preview_change", Org(&[("plan", "pro")])),
        ("billing_checkout", Org(&[("plan", "pro")])),
        ("billing_change_plan", Org(&[("plan", "pro")])),
        ("billing_cancel_change", Org(&[])),
        ("billing_portal", Org(&[])),
        ("billing_buy_credits", Org(&[("pack", "credits-10")])),
        ("billing_invoice", OrgAnd("id", Res::Invoice, &[])),
        ("trial_panel", Org(&[])),
        ("start_trial", Org(&[])),
        ("cancel_trial", Org(&[])),
        ("admin_org_trial", AdminOnly(&[])),
        ("admin_start_trial", AdminOnly(&[("plan", "pro"), ("days", "3")])),
        ("admin_extend_trial", AdminOnly(&[("days", "3"), ("reason", "x")])),
        ("admin_cancel_trial", AdminOnly(&[])),
        ("admin_trial_stats", AdminOnly(&[])),
        ("admin_credit_packs", AdminOnly(&[])),
        ("admin_save_credit_pack", AdminOnly(&[("pack[code]", "c"), ("pack[name]", "C"), ("pack[price_usd]", "1"), ("pack[bonus_percent]", "0"), ("pack[valid_days]", "1"), ("pack[stripe_price_id]", ""), ("pack[active]", "true"), ("pack[sort_order]", "1")])),
        ("admin_adjust_credits", AdminOnly(&[("amount_usd", "5"), ("reason", "x")])),
        ("admin_org_activity", AdminOnly(&[])),
        ("admin_suspend_org", AdminOnly(&[("reason", "x")])),
        ("admin_reactivate_org", AdminOnly(&[])),
        ("admin_org_suspension", AdminOnly(&[])),
        ("org_suspension", Org(&[])),
        ("org_audit", OrgJson(r#"{"filter": {"actor": "", "action": "", "result": "", "from": "", "to": ""}}"#)),
        ("admin_audit", AdminJson(r#"{"filter": {"actor": "", "action": "", "result": "", "from": "", "to": ""}}"#)),
        ("admin_dashboard", AdminJson(r#"{"query": {"period": "day"}}"#)),
        ("admin_tenants", AdminOnly(&[("search", "")])),
        ("admin_outbox", AdminOnly(&[])),
        ("admin_unpriced_models", AdminOnly(&[])),
        ("admin_prices", AdminOnly(&[("q", ""), ("provider", ""), ("mode", ""), ("page", "1")])),
        ("admin_price_detail", AdminOnly(&[("model", "gpt-4o")])),
        ("admin_override_price", AdminOnly(PRICES)),
        ("admin_add_custom_model", AdminOnly(PRICES)),
        ("admin_list_orgs", AdminOnly(&[])),
        ("admin_org", AdminOnly(&[])),
        ("admin_set_org_plan", AdminOnly(&[("plan", "team")])),
        ("admin_set_override", AdminOnly(&[("limit[metric]", "tokens"), ("limit[period]", "month"), ("limit[value]", "1"), ("limit[hard]", "true"), ("limit[overage_usd]", "")])),
        ("admin_clear_override", AdminOnly(&[("metric", "tokens"), ("period", "month")])),
        ("admin_plans", AdminOnly(&[])),
        ("admin_plan", AdminOnly(&[("code", "pro")])),
        ("admin_create_plan", AdminOnly(&[("code", "new"), ("name", "New"), ("description", ""), ("monthly_price_usd", "1"), ("is_public", "true"), ("sort_order", "1")])),
        ("admin_update_plan", AdminOnly(PLAN)),
        ("admin_set_plan_archived", AdminOnly(&[("code", "pro"), ("archived", "true")])),
        ("admin_delete_plan", AdminOnly(&[("code", "pro")])),
    ]
}

/// Every REST route that takes an id in its path: (method, path template, B's thing).
/// Routes without an id act on the key's own organization only.
fn rest_routes() -> Vec<(&'static str, &'static str, Option<Res>)> {
    vec![
        ("GET", "/api/v1/reservations/{id}", Some(Res::Reservation)),
        ("DELETE", "/api/v1/reservations/{id}", Some(Res::Reservation)),
        ("POST", "/api/v1/reservations/{id}/commit", Some(Res::Reservation)),
        ("PUT", "/api/v1/budgets/{id}", Some(Res::Budget)),
        ("DELETE", "/api/v1/budgets/{id}", Some(Res::Budget)),
        ("GET", "/api/v1/budgets/{id}/status", Some(Res::Budget)),
        ("POST", "/api/v1/alerts/{id}/ack", Some(Res::Alert)),
        ("DELETE", "/api/v1/webhooks/{id}", Some(Res::Endpoint)),
        ("PATCH", "/api/v1/webhooks/{id}", Some(Res::Endpoint)),
        ("POST", "/api/v1/webhooks/{id}/enable", Some(Res::Endpoint)),
        ("PUT", "/api/v1/keys/{id}/model-allowlist", Some(Res::Key)),
        ("GET", "/api/v1/invoices/{id}", Some(Res::Invoice)),
        ("GET", "/api/v1/invoices/{id}/csv", Some(Res::Invoice)),
        // A PUT creates or replaces the key's own organization's connection
        // of that name (names are per organization); a DELETE of another
        // organization's name finds nothing.
        ("PUT", "/api/v1/providers/{name}", None),
        ("DELETE", "/api/v1/providers/{name}", Some(Res::Provider)),
        // A recommendation key names models, not another organization's thing.
        ("POST", "/api/v1/recommendations/{key}/dismiss", None),
        // End user ids are per organization (the `user_id` of its own
        // events): another organization's id names this one's user, whose
        // figures and override are this organization's (tests/api/users.rs
        // checks that another organization sees none of them).
        ("GET", "/api/v1/users/{user_id}/limits", None),
        ("PUT", "/api/v1/users/{user_id}/limits", None),
        ("DELETE", "/api/v1/users/{user_id}/limits", None),
    ]
}

/// The routes with a path parameter, read from the router's source.
fn routes_in_source() -> BTreeSet<(String, String)> {
    let src = include_str!("../../src/api/mod.rs");
    let mut out = BTreeSet::new();
    for chunk in src.split(".route(").skip(1) {
        let Some(path) = chunk.trim_start().strip_prefix('"').and_then(|r| r.split('"').next()) else { continue };
        if !path.contains('{') {
            continue;
        }
        // The methods chained on this route (up to the next .route).
        for (token, method) in [("get(", "GET"), ("post(", "POST"), ("put(", "PUT"), ("delete(", "DELETE"), ("patch(", "PATCH")] {
            let uses = chunk.match_indices(token).any(|(i, _)| {
                let before = chunk[..i].chars().last();
                matches!(before, Some('.') | Some(' ') | Some(':') | Some('\n'))
            });
            if uses {
                out.insert((method.to_string(), format!("/api/v1{path}")));
            }
        }
    }
    out
}

pub(crate) async fn org_b_things(app: &TestApp, a: &reqwest::Client, b: &reqwest::Client) -> (Ids, String) {
    let org_a = app.signup(a, "a@example.com", "A").await;
    let org_b = app.signup(b, "b@example.com", "B").await;
    let db = &app.test_db.db;
    // B on Team, so it has room for a member and an invite.
    let mut tx = db.begin().await.unwrap();
    tollbooth::plans::assign_plan(&mut tx, &org_b, "team").await.unwrap();
    tx.commit().await.unwrap();
    let call = |name: &'static str, form: Vec<(&'static str, String)>| async move {
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let resp = app.server_fn(b, name, &form).await;
        assert_eq!(resp.status(), StatusCode::OK, "{name}: {}", resp.status());
        resp.json::<Value>().await.unwrap()
    };
    let ob = || ("org_id", org_b.clone());
    let budget = call("create_budget", vec![ob(), ("scope", "organization".into()), ("period", "monthly".into()), ("amount_usd", "5".into())]).await;
    let project = call("create_project", vec![ob(), ("name", "Bot".into()), ("slug", "bot".into())]).await;
    let endpoint = call("create_webhook", vec![ob(), ("url", "https://example.com/b".into())]).await;
    let key = call("create_api_key", vec![ob(), ("name", "b-key".into()), ("scopes", "ingest,read,manage".into())]).await;
    let provider = call("save_provider", vec![ob(), ("name", "groqb".into()), ("kind", "openai_compatible".into()), ("base_url", "https://203.0.113.7/v1".into()), ("api_key", "gsk_b_secret_key_0001".into())]).await;
    let invite = call("invite_member", vec![ob(), ("email", "c@example.com".into()), ("role", "member".into())]).await;
    // A second member of B (signs up elsewhere, then accepts B's invite).
    let c = app.fresh_client();
    app.signup(&c, "m@example.com", "M").await;
    let inv2 = call("invite_member", vec![ob(), ("email", "m@example.com".into()), ("role", "member".into())]).await;
    let token = inv2["link"].as_str().and_then(|l| l.rsplit('/').next()).expect("invite link").to_string();
    let accepted = app.server_fn(&c, "accept_invite", &[("token", &token)]).await;
    assert_eq!(accepted.status(), StatusCode::OK, "accept invite");
    let member: String = sqlx::query_scalar("SELECT u.id FROM users u JOIN memberships m ON m.user_id = u.id WHERE m.org_id = $1 AND u.email = 'm@example.com'")
        .bind(&org_b)
        .fetch_one(db.reader())
        .await
        .unwrap();
    // An alert, an invoice and a reservation of B.
    let mut tx = db.begin().await.unwrap();
    let alert = tollbooth::alerts::fire(
        &mut tx,
        &org_b,
        &NewAlert {
            kind: AlertKind::QuotaExceeded,
            dedupe_key: "x".into(),
            budget_id: None,
            scope: "organization".into(),
            scope_id: org_b.clone(),
            period_start: None,
            period_end: None,
            observed: "1".into(),
            threshold: "1".into(),
            threshold_percent: None,
            threshold_nanos: None,
            observed_nanos: None,
            message: "B's alert".into(),
        },
        now_ms(),
    )
    .await
    .unwrap()
    .unwrap();
    let invoice = tollbooth::ids::new_id();
    sqlx::query(
        "INSERT INTO invoices (id, org_id, number, period_start, period_end, plan_code, status, total_cents, created_at, closed_at) \
         VALUES ($1, $2, 'INV-B', 0, 1, 'team', 'final', 9900, 0, 1)",
    )
    .bind(&invoice)
    .bind(&org_b)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let key_b = format!("Bearer {}", key["secret"].as_str().expect("the key's secret"));
    let res = app
        .client
        .post(app.url("/api/v1/reservations"))
        .header("Authorization", &key_b)
        .json(&json!({"checks": [{"metric": "tokens", "amount": 10}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED, "B reserves");
    let reservation: Value = res.json().await.unwrap();
    let ids = Ids {
        org_a,
        org_b,
        budget: budget["id"].as_str().unwrap().into(),
        project: project["id"].as_str().unwrap().into(),
        alert,
        endpoint: endpoint["endpoint"]["id"].as_str().unwrap().into(),
        key: key["key"]["id"].as_str().unwrap().into(),
        member,
        invite: invite["invite"]["invite"]["id"].as_str().unwrap().into(),
        invoice,
        reservation: reservation["reservation_id"].as_str().unwrap().into(),
        provider: provider["name"].as_str().unwrap().into(),
    };
    (ids, key_b)
}

async fn a_member_or_key_of_one_org_gets_404_for_another_orgs_ids(engine: Engine) {
    let Some(app) = spawn_app(engine).await else { return };
    let a = app.fresh_client();
    let b = app.fresh_client();
    let (ids, _key_b) = org_b_things(&app, &a, &b).await;

    // Every registered server function has an entry.
    let table = server_fns();
    let names: BTreeSet<&str> = table.iter().map(|(n, _)| *n).collect();
    let registered: BTreeSet<String> = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, _)| path.trim_start_matches("/api/").to_string())
        .collect();
    let missing: Vec<&String> = registered.iter().filter(|p| !names.contains(p.as_str())).collect();
    assert!(missing.is_empty(), "server functions without a cross-tenant entry (add them to server_fns()): {missing:?}");
    let stale: Vec<&&str> = names.iter().filter(|n| !registered.contains(**n)).collect();
    assert!(stale.is_empty(), "entries for server functions that no longer exist: {stale:?}");

    for (name, case) in &table {
        let mut forms: Vec<Vec<(&str, &str)>> = Vec::new();
        let expect = match case {
            Fn::NoId(why) => {
                assert!(!why.is_empty(), "{name}: say why it takes no id");
                continue;
            }
            Fn::OrgJson(extra) | Fn::AdminJson(extra) => {
                let mut body: Value = serde_json::from_str(extra).unwrap();
                let expect = if matches!(case, Fn::OrgJson(_)) {
                    body["org_id"] = json!(ids.org_b);
                    StatusCode::NOT_FOUND
                } else {
                    StatusCode::FORBIDDEN
                };
                let resp = a.post(app.url(&format!("/api/{name}"))).header("Accept", "application/json").header("Origin", app.origin()).json(&body).send().await.unwrap();
                assert_eq!(resp.status(), expect, "{name} {body}");
                continue;
            }
            Fn::Org(extra) => {
                forms.push([("org_id", ids.org_b.as_str())].into_iter().chain(extra.iter().copied()).collect());
                StatusCode::NOT_FOUND
            }
            Fn::OrgAnd(field, res, extra) => {
                for org in [ids.org_b.as_str(), ids.org_a.as_str()] {
                    forms.push([("org_id", org), (*field, ids.get(*res))].into_iter().chain(extra.iter().copied()).collect());
                }
                StatusCode::NOT_FOUND
            }
            Fn::AdminOnly(extra) => {
                forms.push([("org_id", ids.org_b.as_str())].into_iter().chain(extra.iter().copied()).collect());
                StatusCode::FORBIDDEN
            }
        };
        for form in forms {
            let resp = app.server_fn(&a, name, &form).await;
            let status = resp.status();
            let body = resp.text().await.unwrap_or_default();
            assert_eq!(status, expect, "{name} {form:?}: {body}");
        }
    }

    // Every REST route with an id has an entry, and A's key gets 404 for B's ids.
    let listed: BTreeSet<(String, String)> = rest_routes().iter().map(|(m, p, _)| (m.to_string(), p.to_string())).collect();
    let in_source = routes_in_source();
    let missing: Vec<_> = in_source.difference(&listed).collect();
    assert!(missing.is_empty(), "REST routes with an id and no cross-tenant entry (add them to rest_routes()): {missing:?}");
    let stale: Vec<_> = listed.difference(&in_source).collect();
    assert!(stale.is_empty(), "rest_routes() lists routes the router no longer has: {stale:?}");
    let key_a = {
        let o = create_org(&app.test_db.db, &app.config, "A2", "a2@example.com", None).await.unwrap();
        format!("Bearer {}", o.api_key)
    };
    for (method, path, res) in rest_routes() {
        let Some(res) = res else { continue };
        let url = app.url(&path.replace("{id}", ids.get(res)).replace("{name}", ids.get(res)));
        let mut req = app.client.request(Method::from_bytes(method.as_bytes()).unwrap(), url).header("Authorization", &key_a);
        if path.ends_with("/model-allowlist") {
            req = req.json(&json!({"models": ["gpt-4o*"]}));
        } else if path.ends_with("/commit") {
            req = req.json(&json!({"events": [{"model": "gpt-4o", "input_tokens": 1}]}));
        } else if method == "PATCH" {
            req = req.json(&json!({"event_types": ["usage.recorded"]}));
        } else if method == "PUT" || method == "POST" {
            req = req.json(&json!({"scope": "organization", "period": "monthly", "amount_usd": "5"}));
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{method} {path} with another organization's key");
    }

    // Browser downloads that take ids.
    for path in [format!("/o/{}/usage.csv", ids.org_b), format!("/o/{}/invoices/{}/csv", ids.org_b, ids.invoice), format!("/o/{}/invoices/{}/csv", ids.org_a, ids.invoice)] {
        let resp = a.get(app.url(&path)).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
    }

    // B's things are untouched.
    let keys: Value = app.server_fn(&b, "list_api_keys", &[("org_id", &ids.org_b)]).await.json().await.unwrap();
    assert!(keys.as_array().unwrap().iter().all(|k| k["revoked_at"].is_null()));
    let budgets: Value = app.server_fn(&b, "list_budgets", &[("org_id", &ids.org_b)]).await.json().await.unwrap();
    assert_eq!(budgets.as_array().unwrap().len(), 1);
    let providers: Value = app.server_fn(&b, "list_providers", &[("org_id", &ids.org_b)]).await.json().await.unwrap();
    assert_eq!(providers["connections"][0]["name"], "groqb", "B's connection is still there");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_or_key_of_one_org_gets_404_for_another_orgs_ids_sqlite() {
    a_member_or_key_of_one_org_gets_404_for_another_orgs_ids(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_or_key_of_one_org_gets_404_for_another_orgs_ids_postgres() {
    a_member_or_key_of_one_org_gets_404_for_another_orgs_ids(Engine::Postgres).await;
}
