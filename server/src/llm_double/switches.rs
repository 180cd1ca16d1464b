//! Switches that make the double misbehave or report chosen counts: set as
//! command-line defaults (`tollbooth mock-llm --chunk-delay-ms 50`), at run
//! time ([`super::RunningLlmDouble::set_switches`]), or per request with an
//! `x-mock-…` header that overrides the default for that request only.

use std::time::Duration;

use axum::http::HeaderMap;

/// How one answer is shaped. Field docs name the header; the CLI flag is
/// the same name without `x-mock-` (`x-mock-drop-after` → `--drop-after`).
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct Switches {
    /// `x-mock-delay-ms`: wait this long before answering at all.
    #[arg(long, default_value_t = 0)]
    pub delay_ms: u64,
    /// `x-mock-chunk-delay-ms`: wait this long before each SSE frame.
    #[arg(long, default_value_t = 0)]
    pub chunk_delay_ms: u64,
    /// `x-mock-drop-after`: close the connection after this many SSE
    /// frames, without the provider's end marker or HTTP's last chunk.
    #[arg(long)]
    pub drop_after: Option<usize>,
    /// `x-mock-status`: answer with this HTTP status and the provider's
    /// error body (429, 503 and 529 carry `Retry-After`).
    #[arg(long)]
    pub status: Option<u16>,
    /// `x-mock-retry-after`: the seconds `Retry-After` gives with a status.
    #[arg(long, default_value_t = 1)]
    pub retry_after: u64,
    /// `x-mock-repeat-usage`: a running usage total in every chunk (OpenAI
    /// chat), or a `message_delta` after every text delta (Anthropic).
    #[arg(long)]
    pub repeat_usage: bool,
    /// `x-mock-ping`: an Anthropic `ping` event after every text delta (the
    /// API's own single ping after the first block start is always sent).
    #[arg(long)]
    pub ping: bool,
    /// `x-mock-error-event`: after the first text delta, the provider's
    /// in-stream error (this type, or the provider's usual one for `1`),
    /// then the stream ends.
    #[arg(long)]
    pub error_event: Option<String>,
    /// `x-mock-split-frames`: write each SSE frame in four flushed pieces.
    #[arg(long)]
    pub split_frames: bool,
    /// `x-mock-output-tokens`: words the answer wants to write (before
    /// `max_tokens` and its variants bound it).
    #[arg(long, default_value_t = 8)]
    pub output_tokens: u64,
    /// `x-mock-reasoning-tokens`: reasoning tokens, counted in the output.
    #[arg(long, default_value_t = 0)]
    pub reasoning_tokens: u64,
    /// `x-mock-cached-tokens`: prompt tokens reported as cache reads.
    #[arg(long, default_value_t = 0)]
    pub cached_tokens: u64,
    /// `x-mock-cache-write-tokens`: prompt tokens reported as cache writes.
    #[arg(long, default_value_t = 0)]
    pub cache_write_tokens: u64,
    /// `x-mock-web-searches`: web searches run for a request that offers a
    /// web-search tool (OpenAI `web_search*`, Anthropic `web_search_*`).
    #[arg(long, default_value_t = 1)]
    pub web_searches: u64,
    /// `x-mock-model`: the model the answer names (default: the one asked for).
    #[arg(long)]
    pub model: Option<String>,
}

impl Default for Switches {
    fn default() -> Self {
        Switches {
            delay_ms: 0,
            chunk_delay_ms: 0,
            drop_after: None,
            status: None,
            retry_after: 1,
            repeat_usage: false,
            ping: false,
            error_event: None,
            split_frames: false,
            output_tokens: 8,
            reasoning_tokens: 0,
            cached_tokens: 0,
            cache_write_tokens: 0,
            web_searches: 1,
            model: None,
        }
    }
}

/// A switch header that does not parse (answered with 400 naming it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadSwitch {
    pub header: String,
    /// What is wrong, without the header's name.
    pub message: String,
}

impl std::fmt::Display for BadSwitch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.header, self.message)
    }
}

impl Switches {
    /// These defaults with the request's `x-mock-…` headers applied.
    pub fn with_headers(&self, headers: &HeaderMap) -> Result<Switches, BadSwitch> {
        let mut s = self.clone();
        for (name, value) in headers {
            let Some(switch) = name.as_str().strip_prefix("x-mock-") else { continue };
            let fail = |message: String| BadSwitch { header: name.to_string(), message };
            let value = value.to_str().map_err(|_| fail("not text".into()))?.trim();
            let bad = |what: &str| fail(format!("{value:?} is not {what}"));
            let number = || value.parse::<u64>().map_err(|_| bad("a whole number"));
            match switch {
                "delay-ms" => s.delay_ms = number()?,
                "chunk-delay-ms" => s.chunk_delay_ms = number()?,
                "drop-after" => s.drop_after = Some(value.parse().map_err(|_| bad("a whole number"))?),
                "status" => s.status = Some(value.parse().ok().filter(|c| (400..600).contains(c)).ok_or_else(|| bad("a 4xx or 5xx status"))?),
                "retry-after" => s.retry_after = number()?,
                "repeat-usage" => s.repeat_usage = flag(value).ok_or_else(|| bad("1/0 or true/false"))?,
                "ping" => s.ping = flag(value).ok_or_else(|| bad("1/0 or true/false"))?,
                "split-frames" => s.split_frames = flag(value).ok_or_else(|| bad("1/0 or true/false"))?,
                "error-event" => s.error_event = (flag(value) != Some(false)).then(|| value.to_string()),
                "output-tokens" => s.output_tokens = number()?,
                "reasoning-tokens" => s.reasoning_tokens = number()?,
                "cached-tokens" => s.cached_tokens = number()?,
                "cache-write-tokens" => s.cache_write_tokens = number()?,
                "web-searches" => s.web_searches = number()?,
                "model" => s.model = Some(value.to_string()).filter(|m| !m.is_empty()),
                _ => return Err(fail("not a switch of the mock LLM".into())),
            }
        }
        Ok(s)
    }

    pub fn delay(&self) -> Duration {
        Duration::from_millis(self.delay_ms)
    }

    pub fn chunk_delay(&self) -> Duration {
        Duration::from_millis(self.chunk_delay_ms)
    }

    /// The error type an in-stream error names: the switch's value, or
    /// `usual` when it was only turned on (`1`, `true`).
    pub fn error_event_type(&self, usual: &str) -> Option<String> {
        let v = self.error_event.as_deref()?;
        Some(if flag(v) == Some(true) { usual.to_string() } else { v.to_string() })
    }
}

fn flag(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" | "" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (k.parse().unwrap(), v.parse().unwrap())).collect()
    }

    #[test]
    fn headers_override_defaults_for_one_request() {
        let defaults = Switches { chunk_delay_ms: 5, ..Switches::default() };
        let s = defaults
            .with_headers(&headers(&[("x-mock-drop-after", "3"), ("x-mock-ping", "true"), ("x-mock-status", "429"), ("x-mock-model", "m-2")]))
            .unwrap();
        assert_eq!((s.chunk_delay_ms, s.drop_after, s.ping, s.status, s.model.as_deref()), (5, Some(3), true, Some(429), Some("m-2")));
        assert_eq!(defaults.with_headers(&HeaderMap::new()).unwrap(), defaults);
    }

    #[test]
    fn bad_or_unknown_switches_are_refused_by_name() {
        let err = Switches::default().with_headers(&headers(&[("x-mock-status", "200")])).unwrap_err();
        assert_eq!(err.to_string(), "x-mock-status: \"200\" is not a 4xx or 5xx status");
        let err = Switches::default().with_headers(&headers(&[("x-mock-dropafter", "1")])).unwrap_err();
        assert_eq!(err.header, "x-mock-dropafter");
    }

    #[test]
    fn an_error_event_names_its_type_or_the_usual_one() {
        let on = |v: &'static str| Switches::default().with_headers(&headers(&[("x-mock-error-event", v)])).unwrap();
        assert_eq!(on("1").error_event_type("overloaded_error").as_deref(), Some("overloaded_error"));
        assert_eq!(on("api_error").error_event_type("overloaded_error").as_deref(), Some("api_error"));
        assert_eq!(on("0").error_event_type("overloaded_error"), None);
    }
}
