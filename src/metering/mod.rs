//! Metering: usage events, priced exactly and recorded idempotently.
//!
//! A batch is folded and priced here ([`record`], pure but for reading the
//! price book) and stored by [`store`]; the transaction that stores it, and
//! the modules reacting to it, are [`crate::ingest`]'s.

pub mod event;
pub mod events;
mod record;
pub mod retention;
pub mod rollup;
pub(crate) mod store;
pub mod unpriced;
pub mod usage;

pub use event::{parse_batch, parse_event, parse_event_json, parse_raw_batch, CallStatus, NewEvent, ParsedEvent, Rejected};
pub use record::*;
