//! Webhook subscriptions (issue 23): what each endpoint receives, the
//! batched `usage.recorded` deliveries, `plan.changed` and
//! `invoice.finalized`.

use std::collections::HashSet;

use serde_json::{json, Value};
use tollbooth::alerts::{usage_hooks, webhooks, WebhookEventType};
use tollbooth::audit::AuditFilter;
use tollbooth::billing::events::apply_stripe_event;
use tollbooth::billing::{service, Billing, Settings};
use tollbooth::budgets::{self, BudgetInput};
use tollbooth::clock::now_ms;
use tollbooth::db::Db;
use tollbooth::egress::EgressPolicy;
use tollbooth::ingest::record_usage;
use tollbooth::metering::events::{self, EventFilter};
use tollbooth::metering::{parse_batch, Sender};
use tollbooth::pricing::{store as prices, ModelPrice, PriceBook, UnitPrice};
use tollbooth::{test_both_engines, Error};

use super::{by, sign_up};

/// `gpt-hook` at $0.00001 per input token; a new organization.
async fn org(db: &Db, name: &str) -> Sender {
    let mut p = ModelPrice::new("gpt-hook", "openai");
    p.input = Some(UnitPrice::parse("0.00001").unwrap());
    let mut book = PriceBook::default();
    book.insert(p);
    prices::import(db, &book, "test", Some(0)).await.unwrap();
    Sender { org_id: sign_up(db, &format!("owner@{}.example", name.to_lowercase()), name).await.org.id, api_key_id: None }
}

/// An endpoint of the organization receiving `types`.
async fn endpoint(db: &Db, org_id: &str, path: &str, types: &[&str]) -> String {
    let types: Vec<String> = types.iter().map(|t| t.to_string()).collect();
    let url = format!("http://127.0.0.1:9/{path}");
    webhooks::create(db, org_id, &url, Some(&types), EgressPolicy::allow_private(), &by()).await.unwrap().endpoint.id
}

/// Records `n` events with ids `{prefix}-{i}`.
async fn ingest(db: &Db, s: &Sender, prefix: &str, n: usize) {
    let batch: Vec<Value> = (0..n)
        .map(|i| json!({"id": format!("{prefix}-{i:04}"), "model": "gpt-hook", "input_tokens": 100 + i, "user_id": "u1", "feature": "chat"}))
        .collect();
    record_usage(db, s, parse_batch(&batch, now_ms())).await.unwrap();
}

/// The webhooks queued to an endpoint: (id, subject, body), oldest first.
async fn queued(db: &Db, endpoint_id: &str) -> Vec<(String, String, Value)> {
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT id, subject, body FROM notifications WHERE channel = 'webhook' AND recipient = $1 ORDER BY created_at, id",
    )
    .bind(endpoint_id)
    .fetch_all(db.reader())
    .await
    .unwrap();
    rows.into_iter().map(|(id, subject, body)| (id, subject, serde_json::from_str(&body).unwrap())).collect()
}

async fn waiting_batches(db: &Db) -> i64 {
    usage_hooks::waiting(db).await.unwrap()
}

test_both_engines! {
    async fn endpoints_subscribe_to_event_types_and_unknown_ones_are_refused_naming_the_field(db) {
        let s = org(db, "Subs").await;
        let plain = webhooks::create(db, &s.org_id, "http://127.0.0.1:9/a", None, EgressPolicy::allow_private(), &by()).await.unwrap();
        assert_eq!(plain.endpoint.event_types, vec![WebhookEventType::AlertCreated], "the default is what endpoints got before");
        let both = endpoint(db, &s.org_id, "b", &["usage.recorded", "alert.created", "usage.recorded"]).await;
        let listed = webhooks::list(db, &s.org_id).await.unwrap();
        assert_eq!(listed[1].id, both);
        assert_eq!(listed[1].event_types, vec![WebhookEventType::AlertCreated, WebhookEventType::UsageRecorded]);

        let bad = vec!["alert.created".to_string(), "usage.created".to_string()];
        let err = webhooks::create(db, &s.org_id, "http://127.0.0.1:9/c", Some(&bad), EgressPolicy::allow_private(), &by()).await.unwrap_err();
        assert_eq!(err.field(), Some("event_types"));
        assert!(err.to_string().contains("usage.created"), "{err}");
        assert_eq!(webhooks::list(db, &s.org_id).await.unwrap().len(), 2, "nothing stored");

        let changed = webhooks::set_event_types(db, &s.org_id, &plain.endpoint.id, &["invoice.finalized".to_string(), "plan.changed".to_string()], &by()).await.unwrap();
        assert_eq!(changed.event_types, vec![WebhookEventType::PlanChanged, WebhookEventType::InvoiceFinalized]);
        assert_eq!(webhooks::set_event_types(db, &s.org_id, &plain.endpoint.id, &[], &by()).await.unwrap_err().field(), Some("event_types"));
        let updates = tollbooth::audit::list(db, Some(&s.org_id), &AuditFilter { action: "webhook.update".into(), ..Default::default() }, "UTC", 10).await.unwrap();
        assert_eq!(updates.len(), 1);
        assert!(updates[0].details.contains("plan.changed") && updates[0].details.contains("alert.created"), "{}", updates[0].details);

        // Another organization's endpoint is not found.
        let other = org(db, "Other").await;
        let err = webhooks::set_event_types(db, &other.org_id, &both, &["alert.created".to_string()], &by()).await.unwrap_err();
        assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    }

    async fn alerts_and_exhausted_budgets_go_only_to_the_endpoints_subscribed_to_them(db) {
        let s = org(db, "Alerts").await;
        let alerts_only = endpoint(db, &s.org_id, "alerts", &["alert.created"]).await;
        let exhausted = endpoint(db, &s.org_id, "exhausted", &["budget.exhausted"]).await;
        let usage = endpoint(db, &s.org_id, "usage", &["usage.recorded"]).await;
        let input = BudgetInput { name: "Org".into(), scope: "organization".into(), period: "monthly".into(), amount_usd: "1.00".into(), action: Some("notify".into()), ..Default::default() };
        budgets::create(db, &s.org_id, &input, &by()).await.unwrap();
        record_usage(db, &s, parse_batch(&[json!({"model": "gpt-hook", "input_tokens": 100_000})], now_ms())).await.unwrap(); // $1.00

        let to_alerts = queued(db, &alerts_only).await;
        assert_eq!(to_alerts.len(), 3, "50%, 80% and 100%");
        for (id, _, body) in &to_alerts {
            assert_eq!((body["type"].clone(), body["id"].clone(), body["organization_id"].clone()), (json!("alert.created"), json!(id), json!(s.org_id)));
        }
        let hundred = to_alerts.iter().find(|(_, _, b)| b["alert"]["kind"] == json!("budget_exhausted")).unwrap();
        assert_eq!((hundred.2["alert"]["threshold_percent"].clone(), hundred.2["alert"]["threshold_usd"].clone(), hundred.2["alert"]["observed_usd"].clone()),
            (json!(100), json!("1.000000000"), json!("1.000000000")), "{}", hundred.2);
        let to_exhausted = queued(db, &exhausted).await;
        assert_eq!(to_exhausted.len(), 1);
        assert_eq!((to_exhausted[0].2["type"].clone(), to_exhausted[0].2["alert"]["kind"].clone()), (json!("budget.exhausted"), json!("budget_exhausted")));
        assert!(queued(db, &usage).await.is_empty(), "usage waits for its batch");
    }

    async fn usage_goes_out_once_in_batches_of_at_most_1000_events_shaped_as_the_events_api(db) {
        let s = org(db, "Usage").await;
        let quiet = org(db, "Quiet").await;
        endpoint(db, &quiet.org_id, "alerts", &["alert.created"]).await;
        ingest(db, &quiet, "q", 10).await;
        assert_eq!(waiting_batches(db).await, 0, "no row for an organization without usage subscribers");

        let usage = endpoint(db, &s.org_id, "usage", &["usage.recorded"]).await;
        let alerts_only = endpoint(db, &s.org_id, "alerts", &["alert.created"]).await;
        let start = now_ms();
        ingest(db, &s, "a", 1000).await;
        ingest(db, &s, "b", 1000).await;
        ingest(db, &s, "c", 500).await;
        ingest(db, &s, "a", 3).await; // repeats: stored before, sent before
        assert_eq!(waiting_batches(db).await, 3, "one row a batch that stored something");

        // Nothing has waited the window yet.
        assert_eq!(usage_hooks::derive(db, start - 1, 5_000).await.unwrap(), 0);
        assert!(queued(db, &usage).await.is_empty());

        let later = now_ms() + 5_000;
        assert_eq!(usage_hooks::derive(db, later, 5_000).await.unwrap(), 2500);
        assert_eq!(usage_hooks::derive(db, later + 10_000, 5_000).await.unwrap(), 0, "taken once");
        assert_eq!(waiting_batches(db).await, 0);
        assert!(queued(db, &alerts_only).await.is_empty());

        let sent = queued(db, &usage).await;
        let sizes: Vec<usize> = sent.iter().map(|(_, _, b)| b["events"].as_array().unwrap().len()).collect();
        assert_eq!(sizes.iter().sum::<usize>(), 2500);
        assert!(sizes.iter().all(|n| *n <= 1000), "{sizes:?}");
        let mut seen = HashSet::new();
        for (id, subject, body) in &sent {
            assert_eq!((body["type"].clone(), body["id"].clone()), (json!("usage.recorded"), json!(id)));
            assert!(subject.starts_with("usage.recorded: "), "{subject}");
            for e in body["events"].as_array().unwrap() {
                assert!(seen.insert(e["id"].as_str().unwrap().to_string()), "each event once");
            }
        }
        assert_eq!(seen.len(), 2500);

        // Each event exactly as GET /api/v1/events shows it.
        let filter = EventFilter { from_ms: 0, to_ms: i64::MAX, ..Default::default() };
        let (page, _) = events::list(db, &s.org_id, &filter, None, 1000).await.unwrap();
        let hooked: Vec<Value> = sent.iter().flat_map(|(_, _, b)| b["events"].as_array().unwrap().clone()).collect();
        for shown in [&page[0], &page[999]] {
            let in_hook = hooked.iter().find(|e| e["id"] == json!(shown.id)).unwrap();
            assert_eq!(in_hook, &serde_json::to_value(shown).unwrap());
        }
        let b7 = hooked.iter().find(|e| e["id"] == json!("b-0007")).unwrap();
        assert_eq!((b7["cost_usd"].clone(), b7["user_id"].clone()), (json!("0.001070000"), json!("u1")), "107 tokens at $0.00001");

        // A sent usage delivery goes a week after it was queued; pending ones stay.
        sqlx::query("UPDATE notifications SET state = 'sent' WHERE id = $1").bind(&sent[0].0).execute(db.writer()).await.unwrap();
        assert_eq!(usage_hooks::prune(db, now_ms()).await.unwrap(), 0, "not a week old yet");
        assert_eq!(usage_hooks::prune(db, later + usage_hooks::KEEP_SETTLED_MS + 1).await.unwrap(), 1);
        assert_eq!(queued(db, &usage).await.len(), sent.len() - 1);
    }

    async fn a_plan_change_and_a_finalized_invoice_reach_their_subscribers(db) {
        let s = org(db, "Billed").await;
        let hook = endpoint(db, &s.org_id, "billing", &["plan.changed", "invoice.finalized"]).await;
        let alerts_only = endpoint(db, &s.org_id, "alerts", &["alert.created"]).await;
        let plan_prices = [("pro", "price_pro")].map(|(a, b)| (a.to_string(), b.to_string())).into();
        let b = Billing::new(None, None, Settings { plan_prices, grace_days: 7, ..Settings::default() });
        let t0 = chrono::DateTime::parse_from_rfc3339("2026-11-10T00:00:00Z").unwrap().timestamp_millis();
        let event = |id: &str, kind: &str, object: Value| {
            json!({"id": id, "object": "event", "type": kind, "created": t0 / 1000, "data": {"object": object}}).to_string()
        };
        let session = json!({"id": "cs_sub", "object": "checkout.session", "mode": "subscription", "client_reference_id": s.org_id,
                             "customer": "cus_1", "subscription": "sub_1", "payment_status": "paid"});
        apply_stripe_event(db, &b, &event("evt_cs", "checkout.session.completed", session), t0).await.unwrap();
        let sub = json!({"id": "sub_1", "object": "subscription", "customer": "cus_1", "status": "active", "cancel_at_period_end": false,
                         "items": {"data": [{"price": {"id": "price_pro"}, "current_period_start": 1, "current_period_end": 2}]}});
        apply_stripe_event(db, &b, &event("evt_created", "customer.subscription.created", sub), t0).await.unwrap();

        let sent = queued(db, &hook).await;
        assert_eq!(sent.len(), 1, "{sent:?}");
        let body = &sent[0].2;
        assert_eq!((body["type"].clone(), body["previous_plan"]["code"].clone(), body["plan"]["code"].clone()), (json!("plan.changed"), json!("starter"), json!("pro")), "{body}");

        let close = chrono::DateTime::parse_from_rfc3339("2026-12-01T00:01:00Z").unwrap().timestamp_millis();
        service::run_due(db, &b, close).await.unwrap();
        let sent = queued(db, &hook).await;
        let invoice = sent.iter().find(|(_, _, b)| b["type"] == json!("invoice.finalized")).expect("an invoice.finalized webhook");
        let shown = tollbooth::billing::invoices::list(db, &s.org_id).await.unwrap().remove(0);
        assert_eq!(invoice.2["invoice"], serde_json::to_value(&shown).unwrap(), "the invoice as the API shows it");
        assert_eq!(invoice.2["invoice"]["status"], json!("final"));
        service::run_due(db, &b, close + 60_000).await.unwrap();
        assert_eq!(queued(db, &hook).await.len(), sent.len(), "closing again sends nothing");
        assert!(queued(db, &alerts_only).await.is_empty());
    }
}
