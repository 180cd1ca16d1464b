//! The drill-down's trial section (`/admin/org?id=…`): the organization's
//! trial, and the platform admin's start (any paid plan, any length),
//! extend (reason required) and cancel.

use leptos::prelude::*;

use crate::api::trials::{admin_org_trial, AdminCancelTrial, AdminExtendTrial, AdminStartTrial};
use crate::components::format::readable_time;
use crate::components::{action_error, Loaded};
use crate::data::data;
use crate::erase::Erase;
use crate::pages::go_to;

#[component]
pub fn OrgTrial(id: Memo<String>, paid_plans: Vec<(String, String)>) -> impl IntoView {
    let start = ServerAction::<AdminStartTrial>::new();
    let extend = ServerAction::<AdminExtendTrial>::new();
    let cancel = ServerAction::<AdminCancelTrial>::new();
    // Starting or ending a trial moves the plan: the whole page reloads.
    Effect::new(move |_| {
        let done = matches!(start.value().get(), Some(Ok(_))) || matches!(cancel.value().get(), Some(Ok(_)));
        if done {
            go_to(&format!("/admin/org?id={}", crate::url::encode_query(&id.get_untracked())));
        }
    });
    let trial = data(move || (id.get(), extend.version().get()), |(id, _)| admin_org_trial(id));
    view! {
        <section class="card" data-testid="org-trial">
            <h2>"Trial"</h2>
            {action_error(start.value())}
            {action_error(extend.value())}
            {action_error(cancel.value())}
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || {
                    let plans = paid_plans.clone();
                    Suspend::new(async move {
                        let result = trial.await;
                        view! {
                            <Loaded result ok=move |value| {
                                let active = value.as_ref().is_some_and(|t| t.status == "active");
                                let summary = value.as_ref().map(|t| view! {
                                    <p data-testid="trial-summary">
                                        <strong>{t.plan_name.clone()}</strong> " trial, " <span class=format!("badge trial-{}", t.status)>{t.status.clone()}</span>
                                        {t.started_at.as_deref().map(|s| format!(" · started {}", readable_time(s)))}
                                        " · ends " <span data-testid="trial-ends-at">{readable_time(&t.ends_at)}</span>
                                        {active.then(|| format!(" · {} day{} left", t.days_left, if t.days_left == 1 { "" } else { "s" }))}
                                        {(t.source == "stripe").then_some(" · kept by Stripe")}
                                    </p>
                                });
                                let stripe = value.as_ref().is_some_and(|t| t.source == "stripe");
                                let plans = plans.clone();
                                view! {
                                    {summary}
                                    {(value.is_none()).then(|| view! { <p class="empty">"No trial yet."</p> })}
                                    {(active && !stripe).then(|| view! {
                                        <ActionForm action=extend attr:class="row" attr:data-testid="extend-trial">
                                            <input type="hidden" name="org_id" value=id.get_untracked() />
                                            <label>"Extend by (days)" <input type="number" name="days" min="1" max="365" value="7" required /></label>
                                            <label>"Reason" <input type="text" name="reason" required placeholder="Why it is extended" /></label>
                                            <button type="submit" class="small">"Extend"</button>
                                        </ActionForm>
                                        <ActionForm action=cancel attr:class="row">
                                            <input type="hidden" name="org_id" value=id.get_untracked() />
                                            <button type="submit" class="small secondary">"End the trial now"</button>
                                        </ActionForm>
                                    })}
                                    {(!active).then(|| view! {
                                        <ActionForm action=start attr:class="row" attr:data-testid="start-trial-admin">
                                            <input type="hidden" name="org_id" value=id.get_untracked() />
                                            <label>"Plan" <select name="plan">
                                                {plans.into_iter().map(|(code, name)| view! { <option value=code>{name}</option> }).collect_view()}
                                            </select></label>
                                            <label>"Days" <input type="number" name="days" min="1" max="365" value="14" required /></label>
                                            <button type="submit" class="small">"Start a trial"</button>
                                        </ActionForm>
                                    })}
                                }.erase()
                            } />
                        }
                    })
                }}
            </Transition>
        </section>
    }
}
