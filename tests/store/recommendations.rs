use serde_json::{json, Value};
use tollbooth::clock::{now_ms, to_rfc3339};
use tollbooth::ingest::record_usage;
use tollbooth::metering::{parse_batch, Outcome, Sender};
use tollbooth::pricing::{store as prices, Mode, ModelPrice, PriceBook, UnitPrice};
use tollbooth::recommendations::{dismiss, list, Kind};
use tollbooth::test_both_engines;

use super::sign_up;

/// A chat model of `provider` at the given USD prices per token.
fn chat(name: &str, provider: &str, input: &str, output: &str, cache_read: Option<&str>, caps: &[&str]) -> ModelPrice {
    let mut m = ModelPrice::new(name, provider);
    m.mode = Some(Mode::Chat);
    m.input = Some(UnitPrice::parse(input).unwrap());
    m.output = Some(UnitPrice::parse(output).unwrap());
    m.cache_read = cache_read.map(|p| UnitPrice::parse(p).unwrap());
    for c in caps {
        m.capabilities.insert(format!("supports_{c}"), true);
    }
    m
}

async fn load(db: &tollbooth::db::Db, models: Vec<ModelPrice>) {
    let mut book = PriceBook::default();
    for m in models {
        book.insert(m);
    }
    prices::import(db, &book, "test", Some(0)).await.unwrap();
}

async fn ingest(db: &tollbooth::db::Db, org_id: &str, events: Vec<Value>) {
    let s = Sender { org_id: org_id.to_string(), api_key_id: None };
    let out = record_usage(db, &s, parse_batch(&events, now_ms())).await.unwrap();
    assert!(out.iter().all(|r| r.status == Outcome::Accepted), "{out:?}");
}

test_both_engines! {
    async fn cheaper_models_are_priced_on_the_organizations_own_token_mix(db) {
        load(db, vec![
            chat("big", "acme", "0.0000025", "0.00001", Some("0.00000125"), &["vision", "prompt_caching"]),
            chat("small", "acme", "0.00000015", "0.0000006", Some("0.000000075"), &["vision", "prompt_caching"]),
            chat("mid", "acme", "0.000001", "0.000004", None, &["vision", "prompt_caching"]),
            chat("text-only", "acme", "0.0000001", "0.0000001", None, &["prompt_caching"]),
            chat("elsewhere", "other-co", "0.0000001", "0.0000001", None, &["vision", "prompt_caching"]),
        ]).await;
        let a = sign_up(db, "a@example.com", "A").await.org.id;
        let b = sign_up(db, "b@example.com", "B").await.org.id;
        let mut events: Vec<Value> = (0..10)
            .map(|i| json!({"id": format!("e{i}"), "model": "big", "input_tokens": 10_000, "cached_input_tokens": 4_000, "output_tokens": 500}))
            .collect();
        // Outside the 30-day window: not part of the mix.
        events.push(json!({"id": "old", "model": "big", "input_tokens": 9_000_000, "timestamp": to_rfc3339(now_ms() - 40 * 86_400_000)}));
        // Unpriced: nothing to compare it with.
        events.push(json!({"id": "mystery", "model": "mystery-1", "input_tokens": 10_000}));
        ingest(db, &a, events).await;

        let recs = list(db, &a).await.unwrap();
        // Today on big: 60,000 plain × 0.0000025 + 40,000 cached × 0.00000125 + 5,000 out × 0.00001
        //   = 0.15 + 0.05 + 0.05 = $0.25.
        // small: 0.009 + 0.003 + 0.003 = $0.015 (saving $0.235); mid has no cache price, so cache
        // reads cost its input price: 0.06 + 0.04 + 0.02 = $0.12 (saving $0.13). text-only lacks
        // vision; elsewhere is another provider.
        let got: Vec<(&str, Option<&str>)> = recs.iter().map(|r| (r.key.as_str(), r.monthly_saving_usd.as_deref())).collect();
        assert_eq!(got, [("cheaper_model:big:small", Some("0.235")), ("cheaper_model:big:mid", Some("0.13"))]);
        let r = &recs[0];
        assert_eq!((r.kind, r.model.as_deref(), r.alternative_model.as_deref()), (Kind::CheaperModel, Some("big"), Some("small")));
        assert_eq!(r.evidence["calls"], 10);
        assert_eq!(r.evidence["input_tokens"], 100_000);
        assert_eq!(r.evidence["cached_input_tokens"], 40_000);
        assert_eq!(r.evidence["output_tokens"], 5_000);
        assert_eq!((r.evidence["current_cost_usd"].as_str(), r.evidence["alternative_cost_usd"].as_str()), (Some("0.25"), Some("0.015")));
        assert_eq!(r.evidence["recorded_spend_usd"], "0.25");
        assert!(r.detail.contains("10 calls to big") && r.detail.contains("$0.24 a month"), "{}", r.detail);

        assert!(list(db, &b).await.unwrap().is_empty(), "another organization's usage recommends nothing to B");
        assert!(list(db, "").await.is_err(), "no organization, no recommendations");
    }

    async fn inefficiencies_come_with_their_evidence_and_dismissals_stick(db) {
        load(db, vec![chat("cachey", "acme", "0.000001", "0.000002", None, &["prompt_caching"])]).await;
        let a = sign_up(db, "a@example.com", "A").await.org.id;
        let b = sign_up(db, "b@example.com", "B").await.org.id;
        let mut events: Vec<Value> = (0..19)
            .map(|i| json!({"id": format!("ok{i}"), "model": "cachey", "input_tokens": 3_000, "output_tokens": 100}))
            .collect();
        events.push(json!({"id": "failed", "model": "cachey", "input_tokens": 3_000, "output_tokens": 100, "status": "error"}));
        ingest(db, &a, events).await;

        let recs = list(db, &a).await.unwrap();
        let keys: Vec<&str> = recs.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(keys, ["high_input_output_ratio:cachey", "no_cache_reads:cachey", "failed_request_spend:cachey"]);
        // 60,000 input for 2,000 output: 30 to 1.
        assert_eq!(recs[0].evidence["input_per_output_token"], 30);
        assert_eq!(recs[1].evidence["average_input_tokens"], 3_000);
        // The failed call: 3,000 × 0.000001 + 100 × 0.000002 = $0.0032.
        assert_eq!(recs[2].monthly_saving_usd.as_deref(), Some("0.0032"));
        assert_eq!(recs[2].evidence["failed_calls"], 1);
        assert!(recs[2].detail.contains("1 of 20 calls"), "{}", recs[2].detail);

        // B cannot dismiss A's recommendation; A's dismissal is idempotent and sticks.
        dismiss(db, &b, "no_cache_reads:cachey", "someone").await.unwrap();
        assert_eq!(list(db, &a).await.unwrap().len(), 3);
        dismiss(db, &a, "no_cache_reads:cachey", "user-1").await.unwrap();
        dismiss(db, &a, "no_cache_reads:cachey", "user-2").await.unwrap();
        let keys: Vec<String> = list(db, &a).await.unwrap().into_iter().map(|r| r.key).collect();
        assert_eq!(keys, ["high_input_output_ratio:cachey", "failed_request_spend:cachey"]);
        let by: String = sqlx::query_scalar("SELECT dismissed_by FROM recommendation_dismissals WHERE org_id = $1")
            .bind(&a).fetch_one(db.reader()).await.unwrap();
        assert_eq!(by, "user-1", "the first dismissal is kept");

        let e = dismiss(db, &a, "bogus:cachey", "user-1").await.unwrap_err();
        assert_eq!((e.field(), e.status_code()), (Some("key"), 422));
        assert!(dismiss(db, &a, &format!("no_cache_reads:{}", "x".repeat(300)), "user-1").await.is_err());
    }
}
