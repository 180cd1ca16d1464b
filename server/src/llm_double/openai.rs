//! OpenAI's wire shapes: chat completions and their chunks, Responses
//! objects and stream events, embeddings, the model list, errors. Field
//! sets and orders follow OpenAI's API reference, so the official SDKs
//! decode them unchanged.

use base64::Engine;
use serde_json::{json, Value};

use super::plan::WORDS;
use super::streaming::frame;
use super::Answer;

/// What `system_fingerprint` says (a real one changes with deployments).
const FINGERPRINT: &str = "fp_mock_llm";

/// `{"error": {message, type, param, code}}`.
pub fn error(message: &str, kind: &str, param: Option<&str>, code: Option<&str>) -> Value {
    json!({"error": {"message": message, "type": kind, "param": param, "code": code}})
}

/// The error `x-mock-status` answers with: type and code by status.
pub fn status_error(status: u16) -> Value {
    match status {
        429 => error("Rate limit reached for requests (x-mock-status).", "requests", None, Some("rate_limit_exceeded")),
        401 => error("Incorrect API key provided (x-mock-status).", "invalid_request_error", None, Some("invalid_api_key")),
        500..=599 => error("The server had an error while processing your request (x-mock-status).", "server_error", None, None),
        _ => error(&format!("Mock error {status} (x-mock-status)."), "invalid_request_error", None, None),
    }
}

/// `usage` of chat and its chunks after `completion` output tokens.
fn chat_usage(a: &Answer, completion: u64) -> Value {
    let p = &a.plan;
    let mut prompt_details = json!({"cached_tokens": p.cached_tokens, "audio_tokens": 0});
    if p.cache_write_tokens > 0 {
        prompt_details["cache_write_tokens"] = p.cache_write_tokens.into();
    }
    json!({
        "prompt_tokens": p.prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": p.prompt_tokens + completion,
        "prompt_tokens_details": prompt_details,
        "completion_tokens_details": {
            "reasoning_tokens": p.reasoning_tokens.min(completion),
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0
        }
    })
}

/// The tier that served the call, as OpenAI names it.
fn tier(a: &Answer) -> &'static str {
    a.plan.service_tier.unwrap_or("default")
}

fn finish_reason(a: &Answer) -> &'static str {
    if a.plan.truncated { "length" } else { "stop" }
}

/// A non-streamed `chat.completion`.
pub fn chat_completion(a: &Answer) -> Value {
    json!({
        "id": a.id("chatcmpl-"),
        "object": "chat.completion",
        "created": a.created,
        "model": a.plan.model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": a.plan.text(), "refusal": null, "annotations": []},
            "logprobs": null,
            "finish_reason": finish_reason(a)
        }],
        "usage": chat_usage(a, a.plan.output_tokens),
        "service_tier": tier(a),
        "system_fingerprint": FINGERPRINT
    })
}

/// The frames of a streamed chat completion: a role chunk, one chunk per
/// word, a finish chunk, the usage-only chunk (`choices: []`) when the
/// request set `stream_options.include_usage` (or usage repeats), then
/// `data: [DONE]`. With `include_usage` every other chunk has
/// `"usage": null`, as OpenAI sends it; with `x-mock-repeat-usage` each
/// carries the running total instead.
pub fn chat_stream(a: &Answer) -> Vec<String> {
    let include_usage = a.request["stream_options"]["include_usage"].as_bool() == Some(true);
    let repeat = a.switches.repeat_usage;
    let reasoning = a.plan.reasoning_tokens;
    let chunk = |choices: Value, completion: u64| {
        let mut c = json!({
            "id": a.id("chatcmpl-"), "object": "chat.completion.chunk", "created": a.created, "model": a.plan.model,
            "service_tier": tier(a), "system_fingerprint": FINGERPRINT, "choices": choices
        });
        if repeat {
            c["usage"] = chat_usage(a, completion);
        } else if include_usage {
            c["usage"] = Value::Null;
        }
        frame(None, &c.to_string())
    };
    let choice = |delta: Value, finish: Option<&str>| json!([{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]);

    let mut frames = vec![chunk(choice(json!({"role": "assistant", "content": "", "refusal": null}), None), reasoning)];
    let error = a.switches.error_event_type("server_error");
    let deltas = a.plan.deltas();
    for (i, word) in deltas.iter().enumerate() {
        frames.push(chunk(choice(json!({"content": word}), None), reasoning + i as u64 + 1));
        if let (0, Some(kind)) = (i, &error) {
            frames.push(frame(None, &error_body(kind).to_string()));
            return frames;
        }
    }
    if let (true, Some(kind)) = (deltas.is_empty(), &error) {
        frames.push(frame(None, &error_body(kind).to_string()));
        return frames;
    }
    frames.push(chunk(choice(json!({}), Some(finish_reason(a))), a.plan.output_tokens));
    if include_usage || repeat {
        let mut last = json!({
            "id": a.id("chatcmpl-"), "object": "chat.completion.chunk", "created": a.created, "model": a.plan.model,
            "service_tier": tier(a), "system_fingerprint": FINGERPRINT, "choices": []
        });
        last["usage"] = chat_usage(a, a.plan.output_tokens);
        frames.push(frame(None, &last.to_string()));
    }
    frames.push(frame(None, "[DONE]"));
    frames
}

/// The `{"error": …}` chunk some OpenAI-compatible servers send mid-stream.
fn error_body(kind: &str) -> Value {
    error("The server had an error while processing your request. Sorry about that!", kind, None, None)
}

/// Responses `usage`.
fn responses_usage(a: &Answer) -> Value {
    let p = &a.plan;
    json!({
        "input_tokens": p.prompt_tokens,
        "input_tokens_details": {"cached_tokens": p.cached_tokens, "cache_write_tokens": p.cache_write_tokens},
        "output_tokens": p.output_tokens,
        "output_tokens_details": {"reasoning_tokens": p.reasoning_tokens},
        "total_tokens": p.prompt_tokens + p.output_tokens
    })
}

/// The reasoning item (present when reasoning tokens were spent).
fn reasoning_item(a: &Answer) -> Option<Value> {
    (a.plan.reasoning_tokens > 0).then(|| json!({"id": a.id("rs_"), "type": "reasoning", "summary": []}))
}

fn message_item(a: &Answer, status: &str, content: Value) -> Value {
    json!({"id": a.id("msg_"), "type": "message", "status": status, "role": "assistant", "content": content})
}

fn output_text(text: &str) -> Value {
    json!({"type": "output_text", "text": text, "annotations": [], "logprobs": []})
}

/// A `response` object with `status`, `output` and `usage`, echoing the
/// request's settings as OpenAI does.
fn response_object(a: &Answer, status: &str, output: Value, usage: Value) -> Value {
    let r = &a.request;
    let or = |key: &str, default: Value| if r[key].is_null() { default } else { r[key].clone() };
    let incomplete = (status == "incomplete").then(|| json!({"reason": "max_output_tokens"}));
    json!({
        "id": a.id("resp_"),
        "object": "response",
        "created_at": a.created,
        "status": status,
        "background": false,
        "error": null,
        "incomplete_details": incomplete,
        "instructions": or("instructions", Value::Null),
        "max_output_tokens": or("max_output_tokens", Value::Null),
        "model": a.plan.model,
        "output": output,
        "parallel_tool_calls": or("parallel_tool_calls", true.into()),
        "previous_response_id": or("previous_response_id", Value::Null),
        "reasoning": {"effort": r["reasoning"]["effort"].clone(), "summary": null},
        "service_tier": tier(a),
        "store": or("store", true.into()),
        "temperature": or("temperature", 1.0.into()),
        "text": or("text", json!({"format": {"type": "text"}})),
        "tool_choice": or("tool_choice", "auto".into()),
        "tools": or("tools", json!([])),
        "top_p": or("top_p", 1.0.into()),
        "truncation": "disabled",
        "usage": usage,
        "user": null,
        "metadata": or("metadata", json!({}))
    })
}

fn final_status(a: &Answer) -> &'static str {
    if a.plan.truncated { "incomplete" } else { "completed" }
}

/// The web searches the answer ran, finished (`web_search_call` items).
fn web_search_items(a: &Answer) -> Vec<Value> {
    (0..a.plan.web_searches)
        .map(|i| {
            json!({"id": a.id(&format!("ws_{i}_")), "type": "web_search_call", "status": "completed", "action": {"type": "search", "query": WORDS[i as usize % WORDS.len()]}})
        })
        .collect()
}

/// The finished output items.
fn final_output(a: &Answer) -> Value {
    let mut output = web_search_items(a);
    output.extend(reasoning_item(a));
    output.push(message_item(a, final_status(a), json!([output_text(&a.plan.text())])));
    Value::Array(output)
}

/// A non-streamed `response`.
pub fn response(a: &Answer) -> Value {
    response_object(a, final_status(a), final_output(a), responses_usage(a))
}

/// The events of a streamed response, each with `event:` and its `type`
/// and `sequence_number` in the data, ending with `response.completed`
/// (or `response.incomplete`). No `[DONE]`: Responses streams end with
/// their terminal event.
pub fn responses_stream(a: &Answer) -> Vec<String> {
    let mut frames = Vec::new();
    let mut seq = 0u64;
    let mut emit = |frames: &mut Vec<String>, kind: &str, mut data: Value| {
        data["type"] = kind.into();
        data["sequence_number"] = seq.into();
        seq += 1;
        frames.push(frame(Some(kind), &data.to_string()));
    };
    let pending = response_object(a, "in_progress", json!([]), Value::Null);
    emit(&mut frames, "response.created", json!({"response": pending}));
    emit(&mut frames, "response.in_progress", json!({"response": pending}));
    let mut index = 0;
    for item in web_search_items(a) {
        let mut pending = item.clone();
        pending["status"] = "in_progress".into();
        emit(&mut frames, "response.output_item.added", json!({"output_index": index, "item": pending}));
        for step in ["in_progress", "searching", "completed"] {
            emit(&mut frames, &format!("response.web_search_call.{step}"), json!({"output_index": index, "item_id": item["id"]}));
        }
        emit(&mut frames, "response.output_item.done", json!({"output_index": index, "item": item}));
        index += 1;
    }
    if let Some(item) = reasoning_item(a) {
        emit(&mut frames, "response.output_item.added", json!({"output_index": index, "item": item}));
        emit(&mut frames, "response.output_item.done", json!({"output_index": index, "item": item}));
        index += 1;
    }
    let item_id = a.id("msg_");
    let at = |mut fields: Value| {
        fields["item_id"] = item_id.clone().into();
        fields["output_index"] = index.into();
        fields["content_index"] = 0.into();
        fields
    };
    emit(&mut frames, "response.output_item.added", json!({"output_index": index, "item": message_item(a, "in_progress", json!([]))}));
    emit(&mut frames, "response.content_part.added", at(json!({"part": {"type": "output_text", "text": "", "annotations": []}})));
    let error = a.switches.error_event_type("server_error");
    let deltas = a.plan.deltas();
    for (i, delta) in deltas.iter().enumerate() {
        emit(&mut frames, "response.output_text.delta", at(json!({"delta": delta, "logprobs": []})));
        if let (0, Some(kind)) = (i, &error) {
            emit(&mut frames, "error", json!({"code": kind, "message": "The server had an error while processing your request.", "param": null}));
            return frames;
        }
    }
    if let (true, Some(kind)) = (deltas.is_empty(), &error) {
        emit(&mut frames, "error", json!({"code": kind, "message": "The server had an error while processing your request.", "param": null}));
        return frames;
    }
    let text = a.plan.text();
    emit(&mut frames, "response.output_text.done", at(json!({"text": text, "logprobs": []})));
    emit(&mut frames, "response.content_part.done", at(json!({"part": {"type": "output_text", "text": text, "annotations": []}})));
    let done_item = message_item(a, final_status(a), json!([output_text(&text)]));
    emit(&mut frames, "response.output_item.done", json!({"output_index": index, "item": done_item}));
    let terminal = if a.plan.truncated { "response.incomplete" } else { "response.completed" };
    emit(&mut frames, terminal, json!({"response": response(a)}));
    frames
}

/// How many inputs an embeddings `input` holds: a string or a token array
/// is one, an array of strings or of token arrays one per element.
pub fn embedding_inputs(input: &Value) -> Option<usize> {
    match input {
        Value::String(_) => Some(1),
        Value::Array(items) if items.is_empty() => None,
        Value::Array(items) if items.iter().all(Value::is_number) => Some(1),
        Value::Array(items) => Some(items.len()),
        _ => None,
    }
}

/// A `list` of embeddings: `dimensions` (default 8) values per input,
/// component `j` of input `i` being `((i + j) mod 8 + 1) / 8` (exact in
/// binary, so float and base64 answers agree to the bit), as float arrays
/// or, for `encoding_format: "base64"` (what the Python SDK asks for by
/// default), little-endian f32 bytes in base64.
pub fn embeddings(a: &Answer, inputs: usize, dimensions: usize) -> Value {
    let base64 = a.request["encoding_format"].as_str() == Some("base64");
    let data: Vec<Value> = (0..inputs)
        .map(|i| {
            let values: Vec<f32> = (0..dimensions).map(|j| ((i + j) % 8 + 1) as f32 / 8.0).collect();
            let embedding = if base64 {
                let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
                Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(values)
            };
            json!({"object": "embedding", "index": i, "embedding": embedding})
        })
        .collect();
    json!({
        "object": "list",
        "data": data,
        "model": a.plan.model,
        "usage": {"prompt_tokens": a.plan.prompt_tokens, "total_tokens": a.plan.prompt_tokens}
    })
}

/// The models `GET /v1/models` lists (any model name is accepted anyway).
pub fn models() -> Value {
    let model = |id: &str, created: i64| json!({"id": id, "object": "model", "created": created, "owned_by": "system"});
    json!({
        "object": "list",
        "data": [
            model("gpt-4o-mini", 1_721_172_741),
            model("gpt-4.1", 1_744_316_542),
            model("o3-mini", 1_737_146_383),
            model("text-embedding-3-small", 1_705_948_997)
        ]
    })
}
