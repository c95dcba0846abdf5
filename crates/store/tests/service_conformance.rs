//! The home-care conformance suite: every story about the `ServiceStore` runs against SQLite
//! and PostgreSQL, like `conformance.rs`. PostgreSQL comes from `ZHULAO_TEST_PG`; in CI its
//! absence fails the suite.

use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use zhulao_domain::id_number::compose;
use zhulao_domain::{
    AccountInput, ElderInput, FacilityInput, Fen, GeoPoint, Region, RegionCode, RegionLevel,
};
use zhulao_services::catalogue::default_items;
use zhulao_services::meals::{
    Dish, Fulfilment, MealOrder, MealOrderState, MealRequest, MealSlot, Menu, MenuOption,
};
use zhulao_services::order::{
    ActorRole, NewOrder, Order, OrderActor as SvcActor, OrderChannel, OrderCommand, OrderPolicy, OrderState,
    Schedule,
};
use zhulao_services::quality::{
    ComplaintCase, ComplaintCommand, ComplaintKind, ComplaintPolicy, ComplaintState,
};
use zhulao_services::settlement::{RegionRules, RuleBook, SettleInput, settle};
use zhulao_services::timebank::{HourRecord, HourState, Posting, PostingKind, TimeAccount};
use zhulao_services::{Catalogue, MenuCode, PoolCode, RegionPrefix, RuleCode, ServiceCode};
use zhulao_store::{
    Actor, AuditFilter, ComplaintFilter, ManualClock, MealOrderFilter, NewPhoto, NewSettlement,
    OrderEventInput, OrderFilter, OrderScope, SettlementFilter, SettlementKind, Store, StoreError,
    VolunteerRow,
};

/// 2026-11-23 00:00 UTC (08:00 in Beijing).
const T0: i64 = 1_795_392_000_000;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
}

fn t(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap()
}

zhulao_store::on_both_backends!(
    start = T0;
    catalogue_items_and_prices,
    one_grab_wins_and_caregivers_are_not_double_booked,
    order_lists_scopes_timers_and_photos,
    settlement_guards_never_overdraw_a_card,
    settlement_guards_pools_and_caps,
    meals_one_per_slot_and_menus,
    time_bank_ledger_balances,
    complaints_are_versioned_and_scoped,
);

// ---------------------------------------------------------------------------------------
// Fixtures

const HOME: (f64, f64) = (40.0760, 113.3000);

struct World {
    village: RegionCode,
    station: i64,
    manager: i64,
    family: i64,
    caregivers: Vec<i64>,
    /// In the village, managed by `manager`, home station `station`, linked to `family`.
    elder: i64,
    /// Elsewhere, nobody's.
    other: i64,
}

fn code(s: &str) -> RegionCode {
    RegionCode::parse("r", s).unwrap()
}

fn region(c: &str, name: &str, level: RegionLevel) -> Region {
    let code = code(c);
    Region { parent: code.parent(), code, name: name.into(), level }
}

async fn account(s: &Arc<dyn Store>, username: &str, role: &str, skills: &[&str]) -> i64 {
    let (a, _) = AccountInput {
        username: username.into(),
        display_name: format!("测试{username}"),
        role: role.into(),
        password: "correct horse".into(),
        region_code: "140213050".into(),
        skills: skills.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
    .validate()
    .unwrap();
    s.create_account(&a, "$argon2id$fake", Actor::SYSTEM).await.unwrap().id
}

fn elder_input(seq: u16, village: &str, card_yuan: &str) -> ElderInput {
    let id = compose("140213", NaiveDate::from_ymd_opt(1941, 3, 15).unwrap(), seq).unwrap();
    ElderInput {
        id_number: id.as_str().into(),
        name: format!("王{seq}"),
        phone: format!("139{:08}", seq),
        address: format!("平城区柳港园{seq}号"),
        region_code: village.into(),
        lat: Some(HOME.0),
        lon: Some(HOME.1),
        living: "独居".into(),
        card_no: format!("C{seq:06}"),
        card_balance_yuan: card_yuan.into(),
        ..Default::default()
    }
}

async fn world(s: &Arc<dyn Store>, caregivers: usize) -> World {
    s.upsert_regions(
        &[
            region("140213", "平城区", RegionLevel::County),
            region("140213050", "新建南路街道", RegionLevel::Township),
            region("140213050002", "柳港园社区", RegionLevel::Village),
            region("140213051", "新建北路街道", RegionLevel::Township),
            region("140213051001", "建华社区", RegionLevel::Village),
        ],
        Actor::SYSTEM,
    )
    .await
    .unwrap();
    let station = s
        .create_facility(
            &FacilityInput {
                kind: "station".into(),
                name: "柳港园助老服务站".into(),
                region_code: "140213050002".into(),
                address: "柳港园小区1号".into(),
                lat: Some(HOME.0 + 0.001),
                lon: Some(HOME.1),
                ..Default::default()
            }
            .validate()
            .unwrap(),
            Actor::SYSTEM,
        )
        .await
        .unwrap()
        .id;
    let manager = account(s, "manager1", "care_manager", &[]).await;
    let family = account(s, "family1", "family", &[]).await;
    let mut ids = Vec::new();
    for i in 0..caregivers {
        let id =
            account(s, &format!("cg{i}"), "caregiver", &["bathing", "personal_care", "housekeeping"]).await;
        let at = GeoPoint::new(HOME.0 + 0.0005 * (i % 10) as f64, HOME.1).unwrap();
        s.report_caregiver(id, true, Some(at), Actor::account(id)).await.unwrap();
        ids.push(id);
    }
    let mut e = elder_input(1, "140213050002", "100").validate(today()).unwrap();
    e.care_manager_id = Some(manager);
    e.home_station_id = Some(station);
    let elder = s.create_elder(&e, Actor::SYSTEM).await.unwrap().id;
    s.link_family(family, elder, Actor::SYSTEM).await.unwrap();
    let other = s
        .create_elder(&elder_input(2, "140213051001", "0").validate(today()).unwrap(), Actor::SYSTEM)
        .await
        .unwrap()
        .id;
    s.seed_service_items(&default_items(), Actor::SYSTEM).await.unwrap();
    World { village: code("140213050002"), station, manager, family, caregivers: ids, elder, other }
}

const OPERATOR: SvcActor = SvcActor { role: ActorRole::Operator, id: 0 };

/// A new order for `elder` (bathing, 60 yuan, as soon as possible), published at `now`.
fn published(elder: i64, region: &RegionCode, now: DateTime<Utc>) -> Order {
    let catalogue = Catalogue::with_defaults();
    let quote = catalogue.quote(&ServiceCode::parse("i", "bathing").unwrap(), region).unwrap();
    let home = GeoPoint::new(HOME.0, HOME.1).unwrap();
    let placed_by = SvcActor::new(ActorRole::Elder, elder);
    let input = NewOrder::from_quote(
        &quote,
        elder,
        region.clone(),
        home,
        placed_by,
        OrderChannel::Phone,
        Schedule::Asap,
        "",
    );
    let mut o = Order::new(input, OrderPolicy::default(), now).unwrap();
    o.apply(&OrderCommand::Publish { by: placed_by }, now).unwrap();
    o
}

fn event(actor: Actor, action: &str) -> OrderEventInput {
    OrderEventInput { actor, actor_role: "test".into(), action: action.into(), detail: serde_json::json!({}) }
}

async fn caregiver_snapshot(s: &Arc<dyn Store>, id: i64) -> zhulao_services::Caregiver {
    let c = s.caregiver(id).await.unwrap();
    zhulao_services::Caregiver {
        id,
        skills: c.account.skills.iter().map(|s| zhulao_services::SkillCode::parse("s", s).unwrap()).collect(),
        on_duty: c.on_duty,
        position: c.position,
        commitments: c
            .commitments
            .iter()
            .map(|(a, b)| zhulao_services::Window { start: t(*a), end: t(*b) })
            .collect(),
        quality_milli: c.quality_milli,
    }
}

async fn audit_count(s: &Arc<dyn Store>, entity: &str, id: Option<String>) -> i64 {
    s.list_audit(&AuditFilter { entity: Some(entity.into()), entity_id: id, limit: 1, ..Default::default() })
        .await
        .unwrap()
        .total
}

// ---------------------------------------------------------------------------------------
// Stories

async fn catalogue_items_and_prices(s: Arc<dyn Store>, _clock: ManualClock) {
    let w = world(&s, 0).await;
    let items = default_items();
    assert_eq!(s.seed_service_items(&items, Actor::SYSTEM).await.unwrap(), 0, "seeding twice adds nothing");
    let c = s.catalogue().await.unwrap();
    assert_eq!(c.items().count(), items.len());
    let mut pet = items[0].clone();
    pet.code = ServiceCode::parse("c", "pet_care").unwrap();
    pet.builtin = false;
    s.create_service_item(&pet, Actor::SYSTEM).await.unwrap();
    match s.create_service_item(&pet, Actor::SYSTEM).await {
        Err(StoreError::Conflict(e)) => assert_eq!(e.field, "code"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    // Deactivate (never delete); the history keeps it.
    pet.active = false;
    pet.name_zh = "宠物照看".into();
    let updated = s.update_service_item(&pet, Actor::SYSTEM).await.unwrap();
    assert!(!updated.active);
    let bathing = ServiceCode::parse("c", "bathing").unwrap();
    let street = RegionPrefix::parse("p", "140213050").unwrap();
    s.set_service_price(
        &zhulao_services::RegionPrice {
            region_prefix: street.clone(),
            item: bathing.clone(),
            price: Fen(4500),
        },
        Actor::SYSTEM,
    )
    .await
    .unwrap();
    s.set_service_price(
        &zhulao_services::RegionPrice { region_prefix: street, item: bathing.clone(), price: Fen(4800) },
        Actor::SYSTEM,
    )
    .await
    .unwrap();
    let c = s.catalogue().await.unwrap();
    assert_eq!(c.price(&bathing, &w.village), Some(Fen(4800)));
    assert_eq!(c.price(&bathing, &code("140213051001")), Some(Fen(6000)));
    assert_eq!(c.quote(&pet.code, &w.village), None, "inactive items cannot be ordered");
    let unknown = zhulao_services::RegionPrice {
        region_prefix: RegionPrefix::everywhere(),
        item: ServiceCode::parse("c", "nope").unwrap(),
        price: Fen(1),
    };
    assert!(matches!(s.set_service_price(&unknown, Actor::SYSTEM).await, Err(StoreError::Invalid(_))));
    assert_eq!(audit_count(&s, "service_price", None).await, 2);
    assert_eq!(audit_count(&s, "service_item", Some("pet_care".into())).await, 2);
}

async fn one_grab_wins_and_caregivers_are_not_double_booked(s: Arc<dyn Store>, _clock: ManualClock) {
    let w = world(&s, 12).await;
    let now = t(T0);
    let o = published(w.elder, &w.village, now);
    let row = s
        .create_order(
            &o,
            Some(T0 + 60_000),
            &[event(Actor::SYSTEM, "create"), event(Actor::SYSTEM, "publish")],
        )
        .await
        .unwrap();
    assert_eq!(
        (row.order.state, row.version, row.home_station_id),
        (OrderState::Published, 1, Some(w.station))
    );
    // Twelve caregivers grab at once, each from the same version.
    let mut tasks = Vec::new();
    for &cg in &w.caregivers {
        let s = s.clone();
        let mut mine = row.order.clone();
        let snapshot = caregiver_snapshot(&s, cg).await;
        mine.apply(&OrderCommand::Grab { caregiver: snapshot }, now).unwrap();
        tasks.push(tokio::spawn(async move {
            s.save_order(
                row.id,
                1,
                OrderState::Published,
                &mine,
                None,
                &event(Actor::account(cg), "grab"),
                &[],
            )
            .await
            .map(|r| (cg, r))
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok((cg, r)) => winners.push((cg, r)),
            Err(StoreError::Stale { current }) => assert_eq!(current, 2),
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one grab wins");
    let (winner, saved) = &winners[0];
    assert_eq!(
        (saved.order.state, saved.order.caregiver, saved.version),
        (OrderState::Taken, Some(*winner), 2)
    );
    let events = s.order_events(row.id).await.unwrap();
    assert_eq!(events.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), ["create", "publish", "grab"]);
    assert_eq!((events[2].from_state.as_str(), events[2].to_state.as_str()), ("published", "taken"));
    assert_eq!(audit_count(&s, "order", Some(row.id.to_string())).await, 3);
    // The same version again is stale, whatever the state.
    let again = s
        .save_order(row.id, 1, OrderState::Published, &saved.order, None, &event(Actor::SYSTEM, "x"), &[])
        .await;
    assert!(matches!(again, Err(StoreError::Stale { current: 2 })));
    // The winner now holds this order: a second overlapping one is refused in the store.
    let o2 = published(w.elder, &w.village, now);
    let row2 = s.create_order(&o2, None, &[event(Actor::SYSTEM, "create")]).await.unwrap();
    let mut second = row2.order.clone();
    // A stale snapshot (taken before the first grab) passes the pure check …
    let stale_snapshot =
        zhulao_services::Caregiver { commitments: vec![], ..caregiver_snapshot(&s, *winner).await };
    second.apply(&OrderCommand::Grab { caregiver: stale_snapshot }, now).unwrap();
    // … and the store still refuses the double booking.
    match s
        .save_order(
            row2.id,
            1,
            OrderState::Published,
            &second,
            None,
            &event(Actor::account(*winner), "grab"),
            &[],
        )
        .await
    {
        Err(StoreError::Conflict(e)) => assert_eq!(e.code, "caregiver_busy"),
        other => panic!("expected caregiver_busy, got {other:?}"),
    }
    assert_eq!(s.order(row2.id).await.unwrap().order.state, OrderState::Published, "nothing written");
    let c = s.caregiver(*winner).await.unwrap();
    assert_eq!(c.commitments.len(), 1);
    // Caregivers near the home, on duty and fresh.
    let home = GeoPoint::new(HOME.0, HOME.1).unwrap();
    assert_eq!(s.caregivers_near(home, 2_000, T0 - 1, 100).await.unwrap().len(), 12);
    assert_eq!(s.caregivers_near(home, 2_000, T0 + 1, 100).await.unwrap().len(), 0, "stale positions");
    s.report_caregiver(w.caregivers[0], false, None, Actor::account(w.caregivers[0])).await.unwrap();
    assert_eq!(s.caregivers_near(home, 2_000, T0 - 1, 100).await.unwrap().len(), 11);
    assert_eq!(audit_count(&s, "caregiver", Some(w.caregivers[0].to_string())).await, 2, "on, then off duty");
    let far = GeoPoint::new(41.0, 114.0).unwrap();
    assert!(s.caregivers_near(far, 2_000, 0, 100).await.unwrap().is_empty());
}

async fn order_lists_scopes_timers_and_photos(s: Arc<dyn Store>, clock: ManualClock) {
    let w = world(&s, 1).await;
    let now = t(T0);
    let mine = s
        .create_order(
            &published(w.elder, &w.village, now),
            Some(T0 + 300_000),
            &[event(Actor::SYSTEM, "create")],
        )
        .await
        .unwrap();
    let other_region = code("140213051001");
    let theirs = s
        .create_order(
            &published(w.other, &other_region, now),
            Some(T0 + 600_000),
            &[event(Actor::SYSTEM, "create")],
        )
        .await
        .unwrap();
    let count = |scope: OrderScope| {
        let s = s.clone();
        async move { s.list_orders(&OrderFilter::scoped(scope)).await.unwrap().total }
    };
    assert_eq!(count(OrderScope::All).await, 2);
    assert_eq!(count(OrderScope::RegionPrefix("140213050".into())).await, 1);
    assert_eq!(count(OrderScope::Family(w.family)).await, 1);
    assert_eq!(count(OrderScope::CareManager(w.manager)).await, 1);
    assert_eq!(count(OrderScope::Station { facility: w.station, region_prefix: None }).await, 1);
    assert_eq!(
        count(OrderScope::Station { facility: w.station, region_prefix: Some("140213051".into()) }).await,
        2
    );
    assert_eq!(count(OrderScope::Caregiver(w.caregivers[0])).await, 0);
    let mut f = OrderFilter::scoped(OrderScope::All);
    f.states = vec![OrderState::Taken];
    assert_eq!(s.list_orders(&f).await.unwrap().total, 0);
    f.states = vec![OrderState::Published, OrderState::Taken];
    f.elder_id = Some(w.other);
    assert_eq!(s.list_orders(&f).await.unwrap().items[0].id, theirs.id);
    // On offer near a point.
    let home = GeoPoint::new(HOME.0, HOME.1).unwrap();
    assert_eq!(s.orders_on_offer_near(home, 1_000, 10).await.unwrap().len(), 2);
    // Timers: due in order, and a deferred one moves.
    assert!(s.due_orders(T0, 10).await.unwrap().is_empty());
    assert_eq!(s.next_order_due().await.unwrap(), Some(T0 + 300_000));
    clock.set_ms(T0 + 600_000);
    let due = s.due_orders(T0 + 600_000, 10).await.unwrap();
    assert_eq!(due.iter().map(|r| r.id).collect::<Vec<_>>(), [mine.id, theirs.id]);
    s.defer_order(mine.id, None, "test").await.unwrap();
    assert_eq!(s.next_order_due().await.unwrap(), Some(T0 + 600_000));
    assert!(matches!(s.defer_order(9999, None, "x").await, Err(StoreError::NotFound { .. })));
    // Photos: stored once per content hash, readable back.
    let photo = NewPhoto {
        reference: "abc123".into(),
        content_type: "image/png".into(),
        bytes: vec![0x89, b'P', b'N', b'G', 1, 2, 3],
    };
    s.add_order_photo(mine.id, &photo, Actor::account(w.caregivers[0])).await.unwrap();
    s.add_order_photo(mine.id, &photo, Actor::account(w.caregivers[0])).await.unwrap();
    let list = s.order_photos(mine.id).await.unwrap();
    assert_eq!((list.len(), list[0].size_bytes, list[0].caregiver_id), (1, 7, Some(w.caregivers[0])));
    let (meta, bytes) = s.order_photo(mine.id, "abc123").await.unwrap();
    assert_eq!((meta.content_type.as_str(), bytes), ("image/png", photo.bytes.clone()));
    assert!(matches!(s.order_photo(theirs.id, "abc123").await, Err(StoreError::NotFound { .. })));
}

/// Builds a completed, confirmed order for `elder` priced `price_fen`.
fn confirmed(
    elder: i64,
    region: &RegionCode,
    caregiver: zhulao_services::Caregiver,
    now: DateTime<Utc>,
    price_fen: i64,
) -> Order {
    let mut o = published(elder, region, now);
    o.price = Fen(price_fen);
    let home = GeoPoint::new(HOME.0, HOME.1).unwrap();
    let id = caregiver.id;
    o.apply(&OrderCommand::Grab { caregiver }, now).unwrap();
    o.apply(&OrderCommand::CheckIn { caregiver: id, position: home }, now).unwrap();
    let later = now + Duration::minutes(60);
    o.apply(
        &OrderCommand::CheckOut { caregiver: id, position: home, notes: String::new(), photos: vec![] },
        later,
    )
    .unwrap();
    o.apply(&OrderCommand::Confirm { by: OPERATOR }, later).unwrap();
    o
}

fn card_only() -> RuleBook {
    serde_json::from_value(serde_json::json!({ "regions": [{ "region_prefix": "", "rules": [
        { "code": "service_card", "name_zh": "服务卡支付", "source": "service_card", "share": { "kind": "full" } }
    ]}]}))
    .unwrap()
}

/// Settles `id` the way the service layer does: read, split, apply with guards; again from
/// fresh balances when a guard refuses.
async fn settle_with_retries(
    s: &Arc<dyn Store>,
    id: i64,
    book: &RuleBook,
) -> (zhulao_services::Split, usize) {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let row = s.order(id).await.unwrap();
        let elder = s.elder(row.order.elder).await.unwrap();
        let rules = book.rules_for(&row.order.region);
        let codes: Vec<RuleCode> = rules.iter().map(|r| r.code.clone()).collect();
        let pools: Vec<PoolCode> = rules.iter().filter_map(|r| r.draws_on().cloned()).collect();
        let balances = s.balances(elder.id, &pools, &codes).await.unwrap();
        let profile = zhulao_services::ElderProfile::from_record(elder.id, &elder.record, today(), []);
        let input = SettleInput::for_order(&row.order, profile, 480, balances);
        let st = settle(rules, &input).unwrap();
        let mut order = row.order.clone();
        order.apply(&OrderCommand::Settle { split: st.split.clone() }, t(T0)).unwrap();
        let rec = NewSettlement {
            kind: SettlementKind::Service,
            ref_id: id,
            elder_id: elder.id,
            provider_id: 0,
            caregiver_id: row.order.caregiver,
            region_code: row.order.region.as_str().into(),
            category: row.order.category,
            date: input.date,
            split: st.split.clone(),
            trace: st.trace.clone(),
            debits: st.debits.clone(),
            input: input.clone(),
        };
        match s
            .settle_order(
                id,
                row.version,
                row.order.state,
                &order,
                None,
                &event(Actor::SYSTEM, "settle"),
                &rec,
                &input.balances,
            )
            .await
        {
            Ok(_) => return (st.split, attempts),
            Err(StoreError::Stale { .. }) => continue,
            Err(e) => panic!("{e:?}"),
        }
    }
}

async fn settlement_guards_never_overdraw_a_card(s: Arc<dyn Store>, _clock: ManualClock) {
    let w = world(&s, 30).await;
    let now = t(T0);
    let book = card_only();
    // 30 orders of 7 yuan on a card holding 100 yuan, settled all at once.
    let mut ids = Vec::new();
    for &cg in &w.caregivers {
        let snapshot = caregiver_snapshot(&s, cg).await;
        let o = confirmed(w.elder, &w.village, snapshot, now, 700);
        ids.push(s.create_order(&o, None, &[event(Actor::SYSTEM, "create")]).await.unwrap().id);
    }
    let mut tasks = Vec::new();
    for id in ids.clone() {
        let (s, book) = (s.clone(), book.clone());
        tasks.push(tokio::spawn(async move { settle_with_retries(&s, id, &book).await }));
    }
    let mut card_paid = 0;
    let mut retried = 0;
    for t in tasks {
        let (split, attempts) = t.await.unwrap();
        assert_eq!(split.total(), Fen(700), "every split adds up to the price");
        assert!(split.lines.iter().all(|l| l.amount.0 > 0));
        card_paid += split.amount(zhulao_services::FundingSource::ServiceCard).0;
        retried += attempts - 1;
    }
    let card = s.elder(w.elder).await.unwrap().record.card_balance.0;
    assert_eq!(card_paid, 10_000 - card, "the card paid exactly what it lost");
    // 14 orders fit whole on 100 yuan, the 15th takes the last 2 yuan, the rest pay themselves.
    assert_eq!((card, card_paid), (0, 10_000), "the card was used up exactly, never overdrawn");
    eprintln!("{retried} settlements were computed from balances that had moved and were redone");
    for id in &ids {
        assert_eq!(s.order(*id).await.unwrap().order.state, OrderState::Settled);
    }
    let rows =
        s.settlements(&SettlementFilter { elder_id: Some(w.elder), ..Default::default() }).await.unwrap();
    assert_eq!(rows.len(), 30);
    assert_eq!(audit_count(&s, "settlement", None).await, 30);
    // Settling twice is refused.
    let again = settle_with_retries_once(&s, ids[0], &book).await;
    assert!(matches!(again, Err(StoreError::Stale { .. }) | Err(StoreError::Conflict(_))), "{again:?}");
}

async fn settle_with_retries_once(s: &Arc<dyn Store>, id: i64, book: &RuleBook) -> Result<(), StoreError> {
    let row = s.order(id).await.unwrap();
    let elder = s.elder(row.order.elder).await.unwrap();
    let rules = book.rules_for(&row.order.region);
    let balances = s.balances(elder.id, &[], &[]).await.unwrap();
    let profile = zhulao_services::ElderProfile::from_record(elder.id, &elder.record, today(), []);
    let mut input = SettleInput::for_order(&row.order, profile, 480, balances);
    input.price = Fen(700);
    let st = settle(rules, &input).unwrap();
    let rec = NewSettlement {
        kind: SettlementKind::Service,
        ref_id: id,
        elder_id: elder.id,
        provider_id: 0,
        caregiver_id: None,
        region_code: row.order.region.as_str().into(),
        category: row.order.category,
        date: input.date,
        split: st.split.clone(),
        trace: st.trace.clone(),
        debits: st.debits.clone(),
        input: input.clone(),
    };
    s.settle_order(
        id,
        row.version,
        OrderState::Completed,
        &row.order,
        None,
        &event(Actor::SYSTEM, "settle"),
        &rec,
        &input.balances,
    )
    .await
    .map(|_| ())
}

async fn settlement_guards_pools_and_caps(s: Arc<dyn Store>, _clock: ManualClock) {
    let w = world(&s, 3).await;
    let now = t(T0);
    let pool = PoolCode::parse("p", "charity").unwrap();
    s.fund_pool(&pool, "爱心基金", &RegionPrefix::parse("p", "140213").unwrap(), 1_000, Actor::SYSTEM)
        .await
        .unwrap();
    assert!(matches!(
        s.fund_pool(&pool, "爱心基金", &RegionPrefix::everywhere(), -1, Actor::SYSTEM).await,
        Err(StoreError::Invalid(_))
    ));
    let rules: RegionRules = serde_json::from_value(serde_json::json!({ "region_prefix": "140213", "rules": [
        { "code": "charity", "name_zh": "爱心", "source": "donation", "share": { "kind": "fixed", "fen": 600 },
          "caps": { "units_per_month": 2 }, "pool": "charity" },
        { "code": "service_card", "name_zh": "服务卡", "source": "service_card", "share": { "kind": "full" } }
    ]}))
    .unwrap();
    s.put_region_rules(&rules, Actor::SYSTEM).await.unwrap();
    let book = s.rule_book().await.unwrap();
    assert_eq!(book.regions.len(), 1);
    assert_eq!(book.rules_for(&w.village).len(), 2);
    // Two orders computed from the same balances: the pool holds 10 yuan, each wants 6.
    let mut orders = Vec::new();
    for &cg in &w.caregivers[..3] {
        let o = confirmed(w.elder, &w.village, caregiver_snapshot(&s, cg).await, now, 1_000);
        orders.push(s.create_order(&o, None, &[event(Actor::SYSTEM, "create")]).await.unwrap());
    }
    let codes = vec![RuleCode::parse("r", "charity").unwrap(), RuleCode::parse("r", "service_card").unwrap()];
    let read = s.balances(w.elder, std::slice::from_ref(&pool), &codes).await.unwrap();
    assert_eq!(read.pools[&pool], Fen(1_000));
    let settle_from = |row: zhulao_store::OrderRow, read: zhulao_services::Balances| {
        let (s, book, w_elder, village, station) =
            (s.clone(), book.clone(), w.elder, w.village.clone(), w.station);
        async move {
            let elder = s.elder(w_elder).await.unwrap();
            let profile = zhulao_services::ElderProfile::from_record(elder.id, &elder.record, today(), []);
            let input = SettleInput::for_order(&row.order, profile, 480, read.clone());
            let st = settle(book.rules_for(&village), &input).unwrap();
            let mut o = row.order.clone();
            o.apply(&OrderCommand::Settle { split: st.split.clone() }, t(T0)).unwrap();
            let rec = NewSettlement {
                kind: SettlementKind::Service,
                ref_id: row.id,
                elder_id: w_elder,
                provider_id: station,
                caregiver_id: row.order.caregiver,
                region_code: village.as_str().into(),
                category: row.order.category,
                date: input.date,
                split: st.split,
                trace: st.trace,
                debits: st.debits,
                input: input.clone(),
            };
            s.settle_order(
                row.id,
                row.version,
                OrderState::Completed,
                &o,
                None,
                &event(Actor::SYSTEM, "settle"),
                &rec,
                &read,
            )
            .await
        }
    };
    let mut outcomes = Vec::new();
    for row in &orders[..2] {
        let elder = s.elder(w.elder).await.unwrap();
        let profile = zhulao_services::ElderProfile::from_record(elder.id, &elder.record, today(), []);
        let input = SettleInput::for_order(&row.order, profile, 480, read.clone());
        let st = settle(book.rules_for(&w.village), &input).unwrap();
        let mut o = row.order.clone();
        o.apply(&OrderCommand::Settle { split: st.split.clone() }, now).unwrap();
        let rec = NewSettlement {
            kind: SettlementKind::Service,
            ref_id: row.id,
            elder_id: w.elder,
            provider_id: w.station,
            caregiver_id: row.order.caregiver,
            region_code: w.village.as_str().into(),
            category: row.order.category,
            date: input.date,
            split: st.split,
            trace: st.trace,
            debits: st.debits,
            input: input.clone(),
        };
        outcomes.push(
            s.settle_order(
                row.id,
                row.version,
                OrderState::Completed,
                &o,
                None,
                &event(Actor::SYSTEM, "settle"),
                &rec,
                &read,
            )
            .await,
        );
    }
    assert!(outcomes[0].is_ok());
    assert!(matches!(outcomes[1], Err(StoreError::Stale { .. })), "the stale split is refused");
    // Nothing of the refused settlement was written.
    assert_eq!(s.order(orders[1].id).await.unwrap().order.state, OrderState::Completed);
    let after = s.balances(w.elder, std::slice::from_ref(&pool), &codes).await.unwrap();
    assert_eq!(after.pools[&pool], Fen(400));
    assert_eq!(after.card, Fen(10_000 - 400));
    let usage = after.usage[&codes[0]];
    assert_eq!((usage.month_units, usage.month_fen), (1, Fen(600)));
    assert_eq!(s.settlements(&SettlementFilter::default()).await.unwrap().len(), 1);
    let pools = s.pools().await.unwrap();
    assert_eq!((pools.len(), pools[0].balance_fen), (1, 400));
    // With the pool topped up, two more from the same balances: the cap of two services a
    // month lets one through and refuses the other.
    s.fund_pool(&pool, "爱心基金", &RegionPrefix::parse("p", "140213").unwrap(), 10_000, Actor::SYSTEM)
        .await
        .unwrap();
    let read = s.balances(w.elder, std::slice::from_ref(&pool), &codes).await.unwrap();
    let rows = (s.order(orders[1].id).await.unwrap(), s.order(orders[2].id).await.unwrap());
    let first = settle_from(rows.0, read.clone()).await;
    let second = settle_from(rows.1, read).await;
    assert!(first.is_ok(), "{first:?}");
    assert!(matches!(second, Err(StoreError::Stale { .. })), "the cap guard refuses: {second:?}");
    let usage = s.balances(w.elder, &[], &codes).await.unwrap().usage[&codes[0]];
    assert_eq!(usage.month_units, 2, "never more than the cap");
}

async fn meals_one_per_slot_and_menus(s: Arc<dyn Store>, clock: ManualClock) {
    let w = world(&s, 0).await;
    let tomorrow = today() + Duration::days(1);
    let menu = Menu {
        canteen: w.station,
        date: tomorrow,
        slot: MealSlot::Lunch,
        options: vec![MenuOption {
            code: MenuCode::parse("m", "set_a").unwrap(),
            name_zh: "A套餐".into(),
            dishes: vec![Dish {
                code: MenuCode::parse("m", "tofu").unwrap(),
                name_zh: "家常豆腐".into(),
                tags: vec![],
            }],
            price: Fen(800),
        }],
    };
    let row = s.put_menu(&menu, Actor::SYSTEM).await.unwrap();
    assert_eq!(row.version, 1);
    assert_eq!(s.put_menu(&menu, Actor::SYSTEM).await.unwrap().version, 2);
    assert_eq!(s.menu(w.station, tomorrow, MealSlot::Lunch).await.unwrap().menu, menu);
    assert!(matches!(s.menu(w.station, tomorrow, MealSlot::Dinner).await, Err(StoreError::NotFound { .. })));
    assert_eq!(s.menus(None, today(), tomorrow).await.unwrap().len(), 1);
    let by = SvcActor::new(ActorRole::Family, w.family);
    let req = MealRequest {
        elder: w.elder,
        option: menu.options[0].code.clone(),
        fulfilment: Fulfilment::DineIn,
        delivery: None,
        by,
    };
    let meal = MealOrder::place(&menu, &req, None, t(clock_now(&clock)), &Default::default()).unwrap();
    let placed = s.create_meal_order(&meal, w.village.as_str(), Actor::account(w.family)).await.unwrap();
    match s.create_meal_order(&meal, w.village.as_str(), Actor::account(w.family)).await {
        Err(StoreError::Conflict(e)) => assert_eq!(e.code, "meal_already_ordered"),
        other => panic!("expected one meal per slot, got {other:?}"),
    }
    match s.delete_menu(w.station, tomorrow, MealSlot::Lunch, Actor::SYSTEM).await {
        Err(StoreError::Conflict(e)) => assert_eq!(e.code, "menu_has_orders"),
        other => panic!("{other:?}"),
    }
    let mut cancelled = placed.order.clone();
    cancelled.cancel(by, t(clock_now(&clock)), &Default::default()).unwrap();
    s.save_meal_order(placed.id, placed.version, &cancelled, "cancel", Actor::account(w.family))
        .await
        .unwrap();
    assert!(matches!(
        s.save_meal_order(placed.id, placed.version, &cancelled, "cancel", Actor::SYSTEM).await,
        Err(StoreError::Stale { .. })
    ));
    // Cancelled meals do not count: ordering again works.
    s.create_meal_order(&meal, w.village.as_str(), Actor::account(w.family)).await.unwrap();
    let mut f = MealOrderFilter::scoped(OrderScope::Family(w.family));
    f.from = Some(tomorrow);
    assert_eq!(s.list_meal_orders(&f).await.unwrap().total, 2);
    f.state = Some(MealOrderState::Placed);
    assert_eq!(s.list_meal_orders(&f).await.unwrap().total, 1);
    let f = MealOrderFilter::scoped(OrderScope::CareManager(w.manager + 1000));
    assert_eq!(s.list_meal_orders(&f).await.unwrap().total, 0);
    let mut empty = menu.clone();
    empty.slot = MealSlot::Dinner;
    s.put_menu(&empty, Actor::SYSTEM).await.unwrap();
    s.delete_menu(w.station, tomorrow, MealSlot::Dinner, Actor::SYSTEM).await.unwrap();
    assert_eq!(audit_count(&s, "meal_order", None).await, 3);
    assert_eq!(audit_count(&s, "menu", None).await, 4);
}

fn clock_now(c: &ManualClock) -> i64 {
    use zhulao_store::Clock;
    c.now_ms()
}

async fn time_bank_ledger_balances(s: Arc<dyn Store>, _clock: ManualClock) {
    let w = world(&s, 0).await;
    let volunteer = w.other;
    let not_yet = HourRecord::record(
        0,
        volunteer,
        w.elder,
        90,
        t(T0 - 3_600_000),
        zhulao_services::ServiceCategory::Visit,
        "陪聊",
        t(T0),
    )
    .unwrap()
    .0;
    assert!(matches!(s.record_hours(&not_yet, Actor::SYSTEM).await, Err(StoreError::Invalid(_))));
    s.put_volunteer(
        &VolunteerRow {
            elder_id: volunteer,
            skills: vec!["escort".into()],
            capacity: 2,
            active: true,
            joined_at: 0,
            paired: 0,
        },
        Actor::SYSTEM,
    )
    .await
    .unwrap();
    let rec = s.record_hours(&not_yet, Actor::SYSTEM).await.unwrap();
    let b = s.time_balance(volunteer).await.unwrap();
    assert_eq!((b.banked_min, b.pending_min), (0, 90));
    let mut r = rec.record.clone();
    let posting = r.confirm(rec.id, SvcActor::new(ActorRole::Station, 1), t(T0)).unwrap();
    let decided = s.decide_hours(rec.id, rec.version, &r, &posting, Actor::SYSTEM).await.unwrap();
    assert_eq!(decided.record.state, HourState::Confirmed);
    assert!(matches!(
        s.decide_hours(rec.id, rec.version, &r, &posting, Actor::SYSTEM).await,
        Err(StoreError::Stale { .. })
    ));
    let b = s.time_balance(volunteer).await.unwrap();
    assert_eq!((b.banked_min, b.pending_min), (90, 0));
    let redeem = |m: u32| Posting {
        at: t(T0),
        kind: PostingKind::Redeem,
        debit: TimeAccount::Volunteer { id: volunteer },
        credit: TimeAccount::Redeemed,
        minutes: m,
        reference: None,
    };
    match s.post_minutes(&redeem(120), Actor::SYSTEM).await {
        Err(StoreError::Conflict(e)) => assert_eq!(e.code, "timebank_insufficient"),
        other => panic!("{other:?}"),
    }
    s.post_minutes(&redeem(60), Actor::SYSTEM).await.unwrap();
    assert_eq!(s.time_balance(volunteer).await.unwrap().banked_min, 30);
    assert_eq!(s.time_trial_balance().await.unwrap(), 0, "double entry: the balances sum to zero");
    let kinds: Vec<PostingKind> = s.time_postings(volunteer).await.unwrap().iter().map(|p| p.kind).collect();
    assert_eq!(kinds, [PostingKind::Record, PostingKind::Confirm, PostingKind::Redeem]);
    let pair = s.create_pair(volunteer, w.elder, Actor::SYSTEM).await.unwrap();
    assert!(matches!(s.create_pair(volunteer, w.elder, Actor::SYSTEM).await, Err(StoreError::Conflict(_))));
    assert_eq!(s.volunteer(volunteer).await.unwrap().paired, 1);
    assert_eq!(s.volunteers(Some("140213051")).await.unwrap().len(), 1);
    assert!(s.volunteers(Some("140213050")).await.unwrap().is_empty());
    s.end_pair(pair.id, Actor::SYSTEM).await.unwrap();
    assert!(s.pairs(Some(volunteer)).await.unwrap().is_empty());
}

async fn complaints_are_versioned_and_scoped(s: Arc<dyn Store>, _clock: ManualClock) {
    let w = world(&s, 1).await;
    let now = t(T0);
    let by = SvcActor::new(ActorRole::Family, w.family);
    let (case, _) = ComplaintCase::open(
        None,
        w.elder,
        Some(w.caregivers[0]),
        ComplaintKind::Attitude,
        "态度不好",
        by,
        ComplaintPolicy::default(),
        now,
    )
    .unwrap();
    let due = case.next_due().map(|(t, _)| t.timestamp_millis());
    let row = s.create_complaint(&case, w.village.as_str(), due, Actor::account(w.family)).await.unwrap();
    assert_eq!(row.case.state, ComplaintState::Open);
    let mut c = row.case.clone();
    c.apply(&ComplaintCommand::Resolve { by: OPERATOR, upheld: true, resolution: "已约谈".into() }, now)
        .unwrap();
    let saved = s.save_complaint(row.id, row.version, &c, None, "resolve", Actor::SYSTEM).await.unwrap();
    assert_eq!((saved.version, saved.case.upheld), (2, Some(true)));
    assert!(matches!(
        s.save_complaint(row.id, 1, &c, None, "resolve", Actor::SYSTEM).await,
        Err(StoreError::Stale { .. })
    ));
    let q = s.quality_inputs(w.caregivers[0], 0).await.unwrap();
    assert_eq!(q.upheld_complaints, 1);
    let list = |scope| {
        let s = s.clone();
        async move {
            s.list_complaints(&ComplaintFilter {
                scope,
                state: None,
                caregiver_id: None,
                order_id: None,
                offset: 0,
                limit: 10,
            })
            .await
            .unwrap()
            .total
        }
    };
    assert_eq!(list(OrderScope::Family(w.family)).await, 1);
    assert_eq!(list(OrderScope::Caregiver(w.caregivers[0])).await, 1);
    assert_eq!(list(OrderScope::RegionPrefix("140213051".into())).await, 0);
    assert!(s.due_complaints(T0 + 200 * 3_600_000, 10).await.unwrap().is_empty(), "resolved without a timer");
    assert_eq!(audit_count(&s, "complaint", Some(row.id.to_string())).await, 2);
}
