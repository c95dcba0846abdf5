//! The TCP gateway for elderly-care watches speaking the 3G and IW text protocols: one task
//! per connection frames and decodes the byte stream (`zhulao-watch`), authenticates the
//! watch by its registered id, feeds its positions, vital signs, battery and alarms to the
//! same detector workers as MQTT devices, and writes the reply the watch expects only once
//! everything the frame caused is committed (a watch sends an unanswered alarm again).
//! Commands (SOS numbers, phone book, report interval, find, silent hours, heart-rate
//! interval) go to the connection that holds the watch.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::{FixedOffset, NaiveTime, Utc};
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use zhulao_alarms::{AlarmKind, Feedback};
use zhulao_proto::{self as proto, Kind, Uplink};
use zhulao_response::{CommandRefused, DeviceMessage};
use zhulao_watch::{
    Alarm, Contact, DecodeOptions, Frame, Framer, Protocol, Target, WatchCommand, WatchMessage,
};

use crate::device::Trigger;
use crate::error::GatewayError;
use crate::metrics::Metrics;
use crate::pipeline::{Inbound, Item, Outcome, Payload, Pipeline, Reply};

/// Where watches connect and how their frames are read.
#[derive(Debug, Clone)]
pub struct WatchConfig {
    /// The 3G-watch protocol (`[3G*id*len*…]`); `None`: not served.
    pub listen_3g: Option<SocketAddr>,
    /// The IW protocol (`IWAPxx…#`); `None`: not served.
    pub listen_iw: Option<SocketAddr>,
    /// The zone the watches' clocks are told (IW login reply) and read in. UTC by default,
    /// as Traccar does; see the watch crate's README.
    pub utc_offset: FixedOffset,
    /// A connection silent this long is closed (watches send a link frame every few minutes).
    pub idle_timeout: Duration,
    /// The longest frame accepted; longer ones are dropped (bounds memory per connection).
    pub max_frame: usize,
    /// Connections beyond this are refused at once.
    pub max_connections: usize,
}

impl Default for WatchConfig {
    fn default() -> Self {
        WatchConfig {
            listen_3g: None,
            listen_iw: None,
            utc_offset: FixedOffset::east_opt(0).expect("zero offset"),
            idle_timeout: Duration::from_secs(20 * 60),
            max_frame: zhulao_watch::DEFAULT_MAX_FRAME,
            max_connections: 100_000,
        }
    }
}

/// One connected watch.
struct Conn {
    /// Distinguishes a reconnection from the connection it replaces.
    number: u64,
    protocol: Protocol,
    maker: String,
    /// The id the watch uses in its frames (its registered serial).
    serial: String,
    /// The 3G sequence field, when the watch sends one (replies and commands repeat it).
    index: Option<String>,
    tx: mpsc::Sender<Vec<u8>>,
}

/// Reaches connected watches: commands, settings and alarm feedback.
pub struct WatchLink {
    conns: RwLock<HashMap<i64, Conn>>,
    /// Settings for watches not connected now, sent when they next log in (in memory).
    pending: Mutex<HashMap<i64, Vec<WatchCommand>>>,
    /// Devices that have connected over TCP since this process started.
    known: RwLock<std::collections::HashSet<i64>>,
    journal: AtomicU32,
    metrics: Metrics,
}

impl std::fmt::Debug for WatchLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchLink").finish_non_exhaustive()
    }
}

impl WatchLink {
    pub(crate) fn new(metrics: Metrics) -> Self {
        WatchLink {
            conns: RwLock::default(),
            pending: Mutex::default(),
            known: RwLock::default(),
            journal: AtomicU32::new(1),
            metrics,
        }
    }

    /// Whether `device_id` is a TCP watch (connected now or since this process started).
    pub fn is_watch(&self, device_id: i64) -> bool {
        self.known.read().expect("known lock").contains(&device_id)
    }

    /// Watches connected now.
    pub fn connected(&self) -> usize {
        self.conns.read().expect("conns lock").len()
    }

    fn encode(&self, conn: &Conn, command: &WatchCommand) -> Result<Vec<u8>, zhulao_watch::CommandError> {
        let target = Target {
            protocol: conn.protocol,
            maker: &conn.maker,
            device_id: &conn.serial,
            index: conn.index.as_deref(),
            serial: self.journal.fetch_add(1, Ordering::Relaxed) % 1_000_000,
        };
        zhulao_watch::encode_for(&target, command)
    }

    /// Sends `commands` to the watch if it is connected; else keeps settings for its next login.
    fn deliver(&self, device_id: i64, commands: Vec<WatchCommand>, keep: bool) -> Result<(), CommandRefused> {
        let conns = self.conns.read().expect("conns lock");
        let Some(conn) = conns.get(&device_id) else {
            if keep {
                self.pending.lock().expect("pending lock").insert(device_id, commands);
                return Ok(());
            }
            return Err(CommandRefused::NotConnected);
        };
        let mut frames = Vec::with_capacity(commands.len());
        for c in &commands {
            frames.push(self.encode(conn, c).map_err(|e| CommandRefused::Invalid {
                code: e.code(),
                zh: e.zh(),
                en: e.en(),
            })?);
        }
        for f in frames {
            if conn.tx.try_send(f).is_err() {
                self.metrics.downlink_dropped.inc();
            }
        }
        Ok(())
    }

    /// Registers the connection and sends the settings kept in memory for it; whether there were any.
    fn attach(&self, device_id: i64, conn: Conn) -> bool {
        self.known.write().expect("known lock").insert(device_id);
        let pending = self.pending.lock().expect("pending lock").remove(&device_id);
        self.conns.write().expect("conns lock").insert(device_id, conn);
        let had = pending.is_some();
        if let Some(commands) = pending {
            let _ = self.deliver(device_id, commands, true);
        }
        had
    }

    fn detach(&self, device_id: i64, number: u64) {
        let mut conns = self.conns.write().expect("conns lock");
        if conns.get(&device_id).is_some_and(|c| c.number == number) {
            conns.remove(&device_id);
        }
    }

    /// A platform downlink, in the watch's terms: settings become SOS numbers, the phone
    /// book, the report interval and silent hours; feedback becomes a text on the screen
    /// (3G); acknowledgements were already sent as the protocol's replies.
    pub(crate) fn send(&self, device_id: i64, msg: DeviceMessage) {
        match msg {
            DeviceMessage::Ack { .. } => {}
            DeviceMessage::Feedback { state, .. } => {
                let text = match state {
                    Feedback::Received => "平台已收到您的求助",
                    Feedback::Answered => "值班人员已接警",
                    Feedback::HelpOnTheWay => "救助人员正在赶来",
                    Feedback::ResponderOnSite => "救助人员已到达",
                    Feedback::Closed => "求助已处理完毕",
                };
                let protocol = self.conns.read().expect("conns lock").get(&device_id).map(|c| c.protocol);
                if protocol == Some(Protocol::Watch3g) {
                    let _ = self.deliver(device_id, vec![WatchCommand::Message(text.into())], false);
                }
            }
            DeviceMessage::Config { config: cfg, .. } => {
                let protocol = self.conns.read().expect("conns lock").get(&device_id).map(|c| c.protocol);
                let _ = self.deliver(device_id, config_commands(&cfg, protocol), true);
            }
        }
    }

    /// A command from the API (`{"command": "find_device"}`, `{"command": "report_interval",
    /// "seconds": 60}` …) to a connected watch.
    pub(crate) fn command(&self, device_id: i64, request: &serde_json::Value) -> Result<(), CommandRefused> {
        let command = parse_command(request)?;
        self.deliver(device_id, vec![command], false)
    }
}

/// The watch commands that carry a device configuration. Silent hours exist only in the 3G
/// protocol; heart-rate thresholds and fall sensitivity have no watch command.
fn config_commands(cfg: &proto::DeviceConfigMsg, protocol: Option<Protocol>) -> Vec<WatchCommand> {
    let mut out = Vec::new();
    if let Some(contacts) = &cfg.contacts {
        let phones: Vec<String> =
            contacts.iter().map(|c| c.phone.chars().filter(|ch| *ch != '-').collect()).collect();
        let mut sos: [Option<String>; 3] = Default::default();
        for (slot, p) in sos.iter_mut().zip(&phones) {
            *slot = Some(p.clone());
        }
        out.push(WatchCommand::SosNumbers(sos));
        out.push(WatchCommand::Phonebook(
            contacts
                .iter()
                .zip(phones)
                .take(10)
                .map(|(c, phone)| Contact { name: c.name.clone(), phone })
                .collect(),
        ));
    }
    if let Some(s) = cfg.report_interval_s {
        out.push(WatchCommand::ReportInterval { seconds: s });
    }
    if let Some(silent) = &cfg.silent
        && protocol != Some(Protocol::Iw)
        && let (Some(a), Some(b)) = (
            NaiveTime::from_hms_opt(silent.start.hour().into(), silent.start.minute().into(), 0),
            NaiveTime::from_hms_opt(silent.end.hour().into(), silent.end.minute().into(), 0),
        )
    {
        out.push(WatchCommand::SilentHours(vec![(a, b)]));
    }
    out
}

/// The API's command request.
#[derive(Debug, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case", deny_unknown_fields)]
enum CommandRequest {
    SosNumbers { numbers: Vec<String> },
    Phonebook { contacts: Vec<PhonebookEntry> },
    ReportInterval { seconds: u32 },
    FindDevice,
    LocateNow,
    SilentHours { periods: Vec<[String; 2]> },
    HeartRateInterval { minutes: u32 },
    MeasureHeartRate,
    Message { text: String },
    Reboot,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PhonebookEntry {
    name: String,
    phone: String,
}

fn invalid(code: &'static str, zh: &str, en: &str) -> CommandRefused {
    CommandRefused::Invalid { code, zh: zh.into(), en: en.into() }
}

fn parse_command(v: &serde_json::Value) -> Result<WatchCommand, CommandRefused> {
    let req: CommandRequest = serde_json::from_value(v.clone()).map_err(|e| {
        invalid(
            "bad_command",
            "命令格式不正确（command 应为 sos_numbers、phonebook、report_interval、find_device、locate_now、silent_hours、heart_rate_interval、measure_heart_rate、message 或 reboot）",
            &format!("malformed command: {e}"),
        )
    })?;
    Ok(match req {
        CommandRequest::SosNumbers { numbers } => {
            if numbers.len() > 3 {
                return Err(invalid("too_many", "SOS 号码最多 3 个", "at most 3 SOS numbers"));
            }
            let mut slots: [Option<String>; 3] = Default::default();
            for (s, n) in slots.iter_mut().zip(numbers) {
                *s = Some(n);
            }
            WatchCommand::SosNumbers(slots)
        }
        CommandRequest::Phonebook { contacts } => WatchCommand::Phonebook(
            contacts.into_iter().map(|c| Contact { name: c.name, phone: c.phone }).collect(),
        ),
        CommandRequest::ReportInterval { seconds } => WatchCommand::ReportInterval { seconds },
        CommandRequest::FindDevice => WatchCommand::FindDevice,
        CommandRequest::LocateNow => WatchCommand::LocateNow,
        CommandRequest::SilentHours { periods } => {
            let t = |s: &str| {
                NaiveTime::parse_from_str(s, "%H:%M")
                    .map_err(|_| invalid("bad_time", "时间应为 HH:MM", "times must be HH:MM"))
            };
            let mut out = Vec::new();
            for [a, b] in &periods {
                out.push((t(a)?, t(b)?));
            }
            WatchCommand::SilentHours(out)
        }
        CommandRequest::HeartRateInterval { minutes } => WatchCommand::HeartRateInterval { minutes },
        CommandRequest::MeasureHeartRate => WatchCommand::MeasureHeartRate,
        CommandRequest::Message { text } => WatchCommand::Message(text),
        CommandRequest::Reboot => WatchCommand::Reboot,
    })
}

/// The bound addresses with their protocols, and the accept loops.
pub(crate) type Listening = (Vec<(Protocol, SocketAddr)>, Vec<tokio::task::JoinHandle<()>>);

/// Binds the configured ports (a busy port is an error naming the option to change) and
/// starts accepting. Returns the bound addresses with their protocols.
pub(crate) fn listen(
    cfg: &WatchConfig,
    pipeline: Pipeline,
    link: Arc<WatchLink>,
    metrics: Metrics,
) -> Result<Listening, GatewayError> {
    let mut bound = Vec::new();
    let mut tasks = Vec::new();
    let shared = Arc::new(Shared {
        cfg: cfg.clone(),
        pipeline,
        link,
        metrics,
        connections: AtomicU64::new(0),
        numbers: AtomicU64::new(0),
    });
    for (protocol, addr, flag) in [
        (Protocol::Watch3g, cfg.listen_3g, "--watch-3g-listen"),
        (Protocol::Iw, cfg.listen_iw, "--watch-iw-listen"),
    ] {
        let Some(addr) = addr else { continue };
        let std_listener = std::net::TcpListener::bind(addr).map_err(|source| GatewayError::PortBusy {
            addr,
            option: flag,
            what: "watch",
            source,
        })?;
        std_listener.set_nonblocking(true)?;
        let listener = TcpListener::from_std(std_listener)?;
        let local = listener.local_addr()?;
        tracing::info!(protocol = protocol.name(), addr = %local, "watch gateway listening");
        bound.push((protocol, local));
        tasks.push(tokio::spawn(accept(listener, protocol, shared.clone())));
    }
    Ok((bound, tasks))
}

struct Shared {
    cfg: WatchConfig,
    pipeline: Pipeline,
    link: Arc<WatchLink>,
    metrics: Metrics,
    connections: AtomicU64,
    numbers: AtomicU64,
}

async fn accept(listener: TcpListener, protocol: Protocol, shared: Arc<Shared>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                // Out of file descriptors and the like: wait rather than spin.
                tracing::warn!(error = %e, "watch accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if shared.connections.load(Ordering::Relaxed) >= shared.cfg.max_connections as u64 {
            shared.metrics.rejected.get_or_create(&[("reason", "too_many_connections")]).inc();
            continue;
        }
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        tokio::spawn(async move {
            shared.connections.fetch_add(1, Ordering::Relaxed);
            shared.metrics.watch_connections.inc();
            let why = serve(stream, protocol, &shared).await;
            shared.connections.fetch_sub(1, Ordering::Relaxed);
            shared.metrics.watch_connections.dec();
            tracing::debug!(%peer, reason = why, "watch connection closed");
        });
    }
}

/// The watch a connection has logged in as.
struct Bound {
    device_id: i64,
    serial: String,
    number: u64,
}

/// Serves one connection until it closes; returns why it closed.
async fn serve(stream: TcpStream, protocol: Protocol, shared: &Shared) -> &'static str {
    let (mut rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(16);
    let mut framer = Framer::new(protocol, shared.cfg.max_frame);
    let mut buf = vec![0u8; 1024];
    let mut bound: Option<Bound> = None;
    let reason = loop {
        tokio::select! {
            read = tokio::time::timeout(shared.cfg.idle_timeout, rd.read(&mut buf)) => {
                let n = match read {
                    Err(_) => break "idle",
                    Ok(Err(_)) => break "error",
                    Ok(Ok(0)) => break "closed",
                    Ok(Ok(n)) => n,
                };
                framer.push(&buf[..n]);
                let mut close = None;
                while let Some(frame) = framer.next_frame() {
                    let frame = match frame {
                        Ok(f) => f,
                        Err(e) => {
                            shared.metrics.decode_errors.get_or_create(&[("code", e.code())]).inc();
                            continue;
                        }
                    };
                    match handle_frame(&frame, protocol, shared, &mut bound, &tx).await {
                        Ok(Some(reply)) => {
                            if wr.write_all(&reply).await.is_err() {
                                close = Some("error");
                                break;
                            }
                        }
                        Ok(None) => {}
                        Err(why) => {
                            close = Some(why);
                            break;
                        }
                    }
                }
                if let Some(why) = close {
                    break why;
                }
            }
            Some(out) = rx.recv() => {
                if wr.write_all(&out).await.is_err() {
                    break "error";
                }
            }
        }
    };
    if let Some(b) = bound {
        shared.link.detach(b.device_id, b.number);
    }
    reason
}

/// Decodes one frame and hands it to the workers; the reply to write once it is committed.
/// `Err` closes the connection.
async fn handle_frame(
    frame: &Frame,
    protocol: Protocol,
    shared: &Shared,
    bound: &mut Option<Bound>,
    tx: &mpsc::Sender<Vec<u8>>,
) -> Result<Option<Vec<u8>>, &'static str> {
    shared.metrics.watch_frames.inc();
    let now = Utc::now();
    let options = DecodeOptions {
        utc_offset: shared.cfg.utc_offset,
        now: Some(now),
        device_id: bound.as_ref().map(|b| b.serial.clone()),
    };
    let msg = match zhulao_watch::decode_with(frame, &options) {
        Ok(m) => m,
        Err(e) => {
            shared.metrics.decode_errors.get_or_create(&[("code", e.code())]).inc();
            return Ok(None);
        }
    };
    let Some(serial) = msg.device_id.clone() else {
        // An IW frame before the login: the watch does not know it must log in again.
        shared.metrics.rejected.get_or_create(&[("reason", "not_logged_in")]).inc();
        return Err("not_logged_in");
    };
    match bound {
        Some(b) if b.serial != serial => {
            shared.metrics.rejected.get_or_create(&[("reason", "device_mismatch")]).inc();
            return Ok(None);
        }
        Some(_) => {}
        None => {
            let device_id = match shared.pipeline.registered(&serial).await {
                Ok(Some(id)) => id,
                Ok(None) => {
                    shared.metrics.rejected.get_or_create(&[("reason", "unknown_device")]).inc();
                    shared.metrics.auth_failures.inc();
                    // A serial is not personal data: operators need it to register the watch.
                    tracing::info!(serial = %serial, protocol = protocol.name(), "unregistered watch refused");
                    return Err("unknown_device");
                }
                Err(e) => {
                    tracing::warn!(error = %e, "watch lookup failed; closing so the watch retries");
                    return Err("database");
                }
            };
            let number = shared.numbers.fetch_add(1, Ordering::Relaxed);
            let had_pending = shared.link.attach(
                device_id,
                Conn {
                    number,
                    protocol,
                    maker: frame.maker.clone(),
                    serial: serial.clone(),
                    index: frame.index.clone(),
                    tx: tx.clone(),
                },
            );
            // Settings pushed while the watch was away are also queued in the database, so
            // they survive a restart; this process's own copy (the same push) goes first.
            match shared.pipeline.store().take_device_config(device_id).await {
                Ok(Some(payload)) if !had_pending => {
                    // Stored as the device protocol's `down/config`: decoded (and checked) once.
                    match proto::decode_downlink(Kind::Config, payload.as_bytes()) {
                        Ok(proto::Downlink::Config(config)) => shared
                            .link
                            .send(device_id, DeviceMessage::Config { serial: serial.clone(), config }),
                        _ => tracing::warn!(device_id, "queued settings unreadable; dropped"),
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "queued settings could not be read; sent at the next login")
                }
            }
            *bound = Some(Bound { device_id, serial: serial.clone(), number });
        }
    }
    let items = items(&msg, frame, now.timestamp_millis(), &shared.metrics);
    let (done, committed) = oneshot::channel();
    let inbound = Inbound {
        serial,
        received: Instant::now(),
        payload: Payload::Decoded { items, kind: "watch" },
        reply: Box::new(WatchReply(done)),
    };
    if !shared.pipeline.submit(inbound, &shared.metrics).await {
        return Err("shutdown");
    }
    if !committed.await.unwrap_or(false) {
        // Not stored: no reply, so the watch sends it again.
        return Ok(None);
    }
    Ok(msg.reply_bytes().map(<[u8]>::to_vec))
}

/// How a frame is answered: the connection writes the protocol's reply only once everything
/// the frame caused is committed (a watch sends an unanswered alarm again).
struct WatchReply(oneshot::Sender<bool>);

impl Reply for WatchReply {
    fn finish(self: Box<Self>, outcome: Outcome) {
        let _ = self.0.send(outcome == Outcome::Committed);
    }
}

/// FNV-1a of the frame: identical retransmissions of an alarm frame get the same message id.
fn fingerprint(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

/// What a decoded watch message asks of the platform: "still here", then its position,
/// battery, vital signs and alarms.
fn items(msg: &WatchMessage, frame: &Frame, now_ms: i64, metrics: &Metrics) -> Vec<Item> {
    let t_ms = msg.time.map_or(now_ms, |t| t.timestamp_millis());
    let mut out = vec![Item::Uplink(Uplink::Heartbeat(proto::Heartbeat { t_ms: Some(now_ms) }))];
    let fix = match (msg.valid, msg.lat, msg.lon) {
        (Some(true), Some(lat), Some(lon)) => Some((lat, lon, t_ms)),
        _ => None,
    };
    if let Some((lat, lon, t)) = fix {
        out.push(Item::Uplink(Uplink::Location(proto::LocationReport {
            t_ms: t,
            lat: Some(lat),
            lon: Some(lon),
            acc_m: None,
            fix: proto::Fix::Gps,
        })));
    }
    if let Some(pct) = msg.battery {
        out.push(Item::Uplink(Uplink::Battery(proto::BatteryReport { t_ms, pct, charging: false })));
    }
    if msg.heart_rate.is_some()
        || msg.bp_systolic.is_some()
        || msg.spo2.is_some()
        || msg.temperature.is_some()
    {
        // The device protocol's own ranges decide what is a plausible reading.
        let v = serde_json::json!({
            "t": t_ms, "hr": msg.heart_rate, "sbp": msg.bp_systolic, "dbp": msg.bp_diastolic,
            "spo2": msg.spo2, "temp": msg.temperature,
        });
        let clean: serde_json::Map<String, serde_json::Value> = v
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(_, x)| !x.is_null())
            .map(|(k, x)| (k.clone(), x.clone()))
            .collect();
        let bytes = serde_json::to_vec(&clean).unwrap_or_default();
        match proto::decode_uplink(Kind::Vital, &bytes) {
            Ok(u) => out.push(Item::Uplink(u)),
            Err(e) => {
                metrics.decode_errors.get_or_create(&[("code", e.code())]).inc();
            }
        }
    }
    let id = fingerprint(&frame.raw);
    for alarm in &msg.alarms {
        let kind = match alarm {
            Alarm::Sos => AlarmKind::Sos,
            Alarm::Fall => AlarmKind::Fall,
            Alarm::Removed => AlarmKind::DeviceRemoved,
            Alarm::LowBattery => AlarmKind::LowBattery,
            Alarm::GeofenceExit => AlarmKind::GeofenceExit,
            // The watch lost its supply and is about to go dark.
            Alarm::PowerCut => AlarmKind::Offline,
            // An alarm frame whose alarm could not be read: treated as a call for help, the
            // raw frame on the alarm for the operator to judge.
            Alarm::Unreadable => AlarmKind::Sos,
            Alarm::GeofenceEnter => continue,
        };
        let code =
            serde_json::to_value(alarm).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        out.push(Item::Alarm(Trigger {
            kind,
            msg_id: format!("w:{code}:{id:016x}"),
            fix,
            source: zhulao_alarms::AlarmSource::Watch,
            impact_ms: None,
            ack: false,
            detail: alarm_detail(msg, frame, &code),
        }));
    }
    out
}

/// What a watch alarm keeps of its frame. A frame that could not be decoded whole keeps
/// its raw text and the field that could not be read, for the operator.
fn alarm_detail(msg: &WatchMessage, frame: &Frame, code: &str) -> serde_json::Value {
    let mut d = serde_json::json!({
        "protocol": frame.protocol.name(),
        "type": msg.kind,
        "alarm": code,
        "time": msg.time,
        "valid": msg.valid,
    });
    if let Some(e) = &msg.undecoded {
        d["undecoded"] = serde_json::json!({
            "code": e.code(), "field": e.field(), "message": e.zh(), "message_en": e.en(),
        });
        d["raw"] = String::from_utf8_lossy(&frame.raw).into_owned().into();
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_commands_parse_and_refuse_clearly() {
        let c = parse_command(&serde_json::json!({"command": "report_interval", "seconds": 60})).unwrap();
        assert_eq!(c, WatchCommand::ReportInterval { seconds: 60 });
        let c =
            parse_command(&serde_json::json!({"command": "silent_hours", "periods": [["22:00", "06:30"]]}))
                .unwrap();
        assert!(matches!(c, WatchCommand::SilentHours(p) if p.len() == 1));
        let c = parse_command(&serde_json::json!({"command": "sos_numbers", "numbers": ["13800000000"]}))
            .unwrap();
        assert_eq!(c, WatchCommand::SosNumbers([Some("13800000000".into()), None, None]));
        for bad in [
            serde_json::json!({"command": "explode"}),
            serde_json::json!({"command": "report_interval"}),
            serde_json::json!({"command": "silent_hours", "periods": [["25:00", "06:00"]]}),
            serde_json::json!({"command": "sos_numbers", "numbers": ["1", "2", "3", "4"]}),
        ] {
            match parse_command(&bad) {
                Err(CommandRefused::Invalid { zh, .. }) => assert!(!zh.is_empty()),
                other => panic!("{bad} gave {other:?}"),
            }
        }
    }

    #[test]
    fn config_becomes_sos_numbers_phonebook_interval_and_silent_hours() {
        let cfg = proto::DeviceConfigMsg {
            report_interval_s: Some(300),
            contacts: Some(vec![
                proto::ConfigContact { name: "王芳".into(), phone: "138-0000-0001".into() },
                proto::ConfigContact { name: "李强".into(), phone: "13900000002".into() },
            ]),
            silent: Some(proto::SilentHours {
                start: proto::ClockTime::new(22, 0).unwrap(),
                end: proto::ClockTime::new(6, 30).unwrap(),
            }),
            ..Default::default()
        };
        let cmds = config_commands(&cfg, Some(Protocol::Watch3g));
        assert_eq!(
            cmds[0],
            WatchCommand::SosNumbers([Some("13800000001".into()), Some("13900000002".into()), None])
        );
        assert!(matches!(&cmds[1], WatchCommand::Phonebook(p) if p.len() == 2 && p[0].name == "王芳"));
        assert_eq!(cmds[2], WatchCommand::ReportInterval { seconds: 300 });
        assert!(matches!(&cmds[3], WatchCommand::SilentHours(_)));
        // IW has no silent-hours command.
        assert_eq!(config_commands(&cfg, Some(Protocol::Iw)).len(), 3);
    }

    #[test]
    fn alarm_frames_map_to_alarms_with_a_stable_id_and_no_fix_when_invalid() {
        let raw = b"[3G*8809008845*00C0*AL,271219,094744,V,00.000000,N, 0.0000000,E,0.00,0.0,0.0,0,100,81,0,0,00010000,7,0,460,0,9336,3981,141,0,0.0]";
        let mut framer = Framer::new(Protocol::Watch3g, 4096);
        framer.push(raw);
        let frame = framer.next_frame().unwrap().unwrap();
        let msg = zhulao_watch::decode(&frame).unwrap();
        let m = Metrics::new();
        let a = items(&msg, &frame, 0, &m);
        let b = items(&msg, &frame, 5, &m);
        let alarms: Vec<_> = a
            .iter()
            .filter_map(|i| match i {
                Item::Alarm(t) => Some(t),
                _ => None,
            })
            .collect();
        assert_eq!(alarms.len(), 1);
        assert_eq!(alarms[0].kind, AlarmKind::Sos);
        assert!(alarms[0].fix.is_none(), "an invalid fix is not a position");
        let id_b = b.iter().find_map(|i| match i {
            Item::Alarm(t) => Some(t.msg_id.clone()),
            _ => None,
        });
        assert_eq!(Some(alarms[0].msg_id.clone()), id_b);
    }
}
