//! One call through the gateway, as Tollbooth accounts for it: the
//! reservation's upper bound before it is forwarded, and the usage event
//! recorded when it ends (the same event `POST /api/v1/events` takes, with
//! the request id as its id so a call is never recorded twice).

use serde_json::json;

use super::usage::{searches_every_call, Endpoint};
use crate::metering::event::{CallStatus, Detail, NewEvent};
use crate::plans::Metric;
use crate::pricing::{estimate::max_cost, ModelPrice, NanoUsd, ServiceTier, Usage};
use crate::quota::rules::Ask;
use crate::Result;

/// The output allowance reserved when neither the request nor the price
/// book gives one.
pub const DEFAULT_MAX_OUTPUT_TOKENS: u64 = 4096;

/// Who a call is for: the `Tollbooth-*` headers, else the request's own user.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attribution {
    pub user_id: Option<String>,
    pub project_id: Option<String>,
    pub feature: Option<String>,
    pub session_id: Option<String>,
}

/// The most a call may use: every prompt token (bounded) plus its output
/// cap, or the model's maximum output, or [`DEFAULT_MAX_OUTPUT_TOKENS`];
/// its cost at standard rates, or at the requested tier's when dearer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound {
    pub prompt_tokens: u64,
    pub max_output_tokens: u64,
    /// Nano-USD at the price book's rates (0 for a model with no price).
    pub cost_nanos: i64,
}

impl Bound {
    pub fn new(price: Option<&ModelPrice>, prompt_tokens: u64, max_output_tokens: Option<u64>, tier: Option<ServiceTier>) -> Result<Bound> {
        let max_output_tokens = max_output_tokens
            .or_else(|| price.and_then(|p| p.max_output_tokens))
            .unwrap_or(DEFAULT_MAX_OUTPUT_TOKENS);
        let cost_nanos = match price {
            Some(p) => max_cost(p, prompt_tokens, max_output_tokens, tier.unwrap_or_default())?.nanos(),
            None => 0,
        };
        Ok(Bound { prompt_tokens, max_output_tokens, cost_nanos })
    }

    /// What the reservation asks of every limit and budget.
    pub fn asks(&self) -> Vec<Ask> {
        let tokens = self.prompt_tokens.saturating_add(self.max_output_tokens).min(i64::MAX as u64) as i64;
        let mut asks = vec![Ask { metric: Metric::Requests, amount: 1 }, Ask { metric: Metric::Tokens, amount: tokens }];
        if self.cost_nanos > 0 {
            asks.push(Ask { metric: Metric::CostUsd, amount: self.cost_nanos });
        }
        asks
    }
}

/// How a call ended, as the gateway saw it.
#[derive(Debug, Clone)]
pub struct Finished {
    /// The request id: the event's id.
    pub request_id: String,
    pub started_ms: i64,
    pub endpoint: Endpoint,
    pub stream: bool,
    /// The connection (or server default) that served it.
    pub provider: String,
    /// The model to record: as the answer named it when the price book
    /// knows that name, else as priced for the request.
    pub model: String,
    /// The provider's usage, or an estimate (see `estimated`), or none.
    pub usage: Option<Usage>,
    /// The tier that served the call: as the answer says, else as the
    /// request asked, else standard.
    pub service_tier: ServiceTier,
    pub estimated: bool,
    /// The upstream's HTTP status (502/504 when it could not be reached).
    pub upstream_status: u16,
    /// An error the upstream reported (in a body or a stream), or why it
    /// could not be reached.
    pub error: Option<String>,
    pub latency_ms: u64,
    pub first_token_ms: Option<u64>,
    pub attribution: Attribution,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl Finished {
    /// The call's outcome: `rate_limited` when the upstream said 429,
    /// `error` for any other failure (an error status, an error in the
    /// stream, no answer), else `success`.
    pub fn status(&self) -> CallStatus {
        match self.upstream_status {
            429 => CallStatus::RateLimited,
            200..=299 if self.error.is_none() => CallStatus::Success,
            _ => CallStatus::Error,
        }
    }

    /// The web searches of the call: as reported, or one for a successful
    /// chat completion of a search model (see [`searches_every_call`]).
    fn queries(&self, u: &Usage) -> u64 {
        let searched = self.endpoint == Endpoint::ChatCompletions
            && self.usage.is_some()
            && self.status() == CallStatus::Success
            && searches_every_call(&self.model);
        if searched { u.queries.max(1) } else { u.queries }
    }

    /// The usage event of the call.
    pub fn event(&self) -> NewEvent {
        let u = self.usage.unwrap_or_default();
        let mut meta = json!({
            "gateway": true,
            "endpoint": endpoint_path(self.endpoint),
            "stream": self.stream,
            "upstream_status": self.upstream_status,
        });
        if let Some(t) = self.first_token_ms {
            meta["time_to_first_token_ms"] = json!(t);
        }
        if self.estimated {
            meta["usage_estimated"] = json!(true);
        }
        NewEvent {
            id: Some(self.request_id.clone()),
            timestamp_ms: self.started_ms,
            user_id: self.attribution.user_id.clone(),
            project_id: self.attribution.project_id.clone(),
            session_id: self.attribution.session_id.clone(),
            feature: self.attribution.feature.clone(),
            provider: Some(self.provider.clone()),
            model: self.model.clone(),
            input_tokens: u.input_tokens,
            cached_input_tokens: u.cached_input_tokens,
            cache_creation_tokens: u.cache_creation_tokens,
            output_tokens: u.output_tokens,
            reasoning_tokens: u.reasoning_tokens,
            images: 0,
            duration_ms: 0,
            requests: 1,
            detail: Detail {
                audio_input_tokens: u.audio_input_tokens,
                audio_output_tokens: u.audio_output_tokens,
                image_input_tokens: u.image_input_tokens,
                image_output_tokens: u.image_output_tokens,
                cache_creation_1h_tokens: u.cache_creation_1h_tokens,
                queries: self.queries(&u),
                service_tier: self.service_tier,
                ..Detail::default()
            },
            latency_ms: Some(self.latency_ms),
            status: self.status(),
            error: self.error.as_ref().map(|e| e.chars().take(500).collect()),
            ip: self.ip.clone(),
            user_agent: self.user_agent.clone(),
            metadata: Some(meta.to_string()),
        }
    }
}

/// A streamed call's usage. A stream that ended with its end marker and a
/// report: the provider's last report. A stream cut short (or without a
/// report): no less than what was seen, and marked estimated where the
/// report falls short: the prompt bound when no prompt count came, the
/// output no less than the text streamed (`prompt_tokens` and `streamed`
/// are counted only here, when an estimate needs them).
pub fn stream_usage(
    endpoint: Endpoint,
    reported: Option<Usage>,
    cut: bool,
    prompt_tokens: impl FnOnce() -> u64,
    streamed: impl FnOnce() -> u64,
) -> (Option<Usage>, bool) {
    if (!cut && reported.is_some()) || endpoint == Endpoint::Embeddings {
        return (reported, false);
    }
    let streamed = streamed();
    match reported {
        Some(u) if u.output_tokens >= streamed && u.input_tokens > 0 => (Some(u), false),
        Some(u) => {
            let input = if u.input_tokens > 0 { u.input_tokens } else { prompt_tokens() };
            (Some(Usage { input_tokens: input, output_tokens: u.output_tokens.max(streamed), requests: 1, ..u }), true)
        }
        None => (Some(Usage { input_tokens: prompt_tokens(), output_tokens: streamed, requests: 1, ..Usage::default() }), true),
    }
}

/// The path of an endpoint, as the client called it.
pub fn endpoint_path(e: Endpoint) -> &'static str {
    match e {
        Endpoint::ChatCompletions => "/v1/chat/completions",
        Endpoint::Responses => "/v1/responses",
        Endpoint::Embeddings => "/v1/embeddings",
        Endpoint::Messages => "/v1/messages",
    }
}

/// The `Tollbooth-Cost-USD` header's value: the exact cost in USD.
pub fn cost_header(cost_nanos: Option<i64>) -> String {
    NanoUsd::from_nanos(cost_nanos.unwrap_or(0)).to_usd_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finished(status: u16, error: Option<&str>) -> Finished {
        Finished {
            request_id: "req-1".into(),
            started_ms: 1_700_000_000_000,
            endpoint: Endpoint::Messages,
            stream: true,
            provider: "anthropic".into(),
            model: "claude-sonnet-4-5".into(),
            usage: Some(Usage { input_tokens: 30, cached_input_tokens: 10, output_tokens: 7, requests: 1, ..Usage::default() }),
            service_tier: ServiceTier::Default,
            estimated: false,
            upstream_status: status,
            error: error.map(str::to_string),
            latency_ms: 120,
            first_token_ms: Some(40),
            attribution: Attribution { user_id: Some("u".into()), project_id: Some("p".into()), ..Attribution::default() },
            ip: None,
            user_agent: None,
        }
    }

    #[test]
    fn the_event_carries_the_call() {
        let e = finished(200, None).event();
        assert_eq!(e.id.as_deref(), Some("req-1"));
        assert_eq!((e.input_tokens, e.cached_input_tokens, e.output_tokens), (30, 10, 7));
        assert_eq!((e.status, e.provider.as_deref(), e.latency_ms), (CallStatus::Success, Some("anthropic"), Some(120)));
        let meta: serde_json::Value = serde_json::from_str(e.metadata.as_deref().unwrap()).unwrap();
        assert_eq!(meta, json!({"gateway": true, "endpoint": "/v1/messages", "stream": true, "upstream_status": 200, "time_to_first_token_ms": 40}));
        assert_eq!(finished(429, Some("slow down")).event().status, CallStatus::RateLimited);
        assert_eq!(finished(200, Some("overloaded_error")).event().status, CallStatus::Error);
        assert_eq!(finished(502, Some("could not connect")).event().status, CallStatus::Error);
    }

    #[test]
    fn a_cut_stream_counts_no_less_than_was_seen() {
        let reported = Usage { input_tokens: 12, output_tokens: 3, requests: 1, ..Usage::default() };
        assert_eq!(stream_usage(Endpoint::ChatCompletions, Some(reported), false, || panic!("not counted"), || panic!("not counted")), (Some(reported), false));
        let (u, estimated) = stream_usage(Endpoint::Messages, Some(reported), true, || 99, || 7);
        assert_eq!((u.unwrap().input_tokens, u.unwrap().output_tokens, estimated), (12, 7, true));
        assert_eq!(stream_usage(Endpoint::Messages, Some(reported), true, || panic!("not counted"), || 2), (Some(reported), false));
        let (u, estimated) = stream_usage(Endpoint::ChatCompletions, None, true, || 9, || 4);
        assert_eq!((u.unwrap().input_tokens, u.unwrap().output_tokens, estimated), (9, 4, true));
    }

    #[test]
    fn the_bound_takes_the_request_cap_then_the_book_then_the_default() {
        let b = Bound::new(None, 100, Some(50), None).unwrap();
        assert_eq!((b.max_output_tokens, b.cost_nanos), (50, 0));
        assert_eq!(b.asks().len(), 2, "an unpriced model reserves no cost");
        assert_eq!(b.asks()[1], Ask { metric: Metric::Tokens, amount: 150 });
        let mut p = ModelPrice::new("m", "openai");
        p.max_output_tokens = Some(1000);
        p.input = Some(crate::pricing::UnitPrice::parse("0.000001").unwrap());
        p.output = Some(crate::pricing::UnitPrice::parse("0.000002").unwrap());
        let b = Bound::new(Some(&p), 100, None, None).unwrap();
        assert_eq!(b.max_output_tokens, 1000);
        assert_eq!(b.cost_nanos, 100 * 1000 + 1000 * 2000);
        assert_eq!(Bound::new(None, 1, None, None).unwrap().max_output_tokens, DEFAULT_MAX_OUTPUT_TOKENS);
        assert_eq!(cost_header(Some(1_234_500)), "0.001234500");
    }

    #[test]
    fn a_call_asking_for_a_dearer_tier_reserves_at_its_rates() {
        let mut p = ModelPrice::new("m", "openai");
        p.input = Some(crate::pricing::UnitPrice::parse("0.000001").unwrap());
        p.output = Some(crate::pricing::UnitPrice::parse("0.000002").unwrap());
        p.extra.insert("input_cost_per_token_priority".into(), "0.000002".parse().unwrap());
        p.extra.insert("output_cost_per_token_priority".into(), "0.000004".parse().unwrap());
        p.extra.insert("input_cost_per_token_flex".into(), "0.0000005".parse().unwrap());
        p.extra.insert("output_cost_per_token_flex".into(), "0.000001".parse().unwrap());
        let standard = 100 * 1000 + 10 * 2000;
        assert_eq!(Bound::new(Some(&p), 100, Some(10), None).unwrap().cost_nanos, standard);
        assert_eq!(Bound::new(Some(&p), 100, Some(10), Some(ServiceTier::Priority)).unwrap().cost_nanos, 2 * standard);
        // A cheaper tier may still be served at standard rates: the bound keeps them.
        assert_eq!(Bound::new(Some(&p), 100, Some(10), Some(ServiceTier::Flex)).unwrap().cost_nanos, standard);
    }

    #[test]
    fn the_event_carries_the_detail_and_the_tier_that_served_it() {
        let mut f = finished(200, None);
        f.usage = Some(Usage {
            input_tokens: 300,
            cache_creation_tokens: 200,
            cache_creation_1h_tokens: 150,
            audio_input_tokens: 40,
            output_tokens: 20,
            audio_output_tokens: 5,
            queries: 2,
            requests: 1,
            ..Usage::default()
        });
        f.service_tier = ServiceTier::Priority;
        let e = f.event();
        assert_eq!((e.cache_creation_tokens, e.detail.cache_creation_1h_tokens), (200, 150));
        assert_eq!((e.detail.audio_input_tokens, e.detail.audio_output_tokens, e.detail.queries), (40, 5, 2));
        assert_eq!(e.detail.service_tier, ServiceTier::Priority);
    }

    #[test]
    fn a_chat_search_model_answered_is_one_web_search() {
        let mut f = finished(200, None);
        (f.endpoint, f.model) = (Endpoint::ChatCompletions, "gpt-4o-mini-search-preview-2025-03-11".into());
        assert_eq!(f.event().detail.queries, 1);
        f.model = "gpt-4o-mini".into();
        assert_eq!(f.event().detail.queries, 0, "not a search model");
        f.model = "openai/gpt-5-search-api".into();
        assert_eq!(f.event().detail.queries, 1);
        assert_eq!(Finished { upstream_status: 500, ..f.clone() }.event().detail.queries, 0, "a failed call is not charged its search");
        f.endpoint = Endpoint::Messages;
        assert_eq!(f.event().detail.queries, 0);
    }
}
