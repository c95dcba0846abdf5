//! The ledger's column vocabulary: the canonical Chinese headers (used for export and the
//! template), the synonyms accepted on import, and header-row matching.
//!
//! Header cells are compared after normalisation: whitespace (including the full-width
//! space) removed, full-width parentheses made ASCII, leading/trailing `*` (a common
//! "required" marker) dropped, ASCII case ignored. So `服务卡余额（元）`, ` 姓名* ` and
//! `ID_NUMBER` all match.

use crate::LedgerError;

/// A known column of the ledger layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Col {
    IdNumber,
    Name,
    Sex,
    BirthDate,
    Age,
    Phone,
    Address,
    Lat,
    Lon,
    RegionCode,
    Community,
    Hukou,
    Living,
    Economic,
    Capability,
    Chronic,
    Allergies,
    Medications,
    BloodType,
    FamilyDoctor,
    Contact1Name,
    Contact1Relation,
    Contact1Phone,
    Contact2Name,
    Contact2Relation,
    Contact2Phone,
    Contact3Name,
    Contact3Relation,
    Contact3Phone,
    CardNo,
    CardBalance,
    Status,
    /// 序号: a running number many ledgers carry; recognised and ignored.
    Serial,
}

/// Emergency contacts per row in the ledger layout.
pub const CONTACT_SLOTS: usize = 3;

/// Every column in export order, with its canonical header and accepted synonyms
/// (the English code is always accepted too).
pub const COLUMNS: &[(Col, &str, &[&str])] = &[
    (Col::IdNumber, "身份证号", &["身份证号码", "公民身份号码", "身份证", "id_number"]),
    (Col::Name, "姓名", &["老人姓名", "name"]),
    (Col::Sex, "性别", &["sex"]),
    (Col::BirthDate, "出生日期", &["birth_date"]),
    (Col::Age, "年龄", &["age"]),
    (Col::Phone, "联系电话", &["电话", "手机", "手机号", "手机号码", "phone"]),
    (Col::Address, "住址", &["地址", "家庭住址", "居住地址", "现住址", "address"]),
    (Col::Lat, "纬度", &["lat", "latitude"]),
    (Col::Lon, "经度", &["lon", "lng", "longitude"]),
    (Col::RegionCode, "区划代码", &["行政区划代码", "统计用区划代码", "region_code"]),
    (Col::Community, "所属社区", &["社区", "村(居)委会", "村居委会", "社区名称", "region_name", "community"]),
    (Col::Hukou, "户籍", &["户籍类型", "户口性质", "hukou"]),
    (Col::Living, "居住状况", &["居住情况", "living"]),
    (Col::Economic, "经济状况", &["经济类型", "economic"]),
    (Col::Capability, "能力等级", &["能力评估等级", "失能等级", "capability"]),
    (Col::Chronic, "慢性病", &["慢性病史", "chronic_conditions"]),
    (Col::Allergies, "过敏史", &["过敏", "allergies"]),
    (Col::Medications, "用药", &["用药情况", "常用药", "medications"]),
    (Col::BloodType, "血型", &["blood_type"]),
    (Col::FamilyDoctor, "家庭医生", &["签约家庭医生", "family_doctor"]),
    (Col::Contact1Name, "紧急联系人1", &["紧急联系人1姓名", "联系人1", "联系人1姓名", "contact1_name"]),
    (Col::Contact1Relation, "联系人1关系", &["紧急联系人1关系", "contact1_relation"]),
    (Col::Contact1Phone, "联系人1电话", &["紧急联系人1电话", "contact1_phone"]),
    (Col::Contact2Name, "紧急联系人2", &["紧急联系人2姓名", "联系人2", "联系人2姓名", "contact2_name"]),
    (Col::Contact2Relation, "联系人2关系", &["紧急联系人2关系", "contact2_relation"]),
    (Col::Contact2Phone, "联系人2电话", &["紧急联系人2电话", "contact2_phone"]),
    (Col::Contact3Name, "紧急联系人3", &["紧急联系人3姓名", "联系人3", "联系人3姓名", "contact3_name"]),
    (Col::Contact3Relation, "联系人3关系", &["紧急联系人3关系", "contact3_relation"]),
    (Col::Contact3Phone, "联系人3电话", &["紧急联系人3电话", "contact3_phone"]),
    (Col::CardNo, "服务卡号", &["卡号", "card_no"]),
    (Col::CardBalance, "服务卡余额(元)", &["服务卡余额", "卡余额", "card_balance_yuan"]),
    (Col::Status, "状态", &["status"]),
    (Col::Serial, "序号", &["编号", "no"]),
];

const N_COLS: usize = Col::Serial as usize + 1;

impl Col {
    /// The canonical Chinese header.
    pub fn header(self) -> &'static str {
        COLUMNS.get(self as usize).map_or("", |c| c.1)
    }

    /// The (name, relation, phone) columns of contact slot `slot` (0-based).
    pub fn contact(slot: usize) -> Option<[Col; 3]> {
        const SLOTS: [[Col; 3]; CONTACT_SLOTS] = [
            [Col::Contact1Name, Col::Contact1Relation, Col::Contact1Phone],
            [Col::Contact2Name, Col::Contact2Relation, Col::Contact2Phone],
            [Col::Contact3Name, Col::Contact3Relation, Col::Contact3Phone],
        ];
        SLOTS.get(slot).copied()
    }

    /// Whether cells of this column hold personal numbers that must only be echoed masked.
    pub fn is_sensitive(self) -> bool {
        matches!(
            self,
            Col::IdNumber | Col::Phone | Col::Contact1Phone | Col::Contact2Phone | Col::Contact3Phone
        )
    }
}

/// Normalises a header cell for matching (see the module docs).
fn normalize(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '（' => '(',
            '）' => ')',
            c => c.to_ascii_lowercase(),
        })
        .collect::<String>()
        .trim_matches(['*', '＊'])
        .to_string()
}

/// Which known column a header cell names, if any.
pub fn recognise(cell: &str) -> Option<Col> {
    let n = normalize(cell);
    if n.is_empty() {
        return None;
    }
    COLUMNS
        .iter()
        .find(|(_, canon, syn)| normalize(canon) == n || syn.iter().any(|s| normalize(s) == n))
        .map(|(col, _, _)| *col)
}

/// A matched header row: where each known column is, and its text as the user wrote it.
#[derive(Debug, Clone)]
pub struct Header {
    index: [Option<(usize, String)>; N_COLS],
    /// Header cells that name no known column (for the warnings).
    pub unknown: Vec<String>,
}

impl Header {
    /// Matches a header row. Two cells naming the same column are an error.
    pub fn parse(cells: &[String]) -> Result<Header, LedgerError> {
        let mut index: [Option<(usize, String)>; N_COLS] = std::array::from_fn(|_| None);
        let mut unknown = Vec::new();
        for (i, cell) in cells.iter().enumerate() {
            let text = cell.trim();
            if text.is_empty() {
                continue;
            }
            match recognise(text) {
                Some(col) => match &index[col as usize] {
                    Some((_, first)) => {
                        return Err(LedgerError::DuplicateColumn {
                            first: first.clone(),
                            second: text.to_string(),
                        });
                    }
                    None => index[col as usize] = Some((i, text.to_string())),
                },
                None => unknown.push(text.to_string()),
            }
        }
        Ok(Header { index, unknown })
    }

    /// Whether the row names the ID-number column (how the header row is found).
    pub fn looks_like_header(cells: &[String]) -> bool {
        cells.iter().any(|c| recognise(c) == Some(Col::IdNumber))
    }

    /// Fails with the first required column that is missing.
    pub fn check_required(&self) -> Result<(), LedgerError> {
        for col in [Col::IdNumber, Col::Name, Col::Address, Col::Living] {
            if self.index(col).is_none() {
                return Err(LedgerError::MissingColumn { column: col.header() });
            }
        }
        if self.index(Col::Community).is_none() && self.index(Col::RegionCode).is_none() {
            return Err(LedgerError::MissingColumn { column: "所属社区 或 区划代码" });
        }
        Ok(())
    }

    /// The 0-based cell index of `col` in each row.
    pub fn index(&self, col: Col) -> Option<usize> {
        self.index[col as usize].as_ref().map(|(i, _)| *i)
    }

    /// The header text of `col` as written in the file, or the canonical header.
    pub fn text(&self, col: Col) -> &str {
        self.index[col as usize].as_ref().map_or(col.header(), |(_, t)| t.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_in_discriminant_order() {
        for (i, (col, _, _)) in COLUMNS.iter().enumerate() {
            assert_eq!(*col as usize, i, "{col:?}");
        }
        assert_eq!(COLUMNS.len(), N_COLS);
    }

    #[test]
    fn recognises_synonyms_and_variants() {
        let check = |cell: &str, expected: Option<Col>| assert_eq!(recognise(cell), expected, "{cell}");
        check("身份证号", Some(Col::IdNumber));
        check(" 身份证号码* ", Some(Col::IdNumber));
        check("ID_NUMBER", Some(Col::IdNumber));
        check("电话", Some(Col::Phone));
        check("村（居）委会", Some(Col::Community));
        check("服务卡余额（元）", Some(Col::CardBalance));
        check("紧急联系人2", Some(Col::Contact2Name));
        check("联系人3电话", Some(Col::Contact3Phone));
        check("备注", None);
        check("", None);
    }

    #[test]
    fn synonyms_are_unambiguous() {
        let mut seen = std::collections::HashSet::new();
        for (_, canon, syn) in COLUMNS {
            for s in std::iter::once(canon).chain(syn.iter()) {
                assert!(seen.insert(normalize(s)), "{s} listed twice");
            }
        }
    }
}
