//! Whole-file errors: the ledger could not be read at all (as opposed to a bad row, which
//! is data — see [`crate::RowError`]).

use std::fmt;

/// Why a ledger file was rejected as a whole. Every variant has a stable [`code`](Self::code)
/// and a message in Chinese ([`zh`](Self::zh)) and English ([`en`](Self::en)); `Display`
/// shows both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerError {
    /// The file is larger than the configured limit.
    TooLarge { size: usize, max: usize },
    /// More data rows than the configured limit.
    TooManyRows { max: usize },
    /// A CSV that is neither UTF-8 nor GBK/GB18030.
    Encoding,
    /// A CSV saved as UTF-16 ("Unicode text"), which we do not read.
    Utf16,
    /// The CSV could not be split into records.
    Csv { detail: String },
    /// The .xlsx is truncated, corrupt, encrypted or otherwise unreadable.
    Xlsx { detail: String },
    /// An old binary .xls (or another OLE compound file) was given.
    LegacyXls,
    /// The workbook has no worksheet.
    NoWorksheet,
    /// No header row: the file has no non-blank row at all.
    Empty,
    /// A required column is absent from the header row. `column` is its Chinese name.
    MissingColumn { column: &'static str },
    /// Two header cells name the same column (e.g. both 电话 and 联系电话).
    DuplicateColumn { first: String, second: String },
    /// Writing the workbook failed.
    Export { detail: String },
}

impl LedgerError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            LedgerError::TooLarge { .. } => "file_too_large",
            LedgerError::TooManyRows { .. } => "too_many_rows",
            LedgerError::Encoding => "encoding",
            LedgerError::Utf16 => "encoding_utf16",
            LedgerError::Csv { .. } => "csv_format",
            LedgerError::Xlsx { .. } => "xlsx_format",
            LedgerError::LegacyXls => "legacy_xls",
            LedgerError::NoWorksheet => "no_worksheet",
            LedgerError::Empty => "empty",
            LedgerError::MissingColumn { .. } => "missing_column",
            LedgerError::DuplicateColumn { .. } => "duplicate_column",
            LedgerError::Export { .. } => "export",
        }
    }

    /// The message for people, in Chinese.
    pub fn zh(&self) -> String {
        match self {
            LedgerError::TooLarge { size, max } => {
                format!("文件过大（{} MB），最大允许 {} MB", mb(*size), mb(*max))
            }
            LedgerError::TooManyRows { max } => {
                format!("数据行数超过上限（最多 {max} 行），请拆分为多个文件后分批导入")
            }
            LedgerError::Encoding => {
                "无法识别CSV文件的编码：既不是UTF-8也不是GBK/GB18030，请在Excel中另存为“CSV UTF-8”格式".into()
            }
            LedgerError::Utf16 => {
                "文件是UTF-16（“Unicode文本”）格式，请在Excel中另存为“CSV UTF-8”或.xlsx格式".into()
            }
            LedgerError::Csv { .. } => "CSV文件格式错误，无法解析".into(),
            LedgerError::Xlsx { .. } => {
                "Excel文件已损坏、不完整或已加密，无法读取；请在Excel中重新保存为.xlsx后再试".into()
            }
            LedgerError::LegacyXls => {
                "不支持旧版.xls格式，请在Excel中另存为.xlsx（Excel工作簿）后再导入".into()
            }
            LedgerError::NoWorksheet => "Excel文件中没有工作表".into(),
            LedgerError::Empty => "文件为空：没有找到表头行".into(),
            LedgerError::MissingColumn { column } => format!("缺少必填列：{column}"),
            LedgerError::DuplicateColumn { first, second } => {
                format!("表头中“{first}”和“{second}”是同一列，请只保留一列")
            }
            LedgerError::Export { .. } => "生成Excel文件失败".into(),
        }
    }

    /// The message for people, in English.
    pub fn en(&self) -> String {
        match self {
            LedgerError::TooLarge { size, max } => {
                format!("the file is too large ({} MB); at most {} MB is accepted", mb(*size), mb(*max))
            }
            LedgerError::TooManyRows { max } => {
                format!("more than {max} data rows; split the file and import it in parts")
            }
            LedgerError::Encoding => {
                "the CSV file is neither UTF-8 nor GBK/GB18030; save it from Excel as \"CSV UTF-8\"".into()
            }
            LedgerError::Utf16 => {
                "the file is UTF-16 (\"Unicode text\"); save it from Excel as \"CSV UTF-8\" or .xlsx".into()
            }
            LedgerError::Csv { detail } => format!("the CSV file is malformed: {detail}"),
            LedgerError::Xlsx { detail } => {
                format!("the Excel file is corrupt, truncated or encrypted: {detail}")
            }
            LedgerError::LegacyXls => {
                "old binary .xls files are not supported; save it from Excel as .xlsx".into()
            }
            LedgerError::NoWorksheet => "the workbook has no worksheet".into(),
            LedgerError::Empty => "the file is empty: no header row found".into(),
            LedgerError::MissingColumn { column } => format!("required column missing: {column}"),
            LedgerError::DuplicateColumn { first, second } => {
                format!("header cells '{first}' and '{second}' name the same column; keep only one")
            }
            LedgerError::Export { detail } => format!("could not write the workbook: {detail}"),
        }
    }
}

fn mb(bytes: usize) -> String {
    format!("{:.1}", bytes as f64 / (1024.0 * 1024.0))
}

impl fmt::Display for LedgerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} / {}", self.zh(), self.en())
    }
}

impl std::error::Error for LedgerError {}

zhulao_domain::coded_by_methods!(LedgerError);
