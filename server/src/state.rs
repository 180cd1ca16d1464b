//! What every handler shares: the database, Leptos' options and the app
//! context. Its own module so that the handlers (`api/`, `health`) and the
//! router that mounts them (`startup`) both depend on it, not on each other.

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use tollbooth::db::Db;
use tollbooth_app::ssr::AppContext;

/// Shared state of every handler.
#[derive(Clone, Debug)]
pub struct AppState {
    pub db: Db,
    pub leptos_options: LeptosOptions,
    pub ctx: AppContext,
    /// The metering gateway's HTTP clients and bound.
    pub gateway: crate::gateway::Gateway,
    /// `TOLLBOOTH_METRICS_TOKEN`: `/metrics` on the main address needs it.
    pub metrics_token: Option<String>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(s: &AppState) -> Self {
        s.leptos_options.clone()
    }
}
