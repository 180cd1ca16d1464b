//! Admission: may a request go ahead? Checks and reservations, composed in
//! one place from the modules that decide:
//!
//! 1. `budgets`: a pause budget covering the caller refuses first (429
//!    naming the budget) once its period's spend, plus the cost held by
//!    reservations in flight that it covers, plus the ask would pass its
//!    amount — [`crate::budgets::enforce::judge`]; quota holds reservations
//!    against it in the same atomic step as the plan's limits;
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
use crate::db::Db;
use crate::error::Refusal;
use crate::metering::Sender;
use crate::quota::{self, rules::Ask, Cap, CheckBody, Granted, HardRefusal, Hooks, ReserveInput, Standing};
pub use crate::quota::Subject;
use crate::Result;

/// The hooks of admission: the pause budgets as caps, and the alerts.
#[derive(Clone, Copy)]
struct Gate;

impl Hooks for Gate {
    async fn caps(&self, conn: &mut AnyConnection, org_id: &str, tz: chrono_tz::Tz, now: i64) -> Result<Vec<Cap>> {
        enforce::caps(conn, org_id, tz, now).await
    }

    async fn standing_in(&self, conn: &mut AnyConnection, org_id: &str, who: &Subject, now: i64) -> Result<Vec<Standing>> {
        enforce::standing_in(conn, org_id, who, now).await
    }

    fn judge(&self, cap: &Cap, held: i64, calls: i64, cost: i64, now: i64) -> Option<Refusal> {
        enforce::judge(cap, held, calls, cost, now)
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
/// pause budget covering them that the asked cost would pass (with what
/// calls in flight hold) refuses (429 naming the budget); a refused hard
/// limit raises a `quota_exceeded` alert once per window. Nothing else
/// changes.
pub async fn check_for(db: &Db, org_id: &str, who: &Subject, asks: &[Ask]) -> Result<CheckBody> {
    quota::check_for(db, org_id, who, asks, &Gate).await
}

/// Checks and reserves atomically: granted amounts count as used until the
/// reservation is committed, released or expires. With any number of
/// concurrent reservations the granted amounts never pass a hard limit, nor
/// a pause budget covering the reservation's project, user and key.
pub async fn reserve(db: &Db, sender: &Sender, input: ReserveInput) -> Result<Granted> {
    quota::reserve(db, sender, input, &Gate).await
}
