//! The mail outbox (`/admin/outbox`, platform admins): alert e-mail of every
//! organization, held when no SMTP server is configured, sent or failed.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;

use crate::api::alerts::admin_outbox;
use crate::components::format::readable_time;
use crate::components::ErrorMessage;
use crate::data::data;
use crate::erase::Erase;

#[component]
pub fn AdminOutboxPage() -> impl IntoView {
    let mails = data(|| (), |_| admin_outbox());
    view! {
        <Title text="Mail outbox · Admin · Tollbooth" />
        <div class="content standalone wide">
            <p><a href="/admin">"← Platform admin"</a></p>
            <h1>"Mail outbox"</h1>
            <p class="muted">
                "Alert e-mail of every organization, newest first. Without " <code>"SMTP_URL"</code>
                " mail is held here instead of sent."
            </p>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match mails.await {
                        Ok(list) if list.is_empty() => {
                            view! { <p class="empty">"No alert mail yet."</p> }.erase()
                        }
                        Ok(list) => view! {
                            <table class="table outbox" data-testid="outbox">
                                <thead><tr>
                                    <th>"Created"</th><th>"Organization"</th><th>"To"</th><th>"Subject and body"</th>
                                    <th>"State"</th><th>"Sent"</th>
                                </tr></thead>
                                <tbody>
                                    {list.into_iter().map(|m| view! {
                                        <tr data-state=m.state.clone()>
                                            <td class="nowrap">{readable_time(&m.created_at)}</td>
                                            <td>{m.org_name.clone()}</td>
                                            <td>{m.recipient.clone()}</td>
                                            <td class="mail">
                                                <details>
                                                    <summary>{m.subject.clone()}</summary>
                                                    <pre class="mail-body">{m.body.clone()}</pre>
                                                </details>
                                            </td>
                                            <td>
                                                <span class=format!("badge state {}", m.state)>{m.state.clone()}</span>
                                                {(m.attempts > 0).then(|| view! { <span class="sub">{format!("{} attempts", m.attempts)}</span> })}
                                                {m.last_error.clone().map(|e| view! { <span class="sub">{e}</span> })}
                                            </td>
                                            <td class="nowrap">{m.sent_at.as_deref().map(readable_time).unwrap_or_else(|| "—".into())}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.erase(),
                        Err(e) if e.is_unauthorized() => view! { <Redirect path="/login" /> }.erase(),
                        Err(e) => view! { <ErrorMessage message=e.message /> }.erase(),
                    }
                })}
            </Suspense>
        </div>
    }
}
