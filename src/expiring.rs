//! A per-process map whose answers are reused for a fixed time: the shape of
//! every cache on the request path (the suspension check, the API key of a
//! call, the gateway's upstream of an organization).
//!
//! Changes made through this process are seen at once: the service that
//! changes a row calls [`Expiring::forget_if`] after its commit. Another
//! process (several servers on one PostgreSQL) sees the change when its own
//! answer expires.
//!
//! A reader that looked the value up before a change was committed must not
//! put its stale answer back after the change forgot it: [`Expiring::ticket`]
//! is taken before the lookup and [`Expiring::put`] stores nothing when a
//! `forget_if` ran in between.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

/// At most this many entries; past it the map starts over (a cache, never a
/// store: a miss only costs a read).
const MAX_ENTRIES: usize = 100_000;

pub struct Expiring<K, V> {
    ttl_ms: i64,
    map: OnceLock<Mutex<HashMap<K, (i64, V)>>>,
    generation: AtomicU64,
}

/// Taken before the lookup whose answer is then [`Expiring::put`].
#[derive(Debug, Clone, Copy)]
pub struct Ticket(u64);

impl<K: Eq + Hash, V: Clone> Expiring<K, V> {
    /// An empty cache keeping answers for `ttl_ms` (usable in a `static`).
    pub const fn new(ttl_ms: i64) -> Self {
        Expiring { ttl_ms, map: OnceLock::new(), generation: AtomicU64::new(0) }
    }

    fn map(&self) -> &Mutex<HashMap<K, (i64, V)>> {
        self.map.get_or_init(Default::default)
    }

    /// The answer stored for `key` less than the time to live before `now`.
    pub fn get<Q>(&self, key: &Q, now: i64) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let map = self.map().lock().ok()?;
        map.get(key).filter(|(at, _)| now - at < self.ttl_ms && now >= *at).map(|(_, v)| v.clone())
    }

    pub fn ticket(&self) -> Ticket {
        Ticket(self.generation.load(Ordering::SeqCst))
    }

    /// Stores the answer looked up since `ticket`, unless something was
    /// forgotten meanwhile.
    pub fn put(&self, ticket: Ticket, key: K, value: V, now: i64) {
        let Ok(mut map) = self.map().lock() else { return };
        // Checked under the lock: `forget_if` bumps the generation under it too.
        if self.generation.load(Ordering::SeqCst) != ticket.0 {
            return;
        }
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(key, (now, value));
    }

    /// Drops every answer `pred` names (after a change is committed).
    pub fn forget_if(&self, mut pred: impl FnMut(&K, &V) -> bool) {
        let Ok(mut map) = self.map().lock() else { return };
        self.generation.fetch_add(1, Ordering::SeqCst);
        map.retain(|k, (_, v)| !pred(k, v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_reused_until_it_expires() {
        let c: Expiring<String, u32> = Expiring::new(1_000);
        let t = c.ticket();
        c.put(t, "a".into(), 1, 10_000);
        assert_eq!(c.get("a", 10_000), Some(1));
        assert_eq!(c.get("a", 10_999), Some(1));
        assert_eq!(c.get("a", 11_000), None, "expired at the time to live");
        assert_eq!(c.get("a", 9_000), None, "a clock that went back does not make it fresh");
        assert_eq!(c.get("b", 10_000), None);
    }

    #[test]
    fn forgetting_drops_what_it_names_and_keeps_the_rest() {
        let c: Expiring<String, u32> = Expiring::new(1_000);
        c.put(c.ticket(), "a".into(), 1, 0);
        c.put(c.ticket(), "b".into(), 2, 0);
        c.forget_if(|_, v| *v == 1);
        assert_eq!((c.get("a", 1), c.get("b", 1)), (None, Some(2)));
    }

    #[test]
    fn a_lookup_older_than_a_change_is_not_stored() {
        let c: Expiring<String, u32> = Expiring::new(1_000);
        let before = c.ticket(); // a reader starts its lookup
        c.forget_if(|k, _| k == "a"); // a change commits and forgets
        c.put(before, "a".into(), 1, 0); // the reader's stale answer
        assert_eq!(c.get("a", 1), None);
        c.put(c.ticket(), "a".into(), 2, 0);
        assert_eq!(c.get("a", 1), Some(2));
    }
}
