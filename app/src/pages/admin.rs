//! The platform admin area.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;

use crate::api::admin::admin_list_orgs;
use crate::api::usage::admin_unpriced_models;
use crate::components::{format_time, ErrorMessage};
use crate::pages::admin_plans::org_href;
use crate::pages::prices::new_model_href;

#[component]
pub fn AdminPage() -> impl IntoView {
    let orgs = Resource::new(|| (), |_| admin_list_orgs());
    let unpriced = Resource::new(|| (), |_| admin_unpriced_models());
    view! {
        <Title text="Admin · Tollbooth" />
        <div class="content standalone">
            <p><a href="/">"← Back to the app"</a></p>
            <h1>"Platform admin"</h1>
            <nav class="row admin-nav" aria-label="Admin">
                <a href="/admin/prices" class="button-link">"Price book"</a>
                <a href="/admin/plans" class="button-link">"Plans"</a>
                <a href="/admin/credit-packs" class="button-link">"Credit packs"</a>
                <a href="/admin/outbox" class="button-link">"Mail outbox"</a>
            </nav>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match orgs.await {
                        Ok(list) => view! {
                            <h2>"Organizations (" {list.len()} ")"</h2>
                            <table class="table">
                                <thead><tr><th>"Name"</th><th>"Plan"</th><th>"Members"</th><th>"Created"</th><th>"Id"</th></tr></thead>
                                <tbody>
                                    {list.into_iter().map(|o| view! {
                                        <tr>
                                            <td><a href=org_href(&o.id)>{o.name}</a></td>
                                            <td><code>{o.plan_code}</code></td>
                                            <td class="num">{o.members}</td>
                                            <td>{format_time(o.created_at)}</td>
                                            <td><code>{o.id}</code></td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any(),
                        Err(e) if e.is_unauthorized() => view! { <Redirect path="/login" /> }.into_any(),
                        Err(e) => view! { <ErrorMessage message=e.message /> }.into_any(),
                    }
                })}
            </Suspense>
            <Suspense>
                {move || Suspend::new(async move {
                    unpriced.await.ok().map(|list| view! {
                        <h2>"Unpriced models seen (" {list.len()} ")"</h2>
                        {if list.is_empty() {
                            view! { <p class="empty">"Every event so far had a price."</p> }.into_any()
                        } else {
                            view! {
                                <table class="table" data-testid="unpriced-models">
                                    <thead><tr><th>"Model"</th><th class="num">"Events"</th><th class="num">"Organizations"</th><th>"Last seen"</th><th></th></tr></thead>
                                    <tbody>
                                        {list.into_iter().map(|m| view! {
                                            <tr>
                                                <td><code>{m.model.clone()}</code></td>
                                                <td class="num">{m.events}</td>
                                                <td class="num">{m.organizations}</td>
                                                <td>{format_time(m.last_seen_ms)}</td>
                                                <td><a href=new_model_href(&m.model)>"Add as custom model"</a></td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            }.into_any()
                        }}
                    })
                })}
            </Suspense>
        </div>
    }
}
