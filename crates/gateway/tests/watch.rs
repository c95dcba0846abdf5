//! TCP watches over real sockets: a 3G watch's SOS is stored before its `AL` reply and takes
//! the last known position when it has no fix; a retransmission raises nothing new; an IW
//! watch logs in and its fall alarm is raised; frames split across reads and joined in one
//! read are all answered; an unregistered watch is refused; vital signs reach the device
//! state; commands and settings reach the connected watch in its protocol. SQLite, and the
//! SOS path also on PostgreSQL.

mod common;

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use zhulao_alarms::{AlarmKind, LocationSource};
use zhulao_domain::DeviceInput;
use zhulao_gateway::{Metrics, PipelineConfig, WatchConfig, WatchProtocol};
use zhulao_response::{
    CommandRefused, DeviceMessage, LiveHub, Notifier, OutgoingNotification, Policies, Response,
};
use zhulao_store::{Actor, AlarmFilter, NotificationRecord, Store, SystemClock, testing};

struct Silent;

#[async_trait::async_trait]
impl Notifier for Silent {
    async fn notify(&self, _n: &OutgoingNotification) -> Vec<NotificationRecord> {
        Vec::new()
    }
}

const WATCH_3G: &str = "8809008845";
const WATCH_IW: &str = "353456789012345";

struct World {
    store: Arc<dyn Store>,
    response: Arc<Response>,
    metrics: Metrics,
    ingest: zhulao_gateway::Ingest,
    elder_id: i64,
    devices: Vec<i64>,
    _db: testing::TestDb,
}

async fn world(db: testing::TestDb) -> World {
    world_with(db, |_| {}).await
}

/// A world whose watch settings `tune` changes; sessions settle at once unless it says otherwise.
async fn world_with(db: testing::TestDb, tune: impl FnOnce(&mut WatchConfig)) -> World {
    let store = db.store.clone();
    let elder_id = common::one_elder(&*store, "赵桂英").await;
    let mut devices = Vec::new();
    for serial in [WATCH_3G, WATCH_IW] {
        let input = DeviceInput { serial: serial.into(), kind: "watch".into(), model: "3G-W".into() };
        let d = store.register_device(&input.validate().unwrap(), "", Actor::SYSTEM).await.unwrap();
        store.bind_device(d.id, elder_id, Actor::SYSTEM).await.unwrap();
        devices.push(d.id);
    }
    let response = Response::new(store.clone(), Policies::default(), Arc::new(Silent), LiveHub::default());
    let metrics = Metrics::new();
    let mut cfg = WatchConfig {
        listen_3g: Some("127.0.0.1:0".parse().unwrap()),
        listen_iw: Some("127.0.0.1:0".parse().unwrap()),
        settle_time: Duration::ZERO,
        ..Default::default()
    };
    tune(&mut cfg);
    let pipeline = PipelineConfig {
        workers: 2,
        queue: 64,
        tick: Duration::from_millis(200),
        default_region: String::new(),
    };
    let ingest =
        zhulao_gateway::start_gateway(&pipeline, None, Some(&cfg), response.clone(), metrics.clone())
            .unwrap();
    World { store, response, metrics, ingest, elder_id, devices, _db: db }
}

impl World {
    async fn connect(&self, p: WatchProtocol) -> TcpStream {
        TcpStream::connect(self.ingest.watch_addr(p).unwrap()).await.unwrap()
    }

    async fn alarms(&self) -> Vec<zhulao_alarms::AlarmRow> {
        let f = AlarmFilter { elder_id: Some(self.elder_id), limit: 50, ..Default::default() };
        self.store.list_alarms(&f).await.unwrap().items
    }
}

fn g3(content: &str) -> Vec<u8> {
    format!("[3G*{WATCH_3G}*{:04X}*{content}]", content.len()).into_bytes()
}

/// Reads until `end` closes a frame; `None` on EOF.
async fn read_frame(s: &mut TcpStream, end: u8) -> Option<String> {
    let mut out = Vec::new();
    let mut b = [0u8; 1];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut b))
            .await
            .expect("reply within 5 s")
            .ok()?;
        if n == 0 {
            return None;
        }
        out.push(b[0]);
        if b[0] == end {
            return Some(String::from_utf8(out).unwrap());
        }
    }
}

const UD_FIX: &str = "UD,231126,061530,A,40.080000,N,113.310000,E,0.00,0.0,0.0,9,100,81,0,0,00000000,0,0";
const AL_NO_FIX: &str = "AL,231126,061545,V,00.000000,N,0.0000000,E,0.00,0.0,0.0,0,100,81,0,0,00010000,0,0";

async fn sos_without_fix_takes_last_known_position(w: World) {
    let mut s = w.connect(WatchProtocol::Watch3g).await;
    s.write_all(&g3("LK")).await.unwrap();
    assert_eq!(read_frame(&mut s, b']').await.unwrap(), format!("[3G*{WATCH_3G}*0002*LK]"));
    s.write_all(&g3(UD_FIX)).await.unwrap();
    s.write_all(&g3(AL_NO_FIX)).await.unwrap();
    assert_eq!(read_frame(&mut s, b']').await.unwrap(), format!("[3G*{WATCH_3G}*0002*AL]"));
    // Then the platform's feedback on the watch's screen: "平台已收到您的求助".
    let feedback = read_frame(&mut s, b']').await.unwrap();
    assert!(feedback.ends_with("*MESSAGE,5e7353f05df26536523060a876846c4252a9]"), "{feedback}");
    // The reply means it is committed.
    let alarms = w.alarms().await;
    assert_eq!(alarms.len(), 1, "{alarms:?}");
    let a = &alarms[0];
    assert_eq!(a.case.kind, AlarmKind::Sos);
    assert_eq!(a.device_id, Some(w.devices[0]));
    assert_eq!(a.source, zhulao_alarms::AlarmSource::Watch);
    let loc = a.location.as_ref().unwrap();
    assert_eq!(loc.source, LocationSource::LastKnown);
    assert!((loc.lat - 40.08).abs() < 1e-9 && (loc.lon - 113.31).abs() < 1e-9, "{loc:?}");
    // The watch did not see the reply and sends the same frame again: answered, nothing new.
    s.write_all(&g3(AL_NO_FIX)).await.unwrap();
    assert_eq!(read_frame(&mut s, b']').await.unwrap(), format!("[3G*{WATCH_3G}*0002*AL]"));
    let again = w.alarms().await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].case.repeats, a.case.repeats, "a retransmission is not a repeat");
}

#[tokio::test]
async fn sqlite_sos_without_fix_takes_last_known_position() {
    sos_without_fix_takes_last_known_position(world(testing::sqlite(Arc::new(SystemClock)).await).await)
        .await;
}

#[tokio::test]
async fn postgres_sos_without_fix_takes_last_known_position() {
    let Some(db) = testing::postgres(Arc::new(SystemClock)).await else { return };
    sos_without_fix_takes_last_known_position(world(db).await).await;
}

#[tokio::test]
async fn iw_watch_logs_in_and_its_fall_is_raised_with_its_fix() {
    let w = world(testing::sqlite(Arc::new(SystemClock)).await).await;
    let mut s = w.connect(WatchProtocol::Iw).await;
    s.write_all(format!("IWAP00{WATCH_IW}#").as_bytes()).await.unwrap();
    let login = read_frame(&mut s, b'#').await.unwrap();
    assert!(login.starts_with("IWBP00,") && login.ends_with(",0#"), "{login}");
    // AP10 alarm 05: fall, with a valid fix (Traccar's sample position, Shenzhen).
    s.write_all(
        b"IWAP10080524A2232.9806N11404.9355E000.1061830323.8706000908000502,460,0,9520,3671,05,zh-cn,00#",
    )
    .await
    .unwrap();
    assert_eq!(read_frame(&mut s, b'#').await.unwrap(), "IWBP10#");
    let alarms = w.alarms().await;
    assert_eq!(alarms.len(), 1);
    assert_eq!(alarms[0].case.kind, AlarmKind::Fall);
    assert_eq!(alarms[0].device_id, Some(w.devices[1]));
    let loc = alarms[0].location.as_ref().unwrap();
    assert_eq!(loc.source, LocationSource::Fix);
    assert!((loc.lat - 22.549_676_666).abs() < 1e-6, "{loc:?}");
}

#[tokio::test]
async fn split_and_joined_frames_are_all_answered() {
    let w = world(testing::sqlite(Arc::new(SystemClock)).await).await;
    let mut s = w.connect(WatchProtocol::Watch3g).await;
    let mut wire = b"\r\n".to_vec();
    wire.extend(g3("INIT"));
    wire.extend(b"\n");
    wire.extend(g3("LK,120,0,77"));
    wire.extend(g3("TKQ"));
    for chunk in wire.chunks(7) {
        s.write_all(chunk).await.unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(read_frame(&mut s, b']').await.unwrap(), format!("[3G*{WATCH_3G}*0006*INIT,1]"));
    assert_eq!(read_frame(&mut s, b']').await.unwrap(), format!("[3G*{WATCH_3G}*0002*LK]"));
    assert_eq!(read_frame(&mut s, b']').await.unwrap(), format!("[3G*{WATCH_3G}*0003*TKQ]"));
    // Battery and heart rate reach the device state (written on the workers' tick).
    s.write_all(&g3("heart,71")).await.unwrap();
    let mut state = None;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        state = w.store.device_state(w.devices[0]).await.unwrap();
        if state.as_ref().is_some_and(|s| s.vitals.is_some()) {
            break;
        }
    }
    let state = state.expect("device state written");
    assert_eq!(state.battery_pct, Some(77));
    assert!(state.online);
    assert_eq!(state.vitals.as_ref().unwrap()["hr"], 71, "{:?}", state.vitals);
}

#[tokio::test]
async fn an_unregistered_watch_is_refused() {
    let w = world(testing::sqlite(Arc::new(SystemClock)).await).await;
    let mut s = w.connect(WatchProtocol::Watch3g).await;
    s.write_all(b"[3G*1234567890*0002*LK]").await.unwrap();
    assert_eq!(read_frame(&mut s, b']').await, None, "closed without a reply");
    assert!(w.metrics.render().contains("zhulao_mqtt_auth_failures_total 1"), "{}", w.metrics.render());
    // An IW frame before the login is refused too.
    let mut s = w.connect(WatchProtocol::Iw).await;
    s.write_all(b"IWAP03,06000908000102,5555,30#").await.unwrap();
    assert_eq!(read_frame(&mut s, b'#').await, None);
}

#[tokio::test]
async fn commands_and_settings_reach_the_connected_watch() {
    let w = world(testing::sqlite(Arc::new(SystemClock)).await).await;
    let id = w.devices[0];
    assert_eq!(
        w.response.device_command(id, &serde_json::json!({"command": "find_device"})),
        Err(CommandRefused::NotConnected)
    );
    let mut s = w.connect(WatchProtocol::Watch3g).await;
    s.write_all(&g3("LK")).await.unwrap();
    read_frame(&mut s, b']').await.unwrap();
    w.response.device_command(id, &serde_json::json!({"command": "find_device"})).unwrap();
    assert_eq!(read_frame(&mut s, b']').await.unwrap(), format!("[3G*{WATCH_3G}*0004*FIND]"));
    w.response
        .device_command(id, &serde_json::json!({"command": "heart_rate_interval", "minutes": 10}))
        .unwrap();
    assert_eq!(read_frame(&mut s, b']').await.unwrap(), format!("[3G*{WATCH_3G}*000c*hrtstart,600]"));
    match w.response.device_command(id, &serde_json::json!({"command": "report_interval", "seconds": 3})) {
        Err(CommandRefused::Invalid { zh, .. }) => assert!(!zh.is_empty()),
        other => panic!("{other:?}"),
    }
    // Settings from the console: SOS numbers and the phone book from the elder's contacts.
    let cfg = zhulao_proto::DeviceConfigMsg {
        contacts: Some(vec![zhulao_proto::ConfigContact {
            name: "张伟".into(),
            phone: "13800000001".into(),
        }]),
        report_interval_s: Some(600),
        ..Default::default()
    };
    w.response.send_to_device(id, DeviceMessage::Config { serial: WATCH_3G.into(), config: cfg });
    let sos = read_frame(&mut s, b']').await.unwrap();
    assert!(sos.ends_with("*SOS,13800000001,,]"), "{sos}");
    let phb = read_frame(&mut s, b']').await.unwrap();
    assert!(phb.contains("*PHB,13800000001,5f204f1f"), "{phb}");
    assert!(read_frame(&mut s, b']').await.unwrap().ends_with("*UPLOAD,600]"));
}
