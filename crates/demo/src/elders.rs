//! The elders' registry (老人台账): people, homes, households, health, contacts and service
//! cards with the seeds' distributions; and the devices handed out to them.

use std::collections::HashSet;

use chrono::{Datelike, Days, NaiveDate};
use rand::Rng;
use rand::seq::index::sample;
use zhulao_domain::elder::{ContactInput, ElderInput};
use zhulao_domain::{
    CapabilityLevel, DeviceInput, DeviceKind, EconomicStatus, HealthRecord, Hukou, LivingArrangement,
    id_number,
};

use crate::boundary::Boundary;
use crate::divisions::Divisions;
use crate::facilities::{Facilities, round6};
use crate::names::{Generation, Namer, pick_weighted};
use crate::places::{HOME_RADIUS_M, Places, near_inside};
use crate::{DeviceSpec, ElderSpec};

/// Age bands (first age, last age, share in %): most are 60–79, 15% are 80+.
const AGE_BANDS: [(i32, i32, f64); 8] = [
    (60, 64, 30.0),
    (65, 69, 25.0),
    (70, 74, 18.0),
    (75, 79, 12.0),
    (80, 84, 8.0),
    (85, 89, 4.5),
    (90, 94, 2.0),
    (95, 100, 0.5),
];

/// Living arrangement shares (%), in `LivingArrangement::ALL` order.
const LIVING: [f64; 5] = [18.0, 40.0, 38.0, 1.0, 3.0];

/// Capability level shares (%) under 80 and at 80+; overall ≈ 70/16/8/4/2.
const CAPABILITY_UNDER_80: [f64; 5] = [74.0, 15.0, 7.0, 3.0, 1.0];
const CAPABILITY_80_PLUS: [f64; 5] = [47.0, 22.0, 14.0, 10.0, 7.0];

/// The seeds' Datong figures: service cards held by 92.88% of those 70+, and free devices
/// for 71.23% of card holders.
pub const CARD_COVERAGE_70_PLUS: f64 = 0.9288;
pub const DEVICE_COVERAGE_OF_CARDS: f64 = 0.7123;

/// Divisions of first registration for people born elsewhere: the old Datong districts and
/// counties (1402xx) and Yangquan (1403xx).
const OTHER_DATONG: [&str; 12] = [
    "140202", "140203", "140211", "140212", "140214", "140215", "140221", "140222", "140223", "140224",
    "140225", "140226",
];
const YANGQUAN: [&str; 5] = ["140302", "140303", "140311", "140321", "140322"];

/// Common chronic conditions of the elderly, with relative weights and typical medicines.
const CONDITIONS: [(&str, f64, &[&str]); 10] = [
    ("高血压", 35.0, &["苯磺酸氨氯地平片", "硝苯地平缓释片", "缬沙坦胶囊", "厄贝沙坦片"]),
    ("糖尿病", 18.0, &["盐酸二甲双胍片", "阿卡波糖片", "格列美脲片", "胰岛素注射液"]),
    ("冠心病", 14.0, &["阿司匹林肠溶片", "单硝酸异山梨酯缓释片", "阿托伐他汀钙片"]),
    ("骨关节炎", 10.0, &["硫酸氨基葡萄糖胶囊", "塞来昔布胶囊"]),
    ("慢阻肺", 8.0, &["噻托溴铵粉吸入剂", "沙美特罗替卡松粉吸入剂"]),
    ("脑梗死后遗症", 7.0, &["阿司匹林肠溶片", "阿托伐他汀钙片", "氯吡格雷片"]),
    ("骨质疏松", 7.0, &["碳酸钙D3片", "阿仑膦酸钠片"]),
    ("慢性胃炎", 5.0, &["奥美拉唑肠溶胶囊", "铝碳酸镁咀嚼片"]),
    ("白内障", 5.0, &[]),
    ("阿尔茨海默病", 3.0, &["盐酸多奈哌齐片"]),
];
const ALLERGIES: [&str; 4] = ["青霉素", "磺胺类药物", "头孢类药物", "海鲜"];
/// ABO shares in northern China (B is as common as O and A).
const BLOOD_TYPES: [(&str, f64); 4] = [("B", 31.0), ("O", 30.0), ("A", 28.0), ("AB", 11.0)];

/// What the later stages need about each elder, parallel to `elders`.
#[derive(Debug, Clone)]
pub struct Traits {
    pub age: i32,
    pub community: usize,
    pub living: LivingArrangement,
    pub economic: EconomicStatus,
    pub capability: CapabilityLevel,
    pub card: bool,
}

#[derive(Debug)]
pub struct Elders {
    /// `care_manager` is filled in later by the staff stage.
    pub elders: Vec<ElderSpec>,
    pub traits: Vec<Traits>,
}

/// Splits `total` in proportion to `weights` (largest remainder), so the parts sum exactly.
pub fn apportion(total: usize, weights: &[f64]) -> Vec<usize> {
    let sum: f64 = weights.iter().sum();
    let quotas: Vec<f64> = weights.iter().map(|w| w / sum * total as f64).collect();
    let mut parts: Vec<usize> = quotas.iter().map(|q| q.floor() as usize).collect();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|&a, &b| {
        (quotas[b] - quotas[b].floor()).total_cmp(&(quotas[a] - quotas[a].floor())).then(a.cmp(&b))
    });
    let short = total - parts.iter().sum::<usize>();
    for &i in order.iter().take(short) {
        parts[i] += 1;
    }
    parts
}

/// The birthday of someone exactly `age` on `today` or up to 364 days older.
fn birth_date<R: Rng>(rng: &mut R, today: NaiveDate, age: i32) -> NaiveDate {
    let year = today.year() - age;
    let latest = NaiveDate::from_ymd_opt(year, today.month(), today.day())
        .or_else(|| NaiveDate::from_ymd_opt(year, today.month(), today.day() - 1))
        .expect("only 29 February can be missing");
    latest - Days::new(rng.random_range(0..365))
}

fn yuan(fen: u32) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

#[allow(clippy::too_many_arguments)]
pub fn generate<R: Rng>(
    rng: &mut R,
    today: NaiveDate,
    n: usize,
    b: &Boundary,
    d: &Divisions,
    p: &Places,
    f: &Facilities,
    namer: &mut Namer,
) -> Elders {
    // Residents per community: urban communities are larger than villages.
    let weights: Vec<f64> = d
        .communities
        .iter()
        .map(|c| if c.village { rng.random_range(0.3..0.7) } else { rng.random_range(0.7..1.4) })
        .collect();
    let per_community = apportion(n, &weights);
    let stations: Vec<(usize, (f64, f64))> =
        f.stations.iter().map(|&i| (i, b.to_metres(f.locations[i].0, f.locations[i].1))).collect();

    let age_weights: Vec<f64> = AGE_BANDS.iter().map(|a| a.2).collect();
    let blood_weights: Vec<f64> = BLOOD_TYPES.iter().map(|t| t.1).collect();
    let mut ids: HashSet<String> = HashSet::with_capacity(n);
    let mut cards = 0usize;
    let mut out = Elders { elders: Vec::with_capacity(n), traits: Vec::with_capacity(n) };

    for (ci, &count) in per_community.iter().enumerate() {
        let c = &d.communities[ci];
        let street = &d.streets[c.street].name;
        for _ in 0..count {
            let band = AGE_BANDS[pick_weighted(rng, &age_weights)];
            let age = rng.random_range(band.0..=band.1);
            let female = rng.random_bool(match age {
                ..70 => 0.50,
                70..80 => 0.53,
                _ => 0.60,
            });
            let birth = birth_date(rng, today, age);
            let division = match rng.random_range(0..100) {
                0..80 => "140213",
                80..97 => OTHER_DATONG[rng.random_range(0..OTHER_DATONG.len())],
                _ => YANGQUAN[rng.random_range(0..YANGQUAN.len())],
            };
            let id = loop {
                // The order code's parity is the sex: odd for men.
                let seq = rng.random_range(0..500u16) * 2 + u16::from(!female);
                let id = id_number::compose(division, birth, seq).expect("six digits and a real date");
                if ids.insert(id.as_str().to_string()) {
                    break id;
                }
            };

            let surname = namer.surname(rng);
            let name = format!("{surname}{}", namer.given(rng, female, Generation::Elder));
            let phone = if rng.random_bool(match age {
                ..70 => 0.92,
                70..80 => 0.80,
                _ => 0.55,
            }) {
                if rng.random_bool(0.12) { namer.landline(rng) } else { namer.mobile(rng) }
            } else {
                String::new()
            };
            let address = if c.village {
                format!("平城区{street}{}{}号", c.short, rng.random_range(1..=260))
            } else {
                format!(
                    "平城区{street}{}{}号楼{}单元{}{:02}室",
                    c.short,
                    rng.random_range(1..=30),
                    rng.random_range(1..=4),
                    rng.random_range(1..=6),
                    rng.random_range(1..=2)
                )
            };
            let home = near_inside(rng, b, p.communities[ci], HOME_RADIUS_M);
            let home = (round6(home.0), round6(home.1));

            let living = LivingArrangement::ALL[pick_weighted(rng, &LIVING)];
            let economic = if rng.random_bool(0.06) {
                EconomicStatus::Dibao
            } else if rng.random_bool(0.02) {
                EconomicStatus::Tekun
            } else if c.village && rng.random_bool(0.07) {
                EconomicStatus::Wubao
            } else if rng.random_bool(0.06) {
                EconomicStatus::Hardship
            } else {
                EconomicStatus::General
            };
            let capability = CapabilityLevel::ALL
                [pick_weighted(rng, if age < 80 { &CAPABILITY_UNDER_80 } else { &CAPABILITY_80_PLUS })];
            let health = health(rng, age, capability, street, namer, &blood_weights);
            let contacts = contacts(rng, surname, female, living, namer);

            let card = rng.random_bool(if age >= 70 {
                CARD_COVERAGE_70_PLUS
            } else if economic.is_hardship() {
                0.25
            } else {
                0.01
            });
            let (card_no, balance) = if card {
                cards += 1;
                (format!("PC0213{cards:06}"), yuan(rng.random_range(0..=600) * 50))
            } else {
                (String::new(), String::new())
            };

            let (x, y) = b.to_metres(home.0, home.1);
            let home_station = stations
                .iter()
                .min_by(|a, b| {
                    let da = (a.1.0 - x).powi(2) + (a.1.1 - y).powi(2);
                    let db = (b.1.0 - x).powi(2) + (b.1.1 - y).powi(2);
                    da.total_cmp(&db)
                })
                .map_or(0, |s| s.0);

            out.elders.push(ElderSpec {
                input: ElderInput {
                    id_number: id.as_str().to_string(),
                    name,
                    phone,
                    address,
                    lat: Some(home.0),
                    lon: Some(home.1),
                    region_code: c.code.as_str().to_string(),
                    hukou: if c.village { Hukou::Rural } else { Hukou::Urban }.as_str().to_string(),
                    living: living.as_str().to_string(),
                    economic: economic.as_str().to_string(),
                    capability: capability.as_str().to_string(),
                    health,
                    contacts,
                    care_manager_id: None,
                    home_station_id: None,
                    card_no,
                    card_balance_yuan: balance,
                },
                care_manager: 0,
                home_station,
            });
            out.traits.push(Traits { age, community: ci, living, economic, capability, card });
        }
    }
    out
}

fn health<R: Rng>(
    rng: &mut R,
    age: i32,
    capability: CapabilityLevel,
    street: &str,
    namer: &Namer,
    blood_weights: &[f64],
) -> HealthRecord {
    let mut h = HealthRecord::default();
    let chronic = rng.random_bool(match age {
        ..70 => 0.52,
        70..80 => 0.65,
        _ => 0.75,
    });
    if chronic {
        let many = [1usize, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3][rng.random_range(0..11)];
        let mut weights: Vec<f64> = CONDITIONS.iter().map(|c| c.1).collect();
        if capability >= CapabilityLevel::Severe {
            weights[9] = 20.0; // dementia is common among the severely impaired
        }
        for _ in 0..many {
            let i = pick_weighted(rng, &weights);
            weights[i] = 0.0; // no repeats
            let (condition, _, medicines) = CONDITIONS[i];
            h.chronic_conditions.push(condition.to_string());
            if !medicines.is_empty() && rng.random_bool(0.85) {
                let m = medicines[rng.random_range(0..medicines.len())];
                if !h.medications.iter().any(|x| x == m) {
                    h.medications.push(m.to_string());
                }
            }
        }
    }
    if rng.random_bool(0.06) {
        h.allergies.push(ALLERGIES[rng.random_range(0..ALLERGIES.len())].to_string());
    }
    if rng.random_bool(0.85) {
        h.blood_type = Some(BLOOD_TYPES[pick_weighted(rng, blood_weights)].0.to_string());
    }
    if rng.random_bool(0.45) {
        h.family_doctor = Some(format!("{street}社区卫生服务中心 {}医生", namer.surname(rng)));
    }
    h
}

/// 1–3 emergency contacts in calling order: children first, then the spouse (who is often
/// elderly too), or a nephew/niece or neighbour for some of those living alone.
fn contacts<R: Rng>(
    rng: &mut R,
    surname: &'static str,
    female: bool,
    living: LivingArrangement,
    namer: &mut Namer,
) -> Vec<ContactInput> {
    let spouse = match living {
        LivingArrangement::EmptyNest => rng.random_bool(0.85),
        LivingArrangement::WithChildren => rng.random_bool(0.6),
        LivingArrangement::Other => rng.random_bool(0.5),
        LivingArrangement::Alone | LivingArrangement::Institutional => false,
    };
    let total = [1usize, 1, 1, 2, 2, 2, 2, 3, 3, 3][rng.random_range(0..10)].max(if spouse { 2 } else { 1 });
    // Children carry the father's surname.
    let spouse_surname = namer.surname(rng);
    let child_surname = if female { spouse_surname } else { surname };
    let mut out = Vec::with_capacity(total);
    let children = total - usize::from(spouse);
    for k in 0..children {
        let (relation, name) = if k == 0 && living == LivingArrangement::Alone && rng.random_bool(0.1) {
            if rng.random_bool(0.5) {
                let female = rng.random_bool(0.5);
                ("邻居", namer.full(rng, female, Generation::Young))
            } else {
                let daughter = rng.random_bool(0.5);
                let given = namer.given(rng, daughter, Generation::Young);
                (if daughter { "侄女" } else { "侄子" }, format!("{surname}{given}"))
            }
        } else {
            let daughter = rng.random_bool(0.5);
            let given = namer.given(rng, daughter, Generation::Young);
            (if daughter { "女儿" } else { "儿子" }, format!("{child_surname}{given}"))
        };
        out.push(ContactInput { name, relation: relation.to_string(), phone: namer.mobile(rng) });
    }
    if spouse {
        let given = namer.given(rng, !female, Generation::Elder);
        out.push(ContactInput {
            name: format!("{spouse_surname}{given}"),
            relation: "配偶".to_string(),
            phone: namer.mobile(rng),
        });
    }
    out
}

/// Devices: a free wearable for every card holder 75+ who lives alone, in an empty nest or
/// in hardship (the seeds' rule), topped up from other card holders (bought by families or
/// by the street) to the seeds' 71.23% of card holders; bedside buttons for some of the
/// severely impaired; a few unbound spares in stock.
pub fn devices<R: Rng>(rng: &mut R, elders: &Elders) -> Vec<DeviceSpec> {
    let t = &elders.traits;
    let card_holders: Vec<usize> = (0..t.len()).filter(|&i| t[i].card).collect();
    let eligible = |e: &Traits| {
        e.card
            && e.age >= 75
            && (matches!(e.living, LivingArrangement::Alone | LivingArrangement::EmptyNest)
                || e.economic.is_hardship())
    };
    let mut wears = vec![false; t.len()];
    for &i in &card_holders {
        wears[i] = eligible(&t[i]);
    }
    let target = (card_holders.len() as f64 * DEVICE_COVERAGE_OF_CARDS).round() as usize;
    let have = wears.iter().filter(|w| **w).count();
    let others: Vec<usize> = card_holders.iter().copied().filter(|&i| !wears[i]).collect();
    let extra = target.saturating_sub(have).min(others.len());
    for k in sample(rng, others.len(), extra) {
        wears[others[k]] = true;
    }

    let mut serials = [0usize; 3];
    let mut device = |kind: DeviceKind, elder: Option<usize>| {
        let (slot, letter, model) = match kind {
            DeviceKind::Watch => (1, 'W', "ZL-W3"),
            DeviceKind::BedsideButton => (2, 'B', "ZL-B1"),
            _ => (0, 'P', "ZL-P2"),
        };
        serials[slot] += 1;
        DeviceSpec {
            input: DeviceInput {
                serial: format!("ZL-{letter}-{:06}", serials[slot]),
                kind: kind.as_str().to_string(),
                model: model.to_string(),
            },
            elder,
        }
    };
    let mut out = Vec::new();
    for (i, e) in t.iter().enumerate() {
        if wears[i] {
            // Watches for the younger and able, who can read a screen and wear it all day.
            let p_watch = if e.capability == CapabilityLevel::Intact && e.age < 80 { 0.4 } else { 0.08 };
            let kind = if rng.random_bool(p_watch) { DeviceKind::Watch } else { DeviceKind::Pendant };
            out.push(device(kind, Some(i)));
        }
        if e.capability >= CapabilityLevel::Severe && rng.random_bool(0.6) {
            out.push(device(DeviceKind::BedsideButton, Some(i)));
        }
    }
    let spares = (target / 40).max(5);
    for k in 0..spares {
        out.push(device(if k % 5 == 4 { DeviceKind::Watch } else { DeviceKind::Pendant }, None));
    }
    out
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use zhulao_domain::elder::age_on;

    use super::*;

    #[test]
    fn apportion_sums_exactly() {
        assert_eq!(apportion(10, &[1.0, 1.0, 1.0]), [4, 3, 3]);
        assert_eq!(apportion(0, &[1.0, 2.0]), [0, 0]);
        let parts = apportion(2000, &[0.3, 1.2, 0.9, 0.7]);
        assert_eq!(parts.iter().sum::<usize>(), 2000);
    }

    #[test]
    fn birth_dates_give_the_age_asked_for() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for today in ["2026-11-23", "2024-02-29", "2025-01-01", "2025-12-31"] {
            let today: NaiveDate = today.parse().unwrap();
            for age in 60..=100 {
                for _ in 0..20 {
                    assert_eq!(age_on(birth_date(&mut rng, today, age), today), age);
                }
            }
        }
    }
}
