//! The official OpenAI and Anthropic Python SDKs, unchanged, against the
//! mock LLM (`llm_double_sdk.py` beside this file; `scripts/setup.sh`
//! installs the pinned SDKs into `.venv-test`). If the double's shapes drift
//! from the providers', the SDKs fail to decode them or report other usage.

use serde_json::{json, Value};
use tollbooth_server::llm_double::{self, DoubleConfig, Switches, WORDS};

const KEY: &str = "sk-test-mock-llm-sdk";

fn words(n: usize) -> String {
    WORDS.iter().cycle().take(n).copied().collect::<Vec<_>>().join(" ")
}

/// `TOLLBOOTH_TEST_PYTHON`, or the checkout's `.venv-test`.
pub fn python() -> std::path::PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = std::env::var("TOLLBOOTH_TEST_PYTHON").map(std::path::PathBuf::from).unwrap_or_else(|_| root.join(".venv-test/bin/python"));
    assert!(python.exists(), "{} is missing: run scripts/setup.sh", python.display());
    python
}

#[tokio::test]
async fn official_python_sdks_decode_the_double_and_report_exact_usage() {
    let double = llm_double::spawn(DoubleConfig { api_key: KEY.into(), switches: Switches::default() }).await.unwrap();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api/llm_double_sdk.py");
    let out = tokio::process::Command::new(python()).arg(&script).arg(double.base_url()).arg(KEY).output().await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the SDK script failed (run scripts/setup.sh if openai or anthropic is missing):\n{stderr}"
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    println!("SDK versions: {}", r["versions"]);

    // Chat: 5 prompt words, 2 of them cached; 8 words + 3 reasoning tokens.
    assert_eq!(r["chat"]["usage"], json!({"prompt": 5, "completion": 11, "total": 16, "cached": 2, "reasoning": 3}));
    assert_eq!((r["chat"]["text"].as_str(), r["chat"]["finish"].as_str()), (Some(words(8).as_str()), Some("stop")));
    assert_eq!(r["chat"]["model"], "gpt-4o-mini");
    // Streamed with max_completion_tokens 4: 3 reasoning + 1 word.
    assert_eq!(r["chat_stream"]["usage"], json!({"prompt": 5, "completion": 4, "total": 9, "cached": 2, "reasoning": 3}));
    assert_eq!(r["chat_stream"]["last_choices"], 0, "usage came in the usage-only chunk");
    assert_eq!((r["chat_stream"]["text"].as_str(), r["chat_stream"]["finish"].as_str()), (Some("Tollbooth"), Some("length")));

    // Responses: 2 instruction words + 3 input words.
    assert_eq!(r["responses"]["usage"], json!({"input": 5, "cached": 2, "output": 11, "reasoning": 3, "total": 16}));
    assert_eq!(r["responses"]["items"], json!(["reasoning", "message"]));
    assert_eq!((r["responses"]["text"].as_str(), r["responses"]["status"].as_str()), (Some(words(8).as_str()), Some("completed")));
    assert_eq!(r["responses_stream"]["usage"], json!({"input": 3, "cached": 2, "output": 5, "reasoning": 3, "total": 8}));
    assert_eq!(r["responses_stream"]["text"], "Tollbooth meters");
    assert_eq!((r["responses_stream"]["last"].as_str(), r["responses_stream"]["status"].as_str()), (Some("response.incomplete"), Some("incomplete")));
    assert_eq!(r["responses_helper"]["usage"], json!({"input": 3, "cached": 2, "output": 11, "reasoning": 3, "total": 14}));
    assert_eq!(r["responses_helper"]["text"], words(8));
    assert_eq!(r["responses_helper"]["items"], json!(["web_search_call", "web_search_call", "reasoning", "message"]));

    // Embeddings (the SDK asks for base64 and decodes it).
    assert_eq!((r["embeddings"]["prompt"].as_u64(), r["embeddings"]["total"].as_u64()), (Some(5), Some(5)));
    assert_eq!(r["embeddings"]["vectors"], json!([[0.125, 0.25, 0.375, 0.5], [0.25, 0.375, 0.5, 0.625]]));
    assert_eq!(r["models"], json!(["gpt-4o-mini", "gpt-4.1", "o3-mini", "text-embedding-3-small"]));

    // Anthropic: 7 prompt tokens = 4 uncached + 2 read + 1 written.
    assert_eq!(r["messages"]["usage"], json!({"input": 4, "cache_read": 2, "cache_creation": 1, "output": 6}));
    assert_eq!((r["messages"]["text"].as_str(), r["messages"]["stop"].as_str()), (Some(words(6).as_str()), Some("max_tokens")));
    // Streamed with pings and a running message_delta after every word:
    // the SDK keeps the last count (8), as the gateway must.
    assert_eq!(r["messages_stream"]["usage"], json!({"input": 3, "cache_read": 2, "cache_creation": 0, "output": 8}));
    assert_eq!((r["messages_stream"]["text"].as_str(), r["messages_stream"]["stop"].as_str()), (Some(words(8).as_str()), Some("end_turn")));
    assert_eq!(
        r["messages_raw_events"],
        json!(["message_start", "content_block_start", "content_block_delta", "content_block_delta", "content_block_delta",
               "content_block_stop", "message_delta", "message_stop"]),
        "the SDK skips ping events"
    );
    assert_eq!(r["count_tokens"], 7);

    // Errors become the SDKs' own exception classes.
    let e = &r["errors"];
    assert_eq!((e["openai_key"]["class"].as_str(), e["openai_key"]["status"].as_u64()), (Some("AuthenticationError"), Some(401)));
    assert_eq!(e["openai_key"]["body"]["code"], "invalid_api_key");
    assert_eq!((e["openai_429"]["class"].as_str(), e["openai_429"]["body"]["code"].as_str()), (Some("RateLimitError"), Some("rate_limit_exceeded")));
    assert_eq!((e["anthropic_key"]["class"].as_str(), e["anthropic_key"]["status"].as_u64()), (Some("AuthenticationError"), Some(401)));
    assert_eq!(e["anthropic_529"]["class"], "OverloadedError");
    assert_eq!(e["anthropic_stream_error"]["body"]["error"]["type"], "overloaded_error", "{}", e["anthropic_stream_error"]);
}
