//! Admission: may a request go ahead? Checks and reservations, composed in
//! one place from the modules that decide:
//!
//! 1. `budgets`: a paused budget covering the caller refuses first (429
//!    naming the budget) — [`crate::budgets::enforce`];
//! 2. `quota`: the plan's limits decide, the refusal is counted for the audit
//!    log — [`crate::quota`];
//! 3. `alerts`: a hard limit that refused raises `quota_exceeded`, once per
//!    limit and window — [`crate::alerts::activity::quota_refused`].
//!
//! Quota runs these through its [`Hooks`], so it imports neither budgets
//! nor alerts; the gateway and the REST API call the functions here.

use sqlx::AnyConnection;

use crate::alerts;
use crate::budgets::enforce;
pub use crate::budgets::enforce::Subject;
use crate::db::Db;
use crate::error::Refusal;
use crate::metering::Sender;
use crate::quota::{self, rules::Ask, CheckBody, Granted, HardRefusal, Hooks, ReserveInput};
use crate::Result;

/// The hooks of one request: its subject's budgets, and the alerts.
struct Gate<'a> {
    who: &'a Subject,
}

impl Hooks for Gate<'_> {
    async fn refuse_first(&self, db: &Db, org_id: &str, now: i64) -> Result<Option<Refusal>> {
        enforce::paused(db, org_id, self.who, now).await
    }

    async fn refuse_first_in(&self, conn: &mut AnyConnection, org_id: &str, now: i64) -> Result<Option<Refusal>> {
        enforce::paused_in(conn, org_id, self.who, now).await
    }

    async fn hard_limit_refused(&self, db: &Db, org_id: &str, r: &HardRefusal, now: i64) {
        alerts::activity::quota_refused(db, org_id, &r.key, r.observed.clone(), r.threshold.clone(), r.message.clone(), now).await;
    }
}

/// Would these amounts be allowed now, for the organization as a whole?
pub async fn check(db: &Db, org_id: &str, asks: &[Ask]) -> Result<CheckBody> {
    check_for(db, org_id, &Subject::default(), asks).await
}

/// Would these amounts be allowed now for this project, user and key? A
/// paused budget covering them refuses (429 naming the budget); a refused
/// hard limit raises a `quota_exceeded` alert once per window. Nothing else
/// changes.
pub async fn check_for(db: &Db, org_id: &str, who: &Subject, asks: &[Ask]) -> Result<CheckBody> {
    quota::check_for(db, org_id, asks, &Gate { who }).await
}

/// Checks and reserves atomically: granted amounts count as used until the
/// reservation is committed, released or expires. With any number of
/// concurrent reservations the granted amounts never pass a hard limit. The
/// subject (for budgets) is the reservation's project, user and key.
pub async fn reserve(db: &Db, sender: &Sender, input: ReserveInput) -> Result<Granted> {
    let who = Subject { project_id: input.project_id.clone(), user_id: input.user_id.clone(), api_key_id: sender.api_key_id.clone() };
    quota::reserve(db, sender, input, &Gate { who: &who }).await
}
