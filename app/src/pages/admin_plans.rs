//! Platform admin: the plan catalog (`/admin/plans`), one plan's editor
//! (`/admin/plans/:code`) and one organization's plan and overrides
//! (`/admin/org?id=…`).
//!
//! Limits are typed as people write them (`100,000`, `12.50` for USD) and
//! parsed by the core; an empty value is "unlimited", never a big number.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};
use leptos_router::NavigateOptions;
use tollbooth::plans::{months_text, Limit, Metric, OrgPlan, Period, PlanView, MAX_RETENTION_MONTHS};
use tollbooth::pricing::NanoUsd;

use crate::api::admin::{
    admin_org, admin_plan, admin_plans, AdminClearOverride, AdminCreatePlan, AdminDeletePlan, AdminOrgDetail,
    AdminSetOrgPlan, AdminSetOverride, AdminSetPlanArchived, AdminUpdatePlan,
};
use crate::components::confirm::ConfirmSubmit;
use crate::components::{action_error, ErrorMessage};
use crate::components::format::format_time;
use crate::data::data;
use crate::erase::Erase;
use crate::error::AppError;

use crate::pages::plans::limit_cell;
use crate::url::encode_query;

/// The admin page of one organization.
pub fn org_href(org_id: &str) -> String {
    format!("/admin/org?id={}", encode_query(org_id))
}

/// The editor of one plan.
pub fn plan_href(code: &str) -> String {
    format!("/admin/plans/{}", encode_query(code))
}

/// A limit's value as the editor prefills it, in the form the parser reads
/// back exactly: `12.50` for USD, `100000` for counts; empty for unlimited.
pub fn value_text(limit: Option<&Limit>) -> String {
    match limit {
        Some(l) if l.metric == Metric::CostUsd => NanoUsd::from_nanos(l.value).to_short_usd_string(),
        Some(l) => l.value.to_string(),
        None => String::new(),
    }
}

/// A soft limit's overage price (USD per unit) as the editor prefills it.
pub fn overage_text(limit: Option<&Limit>) -> String {
    limit.and_then(|l| l.overage_nanos).map(|o| NanoUsd::from_nanos(o).to_short_usd_string()).unwrap_or_default()
}

/// Every metric and period a limit can have, in catalog order.
fn slots() -> impl Iterator<Item = (Metric, Period)> {
    Metric::ALL.into_iter().flat_map(|m| m.periods().iter().map(move |p| (m, *p)))
}

fn slot_label(metric: Metric, period: Period) -> String {
    format!("{} {}", metric.label(), period.per()).trim().to_string()
}

/// What to show when a server function refused: sign in, or the message.
fn refused(e: AppError) -> AnyView {
    if e.is_unauthorized() {
        view! { <Redirect path="/login" /> }.erase()
    } else {
        view! { <ErrorMessage message=e.message /> }.erase()
    }
}

/// Hard/soft as a select (a per-minute limit is always hard).
fn hard_select(name: String, period: Period, hard: bool) -> AnyView {
    if period == Period::Minute {
        return view! { <input type="hidden" name=name value="true" /> <span class="muted">"hard (rate)"</span> }.erase();
    }
    view! {
        <select name=name aria-label="Hard or soft">
            <option value="true" selected=hard>"hard"</option>
            <option value="false" selected=!hard>"soft"</option>
        </select>
    }
    .erase()
}

/// `/admin/plans`: the catalog with organization counts, and a create form.
#[component]
pub fn AdminPlansPage() -> impl IntoView {
    let create = ServerAction::<AdminCreatePlan>::new();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(code)) = create.value().get() {
            navigate(&plan_href(&code), NavigateOptions::default());
        }
    });
    let plans = data(|| (), |_| admin_plans());
    view! {
        <Title text="Plans · Admin · Tollbooth" />
        <div class="content standalone wide">
            <p><a href="/admin">"← Platform admin"</a></p>
            <h1>"Plans"</h1>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match plans.await {
                        Ok(list) => plan_list(list).erase(),
                        Err(e) => refused(e),
                    }
                })}
            </Suspense>
            <section class="card">
                <h2>"Create a plan"</h2>
                <p class="muted">"Limits are set on the plan's page once it exists."</p>
                <ActionForm action=create attr:class="row">
                    <label>"Code" <input name="code" required placeholder="e.g. growth" autocomplete="off" /></label>
                    <label>"Name" <input name="name" required placeholder="e.g. Growth" /></label>
                    <label class="grow">"Description" <input name="description" /></label>
                    <label>"Price (USD per month)" <input name="monthly_price_usd" inputmode="decimal" placeholder="0" /></label>
                    <label>"Visibility"
                        <select name="is_public">
                            <option value="true">"Public"</option>
                            <option value="false">"Hidden"</option>
                        </select>
                    </label>
                    <label>"Sort order" <input name="sort_order" type="number" value="50" required /></label>
                    <button type="submit">"Create plan"</button>
                </ActionForm>
                {action_error(create.value())}
            </section>
        </div>
    }
}

fn plan_list(list: Vec<PlanView>) -> impl IntoView {
    view! {
        <table class="table" data-testid="admin-plans">
            <thead><tr>
                <th>"Plan"</th><th>"Code"</th><th>"Price"</th><th>"Visibility"</th>
                <th class="num">"Organizations"</th><th>"Retention"</th><th>"Trial"</th><th>"Limits"</th><th>"Status"</th>
            </tr></thead>
            <tbody>
                {list.into_iter().map(|p| {
                    let limits = p.limits.iter().map(|l| format!("{}: {}", slot_label(l.metric, l.period), limit_cell(Some(l)))).collect::<Vec<_>>().join(" · ");
                    view! {
                        <tr class=if p.archived_at.is_some() { "archived" } else { "" }>
                            <td><a href=plan_href(&p.code)>{p.name.clone()}</a></td>
                            <td><code>{p.code.clone()}</code></td>
                            <td class="nowrap">{p.price_label()}</td>
                            <td>{if p.is_public { "public" } else { "hidden" }}</td>
                            <td class="num">{p.organizations}</td>
                            <td class="nowrap">{months_text(p.retention_months)}</td>
                            <td class="nowrap">{if p.trial_days > 0 { format!("{} days", p.trial_days) } else { "none".to_string() }}</td>
                            <td class="small">{if limits.is_empty() { "Unlimited".to_string() } else { limits }}</td>
                            <td>{match p.archived_at {
                                Some(t) => view! { <span class="badge">"archived " {format_time(t)}</span> }.erase(),
                                None => view! { "active" }.erase(),
                            }}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// `/admin/plans/:code`: edit a plan, archive or restore it, delete it.
#[component]
pub fn AdminPlanPage() -> impl IntoView {
    let params = use_params_map();
    let code = Memo::new(move |_| params.read().get("code").unwrap_or_default());
    let save = ServerAction::<AdminUpdatePlan>::new();
    let archive = ServerAction::<AdminSetPlanArchived>::new();
    let delete = ServerAction::<AdminDeletePlan>::new();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(())) = delete.value().get() {
            navigate("/admin/plans", NavigateOptions::default());
        }
    });
    let plan = data(
        move || (code.get(), save.version().get(), archive.version().get()),
        |(c, _, _)| admin_plan(c),
    );
    view! {
        <Title text="Plan · Admin · Tollbooth" />
        <div class="content standalone wide">
            <p><a href="/admin/plans">"← Plans"</a></p>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match plan.await {
                        Ok(p) => plan_editor(p, save, archive, delete).erase(),
                        Err(e) if e.is_not_found() => view! { <h1>"Plan not found"</h1> }.erase(),
                        Err(e) => refused(e),
                    }
                })}
            </Transition>
        </div>
    }
}

fn plan_editor(
    p: PlanView,
    save: ServerAction<AdminUpdatePlan>,
    archive: ServerAction<AdminSetPlanArchived>,
    delete: ServerAction<AdminDeletePlan>,
) -> impl IntoView {
    let archived = p.archived_at.is_some();
    let (code_archive, code_delete) = (p.code.clone(), p.code.clone());
    let price = NanoUsd::from_nanos(p.monthly_price_nanos).to_short_usd_string();
    view! {
        <div class="title-row">
            <h1>{p.name.clone()} " " <code>{p.code.clone()}</code></h1>
            {archived.then(|| view! { <span class="badge">"archived"</span> })}
        </div>
        <p class="muted">{format!("{} organization(s) on this plan. Changes apply to them at once.", p.organizations)}</p>
        <section class="card">
            <ActionForm action=save>
                <input type="hidden" name="plan[code]" value=p.code.clone() />
                <div class="row">
                    <label>"Name" <input name="plan[name]" required value=p.name.clone() /></label>
                    <label class="grow">"Description" <input name="plan[description]" value=p.description.clone() /></label>
                    <label>"Price (USD per month)" <input name="plan[monthly_price_usd]" inputmode="decimal" value=price /></label>
                    <label>"Visibility"
                        <select name="plan[is_public]">
                            <option value="true" selected=p.is_public>"Public"</option>
                            <option value="false" selected=!p.is_public>"Hidden"</option>
                        </select>
                    </label>
                    <label>"Sort order" <input name="plan[sort_order]" type="number" required value=p.sort_order.to_string() /></label>
                    <label>"Stripe price"
                        <input name="plan[stripe_price_id]" value=p.stripe_price_id.clone().unwrap_or_default()
                            placeholder="price_…" autocomplete="off" />
                    </label>
                    <label>"Retention (months)"
                        <input name="plan[retention_months]" type="number" min="1" max=MAX_RETENTION_MONTHS.to_string() step="1"
                            required value=p.retention_months.to_string() aria-describedby="retention-hint" />
                    </label>
                    <label>"Offers a trial of (days)"
                        <input name="plan[trial_days]" type="number" min="0" max=tollbooth::plans::MAX_TRIAL_DAYS.to_string() step="1"
                            required value=p.trial_days.to_string() data-testid="trial-days" />
                    </label>
                </div>
                <p class="muted small">"Trial: how many days an owner on a free plan may try this plan for free, once per organization;                     0 offers none. A platform admin can start a trial of any length on the organization's page."</p>
                <p class="muted small" id="retention-hint">{format!("Retention: 1 to {MAX_RETENTION_MONTHS} months. Raw events older than this move to the archive; \
                    rollups, invoices and the audit log are kept.")}</p>
                <p class="muted small">"Stripe price: the Price organizations subscribe to through Checkout; empty means the plan \
                    cannot be bought here. STRIPE_PLAN_PRICES, when it names this plan, wins over it."</p>
                <h2>"Limits"</h2>
                <p class="muted">"Empty value: unlimited. Cost in USD. A soft limit allows use beyond it, billed at the overage price per unit (USD)."</p>
                <table class="table limits-editor" data-testid="limits-editor">
                    <thead><tr><th>"Limit"</th><th>"Value"</th><th>"Kind"</th><th>"Overage (USD per unit)"</th></tr></thead>
                    <tbody>
                        {slots().enumerate().map(|(i, (metric, period))| {
                            let l = p.limit(metric, period);
                            let name = |field: &str| format!("plan[limits][{i}][{field}]");
                            let label = slot_label(metric, period);
                            view! {
                                <tr data-limit=format!("{}-{}", metric.as_str(), period.as_str())>
                                    <th scope="row">{label.clone()}
                                        <input type="hidden" name=name("metric") value=metric.as_str() />
                                        <input type="hidden" name=name("period") value=period.as_str() />
                                    </th>
                                    <td><input name=name("value") value=value_text(l) aria-label=label.clone() placeholder="Unlimited" inputmode="decimal" autocomplete="off" /></td>
                                    <td>{hard_select(name("hard"), period, l.is_none_or(|l| l.hard))}</td>
                                    <td>{(period != Period::Minute).then(|| view! {
                                        <input name=name("overage_usd") value=overage_text(l) aria-label=format!("{label} overage") inputmode="decimal" autocomplete="off" />
                                    })}
                                    {(period == Period::Minute).then(|| view! { <input type="hidden" name=name("overage_usd") value="" /> })}
                                    </td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
                <div class="row"><button type="submit">"Save plan"</button></div>
            </ActionForm>
            {action_error(save.value())}
            {move || save.value().get().and_then(Result::ok).map(|_| view! { <p class="ok" role="status">"Plan saved."</p> })}
        </section>
        <section class="card">
            <h2>"Archive or delete"</h2>
            <p class="muted">"An archived plan keeps its organizations but no organization can be moved onto it. \
                Only a plan no organization is on can be deleted."</p>
            <div class="row">
                <ActionForm action=archive>
                    <input type="hidden" name="code" value=code_archive />
                    <input type="hidden" name="archived" value=(!archived).to_string() />
                    <button type="submit" class="small">{if archived { "Restore plan" } else { "Archive plan" }}</button>
                </ActionForm>
                <ActionForm action=delete>
                    <input type="hidden" name="code" value=code_delete />
                    <button type="submit" class="danger small">"Delete plan"</button>
                </ActionForm>
            </div>
            {action_error(archive.value())}
            {action_error(delete.value())}
        </section>
    }
}

/// `/admin/org?id=…`: an organization's plan, and every limit with the
/// plan's value and the override next to it.
#[component]
pub fn AdminOrgPage() -> impl IntoView {
    let query = use_query_map();
    let id = Memo::new(move |_| query.read().get("id").unwrap_or_default());
    let move_plan = ServerAction::<AdminSetOrgPlan>::new();
    let set = ServerAction::<AdminSetOverride>::new();
    let clear = ServerAction::<AdminClearOverride>::new();
    let data = data(
        move || (id.get(), move_plan.version().get(), set.version().get(), clear.version().get()),
        |(id, ..)| admin_org(id),
    );
    view! {
        <Title text="Organization · Admin · Tollbooth" />
        <div class="content standalone wide">
            <p><a href="/admin">"← Platform admin"</a></p>
            {action_error(move_plan.value())}
            {action_error(set.value())}
            {action_error(clear.value())}
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(d) => {
                            let name = d.org.name.clone();
                            let paid_plans: Vec<(String, String)> =
                                d.plans.iter().filter(|p| p.monthly_price_nanos > 0 && p.archived_at.is_none()).map(|p| (p.code.clone(), p.name.clone())).collect();
                            view! {
                                {org_view(d, id, move_plan, set, clear)}
                                <crate::pages::admin_trial::OrgTrial id paid_plans />
                                <crate::pages::admin_org::OrgStatus id org_name=name.clone() />
                                <crate::pages::admin_org::OrgActivity id org_name=name />
                            }.erase()
                        }
                        Err(e) if e.is_not_found() => view! { <h1>"Organization not found"</h1> }.erase(),
                        Err(e) => refused(e),
                    }
                })}
            </Transition>
        </div>
    }
}

fn org_view(
    d: AdminOrgDetail,
    id: Memo<String>,
    move_plan: ServerAction<AdminSetOrgPlan>,
    set: ServerAction<AdminSetOverride>,
    clear: ServerAction<AdminClearOverride>,
) -> impl IntoView {
    let AdminOrgDetail { org, plan, plans } = d;
    let org_id = org.id.clone();
    let (current_code, plan_name, time_zone) = (plan.plan_code.clone(), plan.plan_name.clone(), plan.time_zone.clone());
    let table = override_table(&plan, org_id.clone(), org.name.clone(), set, clear);
    let chosen = RwSignal::new(current_code.clone());
    let plan_labels: Vec<(String, String)> = plans.iter().map(|p| (p.code.clone(), format!("{} ({})", p.name, p.price_label()))).collect();
    let (org_name_plan, plan_name_now) = (org.name.clone(), plan_name.clone());
    let retention = plans.iter().find(|p| p.code == current_code).map(|p| p.retention_months);
    view! {
        <h1>{org.name.clone()}</h1>
        <p class="muted"><code>{org.id.clone()}</code> " · " {org.members} " member(s) · created " {format_time(org.created_at)}
            " · time zone " {time_zone}</p>
        <section class="org-usage" data-testid="org-usage" aria-label="Usage">
            <h2>"Usage, as the organization sees it"</h2>
            <p class="muted">"Read-only; dates in the organization's time zone."</p>
            <crate::pages::usage::UsagePanel org_id=id admin=true />
        </section>
        <section class="card">
            <h2>"Plan"</h2>
            <ActionForm action=move_plan attr:class="row">
                <input type="hidden" name="org_id" value=org_id.clone() />
                <label>"Plan"
                    <select name="plan" on:change=move |ev| chosen.set(event_target_value(&ev))>
                        {plans.into_iter().map(|p| {
                            let selected = p.code == current_code;
                            let label = format!("{} ({})", p.name, p.price_label());
                            view! { <option value=p.code selected=selected>{label}</option> }
                        }).collect_view()}
                    </select>
                </label>
                <ConfirmSubmit label="Change plan" describe=Callback::new(move |_| {
                    let code = chosen.get_untracked();
                    let to = plan_labels.iter().find(|(c, _)| *c == code).map(|(_, l)| l.clone()).unwrap_or(code);
                    format!("Move {org_name_plan} from {plan_name_now} to {to}? Its limits change at once.")
                }) />
            </ActionForm>
            <p>"Now on " <strong data-testid="org-plan">{plan_name}</strong> "."
                {retention.map(|m| view! {
                    " Raw events are kept " <span data-testid="org-retention">{months_text(m)}</span>
                    ", then archived."
                })}
            </p>
        </section>
        <h2>"Limits and overrides"</h2>
        <p class="muted">"The override, when set, replaces the plan's limit for this organization. An empty value overrides to unlimited."</p>
        {table}
    }
}

fn override_table(
    plan: &OrgPlan,
    org_id: String,
    org_name: String,
    set: ServerAction<AdminSetOverride>,
    clear: ServerAction<AdminClearOverride>,
) -> impl IntoView {
    let rows = slots()
        .map(|(metric, period)| {
            let found = plan.limits.iter().find(|l| l.metric == metric && l.period == period);
            let plan_limit = found.and_then(|l| l.plan.clone());
            let overridden = found.and_then(|l| l.overridden.clone());
            let label = slot_label(metric, period);
            let (org_set, org_clear) = (org_id.clone(), org_id.clone());
            // The form starts from the limit in force (override, else plan).
            let current: Option<Limit> = match &overridden {
                Some(o) => o.clone(),
                None => plan_limit.clone(),
            };
            let (value, overage) = (value_text(current.as_ref()), overage_text(current.as_ref()));
            let hard = current.as_ref().is_none_or(|l| l.hard);
            let input = NodeRef::<leptos::html::Input>::new();
            let (set_text, clear_text) = {
                let (org, label) = (org_name.clone(), label.clone());
                let plan_text = value_text(plan_limit.as_ref());
                let plan_text = if plan_text.is_empty() { "unlimited".to_string() } else { plan_text };
                (
                    Callback::new(move |_| {
                        let v = input.get().map(|i| i.value()).unwrap_or_default();
                        let v = if v.trim().is_empty() { "unlimited".to_string() } else { v.trim().to_string() };
                        format!("Set {label} for {org} to {v}? This replaces the plan's limit.")
                    }),
                    Callback::new({
                        let (org, label) = (org_name.clone(), slot_label(metric, period));
                        move |_| format!("Remove {org}'s custom {label} limit? The plan's ({plan_text}) applies again.")
                    }),
                )
            };
            view! {
                <tr data-limit=format!("{}-{}", metric.as_str(), period.as_str()) class=if overridden.is_some() { "current" } else { "" }>
                    <th scope="row">{label.clone()}</th>
                    <td class="plan-value">{limit_cell(plan_limit.as_ref())}</td>
                    <td class="override-value">{match &overridden {
                        Some(o) => view! { <strong>{limit_cell(o.as_ref())}</strong> " " <span class="badge override">"override"</span> }.erase(),
                        None => view! { <span class="muted">"–"</span> }.erase(),
                    }}</td>
                    <td>
                        <ActionForm action=set attr:class="inline-form">
                            <input type="hidden" name="org_id" value=org_set />
                            <input type="hidden" name="limit[metric]" value=metric.as_str() />
                            <input type="hidden" name="limit[period]" value=period.as_str() />
                            <input name="limit[value]" value=value placeholder="Unlimited" size="12" node_ref=input
                                aria-label=format!("{label} override") inputmode="decimal" autocomplete="off" />
                            {hard_select("limit[hard]".into(), period, hard)}
                            {if period == Period::Minute {
                                view! { <input type="hidden" name="limit[overage_usd]" value="" /> }.erase()
                            } else {
                                view! { <input name="limit[overage_usd]" value=overage placeholder="overage $/unit" size="10"
                                    aria-label=format!("{label} overage") inputmode="decimal" autocomplete="off" /> }.erase()
                            }}
                            <ConfirmSubmit label="Set override" class="small" describe=set_text />
                        </ActionForm>
                    </td>
                    <td>{overridden.is_some().then(|| view! {
                        <ActionForm action=clear>
                            <input type="hidden" name="org_id" value=org_clear />
                            <input type="hidden" name="metric" value=metric.as_str() />
                            <input type="hidden" name="period" value=period.as_str() />
                            <ConfirmSubmit label="Clear" class="danger small" describe=clear_text />
                        </ActionForm>
                    })}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="table overrides" data-testid="overrides">
            <thead><tr><th>"Limit"</th><th>"Plan"</th><th>"Override"</th><th>"Set an override"</th><th></th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn editor_values_read_back_exactly() {
        let cost = Limit { metric: Metric::CostUsd, period: Period::Month, value: 12_500_000_000, hard: false, overage_nanos: Some(2_000) };
        assert_eq!(value_text(Some(&cost)), "12.50");
        assert_eq!(Metric::CostUsd.parse_amount("limit", &value_text(Some(&cost))).unwrap(), cost.value);
        assert_eq!(overage_text(Some(&cost)), "0.000002");
        let tokens = Limit { metric: Metric::Tokens, value: 100_000, hard: true, overage_nanos: None, ..cost };
        assert_eq!(value_text(Some(&tokens)), "100000");
        assert_eq!(overage_text(Some(&tokens)), "");
        assert_eq!(value_text(None), "");
        assert_eq!(org_href("a b"), "/admin/org?id=a%20b");
        assert_eq!(plan_href("team"), "/admin/plans/team");
    }

    #[test]
    fn every_metric_has_a_row_per_allowed_period() {
        assert_eq!(slots().count(), 3 + 2 + 3 + 2 + 2 + 2 + 1 + 1 + 1);
        assert_eq!(slot_label(Metric::Tokens, Period::Month), "AI credits (tokens) per month");
        assert_eq!(slot_label(Metric::Projects, Period::Total), "Projects");
    }
}
