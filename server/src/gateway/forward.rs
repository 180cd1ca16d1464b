//! Forwarding an admitted call and recording it.
//!
//! The answer passes through unchanged: status, body and headers (other
//! than hop-by-hop ones), plus `Tollbooth-Request-Id` (and, when not
//! streamed, `Tollbooth-Cost-USD`). A stream is relayed frame by frame as
//! frames complete, observed by the [`StreamMeter`]; the one frame ever
//! withheld is the usage-only chunk the gateway asked for on the client's
//! behalf. The task reading the upstream owns the call: when the client
//! goes away it reads on to the end (within the gateway's timeout) and
//! records the provider's usage; when the upstream breaks before reporting
//! usage, it records an estimate marked `usage_estimated`.

use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use tokio::sync::mpsc;
use tollbooth::gateway::call::{cost_header, stream_usage, Finished};
use tollbooth::gateway::usage::UpstreamError;
use tollbooth::gateway::{from_body, tokens, Observed, SseParser, StreamMeter};
use tollbooth::metrics::{GatewayLabels, ProviderLabels};
use tollbooth::pricing::{NanoUsd, Usage};
use tollbooth::providers::{Family, ProviderKind};

use super::{Call, GatewayError, COST_USD, REQUEST_ID};
use crate::state::AppState;

/// Request headers never forwarded: hop-by-hop ones, the client's
/// credentials (the Tollbooth key stays here), the gateway's own, and
/// content coding (the gateway reads answers, so it asks for identity).
fn forwardable(name: &HeaderName) -> bool {
    let n = name.as_str();
    !(is_hop_by_hop(n)
        || n.starts_with("tollbooth-")
        || n.starts_with("x-forwarded-")
        || matches!(n, "host" | "content-length" | "authorization" | "x-api-key" | "cookie" | "accept-encoding" | "forwarded" | "origin" | "referer"))
}

fn is_hop_by_hop(n: &str) -> bool {
    matches!(n, "connection" | "keep-alive" | "proxy-authenticate" | "proxy-authorization" | "te" | "trailer" | "transfer-encoding" | "upgrade")
}

/// The upstream URL of an endpoint: OpenAI's base URLs end in `/v1`,
/// Anthropic's do not.
pub(super) fn upstream_url(base_url: &str, kind: ProviderKind, path: &str) -> String {
    match kind {
        ProviderKind::Anthropic => format!("{base_url}{path}"),
        _ => format!("{base_url}{}", path.strip_prefix("/v1").unwrap_or(path)),
    }
}

/// The request to the upstream, with its credentials.
pub(super) fn build(state: &AppState, upstream: &tollbooth::providers::Upstream, family: Family, client_headers: &HeaderMap, path: &str, body: Bytes) -> Result<reqwest::RequestBuilder, GatewayError> {
    let gw = &state.gateway;
    let url = upstream_url(&upstream.base_url, upstream.kind, path);
    let http = if upstream.base_url_by_org {
        // reqwest resolves no name for an IP literal: judged here.
        if let Ok((tollbooth::egress::Host::Ip(ip), _)) = tollbooth::egress::host_of("base_url", &url) {
            if let Some(why) = gw.egress.refusal(ip) {
                return Err(GatewayError::new(StatusCode::BAD_GATEWAY, "upstream_refused", format!("the connection's base URL is not allowed: {why}")));
            }
        }
        &gw.organization
    } else {
        &gw.operator
    };
    let mut headers = reqwest::header::HeaderMap::new();
    for (k, v) in client_headers {
        if forwardable(k) {
            headers.append(k.clone(), v.clone());
        }
    }
    let key = upstream.api_key.expose();
    match family {
        Family::Anthropic => {
            headers.insert("x-api-key", HeaderValue::from_str(key).map_err(|_| bad_key())?);
            if !headers.contains_key("anthropic-version") {
                headers.insert("anthropic-version", HeaderValue::from_static("2023-06-01"));
            }
        }
        Family::OpenAi => {
            headers.insert(header::AUTHORIZATION, HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| bad_key())?);
        }
    }
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(http.post(url).headers(headers).body(body))
}

fn bad_key() -> GatewayError {
    GatewayError::new(StatusCode::BAD_GATEWAY, "upstream_key", "the provider connection's API key cannot be sent as a header; save it again")
}

/// The answer's headers as the client gets them.
fn answer_headers(upstream: &reqwest::header::HeaderMap, request_id: &str) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (k, v) in upstream {
        if !is_hop_by_hop(k.as_str()) && k != header::CONTENT_LENGTH {
            out.append(k.clone(), v.clone());
        }
    }
    if let Ok(v) = HeaderValue::from_str(request_id) {
        out.insert(REQUEST_ID, v);
    }
    out
}

fn elapsed_ms(since: Instant) -> u64 {
    since.elapsed().as_millis() as u64
}

/// Forwards an admitted call and records it; the response for the client.
pub async fn run(state: AppState, mut call: Call) -> Response {
    let deadline = tokio::time::Instant::from_std(call.started) + state.gateway.timeout;
    let path = tollbooth::gateway::call::endpoint_path(call.endpoint);
    let request = match build(&state, &call.upstream, call.family, &call.headers, path, call.body.clone()) {
        Ok(r) => r,
        Err(e) => return fail(&state, &call, e).await,
    };
    let now = Instant::now();
    state.db.metrics().gateway_added_seconds.observe(now.duration_since(call.started).as_secs_f64());
    call.forwarded = Some(now);
    let sent = tokio::time::timeout_at(deadline, request.send()).await;
    let resp = match sent {
        Ok(Ok(resp)) => resp,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, provider = %call.upstream.provider, "gateway upstream unreachable");
            let msg = format!("could not reach the {} upstream: {}", call.upstream.provider, root_cause(&e));
            return fail(&state, &call, GatewayError::new(StatusCode::BAD_GATEWAY, "upstream_unreachable", msg)).await;
        }
        Err(_) => {
            let msg = format!("the {} upstream did not answer within {} s", call.upstream.provider, state.gateway.timeout.as_secs());
            return fail(&state, &call, GatewayError::new(StatusCode::GATEWAY_TIMEOUT, "upstream_timeout", msg)).await;
        }
    };
    let is_stream = call.request.stream
        && resp.status().is_success()
        && resp.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("text/event-stream"));
    if is_stream {
        stream(state, call, resp, deadline)
    } else {
        whole(state, call, resp, deadline).await
    }
}

fn root_cause(e: &reqwest::Error) -> String {
    let mut source: &dyn std::error::Error = e;
    while let Some(s) = source.source() {
        source = s;
    }
    source.to_string()
}

/// The upstream could not be asked or did not answer: the failure is
/// recorded (no tokens) and reported in the client's format.
async fn fail(state: &AppState, call: &Call, e: GatewayError) -> Response {
    let finished = finished(call, e.status.as_u16(), None, None, false, Some(e.message.clone()), None);
    record(state, call, finished).await;
    e.respond(call.family, &call.request_id)
}

#[allow(clippy::too_many_arguments)]
fn finished(call: &Call, status: u16, usage: Option<Usage>, model: Option<String>, estimated: bool, error: Option<String>, first_token_ms: Option<u64>) -> Finished {
    Finished {
        service_tier: call.request.service_tier.unwrap_or_default(),
        request_id: call.request_id.clone(),
        started_ms: call.started_ms,
        endpoint: call.endpoint,
        stream: call.request.stream,
        provider: call.upstream.provider.clone(),
        model: model.unwrap_or_else(|| call.upstream.price_model.clone()),
        usage,
        estimated,
        upstream_status: status,
        error,
        latency_ms: elapsed_ms(call.started),
        first_token_ms,
        attribution: call.attribution.clone(),
        ip: call.ip.clone(),
        user_agent: call.user_agent.clone(),
    }
}

/// The model to record: as the answer names it when the price book prices
/// that name (and it is not just the upstream's unprefixed name of the
/// requested one), else the requested model as priced.
async fn recorded_model(state: &AppState, call: &Call, answered: Option<&str>) -> Option<String> {
    let answered = answered.filter(|m| !m.is_empty() && *m != call.upstream.model)?;
    let provider = Some(call.upstream.provider.as_str());
    match tollbooth::pricing::cache::resolve(&state.db, answered, provider, None, None, call.started_ms).await {
        Ok(Some(_)) => Some(answered.to_string()),
        _ => None,
    }
}

/// Records the call's event, committing its reservation, with the next
/// group commit, and returns its exact cost as that commit will store it
/// (`None` when unpriced).
async fn record(state: &AppState, call: &Call, finished: Finished) -> Option<NanoUsd> {
    let event = finished.event();
    let metrics = state.db.metrics();
    let provider = call.upstream.provider.clone();
    metrics.gateway_calls.get_or_create(&GatewayLabels { provider: provider.clone(), status: event.status.as_str() }).inc();
    if let Some(at) = call.forwarded {
        metrics.gateway_upstream_seconds.get_or_create(&ProviderLabels { provider }).observe(at.elapsed().as_secs_f64());
    }
    let cost = match tollbooth::metering::quote(&state.db, &event).await {
        Ok(cost) => cost,
        Err(e) => {
            tracing::warn!(error = ?e, request_id = %call.request_id, "gateway: the call's cost could not be quoted");
            None
        }
    };
    state.gateway.recorder.submit(&state.db, &call.sender, event, &call.reservation_id);
    cost
}

/// A non-streamed answer (or an upstream error, streamed request or not):
/// read whole, recorded, then passed on.
async fn whole(state: AppState, call: Call, mut resp: reqwest::Response, deadline: tokio::time::Instant) -> Response {
    let status = resp.status();
    let headers = answer_headers(resp.headers(), &call.request_id);
    let mut body = Vec::new();
    let mut broken = None;
    loop {
        match tokio::time::timeout_at(deadline, resp.chunk()).await {
            Ok(Ok(Some(chunk))) => body.extend_from_slice(&chunk),
            Ok(Ok(None)) => break,
            Ok(Err(e)) => {
                broken = Some(format!("the upstream's answer broke: {}", root_cause(&e)));
                break;
            }
            Err(_) => {
                broken = Some(format!("the upstream's answer did not end within {} s", state.gateway.timeout.as_secs()));
                break;
            }
        }
    }
    if let Some(why) = broken {
        let e = GatewayError::new(StatusCode::BAD_GATEWAY, "upstream_broken", why);
        return fail(&state, &call, e).await;
    }
    let reported = from_body(call.endpoint, &body).unwrap_or_default();
    let error = (!status.is_success()).then(|| match UpstreamError::of_body(&body) {
        Some(e) if e.message.is_empty() => e.kind,
        Some(e) => format!("{}: {}", e.kind, e.message),
        None => format!("upstream answered {status}"),
    });
    let model = recorded_model(&state, &call, reported.model.as_deref()).await;
    let mut f = finished(&call, status.as_u16(), reported.usage, model, false, error, None);
    f.service_tier = reported.service_tier.unwrap_or(f.service_tier);
    let cost = record(&state, &call, f).await;
    let mut out = Response::new(Body::from(body));
    *out.status_mut() = StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    *out.headers_mut() = headers;
    // Unpriced (the model has no price): the exact cost is zero so far.
    if cost.is_some() || status.is_success() {
        out.headers_mut().insert(COST_USD, HeaderValue::from_str(&cost_header(cost.map(|c| c.nanos()))).expect("ascii"));
    }
    out
}

/// A streamed answer: relayed as frames complete, metered, and recorded
/// when the upstream ends, whether or not the client is still there.
fn stream(state: AppState, call: Call, mut resp: reqwest::Response, deadline: tokio::time::Instant) -> Response {
    let status = resp.status();
    let headers = answer_headers(resp.headers(), &call.request_id);
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(64);
    tokio::spawn(async move {
        let mut parser = SseParser::new();
        let mut meter = StreamMeter::new(call.endpoint);
        let mut client_gone = false;
        let mut broken = None;
        loop {
            let (frames, end) = match tokio::time::timeout_at(deadline, resp.chunk()).await {
                Ok(Ok(Some(chunk))) => (parser.push(&chunk), false),
                Ok(Ok(None)) => (parser.finish(), true),
                Ok(Err(e)) => {
                    broken = Some(format!("the upstream stream broke: {}", root_cause(&e)));
                    (parser.finish(), true)
                }
                Err(_) => {
                    broken = Some(format!("the upstream stream did not end within {} s", state.gateway.timeout.as_secs()));
                    (Vec::new(), true)
                }
            };
            let mut out = Vec::new();
            for frame in frames {
                if let Some(event) = &frame.event {
                    if meter.observe(event, elapsed_ms(call.started)) == Observed::UsageOnlyChunk && call.strip_usage_chunk {
                        continue;
                    }
                }
                out.extend_from_slice(&frame.raw);
            }
            if !out.is_empty() && !client_gone && tx.send(Ok(Bytes::from(out))).await.is_err() {
                client_gone = true;
            }
            if end {
                break;
            }
        }
        if broken.is_some() && !client_gone {
            // The client sees the break (no clean end of the body).
            let _ = tx.send(Err(std::io::Error::other("upstream stream broke"))).await;
        }
        drop(tx);
        let (usage, estimated) = usage_of(&call, &meter, broken.is_some() || !meter.finished());
        let error = meter.error().map(|e| format!("{}: {}", e.kind, e.message)).or(broken);
        let model = recorded_model(&state, &call, meter.model()).await;
        let mut f = finished(&call, status.as_u16(), usage, model, estimated, error, meter.first_token_ms());
        f.service_tier = meter.service_tier().unwrap_or(f.service_tier);
        record(&state, &call, f).await;
    });
    let body = Body::from_stream(futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) }));
    let mut out = Response::new(body);
    *out.status_mut() = StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::OK);
    *out.headers_mut() = headers;
    out
}

/// A stream's usage ([`stream_usage`]): the prompt and the streamed text
/// are counted only for an estimate (the prompt again, as the
/// reservation's bound may be its bytes, see `tokens`).
fn usage_of(call: &Call, meter: &StreamMeter, cut: bool) -> (Option<Usage>, bool) {
    let model = &call.upstream.model;
    let prompt = || tokens::prompt_count(model, &call.request.prompt_text, call.request.messages);
    stream_usage(call.endpoint, meter.usage(), cut, prompt, || tokens::count(model, meter.text()))
}
