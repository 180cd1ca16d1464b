//! Storage of budgets (`budgets`) and of their spend per period
//! (`budget_spend`, the counters ingest keeps).

use sqlx::{AnyConnection, Row};

use super::{Action, BudgetDef, BudgetPeriod, BudgetView, Scope};
use crate::pricing::NanoUsd;
use crate::{Error, Result};

const COLUMNS: &str = "id, name, scope, scope_id, period, amount_nanos, thresholds, action, created_at, updated_at";

fn bad(what: &str) -> Error {
    Error::Internal(format!("bad budget {what} in store"))
}

fn thresholds_of(r: &sqlx::any::AnyRow) -> Result<Vec<u32>> {
    let thresholds: String = r.try_get("thresholds")?;
    Ok(thresholds.split(',').filter_map(|t| t.trim().parse().ok()).collect())
}

fn thresholds_text(t: &[u32]) -> String {
    t.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
}

fn view_of(r: &sqlx::any::AnyRow) -> Result<BudgetView> {
    let scope = Scope::parse(&r.try_get::<String, _>("scope")?).map_err(|_| bad("scope"))?;
    let scope_id: String = r.try_get("scope_id")?;
    Ok(BudgetView {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        scope,
        scope_id: (!scope_id.is_empty()).then_some(scope_id),
        period: BudgetPeriod::parse(&r.try_get::<String, _>("period")?).map_err(|_| bad("period"))?,
        amount_usd: NanoUsd::from_nanos(r.try_get("amount_nanos")?).to_short_usd_string(),
        thresholds: thresholds_of(r)?,
        action: Action::parse(&r.try_get::<String, _>("action")?).map_err(|_| bad("action"))?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// The organization's budgets, oldest first.
pub(crate) async fn list(conn: &mut AnyConnection, org_id: &str) -> Result<Vec<BudgetView>> {
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM budgets WHERE org_id = $1 ORDER BY created_at, id"))
        .bind(org_id)
        .fetch_all(conn)
        .await?;
    rows.iter().map(view_of).collect()
}

/// One budget of the organization with its amount in nano-USD (as stored).
pub(crate) async fn get(conn: &mut AnyConnection, org_id: &str, id: &str) -> Result<Option<(BudgetView, i64)>> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM budgets WHERE id = $1 AND org_id = $2"))
        .bind(id)
        .bind(org_id)
        .fetch_optional(conn)
        .await?;
    row.map(|r| Ok((view_of(&r)?, r.try_get("amount_nanos")?))).transpose()
}

/// How many budgets the organization has.
pub(crate) async fn count(conn: &mut AnyConnection, org_id: &str) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM budgets WHERE org_id = $1").bind(org_id).fetch_one(conn).await?)
}

/// Inserts a budget created at `now`.
pub(crate) async fn insert(conn: &mut AnyConnection, org_id: &str, id: &str, def: &BudgetDef, now: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO budgets (id, org_id, name, scope, scope_id, period, amount_nanos, thresholds, action, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
    )
    .bind(id)
    .bind(org_id)
    .bind(&def.name)
    .bind(def.scope.as_str())
    .bind(&def.scope_id)
    .bind(def.period.as_str())
    .bind(def.amount_nanos)
    .bind(thresholds_text(&def.thresholds))
    .bind(def.action.as_str())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Replaces a budget's definition; returns whether it exists.
pub(crate) async fn update(conn: &mut AnyConnection, org_id: &str, id: &str, def: &BudgetDef, now: i64) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE budgets SET name = $3, scope = $4, scope_id = $5, period = $6, amount_nanos = $7, thresholds = $8, \
         action = $9, updated_at = $10 WHERE id = $1 AND org_id = $2",
    )
    .bind(id)
    .bind(org_id)
    .bind(&def.name)
    .bind(def.scope.as_str())
    .bind(&def.scope_id)
    .bind(def.period.as_str())
    .bind(def.amount_nanos)
    .bind(thresholds_text(&def.thresholds))
    .bind(def.action.as_str())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() != 0)
}

/// Deletes a budget (its counters go with it).
pub(crate) async fn delete(conn: &mut AnyConnection, org_id: &str, id: &str) -> Result<()> {
    sqlx::query("DELETE FROM budgets WHERE id = $1 AND org_id = $2").bind(id).bind(org_id).execute(conn).await?;
    Ok(())
}

/// A budget as enforcement reads it.
#[derive(Debug, Clone)]
pub(crate) struct Watched {
    pub id: String,
    pub name: String,
    pub scope: Scope,
    pub scope_id: String,
    pub period: BudgetPeriod,
    pub amount: i64,
    pub thresholds: Vec<u32>,
}

fn watched_of(r: &sqlx::any::AnyRow) -> Result<Watched> {
    Ok(Watched {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        scope: Scope::parse(&r.try_get::<String, _>("scope")?).map_err(|_| bad("scope"))?,
        scope_id: r.try_get("scope_id")?,
        period: BudgetPeriod::parse(&r.try_get::<String, _>("period")?).map_err(|_| bad("period"))?,
        amount: r.try_get("amount_nanos")?,
        thresholds: thresholds_of(r)?,
    })
}

/// Every budget of the organization, by id.
pub(crate) async fn watched(conn: &mut AnyConnection, org_id: &str) -> Result<Vec<Watched>> {
    let rows = sqlx::query(
        "SELECT id, name, scope, scope_id, period, amount_nanos, thresholds FROM budgets WHERE org_id = $1 ORDER BY id",
    )
    .bind(org_id)
    .fetch_all(conn)
    .await?;
    rows.iter().map(watched_of).collect()
}

/// One budget of the organization with the organization's time zone (read
/// in the same statement); the budget must exist.
pub(crate) async fn watched_with_zone(conn: &mut AnyConnection, org_id: &str, budget_id: &str) -> Result<(Watched, String)> {
    let row = sqlx::query(
        "SELECT b.id, b.name, b.scope, b.scope_id, b.period, b.amount_nanos, b.thresholds, o.time_zone \
         FROM budgets b JOIN organizations o ON o.id = b.org_id WHERE b.id = $1 AND b.org_id = $2",
    )
    .bind(budget_id)
    .bind(org_id)
    .fetch_one(conn)
    .await?;
    Ok((watched_of(&row)?, row.try_get("time_zone")?))
}

/// Adds `delta` to a budget's counter for the period starting at `start`;
/// the new value, or `None` when the period has no counter yet.
pub(crate) async fn add_spend(conn: &mut AnyConnection, budget_id: &str, start: i64, delta: i64) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar(
        "UPDATE budget_spend SET spent_nanos = spent_nanos + $3 WHERE budget_id = $1 AND period_start = $2 RETURNING spent_nanos",
    )
    .bind(budget_id)
    .bind(start)
    .bind(delta)
    .fetch_optional(conn)
    .await?)
}

/// Creates a period's counter at `seed`; if a concurrent batch created it
/// first, adds `delta` to that one instead. Returns the counter's value.
pub(crate) async fn seed_spend(
    conn: &mut AnyConnection,
    org_id: &str,
    budget_id: &str,
    start: i64,
    end: i64,
    seed: i64,
    delta: i64,
) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO budget_spend (budget_id, period_start, period_end, org_id, spent_nanos) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (budget_id, period_start) DO UPDATE SET spent_nanos = budget_spend.spent_nanos + $6 RETURNING spent_nanos",
    )
    .bind(budget_id)
    .bind(start)
    .bind(end)
    .bind(org_id)
    .bind(seed)
    .bind(delta)
    .fetch_one(conn)
    .await?)
}

/// Creates a period's counter at `seed`.
pub(crate) async fn insert_spend(conn: &mut AnyConnection, org_id: &str, budget_id: &str, start: i64, end: i64, seed: i64) -> Result<()> {
    sqlx::query("INSERT INTO budget_spend (budget_id, period_start, period_end, org_id, spent_nanos) VALUES ($1, $2, $3, $4, $5)")
        .bind(budget_id)
        .bind(start)
        .bind(end)
        .bind(org_id)
        .bind(seed)
        .execute(conn)
        .await?;
    Ok(())
}

/// Forgets every counter of a budget.
pub(crate) async fn delete_spend(conn: &mut AnyConnection, budget_id: &str) -> Result<()> {
    sqlx::query("DELETE FROM budget_spend WHERE budget_id = $1").bind(budget_id).execute(conn).await?;
    Ok(())
}

/// The organization's pause budgets, each with its counter of the period
/// containing `now` (0 when the period has none yet: nothing counted in it).
pub(crate) async fn pause_spend(conn: &mut AnyConnection, org_id: &str, now: i64) -> Result<Vec<(Watched, i64)>> {
    let rows = sqlx::query(
        "SELECT b.id, b.name, b.scope, b.scope_id, b.period, b.amount_nanos, b.thresholds, \
         COALESCE(s.spent_nanos, 0) AS spent_nanos FROM budgets b \
         LEFT JOIN budget_spend s ON s.budget_id = b.id AND s.period_start <= $2 AND s.period_end > $2 \
         WHERE b.org_id = $1 AND b.action = 'pause' ORDER BY b.id",
    )
    .bind(org_id)
    .bind(now)
    .fetch_all(conn)
    .await?;
    rows.iter().map(|r| Ok((watched_of(r)?, r.try_get("spent_nanos")?))).collect()
}

/// A pause budget covering a caller, as [`pause_standing`] reads it.
#[derive(Debug, Clone)]
pub(crate) struct PauseStanding {
    pub budget: Watched,
    pub time_zone: String,
    /// The counter of the period containing now.
    pub spent: i64,
    /// The cost held by active, unexpired reservations the budget covers, and their number.
    pub held: i64,
    pub calls: i64,
}

/// The organization's pause budgets covering `who`, each with its counter of
/// the period containing `now` and the cost held by the active, unexpired
/// reservations it covers, in ONE statement: on PostgreSQL (READ COMMITTED)
/// every statement reads its own snapshot, and a commit that settles a
/// reservation (no longer held) and adds its spend (now counted) could fall
/// between two statements and be counted in neither.
///
/// It reads quota's reservations through quota's own subquery
/// ([`crate::quota::store::HELD_COST`]): the one place budgets reads
/// another module's table, because the two must be one snapshot.
pub(crate) async fn pause_standing(conn: &mut AnyConnection, org_id: &str, who: &crate::quota::Subject, now: i64) -> Result<Vec<PauseStanding>> {
    let sql = format!(
        "WITH held AS ({held}) \
         SELECT b.id, b.name, b.scope, b.scope_id, b.period, b.amount_nanos, b.thresholds, o.time_zone, \
         COALESCE((SELECT s.spent_nanos FROM budget_spend s WHERE s.budget_id = b.id AND s.period_start <= $2 AND s.period_end > $2), 0) \
         AS spent_nanos, CAST(COALESCE(SUM(h.amount), 0) AS BIGINT) AS held_nanos, COUNT(h.amount) AS held_calls \
         FROM budgets b JOIN organizations o ON o.id = b.org_id \
         LEFT JOIN held h ON b.scope = 'organization' OR (b.scope = 'project' AND h.project_id = b.scope_id) \
         OR (b.scope = 'user' AND h.user_id = b.scope_id) OR (b.scope = 'api_key' AND h.api_key_id = b.scope_id) \
         WHERE b.org_id = $1 AND b.action = 'pause' AND (b.scope = 'organization' OR (b.scope = 'project' AND b.scope_id = $3) \
         OR (b.scope = 'user' AND b.scope_id = $4) OR (b.scope = 'api_key' AND b.scope_id = $5)) \
         GROUP BY b.id, b.name, b.scope, b.scope_id, b.period, b.amount_nanos, b.thresholds, o.time_zone ORDER BY b.id",
        held = crate::quota::store::HELD_COST
    );
    let rows = sqlx::query(&sql)
        .bind(org_id)
        .bind(now)
        .bind(&who.project_id)
        .bind(&who.user_id)
        .bind(&who.api_key_id)
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(PauseStanding {
                budget: watched_of(r)?,
                time_zone: r.try_get("time_zone")?,
                spent: r.try_get("spent_nanos")?,
                held: r.try_get("held_nanos")?,
                calls: r.try_get("held_calls")?,
            })
        })
        .collect()
}

/// A budget's counter of the period containing a moment.
#[derive(Debug, Clone)]
pub(crate) struct CurrentSpend {
    pub budget_id: String,
    pub name: String,
    pub amount: i64,
    pub spent: i64,
    pub period_end: i64,
    pub time_zone: String,
}

/// The counters of the organization's budgets whose period contains `now`.
pub(crate) async fn current_spend(conn: &mut AnyConnection, org_id: &str, now: i64) -> Result<Vec<CurrentSpend>> {
    let rows = sqlx::query(
        "SELECT b.id, b.name, b.amount_nanos, s.spent_nanos, s.period_end, o.time_zone \
         FROM budget_spend s JOIN budgets b ON b.id = s.budget_id JOIN organizations o ON o.id = b.org_id \
         WHERE s.org_id = $1 AND b.org_id = $1 AND s.period_start <= $2 AND s.period_end > $2",
    )
    .bind(org_id)
    .bind(now)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(CurrentSpend {
                budget_id: r.try_get("id")?,
                name: r.try_get("name")?,
                amount: r.try_get("amount_nanos")?,
                spent: r.try_get("spent_nanos")?,
                period_end: r.try_get("period_end")?,
                time_zone: r.try_get("time_zone")?,
            })
        })
        .collect()
}
