//! The audit log: who did what, to what, with which result, from where.
//!
//! Append-only (the database refuses UPDATE and DELETE, see migration 0009)
//! and hash-chained: each entry's hash covers its fields and the previous
//! entry's hash, so [`verify`] finds the first entry changed behind the
//! application's back.

use serde::{Deserialize, Serialize};

/// Who acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    User,
    ApiKey,
    System,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::ApiKey => "api_key",
            ActorKind::System => "system",
        }
    }
}

/// How it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Failure,
    Denied,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
        }
    }
}

/// An entry as the log pages and the CSV show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", schema(as = AuditEntry))]
pub struct AuditEntryView {
    pub seq: i64,
    pub id: String,
    /// RFC 3339 UTC.
    pub at: String,
    pub org_id: Option<String>,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub actor_label: String,
    pub action: String,
    pub target: Option<String>,
    #[cfg_attr(feature = "ssr", schema(value_type = crate::openapi::AuditResult))]
    pub result: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// JSON text.
    pub details: String,
}

/// Filters of the log pages and the export (all optional, text as typed).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditFilter {
    /// Matches the actor's label (e-mail, key name) or id, case-insensitive substring.
    pub actor: String,
    /// An action name, or a prefix ending in `.` (e.g. `billing.`).
    pub action: String,
    /// success, failure or denied.
    pub result: String,
    /// Local dates `YYYY-MM-DD`, inclusive.
    pub from: String,
    pub to: String,
}

#[cfg(feature = "ssr")]
pub mod app;
#[cfg(feature = "ssr")]
mod chain;
mod report;
#[cfg(feature = "ssr")]
mod service;
#[cfg(feature = "ssr")]
mod store;
#[cfg(feature = "ssr")]
mod tally;

#[cfg(feature = "ssr")]
pub use app::{parse_app_events, record_app_events, AppEvent, AppEventResult, AuditPage, APP_PREFIX, MAX_APP_EVENTS};
#[cfg(feature = "ssr")]
pub use app::page as page_of_trail;
#[cfg(feature = "ssr")]
pub use chain::{entry_hash, Broken, GENESIS};
pub use report::*;
#[cfg(feature = "ssr")]
pub use service::*;
#[cfg(feature = "ssr")]
pub use tally::{flush_refusals, RefusalTally, WEBHOOK_REJECTED};
