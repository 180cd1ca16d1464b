//! Refusals counted per minute: a client hammering a limit would otherwise
//! write one audit entry per request. Each refusal is counted in memory under
//! (minute, organization, action, limit); a flush writes one entry per key
//! with `details.count`, after its minute has ended (and everything at
//! shutdown).
//!
//! Refused Stripe webhooks (`security.webhook_rejected`) are counted the same
//! way, with no organization and the caller's IP address as the target (and
//! the entry's origin): a flood of forged requests writes one entry per
//! minute and address, not one per request.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::json;

use super::{Actor, NewEntry, Origin, Outcome};
use crate::clock::to_rfc3339;
use crate::db::Db;
use crate::error::Refusal;
use crate::{Error, Result};

const MINUTE_MS: i64 = 60_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    minute: i64,
    /// `None` for refusals that belong to no organization (forged webhooks).
    org_id: Option<String>,
    action: &'static str,
    target: String,
}

#[derive(Debug, Clone)]
struct Count {
    n: u64,
    /// The first refusal's message and status, as an example.
    message: String,
    status: u16,
}

/// This process's refusals not yet written to the audit log.
#[derive(Debug, Default)]
pub struct RefusalTally {
    counts: Mutex<HashMap<Key, Count>>,
}

/// The audit action of a refused inbound webhook (bad signature).
pub const WEBHOOK_REJECTED: &str = "security.webhook_rejected";

/// The audit action of a refusal: a paused budget or a plan limit.
fn action_of(r: &Refusal) -> &'static str {
    if r.limit.starts_with("budget:") {
        "budget.refused"
    } else {
        "quota.refused"
    }
}

impl Db {
    /// Limit refusals counted per minute for the audit log (see [`flush_refusals`]).
    pub fn refusals(&self) -> std::sync::Arc<RefusalTally> {
        self.state()
    }
}

impl RefusalTally {
    /// Counts one refusal of `org_id` at `now_ms`.
    pub fn note(&self, org_id: &str, r: &Refusal, now_ms: i64) {
        self.count(org_id, action_of(r), &r.limit, &r.message, r.status, now_ms);
    }

    /// Counts `result`'s refusal, if it is one; returns it unchanged.
    pub fn observe<T>(&self, org_id: &str, result: Result<T>, now_ms: i64) -> Result<T> {
        if let Err(Error::LimitReached(r)) = &result {
            self.note(org_id, r, now_ms);
        }
        result
    }

    /// Counts a plan limit's refusal that is an answer, not an error (a
    /// quota check saying no).
    pub fn note_limit(&self, org_id: &str, limit: &str, message: &str, status: u16, now_ms: i64) {
        self.count(org_id, "quota.refused", limit, message, status, now_ms);
    }

    /// Counts a denial that is not a limit (an API call of a suspended
    /// organization): `access.denied` on `target`.
    pub fn note_denied(&self, org_id: &str, target: &str, message: &str, now_ms: i64) {
        self.count(org_id, "access.denied", target, message, 403, now_ms);
    }

    /// Counts a refused Stripe webhook from `ip`; `reason` is kept from the
    /// minute's first one.
    pub fn note_webhook_rejected(&self, ip: &str, reason: &str, now_ms: i64) {
        self.count_for(None, WEBHOOK_REJECTED, ip, reason, 400, now_ms);
    }

    fn count(&self, org_id: &str, action: &'static str, target: &str, message: &str, status: u16, now_ms: i64) {
        self.count_for(Some(org_id), action, target, message, status, now_ms);
    }

    fn count_for(&self, org_id: Option<&str>, action: &'static str, target: &str, message: &str, status: u16, now_ms: i64) {
        let key = Key { minute: now_ms.div_euclid(MINUTE_MS), org_id: org_id.map(str::to_string), action, target: target.to_string() };
        let mut counts = self.counts.lock().expect("refusal tally");
        counts.entry(key).or_insert_with(|| Count { n: 0, message: message.to_string(), status }).n += 1;
    }

    /// Removes the counts of minutes ended by `now_ms` (all with `all`).
    fn take(&self, now_ms: i64, all: bool) -> Vec<(Key, Count)> {
        let current = now_ms.div_euclid(MINUTE_MS);
        let mut counts = self.counts.lock().expect("refusal tally");
        let due: Vec<Key> = counts.keys().filter(|k| all || k.minute < current).cloned().collect();
        let mut out: Vec<(Key, Count)> = due.into_iter().filter_map(|k| counts.remove_entry(&k)).collect();
        out.sort_by(|a, b| (a.0.minute, &a.0.org_id, a.0.action, &a.0.target).cmp(&(b.0.minute, &b.0.org_id, b.0.action, &b.0.target)));
        out
    }

    /// Puts counts back after a failed write (added to any counted since).
    fn restore(&self, taken: Vec<(Key, Count)>) {
        let mut counts = self.counts.lock().expect("refusal tally");
        for (k, c) in taken {
            counts.entry(k).and_modify(|e| e.n += c.n).or_insert(c);
        }
    }

    /// Refusals counted and not yet written.
    pub fn pending(&self) -> u64 {
        self.counts.lock().expect("refusal tally").values().map(|c| c.n).sum()
    }
}

/// Writes the counts of ended minutes (every count with `all`, at shutdown)
/// as one entry per minute × organization × action × limit, in one
/// transaction; on failure the counts are kept for the next flush. Returns
/// the number of entries written.
pub async fn flush_refusals(db: &Db, now_ms: i64, all: bool) -> Result<usize> {
    let taken = db.refusals().take(now_ms, all);
    if taken.is_empty() {
        return Ok(0);
    }
    match write(db, &taken).await {
        Ok(()) => Ok(taken.len()),
        Err(e) => {
            db.refusals().restore(taken);
            Err(e)
        }
    }
}

async fn write(db: &Db, taken: &[(Key, Count)]) -> Result<()> {
    let mut tx = db.begin().await?;
    for (k, c) in taken {
        let details = json!({
            "count": c.n,
            "from": to_rfc3339(k.minute * MINUTE_MS),
            "to": to_rfc3339((k.minute + 1) * MINUTE_MS),
            "status": c.status,
            "message": c.message,
        });
        let webhook = k.action == WEBHOOK_REJECTED;
        let actor = if webhook { Actor::system("stripe webhook") } else { Actor::system("limits") };
        let mut entry = NewEntry::new(k.org_id.as_deref(), actor, k.action, Some(&k.target)).result(Outcome::Denied).details(details);
        if webhook {
            entry = entry.origin(Origin { ip: Some(&k.target), user_agent: None });
        }
        super::record_in(&mut tx, db.engine, &entry).await?;
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(limit: &str) -> Refusal {
        Refusal { message: format!("{limit} reached"), status: 429, limit: limit.into(), details: json!({}), retry_after_secs: None }
    }

    #[test]
    fn refusals_are_counted_per_minute_org_and_limit() {
        let t = RefusalTally::default();
        let m = 1_700_000_040_000; // a minute boundary
        for i in 0..5 {
            t.note("a", &refusal("tokens/day"), m + i * 1000);
        }
        t.note("a", &refusal("budget:b1"), m + 5000);
        t.note("b", &refusal("tokens/day"), m + 5000);
        t.note("a", &refusal("tokens/day"), m + MINUTE_MS); // the next minute
        assert_eq!(t.pending(), 8);

        // Nothing of a running minute is taken, unless all is asked.
        assert!(t.take(m + 30_000, false).is_empty());
        let ended = t.take(m + MINUTE_MS + 1, false);
        let summary: Vec<(&str, &str, &str, u64)> =
            ended.iter().map(|(k, c)| (k.org_id.as_deref().unwrap_or(""), k.action, k.target.as_str(), c.n)).collect();
        assert_eq!(
            summary,
            vec![("a", "budget.refused", "budget:b1", 1), ("a", "quota.refused", "tokens/day", 5), ("b", "quota.refused", "tokens/day", 1)]
        );
        assert_eq!(t.pending(), 1);
        assert_eq!(t.take(m + MINUTE_MS + 1, true).len(), 1);
        assert_eq!(t.pending(), 0);
    }

    #[test]
    fn refused_webhooks_are_counted_per_minute_and_address_without_an_organization() {
        let t = RefusalTally::default();
        let m = 1_700_000_040_000;
        for i in 0..1000 {
            t.note_webhook_rejected("203.0.113.9", "no v1 signature matches", m + i);
        }
        t.note_webhook_rejected("198.51.100.1", "stale", m + 2);
        let ended = t.take(m + MINUTE_MS, false);
        let summary: Vec<(Option<&str>, &str, &str, u64)> =
            ended.iter().map(|(k, c)| (k.org_id.as_deref(), k.action, k.target.as_str(), c.n)).collect();
        assert_eq!(summary, vec![(None, WEBHOOK_REJECTED, "198.51.100.1", 1), (None, WEBHOOK_REJECTED, "203.0.113.9", 1000)]);
    }

    #[test]
    fn restored_counts_add_to_new_ones() {
        let t = RefusalTally::default();
        let m = 1_700_000_040_000;
        t.note("a", &refusal("requests/minute"), m);
        let taken = t.take(m, true);
        t.note("a", &refusal("requests/minute"), m + 1);
        t.restore(taken);
        assert_eq!(t.pending(), 2);
        assert_eq!(t.take(m, true).len(), 1);
    }

    #[test]
    fn only_limit_refusals_are_observed() {
        let t = RefusalTally::default();
        let r: Result<()> = Err(Error::LimitReached(Box::new(refusal("projects/total"))));
        assert!(t.observe("a", r, 0).is_err());
        let r: Result<()> = Err(Error::NotFound("x"));
        assert!(t.observe("a", r, 0).is_err());
        assert!(t.observe("a", Ok(1), 0).is_ok());
        assert_eq!(t.pending(), 1);
    }
}
