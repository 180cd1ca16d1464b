//! Quotas: enforcement of plan limits that holds under concurrency.
//!
//! - [`rules`]: the one rule deciding whether an amount may go ahead;
//! - calendar windows in the organization's time zone are [`crate::calendar`]'s;
//! - [`counters`]: per-day usage counters kept with the events;
//! - the ledgers that hold "used" and "reserved" and make check-and-reserve
//!   atomic: on SQLite, which one server process owns, an in-memory ledger
//!   written through to the database (`memory`), loaded from it and verified
//!   at start; on PostgreSQL, shared by any number of server processes,
//!   [`lease`]s of headroom that each process decides against in memory,
//!   the database guarding the leased total under the organization's row
//!   lock;
//! - [`caps`]: ceilings on cost set by other modules (pause budgets), which
//!   the ledgers hold reservations against in the same step as the limits;
//! - [`users`]: per-user limits, decided in the ledgers' step beside the
//!   plan's limits;
//! - [`rate`]: per-minute rate limits (governor), per organization, key and
//!   end user;
//! - [`resources`]: standing counts (projects, documents, members).
//!
//! The types here compile everywhere (the usage panel shows them).

#[cfg(feature = "ssr")]
pub mod caps;
#[cfg(feature = "ssr")]
pub mod counters;
#[cfg(feature = "ssr")]
pub mod lease;
#[cfg(feature = "ssr")]
pub(crate) mod memory;
#[cfg(feature = "ssr")]
pub mod rate;
#[cfg(feature = "ssr")]
pub mod resources;
#[cfg(feature = "ssr")]
pub mod rules;
#[cfg(feature = "ssr")]
mod service;
#[cfg(feature = "ssr")]
pub(crate) mod store;
#[cfg(feature = "ssr")]
pub mod users;

#[cfg(feature = "ssr")]
pub use caps::{Cap, CapSpent, Covers, Standing, Subject};
#[cfg(feature = "ssr")]
pub use service::*;

use serde::{Deserialize, Serialize};

use crate::plans::{Metric, Period};

/// Amounts of the usage metrics, in [`Metric::USAGE`] order.
pub type Units = [i64; 6];

/// The position of cost (nano-USD) in [`Units`].
pub const COST: usize = 1;

/// The position of a usage metric in [`Units`].
pub fn index(metric: Metric) -> Option<usize> {
    Metric::USAGE.iter().position(|m| *m == metric)
}

/// One limit of an organization with its current use, for the usage panel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct StatusLine {
    pub metric: Metric,
    pub period: Period,
    pub limit: i64,
    pub hard: bool,
    pub used: i64,
    pub reserved: i64,
    /// Reset time as local RFC 3339 (`None` for standing counts).
    pub reset_at: Option<String>,
    /// Whether a platform admin set this limit for the organization.
    pub overridden: bool,
}

impl StatusLine {
    /// Use as a share of the limit, in per mille (1000 = 100%), capped at
    /// 10× so a bar can show overshoot without overflowing.
    pub fn per_mille(&self) -> i64 {
        let held = self.used.saturating_add(self.reserved);
        if self.limit <= 0 {
            return if held > 0 { 10_000 } else { 1000 };
        }
        ((held as i128 * 1000) / self.limit as i128).min(10_000) as i64
    }

    /// At or beyond 80%: show a warning.
    pub fn is_warning(&self) -> bool {
        self.per_mille() >= 800
    }

    /// A hard limit fully used: further reservations are refused.
    pub fn is_exhausted(&self) -> bool {
        self.hard && self.used.saturating_add(self.reserved) >= self.limit
    }
}

/// An organization's plan and how much of each limit it has used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct QuotaStatus {
    pub plan_code: String,
    pub plan_name: String,
    pub is_demo: bool,
    /// Limits with windows and standing counts (rate limits are left out).
    pub lines: Vec<StatusLine>,
}

impl QuotaStatus {
    /// The first exhausted hard limit, if any.
    pub fn exhausted(&self) -> Option<&StatusLine> {
        self.lines.iter().find(|l| l.is_exhausted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_warn_at_80_percent_and_exhaust_at_the_hard_limit() {
        let line = |used, hard| StatusLine {
            metric: Metric::Tokens,
            period: Period::Month,
            limit: 100,
            hard,
            used,
            reserved: 0,
            reset_at: None,
            overridden: false,
        };
        assert!(!line(79, true).is_warning());
        assert!(line(80, true).is_warning());
        assert!(!line(99, true).is_exhausted());
        assert!(line(100, true).is_exhausted());
        assert!(!line(150, false).is_exhausted(), "a soft limit never exhausts");
        assert_eq!(line(150, false).per_mille(), 1500);
        assert_eq!(index(Metric::CostUsd), Some(COST));
        assert_eq!(index(Metric::Projects), None);
    }
}
