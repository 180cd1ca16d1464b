//! Account services: the only way in to users and credentials.

use super::{password, store, throttle, Email, Password, PasswordHash, UserView};
use crate::clock::now_ms;
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

/// Creates a user and an organization with the user as its owner, in one transaction.
pub async fn signup(db: &Db, input: SignupInput) -> Result<Signup> {
    let email = Email::parse(&input.email)?;
    let password = Password::parse(&input.password)?;
    let org_name = OrgName::parse(&input.org_name)?;
    let hash = password::hash(password.expose().to_string()).await?;
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
    let email_key = email.trim().to_lowercase();
    let mut conn = db.writer().acquire().await?;
    throttle::check(&mut conn, &email_key, ip).await?;
    let found = match Email::parse(email) {
        Ok(e) => store::find_by_email(&mut conn, e.as_str()).await?,
        Err(_) => None,
    };
    let (user, hash) = match found {
        Some((u, h)) => (Some(u), Some(h)),
        None => (None, None),
    };
    let ok = password::verify(password.to_string(), hash).await?;
    match user {
        Some(user) if ok => {
            throttle::clear(&mut conn, &email_key).await?;
            Ok(user)
        }
        _ => {
            throttle::record_failure(&mut conn, &email_key, ip).await?;
            Err(Error::Unauthorized(BAD_CREDENTIALS))
        }
    }
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

/// Hashes a new password (validated by the policy).
pub async fn hash_password(password: &Password) -> Result<PasswordHash> {
    password::hash(password.expose().to_string()).await
}

/// Verifies a password for a known user id (used when a signed-in flow needs it).
pub async fn find_credentials(conn: &mut sqlx::AnyConnection, email: &Email) -> Result<Option<(UserView, PasswordHash)>> {
    store::find_by_email(conn, email.as_str()).await
}

/// Checks a password against a hash (or a dummy hash when `None`).
pub async fn verify_password(password: &str, hash: Option<PasswordHash>) -> Result<bool> {
    password::verify(password.to_string(), hash).await
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
        Some(p) => Some(hash_password(p).await?),
        None => None,
    };
    let mut tx = db.begin().await?;
    let out = match store::find_by_email(&mut tx, email.as_str()).await? {
        Some((mut user, _)) => {
            store::update_admin_and_password(&mut tx, &user.id, true, hash.as_ref()).await?;
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

/// An existing user by e-mail, or a new one with the given password; used by
/// bootstrap commands (`create-org`). Returns the user and whether it was created.
pub async fn find_or_create_user(
    conn: &mut sqlx::AnyConnection,
    email: &Email,
    password: &Password,
) -> Result<(UserView, bool)> {
    if let Some((user, _)) = store::find_by_email(conn, email.as_str()).await? {
        return Ok((user, false));
    }
    let hash = hash_password(password).await?;
    Ok((insert_user(conn, email, &hash, false).await?, true))
}
