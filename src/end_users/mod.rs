//! End users: the people an organization's product serves, known by the
//! `user_id` of its events, reservations and gateway calls. The Users page
//! and `/api/v1/users` list them with this period's usage against their
//! limits; the organization sets default per-user limits (with a master
//! switch) and per-user overrides here. The rule that enforces them is
//! quota's ([`crate::quota::users`]); this module is what people and API
//! clients read and change.

#[cfg(feature = "ssr")]
mod service;

#[cfg(feature = "ssr")]
pub use service::*;

use serde::{Deserialize, Serialize};

use crate::quota::StatusLine;

/// Limits of one end user as the API and the pages show and take them:
/// tokens and requests as whole numbers, cost as decimal USD strings
/// (`"5.00"`); absent or `null` is no limit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LimitValues {
    #[serde(default)]
    pub tokens_per_day: Option<i64>,
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<crate::openapi::Usd>))]
    pub cost_per_day_usd: Option<String>,
    #[serde(default)]
    pub tokens_per_month: Option<i64>,
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<crate::openapi::Usd>))]
    pub cost_per_month_usd: Option<String>,
    #[serde(default)]
    pub requests_per_minute: Option<i64>,
}

impl LimitValues {
    /// Whether no limit is set.
    pub fn is_empty(&self) -> bool {
        *self == LimitValues::default()
    }
}

/// The organization's per-user limit settings: the master switch and the
/// default limits of every end user.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LimitSettings {
    /// Off: no per-user limit applies (overrides included).
    pub enabled: bool,
    #[serde(flatten)]
    pub defaults: LimitValues,
}

/// One end user's override: `custom` (each limit set replaces the
/// default, one left out keeps it), `unlimited` or `blocked`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LimitOverride {
    pub mode: String,
    #[serde(flatten)]
    pub limits: LimitValues,
}

/// Usage in one period: tokens, exact cost (decimal USD) and requests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UsageFigures {
    pub tokens: i64,
    #[cfg_attr(feature = "ssr", schema(value_type = crate::openapi::Usd))]
    pub cost_usd: String,
    pub requests: i64,
}

/// One end user in the list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EndUserRow {
    pub user_id: String,
    /// The organization's current local day and calendar month.
    pub today: UsageFigures,
    pub month: UsageFigures,
    /// The last local day with usage this month (`YYYY-MM-DD`), if any.
    pub last_active: Option<String>,
    /// `default` (no override), `custom`, `unlimited` or `blocked`.
    pub mode: String,
    /// `free` (no per-user limit applies), `limited` or `blocked`.
    pub status: String,
    /// The user's windowed limits in force with their use.
    pub lines: Vec<StatusLine>,
}

impl EndUserRow {
    /// The most used of its limits (for a bar), if any.
    pub fn nearest(&self) -> Option<&StatusLine> {
        self.lines.iter().max_by_key(|l| l.per_mille())
    }
}

/// A page of the organization's end users.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EndUsersPage {
    pub settings: LimitSettings,
    pub users: Vec<EndUserRow>,
    /// End users matching the search this month (or with an override).
    pub total: i64,
    pub time_zone: String,
}

/// One end user's limits and usage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EndUserLimits {
    pub user_id: String,
    /// The organization's master switch.
    pub enabled: bool,
    /// `default`, `custom`, `unlimited` or `blocked`.
    pub mode: String,
    /// The override's own values (`custom` only).
    pub own: Option<LimitValues>,
    /// The limits in force (defaults merged with the override; empty when
    /// none applies).
    pub effective: LimitValues,
    /// `free`, `limited` or `blocked`.
    pub status: String,
    pub lines: Vec<StatusLine>,
    pub today: UsageFigures,
    pub month: UsageFigures,
}

/// How the list is sorted: `cost_month` (default), `tokens_month`,
/// `cost_today`, `tokens_today`, `requests`, `user_id`.
pub const SORTS: [&str; 6] = ["cost_month", "tokens_month", "cost_today", "tokens_today", "requests", "user_id"];

/// One day of an end user's usage.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DayFigures {
    /// `YYYY-MM-DD` in the organization's zone.
    pub date: String,
    pub tokens: i64,
    #[cfg_attr(feature = "ssr", schema(value_type = crate::openapi::Usd))]
    pub cost_usd: String,
    pub cost_nanos: i64,
    pub requests: i64,
}

/// One model's share of an end user's usage.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ModelFigures {
    pub model: String,
    pub tokens: i64,
    #[cfg_attr(feature = "ssr", schema(value_type = crate::openapi::Usd))]
    pub cost_usd: String,
    pub requests: i64,
    pub errors: i64,
}

/// An end user's usage panel: the last days, and the month by model.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EndUserUsage {
    pub days: Vec<DayFigures>,
    pub models: Vec<ModelFigures>,
}

/// Days of an end user's usage panel.
pub const USAGE_DAYS: usize = 30;
