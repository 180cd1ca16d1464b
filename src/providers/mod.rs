//! Upstream providers of the gateway: the server-wide defaults and each
//! organization's own connections ("bring your own key"), and [`resolve`],
//! which picks the upstream that serves a call.
//!
//! A connection is named: `openai` (kind openai), `anthropic` (kind
//! anthropic), or any other lowercase name (kind openai_compatible, e.g.
//! `groq`, `vllm`, `openrouter`), which serves the models requested as
//! `<name>/<model>`. Its API key is stored encrypted ([`SecretBox`]) and never
//! shown again: lists carry its last 4 characters only.

#[cfg(feature = "ssr")]
mod defaults;
#[cfg(feature = "ssr")]
pub mod secret_box;
#[cfg(feature = "ssr")]
mod service;
#[cfg(feature = "ssr")]
mod store;

#[cfg(feature = "ssr")]
pub use defaults::{DefaultUpstream, Defaults, ProviderSettings, ANTHROPIC_BASE_URL, OPENAI_BASE_URL};
#[cfg(feature = "ssr")]
pub use secret_box::{KeySource, Secret, SecretBox};
#[cfg(feature = "ssr")]
pub use service::*;

use serde::{Deserialize, Serialize};

use crate::Error;

/// The wire protocol a request speaks: what the gateway received, and what
/// an upstream understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// OpenAI's API (`/v1/chat/completions`, `/v1/responses`, `/v1/embeddings`).
    OpenAi,
    /// Anthropic's Messages API (`/v1/messages`).
    Anthropic,
}

impl Family {
    /// The name of the organization's connection (and of the server default)
    /// that serves this family's unprefixed models.
    pub fn default_name(self) -> &'static str {
        match self {
            Family::OpenAi => "openai",
            Family::Anthropic => "anthropic",
        }
    }

    /// The kind of that connection.
    pub fn default_kind(self) -> ProviderKind {
        match self {
            Family::OpenAi => ProviderKind::OpenAi,
            Family::Anthropic => ProviderKind::Anthropic,
        }
    }
}

/// What a connection points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// OpenAI itself (or a proxy of it): the connection named `openai`.
    #[serde(rename = "openai")]
    OpenAi,
    /// Anthropic itself: the connection named `anthropic`.
    Anthropic,
    /// Any server speaking OpenAI's API (Groq, vLLM, OpenRouter, Together…),
    /// under its own name; serves `<name>/<model>`.
    #[serde(rename = "openai_compatible")]
    OpenAiCompatible,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 3] = [ProviderKind::OpenAi, ProviderKind::Anthropic, ProviderKind::OpenAiCompatible];

    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "openai",
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::OpenAiCompatible => "openai_compatible",
        }
    }

    /// Reads a kind as sent (`openai`, `anthropic`, `openai_compatible`).
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let s = raw.trim();
        ProviderKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| Error::invalid("kind", "must be openai, anthropic or openai_compatible"))
    }

    /// The wire family this kind speaks.
    pub fn family(self) -> Family {
        match self {
            ProviderKind::OpenAi | ProviderKind::OpenAiCompatible => Family::OpenAi,
            ProviderKind::Anthropic => Family::Anthropic,
        }
    }

    /// How the pages name it.
    pub fn label(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "OpenAI",
            ProviderKind::Anthropic => "Anthropic",
            ProviderKind::OpenAiCompatible => "OpenAI-compatible",
        }
    }

    /// Whether a base URL must be given (there is no default to fall back on).
    pub fn needs_base_url(self) -> bool {
        self == ProviderKind::OpenAiCompatible
    }
}

impl std::fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Longest connection name.
pub const MAX_NAME_LEN: usize = 40;

/// A connection's name: lowercase ASCII letters, digits, `-` and `_`,
/// starting with a letter, at most 40 characters. No `/`: the name is the
/// prefix of `<name>/<model>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConnectionName(String);

impl ConnectionName {
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(Error::invalid("name", "is required"));
        }
        if s.len() > MAX_NAME_LEN {
            return Err(Error::invalid("name", format!("must be at most {MAX_NAME_LEN} characters")));
        }
        if !Self::is_valid(s) {
            return Err(Error::invalid(
                "name",
                "use lowercase letters, digits, - and _, starting with a letter (e.g. groq, vllm, openrouter)",
            ));
        }
        Ok(ConnectionName(s.to_string()))
    }

    /// Whether `s` is a well-formed name (no trimming).
    pub fn is_valid(s: &str) -> bool {
        let mut chars = s.chars();
        s.len() <= MAX_NAME_LEN
            && chars.next().is_some_and(|c| c.is_ascii_lowercase())
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    }

    /// Checks that the name fits the kind: `openai` and `anthropic` are the
    /// names of their own kinds, every other name is an OpenAI-compatible
    /// server's.
    pub fn check_kind(&self, kind: ProviderKind) -> Result<(), Error> {
        let reserved = [ProviderKind::OpenAi, ProviderKind::Anthropic].into_iter().find(|k| k.as_str() == self.0);
        match (reserved, kind) {
            (Some(own), k) if own == k => Ok(()),
            (Some(own), _) => Err(Error::invalid("kind", format!("the connection named {own} must be of kind {own}"))),
            (None, ProviderKind::OpenAiCompatible) => Ok(()),
            (None, k) => Err(Error::invalid(
                "kind",
                format!("a connection of kind {k} must be named {k}; other names are for openai_compatible servers"),
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A connection as listed: never the key, only its last 4 characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ProviderView {
    pub name: String,
    pub kind: ProviderKind,
    /// `None`: the server's default base URL of the kind.
    pub base_url: Option<String>,
    /// The key's last 4 characters (empty for a key too short to show any).
    pub key_last4: String,
    /// RFC 3339 UTC.
    pub updated_at: String,
}

/// What the Providers page shows about the server-wide defaults: whether
/// the operator configured a key for each family (never the key or URL).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefaultsView {
    pub openai: bool,
    pub anthropic: bool,
}

/// A key as a list shows it: `••••abcd`, or `••••` when none of it is shown.
pub fn masked(last4: &str) -> String {
    format!("••••{last4}")
}

/// Keys shorter than this show none of their characters.
pub const MIN_KEY_LEN_FOR_LAST4: usize = 12;

/// The last 4 characters kept in clear, for keys long enough that they give
/// nothing away.
pub fn last4(key: &str) -> String {
    let n = key.chars().count();
    if n < MIN_KEY_LEN_FOR_LAST4 {
        return String::new();
    }
    key.chars().skip(n - 4).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_and_name_their_family() {
        assert_eq!(ProviderKind::parse(" openai_compatible ").unwrap(), ProviderKind::OpenAiCompatible);
        assert_eq!(ProviderKind::OpenAiCompatible.family(), Family::OpenAi);
        assert_eq!(ProviderKind::Anthropic.family(), Family::Anthropic);
        for bad in ["", "OpenAI", "groq", "azure"] {
            assert_eq!(ProviderKind::parse(bad).unwrap_err().field(), Some("kind"), "{bad:?}");
        }
        assert_eq!(serde_json::to_string(&ProviderKind::OpenAi).unwrap(), r#""openai""#);
        assert_eq!(serde_json::to_string(&ProviderKind::OpenAiCompatible).unwrap(), r#""openai_compatible""#);
        assert_eq!(serde_json::from_str::<ProviderKind>(r#""anthropic""#).unwrap(), ProviderKind::Anthropic);
        for k in ProviderKind::ALL {
            assert_eq!(ProviderKind::parse(k.as_str()).unwrap(), k);
            assert_eq!(serde_json::to_string(&k).unwrap(), format!("\"{k}\""));
        }
    }

    #[test]
    fn names_are_lowercase_words_without_slashes() {
        for good in ["groq", "vllm", "openrouter", "my-vllm_2", "a"] {
            assert_eq!(ConnectionName::parse(good).unwrap().as_str(), good);
        }
        assert_eq!(ConnectionName::parse("  groq ").unwrap().as_str(), "groq");
        for bad in ["", "Groq", "2fast", "-x", "groq/llama", "a b", "ä", &"x".repeat(41)] {
            assert_eq!(ConnectionName::parse(bad).unwrap_err().field(), Some("name"), "{bad:?}");
        }
    }

    #[test]
    fn openai_and_anthropic_are_the_names_of_their_kinds() {
        let name = |s: &str| ConnectionName::parse(s).unwrap();
        assert!(name("openai").check_kind(ProviderKind::OpenAi).is_ok());
        assert!(name("anthropic").check_kind(ProviderKind::Anthropic).is_ok());
        assert!(name("groq").check_kind(ProviderKind::OpenAiCompatible).is_ok());
        for (n, k) in [
            ("openai", ProviderKind::Anthropic),
            ("openai", ProviderKind::OpenAiCompatible),
            ("anthropic", ProviderKind::OpenAi),
            ("groq", ProviderKind::OpenAi),
            ("groq", ProviderKind::Anthropic),
        ] {
            assert_eq!(name(n).check_kind(k).unwrap_err().field(), Some("kind"), "{n} as {k}");
        }
    }

    #[test]
    fn only_the_last_four_characters_of_a_long_key_are_kept() {
        assert_eq!(last4("sk-proj-abcdefghijkl1234"), "1234");
        assert_eq!(last4("short-key"), "", "a short key shows nothing");
        assert_eq!(masked("1234"), "••••1234");
        assert_eq!(masked(""), "••••");
    }
}
