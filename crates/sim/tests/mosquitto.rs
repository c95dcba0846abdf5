//! Runs the simulator against the machine's Mosquitto (`mqtt://127.0.0.1:1883`, anonymous
//! allowed; started by scripts/test, or `ZHULAO_TEST_MQTT`) and checks what a subscriber
//! receives against the report: counts, decoding, timestamps, a forced fall, SOS acks, the
//! retained status, and end-to-end latency through a stand-in live feed.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use zhulao_proto::{Direction, Kind, MotionBatch, Uplink, decode_uplink, parse_topic};
use zhulao_sim::{ApiConfig, Connections, SimConfig, run};

fn broker() -> (String, String, u16) {
    let url = std::env::var("ZHULAO_TEST_MQTT").unwrap_or_else(|_| "mqtt://127.0.0.1:1883".into());
    let b = zhulao_sim::Broker::parse(&url).unwrap();
    (url, b.host, b.port)
}

/// Messages as received: topic and payload.
type Received = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// Everything published under `root`, in arrival order.
struct Listener {
    client: AsyncClient,
    got: Received,
}

async fn listen(root: &str, on_message: impl Fn(&AsyncClient, &str, &[u8]) + Send + 'static) -> Listener {
    let (_, host, port) = broker();
    let mut opts = MqttOptions::new(format!("{root}-check"), host, port);
    opts.set_keep_alive(Duration::from_secs(30)).set_max_packet_size(1 << 17, 1 << 17);
    let (client, mut ev) = AsyncClient::new(opts, 1024);
    client.subscribe(format!("{root}/v1/+/+/up/#"), QoS::AtLeastOnce).await.unwrap();
    let got: Received = Arc::new(Mutex::new(Vec::new()));
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let mut ready_tx = Some(ready_tx);
    let (g, c) = (got.clone(), client.clone());
    tokio::spawn(async move {
        loop {
            match ev.poll().await {
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    if let Some(tx) = ready_tx.take() {
                        let _ = tx.send(());
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    on_message(&c, &p.topic, &p.payload);
                    g.lock().unwrap().push((p.topic.clone(), p.payload.to_vec()));
                }
                Ok(_) => {}
                Err(_) => return,
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(10), ready_rx).await.expect("subscribed").unwrap();
    Listener { client, got }
}

impl Listener {
    /// Clears the retained statuses the run left on the broker.
    async fn clean_up(&self, root: &str) {
        let serials: HashSet<String> = self
            .got
            .lock()
            .unwrap()
            .iter()
            .filter_map(|(t, _)| parse_topic(root, t).ok().map(|t| t.serial.to_string()))
            .collect();
        for s in serials {
            let t = zhulao_proto::topic(root, &s, Direction::Up, Kind::Status);
            let _ = self.client.publish(t, QoS::AtLeastOnce, true, Vec::new()).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// A stand-in for the platform's HTTP API: sign-in, and a live feed that forwards whatever
/// alarm events the test broadcasts.
async fn fake_api(alarms: broadcast::Sender<String>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            let mut rx = alarms.subscribe();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                // Read the head and (for the sign-in) the small body.
                let head_end = loop {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break p + 4;
                    }
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string())
                    })
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                while buf.len() < head_end + len {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                if head.starts_with("POST /api/v1/auth/login") {
                    let body: serde_json::Value =
                        serde_json::from_slice(&buf[head_end..head_end + len]).unwrap();
                    assert_eq!(body["username"], "admin");
                    let out = r#"{"token":"t0k","expires_at":0,"account":{}}"#;
                    let resp = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{out}",
                        out.len()
                    );
                    let _ = sock.write_all(resp.as_bytes()).await;
                } else if head.starts_with("GET /api/v1/live") {
                    assert!(head.to_ascii_lowercase().contains("authorization: bearer t0k"), "{head}");
                    let _ = sock
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n\r\n: hello\n\n")
                        .await;
                    while let Ok(data) = rx.recv().await {
                        let ev = format!("event: alarm\ndata: {data}\n\n");
                        if sock.write_all(ev.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                } else {
                    let _ = sock.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n").await;
                }
            });
        }
    });
    base
}

fn magnitude(a: [f32; 3]) -> f32 {
    (a[0] * a[0] + a[1] * a[1] + a[2] * a[2]).sqrt()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pooled_run_matches_what_the_broker_delivered() {
    let root = format!("zsim{}", std::process::id());
    // Play the detector and the live feed: 0.9 s after a hard impact (≥ 4 g: the forced fall's
    // trial peaks at 7.5 g, after a 2.5 g stumble) has arrived, i.e. once the batch completing
    // that window is in, announce a fall alarm for that serial.
    let (alarms, _) = broadcast::channel::<String>(16);
    let tx = alarms.clone();
    let r = root.clone();
    let seen_peak: Mutex<BTreeMap<String, (i64, f32)>> = Mutex::new(BTreeMap::new());
    let announced: Mutex<HashSet<String>> = Mutex::new(HashSet::new());
    let l = listen(&root, move |_, topic, payload| {
        let Ok(t) = parse_topic(&r, topic) else { return };
        let Ok(Uplink::Motion(b)) = decode_uplink(t.kind, payload) else { return };
        let serial = t.serial.to_string();
        let mut peaks = seen_peak.lock().unwrap();
        let top = b.samples().max_by(|x, y| magnitude(x.acc).total_cmp(&magnitude(y.acc))).unwrap();
        let g = magnitude(top.acc);
        if g >= 4.0 && peaks.get(&serial).is_none_or(|p| g > p.1) {
            peaks.insert(serial.clone(), (top.t_ms, g));
        }
        let end = b.sample_time_ms(b.len() - 1);
        if let Some(&(impact, _)) = peaks.get(&serial)
            && end >= impact + 900
            && announced.lock().unwrap().insert(serial.clone())
        {
            let data = serde_json::json!({
                "topic": "alarm", "region_code": "140213", "elder_id": 1, "responder_id": null, "at": end,
                "data": { "id": 1, "kind": "fall", "serial": serial, "change": "raised", "raised_at": end }
            });
            let _ = tx.send(data.to_string());
        }
    })
    .await;
    let base = fake_api(alarms).await;

    let cfg = SimConfig {
        broker: broker().0,
        topic_root: root.clone(),
        wearers: 50,
        duration: Some(Duration::from_secs(3)),
        falls_per_hour: 0.0,
        sos_per_hour: 0.0,
        first_fall_after: Some(Duration::from_secs(1)),
        connections: Connections::Pooled(4),
        api: Some(ApiConfig { base_url: base, username: "admin".into(), password: "pw".into() }),
        ..SimConfig::default()
    };
    let report = run(cfg, std::future::pending()).await.unwrap();
    // The broker delivers the last messages (the wearers' final statuses) shortly after the
    // run returns; on a loaded machine that can take longer than a fixed pause.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while (l.got.lock().unwrap().len() as u64) < report.messages_sent
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
    report.print_text();

    let got = l.got.lock().unwrap().clone();
    let mut motion: BTreeMap<String, Vec<MotionBatch>> = BTreeMap::new();
    let mut status: BTreeMap<String, Vec<bool>> = BTreeMap::new();
    for (topic, payload) in &got {
        let t = parse_topic(&root, topic).unwrap();
        match decode_uplink(t.kind, payload).unwrap_or_else(|e| panic!("{topic}: {e}")) {
            Uplink::Motion(b) => motion.entry(t.serial.to_string()).or_default().push(b),
            Uplink::Status(s) => status.entry(t.serial.to_string()).or_default().push(s.online),
            _ => {}
        }
    }
    let batches: u64 = motion.values().map(|v| v.len() as u64).sum();
    let samples: u64 = motion.values().flatten().map(|b| b.len() as u64).sum();
    assert_eq!(report.publish_errors, 0);
    assert_eq!(batches, report.motion_messages_sent, "motion messages received vs sent");
    assert_eq!(samples, report.samples_sent, "samples received vs sent");
    assert_eq!(got.len() as u64, report.messages_sent, "all messages received vs sent");
    assert_eq!((report.wearers, report.connections, motion.len()), (50, 4, 50));
    // ~3 batches per wearer in 3 s, 100 samples each.
    assert!((140..=160).contains(&batches), "{batches}");
    assert_eq!(samples, batches * 100);
    assert!(report.messages_per_s > 40.0 && report.samples_per_s > 4_000.0, "{report:?}");
    for (serial, bs) in &motion {
        for w in bs.windows(2) {
            assert_eq!(w[1].seq, w[0].seq + 1, "{serial}");
            assert_eq!(w[1].t0_ms, w[0].t0_ms + 1000, "{serial}");
        }
        let times: Vec<i64> = bs.iter().flat_map(|b| b.samples().map(|s| s.t_ms)).collect();
        assert!(times.windows(2).all(|w| w[0] < w[1]), "{serial}: timestamps increase");
        // Online on the first batch, offline (as a device leaving on purpose) at the end.
        assert_eq!(status.get(serial).map(Vec::as_slice), Some(&[true, false][..]), "{serial}");
    }
    // Send instants are spread over the second: wearers' first batches start at distinct times.
    let firsts: HashSet<i64> = motion.values().map(|b| b[0].t0_ms % 1000).collect();
    assert!(firsts.len() >= 45, "{}", firsts.len());

    // The forced fall: a real SisFall fall, with a ≥ 2.5 g peak at the reported impact.
    assert_eq!(report.falls_injected, 1, "{:?}", report.falls);
    let f = &report.falls[0];
    let peak = motion[&f.serial]
        .iter()
        .flat_map(|b| b.samples())
        .max_by(|a, b| magnitude(a.acc).total_cmp(&magnitude(b.acc)))
        .unwrap();
    assert!(magnitude(peak.acc) >= 2.5, "{}", magnitude(peak.acc));
    assert_eq!(peak.t_ms, f.impact_ms);
    let start = motion.values().map(|b| b[0].t0_ms).min().unwrap() + 1000;
    assert!((f.impact_ms - (start + 1000)).abs() <= 1100, "impact about 1 s in: {} vs {start}", f.impact_ms);
    // Nobody else fell.
    for (serial, bs) in &motion {
        if serial != &f.serial {
            assert!(bs.iter().flat_map(|b| b.samples()).all(|s| magnitude(s.acc) < 2.0), "{serial}");
        }
    }

    // The stand-in live feed announced it; the report matched it and measured the latency.
    assert!(report.live_feed);
    assert_eq!((report.alarms_seen, report.fall_alarms_seen, report.missed_falls), (1, 1, Some(0)));
    assert_eq!(report.unexpected_fall_alarms, 0);
    let sent = f.completing_sent_ms.expect("completing message sent");
    let seen = f.alarm_seen_ms.expect("alarm seen");
    assert!(sent >= f.impact_ms + 900 && seen >= sent, "{f:?}");
    let lat = &report.latency;
    assert_eq!(lat.impact_to_alarm_ms.n, 1);
    assert!(lat.impact_to_alarm_ms.p50.unwrap() >= 900.0);
    assert!(lat.completing_message_to_live_ms.max.unwrap() < 1_000.0, "{lat:?}");
    l.clean_up(&root).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_wearer_connections_with_sos_acknowledged() {
    let root = format!("zsim{}b", std::process::id());
    let r = root.clone();
    // Play the server: acknowledge every SOS event, as the gateway does after committing it.
    let acked: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    let a = acked.clone();
    let l = listen(&root, move |client, topic, payload| {
        let Ok(t) = parse_topic(&r, topic) else { return };
        if let Ok(Uplink::Event(e)) = decode_uplink(t.kind, payload) {
            let ack = zhulao_proto::Downlink::Ack(zhulao_proto::Ack::accepted(e.id.clone(), Some(7)));
            let down = zhulao_proto::topic(&r, t.serial, Direction::Down, Kind::Ack);
            client.try_publish(down, QoS::AtLeastOnce, false, ack.encode()).unwrap();
            a.lock().unwrap().push(e.id);
        }
    })
    .await;
    let cfg = SimConfig {
        broker: broker().0,
        topic_root: root.clone(),
        wearers: 12,
        duration: Some(Duration::from_secs(4)),
        falls_per_hour: 0.0,
        sos_per_hour: 40_000.0,
        connections: Connections::PerWearer,
        motion_qos: 1,
        ..SimConfig::default()
    };
    let report = run(cfg, std::future::pending()).await.unwrap();
    // Until the broker has delivered the last statuses: the count stops growing (a fixed
    // pause is too short on a loaded machine).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut last = usize::MAX;
    while tokio::time::Instant::now() < deadline {
        let n = l.got.lock().unwrap().len();
        if n == last {
            break;
        }
        last = n;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    report.print_text();
    let got = l.got.lock().unwrap().clone();
    let mut serials = HashSet::new();
    let mut online = 0;
    let mut offline = 0;
    let mut events = HashSet::new();
    for (topic, payload) in &got {
        let t = parse_topic(&root, topic).unwrap();
        serials.insert(t.serial.to_string());
        match decode_uplink(t.kind, payload).unwrap() {
            Uplink::Status(s) if s.online => online += 1,
            Uplink::Status(_) => offline += 1,
            Uplink::Event(e) => {
                assert_eq!(e.kind, zhulao_proto::EventKind::Sos);
                assert!(e.id.starts_with("sos-"));
                events.insert((t.serial.to_string(), e.id));
            }
            _ => {}
        }
    }
    assert_eq!((report.connections, serials.len(), report.connect_failures), (12, 12, 0));
    assert_eq!((online, offline), (12, 12), "retained online on connect, offline on leaving");
    assert_eq!(got.len() as u64, report.messages_sent);
    assert_eq!(report.publish_errors, 0);
    // ~11 SOS per second over 12 wearers: most pressed once; each acknowledged.
    assert_eq!(events.len() as u64, report.sos_injected);
    assert!(report.sos_injected >= 5, "{}", report.sos_injected);
    assert!(report.acks_received >= report.sos_injected - 2, "{report:?}");
    let lat = &report.latency.sos_to_ack_ms;
    assert!(lat.n as u64 >= report.sos_injected - 2 && lat.max.unwrap() < 1_000.0, "{lat:?}");
    assert_eq!(report.sos_retransmissions, 0, "acked within 10 s");
    assert!(!acked.lock().unwrap().is_empty());
    l.clean_up(&root).await;
}
