//! Pages whose capabilities arrive with later issues. They say what will be
//! there; they never show made-up numbers.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::layout::use_org;

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

/// The organization's home: usage and costs.
#[component]
pub fn UsagePage() -> impl IntoView {
    let org = use_org().org;
    view! {
        <p class="muted">{org.name} " · time zone " {org.time_zone}</p>
        <Planned
            title="Usage"
            items=&[
                "cost this month, lifetime cost, tokens in and out, requests and error rate",
                "charts of daily cost, cost by model, and input, output and cached tokens",
                "a breakdown by model, user, project, feature and session, and recent events",
                "a CSV download of the selected range",
            ]
        />
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

#[component]
pub fn BudgetsPage() -> impl IntoView {
    view! {
        <Planned
            title="Budgets & alerts"
            items=&[
                "budgets in USD per organization, project, user or API key, with thresholds",
                "alerts for thresholds, spikes, error rates and latency, by e-mail and webhook",
                "forecasts of period-end spend and savings recommendations",
            ]
        />
    }
}
