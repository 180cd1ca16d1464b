//! Storage of plans, their limits, organizations' plans and overrides.

use sqlx::{AnyConnection, Row};

use super::{Limit, Metric, OrgLimit, OrgPlan, Period, PlanView};
use crate::{Error, Result};

fn limit_of(r: &sqlx::any::AnyRow) -> Result<Option<Limit>> {
    let metric: String = r.try_get("metric")?;
    let period: String = r.try_get("period")?;
    let (Ok(metric), Ok(period)) = (Metric::parse(&metric), Period::parse(&period)) else {
        // A metric this version does not know (written by a newer one): ignore it.
        tracing::warn!(metric, period, "unknown limit in store; ignored");
        return Ok(None);
    };
    let value: Option<i64> = r.try_get("limit_value")?;
    Ok(value.map(|value| -> Result<Limit> {
        Ok(Limit { metric, period, value, hard: r.try_get::<i64, _>("hard")? != 0, overage_nanos: r.try_get("overage_nanos")? })
    }).transpose()?)
}

fn plan_of(r: &sqlx::any::AnyRow) -> Result<PlanView> {
    Ok(PlanView {
        code: r.try_get("code")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        monthly_price_nanos: r.try_get("monthly_price_nanos")?,
        is_public: r.try_get::<i64, _>("is_public")? != 0,
        sort_order: r.try_get("sort_order")?,
        archived_at: r.try_get("archived_at")?,
        limits: Vec::new(),
        stripe_price_id: r.try_get("stripe_price_id")?,
        retention_months: r.try_get("retention_months")?,
        trial_days: r.try_get("trial_days")?,
        organizations: r.try_get("organizations")?,
    })
}

const PLAN_COLUMNS: &str = "p.code, p.name, p.description, p.monthly_price_nanos, p.is_public, p.sort_order, p.archived_at, p.stripe_price_id, p.retention_months, p.trial_days, \
     (SELECT COUNT(*) FROM organizations o WHERE o.plan_code = p.code) AS organizations";

pub(crate) async fn plans(conn: &mut AnyConnection, code: Option<&str>) -> Result<Vec<PlanView>> {
    let sql = format!(
        "SELECT {PLAN_COLUMNS} FROM plans p {} ORDER BY p.sort_order, p.code",
        if code.is_some() { "WHERE p.code = $1" } else { "" }
    );
    let mut q = sqlx::query(&sql);
    if let Some(c) = code {
        q = q.bind(c);
    }
    let mut plans = q.fetch_all(&mut *conn).await?.iter().map(plan_of).collect::<Result<Vec<_>>>()?;
    let sql = format!(
        "SELECT plan_code, metric, period, limit_value, hard, overage_nanos FROM plan_limits {} ORDER BY plan_code, metric, period",
        if code.is_some() { "WHERE plan_code = $1" } else { "" }
    );
    let mut q = sqlx::query(&sql);
    if let Some(c) = code {
        q = q.bind(c);
    }
    for r in q.fetch_all(&mut *conn).await? {
        let plan_code: String = r.try_get("plan_code")?;
        if let (Some(plan), Some(limit)) = (plans.iter_mut().find(|p| p.code == plan_code), limit_of(&r)?) {
            plan.limits.push(limit);
        }
    }
    for p in &mut plans {
        p.limits.sort_by_key(|l| (l.metric, l.period));
    }
    Ok(plans)
}

pub(crate) async fn insert_plan(conn: &mut AnyConnection, p: &PlanView, now: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO plans (code, name, description, monthly_price_nanos, is_public, sort_order, archived_at, created_at, updated_at, stripe_price_id, \
         retention_months, trial_days) VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, $7, $8, $9, $10)",
    )
    .bind(&p.code)
    .bind(&p.name)
    .bind(&p.description)
    .bind(p.monthly_price_nanos)
    .bind(p.is_public as i64)
    .bind(p.sort_order)
    .bind(now)
    .bind(&p.stripe_price_id)
    .bind(p.retention_months)
    .bind(p.trial_days)
    .execute(conn)
    .await?;
    Ok(())
}

pub(crate) async fn update_plan(conn: &mut AnyConnection, p: &PlanView, now: i64) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE plans SET name = $2, description = $3, monthly_price_nanos = $4, is_public = $5, sort_order = $6, updated_at = $7, stripe_price_id = $8, \
         retention_months = $9, trial_days = $10 WHERE code = $1",
    )
    .bind(&p.code)
    .bind(&p.name)
    .bind(&p.description)
    .bind(p.monthly_price_nanos)
    .bind(p.is_public as i64)
    .bind(p.sort_order)
    .bind(now)
    .bind(&p.stripe_price_id)
    .bind(p.retention_months)
    .bind(p.trial_days)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn replace_limits(conn: &mut AnyConnection, code: &str, limits: &[Limit]) -> Result<()> {
    sqlx::query("DELETE FROM plan_limits WHERE plan_code = $1").bind(code).execute(&mut *conn).await?;
    for l in limits {
        sqlx::query(
            "INSERT INTO plan_limits (plan_code, metric, period, limit_value, hard, overage_nanos) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(code)
        .bind(l.metric.as_str())
        .bind(l.period.as_str())
        .bind(l.value)
        .bind(l.hard as i64)
        .bind(l.overage_nanos)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

pub(crate) async fn set_archived(conn: &mut AnyConnection, code: &str, at: Option<i64>) -> Result<bool> {
    let done = sqlx::query("UPDATE plans SET archived_at = $2 WHERE code = $1").bind(code).bind(at).execute(conn).await?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn delete_plan(conn: &mut AnyConnection, code: &str) -> Result<bool> {
    let done = sqlx::query("DELETE FROM plans WHERE code = $1").bind(code).execute(conn).await?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn set_org_plan(conn: &mut AnyConnection, org_id: &str, code: &str) -> Result<bool> {
    let done = sqlx::query("UPDATE organizations SET plan_code = $2 WHERE id = $1").bind(org_id).bind(code).execute(conn).await?;
    Ok(done.rows_affected() == 1)
}

/// The organization's plan with its limits and overrides, in one read.
pub(crate) async fn org_plan(conn: &mut AnyConnection, org_id: &str) -> Result<OrgPlan> {
    let row = sqlx::query(
        "SELECT o.plan_code, o.time_zone, p.name, \
         (SELECT COUNT(*) FROM trials t WHERE t.org_id = o.id AND t.status = 'active') AS trialing \
         FROM organizations o JOIN plans p ON p.code = o.plan_code WHERE o.id = $1",
    )
    .bind(org_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(Error::NotFound("organization"))?;
    let plan_code: String = row.try_get("plan_code")?;
    let trialing = row.try_get::<i64, _>("trialing")? > 0;
    let mut plan = OrgPlan {
        org_id: org_id.to_string(),
        plan_name: row.try_get("name")?,
        time_zone: row.try_get("time_zone")?,
        plan_code,
        limits: Vec::new(),
    };
    let rows = sqlx::query(
        "SELECT 0 AS src, metric, period, limit_value, hard, overage_nanos FROM plan_limits WHERE plan_code = $1 \
         UNION ALL \
         SELECT 1 AS src, metric, period, limit_value, hard, overage_nanos FROM org_limit_overrides WHERE org_id = $2",
    )
    .bind(&plan.plan_code)
    .bind(org_id)
    .fetch_all(&mut *conn)
    .await?;
    for r in rows {
        let src: i64 = r.try_get("src")?;
        let (Ok(metric), Ok(period)) =
            (Metric::parse(&r.try_get::<String, _>("metric")?), Period::parse(&r.try_get::<String, _>("period")?))
        else {
            continue;
        };
        let limit = limit_of(&r)?;
        let i = match plan.limits.iter().position(|l| l.metric == metric && l.period == period) {
            Some(i) => i,
            None => {
                plan.limits.push(OrgLimit { metric, period, plan: None, overridden: None });
                plan.limits.len() - 1
            }
        };
        if src == 0 {
            plan.limits[i].plan = if trialing { limit.map(crate::trials::unbilled) } else { limit };
        } else {
            plan.limits[i].overridden = Some(limit);
        }
    }
    plan.limits.sort_by_key(|l| (l.metric, l.period));
    Ok(plan)
}

pub(crate) async fn upsert_override(
    conn: &mut AnyConnection,
    org_id: &str,
    metric: Metric,
    period: Period,
    limit: Option<&Limit>,
    actor: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO org_limit_overrides (org_id, metric, period, limit_value, hard, overage_nanos, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (org_id, metric, period) DO UPDATE SET limit_value = excluded.limit_value, hard = excluded.hard, \
         overage_nanos = excluded.overage_nanos, created_by = excluded.created_by, created_at = excluded.created_at",
    )
    .bind(org_id)
    .bind(metric.as_str())
    .bind(period.as_str())
    .bind(limit.map(|l| l.value))
    .bind(limit.is_none_or(|l| l.hard) as i64)
    .bind(limit.and_then(|l| l.overage_nanos))
    .bind(actor)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub(crate) async fn delete_override(conn: &mut AnyConnection, org_id: &str, metric: Metric, period: Period) -> Result<bool> {
    let done = sqlx::query("DELETE FROM org_limit_overrides WHERE org_id = $1 AND metric = $2 AND period = $3")
        .bind(org_id)
        .bind(metric.as_str())
        .bind(period.as_str())
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Every organization with how many months of raw events its plan keeps.
pub(crate) async fn retention_months(conn: &mut AnyConnection) -> Result<Vec<(String, i64)>> {
    let rows = sqlx::query("SELECT o.id, p.retention_months FROM organizations o JOIN plans p ON p.code = o.plan_code")
        .fetch_all(conn)
        .await?;
    rows.iter().map(|r| Ok((r.try_get("id")?, r.try_get("retention_months")?))).collect()
}

/// Every plan's code and name.
pub(crate) async fn names(conn: &mut AnyConnection) -> Result<Vec<(String, String)>> {
    let rows = sqlx::query("SELECT code, name FROM plans").fetch_all(conn).await?;
    rows.iter().map(|p| Ok((p.try_get("code")?, p.try_get("name")?))).collect()
}

/// The first plan (by code) billed with this Stripe Price.
pub(crate) async fn code_of_stripe_price(conn: &mut AnyConnection, price: &str) -> Result<Option<String>> {
    Ok(sqlx::query_scalar("SELECT code FROM plans WHERE stripe_price_id = $1 ORDER BY code LIMIT 1").bind(price).fetch_optional(conn).await?)
}

/// Organizations on a plan with a fee, with their time zone and plan.
pub(crate) async fn paying_orgs(conn: &mut AnyConnection) -> Result<Vec<(String, String, String)>> {
    let rows = sqlx::query(
        "SELECT o.id, o.time_zone, o.plan_code FROM organizations o JOIN plans p ON p.code = o.plan_code WHERE p.monthly_price_nanos > 0",
    )
    .fetch_all(conn)
    .await?;
    rows.iter().map(|r| Ok((r.try_get("id")?, r.try_get("time_zone")?, r.try_get("plan_code")?))).collect()
}
