//! Home-care services for the demo district: where the caregivers are, Pingcheng's prices
//! and funding rules, the civil-affairs lists, canteen menus, a few days of service orders
//! in every state, meal orders, and time-bank volunteers — as plain data (codes, indices,
//! offsets from "now") that the loader plays through the ordinary service calls.

use rand::Rng;
use rand::seq::IndexedRandom;
use zhulao_domain::{CapabilityLevel, EconomicStatus, FacilityKind, LivingArrangement, Role};

use crate::AccountSpec;
use crate::boundary::Boundary;
use crate::divisions::Divisions;
use crate::elders::Elders;
use crate::facilities::round6;
use crate::places::{Places, near_inside};

/// Pingcheng's funding rules, merged with `crates/services/rules/example.json` (the default,
/// 二七 and 赤城 lists), as the rule book's JSON.
pub const RULES_JSON: &str = include_str!("../data/rules.json");

/// The skills a demo caregiver may have (codes of the service catalogue's skill vocabulary).
pub const CAREGIVER_SKILLS: [&str; 12] = [
    "housekeeping",
    "cooking",
    "bathing",
    "personal_care",
    "haircut",
    "escort",
    "nursing",
    "mobility_assist",
    "first_aid",
    "counselling",
    "safety_inspection",
    "repair",
];

/// How a demo order ends up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderOutcome {
    /// Waiting for a caregiver: published `minutes_ago` (or scheduled for tomorrow).
    Published,
    /// Taken, not set off.
    Taken,
    OnTheWay,
    CheckedIn,
    /// Checked out, waiting for the elder side to confirm.
    Completed,
    /// Confirmed (and rated, with `stars`) and settled.
    Settled,
    /// Settled, rated, and complained about.
    Complained,
    Cancelled,
    /// The caregiver found nobody at home.
    NoShow,
}

/// One service order to play: for elder `elder` (index), item `item`, started
/// `minutes_ago` before the load.
#[derive(Debug, Clone)]
pub struct OrderSpec {
    pub elder: usize,
    pub item: &'static str,
    pub outcome: OrderOutcome,
    pub minutes_ago: u32,
    /// For a scheduled order: hours after the next midnight (local time).
    pub scheduled_hour_tomorrow: Option<u32>,
    pub stars: Option<u8>,
    pub tags: Vec<&'static str>,
    pub text: &'static str,
}

/// One dish: code, name, tags.
pub type DishSpec = (&'static str, &'static str, &'static [&'static str]);

/// A set meal on a menu.
#[derive(Debug, Clone)]
pub struct OptionSpec {
    pub code: &'static str,
    pub name_zh: &'static str,
    pub dishes: Vec<DishSpec>,
    pub price_fen: i64,
}

/// A canteen's menu for one meal, `day` days from today (local).
#[derive(Debug, Clone)]
pub struct MenuSpec {
    /// Index into the district's facilities.
    pub canteen: usize,
    pub day: i64,
    /// `lunch` or `dinner`.
    pub slot: &'static str,
    pub options: Vec<OptionSpec>,
}

/// A meal order for `day` days from today; `delivered` when it goes to the door.
#[derive(Debug, Clone)]
pub struct MealSpec {
    pub elder: usize,
    pub canteen: usize,
    pub day: i64,
    pub option: &'static str,
    pub delivery: bool,
    /// Cancelled before the cut-off.
    pub cancelled: bool,
    /// Not collected (or nobody at the door).
    pub missed: bool,
}

/// Minutes a volunteer served an elder, `days_ago`.
#[derive(Debug, Clone)]
pub struct HoursSpec {
    pub volunteer: usize,
    pub elder: usize,
    pub minutes: u32,
    pub days_ago: u32,
    pub activity: &'static str,
    pub confirmed: bool,
}

#[derive(Debug, Clone)]
pub struct DemoServices {
    /// (account index, lat, lon): each caregiver's phone position, near their street.
    pub caregiver_positions: Vec<(usize, f64, f64)>,
    /// (item, region prefix, yuan): Pingcheng's own prices.
    pub prices: Vec<(&'static str, &'static str, i64)>,
    /// (code, name, region prefix, yuan): funding pools and their budgets.
    pub pools: Vec<(&'static str, &'static str, &'static str, i64)>,
    /// (elder index, list code): the lists civil affairs keeps.
    pub lists: Vec<(usize, &'static str)>,
    pub menus: Vec<MenuSpec>,
    pub orders: Vec<OrderSpec>,
    pub meals: Vec<MealSpec>,
    /// (elder index, skills, capacity): time-bank volunteers.
    pub volunteers: Vec<(usize, Vec<&'static str>, u32)>,
    pub hours: Vec<HoursSpec>,
}

const DISHES: [DishSpec; 14] = [
    ("braised_tofu", "家常豆腐", &["soft", "vegetarian"]),
    ("steamed_fish", "清蒸鱼块", &["low_fat", "low_salt"]),
    ("pumpkin_millet", "南瓜小米粥", &["soft", "low_sugar"]),
    ("stewed_chicken", "土豆炖鸡", &["soft"]),
    ("egg_custard", "鸡蛋羹", &["soft", "minced", "low_salt"]),
    ("cabbage_noodles", "白菜烩面", &["soft"]),
    ("youmian", "莜面窝窝", &[]),
    ("minced_pork", "肉末茄子", &["minced"]),
    ("spinach", "清炒菠菜", &["low_salt", "vegetarian", "low_fat"]),
    ("mutton_soup", "羊杂汤", &[]),
    ("radish_beef", "萝卜炖牛肉", &["soft"]),
    ("steamed_bun", "发面馒头", &["vegetarian"]),
    ("millet_rice", "二米饭", &["vegetarian", "low_sugar"]),
    ("tomato_egg", "西红柿炒鸡蛋", &["soft", "vegetarian"]),
];

/// Items the demo orders, with how often.
const ITEMS: [(&str, f64); 14] = [
    ("home_cleaning", 14.0),
    ("bathing", 8.0),
    ("companionship", 10.0),
    ("medicine_delivery", 8.0),
    ("health_check", 7.0),
    ("shopping_proxy", 9.0),
    ("haircut", 5.0),
    ("hospital_escort", 4.0),
    ("safety_inspection", 5.0),
    ("care_visit", 8.0),
    ("laundry", 5.0),
    ("meal_delivery", 6.0),
    ("small_repair", 3.0),
    ("outing_escort", 3.0),
];

fn pick_item<R: Rng>(rng: &mut R) -> &'static str {
    ITEMS.choose_weighted(rng, |i| i.1).map(|i| i.0).unwrap_or("companionship")
}

fn distance2(b: &Boundary, p: (f64, f64), q: (f64, f64)) -> f64 {
    let (x0, y0) = b.to_metres(p.0, p.1);
    let (x1, y1) = b.to_metres(q.0, q.1);
    (x0 - x1).powi(2) + (y0 - y1).powi(2)
}

#[allow(clippy::too_many_arguments)]
pub fn generate<R: Rng>(
    rng: &mut R,
    b: &Boundary,
    d: &Divisions,
    p: &Places,
    facilities: &[zhulao_domain::FacilityInput],
    accounts: &[AccountSpec],
    elders: &Elders,
) -> DemoServices {
    // Caregivers: a phone position near their street's centre.
    let mut caregiver_positions = Vec::new();
    for (i, a) in accounts.iter().enumerate() {
        if a.input.role != Role::Caregiver.as_str() {
            continue;
        }
        let street = d.streets.iter().position(|s| s.code.as_str() == a.input.region_code).unwrap_or(0);
        let at = near_inside(rng, b, p.streets[street], 1_500.0);
        caregiver_positions.push((i, round6(at.0), round6(at.1)));
    }
    let located: Vec<usize> =
        (0..elders.elders.len()).filter(|&i| elders.elders[i].input.lat.is_some()).collect();
    let home = |i: usize| {
        let e = &elders.elders[i].input;
        (e.lat.unwrap_or_default(), e.lon.unwrap_or_default())
    };

    // The lists: government-purchased services for the poorest impaired and the 80+ living
    // alone (a few percent), charity meals for those on minimum living allowance.
    let mut lists = Vec::new();
    for (i, t) in elders.traits.iter().enumerate() {
        let hardship = !matches!(t.economic, EconomicStatus::General);
        if (hardship && t.capability >= CapabilityLevel::Moderate)
            || (t.age >= 80 && t.living == LivingArrangement::Alone && rng.random_bool(0.3))
        {
            lists.push((i, "gov_purchase"));
        }
        if matches!(t.economic, EconomicStatus::Dibao | EconomicStatus::Tekun | EconomicStatus::Wubao)
            && rng.random_bool(0.6)
        {
            lists.push((i, "charity_meal"));
        }
    }

    // Menus: every canteen and meal point, lunch (canteens also dinner), yesterday to a week
    // ahead; two set meals a day from a rotating list.
    let eateries: Vec<usize> = facilities
        .iter()
        .enumerate()
        .filter(|(_, f)| {
            f.kind == FacilityKind::Canteen.as_str() || f.kind == FacilityKind::MealPoint.as_str()
        })
        .map(|(i, _)| i)
        .collect();
    let mut menus = Vec::new();
    for &c in &eateries {
        let canteen = facilities[c].kind == FacilityKind::Canteen.as_str();
        for day in -1..=6 {
            for slot in ["lunch", "dinner"] {
                if slot == "dinner" && !canteen {
                    continue;
                }
                let mut dishes: Vec<DishSpec> = DISHES.choose_multiple(rng, 5).copied().collect();
                let b_set = dishes.split_off(3);
                menus.push(MenuSpec {
                    canteen: c,
                    day,
                    slot,
                    options: vec![
                        OptionSpec { code: "set_a", name_zh: "荤素套餐", dishes, price_fen: 800 },
                        OptionSpec { code: "set_b", name_zh: "软食套餐", dishes: b_set, price_fen: 700 },
                    ],
                });
            }
        }
    }

    // Meal orders: elders within 1.5 km of an eatery, yesterday, today and tomorrow.
    let mut meals = Vec::new();
    let near_eatery: Vec<(usize, usize)> = located
        .iter()
        .filter_map(|&i| {
            let (c, d2) = eateries
                .iter()
                .map(|&c| {
                    let f = &facilities[c];
                    (c, distance2(b, home(i), (f.lat.unwrap_or_default(), f.lon.unwrap_or_default())))
                })
                .min_by(|a, b| a.1.total_cmp(&b.1))?;
            (d2 <= 1_500.0f64.powi(2)).then_some((i, c))
        })
        .collect();
    let diners: Vec<(usize, usize)> =
        near_eatery.choose_multiple(rng, near_eatery.len().min(90)).copied().collect();
    for day in -1..=1 {
        for &(i, c) in &diners {
            if !rng.random_bool(0.7) {
                continue;
            }
            let t = &elders.traits[i];
            meals.push(MealSpec {
                elder: i,
                canteen: c,
                day,
                option: if t.capability >= CapabilityLevel::Moderate { "set_b" } else { "set_a" },
                delivery: t.capability >= CapabilityLevel::Moderate || t.age >= 85,
                cancelled: rng.random_bool(0.04),
                missed: day < 0 && rng.random_bool(0.04),
            });
        }
    }

    // Service orders: three days of them, most settled and rated, some in progress, some
    // waiting for a caregiver right now.
    use OrderOutcome::*;
    let plan: [(OrderOutcome, usize, (u32, u32)); 9] = [
        (Settled, 22, (300, 4_000)),
        (Complained, 2, (600, 3_000)),
        (Cancelled, 3, (200, 3_000)),
        (NoShow, 1, (400, 2_000)),
        (Completed, 3, (120, 400)),
        (CheckedIn, 2, (40, 60)),
        (OnTheWay, 2, (20, 30)),
        (Taken, 3, (10, 20)),
        (Published, 8, (1, 9)),
    ];
    let mut orders = Vec::new();
    for (outcome, n, (lo, hi)) in plan {
        for k in 0..n {
            let Some(&elder) = located.choose(rng) else { break };
            let stars = match outcome {
                Settled => Some(*[5, 5, 5, 4, 4, 3, 2].choose(rng).unwrap_or(&5)),
                Complained => Some(2),
                _ => None,
            };
            let tags = match stars {
                Some(5) => vec!["punctual", "patient"],
                Some(4) => vec!["skilled"],
                Some(2) => vec!["hasty"],
                _ => vec![],
            };
            orders.push(OrderSpec {
                elder,
                item: pick_item(rng),
                outcome,
                minutes_ago: rng.random_range(lo..=hi),
                scheduled_hour_tomorrow: (outcome == Published && k % 3 == 2)
                    .then(|| rng.random_range(8..=16)),
                stars,
                tags,
                text: match stars {
                    Some(5) => "服务很周到，谢谢小师傅",
                    Some(2) => "打扫得太马虎",
                    _ => "",
                },
            });
        }
    }
    // Oldest first, so the loader plays them forward in time.
    orders.sort_by_key(|o| std::cmp::Reverse(o.minutes_ago));

    // Time bank: younger elders (60–69) who volunteer, some recorded hours.
    let young: Vec<usize> = (0..elders.traits.len())
        .filter(|&i| {
            (60..70).contains(&elders.traits[i].age) && elders.traits[i].capability == CapabilityLevel::Intact
        })
        .collect();
    let volunteers: Vec<(usize, Vec<&'static str>, u32)> = young
        .choose_multiple(rng, young.len().min(12))
        .map(|&i| {
            (i, vec!["escort", "counselling"][..rng.random_range(1..=2)].to_vec(), rng.random_range(1..=3))
        })
        .collect();
    let old_alone: Vec<usize> = (0..elders.traits.len())
        .filter(|&i| elders.traits[i].age >= 80 && elders.traits[i].living == LivingArrangement::Alone)
        .collect();
    let mut hours = Vec::new();
    for (k, (v, _, _)) in volunteers.iter().enumerate() {
        for _ in 0..rng.random_range(1..=3) {
            let Some(&elder) = old_alone.choose(rng) else { break };
            hours.push(HoursSpec {
                volunteer: *v,
                elder,
                minutes: *[60u32, 90, 120].choose(rng).unwrap_or(&60),
                days_ago: rng.random_range(1..=20),
                activity: ["visit", "recreation", "shopping"][k % 3],
                confirmed: rng.random_bool(0.75),
            });
        }
    }

    DemoServices {
        caregiver_positions,
        prices: vec![
            ("home_cleaning", "140213", 70),
            ("bathing", "140213", 50),
            ("haircut", "140213", 12),
            ("meal_delivery", "140213", 2),
            ("companionship", "140213", 25),
        ],
        pools: vec![
            ("pingcheng_gov_2026", "平城区2026年政府购买居家养老服务资金", "140213", 600_000),
            ("pingcheng_charity_canteen", "平城区爱心食堂慈善基金", "140213", 30_000),
            ("erqi_gov_purchase", "二七区政府购买服务资金", "410103", 5_000_000),
            ("erqi_charity_canteen", "二七区爱心食堂基金", "410103", 100_000),
            ("village_collective", "村集体养老基金", "130732", 50_000),
            ("chicheng_charity", "赤城县社会捐助", "130732", 30_000),
        ],
        lists,
        menus,
        orders,
        meals,
        volunteers,
        hours,
    }
}
