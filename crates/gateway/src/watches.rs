//! The TCP gateway for elderly-care watches speaking the 3G and IW text protocols: one task
//! per connection frames and decodes the byte stream (`zhulao-watch`), authenticates the
//! watch by its registered id, feeds its positions, vital signs, battery and alarms to the
//! same detector workers as MQTT devices, and writes the reply the watch expects only once
//! everything the frame caused is committed (a watch sends an unanswered alarm again).
//! Commands (SOS numbers, phone book, report interval, find, silent hours, heart-rate
//! interval) go to the connection that holds the watch.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{FixedOffset, Utc};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use zhulao_alarms::AlarmKind;
use zhulao_proto::{self as proto, Kind, Uplink};
use zhulao_watch::{Alarm, DecodeOptions, Frame, Framer, Protocol, WatchMessage};

use crate::device::Trigger;
use crate::error::GatewayError;
use crate::metrics::Metrics;
use crate::pipeline::{Inbound, Item, Outcome, Payload, Pipeline, Reply};
use crate::watch_guard::UnknownIds;
pub use crate::watch_guard::{SourceNet, UnknownIdLimit};
pub use crate::watch_link::WatchLink;
use crate::watch_link::{Attached, Conn, Outbound};

/// Where watches connect, how their frames are read, and who may connect.
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
    /// A connection that has not logged in (sent a frame with a registered watch id) within
    /// this long is closed.
    pub login_timeout: Duration,
    /// Queued settings (SOS numbers, phone book …) go only to a session that has lasted this
    /// long, or that an operator confirmed.
    pub settle_time: Duration,
    /// Source networks that may connect (a private APN); empty: any. Others are closed at
    /// accept.
    pub allow_from: Vec<SourceNet>,
    /// Logins with watch ids the registry does not know, per source address.
    pub unknown_id_limit: UnknownIdLimit,
    /// A login from the same source address as the watch's live connection replaces it
    /// instead of raising a device conflict (for a private APN, where each watch has its own
    /// address and reconnects after a network change leave a dead connection behind). Off by
    /// default: any second login is a conflict.
    pub same_address_replaces: bool,
    /// A login for a watch whose connection has sent nothing for this long replaces that
    /// connection instead of raising a conflict (it is dead: a live watch sends a link frame
    /// every few minutes). `None`: every second login is a conflict.
    pub replace_silent_after: Option<Duration>,
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
            login_timeout: Duration::from_secs(10),
            settle_time: Duration::from_secs(60),
            allow_from: Vec::new(),
            unknown_id_limit: UnknownIdLimit::default(),
            same_address_replaces: false,
            replace_silent_after: Some(Duration::from_secs(360)),
        }
    }
}

/// How often settled sessions are offered their settings and closed conflicts looked at.
const SWEEP: Duration = Duration::from_millis(500);

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
        unknown_ids: UnknownIds::new(cfg.unknown_id_limit),
    });
    tasks.push(tokio::spawn(shared.link.clone().sweep(SWEEP)));
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
    unknown_ids: UnknownIds,
}

impl Shared {
    fn refuse(&self, reason: &'static str) {
        self.metrics.rejected.get_or_create(&[("reason", reason)]).inc();
    }
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
        if !shared.cfg.allow_from.is_empty() && !shared.cfg.allow_from.iter().any(|n| n.contains(peer.ip())) {
            // Not from the deployment's networks (a private APN): closed unread.
            shared.refuse("source_not_allowed");
            tracing::debug!(%peer, "watch connection from outside the allowed networks closed");
            continue;
        }
        if shared.connections.load(Ordering::Relaxed) >= shared.cfg.max_connections as u64 {
            shared.refuse("too_many_connections");
            continue;
        }
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        tokio::spawn(async move {
            shared.connections.fetch_add(1, Ordering::Relaxed);
            shared.metrics.watch_connections.inc();
            let why = serve(stream, peer, protocol, &shared).await;
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
async fn serve(stream: TcpStream, peer: SocketAddr, protocol: Protocol, shared: &Shared) -> &'static str {
    let (mut rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<Outbound>(16);
    let mut framer = Framer::new(protocol, shared.cfg.max_frame);
    let mut buf = vec![0u8; 1024];
    let mut bound: Option<Bound> = None;
    let heard = Arc::new(AtomicI64::new(0));
    // Until it logs in, a connection has the login timeout in all; then the idle timeout per read.
    let login_by = tokio::time::Instant::now() + shared.cfg.login_timeout;
    let reason = loop {
        let wait = match bound {
            Some(_) => tokio::time::Instant::now() + shared.cfg.idle_timeout,
            None => login_by,
        };
        tokio::select! {
            read = tokio::time::timeout_at(wait, rd.read(&mut buf)) => {
                let n = match read {
                    Err(_) if bound.is_none() => {
                        shared.refuse("login_timeout");
                        break "login_timeout";
                    }
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
                    match handle_frame(&frame, protocol, peer, shared, &mut bound, &tx, &heard).await {
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
            Some(out) = rx.recv() => match out {
                Outbound::Frame(bytes) => {
                    if wr.write_all(&bytes).await.is_err() {
                        break "error";
                    }
                }
                Outbound::Close => break "closed_by_operator",
            },
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
    peer: SocketAddr,
    shared: &Shared,
    bound: &mut Option<Bound>,
    tx: &mpsc::Sender<Outbound>,
    heard: &Arc<AtomicI64>,
) -> Result<Option<Vec<u8>>, &'static str> {
    shared.metrics.watch_frames.inc();
    let now = Utc::now();
    heard.store(now.timestamp_millis(), Ordering::Relaxed);
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
    if msg.is_partial() {
        shared.metrics.decode_errors.get_or_create(&[("code", "partial_alarm_frame")]).inc();
    }
    let Some(serial) = msg.device_id.clone() else {
        // An IW frame before the login: the watch does not know it must log in again.
        shared.refuse("not_logged_in");
        return Err("not_logged_in");
    };
    let mut conflict = None;
    match bound {
        Some(b) if b.serial != serial => {
            shared.refuse("device_mismatch");
            return Ok(None);
        }
        Some(_) => {}
        None => {
            // An unknown id costs its source address a token: one address cannot make the
            // gateway look ids up in the database as fast as it sends them.
            if !shared.pipeline.in_directory(&serial)
                && shared.unknown_ids.exhausted(peer.ip(), Instant::now())
            {
                shared.refuse("unknown_id_rate_limited");
                shared.metrics.auth_failures.inc();
                return Err("rate_limited");
            }
            let device_id = match shared.pipeline.registered(&serial).await {
                Ok(Some(id)) => id,
                Ok(None) => {
                    shared.unknown_ids.allow(peer.ip(), Instant::now());
                    shared.refuse("unknown_device");
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
            let attached = shared.link.attach(
                device_id,
                shared.pipeline.elder_of(&serial),
                Conn {
                    number,
                    protocol,
                    maker: frame.maker.clone(),
                    serial: serial.clone(),
                    index: frame.index.clone(),
                    tx: tx.clone(),
                    peer,
                    since: Instant::now(),
                    since_ms: now.timestamp_millis(),
                    heard_ms: heard.clone(),
                },
            );
            *bound = Some(Bound { device_id, serial: serial.clone(), number });
            if let Attached::Conflict(conns) = attached {
                tracing::warn!(device_id, %peer, "a second connection logged in as a connected watch: device conflict");
                conflict = Some(conns);
            }
            // Settings go out when the session has settled (the link's sweep), not here.
            if let Some(b) = bound.as_ref() {
                let link = shared.link.clone();
                let id = b.device_id;
                tokio::spawn(async move { link.offer(id).await });
            }
        }
    }
    let b = bound.as_ref().expect("logged in");
    if let Some(c) = &msg.confirms {
        shared.link.receipt(b.device_id, b.number, c);
    }
    let suspect = shared.link.in_conflict(b.device_id).then_some(Suspect { number: b.number, peer });
    let mut items = items(&msg, frame, now.timestamp_millis(), &shared.metrics, suspect.as_ref());
    if let Some(conns) = conflict {
        items.push(conflict_alarm(b.number, &conns, frame));
    }
    let (done, committed) = oneshot::channel();
    let inbound = Inbound {
        serial,
        received: Instant::now(),
        payload: Payload::Decoded { items, kind: "watch" },
        reply: Box::new(WatchReply { done, link: shared.link.clone(), device_id: b.device_id }),
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

/// A connection of a watch in conflict: whatever it sends may be an impostor's.
struct Suspect {
    number: u64,
    peer: SocketAddr,
}

/// The device-conflict alarm a contending login raises (merged into the open one while it is
/// open), with every connection that claims the watch, for the operator.
fn conflict_alarm(number: u64, conns: &[(u64, SocketAddr, i64)], frame: &Frame) -> Item {
    let list: Vec<serde_json::Value> = conns
        .iter()
        .map(|(n, peer, since)| serde_json::json!({ "connection": n, "peer": peer.to_string(), "since_ms": since }))
        .collect();
    Item::Alarm(Trigger {
        kind: AlarmKind::DeviceConflict,
        msg_id: format!("w:conflict:{number}:{:016x}", fingerprint(&frame.raw)),
        fix: None,
        source: zhulao_alarms::AlarmSource::Watch,
        impact_ms: None,
        ack: true,
        detail: serde_json::json!({
            "protocol": frame.protocol.name(),
            "login": number,
            "connections": list,
            "resolve": "确认要保留的连接（设备命令 confirm_session，带 connection 编号），或结案以断开全部连接 / \
                        confirm the connection to keep (device command confirm_session with its connection number), \
                        or close this alarm to drop them all",
        }),
    })
}

/// How a frame is answered: the connection writes the protocol's reply only once everything
/// the frame caused is committed (a watch sends an unanswered alarm again). The conflict
/// alarm's id goes to the link, which watches for an operator closing it.
struct WatchReply {
    done: oneshot::Sender<bool>,
    link: Arc<WatchLink>,
    device_id: i64,
}

impl Reply for WatchReply {
    fn event_accepted(&self, msg_id: &str, alarm_id: Option<i64>) {
        if msg_id.starts_with("w:conflict:")
            && let Some(id) = alarm_id
        {
            self.link.conflict_alarm(self.device_id, id);
        }
    }

    fn finish(self: Box<Self>, outcome: Outcome) {
        let _ = self.done.send(outcome == Outcome::Committed);
    }
}

/// FNV-1a of the frame: identical retransmissions of an alarm frame get the same message id.
fn fingerprint(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

/// What a decoded watch message asks of the platform: "still here", then its position,
/// battery, vital signs and alarms.
///
/// From a connection of a watch in conflict (`suspect`) only "still here" and the alarms: no
/// position, battery or vital sign reaches the device's state or its detectors, and the
/// alarms are raised without the frame's fix (the last position known before, or the home),
/// the fix the frame claimed kept in the alarm's detail with the connection that sent it.
fn items(
    msg: &WatchMessage,
    frame: &Frame,
    now_ms: i64,
    metrics: &Metrics,
    suspect: Option<&Suspect>,
) -> Vec<Item> {
    let t_ms = msg.time.map_or(now_ms, |t| t.timestamp_millis());
    let mut out = vec![Item::Uplink(Uplink::Heartbeat(proto::Heartbeat { t_ms: Some(now_ms) }))];
    let fix = match (msg.valid, msg.lat, msg.lon) {
        (Some(true), Some(lat), Some(lon)) => Some((lat, lon, t_ms)),
        _ => None,
    };
    if let Some(s) = suspect {
        let conflict = serde_json::json!({
            "connection": s.number,
            "peer": s.peer.to_string(),
            "reported": { "lat": msg.lat, "lon": msg.lon, "valid": msg.valid },
        });
        out.extend(alarm_items(msg, frame, None).into_iter().map(|mut i| {
            if let Item::Alarm(t) = &mut i {
                t.detail["conflict"] = conflict.clone();
            }
            i
        }));
        return out;
    }
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
    out.extend(alarm_items(msg, frame, fix));
    out
}

/// The frame's alarms, with `fix` as their position.
fn alarm_items(msg: &WatchMessage, frame: &Frame, fix: Option<(f64, f64, i64)>) -> Vec<Item> {
    let mut out = Vec::new();
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
    fn alarm_frames_map_to_alarms_with_a_stable_id_and_no_fix_when_invalid() {
        let raw = b"[3G*8809008845*00C0*AL,271219,094744,V,00.000000,N, 0.0000000,E,0.00,0.0,0.0,0,100,81,0,0,00010000,7,0,460,0,9336,3981,141,0,0.0]";
        let mut framer = Framer::new(Protocol::Watch3g, 4096);
        framer.push(raw);
        let frame = framer.next_frame().unwrap().unwrap();
        let msg = zhulao_watch::decode(&frame).unwrap();
        let m = Metrics::new();
        let a = items(&msg, &frame, 0, &m, None);
        let b = items(&msg, &frame, 5, &m, None);
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
