//! Nothing lost, nothing duplicated: wearers send a storm of SOS and (device-side) fall
//! events while the `zhulao` process is killed with SIGKILL again and again and restarted.
//! Every event is retransmitted until its `down/ack` arrives; at the end each event is in
//! the database exactly once (counted in its alarm) and every timer still runs.
//!
//! Runs against the embedded broker (devices reconnect to the restarted process) and against
//! Mosquitto (the broker outlives zhulao; zhulao's persistent session resumes). Sized for CI
//! by default; `scripts/kill-test` runs a longer storm through the same code with
//! `ZHULAO_KILL_DEVICES`, `ZHULAO_KILL_EVENTS`, `ZHULAO_KILLS` and `ZHULAO_KILL_MQTT`.

use std::collections::{HashMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::mpsc;
use zhulao_proto::{self as proto, Direction, Kind};
use zhulao_store::{AlarmFilter, SystemClock};

/// The demo district the test loads; enough elders for the long storm.
const ELDERS: usize = 400;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Server {
    args: Vec<String>,
    child: Option<Child>,
    mqtt_port: u16,
}

impl Server {
    fn start(&mut self) {
        let child = Command::new(env!("CARGO_BIN_EXE_zhulao"))
            .args(&self.args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start zhulao");
        self.child = Some(child);
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SIGKILL: no shutdown path runs.
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    async fn wait_listening(&self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(Instant::now() < deadline, "zhulao did not come up on {port}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One wearer: sends its events one after another, each until acknowledged, across the
/// server's deaths. Returns the alarm ids the acks named.
async fn wearer(
    host: String,
    port: u16,
    root: String,
    serial: String,
    events: usize,
    auth: bool,
) -> Vec<(String, Option<i64>)> {
    let mut opts = MqttOptions::new(serial.clone(), host, port);
    opts.set_keep_alive(Duration::from_secs(5));
    if auth {
        opts.set_credentials(serial.clone(), zhulao_demo::device_secret(&serial));
    }
    let (client, mut ev) = AsyncClient::new(opts, 256);
    let (tx, mut acks) = mpsc::unbounded_channel::<proto::Ack>();
    let sub = proto::downlink_filter(&root, &serial);
    let sub_client = client.clone();
    tokio::spawn(async move {
        loop {
            match ev.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    let _ = sub_client.try_subscribe(sub.clone(), QoS::AtLeastOnce);
                }
                Ok(Event::Incoming(Packet::Publish(p))) if p.topic.ends_with("/ack") => {
                    if let Ok(proto::Downlink::Ack(a)) = proto::decode_downlink(Kind::Ack, &p.payload)
                        && tx.send(a).is_err()
                    {
                        return;
                    }
                }
                Ok(_) => {}
                // The server is dead: keep trying (rumqttc reconnects on the next poll).
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    });
    let topic = proto::topic(&root, &serial, Direction::Up, Kind::Event);
    let mut out = Vec::new();
    for i in 0..events {
        let id = format!("{serial}-e{i}");
        let kind = if i % 3 == 0 { "fall" } else { "sos" };
        let t = chrono::Utc::now().timestamp_millis();
        let payload = serde_json::to_vec(&serde_json::json!({ "id": id, "t": t, "type": kind })).unwrap();
        'retry: loop {
            let _ = client.publish(topic.clone(), QoS::AtLeastOnce, false, payload.clone()).await;
            let deadline = tokio::time::Instant::now() + Duration::from_millis(700);
            while let Ok(Some(a)) = tokio::time::timeout_at(deadline, acks.recv()).await {
                if a.id == id {
                    assert!(a.ok, "event {id} refused: {:?}", a.err);
                    out.push((id.clone(), a.alarm));
                    break 'retry;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let _ = client.disconnect().await;
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_with_the_embedded_broker_loses_and_duplicates_nothing() {
    if std::env::var_os("ZHULAO_KILL_MQTT").is_some() {
        return storm(std::env::var("ZHULAO_KILL_MQTT").ok()).await;
    }
    storm(None).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_with_mosquitto_loses_and_duplicates_nothing() {
    let url = std::env::var("ZHULAO_TEST_MQTT").unwrap_or_else(|_| "mqtt://127.0.0.1:1883".into());
    storm(Some(url)).await
}

/// The storm against the embedded broker (`None`) or an external one.
async fn storm(external: Option<String>) {
    let devices = env_or("ZHULAO_KILL_DEVICES", 24);
    let events = env_or("ZHULAO_KILL_EVENTS", 9);
    let kills = env_or("ZHULAO_KILLS", 4);

    let dir = std::env::temp_dir().join(format!("zhulao-kill-{}-{}", std::process::id(), free_port()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = format!("sqlite://{}", dir.join("kill.db").display());
    let status = Command::new(env!("CARGO_BIN_EXE_zhulao"))
        .args(["demo", "--no-serve", "--elders", &ELDERS.to_string(), "--database-url", &db])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let today = zhulao_store::Clock::today(&SystemClock);
    let district = zhulao_demo::generate(2026, today, zhulao_demo::DemoSize { elders: ELDERS });
    // One wearer per elder: an elder's devices share their open alarms (two presses on two
    // devices are one emergency).
    let mut elders_seen = HashSet::new();
    let serials: Vec<String> = district
        .devices
        .iter()
        .filter(|d| d.elder.is_some_and(|e| elders_seen.insert(e)))
        .map(|d| d.input.serial.clone())
        .take(devices)
        .collect();
    assert_eq!(serials.len(), devices, "the demo district has enough bound devices");

    let (http, mqtt, mqtt5) = (free_port(), free_port(), free_port());
    let root = format!("zk{}", std::process::id());
    let mut args = vec![
        "serve".to_string(),
        "--database-url".into(),
        db.clone(),
        "--listen".into(),
        format!("127.0.0.1:{http}"),
        "--mqtt-topic-root".into(),
        root.clone(),
    ];
    let (host, port, auth) = match &external {
        Some(url) => {
            args.extend([
                "--mqtt-url".into(),
                url.clone(),
                "--instance".into(),
                format!("kill-{}", std::process::id()),
            ]);
            let rest = url.trim_start_matches("mqtt://");
            let (h, p) = rest.rsplit_once(':').unwrap();
            (h.to_string(), p.parse().unwrap(), false)
        }
        None => {
            args.extend([
                "--mqtt-listen".into(),
                format!("127.0.0.1:{mqtt}"),
                "--mqtt-listen-v5".into(),
                format!("127.0.0.1:{mqtt5}"),
            ]);
            ("127.0.0.1".to_string(), mqtt, true)
        }
    };
    let mut server = Server { args, child: None, mqtt_port: port };
    server.start();
    server.wait_listening(http).await;
    if external.is_none() {
        server.wait_listening(server.mqtt_port).await;
    }

    let started = Instant::now();
    let wearers: Vec<_> = serials
        .iter()
        .map(|s| tokio::spawn(wearer(host.clone(), port, root.clone(), s.clone(), events, auth)))
        .collect();
    // The storm is on: kill and restart, again and again.
    for k in 0..kills {
        tokio::time::sleep(Duration::from_millis(700 + 300 * (k as u64 % 3))).await;
        server.kill();
        tokio::time::sleep(Duration::from_millis(200)).await;
        server.start();
        server.wait_listening(http).await;
    }
    let mut acked: HashMap<String, Option<i64>> = HashMap::new();
    for w in wearers {
        let got = tokio::time::timeout(Duration::from_secs(180), w)
            .await
            .expect("every event is acknowledged")
            .unwrap();
        acked.extend(got);
    }
    let storm = started.elapsed();
    // Timers resume after the kills: the process that runs now escalates every alarm left
    // unanswered past the 30 s answer target, including those raised before a kill.
    tokio::time::sleep(Duration::from_millis(31_500)).await;
    server.kill();

    // Count what the database holds.
    let store = zhulao_store::open(&db, Arc::new(SystemClock)).await.unwrap();
    let all = store.list_alarms(&AlarmFilter { limit: 100_000, ..Default::default() }).await.unwrap().items;
    let mut per_device: HashMap<String, (u32, u32)> = HashMap::new();
    for a in &all {
        let serial = a.serial.clone().expect("a device alarm carries its serial");
        let e = per_device.entry(serial).or_default();
        match a.case.kind {
            zhulao_alarms::AlarmKind::Fall => e.0 += a.case.repeats + 1,
            zhulao_alarms::AlarmKind::Sos => e.1 += a.case.repeats + 1,
            k => panic!("unexpected alarm kind {k:?}"),
        }
    }
    let falls = events.div_ceil(3) as u32;
    let expected = (falls, events as u32 - falls);
    let mut lost_or_duplicated = Vec::new();
    for s in &serials {
        let got = per_device.get(s).copied().unwrap_or_default();
        if got != expected {
            lost_or_duplicated.push((s.clone(), got));
        }
    }
    assert!(
        lost_or_duplicated.is_empty(),
        "events counted per device (falls, SOS) should be {expected:?}: {lost_or_duplicated:?}"
    );
    // Every event was acknowledged with the alarm it went into; one open alarm per device and kind.
    assert_eq!(acked.len(), devices * events);
    assert!(acked.values().all(Option::is_some));
    let open: HashSet<(i64, zhulao_alarms::AlarmKind)> =
        all.iter().filter(|a| a.case.is_open()).map(|a| (a.device_id.unwrap(), a.case.kind)).collect();
    assert_eq!(open.len(), all.len());
    let escalated = all.iter().filter(|a| a.case.answer_escalation > 0).count();
    let due: Vec<i64> = all.iter().filter(|a| a.case.answer_escalation == 0).map(|a| a.id).collect();
    assert!(due.is_empty(), "alarms past their answer target but not escalated: {due:?}");
    eprintln!(
        "kill test: {devices} wearers × {events} events, {kills} SIGKILLs, storm {:.1} s, {} alarms, \
         {escalated} escalated; 0 lost, 0 duplicated",
        storm.as_secs_f64(),
        all.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
