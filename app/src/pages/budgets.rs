//! Budgets: the list with each budget's spend this period (`/o/:org/budgets`)
//! and one budget's page with its chart (`/o/:org/budgets/:id`). Everyone in
//! the organization reads them; owners and admins create, edit and delete.
//!
//! Amounts arrive as exact decimal strings and are shown with
//! [`super::usage::usd`]; nothing here computes money.

mod chart;
mod detail;
mod form;

use leptos::prelude::*;
use leptos_meta::Title;
use tollbooth::budgets::{BudgetPeriod, BudgetStatus, BudgetView, Scope};

use crate::api::budgets::{budget_targets, list_budgets, BudgetLine, CreateBudget};
use crate::components::layout::{use_org, use_org_id};
use crate::components::{action_error, Loaded};
use crate::components::UsdText;
use crate::data::data;
use crate::erase::Erase;

pub use detail::BudgetPage;

/// "Organization", "Project", "User", "API key".
pub fn scope_label(scope: Scope) -> &'static str {
    match scope {
        Scope::Organization => "Organization",
        Scope::Project => "Project",
        Scope::User => "User",
        Scope::ApiKey => "API key",
    }
}

pub fn period_label(period: BudgetPeriod) -> &'static str {
    match period {
        BudgetPeriod::Daily => "Daily",
        BudgetPeriod::Weekly => "Weekly",
        BudgetPeriod::Monthly => "Monthly",
    }
}

/// The core's percentage text (`"82.50"`) in hundredths of a percent.
fn hundredths(percent: &str) -> i64 {
    let (int, frac) = percent.split_once('.').unwrap_or((percent, "0"));
    let frac: String = frac.chars().chain(std::iter::repeat('0')).take(2).collect();
    int.parse::<i64>().unwrap_or(0).saturating_mul(100).saturating_add(frac.parse::<i64>().unwrap_or(0))
}

/// The bar's class: a warning from 80%, danger from 100%.
pub fn bar_class(percent: &str) -> &'static str {
    match hundredths(percent) {
        p if p >= 10_000 => "meter warning exhausted",
        p if p >= 8_000 => "meter warning",
        _ => "meter",
    }
}

/// The bar's width, at most the whole bar.
pub fn bar_width(percent: &str) -> String {
    let p = hundredths(percent).clamp(0, 10_000);
    format!("{}.{:02}%", p / 100, p % 100)
}

/// `2026-11-27` (or an RFC 3339 time whose date is local) → `27 Nov 2026`.
pub fn long_date(local: &str) -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let parts: Vec<&str> = local.get(..10).unwrap_or(local).split('-').collect();
    match parts.as_slice() {
        [y, m, d] => match (m.parse::<usize>(), d.parse::<u32>()) {
            (Ok(m @ 1..=12), Ok(d)) => format!("{d} {} {y}", MONTHS[m - 1]),
            _ => local.to_string(),
        },
        _ => local.to_string(),
    }
}

/// "On track", "Will exceed around 27 Nov 2026", or "Over budget" once spent.
pub fn outlook(status: &BudgetStatus) -> (&'static str, String) {
    if hundredths(&status.percent) >= 10_000 {
        ("outlook over", "Over budget".to_string())
    } else if status.on_track {
        ("outlook ok", "On track".to_string())
    } else {
        let around = status.exceeds_at.as_deref().map(long_date).unwrap_or_else(|| "the period's end".into());
        ("outlook warn", format!("Will exceed around {around}"))
    }
}

/// The scope and, for a project, user or key, its id.
#[component]
pub fn ScopeCell(budget: BudgetView) -> impl IntoView {
    view! {
        {scope_label(budget.scope)}
        {budget.scope_id.map(|id| view! { " " <code>{id}</code> })}
    }
}

/// Spent against the amount as a bar, with the exact figures above it.
#[component]
pub fn SpendBar(status: BudgetStatus) -> impl IntoView {
    view! {
        <div class=bar_class(&status.percent)>
            <div class="meter-head">
                <span class="meter-amount"><UsdText decimal=status.spent_usd.clone() /> " of " <UsdText decimal=status.amount_usd.clone() /></span>
                <span class="meter-amount" data-testid="budget-percent">{format!("{}%", status.percent)}</span>
            </div>
            <div class="bar" role="progressbar" aria-label="Spent of the budget"
                aria-valuemin="0" aria-valuemax="100" aria-valuenow=status.percent.clone()>
                <span style=format!("width: {}", bar_width(&status.percent))></span>
            </div>
        </div>
    }
}

#[component]
pub fn BudgetsPage() -> impl IntoView {
    let org_id = use_org_id();
    let can_manage = use_org().role.can_manage();
    let create = ServerAction::<CreateBudget>::new();
    let budgets = data(move || (org_id.get(), create.version().get()), |(org, _)| list_budgets(org));
    view! {
        <Title text="Budgets · Tollbooth" />
        <h1>"Budgets"</h1>
        <p class="muted">
            "A budget is an amount in USD per day, week or month for the organization, a project, a user or an API key. \
            Periods follow your organization's time zone; the forecast extends this period's spend at its rate so far."
        </p>
        {can_manage.then(|| {
            let targets = data(move || org_id.get(), budget_targets);
            view! {
                <section class="card" data-testid="budget-create">
                    <h2>"Create a budget"</h2>
                    <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                        {move || Suspend::new(async move {
                            // Without the lists the form still works, with free text.
                            let targets = targets.await.unwrap_or_default();
                            view! {
                                <ActionForm action=create>
                                    <input type="hidden" name="org_id" value=org_id.get_untracked() />
                                    <form::BudgetFields budget=None targets />
                                    <div class="form-actions"><button type="submit">"Create budget"</button></div>
                                </ActionForm>
                            }
                        })}
                    </Suspense>
                    {action_error(create.value())}
                    {move || create.value().get().and_then(Result::ok).map(|b| view! {
                        <p class="ok" role="status">"Budget " <strong>{b.name}</strong> " created."</p>
                    })}
                </section>
            }
        })}
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let result = budgets.await;
                view! {
                    <Loaded result ok=move |value| match value {
                        list if list.is_empty() => view! {
                            <p class="empty" data-testid="budgets-empty">
                                {if can_manage { "No budgets yet. Create one above." } else { "No budgets yet. Owners and admins can create them." }}
                            </p>
                        }.erase(),
                        list => view! { <BudgetTable org_id=org_id.get_untracked() list /> }.erase(),
                    } />
                }
                .erase()
            })}
        </Transition>
    }
}

#[component]
fn BudgetTable(org_id: String, list: Vec<BudgetLine>) -> impl IntoView {
    view! {
        <table class="table budgets" data-testid="budgets">
            <thead><tr>
                <th>"Name"</th><th>"Scope"</th><th>"Period"</th><th class="num">"Budget"</th>
                <th>"Spent this period"</th><th class="num">"Forecast"</th><th>"Outlook"</th>
            </tr></thead>
            <tbody>
                {list.into_iter().map(|BudgetLine { budget, status }| {
                    let href = format!("/o/{org_id}/budgets/{}", budget.id);
                    let (class, text) = outlook(&status);
                    view! {
                        <tr data-budget-id=budget.id.clone()>
                            <td><a href=href>{budget.name.clone()}</a>
                                {(budget.action == tollbooth::budgets::Action::Pause).then(|| view! { " " <span class="badge">"pauses at 100%"</span> })}
                            </td>
                            <td><ScopeCell budget=budget.clone() /></td>
                            <td>{period_label(budget.period)}</td>
                            <td class="num"><UsdText decimal=budget.amount_usd.clone() /></td>
                            <td class="spend"><SpendBar status=status.clone() /></td>
                            <td class="num"><UsdText decimal=status.forecast_usd.clone() /></td>
                            <td class=class data-testid="budget-outlook">{text}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(percent: &str, on_track: bool, exceeds_at: Option<&str>) -> BudgetStatus {
        BudgetStatus {
            budget_id: "b".into(),
            period_start: "2026-11-01T00:00:00+01:00".into(),
            period_end: "2026-12-01T00:00:00+01:00".into(),
            amount_usd: "100.00".into(),
            spent_usd: "0.00".into(),
            remaining_usd: "100.00".into(),
            percent: percent.into(),
            forecast_usd: "0.00".into(),
            on_track,
            exceeds_at: exceeds_at.map(Into::into),
        }
    }

    #[test]
    fn bars_warn_from_80_and_turn_red_at_100() {
        assert_eq!((bar_class("0.00"), bar_width("0.00")), ("meter", "0.00%".to_string()));
        assert_eq!(bar_class("79.99"), "meter");
        assert_eq!((bar_class("80.00"), bar_width("82.5")), ("meter warning", "82.50%".to_string()));
        assert_eq!((bar_class("250.00"), bar_width("250.00")), ("meter warning exhausted", "100.00%".to_string()));
    }

    #[test]
    fn the_outlook_names_the_day_the_budget_runs_out() {
        assert_eq!(outlook(&status("10.00", true, None)).1, "On track");
        assert_eq!(outlook(&status("60.00", false, Some("2026-11-27T14:03:00+01:00"))).1, "Will exceed around 27 Nov 2026");
        assert_eq!(outlook(&status("100.00", false, Some("2026-11-20T09:00:00+01:00"))).1, "Over budget");
        assert_eq!(long_date("soon"), "soon");
    }
}
