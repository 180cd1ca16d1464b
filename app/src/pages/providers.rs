//! Providers: the organization's own upstream connections for the gateway
//! ("bring your own key"). Owners and admins add, replace and delete them;
//! members see the list. A key is never shown again: `••••abcd`.

use leptos::prelude::*;
use leptos_meta::Title;
use tollbooth::providers::{masked, DefaultsView, ProviderKind, ProviderView};

use crate::api::providers::{list_providers, DeleteProvider, ProvidersOverview, SaveProvider};
use crate::components::confirm::ConfirmSubmit;
use crate::components::layout::{use_org, use_org_id};
use crate::components::{action_error, Loaded};
use crate::data::data;
use crate::erase::Erase;

/// Where a connection's calls go, as listed.
pub fn base_url_text(c: &ProviderView) -> String {
    match &c.base_url {
        Some(url) => url.clone(),
        None => "server default".to_string(),
    }
}

/// Which models a connection serves, in a few words.
pub fn serves(c: &ProviderView) -> String {
    match c.kind {
        ProviderKind::OpenAi => "OpenAI models (gpt-…, o…)".to_string(),
        ProviderKind::Anthropic => "Anthropic models (claude-…)".to_string(),
        ProviderKind::OpenAiCompatible => format!("models named {}/<model>", c.name),
    }
}

/// What happens to a family's calls without the organization's own connection.
fn fallback_text(has_default: bool) -> &'static str {
    if has_default {
        "the server's default key"
    } else {
        "nothing: calls are refused until you add a connection"
    }
}

#[component]
pub fn ProvidersPage() -> impl IntoView {
    let org_id = use_org_id();
    let can_manage = use_org().role.can_manage();
    let save = ServerAction::<SaveProvider>::new();
    let delete = ServerAction::<DeleteProvider>::new();
    let overview = data(
        move || (org_id.get(), save.version().get(), delete.version().get()),
        |(org, _, _)| list_providers(org),
    );
    view! {
        <Title text="Providers · Tollbooth" />
        <h1>"Providers"</h1>
        <p class="muted">
            "Calls through the gateway (see " <a href=move || format!("/o/{}/connect", org_id.get())>"Connect"</a>
            ") go to your organization's own provider connections when it has them, else to the server's defaults. "
            "An OpenAI-compatible connection named, say, " <code>"groq"</code> " serves the models requested as "
            <code>"groq/<model>"</code> "."
        </p>
        <p class="muted">
            "Keys are encrypted before they are stored and are never shown again: only their last 4 characters are. "
            "Every change is in the audit log."
        </p>
        {can_manage.then(|| view! { <ProviderForm save /> })}
        {action_error(delete.value())}
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let result = overview.await;
                view! {
                    <Loaded result ok=move |o: ProvidersOverview| view! {
                        {(!o.can_store_keys && can_manage).then(|| view! {
                            <p class="notice" role="status" data-testid="no-secret-key">
                                "This server cannot store provider keys yet: its operator must set TOLLBOOTH_SECRET_KEY."
                            </p>
                        })}
                        <ConnectionList connections=o.connections can_manage delete />
                        <Fallbacks defaults=o.defaults />
                    } />
                }
                .erase()
            })}
        </Transition>
    }
}

/// The add/replace form. The kind decides the name (`openai`, `anthropic`)
/// or asks for one (OpenAI-compatible), and whether a base URL is required.
#[component]
fn ProviderForm(save: ServerAction<SaveProvider>) -> impl IntoView {
    let org_id = use_org_id();
    let kind = RwSignal::new(ProviderKind::OpenAi);
    let key_input = NodeRef::<leptos::html::Input>::new();
    // The key leaves the form once saved.
    Effect::new(move |_| {
        if let Some(Ok(_)) = save.value().get() {
            if let Some(input) = key_input.get_untracked() {
                input.set_value("");
            }
        }
    });
    let compatible = move || kind.get() == ProviderKind::OpenAiCompatible;
    view! {
        <section class="card" data-testid="provider-form">
            <h2>"Add or replace a connection"</h2>
            <ActionForm action=save attr:class="row">
                <input type="hidden" name="org_id" value=move || org_id.get() />
                <label>"Kind"
                    <select name="kind" on:change=move |ev| {
                        if let Ok(k) = ProviderKind::parse(&event_target_value(&ev)) {
                            kind.set(k);
                        }
                    }>
                        {ProviderKind::ALL.into_iter().map(|k| view! {
                            <option value=k.as_str() selected=move || kind.get() == k>{k.label()}</option>
                        }).collect_view()}
                    </select>
                </label>
                {move || if compatible() {
                    view! {
                        <label>"Name"
                            <input name="name" required maxlength="40" pattern="[a-z][a-z0-9_\\-]*" placeholder="e.g. groq" autocomplete="off" />
                        </label>
                    }.erase()
                } else {
                    view! { <input type="hidden" name="name" value=kind.get().as_str() /> }.erase()
                }}
                <label class="grow">
                    {move || if compatible() { "Base URL" } else { "Base URL (optional, to override the default)" }}
                    <input
                        name="base_url"
                        type="url"
                        required=compatible
                        autocomplete="off"
                        placeholder=move || if compatible() { "https://api.groq.com/openai/v1" } else { "blank: the server's default" }
                    />
                </label>
                <label>"API key"
                    <input name="api_key" type="password" autocomplete="new-password" node_ref=key_input placeholder="blank keeps the stored key" />
                </label>
                <button type="submit">"Save connection"</button>
            </ActionForm>
            {action_error(save.value())}
            {move || save.value().get().and_then(Result::ok).map(|c| view! {
                <p class="ok" role="status" data-testid="provider-saved">
                    "Saved " <strong>{c.name.clone()}</strong> " (key " <code>{masked(&c.key_last4)}</code> ")."
                </p>
            })}
        </section>
    }
}

#[component]
fn ConnectionList(connections: Vec<ProviderView>, can_manage: bool, delete: ServerAction<DeleteProvider>) -> impl IntoView {
    let org_id = use_org_id();
    if connections.is_empty() {
        return view! { <p class="empty" data-testid="providers-empty">"No provider connections yet."</p> }.erase();
    }
    view! {
        <table class="table" data-testid="providers">
            <thead><tr><th>"Name"</th><th>"Kind"</th><th>"Serves"</th><th>"Base URL"</th><th>"Key"</th><th>"Updated"</th><th></th></tr></thead>
            <tbody>
                {connections.into_iter().map(|c| {
                    let name = c.name.clone();
                    let confirm_name = c.name.clone();
                    view! {
                        <tr data-provider=c.name.clone()>
                            <td><strong>{c.name.clone()}</strong></td>
                            <td>{c.kind.label()}</td>
                            <td class="small">{serves(&c)}</td>
                            <td><code>{base_url_text(&c)}</code></td>
                            <td><code data-testid="provider-key">{masked(&c.key_last4)}</code></td>
                            <td class="small">{crate::components::format::readable_time(&c.updated_at)}</td>
                            <td>
                                {can_manage.then(|| view! {
                                    <ActionForm action=delete>
                                        <input type="hidden" name="org_id" value=org_id.get_untracked() />
                                        <input type="hidden" name="name" value=name />
                                        <ConfirmSubmit label="Delete" class="danger small" describe=Callback::new(move |_| {
                                            format!("Delete the connection {confirm_name}? Its calls go to the server's default, if any.")
                                        }) />
                                    </ActionForm>
                                })}
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .erase()
}

/// Where calls go without the organization's own connection.
#[component]
fn Fallbacks(defaults: DefaultsView) -> impl IntoView {
    view! {
        <p class="muted" data-testid="provider-defaults">
            "Without a connection of your own, OpenAI calls go to " {fallback_text(defaults.openai)}
            "; Anthropic calls go to " {fallback_text(defaults.anthropic)} "."
        </p>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(name: &str, kind: ProviderKind, base_url: Option<&str>) -> ProviderView {
        ProviderView { name: name.into(), kind, base_url: base_url.map(String::from), key_last4: "abcd".into(), updated_at: String::new() }
    }

    #[test]
    fn connections_say_where_they_go_and_what_they_serve() {
        let groq = view("groq", ProviderKind::OpenAiCompatible, Some("https://api.groq.com/openai/v1"));
        assert_eq!(base_url_text(&groq), "https://api.groq.com/openai/v1");
        assert_eq!(serves(&groq), "models named groq/<model>");
        let openai = view("openai", ProviderKind::OpenAi, None);
        assert_eq!(base_url_text(&openai), "server default");
        assert!(serves(&openai).starts_with("OpenAI models"));
        assert!(fallback_text(false).contains("refused"));
    }
}
