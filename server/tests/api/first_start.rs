//! First start: the demo organization's sample usage (`TOLLBOOTH_SEED_DEMO_USAGE`).

use reqwest::StatusCode;
use serde_json::Value;
use tollbooth::api_keys::{NewKey, Scope, Scopes};
use tollbooth_server::config::Config;

use crate::app_test_with;
use crate::helpers::TestApp;

const DEMO_PASSWORD: &str = "demo-password-for-tests";

/// A first start as the README's run command makes it: admin, demo
/// organization, and its sample usage.
fn first_start_with_sample(c: &mut Config) {
    c.seed = true;
    c.seed_demo_usage = true;
    c.demo_password = Some(DEMO_PASSWORD.parse().unwrap());
}

/// A first start with `TOLLBOOTH_SEED_DEMO_USAGE=false`.
fn first_start_without_sample(c: &mut Config) {
    first_start_with_sample(c);
    c.seed_demo_usage = false;
}

/// Signs in as the demo user; returns the demo organization's id.
async fn demo_org(app: &TestApp) -> String {
    let resp = app.server_fn(&app.client, "login", &[("email", "demo@tollbooth.local"), ("password", DEMO_PASSWORD)]).await;
    assert_eq!(resp.status(), StatusCode::OK, "{}", resp.text().await.unwrap());
    app.whoami(&app.client).await["orgs"][0]["id"].as_str().unwrap().to_string()
}

async fn sample_notice_shown(app: &TestApp, org: &str) -> bool {
    let resp = app.server_fn(&app.client, "org_context", &[("org_id", org)]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json::<Value>().await.unwrap()["sample_usage"].as_bool().unwrap()
}

async fn read_key(app: &TestApp, org: &str) -> String {
    let new = NewKey { name: "test", rate_limit_per_minute: None, scopes: Scopes::of(&[Scope::Read]).unwrap(), model_allowlist: None };
    tollbooth::api_keys::create_for_org(&app.test_db.db, org, &new, &tollbooth::audit::By::system("test")).await.unwrap().secret
}

async fn get(app: &TestApp, key: &str, path: &str) -> Value {
    let (status, body) = app.call(reqwest::Method::GET, path, key, None).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    body
}

/// The last 31 days' usage grouped by `group_by`.
async fn usage(app: &TestApp, key: &str, group_by: &str) -> Vec<Value> {
    let now = tollbooth::clock::now_ms();
    let from = tollbooth::clock::to_rfc3339(now - 31 * 86_400_000);
    let to = tollbooth::clock::to_rfc3339(now + 3_600_000);
    let path = format!("/api/v1/usage?from={from}&to={to}&group_by={group_by}");
    get(app, key, &path).await["rows"].as_array().unwrap().clone()
}

fn sum(rows: &[Value], field: &str) -> i64 {
    rows.iter().map(|r| r[field].as_i64().unwrap()).sum()
}

app_test_with! { first_start_with_sample;
    async fn a_first_start_gives_the_demo_organization_30_days_of_sample_usage_and_a_restart_adds_none(app) {
        let org = demo_org(&app).await;
        assert!(sample_notice_shown(&app, &org).await, "the pages say the usage is sample data");
        let key = read_key(&app, &org).await;

        let days = usage(&app, &key, "day").await;
        let active_days = days.iter().filter(|d| d["events"].as_i64().unwrap() > 0).count();
        assert!(active_days >= 30, "usage on {active_days} days");
        let events = sum(&days, "events");
        assert!((10_000..=30_000).contains(&events), "{events} events");
        let errors = sum(&days, "errors");
        assert!(errors > 0 && errors * 20 < events, "{errors} errors of {events}");
        let cost: i64 = days.iter().map(|d| tollbooth::pricing::NanoUsd::parse_usd(d["cost_usd"].as_str().unwrap()).unwrap().nanos()).sum();
        assert!(cost > 10_000_000_000, "more than $10 in a month: {cost} nano-USD");
        assert_eq!(sum(&days, "unpriced_events"), 0, "every sample model is in the price book");

        let models = usage(&app, &key, "model").await;
        assert!(models.len() >= 6, "{} models", models.len());
        let providers = usage(&app, &key, "provider").await;
        assert!(providers.len() >= 3, "{} providers", providers.len());
        let users = usage(&app, &key, "user").await;
        assert!(users.len() >= 20, "{} end users", users.len());
        let projects = usage(&app, &key, "project").await;
        assert!(projects.len() >= 4, "{} projects", projects.len());

        // Every event is marked as sample data.
        let page = get(&app, &key, "/api/v1/events?limit=50").await;
        for e in page["events"].as_array().unwrap() {
            assert!(e["id"].as_str().unwrap().starts_with(tollbooth::sample::ID_PREFIX), "{e}");
            assert_eq!(e["metadata"].as_str(), Some(tollbooth::sample::METADATA), "{e}");
        }

        // One monthly budget, past its 80% warning and under 100%, whose
        // 50% and 80% alerts fired as the usage was recorded.
        let budgets = get(&app, &key, "/api/v1/budgets").await.as_array().unwrap().clone();
        assert_eq!(budgets.len(), 1, "{budgets:?}");
        let id = budgets[0]["id"].as_str().unwrap();
        let status = get(&app, &key, &format!("/api/v1/budgets/{id}/status")).await;
        let percent: f64 = status["percent"].as_str().unwrap().parse().unwrap();
        assert!((85.0..95.0).contains(&percent), "{status}");
        let alerts = get(&app, &key, "/api/v1/alerts?limit=100").await;
        let mut fired: Vec<i64> = alerts["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["budget_id"].as_str() == Some(id))
            .map(|a| a["threshold_percent"].as_i64().unwrap())
            .collect();
        fired.sort();
        assert_eq!(fired, [50, 80], "{alerts}");

        // A second start on the same database records nothing more.
        let again = tollbooth_server::Application::build(app.config.clone()).await.expect("second start");
        drop(again);
        assert_eq!(sum(&usage(&app, &key, "day").await, "events"), events);
        assert_eq!(get(&app, &key, "/api/v1/budgets").await.as_array().unwrap().len(), 1);
    }
}

app_test_with! { first_start_without_sample;
    async fn with_seed_demo_usage_off_the_demo_organization_starts_empty(app) {
        let org = demo_org(&app).await;
        assert!(!sample_notice_shown(&app, &org).await);
        let key = read_key(&app, &org).await;
        assert_eq!(sum(&usage(&app, &key, "day").await, "events"), 0);
        assert_eq!(get(&app, &key, "/api/v1/budgets").await.as_array().unwrap().len(), 0);
    }
}
