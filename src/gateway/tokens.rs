//! Counting tokens the gateway has not been told: a prompt's, for the
//! reservation's upper bound before a call, and a broken stream's (prompt
//! and streamed text) for an estimate when the provider never reported its
//! usage.
//!
//! OpenAI's models are counted with OpenAI's own byte-pair ranks
//! (tiktoken-rs: `o200k_base` for the GPT-4o generation and later, the o
//! series and GPT-4.1/5; `cl100k_base` for GPT-4, GPT-3.5 and the embedding
//! models). Other models have no public tokenizer here, so their count is
//! bounded by the text's UTF-8 bytes: no tokenizer in use spends fewer
//! than one byte per token.
//!
//! A tokenizer's ranks weigh tens of megabytes and take a few hundred
//! milliseconds to load, so each loads once, and only when needed:
//! `o200k_base` (most of OpenAI's models today) when the gateway starts
//! ([`warm`]), `cl100k_base` at the first call of one of its models. Until
//! a tokenizer is loaded, a reservation's prompt bound ([`prompt_bound`])
//! is the text's bytes (an upper bound, so never an overshoot) while it
//! loads in a thread of its own; counts that must be exact ([`count`]: an
//! estimate's) wait for it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;

use tiktoken_rs::CoreBPE;

/// Tokens of framing per message (role, separators), and per request (the
/// assistant's priming), as OpenAI documents for its chat format.
const PER_MESSAGE: u64 = 4;
const PER_REQUEST: u64 = 3;

/// OpenAI's two tokenizers in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    O200k,
    Cl100k,
}

impl Family {
    /// The tokenizer of an OpenAI model, by its name (a `<connection>/`
    /// prefix or a date suffix does not matter).
    fn of(model: &str) -> Option<Family> {
        let name = super::usage::model_name(model);
        let o200k = ["gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "o1", "o3", "o4", "chatgpt-4o", "gpt-oss"];
        let cl100k = ["gpt-4", "gpt-3.5", "text-embedding-3", "text-embedding-ada-002"];
        if o200k.iter().any(|p| name.starts_with(p)) {
            Some(Family::O200k)
        } else if cl100k.iter().any(|p| name.starts_with(p)) {
            Some(Family::Cl100k)
        } else {
            None
        }
    }

    fn state(self) -> &'static (AtomicBool, Once) {
        static O200K: (AtomicBool, Once) = (AtomicBool::new(false), Once::new());
        static CL100K: (AtomicBool, Once) = (AtomicBool::new(false), Once::new());
        match self {
            Family::O200k => &O200K,
            Family::Cl100k => &CL100K,
        }
    }

    /// The tokenizer, loaded now if it is not yet.
    fn bpe(self) -> &'static CoreBPE {
        let bpe = match self {
            Family::O200k => tiktoken_rs::o200k_base_singleton(),
            Family::Cl100k => tiktoken_rs::cl100k_base_singleton(),
        };
        self.state().0.store(true, Ordering::Release);
        bpe
    }

    /// The tokenizer if it is loaded; else `None`, and it starts loading
    /// in a thread of its own (once).
    fn loaded(self) -> Option<&'static CoreBPE> {
        let (ready, loading) = self.state();
        if ready.load(Ordering::Acquire) {
            return Some(self.bpe());
        }
        loading.call_once(|| {
            std::thread::spawn(move || self.bpe());
        });
        None
    }
}

/// Whether `model` is counted with a real tokenizer.
pub fn has_tokenizer(model: &str) -> bool {
    Family::of(model).is_some()
}

/// The tokens of `text` for `model`: exact with its tokenizer (loading it
/// if need be), else the text's UTF-8 bytes (an upper bound).
pub fn count(model: &str, text: &str) -> u64 {
    match Family::of(model) {
        Some(family) => family.bpe().count_ordinary(text) as u64,
        None => text.len() as u64,
    }
}

/// An upper bound of a prompt's tokens, for a reservation: its text
/// counted for the model (its bytes while the model's tokenizer loads),
/// plus the chat format's framing of `messages` messages. Never waits.
pub fn prompt_bound(model: &str, text: &str, messages: u64) -> u64 {
    let tokens = match Family::of(model).and_then(Family::loaded) {
        Some(bpe) => bpe.count_ordinary(text) as u64,
        None => text.len() as u64,
    };
    tokens + framing(messages)
}

/// A prompt's tokens as exactly as they can be counted here (an
/// estimate's prompt): [`count`] plus the framing.
pub fn prompt_count(model: &str, text: &str, messages: u64) -> u64 {
    count(model, text) + framing(messages)
}

fn framing(messages: u64) -> u64 {
    PER_MESSAGE * messages + PER_REQUEST
}

/// Loads the tokenizer most calls need (`o200k_base`), so that the first
/// call does not pay for it; `cl100k_base` loads at its first use.
pub fn warm() {
    let _ = Family::O200k.bpe();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_models_use_their_tokenizer_others_their_bytes() {
        assert_eq!(count("gpt-4o-mini", "Hello world"), 2);
        assert_eq!(count("gpt-4", "Hello world"), 2);
        assert_eq!(count("groq/gpt-oss-20b", "Hello world"), 2);
        assert!(has_tokenizer("o3-mini") && !has_tokenizer("claude-sonnet-4-5"));
        assert_eq!(count("claude-sonnet-4-5", "Hello world"), 11);
        assert_eq!(count("claude-sonnet-4-5", "héllo"), 6, "bytes, not characters");
        assert_eq!(prompt_count("gpt-4o", "Hello world", 2), 2 + 8 + 3);
        assert_eq!(prompt_count("claude-sonnet-4-5", "Hello world", 1), 11 + 4 + 3);
    }

    #[test]
    fn a_prompt_bound_is_exact_once_the_tokenizer_is_loaded_and_never_below_the_count() {
        let text = "Tollbooth meters every token that passes through the gateway, exactly.";
        for model in ["gpt-4o-mini", "gpt-4-turbo", "text-embedding-3-small", "claude-sonnet-4-5"] {
            assert!(prompt_bound(model, text, 1) >= prompt_count(model, text, 1), "{model}");
        }
        let _ = count("gpt-4-turbo", ""); // loads cl100k_base
        assert_eq!(prompt_bound("gpt-4-turbo", text, 1), prompt_count("gpt-4-turbo", text, 1));
        assert!(prompt_count("gpt-4-turbo", text, 1) < text.len() as u64, "counted with the tokenizer, not by bytes");
    }
}
