//! The store: one code path over SQLite and PostgreSQL through sqlx's `Any` driver.
//!
//! Portable SQL rules used across the crate:
//! - placeholders are `$1, $2, …` (both engines accept them);
//! - ids are TEXT, times are BIGINT UTC milliseconds, flags are BIGINT 0/1;
//! - aggregates over BIGINT are wrapped in `CAST(… AS BIGINT)` because
//!   PostgreSQL widens `SUM(bigint)` to NUMERIC, which `Any` cannot decode.
//!
//! SQLite allows one writer at a time. Rather than letting concurrent deferred
//! transactions fail with `SQLITE_BUSY`, writes go through a dedicated pool with
//! a single connection, so they queue in-process; reads use a wider pool (WAL
//! lets them run beside the writer). On PostgreSQL both are the same pool.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

/// Which database engine a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    /// The engine a database URL selects.
    pub fn from_url(url: &str) -> Result<Self, crate::Error> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Engine::Postgres)
        } else if url.starts_with("sqlite:") {
            Ok(Engine::Sqlite)
        } else {
            Err(crate::Error::invalid(
                "DATABASE_URL",
                "must start with sqlite: or postgres://",
            ))
        }
    }

    /// A short name for logs and health checks.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        }
    }
}

/// Handles to the database: `read` for queries, `write` for transactions,
/// and the in-process state that belongs to this database (see [`Db::state`]).
#[derive(Clone, Debug)]
pub struct Db {
    pub engine: Engine,
    read: AnyPool,
    write: AnyPool,
    states: Arc<States>,
}

/// State kept per database handle by the modules that own it (the price
/// cache, the quota ledger, the rate limiters, the refusal tally, the
/// password gate), one value per type. The handle stores them without
/// knowing them, so the store depends on no domain.
#[derive(Default)]
struct States(RwLock<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>);

impl std::fmt::Debug for States {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.0.read().map(|m| m.len()).unwrap_or_default();
        f.debug_struct("States").field("kinds", &n).finish()
    }
}

/// One pool's state, for the operator's metrics.
#[derive(Debug, Clone, Copy, Default)]
pub struct PoolStats {
    pub size: i64,
    pub in_use: i64,
    pub acquire_seconds: f64,
}

impl PoolStats {
    async fn of(pool: &AnyPool) -> Self {
        let size = i64::from(pool.size());
        let in_use = size - pool.num_idle() as i64;
        let started = std::time::Instant::now();
        // Bounded: a scrape must answer even when the pool is exhausted.
        let acquire_seconds = match tokio::time::timeout(std::time::Duration::from_secs(5), pool.acquire()).await {
            Ok(Ok(conn)) => {
                drop(conn);
                started.elapsed().as_secs_f64()
            }
            _ => started.elapsed().as_secs_f64(),
        };
        PoolStats { size, in_use, acquire_seconds }
    }
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Db {
    /// Connects to `url` (creating a SQLite file and its directory if missing).
    pub async fn connect(url: &str) -> crate::Result<Self> {
        sqlx::any::install_default_drivers();
        let engine = Engine::from_url(url)?;
        match engine {
            Engine::Sqlite => {
                let url = sqlite_url_with_create(url)?;
                let opts = AnyConnectOptions::from_str(&url)?;
                let read = sqlite_pool(opts.clone(), 8).await?;
                let write = sqlite_pool(opts, 1).await?;
                Ok(Db { engine, read, write, states: Arc::default() })
            }
            Engine::Postgres => {
                let opts = AnyConnectOptions::from_str(url)?;
                let pool = AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(opts)
                    .await?;
                Ok(Db { engine, read: pool.clone(), write: pool, states: Arc::default() })
            }
        }
    }

    /// Applies the migrations of this engine that have not run yet.
    pub async fn migrate(&self) -> crate::Result<()> {
        let migrator = match self.engine {
            Engine::Sqlite => &SQLITE_MIGRATIONS,
            Engine::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator
            .run(&self.write)
            .await
            .map_err(|e| crate::Error::Internal(format!("migration failed: {e}")))
    }

    /// Pool for reads.
    pub fn reader(&self) -> &AnyPool {
        &self.read
    }

    /// Pool for writes and transactions.
    pub fn writer(&self) -> &AnyPool {
        &self.write
    }

    /// The reading pool now: connections open, in use, and how long taking
    /// one waits (a connection is taken and given back to measure it).
    pub async fn reader_stats(&self) -> PoolStats {
        PoolStats::of(&self.read).await
    }

    /// The writing pool now (see [`Db::reader_stats`]).
    pub async fn writer_stats(&self) -> PoolStats {
        PoolStats::of(&self.write).await
    }

    /// This database's state of type `T`, created (empty) on first use and
    /// shared by every clone of the handle. Each owner declares its accessor
    /// beside the type: `Db::price_cache` (pricing::cache), `Db::quota_memory`
    /// and `Db::rate_limits` (quota), `Db::refusals` (audit::tally),
    /// `Db::password_gate` (accounts::password).
    pub fn state<T: Default + Send + Sync + 'static>(&self) -> Arc<T> {
        let key = TypeId::of::<T>();
        let found = self.states.0.read().expect("db states").get(&key).cloned();
        let any = match found {
            Some(any) => any,
            None => self.states.0.write().expect("db states").entry(key).or_insert_with(|| Arc::new(T::default())).clone(),
        };
        any.downcast::<T>().expect("one state per type")
    }

    /// Starts a write transaction. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`): a deferred transaction that reads and then writes
    /// fails with `SQLITE_BUSY_SNAPSHOT` if another process (the CLI beside a
    /// running server) wrote in between, and no busy timeout can save it;
    /// waiting for the lock up front can.
    ///
    /// The transaction begins in a task of its own. A caller dropped while
    /// its `BEGIN` is under way (a request whose client went away) would
    /// otherwise hand the connection back to the pool inside a transaction
    /// nobody holds, and on SQLite every later `BEGIN IMMEDIATE` on the
    /// single writer would fail. The task runs to the end either way: a
    /// transaction nobody takes is dropped there, and rolled back.
    pub async fn begin(&self) -> crate::Result<sqlx::Transaction<'static, sqlx::Any>> {
        let (pool, engine) = (self.write.clone(), self.engine);
        let begun = tokio::spawn(async move {
            match engine {
                Engine::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await,
                Engine::Postgres => pool.begin().await,
            }
        });
        Ok(begun.await.map_err(|e| crate::Error::Unavailable(format!("beginning a transaction failed: {e}")))??)
    }

    /// Whether the database answers a trivial query. (The one query outside
    /// a store: it reads no table, so no store owns it.)
    pub async fn ping(&self) -> crate::Result<()> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }

    /// Closes every connection (checkpointing SQLite's WAL).
    pub async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }
}

/// Builds a SQLite pool whose connections use WAL, enforce foreign keys, and
/// wait (rather than fail) when another process holds the write lock.
async fn sqlite_pool(opts: AnyConnectOptions, max: u32) -> crate::Result<AnyPool> {
    Ok(AnyPoolOptions::new()
        .max_connections(max)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                conn.execute(
                    "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; \
                     PRAGMA busy_timeout = 10000; PRAGMA synchronous = NORMAL;",
                )
                .await?;
                Ok(())
            })
        })
        .connect_with(opts)
        .await?)
}

/// Adds `mode=rwc` so the file is created on first start, and creates its directory.
fn sqlite_url_with_create(url: &str) -> crate::Result<String> {
    let rest = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Err(crate::Error::invalid(
            "DATABASE_URL",
            "an SQLite URL must name a file, e.g. sqlite://data/tollbooth.db",
        ));
    }
    if let Some(dir) = std::path::Path::new(path).parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir).map_err(|e| {
                crate::Error::invalid("DATABASE_URL", format!("cannot create {}: {e}", dir.display()))
            })?;
        }
    }
    if url.contains("mode=") {
        Ok(url.to_string())
    } else if url.contains('?') {
        Ok(format!("{url}&mode=rwc"))
    } else {
        Ok(format!("{url}?mode=rwc"))
    }
}

/// Whether a sqlx error is a unique-constraint violation (on either engine).
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => db.is_unique_violation(),
        _ => false,
    }
}

/// `CASE` mapping `col` to the greatest boundary ≤ it, as a balanced tree
/// of comparisons (log₂ of the boundaries per row, not one per boundary).
/// Boundaries are our own integers, written as literals.
pub fn bucket_case(col: &str, b: &[i64]) -> String {
    match b.len() {
        0 => "0".into(),
        1 => b[0].to_string(),
        n => {
            let mid = n / 2;
            format!("(CASE WHEN {col} < {} THEN {} ELSE {} END)", b[mid], bucket_case(col, &b[..mid]), bucket_case(col, &b[mid..]))
        }
    }
}

/// The VALUES rows of a multi-row statement of `rows` rows of `cols` columns
/// each: `($1, $2), ($3, $4)` on PostgreSQL, `(?, ?), (?, ?)` on SQLite.
///
/// SQLite gets anonymous `?` parameters because binding `$N` ones looks each
/// name up in a linear list, which makes a statement with thousands of
/// parameters quadratic (measured: 200 rows × 27 columns bound 9× slower than
/// 10-row statements). The whole statement must then use `?` on SQLite.
pub fn values_rows(engine: Engine, rows: usize, cols: usize) -> String {
    let mut s = String::with_capacity(rows * cols * 6);
    for r in 0..rows {
        if r > 0 {
            s.push_str(", ");
        }
        s.push('(');
        for c in 0..cols {
            if c > 0 {
                s.push_str(", ");
            }
            match engine {
                Engine::Sqlite => s.push('?'),
                Engine::Postgres => {
                    s.push('$');
                    s.push_str(&(r * cols + c + 1).to_string());
                }
            }
        }
        s.push(')');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::{values_rows, Engine};

    #[test]
    fn values_rows_numbers_placeholders_across_rows() {
        assert_eq!(values_rows(Engine::Postgres, 2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(values_rows(Engine::Postgres, 1, 1), "($1)");
        assert_eq!(values_rows(Engine::Sqlite, 2, 2), "(?, ?), (?, ?)");
    }
}
