//! Storage of projects (`projects`).

use sqlx::{AnyConnection, Row};

use super::ProjectView;
use crate::Result;

/// Every project of the organization, active ones first, then by name.
pub(crate) async fn list(conn: &mut AnyConnection, org_id: &str) -> Result<Vec<ProjectView>> {
    let rows = sqlx::query(
        "SELECT id, name, slug, created_at, archived_at FROM projects WHERE org_id = $1 \
         ORDER BY CASE WHEN archived_at IS NULL THEN 0 ELSE 1 END, name, id",
    )
    .bind(org_id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(ProjectView {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                slug: r.try_get("slug")?,
                created_at: r.try_get("created_at")?,
                archived_at: r.try_get("archived_at")?,
            })
        })
        .collect()
}

/// Inserts a project; the caller maps a unique violation (the slug) itself.
pub(crate) async fn insert(conn: &mut AnyConnection, org_id: &str, p: &ProjectView, created_by: &str) -> std::result::Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO projects (id, org_id, name, slug, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(&p.id)
        .bind(org_id)
        .bind(&p.name)
        .bind(&p.slug)
        .bind(created_by)
        .bind(p.created_at)
        .execute(conn)
        .await?;
    Ok(())
}

/// Archives an active project (`Some(at)`) or restores an archived one
/// (`None`); returns whether one changed.
pub(crate) async fn set_archived(conn: &mut AnyConnection, org_id: &str, project_id: &str, at: Option<i64>) -> Result<bool> {
    let sql = if at.is_some() {
        "UPDATE projects SET archived_at = $3 WHERE id = $1 AND org_id = $2 AND archived_at IS NULL"
    } else {
        "UPDATE projects SET archived_at = $3 WHERE id = $1 AND org_id = $2 AND archived_at IS NOT NULL"
    };
    let done = sqlx::query(sql).bind(project_id).bind(org_id).bind(at).execute(conn).await?;
    Ok(done.rows_affected() != 0)
}

