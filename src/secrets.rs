//! Random tokens and their digests.
//!
//! API keys and invite tokens are 256-bit random values, so a fast SHA-256
//! digest is enough to store them (there is nothing to brute-force); passwords,
//! which are low-entropy, use argon2 in `accounts::password`.

use rand::RngCore;
use sha2::{Digest, Sha256};

/// `bytes` random bytes from the OS generator, hex-encoded.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    hex::encode(buf)
}

/// Hex SHA-256 of a token, as stored.
pub fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}
