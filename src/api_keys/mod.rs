//! Organization API keys.
//!
//! A key looks like `tb_live_<48 hex>`. It is shown once at creation; the store
//! keeps its SHA-256 (a 192-bit random secret needs no slow hash) and its first
//! characters as a recognisable prefix.

#[cfg(feature = "ssr")]
mod service;

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
pub struct ApiKeyView {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// A key just created: `secret` is the whole key, available only now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewApiKey {
    pub key: ApiKeyView,
    pub secret: String,
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
}
