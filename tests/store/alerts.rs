use serde_json::json;
use tollbooth::alerts::{self, activity, outbox, settings, webhooks, AlertKind, AlertSettings};
use tollbooth::budgets::{self, BudgetInput};
use tollbooth::clock::{now_ms, to_rfc3339};
use tollbooth::audit::{AuditFilter, By};
use tollbooth::db::{Db, Engine};
use tollbooth::egress::EgressPolicy;
use tollbooth::ingest::record_usage;
use tollbooth::metering::{parse_batch, Sender};
use tollbooth::pricing::{store as prices, ModelPrice, PriceBook, UnitPrice};
use tollbooth::plans::Metric;
use tollbooth::admission::{self, Subject};
use tollbooth::quota::{rules::Ask, ReserveInput};
use tollbooth::testing::TestDb;
use tollbooth::{test_both_engines, Error};

use super::{by, sign_up};

/// The public URL confirmation links start with.
const URL: &str = "http://tollbooth.test";

/// `gpt-alert` costs $0.00001 per input token: 100,000 tokens are $1.
async fn price(db: &Db) {
    let mut p = ModelPrice::new("gpt-alert", "openai");
    p.input = Some(UnitPrice::parse("0.00001").unwrap());
    let mut book = PriceBook::default();
    book.insert(p);
    prices::import(db, &book, "test", Some(0)).await.unwrap();
}

async fn org(db: &Db, name: &str) -> Sender {
    price(db).await;
    Sender { org_id: sign_up(db, &format!("owner@{}.example", name.to_lowercase()), name).await.org.id, api_key_id: None }
}

/// Records one event of `tokens` input tokens (at `ts`, for `project`).
async fn spend(db: &Db, s: &Sender, tokens: u64, project: Option<&str>, ts: Option<i64>) {
    let mut e = json!({"model": "gpt-alert", "input_tokens": tokens});
    if let Some(p) = project {
        e["project_id"] = json!(p);
    }
    if let Some(t) = ts {
        e["timestamp"] = json!(to_rfc3339(t));
    }
    record_usage(db, s, parse_batch(&[e], now_ms())).await.unwrap();
}

fn budget(scope: &str, scope_id: Option<&str>, amount: &str, action: &str) -> BudgetInput {
    BudgetInput {
        name: format!("{scope} budget"),
        scope: scope.into(),
        scope_id: scope_id.map(String::from),
        period: "monthly".into(),
        amount_usd: amount.into(),
        action: Some(action.into()),
        ..Default::default()
    }
}

async fn count(db: &Db, sql: &str, org_id: &str) -> i64 {
    sqlx::query_scalar(sql).bind(org_id).fetch_one(db.reader()).await.unwrap()
}

test_both_engines! {
    async fn each_threshold_fires_exactly_once_under_concurrent_ingest(db) {
        let s = org(db, "Acme").await;
        budgets::create(db, &s.org_id, &budget("organization", None, "1.00", "notify"), &by()).await.unwrap();
        // 40 concurrent batches of $0.05: $2.00 in all, crossing 50%, 80% and 100%.
        let tasks: Vec<_> = (0..40)
            .map(|_| {
                let (db, s) = (db.clone(), s.clone());
                tokio::spawn(async move { spend(&db, &s, 5_000, None, None).await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let list = alerts::list(db, &s.org_id, false, 100).await.unwrap();
        let mut fired: Vec<(AlertKind, String)> = list.iter().map(|a| (a.kind, a.threshold.clone())).collect();
        fired.sort_by(|a, b| a.1.cmp(&b.1));
        assert_eq!(
            fired,
            vec![
                (AlertKind::BudgetExhausted, "100% of $1.00".to_string()),
                (AlertKind::BudgetThreshold, "50% of $1.00".to_string()),
                (AlertKind::BudgetThreshold, "80% of $1.00".to_string()),
            ]
        );
        let at80 = list.iter().find(|a| a.threshold.starts_with("80%")).unwrap();
        assert!(at80.message.contains("reached 80%"), "{}", at80.message);
        assert_eq!(at80.scope, "organization");
        // The counter is exact: $2.00 spent.
        let spent: i64 = sqlx::query_scalar("SELECT spent_nanos FROM budget_spend WHERE org_id = $1").bind(&s.org_id).fetch_one(db.reader()).await.unwrap();
        assert_eq!(spent, 2_000_000_000);
        // One mail per alert to the owner, written with the alert.
        assert_eq!(count(db, "SELECT COUNT(*) FROM notifications WHERE org_id = $1 AND channel = 'email'", &s.org_id).await, 3);
        assert_eq!(alerts::unread_count(db, &s.org_id).await.unwrap(), 3);
        let acked = alerts::acknowledge(db, &s.org_id, &at80.id, "owner@acme.example").await.unwrap();
        assert_eq!(acked.acknowledged_by.as_deref(), Some("owner@acme.example"));
        assert_eq!(alerts::unread_count(db, &s.org_id).await.unwrap(), 2);
        // Another organization cannot see or acknowledge it.
        let other = org(db, "Other").await;
        assert!(matches!(alerts::acknowledge(db, &other.org_id, &at80.id, "x").await, Err(Error::NotFound(_))));
        assert!(alerts::list(db, &other.org_id, false, 100).await.unwrap().is_empty());
    }

    async fn a_budget_created_mid_period_counts_what_was_spent_and_fires_only_new_crossings(db) {
        let s = org(db, "Acme").await;
        spend(db, &s, 60_000, None, None).await; // $0.60 before the budget
        budgets::create(db, &s.org_id, &budget("organization", None, "1.00", "notify"), &by()).await.unwrap();
        spend(db, &s, 25_000, None, None).await; // $0.85: crosses 80% only
        let list = alerts::list(db, &s.org_id, false, 100).await.unwrap();
        assert_eq!(list.iter().map(|a| a.threshold.as_str()).collect::<Vec<_>>(), vec!["80% of $1.00"]);
        // A late event of last month counts there, and alerts nothing now.
        spend(db, &s, 90_000, None, Some(now_ms() - 40 * 86_400_000)).await;
        assert_eq!(alerts::list(db, &s.org_id, false, 100).await.unwrap().len(), 1);
    }

    async fn an_exhausted_pause_budget_refuses_its_scope_until_raised(db) {
        let s = org(db, "Acme").await;
        let b = budgets::create(db, &s.org_id, &budget("project", Some("bot"), "0.10", "pause"), &by()).await.unwrap();
        spend(db, &s, 20_000, Some("bot"), None).await; // $0.20
        let bot = ReserveInput { project_id: Some("bot".into()), asks: vec![Ask { metric: Metric::Tokens, amount: 10 }], ..Default::default() };
        let Err(Error::LimitReached(r)) = admission::reserve(db, &s, bot.clone()).await else { panic!("expected the budget to refuse") };
        assert_eq!(r.status, 429);
        assert!(r.message.contains("\"project budget\"") && r.message.contains("exhausted"), "{}", r.message);
        assert_eq!(r.details["budget"]["id"], json!(b.id));
        assert!(r.retry_after_secs.unwrap() > 0);
        let who = Subject { project_id: Some("bot".into()), ..Default::default() };
        assert!(admission::check_for(db, &s.org_id, &who, &[Ask { metric: Metric::Tokens, amount: 1 }]).await.is_err());
        // Other projects, and the organization as a whole, go on.
        let other = ReserveInput { project_id: Some("web".into()), ..bot.clone() };
        admission::reserve(db, &s, other).await.unwrap();
        // Events are still recorded while paused.
        spend(db, &s, 1_000, Some("bot"), None).await;
        let st = budgets::status(db, &s.org_id, &b.id).await.unwrap();
        assert_eq!(st.spent_usd, "0.21");
        // Raising the budget lifts the pause.
        budgets::update(db, &s.org_id, &b.id, &budget("project", Some("bot"), "1.00", "pause"), &by()).await.unwrap();
        admission::reserve(db, &s, bot).await.unwrap();
    }

    async fn a_spike_fires_once_and_steady_growth_stays_silent(db) {
        let now = now_ms();
        let hour = 3_600_000;
        // Steady growth: 1% of the first hour more every hour for a week,
        // then the next hour on the same curve.
        let steady = org(db, "Steady").await;
        let low = AlertSettings { spike_min_usd: "0.01".into(), ..AlertSettings::default() };
        settings::update(db, &steady.org_id, &low, &by(), URL).await.unwrap();
        let events: Vec<_> = (0..=168)
            .map(|h| json!({"model": "gpt-alert", "input_tokens": 10_000 + 100 * h, "timestamp": to_rfc3339(now - (168 - h) * hour - 60_000)}))
            .collect();
        record_usage(db, &steady, parse_batch(&events, now)).await.unwrap();
        assert_eq!(activity::evaluate(db, &steady.org_id, now).await.unwrap(), vec![]);
        assert!(alerts::list(db, &steady.org_id, false, 10).await.unwrap().is_empty(), "steady growth is not a spike");
        // The last hour is 146% of the week's average: a 130% threshold would fire.
        settings::update(db, &steady.org_id, &AlertSettings { spike_percent: 130, ..low }, &by(), URL).await.unwrap();
        assert_eq!(activity::evaluate(db, &steady.org_id, now).await.unwrap(), vec![AlertKind::Spike]);

        // A flat $0.10/hour week, then $2 in the last hour.
        let spiky = org(db, "Spiky").await;
        let events: Vec<_> = (1..=168)
            .map(|h| json!({"model": "gpt-alert", "input_tokens": 10_000, "timestamp": to_rfc3339(now - h * hour - 60_000)}))
            .collect();
        record_usage(db, &spiky, parse_batch(&events, now)).await.unwrap();
        assert_eq!(activity::evaluate(db, &spiky.org_id, now).await.unwrap(), vec![]);
        spend(db, &spiky, 200_000, None, Some(now - 60_000)).await;
        // Recording evaluates too (at most every few seconds per organization),
        // so the spike fires there or here, once.
        activity::evaluate(db, &spiky.org_id, now).await.unwrap();
        assert_eq!(activity::evaluate(db, &spiky.org_id, now + 1000).await.unwrap(), vec![], "once per hour");
        let list = alerts::list(db, &spiky.org_id, false, 10).await.unwrap();
        assert_eq!(list.iter().map(|a| a.kind).collect::<Vec<_>>(), vec![AlertKind::Spike]);
        let a = &list[0];
        assert!(a.message.contains("$2.00 in the last hour"), "{}", a.message);
        // Below the minimum volume nothing fires.
        settings::update(db, &spiky.org_id, &AlertSettings { spike_min_usd: "100".into(), ..AlertSettings::default() }, &by(), URL).await.unwrap();
        assert_eq!(activity::evaluate(db, &spiky.org_id, now + 2 * hour).await.unwrap(), vec![]);
    }

    async fn error_rate_and_latency_fire_over_their_thresholds(db) {
        let now = now_ms();
        let s = org(db, "Flaky").await;
        settings::update(db, &s.org_id, &AlertSettings { latency_p95_ms: Some(1500), spike_enabled: false, ..AlertSettings::default() }, &by(), URL).await.unwrap();
        let events: Vec<_> = (0..40)
            .map(|i| json!({
                "model": "gpt-alert", "input_tokens": 10, "timestamp": to_rfc3339(now - 60_000),
                "status": if i < 4 { "error" } else { "success" },
                "latency_ms": if i < 35 { 300 } else { 4000 },
            }))
            .collect();
        record_usage(db, &s, parse_batch(&events, now)).await.unwrap();
        // 4 of 40 failed (10% > 5%); p95 of 40 is the 38th value: 4000 ms.
        // Recording evaluated it already; evaluating again fires nothing new.
        assert_eq!(activity::evaluate(db, &s.org_id, now).await.unwrap(), vec![]);
        let list = alerts::list(db, &s.org_id, false, 10).await.unwrap();
        let mut kinds: Vec<_> = list.iter().map(|a| a.kind.as_str()).collect();
        kinds.sort();
        assert_eq!(kinds, vec!["error_rate", "high_latency"]);
        let err = list.iter().find(|a| a.kind == AlertKind::ErrorRate).unwrap();
        assert_eq!(err.observed, "10.00% (4 of 40 requests)");
    }

    async fn a_refused_hard_limit_raises_one_quota_alert(db) {
        let s = org(db, "Capped").await;
        crate::quota::limit(db, &s.org_id, "tokens", "month", "100").await;
        let ask = ReserveInput { asks: vec![Ask { metric: Metric::Tokens, amount: 101 }], ..Default::default() };
        for _ in 0..3 {
            assert!(admission::reserve(db, &s, ask.clone()).await.is_err());
        }
        let list = alerts::list(db, &s.org_id, false, 10).await.unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].kind, AlertKind::QuotaExceeded);
        assert!(list[0].message.contains("refused"), "{}", list[0].message);
    }

    async fn a_webhook_endpoint_that_keeps_failing_is_disabled_with_the_reason(db) {
        let s = org(db, "Hooks").await;
        let ep = webhooks::create(db, &s.org_id, "http://127.0.0.1:9/hook", None, EgressPolicy::allow_private(), &by()).await.unwrap();
        assert!(ep.secret.starts_with("whsec_"));
        budgets::create(db, &s.org_id, &budget("organization", None, "1.00", "notify"), &by()).await.unwrap();
        spend(db, &s, 50_000, None, None).await; // 50%
        let mut now = now_ms();
        for attempt in 1..=5 {
            let due: Vec<_> = outbox::claim_due(db, now, 10).await.unwrap().into_iter().filter(|n| n.channel == "webhook").collect();
            assert_eq!(due.len(), 1, "attempt {attempt}");
            let failed = webhooks::Attempt { status_code: Some(500), error: None, duration_ms: 3 };
            webhooks::record_attempt(db, &due[0], &failed, now).await.unwrap();
            now += alerts::backoff_ms(attempt) + 1;
        }
        let list = webhooks::list(db, &s.org_id).await.unwrap();
        assert!(!list[0].enabled);
        assert!(list[0].disabled_reason.as_deref().unwrap().contains("HTTP 500"), "{:?}", list[0].disabled_reason);
        let log = webhooks::deliveries(db, &s.org_id, 100).await.unwrap();
        assert_eq!(log.len(), 5);
        assert!(log.iter().all(|d| d.status_code == Some(500) && d.state == "failed"));
        // A disabled endpoint gets no new notifications; enabling resets it.
        spend(db, &s, 30_000, None, None).await; // 80%
        assert_eq!(count(db, "SELECT COUNT(*) FROM notifications WHERE org_id = $1 AND channel = 'webhook'", &s.org_id).await, 1);
        assert!(webhooks::enable(db, &s.org_id, &ep.endpoint.id, &by()).await.unwrap().enabled);
        assert!(matches!(webhooks::enable(db, &s.org_id, "not-an-id", &by()).await, Err(Error::NotFound(_))));
    }

    async fn webhook_and_alert_settings_changes_are_audited_with_the_actor_and_never_the_secret(db) {
        let s = org(db, "Audited").await;
        let who = By::user("0190aaaa-bbbb-7ccc-8ddd-000000000001", "owner@audited.example").from(Some("203.0.113.5".into()), Some("test-agent".into()));
        let ep = webhooks::create(db, &s.org_id, "https://u:pw@hooks.example.com/in?token=abc", None, EgressPolicy::public_only(), &who).await.unwrap();
        let log = |action: &'static str| {
            let org = s.org_id.clone();
            async move { tollbooth::audit::list(db, Some(&org), &AuditFilter { action: action.into(), ..Default::default() }, "UTC", 10).await.unwrap() }
        };
        let created = log("webhook.create").await;
        assert_eq!(created.len(), 1);
        let e = &created[0];
        assert_eq!((e.actor_label.as_str(), e.ip.as_deref(), e.target.as_deref()), ("owner@audited.example", Some("203.0.113.5"), Some(ep.endpoint.id.as_str())));
        assert!(e.details.contains("https://hooks.example.com/in") && !e.details.contains("token=abc") && !e.details.contains("pw"), "{}", e.details);
        assert!(!e.details.contains(&ep.secret), "never the secret");

        // Enabling an endpoint that is on changes nothing and records nothing;
        // re-enabling a disabled one is recorded with what it was.
        webhooks::enable(db, &s.org_id, &ep.endpoint.id, &who).await.unwrap();
        assert!(log("webhook.enable").await.is_empty());
        sqlx::query("UPDATE webhook_endpoints SET enabled = 0, disabled_reason = 'x', consecutive_failures = 5 WHERE id = $1")
            .bind(&ep.endpoint.id).execute(db.writer()).await.unwrap();
        webhooks::enable(db, &s.org_id, &ep.endpoint.id, &who).await.unwrap();
        let enabled = log("webhook.enable").await;
        assert_eq!(enabled.len(), 1);
        assert!(enabled[0].details.contains("\"consecutive_failures\":5"), "{}", enabled[0].details);

        webhooks::delete(db, &s.org_id, &ep.endpoint.id, &who).await.unwrap();
        assert_eq!(log("webhook.delete").await.len(), 1);
        assert!(matches!(webhooks::delete(db, &s.org_id, &ep.endpoint.id, &who).await, Err(Error::NotFound(_))));
        assert_eq!(log("webhook.delete").await.len(), 1, "a refused delete records nothing");

        let changed = AlertSettings { spike_percent: 300, ..AlertSettings::default() };
        settings::update(db, &s.org_id, &changed, &who, URL).await.unwrap();
        settings::update(db, &s.org_id, &changed, &who, URL).await.unwrap();
        let updates = log("alert_settings.update").await;
        assert_eq!(updates.len(), 1, "saving the same settings records nothing");
        let d: serde_json::Value = serde_json::from_str(&updates[0].details).unwrap();
        assert_eq!((d["before"]["spike_percent"].clone(), d["after"]["spike_percent"].clone()), (json!(200), json!(300)), "{d}");
        assert_eq!(tollbooth::audit::verify(db).await.unwrap().1, None);
    }

    async fn an_extra_recipient_gets_one_confirmation_and_alert_mail_only_once_confirmed(db) {
        let s = org(db, "Mailer").await;
        let with = |extra: &[&str]| AlertSettings { extra_recipients: extra.iter().map(|e| e.to_string()).collect(), ..AlertSettings::default() };
        let saved = settings::update(db, &s.org_id, &with(&["ops@third.example"]), &by(), URL).await.unwrap();
        assert_eq!(saved.extra_recipient_states[0].state, alerts::RecipientState::Pending);
        let mails = || async { outbox::list_mail(db, Some(&s.org_id), 50).await.unwrap() };
        let to_ops = |m: &Vec<alerts::MailView>| m.iter().filter(|m| m.recipient == "ops@third.example").count();
        let first = mails().await;
        assert_eq!(to_ops(&first), 1, "one confirmation mail");
        assert!(first[0].body.contains("http://tollbooth.test/alerts/confirm/"), "{}", first[0].body);

        // Removed and re-added the same day: no second mail.
        settings::update(db, &s.org_id, &with(&[]), &by(), URL).await.unwrap();
        settings::update(db, &s.org_id, &with(&["ops@third.example"]), &by(), URL).await.unwrap();
        assert_eq!(to_ops(&mails().await), 1);

        // An alert now mails the owner only.
        budgets::create(db, &s.org_id, &budget("organization", None, "1.00", "notify"), &by()).await.unwrap();
        spend(db, &s, 50_000, None, None).await;
        let m = mails().await;
        assert_eq!(to_ops(&m), 1, "no alert mail before confirmation");
        assert_eq!(m.iter().filter(|m| m.recipient == "owner@mailer.example").count(), 1);

        // Following the link confirms; the next alert mails both.
        let body = &m.iter().find(|m| m.recipient == "ops@third.example").unwrap().body;
        let token = body.split("/alerts/confirm/").nth(1).unwrap().split_whitespace().next().unwrap();
        assert!(alerts::recipients::confirm(db, "00", now_ms()).await.is_err());
        let c = alerts::recipients::confirm(db, token, now_ms()).await.unwrap();
        assert_eq!((c.email.as_str(), c.org_name.as_str()), ("ops@third.example", "Mailer"));
        assert_eq!(settings::get(db, &s.org_id).await.unwrap().extra_recipient_states[0].state, alerts::RecipientState::Confirmed);
        spend(db, &s, 30_000, None, None).await; // 80%
        assert_eq!(to_ops(&mails().await), 2, "the confirmation and one alert");
    }
}

/// An alert's notification is durable: a sender that dies after claiming it
/// (or a process that stops before sending) leaves it to the next process,
/// which delivers it once; a sent one is never claimed again.
async fn an_undelivered_notification_survives_a_restart_and_is_delivered_once(engine: Engine) {
    let Some(t) = TestDb::new(engine).await else { return };
    let s = org(&t.db, "Durable").await;
    webhooks::create(&t.db, &s.org_id, "http://127.0.0.1:9/hook", None, EgressPolicy::allow_private(), &by()).await.unwrap();
    budgets::create(&t.db, &s.org_id, &budget("organization", None, "1.00", "notify"), &by()).await.unwrap();
    spend(&t.db, &s, 50_000, None, None).await;
    let now = now_ms();
    // The first process claims it and dies before sending.
    let claimed = outbox::claim_due(&t.db, now, 10).await.unwrap();
    assert_eq!(claimed.len(), 2, "one mail and one webhook");
    t.db.close().await;

    // A new process on the same database.
    let db = Db::connect(&t.url).await.unwrap();
    assert!(outbox::claim_due(&db, now + 1000, 10).await.unwrap().is_empty(), "still leased");
    let later = now + outbox::LEASE_MS + 1;
    let again = outbox::claim_due(&db, later, 10).await.unwrap();
    assert_eq!(again.len(), 2);
    let hook = again.iter().find(|n| n.channel == "webhook").unwrap();
    assert!(hook.body.contains("\"kind\":\"budget_threshold\""));
    webhooks::record_attempt(&db, hook, &webhooks::Attempt { status_code: Some(204), error: None, duration_ms: 1 }, later).await.unwrap();
    let mail = again.iter().find(|n| n.channel == "email").unwrap();
    outbox::mark_sent(&db, &mail.id, later).await.unwrap();
    assert!(outbox::claim_due(&db, later + 10 * outbox::LEASE_MS, 10).await.unwrap().is_empty(), "sent ones are never sent again");
    let sent: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM notifications WHERE org_id = $1 AND state = 'sent'").bind(&s.org_id).fetch_one(db.reader()).await.unwrap();
    assert_eq!(sent, 2);
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undelivered_notification_survives_a_restart_sqlite() {
    an_undelivered_notification_survives_a_restart_and_is_delivered_once(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undelivered_notification_survives_a_restart_postgres() {
    an_undelivered_notification_survives_a_restart_and_is_delivered_once(Engine::Postgres).await;
}
