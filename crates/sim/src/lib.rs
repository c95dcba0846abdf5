//! zhulao-sim: the device simulator and load generator — virtual wearers of the demo district
//! publishing over MQTT in real time, exactly as the device protocol says.
//!
//! [`run`] takes the first N pendants and watches bound to elders in the demo district (the
//! same seed and size the database was loaded with), gives each wearer a daily routine
//! (sleeping, sitting, walking, the odd real SisFall daily activity), sends one 100 Hz motion
//! batch per second per wearer with send instants spread evenly over the second, vital signs,
//! positions near home, battery levels, retained online status and last will, injects real
//! SisFall falls and SOS presses at Poisson times, and — with an API account — reads the
//! platform's live feed to measure how long a fall takes to reach an operator's screen.
//! See `crates/sim/README.md`.

pub mod live;
pub mod motion;
mod mqtt;
pub mod report;
pub mod rng;
pub mod schedule;
mod shard;
pub mod watch_load;
pub mod wearer;

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tokio::sync::{Notify, Semaphore, mpsc, watch};
use zhulao_proto::{Direction, Kind};

pub use mqtt::Broker;
pub use report::{FallRecord, LatencyStats, Percentiles, SimReport};
pub use wearer::WearerSpec;

use crate::live::LiveAlarm;
use crate::motion::Library;
use crate::mqtt::{Conn, OnConnect};
use crate::schedule::Poisson;
use crate::shard::Shard;
use crate::wearer::Wearer;

/// How the wearers connect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Connections {
    /// Each wearer its own connection, as a real device: client id and username = serial,
    /// password = `zhulao_demo::device_secret(serial)`, last will on its status topic.
    PerWearer,
    /// `k` shared connections, wearers assigned round-robin. Needs a broker that lets one
    /// client publish for many devices (an anonymous-allowed Mosquitto, or credentials in the
    /// broker URL with such rights).
    Pooled(usize),
}

/// An account to read the live feed with.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiConfig {
    /// e.g. `http://127.0.0.1:8080`.
    pub base_url: String,
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for ApiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiConfig")
            .field("base_url", &self.base_url)
            .field("username", &self.username)
            .field("password", &"***")
            .finish()
    }
}

/// What to simulate.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// `mqtt://host:port` (optionally `mqtt://user:password@host:port` for pooled connections).
    pub broker: String,
    /// Topic root (default `zl`).
    pub topic_root: String,
    /// Number of wearers.
    pub wearers: usize,
    /// Demo seed: must match the loaded demo (default 2026).
    pub seed: u64,
    /// The demo size the database was loaded with (default 2000): the wearers are the first
    /// `wearers` demo pendants and watches bound to elders.
    pub demo_elders: usize,
    /// How long to run; `None` until `shutdown`.
    pub duration: Option<Duration>,
    /// Falls per hour over the whole district (replays of real SisFall falls).
    pub falls_per_hour: f64,
    /// SOS presses per hour over the whole district.
    pub sos_per_hour: f64,
    /// One extra fall with its impact this long after the start (the demo wants one ~20 s in).
    pub first_fall_after: Option<Duration>,
    /// Accelerometer rate, Hz (25..=200; default 100).
    pub rate_hz: u16,
    pub connections: Connections,
    /// A SisFall directory to draw falls and daily activities from; else the six embedded trials.
    pub sisfall: Option<PathBuf>,
    /// Sign in here and measure end-to-end latency on the live feed.
    pub api: Option<ApiConfig>,
    /// QoS of motion batches: 0 (default) or 1.
    pub motion_qos: u8,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            broker: "mqtt://127.0.0.1:1883".into(),
            topic_root: zhulao_proto::DEFAULT_ROOT.into(),
            wearers: 100,
            seed: 2026,
            demo_elders: 2000,
            duration: None,
            falls_per_hour: 6.0,
            sos_per_hour: 2.0,
            first_fall_after: None,
            rate_hz: 100,
            connections: Connections::PerWearer,
            sisfall: None,
            api: None,
            motion_qos: 0,
        }
    }
}

/// Wall-clock milliseconds, read from a monotonic clock anchored once (so timestamps never
/// jump with a clock adjustment during a run).
#[derive(Clone, Copy, Debug)]
pub(crate) struct WallClock {
    base: tokio::time::Instant,
    base_ms: i64,
}

impl WallClock {
    fn new() -> Self {
        let base_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        WallClock { base: tokio::time::Instant::now(), base_ms }
    }

    pub fn now_ms(&self) -> i64 {
        self.base_ms + self.base.elapsed().as_millis() as i64
    }
}

/// Counters shared by shards, connections and the live feed.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub messages_sent: AtomicU64,
    pub motion_sent: AtomicU64,
    pub samples_sent: AtomicU64,
    pub publish_errors: AtomicU64,
    pub connection_errors: AtomicU64,
    pub late_batches: AtomicU64,
    pub max_lateness_ms: AtomicI64,
    pub falls_injected: AtomicU64,
    pub sos_injected: AtomicU64,
    pub sos_retransmissions: AtomicU64,
    pub acks_received: AtomicU64,
    pub downlinks: AtomicU64,
    pub alarms_seen: AtomicU64,
    pub live_connected: AtomicBool,
    pub live_ever_connected: AtomicBool,
}

/// An ack for wearer `local` of a shard.
#[derive(Debug)]
pub(crate) struct AckIn {
    pub local: u32,
    pub id: String,
    pub at_ms: i64,
}

/// What the tasks of a run share.
pub(crate) struct Ctx {
    pub root: String,
    pub clock: WallClock,
    pub lib: Library,
    pub stats: Stats,
    pub conns: Vec<Arc<Conn>>,
    /// serial → (shard, index in the shard).
    pub wearer_index: HashMap<String, (usize, u32)>,
    pub ack_tx: Vec<mpsc::UnboundedSender<AckIn>>,
    pub connected: AtomicUsize,
    pub connected_notify: Notify,
    pub falls: Mutex<Vec<FallRecord>>,
    pub sos_latency: Mutex<Vec<f64>>,
    pub live: Mutex<Vec<LiveAlarm>>,
}

/// The first `n` pendants and watches bound to elders in the demo district `(seed, elders)`,
/// generated for today (China time), as `zhulao demo` loaded it.
pub fn demo_wearers(seed: u64, demo_elders: usize, n: usize) -> anyhow::Result<Vec<WearerSpec>> {
    let today = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive();
    let d = zhulao_demo::generate(seed, today, zhulao_demo::DemoSize { elders: demo_elders });
    let centre = (40.0765, 113.3001);
    let out: Vec<WearerSpec> = d
        .devices
        .iter()
        .filter(|dev| matches!(dev.input.kind.as_str(), "pendant" | "watch"))
        .filter_map(|dev| {
            let e = &d.elders[dev.elder?].input;
            Some(WearerSpec {
                serial: dev.input.serial.clone(),
                secret: zhulao_demo::device_secret(&dev.input.serial),
                watch: dev.input.kind == "watch",
                model: dev.input.model.clone(),
                home: e.lat.zip(e.lon).unwrap_or(centre),
            })
        })
        .take(n)
        .collect();
    if out.len() < n {
        bail!(
            "演示区只有 {} 个已绑定的穿戴设备 / the demo district of {demo_elders} elders has only {} bound \
             pendants and watches; load a larger demo (--elders) or simulate fewer wearers",
            out.len(),
            out.len()
        );
    }
    Ok(out)
}

fn check(cfg: &SimConfig) -> anyhow::Result<()> {
    if cfg.wearers == 0 {
        bail!("wearers must be at least 1");
    }
    if !(zhulao_proto::MIN_RATE_HZ..=zhulao_proto::MAX_RATE_HZ).contains(&cfg.rate_hz) {
        bail!("rate_hz must be 25..=200, not {}", cfg.rate_hz);
    }
    if cfg.motion_qos > 1 {
        bail!("motion QoS must be 0 or 1");
    }
    if matches!(cfg.connections, Connections::Pooled(0)) {
        bail!("a pool needs at least one connection");
    }
    let t = zhulao_proto::topic(&cfg.topic_root, "ZL-P-000001", Direction::Up, Kind::Motion);
    zhulao_proto::parse_topic(&cfg.topic_root, &t)
        .map_err(|e| anyhow::anyhow!("bad topic root {:?}: {e}", cfg.topic_root))?;
    if cfg.topic_root.is_empty() || cfg.topic_root.contains(['+', '#']) {
        bail!("bad topic root {:?}", cfg.topic_root);
    }
    for (name, v) in [("falls_per_hour", cfg.falls_per_hour), ("sos_per_hour", cfg.sos_per_hour)] {
        if !(v.is_finite() && v >= 0.0) {
            bail!("{name} must be a finite number ≥ 0");
        }
    }
    Ok(())
}

/// Runs the simulation until `shutdown` resolves or `cfg.duration` passes, then stops
/// cleanly (offline status, queues drained, a last wait for alarms of recent falls) and
/// reports. Fails only on bad configuration or when no connection can be opened.
pub async fn run(cfg: SimConfig, shutdown: impl Future<Output = ()>) -> anyhow::Result<SimReport> {
    check(&cfg)?;
    let broker = Broker::parse(&cfg.broker)?;
    let (seed, elders, n) = (cfg.seed, cfg.demo_elders, cfg.wearers);
    let specs = tokio::task::spawn_blocking(move || demo_wearers(seed, elders, n)).await??;
    let rate = cfg.rate_hz;
    let trials = match &cfg.sisfall {
        Some(dir) => {
            let dir = dir.clone();
            tokio::task::spawn_blocking(move || motion::load_trials(&dir, rate)).await??
        }
        None => motion::embedded_trials(rate),
    };
    let lib = Library::new(rate, trials);
    run_with(cfg, broker, specs, lib, shutdown).await
}

/// [`run`] with the wearers and trials given.
async fn run_with(
    cfg: SimConfig,
    broker: Broker,
    specs: Vec<WearerSpec>,
    lib: Library,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<SimReport> {
    let n = specs.len();
    let pooled = matches!(cfg.connections, Connections::Pooled(_));
    let (n_conns, n_shards) = match cfg.connections {
        Connections::Pooled(k) => (k.min(n), k.min(n)),
        Connections::PerWearer => {
            let cores = std::thread::available_parallelism().map_or(2, |c| c.get());
            (n, cores.clamp(1, 4).min(n))
        }
    };
    let shard_of = |i: usize| (i % n_shards, (i / n_shards) as u32);

    // Connections (not yet connected: their event loops start below).
    let offline = wearer::Wearer::offline_payload();
    let mut conns = Vec::with_capacity(n_conns);
    let mut loops = Vec::with_capacity(n_conns);
    let run_id = format!("{}-{}", std::process::id(), WallClock::new().now_ms() % 1_000_000);
    // Pooled: the first connection also listens for every device's downlink.
    let pool = |k: usize| {
        let per = n.div_ceil(n_conns);
        let sub = (k == 0).then(|| format!("{}/{}/+/+/down/#", cfg.topic_root, zhulao_proto::VERSION_LEVEL));
        (
            mqtt::pool_options(&broker, format!("zsim-{run_id}-{k}")),
            (per * 8).max(1024),
            OnConnect::Pool { subscribe: sub },
        )
    };
    let device = |s: &WearerSpec| {
        let status = zhulao_proto::topic(&cfg.topic_root, &s.serial, Direction::Up, Kind::Status);
        let opts = mqtt::device_options(&broker, &s.serial, &s.secret, &status, offline.clone());
        let on = OnConnect::Device {
            status_topic: status,
            online: wearer::Wearer::online_payload(&s.model),
            downlink: zhulao_proto::downlink_filter(&cfg.topic_root, &s.serial),
        };
        (opts, 64, on)
    };
    let setups: Vec<_> =
        if pooled { (0..n_conns).map(pool).collect() } else { specs.iter().map(device).collect() };
    for (opts, cap, on) in setups {
        let (client, ev) = rumqttc::AsyncClient::new(opts, cap);
        conns.push(Arc::new(Conn::new(client)));
        loops.push((ev, on));
    }

    let mut wearer_index = HashMap::with_capacity(n);
    for (i, s) in specs.iter().enumerate() {
        wearer_index.insert(s.serial.clone(), shard_of(i));
    }
    let mut ack_tx = Vec::new();
    let mut ack_rx = Vec::new();
    for _ in 0..n_shards {
        let (tx, rx) = mpsc::unbounded_channel();
        ack_tx.push(tx);
        ack_rx.push(rx);
    }
    let ctx = Arc::new(Ctx {
        root: cfg.topic_root.clone(),
        clock: WallClock::new(),
        lib,
        stats: Stats::default(),
        conns,
        wearer_index,
        ack_tx,
        connected: AtomicUsize::new(0),
        connected_notify: Notify::new(),
        falls: Mutex::new(Vec::new()),
        sos_latency: Mutex::new(Vec::new()),
        live: Mutex::new(Vec::new()),
    });

    // Connect: at most 200 devices setting up at once.
    let gate = (!pooled).then(|| Arc::new(Semaphore::new(200)));
    let mut drivers = Vec::with_capacity(n_conns);
    for (k, (ev, on)) in loops.into_iter().enumerate() {
        drivers.push(tokio::spawn(mqtt::drive(ctx.conns[k].clone(), ev, ctx.clone(), on, gate.clone())));
    }
    let connect_deadline = tokio::time::Instant::now() + Duration::from_secs(10 + n_conns as u64 / 200);
    loop {
        let notified = ctx.connected_notify.notified();
        if ctx.connected.load(Ordering::SeqCst) >= n_conns {
            break;
        }
        if tokio::time::timeout_at(connect_deadline, notified).await.is_err() {
            break;
        }
    }
    let up = ctx.connected.load(Ordering::SeqCst);
    if up == 0 {
        for c in &ctx.conns {
            c.close();
        }
        for d in &drivers {
            d.abort();
        }
        bail!("无法连接 MQTT 代理 / cannot connect to the MQTT broker at {}:{}", broker.host, broker.port);
    }
    if up < n_conns {
        tracing::warn!(up, of = n_conns, "not every connection came up; the rest keep retrying");
    }
    tracing::info!(wearers = n, connections = n_conns, shards = n_shards, "simulation starting");

    // Wearers: wearer i's batches are due at start + i·1000/N (mod 1000) ms.
    let start_ms = ctx.clock.now_ms();
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x5157_0000_0000_0001);
    let mut shards: Vec<Vec<Wearer>> = (0..n_shards).map(|_| Vec::new()).collect();
    for (i, s) in specs.into_iter().enumerate() {
        let phase = (i as i64 * 1000) / n as i64;
        let conn = if pooled { i % n_conns } else { i };
        let seed = rand::Rng::random::<u64>(&mut rng);
        let w = Wearer::new(s, &cfg.topic_root, conn, seed, &ctx.lib, start_ms - 1000 + phase);
        shards[shard_of(i).0].push(w);
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = Vec::new();
    for (k, (wearers, acks)) in shards.into_iter().zip(ack_rx).enumerate() {
        let mut srng = ChaCha8Rng::seed_from_u64(cfg.seed);
        srng.set_stream(k as u64 + 1);
        let falls = Poisson::new(cfg.falls_per_hour / n_shards as f64, start_ms, &mut srng);
        let sos = Poisson::new(cfg.sos_per_hour / n_shards as f64, start_ms, &mut srng);
        let shard = Shard {
            wearers,
            ctx: ctx.clone(),
            rng: srng,
            falls,
            sos,
            forced_fall_ms: if k == 0 {
                cfg.first_fall_after.map(|d| start_ms + d.as_millis() as i64)
            } else {
                None
            },
            acks,
            motion_qos1: cfg.motion_qos == 1,
            pooled,
        };
        tasks.push(tokio::spawn(shard.run(stop_rx.clone())));
    }
    let reporter = tokio::spawn(report_every_second(ctx.clone()));
    let live = cfg.api.clone().map(|api| tokio::spawn(live::follow(api, ctx.clone())));

    // Run, timed from the start of the schedule (wearer i's first batch is due at start + phase).
    let started =
        tokio::time::Instant::now() - Duration::from_millis((ctx.clock.now_ms() - start_ms).max(0) as u64);
    let limit = async {
        match cfg.duration {
            Some(d) => tokio::time::sleep_until(started + d).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = shutdown => tracing::info!("shutdown requested; stopping the simulation"),
        _ = limit => {}
    }
    let _ = stop_tx.send(true);
    let mut wearers = Vec::with_capacity(n);
    for t in tasks {
        wearers.extend(t.await.context("generator task")?);
    }
    let seconds = started.elapsed().as_secs_f64();
    reporter.abort();

    // A device leaving on purpose says so first.
    for w in &wearers {
        ctx.conns[w.conn].send(&ctx, &w.topics.status, true, true, offline.clone(), 0);
    }
    let drain_deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while ctx.conns.iter().any(|c| c.up.load(Ordering::Relaxed) && c.backlog() > 0)
        && tokio::time::Instant::now() < drain_deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Give the alarms of the last falls their 10 s (no longer than 12 s in all).
    if let Some(live) = live {
        let alarm_deadline = {
            let falls = ctx.falls.lock().expect("falls lock");
            let last = falls
                .iter()
                .filter(|f| f.completing_sent_ms.is_some())
                .map(|f| f.impact_ms + report::MATCH_WINDOW_MS)
                .max()
                .unwrap_or(0);
            last.min(ctx.clock.now_ms() + 12_000)
        };
        while ctx.clock.now_ms() < alarm_deadline && ctx.stats.live_connected.load(Ordering::Relaxed) {
            if all_falls_seen(&ctx) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        live.abort();
    }

    for c in &ctx.conns {
        c.close();
    }
    let close_deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    for d in drivers {
        let abort = d.abort_handle();
        if tokio::time::timeout_at(close_deadline, d).await.is_err() {
            abort.abort();
        }
    }

    let s = &ctx.stats;
    let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let messages = get(&s.messages_sent);
    let samples = get(&s.samples_sent);
    let mut report = SimReport {
        wearers: n,
        connections: n_conns,
        seconds,
        messages_sent: messages,
        motion_messages_sent: get(&s.motion_sent),
        samples_sent: samples,
        messages_per_s: messages as f64 / seconds.max(1e-9),
        samples_per_s: samples as f64 / seconds.max(1e-9),
        publish_errors: get(&s.publish_errors),
        late_batches: get(&s.late_batches),
        max_lateness_ms: s.max_lateness_ms.load(Ordering::Relaxed).max(0),
        connect_failures: n_conns - up,
        falls_injected: get(&s.falls_injected),
        sos_injected: get(&s.sos_injected),
        sos_retransmissions: get(&s.sos_retransmissions),
        acks_received: get(&s.acks_received),
        alarms_seen: get(&s.alarms_seen),
        live_feed: s.live_ever_connected.load(Ordering::Relaxed),
        falls: ctx
            .falls
            .lock()
            .expect("falls lock")
            .iter()
            .filter(|f| f.impact_sent_ms.is_some())
            .cloned()
            .collect(),
        ..Default::default()
    };
    report.latency.sos_to_ack_ms = Percentiles::of(&ctx.sos_latency.lock().expect("sos lock"));
    let live_alarms = ctx.live.lock().expect("live lock").clone();
    let ours = |serial: &str| ctx.wearer_index.contains_key(serial);
    report::match_alarms(&mut report, &live_alarms, &ours);
    Ok(report)
}

/// Whether every fall whose decision window was sent has its alarm on the live feed.
fn all_falls_seen(ctx: &Ctx) -> bool {
    let mut probe = SimReport {
        live_feed: true,
        falls: ctx.falls.lock().expect("falls lock").clone(),
        ..Default::default()
    };
    let live = ctx.live.lock().expect("live lock").clone();
    report::match_alarms(&mut probe, &live, &|_| true);
    probe.missed_falls == Some(0)
}

/// Logs the achieved rates once a second.
async fn report_every_second(ctx: Arc<Ctx>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    let s = &ctx.stats;
    let mut last = (0, 0, tokio::time::Instant::now());
    loop {
        tick.tick().await;
        let now = tokio::time::Instant::now();
        let (m, k) = (s.messages_sent.load(Ordering::Relaxed), s.samples_sent.load(Ordering::Relaxed));
        let dt = (now - last.2).as_secs_f64().max(1e-3);
        tracing::info!(
            "sim: {:.0} msg/s, {:.0} samples/s | errors {} | late {} | falls {} | SOS {} | acks {} | alarms {}",
            (m - last.0) as f64 / dt,
            (k - last.1) as f64 / dt,
            s.publish_errors.load(Ordering::Relaxed),
            s.late_batches.load(Ordering::Relaxed),
            s.falls_injected.load(Ordering::Relaxed),
            s.sos_injected.load(Ordering::Relaxed),
            s.acks_received.load(Ordering::Relaxed),
            s.alarms_seen.load(Ordering::Relaxed),
        );
        last = (m, k, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_wearers_are_bound_pendants_and_watches() {
        let w = demo_wearers(2026, 2000, 50).unwrap();
        assert_eq!(w.len(), 50);
        assert!(w.iter().all(|s| s.serial.starts_with("ZL-P-") || s.serial.starts_with("ZL-W-")));
        assert_eq!(w[0].secret, zhulao_demo::device_secret(&w[0].serial));
        assert!(w.iter().any(|s| s.watch) && w.iter().any(|s| !s.watch));
        // Homes are in Pingcheng (Datong).
        assert!(w.iter().all(|s| (39.9..40.3).contains(&s.home.0) && (113.1..113.5).contains(&s.home.1)));
        assert!(demo_wearers(2026, 100, 5000).is_err());
    }

    #[test]
    fn bad_configurations_are_refused() {
        let ok = SimConfig::default();
        assert!(check(&ok).is_ok());
        for bad in [
            SimConfig { wearers: 0, ..ok.clone() },
            SimConfig { rate_hz: 10, ..ok.clone() },
            SimConfig { motion_qos: 2, ..ok.clone() },
            SimConfig { connections: Connections::Pooled(0), ..ok.clone() },
            SimConfig { topic_root: "a/#".into(), ..ok.clone() },
            SimConfig { falls_per_hour: f64::NAN, ..ok.clone() },
        ] {
            assert!(check(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn passwords_stay_out_of_debug_output() {
        let api =
            ApiConfig { base_url: "http://h".into(), username: "admin".into(), password: "s3cret".into() };
        let cfg =
            SimConfig { api: Some(api), broker: "mqtt://svc:pw9@h:1883".into(), ..SimConfig::default() };
        let b = Broker::parse(&cfg.broker).unwrap();
        let text = format!("{cfg:?} {b:?}");
        assert!(!text.contains("s3cret") && !format!("{b:?}").contains("pw9"), "{text}");
    }

    #[test]
    fn the_run_future_is_send() {
        fn is_send<T: Send>(_: &T) {}
        let f = run(SimConfig::default(), async {});
        is_send(&f);
    }
}
