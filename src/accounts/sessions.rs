//! Which browser sessions still sign their user in.
//!
//! A session remembers when it was signed in. It signs its user in while
//! - it is younger than [`SESSION_MAX_AGE_MS`] (an absolute lifetime: daily
//!   use does not extend it, unlike the 7-day idle expiry of the cookie), and
//! - it was signed in at or after the user's `sessions_valid_after`, which
//!   "sign out everywhere" and a password change move to now: every session
//!   signed in before, this one included, ends at its next request.

use sqlx::AnyConnection;

use super::{store, UserView};
use crate::audit::{self, By};
use crate::clock::{now_ms, Millis};
use crate::db::Db;
use crate::{Error, Result};

/// A session ends this long after its sign-in, however much it is used.
pub const SESSION_MAX_AGE_MS: Millis = 30 * 24 * 3600 * 1000;

/// The user a session signed in at `signed_in_at` still signs in, if any.
pub async fn session_user(db: &Db, user_id: &str, signed_in_at: Millis) -> Result<Option<UserView>> {
    if now_ms() - signed_in_at > SESSION_MAX_AGE_MS {
        return Ok(None);
    }
    let mut conn = db.reader().acquire().await?;
    Ok(match store::find_with_sessions_valid_after(&mut conn, user_id).await? {
        Some((user, valid_after)) if signed_in_at >= valid_after => Some(user),
        _ => None,
    })
}

/// Ends every session of the user signed in until now, inside the caller's
/// transaction; returns the sign-in time from which sessions are valid
/// (one millisecond from now, so that a session signed in this very
/// millisecond ends too).
pub(super) async fn end_all_in(conn: &mut AnyConnection, user_id: &str) -> Result<Millis> {
    let valid_after = now_ms() + 1;
    store::set_sessions_valid_after(conn, user_id, valid_after).await?;
    Ok(valid_after)
}

/// "Sign out everywhere": ends every session of the signed-in user `by`,
/// the caller's own included, recording `auth.logout_everywhere`.
pub async fn end_all_sessions(db: &Db, by: &By) -> Result<()> {
    let user_id = by.id.clone().ok_or_else(|| Error::Internal("sign out everywhere without a user".into()))?;
    let mut tx = db.begin().await?;
    end_all_in(&mut tx, &user_id).await?;
    audit::record_in(&mut tx, db.engine, &by.entry(None, "auth.logout_everywhere", Some(&user_id))).await?;
    tx.commit().await?;
    Ok(())
}
