//! From rows of cells to validated records: header matching, cell → [`ElderInput`]
//! mapping, validation with the domain rules, duplicate detection, and error reports that
//! point at the user's own column headers.

use std::collections::HashMap;

use chrono::NaiveDate;
use zhulao_domain::elder::ContactInput;
use zhulao_domain::id_number::mask_middle;
use zhulao_domain::{ElderInput, FieldError, HealthRecord, IdNumber, RegionCode};

use crate::columns::{CONTACT_SLOTS, Col, Header};
use crate::source::{Cell, MAX_TITLE_ROWS};
use crate::{ImportLimits, LedgerError, LedgerRow, ParsedLedger, RowError};

/// Separators accepted between list items (慢性病、过敏史、用药).
const LIST_SEPARATORS: [char; 7] = ['、', '，', ',', ';', '；', '\n', '/'];

/// The state of one import: fed row by row, finished once.
pub struct Importer<'a> {
    today: NaiveDate,
    resolve_region: &'a dyn Fn(&str) -> Option<RegionCode>,
    limits: &'a ImportLimits,
    /// Community names already resolved (a ledger repeats a handful of names).
    regions: HashMap<String, Option<RegionCode>>,
    header: Option<Header>,
    /// Non-blank rows seen while looking for the header.
    rows_before_header: usize,
    /// Normalised ID number → the row it first appeared on.
    seen_ids: HashMap<String, usize>,
    out: ParsedLedger,
}

impl<'a> Importer<'a> {
    pub fn new(
        today: NaiveDate,
        resolve_region: &'a dyn Fn(&str) -> Option<RegionCode>,
        limits: &'a ImportLimits,
    ) -> Self {
        Importer {
            today,
            resolve_region,
            limits,
            regions: HashMap::new(),
            header: None,
            rows_before_header: 0,
            seen_ids: HashMap::new(),
            out: ParsedLedger::default(),
        }
    }

    /// Takes one row (1-based spreadsheet row number).
    pub fn row(&mut self, row: usize, cells: &[Cell<'_>]) -> Result<(), LedgerError> {
        if cells.iter().all(Cell::is_blank) {
            return Ok(());
        }
        let Some(header) = &self.header else {
            return self.header_candidate(cells);
        };
        self.out.total_rows += 1;
        if self.out.total_rows > self.limits.max_rows {
            return Err(LedgerError::TooManyRows { max: self.limits.max_rows });
        }
        let mut ctx = RowCtx {
            header,
            cells,
            row,
            errors: Vec::new(),
            suppressed: Vec::new(),
            contact_slots: Vec::new(),
        };
        let input = ctx.input(&mut self.regions, self.resolve_region);

        // Duplicates are judged on the normalised number, whatever else is wrong with the row.
        if let Ok(id) = IdNumber::parse(&input.id_number, self.today) {
            if let Some(first) = self.seen_ids.get(id.as_str()) {
                ctx.push(
                    Col::IdNumber,
                    "id_number",
                    "duplicate_id_number",
                    format!("与第{first}行身份证号重复"),
                    format!("same ID number as row {first}"),
                );
            } else {
                self.seen_ids.insert(id.as_str().to_string(), row);
            }
        }

        match input.validate(self.today) {
            Ok(record) if ctx.errors.is_empty() => self.out.rows.push(LedgerRow { row, record }),
            Ok(_) => {}
            Err(field_errors) => {
                for e in field_errors.into_iter().filter(|e| !ctx.suppressed.contains(&e.field)) {
                    let mapped = ctx.map_field_error(e);
                    ctx.errors.push(mapped);
                }
            }
        }
        let mut errors = ctx.errors;
        errors.sort_by_key(|e| e.order);
        self.out.errors.extend(errors.into_iter().map(|e| e.error));
        Ok(())
    }

    fn header_candidate(&mut self, cells: &[Cell<'_>]) -> Result<(), LedgerError> {
        let texts: Vec<String> = cells.iter().map(|c| c.text().into_owned()).collect();
        if Header::looks_like_header(&texts) {
            let header = Header::parse(&texts)?;
            header.check_required()?;
            self.out.warnings.extend(
                header
                    .unknown
                    .iter()
                    .map(|h| format!("已忽略未识别的列“{h}” / ignored unknown column '{h}'")),
            );
            self.header = Some(header);
            return Ok(());
        }
        self.rows_before_header += 1;
        if self.rows_before_header >= MAX_TITLE_ROWS {
            return Err(LedgerError::MissingColumn { column: Col::IdNumber.header() });
        }
        Ok(())
    }

    pub fn finish(self) -> Result<ParsedLedger, LedgerError> {
        match self.header {
            Some(_) => Ok(self.out),
            None if self.rows_before_header == 0 => Err(LedgerError::Empty),
            None => Err(LedgerError::MissingColumn { column: Col::IdNumber.header() }),
        }
    }
}

/// A row error with its position in the row, so that errors come out in column order.
struct Ordered {
    order: usize,
    error: RowError,
}

/// One row being mapped.
struct RowCtx<'h, 'c, 'd> {
    header: &'h Header,
    cells: &'c [Cell<'d>],
    row: usize,
    errors: Vec<Ordered>,
    /// Domain fields already reported by the mapping; their validation errors would only
    /// repeat the same problem in vaguer words.
    suppressed: Vec<String>,
    /// The ledger slot (0..3) of each contact passed to validation, which numbers only the
    /// contacts that are filled in.
    contact_slots: Vec<usize>,
}

impl RowCtx<'_, '_, '_> {
    fn cell(&self, col: Col) -> &Cell<'_> {
        self.header.index(col).and_then(|i| self.cells.get(i)).unwrap_or(&Cell::Empty)
    }

    /// The cell as text; an Excel error value (`#N/A`) is reported and read as blank.
    fn text(&mut self, col: Col, field: &str) -> String {
        if let Cell::Error(e) = self.cell(col) {
            let e = e.clone();
            self.push(
                col,
                field,
                "cell_error",
                format!("单元格是错误值 {e}，请改为实际内容"),
                format!("the cell holds the error value {e}; enter the actual content"),
            );
            return String::new();
        }
        self.cell(col).text().into_owned()
    }

    /// What to echo back for `col`: the cell, masked where it holds personal numbers.
    fn shown(&self, col: Col) -> String {
        let text = self.cell(col).text();
        match col {
            Col::IdNumber => mask_middle(&text, 6, 4),
            c if c.is_sensitive() => mask_middle(&text, 3, 4),
            _ => text.into_owned(),
        }
    }

    fn push(&mut self, col: Col, field: &str, code: &'static str, zh: String, en: String) {
        self.suppressed.push(field.to_string());
        self.errors.push(Ordered {
            order: self.header.index(col).unwrap_or(usize::MAX),
            error: RowError {
                row: self.row,
                column: self.header.text(col).to_string(),
                value: self.shown(col),
                zh,
                en,
                code,
            },
        });
    }

    /// Maps a domain field error back to the user's column.
    fn map_field_error(&self, e: FieldError) -> Ordered {
        let col = self.column_of(&e.field);
        let column = self.header.text(col);
        Ordered {
            order: self.header.index(col).unwrap_or(usize::MAX),
            error: RowError {
                row: self.row,
                column: column.to_string(),
                value: self.shown(col),
                // The domain names fields by their code ("contacts[0].phone 不是…"); people
                // should see the column they typed into instead.
                zh: e.zh.replacen(&e.field, column, 1),
                en: e.en,
                code: e.code,
            },
        }
    }

    fn column_of(&self, field: &str) -> Col {
        if let Some(rest) = field.strip_prefix("contacts[") {
            let index = rest.split(']').next().and_then(|i| i.parse::<usize>().ok()).unwrap_or(0);
            let slot = self.contact_slots.get(index).copied().unwrap_or(0);
            let part = match rest.rsplit('.').next() {
                Some("relation") => 1,
                Some("phone") => 2,
                _ => 0,
            };
            return Col::contact(slot).map_or(Col::Contact1Name, |cols| cols[part]);
        }
        match field {
            "id_number" => Col::IdNumber,
            "name" => Col::Name,
            "phone" => Col::Phone,
            "address" => Col::Address,
            "location" if self.header.index(Col::Lat).is_some() => Col::Lat,
            "location" => Col::Lon,
            "region_code" if self.header.index(Col::RegionCode).is_some() => {
                if self.cell(Col::RegionCode).is_blank() && self.header.index(Col::Community).is_some() {
                    Col::Community
                } else {
                    Col::RegionCode
                }
            }
            "region_code" => Col::Community,
            "hukou" => Col::Hukou,
            "living" => Col::Living,
            "economic" => Col::Economic,
            "capability" => Col::Capability,
            "health.chronic_conditions" => Col::Chronic,
            "health.allergies" => Col::Allergies,
            "health.medications" => Col::Medications,
            "health.blood_type" => Col::BloodType,
            "health.family_doctor" => Col::FamilyDoctor,
            "card_no" => Col::CardNo,
            "card_balance_yuan" => Col::CardBalance,
            _ => Col::Contact1Name,
        }
    }

    /// Builds the domain input from the row, reporting what only the spreadsheet can get
    /// wrong (numbers where text belongs, unknown community names, bad coordinates).
    fn input(
        &mut self,
        regions: &mut HashMap<String, Option<RegionCode>>,
        resolve: &dyn Fn(&str) -> Option<RegionCode>,
    ) -> ElderInput {
        let id_number = if self.cell(Col::IdNumber).is_number() {
            self.push(
                Col::IdNumber,
                "id_number",
                "id_number_not_text",
                "身份证号被Excel存成了数字，超过15位的数字会丢失末尾几位；请把该列设置为文本格式后重新填写"
                    .into(),
                "the ID number was stored by Excel as a number, which loses the last digits; \
                 format the column as text and enter the numbers again"
                    .into(),
            );
            String::new()
        } else {
            self.text(Col::IdNumber, "id_number")
        };
        let (lat, lon) = self.location();
        let region_code = self.region(regions, resolve);
        let list = |s: String| -> Vec<String> {
            s.split(LIST_SEPARATORS).map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect()
        };
        let opt = |s: String| if s.is_empty() { None } else { Some(s) };
        let mut contacts = Vec::new();
        for slot in 0..CONTACT_SLOTS {
            let Some([n, r, p]) = Col::contact(slot) else { continue };
            let field = |part: &str| format!("contacts[{}].{part}", contacts.len());
            let name = self.text(n, &field("name"));
            let relation = self.text(r, &field("relation"));
            let phone = self.text(p, &field("phone"));
            if !(name.is_empty() && relation.is_empty() && phone.is_empty()) {
                contacts.push(ContactInput { name, relation, phone });
                self.contact_slots.push(slot);
            }
        }
        ElderInput {
            id_number,
            name: self.text(Col::Name, "name"),
            phone: self.text(Col::Phone, "phone"),
            address: self.text(Col::Address, "address"),
            lat,
            lon,
            region_code,
            hukou: self.text(Col::Hukou, "hukou"),
            living: self.text(Col::Living, "living"),
            economic: self.text(Col::Economic, "economic"),
            capability: self.text(Col::Capability, "capability"),
            health: HealthRecord {
                chronic_conditions: list(self.text(Col::Chronic, "health.chronic_conditions")),
                allergies: list(self.text(Col::Allergies, "health.allergies")),
                medications: list(self.text(Col::Medications, "health.medications")),
                blood_type: opt(self.text(Col::BloodType, "health.blood_type")),
                family_doctor: opt(self.text(Col::FamilyDoctor, "health.family_doctor")),
            },
            contacts,
            care_manager_id: None,
            home_station_id: None,
            card_no: self.text(Col::CardNo, "card_no"),
            card_balance_yuan: self.text(Col::CardBalance, "card_balance_yuan"),
        }
    }

    /// Latitude and longitude; a cell that is not a number is reported and both are dropped
    /// (so validation does not add "latitude and longitude go together").
    fn location(&mut self) -> (Option<f64>, Option<f64>) {
        let mut bad = false;
        let mut number = |ctx: &mut Self, col: Col| -> Option<f64> {
            let parsed = match ctx.cell(col) {
                Cell::Int(i) => Some(*i as f64),
                Cell::Float(f) => Some(*f),
                c if c.is_blank() => return None,
                c => c.text().parse::<f64>().ok(),
            };
            if parsed.is_none() {
                bad = true;
                ctx.push(
                    col,
                    "location",
                    "number_format",
                    format!("{} 应为数字（如 40.0769）", ctx.header.text(col)),
                    format!(
                        "{} must be a number such as 40.0769",
                        if col == Col::Lat { "latitude" } else { "longitude" }
                    ),
                );
            }
            parsed
        };
        let lat = number(self, Col::Lat);
        let lon = number(self, Col::Lon);
        if bad { (None, None) } else { (lat, lon) }
    }

    /// The region code: the 区划代码 cell when filled, else the community name resolved by
    /// the caller.
    fn region(
        &mut self,
        regions: &mut HashMap<String, Option<RegionCode>>,
        resolve: &dyn Fn(&str) -> Option<RegionCode>,
    ) -> String {
        let code = self.text(Col::RegionCode, "region_code");
        if !code.is_empty() {
            return code;
        }
        let name = self.text(Col::Community, "region_code");
        if name.is_empty() {
            if self.suppressed.iter().any(|f| f == "region_code") {
                return String::new(); // an error value, already reported
            }
            let col =
                if self.header.index(Col::Community).is_some() { Col::Community } else { Col::RegionCode };
            self.push(
                col,
                "region_code",
                "required",
                "所属社区和区划代码不能都为空".into(),
                "either the community or the region code is required".into(),
            );
            return String::new();
        }
        let resolved = regions.entry(name.clone()).or_insert_with(|| resolve(&name)).clone();
        match resolved {
            Some(code) => code.as_str().to_string(),
            None => {
                self.push(
                    Col::Community,
                    "region_code",
                    "unknown_community",
                    format!("未找到社区“{name}”，请核对名称或填写区划代码"),
                    format!("unknown community '{name}'; check the name or fill in the region code"),
                );
                String::new()
            }
        }
    }
}
