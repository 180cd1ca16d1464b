//! Prepaid credits: the balance, the packs on sale and the ledger's recent
//! entries.

use leptos::prelude::*;
use tollbooth::billing::{BillingOverview, CreditEntryView, CreditPackView};

use super::Actions;
use crate::api::billing::BillingBuyCredits;
use crate::components::action_error;
use crate::components::format::readable_time;
use crate::components::format::{date_label, usd_cents, usd_nanos, usd_nanos_exact};
use crate::erase::Erase;

/// "purchase" → "Purchase", "expiry" → "Expired".
pub fn entry_kind(kind: &str) -> &str {
    match kind {
        "purchase" => "Purchase",
        "usage" => "Used on an invoice",
        "adjustment" => "Adjustment",
        "expiry" => "Expired",
        other => other,
    }
}

/// "$50.00 + 5% bonus = $52.50 of credit".
pub fn pack_terms(p: &CreditPackView) -> String {
    if p.bonus_percent > 0 {
        format!("{} + {}% bonus: {} of credit", usd_cents(p.price_cents), p.bonus_percent, usd_nanos(p.credit_nanos))
    } else {
        format!("{} of credit", usd_nanos(p.credit_nanos))
    }
}

#[component]
pub fn Credits(o: BillingOverview, act: bool, actions: Actions) -> AnyView {
    let org_id = o.org_id.clone();
    view! {
        <section class="card" data-testid="credits">
            <h2>"Prepaid credits"</h2>
            <p>"Balance: " <strong class="balance" data-testid="credit-balance" title=usd_nanos_exact(o.credit_balance_nanos)>{usd_nanos(o.credit_balance_nanos)}</strong>
                {(o.credit_floor_nanos != 0).then(|| view! {
                    <span class="muted" title=usd_nanos_exact(o.credit_floor_nanos)>" (never drawn below " {usd_nanos(o.credit_floor_nanos)} ")"</span>
                })}
            </p>
            <p class="muted small">"Credits pay usage charges beyond your plan when an invoice closes; the oldest credit is used first."</p>
            {if o.packs.is_empty() {
                view! { <p class="empty">"No credit packs on sale."</p> }.erase()
            } else {
                view! {
                    <table class="table" data-testid="credit-packs">
                        <thead><tr><th>"Pack"</th><th class="num">"Price"</th><th>"You get"</th><th>"Valid for"</th><th></th></tr></thead>
                        <tbody>
                            {o.packs.into_iter().map(|p| {
                                let (org, code) = (org_id.clone(), p.code.clone());
                                let on_sale = p.stripe_price_id.is_some();
                                view! {
                                    <tr data-pack=p.code.clone()>
                                        <td>{p.name.clone()}</td>
                                        <td class="num">{usd_cents(p.price_cents)}</td>
                                        <td>{pack_terms(&p)}</td>
                                        <td>{format!("{} days", p.valid_days)}</td>
                                        <td class="actions-cell">{match (act, on_sale) {
                                            (true, true) => view! {
                                                <button type="button" class="small"
                                                    disabled=move || actions.buy.pending().get()
                                                    on:click=move |_| { actions.buy.dispatch(BillingBuyCredits { org_id: org.clone(), pack: code.clone() }); }>
                                                    "Buy"
                                                </button>
                                            }.erase(),
                                            (true, false) => view! { <span class="muted small">"no Stripe price yet"</span> }.erase(),
                                            (false, _) => ().erase(),
                                        }}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }.erase()
            }}
            {action_error(actions.buy.value())}
            <h3>"Recent entries"</h3>
            <Entries entries=o.credit_entries />
        </section>
    }
    .erase()
}

#[component]
fn Entries(entries: Vec<CreditEntryView>) -> impl IntoView {
    if entries.is_empty() {
        return view! { <p class="empty">"No credit yet."</p> }.erase();
    }
    view! {
        <table class="table" data-testid="credit-entries">
            <thead><tr><th>"When"</th><th>"Kind"</th><th>"Description"</th><th class="num">"Amount"</th><th>"Expires"</th></tr></thead>
            <tbody>
                {entries.into_iter().map(|e| view! {
                    <tr>
                        <td class="nowrap">{readable_time(&e.created_at)}</td>
                        <td>{entry_kind(&e.kind).to_string()}</td>
                        <td>{e.description.clone()}</td>
                        <td class="num" title=usd_nanos_exact(e.amount_nanos)>{usd_nanos(e.amount_nanos)}</td>
                        <td class="nowrap">{e.expires_at.as_deref().map(date_label).unwrap_or_default()}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
    .erase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pack_states_its_price_bonus_and_credit() {
        let p = CreditPackView {
            code: "credits-50".into(),
            name: "$50 pack".into(),
            price_cents: 5000,
            bonus_percent: 5,
            credit_nanos: 52_500_000_000,
            valid_days: 365,
            stripe_price_id: None,
            active: true,
            sort_order: 2,
        };
        assert_eq!(pack_terms(&p), "$50.00 + 5% bonus: $52.50 of credit");
        assert_eq!(pack_terms(&CreditPackView { bonus_percent: 0, credit_nanos: 50_000_000_000, ..p }), "$50.00 of credit");
        assert_eq!(entry_kind("expiry"), "Expired");
    }
}
