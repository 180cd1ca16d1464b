//! Builds the application (database, router, listener) and runs it until shutdown.

use std::future::Future;
use std::net::SocketAddr;

use anyhow::Context;
use axum::routing::get;
use axum::Router;
use leptos::config::LeptosOptions;
use leptos::prelude::{provide_context, use_context};
use std::sync::Arc;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tokio::net::TcpListener;
use tollbooth::db::Db;
use tollbooth_app::ssr::AppContext;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tower_http::LatencyUnit;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};
use tracing::Level;

use crate::browser_guard::{self, BrowserGuard, CspNonce};
use crate::session_store::DbSessionStore;
use crate::state::AppState;
use crate::{api, health, seed, tasks, Config};

/// A built, bound, not yet running server.
pub struct Application {
    listener: TcpListener,
    router: Router,
    db: Db,
    notifier: crate::notify::Notifier,
    billing: tollbooth::billing::Billing,
    gateway: crate::gateway::Gateway,
    metrics_addr: Option<SocketAddr>,
    /// How long usage waits for its `usage.recorded` webhooks.
    usage_webhook_window: std::time::Duration,
    /// The scheduled price-book refresh (`TOLLBOOTH_PRICES_URL`), if configured.
    price_refresh: Option<(crate::price_source::PriceSource, std::time::Duration)>,
}

impl Application {
    /// Connects and migrates the database, seeds a first start, binds the listener.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let db = Db::connect(&config.database_url).await.context("connecting to the database")?;
        db.migrate().await.context("running migrations")?;
        tracing::info!(engine = db.engine.name(), "database ready");
        if config.seed {
            seed::first_start(&db, &config).await.context("seeding the first start")?;
        }
        // The quota ledger trusts the usage counters: check them against the
        // events of the current month before serving.
        let fixed = tollbooth::quota::verify_counters(&db).await.context("verifying usage counters")?;
        if fixed > 0 {
            tracing::warn!(organizations = fixed, "usage counters rebuilt from events");
        }
        let listener = TcpListener::bind(config.site_addr)
            .await
            .with_context(|| format!("binding {}", config.site_addr))?;
        let addr = listener.local_addr()?;
        let billing = billing_from(&config)?;
        let trusted = crate::client_ip::TrustedProxies::parse(&config.trusted_proxies)
            .map_err(|e| anyhow::anyhow!("TOLLBOOTH_TRUSTED_PROXIES: {e}"))?;
        if config.signups_per_ip_per_hour < 0 {
            anyhow::bail!("TOLLBOOTH_SIGNUPS_PER_IP_PER_HOUR must not be negative");
        }
        if !billing.configured() {
            tracing::info!("STRIPE_SECRET_KEY not set: payments are not configured (platform admins change plans by hand)");
        }
        let providers = crate::provider_setup::from_config(&config, &db).await?;
        let gateway = crate::gateway::Gateway::new(config.upstream_egress(), std::time::Duration::from_secs(config.gateway_timeout_secs.max(1)))
            .context("building the gateway's HTTP client")?;
        let upstream_keys = providers.defaults.openai.api_key.is_some() || providers.defaults.anthropic.api_key.is_some();
        if upstream_keys || tollbooth::providers::connections_stored(&db).await? > 0 {
            gateway.warm_tokenizers();
        }
        let router = router(db.clone(), &config, addr, billing.clone(), trusted, providers, gateway.clone());
        let notifier = crate::notify::Notifier::from_config(&config)?;
        if !notifier.smtp_configured() {
            tracing::info!("SMTP_URL not set: alert mail is kept in the outbox (Admin → Outbox)");
        }
        let price_refresh = price_refresh_from(&config)?;
        Ok(Application { listener, router, db, notifier, billing, gateway, metrics_addr: config.metrics_addr, usage_webhook_window: std::time::Duration::from_secs(config.usage_webhook_seconds), price_refresh })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound listener has an address")
    }

    /// The database handle.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Serves until `shutdown` completes, then drains requests, stops the
    /// background tasks and closes the database.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let background = tasks::spawn(self.db.clone(), self.notifier.clone(), self.billing.clone(), self.usage_webhook_window, stop_rx.clone());
        if let Some(addr) = self.metrics_addr {
            let listener = TcpListener::bind(addr).await.with_context(|| format!("binding TOLLBOOTH_METRICS_ADDR {addr}"))?;
            tracing::info!(%addr, "metrics listening");
            let mut stop = stop_rx.clone();
            let routes = crate::metrics::listener_routes(self.db.clone());
            tokio::spawn(async move {
                let stopped = async move {
                    let _ = stop.wait_for(|s| *s).await;
                };
                if let Err(e) = axum::serve(listener, routes).with_graceful_shutdown(stopped).await {
                    tracing::error!(error = ?e, "the metrics listener stopped");
                }
            });
        }
        let refresh = self.price_refresh.clone().map(|(source, every)| {
            tracing::info!(source = %source.label(), hours = every.as_secs() / 3600, "scheduled price-book refresh on");
            tasks::spawn_price_refresh(self.db.clone(), source, every, stop_rx)
        });
        tracing::info!(addr = %self.local_addr(), "listening");
        // No Nagle delay: gateway streams are flushed frame by frame.
        let listener = axum::serve::ListenerExt::tap_io(self.listener, |tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "TCP_NODELAY not set");
            }
        });
        axum::serve(listener, self.router.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(shutdown)
            .await
            .context("serving")?;
        // Calls already answered still have their events to store.
        self.gateway.drain().await;
        let _ = stop_tx.send(true);
        let _ = background.await;
        if let Some(r) = refresh {
            let _ = r.await;
        }
        self.db.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// The scheduled price-book refresh from `TOLLBOOTH_PRICES_URL` (an
/// https:// URL; a file path or a bad URL stops the start, naming it) every
/// `TOLLBOOTH_PRICES_REFRESH_HOURS` (at least 1); `None` when unset.
fn price_refresh_from(config: &Config) -> anyhow::Result<Option<(crate::price_source::PriceSource, std::time::Duration)>> {
    let Some(url) = config.prices_url.as_deref().map(str::trim).filter(|u| !u.is_empty()) else { return Ok(None) };
    let source = crate::price_source::PriceSource::parse(url, config.prices_allow_http_loopback).context("TOLLBOOTH_PRICES_URL")?;
    if matches!(source, crate::price_source::PriceSource::File(_)) {
        anyhow::bail!("TOLLBOOTH_PRICES_URL: {url} is not an https:// URL");
    }
    if config.prices_refresh_hours == 0 {
        anyhow::bail!("TOLLBOOTH_PRICES_REFRESH_HOURS: must be at least 1");
    }
    Ok(Some((source, std::time::Duration::from_secs(config.prices_refresh_hours * 3600))))
}

/// The whole HTTP surface: probes, REST API, pages and server functions, static files.
/// Billing's settings and Stripe client from the configuration.
fn billing_from(config: &Config) -> anyhow::Result<tollbooth::billing::Billing> {
    use tollbooth::billing::service::parse_price_map;
    let stripe = match &config.stripe_secret_key {
        Some(key) => Some(
            tollbooth::billing::stripe::Stripe::new(key.expose(), &config.stripe_api_base)
                .map_err(|e| anyhow::anyhow!("STRIPE_SECRET_KEY / STRIPE_API_BASE: {e}"))?,
        ),
        None => None,
    };
    // parse_usd reads a sign: a negative floor lets credit run into debt.
    let floor = tollbooth::pricing::NanoUsd::parse_usd(&config.credit_floor_usd)
        .map_err(|e| anyhow::anyhow!("TOLLBOOTH_CREDIT_FLOOR_USD: {e}"))?
        .nanos();
    if config.billing_grace_days < 0 {
        anyhow::bail!("TOLLBOOTH_BILLING_GRACE_DAYS must not be negative");
    }
    let settings = tollbooth::billing::Settings {
        plan_prices: parse_price_map("STRIPE_PLAN_PRICES", &config.stripe_plan_prices).map_err(|e| anyhow::anyhow!("{e}"))?,
        pack_prices: parse_price_map("STRIPE_CREDIT_PACK_PRICES", &config.stripe_credit_pack_prices).map_err(|e| anyhow::anyhow!("{e}"))?,
        credit_floor_nanos: floor,
        grace_days: config.billing_grace_days,
    };
    Ok(tollbooth::billing::Billing::new(stripe, config.stripe_webhook_secret.as_ref().map(|s| s.expose().to_string()), settings))
}

fn router(
    db: Db,
    config: &Config,
    addr: SocketAddr,
    billing: tollbooth::billing::Billing,
    trusted: crate::client_ip::TrustedProxies,
    providers: tollbooth::providers::ProviderSettings,
    gateway: crate::gateway::Gateway,
) -> Router {
    let site_root = std::path::Path::new(&config.site_root);
    let hash_file = crate::static_files::hash_file(site_root);
    let leptos_options = LeptosOptions::builder()
        .output_name("tollbooth")
        .site_root(config.site_root.clone())
        .site_pkg_dir("pkg")
        .site_addr(addr)
        // Pages name the content-hashed bundle when the build wrote a hash file.
        .hash_files(hash_file.is_some())
        .hash_file(hash_file.map_or_else(|| "hash.txt".into(), |p| p.display().to_string().into()))
        .build();
    let ctx = AppContext {
        db: db.clone(),
        public_url: config.public_url_for(addr),
        billing,
        signups_per_ip_per_hour: config.signups_per_ip_per_hour,
        egress: config.egress(),
        providers,
    };
    let metrics_token = config.metrics_token.as_ref().map(|t| t.expose().to_string());
    let state = AppState { db: db.clone(), leptos_options, ctx: ctx.clone(), gateway, metrics_token };

    let sessions = SessionManagerLayer::new(DbSessionStore::new(db))
        .with_name("tollbooth_session")
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(config.secure_cookies())
        .with_expiry(Expiry::OnInactivity(time::Duration::days(7)));

    // The page's hydration script carries the response's CSP nonce
    // (browser_guard puts it in the request; leptos renders it).
    let context = move || {
        provide_context(ctx.clone());
        let nonce = use_context::<http::request::Parts>().and_then(|p| p.extensions.get::<CspNonce>().cloned());
        if let Some(CspNonce(n)) = nonce {
            provide_context(leptos::nonce::Nonce::from_value(n));
        }
    };
    // Looked up once, not per request.
    let metrics = state.db.metrics();
    let guard = Arc::new(BrowserGuard::new(&config.public_url_for(addr), config.public_url.is_some()));
    let routes = generate_route_list(tollbooth_app::App);
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(crate::metrics::scrape))
        .route("/api/openapi.json", get(crate::openapi::spec))
        .route("/api/docs", get(crate::openapi::docs))
        .nest("/api/v1", api::router())
        .nest("/api/admin", api::admin::router())
        .merge(crate::gateway::routes())
        .route("/o/{org}/usage.csv", get(api::export::browser_csv))
        .route("/o/{org}/audit.csv", get(api::audit::org_csv))
        .route("/admin/audit.csv", get(api::audit::admin_csv))
        .route("/o/{org}/invoices/{id}/csv", get(api::billing::browser_invoice_csv))
        .route("/alerts/confirm/{token}", get(api::alerts::confirm_recipient))
        .route("/embed/usage", get(api::embed::meter_page))
        .route(
            "/webhooks/stripe",
            axum::routing::post(api::billing::stripe_webhook).layer(axum::extract::DefaultBodyLimit::max(api::billing::STRIPE_WEBHOOK_MAX_BODY)),
        )
        .leptos_routes_with_context(&state, routes, context.clone(), {
            let options = state.leptos_options.clone();
            move || tollbooth_app::shell(options.clone())
        })
        .merge(crate::static_files::routes(site_root))
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(context, tollbooth_app::shell))
        .layer(axum::middleware::map_response(crate::server_fn_status::fix_status))
        .route_layer(axum::middleware::from_fn_with_state(metrics, crate::metrics::track))
        .layer(sessions)
        .layer(axum::middleware::from_fn_with_state(guard, browser_guard::guard))
        .layer(axum::middleware::from_fn_with_state(std::sync::Arc::new(trusted), crate::client_ip::resolve))
        .layer(
            TraceLayer::new_for_http()
                // The URI with invite tokens redacted (see request_log).
                .make_span_with(crate::request_log::make_span)
                .on_request(())
                .on_response(DefaultOnResponse::new().level(Level::INFO).latency_unit(LatencyUnit::Millis)),
        )
        // Outermost: the id exists before the request's span is made.
        .layer(axum::middleware::from_fn(crate::request_log::assign_request_id))
        .with_state(state)
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received; draining");
}
