//! The fields of a budget, shared by the create and edit forms. The core
//! parses them (amount, scope id, thresholds) and its refusals are shown
//! beside the form.

use leptos::prelude::*;
use tollbooth::budgets::{Action, BudgetPeriod, BudgetView, Scope, DEFAULT_THRESHOLDS};

use crate::api::budgets::ScopeChoices;
use crate::erase::Erase;

const SCOPES: [Scope; 4] = [Scope::Organization, Scope::Project, Scope::User, Scope::ApiKey];
const PERIODS: [BudgetPeriod; 3] = [BudgetPeriod::Daily, BudgetPeriod::Weekly, BudgetPeriod::Monthly];

/// Thresholds as the field shows them: `50, 80, 100`.
pub fn thresholds_text(t: &[u32]) -> String {
    t.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
}

/// Name, scope and scope id, period, amount, thresholds and action, filled
/// from `budget` when editing. The scope id's field follows the scope: none
/// for the organization, a project (listed, or any id events carry), a user
/// id, or one of the active API keys.
#[component]
pub fn BudgetFields(budget: Option<BudgetView>, targets: ScopeChoices) -> impl IntoView {
    let scope = RwSignal::new(budget.as_ref().map_or(Scope::Organization, |b| b.scope));
    let scope_id = budget.as_ref().and_then(|b| b.scope_id.clone()).unwrap_or_default();
    let period = budget.as_ref().map_or(BudgetPeriod::Monthly, |b| b.period);
    let action = budget.as_ref().map_or(Action::Notify, |b| b.action);
    let thresholds = thresholds_text(budget.as_ref().map_or(&DEFAULT_THRESHOLDS[..], |b| b.thresholds.as_slice()));
    let name = budget.as_ref().map(|b| b.name.clone()).unwrap_or_default();
    let amount = budget.as_ref().map(|b| b.amount_usd.clone()).unwrap_or_default();
    let on_scope = move |ev: leptos::ev::Event| {
        if let Ok(s) = Scope::parse(&event_target_value(&ev)) {
            scope.set(s);
        }
    };
    let scope_field = move || {
        let (targets, current) = (targets.clone(), scope_id.clone());
        match scope.get() {
            Scope::Organization => view! { <input type="hidden" name="scope_id" value="" /> }.erase(),
            Scope::Project => view! {
                <label>"Project id"
                    <input name="scope_id" required maxlength="128" list="budget-projects" value=current
                        autocomplete="off" placeholder="the project_id your events carry" />
                    <datalist id="budget-projects">
                        {targets.projects.into_iter().map(|(slug, name)| view! { <option value=slug>{name}</option> }).collect_view()}
                    </datalist>
                </label>
            }.erase(),
            Scope::User => view! {
                <label>"User id"
                    <input name="scope_id" required maxlength="128" value=current autocomplete="off"
                        placeholder="the user_id your events carry" />
                </label>
            }.erase(),
            Scope::ApiKey if targets.api_keys.is_empty() && current.is_empty() => view! {
                <label>"API key id"
                    <input name="scope_id" required maxlength="128" autocomplete="off" placeholder="no active keys" />
                </label>
            }.erase(),
            Scope::ApiKey => {
                let known = targets.api_keys.iter().any(|(id, _)| *id == current);
                view! {
                    <label>"API key"
                        <select name="scope_id" required>
                            {(!known && !current.is_empty()).then(|| view! {
                                <option value=current.clone() selected=true>{format!("{current} (revoked or unknown)")}</option>
                            })}
                            {targets.api_keys.into_iter().map(|(id, label)| {
                                let selected = id == current;
                                view! { <option value=id selected=selected>{label}</option> }
                            }).collect_view()}
                        </select>
                    </label>
                }.erase()
            }
        }
    };
    view! {
        <div class="row budget-fields">
            <label class="grow">"Name"
                <input name="name" maxlength="80" value=name placeholder="blank: named after scope and period" />
            </label>
            <label>"Scope"
                <select name="scope" on:change=on_scope>
                    {SCOPES.into_iter().map(|s| {
                        let selected = s == scope.get_untracked();
                        view! { <option value=s.as_str() selected=selected>{super::scope_label(s)}</option> }
                    }).collect_view()}
                </select>
            </label>
            {scope_field}
        </div>
        <div class="row budget-fields">
            <label>"Period"
                <select name="period">
                    {PERIODS.into_iter().map(|p| view! {
                        <option value=p.as_str() selected={p == period}>{super::period_label(p)}</option>
                    }).collect_view()}
                </select>
            </label>
            <label>"Amount (USD)"
                <input name="amount_usd" required inputmode="decimal" autocomplete="off" value=amount placeholder="e.g. 500" />
            </label>
            <label>"Alert thresholds (%)"
                <input name="thresholds" value=thresholds autocomplete="off" placeholder="50, 80, 100" />
            </label>
            <label>"At 100%"
                <select name="action">
                    <option value="notify" selected={action == Action::Notify}>"Notify only"</option>
                    <option value="pause" selected={action == Action::Pause}>"Pause usage"</option>
                </select>
            </label>
        </div>
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn thresholds_read_as_typed() {
        assert_eq!(super::thresholds_text(&[50, 80, 100]), "50, 80, 100");
        assert_eq!(super::thresholds_text(&[]), "");
    }
}
