//! The gateway's upstream settings, built once at start from the
//! configuration: the box encrypting provider keys, the server-wide default
//! upstreams, and where connections may point. A start with a bad key, or
//! with stored connections this server cannot decrypt, stops here with a
//! message naming `TOLLBOOTH_SECRET_KEY`.

use tollbooth::db::Db;
use tollbooth::providers::secret_box::{self, is_readable_by_others, KeySource};
use tollbooth::providers::{check_secret_box, Defaults, ProviderSettings};

use crate::Config;

/// Reads and checks the provider settings of `config` against `db`.
pub async fn from_config(config: &Config, db: &Db) -> anyhow::Result<ProviderSettings> {
    let key = config.encryption_key.as_ref().map(|s| s.expose());
    let (secrets, source) = secret_box::from_config(&config.database_url, key).map_err(|e| anyhow::anyhow!("{e}"))?;
    match &source {
        KeySource::Environment => {}
        KeySource::FileCreated(path) => tracing::info!(
            path = %path.display(),
            "created the key file encrypting provider API keys (mode 0600); back it up with the database, or set TOLLBOOTH_SECRET_KEY"
        ),
        KeySource::File(path) if is_readable_by_others(path) => {
            tracing::warn!(path = %path.display(), "the provider key file is readable by other users; chmod 600 it")
        }
        KeySource::File(_) => {}
        KeySource::Unavailable => {
            tracing::info!("TOLLBOOTH_SECRET_KEY not set: organizations cannot save provider connections (PostgreSQL has no key file)")
        }
    }
    check_secret_box(db, &secrets).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let defaults = Defaults::new(
        &config.openai_base_url,
        config.openai_api_key.as_ref().map(|s| s.expose()),
        &config.anthropic_base_url,
        config.anthropic_api_key.as_ref().map(|s| s.expose()),
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(ProviderSettings { secrets, defaults, egress: config.upstream_egress() })
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use crate::cli::{Cli, Command};

    #[test]
    fn the_key_setting_parses_beside_every_subcommand() {
        Cli::command().debug_assert();
        let serve = Cli::try_parse_from(["tollbooth", "serve", "--encryption-key", "00"]).unwrap();
        assert_eq!(serve.config.encryption_key.as_ref().map(|k| k.expose()), Some("00"));
        let double = Cli::try_parse_from(["tollbooth", "stripe-double", "--secret-key", "sk_test_x"]).unwrap();
        assert!(matches!(double.command, Some(Command::StripeDouble { ref secret_key, .. }) if secret_key == "sk_test_x"));
    }
}
