//! Budget services, every one scoped to an organization id.

use chrono::{Datelike, Days, Months};
use serde_json::json;
use sqlx::{AnyConnection, Row};

use super::{forecast, percent, Action, BudgetDef, BudgetInput, BudgetPeriod, BudgetStatus, BudgetView, Scope};
use crate::audit::{self, By};
use crate::clock::now_ms;
use crate::db::Db;
use crate::ids::{is_valid_id, new_id};
use crate::pricing::NanoUsd;
use crate::calendar::{local_date, start_of_day, zone, Window};
use crate::{Error, Result};

/// Most budgets one organization may have.
pub const MAX_BUDGETS: i64 = 200;

/// The window of `period` containing `ms` in zone `tz`: a local day, an ISO
/// week from Monday, or a calendar month.
pub fn period_window(tz: chrono_tz::Tz, period: BudgetPeriod, ms: i64) -> Window {
    let d = local_date(tz, ms);
    let (first, next) = match period {
        BudgetPeriod::Daily => (d, d.checked_add_days(Days::new(1)).unwrap_or(d)),
        BudgetPeriod::Weekly => {
            let monday = d.checked_sub_days(Days::new(d.weekday().num_days_from_monday() as u64)).unwrap_or(d);
            (monday, monday.checked_add_days(Days::new(7)).unwrap_or(monday))
        }
        BudgetPeriod::Monthly => {
            let first = d.with_day(1).unwrap_or(d);
            (first, first.checked_add_months(Months::new(1)).unwrap_or(first))
        }
    };
    Window { start_ms: start_of_day(tz, first), end_ms: start_of_day(tz, next) }
}

fn view_of(r: &sqlx::any::AnyRow) -> Result<BudgetView> {
    let bad = |what: &str| Error::Internal(format!("bad budget {what} in store"));
    let scope = Scope::parse(&r.try_get::<String, _>("scope")?).map_err(|_| bad("scope"))?;
    let scope_id: String = r.try_get("scope_id")?;
    let thresholds: String = r.try_get("thresholds")?;
    Ok(BudgetView {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        scope,
        scope_id: (!scope_id.is_empty()).then_some(scope_id),
        period: BudgetPeriod::parse(&r.try_get::<String, _>("period")?).map_err(|_| bad("period"))?,
        amount_usd: NanoUsd::from_nanos(r.try_get("amount_nanos")?).to_short_usd_string(),
        thresholds: thresholds.split(',').filter_map(|t| t.trim().parse().ok()).collect(),
        action: Action::parse(&r.try_get::<String, _>("action")?).map_err(|_| bad("action"))?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

const COLUMNS: &str = "id, name, scope, scope_id, period, amount_nanos, thresholds, action, created_at, updated_at";

fn thresholds_text(t: &[u32]) -> String {
    t.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
}

/// The organization's budgets, oldest first.
pub async fn list(db: &Db, org_id: &str) -> Result<Vec<BudgetView>> {
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM budgets WHERE org_id = $1 ORDER BY created_at, id"))
        .bind(org_id)
        .fetch_all(db.reader())
        .await?;
    rows.iter().map(view_of).collect()
}

/// One budget of the organization.
pub async fn get(db: &Db, org_id: &str, id: &str) -> Result<BudgetView> {
    let mut conn = db.reader().acquire().await?;
    get_in(&mut conn, org_id, id).await
}

async fn get_in(conn: &mut AnyConnection, org_id: &str, id: &str) -> Result<BudgetView> {
    Ok(get_with_amount(conn, org_id, id).await?.0)
}

/// A budget with its amount in nano-USD (as stored).
async fn get_with_amount(conn: &mut AnyConnection, org_id: &str, id: &str) -> Result<(BudgetView, i64)> {
    if !is_valid_id(id) {
        return Err(Error::NotFound("budget"));
    }
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM budgets WHERE id = $1 AND org_id = $2"))
        .bind(id)
        .bind(org_id)
        .fetch_optional(conn)
        .await?
        .ok_or(Error::NotFound("budget"))?;
    Ok((view_of(&row)?, row.try_get("amount_nanos")?))
}

/// The budget's definition as the audit log keeps it (the id is the
/// entry's target; timestamps are the entry's own).
fn audited(v: &BudgetView) -> serde_json::Value {
    json!({
        "name": v.name, "scope": v.scope, "scope_id": v.scope_id, "period": v.period,
        "amount_usd": v.amount_usd, "thresholds": v.thresholds, "action": v.action,
    })
}

/// Creates a budget.
pub async fn create(db: &Db, org_id: &str, input: &BudgetInput, by: &By) -> Result<BudgetView> {
    let def = input.parse()?;
    let mut tx = db.begin().await?;
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM budgets WHERE org_id = $1").bind(org_id).fetch_one(&mut *tx).await?;
    if n >= MAX_BUDGETS {
        return Err(Error::conflict("budgets", format!("an organization may have at most {MAX_BUDGETS} budgets")));
    }
    let id = new_id();
    let now = now_ms();
    sqlx::query(
        "INSERT INTO budgets (id, org_id, name, scope, scope_id, period, amount_nanos, thresholds, action, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
    )
    .bind(&id)
    .bind(org_id)
    .bind(&def.name)
    .bind(def.scope.as_str())
    .bind(&def.scope_id)
    .bind(def.period.as_str())
    .bind(def.amount_nanos)
    .bind(thresholds_text(&def.thresholds))
    .bind(def.action.as_str())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    // Its spend counter starts from what the period has already spent.
    super::enforce::reset(&mut tx, org_id, &id, now).await?;
    let view = get_in(&mut tx, org_id, &id).await?;
    let entry = by.entry(Some(org_id), "budget.create", Some(&id)).details(json!({ "budget": audited(&view) }));
    audit::record_in(&mut tx, db.engine, &entry).await?;
    tx.commit().await?;
    super::enforce::forget(org_id);
    Ok(view)
}

/// Replaces a budget's definition.
pub async fn update(db: &Db, org_id: &str, id: &str, input: &BudgetInput, by: &By) -> Result<BudgetView> {
    let def: BudgetDef = input.parse()?;
    if !is_valid_id(id) {
        return Err(Error::NotFound("budget"));
    }
    let mut tx = db.begin().await?;
    let before = get_in(&mut tx, org_id, id).await?;
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
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound("budget"));
    }
    // The scope or period may have changed: count again from the usage.
    super::enforce::reset(&mut tx, org_id, id, now_ms()).await?;
    let view = get_in(&mut tx, org_id, id).await?;
    let entry = by.entry(Some(org_id), "budget.update", Some(id)).details(json!({ "before": audited(&before), "after": audited(&view) }));
    audit::record_in(&mut tx, db.engine, &entry).await?;
    tx.commit().await?;
    super::enforce::forget(org_id);
    Ok(view)
}

/// Deletes a budget.
pub async fn delete(db: &Db, org_id: &str, id: &str, by: &By) -> Result<()> {
    let mut tx = db.begin().await?;
    let before = get_in(&mut tx, org_id, id).await?;
    sqlx::query("DELETE FROM budgets WHERE id = $1 AND org_id = $2").bind(id).bind(org_id).execute(&mut *tx).await?;
    let entry = by.entry(Some(org_id), "budget.delete", Some(id)).details(json!({ "budget": audited(&before) }));
    audit::record_in(&mut tx, db.engine, &entry).await?;
    tx.commit().await?;
    super::enforce::forget(org_id);
    Ok(())
}

/// Exact spend (nano-USD) of the scope in `[start, end)`: the organization's
/// from its day counters, a project's, user's or key's from its events.
pub async fn spend(conn: &mut AnyConnection, org_id: &str, scope: Scope, scope_id: &str, w: Window) -> Result<i64> {
    let column = match scope {
        Scope::Organization => {
            return Ok(sqlx::query_scalar(
                "SELECT CAST(COALESCE(SUM(cost_nanos), 0) AS BIGINT) FROM usage_counters \
                 WHERE org_id = $1 AND day_start >= $2 AND day_start < $3",
            )
            .bind(org_id)
            .bind(w.start_ms)
            .bind(w.end_ms)
            .fetch_one(conn)
            .await?)
        }
        Scope::Project => "project_id",
        Scope::User => "user_id",
        Scope::ApiKey => "api_key_id",
    };
    Ok(sqlx::query_scalar(&format!(
        "SELECT CAST(COALESCE(SUM(cost_nano), 0) AS BIGINT) FROM usage_events \
         WHERE org_id = $1 AND ts >= $2 AND ts < $3 AND {column} = $4"
    ))
    .bind(org_id)
    .bind(w.start_ms)
    .bind(w.end_ms)
    .bind(scope_id)
    .fetch_one(conn)
    .await?)
}

/// Spend against the budget in its current period, with the forecast.
pub async fn status(db: &Db, org_id: &str, id: &str) -> Result<BudgetStatus> {
    let mut conn = db.reader().acquire().await?;
    let (b, amount) = get_with_amount(&mut conn, org_id, id).await?;
    let tz_name: String =
        sqlx::query_scalar("SELECT time_zone FROM organizations WHERE id = $1").bind(org_id).fetch_one(&mut *conn).await?;
    let tz = zone(&tz_name);
    let now = now_ms();
    let w = period_window(tz, b.period, now);
    let spent = spend(&mut conn, org_id, b.scope, b.scope_id.as_deref().unwrap_or_default(), w).await?;
    let (projected, exceeds_at) = forecast(spent, amount, w.start_ms, now, w.end_ms);
    let local = |ms| crate::calendar::to_local_rfc3339(tz, ms);
    Ok(BudgetStatus {
        budget_id: b.id,
        period_start: local(w.start_ms),
        period_end: local(w.end_ms),
        amount_usd: b.amount_usd,
        spent_usd: NanoUsd::from_nanos(spent).to_short_usd_string(),
        remaining_usd: NanoUsd::from_nanos((amount - spent).max(0)).to_short_usd_string(),
        percent: percent(spent, amount),
        forecast_usd: NanoUsd::from_nanos(projected).to_short_usd_string(),
        on_track: projected <= amount,
        exceeds_at: exceeds_at.map(local),
    })
}


#[cfg(test)]
mod tests {
    use super::*;

    fn ms(rfc: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(rfc).unwrap().timestamp_millis()
    }

    #[test]
    fn a_week_starts_on_monday_at_local_midnight() {
        let tz = zone("Europe/Paris");
        // Sunday 2026-11-29 23:30 in Paris is still the week of Monday the 23rd.
        let w = period_window(tz, BudgetPeriod::Weekly, ms("2026-11-29T22:30:00Z"));
        assert_eq!((w.start_ms, w.end_ms), (ms("2026-11-23T00:00:00+01:00"), ms("2026-11-30T00:00:00+01:00")));
        let m = period_window(tz, BudgetPeriod::Monthly, ms("2026-11-30T23:30:00Z"));
        assert_eq!(m.start_ms, ms("2026-12-01T00:00:00+01:00"), "already December in Paris");
        let d = period_window(tz, BudgetPeriod::Daily, ms("2026-11-23T12:00:00Z"));
        assert_eq!(d.end_ms - d.start_ms, 86_400_000);
    }
}
