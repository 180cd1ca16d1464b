//! Foundations of the metering gateway (OpenAI- and Anthropic-compatible):
//! reading what a provider reports about each call, exactly, from its own
//! wire format. Pure: no database, no HTTP framework, no clock.
//!
//! - [`sse`]: an incremental Server-Sent-Events parser that hands back each
//!   frame's original bytes, so the gateway relays streams byte for byte.
//! - [`usage`]: a non-streamed answer's usage and model, normalised to
//!   Tollbooth's event fields ([`crate::pricing::Usage`]).
//! - [`stream_meter`]: the same for a stream, event by event, plus what the
//!   gateway needs when a stream breaks (text so far, end marker, errors,
//!   time to first token).
//! - [`request`]: what a request body says (model, stream, output cap,
//!   user, prompt text), and the one change ever made to it.
//! - [`tokens`]: prompt and text counts (tiktoken for OpenAI's models, else
//!   a UTF-8 byte bound).
//! - [`call`]: the reservation's upper bound, and the event of a finished
//!   call.

#[cfg(feature = "ssr")]
pub mod call;
pub mod request;
pub mod sse;
pub mod stream_meter;
#[cfg(feature = "ssr")]
pub mod tokens;
pub mod usage;

pub use sse::{Frame, SseEvent, SseParser};
pub use stream_meter::{Observed, StreamMeter};
pub use usage::{from_body, Endpoint, Reported, UpstreamError};

#[cfg(test)]
mod tests;
