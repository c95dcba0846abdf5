//! The three-level facility network: the district centre, a centre per street, community
//! stations, canteens and meal points, the central kitchen, a day-care centre, nursing homes
//! and village happiness courtyards.

use rand::Rng;
use rand::seq::SliceRandom;
use zhulao_domain::{FacilityInput, FacilityKind};

use crate::boundary::Boundary;
use crate::divisions::Divisions;
use crate::names::Namer;
use crate::places::{LatLon, Places, near_inside};

/// Community stations (the seeds' Datong has ~40 and plans 30 more).
pub const STATIONS: usize = 40;
pub const CANTEENS: usize = 9;
pub const MEAL_POINTS: usize = 6;
pub const NURSING_HOMES: usize = 2;
pub const COURTYARDS: usize = 3;
/// The 15-minute walking circle.
const WALK_RADIUS_M: i32 = 1_000;

/// Invented operating organisations (运营机构).
const ORGS: [&str; 5] = [
    "平城区康颐居家养老服务有限公司",
    "大同市福寿康养老服务有限公司",
    "平城区夕阳红社会工作服务中心",
    "大同市安康社区服务有限公司",
    "平城区和美养老服务中心",
];
const CATERING_ORG: &str = "大同市惠民餐饮管理有限公司";

/// The generated facilities and what the later stages need to know about them.
#[derive(Debug)]
pub struct Facilities {
    pub inputs: Vec<FacilityInput>,
    /// Each facility's location (lat, lon), parallel to `inputs`.
    pub locations: Vec<LatLon>,
    /// Facility indices of the community stations.
    pub stations: Vec<usize>,
}

struct Builder<'a, R> {
    rng: &'a mut R,
    b: &'a Boundary,
    d: &'a Divisions,
    p: &'a Places,
    namer: &'a mut Namer,
    out: Facilities,
}

impl<R: Rng> Builder<'_, R> {
    fn street_address(&mut self, community: usize) -> String {
        let c = &self.d.communities[community];
        let street = &self.d.streets[c.street].name;
        format!("平城区{street}{}{}号", c.short, self.rng.random_range(1..=120))
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        kind: FacilityKind,
        name: String,
        region_code: &str,
        address: String,
        at: LatLon,
        opening_hours: &str,
        beds: Option<i32>,
        meals_per_day: Option<i32>,
        operator_org: &str,
        radius: i32,
    ) -> usize {
        let phone = self.namer.landline(self.rng);
        self.out.inputs.push(FacilityInput {
            kind: kind.as_str().to_string(),
            name,
            region_code: region_code.to_string(),
            address,
            lat: Some(round6(at.0)),
            lon: Some(round6(at.1)),
            opening_hours: opening_hours.to_string(),
            beds,
            meals_per_day,
            operator_org: operator_org.to_string(),
            service_radius_m: Some(radius),
            phone,
        });
        self.out.locations.push((round6(at.0), round6(at.1)));
        self.out.inputs.len() - 1
    }

    /// A community-level facility near the community's centre.
    #[allow(clippy::too_many_arguments)]
    fn in_community(
        &mut self,
        community: usize,
        kind: FacilityKind,
        name: String,
        hours: &str,
        beds: Option<i32>,
        meals: Option<i32>,
        org: &str,
        radius: i32,
    ) -> usize {
        let at = near_inside(self.rng, self.b, self.p.communities[community], 250.0);
        let address = self.street_address(community);
        let code = self.d.communities[community].code.as_str().to_string();
        self.push(kind, name, &code, address, at, hours, beds, meals, org, radius)
    }

    fn org(&mut self) -> &'static str {
        ORGS[self.rng.random_range(0..ORGS.len())]
    }
}

/// Rounds to 6 decimals (~0.1 m), as the map layers and the outline do.
pub fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

pub fn generate<R: Rng>(
    rng: &mut R,
    b: &Boundary,
    d: &Divisions,
    p: &Places,
    namer: &mut Namer,
) -> Facilities {
    let mut f = Builder {
        rng,
        b,
        d,
        p,
        namer,
        out: Facilities { inputs: Vec::new(), locations: Vec::new(), stations: Vec::new() },
    };

    // District centre: the call centre and the big screen, near the middle of the district.
    let centroid = b.centroid();
    let at = near_inside(f.rng, b, centroid, 500.0);
    let county = d.county.as_str().to_string();
    let address = format!("平城区御河西路{}号", f.rng.random_range(1..=200));
    f.push(
        FacilityKind::Centre,
        "平城区综合养老服务中心".into(),
        &county,
        address,
        at,
        "周一至周日 8:00-20:00（呼叫中心24小时）",
        Some(30),
        Some(200),
        "平城区民政局",
        12_000,
    );

    // One centre per street, at the street's centre.
    for (si, s) in d.streets.iter().enumerate() {
        let at = near_inside(f.rng, b, p.streets[si], 150.0);
        let org = f.org();
        let name = format!("{}综合养老服务中心", s.name);
        // Street centres usually sit in the street's first (oldest) community.
        let first = &d.communities[s.communities[0]].short;
        let address = format!("平城区{}{first}{}号", s.name, f.rng.random_range(1..=80));
        let beds = Some(f.rng.random_range(10..=30));
        let meals = Some(f.rng.random_range(8..=20) * 10);
        f.push(
            FacilityKind::Centre,
            name,
            s.code.as_str(),
            address,
            at,
            "周一至周六 8:00-18:00",
            beds,
            meals,
            org,
            2_500,
        );
    }

    let urban: Vec<usize> = (0..d.communities.len()).filter(|&c| !d.communities[c].village).collect();
    let villages: Vec<usize> = (0..d.communities.len()).filter(|&c| d.communities[c].village).collect();

    // Stations: one in every street (in an urban community if it has one), the rest in
    // randomly chosen other urban communities, never two in one community.
    let mut chosen: Vec<usize> = Vec::new();
    for s in &d.streets {
        let mut cands: Vec<usize> =
            s.communities.iter().copied().filter(|&c| !d.communities[c].village).collect();
        if cands.is_empty() {
            cands = s.communities.clone();
        }
        chosen.push(cands[f.rng.random_range(0..cands.len())]);
    }
    let mut rest: Vec<usize> = urban.iter().copied().filter(|c| !chosen.contains(c)).collect();
    rest.shuffle(f.rng);
    chosen.extend(rest.into_iter().take(STATIONS.saturating_sub(chosen.len())));
    chosen.sort_unstable();
    for &c in &chosen {
        let org = f.org();
        let name = format!("{}助老服务站", d.communities[c].short);
        let beds = f.rng.random_bool(0.3).then(|| f.rng.random_range(2..=6));
        let meals = f.rng.random_bool(0.5).then(|| f.rng.random_range(3..=8) * 10);
        let i = f.in_community(
            c,
            FacilityKind::Station,
            name,
            "周一至周六 8:30-17:30",
            beds,
            meals,
            org,
            WALK_RADIUS_M,
        );
        f.out.stations.push(i);
    }

    // Canteens and meal points in urban communities; one canteen is a charity canteen.
    let mut eateries = urban.clone();
    eateries.shuffle(f.rng);
    let (canteens, meal_points) = eateries[..CANTEENS + MEAL_POINTS].split_at(CANTEENS);
    let (mut canteens, mut meal_points) = (canteens.to_vec(), meal_points.to_vec());
    canteens.sort_unstable();
    meal_points.sort_unstable();
    for (k, &c) in canteens.iter().enumerate() {
        let short = d.communities[c].short.trim_end_matches("社区");
        let name = if k == 0 { format!("{short}爱心食堂") } else { format!("{short}社区食堂") };
        let meals = Some(f.rng.random_range(15..=40) * 10);
        f.in_community(
            c,
            FacilityKind::Canteen,
            name,
            "每日 10:30-13:00，16:30-18:30",
            None,
            meals,
            CATERING_ORG,
            WALK_RADIUS_M,
        );
    }
    for &c in &meal_points {
        let name = format!("{}助餐点", d.communities[c].short);
        let meals = Some(f.rng.random_range(4..=10) * 10);
        let org = f.org();
        f.in_community(c, FacilityKind::MealPoint, name, "每日 11:00-12:30", None, meals, org, WALK_RADIUS_M);
    }

    // The central kitchen, in a suburban street with room for it.
    let outer_urban: Vec<usize> = urban
        .iter()
        .copied()
        .filter(|&c| d.streets[d.communities[c].street].communities.iter().any(|&o| d.communities[o].village))
        .collect();
    let c = outer_urban[f.rng.random_range(0..outer_urban.len())];
    f.in_community(
        c,
        FacilityKind::CentralKitchen,
        "平城区中央厨房".into(),
        "每日 5:00-19:00",
        None,
        Some(3_000),
        CATERING_ORG,
        12_000,
    );

    // The day-care centre, in one of the station communities.
    let c = chosen[f.rng.random_range(0..chosen.len())];
    let name = format!("{}日间照料中心", d.communities[c].short);
    let beds = Some(f.rng.random_range(20..=40));
    let org = f.org();
    f.in_community(
        c,
        FacilityKind::DayCare,
        name,
        "周一至周五 8:00-17:30",
        beds,
        Some(60),
        org,
        WALK_RADIUS_M,
    );

    // Nursing homes (敬老院) and happiness courtyards (幸福小院) in villages.
    let mut vs = villages.clone();
    vs.shuffle(f.rng);
    let (homes, yards) = vs[..NURSING_HOMES + COURTYARDS].split_at(NURSING_HOMES);
    let (mut homes, mut yards) = (homes.to_vec(), yards.to_vec());
    homes.sort_unstable();
    yards.sort_unstable();
    for &c in &homes {
        let name = format!("平城区{}敬老院", d.communities[c].short);
        let beds = Some(f.rng.random_range(6..=15) * 10);
        let meals = beds.map(|b| b * 3);
        let org = f.org();
        f.in_community(c, FacilityKind::NursingHome, name, "全天24小时", beds, meals, org, 5_000);
    }
    for &c in &yards {
        let short = &d.communities[c].short;
        let name = format!("{short}幸福小院");
        let org = format!("{short}村民委员会");
        let meals = Some(f.rng.random_range(2..=5) * 10);
        f.in_community(
            c,
            FacilityKind::HappinessCourtyard,
            name,
            "每日 9:00-16:00",
            Some(6),
            meals,
            &org,
            WALK_RADIUS_M,
        );
    }
    f.out
}
