//! What the gateway reads of a call's request body before forwarding it:
//! the model, whether it streams, the output cap, the end user, and the
//! prompt's text (for the reservation's upper bound). The body itself is
//! forwarded byte for byte; the one change the gateway ever makes is
//! [`with_usage_requested`].

use serde_json::{Map, Value};

use super::usage::{service_tier_named, Endpoint};
use crate::pricing::ServiceTier;
use crate::Error;

/// Largest request body the gateway takes (413 above it).
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// A call's request, as far as metering and enforcement need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRequest {
    pub model: String,
    pub stream: bool,
    /// The client asked for usage in the stream (`stream_options.include_usage`).
    pub include_usage: bool,
    /// `max_tokens`, `max_completion_tokens` or `max_output_tokens`.
    pub max_output_tokens: Option<u64>,
    /// OpenAI's `user`, Anthropic's `metadata.user_id`.
    pub user: Option<String>,
    /// Every prompt string (message contents, system, instructions, input,
    /// tool definitions), joined by newlines.
    pub prompt_text: String,
    /// How many messages (or input items) the prompt has: each costs a few
    /// tokens of framing.
    pub messages: u64,
    /// The tier the request asks for (`service_tier`; `None`: not named, or
    /// a name Tollbooth has no rates for).
    pub service_tier: Option<ServiceTier>,
}

/// Reads a request body. A body that is not a JSON object, or names no
/// `model`, is refused with a message naming the problem.
pub fn parse(endpoint: Endpoint, body: &[u8]) -> Result<CallRequest, Error> {
    let value: Value = serde_json::from_slice(body).map_err(|e| Error::invalid("body", format!("is not valid JSON: {e}")))?;
    let Value::Object(obj) = value else {
        return Err(Error::invalid("body", "must be a JSON object"));
    };
    let model = match obj.get("model") {
        Some(Value::String(m)) if !m.trim().is_empty() => m.trim().to_string(),
        Some(Value::String(_)) | None | Some(Value::Null) => return Err(Error::invalid("model", "is required")),
        Some(_) => return Err(Error::invalid("model", "must be a string")),
    };
    let stream = endpoint != Endpoint::Embeddings && obj.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let include_usage = obj.get("stream_options").and_then(|o| o.get("include_usage")).and_then(Value::as_bool).unwrap_or(false);
    let mut max_output_tokens = None;
    for k in ["max_tokens", "max_completion_tokens", "max_output_tokens"] {
        match obj.get(k) {
            None | Some(Value::Null) => {}
            Some(v) => match v.as_u64() {
                Some(n) => {
                    max_output_tokens.get_or_insert(n);
                }
                None => return Err(Error::invalid(k, "must be a non-negative integer")),
            },
        }
    }
    let user = match endpoint {
        Endpoint::Messages => obj.get("metadata").and_then(|m| m.get("user_id")),
        _ => obj.get("user"),
    }
    .and_then(Value::as_str)
    .filter(|u| !u.is_empty())
    .map(str::to_string);
    let mut prompt_text = String::new();
    let mut messages = 0;
    for k in ["messages", "system", "instructions", "input", "prompt", "tools"] {
        if let Some(v) = obj.get(k) {
            if let Value::Array(items) = v {
                if k != "tools" {
                    messages += items.len() as u64;
                }
            } else if k != "tools" {
                messages += 1;
            }
            collect_text(v, &mut prompt_text);
        }
    }
    let service_tier = obj.get("service_tier").and_then(Value::as_str).and_then(service_tier_named);
    Ok(CallRequest { model, stream, include_usage, max_output_tokens, user, prompt_text, messages, service_tier })
}

/// Keys whose strings are not prompt text (URLs, base64 images and files).
const NOT_TEXT: [&str; 6] = ["url", "data", "image_url", "file_data", "type", "role"];

fn collect_text(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(s);
        }
        Value::Array(items) => items.iter().for_each(|i| collect_text(i, out)),
        Value::Object(map) => {
            for (k, v) in map {
                if !NOT_TEXT.contains(&k.as_str()) {
                    collect_text(v, out);
                }
            }
        }
        _ => {}
    }
}

/// The body of a streamed OpenAI chat request with
/// `stream_options.include_usage: true` added (the gateway's one change to
/// a request: without it OpenAI reports no usage in a stream). A body that
/// has no `stream_options` keeps its bytes and gains the field after its
/// opening brace; one whose `stream_options` exists is re-serialized with
/// the flag set.
pub fn with_usage_requested(body: &[u8]) -> Vec<u8> {
    let Ok(Value::Object(mut obj)) = serde_json::from_slice::<Value>(body) else {
        return body.to_vec();
    };
    match obj.get_mut("stream_options") {
        None => {
            let start = body.iter().position(|b| *b == b'{').expect("a JSON object starts with a brace");
            let rest = &body[start + 1..];
            let empty = rest.iter().all(|b| b.is_ascii_whitespace() || *b == b'}');
            let mut out = Vec::with_capacity(body.len() + 48);
            out.extend_from_slice(&body[..=start]);
            out.extend_from_slice(br#""stream_options":{"include_usage":true}"#);
            if !empty {
                out.push(b',');
            }
            out.extend_from_slice(rest);
            out
        }
        Some(Value::Object(o)) => {
            o.insert("include_usage".into(), Value::Bool(true));
            serde_json::to_vec(&obj).unwrap_or_else(|_| body.to_vec())
        }
        Some(other) => {
            let mut o = Map::new();
            o.insert("include_usage".into(), Value::Bool(true));
            *other = Value::Object(o);
            serde_json::to_vec(&obj).unwrap_or_else(|_| body.to_vec())
        }
    }
}

/// The body with its `model` replaced: a `<connection>/` prefix stripped
/// for the upstream (the other documented change to a request).
pub fn with_model(body: &[u8], model: &str) -> Vec<u8> {
    match serde_json::from_slice::<Value>(body) {
        Ok(mut v) => {
            v["model"] = Value::String(model.to_string());
            serde_json::to_vec(&v).unwrap_or_else(|_| body.to_vec())
        }
        Err(_) => body.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parsed(endpoint: Endpoint, v: Value) -> CallRequest {
        parse(endpoint, v.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn reads_model_stream_cap_user_and_prompt_text() {
        let r = parsed(
            Endpoint::ChatCompletions,
            json!({"model": "gpt-4o", "stream": true, "max_completion_tokens": 50, "user": "u-1",
                   "messages": [{"role": "system", "content": "Be brief."},
                                {"role": "user", "content": [{"type": "text", "text": "Hello there"},
                                                             {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}]}),
        );
        assert_eq!((r.model.as_str(), r.stream, r.include_usage, r.max_output_tokens), ("gpt-4o", true, false, Some(50)));
        assert_eq!(r.user.as_deref(), Some("u-1"));
        assert_eq!(r.prompt_text, "Be brief.\nHello there");
        assert_eq!(r.messages, 2);
        let a = parsed(Endpoint::Messages, json!({"model": "claude-sonnet-4", "max_tokens": 9, "system": "S", "metadata": {"user_id": "end-7"}, "messages": []}));
        assert_eq!((a.user.as_deref(), a.max_output_tokens, a.prompt_text.as_str()), (Some("end-7"), Some(9), "S"));
        let e = parsed(Endpoint::Embeddings, json!({"model": "text-embedding-3-small", "input": ["a b", "c"], "stream": true}));
        assert!(!e.stream, "embeddings never stream");
        assert_eq!(e.prompt_text, "a b\nc");
    }

    #[test]
    fn bad_bodies_name_the_problem() {
        let field = |b: &[u8]| parse(Endpoint::ChatCompletions, b).unwrap_err().field().map(str::to_string);
        assert_eq!(field(b"not json").as_deref(), Some("body"));
        assert_eq!(field(b"[1]").as_deref(), Some("body"));
        assert_eq!(field(br#"{"messages": []}"#).as_deref(), Some("model"));
        assert_eq!(field(br#"{"model": " "}"#).as_deref(), Some("model"));
        assert_eq!(field(br#"{"model": 4}"#).as_deref(), Some("model"));
        assert_eq!(field(br#"{"model": "m", "max_tokens": -1}"#).as_deref(), Some("max_tokens"));
    }

    #[test]
    fn usage_is_requested_keeping_the_bytes_when_it_can() {
        let body = br#"{ "model":"gpt-4o",  "stream":true,"x":{"unknown":[1,2]}}"#;
        let out = with_usage_requested(body);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"stream_options":{"include_usage":true}, "model":"gpt-4o",  "stream":true,"x":{"unknown":[1,2]}}"#
        );
        let out = with_usage_requested(br#"{"model":"m","stream":true,"stream_options":{"include_usage":false,"other":1}}"#);
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["stream_options"], json!({"include_usage": true, "other": 1}));
        assert_eq!(v["model"], "m");
        let v: Value = serde_json::from_slice(&with_usage_requested(br#"{"model":"m","stream_options":null}"#)).unwrap();
        assert_eq!(v["stream_options"]["include_usage"], true);
    }
}
