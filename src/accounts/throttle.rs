//! Throttling of password checks and signups, kept in the database so it
//! holds across processes.
//!
//! Rules:
//! - a password check (login, accepting an invite with an existing account,
//!   changing one's password) counts against its e-mail
//!   ([`MAX_FAILURES_PER_EMAIL`]) and its IP ([`MAX_FAILURES_PER_IP`]) within
//!   [`WINDOW_MS`]; a successful check removes its own attempt and forgets
//!   the e-mail's failures (not the IP's), so only failures stay counted;
//! - a signup counts against its IP within [`SIGNUP_WINDOW_MS`], successful
//!   or not (a successful signup tells a free e-mail from a taken one, so
//!   the number of tries is what must be bounded).
//!
//! Checking and counting are one step ([`begin`]): in one transaction, each
//! key is locked (an advisory lock on PostgreSQL; SQLite's single writer
//! already serializes), its attempts in the window are counted and, when
//! every key has room, this attempt is inserted. So parallel guesses cannot
//! all pass the check before any of them is counted. The transaction is
//! short: the password is verified after it commits.

use sha2::{Digest, Sha256};

use super::store::throttle as store;
use crate::clock::{now_ms, Millis};
use crate::db::{Db, Engine};
use crate::ids::new_id;
use crate::{Error, Result};

pub const WINDOW_MS: Millis = 15 * 60 * 1000;
pub const MAX_FAILURES_PER_EMAIL: i64 = 5;
pub const MAX_FAILURES_PER_IP: i64 = 30;

/// The window of the per-IP signup limit.
pub const SIGNUP_WINDOW_MS: Millis = 60 * 60 * 1000;
/// Signups allowed per IP and hour unless configured otherwise
/// (`TOLLBOOTH_SIGNUPS_PER_IP_PER_HOUR`).
pub const SIGNUPS_PER_IP_PER_HOUR: i64 = 10;

/// One key's allowance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    pub key: String,
    pub max: i64,
    pub window_ms: Millis,
}

/// The limits of a password check for `email` (as typed, normalized here) from `ip`.
pub fn password_limits(email: &str, ip: Option<&str>) -> Vec<Limit> {
    let mut v = vec![Limit { key: email_key(email), max: MAX_FAILURES_PER_EMAIL, window_ms: WINDOW_MS }];
    if let Some(ip) = ip {
        v.push(Limit { key: format!("ip:{ip}"), max: MAX_FAILURES_PER_IP, window_ms: WINDOW_MS });
    }
    v
}

/// The limit of signups from `ip` (none when the IP is unknown or `max` is 0).
pub fn signup_limits(ip: Option<&str>, max: i64) -> Vec<Limit> {
    match ip {
        Some(ip) if max > 0 => vec![Limit { key: format!("signup-ip:{ip}"), max, window_ms: SIGNUP_WINDOW_MS }],
        _ => vec![],
    }
}

fn email_key(email: &str) -> String {
    format!("email:{}", email.trim().to_lowercase())
}

/// A counted attempt; pass it to [`succeeded`] when the check passed.
#[derive(Debug, Clone)]
#[must_use = "a successful check must call `succeeded`, or it stays counted as a failure"]
pub struct Attempt {
    id: String,
    email_key: Option<String>,
}

/// The advisory lock of a key on PostgreSQL: the first 8 bytes of its SHA-256.
/// Keys are locked in ascending order of this number, so two attempts never
/// wait on each other in a cycle.
fn lock_id(key: &str) -> i64 {
    let d = Sha256::digest(format!("throttle:{key}").as_bytes());
    i64::from_be_bytes(d[..8].try_into().expect("8 bytes"))
}

/// Checks every limit and, when all have room, counts this attempt against
/// each: one atomic step. Refuses with [`Error::Throttled`] (counting
/// nothing) when a key has used up its allowance.
pub async fn begin(db: &Db, limits: &[Limit]) -> Result<Attempt> {
    let attempt = Attempt {
        id: new_id(),
        email_key: limits.iter().find(|l| l.key.starts_with("email:")).map(|l| l.key.clone()),
    };
    if limits.is_empty() {
        return Ok(attempt);
    }
    let mut tx = db.begin().await?;
    if db.engine == Engine::Postgres {
        let mut locks: Vec<i64> = limits.iter().map(|l| lock_id(&l.key)).collect();
        locks.sort_unstable();
        locks.dedup();
        for id in locks {
            store::lock(&mut tx, id).await?;
        }
    }
    let now = now_ms();
    for l in limits {
        let since = now - l.window_ms;
        let (count, oldest) = store::recent(&mut tx, &l.key, since).await?;
        if count >= l.max {
            let retry_ms = oldest.unwrap_or(since) + l.window_ms - now;
            return Err(Error::Throttled { retry_after_secs: (retry_ms.max(1000) / 1000) as u64 });
        }
    }
    for l in limits {
        store::insert(&mut tx, &l.key, &attempt.id, now).await?;
    }
    tx.commit().await?;
    Ok(attempt)
}

/// The check passed: un-counts this attempt and forgets the e-mail's
/// failures. (A failed check needs nothing: its attempt stays counted.)
pub async fn succeeded(db: &Db, attempt: Attempt) -> Result<()> {
    store::delete_attempt_and_key(&mut *db.writer().acquire().await?, &attempt.id, attempt.email_key.as_deref().unwrap_or("")).await
}

/// The check gave no answer (the password could not be verified now):
/// un-counts this attempt, and nothing else.
pub async fn abandon(db: &Db, attempt: Attempt) -> Result<()> {
    store::delete_attempt(&mut *db.writer().acquire().await?, &attempt.id).await
}

/// Deletes attempts older than the longest window (run by a background task).
pub async fn prune(db: &Db) -> Result<u64> {
    store::delete_until(&mut *db.writer().acquire().await?, now_ms() - WINDOW_MS.max(SIGNUP_WINDOW_MS)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_checks_count_against_the_normalized_email_and_the_ip() {
        let keys: Vec<String> = password_limits(" Ada@Example.com ", Some("10.0.0.1")).into_iter().map(|l| l.key).collect();
        assert_eq!(keys, vec!["email:ada@example.com", "ip:10.0.0.1"]);
        assert_eq!(password_limits("ada@example.com", None).len(), 1);
    }

    #[test]
    fn signups_count_per_ip_unless_unknown_or_switched_off() {
        assert_eq!(signup_limits(Some("10.0.0.1"), 10)[0].key, "signup-ip:10.0.0.1");
        assert!(signup_limits(None, 10).is_empty());
        assert!(signup_limits(Some("10.0.0.1"), 0).is_empty());
    }

    #[test]
    fn lock_ids_differ_per_key() {
        assert_ne!(lock_id("email:a@example.com"), lock_id("email:b@example.com"));
        assert_eq!(lock_id("ip:1"), lock_id("ip:1"));
    }
}
