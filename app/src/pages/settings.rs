//! Organization settings: name, time zone, and whether the gateway refuses
//! models without a price.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::orgs::UpdateOrg;
use crate::components::action_error;
use crate::components::layout::{use_org, use_org_id};

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
    }
}
