//! Shared fixtures for the integration tests: a clock, a home in Zhengzhou's Erqi district,
//! positions at a given offset from it, caregivers and orders.
#![allow(dead_code)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use zhulao_domain::{GeoPoint, RegionCode};
use zhulao_services::dispatch::Caregiver;
use zhulao_services::order::{ActorRole, NewOrder, Order, OrderActor, OrderChannel, OrderPolicy, Schedule};
use zhulao_services::{Catalogue, ServiceCode, SkillCode};

/// 2026-05-11 09:00 in Beijing.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 11, 1, 0, 0).unwrap()
}

pub fn mins(m: i64) -> Duration {
    Duration::minutes(m)
}

pub fn secs(s: i64) -> Duration {
    Duration::seconds(s)
}

pub fn home() -> GeoPoint {
    GeoPoint::new(34.7466, 113.6253).unwrap()
}

/// A point `north_m` metres north and `east_m` metres east of the home.
pub fn offset(north_m: f64, east_m: f64) -> GeoPoint {
    let h = home();
    let m_per_deg = 6_371_008.8 * std::f64::consts::PI / 180.0;
    GeoPoint::new(h.lat + north_m / m_per_deg, h.lon + east_m / (m_per_deg * h.lat.to_radians().cos()))
        .unwrap()
}

pub fn region() -> RegionCode {
    RegionCode::parse("region", "410103001001").unwrap()
}

pub fn skill(s: &str) -> SkillCode {
    SkillCode::parse("skill", s).unwrap()
}

pub const ELDER: OrderActor = OrderActor { role: ActorRole::Elder, id: 1 };
pub const FAMILY: OrderActor = OrderActor { role: ActorRole::Family, id: 21 };
pub const OPERATOR: OrderActor = OrderActor { role: ActorRole::Operator, id: 31 };
pub const STATION: OrderActor = OrderActor { role: ActorRole::Station, id: 41 };

/// A caregiver on duty `north_m` metres north of the home, able to bathe elders.
pub fn caregiver(id: i64, north_m: f64) -> Caregiver {
    Caregiver {
        id,
        skills: vec![skill("bathing"), skill("personal_care"), skill("housekeeping")],
        on_duty: true,
        position: Some(offset(north_m, 0.0)),
        commitments: vec![],
        quality_milli: 4_500,
    }
}

/// An order for 助浴 (60 minutes, 60 yuan), created by the elder at `now`.
pub fn order_at(schedule: Schedule, now: DateTime<Utc>) -> Order {
    let catalogue = Catalogue::with_defaults();
    let code = ServiceCode::parse("item", "bathing").unwrap();
    let quote = catalogue.quote(&code, &region()).unwrap();
    let input =
        NewOrder::from_quote(&quote, 1, region(), home(), ELDER, OrderChannel::App, schedule, "请带浴凳");
    Order::new(input, OrderPolicy::default(), now).unwrap()
}

/// A published order "as soon as possible", created and published at `t0()`.
pub fn published() -> Order {
    let mut o = order_at(Schedule::Asap, t0());
    o.apply(&zhulao_services::OrderCommand::Publish { by: ELDER }, t0()).unwrap();
    o
}
