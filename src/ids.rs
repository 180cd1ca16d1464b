//! Identifiers: UUIDv7 as text. Time-ordered keys keep B-tree inserts at the
//! right edge of the index, which matters for SQLite's write speed.

/// A new time-ordered identifier.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Whether `s` looks like an identifier we issued; used to turn junk path
/// parameters into a 404 without a query.
pub fn is_valid_id(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok()
}
