//! Caps: ceilings on what some callers may spend in a calendar period, set
//! by another module (a budget with the pause action) and enforced by the
//! ledgers beside the plan's limits, in the same atomic step, so that money
//! held by reservations in flight counts against them as it does against a
//! hard limit.
//!
//! Quota keeps each cap's spend and knows which reservations a cap covers;
//! whether a cap refuses is its owner's rule, asked through
//! [`Hooks::judge`](super::Hooks::judge). The types are plain data, so quota
//! imports nothing of the modules that set caps.

use chrono_tz::Tz;

use crate::calendar::Window;

/// Who a check or reservation is for: its project, user and API key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subject {
    pub project_id: Option<String>,
    pub user_id: Option<String>,
    pub api_key_id: Option<String>,
}

/// Whom a cap covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Covers {
    /// Every caller of the organization.
    Organization,
    Project(String),
    User(String),
    ApiKey(String),
}

impl Covers {
    /// Whether a call for `who` counts against the cap.
    pub fn covers(&self, who: &Subject) -> bool {
        let is = |id: &String, of: &Option<String>| of.as_ref() == Some(id);
        match self {
            Covers::Organization => true,
            Covers::Project(id) => is(id, &who.project_id),
            Covers::User(id) => is(id, &who.user_id),
            Covers::ApiKey(id) => is(id, &who.api_key_id),
        }
    }
}

/// A ceiling on cost (nano-USD) in the period that contains now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cap {
    /// Its owner's id (a budget's).
    pub id: String,
    /// How its owner names it, and its period's name (`monthly`), for the refusal.
    pub name: String,
    pub period: &'static str,
    pub covers: Covers,
    /// The current period, and the zone it is local to.
    pub window: Window,
    pub tz: Tz,
    pub amount: i64,
    /// Recorded spend in the period so far.
    pub spent: i64,
}

/// A cap as a request finds it: with the cost that active, unexpired
/// reservations it covers hold, and how many of them hold any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    pub cap: Cap,
    pub held: i64,
    pub calls: i64,
}

/// A cap's spend in one period after a recorded batch: what ingest's
/// transaction counted, for the in-memory ledger to take over just before
/// that transaction commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapSpent {
    pub id: String,
    pub period_start: i64,
    pub spent: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cap_covers_its_scope_only() {
        let who = Subject { project_id: Some("bot".into()), user_id: Some("u1".into()), api_key_id: None };
        assert!(Covers::Organization.covers(&who));
        assert!(Covers::Project("bot".into()).covers(&who));
        assert!(!Covers::Project("web".into()).covers(&who));
        assert!(Covers::User("u1".into()).covers(&who));
        assert!(!Covers::ApiKey("k".into()).covers(&who), "a call without a key is no key's");
        assert!(!Covers::Project(String::new()).covers(&Subject::default()), "an empty id is not a missing one");
    }
}
