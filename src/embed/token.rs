//! Embed tokens: `tbe1.<payload>.<mac>`, both parts base64url without
//! padding. The payload is JSON `{"o": org id, "u": user id or null, "e":
//! expiry in unix seconds}`; the MAC is HMAC-SHA256 over `tbe1.<payload>`
//! under the database's embed key. Nothing in a token is secret (it sits in
//! an iframe's URL); what matters is that only Tollbooth can make one, and
//! that it stops working when it expires.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

const PREFIX: &str = "tbe1.";
/// Longest token read: a payload with a 200-character user id is far shorter;
/// anything longer is refused before decoding.
const MAX_TOKEN_LEN: usize = 2048;

/// What a token grants: read-only figures of one organization, or of one
/// end user of it, until `expires_at` (unix seconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    #[serde(rename = "o")]
    pub org_id: String,
    #[serde(rename = "u")]
    pub user_id: Option<String>,
    #[serde(rename = "e")]
    pub expires_at: i64,
}

/// Why a token was refused. The page says the same for all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is not an embed token")]
    Malformed,
    #[error("the token's signature does not match")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
}

fn mac(key: &[u8], signed: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(signed.as_bytes());
    mac
}

/// The token for `claims` under `key`.
pub fn sign(key: &[u8], claims: &Claims) -> String {
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("claims serialize"));
    let signed = format!("{PREFIX}{payload}");
    let tag = URL_SAFE_NO_PAD.encode(mac(key, &signed).finalize().into_bytes());
    format!("{signed}.{tag}")
}

/// The claims of `token` if `key` signed it and it has not expired at
/// `now_secs`. The MAC is checked (in constant time) before the payload is
/// parsed, so a forged payload is never read.
pub fn verify(key: &[u8], token: &str, now_secs: i64) -> Result<Claims, TokenError> {
    if token.len() > MAX_TOKEN_LEN || !token.starts_with(PREFIX) {
        return Err(TokenError::Malformed);
    }
    let (signed, tag) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
    let payload = signed.strip_prefix(PREFIX).ok_or(TokenError::Malformed)?;
    let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| TokenError::Malformed)?;
    if tag.len() != 32 {
        return Err(TokenError::Malformed);
    }
    mac(key, signed).verify_slice(&tag).map_err(|_| TokenError::BadSignature)?;
    let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| TokenError::Malformed)?;
    let claims: Claims = serde_json::from_slice(&payload).map_err(|_| TokenError::Malformed)?;
    if now_secs >= claims.expires_at {
        return Err(TokenError::Expired);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn claims(user: Option<&str>) -> Claims {
        Claims { org_id: "org-1".into(), user_id: user.map(String::from), expires_at: 1_000 }
    }

    #[test]
    fn a_signed_token_verifies_until_it_expires() {
        let t = sign(KEY, &claims(Some("u-42")));
        assert!(t.starts_with("tbe1."));
        assert_eq!(verify(KEY, &t, 999).unwrap(), claims(Some("u-42")));
        assert_eq!(verify(KEY, &t, 1_000), Err(TokenError::Expired));
        let org = sign(KEY, &claims(None));
        assert_eq!(verify(KEY, &org, 0).unwrap().user_id, None);
    }

    #[test]
    fn another_key_or_a_changed_payload_is_refused() {
        let t = sign(KEY, &claims(None));
        assert_eq!(verify(b"another key of the same length!!", &t, 0), Err(TokenError::BadSignature));
        // Swap in a payload naming another organization, keep the MAC.
        let (_, tag) = t.rsplit_once('.').unwrap();
        let forged_payload = URL_SAFE_NO_PAD.encode(br#"{"o":"org-2","u":null,"e":1000}"#);
        assert_eq!(verify(KEY, &format!("tbe1.{forged_payload}.{tag}"), 0), Err(TokenError::BadSignature));
        // A later expiry is a changed payload too.
        let later = URL_SAFE_NO_PAD.encode(br#"{"o":"org-1","u":null,"e":99999}"#);
        assert_eq!(verify(KEY, &format!("tbe1.{later}.{tag}"), 0), Err(TokenError::BadSignature));
        let mut flipped = t.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        assert!(verify(KEY, std::str::from_utf8(&flipped).unwrap(), 0).is_err());
    }

    #[test]
    fn garbage_is_malformed() {
        for bad in ["", "tbe1.", "tbe1.x", "tbe2.abc.def", "tbe1.!!!.###", &"tbe1.".repeat(1000)] {
            assert_eq!(verify(KEY, bad, 0), Err(TokenError::Malformed), "{bad}");
        }
        // Signed but not JSON claims.
        let signed = format!("tbe1.{}", URL_SAFE_NO_PAD.encode(b"not json"));
        let tag = URL_SAFE_NO_PAD.encode(mac(KEY, &signed).finalize().into_bytes());
        assert_eq!(verify(KEY, &format!("{signed}.{tag}"), 0), Err(TokenError::Malformed));
    }
}
