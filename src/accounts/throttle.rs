//! Login throttling, kept in the database so it holds across processes.
//!
//! Rule: more than [`MAX_FAILURES_PER_EMAIL`] failures for one e-mail, or
//! [`MAX_FAILURES_PER_IP`] from one IP, within [`WINDOW_MS`] refuse further
//! attempts for that key until the oldest failure leaves the window. A
//! successful login clears the e-mail's failures (not the IP's).

use sqlx::AnyConnection;

use crate::clock::{now_ms, Millis};
use crate::{Error, Result};

pub const WINDOW_MS: Millis = 15 * 60 * 1000;
pub const MAX_FAILURES_PER_EMAIL: i64 = 5;
pub const MAX_FAILURES_PER_IP: i64 = 30;

fn keys(email: &str, ip: Option<&str>) -> Vec<(String, i64)> {
    let mut v = vec![(format!("email:{email}"), MAX_FAILURES_PER_EMAIL)];
    if let Some(ip) = ip {
        v.push((format!("ip:{ip}"), MAX_FAILURES_PER_IP));
    }
    v
}

/// Refuses with [`Error::Throttled`] when a key has used up its failures.
pub async fn check(conn: &mut AnyConnection, email: &str, ip: Option<&str>) -> Result<()> {
    let since = now_ms() - WINDOW_MS;
    for (key, max) in keys(email, ip) {
        let (count, oldest): (i64, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), MIN(at) FROM login_failures WHERE throttle_key = $1 AND at > $2",
        )
        .bind(&key)
        .bind(since)
        .fetch_one(&mut *conn)
        .await?;
        if count >= max {
            let retry_ms = oldest.unwrap_or(since) + WINDOW_MS - now_ms();
            return Err(Error::Throttled { retry_after_secs: (retry_ms.max(1000) / 1000) as u64 });
        }
    }
    Ok(())
}

/// Records one failure for the e-mail and the IP.
pub async fn record_failure(conn: &mut AnyConnection, email: &str, ip: Option<&str>) -> Result<()> {
    let at = now_ms();
    for (key, _) in keys(email, ip) {
        sqlx::query("INSERT INTO login_failures (throttle_key, at) VALUES ($1, $2)")
            .bind(key)
            .bind(at)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Forgets the e-mail's failures after a successful login.
pub async fn clear(conn: &mut AnyConnection, email: &str) -> Result<()> {
    sqlx::query("DELETE FROM login_failures WHERE throttle_key = $1")
        .bind(format!("email:{email}"))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Deletes failures older than the window (run by a background task).
pub async fn prune(db: &crate::db::Db) -> Result<u64> {
    let r = sqlx::query("DELETE FROM login_failures WHERE at <= $1")
        .bind(now_ms() - WINDOW_MS)
        .execute(db.writer())
        .await?;
    Ok(r.rows_affected())
}
