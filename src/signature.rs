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

/// Most `v1` entries looked at. Stripe sends one per active secret (two
/// while a secret is rolled); anything past this is ignored, so a forged
/// header of thousands of entries costs no more than a short one.
pub const MAX_V1: usize = 5;

/// Verifies a header as a receiver does: one of its first [`MAX_V1`] `v1`
/// HMACs matches (compared in constant time) and `t` is within
/// `tolerance_secs` of `now_secs`. Other schemes (`v0`) are ignored.
///
/// The MAC over the body is computed once, whatever the header holds, and
/// parsing allocates nothing per entry: the cost of a refusal does not grow
/// with the header.
pub fn verify(secret: &str, header: &str, body: &str, now_secs: i64, tolerance_secs: i64) -> Result<(), SignatureError> {
    let mut t = None;
    // Decoded signatures, on the stack; `seen` counts every `v1` entry
    // (well-formed or not) toward the limit.
    let mut v1 = [[0u8; 32]; MAX_V1];
    let (mut seen, mut kept) = (0, 0);
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) if t.is_none() => t = v.parse::<i64>().ok(),
            Some(("v1", v)) if seen < MAX_V1 => {
                seen += 1;
                if hex::decode_to_slice(v, &mut v1[kept]).is_ok() {
                    kept += 1;
                }
            }
            _ => {}
        }
        if t.is_some() && seen == MAX_V1 {
            break;
        }
    }
    let Some(t) = t else { return Err(SignatureError::Malformed) };
    if seen == 0 {
        return Err(SignatureError::Malformed);
    }
    // abs_diff: no overflow whatever `t` is (i64::MIN included).
    if now_secs.abs_diff(t) > tolerance_secs.max(0).unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    // The body is hashed once; each candidate finishes a copy of that state
    // and `verify_slice` compares in constant time.
    let expected = mac(secret, t, body);
    let matched = v1[..kept].iter().fold(false, |hit, sig| hit | expected.clone().verify_slice(sig).is_ok());
    if matched {
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
    fn only_the_first_entries_count() {
        let body = "{}";
        let good = header("key", 5, body);
        let sig = good.trim_start_matches("t=5,");
        let junk = |n: usize| (0..n).map(|i| format!("v1={:064x}", i)).collect::<Vec<_>>().join(",");
        let fifth = format!("t=5,{},{sig}", junk(MAX_V1 - 1));
        assert_eq!(verify("key", &fifth, body, 5, 300), Ok(()), "within the first {MAX_V1}");
        let sixth = format!("t=5,{},{sig}", junk(MAX_V1));
        assert_eq!(verify("key", &sixth, body, 5, 300), Err(SignatureError::Mismatch), "past the first {MAX_V1}");
    }

    #[test]
    fn an_extreme_timestamp_is_stale_not_a_panic() {
        let body = "{}";
        for t in [i64::MIN, i64::MAX] {
            let h = header("key", t, body);
            assert_eq!(verify("key", &h, body, 1_790_000_000, 300), Err(SignatureError::Stale), "t = {t}");
            assert_eq!(verify("key", &h, body, i64::MIN, 300), if t == i64::MIN { Ok(()) } else { Err(SignatureError::Stale) });
        }
        assert_eq!(verify("key", &header("key", 5, body), body, 5, i64::MIN), Ok(()), "a negative tolerance is zero, no overflow");
    }

    #[test]
    fn a_huge_forged_header_over_a_large_body_is_refused_quickly() {
        let body = "x".repeat(1_000_000);
        let forged = format!("t=5,{}", (0..20_000).map(|i| format!("v1={:064x}", i)).collect::<Vec<_>>().join(","));
        let started = std::time::Instant::now();
        assert_eq!(verify("key", &forged, &body, 5, 300), Err(SignatureError::Mismatch));
        println!("20,000 v1 entries over 1 MB refused in {:?}", started.elapsed());
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_t_dot_body() {
        // echo -n '1.{}' | openssl dgst -sha256 -hmac key
        assert_eq!(header("key", 1, "{}"), "t=1,v1=1ba6b8171186efc613e8bcc0cbdab2748f24984d7c5a84faa2637afa0e40d224");
    }
}
