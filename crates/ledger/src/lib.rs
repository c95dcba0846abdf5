//! zhulao-ledger: elder ledgers (台账) as community staff keep them in Excel — import with
//! row-by-row validation, export, and an empty template.
//!
//! Invariant: pure. Bytes in, data out: no file or network I/O, no clock (`today` is an
//! argument), and no panic on any input — a corrupt file is a [`LedgerError`], a bad row is
//! a [`RowError`] in the result, next to the rows that were fine.
//!
//! # Layout of a ledger
//!
//! One header row, then one elder per row. The header row is the first row (within the
//! first ten non-blank rows, so a title row above it is fine) that has a 身份证号 column.
//! Header cells are matched by name, in any order; see [`COLUMNS`] for the canonical
//! Chinese headers and the synonyms accepted (English codes such as `id_number` too).
//!
//! | column | required | notes |
//! |---|---|---|
//! | 身份证号 | yes | 18 characters; must be a text cell in .xlsx (a number loses digits) |
//! | 姓名 | yes | |
//! | 联系电话 (电话) | | `13812345678.0` from Excel is read as `13812345678` |
//! | 住址 (地址) | yes | |
//! | 纬度, 经度 | | both or neither |
//! | 区划代码 / 所属社区 (社区, 村(居)委会) | one of them | the code wins when both are filled; a name is resolved by the caller |
//! | 户籍 | | 城镇/农村, default 城镇 |
//! | 居住状况 | yes | 独居/空巢/与子女同住/集中供养/其他 |
//! | 经济状况 | | 低保/特困/五保/经济困难/一般, default 一般 |
//! | 能力等级 | | 0–4 or 能力完好…完全失能, default 0 |
//! | 慢性病, 过敏史, 用药 | | lists separated by 、，,;；/ or line breaks |
//! | 血型, 家庭医生, 服务卡号, 服务卡余额(元) | | |
//! | 紧急联系人N, 联系人N关系, 联系人N电话 (N = 1..3) | | a contact with any cell filled needs all three |
//! | 性别, 出生日期, 年龄, 状态, 序号 | | written by [`export_xlsx`]; recognised and ignored on import (sex and birth date come from the ID number) |
//!
//! Any other column is ignored and named in [`ParsedLedger::warnings`].

mod columns;
mod error;
mod export;
mod import;
mod source;

use chrono::NaiveDate;
use zhulao_domain::{ElderRecord, RegionCode};

pub use columns::{COLUMNS, CONTACT_SLOTS, Col};
pub use error::LedgerError;
pub use export::{ExportContact, ExportRow, export_xlsx, template_xlsx};

/// The largest file accepted by [`parse_ledger`].
pub const MAX_BYTES: usize = 20 * 1024 * 1024;
/// The most data rows accepted by [`parse_ledger`].
pub const MAX_ROWS: usize = 200_000;

/// Size limits for an import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportLimits {
    pub max_bytes: usize,
    pub max_rows: usize,
}

impl Default for ImportLimits {
    fn default() -> Self {
        ImportLimits { max_bytes: MAX_BYTES, max_rows: MAX_ROWS }
    }
}

/// The file format of a ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Xlsx,
    Csv,
}

impl Format {
    /// By extension: `.xlsx`/`.xlsm` → Xlsx, `.csv`/`.txt` → Csv (case-insensitive).
    pub fn from_filename(name: &str) -> Option<Format> {
        let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
        match ext.as_str() {
            "xlsx" | "xlsm" => Some(Format::Xlsx),
            "csv" | "txt" => Some(Format::Csv),
            _ => None,
        }
    }

    /// By content: a ZIP archive (`PK\x03\x04`) is an .xlsx, anything else is read as CSV.
    pub fn sniff(bytes: &[u8]) -> Format {
        if bytes.starts_with(b"PK\x03\x04") { Format::Xlsx } else { Format::Csv }
    }

    /// Content first (a ZIP is always an .xlsx, whatever it is called), then the file name,
    /// then CSV.
    pub fn detect(filename: Option<&str>, bytes: &[u8]) -> Format {
        match Format::sniff(bytes) {
            Format::Xlsx => Format::Xlsx,
            Format::Csv => filename.and_then(Format::from_filename).unwrap_or(Format::Csv),
        }
    }
}

/// The outcome of an import: the rows that validated, the problems of those that did not,
/// and notes about the file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedLedger {
    pub rows: Vec<LedgerRow>,
    pub errors: Vec<RowError>,
    /// File-level notes that did not stop the import, e.g. ignored unknown columns.
    pub warnings: Vec<String>,
    /// Non-blank data rows in the file (valid and invalid).
    pub total_rows: usize,
}

/// A row that validated.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerRow {
    /// 1-based spreadsheet row number as the user sees it (the header is usually row 1).
    pub row: usize,
    pub record: ElderRecord,
}

/// One problem with one cell. A row may have several.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// 1-based spreadsheet row number.
    pub row: usize,
    /// The column header exactly as written in the file (e.g. `电话`, not `phone`).
    pub column: String,
    /// The offending cell. ID numbers and phones are masked (`110105********002X`,
    /// `138****5678`): the report is shown and logged, personal numbers must not be.
    pub value: String,
    pub zh: String,
    pub en: String,
    /// Stable machine-readable code (the domain's codes, plus `duplicate_id_number`,
    /// `id_number_not_text`, `unknown_community`, `number_format`, `cell_error`).
    pub code: &'static str,
}

/// Parses a ledger with the default [`ImportLimits`]. See the crate docs for the layout.
///
/// `resolve_region` turns a community name (所属社区) into its region code; it is called
/// once per distinct name.
pub fn parse_ledger(
    bytes: &[u8],
    format: Format,
    today: NaiveDate,
    resolve_region: &dyn Fn(&str) -> Option<RegionCode>,
) -> Result<ParsedLedger, LedgerError> {
    parse_ledger_with_limits(bytes, format, today, resolve_region, &ImportLimits::default())
}

/// [`parse_ledger`] with explicit limits. Bytes that start like a ZIP archive are read as
/// .xlsx whatever `format` says.
pub fn parse_ledger_with_limits(
    bytes: &[u8],
    format: Format,
    today: NaiveDate,
    resolve_region: &dyn Fn(&str) -> Option<RegionCode>,
    limits: &ImportLimits,
) -> Result<ParsedLedger, LedgerError> {
    if bytes.len() > limits.max_bytes {
        return Err(LedgerError::TooLarge { size: bytes.len(), max: limits.max_bytes });
    }
    let mut importer = import::Importer::new(today, resolve_region, limits);
    let mut sink = |row: usize, cells: &[source::Cell<'_>]| importer.row(row, cells);
    let format = if Format::sniff(bytes) == Format::Xlsx { Format::Xlsx } else { format };
    match format {
        Format::Csv => {
            let text = source::decode_csv(bytes)?;
            source::read_csv(&text, limits, &mut sink)?;
        }
        Format::Xlsx => {
            // Belt and braces: the xlsx reader is third-party code fed hostile input. Should
            // it ever panic (an arithmetic overflow on an absurd row number, say), the caller
            // still gets an error, not a crashed request.
            let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                source::read_xlsx(bytes, limits, &mut sink)
            }));
            read.unwrap_or_else(|_| {
                Err(LedgerError::Xlsx { detail: "the reader failed on malformed content".into() })
            })?;
        }
    }
    importer.finish()
}
