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
//! Beside the token totals: audio and image tokens (OpenAI's
//! `*_tokens_details.audio_tokens` / `image_tokens`), Anthropic's 1-hour
//! cache writes (`cache_creation.ephemeral_1h_input_tokens`, part of
//! `cache_creation_input_tokens`) and web searches
//! (`server_tool_use.web_search_requests`, priced per query), and the
//! service tier that served the call (OpenAI's top-level `service_tier`,
//! Anthropic's `usage.service_tier`), each priced by its own rates. OpenAI
//! reports a Responses call's web searches outside `usage`, as
//! `web_search_call` items of its `output`: each is one query; its chat
//! search models search once per call ([`searches_every_call`]).
//!
//! Every count is optional on the wire (servers that speak "OpenAI
//! compatible" omit or null the details); a missing count is 0. Counts are
//! never added across reports: each report is a total (see `stream_meter`).

use serde::Deserialize;
use serde_json::Value;

use crate::pricing::{ServiceTier, Usage};

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
    /// The tier the provider says served the call (`None`: not said).
    pub service_tier: Option<ServiceTier>,
}

/// A service tier as a provider names it, in a request or an answer:
/// OpenAI's `default`, `flex`, `priority` (`auto` and `scale` are charged
/// at standard rates), Anthropic's `standard`, `priority`, `batch`.
/// `None` for a name Tollbooth has no rates for.
pub fn service_tier_named(name: &str) -> Option<ServiceTier> {
    match name {
        "default" | "standard" | "auto" | "scale" | "standard_only" => Some(ServiceTier::Default),
        "flex" => Some(ServiceTier::Flex),
        "priority" => Some(ServiceTier::Priority),
        "batch" => Some(ServiceTier::Batch),
        _ => None,
    }
}

/// A model's own name: without the `<connection>/` prefix under which a
/// provider connection serves it.
pub fn model_name(model: &str) -> &str {
    model.rsplit('/').next().unwrap_or(model)
}

/// Whether `model` is one of OpenAI's chat search models
/// (`gpt-4o-search-preview`, `gpt-5-search-api`, dated or behind a
/// `<connection>/` prefix), which search the web before every answer
/// without saying so in their usage: each call is one query.
pub fn searches_every_call(model: &str) -> bool {
    let name = model_name(model);
    name.contains("-search-preview") || name.contains("-search-api")
}

/// Reads the usage and model of a non-streamed JSON answer.
pub fn from_body(endpoint: Endpoint, body: &[u8]) -> Result<Reported, serde_json::Error> {
    Ok(match endpoint {
        Endpoint::ChatCompletions | Endpoint::Embeddings => {
            let b: Body<ChatUsage> = serde_json::from_slice(body)?;
            let service_tier = b.service_tier.as_deref().and_then(service_tier_named);
            Reported { usage: b.usage.map(|u| u.normalise()), model: b.model, service_tier }
        }
        Endpoint::Responses => {
            let b: Body<ResponsesUsage> = serde_json::from_slice(body)?;
            let service_tier = b.service_tier.as_deref().and_then(service_tier_named);
            let queries = web_searches(b.output.as_deref().unwrap_or_default());
            Reported { usage: b.usage.map(|u| Usage { queries, ..u.normalise() }), model: b.model, service_tier }
        }
        Endpoint::Messages => {
            let b: Body<AnthropicUsage> = serde_json::from_slice(body)?;
            let service_tier = b.usage.as_ref().and_then(AnthropicUsage::service_tier);
            Reported { usage: b.usage.map(|u| u.normalise()), model: b.model, service_tier }
        }
    })
}

/// The fields read from a whole answer; everything else is skipped.
#[derive(Deserialize)]
struct Body<U> {
    model: Option<String>,
    usage: Option<U>,
    service_tier: Option<String>,
    /// A response's output items (Responses only).
    output: Option<Vec<OutputItem>>,
}

/// An item of a Responses `output`, read for its type only.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct OutputItem {
    #[serde(rename = "type")]
    kind: Option<String>,
}

impl OutputItem {
    /// Whether the item is a web search the call ran (priced per query).
    pub(super) fn is_web_search(&self) -> bool {
        self.kind.as_deref() == Some("web_search_call")
    }
}

/// The web searches among a response's output items.
pub(super) fn web_searches(output: &[OutputItem]) -> u64 {
    output.iter().filter(|i| i.is_web_search()).count() as u64
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
    /// Audio and image parts of the prompt count.
    audio_tokens: Option<u64>,
    image_tokens: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct OpenAiOutputDetails {
    /// Part of the completion count.
    reasoning_tokens: Option<u64>,
    /// Audio and image parts of the completion count.
    audio_tokens: Option<u64>,
    image_tokens: Option<u64>,
}

fn openai(input: Option<u64>, output: Option<u64>, inp: Option<&OpenAiInputDetails>, out: Option<&OpenAiOutputDetails>) -> Usage {
    let count = |n: Option<u64>| n.unwrap_or(0);
    parts_within_totals(Usage {
        input_tokens: count(input),
        cached_input_tokens: count(inp.and_then(|d| d.cached_tokens)),
        cache_creation_tokens: count(inp.and_then(|d| d.cache_write_tokens)),
        audio_input_tokens: count(inp.and_then(|d| d.audio_tokens)),
        image_input_tokens: count(inp.and_then(|d| d.image_tokens)),
        output_tokens: count(output),
        reasoning_tokens: count(out.and_then(|d| d.reasoning_tokens)),
        audio_output_tokens: count(out.and_then(|d| d.audio_tokens)),
        image_output_tokens: count(out.and_then(|d| d.image_tokens)),
        ..Usage::default()
    })
}

/// Keeps each part within the total it is part of, as an event must (see
/// [`Usage::validate`]): a provider's report that contradicts itself is
/// recorded with its totals, never refused and lost.
fn parts_within_totals(mut u: Usage) -> Usage {
    let mut input_left = u.input_tokens;
    for part in [&mut u.cached_input_tokens, &mut u.cache_creation_tokens, &mut u.audio_input_tokens, &mut u.image_input_tokens] {
        *part = (*part).min(input_left);
        input_left -= *part;
    }
    u.cache_creation_1h_tokens = u.cache_creation_1h_tokens.min(u.cache_creation_tokens);
    let mut output_left = u.output_tokens;
    for part in [&mut u.reasoning_tokens, &mut u.audio_output_tokens, &mut u.image_output_tokens] {
        *part = (*part).min(output_left);
        output_left -= *part;
    }
    u
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
    /// The cache writes by lifetime (their sum is `cache_creation_input_tokens`).
    cache_creation: Option<AnthropicCacheCreation>,
    /// Server tools run for the call.
    server_tool_use: Option<AnthropicServerTools>,
    /// `standard`, `priority` or `batch`.
    service_tier: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
struct AnthropicOutputDetails {
    thinking_tokens: Option<u64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
struct AnthropicCacheCreation {
    ephemeral_1h_input_tokens: Option<u64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
struct AnthropicServerTools {
    web_search_requests: Option<u64>,
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
        if later.cache_creation.is_some() {
            self.cache_creation = later.cache_creation;
        }
        if later.server_tool_use.is_some() {
            self.server_tool_use = later.server_tool_use;
        }
        if later.service_tier.is_some() {
            self.service_tier.clone_from(&later.service_tier);
        }
    }

    /// The tier the answer says served it.
    pub(super) fn service_tier(&self) -> Option<ServiceTier> {
        self.service_tier.as_deref().and_then(service_tier_named)
    }

    pub(super) fn normalise(&self) -> Usage {
        let read = self.cache_read_input_tokens.unwrap_or(0);
        let written = self.cache_creation_input_tokens.unwrap_or(0);
        parts_within_totals(Usage {
            input_tokens: self.input_tokens.unwrap_or(0).saturating_add(read).saturating_add(written),
            cached_input_tokens: read,
            cache_creation_tokens: written,
            cache_creation_1h_tokens: self.cache_creation.and_then(|c| c.ephemeral_1h_input_tokens).unwrap_or(0),
            output_tokens: self.output_tokens.unwrap_or(0),
            reasoning_tokens: self.output_tokens_details.and_then(|d| d.thinking_tokens).unwrap_or(0),
            queries: self.server_tool_use.and_then(|s| s.web_search_requests).unwrap_or(0),
            ..Usage::default()
        })
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
        assert_eq!(none, Reported { usage: None, model: Some("m".into()), service_tier: None });
    }

    #[test]
    fn openai_audio_and_image_tokens_are_parts_of_the_totals_and_the_tier_is_the_answers() {
        let body = br#"{"model":"gpt-4o-audio-preview-2024-12-17","service_tier":"priority",
          "usage":{"prompt_tokens":500,"completion_tokens":300,
                   "prompt_tokens_details":{"cached_tokens":100,"audio_tokens":200,"image_tokens":50},
                   "completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":250}}}"#;
        let r = from_body(Endpoint::ChatCompletions, body).unwrap();
        let u = r.usage.unwrap();
        assert_eq!((u.input_tokens, u.cached_input_tokens, u.audio_input_tokens, u.image_input_tokens), (500, 100, 200, 50));
        assert_eq!((u.output_tokens, u.audio_output_tokens), (300, 250));
        assert_eq!(r.service_tier, Some(ServiceTier::Priority));
        u.validate().unwrap();
        let flex = from_body(Endpoint::Responses, br#"{"model":"o3","service_tier":"flex","usage":{"input_tokens":1,"output_tokens":1}}"#).unwrap();
        assert_eq!(flex.service_tier, Some(ServiceTier::Flex));
        let auto = from_body(Endpoint::ChatCompletions, br#"{"model":"m","service_tier":"auto"}"#).unwrap();
        assert_eq!(auto.service_tier, Some(ServiceTier::Default));
    }

    #[test]
    fn a_report_that_contradicts_itself_keeps_its_totals_and_is_never_refused() {
        let body = br#"{"model":"m","usage":{"prompt_tokens":10,"completion_tokens":5,
                   "prompt_tokens_details":{"cached_tokens":8,"audio_tokens":8},
                   "completion_tokens_details":{"reasoning_tokens":9,"audio_tokens":3}}}"#;
        let u = from_body(Endpoint::ChatCompletions, body).unwrap().usage.unwrap();
        assert_eq!((u.input_tokens, u.cached_input_tokens, u.audio_input_tokens), (10, 8, 2));
        assert_eq!((u.output_tokens, u.reasoning_tokens, u.audio_output_tokens), (5, 5, 0));
        u.validate().unwrap();
    }

    #[test]
    fn anthropic_one_hour_cache_writes_web_searches_and_tier() {
        let body = br#"{"type":"message","model":"claude-sonnet-4-5-20250929","content":[],
          "usage":{"input_tokens":50,"cache_creation_input_tokens":3000,"cache_read_input_tokens":0,
                   "cache_creation":{"ephemeral_5m_input_tokens":1000,"ephemeral_1h_input_tokens":2000},
                   "output_tokens":80,"server_tool_use":{"web_search_requests":3},"service_tier":"priority"}}"#;
        let r = from_body(Endpoint::Messages, body).unwrap();
        let u = r.usage.unwrap();
        assert_eq!((u.input_tokens, u.cache_creation_tokens, u.cache_creation_1h_tokens), (3050, 3000, 2000));
        assert_eq!((u.queries, r.service_tier), (3, Some(ServiceTier::Priority)));
        let standard = from_body(Endpoint::Messages, br#"{"usage":{"input_tokens":1,"service_tier":"standard"}}"#).unwrap();
        assert_eq!(standard.service_tier, Some(ServiceTier::Default));
    }

    #[test]
    fn openai_web_searches_are_the_web_search_call_items_of_a_response() {
        let body = br#"{"model":"gpt-5-mini","output":[
            {"type":"web_search_call","id":"ws_1","status":"completed","action":{"type":"search","query":"tollbooth"}},
            {"type":"reasoning","id":"rs_1","summary":[]},
            {"type":"web_search_call","id":"ws_2","status":"completed","action":{"type":"search","query":"meters"}},
            {"type":"message","id":"msg_1","status":"completed","role":"assistant","content":[]}],
          "usage":{"input_tokens":20,"output_tokens":9}}"#;
        let u = from_body(Endpoint::Responses, body).unwrap().usage.unwrap();
        assert_eq!((u.input_tokens, u.output_tokens, u.queries), (20, 9, 2));
        let none = from_body(Endpoint::Responses, br#"{"output":[{"type":"message"}],"usage":{"input_tokens":1}}"#).unwrap();
        assert_eq!(none.usage.unwrap().queries, 0);
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
