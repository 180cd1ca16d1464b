//! Projects: named groups of an organization's usage. Members create and
//! archive them; events may carry a project id. The plan limits how many
//! active (not archived) projects an organization has.

use serde::{Deserialize, Serialize};

use crate::Error;

/// A project as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectView {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub created_at: i64,
    pub archived_at: Option<i64>,
}

/// A project slug: lower-case letters, digits and `-`, 2 to 40 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slug(String);

impl Slug {
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let s = raw.trim();
        let ok = s.len() >= 2
            && s.len() <= 40
            && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !s.starts_with('-')
            && !s.ends_with('-');
        if !ok {
            return Err(Error::invalid("slug", "must be 2 to 40 characters: lower-case letters, digits and -, not at either end"));
        }
        Ok(Slug(s.to_string()))
    }

    /// A slug made from a name: `Support Bot 2` → `support-bot-2`.
    pub fn from_name(name: &str) -> Result<Self, Error> {
        let mut s = String::new();
        for c in name.trim().to_lowercase().chars() {
            if c.is_ascii_alphanumeric() {
                s.push(c);
            } else if !s.ends_with('-') && !s.is_empty() {
                s.push('-');
            }
        }
        let s: String = s.trim_end_matches('-').chars().take(40).collect();
        Slug::parse(s.trim_end_matches('-'))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(feature = "ssr")]
mod service;
#[cfg(feature = "ssr")]
mod store;
#[cfg(feature = "ssr")]
pub use service::*;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_checked_and_derived_from_names() {
        assert_eq!(Slug::from_name("Support Bot 2").unwrap().as_str(), "support-bot-2");
        assert_eq!(Slug::from_name("  Ünïcode — app ").unwrap().as_str(), "n-code-app");
        assert!(Slug::parse("A").is_err());
        assert!(Slug::parse("-x").is_err());
        assert!(Slug::parse("ok-1").is_ok());
        assert!(Slug::from_name("!!").is_err());
    }
}
