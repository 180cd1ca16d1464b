//! The plans an organization can move to. From a free plan an upgrade goes
//! through Stripe Checkout; a subscribed organization previews the change
//! (proration lines, net, when) and confirms it.

use leptos::prelude::*;
use tollbooth::billing::{status_keeps_plan, BillingOverview, ChangePreview, PlanChoice};

use super::Actions;
use crate::api::billing::{BillingChangePlan, BillingCheckout, BillingPreviewChange};
use crate::components::action_error;
use crate::components::format::{date_label, usd_cents};
use crate::erase::Erase;

/// The button a plan gets, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanButton {
    /// From a free plan (no subscription) to a paid one: Stripe Checkout.
    Upgrade,
    /// A subscribed organization, or a move down: preview, then confirm.
    Change,
}

/// Which button `choice` shows (none for the current plan, or one without
/// a Stripe price).
pub fn button_for(choice: &PlanChoice, subscribed: bool) -> Option<PlanButton> {
    match choice.change.as_str() {
        "current" => None,
        _ if !choice.purchasable => None,
        "upgrade" if !subscribed => Some(PlanButton::Upgrade),
        _ => Some(PlanButton::Change),
    }
}

#[component]
pub fn PlanChoices(o: BillingOverview, act: bool, can_manage: bool, actions: Actions) -> AnyView {
    let subscribed = o.subscription.as_ref().is_some_and(|s| status_keeps_plan(&s.status));
    let org_id = o.org_id.clone();
    let preview_org = org_id.clone();
    view! {
        <section class="card" data-testid="plan-choices">
            <h2>"Plans"</h2>
            {(!can_manage).then(|| view! { <p class="muted">"Owners and admins can change the plan."</p> })}
            <ul class="plan-choices">
                {o.plans.into_iter().map(|p| {
                    let button = if act { button_for(&p, subscribed) } else { None };
                    let (org, code) = (org_id.clone(), p.code.clone());
                    let unavailable = act && p.change != "current" && !p.purchasable;
                    view! {
                        <li class="plan-choice" class:current=p.change == "current" data-plan=p.code.clone()>
                            <div class="plan-choice-head">
                                <strong class="plan-title">{p.name.clone()}</strong>
                                {(p.change == "current").then(|| view! { <span class="badge current">"Current"</span> })}
                            </div>
                            <div class="plan-price">{p.price_label.clone()}</div>
                            <p class="muted small">{p.description.clone()}</p>
                            {match button {
                                Some(PlanButton::Upgrade) => view! {
                                    <button type="button"
                                        disabled=move || actions.checkout.pending().get()
                                        on:click=move |_| { actions.checkout.dispatch(BillingCheckout { org_id: org.clone(), plan: code.clone() }); }>
                                        "Upgrade"
                                    </button>
                                }.erase(),
                                Some(PlanButton::Change) => view! {
                                    <button type="button" class="secondary"
                                        disabled=move || actions.preview.pending().get()
                                        on:click=move |_| { actions.preview.dispatch(BillingPreviewChange { org_id: org.clone(), plan: code.clone() }); }>
                                        "Change plan"
                                    </button>
                                }.erase(),
                                None => ().erase(),
                            }}
                            {unavailable.then(|| view! { <p class="muted small">"Not on sale here yet (no Stripe price)."</p> })}
                        </li>
                    }
                }).collect_view()}
            </ul>
            {action_error(actions.checkout.value())}
            {action_error(actions.preview.value())}
            {move || actions.preview.value().get().and_then(Result::ok).map(|p| {
                view! { <ChangePanel preview=p org_id=preview_org.clone() actions /> }
            })}
            {action_error(actions.change.value())}
            {move || actions.change.value().get().and_then(Result::ok).map(|p| view! {
                <p class="ok" role="status" data-testid="change-done">{done_text(&p)}</p>
            })}
        </section>
    }
    .erase()
}

/// What the page says once a change went through.
pub fn done_text(p: &ChangePreview) -> String {
    if p.kind == "upgrade" {
        format!("You are now on {}.", p.to_name)
    } else {
        format!("Your plan changes to {} on {}.", p.to_name, date_label(&p.effective_at))
    }
}

/// When the change takes effect, in words.
pub fn effective_text(p: &ChangePreview) -> String {
    if p.kind == "upgrade" {
        "Takes effect now; this period's invoice gets the prorated difference.".to_string()
    } else {
        format!("Takes effect on {}, when the current period ends; no proration.", date_label(&p.effective_at))
    }
}

/// The preview of a change with its Confirm button. The page clears the
/// preview once the change went through; Cancel clears it too.
#[component]
fn ChangePanel(preview: ChangePreview, org_id: String, actions: Actions) -> AnyView {
    let p = preview;
    let (org, code) = (org_id, p.to_code.clone());
    let action = if p.via_checkout {
        view! {
            <button type="button" disabled=move || actions.checkout.pending().get()
                on:click=move |_| { actions.checkout.dispatch(BillingCheckout { org_id: org.clone(), plan: code.clone() }); }>
                "Continue to payment"
            </button>
        }
        .erase()
    } else {
        view! {
            <button type="button" disabled=move || actions.change.pending().get()
                on:click=move |_| { actions.change.dispatch(BillingChangePlan { org_id: org.clone(), plan: code.clone() }); }>
                "Confirm"
            </button>
        }
        .erase()
    };
    view! {
        <div class="card change-preview" data-testid="change-preview">
            <h3>{format!("{} → {}", p.from_name, p.to_name)}</h3>
            {(!p.lines.is_empty()).then(|| view! {
                <table class="table">
                    <tbody>
                        {p.lines.iter().map(|l| view! {
                            <tr><td>{l.description.clone()}</td><td class="num">{usd_cents(l.amount_cents)}</td></tr>
                        }).collect_view()}
                        <tr class="total"><td>"Net on this period's invoice"</td><td class="num" data-testid="change-net">{usd_cents(p.net_cents)}</td></tr>
                    </tbody>
                </table>
            })}
            <p data-testid="change-effective">{effective_text(&p)}</p>
            <div class="form-actions">
                {action}
                <button type="button" class="link" on:click=move |_| actions.preview.value().set(None)>"Cancel"</button>
            </div>
        </div>
    }
    .erase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choice(change: &str, purchasable: bool) -> PlanChoice {
        PlanChoice {
            code: "pro".into(),
            name: "Pro".into(),
            description: String::new(),
            monthly_price_nanos: 29_000_000_000,
            price_label: "$29 / month".into(),
            change: change.into(),
            purchasable,
        }
    }

    #[test]
    fn free_organizations_upgrade_through_checkout_and_subscribers_change() {
        assert_eq!(button_for(&choice("upgrade", true), false), Some(PlanButton::Upgrade));
        assert_eq!(button_for(&choice("upgrade", true), true), Some(PlanButton::Change));
        assert_eq!(button_for(&choice("downgrade", true), true), Some(PlanButton::Change));
        assert_eq!(button_for(&choice("current", true), true), None);
        assert_eq!(button_for(&choice("upgrade", false), false), None, "no Stripe price: no button");
    }

    #[test]
    fn a_downgrade_says_when_it_takes_effect() {
        let p = ChangePreview {
            from_code: "team".into(),
            from_name: "Team".into(),
            to_code: "pro".into(),
            to_name: "Pro".into(),
            kind: "downgrade".into(),
            lines: vec![],
            net_cents: 0,
            effective_at: "2026-12-01T00:00:00+01:00".into(),
            via_checkout: false,
        };
        assert_eq!(effective_text(&p), "Takes effect on 1 Dec 2026, when the current period ends; no proration.");
        assert_eq!(done_text(&p), "Your plan changes to Pro on 1 Dec 2026.");
    }
}
