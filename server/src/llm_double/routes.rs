//! The routes and the gate every request passes: record it, check the key
//! the provider's way, read the switches, wait, fail on demand, parse the
//! body. Refusals use the provider's error format.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::Value;

use super::plan::Plan;
use super::streaming::sse_response;
use super::{anthropic, openai, Answer, RecordedRequest, Shared, Switches};

pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/responses", post(responses))
        .route("/v1/embeddings", post(embeddings))
        .route("/v1/models", get(models))
        .route("/v1/messages", post(messages))
        .route("/v1/messages/count_tokens", post(count_tokens))
        .fallback(unknown_route)
        .with_state(shared)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Provider {
    OpenAi,
    Anthropic,
}

/// Adds the provider's request-id header (`x-request-id`, `request-id`).
fn with_request_id(provider: Provider, mut resp: Response, request_id: &str) -> Response {
    let name = if provider == Provider::OpenAi { "x-request-id" } else { "request-id" };
    if let Ok(v) = HeaderValue::from_str(request_id) {
        resp.headers_mut().insert(name, v);
    }
    resp
}

/// A refusal in `provider`'s format.
fn refuse(provider: Provider, status: StatusCode, body: Value, request_id: &str) -> Response {
    with_request_id(provider, (status, Json(body)).into_response(), request_id)
}

/// A 400 for a bad request: OpenAI names the parameter, Anthropic writes
/// `field: message`.
fn invalid(provider: Provider, param: &str, message: &str, request_id: &str) -> Response {
    let body = match provider {
        Provider::OpenAi => openai::error(message, "invalid_request_error", Some(param), None),
        Provider::Anthropic => anthropic::error("invalid_request_error", &format!("{param}: {message}"), request_id),
    };
    refuse(provider, StatusCode::BAD_REQUEST, body, request_id)
}

/// A request that passed the gate.
struct Call {
    provider: Provider,
    switches: Switches,
    body: Value,
    suffix: String,
}

impl Call {
    fn request_id(&self) -> String {
        format!("req_{}", self.suffix)
    }

    fn invalid(&self, param: &str, message: &str) -> Response {
        invalid(self.provider, param, message, &self.request_id())
    }

    /// A 400 naming the first of `fields` the body lacks, if any.
    fn missing(&self, fields: &[&str]) -> Option<Response> {
        let field = *fields.iter().find(|f| self.body[**f].is_null())?;
        Some(match self.provider {
            Provider::OpenAi => {
                let message = format!("Missing required parameter: '{field}'.");
                let body = openai::error(&message, "invalid_request_error", Some(field), Some("missing_required_parameter"));
                refuse(self.provider, StatusCode::BAD_REQUEST, body, &self.request_id())
            }
            Provider::Anthropic => self.invalid(field, "Field required"),
        })
    }

    fn answer(self) -> Answer {
        let plan = Plan::new(&self.body, &self.switches);
        Answer { suffix: self.suffix, created: now_secs(), plan, request: self.body, switches: self.switches }
    }

    fn streamed(&self) -> bool {
        self.body["stream"].as_bool() == Some(true)
    }
}

fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// Records the request, then checks the key, the switches, the wait, a
/// demanded failure and the JSON body, in that order.
async fn gate(shared: &Shared, provider: Provider, method: &Method, path: &str, headers: &HeaderMap, body: &[u8]) -> Result<Call, Response> {
    let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    shared.record(RecordedRequest {
        method: method.to_string(),
        path: path.to_string(),
        headers: headers.iter().map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned())).collect(),
        body: json.clone(),
    });
    let suffix = shared.new_suffix();
    let request_id = format!("req_{suffix}");
    if let Some(body) = key_refusal(shared, provider, headers, &request_id) {
        return Err(refuse(provider, StatusCode::UNAUTHORIZED, body, &request_id));
    }
    if provider == Provider::Anthropic && !headers.contains_key("anthropic-version") {
        return Err(invalid(provider, "anthropic-version", "header is required", &request_id));
    }
    let switches = shared.switches().with_headers(headers).map_err(|bad| {
        // Anthropic's messages start with the field; OpenAI's name it in `param`.
        let message = if provider == Provider::OpenAi { bad.to_string() } else { bad.message.clone() };
        invalid(provider, &bad.header, &message, &request_id)
    })?;
    if !switches.delay().is_zero() {
        tokio::time::sleep(switches.delay()).await;
    }
    if let Some(status) = switches.status {
        return Err(demanded_failure(provider, status, switches.retry_after, &request_id));
    }
    if method == Method::POST && !json.is_object() {
        let message = "We could not parse the JSON body of your request. The body must be a JSON object.";
        return Err(invalid(provider, "body", message, &request_id));
    }
    Ok(Call { provider, switches, body: json, suffix })
}

/// The provider's 401 body when the key is missing or wrong.
fn key_refusal(shared: &Shared, provider: Provider, headers: &HeaderMap, request_id: &str) -> Option<Value> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let bearer = || text("authorization").map(|v| v.strip_prefix("Bearer ").unwrap_or(v).trim());
    // Anthropic takes `x-api-key` and, as its Python SDK 2.x sends the key,
    // `Authorization: Bearer`; OpenAI only the latter.
    let sent = match provider {
        Provider::OpenAi => bearer(),
        Provider::Anthropic => text("x-api-key").or_else(bearer),
    };
    Some(match (provider, sent) {
        (_, Some(key)) if key == shared.api_key => return None,
        (Provider::OpenAi, None) => openai::error(
            "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth \
             (i.e. Authorization: Bearer YOUR_KEY).",
            "invalid_request_error",
            None,
            None,
        ),
        (Provider::OpenAi, Some(key)) => openai::error(
            &format!("Incorrect API key provided: {}. You can find your API key at https://platform.openai.com/account/api-keys.", mask(key)),
            "invalid_request_error",
            None,
            Some("invalid_api_key"),
        ),
        (Provider::Anthropic, None) => anthropic::error("authentication_error", "x-api-key header is required", request_id),
        (Provider::Anthropic, Some(_)) => anthropic::error("authentication_error", "invalid x-api-key", request_id),
    })
}

/// OpenAI's masking of a wrong key: its first three and last four characters.
fn mask(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 8 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 7))
}

/// The failure `x-mock-status` asks for; 429, 503 and 529 say when to retry.
fn demanded_failure(provider: Provider, status: u16, retry_after: u64, request_id: &str) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = match provider {
        Provider::OpenAi => openai::status_error(status),
        Provider::Anthropic => {
            let kind = anthropic::error_type(status);
            anthropic::error(kind, &format!("Mock {kind} (x-mock-status: {status})."), request_id)
        }
    };
    let mut resp = refuse(provider, code, body, request_id);
    if matches!(status, 429 | 503 | 529) {
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    }
    resp
}

/// Streams `frames` or answers `body`, either with the request id.
fn reply(
    provider: Provider,
    answer: &Answer,
    request_id: &str,
    streamed: bool,
    frames: impl FnOnce(&Answer) -> Vec<String>,
    body: impl FnOnce(&Answer) -> Value,
) -> Response {
    let resp = if streamed { sse_response(frames(answer), &answer.switches) } else { Json(body(answer)).into_response() };
    with_request_id(provider, resp, request_id)
}

async fn chat_completions(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let call = match gate(&shared, Provider::OpenAi, &Method::POST, "/v1/chat/completions", &headers, &body).await {
        Ok(call) => call,
        Err(refusal) => return refusal,
    };
    if let Some(refusal) = call.missing(&["model", "messages"]) {
        return refusal;
    }
    if !call.body["messages"].is_array() {
        return call.invalid("messages", "'messages' must be an array.");
    }
    let (id, streamed) = (call.request_id(), call.streamed());
    reply(Provider::OpenAi, &call.answer(), &id, streamed, openai::chat_stream, openai::chat_completion)
}

async fn responses(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let call = match gate(&shared, Provider::OpenAi, &Method::POST, "/v1/responses", &headers, &body).await {
        Ok(call) => call,
        Err(refusal) => return refusal,
    };
    if let Some(refusal) = call.missing(&["model"]) {
        return refusal;
    }
    let (id, streamed) = (call.request_id(), call.streamed());
    reply(Provider::OpenAi, &call.answer(), &id, streamed, openai::responses_stream, openai::response)
}

async fn embeddings(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let call = match gate(&shared, Provider::OpenAi, &Method::POST, "/v1/embeddings", &headers, &body).await {
        Ok(call) => call,
        Err(refusal) => return refusal,
    };
    if let Some(refusal) = call.missing(&["model", "input"]) {
        return refusal;
    }
    let Some(inputs) = openai::embedding_inputs(&call.body["input"]) else {
        return call.invalid("input", "'input' must be a string, an array of strings or an array of token arrays, and not empty.");
    };
    let dimensions = match &call.body["dimensions"] {
        Value::Null => 8,
        v => match v.as_u64().filter(|d| (1..=4096).contains(d)) {
            Some(d) => d as usize,
            None => return call.invalid("dimensions", "'dimensions' must be a whole number from 1 to 4096."),
        },
    };
    let id = call.request_id();
    let answer = call.answer();
    with_request_id(Provider::OpenAi, Json(openai::embeddings(&answer, inputs, dimensions)).into_response(), &id)
}

async fn models(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let provider = speaker(&headers);
    let call = match gate(&shared, provider, &Method::GET, "/v1/models", &headers, b"").await {
        Ok(call) => call,
        Err(refusal) => return refusal,
    };
    let body = if provider == Provider::OpenAi { openai::models() } else { anthropic::models() };
    with_request_id(provider, Json(body).into_response(), &call.request_id())
}

async fn messages(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let call = match gate(&shared, Provider::Anthropic, &Method::POST, "/v1/messages", &headers, &body).await {
        Ok(call) => call,
        Err(refusal) => return refusal,
    };
    if let Some(refusal) = call.missing(&["model", "messages", "max_tokens"]) {
        return refusal;
    }
    if !call.body["max_tokens"].is_u64() {
        return call.invalid("max_tokens", "Input should be a valid integer");
    }
    let (id, streamed) = (call.request_id(), call.streamed());
    reply(Provider::Anthropic, &call.answer(), &id, streamed, anthropic::message_stream, anthropic::message)
}

async fn count_tokens(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let call = match gate(&shared, Provider::Anthropic, &Method::POST, "/v1/messages/count_tokens", &headers, &body).await {
        Ok(call) => call,
        Err(refusal) => return refusal,
    };
    if let Some(refusal) = call.missing(&["model", "messages"]) {
        return refusal;
    }
    let id = call.request_id();
    let answer = call.answer();
    with_request_id(Provider::Anthropic, Json(anthropic::count_tokens(&answer.plan)).into_response(), &id)
}

/// The provider a request to a shared path speaks: Anthropic's clients
/// send `anthropic-version` (and maybe `x-api-key`), OpenAI's neither.
fn speaker(headers: &HeaderMap) -> Provider {
    if headers.contains_key("anthropic-version") || headers.contains_key("x-api-key") {
        Provider::Anthropic
    } else {
        Provider::OpenAi
    }
}

/// Any other path: a 404 in the format of the provider the caller speaks.
async fn unknown_route(State(shared): State<Arc<Shared>>, method: Method, OriginalUri(uri): OriginalUri, headers: HeaderMap) -> Response {
    let provider = speaker(&headers);
    shared.record(RecordedRequest { method: method.to_string(), path: uri.path().to_string(), headers: Vec::new(), body: Value::Null });
    let request_id = format!("req_{}", shared.new_suffix());
    let body = match provider {
        Provider::OpenAi => openai::error(&format!("Invalid URL ({method} {})", uri.path()), "invalid_request_error", None, None),
        Provider::Anthropic => anthropic::error("not_found_error", "Not found", &request_id),
    };
    refuse(provider, StatusCode::NOT_FOUND, body, &request_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_keys_are_masked_as_openai_does() {
        assert_eq!(mask("sk-wrong-key-1234"), "sk-**********1234");
        assert_eq!(mask("short"), "*****");
    }
}
