//! `/o/:org/budgets/:id`: one budget's figures, its chart, and (for owners
//! and admins) its edit form and delete button.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_params_map};
use leptos_router::NavigateOptions;

use super::{chart, form, long_date, outlook, period_label, ScopeCell, SpendBar};
use crate::api::budgets::{budget_detail, budget_targets, BudgetOverview, DeleteBudget, UpdateBudget};
use crate::components::chart::EChart;
use crate::components::layout::{use_org, use_org_id};
use crate::components::{action_error, ErrorMessage};
use crate::components::format::{usd, usd_exact};
use crate::components::UsdText;
use crate::data::{data, Data};
use crate::erase::Erase;
use crate::pages::NotFound;

#[component]
pub fn BudgetPage() -> impl IntoView {
    let org_id = use_org_id();
    let params = use_params_map();
    let budget_id = Memo::new(move |_| params.read().get("id").unwrap_or_default());
    let can_manage = use_org().role.can_manage();
    let update = ServerAction::<UpdateBudget>::new();
    let delete = ServerAction::<DeleteBudget>::new();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(())) = delete.value().get() {
            navigate(&format!("/o/{}/budgets", org_id.get_untracked()), NavigateOptions::default());
        }
    });
    let detail = data(
        move || (org_id.get(), budget_id.get(), update.version().get()),
        |(org, id, _)| budget_detail(org, id),
    );
    let back = move || format!("/o/{}/budgets", org_id.get());
    view! {
        <Title text="Budget · Tollbooth" />
        <p><a href=back>"← Budgets"</a></p>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(d) => view! { <Figures d=d.clone() /> }.erase(),
                    Err(e) if e.is_not_found() => view! { <NotFound /> }.erase(),
                    Err(e) => view! { <ErrorMessage message=e.message /> }.erase(),
                }
            })}
        </Transition>
        {can_manage.then(|| view! { <Manage org_id=org_id.get_untracked() budget_id update delete detail /> })}
    }
}

/// The period, the figures and the chart.
#[component]
fn Figures(d: BudgetOverview) -> impl IntoView {
    let BudgetOverview { budget, status, series } = d;
    let (outlook_class, outlook_text) = outlook(&status);
    let first = series.days.first().map(|d| long_date(&d.date)).unwrap_or_default();
    let last = series.days.last().map(|d| long_date(&d.date)).unwrap_or_default();
    let action = match budget.action {
        tollbooth::budgets::Action::Notify => "notify only",
        tollbooth::budgets::Action::Pause => "pause usage of the scope",
    };
    let fallback = format!(
        "{} spent of {}; projected {} by {}.",
        usd(&status.spent_usd),
        usd(&status.amount_usd),
        usd(&status.forecast_usd),
        last
    );
    let thresholds = budget.thresholds.iter().map(|t| format!("{t}%")).collect::<Vec<_>>().join(", ");
    view! {
        <h1 data-testid="budget-name">{budget.name.clone()}</h1>
        <p class="muted">
            {period_label(budget.period)} " budget for "
            {match budget.scope {
                tollbooth::budgets::Scope::Organization => view! { "the whole organization" }.erase(),
                _ => view! { <ScopeCell budget=budget.clone() /> }.erase(),
            }}
            " · this period: " {first} " – " {last.clone()} " (" {series.time_zone.clone()} ")"
            " · alerts at " {thresholds} " · at 100%: " {action}
        </p>
        <div class="stats" data-testid="budget-figures">
            <div class="stat"><span class="label">"Spent so far"</span>
                <span class="value" data-testid="budget-spent" title=usd_exact(&status.spent_usd)>{usd(&status.spent_usd)}</span>
                <span class="note">{format!("{}% of the budget", status.percent)}</span></div>
            <div class="stat"><span class="label">"Budget"</span>
                <span class="value" data-testid="budget-amount" title=usd_exact(&status.amount_usd)>{usd(&status.amount_usd)}</span>
                <span class="note"><UsdText decimal=status.remaining_usd.clone() /> " left"</span></div>
            <div class="stat"><span class="label">"Projected at period end"</span>
                <span class="value" data-testid="budget-forecast" title=usd_exact(&status.forecast_usd)>{usd(&status.forecast_usd)}</span>
                <span class="note">"at the rate so far"</span></div>
            <div class="stat"><span class="label">"Outlook"</span>
                <span class=format!("value {outlook_class}") data-testid="budget-outlook">{outlook_text}</span></div>
        </div>
        <section class="card">
            <SpendBar status=status.clone() />
        </section>
        <figure class="chart-card budget-chart">
            <figcaption>"Spend this period"</figcaption>
            <EChart id="chart-budget" label="Cumulative spend per day, the budget and the projection"
                chart=chart::spend_chart(&series, &status)>
                <p class="muted">{fallback}</p>
            </EChart>
        </figure>
    }
}

/// Edit and delete, for owners and admins.
#[component]
fn Manage(
    org_id: String,
    budget_id: Memo<String>,
    update: ServerAction<UpdateBudget>,
    delete: ServerAction<DeleteBudget>,
    detail: Data<Result<BudgetOverview, crate::error::AppError>>,
) -> impl IntoView {
    let org = org_id.clone();
    let targets = data(move || org.clone(), budget_targets);
    let org = StoredValue::new(org_id);
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let (d, targets) = (detail.await, targets.await.unwrap_or_default());
                // Nothing to edit when the budget is not there (the page says so).
                d.ok().map(|d| view! {
                    <section class="card" data-testid="budget-edit">
                        <h2>"Edit"</h2>
                        <ActionForm action=update>
                            <input type="hidden" name="org_id" value=org.get_value() />
                            <input type="hidden" name="budget_id" value=d.budget.id.clone() />
                            <form::BudgetFields budget=Some(d.budget) targets />
                            <div class="form-actions"><button type="submit">"Save budget"</button></div>
                        </ActionForm>
                        {action_error(update.value())}
                        {move || update.value().get().and_then(Result::ok).map(|_| view! { <p class="ok" role="status">"Budget saved."</p> })}
                    </section>
                    <section class="card">
                        <h2>"Delete"</h2>
                        <p class="muted">"Deleting a budget stops its alerts; usage is not affected."</p>
                        <ActionForm action=delete>
                            <input type="hidden" name="org_id" value=org.get_value() />
                            <input type="hidden" name="budget_id" value=budget_id.get_untracked() />
                            <div class="form-actions"><button type="submit" class="danger">"Delete budget"</button></div>
                        </ActionForm>
                        {action_error(delete.value())}
                    </section>
                })
            })}
        </Transition>
    }
}
