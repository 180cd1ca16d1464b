//! Standing counts limited by the plan: active projects, documents (as the
//! product reports them) and members (pending invites included, since each
//! becomes a member when accepted). Changes are made under the
//! organization's lock so two concurrent requests cannot both take the last
//! slot.

use serde_json::json;
use sqlx::AnyConnection;

use crate::db::{Db, Engine};
use crate::error::Refusal;
use crate::plans::{Metric, Period};
use crate::{Error, Result};

/// Serializes changes to one organization's counted resources: the row lock
/// on PostgreSQL; SQLite's single writer already serializes transactions.
pub async fn lock_org(conn: &mut AnyConnection, engine: Engine, org_id: &str) -> Result<()> {
    if engine == Engine::Postgres {
        super::store::lock_org(conn, org_id).await?;
    }
    Ok(())
}

/// How many of `metric` the organization has now.
pub async fn count(conn: &mut AnyConnection, org_id: &str, metric: Metric) -> Result<i64> {
    // The time is read only for members (open invites), as before.
    let now = if metric == Metric::Members { crate::clock::now_ms() } else { 0 };
    super::store::standing_count(conn, org_id, metric, now)
        .await?
        .ok_or_else(|| Error::Internal(format!("{metric} is not a counted resource")))
}

/// The refusal for a standing count at its limit.
pub fn refusal(org_id: &str, metric: Metric, limit: i64, used: i64, adding: i64) -> Error {
    let message = format!(
        "{} limit of {} reached: {} in use, {} more asked for; upgrade the plan to raise it",
        metric.label(),
        metric.format_amount(limit),
        metric.format_amount(used),
        metric.format_amount(adding)
    );
    Error::LimitReached(Box::new(Refusal {
        message,
        status: 403,
        limit: format!("{}/{}", metric.as_str(), Period::Total.as_str()),
        details: json!({
            "metric": metric.as_str(),
            "window": Period::Total.as_str(),
            "limit": limit,
            "used": used,
            "reset_at": null,
            "upgrade_path": super::upgrade_path(org_id),
        }),
        retry_after_secs: None,
    }))
}

/// Refuses when adding `adding` of `metric` would pass a hard limit (the
/// refusal is counted for the audit log).
pub async fn ensure_room(db: &Db, conn: &mut AnyConnection, org_id: &str, metric: Metric, adding: i64) -> Result<()> {
    let plan = crate::plans::store::org_plan(conn, org_id).await?;
    let Some(limit) = plan.limit(metric, Period::Total).cloned() else { return Ok(()) };
    if !limit.hard {
        return Ok(());
    }
    let used = count(conn, org_id, metric).await?;
    if used + adding > limit.value {
        return db.refusals().observe(org_id, Err(refusal(org_id, metric, limit.value, used, adding)), crate::clock::now_ms());
    }
    Ok(())
}

/// The documents count after a change.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DocumentsCount {
    pub used: i64,
    /// `None`: unlimited.
    pub limit: Option<i64>,
}

/// Adds `delta` documents (negative to remove), within the plan's limit; the
/// count never goes below zero.
pub async fn change_documents(db: &Db, org_id: &str, delta: i64) -> Result<DocumentsCount> {
    if delta.unsigned_abs() > 1_000_000 {
        return Err(Error::invalid("delta", "must be between -1,000,000 and 1,000,000"));
    }
    let mut tx = db.begin().await?;
    lock_org(&mut tx, db.engine, org_id).await?;
    let used = count(&mut tx, org_id, Metric::Documents).await?;
    let plan = crate::plans::store::org_plan(&mut tx, org_id).await?;
    let limit = plan.limit(Metric::Documents, Period::Total).cloned();
    if used + delta < 0 {
        return Err(Error::invalid("delta", format!("would take the documents count below zero (it is {used})")));
    }
    if let Some(l) = &limit {
        if delta > 0 && l.hard && used + delta > l.value {
            return db.refusals().observe(org_id, Err(refusal(org_id, Metric::Documents, l.value, used, delta)), crate::clock::now_ms());
        }
    }
    super::store::set_documents(&mut tx, org_id, used + delta).await?;
    tx.commit().await?;
    Ok(DocumentsCount { used: used + delta, limit: limit.map(|l| l.value) })
}

/// Standing counts of the resource metrics among `metrics`.
pub async fn counts(conn: &mut AnyConnection, org_id: &str, metrics: impl Iterator<Item = Metric>) -> Result<Vec<(Metric, i64)>> {
    let mut out = Vec::new();
    for m in metrics.filter(|m| m.is_resource()) {
        out.push((m, count(conn, org_id, m).await?));
    }
    Ok(out)
}

