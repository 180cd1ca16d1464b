//! The billing page's trial card: the trial running and its end, with the
//! way to pay now (Checkout) or cancel; or, for an owner on a free plan,
//! "Start a 14-day Pro trial".

use leptos::prelude::*;

use super::Actions;
use crate::api::billing::BillingCheckout;
use crate::api::trials::{trial_panel, CancelTrial, StartTrial, TrialState};
use crate::components::format::date_label;
use crate::components::{action_error, Loaded};
use crate::data::data;
use crate::erase::Erase;
use crate::pages::go_to;

/// Loads the trial panel and shows it (nothing when there is nothing to say).
#[component]
pub fn TrialCard(org_id: String, is_owner: bool, act: bool, actions: Actions) -> impl IntoView {
    let start = ServerAction::<StartTrial>::new();
    let cancel = ServerAction::<CancelTrial>::new();
    // The plan changes with a trial: every page (banner, limits) reloads.
    let billing = format!("/o/{org_id}/billing");
    let again = billing.clone();
    Effect::new(move |_| {
        if let Some(Ok(_)) = start.value().get() {
            go_to(&billing);
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(_)) = cancel.value().get() {
            go_to(&again);
        }
    });
    let panel = data(move || org_id.clone(), trial_panel);
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let result = panel.await;
                view! { <Loaded result ok=move |p| view! { <Panel p is_owner act actions start cancel /> }.erase() /> }.erase()
            })}
        </Transition>
    }
}

#[component]
fn Panel(
    p: TrialState,
    is_owner: bool,
    act: bool,
    actions: Actions,
    start: ServerAction<StartTrial>,
    cancel: ServerAction<CancelTrial>,
) -> AnyView {
    if let Some(t) = p.current {
        let org = t.org_id.clone();
        let org_cancel = t.org_id.clone();
        let plan = t.plan_code.clone();
        let stripe = t.source == "stripe";
        return view! {
            <section class="card" data-testid="trial-card">
                <h2>{format!("{} trial", t.plan_name)}</h2>
                <p>
                    "Ends " <strong data-testid="trial-ends">{date_label(&t.ends_at)}</strong>
                    " · " <span data-testid="trial-days-left">{format!("{} day{} left", t.days_left, if t.days_left == 1 { "" } else { "s" })}</span>
                </p>
                {(!stripe).then(|| view! {
                    <p class="muted">
                        "While trialing, the plan's limits apply and nothing beyond them is billed. Upgrading now ends the trial: "
                        {t.plan_name.clone()} " is billed from today, prorated for the rest of the billing period, and the days left are not carried over. "
                        "Without an upgrade the organization returns to its previous plan when the trial ends."
                    </p>
                    {act.then(|| view! {
                        <button type="button" data-testid="trial-upgrade"
                            disabled=move || actions.checkout.pending().get()
                            on:click=move |_| { actions.checkout.dispatch(BillingCheckout { org_id: org.clone(), plan: plan.clone() }); }>
                            {format!("Upgrade to {} now", t.plan_name)}
                        </button>
                    })}
                    {is_owner.then(|| view! {
                        <button type="button" class="secondary" data-testid="trial-cancel"
                            disabled=move || cancel.pending().get()
                            on:click=move |_| { cancel.dispatch(CancelTrial { org_id: org_cancel.clone() }); }>
                            "End the trial now"
                        </button>
                    })}
                })}
                {action_error(actions.checkout.value())}
                {action_error(cancel.value())}
            </section>
        }
        .erase();
    }
    match (p.offer, is_owner) {
        (Some(o), true) => {
            let org = use_org_id_untracked();
            view! {
                <section class="card" data-testid="trial-offer">
                    <h2>{format!("Try {} free", o.plan_name)}</h2>
                    <p>{format!("{} days of the {} plan's limits, no card needed, once per organization.", o.days, o.plan_name)}</p>
                    <button type="button" data-testid="start-trial"
                        disabled=move || start.pending().get()
                        on:click=move |_| { start.dispatch(StartTrial { org_id: org.clone() }); }>
                        {format!("Start a {}-day {} trial", o.days, o.plan_name)}
                    </button>
                    {action_error(start.value())}
                </section>
            }
            .erase()
        }
        _ => ().erase(),
    }
}

fn use_org_id_untracked() -> String {
    crate::components::layout::use_org().org.id
}
