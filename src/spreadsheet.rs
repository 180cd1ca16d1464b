//! CSV written for spreadsheets: every download (usage export, audit log,
//! invoices) goes through this writer.
//!
//! Spreadsheet programs run a cell that starts with `=`, `+`, `-` or `@` as
//! a formula, and some treat a leading tab or carriage return the same way.
//! Cells hold text people outside the organization chose (a `user_id` of
//! `=HYPERLINK(…)`, an e-mail tried at login), so such a cell is written
//! with a leading `'`, which spreadsheets show as plain text (OWASP's advice
//! for CSV injection). Numbers stay numbers: `-0.5` and `+3` are left alone.
//! Quoting is the `csv` crate's.

use std::borrow::Cow;

/// Makes one cell safe to open in a spreadsheet.
pub fn safe_cell(cell: &str) -> Cow<'_, str> {
    let risky = match cell.as_bytes().first() {
        Some(b'=' | b'@' | b'\t' | b'\r') => true,
        Some(b'+' | b'-') => !is_number(cell),
        _ => false,
    };
    if risky {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// A plain decimal number (sign, digits, one point, optional exponent).
fn is_number(s: &str) -> bool {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (mantissa, exponent) = match body.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e.strip_prefix(['+', '-']).unwrap_or(e))),
        None => (body, None),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some((i, f)) => (i.is_empty() || digits(i)) && (f.is_empty() || digits(f)) && !(i.is_empty() && f.is_empty()),
        None => digits(mantissa),
    };
    mantissa_ok && exponent.is_none_or(digits)
}

/// A CSV document being written in memory.
pub struct CsvOut {
    writer: csv::Writer<Vec<u8>>,
}

impl Default for CsvOut {
    fn default() -> Self {
        CsvOut { writer: csv::Writer::from_writer(Vec::new()) }
    }
}

impl CsvOut {
    /// A document starting with the header row.
    pub fn with_header(header: &[&str]) -> Self {
        let mut out = CsvOut::default();
        out.row(header.iter().copied());
        out
    }

    /// Appends a row, each cell made safe.
    pub fn row<'a>(&mut self, cells: impl IntoIterator<Item = &'a str>) {
        // Writing to a Vec cannot fail.
        let _ = self.writer.write_record(cells.into_iter().map(|c| safe_cell(c).into_owned()));
    }

    /// The bytes written so far.
    pub fn into_bytes(self) -> Vec<u8> {
        self.writer.into_inner().unwrap_or_default()
    }

    /// The document as text (cells are UTF-8, so is the document).
    pub fn into_string(self) -> String {
        String::from_utf8(self.into_bytes()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_become_text_and_numbers_stay_numbers() {
        for risky in ["=HYPERLINK(\"http://x\",\"y\")", "+cmd|' /C calc'!A0", "-2+3+cmd", "@SUM(A1)", "\tx", "\r=1", "-", "+"] {
            assert_eq!(safe_cell(risky), format!("'{risky}"), "{risky:?}");
        }
        for plain in ["", "gpt-4o", "0.000000123", "-0.5", "+3", "-12", "1e-9", "-.5", "2026-12-06T10:00:00Z", "a=b", "user@example.com"] {
            assert_eq!(safe_cell(plain), plain, "{plain:?}");
        }
    }

    #[test]
    fn rows_are_quoted_and_escaped() {
        let mut out = CsvOut::with_header(&["user_id", "cost"]);
        out.row(["=1+1", "-0.25"]);
        out.row(["a,\"b\"", "1"]);
        assert_eq!(out.into_string(), "user_id,cost\n'=1+1,-0.25\n\"a,\"\"b\"\"\",1\n");
    }
}
