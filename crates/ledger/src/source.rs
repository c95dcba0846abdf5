//! Reading the raw grid: bytes of a CSV or .xlsx become numbered rows of cells, pushed one
//! row at a time into a caller-supplied sink. No interpretation of the cells happens here.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Cursor;

use calamine::{DataRef, Reader, SheetType, SheetVisible, Xlsx};

use crate::{ImportLimits, LedgerError};

/// Cells further right than this are ignored (no ledger has that many columns, and it
/// bounds the work a hostile file can cause per row).
pub const MAX_COLUMNS: usize = 256;

/// Rows above the header that may hold a title; also the slack allowed when counting rows
/// before the header is known.
pub const MAX_TITLE_ROWS: usize = 10;

/// One cell as the file stores it.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Cell<'a> {
    #[default]
    Empty,
    Text(Cow<'a, str>),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// An Excel error value such as `#N/A`.
    Error(String),
}

impl Cell<'_> {
    pub fn is_blank(&self) -> bool {
        match self {
            Cell::Empty => true,
            Cell::Text(s) => s.trim().is_empty(),
            _ => false,
        }
    }

    /// The cell as text, the way a person reads it: trimmed; whole numbers without a
    /// fraction (`13812345678.0` → `13812345678`); other numbers in their shortest form.
    pub fn text(&self) -> Cow<'_, str> {
        match self {
            Cell::Empty => Cow::Borrowed(""),
            Cell::Text(s) => Cow::Borrowed(s.trim()),
            Cell::Int(i) => Cow::Owned(i.to_string()),
            Cell::Float(f) => Cow::Owned(float_text(*f)),
            Cell::Bool(b) => Cow::Borrowed(if *b { "TRUE" } else { "FALSE" }),
            Cell::Error(e) => Cow::Borrowed(e.as_str()),
        }
    }

    pub fn is_number(&self) -> bool {
        matches!(self, Cell::Int(_) | Cell::Float(_))
    }
}

/// Whole floats below 10^15 (Excel keeps 15 significant digits) print as integers.
pub fn float_text(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15 { format!("{f:.0}") } else { f.to_string() }
}

/// Receives each row: its 1-based spreadsheet row number and its cells.
pub type Sink<'s> = dyn FnMut(usize, &[Cell<'_>]) -> Result<(), LedgerError> + 's;

/// Decodes CSV bytes: UTF-8 (BOM stripped) wins; otherwise GB18030 (a superset of GBK, what
/// Chinese Excel writes); anything that decodes as neither is an error.
pub fn decode_csv(bytes: &[u8]) -> Result<Cow<'_, str>, LedgerError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return Err(LedgerError::Utf16);
    }
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Ok(Cow::Borrowed(s));
    }
    encoding_rs::GB18030
        .decode_without_bom_handling_and_without_replacement(bytes)
        .map(|s| Cow::Owned(s.into_owned()))
        .ok_or(LedgerError::Encoding)
}

/// Splits decoded CSV text into rows. Row numbers count records as Excel shows them,
/// including blank lines (which the `csv` crate skips, so they are counted back in).
pub fn read_csv(text: &str, limits: &ImportLimits, sink: &mut Sink<'_>) -> Result<(), LedgerError> {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
    let mut record = csv::StringRecord::new();
    // (byte where the previous record started, lines it spanned, its row number)
    let mut prev: Option<(usize, usize, usize)> = None;
    let mut non_blank = 0usize;
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(LedgerError::Csv { detail: e.to_string() }),
        }
        // The reported position is where the reader resumed, before any blank lines it
        // skipped; a record itself never starts with a line break.
        let resumed: usize = record.position().map_or(0, |p| p.byte()).try_into().unwrap_or(usize::MAX);
        let start = resumed
            + text.get(resumed..).map_or(0, |t| t.bytes().take_while(|b| matches!(b, b'\r' | b'\n')).count());
        let span = 1 + record.iter().map(|f| f.matches('\n').count()).sum::<usize>();
        let (from, prev_row, prev_span) = prev.map_or((0, 0, 0), |(b, s, r)| (b, r, s));
        let newlines = text.get(from..start).map_or(0, |t| t.matches('\n').count());
        // Lines between the two record starts that the previous record did not use were
        // blank lines, which Excel shows as rows.
        let row = prev_row + 1 + newlines.saturating_sub(prev_span);
        prev = Some((start, span, row));
        let cells: Vec<Cell<'_>> =
            record.iter().take(MAX_COLUMNS).map(|f| Cell::Text(Cow::Borrowed(f))).collect();
        if cells.iter().all(Cell::is_blank) {
            continue;
        }
        non_blank += 1;
        if non_blank > limits.max_rows.saturating_add(MAX_TITLE_ROWS + 1) {
            return Err(LedgerError::TooManyRows { max: limits.max_rows });
        }
        sink(row, &cells)?;
    }
    Ok(())
}

/// Reads the first visible worksheet of an .xlsx. Cells are streamed from the sheet XML
/// (never materialised as a dense range, so a stray cell at XFD1048576 costs nothing) and
/// grouped by row.
pub fn read_xlsx(bytes: &[u8], limits: &ImportLimits, sink: &mut Sink<'_>) -> Result<(), LedgerError> {
    if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        return Err(LedgerError::LegacyXls);
    }
    let xlsx_err = |e: calamine::XlsxError| LedgerError::Xlsx { detail: e.to_string() };
    let mut book = Xlsx::new(Cursor::new(bytes)).map_err(xlsx_err)?;
    let sheets = book.sheets_metadata();
    let worksheets = || sheets.iter().filter(|s| s.typ == SheetType::WorkSheet);
    let name = worksheets()
        .find(|s| s.visible == SheetVisible::Visible)
        .or_else(|| worksheets().next())
        .map(|s| s.name.clone())
        .ok_or(LedgerError::NoWorksheet)?;
    let mut reader = book.worksheet_cells_reader(&name).map_err(xlsx_err)?;

    let max_rows = limits.max_rows.saturating_add(MAX_TITLE_ROWS + 1);
    let mut rows: BTreeMap<u32, Vec<(u32, Cell<'static>)>> = BTreeMap::new();
    while let Some(cell) = reader.next_cell().map_err(xlsx_err)? {
        let (r, c) = cell.get_position();
        if c as usize >= MAX_COLUMNS {
            continue;
        }
        let value = match cell.get_value() {
            DataRef::Empty => continue,
            DataRef::Int(i) => Cell::Int(*i),
            DataRef::Float(f) => Cell::Float(*f),
            DataRef::String(s) => Cell::Text(Cow::Owned(s.clone())),
            DataRef::SharedString(s) => Cell::Text(Cow::Owned((*s).to_string())),
            DataRef::Bool(b) => Cell::Bool(*b),
            DataRef::DateTime(d) => Cell::Float(d.as_f64()),
            DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => Cell::Text(Cow::Owned(s.clone())),
            DataRef::Error(e) => Cell::Error(e.to_string()),
        };
        if value.is_blank() {
            continue;
        }
        rows.entry(r).or_default().push((c, value));
        if rows.len() > max_rows {
            return Err(LedgerError::TooManyRows { max: limits.max_rows });
        }
    }
    drop(reader);

    let mut cells: Vec<Cell<'static>> = Vec::new();
    for (r, row) in rows {
        let width = row.iter().map(|(c, _)| *c as usize + 1).max().unwrap_or(0);
        cells.clear();
        cells.resize(width, Cell::Empty);
        for (c, v) in row {
            if let Some(slot) = cells.get_mut(c as usize) {
                *slot = v;
            }
        }
        sink(r as usize + 1, &cells)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_text_is_what_a_person_reads() {
        let check = |f: f64, expected: &str| assert_eq!(float_text(f), expected);
        check(13812345678.0, "13812345678");
        check(100.5, "100.5");
        check(2.0, "2");
        check(-0.25, "-0.25");
        check(1e20, "100000000000000000000");
        check(f64::NAN, "NaN");
    }

    fn rows_of(csv: &str) -> Vec<(usize, Vec<String>)> {
        let mut out = Vec::new();
        read_csv(csv, &ImportLimits::default(), &mut |row, cells| {
            out.push((row, cells.iter().map(|c| c.text().into_owned()).collect()));
            Ok(())
        })
        .unwrap();
        out
    }

    #[test]
    fn csv_row_numbers_count_blank_and_multiline_records() {
        let rows = rows_of("a,b\n\n\"x\ny\",1\n,\n\nc,2\n");
        let numbers: Vec<usize> = rows.iter().map(|r| r.0).collect();
        assert_eq!(numbers, [1, 3, 6]);
        assert_eq!(rows[1].1, ["x\ny", "1"]);
    }

    #[test]
    fn decodes_utf8_bom_and_gbk() {
        assert_eq!(decode_csv("姓名".as_bytes()).unwrap(), "姓名");
        assert_eq!(decode_csv(b"\xEF\xBB\xBF\xE5\xA7\x93").unwrap(), "姓");
        let (gbk, _, _) = encoding_rs::GBK.encode("独居");
        assert_eq!(decode_csv(&gbk).unwrap(), "独居");
        assert_eq!(decode_csv(b"\xFF\xFEa\0"), Err(LedgerError::Utf16));
        assert_eq!(decode_csv(b"ok\x81\x30\xFF\xFF"), Err(LedgerError::Encoding));
    }
}
