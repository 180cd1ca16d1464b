//! Storage of webhook endpoints (`webhook_endpoints`) and their delivery
//! log (`webhook_deliveries`).

use sqlx::{AnyConnection, Row};

use crate::alerts::{DeliveryView, EndpointView, WebhookEventType};
use crate::clock::to_rfc3339;
use crate::Result;

const COLUMNS: &str = "id, url, event_types, enabled, consecutive_failures, disabled_reason, created_at";

/// The stored form of a subscription: names joined by commas.
pub(crate) fn types_text(types: &[WebhookEventType]) -> String {
    types.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(",")
}

fn types_of(text: &str) -> Vec<WebhookEventType> {
    text.split(',').filter_map(WebhookEventType::parse).collect()
}

fn view_of(r: &sqlx::any::AnyRow) -> Result<EndpointView> {
    Ok(EndpointView {
        id: r.try_get("id")?,
        url: r.try_get("url")?,
        event_types: types_of(&r.try_get::<String, _>("event_types")?),
        enabled: r.try_get::<i64, _>("enabled")? != 0,
        consecutive_failures: r.try_get("consecutive_failures")?,
        disabled_reason: r.try_get("disabled_reason")?,
        created_at: to_rfc3339(r.try_get("created_at")?),
    })
}

/// The organization's endpoints, oldest first.
pub(crate) async fn list(conn: &mut AnyConnection, org_id: &str) -> Result<Vec<EndpointView>> {
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM webhook_endpoints WHERE org_id = $1 ORDER BY created_at, id"))
        .bind(org_id)
        .fetch_all(conn)
        .await?;
    rows.iter().map(view_of).collect()
}

/// How many endpoints the organization has.
pub(crate) async fn count(conn: &mut AnyConnection, org_id: &str) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM webhook_endpoints WHERE org_id = $1").bind(org_id).fetch_one(conn).await?)
}

/// Inserts an endpoint (enabled) receiving `types`.
pub(crate) async fn insert(conn: &mut AnyConnection, id: &str, org_id: &str, url: &str, secret: &str, types: &[WebhookEventType], now: i64) -> Result<()> {
    sqlx::query("INSERT INTO webhook_endpoints (id, org_id, url, secret, event_types, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(id)
        .bind(org_id)
        .bind(url)
        .bind(secret)
        .bind(types_text(types))
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

/// Sets what an endpoint of the organization receives; returns whether it exists.
pub(crate) async fn set_event_types(conn: &mut AnyConnection, org_id: &str, id: &str, types: &[WebhookEventType]) -> Result<bool> {
    let done = sqlx::query("UPDATE webhook_endpoints SET event_types = $3 WHERE id = $1 AND org_id = $2")
        .bind(id)
        .bind(org_id)
        .bind(types_text(types))
        .execute(conn)
        .await?;
    Ok(done.rows_affected() != 0)
}

/// One endpoint, which must exist.
pub(crate) async fn get(conn: &mut AnyConnection, id: &str) -> Result<EndpointView> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM webhook_endpoints WHERE id = $1")).bind(id).fetch_one(conn).await?;
    view_of(&row)
}

/// One endpoint of the organization.
pub(crate) async fn find(conn: &mut AnyConnection, org_id: &str, id: &str) -> Result<Option<EndpointView>> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM webhook_endpoints WHERE id = $1 AND org_id = $2"))
        .bind(id)
        .bind(org_id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(view_of).transpose()
}

/// The URL of one endpoint of the organization.
pub(crate) async fn url(conn: &mut AnyConnection, org_id: &str, id: &str) -> Result<Option<String>> {
    Ok(sqlx::query_scalar("SELECT url FROM webhook_endpoints WHERE id = $1 AND org_id = $2")
        .bind(id)
        .bind(org_id)
        .fetch_optional(conn)
        .await?)
}

/// Deletes an endpoint of the organization; returns whether it existed.
pub(crate) async fn delete(conn: &mut AnyConnection, org_id: &str, id: &str) -> Result<bool> {
    let done = sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1 AND org_id = $2").bind(id).bind(org_id).execute(conn).await?;
    Ok(done.rows_affected() != 0)
}

/// Turns an endpoint of the organization on, with no failures.
pub(crate) async fn enable(conn: &mut AnyConnection, org_id: &str, id: &str) -> Result<()> {
    sqlx::query(
        "UPDATE webhook_endpoints SET enabled = 1, consecutive_failures = 0, disabled_reason = NULL WHERE id = $1 AND org_id = $2",
    )
    .bind(id)
    .bind(org_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Turns an endpoint off, saying why.
pub(crate) async fn disable(conn: &mut AnyConnection, id: &str, reason: &str) -> Result<()> {
    sqlx::query("UPDATE webhook_endpoints SET enabled = 0, disabled_reason = $2 WHERE id = $1")
        .bind(id)
        .bind(reason)
        .execute(conn)
        .await?;
    Ok(())
}

/// The organization's enabled endpoints subscribed to `t`, by id.
pub(crate) async fn subscribed_ids(conn: &mut AnyConnection, org_id: &str, t: WebhookEventType) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM webhook_endpoints WHERE org_id = $1 AND enabled = 1 AND (',' || event_types || ',') LIKE $2 ORDER BY id",
    )
    .bind(org_id)
    .bind(format!("%,{},%", t.as_str()))
    .fetch_all(conn)
    .await?)
}

/// Whether the organization has an enabled endpoint subscribed to `t` (one
/// indexed read; the ingest transaction asks it for usage.recorded).
pub(crate) async fn any_subscribed(conn: &mut AnyConnection, org_id: &str, t: WebhookEventType) -> Result<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM webhook_endpoints WHERE org_id = $1 AND enabled = 1 AND (',' || event_types || ',') LIKE $2",
    )
    .bind(org_id)
    .bind(format!("%,{},%", t.as_str()))
    .fetch_one(conn)
    .await?;
    Ok(n > 0)
}

/// Resets an endpoint's count of failures in a row.
pub(crate) async fn reset_failures(conn: &mut AnyConnection, id: &str) -> Result<()> {
    sqlx::query("UPDATE webhook_endpoints SET consecutive_failures = 0 WHERE id = $1").bind(id).execute(conn).await?;
    Ok(())
}

/// Counts one more failure in a row; returns the count.
pub(crate) async fn add_failure(conn: &mut AnyConnection, id: &str) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "UPDATE webhook_endpoints SET consecutive_failures = consecutive_failures + 1 WHERE id = $1 RETURNING consecutive_failures",
    )
    .bind(id)
    .fetch_one(conn)
    .await?)
}

/// One delivery attempt to log.
pub(crate) struct Delivery<'a> {
    pub id: &'a str,
    pub org_id: &'a str,
    pub endpoint_id: &'a str,
    pub notification_id: &'a str,
    pub attempt: i64,
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
    pub at: i64,
}

/// Logs a delivery attempt.
pub(crate) async fn insert_delivery(conn: &mut AnyConnection, d: &Delivery<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO webhook_deliveries (id, org_id, endpoint_id, notification_id, attempt, status_code, error, duration_ms, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(d.id)
    .bind(d.org_id)
    .bind(d.endpoint_id)
    .bind(d.notification_id)
    .bind(d.attempt)
    .bind(d.status_code)
    .bind(d.error.as_deref())
    .bind(d.duration_ms)
    .bind(d.at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The organization's delivery log, newest first, with each endpoint's URL
/// and the notification's subject and state (joined).
pub(crate) async fn deliveries(conn: &mut AnyConnection, org_id: &str, limit: i64) -> Result<Vec<DeliveryView>> {
    let rows = sqlx::query(
        "SELECT d.id, d.endpoint_id, e.url, d.notification_id, n.subject, n.state, d.attempt, d.status_code, d.error, \
         d.duration_ms, d.at FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id \
         JOIN notifications n ON n.id = d.notification_id WHERE d.org_id = $1 ORDER BY d.at DESC, d.id DESC LIMIT $2",
    )
    .bind(org_id)
    .bind(limit)
    .fetch_all(conn)
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
