//! The embed services on both engines: the signing key is stored once and
//! verifies across handles, origins are kept per organization, and the
//! meter reads only its organization's (or end user's) figures.

use serde_json::json;
use tollbooth::clock::now_ms;
use tollbooth::embed::{self, TokenRequest};
use tollbooth::ingest::record_usage;
use tollbooth::metering::{parse_batch, Sender};
use tollbooth::pricing::{store as prices, ModelPrice, PriceBook, UnitPrice};
use tollbooth::{test_both_engines, Error};

use super::{by, sign_up};

const DAY: i64 = 86_400_000;

async fn price(db: &tollbooth::db::Db) {
    let mut p = ModelPrice::new("m", "openai");
    p.input = Some(UnitPrice::parse("0.000001").unwrap());
    let mut b = PriceBook::default();
    b.insert(p);
    prices::import(db, &b, "test", Some(0)).await.unwrap();
}

async fn ingest(db: &tollbooth::db::Db, org_id: &str, events: serde_json::Value) {
    let events = events.as_array().unwrap().clone();
    record_usage(db, &Sender { org_id: org_id.into(), api_key_id: None }, parse_batch(&events, now_ms())).await.unwrap();
}

test_both_engines! {
    async fn tokens_verify_with_the_stored_key_until_they_expire(db) {
        let s = sign_up(db, "a@example.com", "Acme").await;
        let now = now_ms();
        let req = TokenRequest { user_id: Some("u1".into()), ttl_seconds: Some(60) };
        let issued = embed::issue_token(db, &s.org.id, &req, "https://t.example/", now).await.unwrap();
        assert!(issued.url.starts_with("https://t.example/embed/usage?token=tbe1."));
        let claims = embed::verify_token(db, &issued.token, now).await.unwrap();
        assert_eq!((claims.org_id.as_str(), claims.user_id.as_deref()), (s.org.id.as_str(), Some("u1")));
        assert!(matches!(embed::verify_token(db, &issued.token, now + 60_000).await, Err(Error::Unauthorized(_))));
        // The key is one row, created once: a second issue signs with it too.
        let again = embed::issue_token(db, &s.org.id, &TokenRequest::default(), "", now).await.unwrap();
        assert!(embed::verify_token(db, &again.token, now + 899_000).await.is_ok(), "default life is 900 s");
        assert!(embed::verify_token(db, &again.token, now + 900_000).await.is_err());
    }

    async fn origins_are_kept_per_organization_and_replaced_whole(db) {
        let a = sign_up(db, "a@example.com", "Alpha").await;
        let b = sign_up(db, "b@example.com", "Beta").await;
        assert!(embed::origins(db, &a.org.id).await.unwrap().is_empty());
        let saved = embed::set_origins(db, &a.org.id, &["https://a.example\nhttps://b.example"], &by()).await.unwrap();
        assert_eq!(saved, vec!["https://a.example", "https://b.example"]);
        embed::set_origins(db, &b.org.id, &["https://beta.example"], &by()).await.unwrap();
        assert_eq!(embed::origins(db, &a.org.id).await.unwrap(), saved, "B's list leaves A's alone");
        let replaced = embed::set_origins(db, &a.org.id, &["https://c.example", "https://a.example"], &by()).await.unwrap();
        assert_eq!(embed::origins(db, &a.org.id).await.unwrap(), replaced);
        assert_eq!(replaced, vec!["https://c.example", "https://a.example"], "listed order kept");
        let err = embed::set_origins(db, &a.org.id, &["https://ok.example", "http://plain.example"], &by()).await.unwrap_err();
        assert!(matches!(err, Error::Invalid { field: "embed_origins", .. }), "{err}");
        assert_eq!(embed::origins(db, &a.org.id).await.unwrap(), replaced, "a refused list changes nothing");
        assert_eq!(embed::origins(db, &b.org.id).await.unwrap(), vec!["https://beta.example"]);
    }

    async fn the_meter_reads_its_organizations_or_its_users_figures(db) {
        price(db).await;
        let a = sign_up(db, "a@example.com", "Alpha").await;
        let b = sign_up(db, "b@example.com", "Beta").await;
        let now = now_ms();
        let at = |ms: i64| tollbooth::clock::to_rfc3339(ms);
        ingest(db, &a.org.id, json!([
            {"id": "1", "model": "m", "user_id": "u1", "input_tokens": 1000, "timestamp": at(now - 1_000)},
            {"id": "2", "model": "m", "user_id": "u2", "input_tokens": 3000, "timestamp": at(now - 1_000)},
            {"id": "3", "model": "m", "user_id": "u1", "input_tokens": 5000, "timestamp": at(now - 3 * DAY)},
        ])).await;
        ingest(db, &b.org.id, json!([{"id": "1", "model": "m", "user_id": "u1", "input_tokens": 90000, "timestamp": at(now - 1_000)}])).await;
        let claims = |org: &str, user: Option<&str>| embed::Claims { org_id: org.into(), user_id: user.map(String::from), expires_at: 0 };

        let org = embed::meter(db, &claims(&a.org.id, None), now).await.unwrap();
        assert_eq!(org.org_name, "Alpha");
        assert_eq!(org.daily_cost.len(), embed::SPARKLINE_DAYS);
        let total: i64 = org.daily_cost.iter().map(|(_, c)| c.nanos()).sum();
        assert_eq!(total, 9_000_000, "30 days: 9,000 tokens at $0.000001");
        assert_eq!(org.daily_cost.last().unwrap().1.nanos(), 4_000_000, "today");
        assert!(org.month_tokens == 4000 || org.month_tokens == 9000, "this month: today's, and the older one unless the month began since");
        assert!(!org.limits.is_empty(), "the plan's day and month limits");
        assert!(org.limits.iter().all(|l| matches!(l.period, tollbooth::plans::Period::Day | tollbooth::plans::Period::Month)));
        assert!(org.resets_at.contains('T'));

        let u1 = embed::meter(db, &claims(&a.org.id, Some("u1")), now).await.unwrap();
        let total: i64 = u1.daily_cost.iter().map(|(_, c)| c.nanos()).sum();
        assert_eq!(total, 6_000_000, "u1 of Alpha only, not u1 of Beta");
        assert_eq!(u1.daily_cost.last().unwrap().1.nanos(), 1_000_000);
        assert!(u1.month_tokens == 1000 || u1.month_tokens == 6000);
        assert!(u1.limits.is_empty(), "end users have no limits of their own yet");

        let beta = embed::meter(db, &claims(&b.org.id, Some("u1")), now).await.unwrap();
        assert_eq!(beta.month_tokens, 90000);
        assert_eq!(beta.month_cost.nanos(), 90_000_000);
    }
}

test_both_engines! {
    async fn the_pulse_counts_events_and_names_the_nearest_hard_limit(db) {
        price(db).await;
        let a = sign_up(db, "a@example.com", "Alpha").await;
        let b = sign_up(db, "b@example.com", "Beta").await;
        let now = now_ms();
        let before = tollbooth::metering::pulse::pulse(db, &a.org.id, "UTC", now).await.unwrap();
        assert_eq!((before.events, before.month_cost.nanos()), (0, 0));
        ingest(db, &a.org.id, json!([{"id": "1", "model": "m", "input_tokens": 3000, "timestamp": tollbooth::clock::to_rfc3339(now - 1_000)}])).await;
        ingest(db, &b.org.id, json!([{"id": "1", "model": "m", "input_tokens": 9000}])).await;
        let after = tollbooth::metering::pulse::pulse(db, &a.org.id, "UTC", now_ms()).await.unwrap();
        assert_eq!((after.events, after.month_cost.nanos()), (1, 3_000_000), "Alpha's only");
        // Starter: 100,000 tokens a month is its hard limit on usage.
        let n = after.nearest.expect("a hard limit");
        assert_eq!((n.metric, n.period, n.used, n.limit), (tollbooth::plans::Metric::Tokens, tollbooth::plans::Period::Month, 3000, 100_000));
    }

    async fn the_projection_adds_the_last_weeks_rate_to_the_month_so_far(db) {
        price(db).await;
        let a = sign_up(db, "a@example.com", "Alpha").await;
        let now = now_ms();
        ingest(db, &a.org.id, json!([{"id": "1", "model": "m", "input_tokens": 7000, "timestamp": tollbooth::clock::to_rfc3339(now - 1_000)}])).await;
        let p = tollbooth::metering::projection::month_end(db, &a.org.id, "UTC", now).await.unwrap();
        // $0.007 in the last 7 days: $0.001 a day.
        assert_eq!(p.daily_average.nanos(), 1_000_000);
        assert_eq!(p.month_to_date.nanos(), 7_000_000);
        let month_end = {
            use chrono::{Datelike, TimeZone};
            let t = chrono::Utc.timestamp_millis_opt(now).unwrap();
            let (y, m) = if t.month() == 12 { (t.year() + 1, 1) } else { (t.year(), t.month() + 1) };
            chrono::Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).unwrap().timestamp_millis()
        };
        let expected = tollbooth::metering::projection::project_month_end(p.month_to_date, tollbooth::pricing::NanoUsd::from_nanos(7_000_000), now, month_end);
        assert_eq!(p, expected);
        assert!(p.projected.nanos() >= 7_000_000);
    }
}
