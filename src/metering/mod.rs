//! Metering: usage events, priced exactly and recorded idempotently.
//!
//! A batch is folded and priced here ([`Batch`], pure but for reading the
//! price book) and stored by `store`; the transaction that stores it, and
//! the modules reacting to it, are [`crate::ingest`]'s. The usage panel's
//! read model ([`panel`]) and the unpriced models' view compile everywhere
//! (the pages show them); the rest is server-side.

#[cfg(feature = "ssr")]
pub mod analytics;
#[cfg(feature = "ssr")]
pub mod event;
#[cfg(feature = "ssr")]
pub mod events;
pub mod panel;
pub mod projection;
pub mod pulse;
#[cfg(feature = "ssr")]
mod record;
#[cfg(feature = "ssr")]
pub mod retention;
#[cfg(feature = "ssr")]
pub mod rollup;
#[cfg(feature = "ssr")]
pub(crate) mod store;
pub mod unpriced;
#[cfg(feature = "ssr")]
pub mod usage;

#[cfg(feature = "ssr")]
pub use event::{parse_batch, parse_event, parse_event_json, parse_raw_batch, CallStatus, NewEvent, ParsedEvent, Rejected};
#[cfg(feature = "ssr")]
pub use record::*;
