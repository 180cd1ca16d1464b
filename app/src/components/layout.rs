//! The signed-in app shell: navigation, organization switcher, sign-out.

use leptos::prelude::*;
use leptos_router::components::{Outlet, Redirect, A};
use leptos_router::hooks::use_params_map;

use crate::api::alerts::{get_alert_summary, AlertSummary};
use crate::api::auth::{whoami, Logout};
use crate::api::admin::{org_suspension, SuspensionView};
use crate::api::orgs::org_context;
use crate::api::{CurrentOrg, Me};
use crate::components::alerts::{Bell, BudgetBanners};
use crate::components::billing::{DunningBanner, TrialBanner};
use crate::components::meter::{SidebarMeter, UsagePulse};
use crate::components::ErrorMessage;
use crate::data::{data, Data};
use crate::erase::Erase;
use crate::error::AppError;
use crate::pages::NotFound;

/// The current organization id from the route (`/o/:org/...`).
pub fn use_org_id() -> Memo<String> {
    let params = use_params_map();
    Memo::new(move |_| params.read().get("org").unwrap_or_default())
}

/// The current organization and role, provided by [`OrgLayout`] to its pages.
pub fn use_org() -> CurrentOrg {
    expect_context::<CurrentOrg>()
}

/// Provided by [`OrgLayout`]: pages that change alerts (acknowledging) bump
/// it, so the shell's bell and banner fetch their summary again.
#[derive(Debug, Clone, Copy)]
pub struct AlertsChanged(RwSignal<u64>);

impl AlertsChanged {
    /// Tells the shell that alerts changed.
    pub fn bump(self) {
        self.0.update(|n| *n += 1);
    }
}

/// Everything under `/o/:org`: checks sign-in and membership, then shows the page.
#[component]
pub fn OrgLayout() -> impl IntoView {
    let org_id = use_org_id();
    let me = data(|| (), |_| whoami());
    let org = data(move || org_id.get(), org_context);
    let suspension = data(move || org_id.get(), org_suspension);
    let changed = RwSignal::new(0u64);
    provide_context(AlertsChanged(changed));
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match (me.await, org.await) {
                    (Ok(None), _) | (_, Err(crate::error::AppError { status: 401, .. })) => {
                        view! { <Redirect path="/login" /> }.erase()
                    }
                    (Ok(Some(me)), Ok(ctx)) => {
                        if let Ok(Some(s)) = suspension.await {
                            return view! { <Suspended me ctx suspension=s /> }.erase();
                        }
                        provide_context(ctx.clone());
                        view! { <Shell me ctx changed /> }.erase()
                    }
                    (_, Err(e)) if e.is_not_found() => view! { <NotFound /> }.erase(),
                    (Err(e), _) | (_, Err(e)) => view! { <ErrorMessage message=e.message /> }.erase(),
                }
            })}
        </Suspense>
    }
}

/// The organization's pages with navigation. The alert summary is fetched
/// here, not in the layout: a suspended organization's server functions
/// refuse, and its "suspended" page needs none of them.
#[component]
fn Shell(me: Me, ctx: CurrentOrg, changed: RwSignal<u64>) -> impl IntoView {
    let org_for_summary = ctx.org.id.clone();
    let summary: Data<Result<AlertSummary, AppError>> =
        data(move || (org_for_summary.clone(), changed.get()), |(org, _)| get_alert_summary(org));
    let base = format!("/o/{}", ctx.org.id);
    let link = move |suffix: &str| format!("{base}{suffix}");
    let is_admin = me.user.is_platform_admin;
    let current = ctx.org.id.clone();
    let is_demo = ctx.is_demo;
    let sample_usage = ctx.sample_usage;
    let grace_until = ctx.grace_until.clone();
    let trial = ctx.trial.clone();
    // The sidebar meter's poll; the usage panel watches the same pulse.
    let pulse = UsagePulse::new();
    provide_context(pulse);
    pulse.poll(ctx.org.id.clone());
    view! {
        <div class="app">
            <nav class="sidebar" aria-label="Main">
                <div class="sidebar-top">
                    <a class="brand" href="/">"Tollbooth"</a>
                    <Bell href=link("/alerts") summary />
                </div>
                <OrgSwitcher me=me.clone() current />
                <SidebarMeter pulse />
                <ul>
                    <li><A href=link("") exact=true>"Usage"</A></li>
                    <li><A href=link("/projects")>"Projects"</A></li>
                    <li><A href=link("/users")>"End users"</A></li>
                    <li><A href=link("/plans")>"Plans"</A></li>
                    <li><A href=link("/billing")>"Billing"</A></li>
                    <li><A href=link("/budgets")>"Budgets"</A></li>
                    <li><A href=link("/alerts")>"Alerts"</A></li>
                    <li><A href=link("/recommendations")>"Recommendations"</A></li>
                    <li><A href=link("/keys")>"API keys"</A></li>
                    <li><A href=link("/providers")>"Providers"</A></li>
                    <li><A href=link("/connect")>"Connect"</A></li>
                    <li><A href=link("/members")>"Members"</A></li>
                    <li><A href=link("/settings")>"Settings"</A></li>
                    {(ctx.role >= tollbooth::orgs::Role::Admin).then(|| view! { <li><A href=link("/audit")>"Audit log"</A></li> })}
                    {is_admin.then(|| view! { <li><a href="/admin">"Admin"</a></li> })}
                </ul>
                <div class="who">
                    <a class="email" href="/account" title="Your account: password, sessions">{me.user.email.clone()}</a>
                    <span class="role">{ctx.role.as_str()}</span>
                    <LogoutButton />
                </div>
            </nav>
            <main class="content">
                // The demo organization is on an unlimited plan: say so on
                // every page, so nobody mistakes it for a real plan's limits.
                {is_demo.then(|| view! {
                    <div class="demo-banner" role="status" data-testid="demo-banner">
                        "Demo mode: unlimited access, usage is tracked"
                    </div>
                })}
                // Sample usage recorded at first start: say so on every page,
                // so its figures are never taken for real spend.
                {sample_usage.then(|| view! {
                    <div class="sample-notice" role="note" data-testid="sample-notice">
                        "This organization shows 30 days of sample usage, recorded when Tollbooth first started: "
                        "made-up calls by made-up users, and a sample budget. Usage sent with its API keys is added beside it."
                    </div>
                })}
                <DunningBanner grace_until billing_href=link("/billing") />
                <TrialBanner trial billing_href=link("/billing") />
                <BudgetBanners budgets_href=link("/budgets") summary />
                <Outlet />
            </main>
        </div>
    }
}

/// What members of a suspended organization see instead of its pages.
#[component]
fn Suspended(me: Me, ctx: CurrentOrg, suspension: SuspensionView) -> impl IntoView {
    let since = crate::components::format::readable_time(&suspension.since);
    let others = me.orgs.iter().filter(|o| o.id != ctx.org.id).count();
    view! {
        <div class="content standalone">
            <section class="card suspended-page" role="alert" data-testid="org-suspended">
                <h1>"This organization is suspended"</h1>
                <p><strong>{ctx.org.name.clone()}</strong> " has been suspended since " {since} "."</p>
                <p>"Reason: " <strong data-testid="suspension-reason">{suspension.reason.clone()}</strong></p>
                <p>"Its pages and API keys are unavailable until it is reactivated. Please contact the Tollbooth platform administrators "
                   "(your organization's owners can reach them through their usual support channel) to resolve it."</p>
                {me.user.is_platform_admin.then(|| view! {
                    <p><a href=format!("/admin/org?id={}", ctx.org.id)>"Open it in the admin area"</a></p>
                })}
                {(others > 0).then(|| view! { <OrgSwitcher me=me.clone() current=ctx.org.id.clone() /> })}
                <LogoutButton />
            </section>
        </div>
    }
}

/// A select of the user's organizations; choosing one opens it.
#[component]
fn OrgSwitcher(me: Me, current: String) -> impl IntoView {
    let on_change = move |ev: leptos::ev::Event| {
        let id = event_target_value(&ev);
        if let Some(w) = web_sys::window() {
            let _ = w.location().set_href(&format!("/o/{id}"));
        }
    };
    view! {
        <label class="switcher">
            <span>"Organization"</span>
            <select name="org" on:change=on_change>
                {me
                    .orgs
                    .into_iter()
                    .map(|o| {
                        let selected = o.id == current;
                        view! { <option value=o.id.clone() selected=selected>{o.name}</option> }
                    })
                    .collect_view()}
            </select>
        </label>
    }
}

/// Signs out and returns to the login page.
#[component]
pub fn LogoutButton() -> impl IntoView {
    let logout = ServerAction::<Logout>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = logout.value().get() {
            if let Some(w) = web_sys::window() {
                let _ = w.location().set_href("/login");
            }
        }
    });
    view! {
        <ActionForm action=logout>
            <button type="submit" class="link">"Sign out"</button>
        </ActionForm>
    }
}
