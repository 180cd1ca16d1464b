//! Thin server functions: check the session and role, call one core service,
//! return a DTO. Endpoints are named so that tests and scripts can call them.

pub mod admin;
pub mod admin_dash;
pub mod alerts;
pub mod audit;
pub mod auth;
pub mod billing;
pub mod budgets;
pub mod keys;
pub mod orgs;
pub mod plans;
pub mod prices;
pub mod providers;
pub mod recommendations;
pub mod trials;
pub mod users;
pub mod usage;

use serde::{Deserialize, Serialize};
use tollbooth::accounts::UserView;
use tollbooth::orgs::{MyOrg, OrgView, Role};

/// The signed-in user and their organizations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub user: UserView,
    pub orgs: Vec<MyOrg>,
    /// The organization last worked in (falls back to the first).
    pub current_org: Option<String>,
}

/// An organization with the caller's role in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentOrg {
    pub org: OrgView,
    pub role: Role,
    /// The plan's name, for the navigation and banners.
    pub plan_name: String,
    /// On the demo plan: unlimited, usage tracked (every page says so).
    pub is_demo: bool,
    /// A payment failed: the end of the grace period (local RFC 3339), for
    /// the dunning banner.
    #[serde(default)]
    pub grace_until: Option<String>,
    /// A trial running, ending or just ended, for the trial banner.
    #[serde(default)]
    pub trial: Option<tollbooth::trials::TrialNotice>,
    /// The organization holds the sample usage of a first start (every page
    /// says so, so nobody mistakes it for real spend).
    #[serde(default)]
    pub sample_usage: bool,
}
