//! Storage of extra recipients' confirmations (`alert_recipient_confirmations`).

use sqlx::{AnyConnection, Row};

use crate::Result;

/// What is stored of one listed address.
pub(crate) struct Known {
    pub sent_at: i64,
    pub expires_at: i64,
    pub confirmed: bool,
}

/// The organization's addresses with their confirmation state.
pub(crate) async fn known(conn: &mut AnyConnection, org_id: &str) -> Result<Vec<(String, Known)>> {
    let rows = sqlx::query("SELECT email, sent_at, expires_at, confirmed_at FROM alert_recipient_confirmations WHERE org_id = $1")
        .bind(org_id)
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get::<String, _>("email")?,
                Known {
                    sent_at: r.try_get("sent_at")?,
                    expires_at: r.try_get("expires_at")?,
                    confirmed: r.try_get::<Option<i64>, _>("confirmed_at")?.is_some(),
                },
            ))
        })
        .collect()
}

/// The organization's addresses that confirmed.
pub(crate) async fn confirmed(conn: &mut AnyConnection, org_id: &str) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar("SELECT email FROM alert_recipient_confirmations WHERE org_id = $1 AND confirmed_at IS NOT NULL")
        .bind(org_id)
        .fetch_all(conn)
        .await?)
}

/// Records a confirmation mail sent at `now` with a new token (its hash),
/// replacing an earlier one of the address.
pub(crate) async fn upsert(conn: &mut AnyConnection, org_id: &str, email: &str, token_hash: &str, expires_at: i64, now: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO alert_recipient_confirmations (org_id, email, token_hash, expires_at, sent_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (org_id, email) DO UPDATE SET token_hash = excluded.token_hash, \
         expires_at = excluded.expires_at, sent_at = excluded.sent_at",
    )
    .bind(org_id)
    .bind(email)
    .bind(token_hash)
    .bind(expires_at)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// A confirmation found by its token, with the organization's name (joined).
pub(crate) struct ByToken {
    pub org_id: String,
    pub email: String,
    pub expires_at: i64,
    pub confirmed_at: Option<i64>,
    pub org_name: String,
}

/// The confirmation whose token hashes to `token_hash`.
pub(crate) async fn by_token(conn: &mut AnyConnection, token_hash: &str) -> Result<Option<ByToken>> {
    let row = sqlx::query(
        "SELECT c.org_id, c.email, c.expires_at, c.confirmed_at, o.name FROM alert_recipient_confirmations c \
         JOIN organizations o ON o.id = c.org_id WHERE c.token_hash = $1",
    )
    .bind(token_hash)
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        Ok(ByToken {
            org_id: r.try_get("org_id")?,
            email: r.try_get("email")?,
            expires_at: r.try_get("expires_at")?,
            confirmed_at: r.try_get("confirmed_at")?,
            org_name: r.try_get("name")?,
        })
    })
    .transpose()
}

/// Marks an address confirmed at `now`.
pub(crate) async fn confirm(conn: &mut AnyConnection, org_id: &str, email: &str, now: i64) -> Result<()> {
    sqlx::query("UPDATE alert_recipient_confirmations SET confirmed_at = $3 WHERE org_id = $1 AND email = $2")
        .bind(org_id)
        .bind(email)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}
