//! The device path over real brokers — the embedded one and the machine's Mosquitto: a
//! wearer's SOS is stored, acknowledged after the commit, deduplicated when retransmitted; a
//! real SisFall fall replayed as 100 Hz motion batches raises a fall alarm with its trace;
//! unknown devices and broken frames are refused and counted; the live feed sees it all.

mod common;

use common::{Silent, free_port};

use std::sync::Arc;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use sha2::{Digest, Sha256};
use zhulao_domain::DeviceInput;
use zhulao_gateway::{EmbeddedBroker, IngestConfig, Metrics};
use zhulao_proto::{self as proto, Direction, Kind};
use zhulao_response::{LiveHub, NoDevices, Policies, Response};
use zhulao_store::{Actor, AlarmFilter, Store, SystemClock, testing};

/// The machine's Mosquitto (started by scripts/test), or `ZHULAO_TEST_MQTT`.
fn external() -> (String, u16) {
    let url = std::env::var("ZHULAO_TEST_MQTT").unwrap_or_else(|_| "mqtt://127.0.0.1:1883".into());
    let cfg = IngestConfig::from_url(&url, "x").unwrap();
    (cfg.host, cfg.port)
}

struct World {
    store: Arc<dyn Store>,
    response: Arc<Response>,
    metrics: Metrics,
    _ingest: zhulao_gateway::Ingest,
    _broker: Option<zhulao_gateway::BrokerStarted>,
    host: String,
    port: u16,
    /// The embedded broker's MQTT 5 port.
    port5: Option<u16>,
    root: String,
    serial: String,
    secret: String,
    _db: testing::TestDb,
}

async fn world(embedded: bool) -> World {
    let db = testing::sqlite(Arc::new(SystemClock)).await;
    let store = db.store.clone();
    let elder_id = common::one_elder(&*store, "王秀兰").await;
    let n = std::process::id() as u64 * 1000 + free_port() as u64;
    let serial = format!("ZLT{n}");
    let secret = format!("secret-{n}");
    let hash: String = Sha256::digest(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    let input = DeviceInput { serial: serial.clone(), kind: "pendant".into(), model: "P1".into() };
    let d = store.register_device(&input.validate().unwrap(), &hash, Actor::SYSTEM).await.unwrap();
    store.bind_device(d.id, elder_id, Actor::SYSTEM).await.unwrap();

    let response = Response::new(store.clone(), Policies::default(), Arc::new(Silent), LiveHub::default());
    response.set_device_link(Arc::new(NoDevices));
    let metrics = Metrics::new();
    let mut broker = None;
    let (host, port, port5, root, mut cfg) = if embedded {
        let broker_cfg = EmbeddedBroker {
            listen_v5: Some("127.0.0.1:0".parse().unwrap()),
            max_connections: 100,
            ..EmbeddedBroker::plain("127.0.0.1:0".parse().unwrap())
        };
        let (started, cfg) = common::embedded(&broker_cfg, store.clone(), metrics.clone()).await;
        let (port, port5) = (started.plain.port(), started.plain_v5.map(|a| a.port()));
        broker = Some(started);
        ("127.0.0.1".to_string(), port, port5, "zl".to_string(), cfg)
    } else {
        let (host, port) = external();
        let root = format!("zt{n}");
        let mut cfg =
            IngestConfig::from_url(&format!("mqtt://{host}:{port}"), &format!("zhulao-test-{n}")).unwrap();
        cfg.topic_root = root.clone();
        cfg.persistent_session = false;
        (host, port, None, root, cfg)
    };
    cfg.tick = Duration::from_millis(200);
    let ingest = zhulao_gateway::start(cfg, response.clone(), metrics.clone());
    // Let the ingest client connect and subscribe before devices publish.
    tokio::time::sleep(Duration::from_millis(if embedded { 1000 } else { 500 })).await;
    World {
        store,
        response,
        metrics,
        _ingest: ingest,
        _broker: broker,
        host,
        port,
        port5,
        root,
        serial,
        secret,
        _db: db,
    }
}

/// A wearable: connects with its credentials and listens on its downlink; its connection
/// runs in the background and hands downlink messages over a channel.
struct Device {
    client: AsyncClient,
    down: tokio::sync::mpsc::UnboundedReceiver<(String, Vec<u8>)>,
}

async fn device(w: &World, serial: &str, secret: &str) -> Device {
    let mut opts = MqttOptions::new(serial, w.host.clone(), w.port);
    opts.set_credentials(serial, secret).set_keep_alive(Duration::from_secs(10));
    let (client, mut ev) = AsyncClient::new(opts, 64);
    client.subscribe(proto::downlink_filter(&w.root, serial), QoS::AtLeastOnce).await.unwrap();
    let (tx, down) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            match ev.poll().await {
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let _ = tx.send((p.topic.clone(), p.payload.to_vec()));
                }
                Ok(Event::Incoming(Packet::ConnAck(c))) if c.code != rumqttc::ConnectReturnCode::Success => {
                    return;
                }
                Ok(_) => {}
                Err(_) => return,
            }
        }
    });
    Device { client, down }
}

impl Device {
    /// The next downlink of `kind` within 10 s.
    async fn next(&mut self, kind: Kind) -> Option<proto::Downlink> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let (topic, payload) = tokio::time::timeout_at(deadline, self.down.recv()).await.ok()??;
            if topic.ends_with(&format!("/{}", kind.as_str())) {
                return proto::decode_downlink(kind, &payload).ok();
            }
        }
    }
}

fn up_topic(w: &World, serial: &str, kind: Kind) -> String {
    proto::topic(&w.root, serial, Direction::Up, kind)
}

async fn sos_is_stored_acknowledged_and_deduplicated(embedded: bool) {
    let w = world(embedded).await;
    let mut live = w.response.hub().subscribe();
    let mut dev = device(&w, &w.serial, &w.secret).await;
    let client = dev.client.clone();
    // No position fix in the message: the alarm still rises, at the elder's home.
    let sos = serde_json::json!({ "id": "sos-1", "t": 1_795_392_000_000i64, "type": "sos" });
    let payload = serde_json::to_vec(&sos).unwrap();
    client
        .publish(up_topic(&w, &w.serial, Kind::Event), QoS::AtLeastOnce, false, payload.clone())
        .await
        .unwrap();
    let Some(proto::Downlink::Ack(ack)) = dev.next(Kind::Ack).await else { panic!("no ack") };
    assert!(ack.ok && ack.id == "sos-1");
    let alarm_id = ack.alarm.expect("the ack names the alarm");
    // The ack came after the commit: the alarm is there.
    let a = w.store.alarm(alarm_id).await.unwrap();
    assert_eq!(a.case.kind, zhulao_alarms::AlarmKind::Sos);
    assert_eq!(a.location.unwrap().source, zhulao_alarms::LocationSource::Home);
    let e = live.recv().await.unwrap();
    assert_eq!((e.topic, e.data["id"].as_i64()), ("alarm", Some(alarm_id)));
    // The device did not see the ack in time and sends it again: same alarm, nothing new.
    client.publish(up_topic(&w, &w.serial, Kind::Event), QoS::AtLeastOnce, false, payload).await.unwrap();
    let Some(proto::Downlink::Ack(again)) = dev.next(Kind::Ack).await else {
        panic!("no second ack: {}", w.metrics.render())
    };
    assert_eq!(again.alarm, Some(alarm_id));
    let all = w.store.list_alarms(&AlarmFilter { limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(all.total, 1);
    // Settings pushed from the console reach the device on its downlink.
    let config =
        proto::DeviceConfigMsg { report_interval_s: Some(120), hr_high: Some(130), ..Default::default() };
    w.response.send_to_device(
        a.device_id.unwrap(),
        zhulao_response::DeviceMessage::Config { serial: w.serial.clone(), config: config.clone() },
    );
    let Some(proto::Downlink::Config(got)) = dev.next(Kind::Config).await else { panic!("no config") };
    assert_eq!(got, config);
    // Broken frames are refused with the code, never stored.
    client
        .publish(
            up_topic(&w, &w.serial, Kind::Event),
            QoS::AtLeastOnce,
            false,
            br#"{"id":"x-2","t":5,"type":"sos"}"#.to_vec(),
        )
        .await
        .unwrap();
    let Some(proto::Downlink::Ack(refused)) = dev.next(Kind::Ack).await else { panic!("no refusal") };
    assert_eq!((refused.ok, refused.err.as_deref()), (false, Some("bad_time")));
    client
        .publish(up_topic(&w, &w.serial, Kind::Motion), QoS::AtMostOnce, false, b"ZM\x01junk".to_vec())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let text = w.metrics.render();
    assert!(text.contains(r#"zhulao_decode_errors_total{code="bad_time"} 1"#), "{text}");
    assert!(text.contains(r#"zhulao_duplicate_messages_total 1"#), "{text}");
    assert!(text.contains("zhulao_alarm_latency_seconds_count 1"), "{text}");
}

async fn a_real_fall_replayed_raises_a_fall_alarm(embedded: bool) {
    let w = world(embedded).await;
    let dev = device(&w, &w.serial, &w.secret).await;
    let client = dev.client.clone();
    let raw = include_str!("../../fall-eval/tests/data/raw/SA02/F13_SA02_R01.txt");
    let acc = zhulao_fall_eval::data::parse_raw(raw).unwrap();
    let t0 = w.store.clock().now_ms() - acc.len() as i64 * 10;
    for (seq, chunk) in acc.chunks(100).enumerate() {
        let batch = proto::MotionBatch {
            seq: seq as u32,
            t0_ms: t0 + seq as i64 * 1000,
            rate_hz: 100,
            accel: chunk.iter().map(|a| proto::MotionBatch::accel_to_mg(*a)).collect(),
            gyro: None,
        };
        client
            .publish(up_topic(&w, &w.serial, Kind::Motion), QoS::AtLeastOnce, false, batch.encode())
            .await
            .unwrap();
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let alarm = loop {
        let page = w.store.list_alarms(&AlarmFilter { limit: 10, ..Default::default() }).await.unwrap();
        if let Some(a) = page.items.into_iter().next() {
            break a;
        }
        assert!(tokio::time::Instant::now() < deadline, "no fall alarm; metrics:\n{}", w.metrics.render());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(alarm.case.kind, zhulao_alarms::AlarmKind::Fall);
    assert!(alarm.detail["confidence"].as_f64().unwrap() > 0.5);
    // The trace follows 5 s of samples later; this trial has them.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let kinds: Vec<String> =
            w.store.alarm_events(alarm.id).await.unwrap().into_iter().map(|e| e.kind).collect();
        if kinds.iter().any(|k| k == "fall_trace") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no trace: {kinds:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(w.metrics.render().contains(&format!("zhulao_motion_samples_total {}", acc.len())));
}

async fn strangers_are_refused(embedded: bool) {
    let w = world(embedded).await;
    if embedded {
        // The embedded broker checks the registry: a wrong secret cannot even connect.
        let mut dev = device(&w, &w.serial, "wrong-secret").await;
        assert!(dev.next(Kind::Ack).await.is_none());
        assert!(w.metrics.render().contains("zhulao_mqtt_auth_failures_total 1"), "{}", w.metrics.render());
    }
    if embedded {
        // The embedded broker lets a device publish only under its own serial (see
        // tests/acl.rs for every such attack).
        return;
    }
    // An unregistered serial that reaches the stream (the test's Mosquitto allows anonymous
    // clients and has no ACLs; the shipped configuration in deploy/mosquitto has both) is
    // refused and counted.
    let stranger = "ZLT-NOBODY";
    let opts = MqttOptions::new(format!("{stranger}-{}", w.serial), w.host.clone(), w.port);
    let (client, mut ev) = AsyncClient::new(opts, 16);
    tokio::spawn(async move { while ev.poll().await.is_ok() {} });
    let sos = br#"{"id":"s-1","t":1795392000000,"type":"sos"}"#.to_vec();
    client.publish(up_topic(&w, stranger, Kind::Event), QoS::AtLeastOnce, false, sos).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !w.metrics.render().contains(r#"zhulao_rejected_messages_total{reason="unknown_device"} 1"#) {
        assert!(tokio::time::Instant::now() < deadline, "{}", w.metrics.render());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(w.store.list_alarms(&AlarmFilter { limit: 1, ..Default::default() }).await.unwrap().total, 0);
}

/// A device speaking MQTT 5 to the embedded broker's v5 listener is served the same way.
/// A wearer whose device sits tilted (up reads [0.6, −0.8, 0] g) walks for 8 s: the detector
/// learns that direction and the gateway keeps it in the device's state for the next start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upright_learnt_from_walking_is_kept() {
    let w = world(true).await;
    let dev = device(&w, &w.serial, &w.secret).await;
    let up = [0.6f32, -0.8, 0.0];
    let t0 = w.store.clock().now_ms() - 8_000;
    for seq in 0..8u32 {
        let accel = (0..100)
            .map(|i| {
                let t = (seq * 100 + i) as f32 / 100.0;
                let step = 0.25 * (std::f32::consts::TAU * 1.8 * t).sin();
                let sway = 0.1 * (std::f32::consts::PI * 1.8 * t).sin();
                // Steps along "up", sway across it.
                let a = [up[0] * (1.0 + step), up[1] * (1.0 + step), sway];
                proto::MotionBatch::accel_to_mg(a)
            })
            .collect();
        let batch =
            proto::MotionBatch { seq, t0_ms: t0 + i64::from(seq) * 1000, rate_hz: 100, accel, gyro: None };
        dev.client
            .publish(up_topic(&w, &w.serial, Kind::Motion), QoS::AtLeastOnce, false, batch.encode())
            .await
            .unwrap();
    }
    let d = w.store.device_by_serial(&w.serial).await.unwrap().unwrap().0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let learnt = loop {
        if let Some(u) = w.store.device_state(d.id).await.unwrap().and_then(|s| s.upright) {
            break u;
        }
        assert!(tokio::time::Instant::now() < deadline, "no upright saved; metrics:\n{}", w.metrics.render());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let cos = learnt[0] * up[0] + learnt[1] * up[1] + learnt[2] * up[2];
    assert!(cos > 0.99, "learnt {learnt:?}, walked with up = {up:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt5_devices_are_served() {
    use rumqttc::v5::mqttbytes::QoS as QoS5;
    use rumqttc::v5::mqttbytes::v5::Packet as Packet5;
    let w = world(true).await;
    let mut opts = rumqttc::v5::MqttOptions::new(w.serial.clone(), w.host.clone(), w.port5.unwrap());
    opts.set_credentials(w.serial.clone(), w.secret.clone()).set_keep_alive(Duration::from_secs(10));
    let (client, mut ev) = rumqttc::v5::AsyncClient::new(opts, 16);
    client.subscribe(proto::downlink_filter(&w.root, &w.serial), QoS5::AtLeastOnce).await.unwrap();
    let sos = br#"{"id":"v5-1","t":1795392000000,"type":"sos","lat":40.07,"lon":113.3}"#.to_vec();
    client.publish(up_topic(&w, &w.serial, Kind::Event), QoS5::AtLeastOnce, false, sos).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let ack = loop {
        let polled = tokio::time::timeout_at(deadline, ev.poll()).await.expect("an ack over MQTT 5");
        if let Ok(rumqttc::v5::Event::Incoming(Packet5::Publish(p))) = polled
            && p.topic.ends_with(b"/ack")
        {
            break proto::decode_downlink(Kind::Ack, &p.payload).unwrap();
        }
    };
    let proto::Downlink::Ack(ack) = ack else { panic!("not an ack") };
    assert!(ack.ok);
    let a = w.store.alarm(ack.alarm.unwrap()).await.unwrap();
    assert_eq!(a.location.unwrap().source, zhulao_alarms::LocationSource::Fix);
}

common::on_both_brokers!(
    sos_is_stored_acknowledged_and_deduplicated,
    a_real_fall_replayed_raises_a_fall_alarm,
    strangers_are_refused
);
