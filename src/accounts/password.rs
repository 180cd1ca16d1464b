//! Password hashing with argon2id (the crate's defaults: 19 MiB, 2 passes).
//! Hashing is CPU-heavy, so it runs on the blocking pool, never on the async
//! executor, and at most [`PasswordGate::PERMITS`] hashes run at once: each
//! holds 19 MiB and a core, and the blocking pool would otherwise grow to
//! hundreds of threads under a flood of signups or logins.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use argon2::password_hash::{PasswordHash as PhcHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::{Error, Result};

/// A stored argon2 PHC string. Deliberately not `Serialize`.
#[derive(Clone)]
pub struct PasswordHash(pub(crate) String);

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(***)")
    }
}

/// Bounds how many argon2 computations (hashes and verifications) run at
/// once. One per database handle (one per process in production). A caller
/// that cannot get a permit within [`PasswordGate::WAIT`] is answered
/// [`Error::Unavailable`] (503 with a retry) rather than queued without end.
#[derive(Debug)]
pub struct PasswordGate {
    /// Shared so that a permit owns its hold on the semaphore (a caller may
    /// keep it past the handle it got the gate from).
    permits: Arc<Semaphore>,
    wait: Duration,
    hashes: AtomicU64,
}

impl Default for PasswordGate {
    fn default() -> Self {
        PasswordGate::new(Self::PERMITS, Self::WAIT)
    }
}

impl PasswordGate {
    /// Concurrent argon2 computations: 4 × 19 MiB, and two cores stay free.
    pub const PERMITS: usize = 4;
    /// How long a caller waits for a permit.
    pub const WAIT: Duration = Duration::from_secs(8);

    pub fn new(permits: usize, wait: Duration) -> Self {
        PasswordGate { permits: Arc::new(Semaphore::new(permits)), wait, hashes: AtomicU64::new(0) }
    }

    /// A permit to run one argon2 computation, or `Unavailable` after the wait.
    pub async fn acquire(&self) -> Result<OwnedSemaphorePermit> {
        match tokio::time::timeout(self.wait, self.permits.clone().acquire_owned()).await {
            Ok(Ok(p)) => {
                self.hashes.fetch_add(1, Ordering::Relaxed);
                Ok(p)
            }
            Ok(Err(_)) => Err(Error::Internal("password gate closed".into())),
            Err(_) => Err(Error::Unavailable("too many sign-ins at once; try again in a few seconds".into())),
        }
    }

    /// How many argon2 computations were let through so far (for tests and
    /// diagnostics: the duplicate-signup path must cost one, like a new one).
    pub fn computed(&self) -> u64 {
        self.hashes.load(Ordering::Relaxed)
    }
}

impl crate::db::Db {
    /// The bound on concurrent password hashing for this database's users.
    pub fn password_gate(&self) -> Arc<PasswordGate> {
        self.state()
    }
}

/// Hashes a password on the blocking pool, within the gate.
pub(crate) async fn hash(gate: &PasswordGate, password: String) -> Result<PasswordHash> {
    let _permit = gate.acquire().await?;
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| PasswordHash(h.to_string()))
            .map_err(|e| Error::Internal(format!("argon2 hash: {e}")))
    })
    .await
    .map_err(|e| Error::Internal(format!("hash task: {e}")))?
}

/// Verifies a password against a stored hash, or against a dummy hash when the
/// user does not exist, so that both cases cost the same time.
pub(crate) async fn verify(gate: &PasswordGate, password: String, stored: Option<PasswordHash>) -> Result<bool> {
    let _permit = gate.acquire().await?;
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let phc = stored.map(|h| h.0).unwrap_or_else(|| dummy_hash().to_string());
        let parsed = PhcHash::new(&phc).map_err(|e| Error::Internal(format!("stored hash: {e}")))?;
        let ok = Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok();
        Ok(known && ok)
    })
    .await
    .map_err(|e| Error::Internal(format!("verify task: {e}")))?
}

/// A hash of a random password, computed once per process.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        Argon2::default()
            .hash_password(crate::secrets::random_hex(16).as_bytes(), &salt)
            .expect("argon2 with default params hashes")
            .to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn verify_accepts_the_right_password_only() {
        let gate = PasswordGate::default();
        let h = hash(&gate, "correct horse".into()).await.unwrap();
        assert!(h.0.starts_with("$argon2id$"));
        assert!(verify(&gate, "correct horse".into(), Some(h.clone())).await.unwrap());
        assert!(!verify(&gate, "wrong horse".into(), Some(h)).await.unwrap());
        assert_eq!(gate.computed(), 3);
    }

    #[tokio::test]
    async fn unknown_user_never_verifies() {
        assert!(!verify(&PasswordGate::default(), "anything".into(), None).await.unwrap());
    }

    #[tokio::test]
    async fn a_full_gate_answers_unavailable_after_the_wait() {
        let gate = PasswordGate::new(2, Duration::from_millis(50));
        let held = (gate.acquire().await.unwrap(), gate.acquire().await.unwrap());
        let err = hash(&gate, "correct horse".into()).await.unwrap_err();
        assert!(matches!(err, Error::Unavailable(_)), "{err:?}");
        assert_eq!(err.status_code(), 503);
        drop(held);
        assert!(gate.acquire().await.is_ok(), "a freed permit is handed out again");
    }
}
