//! The narrow rollups equal the raw events they summarize, and every
//! question the planner answers (any grouping, filter, zone and range, whole
//! days or not) equals the same question answered from the raw events here,
//! by an independent fold in Rust.

use std::collections::BTreeMap;

use chrono::TimeZone;
use serde_json::json;
use tollbooth::clock::now_ms;
use tollbooth::db::Db;
use tollbooth::metering::analytics::{self, Dim, Filter, Group, Query, Sums, TimeGrain};
use tollbooth::ingest::record_usage;
use tollbooth::metering::{parse_batch, Sender};
use tollbooth::pricing::{store as prices, ModelPrice, PriceBook, UnitPrice};
use tollbooth::test_both_engines;

use super::sign_up;

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

fn book() -> PriceBook {
    let mut b = PriceBook::default();
    for (name, input) in [("m-a", "0.000001"), ("m-b", "0.000003")] {
        let mut p = ModelPrice::new(name, if name == "m-a" { "openai" } else { "anthropic" });
        p.input = Some(UnitPrice::parse(input).unwrap());
        p.output = Some(UnitPrice::parse("0.00001").unwrap());
        b.insert(p);
    }
    b
}

/// A small generator (the test's data, drawn the same way every run).
struct Draw(u64);

impl Draw {
    fn next(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// One raw event as the test sees it.
#[derive(Debug, Clone)]
struct Raw {
    ts: i64,
    model: String,
    provider: String,
    user: String,
    project: String,
    feature: String,
    session: String,
    sums: Sums,
}

/// Records ~1,200 events over 40 days ending at `end` for the organization;
/// returns them as stored.
async fn seed(db: &Db, org_id: &str, end: i64, salt: u64) -> Vec<Raw> {
    let mut d = Draw(0x9E37_79B9 ^ salt);
    let mut all = vec![];
    for batch in 0..6 {
        let events: Vec<serde_json::Value> = (0..200)
            .map(|i| {
                let ts = end - 40 * DAY + d.next((40 * DAY) as u64) as i64;
                let model = ["m-a", "m-b", "unpriced-x"][d.next(3) as usize];
                let status = ["success", "success", "error"][d.next(3) as usize];
                let mut e = json!({
                    "id": format!("e{batch}-{i}"),
                    "timestamp": tollbooth::clock::to_rfc3339(ts),
                    "model": model,
                    "input_tokens": 10 + d.next(1000),
                    "output_tokens": d.next(300),
                    "status": status,
                });
                if d.next(4) > 0 {
                    e["latency_ms"] = json!(5 + d.next(30_000));
                }
                if d.next(5) > 0 {
                    e["user_id"] = json!(format!("u{}", d.next(12)));
                }
                if d.next(3) > 0 {
                    e["project_id"] = json!(format!("p{}", d.next(4)));
                }
                if d.next(2) > 0 {
                    e["feature"] = json!(format!("f{}", d.next(3)));
                }
                e["session_id"] = json!(format!("s{}", d.next(30)));
                if d.next(3) == 0 {
                    e["provider"] = json!("via-proxy");
                }
                e
            })
            .collect();
        let results = record_usage(db, &Sender { org_id: org_id.into(), api_key_id: None }, parse_batch(&events, now_ms())).await.unwrap();
        for (e, r) in events.iter().zip(results) {
            let parsed = tollbooth::metering::parse_event_json(&e.to_string(), now_ms()).unwrap();
            let mut sums = Sums::default();
            let cost = r.cost_usd.as_deref().map(|c| tollbooth::pricing::NanoUsd::parse_usd(c).unwrap().nanos());
            add(&mut sums, &parsed, cost);
            let s = |k: &str| e[k].as_str().unwrap_or("").to_string();
            all.push(Raw {
                ts: parsed.timestamp_ms,
                model: s("model"),
                provider: parsed.provider.clone().unwrap_or_default(),
                user: s("user_id"),
                project: s("project_id"),
                feature: s("feature"),
                session: s("session_id"),
                sums,
            });
        }
    }
    all
}

/// The test's own fold of one event (not the code under test's).
fn add(s: &mut Sums, e: &tollbooth::metering::NewEvent, cost: Option<i64>) {
    s.events += 1;
    s.requests += e.requests as i64;
    s.errors += i64::from(e.status != tollbooth::metering::CallStatus::Success);
    s.input_tokens += e.input_tokens as i64;
    s.output_tokens += e.output_tokens as i64;
    s.cached_input_tokens += e.cached_input_tokens as i64;
    match cost {
        Some(c) => s.cost_nano += c,
        None => s.unpriced_events += 1,
    }
    if let Some(l) = e.latency_ms {
        s.latency_count += 1;
        s.latency_sum_ms += l as i64;
        let bounds = tollbooth::metering::rollup::LATENCY_BOUNDS_MS;
        s.latency[bounds.iter().position(|b| l as i64 <= *b).unwrap()] += 1;
    }
}

fn merge(a: &mut Sums, b: &Sums) {
    a.merge(b);
}

/// The local start of the period holding `ms` (the test's own calendar).
fn period_start(tz: chrono_tz::Tz, grain: TimeGrain, ms: i64) -> i64 {
    use chrono::Datelike;
    if grain == TimeGrain::Hour {
        return ms.div_euclid(HOUR) * HOUR;
    }
    let date = tz.timestamp_millis_opt(ms).unwrap().date_naive();
    let first = match grain {
        TimeGrain::Day => date,
        TimeGrain::Week => date - chrono::Duration::days(date.weekday().num_days_from_monday() as i64),
        TimeGrain::Month => date.with_day(1).unwrap(),
        TimeGrain::Hour => unreachable!(),
    };
    tz.from_local_datetime(&first.and_hms_opt(0, 0, 0).unwrap()).earliest().unwrap().timestamp_millis()
}

type Key = (Option<i64>, Vec<String>);

/// The answer from the raw events: hours whose start is in [from, to)
/// rounded up to hours, as the rollups define it.
fn reference(raw: &[Raw], tz: chrono_tz::Tz, from: i64, to: i64, groups: &[Group], f: &Filter) -> BTreeMap<Key, Sums> {
    let ceil = |ms: i64| -((-ms).div_euclid(HOUR) * HOUR);
    let (from, to) = (ceil(from), ceil(to));
    let mut out: BTreeMap<Key, Sums> = BTreeMap::new();
    for e in raw {
        let hour = e.ts.div_euclid(HOUR) * HOUR;
        if hour < from || hour >= to {
            continue;
        }
        let keep = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        if !(keep(&f.model, &e.model) && keep(&f.user_id, &e.user) && keep(&f.project_id, &e.project) && keep(&f.feature, &e.feature)) {
            continue;
        }
        let mut time = None;
        let mut values = vec![];
        for g in groups {
            match g {
                Group::Time(t) => time = Some(period_start(tz, *t, hour)),
                Group::Model => values.push(e.model.clone()),
                Group::Provider => values.push(e.provider.clone()),
                Group::Dim(Dim::User) => values.push(e.user.clone()),
                Group::Dim(Dim::Project) => values.push(e.project.clone()),
                Group::Dim(Dim::Feature) => values.push(e.feature.clone()),
                Group::Dim(Dim::Session) => values.push(e.session.clone()),
            }
        }
        merge(out.entry((time, values)).or_default(), &e.sums);
    }
    out
}

/// Compares the fields every table keeps (and the histogram where kept).
fn same(a: &Sums, b: &Sums, histogram: bool) -> bool {
    let core = |s: &Sums| (s.events, s.requests, s.errors, s.input_tokens, s.output_tokens, s.cost_nano, s.unpriced_events, s.latency_count, s.latency_sum_ms);
    core(a) == core(b) && (!histogram || a.latency == b.latency)
}

async fn check(db: &Db, raw: &[Raw], org: &str, tz: chrono_tz::Tz, from: i64, to: i64, groups: Vec<Group>, filter: Filter) {
    let q = Query { org_id: org, tz, from_ms: from, to_ms: to, groups: groups.clone(), filter: filter.clone(), limit: None };
    let answer = analytics::query(db, &q).await.unwrap_or_else(|e| panic!("{groups:?} {filter:?}: {e}"));
    let want = reference(raw, tz, from, to, &groups, &filter);
    assert!(!want.is_empty(), "{groups:?} {filter:?}: the test data has events in the range");
    let got: BTreeMap<Key, Sums> = answer.lines.iter().map(|l| ((l.time, l.values.clone()), l.sums.clone())).collect();
    assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>(), "{tz} {groups:?} {filter:?}: groups");
    for (k, w) in &want {
        assert!(same(&got[k], w, answer.histogram), "{tz} {groups:?} {filter:?} {k:?}: {:?} != {w:?}", got[k]);
    }
    assert_eq!(answer.groups, want.len() as i64);
    // Grouped by dimensions only: the largest three by cost (then events,
    // then the values), ranked on cost alone and summed in full.
    if !groups.is_empty() && !groups.iter().any(|g| matches!(g, Group::Time(_))) {
        let top = analytics::query(db, &Query { limit: Some(3), ..q }).await.unwrap_or_else(|e| panic!("{groups:?} limited: {e}"));
        let mut ranked: Vec<(&Key, &Sums)> = want.iter().collect();
        ranked.sort_by(|(ka, a), (kb, b)| b.cost_nano.cmp(&a.cost_nano).then(b.events.cmp(&a.events)).then(ka.1.cmp(&kb.1)));
        let got: Vec<(Vec<String>, Sums)> = top.lines.iter().map(|l| (l.values.clone(), l.sums.clone())).collect();
        assert_eq!(got.len(), ranked.len().min(3), "{tz} {groups:?} {filter:?}: at most three");
        for ((values, sums), (k, w)) in got.iter().zip(&ranked) {
            assert_eq!(values, &k.1, "{tz} {groups:?} {filter:?}: the largest first");
            assert!(same(sums, w, top.histogram), "{tz} {groups:?} {filter:?} {values:?}: {sums:?} != {w:?}");
        }
        assert_eq!(top.groups, want.len() as i64, "{tz} {groups:?} {filter:?}: every group counted");
    }
}

async fn pending_count(db: &Db) -> i64 {
    analytics::pending::backlog(&mut *db.reader().acquire().await.unwrap()).await.unwrap()
}

test_both_engines! {
    async fn recent_events_fold_at_once_and_backfilled_ones_are_counted_while_they_wait(db) {
        prices::import(db, &book(), "test", Some(0)).await.unwrap();
        let a = sign_up(db, "a@example.com", "A").await.org.id;
        let now = now_ms();
        let events = vec![
            json!({"id": "now", "timestamp": tollbooth::clock::to_rfc3339(now - 1_000), "model": "m-a", "input_tokens": 100, "output_tokens": 10, "user_id": "u1", "latency_ms": 30}),
            json!({"id": "old", "timestamp": tollbooth::clock::to_rfc3339(now - 3 * DAY), "model": "m-b", "input_tokens": 7, "output_tokens": 3, "user_id": "u1", "latency_ms": 2_000}),
        ];
        record_usage(db, &Sender { org_id: a.clone(), api_key_id: None }, parse_batch(&events, now)).await.unwrap();
        assert_eq!(pending_count(db).await, 1, "only the event dated three days ago waits");
        let ask = |groups: Vec<Group>| Query {
            org_id: &a, tz: chrono_tz::UTC, from_ms: now - 7 * DAY, to_ms: now + HOUR, groups, filter: Filter::default(), limit: None,
        };
        let totals = |answer: analytics::Answer| answer.lines.iter().map(|l| (l.sums.events, l.sums.input_tokens, l.sums.latency_count)).collect::<Vec<_>>();
        let mut before = vec![];
        for groups in [vec![], vec![Group::Model], vec![Group::Dim(Dim::User)], vec![Group::Time(TimeGrain::Hour)]] {
            before.push(totals(analytics::query(db, &ask(groups)).await.unwrap()));
        }
        assert_eq!(before[0], vec![(2, 107, 2)], "both events, one of them not folded yet");
        assert_eq!(before[2], vec![(2, 107, 2)], "u1's two events");
        let p95 = analytics::query(db, &ask(vec![])).await.unwrap().lines[0].sums.p95_latency_ms();
        assert_eq!(p95, Some(2_250), "the waiting event's latency is in the histogram");
        let lifetime = analytics::store::lifetime(&mut *db.reader().acquire().await.unwrap(), &a).await.unwrap();
        assert_eq!(lifetime.events, 2, "the lifetime totals count a backfilled event at once");
        assert_eq!(analytics::pending::fold_all(db, 100).await.unwrap(), 1);
        assert_eq!(pending_count(db).await, 0);
        for (i, groups) in [vec![], vec![Group::Model], vec![Group::Dim(Dim::User)], vec![Group::Time(TimeGrain::Hour)]].into_iter().enumerate() {
            assert_eq!(totals(analytics::query(db, &ask(groups.clone())).await.unwrap()), before[i], "{groups:?}: the same once folded");
        }
        let lifetime = analytics::store::lifetime(&mut *db.reader().acquire().await.unwrap(), &a).await.unwrap();
        assert_eq!(lifetime.events, 2, "folding does not count the event twice");
        assert_eq!(analytics::pending::fold_all(db, 100).await.unwrap(), 0, "nothing is folded twice");
    }

    async fn every_question_equals_the_raw_events_it_summarizes(db) {
        prices::import(db, &book(), "test", Some(0)).await.unwrap();
        // Yesterday 07:00 UTC: never in the future, whatever the time of day
        // (events more than 5 minutes ahead are refused).
        let end = (now_ms() / DAY) * DAY - DAY + 7 * HOUR;
        let a = sign_up(db, "a@example.com", "A").await.org.id;
        let b = sign_up(db, "b@example.com", "B").await.org.id;
        let raw = seed(db, &a, end, 1).await;
        let other = seed(db, &b, end, 2).await;
        assert!(!other.is_empty());
        let ny: chrono_tz::Tz = "America/New_York".parse().unwrap();
        let utc = chrono_tz::UTC;
        use Group::*;
        let user = Filter { user_id: Some("u3".into()), ..Default::default() };
        let model = Filter { model: Some("m-b".into()), ..Default::default() };
        // Whole UTC days, a range with partial days at both ends, and a short one.
        let ranges = [(end - 30 * DAY - 7 * HOUR, end - 7 * HOUR), (end - 29 * DAY - 1_234, end - 3 * HOUR + 17), (end - 20 * HOUR, end - 2 * HOUR)];
        // Every event is backfilled (dated before the previous hour): asked
        // first while they wait in rollup_pending, then once folded into the
        // rollups, the answers are the same.
        let waiting = pending_count(db).await;
        assert_eq!(waiting, (raw.len() + other.len()) as i64, "backfilled events wait for their rollup rows");
        for folded in [false, true] {
        if folded {
            assert_eq!(analytics::pending::fold_all(db, 500).await.unwrap() as i64, waiting);
            assert_eq!(pending_count(db).await, 0);
        }
        for (from, to) in ranges {
            for tz in [utc, ny] {
                for groups in [
                    vec![],
                    vec![Time(TimeGrain::Day)],
                    vec![Time(TimeGrain::Hour)],
                    vec![Time(TimeGrain::Week)],
                    vec![Time(TimeGrain::Month)],
                    vec![Model],
                    vec![Provider],
                    vec![Time(TimeGrain::Day), Model],
                    vec![Model, Provider],
                    vec![Dim(tollbooth::metering::analytics::Dim::User)],
                    vec![Dim(tollbooth::metering::analytics::Dim::Project)],
                    vec![Dim(tollbooth::metering::analytics::Dim::Feature)],
                    vec![Dim(tollbooth::metering::analytics::Dim::Session)],
                    vec![Time(TimeGrain::Day), Dim(tollbooth::metering::analytics::Dim::Project)],
                    vec![Model, Dim(tollbooth::metering::analytics::Dim::User)],
                ] {
                    check(db, &raw, &a, tz, from, to, groups.clone(), Filter::default()).await;
                }
                check(db, &raw, &a, tz, from, to, vec![Time(TimeGrain::Day)], user.clone()).await;
                check(db, &raw, &a, tz, from, to, vec![], user.clone()).await;
                check(db, &raw, &a, tz, from, to, vec![Time(TimeGrain::Day)], model.clone()).await;
                check(db, &raw, &a, tz, from, to, vec![Dim(tollbooth::metering::analytics::Dim::Feature)], model.clone()).await;
            }
        }
        }
        // The lifetime totals are every event of the organization.
        let mut total = Sums::default();
        for e in &raw {
            total.merge(&e.sums);
        }
        let mut conn = db.reader().acquire().await.unwrap();
        let lifetime = analytics::store::lifetime(&mut conn, &a).await.unwrap();
        assert!(same(&lifetime, &total, false), "{lifetime:?} != {total:?}");
    }

    async fn the_largest_groups_come_first_and_the_rest_are_counted(db) {
        prices::import(db, &book(), "test", Some(0)).await.unwrap();
        let end = (now_ms() / DAY) * DAY;
        let a = sign_up(db, "a@example.com", "A").await.org.id;
        let raw = seed(db, &a, end, 3).await;
        let q = Query {
            org_id: &a,
            tz: chrono_tz::UTC,
            from_ms: end - 40 * DAY,
            to_ms: end,
            groups: vec![Group::Dim(Dim::Session)],
            filter: Filter::default(),
            limit: Some(5),
        };
        let answer = analytics::query(db, &q).await.unwrap();
        let all = reference(&raw, chrono_tz::UTC, q.from_ms, q.to_ms, &q.groups, &q.filter);
        assert_eq!(answer.lines.len(), 5);
        assert_eq!(answer.groups, all.len() as i64, "every session is counted");
        let mut costs: Vec<i64> = all.values().map(|s| s.cost_nano).collect();
        costs.sort_unstable_by(|x, y| y.cmp(x));
        let got: Vec<i64> = answer.lines.iter().map(|l| l.sums.cost_nano).collect();
        assert_eq!(got, costs[..5].to_vec(), "the five dearest sessions, dearest first");
    }

    async fn ranges_past_a_cap_are_refused_naming_from(db) {
        let a = sign_up(db, "a@example.com", "A").await.org.id;
        let end = now_ms();
        let ask = |groups: Vec<Group>, filter: Filter, days: i64| Query {
            org_id: &a, tz: chrono_tz::UTC, from_ms: end - days * DAY, to_ms: end, groups, filter, limit: None,
        };
        let user = Filter { user_id: Some("u1".into()), ..Default::default() };
        for (q, why) in [
            (ask(vec![Group::Dim(Dim::User)], Filter::default(), 93), "user grouping past 92 days"),
            (ask(vec![Group::Model, Group::Dim(Dim::Project)], Filter::default(), 32), "two dimensions past 31 days"),
            (ask(vec![Group::Time(TimeGrain::Hour)], user.clone(), 32), "a dimension by hour past 31 days"),
        ] {
            let e = analytics::query(db, &q).await.unwrap_err();
            assert_eq!(e.field(), Some("from"), "{why}: {e}");
        }
        for q in [
            ask(vec![Group::Dim(Dim::Project)], Filter::default(), 400),
            ask(vec![Group::Time(TimeGrain::Day)], user, 400),
            ask(vec![Group::Time(TimeGrain::Day), Group::Model], Filter::default(), 400),
        ] {
            analytics::query(db, &q).await.unwrap();
        }
    }
}
