//! Background tasks: periodic clean-up. Each stops when the shutdown flag flips.

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tollbooth::db::Db;

/// How often expired sessions and stale login failures are pruned.
pub const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Starts the background tasks; the handle completes after `stop` turns true.
pub fn spawn(db: Db, mut stop: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PRUNE_EVERY);
        loop {
            tokio::select! {
                _ = tick.tick() => prune(&db).await,
                _ = stop.changed() => break,
            }
        }
    })
}

async fn prune(db: &Db) {
    match tollbooth::sessions::delete_expired(db).await {
        Ok(n) if n > 0 => tracing::info!(deleted = n, "pruned expired sessions"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = ?e, "pruning sessions failed"),
    }
    if let Err(e) = tollbooth::accounts::throttle::prune(db).await {
        tracing::warn!(error = ?e, "pruning login failures failed");
    }
}
