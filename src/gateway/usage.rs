//! The usage a provider reports, read from its own wire format and
//! normalised to Tollbooth's event fields ([`Usage`]: `input_tokens` counts
//! every prompt token including cache reads and writes, `output_tokens`
//! every completion token including reasoning).
//!
//! The providers disagree on what their counts include:
//! - OpenAI (`/v1/chat/completions`, `/v1/embeddings`): `prompt_tokens`
//!   already includes `prompt_tokens_details.cached_tokens` (reads) and
//!   `cache_write_tokens` (writes); `completion_tokens` includes
//!   `completion_tokens_details.reasoning_tokens`.
//! - OpenAI `/v1/responses`: the same with other names (`input_tokens`,
//!   `input_tokens_details`, `output_tokens`, `output_tokens_details`).
//! - Anthropic `/v1/messages`: `input_tokens` EXCLUDES
//!   `cache_read_input_tokens` and `cache_creation_input_tokens`, so the
//!   prompt is the sum of the three; `output_tokens` includes thinking
//!   (`output_tokens_details.thinking_tokens` when reported).
//!
//! Every count is optional on the wire (servers that speak "OpenAI
//! compatible" omit or null the details); a missing count is 0. Counts are
//! never added across reports: each report is a total (see `stream_meter`).

use serde::Deserialize;
use serde_json::Value;

use crate::pricing::Usage;

/// The API an answer comes from, which decides how its usage reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// OpenAI `POST /v1/chat/completions`.
    ChatCompletions,
    /// OpenAI `POST /v1/responses`.
    Responses,
    /// OpenAI `POST /v1/embeddings` (never streamed).
    Embeddings,
    /// Anthropic `POST /v1/messages`.
    Messages,
}

impl Endpoint {
    /// The endpoint served at `path` (with or without a trailing slash).
    pub fn from_path(path: &str) -> Option<Self> {
        match path.trim_end_matches('/') {
            "/v1/chat/completions" => Some(Endpoint::ChatCompletions),
            "/v1/responses" => Some(Endpoint::Responses),
            "/v1/embeddings" => Some(Endpoint::Embeddings),
            "/v1/messages" => Some(Endpoint::Messages),
            _ => None,
        }
    }
}

/// What a complete (non-streamed) answer reports about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reported {
    /// `None` when the answer carried no `usage` object.
    pub usage: Option<Usage>,
    /// The model as the answer names it (it may differ from the one asked
    /// for: `gpt-4o` is answered by `gpt-4o-2024-08-06`).
    pub model: Option<String>,
}

/// Reads the usage and model of a non-streamed JSON answer.
pub fn from_body(endpoint: Endpoint, body: &[u8]) -> Result<Reported, serde_json::Error> {
    Ok(match endpoint {
        Endpoint::ChatCompletions | Endpoint::Embeddings => {
            let b: Body<ChatUsage> = serde_json::from_slice(body)?;
            Reported { usage: b.usage.map(|u| u.normalise()), model: b.model }
        }
        Endpoint::Responses => {
            let b: Body<ResponsesUsage> = serde_json::from_slice(body)?;
            Reported { usage: b.usage.map(|u| u.normalise()), model: b.model }
        }
        Endpoint::Messages => {
            let b: Body<AnthropicUsage> = serde_json::from_slice(body)?;
            Reported { usage: b.usage.map(|u| u.normalise()), model: b.model }
        }
    })
}

/// The two fields read from a whole answer; everything else is skipped.
#[derive(Deserialize)]
struct Body<U> {
    model: Option<String>,
    usage: Option<U>,
}

/// OpenAI chat and embeddings `usage`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct ChatUsage {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
    prompt_tokens_details: Option<OpenAiInputDetails>,
    completion_tokens_details: Option<OpenAiOutputDetails>,
}

/// OpenAI Responses `usage`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct ResponsesUsage {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    input_tokens_details: Option<OpenAiInputDetails>,
    output_tokens_details: Option<OpenAiOutputDetails>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct OpenAiInputDetails {
    /// Cache reads; part of the prompt count.
    cached_tokens: Option<u64>,
    /// Cache writes; part of the prompt count.
    cache_write_tokens: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct OpenAiOutputDetails {
    /// Part of the completion count.
    reasoning_tokens: Option<u64>,
}

fn openai(input: Option<u64>, output: Option<u64>, inp: Option<&OpenAiInputDetails>, out: Option<&OpenAiOutputDetails>) -> Usage {
    Usage {
        input_tokens: input.unwrap_or(0),
        cached_input_tokens: inp.and_then(|d| d.cached_tokens).unwrap_or(0),
        cache_creation_tokens: inp.and_then(|d| d.cache_write_tokens).unwrap_or(0),
        output_tokens: output.unwrap_or(0),
        reasoning_tokens: out.and_then(|d| d.reasoning_tokens).unwrap_or(0),
        ..Usage::default()
    }
}

impl ChatUsage {
    pub(super) fn normalise(&self) -> Usage {
        openai(self.prompt_tokens, self.completion_tokens, self.prompt_tokens_details.as_ref(), self.completion_tokens_details.as_ref())
    }
}

impl ResponsesUsage {
    pub(super) fn normalise(&self) -> Usage {
        openai(self.input_tokens, self.output_tokens, self.input_tokens_details.as_ref(), self.output_tokens_details.as_ref())
    }
}

/// Anthropic `usage` (of a message, or of a streamed `message_delta`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub(super) struct AnthropicUsage {
    /// Prompt tokens neither read from nor written to the cache.
    input_tokens: Option<u64>,
    cache_creation_input_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    output_tokens_details: Option<AnthropicOutputDetails>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
struct AnthropicOutputDetails {
    thinking_tokens: Option<u64>,
}

impl AnthropicUsage {
    /// Takes a later report. Streamed counts are cumulative totals, so a
    /// count present replaces the earlier one (adding them double-counts:
    /// `message_start` says 1 output token, `message_delta` says 15, the
    /// answer had 15) and a count absent keeps it.
    pub(super) fn update(&mut self, later: &AnthropicUsage) {
        fn keep(old: &mut Option<u64>, new: Option<u64>) {
            if new.is_some() {
                *old = new;
            }
        }
        keep(&mut self.input_tokens, later.input_tokens);
        keep(&mut self.cache_creation_input_tokens, later.cache_creation_input_tokens);
        keep(&mut self.cache_read_input_tokens, later.cache_read_input_tokens);
        keep(&mut self.output_tokens, later.output_tokens);
        if later.output_tokens_details.is_some() {
            self.output_tokens_details = later.output_tokens_details;
        }
    }

    pub(super) fn normalise(&self) -> Usage {
        let read = self.cache_read_input_tokens.unwrap_or(0);
        let written = self.cache_creation_input_tokens.unwrap_or(0);
        Usage {
            input_tokens: self.input_tokens.unwrap_or(0).saturating_add(read).saturating_add(written),
            cached_input_tokens: read,
            cache_creation_tokens: written,
            output_tokens: self.output_tokens.unwrap_or(0),
            reasoning_tokens: self.output_tokens_details.and_then(|d| d.thinking_tokens).unwrap_or(0),
            ..Usage::default()
        }
    }
}

/// An error the upstream reported inside an answer or a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamError {
    /// The provider's error type or code (`overloaded_error`,
    /// `rate_limit_exceeded`, `server_error`).
    pub kind: String,
    pub message: String,
}

impl UpstreamError {
    /// The error a non-success answer's body reports: OpenAI's
    /// `{"error": {...}}` or Anthropic's `{"type": "error", "error": {...}}`;
    /// `None` when the body says nothing readable.
    pub fn of_body(body: &[u8]) -> Option<Self> {
        let v: Value = serde_json::from_slice(body).ok()?;
        let e = v.get("error")?;
        Some(match e {
            Value::String(s) => UpstreamError { kind: "error".into(), message: s.clone() },
            _ => Self::from_value(e, "error"),
        })
    }

    /// Reads `{type|code, message}` from an error object; `fallback_kind`
    /// when it names neither.
    pub(super) fn from_value(error: &Value, fallback_kind: &str) -> Self {
        let text = |v: &Value| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        let kind = error.get("type").and_then(text).or_else(|| error.get("code").and_then(text));
        UpstreamError {
            kind: kind.unwrap_or_else(|| fallback_kind.to_string()),
            message: error.get("message").and_then(text).unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(input: u64, cached: u64, written: u64, output: u64, reasoning: u64) -> Usage {
        Usage {
            input_tokens: input,
            cached_input_tokens: cached,
            cache_creation_tokens: written,
            output_tokens: output,
            reasoning_tokens: reasoning,
            ..Usage::default()
        }
    }

    #[test]
    fn openai_chat_prompt_includes_cached_and_completion_includes_reasoning() {
        let body = br#"{
          "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
          "object": "chat.completion",
          "created": 1741570283,
          "model": "o3-mini-2025-01-31",
          "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi", "refusal": null, "annotations": []},
                       "logprobs": null, "finish_reason": "stop"}],
          "usage": {
            "prompt_tokens": 1117, "completion_tokens": 546, "total_tokens": 1663,
            "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 320, "audio_tokens": 0,
                                          "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
          },
          "service_tier": "default",
          "system_fingerprint": "fp_fc9f1d7035"
        }"#;
        let r = from_body(Endpoint::ChatCompletions, body).unwrap();
        assert_eq!(r.usage, Some(usage(1117, 1024, 0, 546, 320)));
        assert_eq!(r.model.as_deref(), Some("o3-mini-2025-01-31"));
    }

    #[test]
    fn openai_compatible_servers_may_null_or_omit_the_details() {
        let body = br#"{"model":"llama-3.1-8b","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15,
                        "prompt_tokens_details":null}}"#;
        assert_eq!(from_body(Endpoint::ChatCompletions, body).unwrap().usage, Some(usage(12, 0, 0, 3, 0)));
        let none = from_body(Endpoint::ChatCompletions, br#"{"model":"m","usage":null}"#).unwrap();
        assert_eq!(none, Reported { usage: None, model: Some("m".into()) });
    }

    #[test]
    fn openai_responses_usage_uses_input_and_output_names() {
        let body = br#"{
          "id": "resp_67ccd3a9da748190baa7f1570fe91ac604becb25c45c1d41",
          "object": "response", "created_at": 1741476777, "status": "completed",
          "model": "gpt-4o-2024-08-06",
          "output": [{"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
                      "content": [{"type": "output_text", "text": "Hi", "annotations": []}]}],
          "usage": {"input_tokens": 328, "input_tokens_details": {"cached_tokens": 128, "cache_write_tokens": 64},
                    "output_tokens": 52, "output_tokens_details": {"reasoning_tokens": 12}, "total_tokens": 380}
        }"#;
        let r = from_body(Endpoint::Responses, body).unwrap();
        assert_eq!(r.usage, Some(usage(328, 128, 64, 52, 12)));
        assert_eq!(r.model.as_deref(), Some("gpt-4o-2024-08-06"));
    }

    #[test]
    fn openai_embeddings_have_prompt_tokens_only() {
        let body = br#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.0023064255,-0.009327292]}],
                        "model":"text-embedding-3-small","usage":{"prompt_tokens":8,"total_tokens":8}}"#;
        let r = from_body(Endpoint::Embeddings, body).unwrap();
        assert_eq!(r.usage, Some(usage(8, 0, 0, 0, 0)));
        assert_eq!(r.model.as_deref(), Some("text-embedding-3-small"));
    }

    #[test]
    fn anthropic_input_is_the_sum_of_uncached_reads_and_writes() {
        let body = br#"{
          "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF", "type": "message", "role": "assistant",
          "model": "claude-sonnet-4-20250514",
          "content": [{"type": "text", "text": "Hi! My name is Claude."}],
          "stop_reason": "end_turn", "stop_sequence": null,
          "usage": {"input_tokens": 21, "cache_creation_input_tokens": 188086, "cache_read_input_tokens": 2048,
                    "output_tokens": 393, "service_tier": "standard"}
        }"#;
        let r = from_body(Endpoint::Messages, body).unwrap();
        assert_eq!(r.usage, Some(usage(21 + 188_086 + 2048, 2048, 188_086, 393, 0)));
        assert_eq!(r.model.as_deref(), Some("claude-sonnet-4-20250514"));
    }

    #[test]
    fn anthropic_thinking_tokens_are_reasoning_within_output() {
        let body = br#"{"type":"message","model":"claude-opus-4-1","content":[],
                        "usage":{"input_tokens":10,"output_tokens":700,"output_tokens_details":{"thinking_tokens":650}}}"#;
        assert_eq!(from_body(Endpoint::Messages, body).unwrap().usage, Some(usage(10, 0, 0, 700, 650)));
    }

    #[test]
    fn anthropic_updates_replace_present_counts_and_keep_absent_ones() {
        let mut u: AnthropicUsage = serde_json::from_str(
            r#"{"input_tokens":472,"cache_creation_input_tokens":0,"cache_read_input_tokens":100,"output_tokens":1}"#,
        )
        .unwrap();
        u.update(&serde_json::from_str(r#"{"output_tokens":15}"#).unwrap());
        assert_eq!(u.normalise(), usage(572, 100, 0, 15, 0));
        u.update(&serde_json::from_str(r#"{"output_tokens":15,"input_tokens":480}"#).unwrap());
        assert_eq!(u.normalise(), usage(580, 100, 0, 15, 0));
    }

    #[test]
    fn endpoints_are_known_by_path() {
        assert_eq!(Endpoint::from_path("/v1/chat/completions"), Some(Endpoint::ChatCompletions));
        assert_eq!(Endpoint::from_path("/v1/messages/"), Some(Endpoint::Messages));
        assert_eq!(Endpoint::from_path("/v1/messages/count_tokens"), None);
    }

    #[test]
    fn error_objects_give_type_or_code_and_message() {
        let e = UpstreamError::from_value(&serde_json::json!({"type":"overloaded_error","message":"Overloaded"}), "error");
        assert_eq!(e, UpstreamError { kind: "overloaded_error".into(), message: "Overloaded".into() });
        let e = UpstreamError::from_value(&serde_json::json!({"code":"server_error","message":"boom"}), "error");
        assert_eq!(e.kind, "server_error");
        assert_eq!(UpstreamError::from_value(&serde_json::json!({}), "error").kind, "error");
    }
}
