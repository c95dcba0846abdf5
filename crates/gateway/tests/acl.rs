//! One device attacking the others, on the embedded broker and on a Mosquitto started with the
//! configuration shipped in `deploy/mosquitto` (the machine's `mosquitto` binary, its own port):
//! a device that subscribes to `#` or `zl/v1/#` gets nothing of another device's; publishing
//! under another serial or to another device's downlink is refused (and, on the embedded
//! broker, counted); a wrong secret is refused; on the embedded broker a connection that never
//! logs in is closed, and devices connect over TLS with the deployment's CA while plain text
//! on the TLS port is refused.

mod common;

use common::{Silent, free_port};

use std::sync::Arc;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use sha2::{Digest, Sha256};
use zhulao_domain::DeviceInput;
use zhulao_gateway::{EmbeddedBroker, IngestConfig, Metrics};
use zhulao_proto::{self as proto, Direction, Kind};
use zhulao_response::{DeviceMessage, LiveHub, NoDevices, Policies, Response};
use zhulao_store::{Actor, AlarmFilter, Store, SystemClock, testing};

/// A Mosquitto of the test's own, running `deploy/mosquitto/zhulao.conf` with its ACL file;
/// only the port, the password file's place and the TLS listener differ.
struct Mosquitto {
    child: std::process::Child,
    dir: std::path::PathBuf,
    port: u16,
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn mosquitto(users: &[(&str, &str)]) -> Mosquitto {
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("zhulao-acl-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let passwd = dir.join("passwd");
    for (i, (user, pass)) in users.iter().enumerate() {
        let mut cmd = std::process::Command::new("mosquitto_passwd");
        if i == 0 {
            cmd.arg("-c");
        }
        let status = cmd
            .arg("-b")
            .arg(&passwd)
            .arg(user)
            .arg(pass)
            .status()
            .expect("mosquitto_passwd (Debian package mosquitto; scripts/test installs it)");
        assert!(status.success());
    }
    // The broker may drop root for its own user: let it read the file.
    let _ = std::process::Command::new("chmod").arg("644").arg(&passwd).status();
    let deploy = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/mosquitto");
    let shipped = std::fs::read_to_string(deploy.join("zhulao.conf")).unwrap();
    let mut conf = String::new();
    for line in shipped.lines() {
        let line = match line.split_whitespace().next() {
            Some("password_file") => format!("password_file {}", passwd.display()),
            Some("acl_file") => format!("acl_file {}", deploy.join("zhulao.acl").display()),
            Some("listener") if line.ends_with(" 1883") => format!("listener {port} 127.0.0.1"),
            // The TLS listener needs the deployment's certificate.
            Some("listener" | "certfile" | "keyfile") => continue,
            _ => line.to_string(),
        };
        conf.push_str(&line);
        conf.push('\n');
    }
    std::fs::write(dir.join("mosquitto.conf"), conf).unwrap();
    let child = std::process::Command::new("mosquitto")
        .arg("-c")
        .arg(dir.join("mosquitto.conf"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("mosquitto (Debian package mosquitto; scripts/test installs it)");
    let m = Mosquitto { child, dir, port };
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return m;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("mosquitto did not start with the shipped configuration");
}

struct Creds {
    serial: String,
    secret: String,
    device_id: i64,
}

struct World {
    store: Arc<dyn Store>,
    response: Arc<Response>,
    metrics: Metrics,
    port: u16,
    _ingest: zhulao_gateway::Ingest,
    broker: Option<zhulao_gateway::BrokerStarted>,
    _mosquitto: Option<Mosquitto>,
    victim: Creds,
    attacker: Creds,
    _db: testing::TestDb,
}

async fn register(store: &dyn Store, serial: String, elder_id: i64) -> Creds {
    let secret = format!("secret-of-{serial}");
    let hash: String = Sha256::digest(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    let input = DeviceInput { serial: serial.clone(), kind: "pendant".into(), model: "P1".into() };
    let d = store.register_device(&input.validate().unwrap(), &hash, Actor::SYSTEM).await.unwrap();
    store.bind_device(d.id, elder_id, Actor::SYSTEM).await.unwrap();
    Creds { serial, secret, device_id: d.id }
}

async fn world(embedded: bool, tls: Option<Arc<rustls::ServerConfig>>) -> World {
    let db = testing::sqlite(Arc::new(SystemClock)).await;
    let store = db.store.clone();
    let victim_elder = common::one_elder(&*store, "王秀兰").await;
    let n = std::process::id() as u64 * 1000 + free_port() as u64;
    let victim = register(&*store, format!("ZLV{n}"), victim_elder).await;
    let attacker = register(&*store, format!("ZLA{n}"), victim_elder).await;
    let response = Response::new(store.clone(), Policies::default(), Arc::new(Silent), LiveHub::default());
    response.set_device_link(Arc::new(NoDevices));
    let metrics = Metrics::new();
    let (port, broker, mosq, mut cfg) = if embedded {
        let broker = EmbeddedBroker {
            listen_tls: tls.is_some().then(|| "127.0.0.1:0".parse().unwrap()),
            tls,
            login_timeout: Duration::from_secs(1),
            max_connections: 100,
            ..EmbeddedBroker::plain("127.0.0.1:0".parse().unwrap())
        };
        let (started, cfg) = common::embedded(&broker, store.clone(), metrics.clone()).await;
        (started.plain.port(), Some(started), None, cfg)
    } else {
        let m = mosquitto(&[
            ("zhulao-1", "gateway-secret"),
            (&victim.serial, &victim.secret),
            (&attacker.serial, &attacker.secret),
        ])
        .await;
        let mut cfg = IngestConfig::from_url(
            &format!("mqtt://zhulao-1:gateway-secret@127.0.0.1:{}", m.port),
            "zhulao-1",
        )
        .unwrap();
        cfg.persistent_session = false;
        (m.port, None, Some(m), cfg)
    };
    cfg.persistent_session = false;
    cfg.tick = Duration::from_millis(200);
    let ingest = zhulao_gateway::start(cfg, response.clone(), metrics.clone());
    tokio::time::sleep(Duration::from_millis(800)).await;
    World {
        store,
        response,
        metrics,
        port,
        _ingest: ingest,
        broker,
        _mosquitto: mosq,
        victim,
        attacker,
        _db: db,
    }
}

/// A client logged in as `who`, subscribed to `filter`; what it receives comes over the channel
/// (topic, payload); a refused login or a closed connection ends the channel.
async fn client(
    w: &World,
    who: &Creds,
    secret: &str,
    filter: Option<String>,
) -> (AsyncClient, tokio::sync::mpsc::UnboundedReceiver<(String, Vec<u8>)>) {
    let mut opts = MqttOptions::new(who.serial.clone(), "127.0.0.1", w.port);
    opts.set_credentials(who.serial.clone(), secret).set_keep_alive(Duration::from_secs(10));
    let (c, mut ev) = AsyncClient::new(opts, 64);
    if let Some(f) = filter {
        c.subscribe(f, QoS::AtLeastOnce).await.unwrap();
    }
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            match ev.poll().await {
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let _ = tx.send((p.topic.clone(), p.payload.to_vec()));
                }
                Ok(Event::Incoming(Packet::ConnAck(a))) if a.code != rumqttc::ConnectReturnCode::Success => {
                    return;
                }
                Ok(_) => {}
                Err(_) => return,
            }
        }
    });
    (c, rx)
}

/// Everything received within `d`.
async fn drain(rx: &mut tokio::sync::mpsc::UnboundedReceiver<(String, Vec<u8>)>, d: Duration) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + d;
    let mut got = Vec::new();
    while let Ok(Some((topic, _))) = tokio::time::timeout_at(deadline, rx.recv()).await {
        got.push(topic);
    }
    got
}

fn refused(w: &World, reason: &str) -> u64 {
    let text = w.metrics.render();
    let key = format!("zhulao_mqtt_refused_total{{reason=\"{reason}\"}} ");
    text.lines().find_map(|l| l.strip_prefix(&key)).map_or(0, |v| v.trim().parse().unwrap())
}

fn config_for(serial: &str, interval: u32) -> DeviceMessage {
    DeviceMessage::Config {
        serial: serial.to_string(),
        config: proto::DeviceConfigMsg { report_interval_s: Some(interval), ..Default::default() },
    }
}

async fn a_device_reads_nothing_of_another(embedded: bool) {
    let w = world(embedded, None).await;
    let v = &w.victim;
    // The victim gets its settings (retained) and reports its position.
    let (vc, mut vrx) = client(&w, v, &v.secret, Some(proto::downlink_filter("zl", &v.serial))).await;
    w.response.send_to_device(v.device_id, config_for(&v.serial, 60));
    let got = drain(&mut vrx, Duration::from_secs(2)).await;
    assert!(got.iter().any(|t| t.ends_with("/down/config")), "the victim's own settings arrive: {got:?}");
    // The attacker listens on everything, then on every device topic.
    for filter in ["#", "zl/v1/#", "zl/v1/+/+/down/#"] {
        let (attacker, mut seen) = client(&w, &w.attacker, &w.attacker.secret, Some(filter.into())).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let loc = br#"{"t":1795392000000,"lat":40.0769,"lon":113.3001,"acc":8}"#.to_vec();
        vc.publish(
            proto::topic("zl", &v.serial, Direction::Up, Kind::Location),
            QoS::AtLeastOnce,
            false,
            loc,
        )
        .await
        .unwrap();
        w.response.send_to_device(v.device_id, config_for(&v.serial, 90));
        let seen = drain(&mut seen, Duration::from_millis(1500)).await;
        assert!(
            seen.iter().all(|t| !t.contains(&v.serial)),
            "subscribed to {filter}, the attacker read the victim's traffic: {seen:?}"
        );
        drop(attacker);
        assert!(
            drain(&mut vrx, Duration::from_millis(500)).await.iter().any(|t| t.ends_with("/down/config"))
        );
    }
    if embedded {
        assert_eq!(refused(&w, "subscribe"), 3, "{}", w.metrics.render());
    }
}

async fn a_device_cannot_speak_for_another(embedded: bool) {
    let w = world(embedded, None).await;
    let (v, a) = (&w.victim, &w.attacker);
    let (_vc, mut vrx) = client(&w, v, &v.secret, Some(proto::downlink_filter("zl", &v.serial))).await;
    // An SOS in the victim's name, and settings pushed onto the victim's downlink (retained),
    // each from a fresh login of the attacker.
    let sos = br#"{"id":"forged-1","t":1795392000000,"type":"sos"}"#.to_vec();
    let forged = br#"{"report_interval_s":1,"contacts":[{"name":"x","phone":"13800000000"}]}"#.to_vec();
    for (topic, payload, retain) in [
        (proto::topic("zl", &v.serial, Direction::Up, Kind::Event), sos, false),
        (proto::topic("zl", &v.serial, Direction::Down, Kind::Config), forged, true),
    ] {
        let (ac, _arx) = client(&w, a, &a.secret, None).await;
        ac.publish(topic, QoS::AtLeastOnce, retain, payload).await.unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let got = drain(&mut vrx, Duration::from_secs(2)).await;
    assert!(got.is_empty(), "the victim received forged messages: {got:?}");
    // A device subscribing afresh finds no forged retained settings either.
    let (_vc2, mut vrx2) = client(&w, v, &v.secret, Some(proto::downlink_filter("zl", &v.serial))).await;
    assert!(drain(&mut vrx2, Duration::from_secs(1)).await.is_empty());
    let alarms = w.store.list_alarms(&AlarmFilter { limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(alarms.total, 0, "a forged SOS raised an alarm");
    if embedded {
        assert_eq!(refused(&w, "publish"), 2, "{}", w.metrics.render());
    }
    // The same attacker's own SOS, under its own serial, goes through: the refusals above are
    // the rule, not a broken path.
    let (own, _orx) = client(&w, a, &a.secret, None).await;
    let sos = br#"{"id":"own-1","t":1795392000000,"type":"sos"}"#.to_vec();
    own.publish(proto::topic("zl", &a.serial, Direction::Up, Kind::Event), QoS::AtLeastOnce, false, sos)
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let page = w.store.list_alarms(&AlarmFilter { limit: 10, ..Default::default() }).await.unwrap();
        if page.total == 1 {
            assert_eq!(page.items[0].device_id, Some(a.device_id));
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the attacker's own SOS was lost: {}",
            w.metrics.render()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn a_wrong_secret_is_refused(embedded: bool) {
    let w = world(embedded, None).await;
    let v = &w.victim;
    let (c, mut rx) = client(&w, v, "not-the-secret", Some(proto::downlink_filter("zl", &v.serial))).await;
    let sos = br#"{"id":"guess-1","t":1795392000000,"type":"sos"}"#.to_vec();
    let _ = c
        .publish(proto::topic("zl", &v.serial, Direction::Up, Kind::Event), QoS::AtLeastOnce, false, sos)
        .await;
    w.response.send_to_device(v.device_id, config_for(&v.serial, 60));
    assert!(drain(&mut rx, Duration::from_secs(2)).await.is_empty());
    assert_eq!(w.store.list_alarms(&AlarmFilter { limit: 1, ..Default::default() }).await.unwrap().total, 0);
    if embedded {
        assert!(w.metrics.render().contains("zhulao_mqtt_auth_failures_total 1"), "{}", w.metrics.render());
    }
}

/// The retained status as last will still works through the door: a device that drops off
/// without saying goodbye is marked offline by its will; a will on another device's topic is
/// refused with the login.
async fn the_last_will_marks_a_vanished_device_offline(embedded: bool) {
    let w = world(embedded, None).await;
    let v = &w.victim;
    let status = proto::topic("zl", &v.serial, Direction::Up, Kind::Status);
    let mut opts = MqttOptions::new(v.serial.clone(), "127.0.0.1", w.port);
    let offline = br#"{"t":0,"online":false}"#.to_vec();
    opts.set_credentials(v.serial.clone(), v.secret.clone())
        .set_keep_alive(Duration::from_secs(5))
        .set_last_will(rumqttc::LastWill::new(status.clone(), offline, QoS::AtLeastOnce, true));
    let (c, mut ev) = AsyncClient::new(opts, 16);
    let online = format!(r#"{{"t":{},"online":true}}"#, w.store.clock().now_ms());
    c.publish(status, QoS::AtLeastOnce, true, online.into_bytes()).await.unwrap();
    // Poll until the status is sent and acknowledged, then vanish (no DISCONNECT).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match tokio::time::timeout_at(deadline, ev.poll()).await.expect("the status is acknowledged") {
            Ok(Event::Incoming(Packet::PubAck(_))) => break,
            Ok(_) => {}
            Err(e) => panic!("{e}"),
        }
    }
    let w = &w;
    let state = |want: bool| async move {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if w.store.device_state(v.device_id).await.unwrap().is_some_and(|s| s.online == want) {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "never online = {want}: {}", w.metrics.render());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    state(true).await;
    drop(ev);
    drop(c);
    state(false).await;

    // A will on another device's status topic: the login itself is refused.
    let a = &w.attacker;
    let mut opts = MqttOptions::new(a.serial.clone(), "127.0.0.1", w.port);
    let forged = proto::topic("zl", &v.serial, Direction::Up, Kind::Status);
    opts.set_credentials(a.serial.clone(), a.secret.clone()).set_last_will(rumqttc::LastWill::new(
        forged,
        br#"{"t":0,"online":true}"#.to_vec(),
        QoS::AtLeastOnce,
        true,
    ));
    let (_c, mut ev) = AsyncClient::new(opts, 16);
    let first = tokio::time::timeout(Duration::from_secs(5), ev.poll()).await;
    if embedded {
        assert!(
            !matches!(&first, Ok(Ok(Event::Incoming(Packet::ConnAck(a)))) if a.code == rumqttc::ConnectReturnCode::Success),
            "a forged will was accepted: {first:?}"
        );
        assert_eq!(refused(w, "will"), 1, "{}", w.metrics.render());
    }
    drop(ev);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        w.store.device_state(v.device_id).await.unwrap().is_some_and(|s| !s.online),
        "the forged will spoke for the victim"
    );
}

common::on_both_brokers!(
    a_device_reads_nothing_of_another,
    a_device_cannot_speak_for_another,
    a_wrong_secret_is_refused,
    the_last_will_marks_a_vanished_device_offline
);

/// A connection that never logs in, or sends something other than a CONNECT, is closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_does_not_log_in_is_closed() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let w = world(true, None).await;
    let mut idle = tokio::net::TcpStream::connect(("127.0.0.1", w.port)).await.unwrap();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(5), idle.read(&mut buf)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "an idle connection stayed open: {read:?}");
    assert_eq!(refused(&w, "login_timeout"), 1, "{}", w.metrics.render());
    let mut junk = tokio::net::TcpStream::connect(("127.0.0.1", w.port)).await.unwrap();
    junk.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let read = tokio::time::timeout(Duration::from_secs(5), junk.read(&mut buf)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "junk was answered: {read:?}");
    assert_eq!(refused(&w, "malformed"), 1, "{}", w.metrics.render());
}

/// A test CA, and a server certificate it signed for 127.0.0.1 and localhost.
fn test_pki() -> (Arc<rustls::ServerConfig>, rustls::RootCertStore) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "zhulao test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.der().clone()).unwrap();
    (Arc::new(server), roots)
}

/// A device connects over TLS with the deployment's CA and is served; plain text on the TLS
/// port gets no answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_connect_over_tls_and_plain_text_is_refused_there() {
    let (server, roots) = test_pki();
    let w = world(true, Some(server)).await;
    let tls_port = w.broker.as_ref().unwrap().tls.unwrap().port();
    let v = &w.victim;
    let client_config =
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    let mut opts = MqttOptions::new(v.serial.clone(), "127.0.0.1", tls_port);
    opts.set_credentials(v.serial.clone(), v.secret.clone())
        .set_keep_alive(Duration::from_secs(10))
        .set_transport(rumqttc::Transport::tls_with_config(rumqttc::TlsConfiguration::Rustls(Arc::new(
            client_config,
        ))));
    let (c, mut ev) = AsyncClient::new(opts, 16);
    c.subscribe(proto::downlink_filter("zl", &v.serial), QoS::AtLeastOnce).await.unwrap();
    let sos = br#"{"id":"tls-1","t":1795392000000,"type":"sos"}"#.to_vec();
    c.publish(proto::topic("zl", &v.serial, Direction::Up, Kind::Event), QoS::AtLeastOnce, false, sos)
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let ack = loop {
        match tokio::time::timeout_at(deadline, ev.poll()).await.expect("an ack over TLS") {
            Ok(Event::Incoming(Packet::Publish(p))) if p.topic.ends_with("/down/ack") => {
                break proto::decode_downlink(Kind::Ack, &p.payload).unwrap();
            }
            Ok(_) => {}
            Err(e) => panic!("TLS connection failed: {e}"),
        }
    };
    assert!(matches!(ack, proto::Downlink::Ack(a) if a.ok && a.alarm.is_some()));

    // Plain MQTT to the TLS port: the handshake fails, nothing is served.
    let mut opts = MqttOptions::new(v.serial.clone(), "127.0.0.1", tls_port);
    opts.set_credentials(v.serial.clone(), v.secret.clone());
    let (_plain, mut ev) = AsyncClient::new(opts, 16);
    let first = tokio::time::timeout(Duration::from_secs(5), ev.poll()).await;
    assert!(
        !matches!(first, Ok(Ok(Event::Incoming(Packet::ConnAck(_))))),
        "plain text was accepted on the TLS port: {first:?}"
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while refused(&w, "tls_handshake") == 0 {
        assert!(tokio::time::Instant::now() < deadline, "{}", w.metrics.render());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
