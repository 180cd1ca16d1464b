//! Organization settings: name and time zone.

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
                    <button type="submit">"Save settings"</button>
                </fieldset>
            </ActionForm>
            {(!can_manage).then(|| view! { <p class="muted">"Only owners and admins can change settings."</p> })}
            {action_error(update.value())}
            {move || update.value().get().and_then(Result::ok).map(|o| view! {
                <p class="ok" role="status">"Saved: " {o.name} " (" {o.time_zone} ")."</p>
            })}
        </section>
    }
}
