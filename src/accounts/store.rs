//! Storage of users. Functions take a connection so callers choose the transaction.

use sqlx::{AnyConnection, Row};

use super::{PasswordHash, UserView};
use crate::db::is_unique_violation;
use crate::{Error, Result};

const USER_COLUMNS: &str = "id, email, is_platform_admin";

fn user_from_row(row: &sqlx::any::AnyRow) -> Result<UserView> {
    Ok(UserView {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        is_platform_admin: row.try_get::<i64, _>("is_platform_admin")? != 0,
    })
}

pub(super) async fn insert(
    conn: &mut AnyConnection,
    id: &str,
    email: &str,
    hash: &PasswordHash,
    is_platform_admin: bool,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO users (id, email, password_hash, is_platform_admin, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(email)
    .bind(&hash.0)
    .bind(is_platform_admin as i64)
    .bind(now)
    .execute(conn)
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            Error::conflict("email", "an account with this e-mail already exists")
        } else {
            e.into()
        }
    })?;
    Ok(())
}

pub(super) async fn find_by_email(conn: &mut AnyConnection, email: &str) -> Result<Option<(UserView, PasswordHash)>> {
    let row = sqlx::query(&format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE email = $1"))
        .bind(email)
        .fetch_optional(conn)
        .await?;
    row.map(|r| Ok((user_from_row(&r)?, PasswordHash(r.try_get("password_hash")?)))).transpose()
}

pub(super) async fn find_by_id(conn: &mut AnyConnection, id: &str) -> Result<Option<UserView>> {
    let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(user_from_row).transpose()
}

pub(super) async fn update_admin_and_password(
    conn: &mut AnyConnection,
    id: &str,
    is_platform_admin: bool,
    hash: Option<&PasswordHash>,
) -> Result<()> {
    sqlx::query("UPDATE users SET is_platform_admin = $2 WHERE id = $1")
        .bind(id)
        .bind(is_platform_admin as i64)
        .execute(&mut *conn)
        .await?;
    if let Some(h) = hash {
        sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
            .bind(id)
            .bind(&h.0)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

pub(super) async fn count(conn: &mut AnyConnection) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(conn).await?)
}
