//! Store and service tests, each run on SQLite and on PostgreSQL with a fresh
//! database (see `tollbooth::testing`).

mod accounts;
mod metering;
mod api_keys;
mod orgs;
mod prices;
mod sessions;

use tollbooth::accounts::{signup, Signup, SignupInput};
use tollbooth::db::Db;

pub const PASSWORD: &str = "correct-horse-battery";

/// Signs up `email` with an organization called `org`.
pub async fn sign_up(db: &Db, email: &str, org: &str) -> Signup {
    signup(db, SignupInput { email: email.into(), password: PASSWORD.into(), org_name: org.into() })
        .await
        .expect("signup")
}
