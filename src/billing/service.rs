//! The billing services: what the billing page shows, Checkout upgrades and
//! credit purchases, the Customer Portal, plan changes (upgrades now with
//! proration, downgrades at the period's end), and the periodic work
//! (closing periods, dunning, credit expiry).
//!
//! Stripe subscriptions are anchored at the start of the organization's next
//! billing period with Stripe's own proration off: Tollbooth's invoice is
//! the one place proration is computed, and its lines reach Stripe as
//! invoice items.

use std::collections::BTreeMap;
use std::sync::Arc;

use sqlx::AnyConnection;

use super::events::move_plan;
use super::store;
use super::stripe::{CheckoutMode, CheckoutRequest, Stripe};
use super::{invoices, BillingOverview, ChangePreview, IncludedUsage, PlanChoice, SubscriptionView};
use crate::db::Db;
use crate::orgs::{OrgScope, Role};
use crate::plans::{self, Metric, Period, PlanView, DEFAULT_PLAN, DEMO_PLAN};
use crate::calendar::{to_local_rfc3339, zone};
use crate::signature::SignatureError;
use crate::{Error, Result};

/// How far a `Stripe-Signature` timestamp may be from now.
pub const WEBHOOK_TOLERANCE_SECS: i64 = 300;

/// Billing's configuration and its Stripe client (absent: payments are not
/// configured; platform admins still move organizations by hand).
#[derive(Clone)]
pub struct Billing {
    stripe: Option<Arc<Stripe>>,
    webhook_secret: Option<Arc<str>>,
    /// Plan code → Stripe Price id from the environment (wins over the plan editor's).
    plan_prices: Arc<BTreeMap<String, String>>,
    /// Credit pack code → Stripe Price id from the environment.
    pack_prices: Arc<BTreeMap<String, String>>,
    /// Credits never go below this (nano-USD).
    pub credit_floor_nanos: i64,
    /// Days after a failed payment before the organization drops to Starter.
    pub grace_days: i64,
}

/// Billing's settings apart from Stripe's keys.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub plan_prices: BTreeMap<String, String>,
    pub pack_prices: BTreeMap<String, String>,
    pub credit_floor_nanos: i64,
    pub grace_days: i64,
}

impl std::fmt::Debug for Billing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Billing")
            .field("stripe", &self.stripe.is_some())
            .field("webhook_secret", &self.webhook_secret.as_ref().map(|_| "[redacted]"))
            .field("plan_prices", &self.plan_prices)
            .field("pack_prices", &self.pack_prices)
            .field("credit_floor_nanos", &self.credit_floor_nanos)
            .field("grace_days", &self.grace_days)
            .finish()
    }
}

impl Billing {
    /// No Stripe: the defaults (floor $0, 7 days of grace).
    pub fn disabled() -> Self {
        Billing::new(None, None, Settings { grace_days: 7, ..Settings::default() })
    }

    pub fn new(stripe: Option<Stripe>, webhook_secret: Option<String>, s: Settings) -> Self {
        Billing {
            stripe: stripe.map(Arc::new),
            webhook_secret: webhook_secret.map(Arc::from),
            plan_prices: Arc::new(s.plan_prices),
            pack_prices: Arc::new(s.pack_prices),
            credit_floor_nanos: s.credit_floor_nanos,
            grace_days: s.grace_days,
        }
    }

    /// A credit pack with the environment's Stripe Price applied.
    pub fn with_pack_price(&self, mut pack: super::CreditPackView) -> super::CreditPackView {
        if let Some(p) = self.pack_prices.get(&pack.code) {
            pack.stripe_price_id = Some(p.clone());
        }
        pack
    }

    pub fn stripe(&self) -> Option<&Stripe> {
        self.stripe.as_deref()
    }

    /// Whether payments through Stripe are possible.
    pub fn configured(&self) -> bool {
        self.stripe.is_some()
    }

    /// Checks a `Stripe-Signature` header against the webhook secret.
    pub fn verify_webhook(&self, header: Option<&str>, body: &str, now_secs: i64) -> std::result::Result<(), SignatureError> {
        let secret = self.webhook_secret.as_deref().ok_or(SignatureError::Mismatch)?;
        crate::signature::verify(secret, header.ok_or(SignatureError::Malformed)?, body, now_secs, WEBHOOK_TOLERANCE_SECS)
    }

    /// Whether a webhook secret is set (else the endpoint is closed).
    pub fn accepts_webhooks(&self) -> bool {
        self.webhook_secret.is_some()
    }

    /// The Stripe Price of a plan: the environment's, else the plan editor's.
    pub fn price_of(&self, plan: &PlanView) -> Option<String> {
        self.plan_prices.get(&plan.code).cloned().or_else(|| plan.stripe_price_id.clone())
    }

    /// The plan a Stripe Price bills.
    pub(crate) async fn plan_for_price(&self, conn: &mut AnyConnection, price: &str) -> Result<Option<String>> {
        if let Some((code, _)) = self.plan_prices.iter().find(|(_, p)| p.as_str() == price) {
            return Ok(Some(code.clone()));
        }
        crate::plans::store::code_of_stripe_price(conn, price).await
    }
}

/// Reads `STRIPE_PLAN_PRICES` / `STRIPE_CREDIT_PACK_PRICES`: `pro=price_123,team=price_456`.
pub fn parse_price_map(var: &'static str, text: &str) -> Result<BTreeMap<String, String>> {
    let mut map = BTreeMap::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (code, price) = pair.split_once('=').ok_or_else(|| Error::invalid(var, format!("{pair:?} is not code=price_id")))?;
        let code = plans::PlanCode::parse(code).map_err(|_| Error::invalid(var, format!("{code:?} is not a plan or pack code")))?;
        let price = plans::parse_stripe_price(price)
            .ok()
            .flatten()
            .ok_or_else(|| Error::invalid(var, format!("{pair:?} needs a Stripe Price id (price_…)")))?;
        map.insert(code.as_str().to_string(), price);
    }
    Ok(map)
}

fn not_configured() -> Error {
    Error::conflict("payments", "payments are not configured on this server; a platform admin can change your plan")
}

/// Everything the billing page shows.
pub async fn overview(db: &Db, billing: &Billing, org_id: &str, now: i64) -> Result<BillingOverview> {
    let org = plans::org_plan(db, org_id).await?;
    let tz = zone(&org.time_zone);
    let w = invoices::period(tz, now);
    let mut conn = db.reader().acquire().await?;
    let account = store::account(&mut conn, org_id).await?;
    let catalog = plans::store::plans(&mut conn, None).await?;
    let current = catalog.iter().find(|p| p.code == org.plan_code).cloned().ok_or(Error::NotFound("plan"))?;
    let used = crate::quota::store::counters::sum(&mut conn, org_id, w).await?;
    let usage = Metric::USAGE
        .iter()
        .filter_map(|m| {
            let l = org.limit(*m, Period::Month)?;
            Some(IncludedUsage { metric: *m, used: used[crate::quota::index(*m)?], included: l.value, hard: l.hard, overage_nanos: l.overage_nanos })
        })
        .collect();
    let preview = invoices::preview(&mut conn, billing, &org, now).await?;
    let balance = store::balance(&mut conn, org_id).await?;
    let entries = super::credits::entries(&mut conn, org_id, 20).await?;
    let packs = store::packs(&mut conn).await?.into_iter().filter(|p| p.active).map(|p| billing.with_pack_price(p)).collect();
    drop(conn);
    let invoices = invoices::list(db, org_id).await?;
    let plans = catalog
        .iter()
        .filter(|p| (p.is_public && p.archived_at.is_none()) || p.code == current.code)
        .map(|p| PlanChoice {
            code: p.code.clone(),
            name: p.name.clone(),
            description: p.description.clone(),
            monthly_price_nanos: p.monthly_price_nanos,
            price_label: p.price_label(),
            change: change_kind(&current, p).to_string(),
            purchasable: p.monthly_price_nanos == 0 || billing.price_of(p).is_some(),
        })
        .collect();
    let pending_plan = account.pending_plan_code.as_ref().map(|code| {
        let name = catalog.iter().find(|p| &p.code == code).map(|p| p.name.clone()).unwrap_or_else(|| code.clone());
        (code.clone(), name, to_local_rfc3339(tz, w.end_ms))
    });
    Ok(BillingOverview {
        org_id: org_id.to_string(),
        plan_code: current.code.clone(),
        plan_name: current.name.clone(),
        plan_price_label: current.price_label(),
        period_start: to_local_rfc3339(tz, w.start_ms),
        period_end: to_local_rfc3339(tz, w.end_ms),
        period_label: invoices::period_label(tz, w.start_ms),
        payments_configured: billing.configured(),
        has_customer: account.customer_id.is_some(),
        subscription: account.subscription_status.as_ref().map(|status| SubscriptionView {
            status: status.clone(),
            cancel_at_period_end: account.cancel_at_period_end,
            renews_at: account.current_period_end.map(|t| to_local_rfc3339(tz, t)),
        }),
        pending_plan,
        payment_failed_at: account.grace_until.and(account.payment_failed_at).map(|t| to_local_rfc3339(tz, t)),
        grace_until: account.grace_until.map(|t| to_local_rfc3339(tz, t)),
        usage,
        preview,
        invoices,
        credit_balance_nanos: balance,
        credit_floor_nanos: billing.credit_floor_nanos,
        credit_entries: entries,
        packs,
        plans,
    })
}

/// The end of the grace period after a failed payment (local RFC 3339 in
/// `time_zone`), if one is running: one read, for the banner every
/// organization page shows.
pub async fn grace_until(db: &Db, org_id: &str, time_zone: &str) -> Result<Option<String>> {
    let mut conn = db.reader().acquire().await?;
    let account = store::account(&mut conn, org_id).await?;
    Ok(account.grace_until.map(|t| to_local_rfc3339(zone(time_zone), t)))
}

fn change_kind(current: &PlanView, target: &PlanView) -> &'static str {
    if current.code == target.code {
        "current"
    } else if target.monthly_price_nanos > current.monthly_price_nanos {
        "upgrade"
    } else {
        "downgrade"
    }
}

/// The organization's Stripe customer, created once (with the org id in its
/// metadata) and reused.
async fn ensure_customer(db: &Db, stripe: &Stripe, org_id: &str, email: &str, now: i64) -> Result<String> {
    let (existing, name) = {
        let mut conn = db.reader().acquire().await?;
        let acc = store::account(&mut conn, org_id).await?;
        let name = crate::orgs::store::existing_name(&mut conn, org_id).await?;
        (acc.customer_id, name)
    };
    if let Some(c) = existing {
        return Ok(c);
    }
    let created = stripe.create_customer(org_id, &name, email).await?;
    let mut tx = db.begin().await?;
    // Two clicks at once: the first stored id wins and both use it.
    let stored = store::set_customer(&mut tx, org_id, &created, now).await?;
    tx.commit().await?;
    Ok(stored)
}

fn target_plan(catalog: &[PlanView], code: &str) -> Result<PlanView> {
    let code = code.trim();
    let p = catalog.iter().find(|p| p.code == code).cloned().ok_or_else(|| Error::invalid("plan", format!("there is no plan {code:?}")))?;
    if p.archived_at.is_some() || !p.is_public {
        return Err(Error::invalid("plan", format!("the {} plan is not offered", p.name)));
    }
    Ok(p)
}

/// Starts a Stripe Checkout for a subscription to `plan_code` (from a free
/// plan); returns the URL to send the browser to. The plan changes when
/// Stripe's signed webhook says the session completed, not on the redirect.
pub async fn start_checkout(db: &Db, billing: &Billing, scope: &OrgScope, email: &str, plan_code: &str, billing_url: &str, now: i64) -> Result<String> {
    scope.require(Role::Admin)?;
    let stripe = billing.stripe().ok_or_else(not_configured)?;
    let org = plans::org_plan(db, &scope.org_id).await?;
    let catalog = plans::list(db).await?;
    let current = catalog.iter().find(|p| p.code == org.plan_code).cloned().ok_or(Error::NotFound("plan"))?;
    let target = target_plan(&catalog, plan_code)?;
    if target.monthly_price_nanos == 0 {
        return Err(Error::invalid("plan", format!("the {} plan is free; choose it with Change plan", target.name)));
    }
    if current.code == DEMO_PLAN {
        return Err(Error::conflict("plan", "the demo organization is not billed"));
    }
    let account = {
        let mut conn = db.reader().acquire().await?;
        store::account(&mut conn, &scope.org_id).await?
    };
    if account.subscription_status.as_deref().is_some_and(super::status_keeps_plan) {
        return Err(Error::conflict("plan", "you have a subscription already; use Change plan"));
    }
    let price = billing
        .price_of(&target)
        .ok_or_else(|| Error::conflict("plan", format!("the {} plan has no Stripe price yet; a platform admin sets it in the plan editor", target.name)))?;
    let customer = ensure_customer(db, stripe, &scope.org_id, email, now).await?;
    let next_period = invoices::period(zone(&org.time_zone), now).end_ms;
    let session = stripe
        .create_checkout_session(&CheckoutRequest {
            mode: CheckoutMode::Subscription,
            customer_id: customer,
            client_reference_id: scope.org_id.clone(),
            price_id: price,
            quantity: 1,
            success_url: format!("{billing_url}?checkout=success&session_id={{CHECKOUT_SESSION_ID}}"),
            cancel_url: format!("{billing_url}?checkout=canceled"),
            metadata: vec![("org_id".into(), scope.org_id.clone()), ("plan".into(), target.code.clone())],
            billing_cycle_anchor: Some(next_period / 1000),
        })
        .await?;
    Ok(session.url)
}

/// Starts a Stripe Checkout (one payment) for a credit pack.
pub async fn buy_credits(db: &Db, billing: &Billing, scope: &OrgScope, email: &str, pack_code: &str, billing_url: &str, now: i64) -> Result<String> {
    scope.require(Role::Admin)?;
    let stripe = billing.stripe().ok_or_else(not_configured)?;
    let pack = super::credits::packs(db)
        .await?
        .into_iter()
        .find(|p| p.code == pack_code.trim() && p.active)
        .map(|p| billing.with_pack_price(p))
        .ok_or_else(|| Error::invalid("pack", format!("there is no credit pack {:?} on sale", pack_code.trim())))?;
    let price = pack.stripe_price_id.clone().ok_or_else(|| Error::conflict("pack", format!("{} has no Stripe price yet; a platform admin sets it", pack.name)))?;
    let customer = ensure_customer(db, stripe, &scope.org_id, email, now).await?;
    let session = stripe
        .create_checkout_session(&CheckoutRequest {
            mode: CheckoutMode::Payment,
            customer_id: customer,
            client_reference_id: scope.org_id.clone(),
            price_id: price,
            quantity: 1,
            success_url: format!("{billing_url}?credits=success&session_id={{CHECKOUT_SESSION_ID}}"),
            cancel_url: format!("{billing_url}?credits=canceled"),
            metadata: vec![("org_id".into(), scope.org_id.clone()), ("pack".into(), pack.code.clone())],
            billing_cycle_anchor: None,
        })
        .await?;
    Ok(session.url)
}

/// A Stripe Customer Portal session (payment methods, receipts, cancel).
pub async fn portal(db: &Db, billing: &Billing, scope: &OrgScope, billing_url: &str) -> Result<String> {
    scope.require(Role::Admin)?;
    let stripe = billing.stripe().ok_or_else(not_configured)?;
    let account = {
        let mut conn = db.reader().acquire().await?;
        store::account(&mut conn, &scope.org_id).await?
    };
    let customer = account.customer_id.ok_or_else(|| Error::conflict("customer", "there is nothing to manage yet: upgrade or buy credits first"))?;
    stripe.create_portal_session(&customer, billing_url).await
}

/// What changing to `plan_code` now would do.
pub async fn preview_change(db: &Db, billing: &Billing, org_id: &str, plan_code: &str, now: i64) -> Result<ChangePreview> {
    let org = plans::org_plan(db, org_id).await?;
    let tz = zone(&org.time_zone);
    let catalog = plans::list(db).await?;
    let current = catalog.iter().find(|p| p.code == org.plan_code).cloned().ok_or(Error::NotFound("plan"))?;
    let target = target_plan(&catalog, plan_code)?;
    if target.code == current.code {
        return Err(Error::invalid("plan", format!("you are on the {} plan already", current.name)));
    }
    let w = invoices::period(tz, now);
    let account = {
        let mut conn = db.reader().acquire().await?;
        store::account(&mut conn, org_id).await?
    };
    let subscribed = account.subscription_status.as_deref().is_some_and(super::status_keeps_plan);
    let upgrade = target.monthly_price_nanos > current.monthly_price_nanos;
    let lines = if upgrade { super::proration(current.monthly_price_nanos, target.monthly_price_nanos, w.start_ms, w.end_ms, now)?.into_iter().filter(|l| l.amount_cents != 0).collect() } else { Vec::new() };
    let _ = billing;
    Ok(ChangePreview {
        from_code: current.code.clone(),
        from_name: current.name.clone(),
        to_code: target.code.clone(),
        to_name: target.name.clone(),
        kind: if upgrade { "upgrade" } else { "downgrade" }.into(),
        net_cents: lines.iter().map(|l: &super::Line| l.amount_cents).sum(),
        lines,
        effective_at: to_local_rfc3339(tz, if upgrade { now } else { w.end_ms }),
        via_checkout: upgrade && !subscribed,
    })
}

/// Changes the plan of a subscribed organization: an upgrade now (Stripe's
/// subscription moves to the new price; the proration lines go on this
/// period's invoice), a downgrade when the period ends.
pub async fn change_plan(db: &Db, billing: &Billing, scope: &OrgScope, plan_code: &str, now: i64) -> Result<ChangePreview> {
    scope.require(Role::Admin)?;
    let stripe = billing.stripe().ok_or_else(not_configured)?;
    {
        // A trial is left by paying (Checkout) or ending it, never by a
        // scheduled change: that would bill the trial's plan at the period's end.
        let mut conn = db.reader().acquire().await?;
        if crate::trials::store::active(&mut conn, &scope.org_id).await?.is_some() {
            return Err(Error::conflict("plan", "this organization is on a trial: upgrade through Checkout, or end the trial to return to its previous plan"));
        }
    }
    let preview = preview_change(db, billing, &scope.org_id, plan_code, now).await?;
    if preview.via_checkout {
        return Err(Error::conflict("plan", "upgrading from a free plan goes through Checkout: use Upgrade"));
    }
    let account = {
        let mut conn = db.reader().acquire().await?;
        store::account(&mut conn, &scope.org_id).await?
    };
    let catalog = plans::list(db).await?;
    let target = target_plan(&catalog, plan_code)?;
    if preview.kind == "upgrade" {
        let sub = account.subscription_id.clone().ok_or_else(|| Error::conflict("plan", "no subscription to change"))?;
        let price = billing.price_of(&target).ok_or_else(|| Error::conflict("plan", format!("the {} plan has no Stripe price yet", target.name)))?;
        // Stripe's answer is its new state; applying it here (rather than
        // waiting for the webhook, which converges to the same) lets the
        // page show the new plan at once.
        let state = stripe.change_subscription_price(&sub, &price).await?;
        let mut tx = db.begin().await?;
        super::events::apply_subscription(&mut tx, db.engine, billing, &scope.org_id, &state, now, now).await?;
        tx.commit().await?;
        crate::quota::limits_changed(db);
    } else {
        if target.monthly_price_nanos == 0 {
            if let Some(sub) = &account.subscription_id {
                stripe.set_cancel_at_period_end(sub, true).await?;
            }
        }
        let mut tx = db.begin().await?;
        let mut acc = store::lock_account(&mut tx, db.engine, &scope.org_id, now).await?;
        acc.pending_plan_code = Some(target.code.clone());
        acc.cancel_at_period_end = target.monthly_price_nanos == 0 || acc.cancel_at_period_end;
        store::save_subscription(&mut tx, &scope.org_id, &acc, now).await?;
        tx.commit().await?;
    }
    Ok(preview)
}

/// Withdraws a downgrade that was waiting for the period's end.
pub async fn cancel_pending_change(db: &Db, billing: &Billing, scope: &OrgScope, now: i64) -> Result<()> {
    scope.require(Role::Admin)?;
    let account = {
        let mut conn = db.reader().acquire().await?;
        store::account(&mut conn, &scope.org_id).await?
    };
    if account.pending_plan_code.is_none() {
        return Err(Error::conflict("plan", "no plan change is waiting"));
    }
    if account.cancel_at_period_end {
        if let (Some(stripe), Some(sub)) = (billing.stripe(), &account.subscription_id) {
            stripe.set_cancel_at_period_end(sub, false).await?;
        }
    }
    let mut tx = db.begin().await?;
    let mut acc = store::lock_account(&mut tx, db.engine, &scope.org_id, now).await?;
    acc.pending_plan_code = None;
    acc.cancel_at_period_end = false;
    store::save_subscription(&mut tx, &scope.org_id, &acc, now).await?;
    tx.commit().await?;
    Ok(())
}

/// At a period's close: the waiting downgrade takes effect (Stripe's
/// subscription moves to the lower price; to a free plan it ends, as
/// scheduled with cancel at period end).
pub async fn apply_pending_change(db: &Db, billing: &Billing, org_id: &str, now: i64) -> Result<()> {
    let account = {
        let mut conn = db.reader().acquire().await?;
        store::account(&mut conn, org_id).await?
    };
    let Some(code) = account.pending_plan_code.clone() else { return Ok(()) };
    let target = plans::get(db, &code).await?;
    if target.monthly_price_nanos > 0 {
        if let (Some(stripe), Some(sub), Some(price)) = (billing.stripe(), &account.subscription_id, billing.price_of(&target)) {
            stripe.change_subscription_price(sub, &price).await?;
        }
    }
    let mut tx = db.begin().await?;
    let mut acc = store::lock_account(&mut tx, db.engine, org_id, now).await?;
    if acc.pending_plan_code.as_deref() == Some(code.as_str()) {
        let org = plans::store::org_plan(&mut tx, org_id).await?;
        if org.plan_code != code {
            move_plan(&mut tx, db.engine, &org, &code, "billing period end", now).await?;
        }
        acc.pending_plan_code = None;
        store::save_subscription(&mut tx, org_id, &acc, now).await?;
    }
    tx.commit().await?;
    crate::quota::limits_changed(db);
    Ok(())
}

/// Organizations whose grace period after a failed payment ended drop to
/// Starter; their Stripe subscription is canceled.
pub async fn enforce_grace(db: &Db, billing: &Billing, now: i64) -> Result<usize> {
    let due = {
        let mut conn = db.reader().acquire().await?;
        store::grace_expired(&mut conn, now).await?
    };
    let mut dropped = 0;
    for org_id in due {
        let mut tx = db.begin().await?;
        let mut acc = store::lock_account(&mut tx, db.engine, &org_id, now).await?;
        if !acc.grace_until.is_some_and(|t| t <= now) {
            continue;
        }
        let org = plans::store::org_plan(&mut tx, &org_id).await?;
        if org.plan_code != DEFAULT_PLAN && org.plan_code != DEMO_PLAN {
            move_plan(&mut tx, db.engine, &org, DEFAULT_PLAN, "dunning", now).await?;
        }
        acc.grace_until = None;
        acc.pending_plan_code = None;
        acc.subscription_status = Some("canceled".into());
        acc.subscription_state_at = Some(now);
        store::save_subscription(&mut tx, &org_id, &acc, now).await?;
        tx.commit().await?;
        dropped += 1;
        tracing::warn!(org_id, "grace period after a failed payment ended: moved to Starter");
        if let (Some(stripe), Some(sub)) = (billing.stripe(), &acc.subscription_id) {
            if let Err(e) = stripe.cancel_subscription(sub).await {
                tracing::error!(org_id, error = %e, "could not cancel the Stripe subscription after the grace period");
            }
        }
    }
    if dropped > 0 {
        crate::quota::limits_changed(db);
    }
    Ok(dropped)
}

/// The periodic billing work (every minute): periods closed into invoices,
/// lines sent to Stripe, trials warned and expired, grace periods
/// enforced, expired credit written off.
pub async fn run_due(db: &Db, billing: &Billing, now: i64) -> Result<()> {
    invoices::run_due(db, billing, now).await?;
    crate::trials::run_due(db, now).await?;
    enforce_grace(db, billing, now).await?;
    super::credits::expire_due(db, now).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_prices_from_the_environment_parse_or_name_the_bad_pair() {
        let m = parse_price_map("STRIPE_PLAN_PRICES", " pro=price_1, team=price_2 ,").unwrap();
        assert_eq!(m.get("pro").map(String::as_str), Some("price_1"));
        assert_eq!(m.len(), 2);
        assert!(parse_price_map("STRIPE_PLAN_PRICES", "").unwrap().is_empty());
        for bad in ["pro", "pro=", "Pro=price_1", "pro=prod_1"] {
            assert_eq!(parse_price_map("STRIPE_PLAN_PRICES", bad).unwrap_err().field(), Some("STRIPE_PLAN_PRICES"), "{bad}");
        }
    }

    #[test]
    fn a_webhook_without_a_secret_or_header_is_refused() {
        let b = Billing::disabled();
        assert_eq!(b.verify_webhook(Some("t=1,v1=00"), "{}", 1), Err(SignatureError::Mismatch));
        let b = Billing::new(None, Some("whsec_x".into()), Settings::default());
        assert_eq!(b.verify_webhook(None, "{}", 1), Err(SignatureError::Malformed));
        let h = crate::signature::header("whsec_x", 100, "{}");
        assert_eq!(b.verify_webhook(Some(&h), "{}", 150), Ok(()));
        assert!(!format!("{b:?}").contains("whsec_x"), "the secret never prints");
    }
}
