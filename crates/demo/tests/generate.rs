//! The generated demo district: deterministic, valid by the domain's own rules, inside the
//! real outline, linked consistently, and close to the seeds' distributions.

use std::collections::HashSet;
use std::sync::OnceLock;

use chrono::NaiveDate;
use zhulao_demo::{Boundary, DEMO_PASSWORD, DemoDistrict, DemoSize, generate};
use zhulao_domain::{FacilityKind, Role};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
}

/// The default district for seed 2026, generated once for all tests.
fn district() -> &'static DemoDistrict {
    static D: OnceLock<DemoDistrict> = OnceLock::new();
    D.get_or_init(|| generate(2026, today(), DemoSize::default()))
}

fn within(what: &str, value: f64, target: f64, tolerance: f64) {
    assert!((value - target).abs() <= tolerance, "{what}: {value:.4} not within {tolerance} of {target}");
}

#[test]
fn same_seed_same_district_other_seed_other_district() {
    let a = format!("{:?}", district());
    let b = format!("{:?}", generate(2026, today(), DemoSize::default()));
    assert!(a == b, "same seed, different output");
    let c = format!("{:?}", generate(2027, today(), DemoSize::default()));
    assert_ne!(a, c);
}

#[test]
fn facilities_do_not_move_with_the_number_of_elders() {
    let small = generate(2026, today(), DemoSize { elders: 50 });
    assert_eq!(format!("{:?}", small.facilities), format!("{:?}", district().facilities));
}

#[test]
fn every_input_validates() {
    let d = district();
    let facility_ids: Vec<i64> = (1..=d.facilities.len() as i64).collect();
    let account_ids: Vec<i64> = (1..=d.accounts.len() as i64).collect();
    for (i, f) in d.facilities.iter().enumerate() {
        f.validate().unwrap_or_else(|e| panic!("facility {i} {f:?}: {e:?}"));
    }
    for (i, e) in d.elders.iter().enumerate() {
        let input = e.resolve(&account_ids, &facility_ids);
        let r = input.validate(d.today).unwrap_or_else(|err| panic!("elder {i} {input:?}: {err:?}"));
        assert_eq!(r.care_manager_id, Some(e.care_manager as i64 + 1));
        assert!((1..=3).contains(&r.contacts.len()));
    }
    for (i, a) in d.accounts.iter().enumerate() {
        let (acc, password) =
            a.resolve(&facility_ids).validate().unwrap_or_else(|err| panic!("account {i} {a:?}: {err:?}"));
        assert_eq!(password, DEMO_PASSWORD);
        assert_eq!(acc.facility_id.is_some(), acc.role == Role::StationStaff);
    }
    for (i, dev) in d.devices.iter().enumerate() {
        dev.input.validate().unwrap_or_else(|err| panic!("device {i} {dev:?}: {err:?}"));
    }
    assert_eq!(d.regions.len(), 221);
    assert!(Boundary::from_geojson(d.boundary_geojson).is_some());
}

#[test]
fn identifiers_are_unique() {
    let d = district();
    let unique = |what: &str, v: Vec<&str>| {
        let n = v.len();
        assert_eq!(v.into_iter().collect::<HashSet<_>>().len(), n, "duplicate {what}");
    };
    unique("id_number", d.elders.iter().map(|e| e.input.id_number.as_str()).collect());
    unique("username", d.accounts.iter().map(|a| a.input.username.as_str()).collect());
    unique("serial", d.devices.iter().map(|x| x.input.serial.as_str()).collect());
    unique("card_no", d.elders.iter().map(|e| e.input.card_no.as_str()).filter(|c| !c.is_empty()).collect());
    unique("facility name", d.facilities.iter().map(|f| f.name.as_str()).collect());
    // Staff phones are their own; a family account's phone is its elder's contact's.
    let staff: Vec<&str> =
        d.accounts.iter().filter(|a| a.elder.is_none()).map(|a| a.input.phone.as_str()).collect();
    unique("staff phone", staff);
    let a = &d.accounts;
    assert_eq!(
        [&a[0], &a[1], &a[2]].map(|x| x.input.username.as_str()),
        ["admin", "supervisor", "operator1"]
    );
}

#[test]
fn every_point_is_inside_the_real_outline() {
    let d = district();
    let b = Boundary::pingcheng();
    let inside = |lat: Option<f64>, lon: Option<f64>| b.contains(lat.unwrap(), lon.unwrap());
    assert!(d.facilities.iter().all(|f| inside(f.lat, f.lon)));
    assert!(d.elders.iter().all(|e| inside(e.input.lat, e.input.lon)));
    // Homes are within ~400 m of their home community's other homes' centre.
    let mut by_region: std::collections::BTreeMap<&str, Vec<(f64, f64)>> = Default::default();
    for e in &d.elders {
        by_region
            .entry(e.input.region_code.as_str())
            .or_default()
            .push((e.input.lat.unwrap(), e.input.lon.unwrap()));
    }
    for (region, homes) in by_region {
        let n = homes.len() as f64;
        let (lat, lon) = homes.iter().fold((0.0, 0.0), |a, h| (a.0 + h.0 / n, a.1 + h.1 / n));
        let centre = zhulao_domain::GeoPoint { lat, lon };
        for (la, lo) in homes {
            let dist = centre.distance_m(zhulao_domain::GeoPoint { lat: la, lon: lo });
            assert!(dist < 800.0, "{region}: home {dist:.0} m from the others");
        }
    }
}

#[test]
fn index_links_are_in_range_and_of_the_right_kind() {
    let d = district();
    let role = |i: usize| d.accounts[i].input.role.as_str();
    let kind = |i: usize| d.facilities[i].kind.as_str();
    for e in &d.elders {
        assert_eq!(role(e.care_manager), Role::CareManager.as_str());
        assert_eq!(kind(e.home_station), FacilityKind::Station.as_str());
        // The care manager works in the elder's street.
        assert!(e.input.region_code.starts_with(&d.accounts[e.care_manager].input.region_code[..9]));
    }
    for a in &d.accounts {
        if let Some(f) = a.facility {
            assert!(f < d.facilities.len() && a.input.region_code == d.facilities[f].region_code);
        }
        if let Some(e) = a.elder {
            let c = &d.elders[e].input.contacts[0];
            assert_eq!((&a.input.display_name, &a.input.phone), (&c.name, &c.phone));
        }
    }
    assert!(d.devices.iter().all(|x| x.elder.is_none_or(|e| e < d.elders.len())));
}

#[test]
fn distributions_match_the_seeds() {
    let d = district();
    let s = d.summary();
    println!("{s}");
    let n = s.elders as f64;
    let share =
        |m: &std::collections::BTreeMap<String, usize>, k: &str| m.get(k).copied().unwrap_or(0) as f64 / n;
    assert_eq!(s.elders, 2000);
    assert_eq!((s.streets, s.communities, s.villages), (18, 202, 47));
    let fac = |k: FacilityKind| s.facilities.get(k.as_str()).copied().unwrap_or(0);
    assert_eq!(fac(FacilityKind::Centre), 19);
    assert_eq!(fac(FacilityKind::Station), 40);
    assert_eq!(fac(FacilityKind::Canteen) + fac(FacilityKind::MealPoint), 15);
    assert_eq!(fac(FacilityKind::CentralKitchen), 1);
    assert_eq!(fac(FacilityKind::DayCare), 1);
    assert_eq!(fac(FacilityKind::NursingHome), 2);
    assert_eq!(fac(FacilityKind::HappinessCourtyard), 3);

    within("women", s.women as f64 / n, 0.52, 0.03);
    within("80+", s.aged_80_plus as f64 / n, 0.15, 0.025);
    within("alone", share(&s.living, "alone"), 0.18, 0.025);
    within("empty nest", share(&s.living, "empty_nest"), 0.40, 0.03);
    within("with children", share(&s.living, "with_children"), 0.38, 0.03);
    within("dibao", share(&s.economic, "dibao"), 0.06, 0.015);
    within("general", share(&s.economic, "general"), 0.85, 0.03);
    within("capability 0", share(&s.capability, "0"), 0.70, 0.03);
    within("capability 1", share(&s.capability, "1"), 0.16, 0.025);
    within("chronic", s.with_chronic_conditions as f64 / n, 0.60, 0.04);
    let cards = s.card_coverage_70_plus();
    assert!((0.90..=0.95).contains(&cards), "card coverage of 70+: {cards}");
    let devices = s.device_coverage_of_cards();
    assert!((0.65..=0.78).contains(&devices), "device coverage of card holders: {devices}");
    within("elders per care manager", s.elders_per_manager(), 20.0, 1.0);
    assert!(s.min_elders_per_manager >= 15 && s.max_elders_per_manager <= 25, "{s}");
    assert!(s.spare_devices >= 5);
    let acc = |r: Role| s.accounts.get(r.as_str()).copied().unwrap_or(0);
    assert_eq!((acc(Role::Admin), acc(Role::Supervisor), acc(Role::Operator)), (1, 1, 6));
    assert_eq!(acc(Role::Caregiver), 60);
    assert_eq!(acc(Role::CareManager), 100);
    assert_eq!(acc(Role::Family), 100);
    assert_eq!(acc(Role::StationStaff), 62);
}

#[test]
fn tiny_and_empty_districts_work() {
    for elders in [0, 1, 7] {
        let d = generate(1, today(), DemoSize { elders });
        assert_eq!(d.elders.len(), elders);
        // Every care manager has someone to look after (so tiny districts get one per street
        // that has elders, rather than n/20).
        let managers: HashSet<usize> =
            (0..d.accounts.len()).filter(|&i| d.accounts[i].input.role == "care_manager").collect();
        let managing: HashSet<usize> = d.elders.iter().map(|e| e.care_manager).collect();
        assert_eq!(managers, managing);
        assert!(managers.len() >= elders.div_ceil(20));
    }
}
