//! The metering gateway: OpenAI- and Anthropic-compatible endpoints that
//! authenticate with a Tollbooth key, reserve against every limit and
//! budget in scope, forward the call to the organization's upstream, relay
//! the answer unchanged (streams frame by frame), and record the provider's
//! own usage through the ingest path.
//!
//! - OpenAI (base URL `http://<host>/v1`): `POST /v1/chat/completions`,
//!   `/v1/responses`, `/v1/embeddings`; `GET /v1/models`.
//! - Anthropic (base URL `http://<host>`): `POST /v1/messages`, and
//!   `/v1/messages/count_tokens` passed through unmetered.
//!
//! The order of a call: key (scope `ingest`, per-minute limits) → body
//! (32 MiB, JSON with a `model`) → the key's model allowlist (403
//! `model_not_allowed`) → upstream ([`tollbooth::providers::resolve`]) →
//! price (400 `model_not_priced` when there is none and the organization
//! refuses unpriced models) → reservation for the call's upper bound
//! ([`tollbooth::admission::reserve`]) → forward ([`forward`]) → one event,
//! id = request id, committing the reservation ([`tollbooth::ingest::record`]).
//! Refusals never reach the upstream and come back in the client's provider
//! format ([`errors`]).

mod errors;
mod forward;
pub mod models;
mod recorder;

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use tollbooth::api_keys::ApiPrincipal;
use tollbooth::gateway::call::{Attribution, Bound};
use tollbooth::gateway::request::{self, CallRequest, MAX_BODY_BYTES};
use tollbooth::gateway::{tokens, Endpoint};
use tollbooth::metering::Sender;
use tollbooth::providers::{Family, Upstream};
use tollbooth::quota::ReserveInput;

pub use errors::GatewayError;

use crate::state::AppState;

/// Every gateway answer names its request (the recorded event's id).
pub const REQUEST_ID: &str = "tollbooth-request-id";
/// A non-streamed answer's exact cost, in USD.
pub const COST_USD: &str = "tollbooth-cost-usd";

/// The gateway's HTTP clients and bound.
#[derive(Debug, Clone)]
pub struct Gateway {
    /// For the operator's default upstreams.
    operator: reqwest::Client,
    /// For URLs an organization typed: only addresses the upstream egress
    /// rule permits (`TOLLBOOTH_UPSTREAM_ALLOW_PRIVATE`).
    organization: reqwest::Client,
    egress: tollbooth::egress::EgressPolicy,
    /// The longest a call may take, answer included.
    timeout: Duration,
    /// Stores the calls' events in group commits.
    recorder: recorder::Recorder,
    /// The tokenizers are loaded once, when the gateway is first needed.
    tokenizers: std::sync::Arc<std::sync::Once>,
}

impl Gateway {
    pub fn new(egress: tollbooth::egress::EgressPolicy, timeout: Duration) -> anyhow::Result<Self> {
        let base = || {
            reqwest::Client::builder()
                .tcp_nodelay(true)
                .connect_timeout(Duration::from_secs(10))
                .pool_idle_timeout(Duration::from_secs(90))
                .pool_max_idle_per_host(512)
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
        };
        let operator = base().build()?;
        let organization = base().dns_resolver(std::sync::Arc::new(crate::egress_dns::PolicyResolver { policy: egress })).build()?;
        Ok(Gateway { operator, organization, egress, timeout, recorder: recorder::Recorder::default(), tokenizers: std::sync::Arc::new(std::sync::Once::new()) })
    }

    /// Loads the tokenizers in a thread of their own (a few hundred
    /// milliseconds and about 70 MB, once): at start when the gateway has
    /// an upstream to call, else at its first call, so that a server not
    /// used as a gateway does not hold them.
    pub fn warm_tokenizers(&self) {
        self.tokenizers.call_once(|| {
            std::thread::spawn(tokens::warm);
        });
    }

    /// Waits until every call in flight is recorded, at most the longest a
    /// call may take; whether they all were (a server that stops).
    pub async fn drain(&self) -> bool {
        self.recorder.drain(self.timeout).await
    }
}

/// The gateway's routes (merged at the root: their paths are the providers').
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/responses", post(responses))
        .route("/v1/embeddings", post(embeddings))
        .route("/v1/messages", post(messages))
        .route("/v1/messages/count_tokens", post(models::count_tokens))
        .route("/v1/models", get(models::list))
        // The gateway reads bodies itself, up to its own limit.
        .layer(axum::extract::DefaultBodyLimit::disable())
}

#[utoipa::path(
    post, path = "/v1/chat/completions", operation_id = "chat_completions", tag = "gateway", security(("api_key" = []), ("x_api_key" = [])),
    description = "OpenAI's Chat Completions, metered and enforced.",
    params(("Tollbooth-User" = Option<String>, Header, description = "Attribute the call to your customer (≤ 128 characters)"),
        ("Tollbooth-Project" = Option<String>, Header, description = "Project id (≤ 128 characters)"),
        ("Tollbooth-Feature" = Option<String>, Header, description = "Feature (≤ 128 characters)"),
        ("Tollbooth-Session" = Option<String>, Header, description = "Session id (≤ 128 characters)")),
    request_body(content = crate::openapi::schemas::ProviderBody, description = "The provider's request body, forwarded byte for byte", example = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]})),
    responses((status = 200, description = "The provider's answer, passed through (JSON, or text/event-stream when streamed)", headers(("Tollbooth-Request-Id" = String, description = "The call's id (the recorded event's id)"), ("Tollbooth-Cost-USD" = String, description = "Exact cost, 9 decimals (non-streamed answers)")),
        content((Object = "application/json", example = json!({"id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o-mini", "choices": [], "usage": {"prompt_tokens": 8, "completion_tokens": 2, "total_tokens": 10}})), (String = "text/event-stream")))),
)]
pub(crate) async fn chat_completions(State(state): State<AppState>, req: Request) -> Response {
    handle(state, Endpoint::ChatCompletions, req).await
}

#[utoipa::path(
    post, path = "/v1/responses", operation_id = "responses", tag = "gateway", security(("api_key" = []), ("x_api_key" = [])),
    description = "OpenAI's Responses API, metered and enforced.",
    params(("Tollbooth-User" = Option<String>, Header, description = "Attribute the call to your customer (≤ 128 characters)"),
        ("Tollbooth-Project" = Option<String>, Header, description = "Project id (≤ 128 characters)"),
        ("Tollbooth-Feature" = Option<String>, Header, description = "Feature (≤ 128 characters)"),
        ("Tollbooth-Session" = Option<String>, Header, description = "Session id (≤ 128 characters)")),
    request_body(content = crate::openapi::schemas::ProviderBody, description = "The provider's request body, forwarded byte for byte", example = json!({"model": "gpt-4o-mini", "input": "Hello"})),
    responses((status = 200, description = "The provider's answer, passed through (JSON, or text/event-stream when streamed)", headers(("Tollbooth-Request-Id" = String, description = "The call's id (the recorded event's id)"), ("Tollbooth-Cost-USD" = String, description = "Exact cost, 9 decimals (non-streamed answers)")),
        content((Object = "application/json", example = json!({"id": "resp_1", "object": "response", "model": "gpt-4o-mini", "usage": {"input_tokens": 8, "output_tokens": 2}})), (String = "text/event-stream")))),
)]
pub(crate) async fn responses(State(state): State<AppState>, req: Request) -> Response {
    handle(state, Endpoint::Responses, req).await
}

#[utoipa::path(
    post, path = "/v1/embeddings", operation_id = "embeddings", tag = "gateway", security(("api_key" = []), ("x_api_key" = [])),
    description = "OpenAI's Embeddings, metered and enforced.",
    params(("Tollbooth-User" = Option<String>, Header, description = "Attribute the call to your customer (≤ 128 characters)"),
        ("Tollbooth-Project" = Option<String>, Header, description = "Project id (≤ 128 characters)"),
        ("Tollbooth-Feature" = Option<String>, Header, description = "Feature (≤ 128 characters)"),
        ("Tollbooth-Session" = Option<String>, Header, description = "Session id (≤ 128 characters)")),
    request_body(content = crate::openapi::schemas::ProviderBody, description = "The provider's request body, forwarded byte for byte", example = json!({"model": "text-embedding-3-small", "input": "Hello"})),
    responses((status = 200, description = "The provider's answer, passed through (JSON, or text/event-stream when streamed)", headers(("Tollbooth-Request-Id" = String, description = "The call's id (the recorded event's id)"), ("Tollbooth-Cost-USD" = String, description = "Exact cost, 9 decimals (non-streamed answers)")),
        content((Object = "application/json", example = json!({"object": "list", "data": [], "model": "text-embedding-3-small", "usage": {"prompt_tokens": 1, "total_tokens": 1}})), (String = "text/event-stream")))),
)]
pub(crate) async fn embeddings(State(state): State<AppState>, req: Request) -> Response {
    handle(state, Endpoint::Embeddings, req).await
}

#[utoipa::path(
    post, path = "/v1/messages", operation_id = "messages", tag = "gateway", security(("x_api_key" = []), ("api_key" = [])),
    description = "Anthropic's Messages, metered and enforced.",
    params(("Tollbooth-User" = Option<String>, Header, description = "Attribute the call to your customer (≤ 128 characters)"),
        ("Tollbooth-Project" = Option<String>, Header, description = "Project id (≤ 128 characters)"),
        ("Tollbooth-Feature" = Option<String>, Header, description = "Feature (≤ 128 characters)"),
        ("Tollbooth-Session" = Option<String>, Header, description = "Session id (≤ 128 characters)"), ("anthropic-version" = Option<String>, Header, description = "Anthropic API version")),
    request_body(content = crate::openapi::schemas::ProviderBody, description = "The provider's request body, forwarded byte for byte", example = json!({"model": "claude-sonnet-4-5", "max_tokens": 256, "messages": [{"role": "user", "content": "Hello"}]})),
    responses((status = 200, description = "The provider's answer, passed through (JSON, or text/event-stream when streamed)", headers(("Tollbooth-Request-Id" = String, description = "The call's id (the recorded event's id)"), ("Tollbooth-Cost-USD" = String, description = "Exact cost, 9 decimals (non-streamed answers)")),
        content((Object = "application/json", example = json!({"id": "msg_1", "type": "message", "role": "assistant", "content": [], "usage": {"input_tokens": 8, "output_tokens": 2}})), (String = "text/event-stream")))),
)]
pub(crate) async fn messages(State(state): State<AppState>, req: Request) -> Response {
    handle(state, Endpoint::Messages, req).await
}

/// The protocol an endpoint speaks.
pub fn family_of(endpoint: Endpoint) -> Family {
    match endpoint {
        Endpoint::Messages => Family::Anthropic,
        _ => Family::OpenAi,
    }
}

/// A call admitted and reserved, ready to forward.
pub struct Call {
    pub request_id: String,
    pub endpoint: Endpoint,
    pub family: Family,
    pub sender: Sender,
    pub upstream: Upstream,
    pub request: CallRequest,
    /// What is forwarded: the client's headers (filtered) and body.
    pub headers: HeaderMap,
    pub body: axum::body::Bytes,
    /// The client did not ask for the usage chunk the gateway asked for.
    pub strip_usage_chunk: bool,
    pub attribution: Attribution,
    pub reservation_id: String,
    pub started: Instant,
    pub started_ms: i64,
    /// Keeps a stopping server waiting until the call is recorded.
    pub in_flight: recorder::InFlight,
    /// When the request left for the upstream.
    pub forwarded: Option<Instant>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

async fn handle(state: AppState, endpoint: Endpoint, req: Request) -> Response {
    state.gateway.warm_tokenizers();
    let family = family_of(endpoint);
    // The request's own id (logs and traces carry it): the event's id too.
    let request_id = req.extensions().get::<crate::request_log::RequestId>().map_or_else(tollbooth::ids::new_id, |r| r.0.clone());
    match admit(&state, endpoint, req, &request_id).await {
        // Forwarded in a task of its own: a client that goes away does not
        // cancel the call, which is still read to its end and recorded.
        Ok(call) => match tokio::spawn(forward::run(state, call)).await {
            Ok(resp) => resp,
            Err(e) => {
                tracing::error!(error = ?e, "gateway call task failed");
                GatewayError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "the gateway failed; the call was not completed")
                    .respond(family, &request_id)
            }
        },
        Err(e) => e.respond(family, &request_id),
    }
}

/// The Tollbooth key of a gateway request: `Authorization: Bearer` (OpenAI
/// SDKs) or `x-api-key` (Anthropic SDKs).
pub fn token_of(headers: &HeaderMap) -> Result<&str, GatewayError> {
    let bearer = headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    let x_api_key = headers.get("x-api-key").and_then(|v| v.to_str().ok());
    bearer.or(x_api_key).map(str::trim).filter(|t| !t.is_empty()).ok_or_else(|| {
        GatewayError::new(
            StatusCode::UNAUTHORIZED,
            "missing_api_key",
            "missing API key: send your Tollbooth key (tb_live_…) as Authorization: Bearer or x-api-key",
        )
    })
}

/// The key's principal, or the refusal in the provider's format.
pub async fn principal(state: &AppState, headers: &HeaderMap) -> Result<ApiPrincipal, GatewayError> {
    let token = token_of(headers)?;
    crate::api::auth::gateway_key(state, token).await.map_err(|e| {
        // OpenAI's code for a key it does not accept.
        let code = if e.status == StatusCode::UNAUTHORIZED { "invalid_api_key" } else { e.code };
        let message = format!("{}{}", e.message, errors::upgrade_suffix(e.details.as_ref(), &state.ctx.public_url));
        let mut g = GatewayError::new(e.status, code, message);
        g.retry_after = e.retry_after;
        g
    })
}

/// Reads a request body up to the gateway's limit (413 past it).
pub async fn read_body(body: Body, headers: &HeaderMap) -> Result<axum::body::Bytes, GatewayError> {
    let too_large = || {
        GatewayError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request_too_large",
            format!("the request body is over the gateway's limit of {} MiB", MAX_BODY_BYTES / (1024 * 1024)),
        )
    };
    let declared = headers.get(axum::http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, MAX_BODY_BYTES).await.map_err(|_| too_large())
}

/// The attribution headers, else the request's own user.
fn attribution(headers: &HeaderMap, request: &CallRequest) -> Result<Attribution, GatewayError> {
    let header = |name: &'static str| -> Result<Option<String>, GatewayError> {
        let Some(v) = headers.get(name) else { return Ok(None) };
        let v = v.to_str().map_err(|_| invalid(name, "must be visible ASCII"))?.trim();
        if v.len() > tollbooth::metering::event::MAX_ID_LEN {
            return Err(invalid(name, "must be at most 128 characters"));
        }
        Ok((!v.is_empty()).then(|| v.to_string()))
    };
    let user = match header("tollbooth-user")? {
        Some(u) => Some(u),
        None => request.user.clone().filter(|u| u.len() <= tollbooth::metering::event::MAX_ID_LEN),
    };
    Ok(Attribution {
        user_id: user,
        project_id: header("tollbooth-project")?,
        feature: header("tollbooth-feature")?,
        session_id: header("tollbooth-session")?,
    })
}

fn invalid(param: &str, why: &str) -> GatewayError {
    let mut e = GatewayError::new(StatusCode::BAD_REQUEST, "invalid_request", format!("{param} {why}"));
    e.param = Some(param.to_string());
    e
}

/// Refuses a model outside the key's allowlist (403 `model_not_allowed`),
/// naming the model and the patterns the key may call.
pub fn check_model_allowed(principal: &ApiPrincipal, model: &str) -> Result<(), GatewayError> {
    match &principal.model_allowlist {
        Some(list) if !list.allows(model) => {
            let mut e = GatewayError::new(
                StatusCode::FORBIDDEN,
                "model_not_allowed",
                format!("model {model:?} is not allowed for this API key; it may call models matching: {list}"),
            );
            e.param = Some("model".into());
            Err(e)
        }
        _ => Ok(()),
    }
}

/// Refuses a model without a price when the organization says so (400
/// `model_not_priced`), saying how to price it or turn the setting off.
fn model_not_priced(model: &str, price_model: &str, public_url: &str, org_id: &str) -> GatewayError {
    let priced_as = if price_model != model { format!(" (priced as {price_model:?})") } else { String::new() };
    let mut e = GatewayError::new(
        StatusCode::BAD_REQUEST,
        "model_not_priced",
        format!(
            "model {model:?}{priced_as} has no price and this organization refuses calls to models without a price: \
             a platform admin can add one (Admin → Price book), or an owner can turn off \
             \"Refuse calls to models without a price\" on the Settings page ({}/o/{org_id}/settings)",
            public_url.trim_end_matches('/'),
        ),
    );
    e.param = Some("model".into());
    e
}

/// Everything before forwarding: key, body, allowlist, upstream, price,
/// reservation.
async fn admit(state: &AppState, endpoint: Endpoint, req: Request, request_id: &str) -> Result<Call, GatewayError> {
    let started = Instant::now();
    let started_ms = tollbooth::clock::now_ms();
    let (parts, body) = req.into_parts();
    let principal = principal(state, &parts.headers).await?;
    let body = read_body(body, &parts.headers).await?;
    let public_url = &state.ctx.public_url;
    let core = |e: tollbooth::Error| GatewayError::from_core(e, public_url);
    let request = request::parse(endpoint, &body).map_err(core)?;
    check_model_allowed(&principal, &request.model)?;
    let attribution = attribution(&parts.headers, &request)?;
    let family = family_of(endpoint);
    let settings = &state.ctx.providers;
    let db = &state.db;
    let upstream = tollbooth::providers::resolve(db, &settings.secrets, &settings.defaults, &principal.org_id, family, &request.model)
        .await
        .map_err(core)?
        .ok_or_else(|| {
            GatewayError::new(
                StatusCode::BAD_REQUEST,
                "no_upstream",
                format!(
                    "no upstream serves model {:?}: add a {} connection on the Providers page ({}/o/{}/providers)",
                    request.model,
                    family.default_name(),
                    public_url.trim_end_matches('/'),
                    principal.org_id
                ),
            )
        })?;
    // Resolved as ingest will price the call's event (aliases, the provider's prefix).
    let provider = Some(upstream.provider.as_str());
    let priced = tollbooth::pricing::cache::resolve(db, &upstream.price_model, provider, None, None, started_ms).await.map_err(core)?;
    let price = priced.as_ref().and_then(|(_, history)| tollbooth::pricing::store::in_force(history, started_ms)).map(|row| &row.price);
    if price.is_none() && principal.refuse_unpriced_models {
        return Err(model_not_priced(&request.model, &upstream.price_model, public_url, &principal.org_id));
    }
    let prompt_tokens = tokens::prompt_bound(&upstream.model, &request.prompt_text, request.messages);
    let bound = Bound::new(price, prompt_tokens, request.max_output_tokens, request.service_tier).map_err(core)?;
    let sender = Sender { org_id: principal.org_id.clone(), api_key_id: Some(principal.key_id.clone()) };
    let ttl = state.gateway.timeout.as_secs() as i64 + 60;
    let granted = tollbooth::admission::reserve(
        db,
        &sender,
        ReserveInput {
            user_id: attribution.user_id.clone(),
            project_id: attribution.project_id.clone(),
            asks: bound.asks(),
            ttl_seconds: Some(ttl.min(tollbooth::quota::MAX_TTL_SECS)),
        },
    )
    .await
    .map_err(core)?;
    let strip_usage_chunk = endpoint == Endpoint::ChatCompletions && request.stream && !request.include_usage;
    let mut body = body;
    if upstream.model != request.model {
        body = request::with_model(&body, &upstream.model).into();
    }
    if strip_usage_chunk {
        body = request::with_usage_requested(&body).into();
    }
    Ok(Call {
        request_id: request_id.to_string(),
        endpoint,
        family,
        sender,
        ip: tollbooth_app::ssr::client_ip_of(&parts.extensions),
        user_agent: parts.headers.get(axum::http::header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_string),
        headers: parts.headers,
        body,
        upstream,
        request,
        strip_usage_chunk,
        attribution,
        reservation_id: granted.reservation_id,
        started,
        started_ms,
        in_flight: state.gateway.recorder.begin(),
        forwarded: None,
    })
}
