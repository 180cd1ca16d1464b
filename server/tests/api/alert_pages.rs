//! The alert server functions behind the alerts pages.

use reqwest::StatusCode;
use serde_json::Value;
use tollbooth::alerts::{self, AlertKind, NewAlert};
use tollbooth::clock::now_ms;

use crate::app_test;
use crate::helpers::TestApp;

/// Fires a budget alert in `org_id` straight through the core; returns its id.
async fn fire(app: &TestApp, org_id: &str) -> String {
    let alert = NewAlert {
        kind: AlertKind::BudgetThreshold,
        dedupe_key: "test:80".into(),
        budget_id: None,
        scope: "organization".into(),
        scope_id: String::new(),
        period_start: None,
        period_end: None,
        observed: "$0.85 (85.00%)".into(),
        threshold: "80% of $1.00".into(),
        threshold_percent: Some(80),
        threshold_nanos: Some(800_000_000),
        observed_nanos: Some(850_000_000),
        message: "The monthly budget \"Org\" for the organization reached 80%.".into(),
    };
    let mut tx = app.test_db.db.begin().await.unwrap();
    let id = alerts::fire(&mut tx, org_id, &alert, now_ms()).await.unwrap().expect("a new alert");
    tx.commit().await.unwrap();
    id
}

async fn unread(app: &TestApp, client: &reqwest::Client, org_id: &str) -> Value {
    let resp = app.server_fn(client, "get_alert_summary", &[("org_id", org_id)]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json::<Value>().await.unwrap()["unread"].clone()
}

app_test! {
    async fn a_member_cannot_acknowledge_another_organizations_alert(app) {
        let b = app.fresh_client();
        let org_b = app.signup(&b, "b@example.com", "Org B").await;
        let alert = fire(&app, &org_b).await;
        let org_a = app.signup(&app.client, "a@example.com", "Org A").await;

        // Neither through B's id (not a member) nor through A's own (not its alert).
        for org in [&org_b, &org_a] {
            let resp = app.server_fn(&app.client, "acknowledge_alert", &[("org_id", org), ("alert_id", &alert)]).await;
            assert_eq!(resp.status(), StatusCode::NOT_FOUND, "via {org}: {}", resp.text().await.unwrap());
        }
        let resp = app.server_fn(&app.client, "acknowledge_all_alerts", &[("org_id", &org_b)]).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        let resp = app.server_fn(&app.client, "list_alerts", &[("org_id", &org_b), ("unacknowledged_only", "false")]).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        assert_eq!(unread(&app, &app.client, &org_a).await, serde_json::json!(0));

        // B's alert is still open; B acknowledges it and the bell's count drops.
        assert_eq!(unread(&app, &b, &org_b).await, serde_json::json!(1));
        let resp = app.server_fn(&b, "acknowledge_alert", &[("org_id", &org_b), ("alert_id", &alert)]).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let acked: Value = resp.json().await.unwrap();
        assert_eq!(acked["acknowledged_by"], serde_json::json!("b@example.com"));
        assert_eq!(unread(&app, &b, &org_b).await, serde_json::json!(0));
    }

    async fn only_platform_admins_read_the_outbox_and_only_managers_see_webhooks(app) {
        let org = app.signup(&app.client, "owner@example.com", "Org").await;
        let resp = app.server_fn(&app.client, "admin_outbox", &[]).await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        let resp = app.server_fn(&app.fresh_client(), "admin_outbox", &[]).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        // The owner manages webhooks; a bad URL is refused with the field named.
        let resp = app.server_fn(&app.client, "create_webhook", &[("org_id", &org), ("url", "ftp://nope")]).await;
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(resp.text().await.unwrap().contains("url: "), "the message names the field");
        let resp = app.server_fn(&app.client, "list_webhooks", &[("org_id", &org)]).await;
        assert_eq!(resp.status(), StatusCode::OK);
    }
}
