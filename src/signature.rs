//! Signed webhook payloads, the scheme Stripe uses: a header
//! `t=<unix seconds>,v1=<hex HMAC-SHA256 of "{t}.{body}">`.
//!
//! One implementation for both directions: the alert webhooks Tollbooth
//! sends (`Tollbooth-Signature`), the `Stripe-Signature` it verifies on
//! `POST /webhooks/stripe`, and the local Stripe double that signs its events.
//! The timestamp is signed too, so a captured request cannot be replayed
//! after the tolerance.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Why a signature header was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature header has no timestamp or no v1 signature")]
    Malformed,
    #[error("the signature's timestamp is outside the tolerance")]
    Stale,
    #[error("no v1 signature matches the payload under the secret")]
    Mismatch,
}

/// The header's value for `body` sent at `t` (unix seconds).
pub fn header(secret: &str, t: i64, body: &str) -> String {
    format!("t={t},v1={}", hex::encode(mac(secret, t, body).finalize().into_bytes()))
}

fn mac(secret: &str, t: i64, body: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    mac
}

/// Verifies a header as a receiver does: some `v1` HMAC matches (compared
/// in constant time) and `t` is within `tolerance_secs` of `now_secs`.
/// Several `v1` entries are allowed (Stripe sends one per secret while a
/// secret is being rolled); other schemes (`v0`) are ignored.
pub fn verify(secret: &str, header: &str, body: &str, now_secs: i64, tolerance_secs: i64) -> Result<(), SignatureError> {
    let mut t = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => v1.extend(hex::decode(v).ok()),
            _ => {}
        }
    }
    let Some(t) = t else { return Err(SignatureError::Malformed) };
    if v1.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if (now_secs - t).abs() > tolerance_secs {
        return Err(SignatureError::Stale);
    }
    if v1.iter().any(|sig| mac(secret, t, body).verify_slice(sig).is_ok()) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_and_a_change_or_a_stale_time_does_not() {
        let body = r#"{"type":"alert.created"}"#;
        let h = header("whsec_x", 1_790_000_000, body);
        assert!(h.starts_with("t=1790000000,v1="));
        assert_eq!(verify("whsec_x", &h, body, 1_790_000_100, 300), Ok(()));
        assert_eq!(verify("whsec_y", &h, body, 1_790_000_100, 300), Err(SignatureError::Mismatch), "wrong secret");
        assert_eq!(verify("whsec_x", &h, "{}", 1_790_000_100, 300), Err(SignatureError::Mismatch), "changed body");
        assert_eq!(verify("whsec_x", &h, body, 1_790_000_301, 300), Err(SignatureError::Stale), "too old");
        assert_eq!(verify("whsec_x", &h, body, 1_789_999_699, 300), Err(SignatureError::Stale), "from the future");
        assert_eq!(verify("whsec_x", "v1=00", body, 1_790_000_000, 300), Err(SignatureError::Malformed), "no timestamp");
        assert_eq!(verify("whsec_x", "t=1790000000", body, 1_790_000_000, 300), Err(SignatureError::Malformed), "no v1");
    }

    #[test]
    fn any_of_several_v1_signatures_may_match() {
        let body = "{}";
        let good = header("new", 5, body);
        let old = header("old", 5, body);
        let both = format!("{old},{},v0=abc", good.trim_start_matches("t=5,"));
        assert_eq!(verify("new", &both, body, 5, 300), Ok(()));
        assert_eq!(verify("old", &both, body, 5, 300), Ok(()));
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_t_dot_body() {
        // echo -n '1.{}' | openssl dgst -sha256 -hmac key
        assert_eq!(header("key", 1, "{}"), "t=1,v1=1ba6b8171186efc613e8bcc0cbdab2748f24984d7c5a84faa2637afa0e40d224");
    }
}
