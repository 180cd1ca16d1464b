//! Budget enforcement: each budget's spend per period is a counter
//! (`budget_spend`) updated in the ingest transaction, which also says which
//! thresholds the batch crossed (the alerts module turns them into alerts),
//! and a budget with the pause action refuses checks and reservations of its
//! scope once its counter reaches the amount.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, LazyLock, Mutex};

use serde_json::json;
use sqlx::AnyConnection;

use super::store::{self, SpentUp, Watched};
use super::{crossed, period_window, Action, Scope};
use crate::calendar::Window;
use crate::metering::Recorded;
use crate::db::{Db, Engine};
use crate::error::Refusal;
use crate::pricing::NanoUsd;
use crate::calendar::{to_local_rfc3339, zone};
use crate::Result;

/// The cost of one recorded event and who it belongs to.
#[derive(Debug, Clone, Copy)]
pub struct Spend<'a> {
    pub ts: i64,
    pub cost_nanos: i64,
    pub project_id: Option<&'a str>,
    pub user_id: Option<&'a str>,
    pub api_key_id: Option<&'a str>,
}

/// Who a check or reservation is for, to find the budgets that cover it.
#[derive(Debug, Clone, Default)]
pub struct Subject {
    pub project_id: Option<String>,
    pub user_id: Option<String>,
    pub api_key_id: Option<String>,
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
        match self.scope {
            Scope::Organization => format!("{} budget \"{}\" for the organization", self.period.as_str(), self.name),
            s => format!("{} budget \"{}\" for {} {}", self.period.as_str(), self.name, s.as_str().replace('_', " "), self.scope_id),
        }
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

/// Step 3 of the ingest order ([`crate::ingest`]): a recorded batch's spend
/// added to the budgets' counters, returning the thresholds it crossed.
pub async fn on_recorded(conn: &mut AnyConnection, recorded: &Recorded<'_>, tz_name: &str, now: i64) -> Result<Vec<Crossing>> {
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
    on_usage(conn, recorded.org_id, tz_name, &spends, now).await
}

/// Adds a recorded batch's spend to the counters of the budgets covering it,
/// and returns the thresholds it crosses in the current period (in budget
/// and period order, each budget's thresholds ascending). Runs in the
/// transaction that stores the events, after they (and the day counters)
/// are written, so a counter seeded now from the stored usage includes them.
pub async fn on_usage(conn: &mut AnyConnection, org_id: &str, tz_name: &str, spends: &[Spend<'_>], now: i64) -> Result<Vec<Crossing>> {
    let mut crossings = Vec::new();
    if spends.iter().all(|s| s.cost_nanos == 0) {
        return Ok(crossings);
    }
    let budgets = store::watched(conn, org_id).await?;
    if budgets.is_empty() {
        return Ok(crossings);
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
        if !(start <= now && now < end) {
            continue; // a late event of a past period: counted, not alerted
        }
        for t in crossed(&b.thresholds, b.amount, before, after) {
            crossings.push(Crossing {
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
    Ok(crossings)
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

/// An exhausted pause budget and the period it is exhausted in.
type Exhausted = SpentUp;

/// Every pause budget of the organization exhausted in a period that has
/// not ended at `now`.
async fn exhausted(conn: &mut AnyConnection, org_id: &str, now: i64) -> Result<Vec<Exhausted>> {
    store::spent_up(conn, org_id, Action::Pause, now).await
}

/// The refusal for `who` at `now` among the exhausted pause budgets: the
/// first covering it in a period containing `now`.
fn refusal(list: &[Exhausted], who: &Subject, now: i64) -> Option<Refusal> {
    let e = list.iter().find(|e| {
        e.start <= now
            && now < e.end
            && e.budget.covers(who.project_id.as_deref(), who.user_id.as_deref(), who.api_key_id.as_deref())
    })?;
    let b = &e.budget;
    let resets_at = to_local_rfc3339(zone(&e.time_zone), e.end);
    let amount = NanoUsd::from_nanos(b.amount).to_short_usd_string();
    let spent_usd = NanoUsd::from_nanos(e.spent).to_short_usd_string();
    let message = format!(
        "The {} is exhausted (${spent_usd} of ${amount}) and set to pause: requests are refused until {resets_at} or until the budget is raised",
        b.describe()
    );
    Some(Refusal {
        message,
        status: 429,
        limit: format!("budget:{}", b.id),
        details: json!({
            "limit": "budget",
            "budget": {
                "id": b.id, "name": b.name, "scope": b.scope.as_str(),
                "scope_id": (!b.scope_id.is_empty()).then_some(&b.scope_id),
                "period": b.period.as_str(), "amount_usd": amount, "spent_usd": spent_usd,
            },
            "resets_at": resets_at,
        }),
        retry_after_secs: Some(((e.end - now).max(1000) / 1000) as u64),
    })
}

/// [`paused`] read on the caller's connection (PostgreSQL: in the
/// transaction that then decides, with no second round trip for a connection).
pub async fn paused_in(conn: &mut AnyConnection, org_id: &str, who: &Subject, now: i64) -> Result<Option<Refusal>> {
    Ok(refusal(&exhausted(conn, org_id, now).await?, who, now))
}

/// What the pause check knows of one organization (SQLite: one process owns
/// the database, so every change passes through [`forget`] in this process).
#[derive(Default)]
struct Cached {
    generation: u64,
    list: Option<Arc<Vec<Exhausted>>>,
}

static PAUSE_CACHE: LazyLock<Mutex<HashMap<String, Cached>>> = LazyLock::new(Default::default);

/// Drops what the pause check remembers of the organization; called after a
/// commit that may change it (recorded usage, a budget saved or deleted).
pub fn forget(org_id: &str) {
    let mut g = PAUSE_CACHE.lock().expect("pause cache");
    if g.len() > 100_000 {
        g.clear();
    }
    let e = g.entry(org_id.to_string()).or_default();
    e.generation += 1;
    e.list = None;
}

/// The refusal of a paused budget covering the subject, if one is exhausted
/// in its current period: 429 naming the budget, retry when the period ends.
/// On SQLite the exhausted budgets are remembered per organization until the
/// next [`forget`] (a load that raced with one is not kept); on PostgreSQL,
/// where other processes change them, they are read every time.
pub async fn paused(db: &Db, org_id: &str, who: &Subject, now: i64) -> Result<Option<Refusal>> {
    if db.engine == Engine::Postgres {
        return paused_in(&mut *db.reader().acquire().await?, org_id, who, now).await;
    }
    let generation = {
        let g = PAUSE_CACHE.lock().expect("pause cache");
        match g.get(org_id) {
            Some(Cached { list: Some(list), .. }) => return Ok(refusal(list, who, now)),
            Some(c) => c.generation,
            None => 0,
        }
    };
    let list = Arc::new(exhausted(&mut *db.reader().acquire().await?, org_id, now).await?);
    {
        let mut g = PAUSE_CACHE.lock().expect("pause cache");
        let e = g.entry(org_id.to_string()).or_default();
        if e.generation == generation {
            e.list = Some(list.clone());
        }
    }
    Ok(refusal(&list, who, now))
}
