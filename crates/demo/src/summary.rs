//! Counts and distributions of a generated district, computed from the inputs themselves
//! (so they describe what the loader will store, not what the generator meant to make).

use std::collections::BTreeMap;
use std::fmt;

use zhulao_domain::elder::age_on;
use zhulao_domain::{IdNumber, LivingArrangement, RegionLevel, Role, Sex};

use crate::DemoDistrict;

/// Counts by category are keyed by the domain's machine codes (`alone`, `dibao`, `station`,
/// `care_manager`…); unknown values, which the generator never produces, are counted under
/// the raw string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DemoSummary {
    pub streets: usize,
    /// Communities and villages together.
    pub communities: usize,
    pub villages: usize,
    pub facilities: BTreeMap<String, usize>,
    pub elders: usize,
    pub women: usize,
    pub aged_70_plus: usize,
    pub aged_75_plus: usize,
    pub aged_80_plus: usize,
    pub rural: usize,
    /// Not registered in 140213 (born or first registered elsewhere).
    pub registered_elsewhere: usize,
    pub living: BTreeMap<String, usize>,
    pub economic: BTreeMap<String, usize>,
    pub capability: BTreeMap<String, usize>,
    pub with_chronic_conditions: usize,
    pub with_phone: usize,
    pub cards: usize,
    pub cards_70_plus: usize,
    /// Card holders 75+ living alone, in an empty nest or in hardship: the free-device rule.
    pub device_eligible: usize,
    pub devices: BTreeMap<String, usize>,
    /// Elders wearing a pendant or a watch.
    pub wearers: usize,
    pub card_holders_wearing: usize,
    pub spare_devices: usize,
    pub accounts: BTreeMap<String, usize>,
    pub min_elders_per_manager: usize,
    pub max_elders_per_manager: usize,
}

impl DemoSummary {
    /// Share of elders 70+ holding a service card (the seeds: 92.88%).
    pub fn card_coverage_70_plus(&self) -> f64 {
        ratio(self.cards_70_plus, self.aged_70_plus)
    }

    /// Share of card holders with a wearable (the seeds: 71.23%).
    pub fn device_coverage_of_cards(&self) -> f64 {
        ratio(self.card_holders_wearing, self.cards)
    }

    /// Mean elders per care manager (the seeds' 二七: 20).
    pub fn elders_per_manager(&self) -> f64 {
        ratio(self.elders, self.accounts.get(Role::CareManager.as_str()).copied().unwrap_or(0))
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

pub fn summarise(d: &DemoDistrict) -> DemoSummary {
    let mut s = DemoSummary {
        streets: d.regions.iter().filter(|r| r.level == RegionLevel::Township).count(),
        communities: d.regions.iter().filter(|r| r.level == RegionLevel::Village).count(),
        villages: d.regions.iter().filter(|r| r.name.ends_with("村民委员会")).count(),
        elders: d.elders.len(),
        ..DemoSummary::default()
    };
    let bump = |m: &mut BTreeMap<String, usize>, k: &str| *m.entry(k.to_string()).or_default() += 1;
    for f in &d.facilities {
        bump(&mut s.facilities, &f.kind);
    }
    for a in &d.accounts {
        bump(&mut s.accounts, &a.input.role);
    }

    let mut wearing = vec![false; d.elders.len()];
    for dev in &d.devices {
        bump(&mut s.devices, &dev.input.kind);
        match dev.elder {
            None => s.spare_devices += 1,
            Some(e) if dev.input.kind != "bedside_button" => {
                if let Some(w) = wearing.get_mut(e) {
                    *w = true;
                }
            }
            Some(_) => {}
        }
    }

    for (i, e) in d.elders.iter().enumerate() {
        let e = &e.input;
        let Ok(id) = IdNumber::parse(&e.id_number, d.today) else { continue };
        let age = age_on(id.birth_date(), d.today);
        s.women += usize::from(id.sex() == Sex::Female);
        s.aged_70_plus += usize::from(age >= 70);
        s.aged_75_plus += usize::from(age >= 75);
        s.aged_80_plus += usize::from(age >= 80);
        s.rural += usize::from(e.hukou == "rural");
        s.registered_elsewhere += usize::from(id.division_prefix() != "140213");
        bump(&mut s.living, &e.living);
        bump(&mut s.economic, &e.economic);
        bump(&mut s.capability, &e.capability);
        s.with_chronic_conditions += usize::from(!e.health.chronic_conditions.is_empty());
        s.with_phone += usize::from(!e.phone.is_empty());
        let card = !e.card_no.is_empty();
        s.cards += usize::from(card);
        s.cards_70_plus += usize::from(card && age >= 70);
        let alone = matches!(
            LivingArrangement::parse_label(&e.living),
            Some(LivingArrangement::Alone | LivingArrangement::EmptyNest)
        );
        s.device_eligible += usize::from(card && age >= 75 && (alone || e.economic != "general"));
        s.wearers += usize::from(wearing[i]);
        s.card_holders_wearing += usize::from(wearing[i] && card);
    }

    let mut per_manager: BTreeMap<usize, usize> = BTreeMap::new();
    for e in &d.elders {
        *per_manager.entry(e.care_manager).or_default() += 1;
    }
    s.min_elders_per_manager = per_manager.values().copied().min().unwrap_or(0);
    s.max_elders_per_manager = per_manager.values().copied().max().unwrap_or(0);
    s
}

impl fmt::Display for DemoSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pct = |a: usize| 100.0 * ratio(a, self.elders);
        let map = |m: &BTreeMap<String, usize>| {
            m.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
        };
        writeln!(
            f,
            "regions: {} streets, {} communities ({} villages)",
            self.streets, self.communities, self.villages
        )?;
        writeln!(f, "facilities: {}", map(&self.facilities))?;
        writeln!(
            f,
            "elders: {} ({:.1}% women; 70+ {}, 75+ {}, 80+ {} = {:.1}%; rural {}; registered elsewhere {})",
            self.elders,
            pct(self.women),
            self.aged_70_plus,
            self.aged_75_plus,
            self.aged_80_plus,
            pct(self.aged_80_plus),
            self.rural,
            self.registered_elsewhere
        )?;
        writeln!(f, "living: {}", map(&self.living))?;
        writeln!(f, "economic: {}", map(&self.economic))?;
        writeln!(f, "capability: {}", map(&self.capability))?;
        writeln!(
            f,
            "health: {} with chronic conditions ({:.1}%); {} with a phone",
            self.with_chronic_conditions,
            pct(self.with_chronic_conditions),
            self.with_phone
        )?;
        writeln!(
            f,
            "cards: {} ({} of {} aged 70+ = {:.2}%)",
            self.cards,
            self.cards_70_plus,
            self.aged_70_plus,
            100.0 * self.card_coverage_70_plus()
        )?;
        writeln!(
            f,
            "devices: {}; {} wearers, {} card holders wearing ({:.2}% of cards; {} by the 75+ rule); {} spares",
            map(&self.devices),
            self.wearers,
            self.card_holders_wearing,
            100.0 * self.device_coverage_of_cards(),
            self.device_eligible,
            self.spare_devices
        )?;
        write!(
            f,
            "accounts: {}; {:.1} elders per care manager ({}–{})",
            map(&self.accounts),
            self.elders_per_manager(),
            self.min_elders_per_manager,
            self.max_elders_per_manager
        )
    }
}
