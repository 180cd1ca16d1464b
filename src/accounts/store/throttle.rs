//! Storage of throttled attempts (`throttle_attempts`, see [`crate::accounts::throttle`]).

use sqlx::AnyConnection;

use crate::Result;

/// Takes a transaction-scoped advisory lock (PostgreSQL only; the caller
/// skips it on SQLite, whose single writer serializes).
pub(crate) async fn lock(conn: &mut AnyConnection, id: i64) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(id).execute(conn).await?;
    Ok(())
}

/// How many attempts a key made after `since`, and when the oldest of them was.
pub(crate) async fn recent(conn: &mut AnyConnection, key: &str, since: i64) -> Result<(i64, Option<i64>)> {
    Ok(sqlx::query_as("SELECT COUNT(*), MIN(at) FROM throttle_attempts WHERE throttle_key = $1 AND at > $2")
        .bind(key)
        .bind(since)
        .fetch_one(conn)
        .await?)
}

/// Counts an attempt against a key.
pub(crate) async fn insert(conn: &mut AnyConnection, key: &str, attempt_id: &str, at: i64) -> Result<()> {
    sqlx::query("INSERT INTO throttle_attempts (throttle_key, attempt_id, at) VALUES ($1, $2, $3)")
        .bind(key)
        .bind(attempt_id)
        .bind(at)
        .execute(conn)
        .await?;
    Ok(())
}

/// Un-counts an attempt and forgets every attempt against `key`.
pub(crate) async fn delete_attempt_and_key(conn: &mut AnyConnection, attempt_id: &str, key: &str) -> Result<()> {
    sqlx::query("DELETE FROM throttle_attempts WHERE attempt_id = $1 OR throttle_key = $2")
        .bind(attempt_id)
        .bind(key)
        .execute(conn)
        .await?;
    Ok(())
}

/// Un-counts an attempt.
pub(crate) async fn delete_attempt(conn: &mut AnyConnection, attempt_id: &str) -> Result<()> {
    sqlx::query("DELETE FROM throttle_attempts WHERE attempt_id = $1").bind(attempt_id).execute(conn).await?;
    Ok(())
}

/// Deletes attempts made at or before `until`; returns how many.
pub(crate) async fn delete_until(conn: &mut AnyConnection, until: i64) -> Result<u64> {
    let r = sqlx::query("DELETE FROM throttle_attempts WHERE at <= $1").bind(until).execute(conn).await?;
    Ok(r.rows_affected())
}
