//! Alerts of an organization: firing one (with its notifications, in the
//! caller's transaction), listing, the unread count, acknowledging.

use serde_json::json;
use sqlx::{AnyConnection, Row};

use super::{AlertKind, AlertView};
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
    pub message: String,
}

/// Stores the alert unless its key fired before, and, in the same
/// transaction, queues its notifications: an e-mail to each recipient of the
/// organization's settings and a webhook to each enabled endpoint. Returns the
/// new alert's id, or `None` when it had fired already.
pub async fn fire(conn: &mut AnyConnection, org_id: &str, alert: &NewAlert, now: i64) -> Result<Option<String>> {
    let id = new_id();
    let done = sqlx::query(
        "INSERT INTO alerts (id, org_id, kind, dedupe_key, budget_id, scope, scope_id, period_start, period_end, \
         observed, threshold, message, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
         ON CONFLICT (org_id, dedupe_key) DO NOTHING",
    )
    .bind(&id)
    .bind(org_id)
    .bind(alert.kind.as_str())
    .bind(&alert.dedupe_key)
    .bind(&alert.budget_id)
    .bind(&alert.scope)
    .bind(&alert.scope_id)
    .bind(alert.period_start)
    .bind(alert.period_end)
    .bind(&alert.observed)
    .bind(&alert.threshold)
    .bind(&alert.message)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(None);
    }
    let org_name: String =
        sqlx::query_scalar("SELECT name FROM organizations WHERE id = $1").bind(org_id).fetch_one(&mut *conn).await?;
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
    let body = json!({
        "type": "alert.created",
        "organization_id": org_id,
        "alert": {
            "id": id,
            "kind": alert.kind.as_str(),
            "scope": alert.scope,
            "scope_id": (!alert.scope_id.is_empty()).then_some(&alert.scope_id),
            "budget_id": alert.budget_id,
            "period_start": alert.period_start.map(to_rfc3339),
            "period_end": alert.period_end.map(to_rfc3339),
            "observed": alert.observed,
            "threshold": alert.threshold,
            "message": alert.message,
            "created_at": to_rfc3339(now),
        }
    })
    .to_string();
    for endpoint in super::webhooks::enabled_endpoint_ids(conn, org_id).await? {
        super::outbox::enqueue(conn, org_id, Some(&id), "webhook", &endpoint, &subject, &body, now).await?;
    }
    Ok(Some(id))
}

const COLUMNS: &str = "id, kind, scope, scope_id, budget_id, period_start, period_end, observed, threshold, message, \
                       created_at, acknowledged_by, acknowledged_at";

fn view_of(r: &sqlx::any::AnyRow, tz: chrono_tz::Tz) -> Result<AlertView> {
    let local = |ms: i64| crate::calendar::to_local_rfc3339(tz, ms);
    let kind: String = r.try_get("kind")?;
    let scope_id: String = r.try_get("scope_id")?;
    Ok(AlertView {
        id: r.try_get("id")?,
        kind: AlertKind::parse(&kind).ok_or_else(|| Error::Internal(format!("bad alert kind {kind:?} in store")))?,
        scope: r.try_get("scope")?,
        scope_id: (!scope_id.is_empty()).then_some(scope_id),
        budget_id: r.try_get("budget_id")?,
        period_start: r.try_get::<Option<i64>, _>("period_start")?.map(local),
        period_end: r.try_get::<Option<i64>, _>("period_end")?.map(local),
        observed: r.try_get("observed")?,
        threshold: r.try_get("threshold")?,
        message: r.try_get("message")?,
        created_at: local(r.try_get("created_at")?),
        acknowledged_by: r.try_get("acknowledged_by")?,
        acknowledged_at: r.try_get::<Option<i64>, _>("acknowledged_at")?.map(local),
    })
}

async fn org_zone(conn: &mut AnyConnection, org_id: &str) -> Result<chrono_tz::Tz> {
    let tz: Option<String> =
        sqlx::query_scalar("SELECT time_zone FROM organizations WHERE id = $1").bind(org_id).fetch_optional(conn).await?;
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
    let filter = if unacknowledged_only { " AND acknowledged_at IS NULL" } else { "" };
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM alerts WHERE org_id = $1{filter} ORDER BY created_at DESC, id DESC LIMIT $2"
    ))
    .bind(org_id)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(|r| view_of(r, tz)).collect()
}

/// How many alerts nobody has acknowledged yet (the bell's count).
pub async fn unread_count(db: &Db, org_id: &str) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM alerts WHERE org_id = $1 AND acknowledged_at IS NULL")
        .bind(org_id)
        .fetch_one(db.reader())
        .await?)
}

/// Marks an alert as seen by `by` (a user's e-mail or `api_key:<name>`).
/// Acknowledging twice keeps the first acknowledgement.
pub async fn acknowledge(db: &Db, org_id: &str, id: &str, by: &str) -> Result<AlertView> {
    if !is_valid_id(id) {
        return Err(Error::NotFound("alert"));
    }
    let mut tx = db.begin().await?;
    let found = sqlx::query(
        "UPDATE alerts SET acknowledged_by = COALESCE(acknowledged_by, $3), acknowledged_at = COALESCE(acknowledged_at, $4) \
         WHERE id = $1 AND org_id = $2",
    )
    .bind(id)
    .bind(org_id)
    .bind(by)
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    if found.rows_affected() == 0 {
        return Err(Error::NotFound("alert"));
    }
    let tz = org_zone(&mut tx, org_id).await?;
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM alerts WHERE id = $1 AND org_id = $2"))
        .bind(id)
        .bind(org_id)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    view_of(&row, tz)
}

/// Acknowledges every open alert of the organization; returns how many.
pub async fn acknowledge_all(db: &Db, org_id: &str, by: &str) -> Result<u64> {
    let mut tx = db.begin().await?;
    let done = sqlx::query(
        "UPDATE alerts SET acknowledged_by = $2, acknowledged_at = $3 WHERE org_id = $1 AND acknowledged_at IS NULL",
    )
    .bind(org_id)
    .bind(by)
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(done.rows_affected())
}
