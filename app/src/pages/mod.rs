//! One module per page.

mod account;
pub(crate) mod admin;
mod admin_credits;
mod admin_org;
mod admin_plans;
mod admin_trial;
mod alert_settings;
mod alerts;
mod audit;
mod auth;
mod billing;
mod budgets;
mod connect;
mod keys;
mod members;
mod outbox;
pub(crate) mod plans;
mod prices;
mod projects;
mod providers;
mod recommendations;
mod settings;
pub(crate) mod usage;
mod users;

pub use account::AccountPage;
pub use admin::AdminPage;
pub use admin_credits::AdminCreditPacksPage;
pub use admin_plans::{AdminOrgPage, AdminPlanPage, AdminPlansPage};
pub use alert_settings::AlertSettingsPage;
pub use alerts::AlertsPage;
pub use audit::{AdminAuditPage, OrgAuditPage};
pub use auth::{InvitePage, LoginPage, SignupPage};
pub use connect::ConnectPage;
pub use keys::KeysPage;
pub use users::{UserPage, UsersPage};
pub use members::MembersPage;
pub use budgets::{BudgetPage, BudgetsPage};
pub use outbox::AdminOutboxPage;
pub use billing::{BillingPage, InvoicePage};
pub use plans::PlansPage;
pub use projects::ProjectsPage;
pub use providers::ProvidersPage;
pub use recommendations::RecommendationsPage;
pub use prices::{NewModelPage, PriceDetailPage, PricesPage};
pub use usage::UsagePage;
pub use settings::SettingsPage;

use leptos::prelude::*;
use leptos_router::components::Redirect;

use crate::api::auth::whoami;
use crate::components::Loaded;
use crate::data::data;
use crate::erase::Erase;
use crate::error::AppError;

/// Full page load to `to` (so the shell re-renders with the new session).
pub(crate) fn go_to(to: &str) {
    if let Some(w) = web_sys::window() {
        let _ = w.location().set_href(to);
    }
}

/// Navigates when an action that returns a destination succeeds.
pub(crate) fn go_on_success(value: impl Get<Value = Option<Result<String, AppError>>> + Send + Sync + 'static) {
    Effect::new(move |_| {
        if let Some(Ok(to)) = value.get() {
            go_to(&to);
        }
    });
}

/// `/`: the current organization when signed in, else the login page.
#[component]
pub fn Home() -> impl IntoView {
    let me = data(|| (), |_| whoami());
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let result = me.await;
                view! {
                    <Loaded result ok=move |value| match value {
                        Some(me) => {
                            let to = match (&me.current_org, me.user.is_platform_admin) {
                                (Some(org), _) => format!("/o/{org}"),
                                (None, true) => "/admin".to_string(),
                                (None, false) => "/signup".to_string(),
                            };
                            view! { <Redirect path=to /> }.erase()
                        }
                        None => view! { <Redirect path="/login" /> }.erase(),
                    } />
                }
                .erase()
            })}
        </Suspense>
    }
}

/// Any unknown path, and ids that do not exist or belong to another organization.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
            resp.set_status(http::StatusCode::NOT_FOUND);
        }
    }
    view! {
        <section class="card narrow">
            <h1>"Not found"</h1>
            <p>"There is nothing here, or you do not have access to it."</p>
            <p><a href="/">"Back to the start"</a></p>
        </section>
    }
}
