//! The detector workers every transport feeds: MQTT devices (`ingest`) and TCP watches
//! (`watch`). A device's messages go to one worker, chosen by its serial, so each device's
//! messages reach exactly one detector, in order; workers detect, raise alarms through the
//! response service, and report whether everything a message caused is committed.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use rumqttc::Publish;
use tokio::sync::{mpsc, oneshot};
use zhulao_alarms::AlarmKind;
use zhulao_detect::{Detector, Event, GpsFix, MotionSample, VitalKind, VitalReading};
use zhulao_domain::{GeoPoint, MonitoringSettings};
use zhulao_proto::{self as proto, EventKind, Kind, Uplink};
use zhulao_response::{LiveEvent, Response};
use zhulao_store::{
    Actor, AlarmFilter, AlarmLocation, DeviceState, LocationSource, NewAlarm, NewAlarmEvent, Raised, Store,
};

use crate::ingest::{AckTicket, Acks, MqttLink};
use crate::metrics::Metrics;
use crate::settings::{Changes, detector_config, new_detector};

/// How the workers split the work.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    pub workers: usize,
    /// Messages per worker queue.
    pub queue: usize,
    /// How often time-based rules run and device state is written.
    pub tick: Duration,
    /// The region given to alarms of devices bound to nobody.
    pub default_region: String,
}

/// One thing a message asks of the worker: a device-protocol uplink, or an alarm a device
/// decided itself (a watch's status bits).
pub(crate) enum Item {
    Uplink(Uplink),
    Alarm(Trigger),
}

/// Where a message came from, and how its sender learns that it is handled.
pub(crate) enum Origin {
    /// An MQTT publish, still encoded; acknowledged to the broker in delivery order.
    Mqtt { publish: Publish, kind: Kind, ticket: Option<AckTicket> },
    /// Already decoded by its transport (a TCP watch): `done` gets whether everything it
    /// caused is committed (`false` also for an unknown device).
    Decoded { items: Vec<Item>, kind: &'static str, done: oneshot::Sender<bool> },
}

pub(crate) struct Inbound {
    pub serial: String,
    pub received: Instant,
    pub origin: Origin,
}

/// The MQTT side a worker answers through.
#[derive(Clone)]
pub(crate) struct MqttSide {
    pub acks: Arc<Acks>,
    pub link: Arc<MqttLink>,
}

/// The running workers and the device directory they share.
#[derive(Clone)]
pub(crate) struct Pipeline {
    senders: Arc<Vec<mpsc::Sender<Inbound>>>,
    directory: Directory,
    /// Elders and device bindings changed through this instance's API.
    pub(crate) changes: Arc<Changes>,
    store: Arc<dyn Store>,
    default_region: String,
}

impl Pipeline {
    /// Starts the workers.
    pub(crate) fn start(
        cfg: &PipelineConfig,
        response: &Arc<Response>,
        metrics: &Metrics,
        mqtt: Option<MqttSide>,
    ) -> (Pipeline, Vec<tokio::task::JoinHandle<()>>) {
        let directory: Directory = Arc::default();
        let changes = Arc::new(Changes::default());
        let mut tasks = Vec::new();
        let mut senders = Vec::new();
        for _ in 0..cfg.workers.max(1) {
            let (tx, rx) = mpsc::channel(cfg.queue.max(16));
            senders.push(tx);
            let worker = Worker {
                rx,
                response: response.clone(),
                store: response.store().clone(),
                mqtt: mqtt.clone(),
                metrics: metrics.clone(),
                cfg: cfg.clone(),
                devices: HashMap::new(),
                directory: directory.clone(),
                changes: changes.clone(),
                unknown: HashMap::new(),
                events: Vec::new(),
            };
            tasks.push(tokio::spawn(worker.run()));
        }
        let pipeline = Pipeline {
            senders: Arc::new(senders),
            directory,
            changes,
            store: response.store().clone(),
            default_region: cfg.default_region.clone(),
        };
        (pipeline, tasks)
    }

    /// Loads every registered device, then refreshes the directory in the background.
    pub(crate) async fn load_directory(&self) -> tokio::task::JoinHandle<()> {
        refresh_directory(&*self.store, &self.default_region, &self.directory).await;
        let this = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(REFRESH).await;
                refresh_directory(&*this.store, &this.default_region, &this.directory).await;
            }
        })
    }

    /// Hands a message to its device's worker; waits while that queue is full. `false` once
    /// the workers are gone.
    pub(crate) async fn submit(&self, msg: Inbound, metrics: &Metrics) -> bool {
        let w = &self.senders[proto::shard_of(&msg.serial) as usize % self.senders.len()];
        metrics.queue_depth.inc();
        if w.send(msg).await.is_err() {
            metrics.queue_depth.dec();
            return false;
        }
        true
    }

    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The registry id of an active device, from the directory or else the database.
    pub(crate) async fn registered(&self, serial: &str) -> zhulao_store::Result<Option<i64>> {
        if let Some(k) = self.directory.read().expect("directory lock").get(serial) {
            return Ok(Some(k.device_id));
        }
        let found = lookup(&*self.store, serial, &self.default_region).await?;
        Ok(found.map(|k| {
            let id = k.device_id;
            self.directory.write().expect("directory lock").insert(serial.to_string(), k);
            id
        }))
    }
}

/// What a worker knows about one device.
struct DeviceCtx {
    device_id: i64,
    elder_id: Option<i64>,
    region: String,
    contacts: usize,
    home: Option<GeoPoint>,
    /// The settings `detector` runs with.
    monitoring: Arc<MonitoringSettings>,
    detector: Box<Detector>,
    last_fix: Option<(f64, f64, i64)>,
    battery: Option<i16>,
    online: bool,
    last_seen: i64,
    vitals: Option<serde_json::Value>,
    vitals_at: Option<i64>,
    dirty: bool,
    /// The alarm raised for the latest fall, for the trace and "recovered" that follow.
    last_fall: Option<(i64, i64)>,
    resolved_at: Instant,
    /// The generation of [`Changes`] this device was last checked against.
    seen_changes: u64,
    /// The upright direction last saved to the device's state (learnt from walking).
    upright_saved: Option<[f32; 3]>,
}

/// What raises an alarm: its kind, the message id that makes it idempotent, the position
/// the message carried, where it came from and what decided it.
pub(crate) struct Trigger {
    pub kind: AlarmKind,
    pub msg_id: String,
    pub fix: Option<(f64, f64, i64)>,
    pub source: &'static str,
    pub detail: serde_json::Value,
}

/// What the gateway needs to know about a device: loaded in bulk at start (so 20,000 devices
/// coming online do not mean 20,000 queries in the stream's path) and refreshed in the
/// background.
#[derive(Debug, Clone)]
struct Known {
    device_id: i64,
    elder_id: Option<i64>,
    region: String,
    contacts: usize,
    home: Option<GeoPoint>,
    monitoring: Arc<MonitoringSettings>,
    /// The upright direction the device's detector learnt before (kept in its state).
    upright: Option<[f32; 3]>,
}

type Directory = Arc<RwLock<HashMap<String, Known>>>;

/// Every active device with its elder's region, contact count and home, in two paged scans.
async fn load_directory(
    store: &dyn Store,
    default_region: &str,
) -> zhulao_store::Result<HashMap<String, Known>> {
    const PAGE: i64 = 10_000;
    let mut elders = HashMap::new();
    let mut f = zhulao_store::ElderFilter::scoped(zhulao_domain::ElderScope::All);
    f.limit = PAGE;
    loop {
        let page = store.list_elders(&f).await?;
        let n = page.items.len() as i64;
        for e in page.items {
            elders.insert(
                e.id,
                (
                    e.record.region.as_str().to_string(),
                    e.record.contacts.len(),
                    e.record.location,
                    Arc::new(e.monitoring),
                ),
            );
        }
        if n < PAGE {
            break;
        }
        f.offset += PAGE;
    }
    let uprights: HashMap<i64, [f32; 3]> = store.learnt_uprights().await?.into_iter().collect();
    let mut out = HashMap::new();
    let mut f = zhulao_store::DeviceFilter {
        scope: zhulao_domain::ElderScope::All,
        include_unbound: true,
        elder_id: None,
        offset: 0,
        limit: PAGE,
    };
    loop {
        let page = store.list_devices(&f).await?;
        let n = page.items.len() as i64;
        for d in page.items.into_iter().filter(|d| d.active) {
            let elder = d.elder_id.and_then(|e| elders.get(&e));
            out.insert(
                d.serial,
                Known {
                    device_id: d.id,
                    elder_id: d.elder_id,
                    region: elder.map_or_else(|| default_region.to_string(), |e| e.0.clone()),
                    contacts: elder.map_or(0, |e| e.1),
                    home: elder.and_then(|e| e.2),
                    monitoring: elder.map_or_else(Arc::default, |e| e.3.clone()),
                    upright: uprights.get(&d.id).copied(),
                },
            );
        }
        if n < PAGE {
            break;
        }
        f.offset += PAGE;
    }
    Ok(out)
}

async fn refresh_directory(store: &dyn Store, default_region: &str, directory: &Directory) {
    let started = Instant::now();
    match load_directory(store, default_region).await {
        Ok(map) => {
            tracing::info!(
                devices = map.len(),
                ms = started.elapsed().as_millis() as u64,
                "device directory loaded"
            );
            *directory.write().expect("directory lock") = map;
        }
        Err(e) => {
            tracing::warn!(error = %e, "device directory could not be loaded; devices are looked up one by one")
        }
    }
}

/// One device, from the registry.
async fn lookup(
    store: &dyn Store,
    serial: &str,
    default_region: &str,
) -> zhulao_store::Result<Option<Known>> {
    let Some((d, _)) = store.device_by_serial(serial).await? else { return Ok(None) };
    if !d.active {
        return Ok(None);
    }
    let elder = match d.elder_id {
        Some(id) => Some(store.elder(id).await?),
        None => None,
    };
    Ok(Some(Known {
        device_id: d.id,
        elder_id: d.elder_id,
        region: elder
            .as_ref()
            .map_or_else(|| default_region.to_string(), |e| e.record.region.as_str().to_string()),
        contacts: elder.as_ref().map_or(0, |e| e.record.contacts.len()),
        home: elder.as_ref().and_then(|e| e.record.location),
        monitoring: Arc::new(elder.map(|e| e.monitoring).unwrap_or_default()),
        upright: store.device_state(d.id).await?.and_then(|s| s.upright),
    }))
}

/// A learnt upright direction is saved again when it has moved more than 5° (cos 5°).
const UPRIGHT_MOVED_COS: f32 = 0.9962;

/// Devices are looked up again this often (binding, elder, contacts may change).
const REFRESH: Duration = Duration::from_secs(300);
/// An unknown serial is looked up again after this long.
const UNKNOWN_TTL: Duration = Duration::from_secs(30);

struct Worker {
    rx: mpsc::Receiver<Inbound>,
    response: Arc<Response>,
    store: Arc<dyn Store>,
    /// `None` when no MQTT ingest runs (TCP watches only).
    mqtt: Option<MqttSide>,
    metrics: Metrics,
    cfg: PipelineConfig,
    devices: HashMap<String, DeviceCtx>,
    directory: Directory,
    changes: Arc<Changes>,
    unknown: HashMap<String, Instant>,
    events: Vec<Event>,
}

impl Worker {
    async fn run(mut self) {
        let mut tick = tokio::time::interval(self.cfg.tick);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                msg = self.rx.recv() => {
                    let Some(msg) = msg else { return };
                    self.metrics.queue_depth.dec();
                    self.handle(msg).await;
                }
                _ = tick.tick() => self.on_tick().await,
            }
        }
    }

    fn now(&self) -> i64 {
        self.store.clock().now_ms()
    }

    /// Knows the device `serial` (from the directory or the registry); `via_mqtt` makes
    /// the MQTT downlink remember it.
    async fn resolve(&mut self, serial: &str, via_mqtt: bool) -> Option<()> {
        let generation = self.changes.generation();
        let mut changed = false;
        if let Some(ctx) = self.devices.get_mut(serial) {
            // An elder or a binding changed through this instance: re-read this device from the
            // registry (not the directory, which may predate the change) if it was concerned. The
            // generation is taken as seen once the device is re-read.
            if ctx.seen_changes != generation {
                changed = self.changes.changed_since(ctx.device_id, ctx.elder_id, ctx.seen_changes);
                if !changed {
                    ctx.seen_changes = generation;
                }
            }
            if !changed && ctx.resolved_at.elapsed() < REFRESH {
                return Some(());
            }
        }
        let cached =
            if changed { None } else { self.directory.read().expect("directory lock").get(serial).cloned() };
        let known = match cached {
            Some(k) => k,
            None => {
                // Registered since the directory was loaded, or unknown.
                if self.unknown.get(serial).is_some_and(|t| t.elapsed() < UNKNOWN_TTL) {
                    return None;
                }
                match lookup(&*self.store, serial, &self.cfg.default_region).await {
                    Ok(Some(k)) => {
                        self.directory.write().expect("directory lock").insert(serial.to_string(), k.clone());
                        k
                    }
                    Ok(None) => {
                        self.unknown.insert(serial.to_string(), Instant::now());
                        if self.devices.remove(serial).is_some() {
                            self.metrics.devices.dec();
                        }
                        return None;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "device lookup failed");
                        // Keep serving a known device through a database hiccup.
                        return self.devices.contains_key(serial).then_some(());
                    }
                }
            }
        };
        if via_mqtt && let Some(m) = &self.mqtt {
            m.link.remember(known.device_id, serial);
        }
        let now = self.now();
        match self.devices.get_mut(serial) {
            Some(ctx) => {
                ctx.elder_id = known.elder_id;
                ctx.region = known.region;
                ctx.contacts = known.contacts;
                ctx.home = known.home;
                if ctx.monitoring != known.monitoring {
                    ctx.detector.reconfigure(&detector_config(&known.monitoring));
                    ctx.monitoring = known.monitoring;
                }
                ctx.resolved_at = Instant::now();
                ctx.seen_changes = generation;
            }
            None => {
                // A restarted gateway starts from the upright direction learnt before.
                let upright = known.upright;
                self.devices.insert(
                    serial.to_string(),
                    DeviceCtx {
                        device_id: known.device_id,
                        elder_id: known.elder_id,
                        region: known.region,
                        contacts: known.contacts,
                        home: known.home,
                        detector: Box::new(new_detector(&known.monitoring, upright)),
                        upright_saved: upright,
                        monitoring: known.monitoring,
                        last_fix: None,
                        battery: None,
                        online: true,
                        last_seen: now,
                        vitals: None,
                        vitals_at: None,
                        dirty: true,
                        last_fall: None,
                        resolved_at: Instant::now(),
                        seen_changes: generation,
                    },
                );
                self.metrics.devices.inc();
            }
        }
        Some(())
    }

    async fn handle(&mut self, msg: Inbound) {
        let Inbound { serial, received, origin } = msg;
        match origin {
            Origin::Mqtt { publish, kind, ticket } => {
                self.handle_mqtt(serial, publish, kind, ticket, received).await
            }
            Origin::Decoded { items, kind, done } => {
                self.metrics.messages.get_or_create(&[("kind", kind)]).inc();
                if self.resolve(&serial, false).await.is_none() {
                    self.metrics.rejected.get_or_create(&[("reason", "unknown_device")]).inc();
                    let _ = done.send(false);
                    return;
                }
                let mut ok = true;
                for item in items {
                    ok &= self.apply(&serial, item, received, false).await;
                }
                let _ = done.send(ok);
            }
        }
    }

    async fn handle_mqtt(
        &mut self,
        serial: String,
        publish: Publish,
        kind: Kind,
        ticket: Option<AckTicket>,
        received: Instant,
    ) {
        let Some(mqtt) = self.mqtt.clone() else { return };
        self.metrics.messages.get_or_create(&[("kind", kind.as_str())]).inc();
        if self.resolve(&serial, true).await.is_none() {
            self.metrics.rejected.get_or_create(&[("reason", "unknown_device")]).inc();
            if kind == Kind::Event
                && let Some(id) = proto::peek_event_id(&publish.payload)
            {
                mqtt.link.send_to(&serial, &proto::Downlink::Ack(proto::Ack::refused(id, "unknown_device")));
            }
            mqtt.acks.done(ticket, true);
            return;
        }
        let uplink = match proto::decode_uplink(kind, &publish.payload) {
            Ok(u) => u,
            Err(e) => {
                self.metrics.decode_errors.get_or_create(&[("code", e.code())]).inc();
                if kind == Kind::Event
                    && let Some(id) = proto::peek_event_id(&publish.payload)
                {
                    mqtt.link.send_to(&serial, &proto::Downlink::Ack(proto::Ack::refused(id, e.code())));
                }
                mqtt.acks.done(ticket, true);
                return;
            }
        };
        let committed = self.apply(&serial, Item::Uplink(uplink), received, true).await;
        // Only what is safely stored is acknowledged: on a database error the device (no
        // `down/ack`) sends it again, and so does an external broker on the next session.
        mqtt.acks.done(ticket, committed);
    }

    /// Feeds one decoded message; returns whether everything it caused is committed.
    /// `via_mqtt`: device events are acknowledged on the MQTT downlink (other transports
    /// answer in their own protocol once this returns).
    async fn apply(&mut self, serial: &str, item: Item, received: Instant, via_mqtt: bool) -> bool {
        let uplink = match item {
            Item::Uplink(u) => u,
            Item::Alarm(t) => {
                let Some(ctx) = self.devices.get_mut(serial) else { return true };
                ctx.last_seen = self.store.clock().now_ms();
                if let Some(fix) = t.fix {
                    ctx.last_fix = Some(fix);
                    ctx.dirty = true;
                }
                return self.raise(serial, t, received).await.is_some();
            }
        };
        let mut events = std::mem::take(&mut self.events);
        events.clear();
        let now = self.now();
        let Some(ctx) = self.devices.get_mut(serial) else { return true };
        ctx.last_seen = now;
        if !ctx.online {
            ctx.online = true;
            ctx.dirty = true;
        }
        let mut ok = true;
        match uplink {
            Uplink::Motion(batch) => {
                self.metrics.samples.inc_by(batch.len() as u64);
                for s in batch.samples() {
                    let sample = MotionSample { t_ms: s.t_ms, acc: s.acc, gyro: s.gyro };
                    ctx.detector.push_motion(&sample, &mut events);
                }
            }
            Uplink::Vital(v) => {
                let readings = [
                    (VitalKind::HeartRate, v.hr.map(f32::from)),
                    (VitalKind::Systolic, v.sbp.map(f32::from)),
                    (VitalKind::Diastolic, v.dbp.map(f32::from)),
                    (VitalKind::SpO2, v.spo2.map(f32::from)),
                    (VitalKind::Temperature, v.temp.map(|t| t as f32)),
                ];
                for (kind, value) in readings {
                    if let Some(value) = value {
                        ctx.detector.push_vital(VitalReading { t_ms: v.t_ms, kind, value }, &mut events);
                    }
                }
                ctx.vitals = serde_json::to_value(&v).ok();
                ctx.vitals_at = Some(v.t_ms);
                ctx.dirty = true;
            }
            Uplink::Location(l) => {
                if let Some((lat, lon)) = l.position() {
                    ctx.detector.push_location(
                        GpsFix { t_ms: l.t_ms, lat, lon, accuracy_m: l.acc_m.unwrap_or(0.0) },
                        &mut events,
                    );
                    ctx.last_fix = Some((lat, lon, l.t_ms));
                    ctx.dirty = true;
                } else {
                    ctx.detector.heartbeat(l.t_ms, &mut events);
                }
            }
            Uplink::Battery(b) => {
                ctx.detector.push_battery(b.t_ms, f32::from(b.pct), &mut events);
                ctx.battery = Some(i16::from(b.pct));
                ctx.dirty = true;
            }
            Uplink::Heartbeat(h) => ctx.detector.heartbeat(h.t_ms.unwrap_or(now), &mut events),
            Uplink::Status(s) => {
                ctx.online = s.online;
                ctx.dirty = true;
            }
            Uplink::Event(e) => {
                if let Some((lat, lon)) = e.position() {
                    ctx.last_fix = Some((lat, lon, e.t_ms));
                }
                ok = self.device_event(serial, e, received, via_mqtt).await;
            }
        }
        for ev in events.drain(..) {
            ok &= self.detector_event(serial, ev, received).await;
        }
        self.events = events;
        ok
    }

    fn location(ctx: &DeviceCtx, fix: Option<(f64, f64, i64)>) -> Option<AlarmLocation> {
        if let Some((lat, lon, at)) = fix {
            return Some(AlarmLocation { lat, lon, source: LocationSource::Fix, at: Some(at) });
        }
        if let Some((lat, lon, at)) = ctx.last_fix {
            return Some(AlarmLocation { lat, lon, source: LocationSource::LastKnown, at: Some(at) });
        }
        ctx.home.map(|h| AlarmLocation { lat: h.lat, lon: h.lon, source: LocationSource::Home, at: None })
    }

    /// Raises an alarm for this device; `Some` once committed.
    async fn raise(&mut self, serial: &str, t: Trigger, received: Instant) -> Option<Raised> {
        let Trigger { kind, msg_id, fix, source, mut detail } = t;
        // The serial is not personal data; consoles and the simulator match alarms by it.
        detail["serial"] = serial.into();
        // No fix in the message and none seen since this process started: the last position
        // stored before (an SOS is never raised without the best location there is).
        if fix.is_none()
            && let Some(ctx) = self.devices.get(serial)
            && ctx.last_fix.is_none()
            && let Ok(Some(st)) = self.store.device_state(ctx.device_id).await
            && let (Some(lat), Some(lon)) = (st.lat, st.lon)
            && let Some(ctx) = self.devices.get_mut(serial)
        {
            ctx.last_fix = Some((lat, lon, st.location_at.unwrap_or(st.last_seen_at)));
        }
        let ctx = self.devices.get(serial)?;
        let alarm = NewAlarm {
            kind,
            elder_id: ctx.elder_id,
            device_id: Some(ctx.device_id),
            region_code: ctx.region.clone(),
            location: Self::location(ctx, fix),
            source: source.into(),
            detail,
            contacts: ctx.contacts,
            msg_id: Some(msg_id),
        };
        match self.response.raise(&alarm).await {
            Ok(r) => {
                match &r {
                    Raised::Duplicate { .. } => {
                        self.metrics.duplicates.inc();
                    }
                    _ => {
                        self.metrics.alarms.get_or_create(&[("kind", kind.as_str())]).inc();
                        self.metrics.alarm_latency.observe(received.elapsed().as_secs_f64());
                        self.publish_device(serial, "alarm");
                    }
                }
                Some(r)
            }
            Err(e) => {
                tracing::error!(error = %e, kind = kind.as_str(), "alarm could not be stored; not acknowledged");
                None
            }
        }
    }

    async fn device_event(
        &mut self,
        serial: &str,
        e: proto::DeviceEvent,
        received: Instant,
        via_mqtt: bool,
    ) -> bool {
        let alarm_kind = match e.kind {
            EventKind::Sos => Some(AlarmKind::Sos),
            EventKind::Fall => Some(AlarmKind::Fall),
            EventKind::Bedside => Some(AlarmKind::Bedside),
            EventKind::Removed => Some(AlarmKind::DeviceRemoved),
            EventKind::ServiceCall | EventKind::Worn | EventKind::Cancel => None,
        };
        let Some(device_id) = self.devices.get(serial).map(|c| c.device_id) else { return true };
        let alarm_id = match alarm_kind {
            Some(kind) => {
                let detail = serde_json::json!({ "event": &e });
                let fix = e.position().map(|(lat, lon)| (lat, lon, e.t_ms));
                let t = Trigger { kind, msg_id: e.id.clone(), fix, source: "device_event", detail };
                match self.raise(serial, t, received).await {
                    Some(r) => r.alarm_id(),
                    None => return false,
                }
            }
            None => {
                match self.store.record_device_message(device_id, &e.id).await {
                    Ok(false) => {
                        self.metrics.duplicates.inc();
                    }
                    Ok(true) if e.kind == EventKind::Cancel => self.wearer_cancelled(serial).await,
                    Ok(true) => {}
                    Err(err) => {
                        tracing::error!(error = %err, "device message could not be stored; not acknowledged");
                        return false;
                    }
                }
                None
            }
        };
        if via_mqtt && let Some(m) = &self.mqtt {
            m.link.send_to(serial, &proto::Downlink::Ack(proto::Ack::accepted(e.id, alarm_id)));
        }
        true
    }

    /// The wearer pressed "I'm fine": noted on their open SOS and fall alarms (an operator
    /// still calls back; a cancel is not a close).
    async fn wearer_cancelled(&mut self, serial: &str) {
        let Some(elder_id) = self.devices.get(serial).and_then(|c| c.elder_id) else { return };
        let f = AlarmFilter { open: Some(true), elder_id: Some(elder_id), limit: 20, ..Default::default() };
        if let Ok(page) = self.store.list_alarms(&f).await {
            for a in page.items {
                let ev = NewAlarmEvent {
                    actor: Actor::SYSTEM,
                    actor_kind: "device".into(),
                    kind: "wearer_cancelled".into(),
                    detail: serde_json::json!({}),
                };
                let _ = self.store.append_alarm_event(a.id, &ev).await;
            }
        }
    }

    async fn detector_event(&mut self, serial: &str, ev: Event, received: Instant) -> bool {
        let (kind, msg_id, detail) = match ev {
            Event::Fall(f) => (
                AlarmKind::Fall,
                format!("det:fall:{}", f.impact_ms),
                serde_json::json!({
                    "impact_ms": f.impact_ms,
                    "decision_ms": f.decision_ms,
                    "confidence": f.confidence,
                    "posture": format!("{:?}", f.posture).to_lowercase(),
                    "features": format!("{:?}", f.features),
                }),
            ),
            Event::Inactivity { since_ms, at_ms } => (
                AlarmKind::Inactivity,
                format!("det:inactivity:{since_ms}"),
                serde_json::json!({ "since_ms": since_ms, "at_ms": at_ms }),
            ),
            Event::NotWorn { since_ms, at_ms } => (
                AlarmKind::DeviceRemoved,
                format!("det:removed:{since_ms}"),
                serde_json::json!({ "since_ms": since_ms, "at_ms": at_ms }),
            ),
            Event::VitalAlarm(v) => (
                AlarmKind::Vital,
                format!("det:vital:{:?}:{}", v.kind, v.since_ms),
                serde_json::json!({
                    "vital": format!("{:?}", v.kind), "direction": format!("{:?}", v.direction),
                    "value": v.value, "since_ms": v.since_ms, "at_ms": v.at_ms,
                }),
            ),
            Event::LowBattery { percent, at_ms } => (
                AlarmKind::LowBattery,
                format!("det:battery:{at_ms}"),
                serde_json::json!({ "percent": percent, "at_ms": at_ms }),
            ),
            Event::Offline { last_seen_ms, at_ms } => {
                if let Some(ctx) = self.devices.get_mut(serial) {
                    ctx.online = false;
                    ctx.dirty = true;
                }
                (
                    AlarmKind::Offline,
                    format!("det:offline:{last_seen_ms}"),
                    serde_json::json!({ "last_seen_ms": last_seen_ms, "at_ms": at_ms }),
                )
            }
            Event::GeofenceExit { at_ms, lat, lon, distance_m } => (
                AlarmKind::GeofenceExit,
                format!("det:geofence:{at_ms}"),
                serde_json::json!({ "at_ms": at_ms, "distance_m": distance_m, "lat": lat, "lon": lon }),
            ),
            Event::FallReport(r) => {
                let Some((alarm_id, _)) = self.devices.get(serial).and_then(|c| c.last_fall) else {
                    return true;
                };
                let ev = NewAlarmEvent {
                    actor: Actor::SYSTEM,
                    actor_kind: "device".into(),
                    kind: "fall_trace".into(),
                    detail: serde_json::json!({
                        "impact_ms": r.impact_ms,
                        "posture_after": format!("{:?}", r.posture_after).to_lowercase(),
                        "trace_start_ms": r.trace_start_ms,
                        "rate_hz": 100,
                        "trace_mg": r.trace_mg,
                    }),
                };
                return self.store.append_alarm_event(alarm_id, &ev).await.is_ok();
            }
            Event::FallRecovered { impact_ms, at_ms } => {
                let Some((alarm_id, _)) = self.devices.get(serial).and_then(|c| c.last_fall) else {
                    return true;
                };
                let ev = NewAlarmEvent {
                    actor: Actor::SYSTEM,
                    actor_kind: "device".into(),
                    kind: "recovered".into(),
                    detail: serde_json::json!({ "impact_ms": impact_ms, "at_ms": at_ms }),
                };
                return self.store.append_alarm_event(alarm_id, &ev).await.is_ok();
            }
            Event::Online { .. } => {
                if let Some(ctx) = self.devices.get_mut(serial) {
                    ctx.online = true;
                    ctx.dirty = true;
                }
                self.publish_device(serial, "online");
                return true;
            }
            _ => return true,
        };
        let fall_impact = detail.get("impact_ms").and_then(serde_json::Value::as_i64);
        let t = Trigger { kind, msg_id, fix: None, source: "detector", detail };
        let Some(raised) = self.raise(serial, t, received).await else {
            return false;
        };
        if kind == AlarmKind::Fall
            && let (Some(id), Some(impact)) = (raised.alarm_id(), fall_impact)
            && let Some(ctx) = self.devices.get_mut(serial)
        {
            ctx.last_fall = Some((id, impact));
        }
        true
    }

    fn publish_device(&self, serial: &str, change: &str) {
        let Some(ctx) = self.devices.get(serial) else { return };
        self.response.hub().publish(LiveEvent {
            topic: "device",
            region_code: ctx.region.clone(),
            elder_id: ctx.elder_id,
            responder_id: None,
            at: self.now(),
            data: serde_json::json!({
                "change": change,
                "device_id": ctx.device_id,
                "elder_id": ctx.elder_id,
                "online": ctx.online,
                "battery": ctx.battery,
                "lat": ctx.last_fix.map(|f| f.0),
                "lon": ctx.last_fix.map(|f| f.1),
            }),
        });
    }

    /// Time-based rules (offline) and the batched device-state write.
    async fn on_tick(&mut self) {
        let now = self.now();
        let serials: Vec<String> = self.devices.keys().cloned().collect();
        let mut events = Vec::new();
        for serial in serials {
            let was_online = self.devices.get(&serial).is_some_and(|c| c.online);
            if let Some(ctx) = self.devices.get_mut(&serial) {
                ctx.detector.check(now, &mut events);
            }
            for ev in events.drain(..) {
                self.detector_event(&serial, ev, Instant::now()).await;
            }
            if was_online && self.devices.get(&serial).is_some_and(|c| !c.online) {
                self.publish_device(&serial, "offline");
            }
        }
        for c in self.devices.values_mut() {
            // Save a newly learnt upright direction (not every small drift of it).
            if let Some(u) = c.detector.fall().learnt_upright()
                && c.upright_saved.is_none_or(|s| s[0] * u[0] + s[1] * u[1] + s[2] * u[2] < UPRIGHT_MOVED_COS)
            {
                c.upright_saved = Some(u);
                c.dirty = true;
            }
        }
        let states: Vec<DeviceState> = self
            .devices
            .values_mut()
            .filter(|c| c.dirty)
            .map(|c| {
                c.dirty = false;
                DeviceState {
                    device_id: c.device_id,
                    last_seen_at: c.last_seen,
                    online: c.online,
                    battery_pct: c.battery,
                    lat: c.last_fix.map(|f| f.0),
                    lon: c.last_fix.map(|f| f.1),
                    location_at: c.last_fix.map(|f| f.2),
                    vitals: c.vitals.clone(),
                    vitals_at: c.vitals_at,
                    upright: c.upright_saved,
                }
            })
            .collect();
        if !states.is_empty() {
            let store = self.store.clone();
            tokio::spawn(async move {
                if let Err(e) = store.upsert_device_states(&states).await {
                    tracing::warn!(error = %e, "device state write failed");
                }
            });
        }
    }
}
