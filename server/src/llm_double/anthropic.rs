//! Anthropic's wire shapes: messages and their stream events, token
//! counts, the model list, errors. Field sets follow Anthropic's API
//! reference, so the official SDK decodes them unchanged.

use serde_json::{json, Value};

use super::plan::Plan;
use super::streaming::frame;
use super::Answer;

/// `{"type": "error", "error": {type, message}, "request_id"}`.
pub fn error(kind: &str, message: &str, request_id: &str) -> Value {
    json!({"type": "error", "error": {"type": kind, "message": message}, "request_id": request_id})
}

/// The error type Anthropic uses for a status.
pub fn error_type(status: u16) -> &'static str {
    match status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        504 => "timeout_error",
        529 => "overloaded_error",
        _ if status >= 500 => "api_error",
        _ => "invalid_request_error",
    }
}

/// `usage` with `output` output tokens. `input_tokens` excludes both cache
/// counts, as Anthropic reports it.
fn usage(p: &Plan, output: u64) -> Value {
    let mut u = json!({
        "input_tokens": p.uncached_prompt_tokens(),
        "cache_creation_input_tokens": p.cache_write_tokens,
        "cache_read_input_tokens": p.cached_tokens,
        "output_tokens": output,
        "service_tier": "standard"
    });
    let (five_minutes, one_hour) = if p.cache_write_1h { (0, p.cache_write_tokens) } else { (p.cache_write_tokens, 0) };
    u["cache_creation"] = json!({"ephemeral_5m_input_tokens": five_minutes, "ephemeral_1h_input_tokens": one_hour});
    if p.reasoning_tokens > 0 {
        u["output_tokens_details"] = json!({"thinking_tokens": p.reasoning_tokens.min(output)});
    }
    if p.web_searches > 0 {
        u["server_tool_use"] = json!({"web_search_requests": p.web_searches});
    }
    u
}

fn stop_reason(p: &Plan) -> &'static str {
    if p.truncated { "max_tokens" } else { "end_turn" }
}

/// A message with `content` and `stop_reason` (null while streaming).
fn message_object(a: &Answer, content: Value, stop: Option<&str>, usage: Value) -> Value {
    json!({
        "id": a.id("msg_01"),
        "type": "message",
        "role": "assistant",
        "model": a.plan.model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": null,
        "usage": usage
    })
}

/// A non-streamed message.
pub fn message(a: &Answer) -> Value {
    message_object(a, json!([{"type": "text", "text": a.plan.text()}]), Some(stop_reason(&a.plan)), usage(&a.plan, a.plan.output_tokens))
}

/// The events of a streamed message: `message_start` (prompt and cache
/// counts, output 1), one text block with a `ping` after its start (as the
/// API sends), a delta per word, `message_delta` with the cumulative output
/// count, `message_stop`. `x-mock-ping` adds a ping after every delta;
/// `x-mock-repeat-usage` a `message_delta` (no stop reason yet) after every
/// delta with the running total.
pub fn message_stream(a: &Answer) -> Vec<String> {
    let p = &a.plan;
    let event = |kind: &str, data: Value| frame(Some(kind), &data.to_string());
    let delta_usage = |output: u64| {
        let mut u = json!({"output_tokens": output});
        if p.reasoning_tokens > 0 {
            u["output_tokens_details"] = json!({"thinking_tokens": p.reasoning_tokens.min(output)});
        }
        if p.web_searches > 0 {
            u["server_tool_use"] = json!({"web_search_requests": p.web_searches});
        }
        u
    };
    let ping = || event("ping", json!({"type": "ping"}));
    let mut frames = vec![
        event("message_start", json!({"type": "message_start", "message": message_object(a, json!([]), None, usage(p, p.output_tokens.min(1)))})),
        event("content_block_start", json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})),
        ping(),
    ];
    let error = a.switches.error_event_type("overloaded_error");
    let error_frame = |kind: &str| event("error", json!({"type": "error", "error": {"type": kind, "message": "Overloaded"}}));
    let deltas = p.deltas();
    for (i, text) in deltas.iter().enumerate() {
        frames.push(event("content_block_delta", json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}})));
        if let (0, Some(kind)) = (i, &error) {
            frames.push(error_frame(kind));
            return frames;
        }
        if a.switches.ping {
            frames.push(ping());
        }
        if a.switches.repeat_usage {
            let running = p.reasoning_tokens + i as u64 + 1;
            frames.push(event("message_delta", json!({"type": "message_delta", "delta": {"stop_reason": null, "stop_sequence": null}, "usage": delta_usage(running)})));
        }
    }
    if let (true, Some(kind)) = (deltas.is_empty(), &error) {
        frames.push(error_frame(kind));
        return frames;
    }
    frames.push(event("content_block_stop", json!({"type": "content_block_stop", "index": 0})));
    frames.push(event(
        "message_delta",
        json!({"type": "message_delta", "delta": {"stop_reason": stop_reason(p), "stop_sequence": null}, "usage": delta_usage(p.output_tokens)}),
    ));
    frames.push(event("message_stop", json!({"type": "message_stop"})));
    frames
}

/// `POST /v1/messages/count_tokens`: the prompt as `input_tokens`.
pub fn count_tokens(p: &Plan) -> Value {
    json!({"input_tokens": p.prompt_tokens})
}

/// `GET /v1/models` for an Anthropic client.
pub fn models() -> Value {
    let model = |id: &str, name: &str, created: &str| json!({"type": "model", "id": id, "display_name": name, "created_at": created});
    json!({
        "data": [
            model("claude-sonnet-4-20250514", "Claude Sonnet 4", "2025-05-22T00:00:00Z"),
            model("claude-3-5-haiku-20241022", "Claude Haiku 3.5", "2024-10-22T00:00:00Z")
        ],
        "has_more": false,
        "first_id": "claude-sonnet-4-20250514",
        "last_id": "claude-3-5-haiku-20241022"
    })
}
