//! Metering: usage events, priced exactly and recorded idempotently.

pub mod event;
pub mod events;
pub mod retention;
pub mod rollup;
pub mod unpriced;
pub mod usage;
mod service;
pub(crate) mod store;

pub use event::{parse_batch, parse_event, parse_event_json, parse_raw_batch, CallStatus, NewEvent, ParsedEvent, Rejected};
pub use service::*;
