//! Account services: the only way in to users and credentials.

use serde_json::json;

use super::{password, store, throttle, Email, Password, PasswordHash, UserView};
use crate::audit::{self, By, Outcome};
use crate::clock::{now_ms, Millis};
use crate::db::Db;
use crate::ids::new_id;
use crate::orgs::{self, OrgName, OrgView};
use crate::{Error, Result};

/// The one message for every failed login, whatever the cause.
pub const BAD_CREDENTIALS: &str = "invalid e-mail or password";

/// What signup asks for.
#[derive(Debug, Clone)]
pub struct SignupInput {
    pub email: String,
    pub password: String,
    pub org_name: String,
}

/// A new user with the organization they own.
#[derive(Debug, Clone)]
pub struct Signup {
    pub user: UserView,
    pub org: OrgView,
}

/// Creates a user and an organization with the user as its owner, in one
/// transaction. Refused with [`Error::Throttled`] past `per_ip_per_hour`
/// signups from `ip` (0: no limit), counted whether they succeed or not.
/// A taken e-mail costs the same hashing as a free one and is answered
/// without saying that an account exists.
pub async fn signup(db: &Db, input: SignupInput, ip: Option<&str>, per_ip_per_hour: i64) -> Result<Signup> {
    let email = Email::parse(&input.email)?;
    let password = Password::parse(&input.password)?;
    let org_name = OrgName::parse(&input.org_name)?;
    // Every signup counts: a successful one stays counted too.
    let _counted = throttle::begin(db, &throttle::signup_limits(ip, per_ip_per_hour)).await?;
    let hash = hash_password(db, &password).await?;
    let mut tx = db.begin().await?;
    let user = insert_user(&mut tx, &email, &hash, false).await?;
    let org = orgs::create_with_owner(&mut tx, &org_name, &user.id).await?;
    tx.commit().await?;
    Ok(Signup { user, org })
}

/// Checks credentials, with throttling by e-mail and IP. Every failure,
/// including an unknown or malformed e-mail, returns the same error after the
/// same amount of hashing work.
pub async fn login(db: &Db, email: &str, password: &str, ip: Option<&str>) -> Result<UserView> {
    check_password(db, email, password, ip).await
}

/// The throttled password check behind login, invite acceptance and password
/// change. The attempt is counted before the password is verified (one
/// atomic step, see [`throttle`]); the hash is read and verified without
/// holding the write connection, which SQLite has only one of; a success
/// un-counts the attempt.
pub async fn check_password(db: &Db, email: &str, password: &str, ip: Option<&str>) -> Result<UserView> {
    let attempt = throttle::begin(db, &throttle::password_limits(email, ip)).await?;
    let found = match Email::parse(email) {
        Ok(e) => {
            let mut conn = db.reader().acquire().await?;
            store::find_by_email(&mut conn, e.as_str()).await?
        }
        Err(_) => None,
    };
    let (user, hash) = match found {
        Some((u, h)) => (Some(u), Some(h)),
        None => (None, None),
    };
    let ok = match password::verify(&db.password_gate(), password.to_string(), hash).await {
        Ok(ok) => ok,
        Err(e) => {
            // Not an answer about the password (the gate was full): do not count it.
            throttle::abandon(db, attempt).await?;
            return Err(e);
        }
    };
    match user {
        Some(user) if ok => {
            throttle::succeeded(db, attempt).await?;
            Ok(user)
        }
        _ => Err(Error::Unauthorized(BAD_CREDENTIALS)),
    }
}

/// What the password change form sends.
#[derive(Debug, Clone)]
pub struct PasswordChange {
    pub current: String,
    pub new: String,
    /// The new password typed again.
    pub confirm: String,
}

/// Changes the signed-in user's password: the current one is checked like a
/// login (throttled by e-mail and IP; a wrong one is audited as a failed
/// `auth.password_change`), then the new hash is stored and every session
/// signed in before now ends. Returns the sign-in time to give the caller's
/// own session so that it stays signed in.
pub async fn change_password(db: &Db, by: &By, change: PasswordChange) -> Result<Millis> {
    let user_id = by.id.clone().ok_or_else(|| Error::Internal("password change without a user".into()))?;
    let new = Password::parse(&change.new).map_err(|e| match e {
        Error::Invalid { message, .. } => Error::Invalid { field: "new password", message },
        other => other,
    })?;
    if change.new != change.confirm {
        return Err(Error::invalid("confirm password", "does not match the new password"));
    }
    if let Err(e) = check_password(db, &by.label, &change.current, by.ip.as_deref()).await {
        let reason = if matches!(e, Error::Throttled { .. }) { "throttled" } else { "bad_credentials" };
        let entry = by.entry(None, "auth.password_change", Some(&user_id)).result(Outcome::Failure).details(json!({ "reason": reason }));
        audit::record_or_log(db, &entry).await;
        return Err(match e {
            Error::Unauthorized(_) => Error::invalid("current password", "is not correct"),
            other => other,
        });
    }
    let hash = hash_password(db, &new).await?;
    let mut tx = db.begin().await?;
    store::update_admin_and_password(&mut tx, &user_id, None, Some(&hash)).await?;
    let valid_after = super::sessions::end_all_in(&mut tx, &user_id).await?;
    audit::record_in(&mut tx, db.engine, &by.entry(None, "auth.password_change", Some(&user_id))).await?;
    tx.commit().await?;
    Ok(valid_after)
}

/// The user with this id, if any.
pub async fn get_user(db: &Db, id: &str) -> Result<Option<UserView>> {
    let mut conn = db.reader().acquire().await?;
    store::find_by_id(&mut conn, id).await
}

/// Creates a user inside a caller's transaction.
pub async fn insert_user(
    conn: &mut sqlx::AnyConnection,
    email: &Email,
    hash: &PasswordHash,
    is_platform_admin: bool,
) -> Result<UserView> {
    let id = new_id();
    store::insert(conn, &id, email.as_str(), hash, is_platform_admin, now_ms()).await?;
    Ok(UserView { id, email: email.to_string(), is_platform_admin })
}

/// Hashes a new password (validated by the policy), within the database's
/// [`super::PasswordGate`].
pub async fn hash_password(db: &Db, password: &Password) -> Result<PasswordHash> {
    password::hash(&db.password_gate(), password.expose().to_string()).await
}

/// A user and their password hash, by e-mail.
pub async fn find_credentials(conn: &mut sqlx::AnyConnection, email: &Email) -> Result<Option<(UserView, PasswordHash)>> {
    store::find_by_email(conn, email.as_str()).await
}

/// Checks a password against a hash (or a dummy hash when `None`), within
/// the database's [`super::PasswordGate`]. Unthrottled: callers checking a
/// password someone typed use [`check_password`].
pub async fn verify_password(db: &Db, password: &str, hash: Option<PasswordHash>) -> Result<bool> {
    password::verify(&db.password_gate(), password.to_string(), hash).await
}

/// Outcome of [`create_admin`].
#[derive(Debug, Clone)]
pub struct AdminAccount {
    pub user: UserView,
    /// Whether the account was created (false: an existing user was promoted).
    pub created: bool,
}

/// Makes `email` a platform admin: creates the user with `password`, or promotes
/// an existing user (setting the password too when one is given).
pub async fn create_admin(db: &Db, email: &str, password: Option<&str>) -> Result<AdminAccount> {
    let email = Email::parse(email)?;
    let password = password.map(Password::parse).transpose()?;
    let hash = match &password {
        Some(p) => Some(hash_password(db, p).await?),
        None => None,
    };
    let mut tx = db.begin().await?;
    let out = match store::find_by_email(&mut tx, email.as_str()).await? {
        Some((mut user, _)) => {
            store::update_admin_and_password(&mut tx, &user.id, Some(true), hash.as_ref()).await?;
            user.is_platform_admin = true;
            AdminAccount { user, created: false }
        }
        None => {
            let hash = hash.ok_or_else(|| Error::invalid("password", "is required to create a new account"))?;
            AdminAccount { user: insert_user(&mut tx, &email, &hash, true).await?, created: true }
        }
    };
    tx.commit().await?;
    Ok(out)
}

/// Whether the database has no users yet (first start).
pub async fn is_empty(db: &Db) -> Result<bool> {
    let mut conn = db.reader().acquire().await?;
    Ok(store::count(&mut conn).await? == 0)
}

/// An existing user by e-mail, or a new one with the given password hash
/// (computed by the caller before its transaction); used by bootstrap
/// commands (`create-org`). Returns the user and whether it was created.
pub async fn find_or_create_user(
    conn: &mut sqlx::AnyConnection,
    email: &Email,
    hash: &PasswordHash,
) -> Result<(UserView, bool)> {
    if let Some((user, _)) = store::find_by_email(conn, email.as_str()).await? {
        return Ok((user, false));
    }
    Ok((insert_user(conn, email, hash, false).await?, true))
}
