//! Budget services, every one scoped to an organization id.

use chrono::{Datelike, Days, Months};
use serde_json::json;
use sqlx::AnyConnection;

use super::{forecast, percent, store, BudgetDef, BudgetInput, BudgetPeriod, BudgetStatus, BudgetView, Scope};
use crate::audit::{self, By};
use crate::clock::now_ms;
use crate::db::Db;
use crate::ids::{is_valid_id, new_id};
use crate::metering::{self, store::Dimension};
use crate::orgs;
use crate::pricing::NanoUsd;
use crate::quota;
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

/// The organization's budgets, oldest first.
pub async fn list(db: &Db, org_id: &str) -> Result<Vec<BudgetView>> {
    store::list(&mut *db.reader().acquire().await?, org_id).await
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
    store::get(conn, org_id, id).await?.ok_or(Error::NotFound("budget"))
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
    let n = store::count(&mut tx, org_id).await?;
    if n >= MAX_BUDGETS {
        return Err(Error::conflict("budgets", format!("an organization may have at most {MAX_BUDGETS} budgets")));
    }
    let id = new_id();
    let now = now_ms();
    store::insert(&mut tx, org_id, &id, &def, now).await?;
    // Its spend counter starts from what the period has already spent.
    super::enforce::reset(&mut tx, org_id, &id, now).await?;
    let view = get_in(&mut tx, org_id, &id).await?;
    let entry = by.entry(Some(org_id), "budget.create", Some(&id)).details(json!({ "budget": audited(&view) }));
    audit::record_in(&mut tx, db.engine, &entry).await?;
    tx.commit().await?;
    // Pause budgets are caps of the quota ledger: it reloads them.
    quota::limits_changed(db);
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
    if !store::update(&mut tx, org_id, id, &def, now_ms()).await? {
        return Err(Error::NotFound("budget"));
    }
    // The scope or period may have changed: count again from the usage.
    super::enforce::reset(&mut tx, org_id, id, now_ms()).await?;
    let view = get_in(&mut tx, org_id, id).await?;
    let entry = by.entry(Some(org_id), "budget.update", Some(id)).details(json!({ "before": audited(&before), "after": audited(&view) }));
    audit::record_in(&mut tx, db.engine, &entry).await?;
    tx.commit().await?;
    // Pause budgets are caps of the quota ledger: it reloads them.
    quota::limits_changed(db);
    Ok(view)
}

/// Deletes a budget.
pub async fn delete(db: &Db, org_id: &str, id: &str, by: &By) -> Result<()> {
    let mut tx = db.begin().await?;
    let before = get_in(&mut tx, org_id, id).await?;
    store::delete(&mut tx, org_id, id).await?;
    let entry = by.entry(Some(org_id), "budget.delete", Some(id)).details(json!({ "budget": audited(&before) }));
    audit::record_in(&mut tx, db.engine, &entry).await?;
    tx.commit().await?;
    // Pause budgets are caps of the quota ledger: it reloads them.
    quota::limits_changed(db);
    Ok(())
}

/// Exact spend (nano-USD) of the scope in `[start, end)`: the organization's
/// from its day counters, a project's, user's or key's from its events.
pub async fn spend(conn: &mut AnyConnection, org_id: &str, scope: Scope, scope_id: &str, w: Window) -> Result<i64> {
    let dimension = match scope {
        Scope::Organization => return quota::store::counters::cost(conn, org_id, w).await,
        Scope::Project => Dimension::Project,
        Scope::User => Dimension::User,
        Scope::ApiKey => Dimension::ApiKey,
    };
    metering::store::cost_of(conn, org_id, dimension, scope_id, w).await
}

/// Spend against the budget in its current period, with the forecast.
pub async fn status(db: &Db, org_id: &str, id: &str) -> Result<BudgetStatus> {
    let mut conn = db.reader().acquire().await?;
    let (b, amount) = get_with_amount(&mut conn, org_id, id).await?;
    let tz_name = orgs::store::existing_time_zone(&mut conn, org_id).await?;
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
