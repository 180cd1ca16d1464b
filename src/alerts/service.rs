//! Alerts of an organization: firing one (with its notifications, in the
//! caller's transaction), listing, the unread count, acknowledging.

use serde_json::json;
use sqlx::AnyConnection;

use super::{store, webhooks, AlertKind, AlertView, WebhookEventType};
use crate::pricing::NanoUsd;
use crate::clock::{now_ms, to_rfc3339};
use crate::db::Db;
use crate::ids::{is_valid_id, new_id};
use crate::{Error, Result};

/// An alert to fire. `dedupe_key` makes it fire once: a second alert with the
/// same key in the organization is not stored and sends nothing.
#[derive(Debug, Clone)]
pub struct NewAlert {
    pub kind: AlertKind,
    pub dedupe_key: String,
    pub budget_id: Option<String>,
    pub scope: String,
    pub scope_id: String,
    pub period_start: Option<i64>,
    pub period_end: Option<i64>,
    pub observed: String,
    pub threshold: String,
    /// The figures behind the sentences, where the alert has them (see
    /// [`super::AlertView`]).
    pub threshold_percent: Option<i64>,
    pub threshold_nanos: Option<i64>,
    pub observed_nanos: Option<i64>,
    pub message: String,
}

/// Stores the alert unless its key fired before, and, in the same
/// transaction, queues its notifications: an e-mail to each recipient of the
/// organization's settings, an `alert.created` webhook to each enabled
/// endpoint subscribed to it and, for an exhausted budget, a
/// `budget.exhausted` one to those subscribed to that. Returns the
/// new alert's id, or `None` when it had fired already.
pub async fn fire(conn: &mut AnyConnection, org_id: &str, alert: &NewAlert, now: i64) -> Result<Option<String>> {
    let id = new_id();
    if !store::insert(conn, &id, org_id, alert, now).await? {
        return Ok(None);
    }
    let org_name = crate::orgs::store::existing_name(conn, org_id).await?;
    let subject = format!("[Tollbooth] {}: {}", org_name, alert.kind.label());
    let settings = super::settings::get_in(conn, org_id).await?;
    if settings.email_enabled {
        let text = format!(
            "{}\n\nOrganization: {}\nObserved: {}\nThreshold: {}\nAt: {}\n\nSee all alerts in Tollbooth under Alerts.\n",
            alert.message,
            org_name,
            alert.observed,
            alert.threshold,
            to_rfc3339(now)
        );
        for to in super::settings::recipients(conn, org_id, &settings).await? {
            super::outbox::enqueue(conn, org_id, Some(&id), "email", &to, &subject, &text, now).await?;
        }
    }
    let alert_json = json!({
        "id": id,
        "kind": alert.kind.as_str(),
        "scope": alert.scope,
        "scope_id": (!alert.scope_id.is_empty()).then_some(&alert.scope_id),
        "budget_id": alert.budget_id,
        "period_start": alert.period_start.map(to_rfc3339),
        "period_end": alert.period_end.map(to_rfc3339),
        "observed": alert.observed,
        "threshold": alert.threshold,
        "threshold_percent": alert.threshold_percent,
        "threshold_usd": alert.threshold_nanos.map(|n| NanoUsd::from_nanos(n).to_usd_string()),
        "observed_usd": alert.observed_nanos.map(|n| NanoUsd::from_nanos(n).to_usd_string()),
        "message": alert.message,
        "created_at": to_rfc3339(now),
    });
    let mut fields = serde_json::Map::new();
    fields.insert("alert".into(), alert_json);
    webhooks::publish(conn, org_id, WebhookEventType::AlertCreated, Some(&id), &subject, fields.clone(), now).await?;
    if alert.kind == AlertKind::BudgetExhausted {
        webhooks::publish(conn, org_id, WebhookEventType::BudgetExhausted, Some(&id), &subject, fields, now).await?;
    }
    Ok(Some(id))
}

async fn org_zone(conn: &mut AnyConnection, org_id: &str) -> Result<chrono_tz::Tz> {
    let tz = crate::orgs::store::time_zone(conn, org_id).await?;
    Ok(crate::calendar::zone(&tz.ok_or(Error::NotFound("organization"))?))
}

/// Largest page of alerts.
pub const MAX_LIST: i64 = 500;

/// The organization's alerts, newest first; only unacknowledged ones when asked.
pub async fn list(db: &Db, org_id: &str, unacknowledged_only: bool, limit: i64) -> Result<Vec<AlertView>> {
    if !(1..=MAX_LIST).contains(&limit) {
        return Err(Error::invalid("limit", format!("must be between 1 and {MAX_LIST}")));
    }
    let mut conn = db.reader().acquire().await?;
    let tz = org_zone(&mut conn, org_id).await?;
    store::list(&mut conn, org_id, tz, unacknowledged_only, limit).await
}

/// How many alerts nobody has acknowledged yet (the bell's count).
pub async fn unread_count(db: &Db, org_id: &str) -> Result<i64> {
    store::unread_count(&mut *db.reader().acquire().await?, org_id).await
}

/// Marks an alert as seen by `by` (a user's e-mail or `api_key:<name>`).
/// Acknowledging twice keeps the first acknowledgement.
pub async fn acknowledge(db: &Db, org_id: &str, id: &str, by: &str) -> Result<AlertView> {
    if !is_valid_id(id) {
        return Err(Error::NotFound("alert"));
    }
    let mut tx = db.begin().await?;
    if !store::acknowledge(&mut tx, org_id, id, by, now_ms()).await? {
        return Err(Error::NotFound("alert"));
    }
    let tz = org_zone(&mut tx, org_id).await?;
    let view = store::get(&mut tx, org_id, id, tz).await?;
    tx.commit().await?;
    Ok(view)
}

/// Acknowledges every open alert of the organization; returns how many.
pub async fn acknowledge_all(db: &Db, org_id: &str, by: &str) -> Result<u64> {
    let mut tx = db.begin().await?;
    let done = store::acknowledge_all(&mut tx, org_id, by, now_ms()).await?;
    tx.commit().await?;
    Ok(done)
}
