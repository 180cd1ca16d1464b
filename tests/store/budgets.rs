use serde_json::json;
use tollbooth::budgets::{self, BudgetInput};
use tollbooth::ingest::record_usage;
use tollbooth::metering::{parse_batch, Sender};
use tollbooth::orgs::{self, OrgScope, Role};
use tollbooth::pricing::{store as prices, ModelPrice, PriceBook, UnitPrice};
use tollbooth::test_both_engines;

use super::{by, sign_up};

fn ms(rfc: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc).unwrap().timestamp_millis()
}

/// One model at $0.000001 per input token: 1,000 tokens cost $0.001.
fn book() -> PriceBook {
    let mut p = ModelPrice::new("test-model", "openai");
    p.input = Some(UnitPrice::parse("0.000001").unwrap());
    let mut b = PriceBook::default();
    b.insert(p);
    b
}

fn event(id: &str, at: &str, tokens: u64, project: &str, user: &str) -> serde_json::Value {
    json!({"id": id, "model": "test-model", "input_tokens": tokens, "timestamp": at, "project_id": project, "user_id": user})
}

fn budget(scope: &str, scope_id: Option<&str>, period: &str) -> BudgetInput {
    BudgetInput { scope: scope.into(), scope_id: scope_id.map(Into::into), period: period.into(), amount_usd: "1".into(), ..Default::default() }
}

/// `(date, spent, cumulative)` of each day, `None` for days still ahead.
fn days(s: &budgets::SpendSeries) -> Vec<(String, Option<String>, Option<String>)> {
    s.days.iter().map(|d| (d.date.clone(), d.spent_usd.clone(), d.cumulative_usd.clone())).collect()
}

fn day(date: &str, spent: &str, cumulative: &str) -> (String, Option<String>, Option<String>) {
    (date.into(), Some(spent.into()), Some(cumulative.into()))
}

test_both_engines! {
    async fn spend_is_summed_per_local_day_and_accumulated_through_today(db) {
        prices::import(db, &book(), "test", Some(0)).await.unwrap();
        let s = sign_up(db, "a@example.com", "A").await;
        let owner = OrgScope { org_id: s.org.id.clone(), user_id: s.user.id.clone(), role: Role::Owner };
        // India is UTC+05:30: local midnight is not on a UTC hour.
        orgs::update_settings(db, &owner, &orgs::SettingsInput { name: "A", time_zone: "Asia/Kolkata", refuse_unpriced_models: false }, &crate::by()).await.unwrap();
        let sender = Sender { org_id: s.org.id.clone(), api_key_id: None };
        let batch = vec![
            event("feb", "2026-02-28T23:59:00+05:30", 8000, "bot", "u1"),   // the month before
            event("m1a", "2026-03-01T00:10:00+05:30", 1000, "bot", "u1"),   // still 28 February in UTC
            event("m1b", "2026-03-01T23:50:00+05:30", 2000, "bot", "u1"),
            event("m2", "2026-03-02T00:05:00+05:30", 4000, "bot", "u2"),    // 15 minutes after m1b
            event("m15", "2026-03-15T11:00:00+05:30", 3000, "other", "u1"), // another project
            event("m20", "2026-03-20T09:00:00+05:30", 5000, "bot", "u1"),   // after "now" below
        ];
        let now = ms("2026-03-15T12:00:00+05:30");
        record_usage(db, &sender, parse_batch(&batch, now)).await.unwrap();

        let project = budgets::create(db, &s.org.id, &budget("project", Some("bot"), "monthly"), &by()).await.unwrap();
        let series = budgets::spend_by_day(db, &s.org.id, &project.id, now).await.unwrap();
        assert_eq!(series.budget_id, project.id);
        assert_eq!(series.time_zone, "Asia/Kolkata");
        let got = days(&series);
        assert_eq!(got.len(), 31, "every day of March");
        assert_eq!(got[0], day("2026-03-01", "0.003", "0.003"));
        assert_eq!(got[1], day("2026-03-02", "0.004", "0.007"));
        assert_eq!(got[2], day("2026-03-03", "0.00", "0.007"));
        assert_eq!(got[14], day("2026-03-15", "0.00", "0.007"), "today, the other project's event excluded");
        assert!(got[15..].iter().all(|(_, s, c)| s.is_none() && c.is_none()), "days ahead carry no amounts: {got:?}");
        assert_eq!(got[30].0, "2026-03-31");

        // The organization's series reads its day counters: every project.
        let org = budgets::create(db, &s.org.id, &budget("organization", None, "monthly"), &by()).await.unwrap();
        let got = days(&budgets::spend_by_day(db, &s.org.id, &org.id, now).await.unwrap());
        assert_eq!((got[0].clone(), got[1].clone()), (day("2026-03-01", "0.003", "0.003"), day("2026-03-02", "0.004", "0.007")));
        assert_eq!(got[14], day("2026-03-15", "0.003", "0.01"));

        // A daily budget of a user is today alone.
        let user = budgets::create(db, &s.org.id, &budget("user", Some("u1"), "daily"), &by()).await.unwrap();
        assert_eq!(days(&budgets::spend_by_day(db, &s.org.id, &user.id, now).await.unwrap()), vec![day("2026-03-15", "0.003", "0.003")]);
        let key = budgets::create(db, &s.org.id, &budget("api_key", Some("no-such-key"), "weekly"), &by()).await.unwrap();
        let week = days(&budgets::spend_by_day(db, &s.org.id, &key.id, now).await.unwrap());
        assert_eq!((week.len(), week[0].0.as_str()), (7, "2026-03-09"), "Monday to Sunday");
        assert_eq!(week[6], day("2026-03-15", "0.00", "0.00"), "an unknown key has spent nothing");

        // Another organization's budget is not found.
        let b = sign_up(db, "b@example.com", "B").await;
        assert_eq!(budgets::spend_by_day(db, &b.org.id, &project.id, now).await.unwrap_err().status_code(), 404);
    }
}
