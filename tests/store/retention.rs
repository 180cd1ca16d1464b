//! Raw events past the plan's retention move to the archive; totals, rollups
//! and exports are unchanged.

use serde_json::json;
use tollbooth::clock::{now_ms, to_rfc3339};
use tollbooth::metering::events::{list, EventFilter};
use tollbooth::metering::retention::archive_expired;
use tollbooth::ingest::record_usage;
use tollbooth::metering::{parse_batch, Sender};
use tollbooth::pricing::{store as prices, ModelPrice, PriceBook, UnitPrice};
use tollbooth::test_both_engines;

use super::sign_up;

const DAY: i64 = 86_400_000;

async fn totals(db: &tollbooth::db::Db) -> (i64, i64, i64) {
    use sqlx::Row;
    let row = sqlx::query(
        "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(cost_nano), 0) AS BIGINT) AS c, CAST(COALESCE(SUM(input_tokens + output_tokens), 0) AS BIGINT) AS t \
         FROM (SELECT cost_nano, input_tokens, output_tokens FROM usage_events UNION ALL \
               SELECT cost_nano, input_tokens, output_tokens FROM usage_events_archive) e",
    )
    .fetch_one(db.reader())
    .await
    .unwrap();
    let get = |c: &str| row.try_get::<i64, _>(c).unwrap();
    (get("n"), get("c"), get("t"))
}

async fn rollups(db: &tollbooth::db::Db) -> Vec<(String, i64, i64, i64)> {
    use sqlx::Row;
    let rows = sqlx::query(
        "SELECT 'org' AS grain, day AS bucket_start, cost_nano, input_tokens FROM rollup_org_daily \
         UNION ALL SELECT model, hour, cost_nano, input_tokens FROM rollup_model_hourly ORDER BY 1, 2",
    )
        .fetch_all(db.reader())
        .await
        .unwrap();
    rows.iter().map(|r| (r.get("grain"), r.get("bucket_start"), r.get("cost_nano"), r.get("input_tokens"))).collect()
}

test_both_engines! {
    async fn events_past_retention_move_to_the_archive_and_still_export(db) {
        let mut p = ModelPrice::new("test-model", "openai");
        p.input = Some(UnitPrice::parse("0.000001").unwrap());
        p.output = Some(UnitPrice::parse("0.000002").unwrap());
        let mut book = PriceBook::default();
        book.insert(p);
        prices::import(db, &book, "test", Some(0)).await.unwrap();
        let org = sign_up(db, "a@example.com", "A").await.org.id;
        let s = Sender { org_id: org.clone(), api_key_id: None };
        let now = now_ms();
        let old = now - 500 * DAY; // past the default 13 months
        let mut batch = Vec::new();
        for i in 0..5 {
            batch.push(json!({"id": format!("old{i}"), "timestamp": to_rfc3339(old + i * 1000), "model": "test-model", "input_tokens": 100 + i, "output_tokens": 10}));
        }
        batch.push(json!({"id": "new", "model": "test-model", "input_tokens": 7, "output_tokens": 3}));
        record_usage(db, &s, parse_batch(&batch, now)).await.unwrap();
        let before = (totals(db).await, rollups(db).await);

        assert_eq!(archive_expired(db, now).await.unwrap(), 5);
        let live: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM usage_events").fetch_one(db.reader()).await.unwrap();
        let archived: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM usage_events_archive").fetch_one(db.reader()).await.unwrap();
        assert_eq!((live, archived), (1, 5));
        assert_eq!((totals(db).await, rollups(db).await), before, "totals and rollups are unchanged");
        assert_eq!(archive_expired(db, now).await.unwrap(), 0, "a second run moves nothing");

        let f = EventFilter { from_ms: old - DAY, to_ms: old + DAY, model: None, user_id: None, project_id: None, feature: None, session_id: None, status: None };
        let (events, _) = list(db, &org, &f, None, 100).await.unwrap();
        assert_eq!(events.len(), 5, "the archived range still exports");
        let f = EventFilter { from_ms: 0, to_ms: now + DAY, ..f };
        assert_eq!(list(db, &org, &f, None, 100).await.unwrap().0.len(), 6);
    }
}
