//! The hash chain: each entry's hash is SHA-256 over the previous entry's
//! hash and the entry's fields, each length-prefixed so no two different
//! entries serialize alike.

use sha2::{Digest, Sha256};

/// The `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The stored fields an entry's hash covers, in order.
#[allow(clippy::too_many_arguments)]
pub fn entry_hash(
    prev_hash: &str,
    seq: i64,
    id: &str,
    at: i64,
    org_id: Option<&str>,
    actor_kind: &str,
    actor_id: Option<&str>,
    actor_label: &str,
    action: &str,
    target: Option<&str>,
    result: &str,
    ip: Option<&str>,
    user_agent: Option<&str>,
    details: &str,
) -> String {
    let mut h = Sha256::new();
    let mut field = |v: Option<&str>| match v {
        // NULL and "" differ: a marker byte then the length.
        None => h.update([0u8]),
        Some(s) => {
            h.update([1u8]);
            h.update((s.len() as u64).to_be_bytes());
            h.update(s.as_bytes());
        }
    };
    field(Some(prev_hash));
    field(Some(&seq.to_string()));
    field(Some(id));
    field(Some(&at.to_string()));
    field(org_id);
    field(Some(actor_kind));
    field(actor_id);
    field(Some(actor_label));
    field(Some(action));
    field(target);
    field(Some(result));
    field(ip);
    field(user_agent);
    field(Some(details));
    hex::encode(h.finalize())
}

/// Where the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    pub seq: i64,
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(prev: &str, details: &str, target: Option<&str>) -> String {
        entry_hash(prev, 1, "id", 5, Some("org"), "user", Some("u"), "a@b", "login", target, "success", None, None, details)
    }

    #[test]
    fn every_field_and_the_previous_hash_change_the_hash() {
        let base = h(GENESIS, "{}", None);
        assert_eq!(base.len(), 64);
        assert_ne!(base, h(GENESIS, "{ }", None));
        assert_ne!(base, h(GENESIS, "{}", Some("")), "NULL and empty differ");
        assert_ne!(base, h(&base, "{}", None));
        assert_eq!(base, h(GENESIS, "{}", None), "deterministic");
    }
}
