//! Writing an SSE answer: the frames the wire module built, paced and cut
//! as the switches say.
//!
//! Each piece of the body is its own HTTP chunk. Between pieces of one
//! split frame the stream pauses for a millisecond, so the server flushes
//! each piece in its own write and a client reads them apart (a gateway's
//! parser then sees a frame in several reads). `x-mock-drop-after` ends the
//! body with an error, which makes the server close the connection without
//! the final empty chunk: the client sees a broken transfer, as when an
//! upstream dies mid-answer.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue};
use axum::response::Response;
use futures::StreamExt;

use super::switches::Switches;

/// One SSE frame (`event:`/`data:` lines and the blank line ending it).
pub fn frame(event: Option<&str>, data: &str) -> String {
    match event {
        Some(name) => format!("event: {name}\ndata: {data}\n\n"),
        None => format!("data: {data}\n\n"),
    }
}

/// What the body does next.
enum Step {
    Write { wait: Duration, bytes: Bytes },
    Break,
}

/// A `200 text/event-stream` answer writing `frames` under `switches`.
pub fn sse_response(frames: Vec<String>, switches: &Switches) -> Response {
    let mut steps = Vec::new();
    let keep = switches.drop_after.unwrap_or(usize::MAX);
    let dropped = frames.len() > keep;
    for frame in frames.into_iter().take(keep) {
        let mut wait = switches.chunk_delay();
        for piece in pieces(frame.into_bytes(), switches.split_frames) {
            steps.push(Step::Write { wait, bytes: piece });
            wait = Duration::from_millis(1);
        }
    }
    if dropped {
        steps.push(Step::Break);
    }
    let body = futures::stream::iter(steps).then(|step| async move {
        match step {
            Step::Write { wait, bytes } => {
                if !wait.is_zero() {
                    tokio::time::sleep(wait).await;
                }
                Ok(bytes)
            }
            Step::Break => {
                // Pausing first lets the server flush the frames written so
                // far (it flushes whenever the body is not ready), so the
                // client gets them before the connection closes.
                tokio::time::sleep(Duration::from_millis(1)).await;
                Err(std::io::Error::new(std::io::ErrorKind::ConnectionAborted, "x-mock-drop-after: connection dropped"))
            }
        }
    });
    let mut resp = Response::new(Body::from_stream(body));
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

/// A frame whole, or in four pieces when split: inside the first field
/// name, at the middle, and just before the blank line's `\n`, so a reader
/// sees a line, a JSON text and a frame end each arrive in parts.
fn pieces(frame: Vec<u8>, split: bool) -> Vec<Bytes> {
    let len = frame.len();
    if !split || len < 8 {
        return vec![Bytes::from(frame)];
    }
    let cuts = [0, 3, len / 2, len - 1, len];
    let frame = Bytes::from(frame);
    cuts.windows(2).map(|w| frame.slice(w[0]..w[1])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_split_frame_is_four_pieces_that_join_to_it() {
        let f = frame(Some("ping"), "{\"type\": \"ping\"}");
        let p = pieces(f.clone().into_bytes(), true);
        assert_eq!(p.len(), 4);
        assert_eq!(&p[0][..], b"eve");
        assert_eq!(&p[3][..], b"\n");
        assert_eq!(p.concat(), f.as_bytes());
        assert_eq!(pieces(f.into_bytes(), false).len(), 1);
    }
}
