//! Audit reports for a time range: events by action, the success rate,
//! failed operations and security events, for one organization or all.

use serde::{Deserialize, Serialize};
#[cfg(feature = "ssr")]
use sqlx::Row;

use super::AuditEntryView;
#[cfg(feature = "ssr")]
use crate::db::Db;
#[cfg(feature = "ssr")]
use crate::{Error, Result};

/// Actions counted as security events whatever their result
/// (`auth.login` only when it failed).
pub const SECURITY_ACTIONS: &[&str] = &["access.denied", "security.webhook_rejected"];

/// Actions written per minute with `details.count` (see `tally`), as SQL.
#[cfg(feature = "ssr")]
const COUNTED_LIST: &str = "'quota.refused', 'budget.refused', 'access.denied'";

/// How many failed operations and security events a report lists (newest first).
#[cfg(feature = "ssr")]
const REPORT_LIST_LIMIT: i64 = 200;

/// One action's count in the range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionCount {
    pub action: String,
    pub total: i64,
    pub success: i64,
    pub failure: i64,
    pub denied: i64,
    /// What the entries stand for: entries written per minute with
    /// `details.count` (refusals) count that many; others count one.
    #[serde(default)]
    pub occurrences: i64,
}

/// The report of a range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditReport {
    pub from_ms: i64,
    pub to_ms: i64,
    pub total: i64,
    pub succeeded: i64,
    /// `succeeded / total` as a percentage with one decimal, `None` without events.
    pub success_rate: Option<String>,
    /// Most frequent first.
    pub by_action: Vec<ActionCount>,
    /// Entries with result `failure`, newest first (at most 200).
    pub failed: Vec<AuditEntryView>,
    /// Failed logins, `access.denied` and rejected webhooks, newest first (at most 200).
    pub security: Vec<AuditEntryView>,
    /// How many security events in all (the list may be cut).
    pub security_total: i64,
}

/// One decimal of `part / whole` percent, rounded half up, without floats.
pub fn percent_1dp(part: i64, whole: i64) -> Option<String> {
    if whole <= 0 {
        return None;
    }
    let tenths = (part * 1000 + whole / 2) / whole;
    Some(format!("{}.{}", tenths / 10, tenths % 10))
}

/// A query bound to the range (`$1`, `$2`) and the organization (`$3`) when given.
#[cfg(feature = "ssr")]
fn scoped<'q>(sql: &'q str, from_ms: i64, to_ms: i64, org_id: Option<&str>) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    let q = sqlx::query(sql).bind(from_ms).bind(to_ms);
    match org_id {
        Some(o) => q.bind(o.to_string()),
        None => q,
    }
}

#[cfg(feature = "ssr")]
/// The report of `[from_ms, to_ms)`: one organization's entries (`Some`) or every one (`None`).
pub async fn report(db: &Db, org_id: Option<&str>, from_ms: i64, to_ms: i64) -> Result<AuditReport> {
    if to_ms <= from_ms {
        return Err(Error::invalid("to", "must be after from"));
    }
    // $1, $2: the range; $3: the organization when given.
    let org_clause = if org_id.is_some() { " AND org_id = $3" } else { "" };
    let scope = format!("at >= $1 AND at < $2{org_clause}");
    let bind = |sql| scoped(sql, from_ms, to_ms, org_id);
    let mut conn = db.reader().acquire().await?;
    let counts_sql = format!(
        "SELECT action, CAST(COUNT(*) AS BIGINT) AS total, \
         CAST(SUM(CASE WHEN result = 'success' THEN 1 ELSE 0 END) AS BIGINT) AS ok, \
         CAST(SUM(CASE WHEN result = 'failure' THEN 1 ELSE 0 END) AS BIGINT) AS failed, \
         CAST(SUM(CASE WHEN result = 'denied' THEN 1 ELSE 0 END) AS BIGINT) AS denied \
         FROM audit_log WHERE {scope} GROUP BY action ORDER BY total DESC, action"
    );
    let mut by_action = Vec::new();
    for r in bind(&counts_sql).fetch_all(&mut *conn).await? {
        by_action.push(ActionCount {
            action: r.try_get("action")?,
            total: r.try_get("total")?,
            success: r.try_get("ok")?,
            failure: r.try_get("failed")?,
            denied: r.try_get("denied")?,
            occurrences: 0,
        });
    }
    // Occurrences: entries of the counted actions stand for `details.count`.
    let counted_sql = format!("SELECT action, details FROM audit_log WHERE {scope} AND action IN ({COUNTED_LIST})");
    let mut counted: std::collections::HashMap<String, i64> = std::collections::HashMap::new();
    for r in bind(&counted_sql).fetch_all(&mut *conn).await? {
        let details: String = r.try_get("details")?;
        let n = serde_json::from_str::<serde_json::Value>(&details).ok().and_then(|d| d["count"].as_i64()).unwrap_or(1);
        *counted.entry(r.try_get("action")?).or_default() += n;
    }
    for a in &mut by_action {
        a.occurrences = counted.get(&a.action).copied().unwrap_or(a.total);
    }
    let total: i64 = by_action.iter().map(|a| a.total).sum();
    let succeeded: i64 = by_action.iter().map(|a| a.success).sum();
    let columns = "seq, id, at, org_id, actor_kind, actor_id, actor_label, action, target, result, ip, user_agent, details";
    let failed_sql = format!("SELECT {columns} FROM audit_log WHERE {scope} AND result = 'failure' ORDER BY seq DESC LIMIT {REPORT_LIST_LIMIT}");
    let failed = bind(&failed_sql).fetch_all(&mut *conn).await?.iter().map(super::service::view_of).collect::<Result<Vec<_>>>()?;
    let security_where = format!(
        "{scope} AND ((action = 'auth.login' AND result <> 'success') OR action IN ({}))",
        SECURITY_ACTIONS.iter().map(|a| format!("'{a}'")).collect::<Vec<_>>().join(", ")
    );
    let security_sql = format!("SELECT {columns} FROM audit_log WHERE {security_where} ORDER BY seq DESC LIMIT {REPORT_LIST_LIMIT}");
    let security = bind(&security_sql).fetch_all(&mut *conn).await?.iter().map(super::service::view_of).collect::<Result<Vec<_>>>()?;
    let count_sql = format!("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM audit_log WHERE {security_where}");
    let security_total: i64 = bind(&count_sql).fetch_one(&mut *conn).await?.try_get("n")?;
    Ok(AuditReport { from_ms, to_ms, total, succeeded, success_rate: percent_1dp(succeeded, total), by_action, failed, security, security_total })
}

#[cfg(test)]
mod tests {
    use super::percent_1dp;

    #[test]
    fn success_rate_rounds_half_up_to_one_decimal() {
        assert_eq!(percent_1dp(2, 3).as_deref(), Some("66.7"));
        assert_eq!(percent_1dp(1, 3).as_deref(), Some("33.3"));
        assert_eq!(percent_1dp(3, 3).as_deref(), Some("100.0"));
        assert_eq!(percent_1dp(0, 0), None);
    }
}
