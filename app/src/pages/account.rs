//! `/account`: the signed-in user's own security — change the password,
//! sign out everywhere.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;

use super::go_to;
use crate::api::auth::{whoami, ChangePassword, LogoutEverywhere};
use crate::components::{action_error, Loaded};
use crate::data::data;
use crate::erase::Erase;

#[component]
pub fn AccountPage() -> impl IntoView {
    let me = data(|| (), |_| whoami());
    let change = ServerAction::<ChangePassword>::new();
    let everywhere = ServerAction::<LogoutEverywhere>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = everywhere.value().get() {
            go_to("/login");
        }
    });
    view! {
        <Title text="Your account · Tollbooth" />
        <div class="content standalone">
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let result = me.await;
                    view! {
                        <Loaded result ok=move |value| match value {
                            Some(me) => {
                                let back = me.current_org.as_ref().map(|o| format!("/o/{o}")).unwrap_or_else(|| "/".into());
                                view! {
                                    <p><a href=back>"← Back to the app"</a></p>
                                    <h1>"Your account"</h1>
                                    <p>"Signed in as " <strong data-testid="account-email">{me.user.email.clone()}</strong> "."</p>
                                    <section class="card narrow">
                                        <h2>"Change password"</h2>
                                        <p class="muted">"Your other sessions are signed out; this one stays signed in."</p>
                                        <ActionForm action=change>
                                            <label>"Current password"
                                                <input name="current_password" type="password" required autocomplete="current-password" />
                                            </label>
                                            <label>"New password"
                                                <input name="new_password" type="password" required minlength="8" autocomplete="new-password" />
                                            </label>
                                            <label>"New password, again"
                                                <input name="confirm_password" type="password" required minlength="8" autocomplete="new-password" />
                                            </label>
                                            {action_error(change.value())}
                                            {move || matches!(change.value().get(), Some(Ok(()))).then(|| view! {
                                                <p class="ok" role="status">"Password changed. Your other sessions were signed out."</p>
                                            })}
                                            <button type="submit" disabled=move || change.pending().get()>"Change password"</button>
                                        </ActionForm>
                                    </section>
                                    <section class="card narrow">
                                        <h2>"Sessions"</h2>
                                        <p class="muted">"Signs you out on every device and browser, this one included."</p>
                                        <ActionForm action=everywhere>
                                            {action_error(everywhere.value())}
                                            <button type="submit" class="danger">"Sign out everywhere"</button>
                                        </ActionForm>
                                    </section>
                                }
                                .erase()
                            }
                            None => view! { <Redirect path="/login" /> }.erase(),
                        } />
                    }
                    .erase()
                })}
            </Suspense>
        </div>
    }
}
