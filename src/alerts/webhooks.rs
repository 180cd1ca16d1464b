//! Outgoing webhook endpoints, their signature, and the delivery log.
//!
//! Each request carries `Tollbooth-Signature: t=<unix seconds>,v1=<hex>`,
//! the HMAC-SHA256 of `"{t}.{body}"` under the endpoint's secret (the scheme
//! Stripe uses, so receivers can reuse their verification code and reject
//! replays by the timestamp).

use serde_json::json;
use sqlx::{AnyConnection, Row};

use super::outbox::{truncate, Outgoing};
use super::{CreatedEndpoint, DeliveryView, EndpointView, DISABLE_AFTER_FAILURES};
use crate::audit::{self, By};
use crate::clock::{now_ms, to_rfc3339};
use crate::db::Db;
use crate::egress::EgressPolicy;
use crate::ids::{is_valid_id, new_id};
use crate::secrets::random_hex;
use crate::{Error, Result};

/// Most endpoints per organization.
pub const MAX_ENDPOINTS: i64 = 10;

/// The signature header's value for `body` sent at `t` (unix seconds).
pub fn signature_header(secret: &str, t: i64, body: &str) -> String {
    crate::signature::header(secret, t, body)
}

/// Verifies a signature header as a receiver would (see [`crate::signature`]).
pub fn verify(secret: &str, header: &str, body: &str, now_secs: i64, tolerance_secs: i64) -> bool {
    crate::signature::verify(secret, header, body, now_secs, tolerance_secs).is_ok()
}

/// Checks an endpoint URL's form: absolute http(s) with a host, no spaces,
/// at most 2,000 characters. Where it points is [`crate::egress`]'s rule,
/// checked by [`create`] and at every delivery.
pub fn parse_url(url: &str) -> Result<String> {
    let url = url.trim();
    if url.len() > 2000 {
        return Err(Error::invalid("url", "must be at most 2000 characters"));
    }
    if url.chars().any(char::is_whitespace) {
        return Err(Error::invalid("url", "must not contain spaces"));
    }
    crate::egress::host_of("url", url)?;
    Ok(url.to_string())
}

/// The URL as the audit log keeps it: scheme, host, port and path, without
/// credentials, query or fragment (they may carry the receiver's tokens).
pub fn url_for_log(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            u.to_string()
        }
        Err(_) => String::new(),
    }
}

fn view_of(r: &sqlx::any::AnyRow) -> Result<EndpointView> {
    Ok(EndpointView {
        id: r.try_get("id")?,
        url: r.try_get("url")?,
        enabled: r.try_get::<i64, _>("enabled")? != 0,
        consecutive_failures: r.try_get("consecutive_failures")?,
        disabled_reason: r.try_get("disabled_reason")?,
        created_at: to_rfc3339(r.try_get("created_at")?),
    })
}

const COLUMNS: &str = "id, url, enabled, consecutive_failures, disabled_reason, created_at";

/// The organization's endpoints, oldest first.
pub async fn list(db: &Db, org_id: &str) -> Result<Vec<EndpointView>> {
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM webhook_endpoints WHERE org_id = $1 ORDER BY created_at, id"))
        .bind(org_id)
        .fetch_all(db.reader())
        .await?;
    rows.iter().map(view_of).collect()
}

/// Adds an endpoint with a new random secret (returned once). The URL must
/// point at public addresses under `policy`; the change is audited
/// (`webhook.create`, the URL without query or credentials, never the secret).
pub async fn create(db: &Db, org_id: &str, url: &str, policy: EgressPolicy, by: &By) -> Result<CreatedEndpoint> {
    let url = parse_url(url)?;
    crate::egress::check_url("url", &url, policy).await?;
    let mut tx = db.begin().await?;
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM webhook_endpoints WHERE org_id = $1").bind(org_id).fetch_one(&mut *tx).await?;
    if n >= MAX_ENDPOINTS {
        return Err(Error::conflict("url", format!("an organization may have at most {MAX_ENDPOINTS} webhook endpoints")));
    }
    let id = new_id();
    let secret = format!("whsec_{}", random_hex(24));
    sqlx::query("INSERT INTO webhook_endpoints (id, org_id, url, secret, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(&id)
        .bind(org_id)
        .bind(&url)
        .bind(&secret)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM webhook_endpoints WHERE id = $1")).bind(&id).fetch_one(&mut *tx).await?;
    let details = json!({"url": url_for_log(&url)});
    audit::record_in(&mut tx, db.engine, &by.entry(Some(org_id), "webhook.create", Some(&id)).details(details)).await?;
    tx.commit().await?;
    Ok(CreatedEndpoint { endpoint: view_of(&row)?, secret })
}

/// Removes an endpoint (its pending notifications and log go with it);
/// audited as `webhook.delete`.
pub async fn delete(db: &Db, org_id: &str, id: &str, by: &By) -> Result<()> {
    if !is_valid_id(id) {
        return Err(Error::NotFound("webhook endpoint"));
    }
    let mut tx = db.begin().await?;
    let url: Option<String> = sqlx::query_scalar("SELECT url FROM webhook_endpoints WHERE id = $1 AND org_id = $2")
        .bind(id)
        .bind(org_id)
        .fetch_optional(&mut *tx)
        .await?;
    let url = url.ok_or(Error::NotFound("webhook endpoint"))?;
    sqlx::query("DELETE FROM notifications WHERE org_id = $1 AND channel = 'webhook' AND recipient = $2")
        .bind(org_id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let done =
        sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1 AND org_id = $2").bind(id).bind(org_id).execute(&mut *tx).await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound("webhook endpoint"));
    }
    let details = json!({"url": url_for_log(&url)});
    audit::record_in(&mut tx, db.engine, &by.entry(Some(org_id), "webhook.delete", Some(id)).details(details)).await?;
    tx.commit().await?;
    Ok(())
}

/// Turns a disabled endpoint back on (failures reset); audited as
/// `webhook.enable` with what it was before. Enabling an endpoint that was
/// on with no failures changes nothing and records nothing.
pub async fn enable(db: &Db, org_id: &str, id: &str, by: &By) -> Result<EndpointView> {
    if !is_valid_id(id) {
        return Err(Error::NotFound("webhook endpoint"));
    }
    let mut tx = db.begin().await?;
    let before = sqlx::query(&format!("SELECT {COLUMNS} FROM webhook_endpoints WHERE id = $1 AND org_id = $2"))
        .bind(id)
        .bind(org_id)
        .fetch_optional(&mut *tx)
        .await?;
    let before = view_of(&before.ok_or(Error::NotFound("webhook endpoint"))?)?;
    sqlx::query(
        "UPDATE webhook_endpoints SET enabled = 1, consecutive_failures = 0, disabled_reason = NULL WHERE id = $1 AND org_id = $2",
    )
    .bind(id)
    .bind(org_id)
    .execute(&mut *tx)
    .await?;
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM webhook_endpoints WHERE id = $1")).bind(id).fetch_one(&mut *tx).await?;
    if !before.enabled || before.consecutive_failures > 0 {
        let details = json!({
            "url": url_for_log(&before.url),
            "before": {"enabled": before.enabled, "consecutive_failures": before.consecutive_failures, "disabled_reason": before.disabled_reason},
        });
        audit::record_in(&mut tx, db.engine, &by.entry(Some(org_id), "webhook.enable", Some(id)).details(details)).await?;
    }
    tx.commit().await?;
    view_of(&row)
}

pub(crate) async fn enabled_endpoint_ids(conn: &mut AnyConnection, org_id: &str) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar("SELECT id FROM webhook_endpoints WHERE org_id = $1 AND enabled = 1 ORDER BY id")
        .bind(org_id)
        .fetch_all(conn)
        .await?)
}

/// What came of one delivery attempt.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

impl Attempt {
    pub fn succeeded(&self) -> bool {
        self.error.is_none() && self.status_code.is_some_and(|s| (200..300).contains(&s))
    }
}

/// Logs an attempt and settles the notification: sent; retried with backoff;
/// or, after `DISABLE_AFTER_FAILURES` failures in a row at this endpoint, the
/// endpoint is disabled with the reason and its pending notifications fail.
pub async fn record_attempt(db: &Db, n: &Outgoing, a: &Attempt, now: i64) -> Result<()> {
    let error = a.error.clone().or_else(|| {
        a.status_code.filter(|s| !(200..300).contains(s)).map(|s| format!("the endpoint answered HTTP {s}"))
    });
    sqlx::query(
        "INSERT INTO webhook_deliveries (id, org_id, endpoint_id, notification_id, attempt, status_code, error, duration_ms, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(new_id())
    .bind(&n.org_id)
    .bind(&n.recipient)
    .bind(&n.id)
    .bind(n.attempts + 1)
    .bind(a.status_code.map(i64::from))
    .bind(error.as_deref().map(|e| truncate(e, 500)))
    .bind(a.duration_ms)
    .bind(now)
    .execute(db.writer())
    .await?;
    if a.succeeded() {
        sqlx::query("UPDATE webhook_endpoints SET consecutive_failures = 0 WHERE id = $1").bind(&n.recipient).execute(db.writer()).await?;
        return super::outbox::mark_sent(db, &n.id, now).await;
    }
    let error = error.unwrap_or_else(|| "delivery failed".into());
    let failures: i64 = sqlx::query_scalar(
        "UPDATE webhook_endpoints SET consecutive_failures = consecutive_failures + 1 WHERE id = $1 RETURNING consecutive_failures",
    )
    .bind(&n.recipient)
    .fetch_one(db.writer())
    .await?;
    if failures >= DISABLE_AFTER_FAILURES {
        let reason =
            format!("Disabled at {} after {failures} failed deliveries in a row; the last: {error}", to_rfc3339(now));
        let mut tx = db.begin().await?;
        sqlx::query("UPDATE webhook_endpoints SET enabled = 0, disabled_reason = $2 WHERE id = $1")
            .bind(&n.recipient)
            .bind(&reason)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE notifications SET state = 'failed', lease_until = 0, last_error = $2 \
             WHERE channel = 'webhook' AND recipient = $1 AND state = 'pending' AND id <> $3",
        )
        .bind(&n.recipient)
        .bind("the endpoint was disabled")
        .bind(&n.id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::warn!(endpoint = %n.recipient, org = %n.org_id, "webhook endpoint disabled after {failures} failures");
        super::outbox::mark_failed(db, &n.id, &error, true, now).await?;
        return Ok(());
    }
    super::outbox::mark_failed(db, &n.id, &error, false, now).await?;
    Ok(())
}

/// Largest page of the delivery log.
pub const MAX_DELIVERIES: i64 = 500;

/// The organization's delivery log, newest first.
pub async fn deliveries(db: &Db, org_id: &str, limit: i64) -> Result<Vec<DeliveryView>> {
    if !(1..=MAX_DELIVERIES).contains(&limit) {
        return Err(Error::invalid("limit", format!("must be between 1 and {MAX_DELIVERIES}")));
    }
    let rows = sqlx::query(
        "SELECT d.id, d.endpoint_id, e.url, d.notification_id, n.subject, n.state, d.attempt, d.status_code, d.error, \
         d.duration_ms, d.at FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id \
         JOIN notifications n ON n.id = d.notification_id WHERE d.org_id = $1 ORDER BY d.at DESC, d.id DESC LIMIT $2",
    )
    .bind(org_id)
    .bind(limit)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(DeliveryView {
                id: r.try_get("id")?,
                endpoint_id: r.try_get("endpoint_id")?,
                url: r.try_get("url")?,
                notification_id: r.try_get("notification_id")?,
                subject: r.try_get("subject")?,
                attempt: r.try_get("attempt")?,
                status_code: r.try_get("status_code")?,
                error: r.try_get("error")?,
                duration_ms: r.try_get("duration_ms")?,
                at: to_rfc3339(r.try_get("at")?),
                state: r.try_get("state")?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_http_or_https() {
        assert_eq!(parse_url(" https://example.com/hook ").unwrap(), "https://example.com/hook");
        assert!(parse_url("http://127.0.0.1:9000/x").is_ok());
        for bad in ["ftp://x", "example.com", "https://", "https:// x", "http://:80/"] {
            assert_eq!(parse_url(bad).unwrap_err().field(), Some("url"), "{bad}");
        }
    }

    #[test]
    fn the_audit_log_keeps_no_credentials_or_query() {
        assert_eq!(url_for_log("https://u:pw@hooks.example.com/a/b?token=s3cret#x"), "https://hooks.example.com/a/b");
        assert_eq!(url_for_log("http://8.8.8.8:8080/"), "http://8.8.8.8:8080/");
    }
}
