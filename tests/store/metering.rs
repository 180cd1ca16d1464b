use serde_json::json;
use tollbooth::clock::now_ms;
use tollbooth::metering::{parse_batch, record_usage, Outcome, Sender};
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
        assert_eq!((out[0].cost_usd.clone(), out[0].priced), (None, Some(false)));
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

    async fn the_same_id_in_two_organizations_is_two_events(db) {
        prices::import(db, &book("0.000001", "0"), "test", Some(0)).await.unwrap();
        let a = sender(db).await;
        let b = Sender { org_id: sign_up(db, "b@example.com", "B").await.org.id, api_key_id: None };
        let ev = vec![json!({"id": "same", "model": "test-model", "input_tokens": 1})];
        assert_eq!(record_usage(db, &a, parse_batch(&ev, now_ms())).await.unwrap()[0].status, Outcome::Accepted);
        assert_eq!(record_usage(db, &b, parse_batch(&ev, now_ms())).await.unwrap()[0].status, Outcome::Accepted);
    }
}
