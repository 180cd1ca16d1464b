//! Storage of users (`users`) and, in [`throttle`], of throttled attempts.
//! Functions take a connection so callers choose the transaction.

pub(crate) mod throttle;

use sqlx::{AnyConnection, Row};

use super::{PasswordHash, UserView};
use crate::db::is_unique_violation;
use crate::{Error, Result};

const USER_COLUMNS: &str = "id, email, is_platform_admin";

/// The answer to a new account whose e-mail is taken.
pub(super) const DUPLICATE_EMAIL: &str = "this e-mail address cannot be used for a new account; sign in, or use another address";

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
            // Neutral on purpose: the answer must not say that an account exists.
            Error::conflict("email", DUPLICATE_EMAIL)
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

/// Sets the platform admin flag and/or the password hash (each when given).
pub(super) async fn update_admin_and_password(
    conn: &mut AnyConnection,
    id: &str,
    is_platform_admin: Option<bool>,
    hash: Option<&PasswordHash>,
) -> Result<()> {
    if let Some(admin) = is_platform_admin {
        sqlx::query("UPDATE users SET is_platform_admin = $2 WHERE id = $1")
            .bind(id)
            .bind(admin as i64)
            .execute(&mut *conn)
            .await?;
    }
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

/// A user and the time from which their sessions are valid.
pub(super) async fn find_with_sessions_valid_after(conn: &mut AnyConnection, id: &str) -> Result<Option<(UserView, i64)>> {
    let row = sqlx::query(&format!("SELECT {USER_COLUMNS}, sessions_valid_after FROM users WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.map(|r| Ok((user_from_row(&r)?, r.try_get("sessions_valid_after")?))).transpose()
}

/// Ends the user's sessions signed in before `at`.
pub(super) async fn set_sessions_valid_after(conn: &mut AnyConnection, id: &str, at: i64) -> Result<()> {
    sqlx::query("UPDATE users SET sessions_valid_after = $2 WHERE id = $1").bind(id).bind(at).execute(conn).await?;
    Ok(())
}

/// Whether the user exists and is a platform admin now.
pub(crate) async fn is_platform_admin(conn: &mut AnyConnection, id: &str) -> Result<bool> {
    let flag: Option<i64> =
        sqlx::query_scalar("SELECT is_platform_admin FROM users WHERE id = $1").bind(id).fetch_optional(conn).await?;
    Ok(flag.unwrap_or(0) != 0)
}

/// The user with this (normalized) e-mail.
pub(crate) async fn find_view_by_email(conn: &mut AnyConnection, email: &str) -> Result<Option<UserView>> {
    let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1")).bind(email).fetch_optional(conn).await?;
    row.as_ref().map(user_from_row).transpose()
}
