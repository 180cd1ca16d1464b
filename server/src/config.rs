//! Typed configuration, read once from flags or the environment (every
//! variable is documented in the README with its default).

use std::net::SocketAddr;
use std::str::FromStr;

use clap::{Args, ValueEnum};

/// A secret value: usable, but never printed by `Debug`.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_string()))
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Server configuration.
#[derive(Args, Clone, Debug)]
pub struct Config {
    /// Database: `sqlite://path/file.db` (created on first start) or `postgres://…`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://data/tollbooth.db", global = true)]
    pub database_url: String,

    /// Address the web server listens on.
    #[arg(long, env = "LEPTOS_SITE_ADDR", default_value = "127.0.0.1:3000", global = true)]
    pub site_addr: SocketAddr,

    /// Directory holding the built site (`pkg/` with the wasm bundle and CSS, plus public files).
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site", global = true)]
    pub site_root: String,

    /// URL users reach the server at (links in invites; `https://` turns on Secure cookies).
    /// Default: `http://<site addr>`.
    #[arg(long, env = "TOLLBOOTH_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,

    /// Log filter, in `tracing` syntax (e.g. `info`, `tollbooth=debug,info`).
    #[arg(long = "log", env = "RUST_LOG", default_value = "info", global = true)]
    pub log_filter: String,

    /// SMTP server for alert mail: `smtp://host:25`, `smtp://user:pass@host:587?tls=required`
    /// or `smtps://host:465`. Unset: alert mail is kept in the outbox, readable by platform admins.
    #[arg(long, env = "SMTP_URL", hide_env_values = true, global = true)]
    pub smtp_url: Option<Secret>,

    /// Sender of alert mail.
    #[arg(long, env = "SMTP_FROM", default_value = "Tollbooth <alerts@tollbooth.local>", global = true)]
    pub smtp_from: String,

    /// Stripe secret API key (`sk_live_…`/`sk_test_…`). Unset: payments are not configured;
    /// the billing page says so and platform admins change plans by hand.
    #[arg(long, env = "STRIPE_SECRET_KEY", hide_env_values = true, global = true)]
    pub stripe_secret_key: Option<Secret>,

    /// Signing secret of the Stripe webhook endpoint `/webhooks/stripe` (`whsec_…`).
    #[arg(long, env = "STRIPE_WEBHOOK_SECRET", hide_env_values = true, global = true)]
    pub stripe_webhook_secret: Option<Secret>,

    /// Base URL of Stripe's API (tests and local demos point it at the Stripe double).
    #[arg(long, env = "STRIPE_API_BASE", default_value = "https://api.stripe.com", global = true)]
    pub stripe_api_base: String,

    /// Stripe Price per paid plan, overriding the plan editor's: `pro=price_…,team=price_…`.
    #[arg(long, env = "STRIPE_PLAN_PRICES", default_value = "", global = true)]
    pub stripe_plan_prices: String,

    /// Stripe Price per credit pack, overriding the admin's: `credits-10=price_…,credits-50=price_…`.
    #[arg(long, env = "STRIPE_CREDIT_PACK_PRICES", default_value = "", global = true)]
    pub stripe_credit_pack_prices: String,

    /// Prepaid credits never go below this balance (USD; 0 means they cannot go negative).
    #[arg(long, env = "TOLLBOOTH_CREDIT_FLOOR_USD", default_value = "0", global = true)]
    pub credit_floor_usd: String,

    /// Days after a failed payment before the organization drops to Starter.
    #[arg(long, env = "TOLLBOOTH_BILLING_GRACE_DAYS", default_value_t = 7, global = true)]
    pub billing_grace_days: i64,

    /// Log format.
    #[arg(long, env = "TOLLBOOTH_LOG_FORMAT", value_enum, default_value = "text", global = true)]
    pub log_format: LogFormat,

    /// E-mail of the platform admin created on first start.
    #[arg(long, env = "TOLLBOOTH_ADMIN_EMAIL", default_value = "admin@tollbooth.local", global = true)]
    pub admin_email: String,

    /// Password of that admin (default: random, printed once to the log).
    #[arg(long, env = "TOLLBOOTH_ADMIN_PASSWORD", hide_env_values = true, global = true)]
    pub admin_password: Option<Secret>,

    /// Password of the demo user `demo@tollbooth.local` (default: random, printed once).
    #[arg(long, env = "TOLLBOOTH_DEMO_PASSWORD", hide_env_values = true, global = true)]
    pub demo_password: Option<Secret>,

    /// Reverse proxies whose `X-Forwarded-For` is believed: comma-separated IP
    /// addresses or CIDR ranges (`10.0.0.1,10.1.0.0/16`). Empty: the TCP peer
    /// is the client and `X-Forwarded-For` is ignored.
    #[arg(long, env = "TOLLBOOTH_TRUSTED_PROXIES", default_value = "", global = true)]
    pub trusted_proxies: String,

    /// Signups allowed per client IP and hour, successful or not (0: no limit).
    #[arg(long, env = "TOLLBOOTH_SIGNUPS_PER_IP_PER_HOUR", default_value_t = tollbooth::accounts::throttle::SIGNUPS_PER_IP_PER_HOUR, global = true)]
    pub signups_per_ip_per_hour: i64,
    /// Let outgoing webhooks reach loopback, private, link-local and other
    /// non-public addresses. Off by default (they could reach the operator's
    /// own network); for local development and tests with receivers on 127.0.0.1.
    #[arg(long, env = "TOLLBOOTH_WEBHOOK_ALLOW_PRIVATE", default_value_t = false, action = clap::ArgAction::Set, global = true)]
    pub webhook_allow_private: bool,

    /// Seconds usage waits before its `usage.recorded` webhooks go out: an
    /// endpoint gets at most one batch of usage this often (in deliveries of
    /// at most 1,000 events), unless more is waiting than one round takes.
    #[arg(long, env = "TOLLBOOTH_USAGE_WEBHOOK_SECONDS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=3600), global = true)]
    pub usage_webhook_seconds: u64,

    /// The gateway's default OpenAI upstream (organizations may bring their own key instead).
    #[arg(long, env = "TOLLBOOTH_OPENAI_BASE_URL", default_value = tollbooth::providers::OPENAI_BASE_URL, global = true)]
    pub openai_base_url: String,

    /// The operator's OpenAI API key. Unset: OpenAI calls need the organization's own connection.
    #[arg(long, env = "TOLLBOOTH_OPENAI_API_KEY", hide_env_values = true, global = true)]
    pub openai_api_key: Option<Secret>,

    /// The gateway's default Anthropic upstream.
    #[arg(long, env = "TOLLBOOTH_ANTHROPIC_BASE_URL", default_value = tollbooth::providers::ANTHROPIC_BASE_URL, global = true)]
    pub anthropic_base_url: String,

    /// The operator's Anthropic API key. Unset: Anthropic calls need the organization's own connection.
    #[arg(long, env = "TOLLBOOTH_ANTHROPIC_API_KEY", hide_env_values = true, global = true)]
    pub anthropic_api_key: Option<Secret>,

    /// Key encrypting provider API keys at rest: 32 bytes as 64 hex characters or base64.
    /// Unset: on SQLite a key file `tollbooth.secret` (mode 0600) is created beside the
    /// database; on PostgreSQL provider connections cannot be saved. (Not `secret_key`:
    /// the stripe-double subcommand has a `--secret-key` of its own.)
    #[arg(long, env = "TOLLBOOTH_SECRET_KEY", hide_env_values = true, global = true)]
    pub encryption_key: Option<Secret>,

    /// Let provider connections point at loopback, private, link-local and other
    /// non-public addresses (a vLLM server on the LAN; tests with an upstream on 127.0.0.1).
    #[arg(long, env = "TOLLBOOTH_UPSTREAM_ALLOW_PRIVATE", default_value_t = false, action = clap::ArgAction::Set, global = true)]
    pub upstream_allow_private: bool,

    /// The longest a gateway call may take, from forwarding to the end of its
    /// answer (streams included). A client that disconnects mid-stream does
    /// not end it: the gateway reads on (within this bound) to record the
    /// provider's usage. Past it: 504 before the answer, a cut stream after.
    #[arg(long, env = "TOLLBOOTH_GATEWAY_TIMEOUT_SECS", default_value_t = 600, global = true)]
    pub gateway_timeout_secs: u64,

    /// Serve `GET /metrics` (Prometheus text) on a listener of its own at this
    /// address (e.g. `127.0.0.1:9100`), without a token. Unset: no listener.
    #[arg(long, env = "TOLLBOOTH_METRICS_ADDR", global = true)]
    pub metrics_addr: Option<SocketAddr>,

    /// Serve `GET /metrics` on the main address to a scraper that sends
    /// `Authorization: Bearer <token>`. Unset: `/metrics` is 404 there.
    #[arg(long, env = "TOLLBOOTH_METRICS_TOKEN", hide_env_values = true, global = true)]
    pub metrics_token: Option<Secret>,

    /// Where the scheduled price-book refresh downloads LiteLLM's price map
    /// (`https://…`). Unset (the default): no scheduled refresh.
    #[arg(long, env = "TOLLBOOTH_PRICES_URL", global = true)]
    pub prices_url: Option<String>,

    /// Hours between scheduled price-book refreshes (with `TOLLBOOTH_PRICES_URL`).
    #[arg(long, env = "TOLLBOOTH_PRICES_REFRESH_HOURS", default_value_t = 24, global = true)]
    pub prices_refresh_hours: u64,

    /// Let price maps be fetched over plain http:// from a loopback address
    /// (tests, a local mirror). Off: https:// only.
    #[arg(long, env = "TOLLBOOTH_PRICES_ALLOW_HTTP_LOOPBACK", default_value_t = false, action = clap::ArgAction::Set, global = true)]
    pub prices_allow_http_loopback: bool,

    /// Create the platform admin and the demo organization when the database is empty.
    #[arg(long, env = "TOLLBOOTH_SEED", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub seed: bool,

    /// On that first start, give the demo organization 30 days of sample
    /// usage (marked as such on its pages) and a budget near its threshold.
    #[arg(long, env = "TOLLBOOTH_SEED_DEMO_USAGE", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub seed_demo_usage: bool,
}

impl Config {
    /// The public base URL, given the address actually bound.
    pub fn public_url_for(&self, bound: SocketAddr) -> String {
        self.public_url.clone().unwrap_or_else(|| format!("http://{bound}")).trim_end_matches('/').to_string()
    }

    /// Where outgoing webhooks may point.
    pub fn egress(&self) -> tollbooth::egress::EgressPolicy {
        tollbooth::egress::EgressPolicy::with_private(self.webhook_allow_private)
    }

    /// Where provider connections may point.
    pub fn upstream_egress(&self) -> tollbooth::egress::EgressPolicy {
        tollbooth::egress::EgressPolicy::with_private(self.upstream_allow_private)
    }

    /// Cookies get the Secure flag when the public URL is https.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.as_deref().is_some_and(|u| u.starts_with("https://"))
    }
}
