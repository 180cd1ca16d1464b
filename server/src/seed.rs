//! First start: a platform admin and a demo organization, so a new user can
//! sign in at once. Credentials come from the environment or are generated
//! and printed once to the log. The demo organization gets 30 days of sample
//! usage ([`tollbooth::sample`]) unless `TOLLBOOTH_SEED_DEMO_USAGE=false`;
//! it is created with the organization, so a restart never adds more.

use tollbooth::accounts;
use tollbooth::db::Db;
use tollbooth::orgs;
use tollbooth::pricing::{self, PriceBook};

use crate::Config;

/// The demo user's e-mail.
pub const DEMO_EMAIL: &str = "demo@tollbooth.local";
/// The demo organization's name.
pub const DEMO_ORG: &str = "Demo Organization";

/// Seeds an empty database: the shipped price catalog (effective from the
/// epoch, so that any past event has a price), then the admin and demo
/// accounts. Each part runs only when its tables are empty.
pub async fn first_start(db: &Db, config: &Config) -> tollbooth::Result<()> {
    if pricing::store::is_empty(db).await? {
        let book = PriceBook::default_catalog()?;
        let by = tollbooth::audit::By::system("first start");
        let report = pricing::imports::import_book(db, &book, "catalog", Some(0), pricing::imports::Trigger::FirstStart, &by).await?;
        tracing::info!(models = report.added, "loaded the default price catalog (LiteLLM model price map)");
    }
    if !accounts::is_empty(db).await? {
        return Ok(());
    }
    let admin_password = config
        .admin_password
        .as_ref()
        .map(|s| s.expose().to_string())
        .unwrap_or_else(|| tollbooth::secrets::random_hex(10));
    let admin = accounts::create_admin(db, &config.admin_email, Some(&admin_password)).await?;
    let demo_password = config.demo_password.as_ref().map(|s| s.expose().to_string());
    let demo = orgs::bootstrap(db, DEMO_ORG, DEMO_EMAIL, demo_password.as_deref()).await?;
    let mut tx = db.begin().await?;
    tollbooth::plans::assign_plan(&mut tx, &demo.org.id, tollbooth::plans::DEMO_PLAN).await?;
    tx.commit().await?;
    if config.seed_demo_usage {
        let started = std::time::Instant::now();
        let by = tollbooth::audit::By::system("first start");
        // Sample data is a courtesy: failing to record it must not stop the server.
        match tollbooth::sample::record_sample_usage(db, &demo.org.id, tollbooth::clock::now_ms(), &by).await {
            Ok(seeded) => tracing::info!(
                events = seeded.events,
                cost_usd = %seeded.cost.to_short_usd_string(),
                ms = started.elapsed().as_millis() as u64,
                "gave the demo organization 30 days of sample usage (TOLLBOOTH_SEED_DEMO_USAGE=false skips it)"
            ),
            Err(e) => tracing::warn!(error = %e, "could not record the demo organization's sample usage"),
        }
    }
    let demo_password = demo.owner_password.clone().unwrap_or_default();
    tracing::warn!(
        "first start: platform admin {} / password {}; demo user {} / password {} (shown once; change them)",
        admin.user.email,
        if config.admin_password.is_some() { "(from TOLLBOOTH_ADMIN_PASSWORD)" } else { &admin_password },
        DEMO_EMAIL,
        if config.demo_password.is_some() { "(from TOLLBOOTH_DEMO_PASSWORD)" } else { &demo_password },
    );
    Ok(())
}
