//! Browser sessions: their storage (`sessions`), which the server adapts to
//! tower-sessions. Which sessions still sign someone in is
//! [`crate::accounts`]' rule.

mod store;

pub use store::*;
