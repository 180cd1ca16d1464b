//! Suspension holds in every organization server function and download,
//! table-driven over the server-function registry (the table of
//! `cross_tenant`, which is complete by construction).

use reqwest::StatusCode;
use serde_json::{json, Value};
use tollbooth::db::Engine;

use crate::cross_tenant::{org_b_things, server_fns, Fn};
use crate::helpers::{spawn_app, PASSWORD};

/// What the layout calls to show the "suspended" page: these keep answering.
const LAYOUT: &[&str] = &["org_context", "org_suspension"];
/// Read through `ssr::read_scope`: a platform admin's drill-down keeps them.
const DRILL_DOWN: &[&str] = &["usage_panel", "org_quota"];

async fn members_of_a_suspended_organization_get_403_everywhere(engine: Engine) {
    let Some(app) = spawn_app(engine).await else { return };
    let a = app.fresh_client();
    let b = app.fresh_client();
    let (ids, _) = org_b_things(&app, &a, &b).await;
    tollbooth::accounts::create_admin(&app.test_db.db, "root@example.com", Some(PASSWORD)).await.unwrap();
    let root = app.fresh_client();
    assert_eq!(app.server_fn(&root, "login", &[("email", "root@example.com"), ("password", PASSWORD)]).await.status(), StatusCode::OK);
    let resp = app.server_fn(&root, "admin_suspend_org", &[("org_id", &ids.org_b), ("reason", "unpaid invoices")]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let message = tollbooth::orgs::suspended_message("unpaid invoices");

    let mut checked = 0;
    for (name, case) in server_fns() {
        let resp = match &case {
            Fn::NoId(_) | Fn::AdminOnly(_) | Fn::AdminJson(_) => continue,
            Fn::Org(extra) => {
                let form: Vec<(&str, &str)> = [("org_id", ids.org_b.as_str())].into_iter().chain(extra.iter().copied()).collect();
                app.server_fn(&b, name, &form).await
            }
            Fn::OrgAnd(field, res, extra) => {
                let form: Vec<(&str, &str)> =
                    [("org_id", ids.org_b.as_str()), (*field, ids.get(*res))].into_iter().chain(extra.iter().copied()).collect();
                app.server_fn(&b, name, &form).await
            }
            Fn::OrgJson(extra) => {
                let mut body: Value = serde_json::from_str(extra).unwrap();
                body["org_id"] = json!(ids.org_b);
                app.server_fn_json(&b, name, &body).await
            }
        };
        checked += 1;
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        if LAYOUT.contains(&name) {
            assert_eq!(status, StatusCode::OK, "{name} serves the suspended page: {body}");
        } else {
            assert_eq!(status, StatusCode::FORBIDDEN, "{name}: {body}");
            assert!(body.contains(&message), "{name} says why: {body}");
        }
    }
    assert!(checked > 40, "only {checked} organization server functions were checked");

    // The layout still learns about the suspension and shows it.
    let s: Value = app.server_fn(&b, "org_suspension", &[("org_id", &ids.org_b)]).await.json().await.unwrap();
    assert_eq!(s["reason"], "unpaid invoices");
    let page = b.get(app.url(&format!("/o/{}", ids.org_b))).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("This organization is suspended") && page.contains("unpaid invoices"), "{page}");

    // Browser downloads.
    for path in [
        format!("/o/{}/usage.csv", ids.org_b),
        format!("/o/{}/audit.csv", ids.org_b),
        format!("/o/{}/invoices/{}/csv", ids.org_b, ids.invoice),
    ] {
        let resp = b.get(app.url(&path)).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{path}");
        assert!(resp.text().await.unwrap().contains(&message), "{path} says why");
    }

    // A platform admin keeps the read-only drill-down.
    for name in DRILL_DOWN {
        let resp = if *name == "usage_panel" {
            app.server_fn_json(&root, name, &json!({"org_id": ids.org_b, "query": {"range": "7d"}})).await
        } else {
            app.server_fn(&root, name, &[("org_id", &ids.org_b)]).await
        };
        assert_eq!(resp.status(), StatusCode::OK, "{name} for a platform admin");
    }
    let invoice = root.get(app.url(&format!("/o/{}/invoices/{}/csv", ids.org_b, ids.invoice))).send().await.unwrap();
    assert_eq!(invoice.status(), StatusCode::OK, "the drill-down's invoice download");

    // Reactivated, the members are back.
    let resp = app.server_fn(&root, "admin_reactivate_org", &[("org_id", &ids.org_b)]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(app.server_fn(&b, "list_api_keys", &[("org_id", &ids.org_b)]).await.status(), StatusCode::OK);
    assert_eq!(b.get(app.url(&format!("/o/{}/usage.csv", ids.org_b))).send().await.unwrap().status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_of_a_suspended_organization_get_403_everywhere_sqlite() {
    members_of_a_suspended_organization_get_403_everywhere(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_of_a_suspended_organization_get_403_everywhere_postgres() {
    members_of_a_suspended_organization_get_403_everywhere(Engine::Postgres).await;
}
