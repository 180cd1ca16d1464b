//! HTTP integration tests: the real router on port 0 with a fresh database,
//! on SQLite and on PostgreSQL.

mod account_security;
mod account_sessions;
mod admin;
mod alert_pages;
mod alerts;
mod audit_events;
mod billing;
mod budgets;
mod cross_tenant;
mod embed;
mod events;
mod first_start;
mod gateway;
mod gateway_policies;
mod gateway_sdk;
mod helpers;
mod llm_double;
mod llm_double_sdk;
mod me;
mod metrics;
mod openapi;
mod otel;
mod outbound;
mod pages;
mod pricing;
mod providers;
mod quota;
mod recommendations;
mod security;
mod sessions;
mod static_files;
mod stripe_double;
mod suspension;
mod trials;
mod webhooks;
