//! Reusable pieces of UI.

pub mod alerts;
pub mod billing;
pub mod chart;
pub mod confirm;
pub mod format;
pub mod layout;
pub mod meter;

use leptos::prelude::*;

use crate::erase::Erase;
use crate::error::AppError;

/// A readable error message (role="alert" so tests and screen readers find
/// it); a plan limit's refusal also links to where the plan can be upgraded.
#[component]
pub fn ErrorMessage(#[prop(into)] message: String, #[prop(default = None)] upgrade: Option<String>) -> impl IntoView {
    view! {
        <p class="error" role="alert">
            {message}
            {upgrade.map(|href| view! { " " <a href=href class="upgrade">"Upgrade your plan"</a> })}
        </p>
    }
}

/// A loaded resource: `ok` of its value, or its error as [`ErrorMessage`]
/// (every page's error arm, in one place).
#[component]
pub fn Loaded<T, F, V>(result: Result<T, AppError>, ok: F) -> impl IntoView
where
    T: 'static,
    F: FnOnce(T) -> V + 'static,
    V: IntoView + 'static,
{
    match result {
        Ok(value) => ok(value).erase(),
        Err(e) => view! { <ErrorMessage message=e.message /> }.erase(),
    }
}

/// Shows an action's error, if its last result was one.
pub fn action_error<T: 'static>(
    value: impl Get<Value = Option<Result<T, AppError>>> + Send + Sync + 'static,
) -> impl IntoView {
    move || match value.get() {
        Some(Err(e)) => Some(view! { <ErrorMessage message=e.message upgrade=e.upgrade_path /> }),
        _ => None,
    }
}

/// The page shown by the error boundary.
#[component]
pub fn ErrorPage(errors: ArcRwSignal<Errors>) -> impl IntoView {
    view! {
        <section class="card narrow">
            <h1>"Something went wrong"</h1>
            <ul>
                {move || {
                    errors
                        .get()
                        .into_iter()
                        .map(|(_, e)| view! { <li class="error">{e.to_string()}</li> })
                        .collect_view()
                }}
            </ul>
            <p><a href="/">"Back to the start"</a></p>
        </section>
    }
}

/// An amount of money for people ([`format::usd_of`]), with the exact figure
/// as its tooltip when the one shown is rounded.
#[component]
pub fn Usd(amount: tollbooth::pricing::NanoUsd) -> impl IntoView {
    view! { <span class="usd" title=format::usd_exact_of(amount)>{format::usd_of(amount)}</span> }
}

/// [`Usd`] of an exact USD decimal as the DTOs carry it (`"0.853219"`).
#[component]
pub fn UsdText(#[prop(into)] decimal: String) -> impl IntoView {
    view! { <span class="usd" title=format::usd_exact(&decimal)>{format::usd(&decimal)}</span> }
}
