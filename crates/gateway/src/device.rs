//! One device's state as pure logic: what the gateway knows and has learnt about a device, and
//! what each uplink, device-decided alarm and tick asks of the worker
//! (`on_uplink(msg, now) -> Vec<Action>`). No tokio, no store: the worker executes the actions
//! and reports back what was raised, so every rule here is unit-tested on plain values.

use std::sync::Arc;

use zhulao_alarms::{AlarmKind, AlarmLocation, AlarmSource, Command, FallTrace, LocationSource, NewAlarm};
use zhulao_detect::{
    Detector, Direction, Event, FallFeatures, GpsFix, MotionSample, Posture, VitalKind, VitalReading,
};
use zhulao_domain::{GeoPoint, MonitoringSettings};
use zhulao_proto::{self as proto, EventKind, Uplink};
use zhulao_store::DeviceState;

use crate::directory::Known;
use crate::settings::{detector_config, new_detector};

/// What raises an alarm: its kind, the message id that makes it idempotent, the position the
/// message carried, who decided it and on what evidence.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Trigger {
    pub kind: AlarmKind,
    pub msg_id: String,
    pub fix: Option<(f64, f64, i64)>,
    pub source: AlarmSource,
    /// A detected fall's impact (its trace and "got up" follow).
    pub impact_ms: Option<i64>,
    pub detail: serde_json::Value,
    /// A device event the device expects an answer to (MQTT `down/ack`).
    pub ack: bool,
}

/// What one message or tick asks of the worker, in order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Action {
    /// Raise (or repeat) an alarm, durably, before the message is acknowledged.
    Raise(Trigger),
    /// A device event that raises nothing: record its id so a retransmission is recognised,
    /// then acknowledge it.
    Record { msg_id: String },
    /// The wearer pressed "I'm fine": noted on the elder's open alarms, then acknowledged.
    Cancel { msg_id: String },
    /// A step on the alarm raised for this device's latest fall (its trace, "got up").
    Step { alarm_id: i64, command: Command },
    /// Tell the consoles how the device is (`online`, `offline`).
    Publish(&'static str),
}

/// A learnt upright direction is saved again when it has moved more than 5° (cos 5°).
const UPRIGHT_MOVED_COS: f32 = 0.9962;

/// What the gateway knows about one device between its messages.
pub(crate) struct Device {
    pub device_id: i64,
    pub elder_id: Option<i64>,
    pub region: String,
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
    /// The alarm raised for the latest fall and its impact, for the trace and "got up".
    last_fall: Option<(i64, i64)>,
    /// The upright direction last saved to the device's state (learnt from walking).
    upright_saved: Option<[f32; 3]>,
    /// The detector's output, reused between messages.
    events: Vec<Event>,
}

impl Device {
    /// A device first seen at `now`, its detector built from its elder's settings and
    /// starting from the upright direction learnt before (a restarted gateway).
    pub(crate) fn new(known: Known, now: i64) -> Device {
        Device {
            device_id: known.device_id,
            elder_id: known.elder_id,
            region: known.region,
            contacts: known.contacts,
            home: known.home,
            detector: Box::new(new_detector(&known.monitoring, known.upright)),
            upright_saved: known.upright,
            monitoring: known.monitoring,
            last_fix: None,
            battery: None,
            online: true,
            last_seen: now,
            vitals: None,
            vitals_at: None,
            dirty: true,
            last_fall: None,
            events: Vec::new(),
        }
    }

    /// The registry's current view of the device (binding, region, contacts, settings); the
    /// detector keeps what it learnt.
    pub(crate) fn refresh(&mut self, known: Known) {
        self.elder_id = known.elder_id;
        self.region = known.region;
        self.contacts = known.contacts;
        self.home = known.home;
        if self.monitoring != known.monitoring {
            self.detector.reconfigure(&detector_config(&known.monitoring));
            self.monitoring = known.monitoring;
        }
    }

    /// One decoded uplink received at `now`.
    pub(crate) fn on_uplink(&mut self, uplink: Uplink, now: i64) -> Vec<Action> {
        let mut events = std::mem::take(&mut self.events);
        events.clear();
        self.last_seen = now;
        if !self.online {
            self.online = true;
            self.dirty = true;
        }
        let mut out = Vec::new();
        match uplink {
            Uplink::Motion(batch) => {
                for s in batch.samples() {
                    let sample = MotionSample { t_ms: s.t_ms, acc: s.acc, gyro: s.gyro };
                    self.detector.push_motion(&sample, &mut events);
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
                        self.detector.push_vital(VitalReading { t_ms: v.t_ms, kind, value }, &mut events);
                    }
                }
                self.vitals = serde_json::to_value(&v).ok();
                self.vitals_at = Some(v.t_ms);
                self.dirty = true;
            }
            Uplink::Location(l) => {
                if let Some((lat, lon)) = l.position() {
                    let fix = GpsFix { t_ms: l.t_ms, lat, lon, accuracy_m: l.acc_m.unwrap_or(0.0) };
                    self.detector.push_location(fix, &mut events);
                    self.last_fix = Some((lat, lon, l.t_ms));
                    self.dirty = true;
                } else {
                    self.detector.heartbeat(l.t_ms, &mut events);
                }
            }
            Uplink::Battery(b) => {
                self.detector.push_battery(b.t_ms, f32::from(b.pct), &mut events);
                self.battery = Some(i16::from(b.pct));
                self.dirty = true;
            }
            Uplink::Heartbeat(h) => self.detector.heartbeat(h.t_ms.unwrap_or(now), &mut events),
            Uplink::Status(s) => {
                self.online = s.online;
                self.dirty = true;
            }
            Uplink::Event(e) => {
                if let Some((lat, lon)) = e.position() {
                    self.last_fix = Some((lat, lon, e.t_ms));
                }
                out.push(device_event(e));
            }
        }
        for ev in events.drain(..) {
            self.detected(ev, &mut out);
        }
        self.events = events;
        out
    }

    /// An alarm the device decided itself (a watch's alarm bits), received at `now`.
    pub(crate) fn on_alarm(&mut self, t: Trigger, now: i64) -> Vec<Action> {
        self.last_seen = now;
        if let Some(fix) = t.fix {
            self.last_fix = Some(fix);
            self.dirty = true;
        }
        vec![Action::Raise(t)]
    }

    /// Time-based rules at `now` (offline, a late look given up): what they raise, and
    /// `offline` for the consoles when the device just went silent.
    pub(crate) fn on_tick(&mut self, now: i64) -> Vec<Action> {
        let was_online = self.online;
        let mut events = std::mem::take(&mut self.events);
        events.clear();
        self.detector.check(now, &mut events);
        let mut out = Vec::new();
        for ev in events.drain(..) {
            self.detected(ev, &mut out);
        }
        self.events = events;
        if was_online && !self.online {
            out.push(Action::Publish("offline"));
        }
        out
    }

    /// The worker raised `trigger` as alarm `alarm_id` (new, merged or recognised).
    pub(crate) fn raised(&mut self, trigger: &Trigger, alarm_id: i64) {
        if trigger.kind == AlarmKind::Fall
            && let Some(impact) = trigger.impact_ms
        {
            self.last_fall = Some((alarm_id, impact));
        }
    }

    /// Whether raising `t` needs the position stored before this process started (no fix in
    /// the message and none seen since).
    pub(crate) fn needs_stored_fix(&self, t: &Trigger) -> bool {
        t.fix.is_none() && self.last_fix.is_none()
    }

    /// The last position the store kept for the device.
    pub(crate) fn restore_fix(&mut self, lat: f64, lon: f64, at: i64) {
        if self.last_fix.is_none() {
            self.last_fix = Some((lat, lon, at));
        }
    }

    /// The alarm `t` raises for this device: its elder, region and contacts, and the best
    /// position there is (the message's fix, the last known one, the elder's home).
    pub(crate) fn new_alarm(&self, serial: &str, t: &Trigger) -> NewAlarm {
        NewAlarm {
            kind: t.kind,
            elder_id: self.elder_id,
            device_id: Some(self.device_id),
            serial: Some(serial.to_string()),
            region_code: self.region.clone(),
            location: self.location(t.fix),
            source: t.source,
            impact_ms: t.impact_ms,
            detail: t.detail.clone(),
            contacts: self.contacts,
            msg_id: Some(t.msg_id.clone()),
        }
    }

    fn location(&self, fix: Option<(f64, f64, i64)>) -> Option<AlarmLocation> {
        if let Some((lat, lon, at)) = fix {
            return Some(AlarmLocation { lat, lon, source: LocationSource::Fix, at: Some(at) });
        }
        if let Some((lat, lon, at)) = self.last_fix {
            return Some(AlarmLocation { lat, lon, source: LocationSource::LastKnown, at: Some(at) });
        }
        self.home.map(|h| AlarmLocation { lat: h.lat, lon: h.lon, source: LocationSource::Home, at: None })
    }

    /// The device's state to write, if it changed since the last write (including a newly
    /// learnt upright direction, not every small drift of it).
    pub(crate) fn take_state(&mut self) -> Option<DeviceState> {
        if let Some(u) = self.detector.fall().learnt_upright()
            && self.upright_saved.is_none_or(|s| s[0] * u[0] + s[1] * u[1] + s[2] * u[2] < UPRIGHT_MOVED_COS)
        {
            self.upright_saved = Some(u);
            self.dirty = true;
        }
        if !self.dirty {
            return None;
        }
        self.dirty = false;
        Some(DeviceState {
            device_id: self.device_id,
            last_seen_at: self.last_seen,
            online: self.online,
            battery_pct: self.battery,
            lat: self.last_fix.map(|f| f.0),
            lon: self.last_fix.map(|f| f.1),
            location_at: self.last_fix.map(|f| f.2),
            vitals: self.vitals.clone(),
            vitals_at: self.vitals_at,
            upright: self.upright_saved,
        })
    }

    /// The consoles' view of the device (no personal data).
    pub(crate) fn live_data(&self, change: &str) -> serde_json::Value {
        serde_json::json!({
            "change": change,
            "device_id": self.device_id,
            "elder_id": self.elder_id,
            "online": self.online,
            "battery": self.battery,
            "lat": self.last_fix.map(|f| f.0),
            "lon": self.last_fix.map(|f| f.1),
        })
    }

    fn detected(&mut self, ev: Event, out: &mut Vec<Action>) {
        match ev {
            Event::FallReport(r) => {
                if let Some((alarm_id, _)) = self.last_fall {
                    let trace = FallTrace {
                        impact_ms: r.impact_ms,
                        posture_after: posture_code(r.posture_after).into(),
                        trace_start_ms: r.trace_start_ms,
                        rate_hz: 100,
                        trace_mg: r.trace_mg,
                    };
                    out.push(Action::Step { alarm_id, command: Command::AttachTrace { trace } });
                }
            }
            Event::FallRecovered { impact_ms, at_ms } => {
                if let Some((alarm_id, _)) = self.last_fall {
                    out.push(Action::Step { alarm_id, command: Command::Recovered { impact_ms, at_ms } });
                }
            }
            Event::Online { .. } => {
                self.online = true;
                self.dirty = true;
                out.push(Action::Publish("online"));
            }
            Event::Offline { .. } => {
                self.online = false;
                self.dirty = true;
                out.extend(detection(&ev).map(Action::Raise));
            }
            ev => out.extend(detection(&ev).map(Action::Raise)),
        }
    }
}

/// The alarm a device's own event raises — the explicit table — or `None` for events that
/// raise nothing (a service call, worn again, "I'm fine").
pub(crate) fn event_alarm(kind: EventKind) -> Option<AlarmKind> {
    match kind {
        EventKind::Sos => Some(AlarmKind::Sos),
        EventKind::Fall => Some(AlarmKind::Fall),
        EventKind::Bedside => Some(AlarmKind::Bedside),
        EventKind::Removed => Some(AlarmKind::DeviceRemoved),
        EventKind::ServiceCall | EventKind::Worn | EventKind::Cancel => None,
    }
}

fn device_event(e: proto::DeviceEvent) -> Action {
    match event_alarm(e.kind) {
        Some(kind) => Action::Raise(Trigger {
            kind,
            msg_id: e.id.clone(),
            fix: e.position().map(|(lat, lon)| (lat, lon, e.t_ms)),
            source: AlarmSource::DeviceEvent,
            impact_ms: None,
            detail: serde_json::json!({ "event": &e }),
            ack: true,
        }),
        None if e.kind == EventKind::Cancel => Action::Cancel { msg_id: e.id },
        None => Action::Record { msg_id: e.id },
    }
}

/// The alarm a detector event raises — the explicit table — with the message id derived from
/// the detection (so a redelivered stream does not raise it twice) and its evidence.
pub(crate) fn detection(ev: &Event) -> Option<Trigger> {
    let (kind, msg_id, impact_ms, detail) = match ev {
        Event::Fall(f) => (
            AlarmKind::Fall,
            format!("det:fall:{}", f.impact_ms),
            Some(f.impact_ms),
            serde_json::json!({
                "impact_ms": f.impact_ms,
                "decision_ms": f.decision_ms,
                "confidence": f.confidence,
                "posture": posture_code(f.posture),
                "features": features(&f.features),
            }),
        ),
        Event::Inactivity { since_ms, at_ms } => (
            AlarmKind::Inactivity,
            format!("det:inactivity:{since_ms}"),
            None,
            serde_json::json!({ "since_ms": since_ms, "at_ms": at_ms }),
        ),
        Event::NotWorn { since_ms, at_ms } => (
            AlarmKind::DeviceRemoved,
            format!("det:removed:{since_ms}"),
            None,
            serde_json::json!({ "since_ms": since_ms, "at_ms": at_ms }),
        ),
        Event::VitalAlarm(v) => (
            AlarmKind::Vital,
            format!("det:vital:{}:{}", vital_code(v.kind), v.since_ms),
            None,
            serde_json::json!({
                "vital": vital_code(v.kind), "direction": direction_code(v.direction),
                "value": v.value, "since_ms": v.since_ms, "at_ms": v.at_ms,
            }),
        ),
        Event::LowBattery { percent, at_ms } => (
            AlarmKind::LowBattery,
            format!("det:battery:{at_ms}"),
            None,
            serde_json::json!({ "percent": percent, "at_ms": at_ms }),
        ),
        Event::Offline { last_seen_ms, at_ms } => (
            AlarmKind::Offline,
            format!("det:offline:{last_seen_ms}"),
            None,
            serde_json::json!({ "last_seen_ms": last_seen_ms, "at_ms": at_ms }),
        ),
        Event::GeofenceExit { at_ms, lat, lon, distance_m } => (
            AlarmKind::GeofenceExit,
            format!("det:geofence:{at_ms}"),
            None,
            serde_json::json!({ "at_ms": at_ms, "distance_m": distance_m, "lat": lat, "lon": lon }),
        ),
        _ => return None,
    };
    Some(Trigger { kind, msg_id, fix: None, source: AlarmSource::Detector, impact_ms, detail, ack: false })
}

fn posture_code(p: Posture) -> &'static str {
    match p {
        Posture::Upright => "upright",
        Posture::Reclined => "reclined",
        Posture::Lying => "lying",
        Posture::Unknown => "unknown",
    }
}

/// The names the detector's events have carried on the wire since the first release.
fn vital_code(k: VitalKind) -> &'static str {
    match k {
        VitalKind::HeartRate => "HeartRate",
        VitalKind::Systolic => "Systolic",
        VitalKind::Diastolic => "Diastolic",
        VitalKind::SpO2 => "SpO2",
        VitalKind::Temperature => "Temperature",
    }
}

fn direction_code(d: Direction) -> &'static str {
    match d {
        Direction::Low => "Low",
        Direction::High => "High",
    }
}

/// The features a fall was decided on, by name.
fn features(f: &FallFeatures) -> serde_json::Value {
    FallFeatures::NAMES
        .iter()
        .zip(f.to_array())
        .map(|(name, v)| ((*name).to_string(), serde_json::json!(v)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}
