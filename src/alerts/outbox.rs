//! The durable outbox of notifications.
//!
//! Rows are written in the transaction that fires the alert, so a crash
//! after commit loses none. A sender claims a due row with a lease (a
//! conditional UPDATE, so two senders never take the same row), delivers it,
//! and marks it sent only if it still holds it; a sent row is never claimed
//! again. A crash between delivering and marking can repeat that one
//! delivery after the lease runs out: webhook receivers get the same
//! notification id in the body to drop it.

use sqlx::{AnyConnection, Row};

use super::{backoff_ms, MailView, MAX_ATTEMPTS};
use crate::clock::to_rfc3339;
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
    sqlx::query(
        "INSERT INTO notifications (id, org_id, alert_id, channel, recipient, subject, body, next_attempt_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(&id)
    .bind(org_id)
    .bind(alert_id)
    .bind(channel)
    .bind(recipient)
    .bind(subject)
    .bind(body)
    .bind(now)
    .execute(conn)
    .await?;
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
    let skip = if skip_orgs.is_empty() {
        String::new()
    } else {
        let marks: Vec<String> = (0..skip_orgs.len()).map(|i| format!("${}", i + 3)).collect();
        format!(" AND n.org_id NOT IN ({})", marks.join(", "))
    };
    // More candidates than `limit`, so turned-down ones leave room for others.
    let sql = format!(
        "SELECT n.id, n.org_id, n.channel, n.recipient, n.subject, n.body, n.attempts, e.url, e.secret \
         FROM notifications n LEFT JOIN webhook_endpoints e ON n.channel = 'webhook' AND e.id = n.recipient \
         WHERE n.state = 'pending' AND n.next_attempt_at <= $1 AND n.lease_until <= $1{skip} \
         ORDER BY n.next_attempt_at, n.id LIMIT $2"
    );
    let mut q = sqlx::query(&sql).bind(now).bind(limit.saturating_mul(4).min(500));
    for org in skip_orgs {
        q = q.bind(org);
    }
    let candidates = q.fetch_all(db.reader()).await?;
    let mut claimed = Vec::with_capacity(candidates.len());
    for r in candidates {
        if claimed.len() as i64 >= limit {
            break;
        }
        let id: String = r.try_get("id")?;
        let org_id: String = r.try_get("org_id")?;
        if !accept(&org_id) {
            continue;
        }
        let took = sqlx::query(
            "UPDATE notifications SET lease_until = $2 WHERE id = $1 AND state = 'pending' AND lease_until <= $3",
        )
        .bind(&id)
        .bind(now + LEASE_MS)
        .bind(now)
        .execute(db.writer())
        .await?;
        if took.rows_affected() != 1 {
            continue; // another sender has it
        }
        let url: Option<String> = r.try_get("url")?;
        let secret: Option<String> = r.try_get("secret")?;
        claimed.push(Outgoing {
            id,
            org_id,
            channel: r.try_get("channel")?,
            recipient: r.try_get("recipient")?,
            subject: r.try_get("subject")?,
            body: r.try_get("body")?,
            attempts: r.try_get("attempts")?,
            endpoint: url.zip(secret),
        });
    }
    Ok(claimed)
}

/// Marks a claimed notification delivered.
pub async fn mark_sent(db: &Db, id: &str, now: i64) -> Result<()> {
    sqlx::query(
        "UPDATE notifications SET state = 'sent', attempts = attempts + 1, sent_at = $2, lease_until = 0, last_error = NULL \
         WHERE id = $1 AND state = 'pending'",
    )
    .bind(id)
    .bind(now)
    .execute(db.writer())
    .await?;
    Ok(())
}

/// Keeps an e-mail in the outbox: no SMTP server is configured.
pub async fn mark_held(db: &Db, id: &str) -> Result<()> {
    sqlx::query(
        "UPDATE notifications SET state = 'held', lease_until = 0, last_error = 'SMTP is not configured (SMTP_URL): kept in the outbox' \
         WHERE id = $1 AND state = 'pending'",
    )
    .bind(id)
    .execute(db.writer())
    .await?;
    Ok(())
}

/// Records a failed attempt: retried after the backoff, or given up after
/// the last attempt (or at once when `give_up`). Returns the state now.
pub async fn mark_failed(db: &Db, id: &str, error: &str, give_up: bool, now: i64) -> Result<&'static str> {
    let attempts: Option<i64> = sqlx::query_scalar("SELECT attempts FROM notifications WHERE id = $1 AND state = 'pending'")
        .bind(id)
        .fetch_optional(db.reader())
        .await?;
    let Some(attempts) = attempts.map(|a| a + 1) else { return Ok("gone") };
    let state = if give_up || attempts >= MAX_ATTEMPTS { "failed" } else { "pending" };
    sqlx::query(
        "UPDATE notifications SET state = $2, attempts = $3, next_attempt_at = $4, lease_until = 0, last_error = $5 \
         WHERE id = $1 AND state = 'pending'",
    )
    .bind(id)
    .bind(state)
    .bind(attempts)
    .bind(now + backoff_ms(attempts))
    .bind(truncate(error, 500))
    .execute(db.writer())
    .await?;
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
    let filter = if org_id.is_some() { "AND n.org_id = $2" } else { "AND $2 = ''" };
    let rows = sqlx::query(&format!(
        "SELECT n.id, n.org_id, o.name AS org_name, n.recipient, n.subject, n.body, n.state, n.attempts, n.last_error, \
         n.created_at, n.sent_at FROM notifications n JOIN organizations o ON o.id = n.org_id \
         WHERE n.channel = 'email' {filter} ORDER BY n.created_at DESC, n.id DESC LIMIT $1"
    ))
    .bind(limit)
    .bind(org_id.unwrap_or(""))
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(MailView {
                id: r.try_get("id")?,
                org_id: r.try_get("org_id")?,
                org_name: r.try_get("org_name")?,
                recipient: r.try_get("recipient")?,
                subject: r.try_get("subject")?,
                body: r.try_get("body")?,
                state: r.try_get("state")?,
                attempts: r.try_get("attempts")?,
                last_error: r.try_get("last_error")?,
                created_at: to_rfc3339(r.try_get("created_at")?),
                sent_at: r.try_get::<Option<i64>, _>("sent_at")?.map(to_rfc3339),
            })
        })
        .collect()
}
