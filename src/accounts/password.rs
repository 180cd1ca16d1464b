//! Password hashing with argon2id (the crate's defaults: 19 MiB, 2 passes).
//! Hashing is CPU-heavy, so it runs on the blocking pool, never on the async
//! executor.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash as PhcHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use crate::{Error, Result};

/// A stored argon2 PHC string. Deliberately not `Serialize`.
#[derive(Clone)]
pub struct PasswordHash(pub(crate) String);

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(***)")
    }
}

/// Hashes a password on the blocking pool.
pub(crate) async fn hash(password: String) -> Result<PasswordHash> {
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
pub(crate) async fn verify(password: String, stored: Option<PasswordHash>) -> Result<bool> {
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
        let h = hash("correct horse".into()).await.unwrap();
        assert!(h.0.starts_with("$argon2id$"));
        assert!(verify("correct horse".into(), Some(h.clone())).await.unwrap());
        assert!(!verify("wrong horse".into(), Some(h)).await.unwrap());
    }

    #[tokio::test]
    async fn unknown_user_never_verifies() {
        assert!(!verify("anything".into(), None).await.unwrap());
    }
}
