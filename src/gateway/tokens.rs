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

use tiktoken_rs::CoreBPE;

/// Tokens of framing per message (role, separators), and per request (the
/// assistant's priming), as OpenAI documents for its chat format.
const PER_MESSAGE: u64 = 4;
const PER_REQUEST: u64 = 3;

/// The BPE of an OpenAI model, by its name (a `<connection>/` prefix or a
/// date suffix does not matter).
fn bpe_for(model: &str) -> Option<&'static CoreBPE> {
    let name = model.rsplit('/').next().unwrap_or(model);
    let o200k = ["gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "o1", "o3", "o4", "chatgpt-4o", "gpt-oss"];
    let cl100k = ["gpt-4", "gpt-3.5", "text-embedding-3", "text-embedding-ada-002"];
    if o200k.iter().any(|p| name.starts_with(p)) {
        Some(tiktoken_rs::o200k_base_singleton())
    } else if cl100k.iter().any(|p| name.starts_with(p)) {
        Some(tiktoken_rs::cl100k_base_singleton())
    } else {
        None
    }
}

/// Whether `model` is counted with a real tokenizer.
pub fn has_tokenizer(model: &str) -> bool {
    bpe_for(model).is_some()
}

/// The tokens of `text` for `model`: exact with its tokenizer, else the
/// text's UTF-8 bytes (an upper bound).
pub fn count(model: &str, text: &str) -> u64 {
    match bpe_for(model) {
        Some(bpe) => bpe.count_ordinary(text) as u64,
        None => text.len() as u64,
    }
}

/// An upper bound of a prompt's tokens: its text counted for the model,
/// plus the chat format's framing of `messages` messages.
pub fn prompt_bound(model: &str, text: &str, messages: u64) -> u64 {
    count(model, text) + PER_MESSAGE * messages + PER_REQUEST
}

/// Loads the tokenizers (a few hundred milliseconds, once), so that the
/// first call does not pay for it.
pub fn warm() {
    let _ = tiktoken_rs::o200k_base_singleton();
    let _ = tiktoken_rs::cl100k_base_singleton();
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
        assert_eq!(prompt_bound("gpt-4o", "Hello world", 2), 2 + 8 + 3);
    }
}
