//! An incremental Server-Sent-Events parser that only observes.
//!
//! The gateway relays an upstream stream to its client byte for byte and
//! meters it on the way. Bytes arrive in arbitrary splits (a frame across
//! two reads, a `\r\n` split between its `\r` and `\n`), so the parser keeps
//! the unfinished frame and hands back each complete [`Frame`] with its
//! original bytes and the [`SseEvent`] it dispatches. The frames' bytes, in
//! order, are exactly the bytes pushed: a caller may forward them (and drop
//! a frame it must hide) or forward its own reads unchanged and only look at
//! the events.
//!
//! Parsing follows the WHATWG event-stream rules (`\r\n`, `\n` or `\r` end a
//! line; `data:` lines join with `\n`; one space after the colon is dropped;
//! lines starting with `:` are comments; a blank line dispatches) with one
//! deliberate difference: at the end of the stream an unterminated frame is
//! still dispatched. The spec discards it, but a meter must not lose the
//! usage in a last frame whose server forgot the final blank line.

/// One dispatched event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field; `None` means the default type, `message`.
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: String,
    /// The `id:` field of this frame, if it had one.
    pub id: Option<String>,
}

impl SseEvent {
    /// The event type as a client sees it (`message` when none was named).
    pub fn name(&self) -> &str {
        self.event.as_deref().unwrap_or("message")
    }
}

/// A complete frame: its bytes as received and what it dispatches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Every byte of the frame, up to and including the blank line that
    /// ends it (or to the end of the stream for a trailing frame).
    pub raw: Vec<u8>,
    /// `None` for a frame with no `data:` line (comments such as `: ping`,
    /// a lone `event:`, extra blank lines), which dispatches nothing.
    pub event: Option<SseEvent>,
}

/// The parser state for one stream. Feed it with [`push`](Self::push) as
/// bytes arrive and call [`finish`](Self::finish) once at the end.
#[derive(Debug, Default)]
pub struct SseParser {
    /// Bytes of the unfinished frame.
    buf: Vec<u8>,
    /// Where the unfinished line starts in `buf`.
    line_start: usize,
    /// How far `buf` has been searched for a line end (no rescans).
    scanned: usize,
    /// Fields of the unfinished frame.
    fields: Fields,
}

/// The fields read so far of the unfinished frame.
#[derive(Debug, Default)]
struct Fields {
    event: Option<String>,
    data: String,
    has_data: bool,
    id: Option<String>,
}

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the next bytes of the stream and returns the frames they
    /// complete, in order.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Frame> {
        self.buf.extend_from_slice(bytes);
        self.complete_frames(false)
    }

    /// Ends the stream: returns the frames still pending, including an
    /// unterminated last one (see the module docs). The parser is empty
    /// afterwards.
    pub fn finish(&mut self) -> Vec<Frame> {
        let mut frames = self.complete_frames(true);
        if !self.buf.is_empty() {
            if self.line_start < self.buf.len() {
                self.fields.line(&self.buf[self.line_start..]);
            }
            let raw = std::mem::take(&mut self.buf);
            frames.push(Frame { raw, event: self.fields.dispatch() });
            self.line_start = 0;
            self.scanned = 0;
        }
        frames
    }

    /// How many bytes of an unfinished frame are held (a caller may bound it).
    pub fn pending_len(&self) -> usize {
        self.buf.len()
    }

    /// Cuts the frames `buf` completes. Offsets move past each frame and
    /// the consumed bytes are dropped once at the end, so a read holding
    /// many frames costs one pass, not one shift per frame.
    fn complete_frames(&mut self, at_end: bool) -> Vec<Frame> {
        let mut frames = Vec::new();
        let mut frame_start = 0;
        while let Some((end, next)) = self.next_line_end(at_end) {
            if end == self.line_start {
                // A blank line: the frame ends after its terminator.
                frames.push(Frame { raw: self.buf[frame_start..next].to_vec(), event: self.fields.dispatch() });
                frame_start = next;
            } else {
                self.fields.line(&self.buf[self.line_start..end]);
            }
            self.line_start = next;
            self.scanned = next;
        }
        if frame_start > 0 {
            self.buf.drain(..frame_start);
            self.line_start -= frame_start;
            self.scanned -= frame_start;
        }
        frames
    }

    /// The end of the next complete line and the start of the one after.
    /// A `\r` as the last byte held may be the first half of `\r\n`, so it
    /// only ends a line once the next byte (or the end of the stream) is seen.
    fn next_line_end(&mut self, at_end: bool) -> Option<(usize, usize)> {
        let from = self.scanned.max(self.line_start);
        let found = self.buf[from..].iter().position(|&b| b == b'\n' || b == b'\r').map(|i| from + i);
        let Some(i) = found else {
            self.scanned = self.buf.len();
            return None;
        };
        if self.buf[i] == b'\n' {
            return Some((i, i + 1));
        }
        match self.buf.get(i + 1) {
            Some(b'\n') => Some((i, i + 2)),
            Some(_) => Some((i, i + 1)),
            None if at_end => Some((i, i + 1)),
            None => {
                self.scanned = i;
                None
            }
        }
    }
}

impl Fields {
    /// Applies one non-blank line.
    fn line(&mut self, line: &[u8]) {
        let line = String::from_utf8_lossy(line);
        if line.starts_with(':') {
            return;
        }
        let (name, value) = match line.split_once(':') {
            Some((name, value)) => (name, value.strip_prefix(' ').unwrap_or(value)),
            None => (line.as_ref(), ""),
        };
        match name {
            "event" => self.event = Some(value.to_string()),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "id" if !value.contains('\0') => self.id = Some(value.to_string()),
            _ => {}
        }
    }

    /// Ends the frame: its event if it had data, and a clean slate for the
    /// next one.
    fn dispatch(&mut self) -> Option<SseEvent> {
        let event = self.event.take();
        let id = self.id.take();
        let data = std::mem::take(&mut self.data);
        std::mem::replace(&mut self.has_data, false).then_some(SseEvent { event, data, id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(event: Option<&str>, data: &str) -> SseEvent {
        SseEvent { event: event.map(str::to_string), data: data.to_string(), id: None }
    }

    /// Parses `input` fed in the given pieces; returns the events and the
    /// frames' bytes joined.
    fn parse(pieces: &[&[u8]]) -> (Vec<SseEvent>, Vec<u8>) {
        let mut p = SseParser::new();
        let mut frames = Vec::new();
        for piece in pieces {
            frames.extend(p.push(piece));
        }
        frames.extend(p.finish());
        assert_eq!(p.pending_len(), 0);
        let raw = frames.iter().flat_map(|f| f.raw.clone()).collect();
        (frames.into_iter().filter_map(|f| f.event).collect(), raw)
    }

    /// Feeds `input` whole, split at every offset, split at every pair of
    /// offsets and byte by byte: every way must give `expected` and give
    /// back the input bytes unchanged.
    fn check_every_split(input: &str, expected: &[SseEvent]) {
        let bytes = input.as_bytes();
        let mut ways: Vec<Vec<&[u8]>> = vec![vec![bytes], bytes.chunks(1).collect()];
        for i in 0..=bytes.len() {
            ways.push(vec![&bytes[..i], &bytes[i..]]);
            for j in i..=bytes.len() {
                ways.push(vec![&bytes[..i], &bytes[i..j], &bytes[j..]]);
            }
        }
        for pieces in ways {
            let (events, raw) = parse(&pieces);
            assert_eq!(events, expected, "split {:?}", pieces.iter().map(|p| p.len()).collect::<Vec<_>>());
            assert_eq!(raw, bytes, "the frames' bytes are the input");
        }
    }

    #[test]
    fn openai_chat_frames_with_done() {
        check_every_split(
            "data: {\"a\":1}\n\ndata: {\"b\":2}\n\ndata: [DONE]\n\n",
            &[ev(None, "{\"a\":1}"), ev(None, "{\"b\":2}"), ev(None, "[DONE]")],
        );
    }

    #[test]
    fn crlf_and_lone_cr_line_endings() {
        check_every_split("data: a\r\n\r\ndata: b\r\rdata: c\n\n", &[ev(None, "a"), ev(None, "b"), ev(None, "c")]);
    }

    #[test]
    fn named_events_with_comments_and_pings() {
        check_every_split(
            ": ping\n\nevent: message_start\ndata: {\"x\":1}\n\n: keep-alive\nevent: ping\ndata: {\"type\": \"ping\"}\n\n",
            &[ev(Some("message_start"), "{\"x\":1}"), ev(Some("ping"), "{\"type\": \"ping\"}")],
        );
    }

    #[test]
    fn multi_line_data_joins_with_newlines() {
        check_every_split("data: one\ndata:two\ndata\ndata:  three\n\n", &[ev(None, "one\ntwo\n\n three")]);
    }

    #[test]
    fn trailing_frame_without_blank_line_is_dispatched_at_the_end() {
        check_every_split("data: a\n\nevent: done\ndata: {\"usage\":1}", &[ev(None, "a"), ev(Some("done"), "{\"usage\":1}")]);
        check_every_split("data: a\n\ndata: b\n", &[ev(None, "a"), ev(None, "b")]);
        check_every_split("data: a\r", &[ev(None, "a")]);
    }

    #[test]
    fn frames_without_data_dispatch_nothing_but_keep_their_bytes() {
        check_every_split(": only a comment\n\nevent: lonely\n\n\n\nretry: 10\n\n", &[]);
        let mut p = SseParser::new();
        let frames = p.push(b": ping\n\n\ndata: x\n\n");
        let raws: Vec<&[u8]> = frames.iter().map(|f| f.raw.as_slice()).collect();
        assert_eq!(raws, vec![&b": ping\n\n"[..], b"\n", b"data: x\n\n"]);
    }

    #[test]
    fn a_frame_is_held_until_its_blank_line_arrives() {
        let mut p = SseParser::new();
        assert!(p.push(b"data: {\"par").is_empty());
        assert!(p.push(b"tial\":true}\r").is_empty());
        assert!(p.push(b"\n").is_empty());
        assert_eq!(p.pending_len(), 24);
        let frames = p.push(b"\r\ndata: next");
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].raw, b"data: {\"partial\":true}\r\n\r\n");
        assert_eq!(frames[0].event, Some(ev(None, "{\"partial\":true}")));
        assert_eq!(p.finish().pop().and_then(|f| f.event), Some(ev(None, "next")));
    }

    #[test]
    fn ids_and_multibyte_text_split_inside_a_character() {
        let input = "id: 7\ndata: {\"t\":\"héllo ✓\"}\n\n";
        let mut expected = ev(None, "{\"t\":\"héllo ✓\"}");
        expected.id = Some("7".into());
        check_every_split(input, &[expected]);
    }
}
