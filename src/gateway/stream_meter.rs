//! Metering one streamed answer as its events pass through.
//!
//! Each provider reports a streamed call's usage in its own place:
//! - OpenAI chat: only when asked (`stream_options.include_usage`), in a
//!   last chunk with `choices: []` before `data: [DONE]`. Some compatible
//!   servers repeat a running total in every chunk: the last one counts.
//! - OpenAI Responses: inside `response` of the terminal event
//!   (`response.completed`, `.incomplete` or `.failed`); no `[DONE]`. Web
//!   searches are not in `usage` but `web_search_call` output items, each
//!   announced by a `response.output_item.done` as it finishes.
//! - Anthropic: `message_start` carries the prompt and cache counts (and an
//!   initial output count), each `message_delta` a cumulative output count.
//!
//! Every report is a running total, so the meter replaces, never adds. It
//! also keeps what the gateway needs when the upstream breaks before its
//! usage (the text so far, for an estimate), whether the provider's end
//! marker came, any error event, and when the first content arrived.

use serde::Deserialize;
use serde_json::Value;

use super::sse::SseEvent;
use super::usage::{service_tier_named, web_searches, AnthropicUsage, ChatUsage, Endpoint, OutputItem, ResponsesUsage, UpstreamError};
use crate::pricing::{ServiceTier, Usage};

/// What an observed event was, where the gateway must act on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observed {
    /// An OpenAI chat chunk with `choices: []` and `usage`: the gateway
    /// asks for usage on every call and removes this chunk from what a
    /// client that did not ask for it sees.
    UsageOnlyChunk,
    /// Anything else (forwarded as it came).
    Other,
}

/// The meter of one streamed call.
#[derive(Debug, Clone)]
pub struct StreamMeter {
    endpoint: Endpoint,
    usage: Option<Usage>,
    /// Anthropic's counts so far, merged field by field.
    anthropic: AnthropicUsage,
    model: Option<String>,
    service_tier: Option<ServiceTier>,
    text: String,
    finished: bool,
    error: Option<UpstreamError>,
    first_token_ms: Option<u64>,
    /// Responses: the web searches finished so far.
    web_searches: u64,
}

impl StreamMeter {
    /// A meter for a stream of `endpoint` (embeddings never stream; their
    /// meter observes nothing).
    pub fn new(endpoint: Endpoint) -> Self {
        StreamMeter {
            endpoint,
            usage: None,
            anthropic: AnthropicUsage::default(),
            model: None,
            service_tier: None,
            text: String::new(),
            finished: false,
            error: None,
            first_token_ms: None,
            web_searches: 0,
        }
    }

    /// Takes one event. `at_ms` is the caller's clock (the gateway passes
    /// milliseconds since it sent the request, so [`first_token_ms`] is the
    /// time to first token; tests pass fixed values). An event whose data is
    /// not the expected JSON is ignored: the meter observes, it never
    /// refuses what the client will receive anyway.
    ///
    /// [`first_token_ms`]: Self::first_token_ms
    pub fn observe(&mut self, event: &SseEvent, at_ms: u64) -> Observed {
        match self.endpoint {
            Endpoint::ChatCompletions => self.chat(event, at_ms),
            Endpoint::Responses => {
                self.responses(event, at_ms);
                Observed::Other
            }
            Endpoint::Messages => {
                self.messages(event, at_ms);
                Observed::Other
            }
            Endpoint::Embeddings => Observed::Other,
        }
    }

    /// The latest usage reported (a total, never a sum of reports). After
    /// a clean finish it is the provider's final count; before, it is what
    /// was reported so far (for Anthropic, exact prompt counts and the
    /// output count of the last `message_delta`, or `message_start`'s
    /// initial one).
    ///
    /// A Responses stream's web searches count from their items as they
    /// finish, so a stream cut before its report still has them (a usage
    /// of searches only, which the gateway completes as an estimate).
    pub fn usage(&self) -> Option<Usage> {
        match (self.usage, self.web_searches) {
            (usage, 0) => usage,
            (Some(u), seen) => Some(Usage { queries: u.queries.max(seen), ..u }),
            (None, seen) => Some(Usage { queries: seen, ..Usage::default() }),
        }
    }

    /// The model as the answer names it.
    pub fn model(&self) -> Option<&str> {
        self.model.as_deref()
    }

    /// The tier the answer says served the call (OpenAI's `service_tier`
    /// of each chunk or of the response, Anthropic's `usage.service_tier`).
    pub fn service_tier(&self) -> Option<ServiceTier> {
        self.service_tier
    }

    /// The content streamed so far: text, refusals, reasoning and tool-call
    /// arguments, for an estimate when no usage came.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether the provider's end marker came: `data: [DONE]` (chat), a
    /// terminal `response.*` event (Responses), `message_stop` (Anthropic).
    pub fn finished(&self) -> bool {
        self.finished
    }

    /// An error the upstream reported in the stream (an `error` event, an
    /// `{"error": ...}` chunk, or a `response.failed`).
    pub fn error(&self) -> Option<&UpstreamError> {
        self.error.as_ref()
    }

    /// The `at_ms` of the first event that carried content.
    pub fn first_token_ms(&self) -> Option<u64> {
        self.first_token_ms
    }

    fn content(&mut self, text: &str, at_ms: u64) {
        if text.is_empty() {
            return;
        }
        self.first_token_ms.get_or_insert(at_ms);
        self.text.push_str(text);
    }

    fn set_model(&mut self, model: Option<String>) {
        if let Some(m) = model.filter(|m| !m.is_empty()) {
            self.model = Some(m);
        }
    }

    fn set_service_tier(&mut self, name: Option<&str>) {
        if let Some(tier) = name.and_then(service_tier_named) {
            self.service_tier = Some(tier);
        }
    }

    fn chat(&mut self, event: &SseEvent, at_ms: u64) -> Observed {
        if event.data.trim() == "[DONE]" {
            self.finished = true;
            return Observed::Other;
        }
        let Ok(chunk) = serde_json::from_str::<ChatChunk>(&event.data) else { return Observed::Other };
        if let Some(error) = &chunk.error {
            self.error = Some(UpstreamError::from_value(error, "error"));
        }
        self.set_model(chunk.model);
        self.set_service_tier(chunk.service_tier.as_deref());
        for choice in chunk.choices.iter().flatten() {
            let Some(d) = &choice.delta else { continue };
            for text in [&d.content, &d.reasoning_content, &d.reasoning, &d.refusal].into_iter().flatten() {
                self.content(text, at_ms);
            }
            for call in d.tool_calls.iter().flatten() {
                if let Some(f) = &call.function {
                    for text in [&f.name, &f.arguments].into_iter().flatten() {
                        self.content(text, at_ms);
                    }
                }
            }
        }
        let Some(usage) = chunk.usage else { return Observed::Other };
        self.usage = Some(usage.normalise());
        if chunk.choices.is_some_and(|c| c.is_empty()) {
            Observed::UsageOnlyChunk
        } else {
            Observed::Other
        }
    }

    fn responses(&mut self, event: &SseEvent, at_ms: u64) {
        let Ok(e) = serde_json::from_str::<ResponsesEvent>(&event.data) else { return };
        let kind = e.kind.as_deref().unwrap_or_else(|| event.name());
        if let Some(r) = e.response {
            self.set_model(r.model);
            self.set_service_tier(r.service_tier.as_deref());
            if let Some(u) = r.usage {
                let queries = web_searches(r.output.as_deref().unwrap_or_default());
                self.usage = Some(Usage { queries, ..u.normalise() });
            }
            if let Some(error) = r.error.filter(|e| !e.is_null()) {
                self.error = Some(UpstreamError::from_value(&error, "response_failed"));
            }
        }
        match kind {
            "response.completed" | "response.incomplete" | "response.failed" => self.finished = true,
            "response.output_item.done" if e.item.is_some_and(|i| i.is_web_search()) => self.web_searches += 1,
            "error" => {
                let error = e.error.unwrap_or_else(|| serde_json::json!({"code": e.code, "message": e.message}));
                self.error = Some(UpstreamError::from_value(&error, "error"));
            }
            _ if RESPONSES_TEXT_DELTAS.contains(&kind) => {
                if let Some(Value::String(delta)) = &e.delta {
                    self.content(delta, at_ms);
                }
            }
            _ => {}
        }
    }

    fn messages(&mut self, event: &SseEvent, at_ms: u64) {
        let Ok(e) = serde_json::from_str::<MessagesEvent>(&event.data) else { return };
        match e.kind.as_deref().unwrap_or_else(|| event.name()) {
            "message_start" => {
                if let Some(m) = e.message {
                    self.set_model(m.model);
                    if let Some(u) = m.usage {
                        self.anthropic = u;
                        self.usage = Some(self.anthropic.normalise());
                        self.service_tier = self.anthropic.service_tier().or(self.service_tier);
                    }
                }
            }
            "content_block_start" => {
                if let Some(text) = e.content_block.and_then(|b| b.text) {
                    self.content(&text, at_ms);
                }
            }
            "content_block_delta" => {
                if let Some(d) = e.delta {
                    for text in [&d.text, &d.partial_json, &d.thinking].into_iter().flatten() {
                        self.content(text, at_ms);
                    }
                }
            }
            "message_delta" => {
                if let Some(u) = e.usage {
                    self.anthropic.update(&u);
                    self.usage = Some(self.anthropic.normalise());
                    self.service_tier = self.anthropic.service_tier().or(self.service_tier);
                }
            }
            "message_stop" => self.finished = true,
            "error" => {
                let error = e.error.unwrap_or(Value::Null);
                self.error = Some(UpstreamError::from_value(&error, "error"));
            }
            _ => {}
        }
    }
}

/// The Responses events whose string `delta` is content.
const RESPONSES_TEXT_DELTAS: &[&str] = &[
    "response.output_text.delta",
    "response.refusal.delta",
    "response.reasoning_text.delta",
    "response.reasoning_summary_text.delta",
    "response.function_call_arguments.delta",
    "response.custom_tool_call_input.delta",
    "response.audio.transcript.delta",
];

/// The parts of a chat chunk the meter reads.
#[derive(Deserialize)]
struct ChatChunk {
    model: Option<String>,
    service_tier: Option<String>,
    choices: Option<Vec<ChatChoice>>,
    usage: Option<ChatUsage>,
    error: Option<Value>,
}

#[derive(Deserialize)]
struct ChatChoice {
    delta: Option<ChatDelta>,
}

#[derive(Deserialize)]
struct ChatDelta {
    content: Option<String>,
    /// Reasoning text of compatible servers (DeepSeek, vLLM; `reasoning` on others).
    reasoning_content: Option<String>,
    reasoning: Option<String>,
    refusal: Option<String>,
    tool_calls: Option<Vec<ToolCallDelta>>,
}

#[derive(Deserialize)]
struct ToolCallDelta {
    function: Option<FunctionDelta>,
}

#[derive(Deserialize)]
struct FunctionDelta {
    name: Option<String>,
    arguments: Option<String>,
}

/// The parts of a Responses stream event the meter reads.
#[derive(Deserialize)]
struct ResponsesEvent {
    #[serde(rename = "type")]
    kind: Option<String>,
    /// A string on text deltas; other events use other shapes.
    delta: Option<Value>,
    response: Option<ResponseObject>,
    /// The item of `response.output_item.*` events.
    item: Option<OutputItem>,
    code: Option<Value>,
    message: Option<Value>,
    error: Option<Value>,
}

#[derive(Deserialize)]
struct ResponseObject {
    model: Option<String>,
    service_tier: Option<String>,
    usage: Option<ResponsesUsage>,
    output: Option<Vec<OutputItem>>,
    error: Option<Value>,
}

/// The parts of an Anthropic stream event the meter reads.
#[derive(Deserialize)]
struct MessagesEvent {
    #[serde(rename = "type")]
    kind: Option<String>,
    message: Option<MessageStart>,
    content_block: Option<ContentBlock>,
    delta: Option<MessagesDelta>,
    usage: Option<AnthropicUsage>,
    error: Option<Value>,
}

#[derive(Deserialize)]
struct MessageStart {
    model: Option<String>,
    usage: Option<AnthropicUsage>,
}

#[derive(Deserialize)]
struct ContentBlock {
    text: Option<String>,
}

#[derive(Deserialize)]
struct MessagesDelta {
    text: Option<String>,
    partial_json: Option<String>,
    thinking: Option<String>,
}
