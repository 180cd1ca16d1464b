//! Budget enforcement: each budget's spend per period is a counter
//! (`budget_spend`) updated in the ingest transaction, which also says which
//! thresholds the batch crossed (the alerts module turns them into alerts),
//! and a budget with the pause action is a cap ([`crate::quota::caps`]) on
//! the checks and reservations of its scope: [`judge`] is its rule.

use std::collections::BTreeMap;

use chrono_tz::Tz;
use serde_json::json;
use sqlx::AnyConnection;

use super::store::{self, Watched};
use super::{crossed, period_window, Scope};
use crate::calendar::Window;
use crate::metering::Recorded;
use crate::error::Refusal;
use crate::pricing::NanoUsd;
use crate::calendar::{to_local_rfc3339, zone};
use crate::quota::{Cap, CapSpent, Covers, Standing};
use crate::Result;

pub use crate::quota::Subject;

/// The cost of one recorded event and who it belongs to.
#[derive(Debug, Clone, Copy)]
pub struct Spend<'a> {
    pub ts: i64,
    pub cost_nanos: i64,
    pub project_id: Option<&'a str>,
    pub user_id: Option<&'a str>,
    pub api_key_id: Option<&'a str>,
}

impl Watched {
    fn covers(&self, project: Option<&str>, user: Option<&str>, key: Option<&str>) -> bool {
        let id = Some(self.scope_id.as_str());
        match self.scope {
            Scope::Organization => true,
            Scope::Project => project == id,
            Scope::User => user == id,
            Scope::ApiKey => key == id,
        }
    }

    fn describe(&self) -> String {
        describe(self.period.as_str(), &self.name, self.scope, &self.scope_id)
    }

    /// Whom the budget covers, as a cap.
    fn covered(&self) -> Covers {
        let id = self.scope_id.clone();
        match self.scope {
            Scope::Organization => Covers::Organization,
            Scope::Project => Covers::Project(id),
            Scope::User => Covers::User(id),
            Scope::ApiKey => Covers::ApiKey(id),
        }
    }

    /// The budget as a cap in the period containing `now`, with its spend.
    fn cap(&self, tz: Tz, spent: i64, now: i64) -> Cap {
        Cap {
            id: self.id.clone(),
            name: self.name.clone(),
            period: self.period.as_str(),
            covers: self.covered(),
            window: period_window(tz, self.period, now),
            tz,
            amount: self.amount,
            spent,
        }
    }
}

/// A budget in a sentence: `monthly budget "Bot" for project support-bot`.
fn describe(period: &str, name: &str, scope: Scope, scope_id: &str) -> String {
    match scope {
        Scope::Organization => format!("{period} budget \"{name}\" for the organization"),
        s => format!("{period} budget \"{name}\" for {} {scope_id}", s.as_str().replace('_', " ")),
    }
}

/// A cap's scope and scope id, as budgets name them.
fn scope_of(c: &Covers) -> (Scope, &str) {
    match c {
        Covers::Organization => (Scope::Organization, ""),
        Covers::Project(id) => (Scope::Project, id),
        Covers::User(id) => (Scope::User, id),
        Covers::ApiKey(id) => (Scope::ApiKey, id),
    }
}

/// A threshold of a budget that a batch moved the budget's counter across,
/// in the period that contains now: what the budget alert says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crossing {
    pub budget_id: String,
    pub scope: Scope,
    /// The project, user or API key id; empty for the organization.
    pub scope_id: String,
    /// The budget in a sentence: `monthly budget "Bot" for project support-bot`.
    pub description: String,
    /// The budget's amount (nano-USD) and the threshold crossed (percent of it).
    pub amount: i64,
    pub threshold: u32,
    /// The period's spend after the batch (nano-USD).
    pub spent: i64,
    pub period_start: i64,
    pub period_end: i64,
    /// When the period ends, in the organization's zone (RFC 3339).
    pub period_end_local: String,
}

/// What a batch did to the budgets' counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counted {
    /// The thresholds it crossed in the current period.
    pub crossings: Vec<Crossing>,
    /// Each counter it changed, with its value after the batch (for the
    /// in-memory ledger's caps, step 5 of the ingest order).
    pub spent: Vec<CapSpent>,
}

/// Step 3 of the ingest order ([`crate::ingest`]): a recorded batch's spend
/// added to the budgets' counters, returning the thresholds it crossed and
/// the counters' new values.
pub async fn on_recorded(conn: &mut AnyConnection, recorded: &Recorded<'_>, tz_name: &str, now: i64) -> Result<Counted> {
    let spends: Vec<Spend> = recorded
        .events
        .iter()
        .map(|r| Spend {
            ts: r.event.timestamp_ms,
            cost_nanos: r.cost_nano.unwrap_or(0),
            project_id: r.event.project_id.as_deref(),
            user_id: r.event.user_id.as_deref(),
            api_key_id: recorded.api_key_id,
        })
        .collect();
    count_usage(conn, recorded.org_id, tz_name, &spends, now).await
}

/// Adds a recorded batch's spend to the counters of the budgets covering it,
/// and returns the thresholds it crosses in the current period (in budget
/// and period order, each budget's thresholds ascending). Runs in the
/// transaction that stores the events, after they (and the day counters)
/// are written, so a counter seeded now from the stored usage includes them.
pub async fn on_usage(conn: &mut AnyConnection, org_id: &str, tz_name: &str, spends: &[Spend<'_>], now: i64) -> Result<Vec<Crossing>> {
    Ok(count_usage(conn, org_id, tz_name, spends, now).await?.crossings)
}

/// [`on_usage`], also returning each changed counter's new value.
pub async fn count_usage(conn: &mut AnyConnection, org_id: &str, tz_name: &str, spends: &[Spend<'_>], now: i64) -> Result<Counted> {
    let mut counted = Counted::default();
    if spends.iter().all(|s| s.cost_nanos == 0) {
        return Ok(counted);
    }
    let budgets = store::watched(conn, org_id).await?;
    if budgets.is_empty() {
        return Ok(counted);
    }
    let tz = zone(tz_name);
    // (budget index, period start) → (period end, added spend); ordered, so
    // concurrent batches lock counters in the same order.
    let mut deltas: BTreeMap<(usize, i64), (i64, i64)> = BTreeMap::new();
    for s in spends.iter().filter(|s| s.cost_nanos != 0) {
        for (i, b) in budgets.iter().enumerate() {
            if b.covers(s.project_id, s.user_id, s.api_key_id) {
                let w = period_window(tz, b.period, s.ts);
                deltas.entry((i, w.start_ms)).or_insert((w.end_ms, 0)).1 += s.cost_nanos;
            }
        }
    }
    for ((i, start), (end, delta)) in deltas {
        let b = &budgets[i];
        let after = add(conn, org_id, b, start, end, delta).await?;
        let before = after - delta;
        counted.spent.push(CapSpent { id: b.id.clone(), period_start: start, spent: after });
        if !(start <= now && now < end) {
            continue; // a late event of a past period: counted, not alerted
        }
        for t in crossed(&b.thresholds, b.amount, before, after) {
            counted.crossings.push(Crossing {
                budget_id: b.id.clone(),
                scope: b.scope,
                scope_id: b.scope_id.clone(),
                description: b.describe(),
                amount: b.amount,
                threshold: t,
                spent: after,
                period_start: start,
                period_end: end,
                period_end_local: to_local_rfc3339(tz, end),
            });
        }
    }
    Ok(counted)
}

/// Adds `delta` to the budget's counter for the period and returns the new
/// value. The first batch of a period seeds the counter from the stored usage
/// (which already holds this batch); a concurrent first batch that loses the
/// insert adds only its own delta to the winner's row.
async fn add(conn: &mut AnyConnection, org_id: &str, b: &Watched, start: i64, end: i64, delta: i64) -> Result<i64> {
    if let Some(v) = store::add_spend(conn, &b.id, start, delta).await? {
        return Ok(v);
    }
    let seed = super::spend(conn, org_id, b.scope, &b.scope_id, Window { start_ms: start, end_ms: end }).await?;
    store::seed_spend(conn, org_id, &b.id, start, end, seed, delta).await
}

/// Forgets a budget's counters (its scope or period changed) and seeds the
/// current period's from the stored usage, in the caller's transaction.
pub async fn reset(conn: &mut AnyConnection, org_id: &str, budget_id: &str, now: i64) -> Result<()> {
    store::delete_spend(conn, budget_id).await?;
    let (b, time_zone) = store::watched_with_zone(conn, org_id, budget_id).await?;
    let w = period_window(zone(&time_zone), b.period, now);
    let seed = super::spend(conn, org_id, b.scope, &b.scope_id, w).await?;
    store::insert_spend(conn, org_id, budget_id, w.start_ms, w.end_ms, seed).await
}

/// How long a caller refused because reservations in flight hold the rest of
/// a budget is told to wait: they settle within seconds (a commit or a
/// release), or expire with their TTL.
pub const HELD_RETRY_SECS: u64 = 2;

/// What a pause budget says to `cost` more for a caller it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Allow,
    /// The period's spend reached the amount: everything is refused, even a
    /// zero ask, until the period ends or the budget rises.
    Exhausted,
    /// Spend, held and asked together pass the amount, but spend and asked
    /// alone do not: room comes back as calls in flight settle.
    Held,
    /// Spend and asked alone pass the amount: only a new period helps.
    TooMuch,
}

/// The rule of a pause budget, as exact integer arithmetic: it allows `cost`
/// when `spent + held + cost <= amount`, where `held` is what active,
/// unexpired reservations it covers hold, and refuses everything once
/// `spent >= amount` — what a hard plan limit does with its used and
/// reserved amounts, so that reservations granted together never promise
/// more than the budget.
fn verdict(amount: i64, spent: i64, held: i64, cost: i64) -> Verdict {
    let (amount, spent, held, cost) = (amount as i128, spent as i128, held.max(0) as i128, cost.max(0) as i128);
    if spent >= amount {
        Verdict::Exhausted
    } else if spent + held + cost <= amount {
        Verdict::Allow
    } else if spent + cost <= amount {
        Verdict::Held
    } else {
        Verdict::TooMuch
    }
}

/// Whether the pause budget `cap` refuses `cost` more (nano-USD) for a
/// caller it covers, with `held` of it held by `calls` reservations in
/// flight: the refusal (429 naming the budget) or `None`. A cap whose period
/// does not contain `now` is stale and refuses nothing.
pub fn judge(cap: &Cap, held: i64, calls: i64, cost: i64, now: i64) -> Option<Refusal> {
    if !(cap.window.start_ms <= now && now < cap.window.end_ms) {
        return None;
    }
    let v = verdict(cap.amount, cap.spent, held, cost);
    if v == Verdict::Allow {
        return None;
    }
    let (scope, scope_id) = scope_of(&cap.covers);
    let about = describe(cap.period, &cap.name, scope, scope_id);
    let usd = |n: i64| NanoUsd::from_nanos(n).to_short_usd_string();
    let resets_at = to_local_rfc3339(cap.tz, cap.window.end_ms);
    let until_reset = ((cap.window.end_ms - now).max(1000) / 1000) as u64;
    let (amount, spent) = (usd(cap.amount), usd(cap.spent));
    let in_flight = format!("${} held by {calls} call{} in flight", usd(held), if calls == 1 { "" } else { "s" });
    let left = usd((cap.amount as i128 - cap.spent as i128 - held as i128).clamp(0, i64::MAX as i128) as i64);
    let (message, retry) = match v {
        Verdict::Exhausted => (
            format!("The {about} is exhausted (${spent} of ${amount}) and set to pause: requests are refused until {resets_at} or until the budget is raised"),
            until_reset,
        ),
        Verdict::Held => (
            format!(
                "The {about} is set to pause and has ${left} left of ${amount} (${spent} spent, {in_flight}): ${} more is refused until calls in flight settle or the budget is raised",
                usd(cost)
            ),
            HELD_RETRY_SECS.min(until_reset),
        ),
        _ => (
            format!(
                "The {about} is set to pause and has ${left} left of ${amount} (${spent} spent, {in_flight}): ${} more is refused until {resets_at} or until the budget is raised",
                usd(cost)
            ),
            until_reset,
        ),
    };
    Some(Refusal {
        message,
        status: 429,
        limit: format!("budget:{}", cap.id),
        details: json!({
            "limit": "budget",
            "budget": {
                "id": cap.id, "name": cap.name, "scope": scope.as_str(),
                "scope_id": (!scope_id.is_empty()).then_some(scope_id),
                "period": cap.period, "amount_usd": amount, "spent_usd": spent,
                "held_usd": usd(held), "held_calls": calls, "requested_usd": usd(cost),
            },
            "resets_at": resets_at,
        }),
        retry_after_secs: Some(retry),
    })
}

/// The organization's pause budgets as caps in their current period, with
/// what the period spent (SQLite: loaded with the in-memory ledger).
pub async fn caps(conn: &mut AnyConnection, org_id: &str, tz: Tz, now: i64) -> Result<Vec<Cap>> {
    Ok(store::pause_spend(conn, org_id, now).await?.into_iter().map(|(b, spent)| b.cap(tz, spent, now)).collect())
}

/// The pause budgets covering `who`, each with its current period's spend
/// and the cost held by the active reservations it covers, read in one
/// statement (PostgreSQL, on the caller's connection: see
/// [`store::pause_standing`]).
pub async fn standing_in(conn: &mut AnyConnection, org_id: &str, who: &Subject, now: i64) -> Result<Vec<Standing>> {
    Ok(store::pause_standing(conn, org_id, who, now)
        .await?
        .into_iter()
        .map(|s| Standing { cap: s.budget.cap(zone(&s.time_zone), s.spent, now), held: s.held, calls: s.calls })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const USD: i64 = 1_000_000_000;

    fn cap(spent: i64) -> Cap {
        Cap {
            id: "b1".into(),
            name: "Bot".into(),
            period: crate::budgets::BudgetPeriod::Monthly.as_str(),
            covers: Covers::Project("bot".into()),
            window: Window { start_ms: 0, end_ms: 3_600_000 },
            tz: chrono_tz::UTC,
            amount: USD,
            spent,
        }
    }

    #[test]
    fn a_pause_budget_counts_what_calls_in_flight_hold() {
        let q = USD / 4;
        // $1: four calls of $0.25 fit, the fifth does not.
        assert_eq!(verdict(USD, 0, 3 * q, q), Verdict::Allow);
        assert_eq!(verdict(USD, 0, 4 * q, q), Verdict::Held);
        assert_eq!(verdict(USD, 0, 4 * q, 0), Verdict::Allow, "nothing more asked passes nothing");
        // $0.10 spent, $0.50 held: $0.40 left exactly.
        assert_eq!(verdict(USD, USD / 10, 2 * q, 4 * USD / 10), Verdict::Allow);
        assert_eq!(verdict(USD, USD / 10, 2 * q, 4 * USD / 10 + 1), Verdict::Held);
        // What no settling can make room for waits for the period.
        assert_eq!(verdict(USD, 9 * USD / 10, 0, q), Verdict::TooMuch);
        assert_eq!(verdict(USD, USD, 0, 0), Verdict::Exhausted, "spent: even a zero ask is refused");
        assert_eq!(verdict(USD, 2 * USD, 0, 0), Verdict::Exhausted);
        assert_eq!(verdict(i64::MAX, i64::MAX - 1, i64::MAX, i64::MAX), Verdict::TooMuch, "no overflow");
    }

    #[test]
    fn a_refusal_names_the_budget_what_is_held_and_when_to_retry() {
        let now = 1_800_000;
        assert!(judge(&cap(0), 3 * USD / 4, 3, USD / 4, now).is_none());
        let r = judge(&cap(0), 3 * USD / 4, 3, USD / 2, now).expect("refused");
        assert_eq!((r.status, r.limit.as_str()), (429, "budget:b1"));
        assert!(r.message.contains("monthly budget \"Bot\" for project bot"), "{}", r.message);
        assert!(r.message.contains("$0.25 left of $1.00 ($0.00 spent, $0.75 held by 3 calls in flight): $0.50 more"), "{}", r.message);
        assert_eq!(r.retry_after_secs, Some(HELD_RETRY_SECS), "calls in flight settle soon");
        assert_eq!((r.details["budget"]["held_usd"].clone(), r.details["budget"]["held_calls"].clone()), (json!("0.75"), json!(3)));
        assert_eq!(r.details["budget"]["scope_id"], json!("bot"));

        let r = judge(&cap(USD), 0, 0, 0, now).expect("exhausted");
        assert!(r.message.contains("is exhausted ($1.00 of $1.00)"), "{}", r.message);
        assert_eq!(r.retry_after_secs, Some(1800), "until the period ends");
        let r = judge(&cap(USD / 2), USD / 4, 1, 3 * USD / 4, now).expect("too much");
        assert!(r.message.contains("held by 1 call in flight"), "{}", r.message);
        assert_eq!(r.retry_after_secs, Some(1800), "settling cannot make room for $0.75");
        assert!(judge(&cap(USD), 0, 0, 0, 3_600_000).is_none(), "a cap of a period that ended refuses nothing");
    }
}
