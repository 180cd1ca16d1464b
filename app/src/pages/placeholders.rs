//! Pages whose capabilities arrive with later issues. They say what will be
//! there; they never show made-up numbers.

use leptos::prelude::*;
use leptos_meta::Title;


#[component]
fn Planned(title: &'static str, items: &'static [&'static str]) -> impl IntoView {
    view! {
        <Title text=format!("{title} · Tollbooth") />
        <h1>{title}</h1>
        <section class="card">
            <p class="muted">"Not available yet. This page will show:"</p>
            <ul>{items.iter().map(|i| view! { <li>{*i}</li> }).collect_view()}</ul>
        </section>
    }
}

#[component]
pub fn BillingPage() -> impl IntoView {
    view! {
        <Planned
            title="Billing"
            items=&[
                "your plan and billing period, usage against what the plan includes",
                "the next invoice preview, past invoices and your prepaid credit balance",
                "Upgrade, Change plan and Manage billing (Stripe)",
            ]
        />
    }
}
