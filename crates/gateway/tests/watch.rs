//! TCP watches over real sockets: a 3G watch's SOS is stored before its `AL` reply and takes
//! the last known position when it has no fix; a retransmission raises nothing new; an IW
//! watch logs in and its fall alarm is raised; frames split across reads and joined in one
//! read are all answered; an unregistered watch is refused; vital signs reach the device
//! state; commands and settings reach the connected watch in its protocol. SQLite, and the
//! SOS path also on PostgreSQL.

mod common;

use common::Silent;

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use zhulao_alarms::{AlarmKind, Command, LocationSource, Outcome};
use zhulao_domain::DeviceInput;
use zhulao_gateway::{Metrics, PipelineConfig, WatchConfig, WatchProtocol};
use zhulao_response::{CommandRefused, DeviceMessage, LiveHub, Policies, Response};
use zhulao_store::{Actor, AlarmFilter, Store, SystemClock, testing};

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

// ---------------------------------------------------------------------------------------------
// Issue 15: sessions that cannot be hijacked, settings only to settled sessions and deleted
// only on the watch's receipt, the login timeout, the allow-list, unknown ids rate-limited,
// alarm frames that cannot be decoded whole.

/// A connection from another loopback address (the attacker is not the watch's address).
async fn connect_from(addr: std::net::SocketAddr, from: &str) -> TcpStream {
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind(format!("{from}:0").parse().unwrap()).unwrap();
    sock.connect(addr).await.unwrap()
}

/// Nothing arrives within `ms`; `true` if the connection is still open.
async fn silent_for(s: &mut TcpStream, ms: u64) -> bool {
    let mut b = [0u8; 256];
    match tokio::time::timeout(Duration::from_millis(ms), s.read(&mut b)).await {
        Err(_) => true,
        Ok(Ok(0)) | Ok(Err(_)) => false,
        Ok(Ok(n)) => panic!("unexpected bytes: {:?}", String::from_utf8_lossy(&b[..n])),
    }
}

/// The connection is closed by the server within `ms`.
async fn closed_within(s: &mut TcpStream, ms: u64) -> bool {
    let mut b = [0u8; 256];
    let deadline = tokio::time::Instant::now() + Duration::from_millis(ms);
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut b)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

fn contacts_config() -> zhulao_proto::DeviceConfigMsg {
    zhulao_proto::DeviceConfigMsg {
        contacts: Some(vec![zhulao_proto::ConfigContact {
            name: "张伟".into(),
            phone: "13800000001".into(),
        }]),
        report_interval_s: Some(600),
        ..Default::default()
    }
    .validate()
    .unwrap()
}

/// Settings pushed through the API: queued in the store, then handed to the gateway.
async fn push_settings(w: &World, device: i64) {
    let config = contacts_config();
    let payload = zhulao_proto::Downlink::Config(config.clone()).encode();
    w.store.queue_device_config(device, &String::from_utf8_lossy(&payload)).await.unwrap();
    w.response.send_to_device(device, DeviceMessage::Config { serial: WATCH_3G.into(), config });
}

async fn wait_for<T>(what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    for _ in 0..100 {
        if let Some(v) = f().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// A mobile network drops connections without a word: a watch logging in again after its
/// old connection has been silent for longer than a link interval replaces it (as a watch
/// logging in while offline would), with no conflict; the new session still settles first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_replaces_a_connection_silent_past_the_link_interval() {
    let w = world_with(testing::sqlite(Arc::new(SystemClock)).await, |c| {
        c.replace_silent_after = Some(Duration::from_millis(800));
    })
    .await;
    let addr = w.ingest.watch_addr(WatchProtocol::Watch3g).unwrap();
    let mut old = w.connect(WatchProtocol::Watch3g).await;
    old.write_all(&g3("LK")).await.unwrap();
    assert_eq!(read_frame(&mut old, b']').await.unwrap(), format!("[3G*{WATCH_3G}*0002*LK]"));
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let mut again = connect_from(addr, "127.0.0.3").await;
    again.write_all(&g3("LK")).await.unwrap();
    assert_eq!(read_frame(&mut again, b']').await.unwrap(), format!("[3G*{WATCH_3G}*0002*LK]"));
    assert!(closed_within(&mut old, 2000).await, "the silent connection is replaced");
    assert!(w.alarms().await.is_empty(), "no conflict for a reconnect");
    assert!(w.metrics.render().contains(r#"zhulao_watch_sessions_total{event="replaced_silent"} 1"#));
    // A third login while this one is fresh is a conflict again.
    let mut third = connect_from(addr, "127.0.0.4").await;
    third.write_all(&g3("LK")).await.unwrap();
    assert_eq!(read_frame(&mut third, b']').await.unwrap(), format!("[3G*{WATCH_3G}*0002*LK]"));
    let alarms = w.alarms().await;
    assert_eq!(alarms.len(), 1, "{alarms:?}");
    assert_eq!(alarms[0].case.kind, AlarmKind::DeviceConflict);
}

#[tokio::test]
async fn a_second_login_raises_a_conflict_and_leaks_no_setting() {
    let w = world(testing::sqlite(Arc::new(SystemClock)).await).await;
    let id = w.devices[0];
    let addr = w.ingest.watch_addr(WatchProtocol::Watch3g).unwrap();
    let mut real = w.connect(WatchProtocol::Watch3g).await;
    real.write_all(&g3(UD_FIX)).await.unwrap();
    real.write_all(&g3("LK")).await.unwrap();
    assert_eq!(read_frame(&mut real, b']').await.unwrap(), format!("[3G*{WATCH_3G}*0002*LK]"));
    // Someone who knows the id logs in from elsewhere: answered, but it takes nothing over.
    let mut impostor = connect_from(addr, "127.0.0.2").await;
    impostor.write_all(&g3("LK")).await.unwrap();
    assert_eq!(read_frame(&mut impostor, b']').await.unwrap(), format!("[3G*{WATCH_3G}*0002*LK]"));
    let alarms = w.alarms().await;
    assert_eq!(alarms.len(), 1, "{alarms:?}");
    let conflict = &alarms[0];
    assert_eq!(conflict.case.kind, AlarmKind::DeviceConflict);
    let conns = conflict.detail["connections"].as_array().unwrap().clone();
    assert_eq!(conns.len(), 2, "{}", conflict.detail);
    assert!(conns[1]["peer"].as_str().unwrap().starts_with("127.0.0.2:"), "{}", conflict.detail);
    let real_number = conns[0]["connection"].as_u64().unwrap();
    assert!(w.metrics.render().contains(r#"zhulao_watch_sessions_total{event="device_conflict"} 1"#));
    // The real watch is still connected and answered.
    real.write_all(&g3("LK")).await.unwrap();
    assert_eq!(read_frame(&mut real, b']').await.unwrap(), format!("[3G*{WATCH_3G}*0002*LK]"));
    // Settings and commands reach neither connection.
    push_settings(&w, id).await;
    assert_eq!(
        w.response.device_command(id, &serde_json::json!({"command": "find_device"})),
        Err(CommandRefused::DeviceConflict)
    );
    assert_eq!(
        w.response
            .device_command(id, &serde_json::json!({"command": "sos_numbers", "numbers": ["13900000000"]})),
        Err(CommandRefused::DeviceConflict)
    );
    assert!(silent_for(&mut real, 1200).await);
    assert!(silent_for(&mut impostor, 100).await);
    // The impostor's SOS is still raised (an SOS is never lost), attributed to its
    // connection, without its claimed position; the device's position is not moved.
    impostor
        .write_all(&g3("AL,231126,061545,A,31.000000,N,121.000000,E,0.00,0.0,0.0,9,100,81,0,0,00010000,0,0"))
        .await
        .unwrap();
    assert_eq!(read_frame(&mut impostor, b']').await.unwrap(), format!("[3G*{WATCH_3G}*0002*AL]"));
    let sos = w.alarms().await.into_iter().find(|a| a.case.kind == AlarmKind::Sos).expect("the SOS");
    assert_eq!(sos.detail["conflict"]["peer"].as_str().map(|p| p.starts_with("127.0.0.2:")), Some(true));
    assert_eq!(sos.detail["conflict"]["reported"]["lat"], 31.0);
    let loc = sos.location.as_ref().unwrap();
    assert_eq!(loc.source, LocationSource::LastKnown, "the position known before the conflict");
    assert!((loc.lat - 40.08).abs() < 1e-9, "{loc:?}");
    // The operator confirms the real connection: the impostor is dropped, the settings go out.
    w.response
        .device_command(id, &serde_json::json!({"command": "confirm_session", "connection": real_number}))
        .unwrap();
    assert!(closed_within(&mut impostor, 2000).await, "the other connection is closed");
    let sos = read_frame(&mut real, b']').await.unwrap();
    assert!(sos.ends_with("*SOS,13800000001,,]"), "{sos}");
    let phb = read_frame(&mut real, b']').await.unwrap();
    assert!(phb.contains("*PHB,13800000001,"), "{phb}");
    assert!(read_frame(&mut real, b']').await.unwrap().ends_with("*UPLOAD,600]"));
    // Queued until the watch confirms every command.
    real.write_all(&g3("SOS")).await.unwrap();
    real.write_all(&g3("PHB")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(w.store.pending_device_config(id).await.unwrap().is_some(), "UPLOAD not confirmed yet");
    real.write_all(&g3("UPLOAD")).await.unwrap();
    wait_for("the queue to be cleared", async || {
        w.store.pending_device_config(id).await.unwrap().is_none().then_some(())
    })
    .await;
}

#[tokio::test]
async fn closing_the_conflict_alarm_drops_every_connection() {
    let w = world(testing::sqlite(Arc::new(SystemClock)).await).await;
    let id = w.devices[0];
    let addr = w.ingest.watch_addr(WatchProtocol::Watch3g).unwrap();
    let mut a = w.connect(WatchProtocol::Watch3g).await;
    a.write_all(&g3("LK")).await.unwrap();
    read_frame(&mut a, b']').await.unwrap();
    let mut b = connect_from(addr, "127.0.0.3").await;
    b.write_all(&g3("LK")).await.unwrap();
    read_frame(&mut b, b']').await.unwrap();
    push_settings(&w, id).await;
    let alarm = w.alarms().await.into_iter().find(|a| a.case.kind == AlarmKind::DeviceConflict).unwrap();
    w.response.act(alarm.id, &Command::Answer { by: 1 }, Actor::SYSTEM, "operator").await.unwrap();
    w.response
        .act(
            alarm.id,
            &Command::Close { by: 1, outcome: Outcome::Other, notes: "核实后断开".into() },
            Actor::SYSTEM,
            "operator",
        )
        .await
        .unwrap();
    assert!(closed_within(&mut a, 3000).await && closed_within(&mut b, 3000).await, "both dropped");
    // The watch logs in again alone: a fresh session, which gets its settings.
    let mut again = w.connect(WatchProtocol::Watch3g).await;
    again.write_all(&g3("LK")).await.unwrap();
    assert_eq!(read_frame(&mut again, b']').await.unwrap(), format!("[3G*{WATCH_3G}*0002*LK]"));
    assert!(read_frame(&mut again, b']').await.unwrap().ends_with("*SOS,13800000001,,]"));
    assert_eq!(w.alarms().await.iter().filter(|a| a.case.kind == AlarmKind::DeviceConflict).count(), 1);
}

#[tokio::test]
async fn queued_settings_wait_for_the_settle_time_and_leave_only_once_confirmed() {
    let w = world_with(testing::sqlite(Arc::new(SystemClock)).await, |c| {
        c.settle_time = Duration::from_millis(1500)
    })
    .await;
    let id = w.devices[0];
    push_settings(&w, id).await;
    let mut s = w.connect(WatchProtocol::Watch3g).await;
    s.write_all(&g3("LK")).await.unwrap();
    assert_eq!(read_frame(&mut s, b']').await.unwrap(), format!("[3G*{WATCH_3G}*0002*LK]"));
    // A new session gets no numbers: neither the queue nor a command.
    assert_eq!(
        w.response.device_command(id, &serde_json::json!({"command": "phonebook", "contacts": []})),
        Err(CommandRefused::NotSettled)
    );
    assert!(silent_for(&mut s, 1000).await, "nothing before the settle time");
    let first = read_frame(&mut s, b']').await.unwrap();
    assert!(first.ends_with("*SOS,13800000001,,]"), "{first}");
    // Sent but not confirmed: still queued, and sent again to the next settled session.
    drop(s);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(w.store.pending_device_config(id).await.unwrap().is_some());
    let mut s = w.connect(WatchProtocol::Watch3g).await;
    s.write_all(&g3("LK")).await.unwrap();
    read_frame(&mut s, b']').await.unwrap();
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(read_frame(&mut s, b']').await.unwrap());
    }
    assert!(got[2].ends_with("*UPLOAD,600]"), "{got:?}");
    for word in ["SOS", "PHB", "UPLOAD"] {
        s.write_all(&g3(word)).await.unwrap();
    }
    wait_for("the queue to be cleared", async || {
        w.store.pending_device_config(id).await.unwrap().is_none().then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_connection_that_does_not_log_in_is_closed() {
    let w = world_with(testing::sqlite(Arc::new(SystemClock)).await, |c| {
        c.login_timeout = Duration::from_millis(300)
    })
    .await;
    let mut idle = w.connect(WatchProtocol::Watch3g).await;
    let mut chatty = w.connect(WatchProtocol::Iw).await;
    chatty.write_all(b"hello\r\n").await.unwrap();
    assert!(closed_within(&mut idle, 2000).await);
    assert!(closed_within(&mut chatty, 2000).await);
    assert!(w.metrics.render().contains(r#"zhulao_rejected_messages_total{reason="login_timeout"} 2"#));
    // A watch that logs in stays.
    let mut s = w.connect(WatchProtocol::Watch3g).await;
    s.write_all(&g3("LK")).await.unwrap();
    read_frame(&mut s, b']').await.unwrap();
    assert!(silent_for(&mut s, 700).await);
}

#[tokio::test]
async fn only_the_allowed_networks_may_connect() {
    let w = world_with(testing::sqlite(Arc::new(SystemClock)).await, |c| {
        c.allow_from = vec!["127.0.0.2/32".parse().unwrap(), "10.0.0.0/8".parse().unwrap()];
    })
    .await;
    let addr = w.ingest.watch_addr(WatchProtocol::Watch3g).unwrap();
    let mut outside = w.connect(WatchProtocol::Watch3g).await;
    let _ = outside.write_all(&g3("LK")).await;
    assert!(closed_within(&mut outside, 2000).await);
    assert!(w.metrics.render().contains(r#"zhulao_rejected_messages_total{reason="source_not_allowed"} 1"#));
    let mut inside = connect_from(addr, "127.0.0.2").await;
    inside.write_all(&g3("LK")).await.unwrap();
    assert_eq!(read_frame(&mut inside, b']').await.unwrap(), format!("[3G*{WATCH_3G}*0002*LK]"));
}

#[tokio::test]
async fn unknown_ids_are_rate_limited_per_source_address() {
    let w = world_with(testing::sqlite(Arc::new(SystemClock)).await, |c| {
        c.unknown_id_limit = zhulao_gateway::UnknownIdLimit { burst: 2, every: Duration::from_secs(3600) };
    })
    .await;
    let addr = w.ingest.watch_addr(WatchProtocol::Watch3g).unwrap();
    // The registered watch has logged in before (the gateway knows it).
    let mut s = w.connect(WatchProtocol::Watch3g).await;
    s.write_all(&g3("LK")).await.unwrap();
    read_frame(&mut s, b']').await.unwrap();
    drop(s);
    for i in 0..4 {
        let mut s = w.connect(WatchProtocol::Watch3g).await;
        s.write_all(format!("[3G*99000000{i:02}*0002*LK]").as_bytes()).await.unwrap();
        assert_eq!(read_frame(&mut s, b']').await, None);
    }
    let m = w.metrics.render();
    assert!(m.contains(r#"zhulao_rejected_messages_total{reason="unknown_device"} 2"#), "{m}");
    assert!(m.contains(r#"zhulao_rejected_messages_total{reason="unknown_id_rate_limited"} 2"#), "{m}");
    // Another address has its own budget, and a registered watch is never limited.
    let mut other = connect_from(addr, "127.0.0.4").await;
    other.write_all(b"[3G*9900000099*0002*LK]").await.unwrap();
    assert_eq!(read_frame(&mut other, b']').await, None);
    assert!(w.metrics.render().contains(r#"zhulao_rejected_messages_total{reason="unknown_device"} 3"#));
    let mut s = w.connect(WatchProtocol::Watch3g).await;
    s.write_all(&g3("LK")).await.unwrap();
    let reply = read_frame(&mut s, b']').await;
    assert_eq!(reply, Some(format!("[3G*{WATCH_3G}*0002*LK]")), "{}", w.metrics.render());
}

#[tokio::test]
async fn an_alarm_frame_that_cannot_be_decoded_whole_keeps_its_alarm_and_raw_frame() {
    let w = world(testing::sqlite(Arc::new(SystemClock)).await).await;
    let mut s = w.connect(WatchProtocol::Watch3g).await;
    let odd = "AL,260723,185105,A,nan,N,113.1,E,0.00,0.0,0.0,0,100,67,0,0,00010000,0";
    s.write_all(&g3(odd)).await.unwrap();
    assert_eq!(read_frame(&mut s, b']').await.unwrap(), format!("[3G*{WATCH_3G}*0002*AL]"));
    let alarms = w.alarms().await;
    assert_eq!(alarms.len(), 1, "{alarms:?}");
    assert_eq!(alarms[0].case.kind, AlarmKind::Sos);
    assert_eq!(alarms[0].detail["undecoded"]["field"], "lat", "{}", alarms[0].detail);
    assert_eq!(alarms[0].detail["raw"].as_str().unwrap(), String::from_utf8(g3(odd)).unwrap());
    // An IW alarm frame without a fix and with its alarm code left out: raised all the same.
    let mut iw = w.connect(WatchProtocol::Iw).await;
    iw.write_all(format!("IWAP00{WATCH_IW}#").as_bytes()).await.unwrap();
    read_frame(&mut iw, b'#').await.unwrap();
    iw.write_all(b"IWAP10240131V0000.0000N00000.0000E000.0123456000.0006000005000102#").await.unwrap();
    assert_eq!(read_frame(&mut iw, b'#').await.unwrap(), "IWBP10#");
    // The same elder's SOS is open: the IW alarm is merged into it as a repeat.
    let alarms = w.alarms().await;
    assert_eq!((alarms.len(), alarms[0].case.repeats), (1, 1), "{alarms:?}");
    let events = w.store.alarm_events(alarms[0].id).await.unwrap();
    let repeat = events.iter().find(|e| e.kind == "repeat").expect("the repeat");
    assert_eq!(repeat.detail["detail"]["alarm"], "unreadable", "{}", repeat.detail);
}
