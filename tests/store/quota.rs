use serde_json::json;
use tollbooth::accounts::UserView;
use tollbooth::clock::{now_ms, to_rfc3339};
use tollbooth::db::Db;
use tollbooth::ingest::record_usage;
use tollbooth::metering::{parse_batch, Sender};
use tollbooth::orgs::{self, OrgScope, Role};
use tollbooth::plans::{self, LimitInput, Metric};
use tollbooth::quota::{self, rules::Ask, ReserveInput};
use tollbooth::{admission, ingest};
use tollbooth::{test_both_engines, Error};

use super::sign_up;

pub async fn admin(db: &Db) -> UserView {
    tollbooth::accounts::create_admin(db, "root@example.com", Some(super::PASSWORD)).await.unwrap().user
}

/// Sets a hard limit on `metric` per `period` for the organization.
pub async fn limit(db: &Db, org_id: &str, metric: &str, period: &str, value: &str) {
    let input = LimitInput { metric: metric.into(), period: period.into(), value: value.into(), hard: true, overage_usd: String::new() };
    plans::set_override(db, &admin(db).await, org_id, &input, Default::default()).await.unwrap();
}

async fn org(db: &Db) -> Sender {
    Sender { org_id: sign_up(db, "a@example.com", "A").await.org.id, api_key_id: None }
}

fn ask(metric: Metric, amount: i64) -> ReserveInput {
    ReserveInput { asks: vec![Ask { metric, amount }], ..Default::default() }
}

async fn used(db: &Db, org_id: &str, metric: Metric) -> (serde_json::Value, serde_json::Value) {
    let c = admission::check(db, org_id, &[Ask { metric, amount: 0 }]).await.unwrap();
    let r = serde_json::to_value(&c.results[0]).unwrap();
    (r["used"].clone(), r["reserved"].clone())
}

fn event(tokens_in: u64, tokens_out: u64, ts: i64) -> serde_json::Value {
    json!({"model": "no-such-model", "input_tokens": tokens_in, "output_tokens": tokens_out, "timestamp": to_rfc3339(ts)})
}

test_both_engines! {
    async fn five_hundred_concurrent_reservations_never_pass_the_limit(db) {
        let s = org(db).await;
        limit(db, &s.org_id, "requests", "day", "100").await;
        let tasks: Vec<_> = (0..500)
            .map(|_| {
                let (db, s) = (db.clone(), s.clone());
                tokio::spawn(async move { admission::reserve(&db, &s, ask(Metric::Requests, 1)).await })
            })
            .collect();
        let (mut granted, mut refused) = (0, 0);
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => granted += 1,
                Err(Error::LimitReached(r)) => {
                    assert_eq!(r.status, 429);
                    refused += 1;
                }
                Err(e) => panic!("unexpected error: {e:?}"),
            }
        }
        assert_eq!((granted, refused), (100, 400));
        quota::flush(db).await.unwrap();
        let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM reservations WHERE state = 'active'")
            .fetch_one(db.reader())
            .await
            .unwrap();
        assert_eq!(stored, 100, "every granted reservation is in the database");
        assert_eq!(used(db, &s.org_id, Metric::Requests).await, (json!(0), json!(100)));
    }

    async fn an_expired_reservation_frees_its_amount(db) {
        let s = org(db).await;
        limit(db, &s.org_id, "requests", "day", "10").await;
        let r = admission::reserve(db, &s, ReserveInput { ttl_seconds: Some(1), ..ask(Metric::Requests, 10) }).await.unwrap();
        assert!(admission::reserve(db, &s, ask(Metric::Requests, 1)).await.is_err());
        // Wait for the expiry (at most a few seconds), then the amount is free.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            match admission::reserve(db, &s, ask(Metric::Requests, 1)).await {
                Ok(_) => break,
                Err(_) if std::time::Instant::now() < deadline => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
                Err(e) => panic!("still refused after the expiry: {e:?}"),
            }
        }
        quota::expire_due(db).await.unwrap();
        assert_eq!(quota::get_reservation(db, &s.org_id, &r.reservation_id).await.unwrap().state, "expired");
    }

    async fn a_commit_records_the_actual_use_releases_the_rest_and_counts_once(db) {
        let s = org(db).await;
        limit(db, &s.org_id, "tokens", "month", "1000").await;
        let r = admission::reserve(db, &s, ask(Metric::Tokens, 800)).await.unwrap();
        assert_eq!(used(db, &s.org_id, Metric::Tokens).await, (json!(0), json!(800)));
        // Actual use: 300 tokens, sent without an id (a repeat must still count once).
        let events = || parse_batch(&[event(200, 100, now_ms())], now_ms());
        let done = ingest::commit_reservation(db, &s, &r.reservation_id, events()).await.unwrap();
        assert!(done.recorded);
        assert_eq!(done.reservation.state, "committed");
        assert_eq!(used(db, &s.org_id, Metric::Tokens).await, (json!(300), json!(0)));
        let again = ingest::commit_reservation(db, &s, &r.reservation_id, events()).await.unwrap();
        assert!(!again.recorded, "a second commit records nothing");
        assert_eq!(used(db, &s.org_id, Metric::Tokens).await, (json!(300), json!(0)));
        // Releasing after the commit changes nothing.
        assert_eq!(quota::release_reservation(db, &s.org_id, &r.reservation_id).await.unwrap().state, "committed");
        // 700 remain exactly.
        admission::reserve(db, &s, ask(Metric::Tokens, 700)).await.unwrap();
        let Err(Error::LimitReached(refusal)) = admission::reserve(db, &s, ask(Metric::Tokens, 1)).await else { panic!("expected a refusal") };
        assert_eq!(refusal.details["results"][0]["used"], json!(300));
        assert_eq!(refusal.details["results"][0]["reserved"], json!(700));
        assert_eq!(refusal.details["allowed"], json!(false));
        assert!(refusal.message.contains("limit of 1,000 per month reached"), "{}", refusal.message);
        assert!(refusal.retry_after_secs.unwrap() > 0);
    }

    async fn a_release_is_idempotent_and_frees_the_amount(db) {
        let s = org(db).await;
        limit(db, &s.org_id, "images", "day", "5").await;
        let r = admission::reserve(db, &s, ask(Metric::Images, 5)).await.unwrap();
        assert!(admission::reserve(db, &s, ask(Metric::Images, 1)).await.is_err());
        for _ in 0..2 {
            assert_eq!(quota::release_reservation(db, &s.org_id, &r.reservation_id).await.unwrap().state, "released");
        }
        admission::reserve(db, &s, ask(Metric::Images, 5)).await.unwrap();
        // Another organization cannot see or release it.
        let other = sign_up(db, "b@example.com", "B").await;
        let err = quota::release_reservation(db, &other.org.id, &r.reservation_id).await.unwrap_err();
        assert!(matches!(err, Error::NotFound(_)));
    }

    async fn releases_arriving_together_share_a_commit_and_each_frees_its_own(db) {
        let s = org(db).await;
        limit(db, &s.org_id, "images", "day", "40").await;
        let mut ids = Vec::new();
        for _ in 0..40 {
            ids.push(admission::reserve(db, &s, ask(Metric::Images, 1)).await.unwrap().reservation_id);
        }
        assert!(admission::reserve(db, &s, ask(Metric::Images, 1)).await.is_err(), "the limit is held");
        // Every reservation released twice at once, with a stranger's id among them.
        let mut calls = Vec::new();
        for id in ids.iter().chain(ids.iter()) {
            let (db, org_id, id) = (db.clone(), s.org_id.clone(), id.clone());
            calls.push(tokio::spawn(async move { quota::release_reservation(&db, &org_id, &id).await }));
        }
        let (db2, org_id) = (db.clone(), s.org_id.clone());
        let stranger = tokio::spawn(async move { quota::release_reservation(&db2, &org_id, "0190a0a0-0000-7000-8000-000000000000").await });
        for c in calls {
            assert_eq!(c.await.unwrap().unwrap().state, "released");
        }
        assert!(matches!(stranger.await.unwrap().unwrap_err(), Error::NotFound(_)));
        let active: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM reservations WHERE org_id = $1 AND state = 'active'")
            .bind(&s.org_id)
            .fetch_one(db.reader())
            .await
            .unwrap();
        assert_eq!(active, 0);
        admission::reserve(db, &s, ask(Metric::Images, 40)).await.unwrap();
    }

    async fn usage_without_a_reservation_is_recorded_and_then_refuses(db) {
        let s = org(db).await;
        // Starter: 100,000 tokens per month, hard.
        let out = record_usage(db, &s, parse_batch(&[event(90_000, 20_000, now_ms())], now_ms())).await.unwrap();
        assert_eq!(out[0].status, tollbooth::metering::Outcome::Accepted, "usage is a fact");
        let c = admission::check(db, &s.org_id, &[Ask { metric: Metric::Tokens, amount: 0 }]).await.unwrap();
        assert!(!c.allowed);
        assert_eq!(serde_json::to_value(&c.results[0]).unwrap()["remaining"], json!(0));
        assert!(c.reason.unwrap().contains("AI credits (tokens) limit of 100,000 per month reached"));
        assert_eq!(c.upgrade_path.as_deref(), Some(format!("/o/{}/billing", s.org_id).as_str()));
        // Raising the limit lets reservations through at once.
        limit(db, &s.org_id, "tokens", "month", "200000").await;
        // (Starter also allows 20,000 tokens per minute.)
        admission::reserve(db, &s, ask(Metric::Tokens, 15_000)).await.unwrap();
    }

    async fn day_and_month_windows_follow_the_organizations_time_zone(db) {
        let s = org(db).await;
        let now = now_ms();
        // Asia/Kolkata is UTC+05:30 all year: local midnight is 18:30 UTC.
        const OFFSET: i64 = 19_800_000;
        const DAY: i64 = 86_400_000;
        let day_start = (now + OFFSET).div_euclid(DAY) * DAY - OFFSET;
        let local = chrono::DateTime::from_timestamp_millis(now + OFFSET).unwrap().date_naive();
        let first = local.with_day0(0).unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp_millis() - OFFSET;
        let stamps = [now, day_start - 60_000, first - 60_000, first + 60_000];
        let batch: Vec<_> = stamps.iter().filter(|t| **t <= now).map(|t| event(1, 0, *t)).collect();
        record_usage(db, &s, parse_batch(&batch, now_ms())).await.unwrap();
        let owner = OrgScope { org_id: s.org_id.clone(), user_id: String::new(), role: Role::Owner };
        // Changing the zone moves the days: the counters are rebuilt from the events.
        orgs::update_settings(db, &owner, &orgs::SettingsInput { name: "A", time_zone: "Asia/Kolkata", refuse_unpriced_models: false }, &crate::by()).await.unwrap();
        let in_day = stamps.iter().filter(|t| **t >= day_start && **t <= now).count() as i64;
        let in_month = stamps.iter().filter(|t| **t >= first && **t <= now).count() as i64;
        limit(db, &s.org_id, "requests", "day", &in_day.to_string()).await;
        limit(db, &s.org_id, "requests", "month", "1000").await;
        let c = admission::check(db, &s.org_id, &[Ask { metric: Metric::Requests, amount: 0 }]).await.unwrap();
        let day = c.results.iter().find(|r| r.window == tollbooth::plans::Period::Day).unwrap();
        let month = c.results.iter().find(|r| r.window == tollbooth::plans::Period::Month).unwrap();
        assert_eq!((day.used, month.used), (in_day, in_month));
        assert_eq!(day.reset_at_ms, Some(day_start + DAY), "the day resets at the next local midnight");
        assert!(day.reset_at.as_deref().unwrap().ends_with("T00:00:00+05:30"));
        assert!(month.reset_at.as_deref().unwrap().ends_with("-01T00:00:00+05:30"));
        // The daily limit is reached today, whatever was used yesterday.
        assert!(!c.allowed);
    }
}

use chrono::Datelike;

/// Two processes on one PostgreSQL database (two pools, each with its own
/// leases) reserve at once against one limit: together they never pass it,
/// and every grant is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_leasing_one_limit_never_pass_it() {
    let Some(t) = tollbooth::testing::TestDb::postgres().await else { return };
    let s = org(&t.db).await;
    limit(&t.db, &s.org_id, "requests", "day", "100").await;
    let other = Db::connect(&t.url).await.unwrap();
    let dbs = [t.db.clone(), other.clone()];
    let tasks: Vec<_> = (0..400)
        .map(|i| {
            let (db, s) = (dbs[i % 2].clone(), s.clone());
            tokio::spawn(async move { admission::reserve(&db, &s, ask(Metric::Requests, 1)).await.is_ok() })
        })
        .collect();
    let mut granted = 0;
    for t in tasks {
        granted += t.await.unwrap() as i64;
    }
    quota::flush(&t.db).await.unwrap();
    quota::flush(&other).await.unwrap();
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM reservations WHERE state = 'active'").fetch_one(t.db.reader()).await.unwrap();
    assert_eq!(stored, granted, "every grant is stored");
    assert!(granted <= 100, "granted {granted} of a limit of 100");
    assert!(granted >= 50, "the processes lease what is free: granted {granted}");
    other.close().await;
}

/// A process that died leaves its lease behind: its slack counts until the
/// lease expires, and for nothing after.
#[tokio::test]
async fn a_dead_processes_lease_counts_until_it_expires() {
    let Some(t) = tollbooth::testing::TestDb::postgres().await else { return };
    let s = org(&t.db).await;
    limit(&t.db, &s.org_id, "requests", "day", "100").await;
    let day_end = tollbooth::calendar::window(chrono_tz::UTC, tollbooth::plans::Period::Day, now_ms()).end_ms;
    sqlx::query(
        "INSERT INTO quota_leases (org_id, holder, metric, period, window_end, slack, expires_at) VALUES ($1, 'dead', 'requests', 'day', $2, 50, $3)",
    )
    .bind(&s.org_id)
    .bind(day_end)
    .bind(now_ms() + 60_000)
    .execute(t.db.reader())
    .await
    .unwrap();
    let Err(Error::LimitReached(r)) = admission::reserve(&t.db, &s, ask(Metric::Requests, 60)).await else { panic!("60 of the 50 left") };
    assert_eq!(r.status, 429);
    admission::reserve(&t.db, &s, ask(Metric::Requests, 50)).await.unwrap();
    sqlx::query("UPDATE quota_leases SET expires_at = $1 WHERE holder = 'dead'").bind(now_ms() - 1).execute(t.db.reader()).await.unwrap();
    admission::reserve(&t.db, &s, ask(Metric::Requests, 50)).await.unwrap();
    let Err(Error::LimitReached(_)) = admission::reserve(&t.db, &s, ask(Metric::Requests, 1)).await else { panic!("the limit is full") };
}

/// Requests per minute hold across two processes sharing PostgreSQL: at
/// most the limit is admitted, and at most the permits the other process
/// holds unspent (2% of the limit, at least 1) are refused early.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_holds_across_two_processes() {
    let Some(t) = tollbooth::testing::TestDb::postgres().await else { return };
    let s = org(&t.db).await;
    limit(&t.db, &s.org_id, "requests", "minute", "100").await;
    let other = Db::connect(&t.url).await.unwrap();
    let dbs = [t.db.clone(), other.clone()];
    let started = std::time::Instant::now();
    let tasks: Vec<_> = (0..300)
        .map(|i| {
            let (db, org) = (dbs[i % 2].clone(), s.org_id.clone());
            tokio::spawn(async move {
                let plan = quota::plan_for_rate_limits(&db, &org).await.unwrap();
                match db.rate_limits().admit_request_in(&db, &plan, "key", None).await {
                    Ok(()) => true,
                    Err(Error::LimitReached(r)) => {
                        assert_eq!(r.status, 429);
                        assert!(r.retry_after_secs.is_some_and(|s| s >= 1), "{r:?}");
                        false
                    }
                    Err(e) => panic!("unexpected error: {e:?}"),
                }
            })
        })
        .collect();
    let mut admitted = 0;
    for t in tasks {
        admitted += t.await.unwrap() as i64;
    }
    // A burst of 100, and one more for every 600 ms the test took.
    let refilled = started.elapsed().as_millis() as i64 / 600;
    assert!(admitted <= 100 + refilled, "admitted {admitted} of 100 per minute (+{refilled} refilled)");
    assert!(admitted >= 98, "admitted {admitted}: at most 2 permits held unspent");
    other.close().await;
}
