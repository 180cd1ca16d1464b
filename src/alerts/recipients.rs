//! Extra alert recipients confirm before they receive alert mail.
//!
//! Any address can be typed into the alert settings; mailing it at once
//! would let anyone use Tollbooth to send mail to third parties. A newly
//! listed address gets one confirmation mail (through the outbox) with a
//! link to `GET /alerts/confirm/{token}`; alert mail goes to it only after
//! the link is followed. The token is 256 random bits, stored as its SHA-256,
//! and works for [`CONFIRM_VALID_MS`]. An address is mailed at most once per
//! [`RESEND_AFTER_MS`] per organization, however often it is removed and
//! re-added; one that confirmed stays confirmed for that organization.

use std::collections::HashMap;

use sqlx::{AnyConnection, Row};

use super::{ExtraRecipient, RecipientState};
use crate::db::Db;
use crate::secrets::{digest, random_hex};
use crate::{Error, Result};

/// How long a confirmation link works.
pub const CONFIRM_VALID_MS: i64 = 7 * 86_400_000;

/// Least time between two confirmation mails to one address of one organization.
pub const RESEND_AFTER_MS: i64 = 86_400_000;

/// The path of the confirmation route, before the token.
pub const CONFIRM_PATH: &str = "/alerts/confirm/";

struct Known {
    sent_at: i64,
    expires_at: i64,
    confirmed: bool,
}

async fn rows(conn: &mut AnyConnection, org_id: &str) -> Result<HashMap<String, Known>> {
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

/// Each listed address with its state, in the list's order.
pub(crate) async fn states(conn: &mut AnyConnection, org_id: &str, emails: &[String], now: i64) -> Result<Vec<ExtraRecipient>> {
    let known = rows(conn, org_id).await?;
    Ok(emails
        .iter()
        .map(|e| {
            let state = match known.get(e) {
                Some(r) if r.confirmed => RecipientState::Confirmed,
                Some(r) if r.expires_at > now => RecipientState::Pending,
                _ => RecipientState::Expired,
            };
            ExtraRecipient { email: e.clone(), state }
        })
        .collect())
}

/// The organization's addresses that confirmed.
pub(crate) async fn confirmed(conn: &mut AnyConnection, org_id: &str) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar("SELECT email FROM alert_recipient_confirmations WHERE org_id = $1 AND confirmed_at IS NOT NULL")
        .bind(org_id)
        .fetch_all(conn)
        .await?)
}

/// Sends confirmation mail, in the caller's transaction, to each address of
/// `listed` that has not confirmed and was not mailed in the last day, when
/// it is in `added` (new in this save) or its last link has expired.
pub(crate) async fn request(
    conn: &mut AnyConnection,
    org_id: &str,
    listed: &[String],
    added: &[String],
    public_url: &str,
    now: i64,
) -> Result<()> {
    let known = rows(conn, org_id).await?;
    let org_name: String =
        sqlx::query_scalar("SELECT name FROM organizations WHERE id = $1").bind(org_id).fetch_one(&mut *conn).await?;
    for email in listed {
        let due = match known.get(email) {
            None => true,
            Some(r) if r.confirmed => false,
            Some(r) => r.sent_at + RESEND_AFTER_MS <= now && (added.contains(email) || r.expires_at <= now),
        };
        if !due {
            continue;
        }
        let token = random_hex(32);
        sqlx::query(
            "INSERT INTO alert_recipient_confirmations (org_id, email, token_hash, expires_at, sent_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (org_id, email) DO UPDATE SET token_hash = excluded.token_hash, \
             expires_at = excluded.expires_at, sent_at = excluded.sent_at",
        )
        .bind(org_id)
        .bind(email)
        .bind(digest(&token))
        .bind(now + CONFIRM_VALID_MS)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        let subject = format!("[Tollbooth] Confirm alert mail from {org_name}");
        let body = format!(
            "Someone in the organization \"{org_name}\" on Tollbooth asked to send its usage and budget alerts to this address.\n\n\
             To receive them, open this link within 7 days:\n{}{CONFIRM_PATH}{token}\n\n\
             If you did not expect this, ignore this mail: nothing more will be sent to you.\n",
            public_url.trim_end_matches('/'),
        );
        super::outbox::enqueue(conn, org_id, None, "email", email, &subject, &body, now).await?;
    }
    Ok(())
}

/// An address that followed its link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmed {
    pub email: String,
    pub org_name: String,
}

/// Follows a confirmation link. Following it again is harmless; an unknown
/// or expired token is `NotFound` (the two look alike).
pub async fn confirm(db: &Db, token: &str, now: i64) -> Result<Confirmed> {
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::NotFound("confirmation link"));
    }
    let mut tx = db.begin().await?;
    let row = sqlx::query(
        "SELECT c.org_id, c.email, c.expires_at, c.confirmed_at, o.name FROM alert_recipient_confirmations c \
         JOIN organizations o ON o.id = c.org_id WHERE c.token_hash = $1",
    )
    .bind(digest(&token.to_ascii_lowercase()))
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(Error::NotFound("confirmation link"))?;
    let confirmed_at: Option<i64> = row.try_get("confirmed_at")?;
    if confirmed_at.is_none() {
        if row.try_get::<i64, _>("expires_at")? <= now {
            return Err(Error::NotFound("confirmation link"));
        }
        sqlx::query("UPDATE alert_recipient_confirmations SET confirmed_at = $3 WHERE org_id = $1 AND email = $2")
            .bind(row.try_get::<String, _>("org_id")?)
            .bind(row.try_get::<String, _>("email")?)
            .bind(now)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(Confirmed { email: row.try_get("email")?, org_name: row.try_get("name")? })
}
