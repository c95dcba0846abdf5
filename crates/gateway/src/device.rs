//! One device's state as pure logic: what the gateway knows and has learnt about a device, and
//! what each uplink, device-decided alarm and tick asks of the worker
//! (`on_uplink(msg, now) -> Vec<Action>`). No tokio, no store: the worker executes the actions
//! and reports back what was raised, so every rule here is unit-tested on plain values.

use std::sync::Arc;

use zhulao_alarms::{AlarmKind, AlarmLocation, AlarmSource, Command, FallTrace, LocationSource, NewAlarm};
use zhulao_detect::{
    Detector, Event, FallFeatures, GpsFix, MotionSample, Posture, VitalDirection, VitalKind, VitalReading,
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
    /// A step on the alarm raised for the fall with this impact (its trace, "got up"). The
    /// worker finds the alarm when it executes the step — after the raise earlier in the same
    /// list has reported back (a stream break or a long batch gives the fall and its trace
    /// together) — and attaches nothing when no alarm was raised for that impact.
    Step { impact_ms: i64, command: Command },
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

    /// The alarm raised for the fall with this impact, if this gateway raised one.
    pub(crate) fn fall_alarm(&self, impact_ms: i64) -> Option<i64> {
        self.last_fall.filter(|&(_, impact)| impact == impact_ms).map(|(id, _)| id)
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
                let trace = FallTrace {
                    impact_ms: r.impact_ms,
                    posture_after: posture_code(r.posture_after).into(),
                    trace_start_ms: r.trace_start_ms,
                    rate_hz: 100,
                    trace_mg: r.trace_mg,
                };
                out.push(Action::Step {
                    impact_ms: trace.impact_ms,
                    command: Command::AttachTrace { trace },
                });
            }
            Event::FallRecovered { impact_ms, at_ms } => {
                out.push(Action::Step { impact_ms, command: Command::Recovered { impact_ms, at_ms } });
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

fn direction_code(d: VitalDirection) -> &'static str {
    match d {
        VitalDirection::Low => "Low",
        VitalDirection::High => "High",
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

#[cfg(test)]
mod tests {
    use zhulao_alarms::AlarmKind;
    use zhulao_proto::{DeviceEvent, EventKind, Heartbeat, MotionBatch, Uplink, VitalReport};

    use super::*;

    const NOW: i64 = 1_795_392_000_000;

    fn known() -> Known {
        Known {
            device_id: 7,
            elder_id: Some(42),
            region: "140213050002".into(),
            contacts: 2,
            home: Some(GeoPoint { lat: 40.07, lon: 113.3 }),
            monitoring: Arc::default(),
            upright: None,
        }
    }

    fn event(id: &str, kind: EventKind, fix: Option<(f64, f64)>) -> Uplink {
        Uplink::Event(DeviceEvent {
            id: id.into(),
            t_ms: NOW,
            kind,
            lat: fix.map(|f| f.0),
            lon: fix.map(|f| f.1),
            conf: None,
        })
    }

    fn raises(actions: &[Action]) -> Vec<&Trigger> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Raise(t) => Some(t),
                _ => None,
            })
            .collect()
    }

    /// Executes actions in order as the worker does: a raise is reported back as alarm 99
    /// (then 100, …); a step finds its alarm only then. Returns the steps with their alarms.
    fn execute(d: &mut Device, actions: &[Action], next_id: &mut i64) -> Vec<(i64, Command)> {
        let mut steps = Vec::new();
        for a in actions {
            match a {
                Action::Raise(t) => {
                    d.raised(t, *next_id);
                    *next_id += 1;
                }
                Action::Step { impact_ms, command } => {
                    if let Some(id) = d.fall_alarm(*impact_ms) {
                        steps.push((id, command.clone()));
                    }
                }
                _ => {}
            }
        }
        steps
    }

    /// A real fall from SisFall (F13, a fall while walking), in one-second batches ending now,
    /// each message's actions executed before the next. Returns every action and the steps.
    fn replay_fall(d: &mut Device) -> (Vec<Action>, Vec<(i64, Command)>) {
        let raw = include_str!("../../fall-eval/tests/data/raw/SA02/F13_SA02_R01.txt");
        let acc = zhulao_fall_eval::data::parse_raw(raw).unwrap();
        let t0 = NOW - acc.len() as i64 * 10;
        let (mut out, mut steps, mut next_id) = (Vec::new(), Vec::new(), 99);
        for (seq, chunk) in acc.chunks(100).enumerate() {
            let batch = MotionBatch {
                seq: seq as u32,
                t0_ms: t0 + seq as i64 * 1000,
                rate_hz: 100,
                accel: chunk.iter().map(|a| MotionBatch::accel_to_mg(*a)).collect(),
                gyro: None,
            };
            let actions = d.on_uplink(Uplink::Motion(batch), t0 + seq as i64 * 1000 + 1000);
            steps.extend(execute(d, &actions, &mut next_id));
            out.extend(actions);
        }
        (out, steps)
    }

    #[test]
    fn an_sos_is_raised_with_its_fix_and_acknowledged() {
        let mut d = Device::new(known(), NOW);
        let a = d.on_uplink(event("e-1", EventKind::Sos, Some((40.1, 113.2))), NOW);
        let [t] = raises(&a)[..] else { panic!("{a:?}") };
        assert_eq!(
            (t.kind, t.msg_id.as_str(), t.source, t.ack),
            (AlarmKind::Sos, "e-1", AlarmSource::DeviceEvent, true)
        );
        let alarm = d.new_alarm("ZL-P-1", t);
        assert_eq!((alarm.elder_id, alarm.device_id, alarm.contacts), (Some(42), Some(7), 2));
        assert_eq!(alarm.serial.as_deref(), Some("ZL-P-1"));
        assert_eq!(alarm.region_code, "140213050002");
        assert_eq!(alarm.location.unwrap().source, LocationSource::Fix);
        // Without a fix: the one the device sent before, else the stored one, else home.
        let mut fresh = Device::new(known(), NOW);
        let a = fresh.on_uplink(event("e-2", EventKind::Sos, None), NOW);
        let t = raises(&a)[0].clone();
        assert!(fresh.needs_stored_fix(&t));
        assert_eq!(fresh.new_alarm("s", &t).location.unwrap().source, LocationSource::Home);
        fresh.restore_fix(40.2, 113.1, NOW - 60_000);
        let loc = fresh.new_alarm("s", &t).location.unwrap();
        assert_eq!((loc.source, loc.lat, loc.at), (LocationSource::LastKnown, 40.2, Some(NOW - 60_000)));
        let again = d.on_uplink(event("e-3", EventKind::Sos, None), NOW);
        assert!(!d.needs_stored_fix(raises(&again)[0]), "the fix of the first SOS is the last known one");
    }

    #[test]
    fn cancel_and_other_events_raise_nothing_but_are_recorded() {
        let mut d = Device::new(known(), NOW);
        assert_eq!(
            d.on_uplink(event("c-1", EventKind::Cancel, None), NOW),
            vec![Action::Cancel { msg_id: "c-1".into() }]
        );
        assert_eq!(
            d.on_uplink(event("s-1", EventKind::ServiceCall, None), NOW),
            vec![Action::Record { msg_id: "s-1".into() }]
        );
        for (k, alarm) in [
            (EventKind::Sos, Some(AlarmKind::Sos)),
            (EventKind::Fall, Some(AlarmKind::Fall)),
            (EventKind::Bedside, Some(AlarmKind::Bedside)),
            (EventKind::Removed, Some(AlarmKind::DeviceRemoved)),
            (EventKind::Worn, None),
            (EventKind::Cancel, None),
            (EventKind::ServiceCall, None),
        ] {
            assert_eq!(event_alarm(k), alarm, "{k:?}");
        }
    }

    #[test]
    fn a_detected_fall_is_raised_then_its_trace_attached_to_that_alarm() {
        let mut d = Device::new(known(), NOW);
        let (actions, steps) = replay_fall(&mut d);
        let falls = raises(&actions);
        assert_eq!(falls.len(), 1, "{actions:?}");
        let t = falls[0].clone();
        assert_eq!((t.kind, t.source, t.ack), (AlarmKind::Fall, AlarmSource::Detector, false));
        let impact = t.impact_ms.expect("a fall carries its impact");
        assert_eq!(t.msg_id, format!("det:fall:{impact}"));
        assert!(t.detail["features"]["peak_g"].as_f64().unwrap() > 1.5, "features by name: {}", t.detail);
        assert!(matches!(t.detail["posture"].as_str(), Some("upright" | "reclined" | "lying" | "unknown")));
        // The trial has 5 s after the impact: the trace follows, for the alarm the worker reported.
        let trace = steps.iter().find_map(|(id, c)| match c {
            Command::AttachTrace { trace } => Some((*id, trace)),
            _ => None,
        });
        let (alarm_id, trace) = trace.unwrap_or_else(|| panic!("no trace: {actions:?}"));
        assert_eq!((alarm_id, trace.impact_ms, trace.rate_hz), (99, impact, 100));
        assert!(!trace.trace_mg.is_empty());
    }

    fn fall(impact_ms: i64) -> Event {
        Event::Fall(zhulao_detect::FallAlarm {
            impact_ms,
            decision_ms: impact_ms + 900,
            confidence: 0.9,
            features: FallFeatures::default(),
            posture: Posture::Lying,
        })
    }

    fn report(impact_ms: i64) -> Event {
        Event::FallReport(Box::new(zhulao_detect::FallReport {
            impact_ms,
            posture_after: Posture::Lying,
            trace_start_ms: impact_ms - 5_000,
            trace_mg: vec![[0, 0, 1000]],
        }))
    }

    #[test]
    fn a_fall_and_its_trace_in_one_message_go_to_the_new_alarm_not_an_older_one() {
        // A stream break (or a 10 s batch) gives the fall, its trace and "got up" together,
        // while an older fall's alarm is still the last one raised.
        let mut d = Device::new(known(), NOW);
        d.last_fall = Some((5, NOW - 86_400_000));
        let mut out = Vec::new();
        for ev in [fall(NOW), report(NOW), Event::FallRecovered { impact_ms: NOW, at_ms: NOW + 9_000 }] {
            d.detected(ev, &mut out);
        }
        let mut next_id = 99;
        let steps = execute(&mut d, &out, &mut next_id);
        assert_eq!(steps.len(), 2, "{out:?}");
        assert!(steps.iter().all(|(id, _)| *id == 99), "attached to the new fall's alarm: {steps:?}");
        // A trace for an impact no alarm was raised for (got up, walked on) attaches nowhere.
        let mut out = Vec::new();
        d.detected(report(NOW + 60_000), &mut out);
        assert!(execute(&mut d, &out, &mut next_id).is_empty());
    }

    #[test]
    fn getting_up_after_a_fall_is_a_step_on_that_alarm() {
        let mut d = Device::new(known(), NOW);
        let mut out = Vec::new();
        d.last_fall = Some((5, NOW - 3_000));
        d.detected(Event::FallRecovered { impact_ms: NOW - 3_000, at_ms: NOW }, &mut out);
        let mut next_id = 99;
        assert_eq!(
            execute(&mut d, &out, &mut next_id),
            vec![(5, Command::Recovered { impact_ms: NOW - 3_000, at_ms: NOW })]
        );
        // No fall raised by this gateway: nothing to attach it to.
        let mut other = Device::new(known(), NOW);
        let mut out = Vec::new();
        other.detected(Event::FallRecovered { impact_ms: NOW - 3_000, at_ms: NOW }, &mut out);
        assert!(execute(&mut other, &out, &mut next_id).is_empty());
    }

    #[test]
    fn vital_signs_out_of_range_raise_a_vital_alarm_and_are_kept() {
        let mut d = Device::new(known(), NOW);
        let vital = |t: i64| {
            Uplink::Vital(VitalReport {
                t_ms: t,
                hr: None,
                sbp: Some(190),
                dbp: Some(95),
                spo2: None,
                temp: None,
            })
        };
        assert!(raises(&d.on_uplink(vital(NOW), NOW)).is_empty(), "one reading is not enough");
        let a = d.on_uplink(vital(NOW + 60_000), NOW + 60_000);
        let [t] = raises(&a)[..] else { panic!("{a:?}") };
        assert_eq!(t.kind, AlarmKind::Vital);
        assert_eq!(
            (t.detail["vital"].as_str(), t.detail["direction"].as_str()),
            (Some("Systolic"), Some("High"))
        );
        assert_eq!(t.msg_id, format!("det:vital:Systolic:{NOW}"));
        let st = d.take_state().unwrap();
        assert_eq!((st.vitals.unwrap()["sbp"].as_u64(), st.vitals_at), (Some(190), Some(NOW + 60_000)));
        assert!(d.take_state().is_none(), "written once");
    }

    #[test]
    fn silence_raises_offline_once_and_a_message_brings_it_back() {
        let mut d = Device::new(known(), NOW);
        d.on_uplink(Uplink::Heartbeat(Heartbeat { t_ms: Some(NOW) }), NOW);
        assert!(d.on_tick(NOW + 10 * 60_000).is_empty());
        let a = d.on_tick(NOW + 16 * 60_000);
        let [t] = raises(&a)[..] else { panic!("{a:?}") };
        assert_eq!((t.kind, t.msg_id.clone()), (AlarmKind::Offline, format!("det:offline:{NOW}")));
        assert_eq!(a.last(), Some(&Action::Publish("offline")));
        assert!(!d.take_state().unwrap().online);
        assert!(d.on_tick(NOW + 20 * 60_000).is_empty(), "offline once");
        let back =
            d.on_uplink(Uplink::Heartbeat(Heartbeat { t_ms: Some(NOW + 21 * 60_000) }), NOW + 21 * 60_000);
        assert_eq!(back, vec![Action::Publish("online")]);
        assert!(d.take_state().unwrap().online);
    }

    #[test]
    fn a_watch_alarm_keeps_its_fix_and_a_refresh_moves_the_device_to_its_new_elder() {
        let mut d = Device::new(known(), NOW);
        let t = Trigger {
            kind: AlarmKind::Sos,
            msg_id: "w:sos:1".into(),
            fix: Some((40.3, 113.4, NOW)),
            source: AlarmSource::Watch,
            impact_ms: None,
            detail: serde_json::json!({}),
            ack: false,
        };
        assert_eq!(d.on_alarm(t.clone(), NOW), vec![Action::Raise(t.clone())]);
        d.refresh(Known { elder_id: Some(43), region: "140213051001".into(), contacts: 0, ..known() });
        let alarm = d.new_alarm("W1", &t);
        assert_eq!(
            (alarm.elder_id, alarm.region_code.as_str(), alarm.contacts),
            (Some(43), "140213051001", 0)
        );
        assert_eq!(d.take_state().unwrap().lat, Some(40.3));
    }
}
