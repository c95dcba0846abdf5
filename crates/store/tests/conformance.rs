//! The storage conformance suite: every story runs against SQLite and PostgreSQL.
//! PostgreSQL comes from `ZHULAO_TEST_PG`; in CI its absence fails the suite.

use std::sync::Arc;

use chrono::NaiveDate;
use zhulao_alarms::{
    AlarmCase, AlarmKind, AlarmLocation, AlarmRow, AlarmSource, Command, LocationSource, NewAlarm,
    NewAlarmEvent, Policy, RaiseDecision, Raised, Stage, Timer,
};
use zhulao_domain::elder::ContactInput;
use zhulao_domain::id_number::compose;
use zhulao_domain::{
    AccountInput, DeviceInput, ElderInput, ElderRecord, ElderScope, ElderStatus, FacilityInput,
    LivingArrangement, Region, RegionCode, RegionLevel,
};
use zhulao_store::{
    Actor, AlarmFilter, AuditFilter, DeviceFilter, DeviceState, ElderFilter, FacilityFilter, ManualClock,
    Store, StoreError,
};

/// 2026-11-23 00:00 UTC.
const T0: i64 = 1_795_392_000_000;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
}

zhulao_store::on_both_backends!(
    start = T0;
    regions_form_a_tree,
    facilities_are_audited_and_never_deleted,
    elders_validate_references_and_conflicts,
    elder_updates_are_versioned_and_audited,
    monitoring_settings_are_versioned_audited_and_kept,
    actions_on_devices_are_audited,
    elder_filters_and_scopes,
    status_changes_keep_history_and_release_devices,
    import_is_all_or_nothing_and_idempotent,
    accounts_and_sessions,
    devices_bind_with_history,
    statistics,
    alarms_are_idempotent_and_merge_repeats,
    alarm_steps_are_versioned_and_timed,
    device_state_upserts_keep_known_values,
    wearer_states_follow_scope_and_state,
);

// ---------------------------------------------------------------------------------------
// Fixtures

struct Fixture {
    village: RegionCode,
    other_village: RegionCode,
    station: i64,
    manager: i64,
}

fn code(s: &str) -> RegionCode {
    RegionCode::parse("r", s).unwrap()
}

fn region(c: &str, name: &str, level: RegionLevel) -> Region {
    let code = code(c);
    Region { parent: code.parent(), code, name: name.into(), level }
}

async fn fixture(s: &Arc<dyn Store>) -> Fixture {
    s.upsert_regions(
        &[
            region("140213050002", "柳港园社区", RegionLevel::Village),
            region("140213", "平城区", RegionLevel::County),
            region("140213050", "新建南路街道", RegionLevel::Township),
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
                kind: "助老服务站".into(),
                name: "柳港园助老服务站".into(),
                region_code: "140213050002".into(),
                address: "柳港园小区1号".into(),
                lat: Some(40.07),
                lon: Some(113.30),
                ..Default::default()
            }
            .validate()
            .unwrap(),
            Actor::SYSTEM,
        )
        .await
        .unwrap();
    let manager = account(s, "manager1", "care_manager", None).await;
    Fixture {
        village: code("140213050002"),
        other_village: code("140213051001"),
        station: station.id,
        manager,
    }
}

async fn account(s: &Arc<dyn Store>, username: &str, role: &str, facility: Option<i64>) -> i64 {
    let (a, _) = AccountInput {
        username: username.into(),
        display_name: format!("测试{username}"),
        role: role.into(),
        password: "correct horse".into(),
        region_code: "140213".into(),
        facility_id: facility,
        ..Default::default()
    }
    .validate()
    .unwrap();
    s.create_account(&a, "$argon2id$fake", Actor::SYSTEM).await.unwrap().id
}

fn elder_input(seq: u16, birth_year: i32, village: &RegionCode) -> ElderInput {
    let id = compose("140213", NaiveDate::from_ymd_opt(birth_year, 3, 15).unwrap(), seq).unwrap();
    ElderInput {
        id_number: id.as_str().into(),
        name: format!("王{seq}"),
        phone: format!("139{:08}", seq),
        address: format!("平城区柳港园{seq}号"),
        region_code: village.as_str().into(),
        living: "独居".into(),
        contacts: vec![ContactInput {
            name: "王明".into(),
            relation: "儿子".into(),
            phone: "13800000001".into(),
        }],
        ..Default::default()
    }
}

fn record(seq: u16, birth_year: i32, village: &RegionCode) -> ElderRecord {
    elder_input(seq, birth_year, village).validate(today()).unwrap()
}

async fn audit_count(s: &Arc<dyn Store>, entity: &str) -> i64 {
    s.list_audit(&AuditFilter { entity: Some(entity.into()), limit: 1, ..Default::default() })
        .await
        .unwrap()
        .total
}

fn assert_invalid<T: std::fmt::Debug>(r: Result<T, StoreError>, field: &str) {
    match r {
        Err(StoreError::Invalid(e)) => assert_eq!(e.field, field),
        other => panic!("expected Invalid({field}), got {other:?}"),
    }
}

fn assert_conflict<T: std::fmt::Debug>(r: Result<T, StoreError>, field: &str) {
    match r {
        Err(StoreError::Conflict(e)) => assert_eq!(e.field, field),
        other => panic!("expected Conflict({field}), got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// Stories

async fn regions_form_a_tree(s: Arc<dyn Store>, _clock: ManualClock) {
    fixture(&s).await;
    let top = s.list_regions(None).await.unwrap();
    assert_eq!(top.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["平城区"]);
    let streets = s.list_regions(Some(&code("140213"))).await.unwrap();
    assert_eq!(streets.len(), 2);
    assert_eq!(s.region(&code("140213050002")).await.unwrap().parent, Some(code("140213050")));
    assert!(matches!(s.region(&code("140213099")).await, Err(StoreError::NotFound { .. })));
    // A village under a township that does not exist is refused.
    let orphan = region("140213099001", "无主社区", RegionLevel::Village);
    assert_invalid(s.upsert_regions(&[orphan], Actor::SYSTEM).await, "parent");
    // Renaming is an upsert, not a duplicate.
    s.upsert_regions(&[region("140213050", "新建南路街道办事处", RegionLevel::Township)], Actor::SYSTEM)
        .await
        .unwrap();
    assert_eq!(s.region(&code("140213050")).await.unwrap().name, "新建南路街道办事处");
    assert_eq!(audit_count(&s, "region").await, 6);
}

async fn facilities_are_audited_and_never_deleted(s: Arc<dyn Store>, clock: ManualClock) {
    let fx = fixture(&s).await;
    let mut f = s.facility(fx.station).await.unwrap();
    assert_eq!(f.record.service_radius_m, 1000);
    clock.advance_ms(1000);
    let mut rec = f.record.clone();
    rec.beds = Some(12);
    f = s.update_facility(f.id, &rec, Actor::account(fx.manager)).await.unwrap();
    assert_eq!(f.record.beds, Some(12));
    assert_eq!(f.updated_at, T0 + 1000);
    f = s.set_facility_active(f.id, false, Actor::SYSTEM).await.unwrap();
    assert!(!f.active);
    let listed = s
        .list_facilities(&FacilityFilter {
            region_prefix: Some("140213050".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.total, 1);
    let none = s
        .list_facilities(&FacilityFilter { active: Some(true), limit: 10, ..Default::default() })
        .await
        .unwrap();
    assert_eq!(none.total, 0);
    let log = s
        .list_audit(&AuditFilter { entity: Some("facility".into()), limit: 10, ..Default::default() })
        .await
        .unwrap();
    let actions: Vec<&str> = log.items.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["deactivate", "update", "create"]);
    assert_eq!(log.items[1].actor_id, Some(fx.manager));
    assert_eq!(log.items[1].before.as_ref().unwrap()["beds"], serde_json::Value::Null);
    assert_eq!(log.items[1].after.as_ref().unwrap()["beds"], 12);
    // Unknown region.
    let mut bad = rec.clone();
    bad.region = code("140213077001");
    assert_invalid(s.create_facility(&bad, Actor::SYSTEM).await, "region_code");
    assert!(matches!(s.facility(9999).await, Err(StoreError::NotFound { entity: "facility" })));
}

async fn elders_validate_references_and_conflicts(s: Arc<dyn Store>, _clock: ManualClock) {
    let fx = fixture(&s).await;
    let mut rec = record(1, 1945, &fx.village);
    rec.care_manager_id = Some(fx.manager);
    rec.home_station_id = Some(fx.station);
    let e = s.create_elder(&rec, Actor::SYSTEM).await.unwrap();
    assert_eq!(e.record, rec);
    assert_eq!(e.status, ElderStatus::Active);
    assert_eq!(s.elder(e.id).await.unwrap(), e);
    assert_eq!(s.elder_by_id_number(rec.id_number.as_str()).await.unwrap().unwrap().id, e.id);

    assert_conflict(s.create_elder(&rec, Actor::SYSTEM).await, "id_number");
    let mut same_card = record(2, 1946, &fx.village);
    same_card.card_no = Some("PC1".into());
    s.create_elder(&same_card, Actor::SYSTEM).await.unwrap();
    let mut again = record(3, 1947, &fx.village);
    again.card_no = Some("PC1".into());
    assert_conflict(s.create_elder(&again, Actor::SYSTEM).await, "card_no");

    let mut bad = record(4, 1948, &fx.village);
    bad.region = code("140213050099");
    assert_invalid(s.create_elder(&bad, Actor::SYSTEM).await, "region_code");
    let mut bad = record(5, 1948, &fx.village);
    bad.care_manager_id = Some(account(&s, "caregiver9", "caregiver", None).await); // not a care manager
    assert_invalid(s.create_elder(&bad, Actor::SYSTEM).await, "care_manager_id");
    let mut bad = record(6, 1948, &fx.village);
    bad.home_station_id = Some(4242);
    assert_invalid(s.create_elder(&bad, Actor::SYSTEM).await, "home_station_id");
    // Nothing partial was written by the failures.
    let all = s.list_elders(&ElderFilter::scoped(ElderScope::All)).await.unwrap();
    assert_eq!(all.total, 2);
    assert_eq!(audit_count(&s, "elder").await, 2);
}

async fn elder_updates_are_versioned_and_audited(s: Arc<dyn Store>, clock: ManualClock) {
    let fx = fixture(&s).await;
    let e = s.create_elder(&record(1, 1940, &fx.village), Actor::SYSTEM).await.unwrap();
    clock.advance_ms(5);
    let mut rec = e.record.clone();
    rec.living = LivingArrangement::WithChildren;
    let e2 = s.update_elder(e.id, &rec, Some(e.version), Actor::account(fx.manager)).await.unwrap();
    assert_eq!(e2.version, e.version + 1);
    assert_eq!(e2.updated_at, T0 + 5);
    assert!(matches!(
        s.update_elder(e.id, &rec, Some(e.version), Actor::SYSTEM).await,
        Err(StoreError::Stale { current }) if current == e2.version
    ));
    assert!(matches!(s.update_elder(777, &rec, None, Actor::SYSTEM).await, Err(StoreError::NotFound { .. })));
    let log = s
        .list_audit(&AuditFilter {
            entity: Some("elder".into()),
            entity_id: Some(e.id.to_string()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(log.total, 2);
    assert_eq!(log.items[0].before.as_ref().unwrap()["living"], "alone");
    assert_eq!(log.items[0].after.as_ref().unwrap()["living"], "with_children");
}

async fn monitoring_settings_are_versioned_audited_and_kept(s: Arc<dyn Store>, clock: ManualClock) {
    let fx = fixture(&s).await;
    let e = s.create_elder(&record(1, 1940, &fx.village), Actor::SYSTEM).await.unwrap();
    assert!(e.monitoring.is_default());
    let settings: zhulao_domain::MonitoringSettings = serde_json::from_value(serde_json::json!({
        "vital_limits": [{"kind": "spo2", "low": 88, "high": 100}],
        "safe_zones": [{"name": "家", "shape": "circle", "center": {"lat": 40.07, "lon": 113.3}, "radius_m": 300}],
        "inactivity_min": 240
    }))
    .unwrap();
    clock.advance_ms(7);
    let e2 = s.set_monitoring(e.id, &settings, Some(e.version), Actor::account(fx.manager)).await.unwrap();
    assert_eq!((e2.version, e2.updated_at), (e.version + 1, T0 + 7));
    assert_eq!(e2.monitoring, settings);
    assert!(matches!(
        s.set_monitoring(e.id, &settings, Some(e.version), Actor::SYSTEM).await,
        Err(StoreError::Stale { current }) if current == e2.version
    ));
    assert!(matches!(
        s.set_monitoring(777, &settings, None, Actor::SYSTEM).await,
        Err(StoreError::NotFound { .. })
    ));
    // Editing the record, listing and importing keep the settings.
    let mut rec = e2.record.clone();
    rec.living = LivingArrangement::WithChildren;
    let e3 = s.update_elder(e.id, &rec, None, Actor::SYSTEM).await.unwrap();
    assert_eq!(e3.monitoring, settings);
    s.import_elders(&[rec], Actor::SYSTEM).await.unwrap();
    assert_eq!(s.elder(e.id).await.unwrap().monitoring, settings);
    let listed = s.list_elders(&ElderFilter::scoped(ElderScope::All)).await.unwrap();
    assert_eq!(listed.items.iter().find(|x| x.id == e.id).unwrap().monitoring, settings);
    let log = s
        .list_audit(&AuditFilter {
            entity: Some("elder".into()),
            entity_id: Some(e.id.to_string()),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    let changes: Vec<_> = log.items.iter().filter(|a| a.action == "monitoring").collect();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].after.as_ref().unwrap()["inactivity_min"], 240);
    assert_eq!(changes[0].before.as_ref().unwrap()["safe_zones"], serde_json::json!([]));
}

async fn actions_on_devices_are_audited(s: Arc<dyn Store>, clock: ManualClock) {
    let fx = fixture(&s).await;
    let e = s.create_elder(&record(1, 1940, &fx.village), Actor::SYSTEM).await.unwrap();
    let d = bound_device(&s, "ZL-P-9", e.id).await;
    clock.advance_ms(3);
    let detail = serde_json::json!({"command": "find_device", "arguments": []});
    s.record_action(Actor::account(fx.manager), "command", "device", d, &detail).await.unwrap();
    let log = s
        .list_audit(&AuditFilter {
            entity: Some("device".into()),
            entity_id: Some(d.to_string()),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    let entry = log.items.iter().find(|a| a.action == "command").expect("the command is audited");
    assert_eq!((entry.at, entry.actor_id), (T0 + 3, Some(fx.manager)));
    assert_eq!(entry.after.as_ref().unwrap(), &detail);
    assert!(entry.before.is_none());
    // Settings queued for a device stay until the device confirmed them, the latest winning;
    // a confirmation of older settings does not remove newer ones (even within a millisecond).
    assert_eq!(s.pending_device_config(d).await.unwrap(), None);
    s.queue_device_config(d, r#"{"report_interval_s":60}"#).await.unwrap();
    let (_, first) = s.pending_device_config(d).await.unwrap().unwrap();
    s.queue_device_config(d, r#"{"report_interval_s":600}"#).await.unwrap();
    let (payload, second) = s.pending_device_config(d).await.unwrap().unwrap();
    assert_eq!(payload, r#"{"report_interval_s":600}"#);
    assert!(second > first);
    assert_eq!(s.pending_device_config(d).await.unwrap(), Some((payload, second)), "reading keeps them");
    assert!(!s.clear_device_config(d, first).await.unwrap(), "older settings confirmed: newer kept");
    assert!(s.pending_device_config(d).await.unwrap().is_some());
    assert!(s.clear_device_config(d, second).await.unwrap());
    assert_eq!(s.pending_device_config(d).await.unwrap(), None);
}

async fn elder_filters_and_scopes(s: Arc<dyn Store>, _clock: ManualClock) {
    let fx = fixture(&s).await;
    let mut ids = Vec::new();
    for (seq, year, village, managed, station) in [
        (1, 1930, &fx.village, true, true),
        (2, 1950, &fx.village, true, false),
        (3, 1960, &fx.other_village, false, false),
        (4, 1944, &fx.other_village, false, true),
    ] {
        let mut r = record(seq, year, village);
        r.care_manager_id = managed.then_some(fx.manager);
        r.home_station_id = station.then_some(fx.station);
        if seq == 3 {
            r.living = LivingArrangement::EmptyNest;
        }
        ids.push(s.create_elder(&r, Actor::SYSTEM).await.unwrap().id);
    }
    let count = |f: ElderFilter| {
        let s = s.clone();
        async move { s.list_elders(&f).await.unwrap().total }
    };
    let all = || ElderFilter::scoped(ElderScope::All);
    assert_eq!(count(all()).await, 4);
    assert_eq!(count(ElderFilter::scoped(ElderScope::RegionPrefix("140213050".into()))).await, 2);
    assert_eq!(count(ElderFilter::scoped(ElderScope::CareManager(fx.manager))).await, 2);
    assert_eq!(count(ElderFilter::scoped(ElderScope::Station(fx.station))).await, 2);
    // Age 80+ on 2026-11-23: born on or before 1946-11-23.
    assert_eq!(
        count(ElderFilter { born_on_or_before: NaiveDate::from_ymd_opt(1946, 11, 23), ..all() }).await,
        2
    );
    assert_eq!(
        count(ElderFilter { born_on_or_after: NaiveDate::from_ymd_opt(1946, 11, 24), ..all() }).await,
        2
    );
    assert_eq!(count(ElderFilter { living: Some(LivingArrangement::EmptyNest), ..all() }).await, 1);
    assert_eq!(count(ElderFilter { query: Some("王2".into()), ..all() }).await, 1);
    assert_eq!(count(ElderFilter { query: Some("100%".into()), ..all() }).await, 0);
    let e4 = s.elder(ids[3]).await.unwrap();
    assert_eq!(
        count(ElderFilter { query: Some(e4.record.id_number.as_str().to_lowercase()), ..all() }).await,
        1
    );
    assert_eq!(count(ElderFilter { query: Some("13900000004".into()), ..all() }).await, 1);
    // Family and serving scopes.
    let family = account(&s, "family1", "family", None).await;
    let caregiver = account(&s, "caregiver1", "caregiver", None).await;
    assert_eq!(count(ElderFilter::scoped(ElderScope::Family(family))).await, 0);
    s.link_family(family, ids[2], Actor::SYSTEM).await.unwrap();
    s.link_family(family, ids[2], Actor::SYSTEM).await.unwrap(); // idempotent
    assert!(s.is_family_of(family, ids[2]).await.unwrap());
    assert_eq!(count(ElderFilter::scoped(ElderScope::Family(family))).await, 1);
    assert_invalid(s.link_family(caregiver, ids[2], Actor::SYSTEM).await, "account_id");
    let a = s.start_assignment(caregiver, ids[0], Actor::SYSTEM).await.unwrap();
    assert!(s.is_serving(caregiver, ids[0]).await.unwrap());
    assert_eq!(count(ElderFilter::scoped(ElderScope::Serving(caregiver))).await, 1);
    s.end_assignment(a.id, Actor::SYSTEM).await.unwrap();
    assert!(!s.is_serving(caregiver, ids[0]).await.unwrap());
    assert!(matches!(s.end_assignment(a.id, Actor::SYSTEM).await, Err(StoreError::NotFound { .. })));
    assert_invalid(s.start_assignment(family, ids[0], Actor::SYSTEM).await, "caregiver_id");
    // Pagination.
    let page = s.list_elders(&ElderFilter { offset: 1, limit: 2, ..all() }).await.unwrap();
    assert_eq!((page.total, page.items.len()), (4, 2));
    assert_eq!(page.items[0].id, ids[1]);
}

async fn status_changes_keep_history_and_release_devices(s: Arc<dyn Store>, clock: ManualClock) {
    let fx = fixture(&s).await;
    let e = s.create_elder(&record(1, 1935, &fx.village), Actor::SYSTEM).await.unwrap();
    let d = s
        .register_device(
            &DeviceInput { serial: "ZL-P-1".into(), kind: "pendant".into(), model: "P1".into() }
                .validate()
                .unwrap(),
            "h",
            Actor::SYSTEM,
        )
        .await
        .unwrap();
    s.bind_device(d.id, e.id, Actor::SYSTEM).await.unwrap();
    clock.advance_ms(10);
    let e2 = s
        .set_elder_status(e.id, ElderStatus::Deceased, "家属告知", Actor::account(fx.manager))
        .await
        .unwrap();
    assert_eq!(e2.status, ElderStatus::Deceased);
    let hist = s.elder_status_history(e.id).await.unwrap();
    assert_eq!(
        hist.iter().map(|h| h.status).collect::<Vec<_>>(),
        [ElderStatus::Active, ElderStatus::Deceased]
    );
    assert_eq!(hist[1].reason, "家属告知");
    assert_eq!(s.device(d.id).await.unwrap().elder_id, None);
    let b = s.device_bindings(d.id).await.unwrap();
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].unbound_at, Some(T0 + 10));
    // A deceased elder cannot get a new device; the record is still there.
    assert_invalid(s.bind_device(d.id, e.id, Actor::SYSTEM).await, "elder_id");
    assert_eq!(
        s.list_elders(&ElderFilter {
            status: Some(ElderStatus::Deceased),
            ..ElderFilter::scoped(ElderScope::All)
        })
        .await
        .unwrap()
        .total,
        1
    );
}

async fn import_is_all_or_nothing_and_idempotent(s: Arc<dyn Store>, _clock: ManualClock) {
    let fx = fixture(&s).await;
    let recs: Vec<ElderRecord> = (0..900).map(|i| record(i, 1930 + (i as i32 % 30), &fx.village)).collect();
    let first = s.import_elders(&recs, Actor::account(fx.manager)).await.unwrap();
    assert_eq!((first.inserted, first.updated, first.unchanged), (900, 0, 0));
    let again = s.import_elders(&recs, Actor::SYSTEM).await.unwrap();
    assert_eq!((again.inserted, again.updated, again.unchanged), (0, 0, 900));
    // Links a ledger does not carry survive a re-import.
    let linked = s.elder_by_id_number(recs[3].id_number.as_str()).await.unwrap().unwrap();
    let mut with_links = linked.record.clone();
    with_links.care_manager_id = Some(fx.manager);
    with_links.home_station_id = Some(fx.station);
    s.update_elder(linked.id, &with_links, None, Actor::SYSTEM).await.unwrap();
    let again = s.import_elders(&recs, Actor::SYSTEM).await.unwrap();
    assert_eq!(again.unchanged, 900);
    assert_eq!(s.elder(linked.id).await.unwrap().record, with_links);
    let mut changed = recs.clone();
    changed[5].living = LivingArrangement::WithChildren;
    changed.push(record(950, 1940, &fx.village));
    let third = s.import_elders(&changed, Actor::SYSTEM).await.unwrap();
    assert_eq!((third.inserted, third.updated, third.unchanged), (1, 1, 899));
    assert_eq!(s.list_elders(&ElderFilter::scoped(ElderScope::All)).await.unwrap().total, 901);
    assert_eq!(audit_count(&s, "elder").await, 903);
    let imported = s.elder_by_id_number(recs[7].id_number.as_str()).await.unwrap().unwrap();
    assert_eq!(s.elder_status_history(imported.id).await.unwrap()[0].reason, "台账导入");
    // One bad reference: nothing of the batch is written.
    let mut bad: Vec<ElderRecord> = (960..970).map(|i| record(i, 1940, &fx.village)).collect();
    bad[9].region = code("140213050088");
    assert_invalid(s.import_elders(&bad, Actor::SYSTEM).await, "region_code");
    // A duplicate card number inside the batch aborts it too.
    let mut dup: Vec<ElderRecord> = (970..975).map(|i| record(i, 1940, &fx.village)).collect();
    dup[0].card_no = Some("PC-X".into());
    dup[4].card_no = Some("PC-X".into());
    assert_conflict(s.import_elders(&dup, Actor::SYSTEM).await, "card_no");
    assert_eq!(s.list_elders(&ElderFilter::scoped(ElderScope::All)).await.unwrap().total, 901);
}

async fn accounts_and_sessions(s: Arc<dyn Store>, clock: ManualClock) {
    let fx = fixture(&s).await;
    let staff = account(&s, "Station1", "station_staff", Some(fx.station)).await;
    let (acc, hash) = s.credentials("STATION1").await.unwrap().unwrap();
    assert_eq!((acc.id, acc.username.as_str(), hash.as_str()), (staff, "station1", "$argon2id$fake"));
    assert_eq!(acc.facility_id, Some(fx.station));
    assert!(s.credentials("nobody").await.unwrap().is_none());
    let (dup, _) = AccountInput {
        username: "station1".into(),
        display_name: "x".into(),
        role: "operator".into(),
        password: "long enough".into(),
        ..Default::default()
    }
    .validate()
    .unwrap();
    assert_conflict(s.create_account(&dup, "h", Actor::SYSTEM).await, "username");

    s.create_session("tok", staff, T0 + 60_000).await.unwrap();
    assert_eq!(s.session_account("tok").await.unwrap().unwrap().id, staff);
    assert!(s.session_account("other").await.unwrap().is_none());
    clock.advance_ms(60_000);
    assert!(s.session_account("tok").await.unwrap().is_none(), "expired");
    s.create_session("tok2", staff, T0 + 600_000).await.unwrap();
    s.set_account_active(staff, false, Actor::SYSTEM).await.unwrap();
    assert!(s.session_account("tok2").await.unwrap().is_none(), "deactivation ends sessions");
    s.set_account_active(staff, true, Actor::SYSTEM).await.unwrap();
    s.create_session("tok3", staff, T0 + 600_000).await.unwrap();
    s.set_password(staff, "$argon2id$new", Actor::account(staff)).await.unwrap();
    assert!(s.session_account("tok3").await.unwrap().is_none(), "a password change ends sessions");
    assert_eq!(s.credentials("station1").await.unwrap().unwrap().1, "$argon2id$new");
    s.delete_session("tok3").await.unwrap();
    let log =
        s.list_audit(&AuditFilter { actor_id: Some(staff), limit: 50, ..Default::default() }).await.unwrap();
    assert!(log.items.iter().any(|e| e.action == "set_password" && e.before.is_none() && e.after.is_none()));
    assert!(
        !serde_json::to_string(&log.items).unwrap().contains("argon2"),
        "hashes never reach the audit log"
    );
}

async fn devices_bind_with_history(s: Arc<dyn Store>, clock: ManualClock) {
    let fx = fixture(&s).await;
    let a = s.create_elder(&record(1, 1940, &fx.village), Actor::SYSTEM).await.unwrap();
    let b = s.create_elder(&record(2, 1941, &fx.other_village), Actor::SYSTEM).await.unwrap();
    let input =
        DeviceInput { serial: "ZL-W-9".into(), kind: "watch".into(), model: "W2".into() }.validate().unwrap();
    let d = s.register_device(&input, "secret-hash", Actor::SYSTEM).await.unwrap();
    assert_conflict(s.register_device(&input, "x", Actor::SYSTEM).await, "serial");
    let (found, secret) = s.device_by_serial("ZL-W-9").await.unwrap().unwrap();
    assert_eq!((found.id, secret.as_str()), (d.id, "secret-hash"));
    assert!(s.device_by_serial("nope").await.unwrap().is_none());

    s.bind_device(d.id, a.id, Actor::SYSTEM).await.unwrap();
    clock.advance_ms(100);
    let moved = s.bind_device(d.id, b.id, Actor::account(fx.manager)).await.unwrap();
    assert_eq!(moved.elder_id, Some(b.id));
    let hist = s.device_bindings(d.id).await.unwrap();
    assert_eq!(hist.len(), 2);
    assert_eq!((hist[0].elder_id, hist[0].unbound_at), (a.id, Some(T0 + 100)));
    assert_eq!((hist[1].elder_id, hist[1].unbound_at, hist[1].bound_by), (b.id, None, fx.manager));

    let scoped = |scope, include_unbound| DeviceFilter {
        scope,
        include_unbound,
        elder_id: None,
        offset: 0,
        limit: 10,
    };
    assert_eq!(
        s.list_devices(&scoped(ElderScope::RegionPrefix("140213050".into()), false)).await.unwrap().total,
        0
    );
    assert_eq!(
        s.list_devices(&scoped(ElderScope::RegionPrefix("140213051".into()), false)).await.unwrap().total,
        1
    );
    s.unbind_device(d.id, Actor::SYSTEM).await.unwrap();
    assert_eq!(s.list_devices(&scoped(ElderScope::All, false)).await.unwrap().total, 0);
    assert_eq!(s.list_devices(&scoped(ElderScope::Station(fx.station), true)).await.unwrap().total, 1);
    assert_eq!(audit_count(&s, "device").await, 5);
}

async fn statistics(s: Arc<dyn Store>, _clock: ManualClock) {
    let fx = fixture(&s).await;
    // Ten elders: ages 86, 81, 76, 71, 66 ×2 each; cards for the 70+ but one; devices for two card holders.
    let mut seq = 0;
    let mut ids = Vec::new();
    for year in [1940, 1945, 1950, 1955, 1960] {
        for _ in 0..2 {
            seq += 1;
            let mut r = record(seq, year, &fx.village);
            if year <= 1955 && seq != 1 {
                r.card_no = Some(format!("PC{seq}"));
            }
            if seq % 2 == 0 {
                r.care_manager_id = Some(fx.manager);
            }
            if seq == 10 {
                r.economic = zhulao_domain::EconomicStatus::Dibao;
            }
            ids.push(s.create_elder(&r, Actor::SYSTEM).await.unwrap().id);
        }
    }
    for (i, elder) in [ids[1], ids[2]].into_iter().enumerate() {
        let d = s
            .register_device(
                &DeviceInput { serial: format!("D{i}"), kind: "pendant".into(), model: String::new() }
                    .validate()
                    .unwrap(),
                "h",
                Actor::SYSTEM,
            )
            .await
            .unwrap();
        s.bind_device(d.id, elder, Actor::SYSTEM).await.unwrap();
    }
    s.set_elder_status(ids[9], ElderStatus::MovedAway, "迁往北京", Actor::SYSTEM).await.unwrap();
    let st = s.region_stats(&ElderScope::All, "140213", today()).await.unwrap();
    assert_eq!(st.elders, 9);
    assert_eq!(st.aged_70_plus, 8);
    assert_eq!(st.aged_80_plus, 4);
    assert_eq!(st.card_holders_70_plus, 7);
    assert_eq!(st.card_holders_with_device, 2);
    assert_eq!(st.care_managers, 1);
    assert_eq!(st.card_coverage(), Some(7.0 / 8.0));
    let living: Vec<(&str, i64)> = st.by_living.iter().map(|c| (c.key.as_str(), c.count)).collect();
    assert_eq!(living, [("alone", 9)]);
    assert_eq!(st.by_living[0].label_zh, "独居");
    let status: Vec<(&str, i64)> = st.by_status.iter().map(|c| (c.key.as_str(), c.count)).collect();
    assert_eq!(status, [("active", 9), ("moved_away", 1)]);
    assert_eq!(st.by_capability[0].key, "0");
    let economic: Vec<(&str, i64)> = st.by_economic.iter().map(|c| (c.key.as_str(), c.count)).collect();
    assert_eq!(economic, [("general", 9)]);
    // Scoped to another township: nothing.
    let other = s.region_stats(&ElderScope::All, "140213051", today()).await.unwrap();
    assert_eq!(other.elders, 0);
    assert_eq!(other.card_coverage(), None);
}

async fn bound_device(s: &Arc<dyn Store>, serial: &str, elder: i64) -> i64 {
    let input =
        DeviceInput { serial: serial.into(), kind: "pendant".into(), model: "P1".into() }.validate().unwrap();
    let d = s.register_device(&input, "h", Actor::SYSTEM).await.unwrap();
    s.bind_device(d.id, elder, Actor::SYSTEM).await.unwrap();
    d.id
}

fn sos(elder: i64, device: i64, msg: &str) -> NewAlarm {
    NewAlarm {
        kind: AlarmKind::Sos,
        elder_id: Some(elder),
        device_id: Some(device),
        serial: Some("ZL-P".into()),
        region_code: "140213050002".into(),
        location: Some(AlarmLocation {
            lat: 40.07,
            lon: 113.3,
            source: LocationSource::LastKnown,
            at: Some(T0 - 5000),
        }),
        source: AlarmSource::DeviceEvent,
        impact_ms: None,
        detail: serde_json::json!({"type": "sos"}),
        contacts: 1,
        msg_id: Some(msg.into()),
    }
}

/// What the response service decides for a raise (the store only writes it).
fn decide(open: Option<&AlarmRow>, a: &NewAlarm, now: i64, p: &Policy) -> (RaiseDecision, NewAlarmEvent) {
    let ev = |kind: &str| NewAlarmEvent {
        actor: Actor::SYSTEM,
        actor_kind: "device".into(),
        kind: kind.into(),
        detail: serde_json::json!({ "msg_id": a.msg_id }),
        audit: None,
    };
    match open {
        Some(row) => {
            let mut case = row.case.clone();
            case.apply(&Command::Repeat, now).unwrap();
            let next_due_at = case.next_due(p).map(|d| d.0);
            (
                RaiseDecision::Repeat { id: row.id, expected_version: row.version, case, next_due_at },
                ev("repeat"),
            )
        }
        None => {
            let (case, _) = AlarmCase::raise(a.kind, now, a.contacts);
            let next_due_at = case.next_due(p).map(|d| d.0);
            (RaiseDecision::New { case, next_due_at }, ev("raised"))
        }
    }
}

async fn raise(s: &Arc<dyn Store>, a: &NewAlarm, p: &Policy) -> Raised {
    let open = s.open_alarm(a.elder_id, a.device_id, a.kind).await.unwrap();
    let (d, ev) = decide(open.as_ref(), a, s.clock().now_ms(), p);
    s.commit_raise(a, &d, &ev).await.unwrap()
}

async fn alarms_are_idempotent_and_merge_repeats(s: Arc<dyn Store>, clock: ManualClock) {
    let fx = fixture(&s).await;
    let e = s.create_elder(&record(1, 1940, &fx.village), Actor::SYSTEM).await.unwrap();
    let d = bound_device(&s, "ZL-P-1", e.id).await;
    let p = Policy::default();
    let Raised::New(first) = raise(&s, &sos(e.id, d, "m1"), &p).await else { panic!("new") };
    assert_eq!(first.case.stage, Stage::Queued);
    assert_eq!(first.next_due_at, Some(T0 + 30_000));
    assert_eq!(first.location.unwrap().source, LocationSource::LastKnown);
    // The same message again (a retransmission): nothing written, same alarm.
    assert_eq!(raise(&s, &sos(e.id, d, "m1"), &p).await, Raised::Duplicate { alarm_id: Some(first.id) });
    // A second press while the first is open merges.
    clock.advance_ms(1000);
    let Raised::Merged(merged) = raise(&s, &sos(e.id, d, "m2"), &p).await else { panic!("merge") };
    assert_eq!((merged.id, merged.case.repeats, merged.version), (first.id, 1, 2));
    // Another kind is another alarm.
    let mut fall = sos(e.id, d, "m3");
    fall.kind = AlarmKind::Fall;
    let Raised::New(fall) = raise(&s, &fall, &p).await else { panic!("fall") };
    assert_ne!(fall.id, first.id);
    // Once closed, the next SOS opens a new alarm.
    let mut case = merged.case.clone();
    case.apply(&Command::Answer { by: fx.manager }, T0 + 2000).unwrap();
    case.apply(
        &Command::Close { by: fx.manager, outcome: zhulao_alarms::Outcome::FalseAlarm, notes: String::new() },
        T0 + 3000,
    )
    .unwrap();
    let ev = |kind: &str| NewAlarmEvent {
        actor: Actor::account(fx.manager),
        actor_kind: "operator".into(),
        kind: kind.into(),
        detail: serde_json::json!({}),
        audit: None,
    };
    // A decision taken on a version that moved is refused: the caller decides again.
    let (stale, stale_ev) = decide(Some(&first), &sos(e.id, d, "m2b"), T0 + 1500, &p);
    assert!(matches!(
        s.commit_raise(&sos(e.id, d, "m2b"), &stale, &stale_ev).await,
        Err(StoreError::Stale { .. })
    ));
    // A new alarm while one is open for the same subject and kind conflicts.
    let (dup, dup_ev) = decide(None, &sos(e.id, d, "m2c"), T0 + 1500, &p);
    assert!(matches!(
        s.commit_raise(&sos(e.id, d, "m2c"), &dup, &dup_ev).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(!s.device_message_seen(d, "m2b").await.unwrap(), "a refused raise records no message");
    assert!(s.device_message_seen(d, "m2").await.unwrap());
    let closed = s
        .save_alarm(first.id, merged.version, &case, case.next_due(&p).map(|d| d.0), &ev("close"))
        .await
        .unwrap();
    assert_eq!((closed.next_due_at, closed.version), (None, 3));
    let Raised::New(again) = raise(&s, &sos(e.id, d, "m4"), &p).await else { panic!("new again") };
    assert_ne!(again.id, first.id);
    assert!(s.record_device_message(d, "cancel-1").await.unwrap());
    assert!(!s.record_device_message(d, "cancel-1").await.unwrap());
    let kinds: Vec<String> = s.alarm_events(first.id).await.unwrap().into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds, ["raised", "repeat", "close"]);
    assert_eq!(audit_count(&s, "alarm").await, 5);
    let open =
        s.list_alarms(&AlarmFilter { open: Some(true), limit: 10, ..Default::default() }).await.unwrap();
    // Priority 1 both; oldest first.
    assert_eq!(open.items.iter().map(|a| a.id).collect::<Vec<_>>(), vec![fall.id, again.id]);
    let scoped = AlarmFilter { region_prefix: Some("140213051".into()), limit: 10, ..Default::default() };
    assert_eq!(s.list_alarms(&scoped).await.unwrap().total, 0);
    let family = AlarmFilter { elder_ids: Some(vec![e.id]), limit: 10, ..Default::default() };
    assert_eq!(s.list_alarms(&family).await.unwrap().total, 3);
}

async fn alarm_steps_are_versioned_and_timed(s: Arc<dyn Store>, clock: ManualClock) {
    let fx = fixture(&s).await;
    let e = s.create_elder(&record(1, 1940, &fx.village), Actor::SYSTEM).await.unwrap();
    let d = bound_device(&s, "ZL-P-2", e.id).await;
    let p = Policy::default();
    let a = raise(&s, &sos(e.id, d, "x"), &p).await;
    let Raised::New(a) = a else { panic!() };
    assert!(s.due_alarms(T0 + 29_999, 10).await.unwrap().is_empty());
    assert_eq!(s.next_alarm_due().await.unwrap(), Some(T0 + 30_000));
    clock.set_ms(T0 + 30_000);
    let due = s.due_alarms(T0 + 30_000, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    let mut case = due[0].case.clone();
    let fired = case.fire_due(T0 + 30_000, &p);
    assert_eq!(fired[0].0, Timer::AnswerEscalate);
    let ev = NewAlarmEvent {
        actor: Actor::SYSTEM,
        actor_kind: "system".into(),
        kind: "timer:answer_escalate".into(),
        detail: serde_json::json!({}),
        audit: None,
    };
    let due = case.next_due(&p).map(|d| d.0);
    let saved = s.save_alarm(a.id, a.version, &case, due, &ev).await.unwrap();
    assert_eq!(saved.next_due_at, Some(T0 + 90_000));
    // A second instance holding the old version loses.
    match s.save_alarm(a.id, a.version, &case, due, &ev).await {
        Err(StoreError::Stale { current }) => assert_eq!(current, saved.version),
        other => panic!("expected stale, got {other:?}"),
    }
    assert!(s.alarm(9999).await.is_err());
    let attempts = vec![zhulao_store::NotificationRecord {
        at: T0,
        channel: "webhook".into(),
        target: "hooks.example.cn".into(),
        purpose: "family_call".into(),
        attempt: 1,
        duration_ms: 12,
        outcome: "delivered".into(),
        status: Some(200),
        detail: String::new(),
    }];
    s.record_notifications(a.id, &attempts).await.unwrap();
    assert_eq!(s.alarm_notifications(a.id).await.unwrap(), attempts);
}

async fn device_state_upserts_keep_known_values(s: Arc<dyn Store>, _clock: ManualClock) {
    let fx = fixture(&s).await;
    let e = s.create_elder(&record(1, 1940, &fx.village), Actor::SYSTEM).await.unwrap();
    let d = bound_device(&s, "ZL-P-3", e.id).await;
    let st = |seen: i64, lat: Option<f64>, battery: Option<i16>| DeviceState {
        device_id: d,
        last_seen_at: seen,
        online: true,
        battery_pct: battery,
        lat,
        lon: lat.map(|_| 113.3),
        location_at: lat.map(|_| seen),
        vitals: None,
        vitals_at: None,
        upright: lat.map(|_| [0.1, -0.99, 0.0]),
    };
    s.upsert_device_states(&[st(T0, Some(40.07), Some(80))]).await.unwrap();
    // An older report and one without a fix keep the newest time, the last known position
    // and the learnt upright direction.
    s.upsert_device_states(&[st(T0 - 10, None, None)]).await.unwrap();
    let got = s.device_state(d).await.unwrap().unwrap();
    assert_eq!((got.last_seen_at, got.lat, got.battery_pct), (T0, Some(40.07), Some(80)));
    assert_eq!(got.upright, Some([0.1, -0.99, 0.0]));
    assert_eq!(s.learnt_uprights().await.unwrap(), vec![(d, [0.1, -0.99, 0.0])]);
    assert!(s.device_state(d + 100).await.unwrap().is_none());
}

async fn wearer_states_follow_scope_and_state(s: Arc<dyn Store>, _clock: ManualClock) {
    let fx = fixture(&s).await;
    let a = s.create_elder(&record(1, 1940, &fx.village), Actor::SYSTEM).await.unwrap();
    let b = s.create_elder(&record(2, 1941, &fx.other_village), Actor::SYSTEM).await.unwrap();
    let da = bound_device(&s, "ZL-P-10", a.id).await;
    let db = bound_device(&s, "ZL-P-11", b.id).await;
    // An unbound device is nobody's wearer.
    let spare = DeviceInput { serial: "ZL-P-12".into(), kind: "pendant".into(), model: "P1".into() }
        .validate()
        .unwrap();
    s.register_device(&spare, "h", Actor::SYSTEM).await.unwrap();
    s.upsert_device_states(&[DeviceState {
        device_id: da,
        last_seen_at: T0,
        online: true,
        battery_pct: Some(90),
        lat: Some(40.08),
        lon: Some(113.31),
        location_at: Some(T0),
        vitals: None,
        vitals_at: None,
        upright: None,
    }])
    .await
    .unwrap();
    let all = s.wearer_states(&ElderScope::All).await.unwrap();
    assert_eq!(all.iter().map(|w| w.device_id).collect::<Vec<_>>(), vec![da, db]);
    assert_eq!((all[0].online, all[0].fix, all[0].elder_id), (Some(true), Some((40.08, 113.31)), a.id));
    // Never connected: no state, the home position for the map.
    assert_eq!((all[1].online, all[1].fix, all[1].last_seen_at), (None, None, None));
    assert_eq!(all[1].home, b.record.location.map(|p| (p.lat, p.lon)));
    assert_eq!(all[1].region_code, fx.other_village.as_str());
    let street = s.wearer_states(&ElderScope::RegionPrefix(fx.village.as_str()[..9].into())).await.unwrap();
    assert_eq!(street.iter().map(|w| w.device_id).collect::<Vec<_>>(), vec![da]);
    // An elder who moved away leaves the map.
    s.set_elder_status(a.id, ElderStatus::MovedAway, "搬走", Actor::SYSTEM).await.unwrap();
    let left = s.wearer_states(&ElderScope::All).await.unwrap();
    assert!(left.iter().all(|w| w.elder_id != a.id), "{left:?}");
}
