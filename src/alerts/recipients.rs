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

use sqlx::AnyConnection;

use super::store::recipients::{self as store, Known};
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

async fn rows(conn: &mut AnyConnection, org_id: &str) -> Result<HashMap<String, Known>> {
    Ok(store::known(conn, org_id).await?.into_iter().collect())
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
    store::confirmed(conn, org_id).await
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
    let org_name = crate::orgs::store::existing_name(&mut *conn, org_id).await?;
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
        store::upsert(&mut *conn, org_id, email, &digest(&token), now + CONFIRM_VALID_MS, now).await?;
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
    let row = store::by_token(&mut tx, &digest(&token.to_ascii_lowercase())).await?.ok_or(Error::NotFound("confirmation link"))?;
    if row.confirmed_at.is_none() {
        if row.expires_at <= now {
            return Err(Error::NotFound("confirmation link"));
        }
        store::confirm(&mut tx, &row.org_id, &row.email, now).await?;
    }
    tx.commit().await?;
    Ok(Confirmed { email: row.email, org_name: row.org_name })
}
