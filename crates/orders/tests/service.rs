//! The service layer on a real store (SQLite and PostgreSQL) with an injected clock: the
//! dispatch timers (widen, escalate, auto-assign, expire) firing from the database — also
//! after a "restart" — the confirmation window settling an order, the meal cut-off to the
//! second, and concurrent settlements on one service card.

use std::sync::Arc;

use chrono::NaiveDate;
use zhulao_domain::id_number::compose;
use zhulao_domain::{AccountInput, ElderInput, Fen, GeoPoint, Region, RegionCode, RegionLevel};
use zhulao_orders::{CreateOrder, Orders, PlaceMeal, ServiceError, ServicesConfig};
use zhulao_response::LiveHub;
use zhulao_services::meals::{Dish, Fulfilment, MealOrderState, MealSlot, Menu, MenuOption};
use zhulao_services::order::{
    ActorRole, OrderAction, OrderActor, OrderChannel, OrderCommand, OrderState, Schedule,
};
use zhulao_services::{FundingSource, MenuCode, ServiceCode};
use zhulao_store::{AuditFilter, ManualClock, Store};

/// 2026-11-23 00:00 UTC, 08:00 in Beijing.
const T0: i64 = 1_795_392_000_000;
const MIN: i64 = 60_000;
const HOME: (f64, f64) = (40.07, 113.30);

zhulao_store::on_both_backends!(
    start = T0;
    dispatch_timers_fire_from_the_database,
    an_unconfirmed_order_is_confirmed_and_settled_after_a_day,
    meal_orders_close_at_six_the_evening_before,
    concurrent_settlements_never_overdraw_a_card,
);

struct World {
    orders: Arc<Orders>,
    elder: i64,
    operator: OrderActor,
}

fn service(s: &Arc<dyn Store>, clock: &ManualClock) -> Arc<Orders> {
    Orders::with_clock(s.clone(), Arc::new(clock.clone()), ServicesConfig::default(), LiveHub::default())
}

async fn world(s: &Arc<dyn Store>, clock: &ManualClock) -> World {
    let region = |c: &str, n: &str, l| {
        let code = RegionCode::parse("r", c).unwrap();
        Region { parent: code.parent(), code, name: n.into(), level: l }
    };
    s.upsert_regions(
        &[
            region("140213", "平城区", RegionLevel::County),
            region("140213050", "新建南路街道", RegionLevel::Township),
            region("140213050002", "柳港园社区", RegionLevel::Village),
        ],
        zhulao_store::Actor::SYSTEM,
    )
    .await
    .unwrap();
    let id = compose("140213", NaiveDate::from_ymd_opt(1941, 3, 15).unwrap(), 1).unwrap();
    let elder = ElderInput {
        id_number: id.as_str().into(),
        name: "王秀英".into(),
        address: "平城区柳港园1号".into(),
        region_code: "140213050002".into(),
        lat: Some(HOME.0),
        lon: Some(HOME.1),
        living: "独居".into(),
        card_no: "C000001".into(),
        card_balance_yuan: "100".into(),
        ..Default::default()
    }
    .validate(NaiveDate::from_ymd_opt(2026, 11, 23).unwrap())
    .unwrap();
    let elder = s.create_elder(&elder, zhulao_store::Actor::SYSTEM).await.unwrap().id;
    let orders = service(s, clock);
    orders.ensure_catalogue().await.unwrap();
    let operator = account(s, "op", "operator", &[]).await;
    World { orders, elder, operator: OrderActor::new(ActorRole::Operator, operator) }
}

async fn account(s: &Arc<dyn Store>, name: &str, role: &str, skills: &[&str]) -> i64 {
    let (a, _) = AccountInput {
        username: name.into(),
        display_name: name.into(),
        role: role.into(),
        password: "correct horse".into(),
        region_code: "140213".into(),
        skills: skills.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
    .validate()
    .unwrap();
    s.create_account(&a, "$argon2id$x", zhulao_store::Actor::SYSTEM).await.unwrap().id
}

/// A caregiver able to bathe elders, on duty `north_m` north of the home now.
async fn caregiver(w: &World, s: &Arc<dyn Store>, name: &str, north_m: f64) -> i64 {
    let id = account(s, name, "caregiver", &["bathing", "personal_care"]).await;
    let at = GeoPoint::new(HOME.0 + north_m / 111_200.0, HOME.1).unwrap();
    w.orders.report_caregiver(id, true, Some(at)).await.unwrap();
    id
}

fn request(w: &World, item: &str) -> CreateOrder {
    CreateOrder {
        elder_id: w.elder,
        item: ServiceCode::parse("item", item).unwrap(),
        schedule: Schedule::Asap,
        channel: OrderChannel::Phone,
        note: String::new(),
        publish: true,
    }
}

fn actions(o: &zhulao_services::Order) -> Vec<OrderAction> {
    o.history.iter().map(|h| h.action).collect()
}

async fn dispatch_timers_fire_from_the_database(s: Arc<dyn Store>, clock: ManualClock) {
    let w = world(&s, &clock).await;
    let mut feed = w.orders.hub().subscribe();
    let a = w.orders.create(w.operator, request(&w, "bathing")).await.unwrap();
    let b = w.orders.create(w.operator, request(&w, "bathing")).await.unwrap();
    assert_eq!(
        s.next_order_due().await.unwrap(),
        Some(T0 + 5 * MIN),
        "the first ring widens after 5 minutes"
    );
    assert_eq!(w.orders.tick().await.unwrap(), 0, "nothing due yet");
    // 5 and 15 minutes: the offer widens to 5 and 10 km.
    clock.set_ms(T0 + 5 * MIN);
    assert_eq!(w.orders.tick().await.unwrap(), 2);
    clock.set_ms(T0 + 15 * MIN);
    w.orders.tick().await.unwrap();
    let row = s.order(a.id).await.unwrap();
    assert_eq!(
        row.order.offer_radius(chrono::DateTime::from_timestamp_millis(T0 + 15 * MIN).unwrap()),
        10_000
    );
    assert_eq!(
        actions(&row.order),
        [OrderAction::Create, OrderAction::Publish, OrderAction::Widen, OrderAction::Widen]
    );
    // A caregiver 8 km away comes on duty (inside the 10 km ring, outside the first two).
    let cg = caregiver(&w, &s, "cg8km", 8_000.0).await;
    // 20 minutes: nobody took them; the station and the operators are told.
    while feed.try_recv().is_ok() {}
    clock.set_ms(T0 + 20 * MIN);
    w.orders.tick().await.unwrap();
    let mut told_operators = 0;
    while let Ok(e) = feed.try_recv() {
        if e.topic == "order_notice"
            && e.data["notice"] == "unanswered"
            && e.data["to"]["kind"] == "operators"
        {
            told_operators += 1;
        }
    }
    assert_eq!(told_operators, 2);
    assert!(s.order(a.id).await.unwrap().order.dispatch.escalated);
    // A restart: a new service over the same database picks the timers up.
    drop(w.orders);
    let orders = service(&s, &clock);
    clock.set_ms(T0 + 30 * MIN);
    orders.tick().await.unwrap();
    let (ra, rb) = (s.order(a.id).await.unwrap(), s.order(b.id).await.unwrap());
    let assigned: Vec<_> =
        [&ra, &rb].iter().filter(|r| r.order.caregiver == Some(cg)).map(|r| r.id).collect();
    assert_eq!(assigned.len(), 1, "auto-assigned once; the other order overlaps their agenda");
    let (won, lost) = if ra.order.caregiver == Some(cg) { (ra, rb) } else { (rb, ra) };
    assert_eq!(
        (won.order.state, won.order.assigned_by.map(|a| a.role)),
        (OrderState::Taken, Some(ActorRole::System))
    );
    assert!(actions(&won.order).ends_with(&[OrderAction::AutoAssign, OrderAction::Assign]));
    // The other keeps failing to find anyone (retried at 40 and 50 minutes), then expires
    // four hours after publication.
    for m in [40, 50, 100, 239] {
        clock.set_ms(T0 + m * MIN);
        orders.tick().await.unwrap();
    }
    let lost = s.order(lost.id).await.unwrap();
    assert_eq!(lost.order.dispatch.auto_assign_attempts, 3);
    assert_eq!(lost.order.state, OrderState::Published);
    clock.set_ms(T0 + 240 * MIN);
    orders.tick().await.unwrap();
    let lost = s.order(lost.id).await.unwrap();
    assert_eq!((lost.order.state, lost.next_due_at), (OrderState::Expired, None));
    // The holder of the other order was due at +90 minutes: the late alert fired at +105.
    let won = s.order(won.id).await.unwrap();
    assert!(won.order.late_alerted);
    // Every timer's step is in the audit log.
    let timers = s
        .list_audit(&AuditFilter {
            entity: Some("order".into()),
            entity_id: Some(lost.id.to_string()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .items
        .iter()
        .filter(|e| e.action == "timer")
        .count();
    assert_eq!(timers, 7, "widen ×2, escalate, auto-assign ×3, expire");
}

async fn an_unconfirmed_order_is_confirmed_and_settled_after_a_day(s: Arc<dyn Store>, clock: ManualClock) {
    let w = world(&s, &clock).await;
    let cg = caregiver(&w, &s, "cg", 500.0).await;
    let o = w.orders.create(w.operator, request(&w, "bathing")).await.unwrap();
    w.orders.grab(o.id, cg).await.unwrap();
    let home = GeoPoint::new(HOME.0, HOME.1).unwrap();
    let me = OrderActor::new(ActorRole::Caregiver, cg);
    w.orders.act(o.id, me, OrderCommand::CheckIn { caregiver: cg, position: home }).await.unwrap();
    clock.advance_ms(60 * MIN);
    let out = OrderCommand::CheckOut { caregiver: cg, position: home, notes: String::new(), photos: vec![] };
    let done = w.orders.act(o.id, me, out).await.unwrap();
    assert_eq!(done.order.state, OrderState::Completed);
    assert_eq!(done.next_due_at, Some(T0 + 60 * MIN + 24 * 60 * MIN), "confirmed for them after 24 hours");
    clock.advance_ms(24 * 60 * MIN - 1);
    w.orders.tick().await.unwrap();
    assert_eq!(s.order(o.id).await.unwrap().order.state, OrderState::Completed);
    clock.advance_ms(1);
    w.orders.tick().await.unwrap();
    let row = s.order(o.id).await.unwrap();
    assert_eq!(row.order.state, OrderState::Settled);
    let split = row.order.settlement.unwrap();
    // 85 years old: the high-age subsidy, then the card.
    assert_eq!(split.amount(FundingSource::Subsidy), Fen(500));
    assert_eq!(split.amount(FundingSource::ServiceCard), Fen(5500));
    assert_eq!(s.elder(w.elder).await.unwrap().record.card_balance, Fen(4500));
    assert_eq!(row.next_due_at, None);
}

fn menu(canteen: i64, date: NaiveDate) -> Menu {
    Menu {
        canteen,
        date,
        slot: MealSlot::Lunch,
        options: vec![MenuOption {
            code: MenuCode::parse("m", "set_a").unwrap(),
            name_zh: "软烂套餐".into(),
            dishes: vec![Dish {
                code: MenuCode::parse("m", "stew").unwrap(),
                name_zh: "炖豆腐".into(),
                tags: vec![],
            }],
            price: Fen(800),
        }],
    }
}

async fn meal_orders_close_at_six_the_evening_before(s: Arc<dyn Store>, clock: ManualClock) {
    let w = world(&s, &clock).await;
    let canteen = s
        .create_facility(
            &zhulao_domain::FacilityInput {
                kind: "canteen".into(),
                name: "柳港园社区食堂".into(),
                region_code: "140213050002".into(),
                address: "柳港园小区2号".into(),
                lat: Some(HOME.0),
                lon: Some(HOME.1 + 0.002),
                ..Default::default()
            }
            .validate()
            .unwrap(),
            zhulao_store::Actor::SYSTEM,
        )
        .await
        .unwrap()
        .id;
    let tomorrow = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
    w.orders.put_menu(&menu(canteen, tomorrow), w.operator).await.unwrap();
    let place = |elder| PlaceMeal {
        elder_id: elder,
        canteen_id: canteen,
        date: tomorrow,
        slot: MealSlot::Lunch,
        option: MenuCode::parse("m", "set_a").unwrap(),
        fulfilment: Fulfilment::DineIn,
    };
    // 17:59:59 in Beijing on the 23rd: still open. The estimate shows what the elder pays.
    clock.set_ms(T0 + 10 * 60 * MIN - 1_000);
    let placed = w.orders.place_meal(w.operator, place(w.elder)).await.unwrap();
    let quote = placed.order.quote.clone().unwrap();
    assert_eq!(
        (quote.amount(FundingSource::Subsidy), quote.amount(FundingSource::ServiceCard)),
        (Fen(500), Fen(300))
    );
    // 18:00:00: closed, for ordering and for cancelling.
    clock.set_ms(T0 + 10 * 60 * MIN);
    let second = zhulao_domain::ElderInput {
        id_number: compose("140213", NaiveDate::from_ymd_opt(1950, 1, 2).unwrap(), 7)
            .unwrap()
            .as_str()
            .into(),
        name: "李桂兰".into(),
        address: "平城区柳港园9号".into(),
        region_code: "140213050002".into(),
        living: "独居".into(),
        ..Default::default()
    }
    .validate(NaiveDate::from_ymd_opt(2026, 11, 23).unwrap())
    .unwrap();
    let second = s.create_elder(&second, zhulao_store::Actor::SYSTEM).await.unwrap().id;
    match w.orders.place_meal(w.operator, place(second)).await {
        Err(ServiceError::Refused { code, zh, .. }) => {
            assert_eq!(code, "meal_too_late");
            assert!(zh.contains("18:00"), "{zh}");
        }
        other => panic!("expected meal_too_late, got {other:?}"),
    }
    match w.orders.cancel_meal(placed.id, w.operator).await {
        Err(ServiceError::Refused { code, .. }) => assert_eq!(code, "meal_too_late"),
        other => panic!("{other:?}"),
    }
    // The kitchen's list for tomorrow has the one meal.
    let list = w.orders.production_list(tomorrow, MealSlot::Lunch, None).await.unwrap();
    assert_eq!((list.total_meals, list.canteens[&canteen].dine_in), (1, 1));
    // Not served before the day; served on the day, and settled.
    assert!(w.orders.finish_meal(placed.id, MealOrderState::Served, w.operator).await.is_err());
    clock.set_ms(T0 + 28 * 60 * MIN);
    let served = w.orders.finish_meal(placed.id, MealOrderState::Served, w.operator).await.unwrap();
    assert_eq!(served.order.state, MealOrderState::Served);
    assert_eq!(served.order.settlement.unwrap().total(), Fen(800));
    assert_eq!(s.elder(w.elder).await.unwrap().record.card_balance, Fen(10_000 - 300));
    let (_, all) = w.orders.meal_counts(tomorrow, tomorrow, None).await.unwrap();
    assert_eq!((all.ordered, all.served), (1, 1));
    let audited: Vec<String> = s
        .list_audit(&AuditFilter {
            entity: Some("meal_order".into()),
            entity_id: Some(placed.id.to_string()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(audited, ["served", "order_meal"], "every state change audited (newest first)");
}

async fn concurrent_settlements_never_overdraw_a_card(s: Arc<dyn Store>, clock: ManualClock) {
    let w = world(&s, &clock).await;
    let cg = caregiver(&w, &s, "cg", 300.0).await;
    let me = OrderActor::new(ActorRole::Caregiver, cg);
    let home = GeoPoint::new(HOME.0, HOME.1).unwrap();
    // Twelve completed companionship visits (30 yuan: 5 from the high-age subsidy, 25 from
    // the card while it lasts) on a card holding 100 yuan.
    let mut ids = Vec::new();
    for _ in 0..12 {
        let o = w.orders.create(w.operator, request(&w, "companionship")).await.unwrap();
        w.orders.grab(o.id, cg).await.unwrap();
        w.orders.act(o.id, me, OrderCommand::CheckIn { caregiver: cg, position: home }).await.unwrap();
        let out =
            OrderCommand::CheckOut { caregiver: cg, position: home, notes: String::new(), photos: vec![] };
        w.orders.act(o.id, me, out).await.unwrap();
        ids.push(o.id);
    }
    clock.advance_ms(MIN);
    let mut tasks = Vec::new();
    for id in ids.clone() {
        let (orders, by) = (w.orders.clone(), w.operator);
        tasks.push(tokio::spawn(async move { orders.act(id, by, OrderCommand::Confirm { by }).await }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let mut card_paid = 0;
    for id in &ids {
        let o = s.order(*id).await.unwrap().order;
        assert_eq!(o.state, OrderState::Settled, "settled right after confirmation");
        let split = o.settlement.unwrap();
        assert_eq!(split.total(), Fen(3000));
        card_paid += split.amount(FundingSource::ServiceCard).0;
    }
    let card = s.elder(w.elder).await.unwrap().record.card_balance.0;
    assert_eq!((card_paid, card), (10_000, 0), "four visits on the card, exactly; never overdrawn");
}
