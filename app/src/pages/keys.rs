//! API keys: create (shown once), list, change scopes and model allowlists,
//! revoke.

use leptos::prelude::*;
use leptos_meta::Title;

use tollbooth::api_keys::{ModelAllowlist, Scope, Scopes};

use crate::api::keys::{list_api_keys, CreateApiKey, RevokeApiKey, SetApiKeyModels, SetApiKeyScopes};
use crate::components::layout::{use_org, use_org_id};
use crate::components::{action_error, Loaded};
use crate::components::format::format_time;
use crate::data::data;
use crate::erase::Erase;

/// A key's own rate limit as listed; without one only the plan's apply.
pub fn rate_limit(per_minute: Option<i64>) -> String {
    match per_minute {
        Some(n) => format!("{} / minute", tollbooth::plans::group_thousands(n)),
        None => "plan's only".to_string(),
    }
}

/// A key's scopes as listed: `ingest, read`.
pub fn scope_names(scopes: Scopes) -> String {
    scopes.list().iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
}

/// A key's model allowlist as listed: its patterns, or every model.
pub fn model_names(allowlist: Option<&ModelAllowlist>) -> String {
    match allowlist {
        Some(a) => a.to_string(),
        None => "all models".to_string(),
    }
}

/// What the models field says it takes (the create form and each row's).
const MODELS_LABEL: &str = "Models (glob patterns, one per line or comma-separated; empty = all)";

/// Checkboxes for the three scopes, sent as one hidden `scopes` field
/// (`ingest,read`): a form posts each checkbox separately, the server
/// function takes the list as one value.
#[component]
fn ScopeChoice(initial: Scopes) -> impl IntoView {
    let chosen = RwSignal::new(Scope::ALL.map(|s| initial.has(s)));
    let value = move || {
        let on = chosen.get();
        Scope::ALL.iter().zip(on).filter(|(_, on)| *on).map(|(s, _)| s.as_str()).collect::<Vec<_>>().join(",")
    };
    view! {
        <fieldset class="scopes">
            <legend>"Scopes"</legend>
            {Scope::ALL.into_iter().enumerate().map(|(i, scope)| view! {
                <label class="inline" title=scope.describe()>
                    <input
                        type="checkbox"
                        data-scope=scope.as_str()
                        prop:checked=move || chosen.get()[i]
                        on:change=move |ev| chosen.update(|c| c[i] = event_target_checked(&ev))
                    />
                    {scope.as_str()}
                </label>
            }).collect_view()}
            <input type="hidden" name="scopes" prop:value=value value=initial.to_string() />
        </fieldset>
    }
}

#[component]
pub fn KeysPage() -> impl IntoView {
    let org_id = use_org_id();
    let can_manage = use_org().role.can_manage();
    let create = ServerAction::<CreateApiKey>::new();
    let revoke = ServerAction::<RevokeApiKey>::new();
    let set_scopes = ServerAction::<SetApiKeyScopes>::new();
    let set_models = ServerAction::<SetApiKeyModels>::new();
    let keys = data(
        move || (org_id.get(), create.version().get(), revoke.version().get(), set_scopes.version().get(), set_models.version().get()),
        |(org, ..)| list_api_keys(org),
    );
    view! {
        <Title text="API keys · Tollbooth" />
        <h1>"API keys"</h1>
        <p class="muted">
            "Keys authenticate REST calls: " <code>"Authorization: Bearer tb_live_…"</code>
            ". Only a hash is stored; a key is shown once, when it is created. \
            A key may have its own rate limit, on top of your plan's."
        </p>
        <p class="muted">
            "Scopes limit what a key can do: " <strong>"ingest"</strong> " records usage and asks for quota checks and \
            reservations (the only scope a key shipped inside a client app should have), " <strong>"read"</strong>
            " reads usage, events, exports, the plan, alerts and billing, and " <strong>"manage"</strong>
            " changes budgets, webhooks, alert settings, provider connections and keys' model allowlists."
        </p>
        <p class="muted">
            "A key may be limited to some models: calls through the gateway to a model that matches none of its \
            patterns (" <code>"gpt-4o*"</code> ", " <code>"claude-*"</code> ", " <code>"groq/*"</code>
            "; " <code>"*"</code> " any run of characters, " <code>"?"</code> " one) are refused with a 403."
        </p>
        {can_manage.then(|| view! {
            <section class="card">
                <h2>"Create a key"</h2>
                <ActionForm action=create attr:class="row">
                    <input type="hidden" name="org_id" value=org_id.get_untracked() />
                    <label>"Name" <input name="name" required maxlength="80" placeholder="e.g. production backend" /></label>
                    <label>"Rate limit (requests per minute)"
                        <input name="rate_limit" inputmode="numeric" autocomplete="off" placeholder="blank: the plan's only" />
                    </label>
                    <ScopeChoice initial=Scopes::ALL />
                    <label>{MODELS_LABEL}
                        <textarea name="models" rows="2" autocomplete="off" spellcheck="false" placeholder="e.g. gpt-4o*, claude-*"></textarea>
                    </label>
                    <button type="submit">"Create key"</button>
                </ActionForm>
                {action_error(create.value())}
                {move || create.value().get().and_then(Result::ok).map(|k| view! {
                    <div class="secret" role="status">
                        <p><strong>"Copy this key now. It will not be shown again."</strong></p>
                        <code class="key" data-testid="new-key">{k.secret}</code>
                    </div>
                })}
            </section>
        })}
        {action_error(revoke.value())}
        {action_error(set_scopes.value())}
        {action_error(set_models.value())}
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let result = keys.await;
                view! {
                    <Loaded result ok=move |value| match value {
                        list if list.is_empty() => view! { <p class="empty">"No API keys yet."</p> }.erase(),
                        list => view! {
                            <table class="table">
                                <thead><tr><th>"Name"</th><th>"Key"</th><th>"Created"</th><th>"Last used"</th><th>"Rate limit"</th><th>"Scopes"</th><th>"Models"</th><th>"Status"</th><th></th></tr></thead>
                                <tbody>
                                    {list.into_iter().map(|k| {
                                        let revoked = k.revoked_at.is_some();
                                        let key_id = k.id.clone();
                                        let scoped_key_id = k.id.clone();
                                        let models_key_id = k.id.clone();
                                        let models = model_names(k.model_allowlist.as_ref());
                                        let patterns = k.model_allowlist.as_ref().map(ToString::to_string).unwrap_or_default();
                                        view! {
                                            <tr data-key-id=k.id.clone()>
                                                <td>{k.name.clone()}</td>
                                                <td><code>{format!("{}…", k.prefix)}</code></td>
                                                <td>{format_time(k.created_at)}</td>
                                                <td>{k.last_used_at.map(format_time).unwrap_or_else(|| "never".into())}</td>
                                                <td>{rate_limit(k.rate_limit_per_minute)}</td>
                                                <td data-testid="key-scopes">
                                                    {if can_manage && !revoked {
                                                        view! {
                                                            <ActionForm action=set_scopes attr:class="row tight">
                                                                <input type="hidden" name="org_id" value=org_id.get_untracked() />
                                                                <input type="hidden" name="key_id" value=scoped_key_id />
                                                                <ScopeChoice initial=k.scopes />
                                                                <button type="submit" class="secondary">"Save scopes"</button>
                                                            </ActionForm>
                                                        }.erase()
                                                    } else {
                                                        view! { <span>{scope_names(k.scopes)}</span> }.erase()
                                                    }}
                                                </td>
                                                <td data-testid="key-models">
                                                    {if can_manage && !revoked {
                                                        view! {
                                                            <ActionForm action=set_models attr:class="row tight">
                                                                <input type="hidden" name="org_id" value=org_id.get_untracked() />
                                                                <input type="hidden" name="key_id" value=models_key_id />
                                                                <input name="models" value=patterns autocomplete="off" spellcheck="false"
                                                                    aria-label=MODELS_LABEL title=MODELS_LABEL
                                                                    placeholder="all models" />
                                                                <button type="submit" class="secondary">"Save models"</button>
                                                            </ActionForm>
                                                        }.erase()
                                                    } else {
                                                        view! { <span>{models}</span> }.erase()
                                                    }}
                                                </td>
                                                <td>{if revoked { "revoked" } else { "active" }}</td>
                                                <td>
                                                    {(can_manage && !revoked).then(|| view! {
                                                        <ActionForm action=revoke>
                                                            <input type="hidden" name="org_id" value=org_id.get_untracked() />
                                                            <input type="hidden" name="key_id" value=key_id />
                                                            <button type="submit" class="danger">"Revoke"</button>
                                                        </ActionForm>
                                                    })}
                                                </td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.erase(),
                    } />
                }
                .erase()
            })}
        </Transition>
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn scopes_read_as_a_list() {
        let s = tollbooth::api_keys::Scopes::parse("manage,ingest").unwrap();
        assert_eq!(super::scope_names(s), "ingest, manage");
    }

    #[test]
    fn model_allowlists_read_as_patterns_or_all_models() {
        let a = tollbooth::api_keys::ModelAllowlist::parse("gpt-4o*\nclaude-*").unwrap();
        assert_eq!(super::model_names(a.as_ref()), "gpt-4o*, claude-*");
        assert_eq!(super::model_names(None), "all models");
    }

    #[test]
    fn rate_limits_read_per_minute_or_the_plans() {
        assert_eq!(super::rate_limit(Some(12_000)), "12,000 / minute");
        assert_eq!(super::rate_limit(None), "plan's only");
    }
}
