//! The service catalogue (服务目录): the 六助 categories plus errands, safety inspection and
//! visits, the items under them with durations and required skills, administrators' own
//! items ("+X"), and prices per region in integer fen.

use std::collections::BTreeMap;

use zhulao_domain::error::{Errors, optional_text, required_text};
use zhulao_domain::{Fen, FieldError, RegionCode, code_enum};

use crate::codes::{ServiceCode, SkillCode};
use crate::region::{RegionPrefix, most_specific};

code_enum! {
    /// The service categories of the seeds' "六助 + X".
    ServiceCategory {
        Meals = ("meals", "助餐", "Meals"),
        Cleaning = ("cleaning", "助洁", "Cleaning and personal care"),
        Medical = ("medical", "助医", "Medical help"),
        Shopping = ("shopping", "助购", "Shopping"),
        Mobility = ("mobility", "助行", "Mobility and escort"),
        Emergency = ("emergency", "助急", "Emergency help"),
        Recreation = ("recreation", "助乐", "Recreation and companionship"),
        Errands = ("errands", "跑腿代办", "Errands"),
        SafetyInspection = ("safety_inspection", "安全巡检", "Home safety inspection"),
        Visit = ("visit", "探访关爱", "Care visits"),
    }
}

/// The built-in skill vocabulary: code, Chinese and English label. Administrators may use
/// other (valid) codes for their own items; these are the ones the default catalogue needs.
pub const SKILLS: &[(&str, &str, &str)] = &[
    ("housekeeping", "家政保洁", "housekeeping"),
    ("cooking", "烹饪", "cooking"),
    ("bathing", "助浴", "bathing assistance"),
    ("haircut", "理发", "haircut"),
    ("personal_care", "生活照料", "personal care"),
    ("nursing", "护理", "nursing"),
    ("medical", "医护执业", "licensed medical practice"),
    ("rehabilitation", "康复理疗", "rehabilitation"),
    ("escort", "陪护", "escort"),
    ("mobility_assist", "助行转移", "mobility and transfers"),
    ("first_aid", "急救", "first aid"),
    ("counselling", "心理慰藉", "emotional support"),
    ("safety_inspection", "安全检查", "safety inspection"),
    ("repair", "维修", "repairs"),
];

/// The Chinese and English labels of a built-in skill.
pub fn skill_label(code: &SkillCode) -> Option<(&'static str, &'static str)> {
    SKILLS.iter().find(|(c, _, _)| *c == code.as_str()).map(|(_, zh, en)| (*zh, *en))
}

/// One thing a caregiver can be ordered to do.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServiceItem {
    pub code: ServiceCode,
    pub category: ServiceCategory,
    pub name_zh: String,
    pub name_en: String,
    /// The standard time at the door, in minutes: used to schedule caregivers and to flag a
    /// visit that was much shorter.
    pub duration_min: u32,
    /// Skills a caregiver must all have to be offered the order.
    pub skills: Vec<SkillCode>,
    /// The price where no region sets its own.
    pub base_price: Fen,
    /// Part of the default catalogue (as opposed to added by an administrator).
    pub builtin: bool,
    /// Inactive items stay for the history but cannot be ordered.
    pub active: bool,
}

pub const MAX_DURATION_MIN: u32 = 12 * 60;
pub const MAX_PRICE: Fen = Fen(10_000_000);
const MAX_SKILLS: usize = 10;

/// An administrator's new item ("+X") as it arrives from a form.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct ServiceItemInput {
    pub code: String,
    /// A category code or its Chinese label.
    pub category: String,
    pub name_zh: String,
    pub name_en: String,
    pub duration_min: u32,
    pub skills: Vec<String>,
    /// Yuan, e.g. `"45"` or `"12.50"`.
    pub price_yuan: String,
}

impl ServiceItemInput {
    /// Validates every field at once.
    pub fn validate(&self) -> Result<ServiceItem, Vec<FieldError>> {
        let mut errs = Errors::default();
        let code = errs.take(ServiceCode::parse("code", &self.code));
        let category = errs.take(ServiceCategory::parse_field("category", &self.category));
        let name_zh = errs.take(required_text("name_zh", &self.name_zh, 40));
        let name_en = errs.take(optional_text("name_en", &self.name_en, 80));
        if !(5..=MAX_DURATION_MIN).contains(&self.duration_min) {
            errs.push(FieldError::new(
                "duration_min",
                "out_of_range",
                format!("服务时长应在5至{MAX_DURATION_MIN}分钟之间"),
                format!("the duration must be 5 to {MAX_DURATION_MIN} minutes"),
            ));
        }
        let mut skills = Vec::new();
        if self.skills.len() > MAX_SKILLS {
            errs.push(FieldError::new(
                "skills",
                "too_many",
                format!("技能要求最多{MAX_SKILLS}项"),
                format!("at most {MAX_SKILLS} skills"),
            ));
        }
        for (i, s) in self.skills.iter().enumerate() {
            if let Some(s) = errs.take(SkillCode::parse(&format!("skills[{i}]"), s))
                && !skills.contains(&s)
            {
                skills.push(s);
            }
        }
        skills.sort();
        let price = errs.take(parse_price("price_yuan", &self.price_yuan));
        errs.check()?;
        Ok(ServiceItem {
            code: code.expect("no errors"),
            category: category.expect("no errors"),
            name_zh: name_zh.expect("no errors"),
            name_en: name_en.expect("no errors").unwrap_or_default(),
            duration_min: self.duration_min,
            skills,
            base_price: price.expect("no errors"),
            builtin: false,
            active: true,
        })
    }
}

/// A price in yuan text, between zero and [`MAX_PRICE`].
pub fn parse_price(field: &str, raw: &str) -> Result<Fen, FieldError> {
    let f = Fen::parse_yuan(field, raw)?;
    check_price(field, f)
}

fn check_price(field: &str, f: Fen) -> Result<Fen, FieldError> {
    if f < Fen::ZERO || f > MAX_PRICE {
        return Err(FieldError::new(
            field,
            "out_of_range",
            format!("价格应在0至{MAX_PRICE}之间"),
            format!("the price must be between 0 and {MAX_PRICE}"),
        ));
    }
    Ok(f)
}

/// A region's own price for an item.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegionPrice {
    pub region_prefix: RegionPrefix,
    pub item: ServiceCode,
    pub price: Fen,
}

/// The catalogue: items by code and the regional price list.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Catalogue {
    items: BTreeMap<ServiceCode, ServiceItem>,
    prices: Vec<RegionPrice>,
}

/// An item and its price in one region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote<'a> {
    pub item: &'a ServiceItem,
    pub price: Fen,
}

impl Catalogue {
    /// The default catalogue ([`default_items`]) with no regional prices.
    pub fn with_defaults() -> Self {
        let mut c = Catalogue::default();
        for item in default_items() {
            c.items.insert(item.code.clone(), item);
        }
        c
    }

    /// Rebuilds a catalogue from stored items and prices, checking that codes are unique and
    /// every price names a known item.
    pub fn from_parts(items: Vec<ServiceItem>, prices: Vec<RegionPrice>) -> Result<Self, Vec<FieldError>> {
        let mut c = Catalogue::default();
        let mut errs = Errors::default();
        for item in items {
            errs.take(c.add(item));
        }
        for p in prices {
            errs.take(c.set_price(p.region_prefix, &p.item, p.price));
        }
        errs.check()?;
        Ok(c)
    }

    /// Every item, in code order (inactive ones included).
    pub fn items(&self) -> impl Iterator<Item = &ServiceItem> {
        self.items.values()
    }

    /// The active items of one category.
    pub fn in_category(&self, category: ServiceCategory) -> impl Iterator<Item = &ServiceItem> {
        self.items.values().filter(move |i| i.active && i.category == category)
    }

    pub fn get(&self, code: &ServiceCode) -> Option<&ServiceItem> {
        self.items.get(code)
    }

    pub fn prices(&self) -> &[RegionPrice] {
        &self.prices
    }

    /// Adds an item; a code already in the catalogue is refused (deactivate and add a new
    /// code instead, so old orders keep pointing at what was ordered).
    pub fn add(&mut self, item: ServiceItem) -> Result<(), FieldError> {
        if self.items.contains_key(&item.code) {
            return Err(FieldError::new(
                "code",
                "duplicate",
                format!("服务项目代码“{}”已存在", item.code),
                format!("the service item code '{}' already exists", item.code),
            ));
        }
        self.items.insert(item.code.clone(), item);
        Ok(())
    }

    /// Switches an item on or off. Returns false when there is no such item.
    pub fn set_active(&mut self, code: &ServiceCode, active: bool) -> bool {
        self.items.get_mut(code).map(|i| i.active = active).is_some()
    }

    /// Sets (or replaces) the price of `item` for regions under `prefix`.
    pub fn set_price(
        &mut self,
        prefix: RegionPrefix,
        item: &ServiceCode,
        price: Fen,
    ) -> Result<(), FieldError> {
        if !self.items.contains_key(item) {
            return Err(unknown_item(item));
        }
        let price = check_price("price", price)?;
        match self.prices.iter_mut().find(|p| p.region_prefix == prefix && &p.item == item) {
            Some(p) => p.price = price,
            None => self.prices.push(RegionPrice { region_prefix: prefix, item: item.clone(), price }),
        }
        Ok(())
    }

    /// The price of an item for an elder in `region`: the most specific regional price, else
    /// the item's base price. `None` for an unknown or inactive item.
    pub fn price(&self, code: &ServiceCode, region: &RegionCode) -> Option<Fen> {
        self.quote(code, region).map(|q| q.price)
    }

    /// The item and its price in `region`; `None` for an unknown or inactive item.
    pub fn quote(&self, code: &ServiceCode, region: &RegionCode) -> Option<Quote<'_>> {
        let item = self.items.get(code).filter(|i| i.active)?;
        let regional = most_specific(
            self.prices.iter().filter(|p| &p.item == code).map(|p| (&p.region_prefix, p.price)),
            region,
        );
        Some(Quote { item, price: regional.unwrap_or(item.base_price) })
    }
}

fn unknown_item(code: &ServiceCode) -> FieldError {
    FieldError::new(
        "item",
        "unknown_item",
        format!("没有服务项目“{code}”"),
        format!("there is no service item '{code}'"),
    )
}

/// Code, category, Chinese and English name, minutes, skills, price in yuan.
type DefaultItem =
    (&'static str, ServiceCategory, &'static str, &'static str, u32, &'static [&'static str], i64);

/// The default catalogue: common home-care items with the usual durations, skills and
/// prices of Chinese community services (prices in yuan, as a district sets them before
/// subsidies).
pub fn default_items() -> Vec<ServiceItem> {
    use ServiceCategory::*;
    #[rustfmt::skip]
    let rows: &[DefaultItem] = &[
        ("home_cooking", Meals, "上门做饭", "Cooking at home", 90, &["cooking"], 40),
        ("meal_delivery", Meals, "送餐上门", "Meal delivery", 30, &[], 3),
        ("home_cleaning", Cleaning, "居家保洁", "Home cleaning", 120, &["housekeeping"], 80),
        ("laundry", Cleaning, "衣物清洗", "Laundry", 60, &["housekeeping"], 30),
        ("bathing", Cleaning, "助浴", "Bathing assistance", 60, &["bathing", "personal_care"], 60),
        ("haircut", Cleaning, "理发", "Haircut", 30, &["haircut"], 15),
        ("foot_care", Cleaning, "修脚修甲", "Foot and nail care", 30, &["personal_care"], 20),
        ("hospital_escort", Medical, "陪同就医", "Escort to hospital", 240, &["escort"], 100),
        ("medicine_delivery", Medical, "送药上门", "Medicine delivery", 45, &[], 10),
        ("home_doctor_visit", Medical, "医生上门", "Doctor's home visit", 60, &["medical"], 50),
        ("health_check", Medical, "健康监测", "Blood pressure and glucose check", 30, &["nursing"], 10),
        ("rehab_therapy", Medical, "康复理疗", "Rehabilitation therapy", 60, &["rehabilitation"], 80),
        ("shopping_proxy", Shopping, "代购生活用品", "Shopping on the elder's behalf", 60, &[], 10),
        ("shopping_escort", Shopping, "陪同购物", "Shopping together", 90, &["escort"], 30),
        ("outing_escort", Mobility, "陪同出行", "Escort on an outing", 60, &["escort"], 30),
        ("wheelchair_transfer", Mobility, "助行转移", "Wheelchair and transfer help", 60, &["mobility_assist"], 40),
        ("emergency_visit", Emergency, "紧急上门查看", "Emergency home check", 30, &["first_aid"], 20),
        ("companionship", Recreation, "陪伴聊天", "Companionship", 60, &[], 30),
        ("emotional_support", Recreation, "心理慰藉", "Emotional support", 60, &["counselling"], 50),
        ("bill_payment", Errands, "代缴费用", "Paying bills", 45, &[], 10),
        ("paperwork", Errands, "代办业务", "Paperwork and errands", 120, &[], 30),
        ("safety_inspection", SafetyInspection, "居家安全巡检", "Home safety inspection (water, power, gas)", 45, &["safety_inspection"], 20),
        ("small_repair", SafetyInspection, "小家电维修", "Small repairs", 60, &["repair"], 30),
        ("care_visit", Visit, "探访关爱", "Care visit", 30, &[], 0),
    ];
    rows.iter()
        .map(|&(code, category, zh, en, duration_min, skills, yuan)| {
            let mut skills: Vec<SkillCode> = skills.iter().map(|s| SkillCode::lit(s)).collect();
            skills.sort();
            ServiceItem {
                code: ServiceCode::lit(code),
                category,
                name_zh: zh.to_string(),
                name_en: en.to_string(),
                duration_min,
                skills,
                base_price: Fen(yuan * 100),
                builtin: true,
                active: true,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> ServiceCode {
        ServiceCode::parse("c", s).unwrap()
    }
    fn region(s: &str) -> RegionCode {
        RegionCode::parse("r", s).unwrap()
    }

    #[test]
    fn the_default_catalogue_covers_every_category_with_known_skills() {
        let c = Catalogue::with_defaults();
        for cat in ServiceCategory::ALL {
            assert!(c.in_category(*cat).count() >= 1, "{cat:?}");
        }
        for item in c.items() {
            assert!(item.duration_min > 0 && item.duration_min <= MAX_DURATION_MIN);
            for s in &item.skills {
                assert!(skill_label(s).is_some(), "{s} of {}", item.code);
            }
        }
        assert!(c.items().count() >= 20);
    }

    #[test]
    fn prices_follow_the_most_specific_region() {
        let mut c = Catalogue::with_defaults();
        let bathing = code("bathing");
        let erqi = RegionPrefix::parse("p", "410103").unwrap();
        let street = RegionPrefix::parse("p", "410103001").unwrap();
        c.set_price(erqi.clone(), &bathing, Fen(5000)).unwrap();
        c.set_price(street, &bathing, Fen(4500)).unwrap();
        assert_eq!(c.price(&bathing, &region("410103001002")), Some(Fen(4500)));
        assert_eq!(c.price(&bathing, &region("410103002001")), Some(Fen(5000)));
        assert_eq!(c.price(&bathing, &region("140213001001")), Some(Fen(6000)));
        // Setting the same prefix again replaces the price.
        c.set_price(erqi, &bathing, Fen(5500)).unwrap();
        assert_eq!(c.price(&bathing, &region("410103002001")), Some(Fen(5500)));
        assert_eq!(c.prices().len(), 2);
        assert!(c.set_price(RegionPrefix::everywhere(), &code("nope"), Fen(1)).is_err());
        assert!(c.set_price(RegionPrefix::everywhere(), &bathing, Fen(-1)).is_err());
        // Inactive items have no price.
        assert!(c.set_active(&bathing, false));
        assert_eq!(c.price(&bathing, &region("410103001002")), None);
    }

    #[test]
    fn administrators_add_their_own_items() {
        let mut c = Catalogue::with_defaults();
        let input = ServiceItemInput {
            code: "pet_care".into(),
            category: "助乐".into(),
            name_zh: "宠物照看".into(),
            name_en: "Pet care".into(),
            duration_min: 60,
            skills: vec!["pet_care".into(), "pet_care".into()],
            price_yuan: "25".into(),
        };
        let item = input.validate().unwrap();
        assert_eq!(item.skills.len(), 1);
        assert_eq!(item.base_price, Fen(2500));
        assert!(!item.builtin);
        c.add(item.clone()).unwrap();
        assert_eq!(c.add(item).unwrap_err().code, "duplicate");
        assert_eq!(c.quote(&code("pet_care"), &region("140213")).unwrap().price, Fen(2500));

        let bad = ServiceItemInput {
            code: "Pet Care".into(),
            category: "magic".into(),
            duration_min: 0,
            skills: vec!["Bad".into()],
            price_yuan: "-3".into(),
            ..ServiceItemInput::default()
        };
        let errs = bad.validate().unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["code", "category", "name_zh", "duration_min", "skills[0]", "price_yuan"]);
    }

    #[test]
    fn a_catalogue_round_trips_and_rebuilds() {
        let mut c = Catalogue::with_defaults();
        c.set_price(RegionPrefix::parse("p", "140213").unwrap(), &code("haircut"), Fen(1200)).unwrap();
        let json = serde_json::to_string(&c).unwrap();
        let back: Catalogue = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
        let rebuilt = Catalogue::from_parts(c.items().cloned().collect(), c.prices().to_vec()).unwrap();
        assert_eq!(rebuilt, c);
        let dup = Catalogue::from_parts(default_items().into_iter().chain(default_items()).collect(), vec![]);
        assert!(dup.is_err());
    }
}
