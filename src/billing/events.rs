//! Stripe's webhook events: verified by the caller, stored by id (a replay
//! is acknowledged and not applied again), then applied by type in the same
//! transaction as the event row.
//!
//! Subscription events may arrive out of order. With Stripe configured the
//! subscription is retrieved before applying, so what is applied is Stripe's
//! latest state; either way a state older (by Stripe's `created`) than the
//! one applied last is ignored.

use serde_json::Value;
use sqlx::AnyConnection;

use super::store::{self, Account};
use super::stripe::SubscriptionState;
use super::{status_keeps_plan, Billing};
use crate::audit;
use crate::db::{Db, Engine};
use crate::ids::is_valid_id;
use crate::plans::{self, DEFAULT_PLAN};
use crate::calendar::zone;
use crate::{Error, Result};

/// What became of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Applied(String),
    /// Understood, nothing to do (a type not handled, an older state).
    Ignored(String),
    /// Could not be applied (stored with the reason; Stripe is not asked to retry).
    Failed(String),
    /// Its id was seen before: acknowledged, not applied again.
    Replayed,
}

impl Outcome {
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Applied(_) => "applied",
            Outcome::Ignored(_) => "ignored",
            Outcome::Failed(_) => "failed",
            Outcome::Replayed => "replayed",
        }
    }

    pub fn detail(&self) -> &str {
        match self {
            Outcome::Applied(d) | Outcome::Ignored(d) | Outcome::Failed(d) => d,
            Outcome::Replayed => "seen before",
        }
    }
}

/// The parts of an event Tollbooth reads.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: String,
    pub kind: String,
    pub created_ms: i64,
    pub object: Value,
}

/// Reads an event body; names what is missing.
pub fn parse(body: &str) -> Result<Event> {
    let v: Value = serde_json::from_str(body).map_err(|e| Error::invalid("body", format!("is not a JSON event: {e}")))?;
    let id = v["id"].as_str().filter(|s| s.starts_with("evt_")).ok_or_else(|| Error::invalid("id", "an event id (evt_…) is required"))?;
    let kind = v["type"].as_str().filter(|s| !s.is_empty()).ok_or_else(|| Error::invalid("type", "is required"))?;
    let created = v["created"].as_i64().ok_or_else(|| Error::invalid("created", "must be a unix timestamp"))?;
    let object = v["data"]["object"].clone();
    if !object.is_object() {
        return Err(Error::invalid("data.object", "is required"));
    }
    Ok(Event { id: id.to_string(), kind: kind.to_string(), created_ms: created * 1000, object })
}

/// A subscription object as Stripe sends it (period from the first item in
/// API versions that moved it there).
pub fn subscription_of(o: &Value) -> Option<SubscriptionState> {
    let item = &o["items"]["data"][0];
    let period = |k: &str| o[k].as_i64().or_else(|| item[k].as_i64()).unwrap_or(0);
    Some(SubscriptionState {
        id: o["id"].as_str()?.to_string(),
        customer_id: o["customer"].as_str().unwrap_or_default().to_string(),
        status: o["status"].as_str().unwrap_or_default().to_string(),
        price_id: item["price"]["id"].as_str().or_else(|| o["plan"]["id"].as_str()).map(str::to_string),
        current_period_start: period("current_period_start"),
        current_period_end: period("current_period_end"),
        cancel_at_period_end: o["cancel_at_period_end"].as_bool().unwrap_or(false),
    })
}

/// Verifies nothing (the caller did), stores the event and applies it.
/// Returns the outcome and whether limits changed (a plan moved).
pub async fn apply_stripe_event(db: &Db, billing: &Billing, body: &str, now: i64) -> Result<(Outcome, Option<String>)> {
    let event = parse(body)?;
    {
        let mut conn = db.reader().acquire().await?;
        if store::event_seen(&mut conn, &event.id).await? {
            return Ok((Outcome::Replayed, None));
        }
    }
    // Stripe's latest state of the subscription, fetched before the
    // transaction (no network call while holding the write lock).
    let sub_id = match event.kind.as_str() {
        k if k.starts_with("customer.subscription.") => event.object["id"].as_str().map(str::to_string),
        "checkout.session.completed" => event.object["subscription"].as_str().map(str::to_string),
        _ => None,
    };
    let fresh = match (billing.stripe(), &sub_id) {
        (Some(stripe), Some(id)) => Some(stripe.retrieve_subscription(id).await?),
        _ => None,
    };
    let mut tx = db.begin().await?;
    if !store::insert_event(&mut tx, &event.id, &event.kind, event.created_ms, body, now).await? {
        return Ok((Outcome::Replayed, None));
    }
    let (org, outcome) = apply(&mut tx, db.engine, billing, &event, fresh, now).await?;
    store::set_event_outcome(&mut tx, &event.id, org.as_deref(), outcome.name(), outcome.detail()).await?;
    let result = if matches!(outcome, Outcome::Failed(_)) { audit::Outcome::Failure } else { audit::Outcome::Success };
    let entry = audit::NewEntry::new(org.as_deref(), audit::Actor::system("stripe"), "billing.webhook", Some(&event.id))
        .result(result)
        .details(serde_json::json!({"type": event.kind, "outcome": outcome.name(), "detail": outcome.detail()}));
    audit::record_in(&mut tx, db.engine, &entry).await?;
    tx.commit().await?;
    crate::quota::limits_changed(db);
    Ok((outcome, org))
}

async fn apply(conn: &mut AnyConnection, engine: Engine, billing: &Billing, e: &Event, fresh: Option<SubscriptionState>, now: i64) -> Result<(Option<String>, Outcome)> {
    let o = &e.object;
    let customer = o["customer"].as_str();
    match e.kind.as_str() {
        "checkout.session.completed" => {
            let Some(org) = org_of(conn, o["client_reference_id"].as_str(), customer).await? else {
                return Ok((None, Outcome::Failed("no organization for this session (client_reference_id, customer)".into())));
            };
            if let Some(c) = customer {
                store::set_customer(conn, &org, c, now).await?;
            }
            let outcome = match o["mode"].as_str() {
                Some("subscription") => match fresh {
                    Some(state) => apply_subscription(conn, engine, billing, &org, &state, now, now).await?,
                    None => {
                        // Without the API the session only links the subscription;
                        // its own events carry the state.
                        let mut acc = store::lock_account(conn, engine, &org, now).await?;
                        if acc.subscription_id.is_none() {
                            acc.subscription_id = o["subscription"].as_str().map(str::to_string);
                            store::save_subscription(conn, &org, &acc, now).await?;
                        }
                        Outcome::Applied("subscription linked".into())
                    }
                },
                Some("payment") => credit_purchase(conn, &org, o, now).await?,
                other => Outcome::Ignored(format!("checkout mode {other:?} is not used by Tollbooth")),
            };
            Ok((Some(org), outcome))
        }
        k if k.starts_with("customer.subscription.") => {
            let Some(org) = org_of(conn, None, customer).await? else {
                return Ok((None, Outcome::Failed(format!("no organization has Stripe customer {}", customer.unwrap_or("(none)")))));
            };
            let (state, at) = match fresh {
                Some(s) => (s, now),
                None => match subscription_of(o) {
                    Some(mut s) => {
                        if k == "customer.subscription.deleted" {
                            s.status = "canceled".into();
                        }
                        (s, e.created_ms)
                    }
                    None => return Ok((Some(org), Outcome::Failed("the subscription object has no id".into()))),
                },
            };
            Ok((Some(org.clone()), apply_subscription(conn, engine, billing, &org, &state, at, now).await?))
        }
        "invoice.paid" | "invoice.payment_failed" => {
            let Some(org) = org_of(conn, None, customer).await? else {
                return Ok((None, Outcome::Ignored("not a customer of Tollbooth".into())));
            };
            let mut acc = store::lock_account(conn, engine, &org, now).await?;
            let outcome = if e.kind == "invoice.paid" {
                let was = acc.grace_until.is_some();
                acc.payment_failed_at = None;
                acc.grace_until = None;
                Outcome::Applied(if was { "payment received; grace period ended".into() } else { "paid".into() })
            } else {
                acc.payment_failed_at.get_or_insert(now);
                let until = *acc.grace_until.get_or_insert(now + billing.grace_days * 86_400_000);
                Outcome::Applied(format!("payment failed; grace period until {}", crate::clock::to_rfc3339(until)))
            };
            store::save_subscription(conn, &org, &acc, now).await?;
            Ok((Some(org), outcome))
        }
        other => Ok((None, Outcome::Ignored(format!("{other} is not handled")))),
    }
}

/// The organization an event is about: the Checkout session's reference,
/// else the customer's.
async fn org_of(conn: &mut AnyConnection, reference: Option<&str>, customer: Option<&str>) -> Result<Option<String>> {
    if let Some(r) = reference.filter(|r| is_valid_id(r)) {
        if crate::orgs::store::exists(&mut *conn, r).await? {
            return Ok(Some(r.to_string()));
        }
    }
    match customer {
        Some(c) => store::org_of_customer(conn, c).await,
        None => Ok(None),
    }
}

/// The currency credit packs are priced in.
pub const PACK_CURRENCY: &str = "usd";

/// Whether a Checkout session collected exactly the pack's price in the
/// pack's currency: both `currency` and `amount_total` must be there and
/// match (a session in another currency, or for another amount, could
/// otherwise buy a pack for less).
fn paid_the_pack(o: &Value, price_cents: i64) -> std::result::Result<(), String> {
    match o["currency"].as_str() {
        Some(c) if c.eq_ignore_ascii_case(PACK_CURRENCY) => {}
        Some(c) => return Err(format!("paid in {c:?}, not in the pack's currency {PACK_CURRENCY:?}")),
        None => return Err("the payment session has no currency".into()),
    }
    match o["amount_total"].as_i64() {
        Some(total) if total == price_cents => Ok(()),
        Some(total) => Err(format!("amount paid {total} cents does not match the pack's {price_cents} cents")),
        None => Err("the payment session has no amount_total".into()),
    }
}

/// A paid credit pack: credited once per session, for the pack's credit,
/// only if Stripe collected the pack's price in the pack's currency.
async fn credit_purchase(conn: &mut AnyConnection, org: &str, o: &Value, now: i64) -> Result<Outcome> {
    let session = o["id"].as_str().unwrap_or_default();
    let Some(code) = o["metadata"]["pack"].as_str() else {
        return Ok(Outcome::Failed("the payment session names no credit pack (metadata.pack)".into()));
    };
    let Some(pack) = store::packs(conn).await?.into_iter().find(|p| p.code == code) else {
        return Ok(Outcome::Failed(format!("no credit pack {code:?}")));
    };
    if o["payment_status"].as_str() != Some("paid") {
        return Ok(Outcome::Ignored(format!("payment status {:?}", o["payment_status"].as_str().unwrap_or(""))));
    }
    if let Err(reason) = paid_the_pack(o, pack.price_cents) {
        return Ok(Outcome::Failed(reason));
    }
    Ok(if super::credits::purchase(conn, org, &pack, session, now).await? {
        Outcome::Applied(format!("credited {}", pack.name))
    } else {
        Outcome::Ignored("this session was credited before".into())
    })
}

/// Applies a subscription state seen at `at` (ms): the account's fields, and
/// the plan its price and status put the organization on.
pub(crate) async fn apply_subscription(
    conn: &mut AnyConnection,
    engine: Engine,
    billing: &Billing,
    org_id: &str,
    s: &SubscriptionState,
    at: i64,
    now: i64,
) -> Result<Outcome> {
    let mut acc: Account = store::lock_account(conn, engine, org_id, now).await?;
    let same = acc.subscription_id.as_deref() == Some(s.id.as_str());
    if same && acc.subscription_state_at.is_some_and(|t| t > at) {
        return Ok(Outcome::Ignored("older than the subscription state applied".into()));
    }
    // Past due keeps the plan during the grace period only: once the grace
    // period has been enforced (failed, no longer in grace), it does not.
    let grace_over = s.status == "past_due" && acc.payment_failed_at.is_some() && acc.grace_until.is_none();
    let keeps = status_keeps_plan(&s.status) && !grace_over;
    if !same && acc.subscription_id.is_some() && !keeps && acc.subscription_status.as_deref().is_some_and(status_keeps_plan) {
        return Ok(Outcome::Ignored(format!("subscription {} is not the organization's current one", s.id)));
    }
    if !s.customer_id.is_empty() && acc.customer_id.is_none() {
        acc.customer_id = Some(s.customer_id.clone());
    }
    acc.subscription_id = Some(s.id.clone());
    acc.subscription_status = Some(s.status.clone());
    acc.subscription_price_id = s.price_id.clone();
    acc.current_period_end = (s.current_period_end > 0).then_some(s.current_period_end * 1000);
    acc.cancel_at_period_end = s.cancel_at_period_end;
    acc.subscription_state_at = Some(acc.subscription_state_at.map_or(at, |t| t.max(at)));
    let org = plans::store::org_plan(conn, org_id).await?;
    let target = if keeps {
        match &s.price_id {
            Some(p) => match billing.plan_for_price(conn, p).await? {
                Some(code) => code,
                None => {
                    store::save_subscription(conn, org_id, &acc, now).await?;
                    return Ok(Outcome::Failed(format!("no plan is billed by Stripe price {p}")));
                }
            },
            None => org.plan_code.clone(),
        }
    } else {
        acc.pending_plan_code = None;
        DEFAULT_PLAN.to_string()
    };
    if acc.pending_plan_code.as_deref() == Some(target.as_str()) {
        acc.pending_plan_code = None;
    }
    store::save_subscription(conn, org_id, &acc, now).await?;
    if keeps {
        // Paying during a trial converts it: the paid plan starts now,
        // billed as an upgrade from the plan paid for before the trial
        // (the trial itself was never billed, so nothing is charged twice).
        if let Some(trial) = crate::trials::convert_in(conn, engine, org_id, &target, now).await? {
            let from = plans::store::plans(conn, Some(&trial.previous_plan_code)).await?.pop().ok_or(Error::NotFound("plan"))?;
            let to = plans::store::plans(conn, Some(&target)).await?.pop().ok_or_else(|| Error::invalid("plan", format!("no plan {target:?}")))?;
            super::invoices::record_plan_change(conn, org_id, zone(&org.time_zone), &from, &to, now).await?;
            if target != org.plan_code {
                plans::assign_plan(conn, org_id, &target).await?;
                let entry = audit::NewEntry::new(Some(org_id), audit::Actor::system("stripe"), "plan.change", Some(&target))
                    .details(serde_json::json!({"from": org.plan_code, "to": target, "by": "trial conversion"}));
                audit::record_in(conn, engine, &entry).await?;
            }
            return Ok(Outcome::Applied(format!("subscription {} {}; {} trial converted to {}", s.id, s.status, trial.plan_code, target)));
        }
    }
    if target == org.plan_code {
        return Ok(Outcome::Applied(format!("subscription {} {}; plan unchanged", s.id, s.status)));
    }
    if s.status == "trialing" {
        // A trial kept by Stripe (an operator's Stripe-side trial): the plan
        // applies as for Tollbooth's own trials, billing nothing; Stripe
        // charges the subscription when its trial ends.
        move_plan_unbilled(conn, engine, &org, &target, &org.plan_code, "stripe trial", now).await?;
    } else {
        move_plan(conn, engine, &org, &target, "stripe", now).await?;
    }
    Ok(Outcome::Applied(format!("subscription {} {}; plan {} → {}", s.id, s.status, org.plan_code, target)))
}

/// Moves the organization to `target`, recording the change on the period's
/// invoice (proration for an upgrade).
pub(crate) async fn move_plan(conn: &mut AnyConnection, engine: Engine, org: &plans::OrgPlan, target: &str, why: &str, now: i64) -> Result<()> {
    let from = plans::store::plans(conn, Some(&org.plan_code)).await?.pop().ok_or(Error::NotFound("plan"))?;
    let to = plans::store::plans(conn, Some(target)).await?.pop().ok_or_else(|| Error::invalid("plan", format!("no plan {target:?}")))?;
    super::invoices::record_plan_change(conn, &org.org_id, zone(&org.time_zone), &from, &to, now).await?;
    plans::assign_plan(conn, &org.org_id, target).await?;
    let entry = audit::NewEntry::new(Some(&org.org_id), audit::Actor::system(why), "plan.change", Some(target))
        .details(serde_json::json!({"from": from.code, "to": to.code}));
    audit::record_in(conn, engine, &entry).await
}

/// Moves the organization to `target` billing nothing (a trial starting or
/// ending): the period's draft, if this creates it, remembers `paid_code`,
/// the plan actually paid for, so a trial adds no fee and no proration.
pub(crate) async fn move_plan_unbilled(conn: &mut AnyConnection, engine: Engine, org: &plans::OrgPlan, target: &str, paid_code: &str, why: &str, now: i64) -> Result<()> {
    super::invoices::ensure_draft(conn, &org.org_id, zone(&org.time_zone), paid_code, now).await?;
    plans::assign_plan(conn, &org.org_id, target).await?;
    let entry = audit::NewEntry::new(Some(&org.org_id), audit::Actor::system(why), "plan.change", Some(target))
        .details(serde_json::json!({"from": org.plan_code, "to": target}));
    audit::record_in(conn, engine, &entry).await
}

/// The organization's Stripe subscription status and period end (ms), if any.
pub(crate) async fn subscription_status(conn: &mut AnyConnection, org_id: &str) -> Result<(Option<String>, Option<i64>)> {
    let acc = store::account(conn, org_id).await?;
    Ok((acc.subscription_status, acc.current_period_end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_name_what_they_lack() {
        assert_eq!(parse("nope").unwrap_err().field(), Some("body"));
        assert_eq!(parse(r#"{"type":"x","created":1,"data":{"object":{}}}"#).unwrap_err().field(), Some("id"));
        assert_eq!(parse(r#"{"id":"evt_1","created":1,"data":{"object":{}}}"#).unwrap_err().field(), Some("type"));
        assert_eq!(parse(r#"{"id":"evt_1","type":"x","data":{"object":{}}}"#).unwrap_err().field(), Some("created"));
        assert_eq!(parse(r#"{"id":"evt_1","type":"x","created":1}"#).unwrap_err().field(), Some("data.object"));
        let e = parse(r#"{"id":"evt_1","type":"x","created":2,"data":{"object":{"id":"sub_1"}}}"#).unwrap();
        assert_eq!((e.created_ms, e.object["id"].as_str()), (2000, Some("sub_1")));
    }

    #[test]
    fn a_pack_is_paid_only_in_its_currency_and_amount() {
        let ok = serde_json::json!({"currency": "usd", "amount_total": 1000});
        assert_eq!(paid_the_pack(&ok, 1000), Ok(()));
        assert_eq!(paid_the_pack(&serde_json::json!({"currency": "USD", "amount_total": 1000}), 1000), Ok(()));
        for bad in [
            serde_json::json!({"currency": "jpy", "amount_total": 1000}),
            serde_json::json!({"amount_total": 1000}),
            serde_json::json!({"currency": "usd"}),
            serde_json::json!({"currency": "usd", "amount_total": 999}),
        ] {
            assert!(paid_the_pack(&bad, 1000).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_subscription_reads_its_period_from_the_item_when_the_api_moved_it() {
        let o = serde_json::json!({
            "id": "sub_1", "customer": "cus_1", "status": "active", "cancel_at_period_end": false,
            "items": {"data": [{"price": {"id": "price_pro"}, "current_period_start": 10, "current_period_end": 20}]}
        });
        let s = subscription_of(&o).unwrap();
        assert_eq!((s.price_id.as_deref(), s.current_period_start, s.current_period_end), (Some("price_pro"), 10, 20));
    }
}
