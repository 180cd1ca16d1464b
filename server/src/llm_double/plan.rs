//! The double's "model": what it answers and what usage it reports, as
//! documented functions of the request, so a test predicts them exactly.
//!
//! - **Prompt tokens** `P` = the whitespace-separated words of the text the
//!   request sends: every string under `messages[].content` (or its parts'
//!   `text`, nested `content` included), `system`, `instructions` and
//!   `input`; a pre-tokenised embeddings input counts one per token id.
//!   Roles, tool definitions and other fields count nothing.
//! - Of `P`, `x-mock-cached-tokens` are cache reads and then
//!   `x-mock-cache-write-tokens` cache writes (each capped by what is left).
//! - **Output tokens** = `min(W + R, max)`: `W` words wanted
//!   (`x-mock-output-tokens`, default 8), `R` reasoning tokens
//!   (`x-mock-reasoning-tokens`, spent first), `max` from `max_tokens`,
//!   `max_completion_tokens` or `max_output_tokens` when given. Each visible
//!   token is one word of [`WORDS`], in order, cycling.
//! - The answer stops for length (`length`, `max_tokens`, `incomplete`)
//!   exactly when `W + R > max`.
//! - A request whose `tools` offer web search (a tool whose `type` starts
//!   with `web_search`) runs `x-mock-web-searches` searches (default 1),
//!   reported as OpenAI's `web_search_call` items or Anthropic's
//!   `server_tool_use.web_search_requests`.

use serde_json::Value;

use super::switches::Switches;

/// The double's vocabulary.
pub const WORDS: [&str; 12] =
    ["Tollbooth", "meters", "every", "token", "that", "passes", "through", "the", "gateway", "exactly", "and", "fairly"];

/// What one answer contains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The model the answer names.
    pub model: String,
    /// All prompt tokens (including cache reads and writes).
    pub prompt_tokens: u64,
    pub cached_tokens: u64,
    pub cache_write_tokens: u64,
    /// All output tokens (including reasoning).
    pub output_tokens: u64,
    pub reasoning_tokens: u64,
    /// Whether the output limit cut the answer short.
    pub truncated: bool,
    /// The OpenAI tier the request asked for and is served at (`priority`
    /// or `flex`; `None`: `default`).
    pub service_tier: Option<&'static str>,
    /// Whether the cache writes go to Anthropic's 1-hour cache (a
    /// `cache_control` of the request says `"ttl": "1h"`).
    pub cache_write_1h: bool,
    /// Web searches run (see the module's documentation).
    pub web_searches: u64,
}

impl Plan {
    /// The plan for `body` (a JSON object) under `switches`.
    pub fn new(body: &Value, switches: &Switches) -> Plan {
        let prompt = ["messages", "system", "instructions", "input"].iter().map(|k| words_in(&body[*k])).sum();
        let max = ["max_tokens", "max_completion_tokens", "max_output_tokens"].iter().find_map(|k| body[*k].as_u64());
        let wanted = switches.output_tokens.saturating_add(switches.reasoning_tokens);
        let output = max.map_or(wanted, |m| wanted.min(m));
        let cached = switches.cached_tokens.min(prompt);
        Plan {
            model: switches.model.clone().unwrap_or_else(|| body["model"].as_str().unwrap_or_default().to_string()),
            prompt_tokens: prompt,
            cached_tokens: cached,
            cache_write_tokens: switches.cache_write_tokens.min(prompt - cached),
            output_tokens: output,
            reasoning_tokens: switches.reasoning_tokens.min(output),
            truncated: output < wanted,
            service_tier: match body["service_tier"].as_str() {
                Some("priority") => Some("priority"),
                Some("flex") => Some("flex"),
                _ => None,
            },
            cache_write_1h: asks_one_hour_cache(body),
            web_searches: if offers_web_search(body) { switches.web_searches } else { 0 },
        }
    }

    /// Prompt tokens neither read from nor written to the cache (what
    /// Anthropic calls `input_tokens`).
    pub fn uncached_prompt_tokens(&self) -> u64 {
        self.prompt_tokens - self.cached_tokens - self.cache_write_tokens
    }

    /// Visible output tokens (the words written).
    pub fn visible_tokens(&self) -> u64 {
        self.output_tokens - self.reasoning_tokens
    }

    /// The answer's pieces as streamed: the first word, then each next one
    /// with its leading space. Joined, they are [`Plan::text`].
    pub fn deltas(&self) -> Vec<String> {
        (0..self.visible_tokens() as usize)
            .map(|i| {
                let word = WORDS[i % WORDS.len()];
                if i == 0 { word.to_string() } else { format!(" {word}") }
            })
            .collect()
    }

    pub fn text(&self) -> String {
        self.deltas().concat()
    }
}

/// Whether the request's tools include web search.
fn offers_web_search(body: &Value) -> bool {
    body["tools"].as_array().is_some_and(|tools| tools.iter().any(|t| t["type"].as_str().is_some_and(|k| k.starts_with("web_search"))))
}

/// Whether any `cache_control` in `v` asks for the 1-hour cache.
fn asks_one_hour_cache(v: &Value) -> bool {
    match v {
        Value::Object(map) => {
            map.get("cache_control").is_some_and(|c| c["ttl"] == "1h") || map.values().any(asks_one_hour_cache)
        }
        Value::Array(items) => items.iter().any(asks_one_hour_cache),
        _ => false,
    }
}

/// Words in a request value: strings count their words, numbers (token ids)
/// one each, arrays their elements, objects their `text` and `content`.
pub fn words_in(v: &Value) -> u64 {
    match v {
        Value::String(s) => s.split_whitespace().count() as u64,
        Value::Number(_) => 1,
        Value::Array(items) => items.iter().map(words_in).sum(),
        Value::Object(o) => o.get("text").map_or(0, words_in) + o.get("content").map_or(0, words_in),
        Value::Null | Value::Bool(_) => 0,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn prompt_tokens_are_the_words_of_the_text_sent() {
        let chat = json!({"model": "gpt-4o", "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Say hello  to\nthe meter"}, {"type": "image_url", "image_url": {"url": "x"}}]}
        ]});
        assert_eq!(Plan::new(&chat, &Switches::default()).prompt_tokens, 7);
        let anthropic = json!({"system": [{"type": "text", "text": "Be brief."}], "messages": [
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text", "text": "42 degrees"}]}]}
        ]});
        assert_eq!(Plan::new(&anthropic, &Switches::default()).prompt_tokens, 4);
        assert_eq!(words_in(&json!([[1, 2, 3], [4]])), 4, "token ids count one each");
        assert_eq!(words_in(&json!({"instructions": "not read here"})), 0);
    }

    #[test]
    fn output_is_bounded_by_max_tokens_with_reasoning_spent_first() {
        let s = Switches { output_tokens: 5, reasoning_tokens: 3, cached_tokens: 2, cache_write_tokens: 9, ..Switches::default() };
        let free = Plan::new(&json!({"model": "o3", "input": "one two three four"}), &s);
        assert_eq!((free.output_tokens, free.reasoning_tokens, free.visible_tokens(), free.truncated), (8, 3, 5, false));
        assert_eq!((free.prompt_tokens, free.cached_tokens, free.cache_write_tokens, free.uncached_prompt_tokens()), (4, 2, 2, 0));
        let capped = Plan::new(&json!({"model": "o3", "max_output_tokens": 4}), &s);
        assert_eq!((capped.output_tokens, capped.reasoning_tokens, capped.visible_tokens(), capped.truncated), (4, 3, 1, true));
        assert_eq!(capped.text(), "Tollbooth");
    }

    #[test]
    fn words_cycle_and_the_model_is_echoed_unless_switched() {
        let p = Plan::new(&json!({"model": "gpt-x", "max_tokens": 14}), &Switches { output_tokens: 20, ..Switches::default() });
        assert_eq!(p.deltas().len(), 14);
        assert_eq!(p.deltas()[12], " Tollbooth");
        assert!(p.text().starts_with("Tollbooth meters every token"));
        assert_eq!(p.model, "gpt-x");
        let p = Plan::new(&json!({"model": "gpt-x"}), &Switches { model: Some("gpt-x-2025".into()), ..Switches::default() });
        assert_eq!(p.model, "gpt-x-2025");
    }

    #[test]
    fn web_searches_run_only_when_a_web_search_tool_is_offered() {
        let s = Switches { web_searches: 3, ..Switches::default() };
        let openai = json!({"model": "gpt-5", "tools": [{"type": "function", "name": "f"}, {"type": "web_search"}]});
        assert_eq!(Plan::new(&openai, &s).web_searches, 3);
        let anthropic = json!({"model": "claude", "tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 5}]});
        assert_eq!(Plan::new(&anthropic, &Switches::default()).web_searches, 1);
        assert_eq!(Plan::new(&json!({"model": "gpt-5", "tools": [{"type": "function"}]}), &s).web_searches, 0);
        assert_eq!(Plan::new(&json!({"model": "gpt-5"}), &s).web_searches, 0);
    }
}
