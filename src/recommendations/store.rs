//! Storage of dismissed recommendations (`recommendation_dismissals`).

use sqlx::AnyConnection;

use crate::Result;

/// The keys of the organization's dismissed recommendations.
pub(crate) async fn dismissed(conn: &mut AnyConnection, org_id: &str) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar("SELECT rec_key FROM recommendation_dismissals WHERE org_id = $1").bind(org_id).fetch_all(conn).await?)
}

/// Records a dismissal unless the key was dismissed before (the first is kept).
pub(crate) async fn dismiss(conn: &mut AnyConnection, org_id: &str, key: &str, dismissed_by: &str, now: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO recommendation_dismissals (org_id, rec_key, dismissed_by, dismissed_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (org_id, rec_key) DO NOTHING",
    )
    .bind(org_id)
    .bind(key)
    .bind(dismissed_by)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}
