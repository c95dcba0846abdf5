//! Elders (老人台账/档案): the validated record, its input form and its vocabularies.

use chrono::{Datelike, NaiveDate};

use crate::code_enum;
use crate::error::{Errors, FieldError, optional_text, required_text};
use crate::geo::GeoPoint;
use crate::id_number::{IdNumber, Sex};
use crate::money::Fen;
use crate::phone::Phone;
use crate::region::RegionCode;

code_enum! {
    /// Household registration (户籍).
    Hukou {
        Urban = ("urban", "城镇", "urban"),
        Rural = ("rural", "农村", "rural"),
    }
}

code_enum! {
    /// Living arrangement (居住状况).
    LivingArrangement {
        Alone = ("alone", "独居", "living alone"),
        EmptyNest = ("empty_nest", "空巢", "empty nest (couple only)"),
        WithChildren = ("with_children", "与子女同住", "with children"),
        Institutional = ("institutional", "集中供养", "in an institution"),
        Other = ("other", "其他", "other"),
    }
}

code_enum! {
    /// Economic status (经济状况); the assistance categories set subsidy eligibility.
    EconomicStatus {
        Dibao = ("dibao", "低保", "minimum living allowance"),
        Tekun = ("tekun", "特困", "extreme hardship support"),
        Wubao = ("wubao", "五保", "five guarantees"),
        Hardship = ("hardship", "经济困难", "economic hardship"),
        General = ("general", "一般", "general"),
    }
}

impl EconomicStatus {
    /// Whether the status is one of the hardship categories (低保, 特困, 五保, 经济困难).
    pub fn is_hardship(self) -> bool {
        self != EconomicStatus::General
    }
}

code_enum! {
    /// Capability level per GB/T 42195-2022 (老年人能力评估规范).
    CapabilityLevel {
        Intact = ("0", "能力完好", "intact"),
        Mild = ("1", "轻度失能", "mildly impaired"),
        Moderate = ("2", "中度失能", "moderately impaired"),
        Severe = ("3", "重度失能", "severely impaired"),
        Total = ("4", "完全失能", "totally impaired"),
    }
}

impl CapabilityLevel {
    pub fn as_i16(self) -> i16 {
        self as i16
    }
    pub fn from_i16(v: i16) -> Option<Self> {
        Self::ALL.get(usize::try_from(v).ok()?).copied()
    }
}

code_enum! {
    /// Whether the record is live. Records are never deleted; people move away or die.
    ElderStatus {
        Active = ("active", "在册", "active"),
        MovedAway = ("moved_away", "迁出", "moved away"),
        Deceased = ("deceased", "已故", "deceased"),
    }
}

/// The health record (健康档案) kept with the elder.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HealthRecord {
    #[serde(default)]
    pub chronic_conditions: Vec<String>,
    #[serde(default)]
    pub allergies: Vec<String>,
    #[serde(default)]
    pub medications: Vec<String>,
    #[serde(default)]
    pub blood_type: Option<String>,
    /// The family-doctor contract (家庭医生签约): doctor or clinic, if any.
    #[serde(default)]
    pub family_doctor: Option<String>,
}

/// An emergency contact; the list order is the calling order.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Contact {
    pub name: String,
    pub relation: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub phone: Phone,
}

/// The validated content of an elder's record: everything staff enter. Its `Debug` shows
/// no personal data (ID number and phone masked, name, address and contacts left out), so a
/// record in a log line or panic message leaks nothing.
#[derive(Clone, PartialEq, serde::Serialize)]
pub struct ElderRecord {
    pub id_number: IdNumber,
    pub name: String,
    pub sex: Sex,
    pub birth_date: NaiveDate,
    pub phone: Option<Phone>,
    pub address: String,
    pub location: Option<GeoPoint>,
    pub region: RegionCode,
    pub hukou: Hukou,
    pub living: LivingArrangement,
    pub economic: EconomicStatus,
    pub capability: CapabilityLevel,
    pub health: HealthRecord,
    pub contacts: Vec<Contact>,
    pub care_manager_id: Option<i64>,
    pub home_station_id: Option<i64>,
    pub card_no: Option<String>,
    pub card_balance: Fen,
}

impl std::fmt::Debug for ElderRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ElderRecord")
            .field("id_number", &self.id_number)
            .field("region", &self.region)
            .field("living", &self.living)
            .field("economic", &self.economic)
            .field("capability", &self.capability)
            .field("care_manager_id", &self.care_manager_id)
            .field("home_station_id", &self.home_station_id)
            .finish_non_exhaustive()
    }
}

/// A stored elder.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Elder {
    pub id: i64,
    #[serde(flatten)]
    pub record: ElderRecord,
    pub status: ElderStatus,
    /// Monitoring settings over the platform defaults (监护设置).
    pub monitoring: crate::monitoring::MonitoringSettings,
    pub created_at: i64,
    pub updated_at: i64,
    /// Optimistic-concurrency version, bumped on every write.
    pub version: i64,
}

impl Elder {
    pub fn age_on(&self, day: NaiveDate) -> i32 {
        age_on(self.record.birth_date, day)
    }
}

/// Completed years of age on `day`.
/// What an elder search text is: an exact ID number (18 characters, 17 digits first), an
/// exact phone (7 or more digits and dashes), or a name fragment. The store matches by it, and
/// the access layer allows the exact kinds only to roles that see those fields in full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElderSearch {
    IdNumber,
    Phone,
    Name,
}

impl ElderSearch {
    pub fn of(q: &str) -> Self {
        let q = q.trim();
        if q.len() == 18 && q.bytes().take(17).all(|c| c.is_ascii_digit()) {
            ElderSearch::IdNumber
        } else if q.len() >= 7 && q.bytes().all(|c| c.is_ascii_digit() || c == b'-') {
            ElderSearch::Phone
        } else {
            ElderSearch::Name
        }
    }
}

pub fn age_on(birth: NaiveDate, day: NaiveDate) -> i32 {
    let mut age = day.year() - birth.year();
    if (day.month(), day.day()) < (birth.month(), birth.day()) {
        age -= 1;
    }
    age
}

/// An elder's record as it arrives from a form, JSON body or ledger row: loose strings,
/// validated all at once by [`ElderInput::validate`] so every bad field is reported.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct ElderInput {
    pub id_number: String,
    pub name: String,
    pub phone: String,
    pub address: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub region_code: String,
    /// `urban`/`rural` or 城镇/农村.
    pub hukou: String,
    pub living: String,
    pub economic: String,
    /// 0–4.
    pub capability: String,
    pub health: HealthRecord,
    pub contacts: Vec<ContactInput>,
    pub care_manager_id: Option<i64>,
    pub home_station_id: Option<i64>,
    pub card_no: String,
    /// Yuan, e.g. `"120.50"`; stored as fen.
    pub card_balance_yuan: String,
}

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct ContactInput {
    pub name: String,
    pub relation: String,
    pub phone: String,
}

/// Longest name, in characters (ethnic-minority names transliterated into Han characters
/// can be long; 50 is generous).
pub const MAX_NAME: usize = 50;
pub const MAX_ADDRESS: usize = 200;
pub const MAX_CONTACTS: usize = 10;
const MAX_LIST_ITEM: usize = 100;
const MAX_LIST: usize = 50;

impl ElderInput {
    /// Validates every field and returns either the record or all the field errors.
    pub fn validate(&self, today: NaiveDate) -> Result<ElderRecord, Vec<FieldError>> {
        let mut errs = Errors::default();

        let id_number = errs.take(IdNumber::parse(&self.id_number, today));
        let name = errs.take(required_text("name", &self.name, MAX_NAME));
        let phone = errs.take(
            optional_text("phone", &self.phone, 20)
                .and_then(|p| p.map(|p| Phone::parse("phone", &p)).transpose()),
        );
        let address = errs.take(required_text("address", &self.address, MAX_ADDRESS));
        let location = errs.take(match (self.lat, self.lon) {
            (Some(lat), Some(lon)) => GeoPoint::new(lat, lon).map(Some),
            (None, None) => Ok(None),
            _ => Err(FieldError::new(
                "location",
                "coordinates",
                "经纬度须同时填写",
                "latitude and longitude go together",
            )),
        });
        let region = errs.take(RegionCode::parse("region_code", &self.region_code));
        let hukou = errs.take(Hukou::parse_field("hukou", or_default(&self.hukou, "urban")));
        let living = errs.take(LivingArrangement::parse_field("living", &self.living));
        let economic =
            errs.take(EconomicStatus::parse_field("economic", or_default(&self.economic, "general")));
        let capability =
            errs.take(CapabilityLevel::parse_field("capability", or_default(&self.capability, "0")));
        let health = errs.take(validate_health(&self.health));
        let card_no = errs.take(optional_text("card_no", &self.card_no, 32));
        let card_balance = errs.take(if self.card_balance_yuan.trim().is_empty() {
            Ok(Fen::ZERO)
        } else {
            Fen::parse_yuan("card_balance_yuan", &self.card_balance_yuan).and_then(|f| {
                if f.0 < 0 {
                    Err(FieldError::new(
                        "card_balance_yuan",
                        "negative",
                        "服务卡余额不能为负",
                        "the card balance cannot be negative",
                    ))
                } else {
                    Ok(f)
                }
            })
        });
        let contacts = errs.take(validate_contacts(&self.contacts));

        errs.check()?;
        let id_number = id_number.expect("no errors");
        Ok(ElderRecord {
            sex: id_number.sex(),
            birth_date: id_number.birth_date(),
            id_number,
            name: name.expect("no errors"),
            phone: phone.expect("no errors"),
            address: address.expect("no errors"),
            location: location.expect("no errors"),
            region: region.expect("no errors"),
            hukou: hukou.expect("no errors"),
            living: living.expect("no errors"),
            economic: economic.expect("no errors"),
            capability: capability.expect("no errors"),
            health: health.expect("no errors"),
            contacts: contacts.expect("no errors"),
            care_manager_id: self.care_manager_id,
            home_station_id: self.home_station_id,
            card_no: card_no.expect("no errors"),
            card_balance: card_balance.expect("no errors"),
        })
    }
}

fn or_default<'a>(v: &'a str, default: &'a str) -> &'a str {
    if v.trim().is_empty() { default } else { v }
}

fn validate_contacts(input: &[ContactInput]) -> Result<Vec<Contact>, FieldError> {
    if input.len() > MAX_CONTACTS {
        return Err(FieldError::new(
            "contacts",
            "too_many",
            format!("紧急联系人最多 {MAX_CONTACTS} 位"),
            format!("at most {MAX_CONTACTS} emergency contacts"),
        ));
    }
    input
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let f = |name: &str| format!("contacts[{i}].{name}");
            Ok(Contact {
                name: required_text(&f("name"), &c.name, MAX_NAME)?,
                relation: required_text(&f("relation"), &c.relation, 20)?,
                phone: Phone::parse(&f("phone"), &c.phone)?,
            })
        })
        .collect()
}

fn validate_health(h: &HealthRecord) -> Result<HealthRecord, FieldError> {
    let list = |field: &str, items: &[String]| -> Result<Vec<String>, FieldError> {
        if items.len() > MAX_LIST {
            return Err(FieldError::new(
                field,
                "too_many",
                format!("{field} 条目过多"),
                format!("too many {field} entries"),
            ));
        }
        items.iter().filter_map(|s| optional_text(field, s, MAX_LIST_ITEM).transpose()).collect()
    };
    Ok(HealthRecord {
        chronic_conditions: list("health.chronic_conditions", &h.chronic_conditions)?,
        allergies: list("health.allergies", &h.allergies)?,
        medications: list("health.medications", &h.medications)?,
        blood_type: h
            .blood_type
            .as_deref()
            .map(|b| optional_text("health.blood_type", b, 8))
            .transpose()?
            .flatten(),
        family_doctor: h
            .family_doctor
            .as_deref()
            .map(|d| optional_text("health.family_doctor", d, 100))
            .transpose()?
            .flatten(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
    }

    pub(crate) fn sample_input() -> ElderInput {
        ElderInput {
            id_number: "11010519491231002X".into(),
            name: "王秀英".into(),
            phone: "13812345678".into(),
            address: "平城区新建南路街道1号".into(),
            lat: Some(40.08),
            lon: Some(113.30),
            region_code: "140213001001".into(),
            hukou: "城镇".into(),
            living: "独居".into(),
            economic: "低保".into(),
            capability: "2".into(),
            contacts: vec![ContactInput {
                name: "李明".into(),
                relation: "儿子".into(),
                phone: "13900000000".into(),
            }],
            card_balance_yuan: "100.50".into(),
            ..Default::default()
        }
    }

    #[test]
    fn valid_input_derives_birth_and_sex() {
        let r = sample_input().validate(today()).unwrap();
        assert_eq!(r.sex, Sex::Female);
        assert_eq!(r.birth_date, NaiveDate::from_ymd_opt(1949, 12, 31).unwrap());
        assert_eq!(r.living, LivingArrangement::Alone);
        assert_eq!(r.economic, EconomicStatus::Dibao);
        assert_eq!(r.capability, CapabilityLevel::Moderate);
        assert_eq!(r.card_balance, Fen(10050));
        assert_eq!(age_on(r.birth_date, today()), 76);
    }

    #[test]
    fn reports_every_bad_field() {
        let mut i = sample_input();
        i.id_number = "110105194912310021".into();
        i.name = String::new();
        i.living = "露宿".into();
        i.region_code = "12".into();
        let errs = i.validate(today()).unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["id_number", "name", "region_code", "living"]);
        assert!(errs[3].zh.contains("独居"));
    }
}
