//! The Tollbooth server: configuration, router (pages, REST API), sessions,
//! background tasks and the admin CLI. Business rules live in the core crate.

pub mod api;
pub mod browser_guard;
pub mod cli;
pub mod client_ip;
pub mod config;
pub mod dispatch;
pub mod egress_dns;
pub mod gateway;
pub mod health;
pub mod llm_double;
pub mod local_server;
pub mod metrics;
pub mod notify;
pub mod openapi;
pub mod price_source;
pub mod provider_setup;
pub mod request_log;
pub mod seed;
pub mod server_fn_status;
pub mod session_store;
pub mod startup;
pub mod state;
pub mod static_files;
pub mod stripe_double;
pub mod tasks;
pub mod telemetry;

pub use config::Config;
pub use startup::Application;
