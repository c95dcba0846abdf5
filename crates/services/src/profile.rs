//! The facts about an elder that the funding rules look at: region, age and categories
//! (hardship, disability, living alone, the lists civil affairs keeps).

use std::collections::BTreeSet;

use chrono::NaiveDate;
use zhulao_domain::elder::age_on;
use zhulao_domain::{
    CapabilityLevel, EconomicStatus, ElderRecord, Hukou, LivingArrangement, RegionCode, code_enum,
};

code_enum! {
    /// A category an elder belongs to, as subsidy rules name them. Most are derived from the
    /// elder's record ([`ElderProfile::from_record`]); the lists (government-purchased
    /// services, charity meals, veterans, special families) are kept by civil affairs and
    /// passed in.
    ElderCategory {
        Dibao = ("dibao", "低保", "minimum living allowance"),
        Tekun = ("tekun", "特困", "extreme hardship support"),
        Wubao = ("wubao", "五保", "five guarantees"),
        /// Any of the hardship categories (低保, 特困, 五保, 经济困难).
        Hardship = ("hardship", "经济困难", "economic hardship"),
        /// Moderately, severely or totally impaired (GB/T 42195-2022 level 2 and above).
        Disabled = ("disabled", "失能", "impaired"),
        /// Severely or totally impaired (level 3 and above).
        SeverelyDisabled = ("severely_disabled", "重度失能", "severely impaired"),
        LivingAlone = ("living_alone", "独居", "living alone"),
        EmptyNest = ("empty_nest", "空巢", "empty nest"),
        Rural = ("rural", "农村户籍", "rural household"),
        /// On the list of elders whose services the government buys (二七: 500 elders).
        GovPurchase = ("gov_purchase", "政府购买服务对象", "government-purchased services"),
        /// On a charity canteen's free-meal list (爱心食堂).
        CharityMeal = ("charity_meal", "爱心餐对象", "charity meals"),
        Veteran = ("veteran", "优抚对象", "veteran or entitled group"),
        /// Families who lost their only child or whose only child is disabled (计生特殊家庭).
        SpecialFamily = ("special_family", "计生特殊家庭", "special family-planning family"),
    }
}

/// What the funding rules need to know about one elder.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ElderProfile {
    pub elder: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub region: RegionCode,
    /// Completed years on the day of the service.
    pub age: u8,
    #[serde(default)]
    pub categories: BTreeSet<ElderCategory>,
}

impl ElderProfile {
    /// Derives the categories from the record (economic status, capability, living
    /// arrangement, household registration) and adds the list memberships in `lists`. `day`
    /// is the day of the service, for the age.
    pub fn from_record(
        elder: i64,
        record: &ElderRecord,
        day: NaiveDate,
        lists: impl IntoIterator<Item = ElderCategory>,
    ) -> Self {
        let mut c: BTreeSet<ElderCategory> = lists.into_iter().collect();
        match record.economic {
            EconomicStatus::Dibao => c.insert(ElderCategory::Dibao),
            EconomicStatus::Tekun => c.insert(ElderCategory::Tekun),
            EconomicStatus::Wubao => c.insert(ElderCategory::Wubao),
            EconomicStatus::Hardship | EconomicStatus::General => false,
        };
        if record.economic.is_hardship() {
            c.insert(ElderCategory::Hardship);
        }
        if record.capability >= CapabilityLevel::Moderate {
            c.insert(ElderCategory::Disabled);
        }
        if record.capability >= CapabilityLevel::Severe {
            c.insert(ElderCategory::SeverelyDisabled);
        }
        match record.living {
            LivingArrangement::Alone => c.insert(ElderCategory::LivingAlone),
            LivingArrangement::EmptyNest => c.insert(ElderCategory::EmptyNest),
            _ => false,
        };
        if record.hukou == Hukou::Rural {
            c.insert(ElderCategory::Rural);
        }
        let age = age_on(record.birth_date, day).clamp(0, u8::MAX as i32) as u8;
        ElderProfile { elder, region: record.region.clone(), age, categories: c }
    }

    pub fn has(&self, c: ElderCategory) -> bool {
        self.categories.contains(&c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zhulao_domain::ElderInput;

    #[test]
    fn categories_come_from_the_record_and_the_lists() {
        let input = ElderInput {
            id_number: "11010519491231002X".into(),
            name: "王秀英".into(),
            address: "二七区建设路1号".into(),
            region_code: "410103001001".into(),
            hukou: "农村".into(),
            living: "独居".into(),
            economic: "低保".into(),
            capability: "3".into(),
            ..ElderInput::default()
        };
        let day = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        let record = input.validate(day).unwrap();
        let p = ElderProfile::from_record(9, &record, day, [ElderCategory::GovPurchase]);
        assert_eq!(p.age, 76);
        for c in [
            ElderCategory::Dibao,
            ElderCategory::Hardship,
            ElderCategory::Disabled,
            ElderCategory::SeverelyDisabled,
            ElderCategory::LivingAlone,
            ElderCategory::Rural,
            ElderCategory::GovPurchase,
        ] {
            assert!(p.has(c), "{c:?}");
        }
        assert!(!p.has(ElderCategory::EmptyNest));
    }
}
