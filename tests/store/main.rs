//! Store and service tests, each run on SQLite and on PostgreSQL with a fresh
//! database (see `tollbooth::testing`).

mod account_security;
mod accounts;
mod alert_banner;
mod alerts;
mod analytics;
mod metering;
mod api_keys;
mod audit;
mod billing;
mod budget_holds;
mod budgets;
mod embed;
mod orgs;
mod plans;
mod prices;
mod providers;
mod quota;
mod recommendations;
mod retention;
mod sessions;
mod trials;
mod user_limits;
mod webhooks;
mod writes;

use tollbooth::accounts::{signup, Signup, SignupInput};
use tollbooth::db::Db;

pub const PASSWORD: &str = "correct-horse-battery";

/// The actor of changes made by the tests.
pub fn by() -> tollbooth::audit::By {
    tollbooth::audit::By::system("test")
}

/// Signs up `email` with an organization called `org`.
pub async fn sign_up(db: &Db, email: &str, org: &str) -> Signup {
    signup(db, SignupInput { email: email.into(), password: PASSWORD.into(), org_name: org.into() }, None, 0)
        .await
        .expect("signup")
}

/// Moves an organization to another plan (as billing or an admin would).
pub async fn move_to_plan(db: &Db, org_id: &str, code: &str) {
    let mut tx = db.begin().await.unwrap();
    tollbooth::plans::assign_plan(&mut tx, org_id, code).await.expect("assign plan");
    tx.commit().await.unwrap();
}

/// Signs up `email` with an organization on the Team plan (room for members).
pub async fn sign_up_on_team(db: &Db, email: &str, org: &str) -> Signup {
    let s = sign_up(db, email, org).await;
    move_to_plan(db, &s.org.id, "team").await;
    s
}
