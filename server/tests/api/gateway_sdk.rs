//! The official OpenAI and Anthropic Python SDKs, unchanged but for their
//! base URL and key, through the gateway (the same script that checks the
//! LLM double, `llm_double_sdk.py`): they decode every relayed answer and
//! stream, raise their own exception classes for refusals, and each metered
//! call is recorded once with the provider's usage.

use serde_json::{json, Value};

use crate::gateway::Recorded;
use crate::gateway_test;

gateway_test! {
    async fn official_sdks_work_through_the_gateway_and_every_call_is_recorded_once(g) {
        // The script's calls reserve up to 4,096 tokens each (no max_tokens).
        g.set_limit("tokens", "minute", "100000000").await;
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api/llm_double_sdk.py");
        let out = tokio::process::Command::new(crate::llm_double_sdk::python()).arg(&script).arg(g.app.url("")).arg(&g.key).output().await.unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "the SDK script failed through the gateway:\n{stderr}");
        let r: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));

        // What the SDKs report is what the double answered.
        assert_eq!(r["chat"]["usage"], json!({"prompt": 5, "completion": 11, "total": 16, "cached": 2, "reasoning": 3}));
        assert_eq!(r["chat_stream"]["usage"], json!({"prompt": 5, "completion": 4, "total": 9, "cached": 2, "reasoning": 3}));
        assert_eq!(r["chat_stream"]["last_choices"], 0, "the client asked for the usage chunk: it is relayed");
        assert_eq!(r["responses"]["usage"], json!({"input": 5, "cached": 2, "output": 11, "reasoning": 3, "total": 16}));
        assert_eq!(r["responses_stream"]["last"], "response.incomplete");
        assert_eq!(r["responses_helper"]["usage"], json!({"input": 3, "cached": 2, "output": 11, "reasoning": 3, "total": 14}));
        assert_eq!(r["responses_helper"]["items"], json!(["web_search_call", "web_search_call", "reasoning", "message"]));
        assert_eq!(r["embeddings"]["vectors"], json!([[0.125, 0.25, 0.375, 0.5], [0.25, 0.375, 0.5, 0.625]]));
        assert_eq!(r["messages"]["usage"], json!({"input": 4, "cache_read": 2, "cache_creation": 1, "output": 6}));
        assert_eq!(r["messages_stream"]["usage"], json!({"input": 3, "cache_read": 2, "cache_creation": 0, "output": 8}));
        assert_eq!(r["count_tokens"], 7);
        let models: Vec<&str> = r["models"].as_array().unwrap().iter().map(|m| m.as_str().unwrap()).collect();
        assert!(models.contains(&"gpt-4o-mini"), "{models:?}");
        let e = &r["errors"];
        assert_eq!((e["openai_key"]["class"].as_str(), e["openai_key"]["status"].as_u64()), (Some("AuthenticationError"), Some(401)));
        assert_eq!(e["openai_key"]["body"]["code"], "invalid_api_key");
        assert_eq!(e["openai_429"]["class"], "RateLimitError");
        assert_eq!((e["anthropic_key"]["class"].as_str(), e["anthropic_key"]["status"].as_u64()), (Some("AuthenticationError"), Some(401)));
        assert_eq!(e["anthropic_529"]["class"], "OverloadedError");
        assert_eq!(e["anthropic_stream_error"]["body"]["error"]["type"], "overloaded_error");

        // 12 metered calls (bad keys are refused before any), each recorded once.
        let events = g.wait_events(12).await;
        assert_eq!(events.len(), 12, "{events:#?}");
        let tokens = |e: &Recorded| (e.meta["endpoint"].as_str().unwrap().to_string(), e.meta["stream"].as_bool().unwrap(), e.input, e.cached, e.output, e.status.clone());
        let mut got: Vec<_> = events.iter().map(tokens).collect();
        got.sort();
        let s = |x: &str| x.to_string();
        let mut want = vec![
            (s("/v1/chat/completions"), false, 5, 2, 11, s("success")),
            (s("/v1/chat/completions"), true, 5, 2, 4, s("success")),
            (s("/v1/chat/completions"), false, 0, 0, 0, s("rate_limited")),
            (s("/v1/responses"), false, 5, 2, 11, s("success")),
            (s("/v1/responses"), true, 3, 2, 5, s("success")),
            (s("/v1/responses"), true, 3, 2, 11, s("success")),
            (s("/v1/embeddings"), false, 5, 0, 0, s("success")),
            (s("/v1/messages"), false, 7, 2, 6, s("success")),
            (s("/v1/messages"), true, 5, 2, 8, s("success")),
            (s("/v1/messages"), true, 5, 0, 3, s("success")),
            (s("/v1/messages"), false, 0, 0, 0, s("error")),
        ];
        // The stream cut by an error event: what was reported, output at least the text streamed.
        let cut = got.iter().find(|t| t.0 == "/v1/messages" && t.1 && t.5 == "error").cloned().expect("the stream with an error event is recorded as an error");
        want.push(cut);
        want.sort();
        assert_eq!(got, want);
        // The stream helper's call ran two web searches: each is a query.
        let helper = events.iter().find(|e| e.meta["endpoint"] == "/v1/responses" && e.meta["stream"] == true && e.output == 11).unwrap();
        assert_eq!(g.detail_of(&helper.id).await["queries"], 2);
    }
}
