//! The plan catalog (platform admins edit it), organizations' plans, and
//! per-organization overrides.

use super::{store, LimitInput, OrgPlan, PlanInput, PlanView, DEFAULT_PLAN};
use crate::accounts::UserView;
use crate::audit;
use crate::clock::now_ms;
use crate::db::Db;
use crate::ids::is_valid_id;
use crate::{Error, Result};

fn require_platform_admin(actor: &UserView) -> Result<()> {
    if actor.is_platform_admin {
        Ok(())
    } else {
        Err(Error::Forbidden("platform admins only".into()))
    }
}

/// Records a platform admin's change to the plan catalog (no organization).
async fn audit_catalog(tx: &mut sqlx::AnyConnection, db: &Db, actor: &UserView, action: &str, code: &str, details: serde_json::Value) -> Result<()> {
    let entry = audit::NewEntry::new(None, audit::Actor::user(&actor.id, &actor.email), action, Some(code)).details(details);
    audit::record_in(tx, db.engine, &entry).await
}

/// Every plan, in display order (archived ones included; callers filter).
pub async fn list(db: &Db) -> Result<Vec<PlanView>> {
    let mut conn = db.reader().acquire().await?;
    store::plans(&mut conn, None).await
}

/// One plan by code.
pub async fn get(db: &Db, code: &str) -> Result<PlanView> {
    let mut conn = db.reader().acquire().await?;
    store::plans(&mut conn, Some(code.trim())).await?.pop().ok_or(Error::NotFound("plan"))
}

/// Adds a plan to the catalog (platform admins).
pub async fn create(db: &Db, actor: &UserView, input: &PlanInput) -> Result<PlanView> {
    require_platform_admin(actor)?;
    let plan = input.parse()?;
    let mut tx = db.begin().await?;
    if !store::plans(&mut tx, Some(&plan.code)).await?.is_empty() {
        return Err(Error::conflict("code", format!("a plan with code {:?} exists already", plan.code)));
    }
    store::insert_plan(&mut tx, &plan, now_ms()).await?;
    store::replace_limits(&mut tx, &plan.code, &plan.limits).await?;
    audit_catalog(&mut tx, db, actor, "plan.create", &plan.code, serde_json::to_value(input).unwrap_or_default()).await?;
    tx.commit().await?;
    crate::quota::limits_changed(db);
    get(db, &plan.code).await
}

/// Changes a plan's name, price and limits (platform admins). Organizations on
/// it get the new limits at once.
pub async fn update(db: &Db, actor: &UserView, input: &PlanInput) -> Result<PlanView> {
    require_platform_admin(actor)?;
    let mut plan = input.parse()?;
    let mut tx = db.begin().await?;
    if input.trial_days.is_none() {
        // An editor without the field keeps the plan's trial offer.
        plan.trial_days = store::plans(&mut tx, Some(&plan.code)).await?.pop().map_or(0, |p| p.trial_days);
    }
    if !store::update_plan(&mut tx, &plan, now_ms()).await? {
        return Err(Error::NotFound("plan"));
    }
    store::replace_limits(&mut tx, &plan.code, &plan.limits).await?;
    audit_catalog(&mut tx, db, actor, "plan.update", &plan.code, serde_json::to_value(input).unwrap_or_default()).await?;
    tx.commit().await?;
    crate::quota::limits_changed(db);
    get(db, &plan.code).await
}

/// Archives a plan (no organization can be moved onto it) or restores it.
pub async fn set_archived(db: &Db, actor: &UserView, code: &str, archived: bool) -> Result<PlanView> {
    require_platform_admin(actor)?;
    if archived && code == DEFAULT_PLAN {
        return Err(Error::conflict("code", "the Starter plan is what new signups get; it cannot be archived"));
    }
    let mut tx = db.begin().await?;
    if !store::set_archived(&mut tx, code, archived.then(now_ms)).await? {
        return Err(Error::NotFound("plan"));
    }
    let action = if archived { "plan.archive" } else { "plan.restore" };
    audit_catalog(&mut tx, db, actor, action, code, serde_json::json!({})).await?;
    tx.commit().await?;
    get(db, code).await
}

/// Deletes a plan that no organization is on (platform admins).
pub async fn delete(db: &Db, actor: &UserView, code: &str) -> Result<()> {
    require_platform_admin(actor)?;
    let mut tx = db.begin().await?;
    let plan = store::plans(&mut tx, Some(code)).await?.pop().ok_or(Error::NotFound("plan"))?;
    if plan.organizations > 0 {
        return Err(Error::conflict(
            "code",
            format!("{} organization(s) are on the {} plan; move them or archive the plan instead", plan.organizations, plan.name),
        ));
    }
    if code == DEFAULT_PLAN || code == super::DEMO_PLAN {
        return Err(Error::conflict("code", format!("the {} plan is built in; it cannot be deleted", plan.name)));
    }
    store::delete_plan(&mut tx, code).await?;
    audit_catalog(&mut tx, db, actor, "plan.delete", code, serde_json::to_value(&plan).unwrap_or_default()).await?;
    tx.commit().await?;
    Ok(())
}

/// The organization's plan and the limits in force (with overrides).
pub async fn org_plan(db: &Db, org_id: &str) -> Result<OrgPlan> {
    if !is_valid_id(org_id) {
        return Err(Error::NotFound("organization"));
    }
    let mut conn = db.reader().acquire().await?;
    store::org_plan(&mut conn, org_id).await
}

/// Moves an organization to a plan inside a caller's transaction (billing's
/// webhooks and the admin's hand change both end here); a move to another
/// plan queues the organization's `plan.changed` webhooks. Archived plans are
/// refused unless `allow_archived` (an organization already on it stays).
pub async fn assign_plan(conn: &mut sqlx::AnyConnection, org_id: &str, code: &str) -> Result<()> {
    let plan = store::plans(conn, Some(code)).await?.pop().ok_or_else(|| Error::invalid("plan", format!("no plan {code:?}")))?;
    if plan.archived_at.is_some() {
        return Err(Error::invalid("plan", format!("the {} plan is archived", plan.name)));
    }
    let before = store::org_plan(conn, org_id).await?;
    if !store::set_org_plan(conn, org_id, &plan.code).await? {
        return Err(Error::NotFound("organization"));
    }
    if before.plan_code != plan.code {
        // The organization's plan.changed webhooks, sent if the move commits.
        let mut fields = serde_json::Map::new();
        fields.insert("previous_plan".into(), serde_json::json!({"code": before.plan_code, "name": before.plan_name}));
        fields.insert("plan".into(), serde_json::json!({"code": plan.code, "name": plan.name}));
        let subject = format!("plan.changed: {} → {}", before.plan_name, plan.name);
        crate::alerts::webhooks::publish(conn, org_id, crate::alerts::WebhookEventType::PlanChanged, None, &subject, fields, crate::clock::now_ms()).await?;
    }
    Ok(())
}

/// Moves an organization to another plan by hand (platform admins).
pub async fn set_org_plan(db: &Db, actor: &UserView, org_id: &str, code: &str, origin: audit::Origin<'_>) -> Result<OrgPlan> {
    require_platform_admin(actor)?;
    if !is_valid_id(org_id) {
        return Err(Error::NotFound("organization"));
    }
    let mut tx = db.begin().await?;
    let before = store::org_plan(&mut tx, org_id).await?.plan_code;
    assign_plan(&mut tx, org_id, code.trim()).await?;
    let entry = audit::NewEntry::new(Some(org_id), audit::Actor::user(&actor.id, &actor.email), "plan.change", Some(code.trim()))
        .origin(origin)
        .details(serde_json::json!({"from": before, "to": code.trim(), "by": "platform admin"}));
    audit::record_in(&mut tx, db.engine, &entry).await?;
    tx.commit().await?;
    crate::quota::limits_changed(db);
    org_plan(db, org_id).await
}

/// Sets a custom limit for one organization (platform admins); an empty value
/// makes the metric unlimited for it.
pub async fn set_override(db: &Db, actor: &UserView, org_id: &str, input: &LimitInput, origin: audit::Origin<'_>) -> Result<OrgPlan> {
    require_platform_admin(actor)?;
    if !is_valid_id(org_id) {
        return Err(Error::NotFound("organization"));
    }
    let (metric, period, limit) = input.parse()?;
    if limit.is_none() && !metric.periods().contains(&period) {
        return Err(Error::invalid("period", format!("{metric} has no {period} limit")));
    }
    let mut tx = db.begin().await?;
    store::org_plan(&mut tx, org_id).await?;
    store::upsert_override(&mut tx, org_id, metric, period, limit.as_ref(), &actor.id, now_ms()).await?;
    let target = format!("{metric}/{period}");
    let entry = audit::NewEntry::new(Some(org_id), audit::Actor::user(&actor.id, &actor.email), "plan.override_set", Some(&target))
        .origin(origin)
        .details(serde_json::json!({"limit": limit}));
    audit::record_in(&mut tx, db.engine, &entry).await?;
    tx.commit().await?;
    crate::quota::limits_changed(db);
    org_plan(db, org_id).await
}

/// Removes an override: the plan's limit applies again.
pub async fn clear_override(db: &Db, actor: &UserView, org_id: &str, metric: &str, period: &str, origin: audit::Origin<'_>) -> Result<OrgPlan> {
    require_platform_admin(actor)?;
    let metric = super::Metric::parse(metric)?;
    let period = super::Period::parse(period)?;
    if !is_valid_id(org_id) {
        return Err(Error::NotFound("organization"));
    }
    let mut tx = db.begin().await?;
    if !store::delete_override(&mut tx, org_id, metric, period).await? {
        return Err(Error::NotFound("override"));
    }
    let target = format!("{metric}/{period}");
    let entry = audit::NewEntry::new(Some(org_id), audit::Actor::user(&actor.id, &actor.email), "plan.override_clear", Some(&target)).origin(origin);
    audit::record_in(&mut tx, db.engine, &entry).await?;
    tx.commit().await?;
    crate::quota::limits_changed(db);
    org_plan(db, org_id).await
}
