//! Project services, scoped to the caller's organization.

use super::{ProjectView, Slug};
use crate::clock::now_ms;
use crate::db::{is_unique_violation, Db};
use crate::ids::{is_valid_id, new_id};
use crate::orgs::{OrgScope, Role};
use crate::plans::Metric;
use crate::quota::resources;
use crate::{Error, Result};

fn parse_name(raw: &str) -> Result<String> {
    let s = raw.trim();
    if s.is_empty() || s.chars().count() > 80 {
        return Err(Error::invalid("name", "is required, at most 80 characters"));
    }
    Ok(s.to_string())
}

/// Every project of the organization, active ones first.
pub async fn list(db: &Db, scope: &OrgScope) -> Result<Vec<ProjectView>> {
    let mut conn = db.reader().acquire().await?;
    super::store::list(&mut conn, &scope.org_id).await
}

/// Creates a project (any member), within the plan's project limit. The slug
/// is derived from the name when empty.
pub async fn create(db: &Db, scope: &OrgScope, name: &str, slug: &str) -> Result<ProjectView> {
    scope.require(Role::Member)?;
    let name = parse_name(name)?;
    let slug = if slug.trim().is_empty() { Slug::from_name(&name)? } else { Slug::parse(slug)? };
    let mut tx = db.begin().await?;
    // Counted and inserted under the organization's lock, so two concurrent
    // creations cannot both take the last slot.
    resources::lock_org(&mut tx, db.engine, &scope.org_id).await?;
    resources::ensure_room(db, &mut tx, &scope.org_id, Metric::Projects, 1).await?;
    let p = ProjectView { id: new_id(), name, slug: slug.as_str().to_string(), created_at: now_ms(), archived_at: None };
    let inserted = super::store::insert(&mut tx, &scope.org_id, &p, &scope.user_id).await;
    match inserted {
        Err(e) if is_unique_violation(&e) => {
            return Err(Error::conflict("slug", format!("a project with slug {:?} exists already", p.slug)))
        }
        other => other?,
    };
    tx.commit().await?;
    Ok(p)
}

/// Archives a project (any member) or restores it (within the limit).
pub async fn set_archived(db: &Db, scope: &OrgScope, project_id: &str, archived: bool) -> Result<()> {
    scope.require(Role::Member)?;
    if !is_valid_id(project_id) {
        return Err(Error::NotFound("project"));
    }
    let mut tx = db.begin().await?;
    resources::lock_org(&mut tx, db.engine, &scope.org_id).await?;
    if !archived {
        resources::ensure_room(db, &mut tx, &scope.org_id, Metric::Projects, 1).await?;
    }
    if !super::store::set_archived(&mut tx, &scope.org_id, project_id, archived.then(now_ms)).await? {
        return Err(Error::NotFound("project"));
    }
    tx.commit().await?;
    Ok(())
}
