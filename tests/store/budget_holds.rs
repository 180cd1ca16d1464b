//! Pause budgets count the cost held by reservations in flight: reservations
//! granted together never promise more than the budget, on either engine and
//! across processes sharing one PostgreSQL database.

use serde_json::json;
use tollbooth::admission::{self, Subject};
use tollbooth::budgets::{self, enforce::HELD_RETRY_SECS, BudgetInput};
use tollbooth::clock::now_ms;
use tollbooth::db::Db;
use tollbooth::error::Refusal;
use tollbooth::ingest;
use tollbooth::metering::{parse_batch, Sender};
use tollbooth::plans::Metric;
use tollbooth::pricing::{store as prices, ModelPrice, PriceBook, UnitPrice};
use tollbooth::quota::{self, rules::Ask, ReserveInput};
use tollbooth::testing::TestDb;
use tollbooth::{test_both_engines, Error};

use super::{by, sign_up};

/// Nano-USD in a dollar.
const USD: i64 = 1_000_000_000;

/// `gpt-hold` costs $0.0001 per input token: 1,000 tokens are $0.10.
async fn org(db: &Db) -> Sender {
    let mut p = ModelPrice::new("gpt-hold", "openai");
    p.input = Some(UnitPrice::parse("0.0001").unwrap());
    let mut book = PriceBook::default();
    book.insert(p);
    prices::import(db, &book, "test", Some(0)).await.unwrap();
    Sender { org_id: sign_up(db, "owner@acme.example", "Acme").await.org.id, api_key_id: None }
}

fn budget(project: &str, amount: &str, action: &str) -> BudgetInput {
    BudgetInput {
        name: format!("{project} budget"),
        scope: "project".into(),
        scope_id: Some(project.into()),
        period: "monthly".into(),
        amount_usd: amount.into(),
        action: Some(action.into()),
        ..Default::default()
    }
}

/// A reservation of `cost` nano-USD for `project`.
fn costing(project: &str, cost: i64) -> ReserveInput {
    ReserveInput { project_id: Some(project.into()), asks: vec![Ask { metric: Metric::CostUsd, amount: cost }], ..Default::default() }
}

/// The refusal of a budget, or a panic saying what came instead.
fn refusal<T: std::fmt::Debug>(r: tollbooth::Result<T>) -> Box<Refusal> {
    match r {
        Err(Error::LimitReached(r)) => r,
        other => panic!("expected a budget's refusal, got {other:?}"),
    }
}

/// Reserves `cost` for `project` `n` times at once on `dbs` in turn; the
/// granted reservation ids and the refusals.
async fn at_once(dbs: &[Db], s: &Sender, project: &str, cost: i64, n: usize) -> (Vec<String>, Vec<Box<Refusal>>) {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (db, s, input) = (dbs[i % dbs.len()].clone(), s.clone(), costing(project, cost));
            tokio::spawn(async move { admission::reserve(&db, &s, input).await })
        })
        .collect();
    let (mut granted, mut refused) = (Vec::new(), Vec::new());
    for t in tasks {
        match t.await.unwrap() {
            Ok(g) => granted.push(g.reservation_id),
            other => refused.push(refusal(other)),
        }
    }
    (granted, refused)
}

/// One event of `tokens` input tokens of `gpt-hold` for `project`.
fn usage(tokens: u64, project: &str) -> Vec<tollbooth::metering::ParsedEvent> {
    parse_batch(&[json!({"model": "gpt-hold", "input_tokens": tokens, "project_id": project})], now_ms())
}

test_both_engines! {
    async fn concurrent_reservations_never_promise_more_than_a_pause_budget(db) {
        let s = org(db).await;
        let b = budgets::create(db, &s.org_id, &budget("bot", "1.00", "pause"), &by()).await.unwrap();
        // 20 calls of $0.25 at once against $1.00: four fit.
        let (granted, refused) = at_once(std::slice::from_ref(db), &s, "bot", USD / 4, 20).await;
        assert_eq!((granted.len(), refused.len()), (4, 16));
        for r in &refused {
            assert_eq!((r.status, r.limit.clone()), (429, format!("budget:{}", b.id)));
            assert_eq!(r.details["budget"]["id"], json!(b.id));
            assert!(r.message.contains("\"bot budget\"") && r.message.contains("$1.00 held by 4 calls in flight"), "{}", r.message);
            assert_eq!(r.retry_after_secs, Some(HELD_RETRY_SECS), "room comes back as calls settle");
        }
        // A check says the same without holding anything.
        let who = Subject { project_id: Some("bot".into()), ..Default::default() };
        let cost = |c| [Ask { metric: Metric::CostUsd, amount: c }];
        refusal(admission::check_for(db, &s.org_id, &who, &cost(1)).await);
        assert!(admission::check_for(db, &s.org_id, &who, &cost(0)).await.unwrap().allowed, "nothing more asked passes nothing");

        // One call costs $0.10 of its $0.25; another is released unused.
        let done = ingest::commit_reservation(db, &s, &granted[0], usage(1_000, "bot")).await.unwrap();
        assert!(done.recorded);
        quota::release_reservation(db, &s.org_id, &granted[1]).await.unwrap();
        // $1.00 − $0.10 spent − 2 × $0.25 held = $0.40, exactly.
        assert!(admission::check_for(db, &s.org_id, &who, &cost(4 * USD / 10)).await.unwrap().allowed);
        refusal(admission::check_for(db, &s.org_id, &who, &cost(4 * USD / 10 + 1)).await);
        admission::reserve(db, &s, costing("bot", USD / 4)).await.unwrap();
        let r = refusal(admission::reserve(db, &s, costing("bot", USD / 4)).await);
        assert!(r.message.contains("$0.15 left of $1.00 ($0.10 spent, $0.75 held by 3 calls in flight): $0.25 more"), "{}", r.message);
        assert_eq!((r.details["budget"]["spent_usd"].clone(), r.details["budget"]["held_usd"].clone()), (json!("0.10"), json!("0.75")));

        // Another project is not covered; a notify budget never refuses, and
        // saving it reloads the caps without forgetting what is held.
        budgets::create(db, &s.org_id, &budget("web", "0.10", "notify"), &by()).await.unwrap();
        let (web, none) = at_once(std::slice::from_ref(db), &s, "web", USD / 4, 8).await;
        assert_eq!((web.len(), none.len()), (8, 0));
        ingest::record_usage(db, &s, usage(5_000, "web")).await.unwrap(); // $0.50 of $0.10
        admission::reserve(db, &s, costing("web", USD)).await.unwrap();
        refusal(admission::reserve(db, &s, costing("bot", USD / 4)).await);
        // A call that costs more than it reserved is recorded (usage is a
        // fact); then nothing more is granted until the period ends.
        let done = ingest::commit_reservation(db, &s, &granted[2], usage(9_000, "bot")).await.unwrap();
        assert!(done.recorded);
        let r = refusal(admission::reserve(db, &s, costing("bot", 0)).await);
        assert!(r.message.contains("is exhausted ($1.00 of $1.00)"), "{}", r.message);
        assert!(r.retry_after_secs.unwrap() > HELD_RETRY_SECS);
    }

    async fn an_expired_reservation_stops_holding_a_budget(db) {
        let s = org(db).await;
        budgets::create(db, &s.org_id, &budget("bot", "1.00", "pause"), &by()).await.unwrap();
        admission::reserve(db, &s, ReserveInput { ttl_seconds: Some(1), ..costing("bot", USD) }).await.unwrap();
        refusal(admission::reserve(db, &s, costing("bot", 1)).await);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while admission::reserve(db, &s, costing("bot", USD)).await.is_err() {
            assert!(std::time::Instant::now() < deadline, "still held after its expiry");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

/// A restarted SQLite server finds the reservations in flight, with whom they
/// are for, in the database.
#[tokio::test]
async fn a_fresh_sqlite_ledger_loads_what_reservations_hold() {
    let t = TestDb::sqlite().await;
    let s = org(&t.db).await;
    budgets::create(&t.db, &s.org_id, &budget("bot", "1.00", "pause"), &by()).await.unwrap();
    let (granted, _) = at_once(std::slice::from_ref(&t.db), &s, "bot", USD / 4, 4).await;
    assert_eq!(granted.len(), 4);
    quota::flush(&t.db).await.unwrap();
    let restarted = Db::connect(&t.url).await.unwrap();
    let r = refusal(admission::reserve(&restarted, &s, costing("bot", 1)).await);
    assert!(r.message.contains("$1.00 held by 4 calls in flight"), "{}", r.message);
    admission::reserve(&restarted, &s, costing("web", USD)).await.unwrap();
}

/// Two processes on one PostgreSQL database (two pools, each with its own
/// in-process state) reserve and commit at once against one $1.00 budget:
/// spend plus held never passes it, and it is filled exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_postgres_database_never_pass_a_pause_budget() {
    let Some(t) = TestDb::postgres().await else { return };
    let s = org(&t.db).await;
    let b = budgets::create(&t.db, &s.org_id, &budget("bot", "1.00", "pause"), &by()).await.unwrap();
    let other = Db::connect(&t.url).await.unwrap();
    let dbs = [t.db.clone(), other.clone()];
    // 60 calls of $0.10: every other granted one is committed at once
    // (through the other process) at its reserved cost, the rest stay held.
    let tasks: Vec<_> = (0..60)
        .map(|i| {
            let (db, commit_on, s) = (dbs[i % 2].clone(), dbs[(i + 1) % 2].clone(), s.clone());
            tokio::spawn(async move {
                let g = admission::reserve(&db, &s, costing("bot", USD / 10)).await.ok()?;
                if i % 4 < 2 {
                    ingest::commit_reservation(&commit_on, &s, &g.reservation_id, usage(1_000, "bot")).await.unwrap();
                }
                Some(g.reservation_id)
            })
        })
        .collect();
    let mut granted = 0;
    for t in tasks {
        granted += t.await.unwrap().is_some() as i64;
    }
    assert_eq!(granted, 10, "$0.10 ten times fills $1.00 exactly");
    let spent = budgets::status(&t.db, &s.org_id, &b.id).await.unwrap().spent_usd;
    let held: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(a.amount), 0) AS BIGINT) FROM reservations r JOIN reservation_amounts a ON a.reservation_id = r.id \
         WHERE r.org_id = $1 AND r.state = 'active' AND a.metric = 'cost_usd'",
    )
    .bind(&s.org_id)
    .fetch_one(t.db.reader())
    .await
    .unwrap();
    let spent_nanos = tollbooth::pricing::NanoUsd::parse_usd(&spent).unwrap().nanos();
    assert_eq!(spent_nanos + held, USD, "spent {spent} + held {held} nanos");
    other.close().await;
}
