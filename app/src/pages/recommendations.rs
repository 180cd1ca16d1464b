//! Recommendations: cheaper models and inefficiencies found in the
//! organization's own usage, each with its evidence and a Dismiss button.

use leptos::prelude::*;
use leptos_meta::Title;
use tollbooth::recommendations::{Recommendation, MIN_CALLS, WINDOW_DAYS};

use crate::api::recommendations::{list_recommendations, DismissRecommendation};
use crate::components::format::usd;
use crate::components::layout::use_org_id;
use crate::components::{action_error, Loaded};
use crate::data::data;
use crate::erase::Erase;

#[component]
pub fn RecommendationsPage() -> impl IntoView {
    let org_id = use_org_id();
    let dismiss = ServerAction::<DismissRecommendation>::new();
    let recs = data(move || (org_id.get(), dismiss.version().get()), |(org, _)| list_recommendations(org));
    let org = move || org_id.get_untracked();
    view! {
        <Title text="Recommendations · Tollbooth" />
        <h1>"Recommendations"</h1>
        <p class="muted">
            {format!(
                "Found in this organization's last {WINDOW_DAYS} days of usage and today's price book: cheaper models \
                 with the same mode and capabilities, priced on your own token mix, and patterns that waste money. \
                 Savings are over {WINDOW_DAYS} days, taken as a month."
            )}
        </p>
        {action_error(dismiss.value())}
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let result = recs.await;
                view! {
                    <Loaded result ok=move |value| match value {
                        list if list.is_empty() => view! {
                            <section class="card" data-testid="no-recommendations">
                                <p class="empty">"Nothing to recommend yet."</p>
                                <p class="muted">{format!(
                                    "Recommendations come from usage: once models are called through Tollbooth (most \
                                     findings need at least {MIN_CALLS} calls to a model in {WINDOW_DAYS} days), any \
                                     cheaper equivalent or wasteful pattern shows here."
                                )}</p>
                            </section>
                        }.erase(),
                        list => view! {
                            <div class="recommendations" data-testid="recommendations">
                                {list.into_iter().map(|r| view! { <RecommendationCard r dismiss org=org() /> }).collect_view()}
                            </div>
                        }.erase(),
                    } />
                }
                .erase()
            })}
        </Transition>
    }
}

#[component]
fn RecommendationCard(r: Recommendation, dismiss: ServerAction<DismissRecommendation>, org: String) -> impl IntoView {
    let evidence = r.evidence_lines();
    let key = r.key.clone();
    view! {
        <section class="card recommendation" data-key=r.key.clone() data-kind=r.kind.as_str()>
            <div class="section-head">
                <h2>{r.title}</h2>
                {r.monthly_saving_usd.map(|s| view! {
                    <span class="saving" title=format!("${s} a month, exactly")>{format!("{} / month", usd(&s))}</span>
                })}
            </div>
            <p>{r.detail}</p>
            <details>
                <summary>"Evidence"</summary>
                <dl class="evidence">
                    {evidence.into_iter().map(|(k, v)| view! { <dt>{k}</dt><dd>{v}</dd> }).collect_view()}
                </dl>
            </details>
            <ActionForm action=dismiss>
                <input type="hidden" name="org_id" value=org />
                <input type="hidden" name="key" value=key />
                <button type="submit" class="small">"Dismiss"</button>
            </ActionForm>
        </section>
    }
}
