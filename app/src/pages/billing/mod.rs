//! Billing (`/o/:org/billing`): the plan and its period, usage against what
//! the plan includes, the next invoice as it stands, the plans to move to,
//! prepaid credits and past invoices; and one invoice's printable page
//! (`/o/:org/invoices/:id`).
//!
//! Every member reads it; owners and admins act on it. The plan and the
//! credit balance change only when Stripe's signed webhook arrives: after a
//! Checkout the page says so and looks again every second for a while.

mod credits;
mod invoice;
mod plans;
mod trial;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use tollbooth::billing::{status_keeps_plan, BillingOverview, IncludedUsage};

use crate::api::billing::{
    billing_overview, BillingBuyCredits, BillingCancelChange, BillingChangePlan, BillingCheckout, BillingPortal,
    BillingPreviewChange,
};
use crate::api::usage::spend_projection;
use crate::components::format::{date_label, day_month, usd_exact_of, usd_of};
use crate::components::Usd;
use crate::components::layout::{use_org, use_org_id};
use crate::components::{action_error, Loaded};
use crate::data::{data, Data};
use crate::erase::Erase;
use crate::pages::go_on_success;
use crate::pages::plans::overage_label;

pub use invoice::InvoicePage;

/// How often, and how many times, the page looks again after a Checkout.
const POLL_MS: u64 = 1_000;
const POLL_TRIES: u32 = 10;

/// What the page waits for after coming back from Stripe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Awaited {
    /// `?checkout=success`: the subscription's webhook.
    Plan,
    /// `?credits=success`: the purchase's webhook (the balance grows).
    Credits,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wait {
    Waiting,
    Confirmed,
    TimedOut,
}

/// How recent a purchase entry must be to count as the one just paid for
/// (the webhook often arrives before the browser is sent back).
const RECENT_PURCHASE_MS: f64 = 10.0 * 60_000.0;

/// Whether Stripe's confirmation has arrived, judged from an overview: an
/// active subscription; or a balance above the one first shown, or a
/// purchase in the last minutes.
fn confirmed(awaited: Awaited, o: &BillingOverview, balance_before: i64) -> bool {
    match awaited {
        Awaited::Plan => o.subscription.as_ref().is_some_and(|s| status_keeps_plan(&s.status)),
        Awaited::Credits => {
            o.credit_balance_nanos > balance_before
                || o.credit_entries.first().is_some_and(|e| e.kind == "purchase" && just_now(&e.created_at))
        }
    }
}

/// Whether an RFC 3339 time is within the last few minutes (browser clock).
#[cfg(feature = "hydrate")]
fn just_now(rfc3339: &str) -> bool {
    let t = js_sys::Date::parse(rfc3339);
    !t.is_nan() && (js_sys::Date::now() - t).abs() < RECENT_PURCHASE_MS
}

#[cfg(not(feature = "hydrate"))]
fn just_now(_: &str) -> bool {
    let _ = RECENT_PURCHASE_MS;
    false
}

/// The actions of the page, made once so a refresh of the overview keeps
/// their state (an open plan-change preview, an error).
#[derive(Clone, Copy)]
pub(crate) struct Actions {
    pub checkout: ServerAction<BillingCheckout>,
    pub preview: ServerAction<BillingPreviewChange>,
    pub change: ServerAction<BillingChangePlan>,
    pub keep: ServerAction<BillingCancelChange>,
    pub portal: ServerAction<BillingPortal>,
    pub buy: ServerAction<BillingBuyCredits>,
}

#[component]
pub fn BillingPage() -> impl IntoView {
    let org_id = use_org_id();
    let can_manage = use_org().role.can_manage();
    let actions = Actions {
        checkout: ServerAction::new(),
        preview: ServerAction::new(),
        change: ServerAction::new(),
        keep: ServerAction::new(),
        portal: ServerAction::new(),
        buy: ServerAction::new(),
    };
    // Stripe's pages: Checkout (plans, credits) and the Customer Portal.
    go_on_success(actions.checkout.value());
    go_on_success(actions.portal.value());
    go_on_success(actions.buy.value());
    // A confirmed change closes its preview.
    Effect::new(move |_| {
        if let Some(Ok(_)) = actions.change.value().get() {
            actions.preview.value().set(None);
        }
    });
    let refresh = RwSignal::new(0u64);
    let overview = data(
        move || (org_id.get(), refresh.get(), actions.change.version().get(), actions.keep.version().get()),
        |(org, ..)| billing_overview(org),
    );
    let awaited = use_query_map().with_untracked(|q| {
        if q.get("checkout").as_deref() == Some("success") {
            Some(Awaited::Plan)
        } else if q.get("credits").as_deref() == Some("success") {
            Some(Awaited::Credits)
        } else {
            None
        }
    });
    let wait = RwSignal::new(Wait::Waiting);
    if let Some(awaited) = awaited {
        watch_for_webhook(awaited, overview, refresh, wait);
    }
    view! {
        <Title text="Billing · Tollbooth" />
        <h1>"Billing"</h1>
        {awaited.map(|a| view! { <ReturnNotice awaited=a wait /> })}
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let result = overview.await;
                view! {
                    <Loaded result ok=move |value| match value {
                        o => view! { <Overview o can_manage actions /> }.erase(),
                    } />
                }
                .erase()
            })}
        </Transition>
    }
}

/// After a Checkout: looks again every second, up to ten times, until the
/// webhook's effect shows; then refreshes the page's overview. In the
/// browser only (effects do not run on the server).
fn watch_for_webhook(
    awaited: Awaited,
    overview: Data<Result<BillingOverview, crate::error::AppError>>,
    refresh: RwSignal<u64>,
    wait: RwSignal<Wait>,
) {
    let started = StoredValue::new(false);
    Effect::new(move |_| {
        let Some(Ok(first)) = overview.get() else { return };
        if started.get_value() {
            return;
        }
        started.set_value(true);
        // The balance as the page first showed it: a purchase raises it.
        let before = first.credit_balance_nanos;
        if confirmed(awaited, &first, before) {
            wait.set(Wait::Confirmed);
            return;
        }
        poll(first.org_id.clone(), awaited, before, POLL_TRIES, refresh, wait);
    });
}

fn poll(org_id: String, awaited: Awaited, before: i64, tries: u32, refresh: RwSignal<u64>, wait: RwSignal<Wait>) {
    set_timeout(
        move || {
            leptos::task::spawn_local(async move {
                let seen = billing_overview(org_id.clone()).await.is_ok_and(|o| confirmed(awaited, &o, before));
                if seen {
                    wait.set(Wait::Confirmed);
                    refresh.update(|n| *n += 1);
                } else if tries <= 1 {
                    wait.set(Wait::TimedOut);
                } else {
                    poll(org_id, awaited, before, tries - 1, refresh, wait);
                }
            });
        },
        std::time::Duration::from_millis(POLL_MS),
    );
}

/// What the page says after Stripe sent the browser back.
#[component]
fn ReturnNotice(awaited: Awaited, wait: RwSignal<Wait>) -> impl IntoView {
    move || {
        let (class, text) = match (awaited, wait.get()) {
            (Awaited::Plan, Wait::Waiting) => ("notice info", "Payment received — your plan changes as soon as Stripe confirms it."),
            (Awaited::Plan, Wait::Confirmed) => ("notice success", "Stripe confirmed the payment: your new plan is active."),
            (Awaited::Plan, Wait::TimedOut) => (
                "notice info",
                "Stripe has not confirmed a payment yet. Reload this page in a minute; if you left the checkout without paying, nothing changed.",
            ),
            (Awaited::Credits, Wait::Waiting) => ("notice info", "Payment received — your credits appear as soon as Stripe confirms it."),
            (Awaited::Credits, Wait::Confirmed) => ("notice success", "Stripe confirmed the payment: your credits were added."),
            (Awaited::Credits, Wait::TimedOut) => (
                "notice info",
                "Stripe has not confirmed a credit purchase yet. Reload this page in a minute; if you left the checkout without paying, nothing changed.",
            ),
        };
        view! { <p class=class role="status" data-testid="return-notice">{text}</p> }
    }
}

/// "November 2026, ends 1 Dec".
pub fn period_text(o: &BillingOverview) -> String {
    format!("{}, ends {}", o.period_label, day_month(&o.period_end))
}

#[component]
fn Overview(o: BillingOverview, can_manage: bool, actions: Actions) -> AnyView {
    let org_id = o.org_id.clone();
    let configured = o.payments_configured;
    let act = can_manage && configured;
    view! {
        {(!configured).then(|| view! {
            <p class="notice info" role="status" data-testid="payments-off">
                "Payments are not configured on this server; a platform admin can change your plan."
            </p>
        })}
        <CurrentPlan o=o.clone() act actions />
        <trial::TrialCard org_id=o.org_id.clone() is_owner=use_org().role == tollbooth::orgs::Role::Owner act actions />
        <section class="card">
            <h2>"Usage this period"</h2>
            <UsageTable usage=o.usage.clone() />
        </section>
        <SpendProjection org_id=o.org_id.clone() />
        <invoice::NextInvoice preview=o.preview.clone() balance_nanos=o.credit_balance_nanos />
        <plans::PlanChoices o=o.clone() act can_manage actions />
        <credits::Credits o=o.clone() act actions />
        <invoice::InvoiceList org_id invoices=o.invoices.clone() />
    }
    .erase()
}

/// This calendar month's spend projected to its end, with the method.
#[component]
fn SpendProjection(org_id: String) -> impl IntoView {
    let projection = data(move || org_id.clone(), spend_projection);
    view! {
        <Transition>
            {move || Suspend::new(async move {
                projection.await.ok().map(|p| view! {
                    <section class="card" data-testid="spend-projection">
                        <h2>"Projected month-end spend"</h2>
                        <p><strong class="value" title=usd_exact_of(p.projected)>{usd_of(p.projected)}</strong>
                           " at the end of this calendar month (" <Usd amount=p.month_to_date /> " so far)."</p>
                        <p class="muted hint">"Method: " {p.method.clone()} " (" <Usd amount=p.daily_average /> " a day)."</p>
                    </section>
                })
            })}
        </Transition>
    }
}

#[component]
fn CurrentPlan(o: BillingOverview, act: bool, actions: Actions) -> AnyView {
    let org_id = o.org_id.clone();
    let portal_org = org_id.clone();
    let subscription = o.subscription.clone().map(|s| {
        let renews = s.renews_at.as_deref().map(date_label);
        view! {
            <p data-testid="subscription">
                "Subscription: " <strong>{s.status.replace('_', " ")}</strong>
                {match (s.cancel_at_period_end, renews) {
                    (true, _) => view! { " · " <span class="badge danger">"cancels at period end"</span> }.erase(),
                    (false, Some(r)) => view! { " · renews " {r} }.erase(),
                    (false, None) => ().erase(),
                }}
            </p>
        }
    });
    let pending = o.pending_plan.clone().map(|(_, name, when)| {
        let org = org_id.clone();
        view! {
            <div class="notice warn" data-testid="pending-change">
                <p>"Your plan changes to " <strong>{name}</strong> " on " {date_label(&when)} "."</p>
                {act.then(|| view! {
                    <button type="button" class="small"
                        disabled=move || actions.keep.pending().get()
                        on:click=move |_| { actions.keep.dispatch(BillingCancelChange { org_id: org.clone() }); }>
                        "Keep my plan"
                    </button>
                })}
            </div>
        }
    });
    view! {
        <section class="card" data-testid="current-plan">
            <div class="section-head">
                <h2>"Current plan"</h2>
                {(act && o.has_customer).then(|| view! {
                    <button type="button" class="secondary"
                        disabled=move || actions.portal.pending().get()
                        on:click=move |_| { actions.portal.dispatch(BillingPortal { org_id: portal_org.clone() }); }>
                        "Manage billing"
                    </button>
                })}
            </div>
            <p class="plan-now">
                <strong class="plan-title" data-testid="plan-name">{o.plan_name.clone()}</strong>
                " · " <span data-testid="plan-price">{o.plan_price_label.clone()}</span>
            </p>
            <p>"Billing period: " <span data-testid="billing-period">{period_text(&o)}</span></p>
            {subscription}
            {pending}
            {o.grace_until.clone().map(|until| view! {
                <p class="error" role="alert">
                    "The last payment failed. Update your payment method by " {date_label(&until)}
                    " or this organization moves to Starter."
                </p>
            })}
            {action_error(actions.keep.value())}
            {action_error(actions.portal.value())}
        </section>
    }
    .erase()
}

/// What the plan does beyond an included amount.
fn beyond(u: &IncludedUsage) -> String {
    match (u.hard, u.overage_nanos) {
        (true, _) => "Refused (hard limit)".to_string(),
        (false, Some(n)) => format!("Billed at {}", overage_label(u.metric, n)),
        (false, None) => "Allowed, not billed".to_string(),
    }
}

#[component]
fn UsageTable(usage: Vec<IncludedUsage>) -> impl IntoView {
    if usage.is_empty() {
        return view! { <p class="empty">"Your plan sets no monthly limits."</p> }.erase();
    }
    view! {
        <table class="table" data-testid="billing-usage">
            <thead><tr><th>"Metric"</th><th class="num">"Used"</th><th class="num">"Included"</th><th>"Beyond the included amount"</th></tr></thead>
            <tbody>
                {usage.into_iter().map(|u| {
                    let over = u.used > u.included;
                    view! {
                        <tr data-metric=u.metric.as_str()>
                            <td>{u.metric.label()}</td>
                            <td class="num" class:over=over>{crate::pages::usage::limits::amount(u.metric, u.used)}</td>
                            <td class="num">{crate::pages::usage::limits::amount(u.metric, u.included)}</td>
                            <td>{beyond(&u)}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .erase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollbooth::plans::Metric;

    #[test]
    fn beyond_the_limit_says_refused_or_the_price() {
        let u = IncludedUsage { metric: Metric::Tokens, used: 5, included: 10, hard: false, overage_nanos: Some(2_000) };
        assert_eq!(beyond(&u), "Billed at $2.00 per 1M tokens");
        assert_eq!(beyond(&IncludedUsage { hard: true, ..u.clone() }), "Refused (hard limit)");
        assert_eq!(beyond(&IncludedUsage { overage_nanos: None, ..u }), "Allowed, not billed");
    }
}
