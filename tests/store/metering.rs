use serde_json::json;
use tollbooth::clock::now_ms;
use tollbooth::ingest::record_usage;
use tollbooth::metering::{parse_batch, Outcome, Sender};
use tollbooth::pricing::{store as prices, ModelPrice, PriceBook, UnitPrice};
use tollbooth::test_both_engines;

use super::sign_up;

/// A book with one model at the given per-token prices (USD).
fn book(input: &str, output: &str) -> PriceBook {
    let mut p = ModelPrice::new("test-model", "openai");
    p.input = Some(UnitPrice::parse(input).unwrap());
    p.output = Some(UnitPrice::parse(output).unwrap());
    let mut b = PriceBook::default();
    b.insert(p);
    b
}

async fn sender(db: &tollbooth::db::Db) -> Sender {
    Sender { org_id: sign_up(db, "a@example.com", "A").await.org.id, api_key_id: None }
}

test_both_engines! {
    async fn events_are_priced_exactly_and_a_retry_counts_once(db) {
        prices::import(db, &book("0.0000025", "0.00001"), "test", Some(0)).await.unwrap();
        let s = sender(db).await;
        let batch = vec![json!({"id": "e1", "model": "test-model", "input_tokens": 1000, "output_tokens": 333})];
        let first = record_usage(db, &s, parse_batch(&batch, now_ms())).await.unwrap();
        // 1000 × 0.0000025 + 333 × 0.00001 = 0.0025 + 0.00333
        assert_eq!(first[0].status, Outcome::Accepted);
        assert_eq!(first[0].cost_usd.as_deref(), Some("0.005830000"));
        let again = record_usage(db, &s, parse_batch(&batch, now_ms())).await.unwrap();
        assert_eq!(again[0].status, Outcome::Duplicate);
        assert_eq!(again[0].cost_usd.as_deref(), Some("0.005830000"), "a duplicate reports the stored cost");
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM usage_events").fetch_one(db.reader()).await.unwrap();
        assert_eq!(n, 1);
    }

    async fn an_unknown_model_is_stored_unpriced_never_as_zero(db) {
        let s = sender(db).await;
        let out = record_usage(db, &s, parse_batch(&[json!({"model": "mystery-1", "input_tokens": 5})], now_ms())).await.unwrap();
        assert_eq!(out[0].status, Outcome::Accepted);
        assert_eq!((out[0].cost_usd.clone(), out[0].priced), (None, Some(tollbooth::metering::Pricing::Unpriced)));
        assert!(out[0].id.is_some(), "an id is generated when the client sends none");
        let cost: Option<i64> = sqlx::query_scalar("SELECT cost_nano FROM usage_events").fetch_one(db.reader()).await.unwrap();
        assert_eq!(cost, None);
    }

    async fn an_event_is_priced_with_the_price_in_force_at_its_timestamp(db) {
        let t1 = now_ms() - 3_600_000;
        prices::import(db, &book("0.000001", "0"), "catalog", Some(0)).await.unwrap();
        let r = prices::import(db, &book("0.000002", "0"), "import", Some(t1)).await.unwrap();
        assert_eq!((r.added, r.changed, r.unchanged), (0, 1, 0));
        let unchanged = prices::import(db, &book("0.000002", "0"), "import", None).await.unwrap();
        assert_eq!((unchanged.changed, unchanged.unchanged), (0, 1), "re-importing the same price adds nothing");

        let s = sender(db).await;
        let before = tollbooth::clock::to_rfc3339(t1 - 60_000);
        let events = vec![
            json!({"id": "old", "model": "test-model", "input_tokens": 1000, "timestamp": before}),
            json!({"id": "new", "model": "test-model", "input_tokens": 1000}),
        ];
        let out = record_usage(db, &s, parse_batch(&events, now_ms())).await.unwrap();
        assert_eq!(out[0].cost_usd.as_deref(), Some("0.001000000"));
        assert_eq!(out[1].cost_usd.as_deref(), Some("0.002000000"));
    }

    async fn a_batch_mixing_good_and_bad_events_keeps_the_good_ones(db) {
        prices::import(db, &book("0.000001", "0.000002"), "test", Some(0)).await.unwrap();
        let s = sender(db).await;
        let events = vec![
            json!({"id": "good-1", "model": "test-model", "input_tokens": 10}),
            json!({"id": "bad-1", "model": "test-model", "input_tokens": -3}),
            json!({"id": "bad-2", "model": "test-model", "input_tokens": 10, "cached_input_tokens": 11}),
            json!({"id": "good-2", "model": "test-model", "output_tokens": 10}),
        ];
        let out = record_usage(db, &s, parse_batch(&events, now_ms())).await.unwrap();
        let statuses: Vec<_> = out.iter().map(|r| r.status.clone()).collect();
        assert_eq!(statuses, [Outcome::Accepted, Outcome::Rejected, Outcome::Rejected, Outcome::Accepted]);
        assert_eq!(out[1].id.as_deref(), Some("bad-1"));
        assert!(out[1].error.as_deref().unwrap().starts_with("input_tokens"));
        assert!(out[2].error.as_deref().unwrap().starts_with("cached_input_tokens"));
        let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM usage_events ORDER BY id").fetch_all(db.reader()).await.unwrap();
        assert_eq!(ids, ["good-1", "good-2"]);
    }

    async fn an_id_repeated_within_one_batch_counts_once(db) {
        prices::import(db, &book("0.000001", "0"), "test", Some(0)).await.unwrap();
        let s = sender(db).await;
        let ev = json!({"id": "twice", "model": "test-model", "input_tokens": 7});
        let out = record_usage(db, &s, parse_batch(&[ev.clone(), ev], now_ms())).await.unwrap();
        let statuses: Vec<_> = out.iter().map(|r| r.status.clone()).collect();
        assert_eq!(statuses, [Outcome::Accepted, Outcome::Duplicate]);
        assert_eq!(out[1].cost_usd.as_deref(), Some("0.000007000"), "the repeat reports the cost of the first");
        let n: i64 = sqlx::query_scalar("SELECT CAST(SUM(events) AS BIGINT) FROM rollup_org_daily")
            .fetch_one(db.reader()).await.unwrap();
        assert_eq!(n, 1);
    }

    async fn a_price_change_is_used_by_the_next_batch_despite_the_cache(db) {
        prices::import(db, &book("0.000001", "0"), "catalog", Some(0)).await.unwrap();
        let s = sender(db).await;
        let ev = |id: &str| vec![json!({"id": id, "model": "test-model", "input_tokens": 1000})];
        let first = record_usage(db, &s, parse_batch(&ev("a"), now_ms())).await.unwrap();
        assert_eq!(first[0].cost_usd.as_deref(), Some("0.001000000"));
        // The cache now holds the old history; the import must invalidate it.
        prices::import(db, &book("0.000003", "0"), "import", Some(now_ms() - 1)).await.unwrap();
        let second = record_usage(db, &s, parse_batch(&ev("b"), now_ms())).await.unwrap();
        assert_eq!(second[0].cost_usd.as_deref(), Some("0.003000000"));
        // The version moves in the database, so other processes drop their caches too.
        let version: i64 = sqlx::query_scalar("SELECT version FROM price_book_version").fetch_one(db.reader()).await.unwrap();
        assert!(version >= 2, "every import moves the price book version (got {version})");
    }

    async fn usage_can_be_grouped_by_session(db) {
        use tollbooth::metering::usage::{usage, GroupBy, UsageQuery};
        prices::import(db, &book("0.000001", "0.000002"), "test", Some(0)).await.unwrap();
        let s = sender(db).await;
        let events = vec![
            json!({"id": "1", "model": "test-model", "session_id": "chat-a", "input_tokens": 100, "output_tokens": 10}),
            json!({"id": "2", "model": "test-model", "session_id": "chat-a", "input_tokens": 200, "output_tokens": 20}),
            json!({"id": "3", "model": "test-model", "session_id": "chat-b", "input_tokens": 50}),
            json!({"id": "4", "model": "test-model", "input_tokens": 1}),
        ];
        record_usage(db, &s, parse_batch(&events, now_ms())).await.unwrap();
        let q = UsageQuery { from_ms: now_ms() - 86_400_000, to_ms: now_ms() + 3_600_000, group_by: vec![GroupBy::Session], ..Default::default() };
        let rows = usage(db, &s.org_id, "UTC", &q).await.unwrap();
        let got: Vec<_> = rows.iter().map(|r| (r.group["session"].as_str(), r.events, r.input_tokens, r.cost_usd.as_str())).collect();
        // Largest cost first.
        assert_eq!(got, [("chat-a", 2, 300, "0.000360000"), ("chat-b", 1, 50, "0.000050000"), ("", 1, 1, "0.000001000")]);
    }

    async fn the_same_id_in_two_organizations_is_two_events(db) {
        prices::import(db, &book("0.000001", "0"), "test", Some(0)).await.unwrap();
        let a = sender(db).await;
        let b = Sender { org_id: sign_up(db, "b@example.com", "B").await.org.id, api_key_id: None };
        let ev = vec![json!({"id": "same", "model": "test-model", "input_tokens": 1})];
        assert_eq!(record_usage(db, &a, parse_batch(&ev, now_ms())).await.unwrap()[0].status, Outcome::Accepted);
        assert_eq!(record_usage(db, &b, parse_batch(&ev, now_ms())).await.unwrap()[0].status, Outcome::Accepted);
    }
}

async fn sums(db: &tollbooth::db::Db, sql: &str) -> Vec<i64> {
    use sqlx::Row;
    let row = sqlx::query(sql).fetch_one(db.reader()).await.unwrap();
    (0..row.len()).map(|i| row.try_get::<i64, _>(i).unwrap()).collect()
}

test_both_engines! {
    async fn rollups_equal_the_sum_of_raw_events(db) {
        prices::import(db, &book("0.0000013", "0.0000071"), "test", Some(0)).await.unwrap();
        let s = sender(db).await;
        let base = now_ms() - 3 * 86_400_000;
        for batch in 0..6 {
            let events: Vec<_> = (0..50)
                .map(|i| {
                    let n = batch * 50 + i;
                    json!({
                        // Every 7th id repeats an earlier one: duplicates must not count.
                        "id": format!("ev-{}", if n % 7 == 6 { n - 1 } else { n }),
                        "timestamp": tollbooth::clock::to_rfc3339(base + n * 733_331),
                        "model": if n % 5 == 0 { "unknown-model" } else { "test-model" },
                        "user_id": format!("user-{}", n % 3),
                        "session_id": if n % 4 == 0 { serde_json::Value::Null } else { json!(format!("s-{}", n % 9)) },
                        "feature": if n % 2 == 0 { "chat" } else { "embedding" },
                        "input_tokens": 100 + n * 13,
                        "cached_input_tokens": n % 50,
                        "output_tokens": 7 * n,
                        "latency_ms": 50 + (n * 37) % 2000,
                        "status": if n % 11 == 0 { "error" } else { "success" },
                    })
                })
                .collect();
            record_usage(db, &s, parse_batch(&events, now_ms())).await.unwrap();
        }
        // Events days old are backfilled: their rollup rows are written by
        // the fold (the usage report reads them before, see tests/store/analytics.rs).
        assert!(tollbooth::metering::analytics::pending::fold_all(db, 100).await.unwrap() > 0);
        let raw = sums(db, "SELECT COUNT(*), CAST(SUM(input_tokens) AS BIGINT), CAST(SUM(cached_input_tokens) AS BIGINT), \
            CAST(SUM(output_tokens) AS BIGINT), CAST(COALESCE(SUM(cost_nano), 0) AS BIGINT), \
            CAST(SUM(CASE WHEN cost_nano IS NULL THEN 1 ELSE 0 END) AS BIGINT), \
            CAST(SUM(CASE WHEN status <> 'success' THEN 1 ELSE 0 END) AS BIGINT), CAST(SUM(latency_ms) AS BIGINT) FROM usage_events").await;
        assert!(raw[0] > 250 && raw[0] < 300, "duplicates were dropped: {}", raw[0]);
        // Every narrow rollup sums to the raw events, and so do the lifetime totals.
        let tables = ["rollup_org_hourly", "rollup_org_daily", "rollup_model_hourly", "rollup_model_daily", "rollup_user_daily",
            "rollup_project_daily", "rollup_feature_daily", "rollup_session_daily", "usage_totals"];
        for table in tables {
            let rolled = sums(db, &format!("SELECT CAST(SUM(events) AS BIGINT), CAST(SUM(input_tokens) AS BIGINT), \
                CAST(SUM(cached_input_tokens) AS BIGINT), CAST(SUM(output_tokens) AS BIGINT), CAST(SUM(cost_nano) AS BIGINT), \
                CAST(SUM(unpriced_events) AS BIGINT), CAST(SUM(errors) AS BIGINT), CAST(SUM(latency_sum_ms) AS BIGINT) \
                FROM {table}")).await;
            assert_eq!(rolled, raw, "{table}");
        }
        let histogram: Vec<String> = tollbooth::metering::analytics::latency_columns().collect();
        for table in ["rollup_org_hourly", "rollup_org_daily", "rollup_model_hourly", "rollup_model_daily"] {
            let hist = sums(db, &format!("SELECT CAST(SUM({}) AS BIGINT) FROM {table}", histogram.join(" + "))).await;
            assert_eq!(hist[0], raw[0], "{table}: every call with a latency is in one histogram bucket");
        }
        let one_session = sums(db, "SELECT CAST(SUM(output_tokens) AS BIGINT) FROM rollup_session_daily WHERE session_id = 's-5'").await;
        let raw_session = sums(db, "SELECT CAST(SUM(output_tokens) AS BIGINT) FROM usage_events WHERE session_id = 's-5'").await;
        assert_eq!(one_session, raw_session);
        let per_user = sums(db, "SELECT CAST(SUM(cost_nano) AS BIGINT) FROM rollup_user_daily WHERE user_id = 'user-1'").await;
        let raw_user = sums(db, "SELECT CAST(COALESCE(SUM(cost_nano), 0) AS BIGINT) FROM usage_events WHERE user_id = 'user-1'").await;
        assert_eq!(per_user, raw_user);
    }
}

test_both_engines! {
    async fn unpriced_models_are_listed_per_org_and_platform_wide(db) {
        prices::import(db, &book("0.000001", "0"), "test", Some(0)).await.unwrap();
        let a = sender(db).await;
        let b = Sender { org_id: sign_up(db, "b@example.com", "B").await.org.id, api_key_id: None };
        let ev = |id: &str, model: &str| json!({"id": id, "model": model, "input_tokens": 1});
        record_usage(db, &a, parse_batch(&[ev("1", "mystery"), ev("2", "mystery"), ev("3", "test-model")], now_ms())).await.unwrap();
        record_usage(db, &b, parse_batch(&[ev("1", "mystery"), ev("2", "other")], now_ms())).await.unwrap();
        let mine = tollbooth::metering::unpriced::unpriced_models(db, Some(&a.org_id)).await.unwrap();
        assert_eq!(mine.iter().map(|m| (m.model.as_str(), m.events)).collect::<Vec<_>>(), [("mystery", 2)]);
        let all = tollbooth::metering::unpriced::unpriced_models(db, None).await.unwrap();
        assert_eq!(all.iter().map(|m| (m.model.as_str(), m.events, m.organizations)).collect::<Vec<_>>(), [("mystery", 3, 2), ("other", 1, 1)]);
    }
}
