//! Storage for browser sessions (the server adapts it to tower-sessions).
//! A record is opaque JSON with an expiry; expired rows are never returned
//! and are pruned by a background task.
//!
//! Rows are keyed by the SHA-256 of the session id, never the id itself: the
//! id is the cookie, so a read of the table (a backup, a replica, an SQL
//! injection elsewhere) must not yield cookies that sign anyone in. The
//! callers pass the id; hashing happens here, and the data must not hold it.

use crate::clock::{now_ms, Millis};
use crate::db::Db;
use crate::secrets::digest;
use crate::Result;

/// Inserts a new session; returns false if the id is already taken.
pub async fn insert(db: &Db, id: &str, data: &str, expires_at: Millis) -> Result<bool> {
    let r = sqlx::query("INSERT INTO sessions (id, data, expiry_date) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING")
        .bind(digest(id))
        .bind(data)
        .bind(expires_at)
        .execute(db.writer())
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Inserts or replaces a session.
pub async fn upsert(db: &Db, id: &str, data: &str, expires_at: Millis) -> Result<()> {
    sqlx::query(
        "INSERT INTO sessions (id, data, expiry_date) VALUES ($1, $2, $3) \
         ON CONFLICT (id) DO UPDATE SET data = excluded.data, expiry_date = excluded.expiry_date",
    )
    .bind(digest(id))
    .bind(data)
    .bind(expires_at)
    .execute(db.writer())
    .await?;
    Ok(())
}

/// The data and expiry of an unexpired session.
pub async fn load(db: &Db, id: &str) -> Result<Option<(String, Millis)>> {
    Ok(sqlx::query_as("SELECT data, expiry_date FROM sessions WHERE id = $1 AND expiry_date > $2")
        .bind(digest(id))
        .bind(now_ms())
        .fetch_optional(db.reader())
        .await?)
}

/// Deletes a session.
pub async fn delete(db: &Db, id: &str) -> Result<()> {
    sqlx::query("DELETE FROM sessions WHERE id = $1").bind(digest(id)).execute(db.writer()).await?;
    Ok(())
}

/// Deletes expired sessions; returns how many.
pub async fn delete_expired(db: &Db) -> Result<u64> {
    let r = sqlx::query("DELETE FROM sessions WHERE expiry_date <= $1").bind(now_ms()).execute(db.writer()).await?;
    Ok(r.rows_affected())
}
