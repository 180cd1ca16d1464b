//! Storage of the outbox (`notifications`).

use sqlx::{AnyConnection, Row};

use crate::alerts::MailView;
use crate::clock::to_rfc3339;
use crate::Result;

/// Inserts a pending message due at once.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert(
    conn: &mut AnyConnection,
    id: &str,
    org_id: &str,
    alert_id: Option<&str>,
    channel: &str,
    recipient: &str,
    subject: &str,
    body: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO notifications (id, org_id, alert_id, channel, recipient, subject, body, next_attempt_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(id)
    .bind(org_id)
    .bind(alert_id)
    .bind(channel)
    .bind(recipient)
    .bind(subject)
    .bind(body)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// A due notification, with its webhook endpoint's URL and secret (joined).
pub(crate) struct Due {
    pub id: String,
    pub org_id: String,
    pub channel: String,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub attempts: i64,
    pub url: Option<String>,
    pub secret: Option<String>,
}

/// Pending notifications due at `now` and not leased, oldest first, at most
/// `limit`, leaving out the organizations in `skip_orgs`.
pub(crate) async fn due(conn: &mut AnyConnection, now: i64, limit: i64, skip_orgs: &[String]) -> Result<Vec<Due>> {
    let skip = if skip_orgs.is_empty() {
        String::new()
    } else {
        let marks: Vec<String> = (0..skip_orgs.len()).map(|i| format!("${}", i + 3)).collect();
        format!(" AND n.org_id NOT IN ({})", marks.join(", "))
    };
    let sql = format!(
        "SELECT n.id, n.org_id, n.channel, n.recipient, n.subject, n.body, n.attempts, e.url, e.secret \
         FROM notifications n LEFT JOIN webhook_endpoints e ON n.channel = 'webhook' AND e.id = n.recipient \
         WHERE n.state = 'pending' AND n.next_attempt_at <= $1 AND n.lease_until <= $1{skip} \
         ORDER BY n.next_attempt_at, n.id LIMIT $2"
    );
    let mut q = sqlx::query(&sql).bind(now).bind(limit);
    for org in skip_orgs {
        q = q.bind(org);
    }
    let rows = q.fetch_all(conn).await?;
    rows.iter()
        .map(|r| {
            Ok(Due {
                id: r.try_get("id")?,
                org_id: r.try_get("org_id")?,
                channel: r.try_get("channel")?,
                recipient: r.try_get("recipient")?,
                subject: r.try_get("subject")?,
                body: r.try_get("body")?,
                attempts: r.try_get("attempts")?,
                url: r.try_get("url")?,
                secret: r.try_get("secret")?,
            })
        })
        .collect()
}

/// Leases a pending notification until `until` unless another sender holds
/// it at `now`; returns whether this one got it.
pub(crate) async fn lease(conn: &mut AnyConnection, id: &str, until: i64, now: i64) -> Result<bool> {
    let took = sqlx::query("UPDATE notifications SET lease_until = $2 WHERE id = $1 AND state = 'pending' AND lease_until <= $3")
        .bind(id)
        .bind(until)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(took.rows_affected() == 1)
}

/// Marks a pending notification sent at `now`.
pub(crate) async fn mark_sent(conn: &mut AnyConnection, id: &str, now: i64) -> Result<()> {
    sqlx::query(
        "UPDATE notifications SET state = 'sent', attempts = attempts + 1, sent_at = $2, lease_until = 0, last_error = NULL \
         WHERE id = $1 AND state = 'pending'",
    )
    .bind(id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Keeps a pending e-mail in the outbox (no SMTP server).
pub(crate) async fn mark_held(conn: &mut AnyConnection, id: &str) -> Result<()> {
    sqlx::query(
        "UPDATE notifications SET state = 'held', lease_until = 0, last_error = 'SMTP is not configured (SMTP_URL): kept in the outbox' \
         WHERE id = $1 AND state = 'pending'",
    )
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// The attempts made so far at a pending notification; `None` when it is not pending.
pub(crate) async fn pending_attempts(conn: &mut AnyConnection, id: &str) -> Result<Option<(i64, String)>> {
    Ok(sqlx::query_as("SELECT attempts, channel FROM notifications WHERE id = $1 AND state = 'pending'")
        .bind(id)
        .fetch_optional(conn)
        .await?)
}

/// Settles a failed attempt of a pending notification: its state, attempts,
/// next attempt and error.
pub(crate) async fn set_failed(conn: &mut AnyConnection, id: &str, state: &str, attempts: i64, next_attempt_at: i64, error: &str) -> Result<()> {
    sqlx::query(
        "UPDATE notifications SET state = $2, attempts = $3, next_attempt_at = $4, lease_until = 0, last_error = $5 \
         WHERE id = $1 AND state = 'pending'",
    )
    .bind(id)
    .bind(state)
    .bind(attempts)
    .bind(next_attempt_at)
    .bind(error)
    .execute(conn)
    .await?;
    Ok(())
}

/// Fails the pending webhooks to an endpoint other than `except`, with `error`.
pub(crate) async fn fail_pending_webhooks(conn: &mut AnyConnection, endpoint_id: &str, except: &str, error: &str) -> Result<()> {
    sqlx::query(
        "UPDATE notifications SET state = 'failed', lease_until = 0, last_error = $2 \
         WHERE channel = 'webhook' AND recipient = $1 AND state = 'pending' AND id <> $3",
    )
    .bind(endpoint_id)
    .bind(error)
    .bind(except)
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes up to `limit` settled (sent or failed) usage.recorded webhooks
/// queued before `before`; returns how many.
pub(crate) async fn delete_settled_usage(conn: &mut AnyConnection, before: i64, limit: i64) -> Result<u64> {
    let done = sqlx::query(
        "DELETE FROM notifications WHERE id IN (SELECT id FROM notifications WHERE channel = 'webhook' AND alert_id IS NULL \
         AND state IN ('sent', 'failed') AND created_at < $1 AND subject LIKE $2 LIMIT $3)",
    )
    .bind(before)
    .bind(format!("{}%", crate::alerts::usage_hooks::USAGE_SUBJECT))
    .bind(limit)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Deletes an organization's webhooks to an endpoint (it is being removed).
pub(crate) async fn delete_webhooks_to(conn: &mut AnyConnection, org_id: &str, endpoint_id: &str) -> Result<()> {
    sqlx::query("DELETE FROM notifications WHERE org_id = $1 AND channel = 'webhook' AND recipient = $2")
        .bind(org_id)
        .bind(endpoint_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Alert e-mail, newest first: of one organization (`Some`) or of all, with
/// the organization's name (joined).
pub(crate) async fn mail(conn: &mut AnyConnection, org_id: Option<&str>, limit: i64) -> Result<Vec<MailView>> {
    let filter = if org_id.is_some() { "AND n.org_id = $2" } else { "AND $2 = ''" };
    let rows = sqlx::query(&format!(
        "SELECT n.id, n.org_id, o.name AS org_name, n.recipient, n.subject, n.body, n.state, n.attempts, n.last_error, \
         n.created_at, n.sent_at FROM notifications n JOIN organizations o ON o.id = n.org_id \
         WHERE n.channel = 'email' {filter} ORDER BY n.created_at DESC, n.id DESC LIMIT $1"
    ))
    .bind(limit)
    .bind(org_id.unwrap_or(""))
    .fetch_all(conn)
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

/// Pending notifications per channel (`email`, `webhook`).
pub(crate) async fn pending_by_channel(conn: &mut AnyConnection) -> Result<Vec<(String, i64)>> {
    Ok(sqlx::query_as("SELECT channel, CAST(COUNT(*) AS BIGINT) FROM notifications WHERE state = 'pending' GROUP BY channel")
        .fetch_all(conn)
        .await?)
}
