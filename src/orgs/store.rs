//! Storage of organizations, memberships and invites.

use std::collections::HashMap;

use sqlx::{AnyConnection, Row};

use super::{InviteView, MemberView, MyOrg, OrgSummary, OrgView, Role};
use crate::Result;

fn role_of(s: String) -> Result<Role> {
    Role::parse(&s).map_err(|_| crate::Error::Internal(format!("unknown role in store: {s}")))
}

pub(super) async fn insert_org(conn: &mut AnyConnection, org: &OrgView) -> Result<()> {
    sqlx::query("INSERT INTO organizations (id, name, time_zone, created_at) VALUES ($1, $2, $3, $4)")
        .bind(&org.id)
        .bind(&org.name)
        .bind(&org.time_zone)
        .bind(org.created_at)
        .execute(conn)
        .await?;
    Ok(())
}

pub(super) async fn get_org(conn: &mut AnyConnection, org_id: &str) -> Result<Option<OrgView>> {
    let row = sqlx::query("SELECT id, name, time_zone, created_at, refuse_unpriced_models FROM organizations WHERE id = $1")
        .bind(org_id)
        .fetch_optional(conn)
        .await?;
    row.map(|r| {
        Ok(OrgView {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            time_zone: r.try_get("time_zone")?,
            created_at: r.try_get("created_at")?,
            refuse_unpriced_models: r.try_get::<i64, _>("refuse_unpriced_models")? != 0,
        })
    })
    .transpose()
}

pub(super) async fn update_settings(conn: &mut AnyConnection, org_id: &str, name: &str, tz: &str, refuse_unpriced_models: bool) -> Result<()> {
    sqlx::query("UPDATE organizations SET name = $2, time_zone = $3, refuse_unpriced_models = $4 WHERE id = $1")
        .bind(org_id)
        .bind(name)
        .bind(tz)
        .bind(refuse_unpriced_models as i64)
        .execute(conn)
        .await?;
    Ok(())
}

/// Takes the organization's row lock (PostgreSQL) so that rules reading
/// several memberships (the last owner) see each other's changes.
pub(super) async fn lock_org(conn: &mut AnyConnection, org_id: &str) -> Result<()> {
    sqlx::query("UPDATE organizations SET name = name WHERE id = $1")
        .bind(org_id)
        .execute(conn)
        .await?;
    Ok(())
}

pub(super) async fn insert_membership(conn: &mut AnyConnection, org_id: &str, user_id: &str, role: Role, now: i64) -> Result<()> {
    sqlx::query("INSERT INTO memberships (org_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)")
        .bind(org_id)
        .bind(user_id)
        .bind(role.as_str())
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

pub(super) async fn role(conn: &mut AnyConnection, org_id: &str, user_id: &str) -> Result<Option<Role>> {
    let r: Option<String> = sqlx::query_scalar("SELECT role FROM memberships WHERE org_id = $1 AND user_id = $2")
        .bind(org_id)
        .bind(user_id)
        .fetch_optional(conn)
        .await?;
    r.map(role_of).transpose()
}

/// A user's e-mail (for the audit log's details).
pub(super) async fn user_email(conn: &mut AnyConnection, user_id: &str) -> Result<Option<String>> {
    Ok(sqlx::query_scalar("SELECT email FROM users WHERE id = $1").bind(user_id).fetch_optional(conn).await?)
}

pub(super) async fn set_role(conn: &mut AnyConnection, org_id: &str, user_id: &str, role: Role) -> Result<()> {
    sqlx::query("UPDATE memberships SET role = $3 WHERE org_id = $1 AND user_id = $2")
        .bind(org_id)
        .bind(user_id)
        .bind(role.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

pub(super) async fn delete_membership(conn: &mut AnyConnection, org_id: &str, user_id: &str) -> Result<()> {
    sqlx::query("DELETE FROM memberships WHERE org_id = $1 AND user_id = $2")
        .bind(org_id)
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(())
}

pub(super) async fn count_owners(conn: &mut AnyConnection, org_id: &str) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM memberships WHERE org_id = $1 AND role = 'owner'")
        .bind(org_id)
        .fetch_one(conn)
        .await?)
}

pub(super) async fn orgs_of_user(conn: &mut AnyConnection, user_id: &str) -> Result<Vec<MyOrg>> {
    let rows = sqlx::query(
        "SELECT o.id, o.name, m.role FROM memberships m JOIN organizations o ON o.id = m.org_id \
         WHERE m.user_id = $1 ORDER BY o.name, o.id",
    )
    .bind(user_id)
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|r| Ok(MyOrg { id: r.try_get("id")?, name: r.try_get("name")?, role: role_of(r.try_get("role")?)? }))
        .collect()
}

pub(super) async fn members(conn: &mut AnyConnection, org_id: &str) -> Result<Vec<MemberView>> {
    let rows = sqlx::query(
        "SELECT u.id, u.email, m.role, m.created_at FROM memberships m JOIN users u ON u.id = m.user_id \
         WHERE m.org_id = $1 ORDER BY m.created_at, u.email",
    )
    .bind(org_id)
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(MemberView {
                user_id: r.try_get("id")?,
                email: r.try_get("email")?,
                role: role_of(r.try_get("role")?)?,
                joined_at: r.try_get("created_at")?,
            })
        })
        .collect()
}

pub(super) async fn is_member_email(conn: &mut AnyConnection, org_id: &str, email: &str) -> Result<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.org_id = $1 AND u.email = $2",
    )
    .bind(org_id)
    .bind(email)
    .fetch_one(conn)
    .await?;
    Ok(n > 0)
}

/// An invite row with what accepting it needs.
pub(super) struct InviteRow {
    pub view: InviteView,
    pub org_id: String,
    pub accepted_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

pub(super) async fn insert_invite(
    conn: &mut AnyConnection,
    org_id: &str,
    invite: &InviteView,
    token_hash: &str,
    invited_by: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO invites (id, org_id, email, role, token_hash, invited_by, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&invite.id)
    .bind(org_id)
    .bind(&invite.email)
    .bind(invite.role.as_str())
    .bind(token_hash)
    .bind(invited_by)
    .bind(invite.created_at)
    .bind(invite.expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

fn invite_from_row(r: sqlx::any::AnyRow) -> Result<InviteRow> {
    Ok(InviteRow {
        view: InviteView {
            id: r.try_get("id")?,
            email: r.try_get("email")?,
            role: role_of(r.try_get("role")?)?,
            created_at: r.try_get("created_at")?,
            expires_at: r.try_get("expires_at")?,
        },
        org_id: r.try_get("org_id")?,
        accepted_at: r.try_get("accepted_at")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}

const INVITE_COLUMNS: &str = "id, org_id, email, role, created_at, expires_at, accepted_at, revoked_at";

pub(super) async fn invite_by_token_hash(conn: &mut AnyConnection, token_hash: &str) -> Result<Option<InviteRow>> {
    let row = sqlx::query(&format!("SELECT {INVITE_COLUMNS} FROM invites WHERE token_hash = $1"))
        .bind(token_hash)
        .fetch_optional(conn)
        .await?;
    row.map(invite_from_row).transpose()
}

pub(super) async fn pending_invites(conn: &mut AnyConnection, org_id: &str, now: i64) -> Result<Vec<InviteView>> {
    let rows = sqlx::query(&format!(
        "SELECT {INVITE_COLUMNS} FROM invites WHERE org_id = $1 AND accepted_at IS NULL \
         AND revoked_at IS NULL AND expires_at > $2 ORDER BY created_at DESC"
    ))
    .bind(org_id)
    .bind(now)
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(|r| Ok(invite_from_row(r)?.view)).collect()
}

/// Marks an invite revoked; returns whether a pending invite of this org was found.
pub(super) async fn revoke_invite(conn: &mut AnyConnection, org_id: &str, invite_id: &str, now: i64) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE invites SET revoked_at = $3 WHERE id = $1 AND org_id = $2 AND accepted_at IS NULL AND revoked_at IS NULL",
    )
    .bind(invite_id)
    .bind(org_id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Marks an invite accepted if it still is pending; returns whether it was.
pub(super) async fn mark_accepted(conn: &mut AnyConnection, invite_id: &str, now: i64) -> Result<bool> {
    let r = sqlx::query("UPDATE invites SET accepted_at = $2 WHERE id = $1 AND accepted_at IS NULL AND revoked_at IS NULL")
        .bind(invite_id)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

pub(super) async fn all_orgs(conn: &mut AnyConnection) -> Result<Vec<OrgSummary>> {
    let rows = sqlx::query(
        "SELECT o.id, o.name, o.created_at, o.plan_code, (SELECT COUNT(*) FROM memberships m WHERE m.org_id = o.id) AS members \
         FROM organizations o ORDER BY o.created_at DESC, o.id",
    )
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(OrgSummary {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                members: r.try_get("members")?,
                created_at: r.try_get("created_at")?,
                plan_code: r.try_get("plan_code")?,
            })
        })
        .collect()
}

/// The organization's time zone (IANA name); `None` when there is no such
/// organization. Other modules read it here, in their own transaction.
pub(crate) async fn time_zone(conn: &mut AnyConnection, org_id: &str) -> Result<Option<String>> {
    Ok(sqlx::query_scalar("SELECT time_zone FROM organizations WHERE id = $1").bind(org_id).fetch_optional(conn).await?)
}

/// The time zone of an organization that must exist (a missing row is a store error).
pub(crate) async fn existing_time_zone(conn: &mut AnyConnection, org_id: &str) -> Result<String> {
    Ok(sqlx::query_scalar("SELECT time_zone FROM organizations WHERE id = $1").bind(org_id).fetch_one(conn).await?)
}

/// The name of an organization that must exist (a missing row is a store error).
pub(crate) async fn existing_name(conn: &mut AnyConnection, org_id: &str) -> Result<String> {
    Ok(sqlx::query_scalar("SELECT name FROM organizations WHERE id = $1").bind(org_id).fetch_one(conn).await?)
}

/// The name and time zone of an organization that must exist.
pub(crate) async fn existing_name_and_zone(conn: &mut AnyConnection, org_id: &str) -> Result<(String, String)> {
    let r = sqlx::query("SELECT name, time_zone FROM organizations WHERE id = $1").bind(org_id).fetch_one(conn).await?;
    Ok((r.try_get("name")?, r.try_get("time_zone")?))
}

/// Whether the organization exists.
pub(crate) async fn exists(conn: &mut AnyConnection, org_id: &str) -> Result<bool> {
    let found: Option<String> =
        sqlx::query_scalar("SELECT id FROM organizations WHERE id = $1").bind(org_id).fetch_optional(conn).await?;
    Ok(found.is_some())
}

/// The e-mails of the organization's members holding one of `roles`, sorted.
pub(crate) async fn member_emails(conn: &mut AnyConnection, org_id: &str, roles: &[&str]) -> Result<Vec<String>> {
    let list = roles.iter().map(|r| format!("'{r}'")).collect::<Vec<_>>().join(", ");
    Ok(sqlx::query_scalar(&format!(
        "SELECT u.email FROM memberships m JOIN users u ON u.id = m.user_id \
         WHERE m.org_id = $1 AND m.role IN ({list}) ORDER BY u.email"
    ))
    .bind(org_id)
    .fetch_all(conn)
    .await?)
}

/// When and why the organization was suspended: `None` when there is no
/// such organization, `Some((None, _))` when it is active.
pub(crate) async fn suspension(conn: &mut AnyConnection, org_id: &str) -> Result<Option<(Option<i64>, Option<String>)>> {
    let row = sqlx::query("SELECT suspended_at, suspended_reason FROM organizations WHERE id = $1")
        .bind(org_id)
        .fetch_optional(conn)
        .await?;
    row.map(|r| Ok((r.try_get("suspended_at")?, r.try_get("suspended_reason")?))).transpose()
}

/// Suspends the organization (a second suspension keeps the first time and
/// replaces the reason); returns whether it exists.
pub(crate) async fn set_suspended(conn: &mut AnyConnection, org_id: &str, now: i64, reason: &str) -> Result<bool> {
    let n = sqlx::query("UPDATE organizations SET suspended_at = COALESCE(suspended_at, $2), suspended_reason = $3 WHERE id = $1")
        .bind(org_id)
        .bind(now)
        .bind(reason)
        .execute(conn)
        .await?
        .rows_affected();
    Ok(n != 0)
}

/// Lifts a suspension; returns whether the organization exists.
pub(crate) async fn clear_suspension(conn: &mut AnyConnection, org_id: &str) -> Result<bool> {
    let n = sqlx::query("UPDATE organizations SET suspended_at = NULL, suspended_reason = NULL WHERE id = $1")
        .bind(org_id)
        .execute(conn)
        .await?
        .rows_affected();
    Ok(n != 0)
}

/// The names of the organizations among `ids` (unknown ids are absent).
pub(crate) async fn names_of(conn: &mut AnyConnection, ids: &[String]) -> Result<HashMap<String, String>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let list = (1..=ids.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
    let sql = format!("SELECT id, name FROM organizations WHERE id IN ({list})");
    let mut q = sqlx::query(&sql);
    for id in ids {
        q = q.bind(id);
    }
    let rows = q.fetch_all(conn).await?;
    rows.iter().map(|r| Ok((r.try_get("id")?, r.try_get("name")?))).collect()
}

/// How many organizations were created before `t`.
pub(crate) async fn created_before(conn: &mut AnyConnection, t: i64) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM organizations WHERE created_at < $1").bind(t).fetch_one(conn).await?)
}

/// Organizations created in `[from, to)`, counted per bucket in SQL: (bucket
/// start, count), where a bucket is the UTC day of creation, or with `starts`
/// (ascending bucket starts, UTC ms) the greatest start not after that day.
pub(crate) async fn created_per_bucket(conn: &mut AnyConnection, from_ms: i64, to_ms: i64, starts: Option<&[i64]>) -> Result<Vec<(i64, i64)>> {
    const DAY_MS: i64 = 86_400_000;
    let day = format!("(created_at / {DAY_MS}) * {DAY_MS}");
    let bucket = match starts {
        None => day,
        Some(b) => crate::db::bucket_case(&day, b),
    };
    let rows = sqlx::query(&format!(
        "SELECT {bucket} AS bucket, COUNT(*) AS n FROM organizations WHERE created_at >= $1 AND created_at < $2 GROUP BY 1"
    ))
    .bind(from_ms)
    .bind(to_ms)
    .fetch_all(conn)
    .await?;
    rows.iter().map(|r| Ok((r.try_get("bucket")?, r.try_get("n")?))).collect()
}

/// An organization as the platform admin's tenant list reads it.
pub(crate) struct Tenant {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub plan_code: String,
    pub suspended_at: Option<i64>,
    pub suspended_reason: Option<String>,
    pub members: i64,
}

/// Organizations with their plan, suspension and member count, newest
/// first: those whose name or id contains `search` (case-insensitive; blank:
/// all), only those with an active trial when `trialing_only`, `limit` from
/// `offset` (`None`: all). Returns them and how many match in all.
pub(crate) async fn tenants(
    conn: &mut AnyConnection,
    search: &str,
    trialing_only: bool,
    offset: i64,
    limit: Option<i64>,
) -> Result<(Vec<Tenant>, i64)> {
    // LIKE's wildcards in the search are matched literally.
    let needle = search.trim().to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    let rows = sqlx::query(
        "SELECT o.id, o.name, o.created_at, o.plan_code, o.suspended_at, o.suspended_reason, \
         (SELECT COUNT(*) FROM memberships m WHERE m.org_id = o.id) AS members, COUNT(*) OVER () AS total \
         FROM organizations o \
         WHERE ($1 = '' OR LOWER(o.name) LIKE '%' || $1 || '%' ESCAPE '\\' OR LOWER(o.id) LIKE '%' || $1 || '%' ESCAPE '\\') \
         AND ($2 = 0 OR EXISTS (SELECT 1 FROM trials t WHERE t.org_id = o.id AND t.status = 'active')) \
         ORDER BY o.created_at DESC, o.id LIMIT $3 OFFSET $4",
    )
    .bind(needle)
    .bind(i64::from(trialing_only))
    .bind(limit.unwrap_or(i64::MAX))
    .bind(offset.max(0))
    .fetch_all(conn)
    .await?;
    let total = match rows.first() {
        Some(r) => r.try_get("total")?,
        None => 0,
    };
    let tenants = rows
        .iter()
        .map(|r| {
            Ok(Tenant {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                created_at: r.try_get("created_at")?,
                plan_code: r.try_get("plan_code")?,
                suspended_at: r.try_get("suspended_at")?,
                suspended_reason: r.try_get("suspended_reason")?,
                members: r.try_get("members")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((tenants, total))
}
