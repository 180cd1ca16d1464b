//! Accounts: users, their credentials, signup and login.
//!
//! Parse, don't validate: an [`Email`] or [`Password`] cannot hold a bad value.

#[cfg(feature = "ssr")]
mod password;
#[cfg(feature = "ssr")]
mod service;
#[cfg(feature = "ssr")]
mod sessions;
#[cfg(feature = "ssr")]
pub(crate) mod store;
#[cfg(feature = "ssr")]
pub mod throttle;

#[cfg(feature = "ssr")]
pub use password::{PasswordGate, PasswordHash};
#[cfg(feature = "ssr")]
pub use service::*;
#[cfg(feature = "ssr")]
pub use sessions::{end_all_sessions, session_user, SESSION_MAX_AGE_MS};

use serde::{Deserialize, Serialize};

use crate::Error;

/// A syntactically valid e-mail address, trimmed and lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Email(String);

impl Email {
    /// Parses an address: one `@`, something on both sides, a dot in the domain,
    /// no whitespace, at most 254 characters.
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let s = raw.trim().to_lowercase();
        let bad = |m: &str| Err(Error::invalid("email", m.to_string()));
        if s.is_empty() {
            return bad("is required");
        }
        if s.len() > 254 {
            return bad("is longer than 254 characters");
        }
        if s.chars().any(char::is_whitespace) {
            return bad("must not contain spaces");
        }
        match s.split_once('@') {
            Some((local, domain))
                if !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.') =>
            {
                Ok(Email(s))
            }
            _ => bad("is not a valid e-mail address"),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A new password that meets the policy (8 to 128 characters). Not `Serialize`:
/// it never leaves the process.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub const MIN_LEN: usize = 8;
    pub const MAX_LEN: usize = 128;

    /// Checks the policy for a password being set.
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let n = raw.chars().count();
        if n < Self::MIN_LEN {
            return Err(Error::invalid("password", format!("must be at least {} characters", Self::MIN_LEN)));
        }
        if n > Self::MAX_LEN {
            return Err(Error::invalid("password", format!("must be at most {} characters", Self::MAX_LEN)));
        }
        Ok(Password(raw.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

/// What the UI knows about the signed-in user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub is_platform_admin: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_trimmed_and_lowercased() {
        assert_eq!(Email::parse("  Ada@Example.COM ").unwrap().as_str(), "ada@example.com");
    }

    #[test]
    fn email_without_at_or_dot_is_refused() {
        for bad in ["", "ada", "ada@", "@example.com", "ada@example", "a b@example.com", "a@b@c.com", "ada@.com"] {
            let err = Email::parse(bad).unwrap_err();
            assert_eq!(err.field(), Some("email"), "{bad:?} should be refused");
        }
    }

    #[test]
    fn password_policy_bounds() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse("exactly8").is_ok());
        assert!(Password::parse(&"x".repeat(129)).is_err());
        assert_eq!(format!("{:?}", Password::parse("secret-password").unwrap()), "Password(***)");
    }
}
