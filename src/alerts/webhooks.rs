//! Outgoing webhook endpoints, their signature, and the delivery log.
//!
//! Each request carries `Tollbooth-Signature: t=<unix seconds>,v1=<hex>`,
//! the HMAC-SHA256 of `"{t}.{body}"` under the endpoint's secret (the scheme
//! Stripe uses, so receivers can reuse their verification code and reject
//! replays by the timestamp), and `Tollbooth-Delivery: <id>`, the same id
//! as the body's `id`: a retry repeats both, so a receiver drops what it
//! has seen.
//!
//! An endpoint receives the event types it subscribes to
//! ([`WebhookEventType`]); every body is an envelope `{id, type,
//! organization_id, created_at, …}` with the type's own fields beside them
//! ([`publish`]; usage batches: [`super::usage_hooks`]).

use serde_json::{json, Map, Value};
use sqlx::AnyConnection;

use super::outbox::{truncate, Outgoing};
use super::store::outbox as outbox_store;
use super::store::webhooks as store;
use super::{CreatedEndpoint, DeliveryView, EndpointView, WebhookEventType, DISABLE_AFTER_FAILURES};
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

/// The organization's endpoints, oldest first.
pub async fn list(db: &Db, org_id: &str) -> Result<Vec<EndpointView>> {
    store::list(&mut *db.reader().acquire().await?, org_id).await
}

/// A subscription as sent (see [`WebhookEventType::parse_list`]); `None`:
/// alerts only, what endpoints received before subscriptions existed.
pub fn parse_event_types(names: Option<&[String]>) -> Result<Vec<WebhookEventType>> {
    match names {
        None => Ok(vec![WebhookEventType::AlertCreated]),
        Some(names) => WebhookEventType::parse_list(names).map_err(|(field, message)| Error::invalid(field, message)),
    }
}

/// Adds an endpoint with a new random secret (returned once), receiving
/// `event_types` (`None`: alerts). The URL must point at public addresses
/// under `policy`; the change is audited (`webhook.create`, the URL without
/// query or credentials and the types, never the secret).
pub async fn create(
    db: &Db,
    org_id: &str,
    url: &str,
    event_types: Option<&[String]>,
    policy: EgressPolicy,
    by: &By,
) -> Result<CreatedEndpoint> {
    let types = parse_event_types(event_types)?;
    let url = parse_url(url)?;
    crate::egress::check_url("url", &url, policy).await?;
    let mut tx = db.begin().await?;
    let n = store::count(&mut tx, org_id).await?;
    if n >= MAX_ENDPOINTS {
        return Err(Error::conflict("url", format!("an organization may have at most {MAX_ENDPOINTS} webhook endpoints")));
    }
    let id = new_id();
    let secret = format!("whsec_{}", random_hex(24));
    store::insert(&mut tx, &id, org_id, &url, &secret, &types, now_ms()).await?;
    let endpoint = store::get(&mut tx, &id).await?;
    let details = json!({"url": url_for_log(&url), "event_types": types});
    audit::record_in(&mut tx, db.engine, &by.entry(Some(org_id), "webhook.create", Some(&id)).details(details)).await?;
    tx.commit().await?;
    Ok(CreatedEndpoint { endpoint, secret })
}

/// Removes an endpoint (its pending notifications and log go with it);
/// audited as `webhook.delete`.
pub async fn delete(db: &Db, org_id: &str, id: &str, by: &By) -> Result<()> {
    if !is_valid_id(id) {
        return Err(Error::NotFound("webhook endpoint"));
    }
    let mut tx = db.begin().await?;
    let url = store::url(&mut tx, org_id, id).await?;
    let url = url.ok_or(Error::NotFound("webhook endpoint"))?;
    outbox_store::delete_webhooks_to(&mut tx, org_id, id).await?;
    if !store::delete(&mut tx, org_id, id).await? {
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
    let before = store::find(&mut tx, org_id, id).await?.ok_or(Error::NotFound("webhook endpoint"))?;
    store::enable(&mut tx, org_id, id).await?;
    let after = store::get(&mut tx, id).await?;
    if !before.enabled || before.consecutive_failures > 0 {
        let details = json!({
            "url": url_for_log(&before.url),
            "before": {"enabled": before.enabled, "consecutive_failures": before.consecutive_failures, "disabled_reason": before.disabled_reason},
        });
        audit::record_in(&mut tx, db.engine, &by.entry(Some(org_id), "webhook.enable", Some(id)).details(details)).await?;
    }
    tx.commit().await?;
    Ok(after)
}

/// Changes what an endpoint receives; audited as `webhook.update` with the
/// types before and after (nothing is recorded when they do not change).
pub async fn set_event_types(db: &Db, org_id: &str, id: &str, event_types: &[String], by: &By) -> Result<EndpointView> {
    let types = parse_event_types(Some(event_types))?;
    if !is_valid_id(id) {
        return Err(Error::NotFound("webhook endpoint"));
    }
    let mut tx = db.begin().await?;
    let before = store::find(&mut tx, org_id, id).await?.ok_or(Error::NotFound("webhook endpoint"))?;
    store::set_event_types(&mut tx, org_id, id, &types).await?;
    if before.event_types != types {
        let details = json!({"url": url_for_log(&before.url), "before": before.event_types, "after": types});
        audit::record_in(&mut tx, db.engine, &by.entry(Some(org_id), "webhook.update", Some(id)).details(details)).await?;
    }
    let after = store::get(&mut tx, id).await?;
    tx.commit().await?;
    Ok(after)
}

/// The organization's enabled endpoints subscribed to `t`.
pub(crate) async fn subscribed_endpoint_ids(conn: &mut AnyConnection, org_id: &str, t: WebhookEventType) -> Result<Vec<String>> {
    store::subscribed_ids(conn, org_id, t).await
}

/// Whether any enabled endpoint of the organization receives `t`.
pub(crate) async fn any_subscribed(conn: &mut AnyConnection, org_id: &str, t: WebhookEventType) -> Result<bool> {
    store::any_subscribed(conn, org_id, t).await
}

/// A webhook body: the envelope (`id`, the delivery's id, also sent as
/// `Tollbooth-Delivery`; `type`; `organization_id`; `created_at`) and the
/// type's own `fields`.
pub fn envelope(delivery_id: &str, t: WebhookEventType, org_id: &str, now: i64, fields: Map<String, Value>) -> String {
    let mut body = Map::new();
    body.insert("id".into(), json!(delivery_id));
    body.insert("type".into(), json!(t.as_str()));
    body.insert("organization_id".into(), json!(org_id));
    body.insert("created_at".into(), json!(to_rfc3339(now)));
    body.extend(fields);
    Value::Object(body).to_string()
}

/// Queues a `t` webhook to each enabled endpoint subscribed to it, in the
/// caller's transaction (so it is sent if and only if what it reports
/// commits); returns how many were queued.
pub async fn publish(
    conn: &mut AnyConnection,
    org_id: &str,
    t: WebhookEventType,
    alert_id: Option<&str>,
    subject: &str,
    fields: Map<String, Value>,
    now: i64,
) -> Result<usize> {
    let endpoints = store::subscribed_ids(conn, org_id, t).await?;
    for endpoint in &endpoints {
        let id = new_id();
        let body = envelope(&id, t, org_id, now, fields.clone());
        outbox_store::insert(conn, &id, org_id, alert_id, "webhook", endpoint, subject, &body, now).await?;
    }
    Ok(endpoints.len())
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
    let delivery = store::Delivery {
        id: &new_id(),
        org_id: &n.org_id,
        endpoint_id: &n.recipient,
        notification_id: &n.id,
        attempt: n.attempts + 1,
        status_code: a.status_code.map(i64::from),
        error: error.as_deref().map(|e| truncate(e, 500)),
        duration_ms: a.duration_ms,
        at: now,
    };
    store::insert_delivery(&mut *db.writer().acquire().await?, &delivery).await?;
    if a.succeeded() {
        store::reset_failures(&mut *db.writer().acquire().await?, &n.recipient).await?;
        return super::outbox::mark_sent(db, &n.id, now).await;
    }
    let error = error.unwrap_or_else(|| "delivery failed".into());
    let failures = store::add_failure(&mut *db.writer().acquire().await?, &n.recipient).await?;
    if failures >= DISABLE_AFTER_FAILURES {
        let reason =
            format!("Disabled at {} after {failures} failed deliveries in a row; the last: {error}", to_rfc3339(now));
        let mut tx = db.begin().await?;
        store::disable(&mut tx, &n.recipient, &reason).await?;
        outbox_store::fail_pending_webhooks(&mut tx, &n.recipient, &n.id, "the endpoint was disabled").await?;
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
    store::deliveries(&mut *db.reader().acquire().await?, org_id, limit).await
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
