//! The gateway's unmetered endpoints: the model list a key may use, and
//! Anthropic's token count passed through.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use tollbooth::providers::Family;

use super::{check_model_allowed, forward, principal, read_body, GatewayError, REQUEST_ID};
use crate::state::AppState;

/// Whether a `GET /v1/models` comes from Anthropic's SDK (it answers in
/// that shape), as the providers' own servers tell.
fn wants_anthropic(headers: &HeaderMap) -> bool {
    headers.contains_key("anthropic-version") || headers.contains_key("x-api-key")
}

/// `GET /v1/models`: the price book's models of each provider the
/// organization can reach through the gateway (its own connection or the
/// operator's default) that the key's allowlist lets it call, in the shape
/// of the SDK asking.
#[utoipa::path(
    get, path = "/v1/models", operation_id = "list_models", tag = "gateway", security(("api_key" = []), ("x_api_key" = [])),
    description = "The price book's models of each provider the organization can reach: OpenAI's list shape, or Anthropic's when asked with `anthropic-version` or `x-api-key`.",
    params(("anthropic-version" = Option<String>, Header, description = "Ask for Anthropic's list shape")),
    responses((status = 200, description = "The models", body = crate::openapi::schemas::ModelList,
        headers(("Tollbooth-Request-Id" = String, description = "The request's id")),
        example = json!({"object": "list", "data": [{"id": "gpt-4o-mini", "object": "model", "created": 0, "owned_by": "openai"}]}))),
)]
pub async fn list(State(state): State<AppState>, req: Request) -> Response {
    let anthropic_shape = wants_anthropic(req.headers());
    let family = if anthropic_shape { Family::Anthropic } else { Family::OpenAi };
    let request_id = req.extensions().get::<crate::request_log::RequestId>().map_or_else(tollbooth::ids::new_id, |r| r.0.clone());
    match models(&state, req.headers()).await {
        Ok(list) => {
            let body = if anthropic_shape {
                let data: Vec<_> = list
                    .iter()
                    .map(|(id, _)| json!({"type": "model", "id": id, "display_name": id, "created_at": "1970-01-01T00:00:00Z"}))
                    .collect();
                json!({"data": data, "has_more": false, "first_id": list.first().map(|m| &m.0), "last_id": list.last().map(|m| &m.0)})
            } else {
                let data: Vec<_> = list.iter().map(|(id, owner)| json!({"id": id, "object": "model", "created": 0, "owned_by": owner})).collect();
                json!({"object": "list", "data": data})
            };
            let mut resp = Json(body).into_response();
            if let Ok(v) = request_id.parse() {
                resp.headers_mut().insert(REQUEST_ID, v);
            }
            resp
        }
        Err(e) => e.respond(family, &request_id),
    }
}

async fn models(state: &AppState, headers: &HeaderMap) -> Result<Vec<(String, String)>, GatewayError> {
    let p = principal(state, headers).await?;
    let settings = &state.ctx.providers;
    let now = tollbooth::clock::now_ms();
    let mut out = Vec::new();
    for family in [Family::OpenAi, Family::Anthropic] {
        let reachable = tollbooth::providers::resolve(&state.db, &settings.secrets, &settings.defaults, &p.org_id, family, "any")
            .await
            .map_err(GatewayError::from)?
            .is_some();
        if !reachable {
            continue;
        }
        let owner = family.default_name();
        let mut conn = state.db.reader().acquire().await.map_err(|e| GatewayError::from(tollbooth::Error::from(e)))?;
        let priced = tollbooth::pricing::store::in_force_of_provider(&mut conn, owner, now).await.map_err(GatewayError::from)?;
        out.extend(priced.into_iter().filter(|m| p.allows_model(&m.name)).map(|m| (m.name, owner.to_string())));
    }
    out.sort();
    Ok(out)
}

/// `POST /v1/messages/count_tokens`: passed to the organization's Anthropic
/// upstream and answered as it answers; not metered (it is free upstream),
/// but held to the key's model allowlist like a call.
#[utoipa::path(
    post, path = "/v1/messages/count_tokens", operation_id = "count_tokens", tag = "gateway", security(("x_api_key" = []), ("api_key" = [])),
    description = "Anthropic's token count, passed through (not metered).",
    params(("Tollbooth-User" = Option<String>, Header, description = "Attribute the call to your customer (≤ 128 characters)"),
        ("Tollbooth-Project" = Option<String>, Header, description = "Project id (≤ 128 characters)"),
        ("Tollbooth-Feature" = Option<String>, Header, description = "Feature (≤ 128 characters)"),
        ("Tollbooth-Session" = Option<String>, Header, description = "Session id (≤ 128 characters)"), ("anthropic-version" = Option<String>, Header, description = "Anthropic API version")),
    request_body(content = crate::openapi::schemas::ProviderBody, description = "The provider's request body, forwarded byte for byte", example = json!({"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "Hello"}]})),
    responses((status = 200, description = "The provider's answer, passed through (JSON, or text/event-stream when streamed)", headers(("Tollbooth-Request-Id" = String, description = "The call's id (the recorded event's id)"), ("Tollbooth-Cost-USD" = String, description = "Exact cost, 9 decimals (non-streamed answers)")),
        content((Object = "application/json", example = json!({"input_tokens": 8})), (String = "text/event-stream")))),
)]
pub async fn count_tokens(State(state): State<AppState>, req: Request) -> Response {
    let request_id = req.extensions().get::<crate::request_log::RequestId>().map_or_else(tollbooth::ids::new_id, |r| r.0.clone());
    match count(&state, req).await {
        Ok(mut resp) => {
            if let Ok(v) = request_id.parse() {
                resp.headers_mut().insert(REQUEST_ID, v);
            }
            resp
        }
        Err(e) => e.respond(Family::Anthropic, &request_id),
    }
}

async fn count(state: &AppState, req: Request) -> Result<Response, GatewayError> {
    let (parts, body) = req.into_parts();
    let p = principal(state, &parts.headers).await?;
    let body = read_body(body, &parts.headers).await?;
    let request = tollbooth::gateway::request::parse(tollbooth::gateway::Endpoint::Messages, &body).map_err(GatewayError::from)?;
    check_model_allowed(&p, &request.model)?;
    let settings = &state.ctx.providers;
    let upstream = tollbooth::providers::resolve(&state.db, &settings.secrets, &settings.defaults, &p.org_id, Family::Anthropic, &request.model)
        .await
        .map_err(GatewayError::from)?
        .ok_or_else(|| GatewayError::new(StatusCode::BAD_REQUEST, "no_upstream", "no Anthropic upstream: add an anthropic connection on the Providers page"))?;
    let resp = forward::build(state, &upstream, Family::Anthropic, &parts.headers, "/v1/messages/count_tokens", body)?
        .timeout(state.gateway.timeout)
        .send()
        .await
        .map_err(|e| GatewayError::new(StatusCode::BAD_GATEWAY, "upstream_unreachable", format!("could not reach the anthropic upstream: {e}")))?;
    let status = StatusCode::from_u16(resp.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let content_type = resp.headers().get("content-type").cloned();
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| GatewayError::new(StatusCode::BAD_GATEWAY, "upstream_broken", format!("the upstream's answer broke: {e}")))?;
    let mut out = (status, bytes).into_response();
    if let Some(ct) = content_type {
        out.headers_mut().insert("content-type", ct);
    }
    Ok(out)
}
