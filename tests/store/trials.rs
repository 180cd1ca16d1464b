use serde_json::json;
use tollbooth::accounts::UserView;
use tollbooth::audit::By;
use tollbooth::billing::events::apply_stripe_event;
use tollbooth::billing::{service, Billing, LineKind, Settings};
use tollbooth::clock::{now_ms, to_rfc3339};
use tollbooth::db::Db;
use tollbooth::metering::{parse_batch, Sender};
use tollbooth::orgs::{OrgScope, Role};
use tollbooth::plans::{self, Metric, Period};
use tollbooth::quota::{rules::Ask, ReserveInput};
use tollbooth::{admission, ingest, test_both_engines, trials, Error};

use super::sign_up;

const DAY: i64 = 86_400_000;

fn owner(s: &tollbooth::accounts::Signup) -> OrgScope {
    OrgScope { org_id: s.org.id.clone(), user_id: s.user.id.clone(), role: Role::Owner }
}

fn by(s: &tollbooth::accounts::Signup) -> By {
    By::user(&s.user.id, &s.user.email)
}

async fn admin(db: &Db) -> UserView {
    tollbooth::accounts::create_admin(db, "root@example.com", Some(super::PASSWORD)).await.unwrap().user
}

async fn plan_of(db: &Db, org: &str) -> String {
    plans::org_plan(db, org).await.unwrap().plan_code
}

async fn actions(db: &Db, org: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT action FROM audit_log WHERE org_id = $1 AND action LIKE 'trial.%' ORDER BY seq").bind(org).fetch_all(db.reader()).await.unwrap()
}

async fn mail_subjects(db: &Db, org: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT subject FROM notifications WHERE org_id = $1 AND channel = 'email' ORDER BY created_at, subject")
        .bind(org)
        .fetch_all(db.reader())
        .await
        .unwrap()
}

fn ask(amount: i64) -> ReserveInput {
    ReserveInput { asks: vec![Ask { metric: Metric::Tokens, amount }], ..Default::default() }
}

fn billing() -> Billing {
    let plan_prices = [("pro", "price_pro"), ("team", "price_team")].map(|(a, b)| (a.to_string(), b.to_string())).into();
    Billing::new(None, None, Settings { plan_prices, grace_days: 7, ..Settings::default() })
}

fn event(id: &str, kind: &str, created_ms: i64, object: serde_json::Value) -> String {
    json!({"id": id, "object": "event", "type": kind, "created": created_ms / 1000, "data": {"object": object}}).to_string()
}

/// Checkout completed for `org` on Pro, then the subscription's own event.
async fn pay_for_pro(db: &Db, b: &Billing, org: &str, at: i64) {
    let session = json!({"id": "cs_sub", "object": "checkout.session", "mode": "subscription", "client_reference_id": org,
                         "customer": "cus_1", "subscription": "sub_1", "payment_status": "paid"});
    apply_stripe_event(db, b, &event("evt_cs", "checkout.session.completed", at, session), at).await.unwrap();
    let sub = json!({"id": "sub_1", "object": "subscription", "customer": "cus_1", "status": "active", "cancel_at_period_end": false,
                     "items": {"data": [{"price": {"id": "price_pro"}, "current_period_start": 1, "current_period_end": 2}]}});
    apply_stripe_event(db, b, &event("evt_created", "customer.subscription.created", at, sub), at).await.unwrap();
}

test_both_engines! {
    async fn an_owner_starts_the_pro_trial_once_and_its_limits_apply_unbilled(db) {
        let s = sign_up(db, "owner@example.com", "Acme").await;
        let now = now_ms();
        let offer = trials::offer(db, &s.org.id).await.unwrap().expect("Pro offers a trial");
        assert_eq!((offer.plan_code.as_str(), offer.days), ("pro", 14));
        // Only an owner starts it.
        let member = OrgScope { role: Role::Admin, ..owner(&s) };
        assert!(matches!(trials::start(db, &member, &by(&s), now).await, Err(Error::Forbidden(_))));

        let t = trials::start(db, &owner(&s), &by(&s), now).await.unwrap();
        assert_eq!((t.plan_code.as_str(), t.days_left, t.status.as_str(), t.source.as_str()), ("pro", 14, "active", "self_serve"));
        assert_eq!(t.ends_at, to_rfc3339(now + 14 * DAY));
        assert_eq!(plan_of(db, &s.org.id).await, "pro");
        // Pro's limits, but nothing beyond them is billed: the soft token limit is hard.
        let org = plans::org_plan(db, &s.org.id).await.unwrap();
        let tokens = org.limit(Metric::Tokens, Period::Month).unwrap();
        assert_eq!((tokens.value, tokens.hard, tokens.overage_nanos), (1_000_000, true, None));
        assert_eq!(org.limit(Metric::Members, Period::Total).unwrap().value, 5);
        let current = trials::current(db, &s.org.id, now + DAY).await.unwrap().unwrap();
        assert_eq!(current.days_left, 13);
        assert_eq!(trials::notice(db, &s.org.id, now + DAY).await.unwrap().unwrap().kind, "active");

        // A second start is refused, and no offer is shown any more.
        let Err(Error::Conflict { field, .. }) = trials::start(db, &owner(&s), &by(&s), now).await else { panic!("second start") };
        assert_eq!(field, "trial");
        assert!(trials::offer(db, &s.org.id).await.unwrap().is_none());

        // The billing run bills no Pro fee for the trial.
        service::run_due(db, &billing(), now).await.unwrap();
        let overview = service::overview(db, &billing(), &s.org.id, now).await.unwrap();
        assert!(overview.preview.lines.iter().all(|l| l.kind != LineKind::Base && l.kind != LineKind::ProrationCharge), "{:?}", overview.preview.lines);
        assert_eq!(overview.preview.total_cents, 0);
        assert_eq!(actions(db, &s.org.id).await, ["trial.start"]);

        // Canceled by the owner: back on Starter; once per organization still holds.
        trials::cancel(db, &s.org.id, Some(&owner(&s)), None, &by(&s), now + DAY).await.unwrap();
        assert_eq!(plan_of(db, &s.org.id).await, "starter");
        assert!(trials::current(db, &s.org.id, now + DAY).await.unwrap().is_none());
        assert!(matches!(trials::start(db, &owner(&s), &by(&s), now + DAY).await, Err(Error::Conflict { field: "trial", .. })));
        assert_eq!(actions(db, &s.org.id).await, ["trial.start", "trial.cancel"]);
    }

    async fn a_trial_that_expires_while_a_reservation_is_active(db) {
        let s = sign_up(db, "owner@example.com", "Acme").await;
        let now = now_ms();
        // Started 14 days ago less a minute: it ends in a minute.
        trials::start(db, &owner(&s), &by(&s), now - 14 * DAY + 60_000).await.unwrap();
        let sender = Sender { org_id: s.org.id.clone(), api_key_id: None };
        // 150,000 tokens: beyond Starter's 100,000 a month, within Pro's limits.
        let r = admission::reserve(db, &sender, ask(150_000)).await.expect("Pro's limit allows it");

        // Three days before the end: one mail, once.
        let pass = trials::run_due(db, now - 3 * DAY + 120_000).await.unwrap();
        assert_eq!(pass, trials::DuePass { warned: 1, expired: 0 });
        assert_eq!(trials::run_due(db, now - 3 * DAY + 180_000).await.unwrap(), trials::DuePass::default());
        assert_eq!(trials::notice(db, &s.org.id, now).await.unwrap().unwrap().kind, "ending");

        // The billing task passes the end: Starter again.
        service::run_due(db, &billing(), now + 120_000).await.unwrap();
        assert_eq!(plan_of(db, &s.org.id).await, "starter");
        assert_eq!(actions(db, &s.org.id).await, ["trial.start", "trial.expire"]);
        let subjects = mail_subjects(db, &s.org.id).await;
        assert_eq!(subjects.len(), 2, "{subjects:?}");
        assert!(subjects.iter().any(|m| m.contains("trial ends in 3 days")), "{subjects:?}");
        assert!(subjects.iter().any(|m| m.contains("trial has ended")), "{subjects:?}");
        let n = trials::notice(db, &s.org.id, now + 120_000).await.unwrap().unwrap();
        assert_eq!((n.kind.as_str(), n.now_on.as_str()), ("expired", "Starter"));
        assert!(trials::notice(db, &s.org.id, now + 8 * DAY).await.unwrap().is_none(), "the notice shows for a week");

        // The reservation made under Pro still commits what was used ...
        let events = parse_batch(&[json!({"model": "no-such-model", "input_tokens": 100_000, "output_tokens": 20_000, "timestamp": to_rfc3339(now_ms())})], now_ms());
        let done = ingest::commit_reservation(db, &sender, &r.reservation_id, events).await.unwrap();
        assert!(done.recorded);
        assert_eq!(done.reservation.state, "committed");
        // ... and Starter's limit refuses anything more.
        assert!(matches!(admission::reserve(db, &sender, ask(1)).await, Err(Error::LimitReached(_))));
        // Expiry ran once.
        assert_eq!(trials::run_due(db, now + 180_000).await.unwrap(), trials::DuePass::default());
    }

    async fn projects_made_during_a_trial_stay_after_it_and_block_new_ones(db) {
        let s = sign_up(db, "owner@example.com", "Acme").await;
        let now = now_ms();
        trials::start(db, &owner(&s), &by(&s), now).await.unwrap();
        // Five projects: Pro allows 15, Starter 3.
        for name in ["One", "Two", "Three", "Four", "Five"] {
            tollbooth::projects::create(db, &owner(&s), name, "").await.unwrap();
        }
        trials::run_due(db, now + 15 * DAY).await.unwrap();
        assert_eq!(plan_of(db, &s.org.id).await, "starter");
        // Kept, as after a downgrade; a sixth is refused by Starter's limit.
        assert_eq!(tollbooth::projects::list(db, &owner(&s)).await.unwrap().len(), 5);
        assert!(matches!(tollbooth::projects::create(db, &owner(&s), "Six", "").await, Err(Error::LimitReached(_))));
    }

    async fn converting_on_the_last_day_bills_from_then_and_never_expires(db) {
        let s = sign_up(db, "owner@example.com", "Acme").await;
        let now = now_ms();
        let b = billing();
        // The last day: half a day left.
        trials::start(db, &owner(&s), &by(&s), now - 14 * DAY + DAY / 2).await.unwrap();
        pay_for_pro(db, &b, &s.org.id, now).await;
        assert_eq!(plan_of(db, &s.org.id).await, "pro");
        let t = trials::latest(db, &s.org.id, now).await.unwrap().unwrap();
        assert_eq!((t.status.as_str(), t.converted_plan.as_deref()), ("converted", Some("pro")));
        assert_eq!(actions(db, &s.org.id).await, ["trial.start", "trial.convert"]);
        // Pro's soft limit is back, with its overage price.
        assert_eq!(plans::org_plan(db, &s.org.id).await.unwrap().limit(Metric::Tokens, Period::Month).unwrap().overage_nanos, Some(2000));
        // Billed once, from now: the rest of the period as an upgrade from
        // Starter (no credit for the never-paid trial, no base fee).
        let overview = service::overview(db, &b, &s.org.id, now).await.unwrap();
        let kinds: Vec<_> = overview.preview.lines.iter().map(|l| l.kind).collect();
        assert_eq!(kinds, [LineKind::ProrationCharge], "{:?}", overview.preview.lines);
        // A replayed Checkout event changes nothing.
        pay_for_pro(db, &b, &s.org.id, now).await;
        assert_eq!(service::overview(db, &b, &s.org.id, now).await.unwrap().preview.lines.len(), 1);
        // The end passes: nothing expires, Pro stays.
        assert_eq!(trials::run_due(db, now + DAY).await.unwrap(), trials::DuePass::default());
        assert_eq!(plan_of(db, &s.org.id).await, "pro");
        assert_eq!(actions(db, &s.org.id).await, ["trial.start", "trial.convert"]);
    }

    async fn a_platform_admin_starts_any_trial_extends_it_with_a_reason_and_sees_the_figures(db) {
        let s = sign_up(db, "owner@example.com", "Acme").await;
        let root = admin(db).await;
        let rb = By::user(&root.id, &root.email);
        let now = now_ms();
        assert!(matches!(trials::start_for(db, &s.user, &s.org.id, "team", "30", &by(&s), now).await, Err(Error::Forbidden(_))));
        assert_eq!(trials::start_for(db, &root, &s.org.id, "team", "0", &rb, now).await.unwrap_err().field(), Some("days"));
        assert_eq!(trials::start_for(db, &root, &s.org.id, "starter", "30", &rb, now).await.unwrap_err().field(), Some("plan"));
        let t = trials::start_for(db, &root, &s.org.id, "team", "3", &rb, now).await.unwrap();
        assert_eq!((t.plan_code.as_str(), t.source.as_str(), t.days_left), ("team", "admin", 3));
        assert_eq!(plan_of(db, &s.org.id).await, "team");

        assert_eq!(trials::extend(db, &root, &s.org.id, "5", "  ", &rb, now).await.unwrap_err().field(), Some("reason"));
        let t = trials::extend(db, &root, &s.org.id, "5", "sales call on Friday", &rb, now).await.unwrap();
        assert_eq!((t.days_left, t.ends_at.clone()), (8, to_rfc3339(now + 8 * DAY)));
        let details: String = sqlx::query_scalar("SELECT details FROM audit_log WHERE org_id = $1 AND action = 'trial.extend'").bind(&s.org.id).fetch_one(db.reader()).await.unwrap();
        assert!(details.contains("sales call on Friday"), "{details}");

        // The dashboard: one active trial ending within 7 days? Not yet (8 days).
        let stats = trials::stats(db, now, 12).await.unwrap();
        assert_eq!((stats.active, stats.ending_soon.len()), (1, 0));
        let stats = trials::stats(db, now + 2 * DAY, 12).await.unwrap();
        assert_eq!(stats.ending_soon.len(), 1);
        assert_eq!((stats.ending_soon[0].org_name.as_str(), stats.ending_soon[0].plan_name.as_str()), ("Acme", "Team"));

        // A second organization's trial expires: 0 of 1 ended converted.
        let other = sign_up(db, "other@example.com", "Other").await;
        trials::start_for(db, &root, &other.org.id, "pro", "1", &rb, now).await.unwrap();
        assert_eq!(trials::run_due(db, now + DAY + 1).await.unwrap().expired, 1);
        let stats = trials::stats(db, now + DAY + 1, 12).await.unwrap();
        let month: i64 = stats.months.iter().map(|m| m.started).sum();
        assert_eq!(month, 2);
        assert_eq!(stats.months.iter().map(|m| m.expired).sum::<i64>(), 1);
        assert_eq!(stats.conversion_rate.as_deref(), Some("0.0%"));

        // The admin cancels Acme's; the self-serve offer is gone for good.
        trials::cancel(db, &s.org.id, None, Some(&root), &rb, now).await.unwrap();
        assert_eq!(plan_of(db, &s.org.id).await, "starter");
        assert!(trials::offer(db, &s.org.id).await.unwrap().is_none());
        assert_eq!(actions(db, &s.org.id).await, ["trial.start", "trial.extend", "trial.cancel"]);
        // Another organization's owner cannot cancel it.
        trials::start_for(db, &root, &s.org.id, "pro", "10", &rb, now).await.unwrap();
        assert!(matches!(trials::cancel(db, &s.org.id, Some(&owner(&other)), None, &by(&other), now).await, Err(Error::Forbidden(_))));
    }

    async fn a_stripe_trialing_subscription_shows_as_a_trial_and_bills_nothing_yet(db) {
        let s = sign_up(db, "owner@example.com", "Acme").await;
        let now = now_ms();
        let b = billing();
        let ends_secs = (now + 7 * DAY) / 1000;
        let session = json!({"id": "cs_sub", "object": "checkout.session", "mode": "subscription", "client_reference_id": s.org.id,
                             "customer": "cus_1", "subscription": "sub_1", "payment_status": "no_payment_required"});
        apply_stripe_event(db, &b, &event("evt_cs", "checkout.session.completed", now, session), now).await.unwrap();
        let sub = json!({"id": "sub_1", "object": "subscription", "customer": "cus_1", "status": "trialing", "cancel_at_period_end": false,
                         "items": {"data": [{"price": {"id": "price_pro"}, "current_period_start": now / 1000, "current_period_end": ends_secs}]}});
        apply_stripe_event(db, &b, &event("evt_created", "customer.subscription.created", now, sub), now).await.unwrap();
        assert_eq!(plan_of(db, &s.org.id).await, "pro");
        let t = trials::current(db, &s.org.id, now).await.unwrap().expect("shown as a trial");
        assert_eq!((t.source.as_str(), t.plan_code.as_str(), t.days_left), ("stripe", "pro", 7));
        assert_eq!(t.ends_at, to_rfc3339(ends_secs * 1000));
        assert_eq!(trials::notice(db, &s.org.id, now).await.unwrap().unwrap().kind, "active");
        // No proration while Stripe says trialing.
        let overview = service::overview(db, &b, &s.org.id, now).await.unwrap();
        assert!(overview.preview.lines.is_empty(), "{:?}", overview.preview.lines);
        // Neither a self-serve trial nor the task touches it.
        assert!(trials::offer(db, &s.org.id).await.unwrap().is_none());
        assert_eq!(trials::run_due(db, now + 8 * DAY).await.unwrap(), trials::DuePass::default());
    }
}
