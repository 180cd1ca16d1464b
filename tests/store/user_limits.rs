//! Per-user limits: defaults, overrides and the switch, enforced by checks
//! and reservations like plan limits (atomic, on both engines), and the
//! end-user list.

use std::collections::BTreeMap;

use serde_json::json;
use sqlx::Row;
use tollbooth::calendar::{window, zone};
use tollbooth::clock::{now_ms, to_rfc3339};
use tollbooth::db::Db;
use tollbooth::end_users::{self, LimitOverride, LimitSettings, LimitValues, ListQuery};
use tollbooth::ingest::record_usage;
use tollbooth::metering::{parse_batch, Sender};
use tollbooth::orgs::{self, OrgScope, Role};
use tollbooth::plans::{Metric, Period};
use tollbooth::pricing::{store as prices, ModelPrice, PriceBook, UnitPrice};
use tollbooth::quota::{self, rules::Ask, ReserveInput};
use tollbooth::{admission, test_both_engines, Error};

use super::{by, sign_up};

async fn org(db: &Db) -> Sender {
    let s = Sender { org_id: sign_up(db, "a@example.com", "A").await.org.id, api_key_id: None };
    // Room at the plan level: the user's limits are what is tested.
    super::quota::limit(db, &s.org_id, "tokens", "month", "100000000").await;
    super::quota::limit(db, &s.org_id, "tokens", "minute", "100000000").await;
    s
}

async fn defaults(db: &Db, org_id: &str, values: LimitValues) {
    end_users::save_settings(db, org_id, &LimitSettings { enabled: true, defaults: values }, &by()).await.unwrap();
}

fn tokens_a_day(n: i64) -> LimitValues {
    LimitValues { tokens_per_day: Some(n), ..Default::default() }
}

fn reserve_as(user: &str, metric: Metric, amount: i64) -> ReserveInput {
    ReserveInput { user_id: Some(user.into()), asks: vec![Ask { metric, amount }], ..Default::default() }
}

async fn set(db: &Db, org_id: &str, user: &str, mode: &str, limits: LimitValues) {
    end_users::set_limits(db, org_id, user, &LimitOverride { mode: mode.into(), limits }, &by()).await.unwrap();
}

fn event(user: &str, tokens: u64) -> serde_json::Value {
    json!({"model": "no-such-model", "input_tokens": tokens, "timestamp": to_rfc3339(now_ms()), "user_id": user})
}

/// Two priced models (a token of `cheap` costs 1,000 nano-USD, of `dear`
/// 10,000) for lists whose cost order is not their token order.
async fn priced(db: &Db) {
    let mut book = PriceBook::default();
    for (model, price) in [("cheap", "0.000001"), ("dear", "0.00001")] {
        let mut p = ModelPrice::new(model, "openai");
        p.input = Some(UnitPrice::parse(price).unwrap());
        book.insert(p);
    }
    prices::import(db, &book, "test", Some(0)).await.unwrap();
}

/// An event of `user` on `model`, `days_ago` days before now.
fn used(user: &str, model: &str, tokens: u64, days_ago: i64) -> serde_json::Value {
    json!({"model": model, "input_tokens": tokens, "timestamp": to_rfc3339(now_ms() - days_ago * 86_400_000), "user_id": user})
}

/// A user's (today, this month), each (tokens, cost, requests).
type Figures = ([i64; 3], [i64; 3]);

/// (tokens, cost, requests, last day) per key.
type Sums = BTreeMap<(i64, String), [i64; 4]>;

/// The organization's day counters summed per (month start in `tz`, user).
async fn month_sums_of_days(db: &Db, org_id: &str, tz: &str) -> Sums {
    let rows = sqlx::query("SELECT user_id, day_start, tokens, cost_nanos, requests FROM user_usage_days WHERE org_id = $1")
        .bind(org_id)
        .fetch_all(db.reader())
        .await
        .unwrap();
    let mut sums = Sums::new();
    for r in &rows {
        let day: i64 = r.get("day_start");
        let month = window(zone(tz), Period::Month, day).start_ms;
        let s = sums.entry((month, r.get("user_id"))).or_default();
        s[0] += r.get::<i64, _>("tokens");
        s[1] += r.get::<i64, _>("cost_nanos");
        s[2] += r.get::<i64, _>("requests");
        s[3] = s[3].max(day);
    }
    sums
}

/// The organization's month totals per (month start, user).
async fn month_totals(db: &Db, org_id: &str) -> Sums {
    let rows = sqlx::query("SELECT user_id, month_start, tokens, cost_nanos, requests, last_day FROM user_usage_months WHERE org_id = $1")
        .bind(org_id)
        .fetch_all(db.reader())
        .await
        .unwrap();
    rows.iter()
        .map(|r| ((r.get("month_start"), r.get("user_id")), [r.get("tokens"), r.get("cost_nanos"), r.get("requests"), r.get("last_day")]))
        .collect()
}

/// The sums of the month containing now only.
fn this_month(sums: Sums, tz: &str) -> Sums {
    let start = window(zone(tz), Period::Month, now_ms()).start_ms;
    sums.into_iter().filter(|((m, _), _)| *m == start).collect()
}

/// A batch of users on several days and both models, some with no use today.
fn a_month_of_use() -> Vec<serde_json::Value> {
    let mut events = Vec::new();
    for (i, user) in ["u01", "u02", "u03", "u04", "u05", "u06", "u07", "u08", "u09", "u10", "u11", "u12"].iter().enumerate() {
        let i = i as u64;
        // Ties on purpose: users 1-4 use as many tokens in the month.
        let tokens = if i < 4 { 500 } else { 100 * (i % 5) + 10 };
        let model = if i.is_multiple_of(3) { "dear" } else if i % 3 == 1 { "cheap" } else { "no-such-model" };
        if i % 4 != 3 {
            events.push(used(user, model, tokens, 0));
        }
        for day in 1..=(i as i64 % 3) {
            events.push(used(user, "cheap", tokens / 2 + day as u64, day));
        }
        if i % 4 == 3 {
            events.push(used(user, model, tokens, 1));
        }
    }
    // Users of unpriced models only: no cost this month, one active today.
    events.push(used("u13", "no-such-model", 40, 0));
    events.push(used("u14", "no-such-model", 40, 1));
    events
}

async fn check_as(db: &Db, org_id: &str, user: &str, tokens: i64) -> quota::CheckBody {
    let who = admission::Subject { user_id: Some(user.into()), ..Default::default() };
    admission::check_for(db, org_id, &who, &[Ask { metric: Metric::Tokens, amount: tokens }]).await.unwrap()
}

test_both_engines! {
    async fn concurrent_reservations_of_one_user_never_pass_its_limit_and_others_go_on(db) {
        let s = org(db).await;
        defaults(db, &s.org_id, tokens_a_day(1_000)).await;
        let tasks: Vec<_> = (0..300)
            .map(|_| {
                let (db, s) = (db.clone(), s.clone());
                tokio::spawn(async move { admission::reserve(&db, &s, reserve_as("alice", Metric::Tokens, 10)).await })
            })
            .collect();
        let mut granted = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => granted += 1,
                Err(Error::LimitReached(r)) => {
                    assert_eq!((r.status, r.limit.as_str()), (429, "user tokens/day"));
                    assert!(r.message.starts_with("End user \"alice\": "), "{}", r.message);
                    assert_eq!(r.details["user_id"], "alice");
                }
                Err(e) => panic!("unexpected error: {e:?}"),
            }
        }
        assert_eq!(granted, 100, "exactly the user's 1,000 tokens a day, 10 at a time");
        quota::flush(db).await.unwrap();
        let held: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(a.amount), 0) AS BIGINT) FROM reservations r JOIN reservation_amounts a ON a.reservation_id = r.id \
             WHERE r.user_id = 'alice' AND r.state = 'active'",
        )
        .fetch_one(db.reader())
        .await
        .unwrap();
        assert_eq!(held, 1_000, "every grant is stored");
        // Another user, and a call without a user, are not limited by alice's use.
        admission::reserve(db, &s, reserve_as("bob", Metric::Tokens, 1_000)).await.unwrap();
        admission::reserve(db, &s, ReserveInput { asks: vec![Ask { metric: Metric::Tokens, amount: 5_000 }], ..Default::default() }).await.unwrap();
    }

    async fn recorded_usage_counts_and_overrides_raise_lower_free_and_block(db) {
        let s = org(db).await;
        defaults(db, &s.org_id, tokens_a_day(1_000)).await;
        record_usage(db, &s, parse_batch(&[event("alice", 900)], now_ms())).await.unwrap();
        let c = check_as(db, &s.org_id, "alice", 200).await;
        assert!(!c.allowed);
        assert!(c.reason.as_deref().unwrap().contains("End user \"alice\": AI credits (tokens) limit of 1,000 per day"), "{:?}", c.reason);
        let r = serde_json::to_value(&c.user_results[0]).unwrap();
        assert_eq!((r["used"].clone(), r["remaining"].clone()), (json!(900), json!(100)));
        assert!(c.results.iter().all(|r| r.allowed), "the plan allows it");
        assert!(check_as(db, &s.org_id, "alice", 100).await.allowed);
        let Err(Error::LimitReached(_)) = admission::reserve(db, &s, reserve_as("alice", Metric::Tokens, 101)).await else { panic!("over the limit") };

        // Raised for alice only.
        set(db, &s.org_id, "alice", "custom", tokens_a_day(5_000)).await;
        admission::reserve(db, &s, reserve_as("alice", Metric::Tokens, 4_000)).await.unwrap();
        let Err(Error::LimitReached(_)) = admission::reserve(db, &s, reserve_as("alice", Metric::Tokens, 101)).await else { panic!("5,000 used") };
        // Unlimited, then blocked (403, naming the user), then the defaults again.
        set(db, &s.org_id, "alice", "unlimited", LimitValues::default()).await;
        admission::reserve(db, &s, reserve_as("alice", Metric::Tokens, 50_000)).await.unwrap();
        set(db, &s.org_id, "alice", "blocked", LimitValues::default()).await;
        let Err(Error::LimitReached(r)) = admission::reserve(db, &s, reserve_as("alice", Metric::Requests, 1)).await else { panic!("blocked") };
        assert_eq!(r.status, 403);
        assert!(r.message.contains("\"alice\" is blocked"), "{}", r.message);
        let who = admission::Subject { user_id: Some("alice".into()), ..Default::default() };
        assert!(admission::check_for(db, &s.org_id, &who, &[Ask { metric: Metric::Tokens, amount: 0 }]).await.is_err());
        // The switch off frees everyone, the blocked user included.
        end_users::save_settings(db, &s.org_id, &LimitSettings { enabled: false, defaults: tokens_a_day(1_000) }, &by()).await.unwrap();
        admission::reserve(db, &s, reserve_as("alice", Metric::Tokens, 10)).await.unwrap();
        defaults(db, &s.org_id, tokens_a_day(1_000)).await;
        assert!(end_users::delete_limits(db, &s.org_id, "alice", &by()).await.unwrap());
        assert!(!end_users::delete_limits(db, &s.org_id, "alice", &by()).await.unwrap(), "deleting twice is fine");
        let l = end_users::limits(db, &s.org_id, "alice").await.unwrap();
        assert_eq!((l.mode.as_str(), l.status.as_str()), ("default", "limited"));
        let Err(Error::LimitReached(_)) = admission::reserve(db, &s, reserve_as("alice", Metric::Tokens, 1)).await else { panic!("defaults again") };
    }

    async fn cost_limits_hold_reservations_of_cost(db) {
        let s = org(db).await;
        defaults(db, &s.org_id, LimitValues { cost_per_month_usd: Some("0.50".into()), ..Default::default() }).await;
        let cents = |n: i64| n * 10_000_000;
        admission::reserve(db, &s, reserve_as("u", Metric::CostUsd, cents(30))).await.unwrap();
        admission::reserve(db, &s, reserve_as("u", Metric::CostUsd, cents(20))).await.unwrap();
        let Err(Error::LimitReached(r)) = admission::reserve(db, &s, reserve_as("u", Metric::CostUsd, 1)).await else { panic!("$0.50 held") };
        assert_eq!(r.limit, "user cost_usd/month");
        assert!(r.message.contains("Spend (USD) limit of $0.50 per month"), "{}", r.message);
    }

    async fn a_users_requests_per_minute_are_limited_for_that_user_only(db) {
        let s = org(db).await;
        defaults(db, &s.org_id, LimitValues { requests_per_minute: Some(3), ..Default::default() }).await;
        for _ in 0..3 {
            admission::reserve(db, &s, reserve_as("alice", Metric::Requests, 1)).await.unwrap();
        }
        let Err(Error::LimitReached(r)) = admission::reserve(db, &s, reserve_as("alice", Metric::Requests, 1)).await else { panic!("4th") };
        assert_eq!((r.status, r.limit.as_str()), (429, "user requests/minute"));
        assert!(r.retry_after_secs.is_some_and(|s| s >= 1));
        admission::reserve(db, &s, reserve_as("bob", Metric::Requests, 1)).await.unwrap();
    }

    async fn bad_limits_are_refused_naming_the_field_and_change_nothing(db) {
        let s = org(db).await;
        defaults(db, &s.org_id, tokens_a_day(1_000)).await;
        let bad = [
            (LimitValues { tokens_per_day: Some(-1), ..Default::default() }, "tokens_per_day"),
            (LimitValues { cost_per_day_usd: Some("ten".into()), ..Default::default() }, "cost_per_day_usd"),
            (LimitValues { requests_per_minute: Some(0), ..Default::default() }, "requests_per_minute"),
        ];
        for (values, field) in bad {
            let e = end_users::save_settings(db, &s.org_id, &LimitSettings { enabled: true, defaults: values }, &by()).await.unwrap_err();
            assert_eq!(e.field(), Some(field), "{e:?}");
        }
        let e = end_users::set_limits(db, &s.org_id, "u", &LimitOverride { mode: "custom".into(), limits: LimitValues::default() }, &by()).await.unwrap_err();
        assert_eq!(e.field(), Some("mode"));
        let e = end_users::set_limits(db, &s.org_id, "u", &LimitOverride { mode: "vip".into(), limits: LimitValues::default() }, &by()).await.unwrap_err();
        assert_eq!(e.field(), Some("mode"));
        let e = end_users::set_limits(db, &s.org_id, "", &LimitOverride { mode: "blocked".into(), limits: LimitValues::default() }, &by()).await.unwrap_err();
        assert_eq!(e.field(), Some("user_id"));
        assert_eq!(end_users::settings(db, &s.org_id).await.unwrap().defaults, tokens_a_day(1_000), "unchanged");
    }

    async fn the_list_shows_each_users_period_against_its_limits(db) {
        let s = org(db).await;
        defaults(db, &s.org_id, tokens_a_day(10_000)).await;
        let events = [event("carol", 300), event("alice", 100), event("bob", 2_000), event("alice", 50), json!({"model": "m", "input_tokens": 7})];
        record_usage(db, &s, parse_batch(&events, now_ms())).await.unwrap();
        set(db, &s.org_id, "dave", "blocked", LimitValues::default()).await;
        let page = end_users::list(db, &s.org_id, &ListQuery { sort: Some("tokens_month".into()), ..Default::default() }).await.unwrap();
        let ids: Vec<&str> = page.users.iter().map(|u| u.user_id.as_str()).collect();
        assert_eq!(ids, ["bob", "carol", "alice", "dave"], "by tokens, then id; an override without use is listed");
        assert_eq!(page.total, 4);
        assert!(page.settings.enabled);
        let alice = &page.users[2];
        assert_eq!((alice.today.tokens, alice.month.tokens, alice.month.requests), (150, 150, 2));
        assert_eq!(alice.lines.len(), 1);
        assert_eq!((alice.lines[0].limit, alice.lines[0].used), (10_000, 150));
        assert_eq!((page.users[3].mode.as_str(), page.users[3].status.as_str()), ("blocked", "blocked"));
        let found = end_users::list(db, &s.org_id, &ListQuery { search: Some("aro".into()), ..Default::default() }).await.unwrap();
        assert_eq!(found.users.iter().map(|u| u.user_id.as_str()).collect::<Vec<_>>(), ["carol"]);
        let paged = end_users::list(db, &s.org_id, &ListQuery { sort: Some("user_id".into()), limit: Some(2), offset: Some(2), ..Default::default() }).await.unwrap();
        assert_eq!(paged.users.iter().map(|u| u.user_id.as_str()).collect::<Vec<_>>(), ["carol", "dave"]);
        assert_eq!(paged.total, 4);
        let e = end_users::list(db, &s.org_id, &ListQuery { sort: Some("age".into()), ..Default::default() }).await.unwrap_err();
        assert_eq!(e.field(), Some("sort"));
        // Another organization sees none of them.
        let other = sign_up(db, "b@example.com", "B").await;
        assert_eq!(end_users::list(db, &other.org.id, &ListQuery::default()).await.unwrap().total, 0);
    }

    async fn month_totals_are_the_sums_of_the_days_after_ingest_a_time_zone_change_and_a_fill_at_start(db) {
        let signed = sign_up(db, "a@example.com", "A").await;
        let s = Sender { org_id: signed.org.id.clone(), api_key_id: None };
        priced(db).await;
        record_usage(db, &s, parse_batch(&a_month_of_use(), now_ms())).await.unwrap();
        // A second batch adds to the same rows.
        record_usage(db, &s, parse_batch(&[used("u01", "dear", 7, 0), used("u02", "cheap", 3, 2)], now_ms())).await.unwrap();
        let after_ingest = month_totals(db, &s.org_id).await;
        assert!(after_ingest.len() >= 14, "{after_ingest:?}");
        assert_eq!(after_ingest, month_sums_of_days(db, &s.org_id, "UTC").await);

        // A zone 14 hours ahead moves the days: this month's totals follow.
        let scope = OrgScope { org_id: s.org_id.clone(), user_id: signed.user.id.clone(), role: Role::Owner };
        let kiritimati = "Pacific/Kiritimati";
        orgs::update_settings(db, &scope, &orgs::SettingsInput { name: "A", time_zone: kiritimati, refuse_unpriced_models: false }, &by()).await.unwrap();
        let now_there = this_month(month_totals(db, &s.org_id).await, kiritimati);
        assert!(!now_there.is_empty());
        assert_eq!(now_there, this_month(month_sums_of_days(db, &s.org_id, kiritimati).await, kiritimati));
        record_usage(db, &s, parse_batch(&[used("u05", "dear", 11, 0)], now_ms())).await.unwrap();
        assert_eq!(
            this_month(month_totals(db, &s.org_id).await, kiritimati),
            this_month(month_sums_of_days(db, &s.org_id, kiritimati).await, kiritimati)
        );

        // A database from before the totals: filled from the days at start.
        sqlx::query("DELETE FROM user_usage_months").execute(db.reader()).await.unwrap();
        assert!(quota::verify_counters(db).await.unwrap() >= 1);
        let filled = month_totals(db, &s.org_id).await;
        assert!(!filled.is_empty());
        assert_eq!(filled, this_month(month_sums_of_days(db, &s.org_id, kiritimati).await, kiritimati), "only this month is filled");
        assert_eq!(quota::verify_counters(db).await.unwrap(), 0, "filled once");
    }

    async fn every_sort_of_the_list_pages_like_the_sums_of_the_days(db) {
        let s = org(db).await;
        priced(db).await;
        record_usage(db, &s, parse_batch(&a_month_of_use(), now_ms())).await.unwrap();
        // Overrides: two users without use this month, one with.
        for user in ["abe", "zed", "u07"] {
            set(db, &s.org_id, user, "blocked", LimitValues::default()).await;
        }
        // The oracle: this month's and today's sums of the day counters.
        let month = window(zone("UTC"), Period::Month, now_ms());
        let today = window(zone("UTC"), Period::Day, now_ms()).start_ms;
        let mut users: BTreeMap<String, Figures> = BTreeMap::new();
        for ((_, user), sums) in this_month(month_sums_of_days(db, &s.org_id, "UTC").await, "UTC") {
            users.insert(user, ([0; 3], [sums[0], sums[1], sums[2]]));
        }
        let rows = sqlx::query("SELECT user_id, tokens, cost_nanos, requests FROM user_usage_days WHERE org_id = $1 AND day_start = $2")
            .bind(&s.org_id)
            .bind(today)
            .fetch_all(db.reader())
            .await
            .unwrap();
        for r in &rows {
            users.get_mut(r.get::<String, _>("user_id").as_str()).unwrap().0 = [r.get("tokens"), r.get("cost_nanos"), r.get("requests")];
        }
        assert!(month.start_ms <= today);
        for user in ["abe", "zed", "u07"] {
            users.entry(user.to_string()).or_default();
        }
        let sorts: [(&str, fn(&Figures) -> i64); 6] = [
            ("cost_month", |u| u.1[1]),
            ("tokens_month", |u| u.1[0]),
            ("cost_today", |u| u.0[1]),
            ("tokens_today", |u| u.0[0]),
            ("requests", |u| u.1[2]),
            ("user_id", |_| 0),
        ];
        for (sort, key) in sorts {
            for search in ["", "u0", "e", "u1", "nobody"] {
                let mut expected: Vec<(&String, &Figures)> = users.iter().filter(|(u, _)| u.contains(search)).collect();
                expected.sort_by(|a, b| key(b.1).cmp(&key(a.1)).then(a.0.cmp(b.0)));
                for limit in [1, 4, 50] {
                    let mut offset = 0;
                    loop {
                        let q = ListQuery { search: Some(search.into()), sort: Some(sort.into()), limit: Some(limit), offset: Some(offset) };
                        let page = end_users::list(db, &s.org_id, &q).await.unwrap();
                        let got: Vec<(String, [i64; 4])> = page
                            .users
                            .iter()
                            .map(|u| (u.user_id.clone(), [u.today.tokens, u.today.requests, u.month.tokens, u.month.requests]))
                            .collect();
                        let want: Vec<(String, [i64; 4])> = expected
                            .iter()
                            .skip(offset as usize)
                            .take(limit as usize)
                            .map(|(u, (d, m))| (u.to_string(), [d[0], d[2], m[0], m[2]]))
                            .collect();
                        assert_eq!(got, want, "sort {sort}, search {search:?}, limit {limit}, offset {offset}");
                        assert_eq!(page.total, expected.len() as i64, "sort {sort}, search {search:?}, offset {offset}");
                        if offset as usize > expected.len() {
                            break; // a page past the end still answers the total
                        }
                        offset += limit;
                    }
                }
            }
        }
        // The costs themselves, and the last day with use.
        let page = end_users::list(db, &s.org_id, &ListQuery { sort: Some("cost_month".into()), limit: Some(200), ..Default::default() }).await.unwrap();
        for u in &page.users {
            let (d, m) = users[&u.user_id];
            let usd = |n: i64| tollbooth::pricing::NanoUsd::from_nanos(n).to_short_usd_string();
            assert_eq!((u.today.cost_usd.clone(), u.month.cost_usd.clone()), (usd(d[1]), usd(m[1])), "{}", u.user_id);
            assert_eq!(u.last_active.is_some(), m[2] > 0, "{}", u.user_id);
        }
    }

    async fn the_users_counters_are_rebuilt_from_the_events_at_start(db) {
        let s = org(db).await;
        record_usage(db, &s, parse_batch(&[event("alice", 100), event("bob", 5)], now_ms())).await.unwrap();
        sqlx::query("DELETE FROM user_usage_days").execute(db.reader()).await.unwrap();
        assert!(quota::verify_counters(db).await.unwrap() >= 1);
        let page = end_users::list(db, &s.org_id, &ListQuery::default()).await.unwrap();
        let tokens: Vec<(String, i64)> = page.users.iter().map(|u| (u.user_id.clone(), u.month.tokens)).collect();
        assert_eq!(tokens, [("alice".to_string(), 100), ("bob".to_string(), 5)]);
    }
}

/// Two processes on one PostgreSQL database reserve for one end user at once:
/// together they never pass the user's limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_never_pass_one_users_limit() {
    let Some(t) = tollbooth::testing::TestDb::postgres().await else { return };
    let s = org(&t.db).await;
    defaults(&t.db, &s.org_id, tokens_a_day(500)).await;
    let other = Db::connect(&t.url).await.unwrap();
    let dbs = [t.db.clone(), other.clone()];
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let (db, s) = (dbs[i % 2].clone(), s.clone());
            tokio::spawn(async move { admission::reserve(&db, &s, reserve_as("alice", Metric::Tokens, 5)).await.is_ok() })
        })
        .collect();
    let mut granted = 0;
    for t in tasks {
        granted += t.await.unwrap() as i64;
    }
    assert_eq!(granted, 100, "exactly 500 tokens, 5 at a time, across both processes");
    other.close().await;
}

/// The End users list at 100,000 users active on every day of a month
/// (3,000,000 user-days), each sort's first and a deep page, on both
/// engines; and what the month totals' upsert adds to ingest's counter
/// writes. A measurement, not a test (no timing is asserted):
/// `cargo test --release --test store -- --ignored --nocapture users_list_at_scale`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn users_list_at_scale() {
    use std::time::Instant;
    use tollbooth::db::Engine;
    let mut dbs = vec![tollbooth::testing::TestDb::sqlite().await];
    dbs.extend(tollbooth::testing::TestDb::postgres().await);
    for t in &dbs {
        let db = &t.db;
        let s = sign_up(db, "a@example.com", "A").await;
        let month = window(zone("UTC"), Period::Month, now_ms()).start_ms;
        let today = window(zone("UTC"), Period::Day, now_ms()).start_ms;
        let started = Instant::now();
        let seed = match db.engine {
            Engine::Sqlite => "WITH RECURSIVE u(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM u WHERE i < 100000), \
                 d(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM d WHERE j < 29) \
                 INSERT INTO user_usage_days (org_id, user_id, day_start, tokens, cost_nanos, requests) \
                 SELECT $1, printf('user-%06d', i), $2 + j * 86400000, abs(random()) % 100000, abs(random()) % 1000000000, 1 + abs(random()) % 50 \
                 FROM u, d ORDER BY 2, 3",
            Engine::Postgres => "INSERT INTO user_usage_days (org_id, user_id, day_start, tokens, cost_nanos, requests) \
                 SELECT $1, 'user-' || lpad(i::text, 6, '0'), $2 + j * 86400000::bigint, (random() * 100000)::bigint, \
                 (random() * 1000000000)::bigint, 1 + (random() * 50)::bigint FROM generate_series(1, 100000) i, generate_series(0, 29) j",
        };
        let mut tx = db.begin().await.unwrap();
        sqlx::query(seed).bind(&s.org.id).bind(month).execute(&mut *tx).await.unwrap();
        sqlx::query(
            "INSERT INTO user_usage_months (org_id, user_id, month_start, tokens, cost_nanos, requests, last_day) \
             SELECT org_id, user_id, $2, CAST(SUM(tokens) AS BIGINT), CAST(SUM(cost_nanos) AS BIGINT), CAST(SUM(requests) AS BIGINT), \
             CAST(MAX(day_start) AS BIGINT) FROM user_usage_days WHERE org_id = $1 GROUP BY org_id, user_id",
        )
        .bind(&s.org.id)
        .bind(month)
        .execute(&mut *tx)
        .await
        .unwrap();
        tx.commit().await.unwrap();
        sqlx::query(if db.engine == Engine::Sqlite { "ANALYZE" } else { "VACUUM ANALYZE" }).execute(db.writer()).await.unwrap();
        println!("{}: seeded 3,000,000 user-days in {:.1} s", db.engine.name(), started.elapsed().as_secs_f64());

        for sort in ["cost_month", "tokens_month", "requests", "cost_today", "tokens_today", "user_id"] {
            for offset in [0, 50_000] {
                let mut times = Vec::new();
                for _ in 0..5 {
                    let q = ListQuery { sort: Some(sort.into()), limit: Some(50), offset: Some(offset), ..Default::default() };
                    let started = Instant::now();
                    let page = end_users::list(db, &s.org.id, &q).await.unwrap();
                    times.push(started.elapsed().as_secs_f64() * 1000.0);
                    assert_eq!((page.users.len(), page.total), (50, 100_000));
                }
                times.sort_by(f64::total_cmp);
                println!("{}: {sort:>12} offset {offset:>6}: median {:.1} ms (min {:.1}, max {:.1})", db.engine.name(), times[2], times[0], times[4]);
            }
        }
        let q = ListQuery { search: Some("user-0999".into()), limit: Some(50), ..Default::default() };
        let started = Instant::now();
        let page = end_users::list(db, &s.org.id, &q).await.unwrap();
        println!("{}: search (100 found): {:.1} ms", db.engine.name(), started.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(page.total, 100);

        // Before: the month's user-days summed for every user, then sorted.
        for order in ["mc DESC, user_id", "dc DESC, user_id", "user_id"] {
            let sql = format!(
                "SELECT user_id, CAST(SUM(tokens) AS BIGINT) AS mt, CAST(SUM(cost_nanos) AS BIGINT) AS mc, CAST(SUM(requests) AS BIGINT) AS mr, \
                 CAST(SUM(CASE WHEN day_start = $5 THEN tokens ELSE 0 END) AS BIGINT) AS dt, \
                 CAST(SUM(CASE WHEN day_start = $5 THEN cost_nanos ELSE 0 END) AS BIGINT) AS dc, \
                 CAST(SUM(CASE WHEN day_start = $5 THEN requests ELSE 0 END) AS BIGINT) AS dr, \
                 CAST(MAX(day_start) AS BIGINT) AS last_day, COUNT(*) OVER () AS total \
                 FROM (SELECT user_id, tokens, cost_nanos, requests, day_start FROM user_usage_days \
                 WHERE org_id = $1 AND day_start >= $2 AND day_start < $3 AND user_id LIKE $4 ESCAPE '\\' \
                 UNION ALL SELECT user_id, 0, 0, 0, 0 FROM user_limit_overrides WHERE org_id = $1 AND user_id LIKE $4 ESCAPE '\\') u \
                 GROUP BY user_id ORDER BY {order} LIMIT 50 OFFSET 0"
            );
            let started = Instant::now();
            let rows = sqlx::query(&sql)
                .bind(&s.org.id)
                .bind(month)
                .bind(month + 31 * 86_400_000)
                .bind("%%")
                .bind(today)
                .fetch_all(db.reader())
                .await
                .unwrap();
            assert_eq!(rows.len(), 50);
            println!("{}: before, ORDER BY {order}: {:.0} ms", db.engine.name(), started.elapsed().as_secs_f64() * 1000.0);
        }

        // Ingest's counter writes: 100 batches of 300 users' today, the day
        // upsert alone and with the month upsert (the statements of
        // `add_days` and `add_months`).
        let marks = |cols: usize| -> String {
            (0..300)
                .map(|r| format!("({})", (0..cols).map(|c| if db.engine == Engine::Sqlite { "?".to_string() } else { format!("${}", r * cols + c + 1) }).collect::<Vec<_>>().join(", ")))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let days_sql = format!(
            "INSERT INTO user_usage_days (org_id, user_id, day_start, tokens, cost_nanos, requests) VALUES {} \
             ON CONFLICT (org_id, user_id, day_start) DO UPDATE SET tokens = user_usage_days.tokens + excluded.tokens, \
             cost_nanos = user_usage_days.cost_nanos + excluded.cost_nanos, requests = user_usage_days.requests + excluded.requests",
            marks(6)
        );
        let later = if db.engine == Engine::Sqlite { "MAX" } else { "GREATEST" };
        let months_sql = format!(
            "INSERT INTO user_usage_months (org_id, user_id, month_start, tokens, cost_nanos, requests, last_day) VALUES {} \
             ON CONFLICT (org_id, month_start, user_id) DO UPDATE SET tokens = user_usage_months.tokens + excluded.tokens, \
             cost_nanos = user_usage_months.cost_nanos + excluded.cost_nanos, requests = user_usage_months.requests + excluded.requests, \
             last_day = {later}(user_usage_months.last_day, excluded.last_day)",
            marks(7)
        );
        for with_months in [false, true, false, true] {
            let started = Instant::now();
            for b in 0..100 {
                let users: Vec<String> = (0..300).map(|i| format!("user-{:06}", 1 + (b * 997 + i * 331) % 100_000)).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
                if users.len() < 300 {
                    continue;
                }
                let mut tx = db.begin().await.unwrap();
                let mut q = sqlx::query(&days_sql);
                for u in &users {
                    q = q.bind(&s.org.id).bind(u).bind(today).bind(10_i64).bind(1_000_i64).bind(1_i64);
                }
                q.execute(&mut *tx).await.unwrap();
                if with_months {
                    let mut q = sqlx::query(&months_sql);
                    for u in &users {
                        q = q.bind(&s.org.id).bind(u).bind(month).bind(10_i64).bind(1_000_i64).bind(1_i64).bind(today);
                    }
                    q.execute(&mut *tx).await.unwrap();
                }
                tx.commit().await.unwrap();
            }
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            println!("{}: 100 batches of 300 user-days, {}: {ms:.0} ms ({:.2} ms a batch)", db.engine.name(), if with_months { "days + months" } else { "days only" }, ms / 100.0);
        }
    }
}
