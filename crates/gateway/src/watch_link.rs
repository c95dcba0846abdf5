//! The watches' sessions: which connection holds which watch, and what may be sent to it.
//!
//! A watch is trusted on its id alone by its protocol, so the gateway is careful with what it
//! sends: a second login for a watch that already has a live connection does not replace the
//! first — both stay, the watch is *in conflict*, a device-conflict alarm goes to the operators
//! (raised by the connection task through the response service), and neither connection gets
//! settings, contacts or commands until an operator resolves it: by confirming one connection
//! (`{"command": "confirm_session", "connection": N}` on the device's command API; the others
//! are closed) or by closing the conflict alarm (every connection of the watch is closed; the
//! watch that logs in next starts a fresh session). Frames from either connection still raise
//! their alarms; see `watches.rs` for how they are attributed.
//!
//! Queued settings (the store's `device_pending_config`, or settings pushed to this process)
//! go only to a session that has lasted the settle time, or that an operator confirmed, and
//! are removed from the queue only once the watch has sent its receipt for every command they
//! became (3G: the command word back; IW: the command with its journal number). A session
//! that ends before that leaves them queued for the next one.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::NaiveTime;
use serde::Deserialize;
use tokio::sync::mpsc;
use zhulao_alarms::{AlarmKind, Feedback};
use zhulao_proto::{self as proto, Kind};
use zhulao_response::{CommandRefused, DeviceMessage};
use zhulao_store::Store;
use zhulao_watch::{Confirmation, Contact, Protocol, Target, WatchCommand};

use crate::metrics::Metrics;

/// What a connection task is asked to do.
#[derive(Debug)]
pub(crate) enum Outbound {
    /// Write these bytes.
    Frame(Vec<u8>),
    /// Close the connection (an operator resolved a conflict).
    Close,
}

/// One logged-in connection.
pub(crate) struct Conn {
    /// Distinguishes connections of one watch.
    pub number: u64,
    pub protocol: Protocol,
    pub maker: String,
    /// The id the watch uses in its frames (its registered serial).
    pub serial: String,
    /// The 3G sequence field, when the watch sends one (replies and commands repeat it).
    pub index: Option<String>,
    pub tx: mpsc::Sender<Outbound>,
    pub peer: SocketAddr,
    /// When it logged in.
    pub since: Instant,
    /// The same, Unix ms (for the operator).
    pub since_ms: i64,
    /// When it last sent a frame (Unix ms), kept by the connection task.
    pub heard_ms: Arc<std::sync::atomic::AtomicI64>,
}

/// Settings sent to a connection, waiting for the watch's receipts.
struct Delivery {
    number: u64,
    /// The store's version of the queued settings (`None`: settings this process was handed).
    version: Option<i64>,
    /// The generation of the in-memory settings sent, if those were sent.
    memory: Option<u64>,
    awaiting: Vec<Confirmation>,
}

/// One watch: its connections (one, or more while in conflict) and its settings' progress.
#[derive(Default)]
struct Watch {
    conns: Vec<Conn>,
    elder_id: Option<i64>,
    /// Two connections claimed the watch: held until an operator resolves it. The alarm id,
    /// once the conflict alarm is committed.
    conflict: Option<Option<i64>>,
    /// The connection an operator confirmed.
    confirmed: Option<u64>,
    /// Settings handed to this process while they could not go out, with their generation.
    pending: Option<(u64, proto::DeviceConfigMsg)>,
    /// The connection whose settle time passed and whose queued settings were looked at.
    offered: Option<u64>,
    delivery: Option<Delivery>,
}

impl Watch {
    /// The one connection that may be sent settings now, if any.
    fn trusted(&self, settle: Duration) -> Option<&Conn> {
        if self.conflict.is_some() || self.conns.len() != 1 {
            return None;
        }
        let c = &self.conns[0];
        (self.confirmed == Some(c.number) || c.since.elapsed() >= settle).then_some(c)
    }
}

/// What a login became.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Attached {
    /// The watch's only connection.
    Alone,
    /// Another connection holds the watch: both are held, and the operators must hear of it
    /// (the connections, number and peer address, oldest first).
    Conflict(Vec<(u64, SocketAddr, i64)>),
    /// A conflict not yet resolved: held, the operators already know.
    Held,
}

/// Reaches connected watches: commands, settings and alarm feedback.
pub struct WatchLink {
    watches: Mutex<HashMap<i64, Watch>>,
    /// Devices that have connected over TCP since this process started.
    known: RwLock<HashSet<i64>>,
    journal: AtomicU32,
    generation: AtomicU64,
    metrics: Metrics,
    store: Arc<dyn Store>,
    settle: Duration,
    same_address_replaces: bool,
    replace_silent_after: Option<Duration>,
}

impl std::fmt::Debug for WatchLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchLink").finish_non_exhaustive()
    }
}

impl WatchLink {
    pub(crate) fn new(
        metrics: Metrics,
        store: Arc<dyn Store>,
        settle: Duration,
        same_address_replaces: bool,
        replace_silent_after: Option<Duration>,
    ) -> Self {
        WatchLink {
            watches: Mutex::default(),
            known: RwLock::default(),
            journal: AtomicU32::new(1),
            generation: AtomicU64::new(1),
            metrics,
            store,
            settle,
            same_address_replaces,
            replace_silent_after,
        }
    }

    /// Whether `device_id` is a TCP watch (connected now or since this process started).
    pub fn is_watch(&self, device_id: i64) -> bool {
        self.known.read().expect("known lock").contains(&device_id)
    }

    /// Watches connected now.
    pub fn connected(&self) -> usize {
        self.watches.lock().expect("watches lock").values().filter(|w| !w.conns.is_empty()).count()
    }

    /// Whether the watch is in an unresolved conflict.
    pub fn in_conflict(&self, device_id: i64) -> bool {
        self.watches.lock().expect("watches lock").get(&device_id).is_some_and(|w| w.conflict.is_some())
    }

    fn target<'a>(&self, conn: &'a Conn) -> Target<'a> {
        Target {
            protocol: conn.protocol,
            maker: &conn.maker,
            device_id: &conn.serial,
            index: conn.index.as_deref(),
            serial: self.journal.fetch_add(1, Ordering::Relaxed) % 1_000_000,
        }
    }

    /// Encodes and queues `commands` on `conn`; the receipts to wait for.
    fn write(&self, conn: &Conn, commands: &[WatchCommand]) -> Result<Vec<Confirmation>, CommandRefused> {
        let mut frames = Vec::with_capacity(commands.len());
        let mut receipts = Vec::new();
        for c in commands {
            let target = self.target(conn);
            frames.push(zhulao_watch::encode_for(&target, c).map_err(|e| CommandRefused::Invalid {
                code: e.code(),
                zh: e.zh(),
                en: e.en(),
            })?);
            receipts.extend(zhulao_watch::confirmations(&target, c));
        }
        for f in frames {
            if conn.tx.try_send(Outbound::Frame(f)).is_err() {
                self.metrics.downlink_dropped.inc();
            }
        }
        Ok(receipts)
    }

    /// Registers a logged-in connection.
    pub(crate) fn attach(&self, device_id: i64, elder_id: Option<i64>, conn: Conn) -> Attached {
        self.known.write().expect("known lock").insert(device_id);
        let mut watches = self.watches.lock().expect("watches lock");
        let w = watches.entry(device_id).or_default();
        w.elder_id = elder_id;
        // A login that replaces the watch's connections instead of contending with them: from
        // the same address on a private APN (`same_address_replaces`), or when every one has
        // been silent past a link interval — dead, as mobile networks drop connections without
        // a word; a watch logging in while offline would not be a conflict either. The old
        // connections are closed and the new session settles afresh.
        if w.conflict.is_none() && !w.conns.is_empty() {
            let now = chrono::Utc::now().timestamp_millis();
            let silent = |c: &Conn| {
                self.replace_silent_after.is_some_and(|after| {
                    now - c.heard_ms.load(Ordering::Relaxed)
                        > i64::try_from(after.as_millis()).unwrap_or(i64::MAX)
                })
            };
            let replaced =
                if self.same_address_replaces && w.conns.iter().all(|c| c.peer.ip() == conn.peer.ip()) {
                    Some("replaced_same_address")
                } else if w.conns.iter().all(silent) {
                    Some("replaced_silent")
                } else {
                    None
                };
            if let Some(event) = replaced {
                for old in w.conns.drain(..) {
                    let _ = old.tx.try_send(Outbound::Close);
                }
                w.offered = None;
                w.confirmed = None;
                w.delivery = None;
                self.metrics.watch_sessions.get_or_create(&[("event", event)]).inc();
            }
        }
        let outcome = if w.conflict.is_some() {
            Attached::Held
        } else if w.conns.is_empty() {
            Attached::Alone
        } else {
            w.conflict = Some(None);
            w.delivery = None;
            Attached::Conflict(Vec::new())
        };
        w.conns.push(conn);
        match outcome {
            Attached::Conflict(_) => {
                self.metrics.watch_sessions.get_or_create(&[("event", "device_conflict")]).inc();
                Attached::Conflict(w.conns.iter().map(|c| (c.number, c.peer, c.since_ms)).collect())
            }
            Attached::Held if w.conns.len() > 1 => {
                // Yet another connection: the operators hear of it too.
                self.metrics.watch_sessions.get_or_create(&[("event", "device_conflict")]).inc();
                Attached::Conflict(w.conns.iter().map(|c| (c.number, c.peer, c.since_ms)).collect())
            }
            other => other,
        }
    }

    /// The conflict alarm of the watch is committed as `alarm_id`.
    pub(crate) fn conflict_alarm(&self, device_id: i64, alarm_id: i64) {
        if let Some(w) = self.watches.lock().expect("watches lock").get_mut(&device_id)
            && w.conflict.is_some()
        {
            w.conflict = Some(Some(alarm_id));
        }
    }

    pub(crate) fn detach(&self, device_id: i64, number: u64) {
        let mut watches = self.watches.lock().expect("watches lock");
        let Some(w) = watches.get_mut(&device_id) else { return };
        w.conns.retain(|c| c.number != number);
        if w.delivery.as_ref().is_some_and(|d| d.number == number) {
            w.delivery = None;
        }
        if w.offered == Some(number) {
            w.offered = None;
        }
        if w.confirmed == Some(number) {
            w.confirmed = None;
        }
        if w.conns.is_empty() && w.conflict.is_none() && w.pending.is_none() {
            watches.remove(&device_id);
        }
    }

    /// A receipt from connection `number` of the watch: once every command of the settings
    /// sent is confirmed, they leave the queue.
    pub(crate) fn receipt(&self, device_id: i64, number: u64, c: &Confirmation) {
        let done = {
            let mut watches = self.watches.lock().expect("watches lock");
            let Some(w) = watches.get_mut(&device_id) else { return };
            let Some(d) = w.delivery.as_mut().filter(|d| d.number == number) else { return };
            let Some(i) = d.awaiting.iter().position(|a| c.answers(a)) else { return };
            d.awaiting.remove(i);
            if !d.awaiting.is_empty() {
                return;
            }
            let d = w.delivery.take().expect("a delivery");
            if d.memory.is_some() && w.pending.as_ref().map(|p| p.0) == d.memory {
                w.pending = None;
            }
            d.version
        };
        self.metrics.watch_sessions.get_or_create(&[("event", "settings_confirmed")]).inc();
        if let Some(version) = done {
            let store = self.store.clone();
            tokio::spawn(async move {
                if let Err(e) = store.clear_device_config(device_id, version).await {
                    tracing::warn!(error = %e, device_id, "confirmed settings not cleared; sent again next session");
                }
            });
        }
    }

    /// Sends the watch its queued settings if its session may have them now (settled or
    /// confirmed, no conflict) and they were not offered to this session yet.
    pub(crate) async fn offer(&self, device_id: i64) {
        let (number, elder_id, confirmed) = {
            let watches = self.watches.lock().expect("watches lock");
            let Some(w) = watches.get(&device_id) else { return };
            match w.trusted(self.settle) {
                Some(c) if w.offered != Some(c.number) => {
                    (c.number, w.elder_id, w.confirmed == Some(c.number))
                }
                _ => return,
            }
        };
        // A conflict another process (or this one before a restart) raised and nobody has
        // resolved yet holds the settings too — unless an operator confirmed this session.
        let open = if confirmed {
            Ok(None)
        } else {
            self.store.open_alarm(elder_id, Some(device_id), AlarmKind::DeviceConflict).await
        };
        match open {
            Ok(Some(row)) if row.device_id == Some(device_id) => {
                let mut watches = self.watches.lock().expect("watches lock");
                if let Some(w) = watches.get_mut(&device_id) {
                    w.conflict = Some(Some(row.id));
                }
                return;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, device_id, "conflict check failed; settings held");
                return;
            }
        }
        let stored = match self.store.pending_device_config(device_id).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, device_id, "queued settings could not be read; tried again");
                return;
            }
        };
        let mut watches = self.watches.lock().expect("watches lock");
        let Some(w) = watches.get_mut(&device_id) else { return };
        if w.trusted(self.settle).map(|c| c.number) != Some(number) || w.offered == Some(number) {
            return;
        }
        w.offered = Some(number);
        // The store's queue first (the API queues there before pushing); else what this
        // process was handed.
        let (config, version, memory) = match stored {
            Some((payload, version)) => match proto::decode_downlink(Kind::Config, payload.as_bytes()) {
                Ok(proto::Downlink::Config(config)) => (config, Some(version), None),
                _ => {
                    tracing::warn!(device_id, "queued settings unreadable; left in the queue");
                    return;
                }
            },
            None => match &w.pending {
                Some((generation, config)) => (config.clone(), None, Some(*generation)),
                None => return,
            },
        };
        let conn = &w.conns[0];
        let commands = config_commands(&config, Some(conn.protocol));
        match self.write(conn, &commands) {
            Ok(awaiting) => {
                w.delivery = Some(Delivery { number, version, memory, awaiting });
            }
            Err(e) => {
                tracing::warn!(device_id, code = %zhulao_domain::Coded::code(&e), "settings cannot be encoded for the watch")
            }
        }
    }

    /// Watches whose sessions may have their settings now, and conflicts to check.
    fn due(&self) -> (Vec<i64>, Vec<(i64, i64)>) {
        let watches = self.watches.lock().expect("watches lock");
        let mut offers = Vec::new();
        let mut conflicts = Vec::new();
        for (id, w) in watches.iter() {
            match w.conflict {
                Some(Some(alarm)) => conflicts.push((*id, alarm)),
                Some(None) => {}
                None => {
                    if w.trusted(self.settle).is_some_and(|c| w.offered != Some(c.number)) {
                        offers.push(*id);
                    }
                }
            }
        }
        (offers, conflicts)
    }

    /// Every `every`: offers settings to sessions that have settled, and resolves conflicts
    /// whose alarm an operator closed (every connection of the watch is closed).
    pub(crate) async fn sweep(self: Arc<Self>, every: Duration) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let (offers, conflicts) = self.due();
            for id in offers {
                self.offer(id).await;
            }
            for (id, alarm) in conflicts {
                match self.store.alarm(alarm).await {
                    Ok(row) if !row.case.is_open() => self.resolve_closed(id, alarm),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, alarm, "conflict alarm could not be read"),
                }
            }
        }
    }

    /// The conflict alarm was closed: every connection of the watch is closed and the next
    /// login starts afresh.
    fn resolve_closed(&self, device_id: i64, alarm_id: i64) {
        let mut watches = self.watches.lock().expect("watches lock");
        let Some(w) = watches.get_mut(&device_id) else { return };
        if w.conflict != Some(Some(alarm_id)) {
            return;
        }
        for c in &w.conns {
            let _ = c.tx.try_send(Outbound::Close);
        }
        w.conflict = None;
        w.confirmed = None;
        w.offered = None;
        w.delivery = None;
        self.metrics.watch_sessions.get_or_create(&[("event", "conflict_closed")]).inc();
        tracing::info!(device_id, alarm_id, "device conflict closed by an operator; connections dropped");
    }

    /// An operator confirms connection `number` (or the only one): the others are closed,
    /// the conflict is over and the settings go out now.
    fn confirm(&self, device_id: i64, number: Option<u64>) -> Result<(), CommandRefused> {
        {
            let mut watches = self.watches.lock().expect("watches lock");
            let w = watches
                .get_mut(&device_id)
                .filter(|w| !w.conns.is_empty())
                .ok_or(CommandRefused::NotConnected)?;
            let keep = match number {
                Some(n) => w.conns.iter().find(|c| c.number == n).map(|c| c.number).ok_or_else(|| {
                    invalid(
                        "unknown_connection",
                        "该连接不存在或已断开（连接编号见设备冲突警情的详情）",
                        "no such connection (the numbers are in the device-conflict alarm's detail)",
                    )
                })?,
                None if w.conns.len() == 1 => w.conns[0].number,
                None => {
                    return Err(invalid(
                        "connection_required",
                        "该手表有多个连接，请指定要保留的连接编号（见设备冲突警情的详情）",
                        "the watch has several connections: give the connection to keep (see the device-conflict alarm)",
                    ));
                }
            };
            for c in w.conns.iter().filter(|c| c.number != keep) {
                let _ = c.tx.try_send(Outbound::Close);
            }
            w.conns.retain(|c| c.number == keep);
            w.conflict = None;
            w.confirmed = Some(keep);
            w.offered = None;
            w.delivery = None;
        }
        self.metrics.watch_sessions.get_or_create(&[("event", "session_confirmed")]).inc();
        Ok(())
    }

    /// A platform downlink, in the watch's terms: settings become SOS numbers, the phone
    /// book, the report interval and silent hours (sent when the session may have them);
    /// feedback becomes a text on the screen (3G, not while in conflict); acknowledgements
    /// were already sent as the protocol's replies.
    pub(crate) fn send(self: &Arc<Self>, device_id: i64, msg: DeviceMessage) {
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
                let watches = self.watches.lock().expect("watches lock");
                if let Some(w) = watches.get(&device_id)
                    && w.conflict.is_none()
                    && let [conn] = &w.conns[..]
                    && conn.protocol == Protocol::Watch3g
                {
                    let _ = self.write(conn, &[WatchCommand::Message(text.into())]);
                }
            }
            DeviceMessage::Config { config, .. } => {
                {
                    let mut watches = self.watches.lock().expect("watches lock");
                    let w = watches.entry(device_id).or_default();
                    w.pending = Some((self.generation.fetch_add(1, Ordering::Relaxed), config));
                    w.offered = None;
                }
                if let Ok(rt) = tokio::runtime::Handle::try_current() {
                    let this = self.clone();
                    rt.spawn(async move { this.offer(device_id).await });
                }
            }
        }
    }

    /// A command from the API (`{"command": "find_device"}`, `{"command": "report_interval",
    /// "seconds": 60}` …, `{"command": "confirm_session", "connection": 7}`) to a connected watch.
    pub(crate) fn command(
        self: &Arc<Self>,
        device_id: i64,
        request: &serde_json::Value,
    ) -> Result<(), CommandRefused> {
        if request.get("command").and_then(|c| c.as_str()) == Some("confirm_session") {
            let number = match request.get("connection") {
                None | Some(serde_json::Value::Null) => None,
                Some(v) => Some(v.as_u64().ok_or_else(|| {
                    invalid(
                        "bad_command",
                        "connection 应为连接编号（整数）",
                        "connection must be a connection number",
                    )
                })?),
            };
            self.confirm(device_id, number)?;
            let this = self.clone();
            tokio::spawn(async move { this.offer(device_id).await });
            return Ok(());
        }
        let command = parse_command(request)?;
        let watches = self.watches.lock().expect("watches lock");
        let w =
            watches.get(&device_id).filter(|w| !w.conns.is_empty()).ok_or(CommandRefused::NotConnected)?;
        if w.conflict.is_some() {
            return Err(CommandRefused::DeviceConflict);
        }
        let carries_contacts = matches!(
            command,
            WatchCommand::SosNumbers(_) | WatchCommand::SosNumber { .. } | WatchCommand::Phonebook(_)
        );
        let conn = match (w.trusted(self.settle), &w.conns[..]) {
            (Some(c), _) => c,
            (None, _) if carries_contacts => return Err(CommandRefused::NotSettled),
            (None, [c]) => c,
            (None, _) => return Err(CommandRefused::DeviceConflict),
        };
        self.write(conn, &[command]).map(|_| ())
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
}
