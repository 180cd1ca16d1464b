//! The metering gateway over real HTTP, on both engines, against the
//! in-repo LLM double: transparency (bodies, headers, streams), exact
//! metering (one event per call, id = request id, the provider's usage),
//! refusals in the provider's format, and calls that break or whose client
//! goes away.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use tollbooth::db::Engine;
use tollbooth::pricing::{cost, Usage};
use tollbooth_server::cli::create_org;
use tollbooth_server::config::Secret;
use tollbooth_server::llm_double::{self, DoubleConfig, RunningLlmDouble, Switches};

use crate::helpers::{spawn_app_with, TestApp, PASSWORD};

const UPSTREAM_KEY: &str = "sk-upstream-double-key-0123456789";

/// A server whose default upstreams are a fresh double, and an org's key.
pub struct Gw {
    pub app: TestApp,
    pub double: RunningLlmDouble,
    pub org_id: String,
    pub key: String,
}

pub async fn gateway(engine: Engine) -> Option<Gw> {
    let double = llm_double::spawn(DoubleConfig { api_key: UPSTREAM_KEY.into(), switches: Switches::default() }).await.unwrap();
    let (openai, anthropic) = (double.openai_base_url(), double.base_url());
    let app = spawn_app_with(engine, move |c| {
        c.openai_base_url = openai;
        c.openai_api_key = Some(UPSTREAM_KEY.parse::<Secret>().unwrap());
        c.anthropic_base_url = anthropic;
        c.anthropic_api_key = Some(UPSTREAM_KEY.parse::<Secret>().unwrap());
    })
    .await?;
    // The shipped catalog's prices of the models these tests call.
    let catalog: Value = serde_json::from_str(tollbooth::pricing::DEFAULT_CATALOG_JSON).unwrap();
    let some: serde_json::Map<String, Value> = ["gpt-4o-mini", "gpt-5-mini", "claude-sonnet-4-5", "text-embedding-3-small"]
        .iter()
        .map(|m| (m.to_string(), catalog[*m].clone()))
        .collect();
    let book = tollbooth::pricing::PriceBook::parse_litellm(&Value::Object(some).to_string()).unwrap();
    tollbooth::pricing::store::import(&app.test_db.db, &book, "test", Some(0)).await.unwrap();
    // The owner signs in with the tests' password (the Settings page's tests).
    let org = create_org(&app.test_db.db, &app.config, "Gateway Co", "owner@gateway.example", Some(PASSWORD)).await.unwrap();
    Some(Gw { app, double, org_id: org.org_id, key: org.api_key })
}

/// Runs one test body on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! gateway_test {
    ($(async fn $name:ident($g:ident) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                #[allow(unused_mut)]
                let mut $g = $crate::gateway::gateway(tollbooth::db::Engine::Sqlite).await.unwrap();
                $body
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                #[allow(unused_mut)]
                let Some(mut $g) = $crate::gateway::gateway(tollbooth::db::Engine::Postgres).await else { return };
                $body
            }
        }
    )*};
}

impl Gw {
    /// Sets a hard limit of the org's plan (an admin's override).
    pub async fn set_limit(&self, metric: &str, period: &str, value: &str) {
        let db = &self.app.test_db.db;
        let email = format!("root-{}@gateway.example", tollbooth::ids::new_id());
        let admin = tollbooth::accounts::create_admin(db, &email, Some("correct-horse-battery")).await.unwrap().user;
        let input = tollbooth::plans::LimitInput { metric: metric.into(), period: period.into(), value: value.into(), hard: true, overage_usd: String::new() };
        tollbooth::plans::set_override(db, &admin, &self.org_id, &input, Default::default()).await.unwrap();
    }

    pub fn openai(&self, path: &str) -> reqwest::RequestBuilder {
        self.app.client.post(self.app.url(path)).bearer_auth(&self.key)
    }

    pub fn anthropic(&self) -> reqwest::RequestBuilder {
        self.app.client.post(self.app.url("/v1/messages")).header("x-api-key", &self.key).header("anthropic-version", "2023-06-01")
    }

    /// The recorded events of the org: (id, model, input, cached, output, status, cost_nano, metadata).
    pub async fn events(&self) -> Vec<Recorded> {
        type Row = (String, String, i64, i64, i64, String, Option<i64>, Option<String>, Option<String>, Option<String>);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, model, input_tokens, cached_input_tokens, output_tokens, status, cost_nano, metadata, user_id, project_id \
             FROM usage_events WHERE org_id = $1 ORDER BY ts, id",
        )
        .bind(&self.org_id)
        .fetch_all(self.app.test_db.db.reader())
        .await
        .unwrap();
        rows.into_iter()
            .map(|(id, model, input, cached, output, status, cost_nano, meta, user, project)| Recorded {
                id,
                model,
                input,
                cached,
                output,
                status,
                cost_nano,
                meta: meta.map(|m| serde_json::from_str(&m).unwrap()).unwrap_or(Value::Null),
                user,
                project,
            })
            .collect()
    }

    /// Waits until `n` events are recorded (streams record after the body ends).
    pub async fn wait_events(&self, n: usize) -> Vec<Recorded> {
        for _ in 0..200 {
            let e = self.events().await;
            if e.len() >= n {
                return e;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.events().await
    }

    /// The exact cost of `usage` on `model` now, in nano-USD.
    /// An event's `usage_detail` (`{}` when none was stored).
    pub async fn detail_of(&self, id: &str) -> Value {
        let detail: Option<String> = sqlx::query_scalar("SELECT usage_detail FROM usage_events WHERE org_id = $1 AND id = $2")
            .bind(&self.org_id)
            .bind(id)
            .fetch_one(self.app.test_db.db.reader())
            .await
            .unwrap();
        detail.map_or(json!({}), |d| serde_json::from_str(&d).unwrap())
    }

    pub async fn cost_of(&self, model: &str, usage: Usage) -> i64 {
        let price = tollbooth::pricing::cache::price_at(&self.app.test_db.db, model, tollbooth::clock::now_ms()).await.unwrap().unwrap();
        cost(&price, &usage).unwrap().nanos()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub id: String,
    pub model: String,
    pub input: i64,
    pub cached: i64,
    pub output: i64,
    pub status: String,
    pub cost_nano: Option<i64>,
    pub meta: Value,
    pub user: Option<String>,
    pub project: Option<String>,
}

fn usage(input: u64, cached: u64, output: u64) -> Usage {
    Usage { input_tokens: input, cached_input_tokens: cached, output_tokens: output, requests: 1, ..Usage::default() }
}

fn nanos_to_usd(n: i64) -> String {
    tollbooth::pricing::NanoUsd::from_nanos(n).to_usd_string()
}

gateway_test! {
    async fn a_chat_call_is_forwarded_unchanged_and_recorded_once_with_its_exact_cost(g) {
        let body = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "one two three four"}],
                          "max_tokens": 20, "user": "end-user-9", "unknown_field": {"kept": [1, 2]}});
        let resp = g.openai("/v1/chat/completions")
            .header("Tollbooth-Project", "support-bot")
            .header("Tollbooth-Feature", "chat")
            .header("OpenAI-Beta", "assistants=v2")
            .header("x-mock-cached-tokens", "2")
            .json(&body)
            .send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let request_id = resp.headers()["tollbooth-request-id"].to_str().unwrap().to_string();
        let cost_header = resp.headers()["tollbooth-cost-usd"].to_str().unwrap().to_string();
        let answer: Value = resp.json().await.unwrap();
        assert_eq!(answer["object"], "chat.completion");
        assert_eq!(answer["usage"]["prompt_tokens"], 4);

        // Upstream: the body byte for byte (unknown fields too), the relevant
        // headers, the upstream key; never the Tollbooth key or headers.
        let seen = g.double.requests();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].body, body);
        assert_eq!(seen[0].header("authorization"), Some(format!("Bearer {UPSTREAM_KEY}").as_str()));
        assert_eq!(seen[0].header("openai-beta"), Some("assistants=v2"));
        assert!(seen[0].header("tollbooth-project").is_none());
        assert!(seen[0].headers.iter().all(|(_, v)| !v.contains(&g.key)), "the Tollbooth key never goes upstream");

        let events = g.wait_events(1).await;
        assert_eq!(events.len(), 1);
        let e = &events[0];
        assert_eq!(e.id, request_id, "the event's id is the request id");
        assert_eq!((e.model.as_str(), e.input, e.cached, e.output, e.status.as_str()), ("gpt-4o-mini", 4, 2, 8, "success"));
        assert_eq!((e.user.as_deref(), e.project.as_deref()), (Some("end-user-9"), Some("support-bot")));
        let expected = g.cost_of("gpt-4o-mini", usage(4, 2, 8)).await;
        assert_eq!(e.cost_nano, Some(expected));
        assert_eq!(cost_header, nanos_to_usd(expected));
        assert_eq!(e.meta["endpoint"], "/v1/chat/completions");
        assert_eq!((e.meta["stream"].clone(), e.meta["upstream_status"].clone()), (json!(false), json!(200)));
    }

    async fn a_stream_is_relayed_with_usage_asked_for_and_the_usage_chunk_withheld(g) {
        let body = json!({"model": "gpt-4o-mini", "stream": true, "max_tokens": 50, "messages": [{"role": "user", "content": "a b c"}]});
        let resp = g.openai("/v1/chat/completions").header("x-mock-split-frames", "true").json(&body).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
        let request_id = resp.headers()["tollbooth-request-id"].to_str().unwrap().to_string();
        let text = resp.text().await.unwrap();
        assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
        assert!(!text.contains("\"usage\":{"), "the usage-only chunk the client did not ask for is withheld: {text}");
        let upstream = &g.double.requests()[0];
        assert_eq!(upstream.body["stream_options"], json!({"include_usage": true}));
        let events = g.wait_events(1).await;
        assert_eq!((events[0].id.as_str(), events[0].input, events[0].output), (request_id.as_str(), 3, 8));
        assert_eq!(events[0].meta["stream"], true);
        assert!(events[0].meta["time_to_first_token_ms"].is_u64());

        // Asked for: the client sees it, and it is recorded once.
        let body = json!({"model": "gpt-4o-mini", "stream": true, "max_tokens": 50, "stream_options": {"include_usage": true}, "messages": [{"role": "user", "content": "x"}]});
        let text = g.openai("/v1/chat/completions").json(&body).send().await.unwrap().text().await.unwrap();
        assert!(text.contains("\"usage\":{"), "{text}");
        let events = g.wait_events(2).await;
        assert_eq!(events.len(), 2);
    }

    async fn anthropic_streams_count_cache_tokens_and_take_the_last_cumulative_output(g) {
        let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 100, "stream": true, "metadata": {"user_id": "anthro-user"},
                          "system": "be terse", "messages": [{"role": "user", "content": "hello there friend"}]});
        let resp = g.anthropic().header("x-mock-repeat-usage", "true").header("x-mock-ping", "true")
            .header("x-mock-cached-tokens", "1").header("x-mock-cache-write-tokens", "2")
            .json(&body).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let text = resp.text().await.unwrap();
        assert!(text.contains("event: message_stop"), "{text}");
        assert!(text.contains("event: ping"));
        let events = g.wait_events(1).await;
        let e = &events[0];
        // Prompt = 5 words (system + message), of which 1 read and 2 written.
        assert_eq!((e.input, e.cached, e.output, e.user.as_deref()), (5, 1, 8, Some("anthro-user")));
        assert_eq!(e.meta["endpoint"], "/v1/messages");
        let u = Usage { cache_creation_tokens: 2, ..usage(5, 1, 8) };
        assert_eq!(e.cost_nano, Some(g.cost_of("claude-sonnet-4-5", u).await));
    }

    async fn one_hour_cache_writes_and_the_tier_that_served_a_call_are_recorded_and_priced(g) {
        // Anthropic: a 1-hour cache breakpoint; its writes are priced at the 1-hour rate.
        let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 100,
                          "system": [{"type": "text", "text": "long rules", "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
                          "messages": [{"role": "user", "content": "hello there"}]});
        let r = g.anthropic().header("x-mock-cache-write-tokens", "2").json(&body).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let events = g.wait_events(1).await;
        let detail = g.detail_of(&events[0].id).await;
        assert_eq!(detail["cache_creation_1h_tokens"], 2, "{detail}");
        let u = Usage { cache_creation_tokens: 2, cache_creation_1h_tokens: 2, ..usage(4, 0, 8) };
        assert_eq!(events[0].cost_nano, Some(g.cost_of("claude-sonnet-4-5", u).await));
        assert_ne!(events[0].cost_nano, Some(g.cost_of("claude-sonnet-4-5", Usage { cache_creation_tokens: 2, ..usage(4, 0, 8) }).await));

        // OpenAI, streamed: the flex tier the answer names prices the call.
        let body = json!({"model": "gpt-5-mini", "stream": true, "service_tier": "flex", "max_completion_tokens": 50,
                          "messages": [{"role": "user", "content": "one two three"}]});
        let text = g.openai("/v1/chat/completions").json(&body).send().await.unwrap().text().await.unwrap();
        assert!(text.contains("\"service_tier\":\"flex\""), "{text}");
        let events = g.wait_events(2).await;
        let e = events.iter().find(|e| e.model == "gpt-5-mini").unwrap();
        assert_eq!(g.detail_of(&e.id).await["service_tier"], "flex");
        let price = tollbooth::pricing::cache::price_at(&g.app.test_db.db, "gpt-5-mini", tollbooth::clock::now_ms()).await.unwrap().unwrap();
        let at_flex = tollbooth::pricing::Conditions { service_tier: tollbooth::pricing::ServiceTier::Flex, ..Default::default() };
        let flex = tollbooth::pricing::charge(&price, &usage(3, 0, 8), &at_flex).unwrap().nanos().unwrap().nanos();
        assert_eq!(e.cost_nano, Some(flex));
        assert!(flex < g.cost_of("gpt-5-mini", usage(3, 0, 8)).await, "flex is cheaper than standard");
    }

    async fn web_searches_are_counted_and_priced_per_query_on_both_providers(g) {
        // OpenAI Responses: web_search_call output items, whole and streamed.
        let body = json!({"model": "gpt-5-mini", "input": "one two", "tools": [{"type": "web_search"}], "max_output_tokens": 50});
        let r = g.openai("/v1/responses").header("x-mock-web-searches", "2").json(&body).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let b: Value = r.json().await.unwrap();
        assert_eq!(b["output"].as_array().unwrap().iter().filter(|i| i["type"] == "web_search_call").count(), 2, "{b}");
        let mut streamed = body.clone();
        streamed["stream"] = true.into();
        let text = g.openai("/v1/responses").json(&streamed).send().await.unwrap().text().await.unwrap();
        assert!(text.contains("response.web_search_call.completed"), "{text}");
        // Anthropic: server_tool_use.web_search_requests.
        let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 100, "messages": [{"role": "user", "content": "hello there"}],
                          "tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 5}]});
        let r = g.anthropic().header("x-mock-web-searches", "3").json(&body).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);

        let events = g.wait_events(3).await;
        assert_eq!(events.len(), 3);
        let call = |endpoint: &str, stream: bool| events.iter().find(|e| e.meta["endpoint"] == endpoint && e.meta["stream"] == stream).unwrap();
        for (e, queries) in [(call("/v1/responses", false), 2u64), (call("/v1/responses", true), 1), (call("/v1/messages", false), 3)] {
            assert_eq!(g.detail_of(&e.id).await["queries"], queries, "{}", e.meta);
            let u = Usage { queries, ..usage(e.input as u64, 0, e.output as u64) };
            assert_eq!(e.cost_nano, Some(g.cost_of(&e.model, u).await), "{}", e.meta);
            assert!(e.cost_nano > Some(g.cost_of(&e.model, usage(e.input as u64, 0, e.output as u64)).await), "the searches are charged");
        }
    }

    async fn responses_and_embeddings_are_metered(g) {
        let r = g.openai("/v1/responses").json(&json!({"model": "gpt-4o-mini", "input": "one two", "stream": true, "max_output_tokens": 50})).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let text = r.text().await.unwrap();
        assert!(text.contains("response.completed"));
        let r = g.openai("/v1/embeddings").json(&json!({"model": "text-embedding-3-small", "input": ["a b c", "d"]})).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.headers().contains_key("tollbooth-cost-usd"));
        let events = g.wait_events(2).await;
        let by_endpoint = |p: &str| events.iter().find(|e| e.meta["endpoint"] == p).unwrap().clone();
        let resp = by_endpoint("/v1/responses");
        assert_eq!((resp.input, resp.output), (2, 8));
        let emb = by_endpoint("/v1/embeddings");
        assert_eq!((emb.input, emb.output, emb.model.as_str()), (4, 0, "text-embedding-3-small"));
    }

    async fn refusals_come_in_the_providers_format_and_never_reach_the_upstream(g) {
        // No key; a wrong key.
        let r = g.app.client.post(g.app.url("/v1/chat/completions")).json(&json!({"model": "gpt-4o-mini"})).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let b: Value = r.json().await.unwrap();
        assert_eq!(b["error"]["type"], "authentication_error");
        let r = g.app.client.post(g.app.url("/v1/messages")).header("x-api-key", "tb_live_nope").json(&json!({"model": "claude-sonnet-4-5"})).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let b: Value = r.json().await.unwrap();
        assert_eq!((b["type"].as_str(), b["error"]["type"].as_str()), (Some("error"), Some("authentication_error")));
        // Not JSON; no model.
        let r = g.openai("/v1/chat/completions").body("{not json").send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let b: Value = r.json().await.unwrap();
        assert_eq!((b["error"]["type"].as_str(), b["error"]["param"].as_str()), (Some("invalid_request_error"), Some("body")));
        let r = g.anthropic().json(&json!({"messages": []})).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let b: Value = r.json().await.unwrap();
        assert!(b["error"]["message"].as_str().unwrap().contains("model"), "{b}");
        // Over 32 MiB.
        let (status, b) = g.app.oversized_post("/v1/chat/completions", &format!("Bearer {}", g.key), 33 * 1024 * 1024).await;
        assert_eq!(status, 413, "{b}");
        assert!(b["error"]["message"].as_str().is_some_and(|m| m.contains("32 MiB")), "{b}");
        // An attribution header too long.
        let r = g.openai("/v1/chat/completions").header("Tollbooth-User", "u".repeat(200)).json(&json!({"model": "gpt-4o-mini", "messages": []})).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let b: Value = r.json().await.unwrap();
        assert_eq!(b["error"]["param"], "tollbooth-user");
        assert!(g.double.requests().is_empty(), "nothing refused was forwarded");
        assert!(g.events().await.is_empty(), "nothing refused was recorded");
    }

    async fn upstream_errors_pass_through_and_are_recorded(g) {
        let r = g.openai("/v1/chat/completions").header("x-mock-status", "429").header("x-mock-retry-after", "7")
            .json(&json!({"model": "gpt-4o-mini", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]})).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()["retry-after"], "7");
        let b: Value = r.json().await.unwrap();
        assert!(b["error"].is_object(), "the provider's own body: {b}");
        let r = g.anthropic().header("x-mock-status", "529").json(&json!({"model": "claude-sonnet-4-5", "max_tokens": 5, "messages": []})).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 529);
        let events = g.wait_events(2).await;
        let statuses: Vec<_> = events.iter().map(|e| (e.status.as_str(), e.meta["upstream_status"].as_u64().unwrap())).collect();
        assert!(statuses.contains(&("rate_limited", 429)) && statuses.contains(&("error", 529)), "{statuses:?}");
        assert!(events.iter().all(|e| e.input == 0 && e.output == 0), "no tokens unless the provider reported them");
    }

    async fn a_server_that_stops_records_every_call_it_answered(g) {
        // Answers do not wait for their events' group commit: a server that
        // stops waits for the calls in flight before it closes the database.
        let calls = (0..20).map(|i| {
            let body = json!({"model": "gpt-4o-mini", "max_tokens": 5, "messages": [{"role": "user", "content": format!("call {i}")}]});
            g.openai("/v1/chat/completions").header("x-mock-delay-ms", "20").json(&body).send()
        });
        let answers = futures::future::join_all(calls).await;
        assert!(answers.iter().all(|r| r.as_ref().is_ok_and(|r| r.status() == StatusCode::OK)), "{answers:?}");
        g.app.stop().await;
        let events = g.events().await;
        assert_eq!(events.len(), 20, "every answered call is recorded");
        assert!(events.iter().all(|e| e.cost_nano.is_some_and(|c| c > 0)));
    }

    async fn a_client_that_leaves_mid_stream_still_gets_its_call_recorded_once(g) {
        let body = json!({"model": "gpt-4o-mini", "stream": true, "max_tokens": 50, "messages": [{"role": "user", "content": "w x y z"}]});
        let mut resp = g.openai("/v1/chat/completions").header("x-mock-chunk-delay-ms", "40").header("x-mock-output-tokens", "20")
            .json(&body).send().await.unwrap();
        let first = resp.chunk().await.unwrap().unwrap();
        assert!(!first.is_empty());
        drop(resp); // the client goes away
        let events = g.wait_events(1).await;
        assert_eq!(events.len(), 1);
        assert_eq!((events[0].input, events[0].output, events[0].status.as_str()), (4, 20, "success"));
        assert!(events[0].meta.get("usage_estimated").is_none(), "the provider's own usage");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(g.events().await.len(), 1, "recorded once");
    }

    async fn a_stream_broken_before_its_usage_is_recorded_as_an_estimate(g) {
        let body = json!({"model": "gpt-4o-mini", "stream": true, "max_tokens": 50, "messages": [{"role": "user", "content": "Hello world"}]});
        // The client sees the break: a body that ends in an error, or (when
        // the break reaches the connection before the head was flushed) a
        // connection closed before the answer.
        match g.openai("/v1/chat/completions").header("x-mock-drop-after", "4").json(&body).send().await {
            Ok(resp) => {
                assert_eq!(resp.status(), StatusCode::OK);
                assert!(resp.text().await.is_err(), "the body ends in an error, not a clean end");
            }
            Err(e) => assert!(e.is_request(), "{e:?}"),
        }
        let events = g.wait_events(1).await;
        let e = &events[0];
        assert_eq!(e.meta["usage_estimated"], true, "{e:?}");
        assert_eq!(e.status, "error");
        // Prompt: 2 tokens + 4 framing + 3; output: the words streamed before the drop.
        assert_eq!(e.input, 9);
        assert!(e.output >= 1 && e.output < 8, "{e:?}");
    }

    async fn an_unreachable_upstream_is_a_502_in_the_providers_format_and_recorded(g) {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let auth = format!("Bearer {}", g.key);
        let r = g.app.client.put(g.app.url("/api/v1/providers/anthropic")).header("Authorization", &auth)
            .json(&json!({"kind": "anthropic", "base_url": format!("http://{closed}"), "api_key": "sk-ant-unreachable-1234"}))
            .send().await.unwrap();
        assert!(r.status().is_success() || r.status() == StatusCode::UNPROCESSABLE_ENTITY, "{}", r.status());
        if r.status() == StatusCode::UNPROCESSABLE_ENTITY {
            return; // loopback connections are refused without TOLLBOOTH_UPSTREAM_ALLOW_PRIVATE
        }
        let r = g.anthropic().json(&json!({"model": "claude-sonnet-4-5", "max_tokens": 5, "messages": []})).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_GATEWAY);
        let b: Value = r.json().await.unwrap();
        assert_eq!(b["type"], "error");
        let events = g.wait_events(1).await;
        assert_eq!((events[0].status.as_str(), events[0].meta["upstream_status"].as_u64()), ("error", Some(502)));
    }

    async fn the_model_list_names_what_the_upstreams_serve(g) {
        let r = g.app.client.get(g.app.url("/v1/models")).bearer_auth(&g.key).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let b: Value = r.json().await.unwrap();
        assert_eq!(b["object"], "list");
        let ids: Vec<&str> = b["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
        assert!(ids.contains(&"gpt-4o-mini") && ids.contains(&"claude-sonnet-4-5"), "{}", ids.len());
        let r = g.app.client.get(g.app.url("/v1/models")).header("x-api-key", &g.key).header("anthropic-version", "2023-06-01").send().await.unwrap();
        let b: Value = r.json().await.unwrap();
        assert_eq!(b["has_more"], false);
        assert_eq!(b["data"][0]["type"], "model");
        // count_tokens is passed through, not metered.
        let r = g.app.client.post(g.app.url("/v1/messages/count_tokens")).header("x-api-key", &g.key).header("anthropic-version", "2023-06-01")
            .json(&json!({"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "a b c"}]})).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let b: Value = r.json().await.unwrap();
        assert_eq!(b["input_tokens"], 3);
        assert!(g.events().await.is_empty());
    }

    async fn a_plan_limit_holds_under_concurrent_streams(g) {
        // 30 requests a day: of 60 concurrent streamed calls exactly 30 pass.
        g.set_limit("requests", "day", "30").await;
        let calls = (0..60).map(|_| {
            let req = g.openai("/v1/chat/completions").json(&json!({"model": "gpt-4o-mini", "stream": true, "max_tokens": 10, "messages": [{"role": "user", "content": "x"}]}));
            async move {
                let r = req.send().await.unwrap();
                let s = r.status();
                let _ = r.text().await;
                s
            }
        });
        let statuses = futures::future::join_all(calls).await;
        let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
        let refused = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
        assert_eq!((ok, refused), (30, 30));
        assert_eq!(g.wait_events(30).await.len(), 30);
        assert_eq!(g.double.requests().len(), 30, "refused calls never reached the upstream");
    }
}

gateway_test! {
    async fn a_pause_budget_is_never_overshot_by_200_concurrent_streams(g) {
        // Each call reserves its upper bound: prompt "x" (1 token + 7 of
        // framing) and max_tokens 10 at gpt-4o-mini's rates; it spends 1 + 8.
        g.set_limit("tokens", "minute", "100000000").await;
        g.set_limit("requests", "minute", "100000").await;
        let auth = format!("Bearer {}", g.key);
        let r = g.app.client.post(g.app.url("/api/v1/budgets")).header("Authorization", &auth)
            .json(&json!({"scope": "project", "scope_id": "bot", "period": "monthly", "amount_usd": "0.0001", "action": "pause"}))
            .send().await.unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
        let budget_nanos = 100_000;
        // PostgreSQL: a second server process on the same database serves half the calls.
        let second = (g.app.test_db.db.engine == Engine::Postgres).then(|| {
            let (openai, anthropic) = (g.double.openai_base_url(), g.double.base_url());
            crate::helpers::Server::start_with(&g.app.test_db.url, &[
                ("TOLLBOOTH_OPENAI_BASE_URL", openai.as_str()),
                ("TOLLBOOTH_OPENAI_API_KEY", UPSTREAM_KEY),
                ("TOLLBOOTH_ANTHROPIC_BASE_URL", anthropic.as_str()),
                ("TOLLBOOTH_ANTHROPIC_API_KEY", UPSTREAM_KEY),
            ])
        });
        if let Some(s) = &second {
            s.wait_ready().await;
        }
        let bases: Vec<String> = std::iter::once(g.app.url("")).chain(second.as_ref().map(|s| s.base.clone())).collect();
        let calls = (0..200).map(|i| {
            let req = g.app.client.post(format!("{}/v1/chat/completions", bases[i % bases.len()])).bearer_auth(&g.key)
                .header("Tollbooth-Project", "bot").header("x-mock-chunk-delay-ms", "5")
                .json(&json!({"model": "gpt-4o-mini", "stream": true, "max_tokens": 10, "messages": [{"role": "user", "content": "x"}]}));
            async move {
                let r = req.send().await.unwrap();
                let s = r.status();
                let body = r.text().await.unwrap();
                (s, body)
            }
        });
        let answers = futures::future::join_all(calls).await;
        let ok = answers.iter().filter(|(s, _)| *s == StatusCode::OK).count();
        let refused: Vec<_> = answers.iter().filter(|(s, _)| *s == StatusCode::TOO_MANY_REQUESTS).collect();
        assert_eq!(ok + refused.len(), 200, "only granted or refused: {:?}", answers.iter().find(|(s, _)| !s.is_success() && *s != StatusCode::TOO_MANY_REQUESTS));
        assert!(ok >= 13 && !refused.is_empty(), "{ok} granted");
        let b: Value = serde_json::from_str(&refused[0].1).unwrap();
        assert_eq!(b["error"]["code"], "budget_exceeded", "{b}");
        let events = g.wait_events(ok).await;
        assert_eq!(events.len(), ok, "every granted call recorded once");
        let spent: i64 = events.iter().map(|e| e.cost_nano.unwrap()).sum();
        assert!(spent <= budget_nanos, "0 overshoot: spent {spent} of {budget_nanos}");
        assert_eq!(g.double.requests().len(), ok, "refused calls never reached the upstream");
    }
}
