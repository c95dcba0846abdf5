//! Meals: the cut-off on an injected clock (to the second), ordering and cancelling, the
//! price after subsidies, the kitchen's production list, delivery rounds and counts.

mod common;

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use common::{ELDER, OPERATOR, STATION, home, offset};
use proptest::prelude::*;
use zhulao_domain::{Fen, GeoPoint, RegionCode};
use zhulao_services::meals::{
    DeliveryTo, Dish, DishTag, Fulfilment, MealError, MealOrder, MealOrderState, MealPolicy, MealRequest,
    MealSlot, Menu, MenuOption, Stop, delivery_lists, meal_counts, plan_route, production_list, quote,
};
use zhulao_services::settlement::{Balances, FundingSource, RuleBook};
use zhulao_services::{ActorRole, ElderCategory, ElderProfile, MenuCode, OrderActor, PoolCode, Refusal};

fn code(s: &str) -> MenuCode {
    MenuCode::parse("code", s).unwrap()
}

fn dish(c: &str, name: &str, tags: &[DishTag]) -> Dish {
    Dish { code: code(c), name_zh: name.into(), tags: tags.to_vec() }
}

fn tomorrow() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 5, 12).unwrap()
}

/// Beijing time on 2026-05-11.
fn beijing(h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 11, h, m, s).unwrap() - chrono::Duration::hours(8)
}

fn menu(canteen: i64, date: NaiveDate) -> Menu {
    use DishTag::*;
    Menu {
        canteen,
        date,
        slot: MealSlot::Lunch,
        options: vec![
            MenuOption {
                code: code("set_a"),
                name_zh: "A套餐".into(),
                dishes: vec![
                    dish("braised_tofu", "家常豆腐", &[LowSalt, Soft]),
                    dish("rice", "米饭", &[LowSalt, Soft, Vegetarian]),
                ],
                price: Fen(1050),
            },
            MenuOption {
                code: code("set_b"),
                name_zh: "B套餐（清真）".into(),
                dishes: vec![
                    dish("beef_noodles", "牛肉面", &[Halal]),
                    dish("rice", "米饭", &[LowSalt, Soft, Vegetarian]),
                ],
                price: Fen(1200),
            },
        ],
    }
}

fn req(elder: i64, option: &str, fulfilment: Fulfilment, delivery: Option<DeliveryTo>) -> MealRequest {
    MealRequest {
        elder,
        option: code(option),
        fulfilment,
        delivery,
        by: OrderActor::new(ActorRole::Elder, elder),
    }
}

fn place_at(now: DateTime<Utc>) -> Result<MealOrder, MealError> {
    MealOrder::place(
        &menu(7, tomorrow()),
        &req(1, "set_a", Fulfilment::DineIn, None),
        None,
        now,
        &MealPolicy::default(),
    )
}

#[test]
fn tomorrows_lunch_until_six_the_evening_before() {
    let p = MealPolicy::default();
    assert_eq!(p.cutoff_for(tomorrow()), Utc.with_ymd_and_hms(2026, 5, 11, 10, 0, 0).unwrap());
    assert!(place_at(beijing(17, 59, 59)).is_ok());
    let e = place_at(beijing(18, 0, 0)).unwrap_err();
    assert!(matches!(e, MealError::TooLate { .. }));
    assert_eq!(e.code(), "meal_too_late");
    assert_eq!(e.zh(), "2026-05-12的订餐已于5月11日 18:00截止");
    assert!(e.en().contains("2026-05-11 18:00"));
    // Early in the morning of the day before is fine; in the small hours UTC is still the
    // previous day, but Beijing's date is what counts.
    assert!(place_at(beijing(0, 30, 0)).is_ok());
    // Today's lunch closed yesterday; a week ahead is the limit.
    let today = MealOrder::place(
        &menu(7, NaiveDate::from_ymd_opt(2026, 5, 11).unwrap()),
        &req(1, "set_a", Fulfilment::DineIn, None),
        None,
        beijing(7, 0, 0),
        &p,
    );
    assert!(matches!(today, Err(MealError::TooLate { .. })));
    let far = menu(7, NaiveDate::from_ymd_opt(2026, 5, 19).unwrap());
    assert!(matches!(
        MealOrder::place(&far, &req(1, "set_a", Fulfilment::DineIn, None), None, beijing(9, 0, 0), &p),
        Err(MealError::TooFarAhead { max_days: 7 })
    ));
    let week = menu(7, NaiveDate::from_ymd_opt(2026, 5, 18).unwrap());
    assert!(
        MealOrder::place(&week, &req(1, "set_a", Fulfilment::DineIn, None), None, beijing(9, 0, 0), &p)
            .is_ok()
    );
}

#[test]
fn policies_validate() {
    assert_eq!(MealPolicy::default().validate(), Ok(()));
    let bad = MealPolicy { utc_offset_min: 20 * 60, days_before: 31, ..MealPolicy::default() };
    assert_eq!(bad.validate().unwrap_err().len(), 3);
    // Absurd values never panic: the offset counts as UTC, periods are capped.
    let absurd =
        MealPolicy { utc_offset_min: i32::MAX, days_before: u32::MAX, max_days_ahead: u32::MAX, ..bad };
    assert!(place_at(beijing(9, 0, 0)).is_ok());
    let _ = MealOrder::place(
        &menu(7, tomorrow()),
        &req(1, "set_a", Fulfilment::DineIn, None),
        None,
        beijing(9, 0, 0),
        &absurd,
    );
}

#[test]
fn other_cut_off_rules() {
    // Same-day ordering until 09:30, in a canteen on UTC.
    let p = MealPolicy {
        cutoff: NaiveTime::from_hms_opt(9, 30, 0).unwrap(),
        days_before: 0,
        utc_offset_min: 0,
        ..MealPolicy::default()
    };
    let m = menu(7, tomorrow());
    let at = |h, mi, s| Utc.with_ymd_and_hms(2026, 5, 12, h, mi, s).unwrap();
    let r = req(1, "set_a", Fulfilment::DineIn, None);
    assert!(MealOrder::place(&m, &r, None, at(9, 29, 59), &p).is_ok());
    assert!(MealOrder::place(&m, &r, None, at(9, 30, 0), &p).is_err());
}

#[test]
fn cancelling_before_the_cut_off_only() {
    let p = MealPolicy::default();
    let mut o = place_at(beijing(9, 0, 0)).unwrap();
    let mut late = o.clone();
    assert!(matches!(late.cancel(ELDER, beijing(18, 0, 0), &p), Err(MealError::TooLate { .. })));
    assert_eq!(late.state, MealOrderState::Placed);
    assert!(matches!(
        o.cancel(OrderActor::new(ActorRole::Caregiver, 3), beijing(12, 0, 0), &p),
        Err(MealError::NotPermitted { .. })
    ));
    o.cancel(ELDER, beijing(17, 59, 59), &p).unwrap();
    assert_eq!(o.state, MealOrderState::Cancelled);
    assert!(matches!(o.cancel(STATION, beijing(17, 59, 59), &p), Err(MealError::WrongState { .. })));
}

#[test]
fn orders_must_fit_the_menu() {
    let p = MealPolicy::default();
    let m = menu(7, tomorrow());
    let now = beijing(9, 0, 0);
    assert_eq!(
        MealOrder::place(&m, &req(1, "set_z", Fulfilment::DineIn, None), None, now, &p),
        Err(MealError::NotOnMenu)
    );
    assert_eq!(
        MealOrder::place(&m, &req(1, "set_a", Fulfilment::Delivery, None), None, now, &p),
        Err(MealError::NoDeliveryAddress)
    );
    let mut by_caregiver = req(1, "set_a", Fulfilment::DineIn, None);
    by_caregiver.by = OrderActor::new(ActorRole::Caregiver, 3);
    assert!(matches!(
        MealOrder::place(&m, &by_caregiver, None, now, &p),
        Err(MealError::NotPermitted { .. })
    ));
    let mut by_operator =
        req(1, "set_b", Fulfilment::Delivery, Some(DeliveryTo { station: 5, position: home() }));
    by_operator.by = OPERATOR;
    let o = MealOrder::place(&m, &by_operator, None, now, &p).unwrap();
    assert_eq!((o.price, o.canteen, o.slot), (Fen(1200), 7, MealSlot::Lunch));
    // A dine-in order keeps no delivery address.
    let dine = req(1, "set_a", Fulfilment::DineIn, Some(DeliveryTo { station: 5, position: home() }));
    assert_eq!(MealOrder::place(&m, &dine, None, now, &p).unwrap().delivery, None);
}

#[test]
fn serving_delivering_and_missing_on_the_day() {
    let p = MealPolicy::default();
    let lunch = |h| Utc.with_ymd_and_hms(2026, 5, 12, h, 0, 0).unwrap() - chrono::Duration::hours(8);
    let mut dine = place_at(beijing(9, 0, 0)).unwrap();
    assert_eq!(dine.finish(MealOrderState::Served, beijing(20, 0, 0), &p), Err(MealError::NotToday));
    assert_eq!(dine.finish(MealOrderState::Delivered, lunch(12), &p), Err(MealError::WrongFulfilment));
    assert!(!dine.due_for_settlement(&p));
    dine.finish(MealOrderState::Served, lunch(12), &p).unwrap();
    assert!(dine.due_for_settlement(&p));
    assert!(matches!(dine.finish(MealOrderState::Missed, lunch(13), &p), Err(MealError::WrongState { .. })));
    let mut missed = place_at(beijing(9, 0, 0)).unwrap();
    missed.finish(MealOrderState::Missed, lunch(14), &p).unwrap();
    assert!(missed.due_for_settlement(&p));
    assert!(!missed.due_for_settlement(&MealPolicy { charge_missed: false, ..p }));
}

fn erqi_rules() -> RuleBook {
    serde_json::from_str(include_str!("../rules/example.json")).unwrap()
}

fn profile(age: u8, cats: &[ElderCategory]) -> ElderProfile {
    ElderProfile {
        elder: 1,
        region: RegionCode::parse("r", "410103001001").unwrap(),
        age,
        categories: cats.iter().copied().collect(),
    }
}

#[test]
fn the_price_after_subsidies_and_the_charity_list() {
    let p = MealPolicy::default();
    let rules = erqi_rules();
    let q = quote(&rules, &profile(72, &[]), Fen(1050), tomorrow(), &Balances::default()).unwrap();
    assert_eq!(q.split.own_payment(), Fen(750));
    let mut pools = Balances::default();
    pools.pools.insert(PoolCode::parse("p", "erqi_charity_canteen").unwrap(), Fen(50_000));
    let free =
        quote(&rules, &profile(72, &[ElderCategory::CharityMeal]), Fen(1050), tomorrow(), &pools).unwrap();
    assert_eq!(free.split.amount(FundingSource::Donation), Fen(1050));

    let m = menu(7, tomorrow());
    let mut o = MealOrder::place(
        &m,
        &req(1, "set_a", Fulfilment::DineIn, None),
        Some(q.split.clone()),
        beijing(9, 0, 0),
        &p,
    )
    .unwrap();
    assert_eq!(o.quote.as_ref().unwrap().own_payment(), Fen(750));
    // Settled only once served, and only with a split of the meal's price.
    assert!(o.record_settlement(q.split.clone(), &p).is_err());
    o.finish(MealOrderState::Served, Utc.with_ymd_and_hms(2026, 5, 12, 4, 0, 0).unwrap(), &p).unwrap();
    let wrong = quote(&rules, &profile(72, &[]), Fen(1200), tomorrow(), &Balances::default()).unwrap();
    assert_eq!(o.record_settlement(wrong.split, &p), Err(MealError::SplitMismatch));
    o.record_settlement(q.split, &p).unwrap();
    assert!(!o.due_for_settlement(&p));
}

fn placed(elder: i64, canteen: i64, option: &str, delivery: Option<(i64, GeoPoint)>) -> MealOrder {
    let f = if delivery.is_some() { Fulfilment::Delivery } else { Fulfilment::DineIn };
    let to = delivery.map(|(station, position)| DeliveryTo { station, position });
    MealOrder::place(
        &menu(canteen, tomorrow()),
        &req(elder, option, f, to),
        None,
        beijing(9, 0, 0),
        &MealPolicy::default(),
    )
    .unwrap()
}

#[test]
fn the_kitchens_production_list() {
    let menus = vec![menu(7, tomorrow()), menu(8, tomorrow())];
    let mut orders = vec![
        placed(1, 7, "set_a", None),
        placed(2, 7, "set_a", Some((5, home()))),
        placed(3, 7, "set_b", None),
        placed(4, 8, "set_b", Some((6, home()))),
        placed(5, 8, "set_a", None),
    ];
    let mut cancelled = placed(6, 7, "set_a", None);
    cancelled.cancel(ELDER, beijing(10, 0, 0), &MealPolicy::default()).unwrap();
    orders.push(cancelled);
    let mut stale = placed(9, 8, "set_a", None);
    stale.option = code("set_gone");
    orders.push(stale);
    let mut other_day = placed(10, 7, "set_a", None);
    other_day.date = NaiveDate::from_ymd_opt(2026, 5, 13).unwrap();
    orders.push(other_day);

    let list = production_list(&menus, &orders, tomorrow(), MealSlot::Lunch);
    assert_eq!(list.total_meals, 5);
    let c7 = &list.canteens[&7];
    assert_eq!((c7.meals, c7.dine_in, c7.delivery), (3, 2, 1));
    assert_eq!(c7.by_option[&code("set_a")], 2);
    assert_eq!(c7.by_dish[&code("rice")].portions, 3);
    assert_eq!(c7.by_dish[&code("braised_tofu")].portions, 2);
    assert_eq!(c7.by_dish[&code("beef_noodles")].name_zh, "牛肉面");
    assert_eq!(list.canteens[&8].unmatched, 1);
    assert_eq!(list.total_by_dish[&code("rice")], 5);
    assert_eq!(list.total_by_dish.values().sum::<u32>(), 10);
    assert!(production_list(&menus, &orders, tomorrow(), MealSlot::Dinner).canteens.is_empty());
}

#[test]
fn menus_validate_and_sets_share_tags() {
    let m = menu(7, tomorrow());
    m.validate().unwrap();
    assert_eq!(m.options[0].tags().into_iter().collect::<Vec<_>>(), vec![DishTag::LowSalt, DishTag::Soft]);
    assert!(m.options[1].tags().is_empty());
    let mut bad = m.clone();
    bad.options[1].code = code("set_a");
    bad.options[1].dishes[1].name_zh = "馒头".into();
    bad.options[0].price = Fen(-1);
    let fields: Vec<String> = bad.validate().unwrap_err().into_iter().map(|e| e.field).collect();
    assert_eq!(fields, ["options[0].price", "options[1].code", "options[1].dishes"]);
    assert!(Menu { options: vec![], ..m }.validate().is_err());
}

fn stop(order: i64, north_m: f64, east_m: f64) -> Stop {
    Stop { order, elder: order * 10, position: offset(north_m, east_m) }
}

#[test]
fn a_round_goes_door_to_door_without_crossing() {
    // Doors along a street: visited in street order whatever the input order.
    let stops = vec![stop(3, 0.0, 900.0), stop(1, 0.0, 300.0), stop(4, 0.0, 1_200.0), stop(2, 0.0, 600.0)];
    let r = plan_route(home(), stops);
    assert_eq!(r.stops.iter().map(|s| s.order).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
    assert!((1_195..=1_205).contains(&r.distance_m), "{}", r.distance_m);
    // Nearest neighbour alone zigzags 1 → 2 → 3 → 4 (100 + 250 + 550 + 1,100 m); 2-opt
    // finishes one side of the street before the other (1,500 m).
    let stops = vec![stop(1, 0.0, 100.0), stop(2, 0.0, -150.0), stop(3, 0.0, 400.0), stop(4, 0.0, -700.0)];
    let r = plan_route(home(), stops);
    assert!((1_495..=1_505).contains(&r.distance_m), "{}", r.distance_m);
    assert_eq!(r.stops.iter().map(|s| s.order).collect::<Vec<_>>()[2..], [2, 4]);
    assert_eq!(plan_route(home(), vec![]).stops, vec![]);
}

#[test]
fn each_station_gets_its_own_round() {
    let orders = [
        (101, placed(1, 7, "set_a", Some((5, offset(500.0, 0.0))))),
        (102, placed(2, 7, "set_a", Some((5, offset(200.0, 0.0))))),
        (103, placed(3, 7, "set_b", Some((6, offset(-300.0, 0.0))))),
        (104, placed(4, 7, "set_b", None)),
    ];
    let stations = BTreeMap::from([(5, home())]);
    let lists = delivery_lists(&stations, orders.iter().map(|(id, o)| (*id, o)), tomorrow(), MealSlot::Lunch);
    assert_eq!(lists.len(), 2);
    assert_eq!(lists[&5].stops.iter().map(|s| s.order).collect::<Vec<_>>(), vec![102, 101]);
    // Station 6 is unknown: its round starts at its only door.
    assert_eq!(lists[&6].stops.len(), 1);
    assert_eq!(lists[&6].distance_m, 0);
}

#[test]
fn meals_are_counted_by_outcome() {
    let p = MealPolicy::default();
    let noon = Utc.with_ymd_and_hms(2026, 5, 12, 4, 0, 0).unwrap();
    let rules = erqi_rules();
    let mut pools = Balances::default();
    pools.pools.insert(PoolCode::parse("p", "erqi_charity_canteen").unwrap(), Fen(50_000));
    let mut a = placed(1, 7, "set_a", None);
    a.finish(MealOrderState::Served, noon, &p).unwrap();
    let free = quote(&rules, &profile(70, &[ElderCategory::CharityMeal]), a.price, a.date, &pools).unwrap();
    a.record_settlement(free.split, &p).unwrap();
    let mut b = placed(2, 7, "set_a", Some((5, home())));
    b.finish(MealOrderState::Delivered, noon, &p).unwrap();
    let paid = quote(&rules, &profile(70, &[]), b.price, b.date, &Balances::default()).unwrap();
    b.record_settlement(paid.split, &p).unwrap();
    let mut c = placed(3, 8, "set_b", None);
    c.finish(MealOrderState::Missed, noon, &p).unwrap();
    let mut d = placed(4, 8, "set_b", None);
    d.cancel(ELDER, beijing(9, 0, 0), &p).unwrap();
    let e = placed(5, 8, "set_b", None);
    let (per, all) = meal_counts(&[a, b, c, d, e], tomorrow(), tomorrow());
    assert_eq!(
        (all.ordered, all.cancelled, all.served, all.delivered, all.missed, all.free),
        (4, 1, 1, 1, 1, 1)
    );
    assert_eq!(all.eaten(), 2);
    assert_eq!(per[&7].eaten(), 2);
    assert_eq!(per[&8].ordered, 2);
}

proptest! {
    #[test]
    fn rounds_visit_every_door_once_in_a_deterministic_order(
        doors in proptest::collection::vec((-3_000.0f64..3_000.0, -3_000.0f64..3_000.0), 0..25),
    ) {
        let stops: Vec<Stop> = doors.iter().enumerate().map(|(i, (n, e))| stop(i as i64, *n, *e)).collect();
        let r = plan_route(home(), stops.clone());
        let mut seen: Vec<i64> = r.stops.iter().map(|s| s.order).collect();
        seen.sort();
        prop_assert_eq!(seen, (0..stops.len() as i64).collect::<Vec<_>>());
        let mut reversed = stops.clone();
        reversed.reverse();
        prop_assert_eq!(&plan_route(home(), reversed), &r);
        // Never longer than visiting the doors in their id order.
        let naive: f64 = std::iter::once(home())
            .chain(stops.iter().map(|s| s.position))
            .collect::<Vec<_>>()
            .windows(2)
            .map(|w| w[0].distance_m(w[1]))
            .sum();
        prop_assert!(f64::from(r.distance_m) <= naive.round() + 1.0);
    }
}
