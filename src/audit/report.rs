//! Audit reports for a time range: events by action, the success rate,
//! failed operations and security events, for one organization or all.

use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use super::store;
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

#[cfg(feature = "ssr")]
/// The report of `[from_ms, to_ms)`: one organization's entries (`Some`) or every one (`None`).
pub async fn report(db: &Db, org_id: Option<&str>, from_ms: i64, to_ms: i64) -> Result<AuditReport> {
    if to_ms <= from_ms {
        return Err(Error::invalid("to", "must be after from"));
    }
    let range = store::Range { from_ms, to_ms, org_id };
    let mut conn = db.reader().acquire().await?;
    let mut by_action = store::counts_by_action(&mut conn, &range).await?;
    // Occurrences: entries of the counted actions stand for `details.count`.
    let mut counted: std::collections::HashMap<String, i64> = std::collections::HashMap::new();
    for (action, details) in store::details_of(&mut conn, &range, COUNTED_LIST).await? {
        let n = serde_json::from_str::<serde_json::Value>(&details).ok().and_then(|d| d["count"].as_i64()).unwrap_or(1);
        *counted.entry(action).or_default() += n;
    }
    for a in &mut by_action {
        a.occurrences = counted.get(&a.action).copied().unwrap_or(a.total);
    }
    let total: i64 = by_action.iter().map(|a| a.total).sum();
    let succeeded: i64 = by_action.iter().map(|a| a.success).sum();
    let failed = store::failures(&mut conn, &range, REPORT_LIST_LIMIT).await?;
    let security = store::security_events(&mut conn, &range, SECURITY_ACTIONS, REPORT_LIST_LIMIT).await?;
    let security_total = store::security_count(&mut conn, &range, SECURITY_ACTIONS).await?;
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
