//! Links built by the pages: query values encoded the same way on the server
//! and in the browser.

/// Percent-encodes a query parameter value: everything but `A–Z a–z 0–9 - . _ ~`.
/// The same bytes on the server and in the browser, so hydration matches.
pub fn encode_query(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
