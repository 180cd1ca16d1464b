//! Fresh databases for tests: every test gets its own SQLite file or its own
//! PostgreSQL database, migrated, and dropped afterwards.
//!
//! PostgreSQL is found at `TOLLBOOTH_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`). When `TOLLBOOTH_SKIP_PG=1` is
//! set (scripts/test.sh does so only when no server can be started, and says
//! so loudly), [`TestDb::postgres`] returns `None` and the caller skips.

use std::path::PathBuf;

use sqlx::{Connection, Executor};

use crate::db::{Db, Engine};

/// A migrated database that is removed when dropped.
pub struct TestDb {
    pub db: Db,
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    SqliteDir(PathBuf),
    PostgresDb { admin_url: String, name: String },
}

/// The PostgreSQL server tests use.
pub fn pg_admin_url() -> String {
    std::env::var("TOLLBOOTH_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Whether PostgreSQL tests are switched off for this run.
pub fn pg_skipped() -> bool {
    std::env::var("TOLLBOOTH_SKIP_PG").is_ok_and(|v| v == "1")
}

impl TestDb {
    /// A new SQLite database in a temporary directory.
    pub async fn sqlite() -> TestDb {
        let dir = std::env::temp_dir().join(format!("tollbooth-test-{}", crate::secrets::random_hex(8)));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        let url = format!("sqlite://{}/test.db", dir.display());
        let db = Db::connect(&url).await.expect("open sqlite");
        db.migrate().await.expect("migrate sqlite");
        TestDb { db, url, cleanup: Cleanup::SqliteDir(dir) }
    }

    /// A new PostgreSQL database, or `None` when PostgreSQL tests are skipped.
    pub async fn postgres() -> Option<TestDb> {
        if pg_skipped() {
            eprintln!("SKIPPED: PostgreSQL test (TOLLBOOTH_SKIP_PG=1)");
            return None;
        }
        sqlx::any::install_default_drivers();
        let admin_url = pg_admin_url();
        let name = format!("tollbooth_test_{}", crate::secrets::random_hex(8));
        let mut admin = sqlx::AnyConnection::connect(&admin_url).await.unwrap_or_else(|e| {
            panic!("PostgreSQL is not reachable at {admin_url} ({e}); start it, set TOLLBOOTH_TEST_PG_URL, or run scripts/test.sh")
        });
        admin.execute(format!("CREATE DATABASE {name}").as_str()).await.expect("create test database");
        admin.close().await.ok();
        let url = replace_db_name(&admin_url, &name);
        let db = Db::connect(&url).await.expect("open postgres");
        db.migrate().await.expect("migrate postgres");
        Some(TestDb { db, url, cleanup: Cleanup::PostgresDb { admin_url, name } })
    }

    /// A fresh database of the given engine (`None`: skipped PostgreSQL).
    pub async fn new(engine: Engine) -> Option<TestDb> {
        match engine {
            Engine::Sqlite => Some(TestDb::sqlite().await),
            Engine::Postgres => TestDb::postgres().await,
        }
    }
}

fn replace_db_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let base = match base.rfind('/') {
        Some(i) if i > "postgres://".len() => &base[..i],
        _ => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let cleanup = std::mem::replace(&mut self.cleanup, Cleanup::SqliteDir(PathBuf::new()));
        match cleanup {
            // Unlinking is fine while connections are still open (they close with the pool).
            Cleanup::SqliteDir(dir) => {
                if !dir.as_os_str().is_empty() {
                    let _ = std::fs::remove_dir_all(dir);
                }
            }
            // Drop cannot be async, and the test's runtime is busy dropping us:
            // finish on a small runtime of our own. FORCE ends our pool's sessions.
            Cleanup::PostgresDb { admin_url, name } => {
                let _ = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
                    rt.block_on(async move {
                        if let Ok(mut admin) = sqlx::AnyConnection::connect(&admin_url).await {
                            let _ = admin.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await;
                        }
                    });
                })
                .join();
            }
        }
    }
}

/// Defines each test twice, as `<name>::sqlite` and `<name>::postgres`, each
/// with a fresh database bound to `$db: &Db`.
#[macro_export]
macro_rules! test_both_engines {
    ($(async fn $name:ident($db:ident) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                let test_db = $crate::testing::TestDb::sqlite().await;
                let $db: &$crate::db::Db = &test_db.db;
                $body
            }

            #[tokio::test]
            async fn postgres() {
                let Some(test_db) = $crate::testing::TestDb::postgres().await else { return };
                let $db: &$crate::db::Db = &test_db.db;
                $body
            }
        }
    )*};
}

#[cfg(test)]
mod tests {
    use super::replace_db_name;

    #[test]
    fn database_name_is_replaced_keeping_the_query() {
        assert_eq!(replace_db_name("postgres://u@h:5432/test", "x"), "postgres://u@h:5432/x");
        assert_eq!(replace_db_name("postgres://u@h:5432/test?sslmode=disable", "x"), "postgres://u@h:5432/x?sslmode=disable");
        assert_eq!(replace_db_name("postgres://u@h:5432", "x"), "postgres://u@h:5432/x");
    }
}
