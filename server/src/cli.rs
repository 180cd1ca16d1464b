//! The admin CLI: `serve` (default), `migrate`, `create-admin`, `create-org`,
//! `create-key`, `create-admin-token`, `set-plan`, `audit verify`, `prices import`,
//! and the local doubles `stripe-double` and `mock-llm`.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use serde::Serialize;
use tollbooth::db::Db;
use tollbooth::orgs::{OrgScope, Role};

use crate::config::Secret;
use crate::startup::{shutdown_signal, Application};
use crate::{telemetry, Config};

#[derive(Parser, Debug)]
#[command(name = "tollbooth", version, about = "Metering, pricing, limits and billing for AI usage")]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the web server (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create a platform admin, or promote an existing user.
    CreateAdmin {
        #[arg(long)]
        email: String,
        /// Required for a new account; sets the password of an existing one.
        #[arg(long, env = "TOLLBOOTH_NEW_ADMIN_PASSWORD", hide_env_values = true)]
        password: Option<Secret>,
    },
    /// Create an API token for the platform admin REST API (`/api/admin`);
    /// the token (`tb_admin_…`) is printed once.
    CreateAdminToken {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Manage the model price book.
    Prices {
        #[command(subcommand)]
        command: PricesCommand,
    },
    /// Create an organization with an owner and a first API key.
    CreateOrg {
        #[arg(long)]
        name: String,
        #[arg(long)]
        owner_email: String,
        /// Password for the owner if the account is new (default: random, printed).
        #[arg(long, hide_env_values = true)]
        owner_password: Option<Secret>,
        /// Print the result as JSON (org id, owner login, API key).
        #[arg(long)]
        json: bool,
        /// The plan to put it on (default: Starter, as for a signup).
        #[arg(long)]
        plan: Option<String>,
    },
    /// Create an API key for an organization; the key is printed once.
    CreateKey {
        #[arg(long)]
        org: String,
        #[arg(long)]
        name: String,
        /// Comma-separated scopes: ingest, read, manage (default: all three).
        #[arg(long, default_value = "ingest,read,manage")]
        scopes: String,
        /// The key's own rate limit in requests per minute (default: the plan's only).
        #[arg(long)]
        rate_limit: Option<i64>,
        /// The models the key may call through the gateway: comma-separated
        /// glob patterns such as `gpt-4o*,claude-*` (default: every model).
        #[arg(long, default_value = "")]
        models: String,
        /// Print `{api_key_id, api_key, scopes}` as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Move an organization to another plan (a running server sees it within seconds).
    SetPlan {
        #[arg(long)]
        org: String,
        #[arg(long)]
        plan: String,
    },
    /// Run the trials' part of the billing task once (the 3-day notices and
    /// expiry) as if the time were `--at`: a simulated clock for demos and
    /// end-to-end tests (the server runs it every minute at the real time).
    TrialsRunDue {
        /// RFC 3339, e.g. 2027-01-01T00:00:00Z (default: now).
        #[arg(long)]
        at: Option<String>,
    },
    /// Run a local Stripe double (API, hosted Checkout and portal pages, signed
    /// webhooks) for development and end-to-end tests. Its hosted pages are
    /// linked at the global --public-url when given on the command line.
    StripeDouble {
        #[arg(long, default_value_t = 12111)]
        port: u16,
        /// The secret key callers must send (the app's Stripe key).
        #[arg(long, default_value = "sk_test_tollbooth_double")]
        secret_key: String,
        /// Where signed events are POSTed (none are sent without it).
        #[arg(long)]
        webhook_url: Option<String>,
        #[arg(long, default_value = "whsec_tollbooth_double")]
        webhook_secret: String,
        /// A price's unit amount, `price_id=cents` (repeatable; others cost 0).
        #[arg(long = "price")]
        prices: Vec<String>,
    },
    /// Run a local LLM upstream double (OpenAI chat, Responses, embeddings,
    /// models; Anthropic messages and token counts) with deterministic
    /// answers and usage. The flags below are defaults that `x-mock-…`
    /// request headers override.
    MockLlm {
        #[arg(long, default_value_t = 12112)]
        port: u16,
        /// The key callers must send (`Authorization: Bearer` or `x-api-key`).
        #[arg(long, default_value = "sk-mock-llm")]
        api_key: String,
        #[command(flatten)]
        switches: crate::llm_double::Switches,
    },
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Walk the hash chain: prints the entries checked and "chain intact"
    /// (exit 0) or "chain broken at entry N: reason" (exit 1).
    Verify,
}

#[derive(Subcommand, Debug)]
pub enum PricesCommand {
    /// Import a price map in LiteLLM's format (model_prices_and_context_window.json)
    /// from a file or an https:// URL. Changed prices apply from `--effective-from`
    /// (default: now); unchanged ones add nothing. Recorded and audited (`prices.import`).
    Import {
        /// A file path, or an https:// URL (LiteLLM's published map).
        file: String,
        /// RFC 3339 time the new prices apply from.
        #[arg(long)]
        effective_from: Option<String>,
    },
}

/// Output of `create-key`.
#[derive(Debug, Serialize)]
pub struct CreatedKey {
    pub api_key_id: String,
    pub api_key: String,
    pub scopes: tollbooth::api_keys::Scopes,
}

/// Output of `create-org`.
#[derive(Debug, Serialize)]
pub struct CreatedOrg {
    pub org_id: String,
    pub org_name: String,
    pub owner_email: String,
    /// Set when the owner account was created now.
    pub owner_password: Option<String>,
    pub api_key_id: String,
    pub api_key: String,
    pub login_url: String,
}

impl Cli {
    /// The configuration a command line would give for `database_url` (for tools and tests).
    pub fn parse_config_for(database_url: &str) -> Config {
        Cli::parse_from(["tollbooth", "--database-url", database_url, "--site-addr", "127.0.0.1:0", "--seed", "false", "--seed-demo-usage", "false"]).config
    }
}

/// Parses the command line and runs the command.
pub async fn main() -> ExitCode {
    let cli = Cli::parse();
    let telemetry = telemetry::init(&cli.config.log_filter, cli.config.log_format);
    let code = match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    };
    // The spans of the last requests are still buffered.
    telemetry.shutdown();
    code
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = cli.config;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => Application::build(config).await?.run_until(shutdown_signal()).await,
        Command::Migrate => {
            let db = open(&config).await?;
            db.close().await;
            println!("migrations applied");
            Ok(())
        }
        Command::CreateAdmin { email, password } => {
            let db = open(&config).await?;
            let out = tollbooth::accounts::create_admin(&db, &email, password.as_ref().map(Secret::expose)).await?;
            db.close().await;
            println!("{} platform admin {}", if out.created { "created" } else { "promoted" }, out.user.email);
            Ok(())
        }
        Command::CreateAdminToken { email, name } => {
            let db = open(&config).await?;
            let out = tollbooth::admin::create_token_for_email(&db, &email, &name).await;
            db.close().await;
            let out = out?;
            println!("{}", out.secret);
            Ok(())
        }
        Command::Audit { command: AuditCommand::Verify } => {
            let db = open(&config).await?;
            let out = tollbooth::audit::verify(&db).await;
            db.close().await;
            let (checked, broken) = out?;
            println!("{checked} entries checked");
            match broken {
                None => {
                    println!("chain intact");
                    Ok(())
                }
                Some(b) => {
                    println!("chain broken at entry {}: {}", b.seq, b.reason);
                    std::process::exit(1);
                }
            }
        }
        Command::Prices { command: PricesCommand::Import { file, effective_from } } => {
            let from = effective_from
                .map(|t| chrono_ms(&t))
                .transpose()?;
            let source = crate::price_source::PriceSource::parse(&file, config.prices_allow_http_loopback)?;
            let book = source.read().await?;
            let db = open(&config).await?;
            let by = tollbooth::audit::By::system("cli");
            let trigger = tollbooth::pricing::imports::Trigger::Cli;
            let report = tollbooth::pricing::imports::import_book(&db, &book, &source.label(), from, trigger, &by).await;
            db.close().await;
            let report = report?;
            println!(
                "{} models read from {}: {} added, {} changed, {} unchanged",
                book.len(),
                source.label(),
                report.added,
                report.changed,
                report.unchanged
            );
            Ok(())
        }
        Command::CreateKey { org, name, scopes, rate_limit, models, json } => {
            let scopes = tollbooth::api_keys::Scopes::parse(&scopes).map_err(|e| anyhow::anyhow!("--scopes: {e}"))?;
            let model_allowlist = tollbooth::api_keys::ModelAllowlist::parse(&models).map_err(|e| anyhow::anyhow!("--models: {e}"))?;
            let db = open(&config).await?;
            let new = tollbooth::api_keys::NewKey { name: &name, rate_limit_per_minute: rate_limit, scopes, model_allowlist };
            let out = tollbooth::api_keys::create_for_org(&db, &org, &new, &tollbooth::audit::By::system("cli")).await;
            db.close().await;
            let out = out?;
            let created = CreatedKey { api_key_id: out.key.id, api_key: out.secret, scopes: out.key.scopes };
            if json {
                println!("{}", serde_json::to_string_pretty(&created)?);
            } else {
                println!("API key {} ({}) with scopes {} (shown once)", created.api_key, created.api_key_id, created.scopes);
            }
            Ok(())
        }
        Command::TrialsRunDue { at } => {
            let now = match at.as_deref() {
                Some(t) => tollbooth::clock::parse_rfc3339(t).ok_or_else(|| anyhow::anyhow!("--at: {t:?} is not an RFC 3339 time"))?,
                None => tollbooth::clock::now_ms(),
            };
            let db = open(&config).await?;
            let out = tollbooth::trials::run_due(&db, now).await;
            db.close().await;
            let pass = out?;
            println!("trials at {}: {} warned, {} expired", tollbooth::clock::to_rfc3339(now), pass.warned, pass.expired);
            Ok(())
        }
        Command::SetPlan { org, plan } => {
            let db = open(&config).await?;
            let out = set_plan(&db, &org, &plan).await;
            db.close().await;
            out?;
            println!("organization {org} is on the {plan} plan");
            Ok(())
        }
        Command::StripeDouble { port, secret_key, webhook_url, webhook_secret, prices } => {
            // --public-url is the global flag; its TOLLBOOTH_PUBLIC_URL env value is the app's, not the double's.
            let public_url = config.public_url.filter(|_| std::env::args().any(|a| a.starts_with("--public-url")));
            let double = crate::stripe_double::DoubleConfig { secret_key, webhook_url, webhook_secret, public_url };
            crate::stripe_double::run_cli(double, port, &prices).await
        }
        Command::MockLlm { port, api_key, switches } => {
            crate::llm_double::run_cli(crate::llm_double::DoubleConfig { api_key, switches }, port).await
        }
        Command::CreateOrg { name, owner_email, owner_password, json, plan } => {
            let db = open(&config).await?;
            let mut out = create_org(&db, &config, &name, &owner_email, owner_password.as_ref().map(Secret::expose)).await;
            if let (Ok(org), Some(plan)) = (&out, plan) {
                if let Err(e) = set_plan(&db, &org.org_id, &plan).await {
                    out = Err(e);
                }
            }
            db.close().await;
            let out = out?;
            if json {
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                println!("organization {} ({})", out.org_name, out.org_id);
                println!("owner {}{}", out.owner_email, out.owner_password.as_ref().map(|p| format!(" / password {p}")).unwrap_or_default());
                println!("API key {} (shown once)", out.api_key);
            }
            Ok(())
        }
    }
}

async fn set_plan(db: &Db, org_id: &str, plan: &str) -> anyhow::Result<()> {
    let mut tx = db.begin().await?;
    tollbooth::plans::assign_plan(&mut tx, org_id, plan).await?;
    tx.commit().await?;
    Ok(())
}

async fn open(config: &Config) -> anyhow::Result<Db> {
    let db = Db::connect(&config.database_url).await.context("connecting to the database")?;
    db.migrate().await.context("running migrations")?;
    Ok(db)
}

/// Creates an organization, its owner (if new) and an API key named "default".
pub async fn create_org(
    db: &Db,
    config: &Config,
    name: &str,
    owner_email: &str,
    owner_password: Option<&str>,
) -> anyhow::Result<CreatedOrg> {
    let boot = tollbooth::orgs::bootstrap(db, name, owner_email, owner_password).await?;
    let scope = OrgScope { org_id: boot.org.id.clone(), user_id: boot.owner.id.clone(), role: Role::Owner };
    let new = tollbooth::api_keys::NewKey { name: "default", rate_limit_per_minute: None, scopes: tollbooth::api_keys::Scopes::ALL, model_allowlist: None };
    let key = tollbooth::api_keys::create(db, &scope, &new, &tollbooth::audit::By::system("cli")).await?;
    Ok(CreatedOrg {
        org_id: boot.org.id,
        org_name: boot.org.name,
        owner_email: boot.owner.email,
        owner_password: boot.owner_password,
        api_key_id: key.key.id,
        api_key: key.secret,
        login_url: format!("{}/login", config.public_url_for(config.site_addr)),
    })
}

fn chrono_ms(rfc3339: &str) -> anyhow::Result<i64> {
    tollbooth::clock::parse_rfc3339(rfc3339).ok_or_else(|| anyhow::anyhow!("--effective-from: {rfc3339:?} is not an RFC 3339 time"))
}
