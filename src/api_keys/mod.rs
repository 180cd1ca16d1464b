//! Organization API keys.
//!
//! A key looks like `tb_live_<48 hex>`. It is shown once at creation; the store
//! keeps its SHA-256 (a 192-bit random secret needs no slow hash) and its first
//! characters as a recognisable prefix.

mod allowlist;
#[cfg(feature = "ssr")]
mod service;
#[cfg(feature = "ssr")]
mod store;

pub use allowlist::{ModelAllowlist, MAX_MODEL_PATTERNS, MAX_MODEL_PATTERN_CHARS};
#[cfg(feature = "ssr")]
pub use service::*;

use serde::{Deserialize, Serialize};

/// Every key starts with this.
pub const KEY_PREFIX: &str = "tb_live_";
/// Hex characters of randomness after the prefix.
pub const KEY_SECRET_HEX_LEN: usize = 48;
/// How many characters of a key are kept in clear for recognition.
pub const DISPLAY_PREFIX_LEN: usize = KEY_PREFIX.len() + 6;

/// A key as listed: never the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ApiKeyView {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// The key's own rate limit in requests per minute; `None`: the plan's only.
    #[serde(default)]
    pub rate_limit_per_minute: Option<i64>,
    /// What the key may do.
    #[serde(default)]
    pub scopes: Scopes,
    /// The models the key may call through the gateway; `None`: every model.
    #[serde(default)]
    pub model_allowlist: Option<ModelAllowlist>,
}

/// A key just created: `secret` is the whole key, available only now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewApiKey {
    pub key: ApiKeyView,
    pub secret: String,
}

/// One kind of access a key may have. A key embedded in a client app should
/// carry `ingest` alone: it can record usage and ask for reservations, but
/// cannot read the organization's data nor change its budgets and webhooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", schema(as = KeyScope))]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Record usage, quota checks and reservations, the gateway.
    Ingest,
    /// Usage, events, exports, plan, budgets' status, alerts, billing.
    Read,
    /// Budgets, webhooks, alert settings, provider connections, keys' model allowlists.
    Manage,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Ingest, Scope::Read, Scope::Manage];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ingest => "ingest",
            Scope::Read => "read",
            Scope::Manage => "manage",
        }
    }

    /// What the scope allows, in a few words (the keys page shows it).
    pub fn describe(self) -> &'static str {
        match self {
            Scope::Ingest => "record usage, quota checks, reservations",
            Scope::Read => "usage, events, exports, plan, alerts, billing",
            Scope::Manage => "budgets, webhooks, alert settings, provider connections, model allowlists",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A non-empty set of scopes. Stored as `ingest,read,manage` and sent as a
/// list of names.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Scopes(u8);

impl Scopes {
    /// Every scope: what keys made before scopes existed keep.
    pub const ALL: Scopes = Scopes(0b111);

    /// Parses a comma-separated list (`ingest,read`); names may repeat,
    /// at least one is required.
    pub fn parse(text: &str) -> Result<Self, crate::Error> {
        let mut bits = 0u8;
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let scope = Scope::ALL.into_iter().find(|s| s.as_str() == name).ok_or_else(|| {
                crate::Error::invalid("scopes", format!("{name:?} is not a scope; use ingest, read and/or manage"))
            })?;
            bits |= scope.bit();
        }
        if bits == 0 {
            return Err(crate::Error::invalid("scopes", "choose at least one of ingest, read, manage"));
        }
        Ok(Scopes(bits))
    }

    /// The set holding exactly `list` (at least one).
    pub fn of(list: &[Scope]) -> Result<Self, crate::Error> {
        Self::parse(&list.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(","))
    }

    pub fn has(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    /// The scopes in order: ingest, read, manage.
    pub fn list(self) -> Vec<Scope> {
        Scope::ALL.into_iter().filter(|s| self.has(*s)).collect()
    }
}

impl Default for Scopes {
    fn default() -> Self {
        Scopes::ALL
    }
}

impl std::fmt::Display for Scopes {
    /// The stored form, `ingest,read,manage`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.list().iter().map(|s| s.as_str()).collect::<Vec<_>>().join(","))
    }
}

impl std::fmt::Debug for Scopes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Scopes({self})")
    }
}

impl Serialize for Scopes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.list().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Scopes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let list = Vec::<Scope>::deserialize(d)?;
        Scopes::of(&list).map_err(serde::de::Error::custom)
    }
}

/// Largest per-key rate limit a person may set (requests per minute).
pub const MAX_RATE_LIMIT_PER_MINUTE: i64 = 1_000_000;

/// Reads the optional per-key rate limit as typed in a form: blank means
/// none (the plan's limits alone apply), else a whole number of requests per
/// minute from 1 to [`MAX_RATE_LIMIT_PER_MINUTE`].
pub fn parse_rate_limit(text: &str) -> Result<Option<i64>, crate::Error> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    let clean: String = t.chars().filter(|c| *c != ',' && *c != '_').collect();
    let n = clean
        .parse::<i64>()
        .map_err(|_| crate::Error::invalid("rate_limit_per_minute", format!("{t:?} is not a whole number of requests per minute")))?;
    check_rate_limit(Some(n))
}

/// Checks a per-key rate limit is within 1..=1,000,000 requests per minute.
pub fn check_rate_limit(limit: Option<i64>) -> Result<Option<i64>, crate::Error> {
    match limit {
        Some(n) if !(1..=MAX_RATE_LIMIT_PER_MINUTE).contains(&n) => Err(crate::Error::invalid(
            "rate_limit_per_minute",
            "must be between 1 and 1,000,000 requests per minute (leave it blank for the plan's limit)",
        )),
        other => Ok(other),
    }
}

/// Whether a presented token has the shape of one of our keys.
pub fn is_well_formed(token: &str) -> bool {
    token.strip_prefix(KEY_PREFIX).is_some_and(|rest| {
        rest.len() == KEY_SECRET_HEX_LEN && rest.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_keys_have_prefix_and_hex_secret() {
        let good = format!("{KEY_PREFIX}{}", "a1".repeat(24));
        assert!(is_well_formed(&good));
        assert!(!is_well_formed("tb_live_short"));
        assert!(!is_well_formed(&good.replace("tb_live_", "tb_test_")));
        assert!(!is_well_formed(&format!("{KEY_PREFIX}{}", "Z1".repeat(24))));
    }

    #[test]
    fn scopes_parse_from_names_and_need_at_least_one() {
        let s = Scopes::parse(" read , ingest,read").unwrap();
        assert_eq!(s.list(), vec![Scope::Ingest, Scope::Read]);
        assert_eq!(s.to_string(), "ingest,read");
        assert!(s.has(Scope::Read) && !s.has(Scope::Manage));
        assert_eq!(Scopes::parse("ingest,read,manage").unwrap(), Scopes::ALL);
        for bad in ["", " , ", "admin", "read,write"] {
            assert_eq!(Scopes::parse(bad).unwrap_err().field(), Some("scopes"), "{bad:?}");
        }
        assert_eq!(serde_json::to_string(&s).unwrap(), r#"["ingest","read"]"#);
        assert_eq!(serde_json::from_str::<Scopes>(r#"["manage"]"#).unwrap().list(), vec![Scope::Manage]);
        assert!(serde_json::from_str::<Scopes>("[]").is_err());
    }

    #[test]
    fn rate_limits_are_blank_or_between_one_and_a_million() {
        assert_eq!(parse_rate_limit("  ").unwrap(), None);
        assert_eq!(parse_rate_limit("120").unwrap(), Some(120));
        assert_eq!(parse_rate_limit("1,000,000").unwrap(), Some(1_000_000));
        for bad in ["0", "-5", "1000001", "ten", "1.5"] {
            let e = parse_rate_limit(bad).unwrap_err();
            assert_eq!(e.field(), Some("rate_limit_per_minute"), "{bad}");
        }
        assert!(check_rate_limit(None).unwrap().is_none());
    }
}
