//! Organization settings: name, time zone, whether the gateway refuses
//! models without a price, the origins allowed to frame the usage meter, and
//! where the per-user limits are set (the End users page).

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::orgs::{embed_origins, UpdateEmbedOrigins, UpdateOrg};
use crate::components::{action_error, Loaded};
use crate::components::layout::{use_org, use_org_id};
use crate::data::data;
use crate::erase::Erase;

/// Common zones offered as suggestions; any IANA name is accepted.
const ZONES: &[&str] = &[
    "UTC", "Europe/London", "Europe/Paris", "Europe/Berlin", "America/New_York", "America/Chicago",
    "America/Denver", "America/Los_Angeles", "America/Sao_Paulo", "Asia/Kolkata", "Asia/Singapore",
    "Asia/Tokyo", "Australia/Sydney", "Pacific/Auckland",
];

#[component]
pub fn SettingsPage() -> impl IntoView {
    let org_id = use_org_id();
    let ctx = use_org();
    let can_manage = ctx.role.can_manage();
    let update = ServerAction::<UpdateOrg>::new();
    view! {
        <Title text="Settings · Tollbooth" />
        <h1>"Settings"</h1>
        <section class="card">
            <ActionForm action=update>
                <input type="hidden" name="org_id" value=org_id.get_untracked() />
                <fieldset disabled=!can_manage>
                    <label>"Organization name" <input name="name" required maxlength="100" value=ctx.org.name.clone() /></label>
                    <label>
                        "Time zone (day and month windows start at midnight here)"
                        <input name="time_zone" list="zones" required value=ctx.org.time_zone.clone() />
                    </label>
                    <datalist id="zones">{ZONES.iter().map(|z| view! { <option value=*z /> }).collect_view()}</datalist>
                    <label class="inline">
                        <input type="checkbox" name="refuse_unpriced_models" checked=ctx.org.refuse_unpriced_models />
                        "Refuse calls to models without a price (gateway)"
                    </label>
                    <p class="muted hint">
                        "Off: forwarded and recorded without a cost (Usage → \"Models without a price\"); on: refused with a 400 naming the model."
                    </p>
                    <button type="submit">"Save settings"</button>
                </fieldset>
            </ActionForm>
            {(!can_manage).then(|| view! { <p class="muted">"Only owners and admins can change settings."</p> })}
            {action_error(update.value())}
            {move || update.value().get().and_then(Result::ok).map(|o| view! {
                <p class="ok" role="status">
                    "Saved: " {o.name} " (" {o.time_zone} "); models without a price are "
                    {if o.refuse_unpriced_models { "refused" } else { "forwarded and recorded unpriced" }} "."
                </p>
            })}
        </section>
        <EmbedOrigins can_manage />
        <section class="card" data-testid="per-user-limits-link">
            <h2>"Per-user limits"</h2>
            <p>"Default limits for each end user of your product (tokens and cost per day and month, requests per minute), "
               "their on/off switch and per-user overrides live on the "
               <a href=format!("/o/{}/users", org_id.get_untracked())>"End users"</a> " page."</p>
        </section>
    }
}

/// "Embed origins": the pages allowed to show the usage meter in a frame
/// (`GET /embed/usage`, tokens from `POST /api/v1/embed-tokens`).
#[component]
fn EmbedOrigins(can_manage: bool) -> impl IntoView {
    let org_id = use_org_id();
    let update = ServerAction::<UpdateEmbedOrigins>::new();
    let origins = data(move || (org_id.get(), update.version().get()), |(id, _)| embed_origins(id));
    view! {
        <section class="card" data-testid="embed-origins">
            <h2>"Embed origins"</h2>
            <p class="muted hint">
                "Pages of these origins may show your usage meter in an iframe (everything else is refused by the browser). "
                "One origin a line, such as https://app.example.com; plain http only for localhost. "
                "Get a meter link with POST /api/v1/embed-tokens (a read key)."
            </p>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let result = origins.await;
                    view! {
                        <Loaded result ok=move |list| view! { <OriginsForm list update can_manage /> } />
                    }
                    .erase()
                })}
            </Suspense>
            {action_error(update.value())}
            {move || update.value().get().and_then(Result::ok).map(|list| view! {
                <p class="ok" role="status">
                    {if list.is_empty() { "Saved: no page may frame the meter.".to_string() } else { format!("Saved: {}.", list.join(", ")) }}
                </p>
            })}
        </section>
    }
}

#[component]
fn OriginsForm(list: Vec<String>, update: ServerAction<UpdateEmbedOrigins>, can_manage: bool) -> impl IntoView {
    let org_id = use_org_id();
    view! {
        <ActionForm action=update>
            <input type="hidden" name="org_id" value=org_id.get_untracked() />
            <fieldset disabled=!can_manage>
                <label>"Origins"
                    <textarea name="origins" rows="3" placeholder="https://app.example.com">{list.join("\n")}</textarea>
                </label>
                <button type="submit">"Save embed origins"</button>
            </fieldset>
        </ActionForm>
    }
}
