//! Members: list, invite, change role, remove.

use leptos::prelude::*;
use leptos_meta::Title;
use tollbooth::orgs::Role;

use crate::api::orgs::{list_members, ChangeRole, InviteMember, RemoveMember, RevokeInvite};
use crate::components::layout::{use_org, use_org_id};
use crate::components::{action_error, Loaded};
use crate::components::format::format_time;
use crate::data::data;
use crate::erase::Erase;

fn role_options(selected: Role) -> impl IntoView {
    [Role::Member, Role::Admin, Role::Owner]
        .into_iter()
        .map(|r| view! { <option value=r.as_str() selected=r == selected>{r.as_str()}</option> })
        .collect_view()
}

#[component]
pub fn MembersPage() -> impl IntoView {
    let org_id = use_org_id();
    let can_manage = use_org().role.can_manage();
    let invite = ServerAction::<InviteMember>::new();
    let change = ServerAction::<ChangeRole>::new();
    let remove = ServerAction::<RemoveMember>::new();
    let revoke = ServerAction::<RevokeInvite>::new();
    let data = data(
        move || (org_id.get(), invite.version().get(), change.version().get(), remove.version().get(), revoke.version().get()),
        |(org, ..)| list_members(org),
    );
    let org = move || org_id.get_untracked();
    view! {
        <Title text="Members · Tollbooth" />
        <h1>"Members"</h1>
        {can_manage.then(|| view! {
            <section class="card">
                <h2>"Invite someone"</h2>
                <ActionForm action=invite attr:class="row">
                    <input type="hidden" name="org_id" value=org() />
                    <label>"E-mail" <input name="email" type="email" required /></label>
                    <label>"Role" <select name="role">{role_options(Role::Member)}</select></label>
                    <button type="submit">"Create invite link"</button>
                </ActionForm>
                {action_error(invite.value())}
                {move || invite.value().get().and_then(Result::ok).map(|i| view! {
                    <div class="secret" role="status">
                        <p>"Send this link to " <strong>{i.invite.invite.email}</strong> " (valid 7 days, usable once):"</p>
                        <code class="key" data-testid="invite-link">{i.link}</code>
                    </div>
                })}
            </section>
        })}
        {action_error(change.value())}
        {action_error(remove.value())}
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let result = data.await;
                view! {
                    <Loaded result ok=move |value| match value {
                        (members, invites) => view! {
                            <table class="table">
                                <thead><tr><th>"E-mail"</th><th>"Role"</th><th>"Joined"</th><th></th></tr></thead>
                                <tbody>
                                    {members.into_iter().map(|m| { let uid = m.user_id.clone(); view! {
                                        <tr>
                                            <td>{m.email.clone()}</td>
                                            <td>
                                                {if can_manage {
                                                    view! {
                                                        <ActionForm action=change attr:class="inline-form">
                                                            <input type="hidden" name="org_id" value=org() />
                                                            <input type="hidden" name="user_id" value=m.user_id.clone() />
                                                            <select name="role">{role_options(m.role)}</select>
                                                            <button type="submit" class="small">"Save"</button>
                                                        </ActionForm>
                                                    }.erase()
                                                } else {
                                                    view! { <span>{m.role.as_str()}</span> }.erase()
                                                }}
                                            </td>
                                            <td>{format_time(m.joined_at)}</td>
                                            <td>
                                                {can_manage.then(|| view! {
                                                    <ActionForm action=remove>
                                                        <input type="hidden" name="org_id" value=org() />
                                                        <input type="hidden" name="user_id" value=uid />
                                                        <button type="submit" class="danger small">"Remove"</button>
                                                    </ActionForm>
                                                })}
                                            </td>
                                        </tr>
                                    }}).collect_view()}
                                </tbody>
                            </table>
                            {(!invites.is_empty()).then(|| view! {
                                <h2>"Pending invites"</h2>
                                <table class="table">
                                    <thead><tr><th>"E-mail"</th><th>"Role"</th><th>"Expires"</th><th></th></tr></thead>
                                    <tbody>
                                        {invites.into_iter().map(|i| view! {
                                            <tr>
                                                <td>{i.email.clone()}</td>
                                                <td>{i.role.as_str()}</td>
                                                <td>{format_time(i.expires_at)}</td>
                                                <td>
                                                    <ActionForm action=revoke>
                                                        <input type="hidden" name="org_id" value=org() />
                                                        <input type="hidden" name="invite_id" value=i.id.clone() />
                                                        <button type="submit" class="danger small">"Revoke"</button>
                                                    </ActionForm>
                                                </td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            })}
                        }.erase(),
                    } />
                }
                .erase()
            })}
        </Transition>
    }
}
