//! The trial services: start (self-serve or by a platform admin), extend,
//! cancel, convert (from billing's Checkout webhook), the periodic notices
//! and expiry, and what the pages and the admin dashboard read.

use sqlx::AnyConnection;

use super::store::{self, TrialRow};
use super::{days_left, parse_days, parse_reason, TrialEnding, TrialMonth, TrialNotice, TrialOffer, TrialStats, TrialView};
use super::{DAY_MS, EXPIRED_NOTICE_MS, WARN_BEFORE_MS};
use crate::accounts::UserView;
use crate::audit::{self, By};
use crate::clock::to_rfc3339;
use crate::db::{Db, Engine};
use crate::ids::{is_valid_id, new_id};
use crate::orgs::{OrgScope, Role};
use crate::plans::{self, PlanView, DEFAULT_PLAN, DEMO_PLAN};
use crate::{Error, Result};

fn require_platform_admin(actor: &UserView) -> Result<()> {
    if actor.is_platform_admin {
        Ok(())
    } else {
        Err(Error::Forbidden("platform admins only".into()))
    }
}

fn plan_name(catalog: &[PlanView], code: &str) -> String {
    catalog.iter().find(|p| p.code == code).map(|p| p.name.clone()).unwrap_or_else(|| code.to_string())
}

fn view_of(t: &TrialRow, catalog: &[PlanView], now: i64) -> TrialView {
    TrialView {
        id: Some(t.id.clone()),
        org_id: t.org_id.clone(),
        plan_code: t.plan_code.clone(),
        plan_name: plan_name(catalog, &t.plan_code),
        started_at: Some(to_rfc3339(t.started_at)),
        ends_at: to_rfc3339(t.ends_at),
        status: t.status.clone(),
        source: if t.self_serve { "self_serve" } else { "admin" }.into(),
        days_left: if t.status == "active" { days_left(now, t.ends_at) } else { 0 },
        previous_plan_code: t.previous_plan_code.clone(),
        converted_plan: t.converted_plan.clone(),
        ended_at: t.ended_at.map(to_rfc3339),
    }
}

/// The organization's trial in force: its own active trial, else a Stripe
/// subscription in `trialing` status (shown the same way, ending when the
/// subscription's first period does).
pub async fn current(db: &Db, org_id: &str, now: i64) -> Result<Option<TrialView>> {
    if !is_valid_id(org_id) {
        return Err(Error::NotFound("organization"));
    }
    let mut conn = db.reader().acquire().await?;
    let catalog = plans::store::plans(&mut conn, None).await?;
    if let Some(t) = store::active(&mut conn, org_id).await? {
        return Ok(Some(view_of(&t, &catalog, now)));
    }
    let (status, period_end) = crate::billing::events::subscription_status(&mut conn, org_id).await?;
    if status.as_deref() != Some("trialing") {
        return Ok(None);
    }
    let org = plans::store::org_plan(&mut conn, org_id).await?;
    let Some(ends) = period_end else { return Ok(None) };
    Ok(Some(TrialView {
        id: None,
        org_id: org_id.to_string(),
        plan_code: org.plan_code.clone(),
        plan_name: org.plan_name.clone(),
        started_at: None,
        ends_at: to_rfc3339(ends),
        status: "active".into(),
        source: "stripe".into(),
        days_left: days_left(now, ends),
        previous_plan_code: DEFAULT_PLAN.into(),
        converted_plan: None,
        ended_at: None,
    }))
}

/// The organization's newest trial, active or ended (the admin's drill-down).
pub async fn latest(db: &Db, org_id: &str, now: i64) -> Result<Option<TrialView>> {
    if !is_valid_id(org_id) {
        return Err(Error::NotFound("organization"));
    }
    let mut conn = db.reader().acquire().await?;
    let catalog = plans::store::plans(&mut conn, None).await?;
    Ok(store::latest(&mut conn, org_id).await?.map(|t| view_of(&t, &catalog, now)))
}

/// What every organization page says: the trial running (a warning in its
/// last 3 days), or for a week after it expired, that it did.
pub async fn notice(db: &Db, org_id: &str, now: i64) -> Result<Option<TrialNotice>> {
    let Some(t) = (match current(db, org_id, now).await? {
        Some(t) => Some(t),
        None => latest(db, org_id, now).await?,
    }) else {
        return Ok(None);
    };
    let ends = crate::clock::parse_rfc3339(&t.ends_at).unwrap_or(0);
    let kind = match t.status.as_str() {
        "active" if ends - now <= WARN_BEFORE_MS => "ending",
        "active" => "active",
        "expired" if t.ended_at.as_deref().and_then(crate::clock::parse_rfc3339).is_some_and(|e| now - e < EXPIRED_NOTICE_MS) => "expired",
        _ => return Ok(None),
    };
    let now_on = if kind == "expired" { plans::org_plan(db, org_id).await?.plan_name } else { t.plan_name.clone() };
    Ok(Some(TrialNotice { kind: kind.into(), plan_name: t.plan_name, now_on, ends_at: t.ends_at, days_left: t.days_left }))
}

/// The self-serve trial the organization could start: the first public,
/// paid plan offering one, for an organization on a free plan that never
/// had a trial and has no subscription.
pub async fn offer(db: &Db, org_id: &str) -> Result<Option<TrialOffer>> {
    let mut conn = db.reader().acquire().await?;
    let org = plans::store::org_plan(&mut conn, org_id).await?;
    let catalog = plans::store::plans(&mut conn, None).await?;
    if refusal(&mut conn, &org, &catalog).await?.is_some() || store::latest(&mut conn, org_id).await?.is_some() {
        return Ok(None);
    }
    Ok(catalog
        .iter()
        .find(|p| p.trial_days > 0 && p.is_public && p.archived_at.is_none() && p.monthly_price_nanos > 0)
        .map(|p| TrialOffer { plan_code: p.code.clone(), plan_name: p.name.clone(), days: p.trial_days }))
}

/// Why the organization cannot start a trial now, if it cannot.
async fn refusal(conn: &mut AnyConnection, org: &plans::OrgPlan, catalog: &[PlanView]) -> Result<Option<Error>> {
    if org.plan_code == DEMO_PLAN {
        return Ok(Some(Error::conflict("plan", "the demo organization is not billed and has no trials")));
    }
    if store::active(conn, &org.org_id).await?.is_some() {
        return Ok(Some(Error::conflict("trial", "a trial is running already; extend it instead")));
    }
    if catalog.iter().find(|p| p.code == org.plan_code).is_some_and(|p| p.monthly_price_nanos > 0) {
        return Ok(Some(Error::conflict("plan", format!("the organization pays for the {} plan already", org.plan_name))));
    }
    let (status, _) = crate::billing::events::subscription_status(conn, &org.org_id).await?;
    if status.as_deref().is_some_and(crate::billing::status_keeps_plan) {
        return Ok(Some(Error::conflict("plan", "the organization has a subscription already")));
    }
    Ok(None)
}

/// Starts a trial in one transaction: the row, the plan move (billing
/// nothing), the audit entry.
async fn begin(db: &Db, org_id: &str, plan_code: &str, days: i64, self_serve: bool, started_by: Option<&str>, by: &By, now: i64) -> Result<TrialView> {
    let mut tx = db.begin().await?;
    let org = plans::store::org_plan(&mut tx, org_id).await?;
    let catalog = plans::store::plans(&mut tx, None).await?;
    if let Some(e) = refusal(&mut tx, &org, &catalog).await? {
        return Err(e);
    }
    let plan = catalog.iter().find(|p| p.code == plan_code.trim()).ok_or_else(|| Error::invalid("plan", format!("there is no plan {:?}", plan_code.trim())))?;
    if plan.archived_at.is_some() || plan.monthly_price_nanos == 0 {
        return Err(Error::invalid("plan", format!("the {} plan is {}: only a paid plan can be tried", plan.name, if plan.archived_at.is_some() { "archived" } else { "free" })));
    }
    let row = TrialRow {
        id: new_id(),
        org_id: org_id.to_string(),
        plan_code: plan.code.clone(),
        previous_plan_code: org.plan_code.clone(),
        self_serve,
        started_at: now,
        ends_at: now + days * DAY_MS,
        status: "active".into(),
        ended_at: None,
        converted_plan: None,
        warned_at: None,
    };
    store::insert(&mut tx, &row, started_by).await.map_err(|e| match e {
        // Two starts at once: the partial unique index keeps one.
        Error::Store(ref d) if crate::db::is_unique_violation(d) => Error::conflict("trial", "a trial is running already; extend it instead"),
        e => e,
    })?;
    crate::billing::events::move_plan_unbilled(&mut tx, db.engine, &org, &plan.code, &org.plan_code, "trial start", now).await?;
    let details = serde_json::json!({"plan": plan.code, "days": days, "ends_at": to_rfc3339(row.ends_at), "from": org.plan_code, "self_serve": self_serve});
    audit::record_in(&mut tx, db.engine, &by.entry(Some(org_id), "trial.start", Some(&plan.code)).details(details)).await?;
    tx.commit().await?;
    crate::quota::limits_changed(db);
    Ok(view_of(&row, &catalog, now))
}

/// An owner starts the plan's self-serve trial ("Start a 14-day Pro
/// trial"), once per organization.
pub async fn start(db: &Db, scope: &OrgScope, by: &By, now: i64) -> Result<TrialView> {
    scope.require(Role::Owner)?;
    let had = {
        let mut conn = db.reader().acquire().await?;
        store::latest(&mut conn, &scope.org_id).await?
    };
    if let Some(t) = had {
        if t.status == "active" {
            return Err(Error::conflict("trial", "a trial is running already"));
        }
        return Err(Error::conflict("trial", "this organization has had its trial; upgrade to keep the paid plan's limits"));
    }
    let offer = offer(db, &scope.org_id).await?.ok_or_else(|| Error::conflict("trial", "no plan offers a trial to this organization"))?;
    begin(db, &scope.org_id, &offer.plan_code, offer.days, true, Some(&scope.user_id), by, now).await
}

/// A platform admin starts a trial of any paid plan, of any length (1 to
/// 365 days), for an organization on a free plan; earlier trials do not
/// matter.
pub async fn start_for(db: &Db, actor: &UserView, org_id: &str, plan_code: &str, days: &str, by: &By, now: i64) -> Result<TrialView> {
    require_platform_admin(actor)?;
    let days = parse_days("days", days)?;
    if !is_valid_id(org_id) {
        return Err(Error::NotFound("organization"));
    }
    begin(db, org_id, plan_code, days, false, Some(&actor.id), by, now).await
}

/// A platform admin moves an active trial's end `days` later, with a reason.
pub async fn extend(db: &Db, actor: &UserView, org_id: &str, days: &str, reason: &str, by: &By, now: i64) -> Result<TrialView> {
    require_platform_admin(actor)?;
    let days = parse_days("days", days)?;
    let reason = parse_reason(reason)?;
    if !is_valid_id(org_id) {
        return Err(Error::NotFound("organization"));
    }
    let mut tx = db.begin().await?;
    let mut t = store::active(&mut tx, org_id).await?.ok_or(Error::NotFound("active trial"))?;
    let from = t.ends_at;
    // An extension counts from the end, or from now for one overdue but
    // not yet expired by the task.
    t.ends_at = from.max(now) + days * DAY_MS;
    if !store::set_end(&mut tx, org_id, &t.id, t.ends_at).await? {
        return Err(Error::NotFound("active trial"));
    }
    let details = serde_json::json!({"days": days, "reason": reason, "from": to_rfc3339(from), "to": to_rfc3339(t.ends_at)});
    audit::record_in(&mut tx, db.engine, &by.entry(Some(org_id), "trial.extend", Some(&t.plan_code)).details(details)).await?;
    let catalog = plans::store::plans(&mut tx, None).await?;
    tx.commit().await?;
    Ok(view_of(&t, &catalog, now))
}

/// Ends an active trial now, back on the plan it came from: an owner of
/// the organization (`scope`) or a platform admin (`admin`).
pub async fn cancel(db: &Db, org_id: &str, scope: Option<&OrgScope>, admin: Option<&UserView>, by: &By, now: i64) -> Result<TrialView> {
    match (scope, admin) {
        (Some(s), _) if s.org_id == org_id => s.require(Role::Owner)?,
        (_, Some(a)) => require_platform_admin(a)?,
        _ => return Err(Error::Forbidden("owners and platform admins only".into())),
    }
    if !is_valid_id(org_id) {
        return Err(Error::NotFound("organization"));
    }
    let mut tx = db.begin().await?;
    let t = store::active(&mut tx, org_id).await?.ok_or(Error::NotFound("active trial"))?;
    end_and_return(&mut tx, db.engine, &t, "canceled", now).await?;
    audit::record_in(&mut tx, db.engine, &by.entry(Some(org_id), "trial.cancel", Some(&t.plan_code)).details(serde_json::json!({"ends_at": to_rfc3339(t.ends_at), "days_left": days_left(now, t.ends_at)}))).await?;
    let catalog = plans::store::plans(&mut tx, None).await?;
    tx.commit().await?;
    crate::quota::limits_changed(db);
    Ok(view_of(&TrialRow { status: "canceled".into(), ended_at: Some(now), ..t }, &catalog, now))
}

/// Ends the trial as `status` and returns the organization to the plan it
/// came from (Starter if that one is gone or archived), billing nothing.
/// Members and projects beyond that plan's limits stay; new ones are
/// refused by the limits, as after any downgrade.
async fn end_and_return(conn: &mut AnyConnection, engine: Engine, t: &TrialRow, status: &str, now: i64) -> Result<bool> {
    if !store::end(conn, &t.org_id, &t.id, status, now, None).await? {
        return Ok(false);
    }
    let org = plans::store::org_plan(conn, &t.org_id).await?;
    if org.plan_code == t.plan_code {
        let back = match plans::store::plans(conn, Some(&t.previous_plan_code)).await?.pop() {
            Some(p) if p.archived_at.is_none() => p.code,
            _ => DEFAULT_PLAN.to_string(),
        };
        crate::billing::events::move_plan_unbilled(conn, engine, &org, &back, &back, &format!("trial {status}"), now).await?;
    }
    Ok(true)
}

/// Ends the organization's active trial as converted, in billing's
/// transaction (a Checkout subscription applied). Returns the trial, for
/// billing to charge the paid plan from now as an upgrade from the plan
/// paid before it; `None` when no trial was running.
pub(crate) async fn convert_in(conn: &mut AnyConnection, engine: Engine, org_id: &str, paid_plan: &str, now: i64) -> Result<Option<TrialRow>> {
    let Some(t) = store::active(conn, org_id).await? else { return Ok(None) };
    if !store::end(conn, org_id, &t.id, "converted", now, Some(paid_plan)).await? {
        return Ok(None);
    }
    let details = serde_json::json!({"plan": t.plan_code, "paid_plan": paid_plan, "ends_at": to_rfc3339(t.ends_at), "days_left": days_left(now, t.ends_at)});
    let entry = audit::NewEntry::new(Some(org_id), audit::Actor::system("stripe"), "trial.convert", Some(paid_plan)).details(details);
    audit::record_in(conn, engine, &entry).await?;
    Ok(Some(t))
}

/// What one periodic pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DuePass {
    pub warned: usize,
    pub expired: usize,
}

async fn mail_owners(conn: &mut AnyConnection, org_id: &str, subject: &str, body: &str, now: i64) -> Result<()> {
    for to in crate::orgs::store::member_emails(conn, org_id, &["owner", "admin"]).await? {
        crate::alerts::outbox::enqueue(conn, org_id, None, "email", &to, subject, body, now).await?;
    }
    Ok(())
}

/// The periodic work (in the billing task, every minute): the mail 3 days
/// before a trial ends, then expiry at its end. Each trial is claimed by a
/// conditional UPDATE, so two processes never warn or expire it twice.
pub async fn run_due(db: &Db, now: i64) -> Result<DuePass> {
    let due = {
        let mut conn = db.reader().acquire().await?;
        store::active_ending_before(&mut conn, now + WARN_BEFORE_MS).await?
    };
    let mut pass = DuePass::default();
    for t in due {
        let mut tx = db.begin().await?;
        let catalog = plans::store::plans(&mut tx, None).await?;
        let name = plan_name(&catalog, &t.plan_code);
        let org_name = crate::orgs::store::existing_name(&mut tx, &t.org_id).await?;
        if t.ends_at <= now {
            if !end_and_return(&mut tx, db.engine, &t, "expired", now).await? {
                continue;
            }
            let back = plans::store::org_plan(&mut tx, &t.org_id).await?.plan_name;
            let entry = audit::NewEntry::new(Some(&t.org_id), audit::Actor::system("trial expiry"), "trial.expire", Some(&t.plan_code))
                .details(serde_json::json!({"ends_at": to_rfc3339(t.ends_at), "now_on": back}));
            audit::record_in(&mut tx, db.engine, &entry).await?;
            let body = format!(
                "The {name} trial of {org_name} ended on {}. The organization is on the {back} plan now: its limits apply, and members or \
                 projects beyond them stay but no new ones can be added.\n\nUpgrade on the Billing page to get {name} back.\n",
                &to_rfc3339(t.ends_at)[..10]
            );
            mail_owners(&mut tx, &t.org_id, &format!("[Tollbooth] {org_name}: your {name} trial has ended"), &body, now).await?;
            tx.commit().await?;
            pass.expired += 1;
        } else if t.warned_at.is_none() {
            if !store::mark_warned(&mut tx, &t.org_id, &t.id, now).await? {
                continue;
            }
            let left = days_left(now, t.ends_at);
            let body = format!(
                "The {name} trial of {org_name} ends on {} ({left} day{} left). Upgrade on the Billing page to keep {name}; \
                 otherwise the organization returns to its previous plan.\n",
                &to_rfc3339(t.ends_at)[..10],
                if left == 1 { "" } else { "s" }
            );
            mail_owners(&mut tx, &t.org_id, &format!("[Tollbooth] {org_name}: your {name} trial ends in {left} day{}", if left == 1 { "" } else { "s" }), &body, now).await?;
            tx.commit().await?;
            pass.warned += 1;
        }
    }
    if pass.expired > 0 {
        crate::quota::limits_changed(db);
    }
    Ok(pass)
}

/// Organizations with an active trial (billing skips their drafts: a
/// trial period bills the plan paid for before it).
pub(crate) async fn trialing_org_ids(conn: &mut AnyConnection) -> Result<Vec<String>> {
    store::trialing_org_ids(conn).await
}

/// Every active trial's end by organization (the admin tenant list).
pub(crate) async fn active_ends(conn: &mut AnyConnection) -> Result<std::collections::HashMap<String, i64>> {
    store::active_ends(conn).await
}

/// The admin dashboard's figures: trials ending in the next 7 days, and
/// per calendar month (UTC, the last `months`) trials started, converted,
/// expired and canceled, with the conversion rate of those that ended.
pub async fn stats(db: &Db, now: i64, months: u32) -> Result<TrialStats> {
    use chrono::{Datelike, TimeZone};
    let mut conn = db.reader().acquire().await?;
    let ending_soon = store::ending_with_names(&mut conn, now + 7 * DAY_MS)
        .await?
        .into_iter()
        .map(|(org_id, org_name, plan_name, ends)| TrialEnding { org_id, org_name, plan_name, ends_at: to_rfc3339(ends), days_left: days_left(now, ends) })
        .collect();
    let today = chrono::DateTime::from_timestamp_millis(now).unwrap_or_default();
    let (mut y, mut m) = (today.year(), today.month());
    let mut out = Vec::new();
    let (mut converted, mut ended) = (0, 0);
    for _ in 0..months.max(1) {
        let start = chrono::Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).single().map_or(0, |t| t.timestamp_millis());
        let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
        let end = chrono::Utc.with_ymd_and_hms(ny, nm, 1, 0, 0, 0).single().map_or(0, |t| t.timestamp_millis());
        let (s, c, e, x) = store::month_counts(&mut conn, start, end).await?;
        converted += c;
        ended += c + e + x;
        out.push(TrialMonth { month: format!("{y:04}-{m:02}"), started: s, converted: c, expired: e, canceled: x });
        (y, m) = if m == 1 { (y - 1, 12) } else { (y, m - 1) };
    }
    Ok(TrialStats { active: store::active_count(&mut conn).await?, ending_soon, months: out, conversion_rate: super::conversion_rate(converted, ended) })
}
