use serde_json::{json, Value};
use tollbooth::accounts::UserView;
use tollbooth::billing::events::{apply_stripe_event, Outcome};
use tollbooth::billing::{credits, invoices, service, Billing, LineKind, Settings};
use tollbooth::db::Db;
use tollbooth::ingest::record_usage;
use tollbooth::metering::{parse_batch, Sender};
use tollbooth::plans;
use tollbooth::test_both_engines;

use super::sign_up;

const USD: i64 = 1_000_000_000;
const DAY: i64 = 86_400_000;

fn ms(rfc: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc).unwrap().timestamp_millis()
}

/// Billing with the plans' Stripe prices and no Stripe client: events are
/// applied from their own payloads.
fn billing() -> Billing {
    let plan_prices = [("pro", "price_pro"), ("team", "price_team")].map(|(a, b)| (a.to_string(), b.to_string())).into();
    Billing::new(None, None, Settings { plan_prices, grace_days: 7, ..Settings::default() })
}

fn event(id: &str, kind: &str, created_ms: i64, object: Value) -> String {
    json!({"id": id, "object": "event", "type": kind, "created": created_ms / 1000, "data": {"object": object}}).to_string()
}

fn subscription(price: &str, status: &str) -> Value {
    json!({"id": "sub_1", "object": "subscription", "customer": "cus_1", "status": status, "cancel_at_period_end": false,
           "items": {"data": [{"price": {"id": price}, "current_period_start": 1, "current_period_end": 2}]}})
}

async fn apply(db: &Db, b: &Billing, body: &str, now: i64) -> Outcome {
    apply_stripe_event(db, b, body, now).await.expect("event applied").0
}

async fn plan_of(db: &Db, org: &str) -> String {
    plans::org_plan(db, org).await.unwrap().plan_code
}

/// The Checkout session that made `org` a Stripe customer with subscription sub_1.
async fn subscribe(db: &Db, b: &Billing, org: &str, at: i64) {
    let session = json!({"id": "cs_sub", "object": "checkout.session", "mode": "subscription", "client_reference_id": org,
                         "customer": "cus_1", "subscription": "sub_1", "payment_status": "paid"});
    assert!(matches!(apply(db, b, &event("evt_cs", "checkout.session.completed", at, session), at).await, Outcome::Applied(_)));
    let created = event("evt_created", "customer.subscription.created", at, subscription("price_pro", "active"));
    assert!(matches!(apply(db, b, &created, at).await, Outcome::Applied(_)));
}

fn pack_session(id: &str, org: &str, pack: &str, paid_cents: i64) -> Value {
    json!({"id": id, "object": "checkout.session", "mode": "payment", "client_reference_id": org, "customer": "cus_1",
           "payment_status": "paid", "currency": "usd", "amount_total": paid_cents, "metadata": {"pack": pack, "org_id": org}})
}

/// What the store kept of an event: its outcome and detail.
async fn stored_outcome(db: &Db, id: &str) -> (String, String) {
    let row: (String, String) = sqlx::query_as("SELECT outcome, detail FROM stripe_events WHERE id = $1").bind(id).fetch_one(db.reader()).await.unwrap();
    row
}

fn admin() -> UserView {
    UserView { id: "0190aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee".into(), email: "root@example.com".into(), is_platform_admin: true }
}

test_both_engines! {
    async fn a_replayed_event_is_acknowledged_and_not_applied_twice(db) {
        let s = sign_up(db, "a@example.com", "A").await;
        let b = billing();
        let now = ms("2026-11-10T00:00:00Z");
        let body = event("evt_pack", "checkout.session.completed", now, pack_session("cs_1", &s.org.id, "credits-10", 1000));
        assert_eq!(apply(db, &b, &body, now).await, Outcome::Applied("credited $10 credits".into()));
        assert_eq!(apply(db, &b, &body, now).await, Outcome::Replayed);
        // The same session in another event (Stripe resends with a new id) credits nothing more.
        let again = event("evt_pack2", "checkout.session.completed", now, pack_session("cs_1", &s.org.id, "credits-10", 1000));
        assert!(matches!(apply(db, &b, &again, now).await, Outcome::Ignored(_)));
        assert_eq!(credits::balance(db, &s.org.id).await.unwrap(), 10 * USD);
        // A session that paid less than the pack's price credits nothing.
        let short = event("evt_short", "checkout.session.completed", now, pack_session("cs_2", &s.org.id, "credits-50", 100));
        assert!(matches!(apply(db, &b, &short, now).await, Outcome::Failed(m) if m.contains("does not match")));
        // The $50 pack grants its 5% bonus.
        let fifty = event("evt_50", "checkout.session.completed", now, pack_session("cs_3", &s.org.id, "credits-50", 5000));
        apply(db, &b, &fifty, now).await;
        assert_eq!(credits::balance(db, &s.org.id).await.unwrap(), 62 * USD + USD / 2);
    }

    async fn a_credit_pack_is_credited_only_for_its_price_in_its_currency(db) {
        let s = sign_up(db, "a@example.com", "A").await;
        let b = billing();
        let now = ms("2026-11-10T00:00:00Z");
        let mut yen = pack_session("cs_yen", &s.org.id, "credits-10", 1000);
        yen["currency"] = json!("jpy");
        let mut no_currency = pack_session("cs_nocur", &s.org.id, "credits-10", 1000);
        no_currency.as_object_mut().unwrap().remove("currency");
        let mut no_total = pack_session("cs_nototal", &s.org.id, "credits-10", 1000);
        no_total.as_object_mut().unwrap().remove("amount_total");
        let cases = [("evt_yen", yen, "not in the pack's currency"), ("evt_nocur", no_currency, "no currency"), ("evt_nototal", no_total, "no amount_total")];
        for (id, session, why) in cases {
            let body = event(id, "checkout.session.completed", now, session);
            assert!(matches!(apply(db, &b, &body, now).await, Outcome::Failed(m) if m.contains(why)), "{id}");
            let (outcome, detail) = stored_outcome(db, id).await;
            assert_eq!(outcome, "failed", "{id}");
            assert!(detail.contains(why), "{id}: {detail}");
        }
        assert_eq!(credits::balance(db, &s.org.id).await.unwrap(), 0, "nothing credited");
        // The same pack paid in dollars, in full, is credited.
        let good = event("evt_ok", "checkout.session.completed", now, pack_session("cs_ok", &s.org.id, "credits-10", 1000));
        assert!(matches!(apply(db, &b, &good, now).await, Outcome::Applied(_)));
        assert_eq!(credits::balance(db, &s.org.id).await.unwrap(), 10 * USD);
    }

    async fn subscription_events_out_of_order_converge_to_the_latest_state(db) {
        let s = sign_up(db, "a@example.com", "A").await;
        let b = billing();
        let t0 = ms("2026-11-10T00:00:00Z");
        subscribe(db, &b, &s.org.id, t0).await;
        assert_eq!(plan_of(db, &s.org.id).await, "pro", "the signed webhook moved the organization");
        // Team at t0+2s, then a Pro state from t0+1s arriving late: Team stays.
        let team = event("evt_u2", "customer.subscription.updated", t0 + 2000, subscription("price_team", "active"));
        let late = event("evt_u1", "customer.subscription.updated", t0 + 1000, subscription("price_pro", "active"));
        apply(db, &b, &team, t0 + 3000).await;
        assert_eq!(apply(db, &b, &late, t0 + 4000).await, Outcome::Ignored("older than the subscription state applied".into()));
        assert_eq!(plan_of(db, &s.org.id).await, "team");
        // An unknown price changes nothing and says why.
        let odd = event("evt_u3", "customer.subscription.updated", t0 + 5000, subscription("price_other", "active"));
        assert_eq!(apply(db, &b, &odd, t0 + 5000).await, Outcome::Failed("no plan is billed by Stripe price price_other".into()));
        assert_eq!(plan_of(db, &s.org.id).await, "team");
        // Deleted: back to Starter; an older "active" arriving after it does not revive the plan.
        let deleted = event("evt_d", "customer.subscription.deleted", t0 + 9000, subscription("price_team", "canceled"));
        apply(db, &b, &deleted, t0 + 9000).await;
        let stale = event("evt_u4", "customer.subscription.updated", t0 + 6000, subscription("price_team", "active"));
        apply(db, &b, &stale, t0 + 9500).await;
        assert_eq!(plan_of(db, &s.org.id).await, "starter");
        // Each move is in the audit log, by Stripe.
        let f = tollbooth::audit::AuditFilter { action: "plan.change".into(), ..Default::default() };
        let moves: Vec<String> = tollbooth::audit::list(db, Some(&s.org.id), &f, "UTC", 10).await.unwrap().into_iter().map(|e| format!("{} {}", e.actor_label, e.target.unwrap_or_default())).collect();
        assert_eq!(moves, vec!["stripe starter", "stripe team", "stripe pro"]);
    }

    async fn an_upgrade_mid_period_is_prorated_and_the_closed_invoice_totals_its_lines(db) {
        let s = sign_up(db, "a@example.com", "A").await;
        let b = billing();
        // Upgrade to Pro ($29) at the start of 10 November (UTC): 21 of 30 days left.
        let t0 = ms("2026-11-10T00:00:00Z");
        subscribe(db, &b, &s.org.id, t0).await;
        // 1.5M tokens in November: 0.5M beyond Pro's 1M included at $2 per 1M = $1.00.
        let sender = Sender { org_id: s.org.id.clone(), api_key_id: None };
        let batch: Vec<Value> = (0..3)
            .map(|i| json!({"id": format!("e{i}"), "model": "unpriced-model", "input_tokens": 500_000, "timestamp": "2026-11-20T00:00:00Z"}))
            .collect();
        record_usage(db, &sender, parse_batch(&batch, ms("2026-11-20T00:00:01Z"))).await.unwrap();
        // $10 of credits pay the usage part.
        let pack = event("evt_p", "checkout.session.completed", t0, pack_session("cs_p", &s.org.id, "credits-10", 1000));
        apply(db, &b, &pack, t0).await;

        let org = plans::org_plan(db, &s.org.id).await.unwrap();
        let mut conn = db.reader().acquire().await.unwrap();
        let preview = invoices::preview(&mut conn, &b, &org, ms("2026-11-25T00:00:00Z")).await.unwrap();
        drop(conn);
        let lines: Vec<(LineKind, i64)> = preview.lines.iter().map(|l| (l.kind, l.amount_cents)).collect();
        assert_eq!(lines, vec![(LineKind::ProrationCharge, 2030), (LineKind::Overage, 100), (LineKind::CreditsApplied, -100)]);
        assert_eq!(preview.total_cents, 2030);

        service::run_due(db, &b, ms("2026-12-01T00:01:00Z")).await.unwrap();
        let closed = invoices::list(db, &s.org.id).await.unwrap();
        assert_eq!(closed.len(), 1, "November closed; December is a draft");
        let inv = &closed[0];
        assert_eq!((inv.period_label.as_str(), inv.plan_code.as_str(), inv.status.as_str()), ("November 2026", "starter", "final"));
        assert_eq!(inv.total_cents, inv.lines.iter().map(|l| l.amount_cents).sum::<i64>());
        assert_eq!(inv.total_cents, 2030);
        let overage = inv.lines.iter().find(|l| l.kind == LineKind::Overage).unwrap();
        assert_eq!((overage.quantity, overage.unit_price_nanos, overage.amount_cents), (Some(500_000), Some(2_000), 100));
        assert_eq!(credits::balance(db, &s.org.id).await.unwrap(), 9 * USD, "the invoice drew $1.00");
        // Closing again changes nothing; the CSV ends with the total.
        service::run_due(db, &b, ms("2026-12-01T00:02:00Z")).await.unwrap();
        assert_eq!(credits::balance(db, &s.org.id).await.unwrap(), 9 * USD);
        assert!(invoices::csv(inv).trim_end().ends_with("total,Total,,,20.30"), "{}", invoices::csv(inv));
        // Another organization cannot read it.
        let other = sign_up(db, "b@example.com", "B").await;
        assert!(invoices::get(db, &other.org.id, &inv.id).await.is_err());

        // December's invoice begins on Pro: its base fee is the full $29.
        service::run_due(db, &b, ms("2027-01-01T00:01:00Z")).await.unwrap();
        let dec = invoices::list(db, &s.org.id).await.unwrap().remove(0);
        assert_eq!((dec.period_label.as_str(), dec.total_cents), ("December 2026", 2900));
        assert_eq!(dec.lines[0].kind, LineKind::Base);
    }

    async fn a_failed_payment_gives_a_grace_period_then_starter(db) {
        let s = sign_up(db, "a@example.com", "A").await;
        let b = billing();
        let t0 = ms("2026-11-10T00:00:00Z");
        subscribe(db, &b, &s.org.id, t0).await;
        let invoice = |id: &str| json!({"id": id, "object": "invoice", "customer": "cus_1", "subscription": "sub_1"});
        apply(db, &b, &event("evt_f1", "invoice.payment_failed", t0, invoice("in_1")), t0).await;
        let o = service::overview(db, &b, &s.org.id, t0).await.unwrap();
        assert_eq!(o.grace_until.as_deref(), Some("2026-11-17T00:00:00Z"));
        assert_eq!(service::enforce_grace(db, &b, t0 + 6 * DAY).await.unwrap(), 0);
        // Paid within the grace period: nothing happens later.
        apply(db, &b, &event("evt_p1", "invoice.paid", t0 + DAY, invoice("in_1")), t0 + DAY).await;
        assert_eq!(service::enforce_grace(db, &b, t0 + 8 * DAY).await.unwrap(), 0);
        assert_eq!(plan_of(db, &s.org.id).await, "pro");
        // Failed again and not paid: Starter after 7 days.
        let t1 = t0 + 10 * DAY;
        apply(db, &b, &event("evt_f2", "invoice.payment_failed", t1, invoice("in_2")), t1).await;
        assert_eq!(service::enforce_grace(db, &b, t1 + 7 * DAY - 1).await.unwrap(), 0);
        assert_eq!(service::enforce_grace(db, &b, t1 + 7 * DAY).await.unwrap(), 1);
        assert_eq!(plan_of(db, &s.org.id).await, "starter");
        // Stripe's "past due" state arriving afterwards does not bring Pro back.
        let past_due = event("evt_pd", "customer.subscription.updated", t1 + 8 * DAY, subscription("price_pro", "past_due"));
        apply(db, &b, &past_due, t1 + 8 * DAY).await;
        assert_eq!(plan_of(db, &s.org.id).await, "starter");
        assert!(service::overview(db, &b, &s.org.id, t1 + 8 * DAY).await.unwrap().grace_until.is_none());
    }

    async fn the_credit_balance_is_the_sum_of_its_entries_and_never_passes_the_floor(db) {
        let s = sign_up(db, "a@example.com", "A").await;
        let b = billing();
        let t0 = ms("2026-01-10T00:00:00Z");
        // $10 on 10 January, $10 more 200 days later; each valid for 365 days.
        for (evt, cs, at) in [("evt_a", "cs_a", t0), ("evt_b", "cs_b", t0 + 200 * DAY)] {
            apply(db, &b, &event(evt, "checkout.session.completed", at, pack_session(cs, &s.org.id, "credits-10", 1000)), at).await;
        }
        let e = credits::adjust(db, &admin(), &s.org.id, "-25", "refund of a double charge", 0, Default::default()).await.unwrap_err();
        assert_eq!(e.field(), Some("amount"));
        assert!(e.to_string().contains("below the floor"), "{e}");
        let member = UserView { is_platform_admin: false, ..admin() };
        assert!(credits::adjust(db, &member, &s.org.id, "5", "x", 0, Default::default()).await.is_err());
        assert_eq!(credits::adjust(db, &admin(), &s.org.id, "5", " ", 0, Default::default()).await.unwrap_err().field(), Some("reason"));
        let adj = credits::adjust(db, &admin(), &s.org.id, "-12.5", "goodwill reversed", 0, Default::default()).await.unwrap();
        assert_eq!((adj.kind.as_str(), adj.amount_nanos), ("adjustment", -12 * USD - USD / 2));
        // $20 bought, $12.50 removed. The oldest credit is spent first: when
        // the first purchase expires nothing of it is left; when the second
        // does, its $7.50.
        let mut conn = db.reader().acquire().await.unwrap();
        let entries = credits::entries(&mut conn, &s.org.id, 50).await.unwrap();
        drop(conn);
        let sum: i64 = entries.iter().map(|e| e.amount_nanos).sum();
        assert_eq!(sum, credits::balance(db, &s.org.id).await.unwrap());
        assert_eq!(credits::expire_due(db, t0 + 366 * DAY).await.unwrap(), 1);
        assert_eq!(credits::balance(db, &s.org.id).await.unwrap(), 7 * USD + USD / 2);
        assert_eq!(credits::expire_due(db, t0 + 367 * DAY).await.unwrap(), 0, "each purchase expires once");
        assert_eq!(credits::expire_due(db, t0 + 566 * DAY).await.unwrap(), 1);
        assert_eq!(credits::balance(db, &s.org.id).await.unwrap(), 0);
        let mut conn = db.reader().acquire().await.unwrap();
        let kinds: Vec<(String, i64)> = credits::entries(&mut conn, &s.org.id, 50).await.unwrap().into_iter().map(|e| (e.kind, e.amount_nanos)).collect();
        assert_eq!(kinds[0], ("expiry".to_string(), -7 * USD - USD / 2));
        assert_eq!(kinds[1], ("expiry".to_string(), 0));
    }
}
