//! Writing ledgers: [`export_xlsx`] with the same headers the importer reads (so an export
//! re-imports cleanly), and [`template_xlsx`], an empty ledger with one example row.

use chrono::NaiveDate;
use rust_xlsxwriter::{
    ColNum, DataValidation, DataValidationErrorStyle, Format, RowNum, Workbook, Worksheet, XlsxError,
};
use zhulao_domain::elder::age_on;
use zhulao_domain::{CapabilityLevel, EconomicStatus, ElderRecord, Hukou, LivingArrangement};

use crate::LedgerError;
use crate::columns::{COLUMNS, Col};

/// One elder as display strings, one field per column. The caller decides what is shown:
/// masked ID numbers and phones for roles that may not see them, or the full values for a
/// file that is meant to be re-imported.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportRow {
    pub id_number: String,
    pub name: String,
    pub sex: String,
    pub birth_date: String,
    pub age: String,
    pub phone: String,
    pub address: String,
    pub lat: String,
    pub lon: String,
    pub region_code: String,
    pub region_name: String,
    pub hukou: String,
    pub living: String,
    pub economic: String,
    pub capability: String,
    pub chronic_conditions: String,
    pub allergies: String,
    pub medications: String,
    pub blood_type: String,
    pub family_doctor: String,
    /// In calling order; the first [`CONTACT_SLOTS`](crate::CONTACT_SLOTS) are exported.
    pub contacts: Vec<ExportContact>,
    pub card_no: String,
    pub card_balance_yuan: String,
    pub status: String,
}

/// An emergency contact as display strings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportContact {
    pub name: String,
    pub relation: String,
    pub phone: String,
}

impl ExportRow {
    /// Every field of `record` in full (nothing masked), with Chinese labels for the
    /// vocabularies and the age on `today`. `region_name` and `status` are left for the
    /// caller, who knows them.
    pub fn from_record(record: &ElderRecord, today: NaiveDate) -> ExportRow {
        let h = &record.health;
        let balance = record.card_balance.0;
        ExportRow {
            id_number: record.id_number.as_str().to_string(),
            name: record.name.clone(),
            sex: record.id_number.sex().label_zh().to_string(),
            birth_date: record.birth_date.format("%Y-%m-%d").to_string(),
            age: age_on(record.birth_date, today).to_string(),
            phone: record.phone.as_ref().map(|p| p.as_str().to_string()).unwrap_or_default(),
            address: record.address.clone(),
            lat: record.location.map(|l| l.lat.to_string()).unwrap_or_default(),
            lon: record.location.map(|l| l.lon.to_string()).unwrap_or_default(),
            region_code: record.region.as_str().to_string(),
            region_name: String::new(),
            hukou: record.hukou.label_zh().to_string(),
            living: record.living.label_zh().to_string(),
            economic: record.economic.label_zh().to_string(),
            capability: record.capability.label_zh().to_string(),
            chronic_conditions: h.chronic_conditions.join("、"),
            allergies: h.allergies.join("、"),
            medications: h.medications.join("、"),
            blood_type: h.blood_type.clone().unwrap_or_default(),
            family_doctor: h.family_doctor.clone().unwrap_or_default(),
            contacts: record
                .contacts
                .iter()
                .map(|c| ExportContact {
                    name: c.name.clone(),
                    relation: c.relation.clone(),
                    phone: c.phone.as_str().to_string(),
                })
                .collect(),
            card_no: record.card_no.clone().unwrap_or_default(),
            card_balance_yuan: format!(
                "{}{}.{:02}",
                if balance < 0 { "-" } else { "" },
                balance.unsigned_abs() / 100,
                balance.unsigned_abs() % 100
            ),
            status: String::new(),
        }
    }

    fn value(&self, col: Col) -> &str {
        let contact = |slot: usize| self.contacts.get(slot);
        match col {
            Col::IdNumber => &self.id_number,
            Col::Name => &self.name,
            Col::Sex => &self.sex,
            Col::BirthDate => &self.birth_date,
            Col::Age => &self.age,
            Col::Phone => &self.phone,
            Col::Address => &self.address,
            Col::Lat => &self.lat,
            Col::Lon => &self.lon,
            Col::RegionCode => &self.region_code,
            Col::Community => &self.region_name,
            Col::Hukou => &self.hukou,
            Col::Living => &self.living,
            Col::Economic => &self.economic,
            Col::Capability => &self.capability,
            Col::Chronic => &self.chronic_conditions,
            Col::Allergies => &self.allergies,
            Col::Medications => &self.medications,
            Col::BloodType => &self.blood_type,
            Col::FamilyDoctor => &self.family_doctor,
            Col::Contact1Name => contact(0).map_or("", |c| &c.name),
            Col::Contact1Relation => contact(0).map_or("", |c| &c.relation),
            Col::Contact1Phone => contact(0).map_or("", |c| &c.phone),
            Col::Contact2Name => contact(1).map_or("", |c| &c.name),
            Col::Contact2Relation => contact(1).map_or("", |c| &c.relation),
            Col::Contact2Phone => contact(1).map_or("", |c| &c.phone),
            Col::Contact3Name => contact(2).map_or("", |c| &c.name),
            Col::Contact3Relation => contact(2).map_or("", |c| &c.relation),
            Col::Contact3Phone => contact(2).map_or("", |c| &c.phone),
            Col::CardNo => &self.card_no,
            Col::CardBalance => &self.card_balance_yuan,
            Col::Status => &self.status,
            Col::Serial => "",
        }
    }
}

/// The exported columns, in order: every known column but 序号.
fn export_columns() -> impl Iterator<Item = Col> {
    COLUMNS.iter().map(|c| c.0).filter(|c| *c != Col::Serial)
}

/// Columns written as text and formatted as text (`@`), so that Excel neither shows an ID
/// number as `1.10105E+17` nor turns a newly typed one into a number that loses digits.
fn is_text_column(col: Col) -> bool {
    col.is_sensitive() || matches!(col, Col::RegionCode | Col::CardNo)
}

/// Columns written as numbers when the value is one.
fn is_number_column(col: Col) -> bool {
    matches!(col, Col::Lat | Col::Lon | Col::Age | Col::CardBalance)
}

fn width(col: Col) -> f64 {
    match col {
        Col::IdNumber => 21.0,
        Col::Address => 32.0,
        Col::RegionCode | Col::Community | Col::FamilyDoctor => 16.0,
        Col::Chronic | Col::Allergies | Col::Medications => 18.0,
        Col::Phone | Col::Contact1Phone | Col::Contact2Phone | Col::Contact3Phone => 14.0,
        Col::BirthDate | Col::CardNo | Col::CardBalance => 13.0,
        Col::Sex | Col::Age | Col::BloodType => 6.0,
        _ => 11.0,
    }
}

/// Writes `rows` as a one-sheet workbook with the ledger headers: header row bold and
/// frozen, ID number and phone columns as text, drop-down lists on the vocabulary columns.
/// Up to [`CONTACT_SLOTS`](crate::CONTACT_SLOTS) contacts per row are written.
pub fn export_xlsx(rows: &[ExportRow]) -> Result<Vec<u8>, LedgerError> {
    write_workbook(rows).map_err(|e| LedgerError::Export { detail: e.to_string() })
}

fn write_workbook(rows: &[ExportRow]) -> Result<Vec<u8>, XlsxError> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("老人台账")?;
    let bold = Format::new().set_bold().set_background_color(0xD9E1F2);
    let text = Format::new().set_num_format("@");
    let money = Format::new().set_num_format("0.00");

    let last_row = RowNum::try_from(rows.len()).map_err(|_| XlsxError::RowColumnLimitError)?;
    for (c, col) in export_columns().enumerate() {
        let c = ColNum::try_from(c).map_err(|_| XlsxError::RowColumnLimitError)?;
        sheet.set_column_width(c, width(col))?;
        if is_text_column(col) {
            sheet.set_column_format(c, &text)?;
        }
        sheet.write_string_with_format(0, c, col.header(), &bold)?;
        for (r, row) in rows.iter().enumerate() {
            let r = RowNum::try_from(r + 1).map_err(|_| XlsxError::RowColumnLimitError)?;
            write_cell(sheet, r, c, col, row.value(col), &text, &money)?;
        }
        add_choices(sheet, c, col, last_row.max(1000))?;
    }
    sheet.set_freeze_panes(1, 0)?;
    book.save_to_buffer()
}

fn write_cell(
    sheet: &mut Worksheet,
    r: RowNum,
    c: ColNum,
    col: Col,
    value: &str,
    text: &Format,
    money: &Format,
) -> Result<(), XlsxError> {
    if value.is_empty() {
        return Ok(());
    }
    let number = value.parse::<f64>().ok().filter(|n| n.is_finite());
    if let Some(n) = number.filter(|_| is_number_column(col)) {
        if col == Col::CardBalance {
            sheet.write_number_with_format(r, c, n, money)?;
        } else {
            sheet.write_number(r, c, n)?;
        }
        return Ok(());
    }
    if is_text_column(col) {
        sheet.write_string_with_format(r, c, value, text)?;
    } else {
        sheet.write_string(r, c, value)?;
    }
    Ok(())
}

/// A drop-down of the Chinese labels on a vocabulary column. Warning style: the importer
/// also accepts the codes (`2`, `urban`), so Excel should advise, not refuse.
fn add_choices(sheet: &mut Worksheet, c: ColNum, col: Col, last_row: RowNum) -> Result<(), XlsxError> {
    let labels: Vec<&str> = match col {
        Col::Hukou => Hukou::ALL.iter().map(|v| v.label_zh()).collect(),
        Col::Living => LivingArrangement::ALL.iter().map(|v| v.label_zh()).collect(),
        Col::Economic => EconomicStatus::ALL.iter().map(|v| v.label_zh()).collect(),
        Col::Capability => CapabilityLevel::ALL.iter().map(|v| v.label_zh()).collect(),
        _ => return Ok(()),
    };
    let choices =
        DataValidation::new().allow_list_strings(&labels)?.set_error_style(DataValidationErrorStyle::Warning);
    sheet.add_data_validation(1, c, last_row, c, &choices)?;
    Ok(())
}

/// An empty ledger: the headers and one example row (the national standard's example ID
/// number, 11010519491231002X, which belongs to no one) for staff to overwrite.
pub fn template_xlsx() -> Vec<u8> {
    let example = ExportRow {
        id_number: "11010519491231002X".into(),
        name: "王秀英".into(),
        sex: "女".into(),
        birth_date: "1949-12-31".into(),
        age: String::new(),
        phone: "13812345678".into(),
        address: "平城区新建南路街道1号院3单元201".into(),
        lat: "40.0769".into(),
        lon: "113.3001".into(),
        region_code: "140213001001".into(),
        region_name: "新建南路社区".into(),
        hukou: Hukou::Urban.label_zh().into(),
        living: LivingArrangement::Alone.label_zh().into(),
        economic: EconomicStatus::Dibao.label_zh().into(),
        capability: CapabilityLevel::Mild.label_zh().into(),
        chronic_conditions: "高血压、糖尿病".into(),
        allergies: "青霉素".into(),
        medications: "二甲双胍".into(),
        blood_type: "A".into(),
        family_doctor: "新建南路社区卫生服务站 张医生".into(),
        contacts: vec![ExportContact {
            name: "李明".into(),
            relation: "儿子".into(),
            phone: "13900000000".into(),
        }],
        card_no: "ZL0001".into(),
        card_balance_yuan: "100.00".into(),
        status: String::new(),
    };
    // Static content: the only failures of the writer are out-of-range rows or columns.
    export_xlsx(std::slice::from_ref(&example)).expect("the static template always writes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CONTACT_SLOTS;

    #[test]
    fn every_contact_slot_is_exported() {
        let cols: Vec<Col> = export_columns().collect();
        for slot in 0..CONTACT_SLOTS {
            for col in Col::contact(slot).unwrap_or([Col::Serial; 3]) {
                assert!(cols.contains(&col), "{col:?}");
            }
        }
    }
}
