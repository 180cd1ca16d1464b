//! Tollbooth core: the domain types, rules and services behind the app.
//!
//! Everything here is independent of HTTP and of the UI framework. The shared
//! types (roles, views returned to the UI) compile everywhere, including wasm;
//! storage and services sit behind the `ssr` feature.

pub mod accounts;
pub mod admin;
#[cfg(feature = "ssr")]
pub mod admission;
pub mod alerts;
pub mod api_keys;
pub mod audit;
pub mod billing;
pub mod budgets;
pub mod embed;
pub mod end_users;
pub mod error;
pub mod metering;
pub mod orgs;
pub mod plans;
pub mod pricing;
pub mod projects;
pub mod providers;
pub mod quota;
pub mod recommendations;
pub mod trials;

#[cfg(feature = "ssr")]
pub mod openapi;

#[cfg(feature = "ssr")]
pub mod calendar;
#[cfg(feature = "ssr")]
pub mod clock;
#[cfg(feature = "ssr")]
pub mod date_range;
#[cfg(feature = "ssr")]
pub mod db;
#[cfg(feature = "ssr")]
pub mod egress;
#[cfg(feature = "ssr")]
pub mod expiring;
#[cfg(feature = "ssr")]
pub mod gateway;
#[cfg(feature = "ssr")]
pub mod ids;
#[cfg(feature = "ssr")]
pub mod ingest;
#[cfg(feature = "ssr")]
pub mod metrics;
#[cfg(feature = "ssr")]
pub mod sample;
#[cfg(feature = "ssr")]
pub mod secrets;
#[cfg(feature = "ssr")]
pub mod sessions;
#[cfg(feature = "ssr")]
pub mod signature;
#[cfg(feature = "ssr")]
pub mod spreadsheet;
#[cfg(feature = "ssr")]
pub mod testing;

pub use error::{Error, Result};
