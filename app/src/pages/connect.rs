//! Connect: how to send calls through the gateway with the official SDKs,
//! changing nothing but the base URL and the key. Base URLs, attribution
//! headers, and copy-paste snippets (OpenAI SDK for Python and TypeScript,
//! Anthropic SDK for Python, curl).

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::providers::{connect_info, ConnectView};
use crate::components::layout::use_org_id;
use crate::components::Loaded;
use crate::data::data;
use crate::erase::Erase;

/// The key placeholder shown in every snippet.
pub const KEY_PLACEHOLDER: &str = "tb_live_…";

/// Headers attributing a call, with what each records.
pub const ATTRIBUTION_HEADERS: [(&str, &str); 4] = [
    ("Tollbooth-User", "your end user (else OpenAI's user field or Anthropic's metadata.user_id)"),
    ("Tollbooth-Project", "the project, as an event's project_id"),
    ("Tollbooth-Feature", "the feature of your product that made the call"),
    ("Tollbooth-Session", "a conversation or job, to group its calls"),
];

/// The base URL OpenAI's SDKs take (`…/v1`).
pub fn openai_base_url(public_url: &str) -> String {
    format!("{}/v1", public_url.trim_end_matches('/'))
}

/// The base URL Anthropic's SDK takes (it appends `/v1/messages`).
pub fn anthropic_base_url(public_url: &str) -> String {
    public_url.trim_end_matches('/').to_string()
}

/// One copy-paste example.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snippet {
    pub id: &'static str,
    pub title: &'static str,
    pub code: String,
}

/// The examples for a server reached at `public_url`.
pub fn snippets(public_url: &str) -> Vec<Snippet> {
    let openai = openai_base_url(public_url);
    let anthropic = anthropic_base_url(public_url);
    let key = KEY_PLACEHOLDER;
    vec![
        Snippet {
            id: "openai-python",
            title: "OpenAI SDK · Python",
            code: format!(
                r#"from openai import OpenAI

client = OpenAI(
    base_url="{openai}",
    api_key="{key}",  # a Tollbooth key with the ingest scope
    default_headers={{
        "Tollbooth-Project": "checkout",
        "Tollbooth-Feature": "order-summary",
    }},
)

response = client.chat.completions.create(
    model="gpt-4o-mini",  # or "groq/llama-3.3-70b-versatile" for your groq connection
    messages=[{{"role": "user", "content": "Hello"}}],
    user="customer-42",  # recorded as the user without Tollbooth-User
    extra_headers={{"Tollbooth-User": "customer-42", "Tollbooth-Session": "chat-1234"}},
)
print(response.choices[0].message.content)
"#
            ),
        },
        Snippet {
            id: "openai-typescript",
            title: "OpenAI SDK · TypeScript",
            code: format!(
                r#"import OpenAI from "openai";

const client = new OpenAI({{
  baseURL: "{openai}",
  apiKey: "{key}", // a Tollbooth key with the ingest scope
  defaultHeaders: {{
    "Tollbooth-Project": "checkout",
    "Tollbooth-Feature": "order-summary",
  }},
}});

const response = await client.chat.completions.create(
  {{
    model: "gpt-4o-mini",
    messages: [{{ role: "user", content: "Hello" }}],
    user: "customer-42", // recorded as the user without Tollbooth-User
  }},
  {{ headers: {{ "Tollbooth-User": "customer-42", "Tollbooth-Session": "chat-1234" }} }},
);
console.log(response.choices[0].message.content);
"#
            ),
        },
        Snippet {
            id: "anthropic-python",
            title: "Anthropic SDK · Python",
            code: format!(
                r#"import anthropic

client = anthropic.Anthropic(
    base_url="{anthropic}",
    api_key="{key}",  # a Tollbooth key with the ingest scope
    default_headers={{
        "Tollbooth-Project": "checkout",
        "Tollbooth-Feature": "order-summary",
    }},
)

message = client.messages.create(
    model="claude-3-5-haiku-latest",
    max_tokens=1024,
    messages=[{{"role": "user", "content": "Hello"}}],
    metadata={{"user_id": "customer-42"}},  # recorded as the user without Tollbooth-User
    extra_headers={{"Tollbooth-User": "customer-42", "Tollbooth-Session": "chat-1234"}},
)
print(message.content[0].text)
"#
            ),
        },
        Snippet {
            id: "curl",
            title: "curl",
            code: format!(
                r#"curl {openai}/chat/completions \
  -H "Authorization: Bearer {key}" \
  -H "Content-Type: application/json" \
  -H "Tollbooth-User: customer-42" \
  -H "Tollbooth-Project: checkout" \
  -H "Tollbooth-Feature: order-summary" \
  -H "Tollbooth-Session: chat-1234" \
  -d '{{"model": "gpt-4o-mini", "messages": [{{"role": "user", "content": "Hello"}}]}}'

curl {anthropic}/v1/messages \
  -H "x-api-key: {key}" \
  -H "anthropic-version: 2023-06-01" \
  -H "Content-Type: application/json" \
  -H "Tollbooth-User: customer-42" \
  -d '{{"model": "claude-3-5-haiku-latest", "max_tokens": 1024, "messages": [{{"role": "user", "content": "Hello"}}]}}'
"#
            ),
        },
    ]
}

/// Puts `text` on the clipboard (browser only); whether it was handed over.
fn copy_text(text: &str) -> bool {
    #[cfg(feature = "hydrate")]
    {
        // navigator.clipboard.writeText(text), reached through js-sys so the
        // app needs no extra web-sys features.
        use wasm_bindgen::{JsCast, JsValue};
        let get = |target: &JsValue, key: &str| js_sys::Reflect::get(target, &JsValue::from_str(key)).ok().filter(|v| !v.is_undefined());
        let Some(window) = web_sys::window() else { return false };
        let Some(clipboard) = get(&JsValue::from(window), "navigator").and_then(|n| get(&n, "clipboard")) else { return false };
        let Some(write) = get(&clipboard, "writeText").and_then(|f| f.dyn_into::<js_sys::Function>().ok()) else { return false };
        write.call1(&clipboard, &JsValue::from_str(text)).is_ok()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = text;
        false
    }
}

#[component]
fn SnippetCard(snippet: Snippet) -> impl IntoView {
    let copied = RwSignal::new(false);
    let Snippet { id, title, code } = snippet;
    let text = code.clone();
    view! {
        <section class="card snippet" data-testid=format!("snippet-{id}")>
            <div class="snippet-head">
                <h2>{title}</h2>
                <button type="button" class="small secondary" on:click=move |_| copied.set(copy_text(&text))>
                    {move || if copied.get() { "Copied" } else { "Copy" }}
                </button>
            </div>
            <pre class="snippet"><code>{code}</code></pre>
        </section>
    }
}

#[component]
pub fn ConnectPage() -> impl IntoView {
    let org_id = use_org_id();
    let info = data(move || org_id.get(), connect_info);
    view! {
        <Title text="Connect · Tollbooth" />
        <h1>"Connect"</h1>
        <p class="muted">
            "Send your LLM calls through Tollbooth with the official OpenAI or Anthropic SDKs: change the base URL and the key, "
            "nothing else. Every call is checked against your limits and budgets before it goes out, and metered with the "
            "provider's own token counts."
        </p>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let result = info.await;
                view! {
                    <Loaded result ok=move |info: ConnectView| {
                        let org = org_id.get_untracked();
                        view! {
                            <section class="card">
                                <h2>"Base URLs"</h2>
                                <table class="table">
                                    <tbody>
                                        <tr>
                                            <th>"OpenAI SDKs (Python, TypeScript, …)"</th>
                                            <td><code data-testid="openai-base-url">{openai_base_url(&info.public_url)}</code></td>
                                            <td class="small">"/chat/completions, /responses, /embeddings, /models"</td>
                                        </tr>
                                        <tr>
                                            <th>"Anthropic SDK"</th>
                                            <td><code data-testid="anthropic-base-url">{anthropic_base_url(&info.public_url)}</code></td>
                                            <td class="small">"/v1/messages, /v1/messages/count_tokens"</td>
                                        </tr>
                                    </tbody>
                                </table>
                                <p data-testid="connect-key">
                                    "Use a Tollbooth API key with the " <strong>"ingest"</strong> " scope (create one on "
                                    <a href=format!("/o/{org}/keys")>"API keys"</a> "), in place of the provider's key: "
                                    "OpenAI's SDKs send it as " <code>"Authorization: Bearer " {KEY_PLACEHOLDER}</code>
                                    ", Anthropic's as " <code>"x-api-key"</code> ". It is never sent to the provider."
                                </p>
                                <p class="muted">
                                    "Calls go to your organization's own connections on "
                                    <a href=format!("/o/{org}/providers")>"Providers"</a>
                                    " when it has them, else to the server's defaults. A model named " <code>"<name>/<model>"</code>
                                    " goes to your OpenAI-compatible connection " <code>"<name>"</code> "."
                                </p>
                            </section>
                            <section class="card">
                                <h2>"Attribution"</h2>
                                <p class="muted">"Optional headers that record who and what a call was for (usage is broken down by each):"</p>
                                <table class="table" data-testid="attribution-headers">
                                    <tbody>
                                        {ATTRIBUTION_HEADERS.into_iter().map(|(h, what)| view! {
                                            <tr><th><code>{h}</code></th><td>{what}</td></tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </section>
                            {snippets(&info.public_url).into_iter().map(|s| view! { <SnippetCard snippet=s /> }).collect_view()}
                        }
                    } />
                }
                .erase()
            })}
        </Transition>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_follow_each_sdks_convention() {
        assert_eq!(openai_base_url("https://tb.example.com/"), "https://tb.example.com/v1");
        assert_eq!(anthropic_base_url("https://tb.example.com/"), "https://tb.example.com");
    }

    #[test]
    fn every_snippet_uses_the_base_url_the_placeholder_key_and_the_attribution_headers() {
        let all = snippets("http://127.0.0.1:3000");
        let ids: Vec<_> = all.iter().map(|s| s.id).collect();
        assert_eq!(ids, ["openai-python", "openai-typescript", "anthropic-python", "curl"]);
        for s in &all {
            assert!(s.code.contains("http://127.0.0.1:3000"), "{}", s.id);
            assert!(s.code.contains(KEY_PLACEHOLDER), "{}", s.id);
            for (h, _) in ATTRIBUTION_HEADERS {
                assert!(s.code.contains(h), "{} lacks {h}", s.id);
            }
        }
        assert!(all[0].code.contains(r#"base_url="http://127.0.0.1:3000/v1""#));
        assert!(all[0].code.contains(r#"user="customer-42""#), "OpenAI's user field");
        assert!(all[1].code.contains(r#"baseURL: "http://127.0.0.1:3000/v1""#));
        assert!(all[2].code.contains(r#"base_url="http://127.0.0.1:3000","#), "Anthropic's SDK takes the bare URL");
        assert!(all[2].code.contains(r#"metadata={"user_id": "customer-42"}"#));
        assert!(all[3].code.contains("curl http://127.0.0.1:3000/v1/chat/completions"));
        assert!(all[3].code.contains("curl http://127.0.0.1:3000/v1/messages"));
    }
}
