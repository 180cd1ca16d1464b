//! The durable outbox of notifications.
//!
//! Rows are written in the transaction that fires the alert, so a crash
//! after commit loses none. A sender claims a due row with a lease (a
//! conditional UPDATE, so two senders never take the same row), delivers it,
//! and marks it sent only if it still holds it; a sent row is never claimed
//! again. A crash between delivering and marking can repeat that one
//! delivery after the lease runs out: webhook receivers get the same
//! notification id in the body to drop it.

use sqlx::AnyConnection;

use super::store::outbox as store;
use super::{backoff_ms, MailView, MAX_ATTEMPTS};
use crate::db::Db;
use crate::ids::new_id;
use crate::{Error, Result};

/// How long a claimed row is held by its sender.
pub const LEASE_MS: i64 = 60_000;

/// Queues one message, in the caller's transaction.
#[allow(clippy::too_many_arguments)]
pub async fn enqueue(
    conn: &mut AnyConnection,
    org_id: &str,
    alert_id: Option<&str>,
    channel: &str,
    recipient: &str,
    subject: &str,
    body: &str,
    now: i64,
) -> Result<String> {
    let id = new_id();
    store::insert(conn, &id, org_id, alert_id, channel, recipient, subject, body, now).await?;
    Ok(id)
}

/// What to send: the message and, for a webhook, where and with which secret.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub id: String,
    pub org_id: String,
    pub channel: String,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    /// Attempts made before this one.
    pub attempts: i64,
    /// Webhook endpoint URL and secret.
    pub endpoint: Option<(String, String)>,
}

/// Claims up to `limit` due notifications for `LEASE_MS`.
pub async fn claim_due(db: &Db, now: i64, limit: i64) -> Result<Vec<Outgoing>> {
    claim_due_where(db, now, limit, &[], |_| true).await
}

/// Claims up to `limit` due notifications for `LEASE_MS`, oldest first,
/// skipping the organizations in `skip_orgs` and any candidate `accept`
/// turns down (called with its organization before it is claimed; a
/// sender uses it to cap what one organization has in flight). What is
/// skipped is not leased, so it stays free for the next pass.
pub async fn claim_due_where(
    db: &Db,
    now: i64,
    limit: i64,
    skip_orgs: &[String],
    mut accept: impl FnMut(&str) -> bool,
) -> Result<Vec<Outgoing>> {
    if limit <= 0 {
        return Ok(Vec::new());
    }
    // More candidates than `limit`, so turned-down ones leave room for others.
    let candidates = store::due(&mut *db.reader().acquire().await?, now, limit.saturating_mul(4).min(500), skip_orgs).await?;
    let mut claimed = Vec::with_capacity(candidates.len());
    for r in candidates {
        if claimed.len() as i64 >= limit {
            break;
        }
        if !accept(&r.org_id) {
            continue;
        }
        if !store::lease(&mut *db.writer().acquire().await?, &r.id, now + LEASE_MS, now).await? {
            continue; // another sender has it
        }
        claimed.push(Outgoing {
            id: r.id,
            org_id: r.org_id,
            channel: r.channel,
            recipient: r.recipient,
            subject: r.subject,
            body: r.body,
            attempts: r.attempts,
            endpoint: r.url.zip(r.secret),
        });
    }
    Ok(claimed)
}

/// Marks a claimed notification delivered.
pub async fn mark_sent(db: &Db, id: &str, now: i64) -> Result<()> {
    store::mark_sent(&mut *db.writer().acquire().await?, id, now).await
}

/// Keeps an e-mail in the outbox: no SMTP server is configured.
pub async fn mark_held(db: &Db, id: &str) -> Result<()> {
    store::mark_held(&mut *db.writer().acquire().await?, id).await
}

/// How many e-mails and webhook deliveries wait to be sent (the operator's
/// backlog gauge; held mail, kept for lack of SMTP, is not waiting).
pub async fn backlog(db: &Db) -> Result<(i64, i64)> {
    let rows = store::pending_by_channel(&mut *db.reader().acquire().await?).await?;
    let of = |c: &str| rows.iter().find(|(ch, _)| ch == c).map_or(0, |(_, n)| *n);
    Ok((of("email"), of("webhook")))
}

/// Records a failed attempt: retried after the backoff, or given up after
/// the last attempt (or at once when `give_up`). Returns the state now.
pub async fn mark_failed(db: &Db, id: &str, error: &str, give_up: bool, now: i64) -> Result<&'static str> {
    let pending = store::pending_attempts(&mut *db.reader().acquire().await?, id).await?;
    let Some((attempts, channel)) = pending.map(|(a, channel)| (a + 1, channel)) else { return Ok("gone") };
    let kind = if channel == "webhook" { "webhook" } else { "mail" };
    db.metrics().deliveries_failed.get_or_create(&crate::metrics::KindLabels { kind }).inc();
    let state = if give_up || attempts >= MAX_ATTEMPTS { "failed" } else { "pending" };
    store::set_failed(&mut *db.writer().acquire().await?, id, state, attempts, now + backoff_ms(attempts), &truncate(error, 500)).await?;
    Ok(state)
}

pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Largest page of the outbox.
pub const MAX_MAIL_LIST: i64 = 500;

/// Alert e-mail of every organization, newest first (platform admins only;
/// the caller checks). `org_id` narrows it to one organization.
pub async fn list_mail(db: &Db, org_id: Option<&str>, limit: i64) -> Result<Vec<MailView>> {
    if !(1..=MAX_MAIL_LIST).contains(&limit) {
        return Err(Error::invalid("limit", format!("must be between 1 and {MAX_MAIL_LIST}")));
    }
    store::mail(&mut *db.reader().acquire().await?, org_id, limit).await
}
