//! The response chain end to end over a real store (SQLite and PostgreSQL), with the clock
//! advanced by hand: raise → escalate → family called in order → answer → dispatch the
//! nearest responder → on site → close; effects recorded on the alarm.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::NaiveDate;
use zhulao_alarms::{AlarmKind, Command, Outcome, Stage, TravelMode};
use zhulao_alarms::{AlarmLocation, AlarmSource, LocationSource, NewAlarm, Raised};
use zhulao_domain::elder::ContactInput;
use zhulao_domain::id_number::compose;
use zhulao_domain::{
    AccountInput, DeviceInput, ElderInput, FacilityInput, GeoPoint, Region, RegionCode, RegionLevel,
};
use zhulao_response::{
    DeviceLink, DeviceMessage, LiveHub, Notifier, OutgoingNotification, Policies, ResponderPosition, Response,
};
use zhulao_store::{Actor, ManualClock, NotificationRecord, Store, testing};

const T0: i64 = 1_795_392_000_000;

/// Records what would be sent; the channels themselves are tested in zhulao-notify.
#[derive(Default)]
struct Recorder(Mutex<Vec<OutgoingNotification>>);

#[async_trait]
impl Notifier for Recorder {
    async fn notify(&self, n: &OutgoingNotification) -> Vec<NotificationRecord> {
        self.0.lock().unwrap().push(n.clone());
        vec![NotificationRecord {
            at: T0,
            channel: "test".into(),
            target: "masked".into(),
            purpose: n.purpose.clone(),
            attempt: 1,
            duration_ms: 1,
            outcome: "delivered".into(),
            status: None,
            detail: String::new(),
        }]
    }
}

#[derive(Default)]
struct Devices(Mutex<Vec<(i64, DeviceMessage)>>);

impl DeviceLink for Devices {
    fn send(&self, device_id: i64, msg: DeviceMessage) {
        self.0.lock().unwrap().push((device_id, msg));
    }
}

struct World {
    response: Arc<Response>,
    notes: Arc<Recorder>,
    devices: Arc<Devices>,
    elder: i64,
    device: i64,
    operator: i64,
    near: i64,
    far: i64,
}

async fn account(s: &Arc<dyn Store>, name: &str, role: &str, facility: Option<i64>) -> i64 {
    let (a, _) = AccountInput {
        username: name.into(),
        display_name: name.into(),
        role: role.into(),
        password: "correct horse".into(),
        region_code: "140213".into(),
        facility_id: facility,
        phone: "13900000009".into(),
        ..Default::default()
    }
    .validate()
    .unwrap();
    s.create_account(&a, "$argon2id$fake", Actor::SYSTEM).await.unwrap().id
}

async fn world(s: Arc<dyn Store>) -> World {
    let code = |c: &str| RegionCode::parse("r", c).unwrap();
    let reg =
        |c: &str, n: &str, l| Region { code: code(c), parent: code(c).parent(), name: n.into(), level: l };
    s.upsert_regions(
        &[
            reg("140213", "平城区", RegionLevel::County),
            reg("140213050", "新建南路街道", RegionLevel::Township),
            reg("140213050002", "柳港园社区", RegionLevel::Village),
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
                lat: Some(40.080),
                lon: Some(113.300),
                ..Default::default()
            }
            .validate()
            .unwrap(),
            Actor::SYSTEM,
        )
        .await
        .unwrap()
        .id;
    let today = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    let id = compose("140213", NaiveDate::from_ymd_opt(1940, 3, 15).unwrap(), 1).unwrap();
    let elder = s
        .create_elder(
            &ElderInput {
                id_number: id.as_str().into(),
                name: "王秀兰".into(),
                address: "柳港园3号楼".into(),
                region_code: "140213050002".into(),
                lat: Some(40.0769),
                lon: Some(113.3001),
                living: "独居".into(),
                contacts: vec![
                    ContactInput {
                        name: "王明".into(),
                        relation: "儿子".into(),
                        phone: "13800000001".into(),
                    },
                    ContactInput {
                        name: "王芳".into(),
                        relation: "女儿".into(),
                        phone: "13800000002".into(),
                    },
                ],
                ..Default::default()
            }
            .validate(today)
            .unwrap(),
            Actor::SYSTEM,
        )
        .await
        .unwrap()
        .id;
    let d = DeviceInput { serial: "ZL-P-1".into(), kind: "pendant".into(), model: "P1".into() }
        .validate()
        .unwrap();
    let device = s.register_device(&d, "h", Actor::SYSTEM).await.unwrap().id;
    s.bind_device(device, elder, Actor::SYSTEM).await.unwrap();
    let operator = account(&s, "op1", "operator", None).await;
    account(&s, "sup1", "supervisor", None).await;
    // The station's staff member is 400 m away on foot; a caregiver reports a position 1 km
    // away on an e-bike (sooner there); another caregiver is off duty next door.
    let near = account(&s, "station1", "station_staff", Some(station)).await;
    let far = account(&s, "cg1", "caregiver", None).await;
    let off = account(&s, "cg2", "caregiver", None).await;
    let notes = Arc::new(Recorder::default());
    let devices = Arc::new(Devices::default());
    let response = Response::new(s.clone(), Policies::default(), notes.clone(), LiveHub::default());
    response.set_device_link(devices.clone());
    let pos = |lat, on_duty| ResponderPosition {
        at: GeoPoint { lat, lon: 113.3001 },
        reported_at: T0,
        on_duty,
        mode: TravelMode::EBike,
    };
    response.report_position(far, pos(40.0860, true));
    response.report_position(off, pos(40.0770, false));
    World { response, notes, devices, elder, device, operator, near, far }
}

fn sos(w: &World, msg: &str) -> NewAlarm {
    NewAlarm {
        kind: AlarmKind::Sos,
        elder_id: Some(w.elder),
        device_id: Some(w.device),
        serial: Some("ZL-TEST-1".into()),
        region_code: "140213050002".into(),
        location: Some(AlarmLocation {
            lat: 40.0769,
            lon: 113.3001,
            source: LocationSource::LastKnown,
            at: Some(T0),
        }),
        source: AlarmSource::DeviceEvent,
        impact_ms: None,
        detail: serde_json::json!({}),
        contacts: 2,
        msg_id: Some(msg.into()),
    }
}

async fn chain(s: Arc<dyn Store>, clock: ManualClock) {
    let w = world(s.clone()).await;
    let r = &w.response;
    let mut live = r.hub().subscribe();
    let Raised::New(a) = r.raise(&sos(&w, "m1")).await.unwrap() else { panic!("new alarm") };
    assert_eq!(live.recv().await.unwrap().data["change"], "raised");
    r.idle().await;
    assert_eq!(
        w.devices.0.lock().unwrap().clone(),
        vec![(
            w.device,
            DeviceMessage::Feedback { alarm_id: a.id, state: zhulao_alarms::Feedback::Received }
        )]
    );
    // Nobody answers: 30 s → supervisor; 90 s → the family, in contact order.
    clock.set_ms(T0 + 30_000);
    assert_eq!(r.tick().await.unwrap(), 1);
    assert_eq!(r.tick().await.unwrap(), 0, "a timer fires once");
    r.idle().await;
    clock.set_ms(T0 + 90_000);
    r.tick().await.unwrap();
    r.idle().await;
    clock.set_ms(T0 + 150_000);
    r.tick().await.unwrap();
    r.idle().await;
    let purposes: Vec<(String, String)> =
        w.notes.0.lock().unwrap().iter().map(|n| (n.purpose.clone(), n.recipient.name.clone())).collect();
    assert_eq!(
        purposes,
        [("escalation", "sup1"), ("family_call", "王明"), ("escalation", "sup1"), ("family_call", "王芳"),]
            .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    // The daughter confirms; the operator answers and asks for a home visit: the caregiver on
    // the e-bike is nearer in time than the station's staff on foot.
    r.act(a.id, &Command::FamilyResult { contact: 1, confirmed: true }, Actor::SYSTEM, "family")
        .await
        .unwrap();
    clock.set_ms(T0 + 160_000);
    let op = Actor::account(w.operator);
    r.act(a.id, &Command::Answer { by: w.operator }, op, "operator").await.unwrap();
    let two = r.act(a.id, &Command::Answer { by: w.operator }, op, "operator").await;
    assert!(matches!(two, Err(zhulao_response::ActError::Transition(_))));
    r.act(
        a.id,
        &Command::Assess { by: w.operator, assessment: zhulao_alarms::Assessment::HomeVisit },
        op,
        "operator",
    )
    .await
    .unwrap();
    r.idle().await;
    let row = s.alarm(a.id).await.unwrap();
    assert_eq!(row.case.stage, Stage::Dispatched);
    assert_eq!(row.case.current_offer().unwrap().responder, w.far);
    // The caregiver declines; the station's staff member is next.
    r.act(a.id, &Command::Decline { responder: w.far }, Actor::account(w.far), "responder").await.unwrap();
    r.idle().await;
    let row = s.alarm(a.id).await.unwrap();
    assert_eq!(row.case.current_offer().unwrap().responder, w.near);
    clock.set_ms(T0 + 300_000);
    r.act(a.id, &Command::OnSite { responder: w.near }, Actor::account(w.near), "responder").await.unwrap();
    let close =
        Command::Close {
            by: w.operator, outcome: Outcome::ResolvedOnSite, notes: "扶起，无外伤".into()
        };
    let closed = r.act(a.id, &close, op, "operator").await.unwrap();
    r.idle().await;
    assert_eq!((closed.case.stage, closed.next_due_at), (Stage::Closed, None));
    let events: Vec<String> = s.alarm_events(a.id).await.unwrap().into_iter().map(|e| e.kind).collect();
    assert_eq!(
        events,
        [
            "raised",
            "timer",
            "timer",
            "timer",
            "family_result",
            "answer",
            "assess",
            "dispatch",
            "decline",
            "dispatch",
            "on_site",
            "close"
        ]
    );
    let recorded = s.alarm_notifications(a.id).await.unwrap();
    assert_eq!(recorded.iter().filter(|n| n.purpose == "dispatch").count(), 2);
    // A retransmission of the first message changes nothing.
    assert_eq!(r.raise(&sos(&w, "m1")).await.unwrap(), Raised::Duplicate { alarm_id: Some(a.id) });
}

/// Drains what the live feed got so far.
fn changes(live: &mut tokio::sync::broadcast::Receiver<zhulao_response::LiveEvent>) -> Vec<String> {
    let mut out = Vec::new();
    while let Ok(e) = live.try_recv() {
        if e.topic == "alarm" {
            out.push(e.data["change"].as_str().unwrap_or_default().to_string());
        }
    }
    out
}

/// Every change goes through the one door: one live event each, the device's own steps
/// (cancel, trace, got up) on the timeline, and a retransmitted cancel noted once.
async fn one_door(s: Arc<dyn Store>, clock: ManualClock) {
    let w = world(s.clone()).await;
    let r = &w.response;
    let mut live = r.hub().subscribe();
    let Raised::New(a) = r.raise(&sos(&w, "m1")).await.unwrap() else { panic!("new alarm") };
    r.idle().await;
    assert_eq!(changes(&mut live), ["raised"]);
    assert_eq!(a.serial.as_deref(), Some("ZL-TEST-1"));
    let Raised::Merged(_) = r.raise(&sos(&w, "m2")).await.unwrap() else { panic!("repeat") };
    r.idle().await;
    assert_eq!(changes(&mut live), ["repeat"]);
    // Unanswered at 30 s: one event, which consoles sound.
    clock.set_ms(T0 + 30_000);
    r.tick().await.unwrap();
    r.idle().await;
    assert_eq!(changes(&mut live), ["escalated"]);
    // "I'm fine" on the device: noted once, even when the device sends it again.
    assert!(r.wearer_cancelled(w.device, Some(w.elder), "c1").await.unwrap());
    assert!(!r.wearer_cancelled(w.device, Some(w.elder), "c1").await.unwrap());
    r.idle().await;
    assert_eq!(changes(&mut live), ["wearer_cancelled"]);
    let trace = zhulao_alarms::FallTrace {
        impact_ms: T0,
        posture_after: "lying".into(),
        trace_start_ms: T0 - 5_000,
        rate_hz: 100,
        trace_mg: vec![[0, 0, 1000]; 3],
    };
    r.act(a.id, &Command::AttachTrace { trace }, Actor::SYSTEM, "device").await.unwrap();
    r.act(a.id, &Command::Recovered { impact_ms: T0, at_ms: T0 + 31_000 }, Actor::SYSTEM, "device")
        .await
        .unwrap();
    r.idle().await;
    assert_eq!(changes(&mut live), ["fall_trace", "recovered"]);
    let row = s.alarm(a.id).await.unwrap();
    assert_eq!(
        (row.case.cancelled_at.is_some(), row.case.trace_at.is_some(), row.case.recovered_at),
        (true, true, Some(T0 + 31_000))
    );
    let events = s.alarm_events(a.id).await.unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["raised", "repeat", "timer", "wearer_cancelled", "fall_trace", "recovered"]);
    assert_eq!(events[4].detail["trace_mg"].as_array().map(Vec::len), Some(3));
    assert!(r.record_device_message(w.device, "svc-1").await.unwrap());
    assert!(!r.record_device_message(w.device, "svc-1").await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_door_on_sqlite() {
    let clock = ManualClock::new(T0);
    let db = testing::sqlite(Arc::new(clock.clone())).await;
    one_door(db.store.clone(), clock).await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_door_on_postgres() {
    let clock = ManualClock::new(T0);
    let Some(db) = testing::postgres(Arc::new(clock.clone())).await else { return };
    one_door(db.store.clone(), clock).await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chain_on_sqlite() {
    let clock = ManualClock::new(T0);
    let db = testing::sqlite(Arc::new(clock.clone())).await;
    chain(db.store.clone(), clock).await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chain_on_postgres() {
    let clock = ManualClock::new(T0);
    let Some(db) = testing::postgres(Arc::new(clock.clone())).await else { return };
    chain(db.store.clone(), clock).await;
    db.finish().await;
}
