//! Background tasks: periodic clean-up, billing, and (in a task of its own,
//! [`crate::dispatch`]) delivery of the notifications outbox, so a slow
//! webhook endpoint never delays these jobs. Each stops when the shutdown
//! flag flips.

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tollbooth::billing::Billing;
use tollbooth::db::Db;

use crate::notify::Notifier;

/// How often expired sessions, stale login failures and week-old settled
/// usage webhooks are pruned.
pub const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// How often expired reservations are marked (they stop counting at expiry
/// whatever this does; marking keeps their state readable and the index small).
pub const EXPIRE_EVERY: Duration = Duration::from_secs(5);

/// How often billing periods are closed, lines sent to Stripe, grace
/// periods enforced and expired credit written off.
pub const BILLING_EVERY: Duration = Duration::from_secs(60);

/// How often raw events past their plan's retention move to the archive.
pub const ARCHIVE_EVERY: Duration = Duration::from_secs(3600);

/// How often ended minutes of counted limit refusals go to the audit log.
pub const REFUSALS_EVERY: Duration = Duration::from_secs(10);

/// How often backfilled events are folded into the rollups when none wait
/// (while some do, rounds follow each other).
pub const FOLD_EVERY: Duration = Duration::from_secs(1);

/// Backfilled events folded per transaction.
const FOLD_BATCH: i64 = 5_000;

/// A pause in ingest this long lets a fold round run at once…
const FOLD_QUIET_MS: i64 = 200;

/// …and without one, a round runs this often (a steady stream of backfilled
/// events is still folded, at a pace that leaves the writer to ingest).
const FOLD_BUSY_EVERY: Duration = Duration::from_secs(2);

/// Starts the background tasks; the handle completes after `stop` turns true
/// and the jobs, the delivery task and the rollup fold have stopped.
pub fn spawn(db: Db, notifier: Notifier, billing: Billing, usage_window: Duration, stop: watch::Receiver<bool>) -> JoinHandle<()> {
    let delivery = crate::dispatch::spawn(db.clone(), notifier, usage_window, stop.clone());
    let fold = spawn_fold(db.clone(), stop.clone());
    let jobs = spawn_jobs(db, billing, stop);
    tokio::spawn(async move {
        let _ = jobs.await;
        let _ = delivery.await;
        let _ = fold.await;
    })
}

/// Folds backfilled events into the rollups (see
/// `tollbooth::metering::analytics::pending`), in its own task so that a
/// large import's backlog never delays the other jobs. Safe in every process:
/// each round takes its events with `SKIP LOCKED` on PostgreSQL (SQLite has
/// one writer).
fn spawn_fold(db: Db, mut stop: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut last_round = tokio::time::Instant::now();
        loop {
            // While batches keep coming, the single writer is theirs: a
            // round waits for a pause in ingest, or runs every FOLD_BUSY_EVERY.
            let busy = tollbooth::metering::analytics::pending::quiet_ms(&db, tollbooth::clock::now_ms()) < FOLD_QUIET_MS;
            if busy && last_round.elapsed() < FOLD_BUSY_EVERY {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(FOLD_QUIET_MS as u64 / 2)) => continue,
                    _ = stop.changed() => break,
                }
            }
            last_round = tokio::time::Instant::now();
            let folded = match tollbooth::metering::analytics::pending::fold(&db, FOLD_BATCH).await {
                Ok(n) => n as i64,
                Err(e) => {
                    tracing::warn!(error = ?e, "folding backfilled events into the rollups failed; retried");
                    0
                }
            };
            db.metrics().task_ran("rollup_fold", tollbooth::clock::now_ms(), FOLD_EVERY.as_millis() as i64);
            if folded == FOLD_BATCH {
                tokio::task::yield_now().await;
                if *stop.borrow() {
                    break;
                }
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep(FOLD_EVERY) => {}
                _ = stop.changed() => break,
            }
        }
    })
}

fn spawn_jobs(db: Db, billing: Billing, mut stop: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut prune_tick = tokio::time::interval(PRUNE_EVERY);
        let mut expire_tick = tokio::time::interval(EXPIRE_EVERY);
        let mut billing_tick = tokio::time::interval(BILLING_EVERY);
        let mut archive_tick = tokio::time::interval(ARCHIVE_EVERY);
        let mut refusals_tick = tokio::time::interval(REFUSALS_EVERY);
        archive_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        billing_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = prune_tick.tick() => ran(&db, "prune", PRUNE_EVERY, prune(&db)).await,
                _ = expire_tick.tick() => ran(&db, "expire_reservations", EXPIRE_EVERY, expire(&db)).await,
                _ = billing_tick.tick() => ran(&db, "billing", BILLING_EVERY, bill(&db, &billing)).await,
                _ = archive_tick.tick() => ran(&db, "archive", ARCHIVE_EVERY, archive(&db)).await,
                _ = refusals_tick.tick() => ran(&db, "refusals", REFUSALS_EVERY, refusals(&db, false)).await,
                _ = stop.changed() => break,
            }
        }
        // What the last minutes counted, before the process goes.
        refusals(&db, true).await;
    })
}

/// Runs one round of a task and notes when it finished (the operator's
/// task lag: a round that stalls shows as a growing lag).
pub async fn ran(db: &Db, task: &'static str, every: Duration, round: impl std::future::Future<Output = ()>) {
    round.await;
    db.metrics().task_ran(task, tollbooth::clock::now_ms(), every.as_millis() as i64);
}

async fn bill(db: &Db, billing: &Billing) {
    if let Err(e) = tollbooth::billing::service::run_due(db, billing, tollbooth::clock::now_ms()).await {
        tracing::warn!(error = ?e, "billing run failed; retried next minute");
    }
}

async fn expire(db: &Db) {
    match tollbooth::quota::expire_due(db).await {
        Ok(n) if n > 0 => tracing::debug!(expired = n, "marked expired reservations"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = ?e, "marking expired reservations failed"),
    }
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
    match tollbooth::alerts::usage_hooks::prune(db, tollbooth::clock::now_ms()).await {
        Ok(n) if n > 0 => tracing::info!(deleted = n, "pruned settled usage webhooks"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = ?e, "pruning settled usage webhooks failed"),
    }
}

async fn refusals(db: &Db, all: bool) {
    if let Err(e) = tollbooth::audit::flush_refusals(db, tollbooth::clock::now_ms(), all).await {
        tracing::warn!(error = ?e, pending = db.refusals().pending(), "writing counted refusals to the audit log failed; retried");
    }
}

async fn archive(db: &Db) {
    match tollbooth::metering::retention::archive_expired(db, tollbooth::clock::now_ms()).await {
        Ok(n) if n > 0 => tracing::info!(moved = n, "archived raw events past retention"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = ?e, "archiving raw events failed"),
    }
}

/// Starts the scheduled price-book refresh: every `every`, the price map at
/// `source` is downloaded and imported, changed prices effective from the
/// moment of the import (so no stored cost changes), each import recorded
/// and every change audited (`prices.import`, actor `scheduled refresh`).
/// A failed download or a map that does not parse changes nothing and is
/// logged; the next tick tries again. The first run is one period after
/// start (a restart loop never hammers the source).
pub fn spawn_price_refresh(db: Db, source: crate::price_source::PriceSource, every: Duration, mut stop: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if refreshed_lately(&db, &source, every).await {
                        continue;
                    }
                    if let Err(e) = refresh_prices(&db, &source).await {
                        tracing::warn!(error = ?e, source = %source.label(), "scheduled price-book refresh failed; tried again next period");
                    }
                }
                _ = stop.changed() => break,
            }
        }
    })
}

/// Whether another process sharing the database (PostgreSQL) refreshed
/// from the same source within the last half period: then this one skips
/// its turn rather than download the map again. (Two that start together
/// may both import; the second finds the prices unchanged and adds nothing.)
async fn refreshed_lately(db: &Db, source: &crate::price_source::PriceSource, every: Duration) -> bool {
    let since = tollbooth::clock::now_ms() - (every.as_millis() / 2) as i64;
    match tollbooth::pricing::imports::recent(db, 1).await {
        Ok(last) => last.first().is_some_and(|i| {
            i.trigger == tollbooth::pricing::imports::Trigger::Scheduled && i.source == source.label() && i.imported_at_ms > since
        }),
        Err(_) => false,
    }
}

/// One scheduled refresh: download, parse, import effective now.
pub async fn refresh_prices(db: &Db, source: &crate::price_source::PriceSource) -> anyhow::Result<tollbooth::pricing::store::ImportReport> {
    let book = source.read().await?;
    let by = tollbooth::audit::By::system("scheduled refresh");
    let trigger = tollbooth::pricing::imports::Trigger::Scheduled;
    let report = tollbooth::pricing::imports::import_book(db, &book, &source.label(), None, trigger, &by).await?;
    tracing::info!(source = %source.label(), added = report.added, changed = report.changed, unchanged = report.unchanged, "price book refreshed");
    Ok(report)
}
