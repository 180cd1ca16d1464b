//! Login, signup and invite acceptance.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_params_map;

use super::go_on_success;
use crate::api::auth::{whoami, Login, Signup};
use crate::api::orgs::{get_invite, AcceptInvite};
use crate::components::{action_error, ErrorMessage};
use crate::components::format::format_time;
use crate::data::data;
use crate::erase::Erase;

/// Redirects signed-in visitors away from the login and signup pages.
#[component]
fn RedirectIfSignedIn() -> impl IntoView {
    let me = data(|| (), |_| whoami());
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                match me.await {
                    Ok(Some(_)) => Some(view! { <Redirect path="/" /> }),
                    _ => None,
                }
            })}
        </Suspense>
    }
}

/// A password input with a "show" toggle (pure client-side behaviour).
#[component]
fn PasswordField(#[prop(into)] autocomplete: String) -> impl IntoView {
    let (shown, set_shown) = signal(false);
    view! {
        <label>
            "Password"
            <input
                name="password"
                type=move || if shown.get() { "text" } else { "password" }
                required
                minlength="8"
                autocomplete=autocomplete
            />
        </label>
        <label class="inline">
            <input
                type="checkbox"
                name="show_password"
                prop:checked=shown
                on:change=move |ev| set_shown.set(event_target_checked(&ev))
            />
            "Show password"
        </label>
    }
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let login = ServerAction::<Login>::new();
    go_on_success(login.value());
    view! {
        <Title text="Sign in · Tollbooth" />
        <RedirectIfSignedIn />
        <section class="card narrow auth">
            <h1>"Sign in to Tollbooth"</h1>
            <ActionForm action=login>
                <label>"E-mail" <input name="email" type="email" required autocomplete="username" /></label>
                <PasswordField autocomplete="current-password" />
                {action_error(login.value())}
                <button type="submit" disabled=move || login.pending().get()>"Sign in"</button>
            </ActionForm>
            <p>"New here? " <a href="/signup">"Create an account"</a></p>
        </section>
    }
}

#[component]
pub fn SignupPage() -> impl IntoView {
    let signup = ServerAction::<Signup>::new();
    go_on_success(signup.value());
    view! {
        <Title text="Sign up · Tollbooth" />
        <RedirectIfSignedIn />
        <section class="card narrow auth">
            <h1>"Create your Tollbooth account"</h1>
            <p class="muted">"You will own a new organization; invite your team later."</p>
            <ActionForm action=signup>
                <label>"E-mail" <input name="email" type="email" required autocomplete="username" /></label>
                <PasswordField autocomplete="new-password" />
                <label>"Organization name" <input name="org_name" required maxlength="100" /></label>
                {action_error(signup.value())}
                <button type="submit" disabled=move || signup.pending().get()>"Create account"</button>
            </ActionForm>
            <p>"Already have an account? " <a href="/login">"Sign in"</a></p>
        </section>
    }
}

/// `/invite/:token`: join an organization.
#[component]
pub fn InvitePage() -> impl IntoView {
    let params = use_params_map();
    let token = move || params.read().get("token").unwrap_or_default();
    let preview = data(token, get_invite);
    let me = data(|| (), |_| whoami());
    let accept = ServerAction::<AcceptInvite>::new();
    go_on_success(accept.value());
    view! {
        <Title text="Invitation · Tollbooth" />
        <section class="card narrow auth">
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let signed_in = matches!(me.await, Ok(Some(_)));
                    match preview.await {
                        Ok(p) => view! {
                            <h1>"Join " {p.org_name.clone()}</h1>
                            <p>
                                "Invitation for " <strong>{p.email.clone()}</strong> " as "
                                <strong>{p.role.as_str()}</strong> ", valid until "
                                {format_time(p.expires_at)} "."
                            </p>
                            <ActionForm action=accept>
                                <input type="hidden" name="token" value=token() />
                                {(!signed_in).then(|| view! {
                                    // Neutral on purpose: the page must not tell
                                    // whether the e-mail already has an account.
                                    <p class="muted">
                                        "Enter your password: your existing account's, or a new one "
                                        "(at least 8 characters) if you have no account yet."
                                    </p>
                                    <label>"Password" <input name="password" type="password" required minlength="8" /></label>
                                })}
                                {action_error(accept.value())}
                                <button type="submit">"Accept invitation"</button>
                            </ActionForm>
                        }
                        .erase(),
                        Err(e) => view! {
                            <h1>"Invitation"</h1>
                            <ErrorMessage message=e.message />
                        }
                        .erase(),
                    }
                })}
            </Suspense>
        </section>
    }
}
