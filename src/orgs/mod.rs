//! Organizations (the tenants), memberships with roles, and invites.
//!
//! Every service here takes the caller's [`OrgScope`], obtained from
//! [`authorize`]; a user who is not a member of an organization gets
//! `NotFound`, exactly as for an id that does not exist.

#[cfg(feature = "ssr")]
mod service;
#[cfg(feature = "ssr")]
pub(crate) mod store;
#[cfg(feature = "ssr")]
mod suspension;

#[cfg(feature = "ssr")]
pub use service::*;
#[cfg(feature = "ssr")]
pub use suspension::{reactivate, require_active, suspend, suspended_message, suspension, suspension_cached, SUSPENSION_CACHE_MS};

use serde::{Deserialize, Serialize};

use crate::Error;

/// A member's role in one organization. Ordered: owner > admin > member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Member,
    Admin,
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Error> {
        match s.trim().to_lowercase().as_str() {
            "owner" => Ok(Role::Owner),
            "admin" => Ok(Role::Admin),
            "member" => Ok(Role::Member),
            _ => Err(Error::invalid("role", "must be owner, admin or member")),
        }
    }

    /// Whether this role may manage members, keys and settings.
    pub fn can_manage(self) -> bool {
        self >= Role::Admin
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An organization name: trimmed, 1 to 100 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgName(String);

impl OrgName {
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(Error::invalid("organization name", "is required"));
        }
        if s.chars().count() > 100 {
            return Err(Error::invalid("organization name", "must be at most 100 characters"));
        }
        if s.chars().any(char::is_control) {
            return Err(Error::invalid("organization name", "must not contain control characters"));
        }
        Ok(OrgName(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An organization as shown to its members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgView {
    pub id: String,
    pub name: String,
    pub time_zone: String,
    pub created_at: i64,
    /// The gateway refuses (400) calls to models without a price instead of
    /// forwarding them and recording them unpriced. Off by default.
    #[serde(default)]
    pub refuse_unpriced_models: bool,
}

/// One of the signed-in user's organizations, with their role there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MyOrg {
    pub id: String,
    pub name: String,
    pub role: Role,
}

/// A member as listed on the Members page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberView {
    pub user_id: String,
    pub email: String,
    pub role: Role,
    pub joined_at: i64,
}

/// A pending invite as listed to owners and admins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteView {
    pub id: String,
    pub email: String,
    pub role: Role,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A freshly created invite: the token is only available now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewInvite {
    pub invite: InviteView,
    pub token: String,
}

/// What the invite page shows before it is accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitePreview {
    pub org_name: String,
    pub email: String,
    pub role: Role,
    pub expires_at: i64,
}

/// One organization in the platform admin's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgSummary {
    pub id: String,
    pub name: String,
    pub members: i64,
    pub created_at: i64,
    /// The plan it is on.
    pub plan_code: String,
}

/// Proof that a user is a member of an organization with a role; every
/// organization-scoped service takes one, so none can run without an org id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgScope {
    pub org_id: String,
    pub user_id: String,
    pub role: Role,
}

impl OrgScope {
    /// Refuses unless the role is at least `min`.
    pub fn require(&self, min: Role) -> Result<(), Error> {
        if self.role >= min {
            Ok(())
        } else {
            Err(Error::Forbidden(format!("this needs the {min} role or higher; you are {}", self.role)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_owner_admin_member() {
        assert!(Role::Owner > Role::Admin && Role::Admin > Role::Member);
        assert!(Role::Admin.can_manage() && !Role::Member.can_manage());
        assert_eq!(Role::parse(" Admin ").unwrap(), Role::Admin);
        assert!(Role::parse("root").is_err());
    }

    #[test]
    fn org_name_is_trimmed_and_bounded() {
        assert_eq!(OrgName::parse("  Acme ").unwrap().as_str(), "Acme");
        assert!(OrgName::parse("   ").is_err());
        assert!(OrgName::parse(&"a".repeat(101)).is_err());
    }

    #[test]
    fn scope_requires_role() {
        let s = OrgScope { org_id: "o".into(), user_id: "u".into(), role: Role::Member };
        assert!(s.require(Role::Member).is_ok());
        assert_eq!(s.require(Role::Admin).unwrap_err().status_code(), 403);
    }
}
