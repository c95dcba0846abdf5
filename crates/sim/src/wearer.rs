//! One virtual wearer: a demo elder's pendant or watch, their daily routine, vital signs,
//! position, battery, SOS presses and falls, and the messages the device sends about them.

use rand::Rng;
use zhulao_proto::{
    BatteryReport, DeviceEvent, Direction, EventKind, Fix, Heartbeat, Kind, LocationReport, StatusReport,
    Uplink, VitalReport, topic,
};

use crate::motion::{Activity, Library, MotionState, Segment};
use crate::rng::WyRand;

/// A demo device the simulator wears.
#[derive(Clone, Debug, PartialEq)]
pub struct WearerSpec {
    pub serial: String,
    /// The device's MQTT password (`zhulao_demo::device_secret`).
    pub secret: String,
    /// A watch measures vital signs; a pendant does not.
    pub watch: bool,
    pub model: String,
    /// The elder's home, WGS-84 degrees.
    pub home: (f64, f64),
}

/// The device's topics, built once.
#[derive(Clone, Debug)]
pub struct Topics {
    pub motion: String,
    pub vital: String,
    pub loc: String,
    pub event: String,
    pub battery: String,
    pub hb: String,
    pub status: String,
}

impl Topics {
    pub fn new(root: &str, serial: &str) -> Self {
        let t = |k| topic(root, serial, Direction::Up, k);
        Topics {
            motion: t(Kind::Motion),
            vital: t(Kind::Vital),
            loc: t(Kind::Location),
            event: t(Kind::Event),
            battery: t(Kind::Battery),
            hb: t(Kind::Heartbeat),
            status: t(Kind::Status),
        }
    }
}

/// Seconds between vital, position reports and heartbeats (the protocol's `report_interval_s` default).
pub const REPORT_MS: i64 = 60_000;
/// Seconds between battery reports.
pub const BATTERY_MS: i64 = 300_000;
/// How long before a scheduled impact the fall trial starts (its own lead-in: walking, tripping).
pub const FALL_LEAD_MS: i64 = 5_000;
/// How much of a fall trial is replayed.
pub const FALL_REPLAY_MS: i64 = 12_000;
/// The detector decides this long after the impact; the batch holding it completes the window.
pub const DECISION_MS: i64 = 900;
/// Vital-sign anomalies (heart rate 150, SpO2 88 %, …) per wearer-hour.
pub const ANOMALIES_PER_HOUR: f64 = 0.02;
/// Firmware version in the status message.
pub const FIRMWARE: &str = "sim-1.0";

/// Where a fall is in its course.
#[derive(Clone, Copy, Debug, PartialEq)]
enum FallStage {
    /// Walking until the trial starts at `start_sample`.
    Pending,
    Replaying,
    Lying,
}

#[derive(Clone, Copy, Debug)]
struct FallPlan {
    trial: u16,
    start_sample: u64,
    /// Trial position at `start_sample`, and the end of the replayed part.
    j0: u32,
    end: u32,
    stage: FallStage,
    lying_samples: u64,
}

/// Bookkeeping of an injected fall until its completing batch is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FallTrack {
    /// Index into the run's fall records.
    pub record: usize,
    pub impact_batch: u64,
    pub completing_batch: u64,
}

/// An SOS event kept until acknowledged.
#[derive(Clone, Debug)]
pub struct PendingSos {
    pub id: String,
    pub payload: Vec<u8>,
    pub first_sent_ms: i64,
    pub next_ms: i64,
    pub gap_ms: i64,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Anomaly {
    Tachycardia,
    Bradycardia,
    Hypoxia,
    Hypertension,
    Fever,
}

#[derive(Clone, Debug)]
struct Vitals {
    hr: f64,
    sbp: f64,
    dbp: f64,
    spo2: f64,
    temp: f64,
    /// Slow drift (Ornstein–Uhlenbeck) of each, around 0.
    drift: [f64; 5],
    anomaly: Option<(Anomaly, i64)>,
}

/// A message the wearer wants published: topic, QoS 1?, retained?, payload, motion samples.
#[derive(Debug)]
pub struct Outgoing<'a> {
    pub topic: &'a str,
    pub qos1: bool,
    pub retain: bool,
    pub payload: Vec<u8>,
    pub samples: u32,
}

/// A virtual wearer.
#[derive(Debug)]
pub struct Wearer {
    pub spec: WearerSpec,
    pub topics: Topics,
    /// Index of the connection it publishes on.
    pub conn: usize,
    pub motion: MotionState,
    rng: WyRand,
    rate: u16,
    pub seq: u32,
    /// Index of the next batch.
    pub batch: u64,
    /// Wall-clock ms of sample 0.
    pub t_first_ms: i64,
    /// When the next batch is due (its last sample's period has passed).
    pub next_send_ms: i64,
    fall: Option<FallPlan>,
    pub fall_track: Option<FallTrack>,
    vitals: Vitals,
    pos: (f64, f64),
    heading: f64,
    battery: f64,
    charging: bool,
    next_vital_ms: i64,
    next_loc_ms: i64,
    next_battery_ms: i64,
    pub last_pub_ms: i64,
    /// An SOS press waiting for the next send instant (press time).
    pub sos_request: Option<i64>,
    pub sos: Option<PendingSos>,
    sos_count: u32,
    /// A per-run tag in event ids, so a new run's events are never taken for retransmissions.
    run_tag: String,
    pub status_sent: bool,
    /// The connection's session count when this wearer last published.
    pub session_seen: u32,
}

/// Local (UTC+8) hour of a wall-clock time.
pub fn local_hour(t_ms: i64) -> u32 {
    ((t_ms.div_euclid(1000) + 8 * 3600).rem_euclid(86_400) / 3600) as u32
}

impl Wearer {
    /// A wearer whose sample 0 is at `t_first_ms` (its first batch is due a second later),
    /// in a routine state drawn for that time of day.
    pub fn new(spec: WearerSpec, root: &str, conn: usize, seed: u64, lib: &Library, t_first_ms: i64) -> Self {
        let mut rng = WyRand::new(seed);
        let motion = MotionState::new(&mut rng);
        let vitals = Vitals {
            hr: rng.random_range(60.0..86.0),
            sbp: rng.random_range(112.0..150.0),
            dbp: rng.random_range(68.0..88.0),
            spo2: rng.random_range(95.0..99.0),
            temp: rng.random_range(36.2..36.9),
            drift: [0.0; 5],
            anomaly: None,
        };
        let run_tag = format!("{:x}", t_first_ms.rem_euclid(1 << 40));
        let spread = |rng: &mut WyRand, period: i64| t_first_ms + 1000 + rng.random_range(0..period);
        let next_vital_ms = spread(&mut rng, REPORT_MS);
        let next_loc_ms = spread(&mut rng, REPORT_MS);
        let next_battery_ms = spread(&mut rng, BATTERY_MS);
        let battery = rng.random_range(25.0..100.0);
        let home = spec.home;
        let mut w = Wearer {
            topics: Topics::new(root, &spec.serial),
            spec,
            conn,
            motion,
            rng,
            rate: lib.rate_hz,
            seq: 0,
            batch: 0,
            t_first_ms,
            next_send_ms: t_first_ms + 1000,
            fall: None,
            fall_track: None,
            vitals,
            pos: home,
            heading: 0.0,
            battery,
            charging: false,
            next_vital_ms,
            next_loc_ms,
            next_battery_ms,
            last_pub_ms: t_first_ms,
            sos_request: None,
            sos: None,
            sos_count: 0,
            run_tag,
            status_sent: false,
            session_seen: 0,
        };
        w.heading = w.rng.random_range(0.0..std::f64::consts::TAU);
        // Join the routine part-way through an activity (with at least 30 s of it left, so a
        // short run is not full of changes).
        let (seg, len) = w.routine(lib, t_first_ms);
        let len = w.rng.random_range(len.min(30 * u64::from(lib.rate_hz))..=len.max(1));
        w.motion.start(lib, seg, 0, len);
        w
    }

    /// Wall-clock ms of global sample `k`.
    pub fn sample_ms(&self, k: u64) -> i64 {
        let rate = u64::from(self.rate);
        self.t_first_ms + ((k / rate) * 1000 + (k % rate) * 1000 / rate) as i64
    }

    /// The first global sample at or after `t_ms`.
    fn sample_at_or_after(&self, t_ms: i64) -> u64 {
        let d = (t_ms - self.t_first_ms).max(0) as u64;
        let rate = u64::from(self.rate);
        let mut k = d * rate / 1000;
        while self.sample_ms(k) < t_ms {
            k += 1;
        }
        k
    }

    pub fn activity(&self) -> Activity {
        self.motion.seg.activity()
    }

    /// Busy with a fall (planned, in progress, lying, or not yet reported).
    pub fn in_fall(&self) -> bool {
        self.fall.is_some() || self.fall_track.is_some()
    }

    /// The next routine activity for time `t_ms`, and its length in samples.
    fn routine(&mut self, lib: &Library, t_ms: i64) -> (Segment, u64) {
        let h = local_hour(t_ms);
        let night = !(6..22).contains(&h);
        let r: f64 = self.rng.random();
        let mins = |rng: &mut WyRand, lo: f64, hi: f64| rng.random_range(lo..hi);
        let (seg, minutes) = if night {
            if r < 0.75 {
                (Segment::Lie(self.rng.random_range(0..lib.lie.len()) as u8), mins(&mut self.rng, 20.0, 60.0))
            } else if r < 0.87 {
                (Segment::Sit(self.rng.random_range(0..lib.sit.len()) as u8), mins(&mut self.rng, 2.0, 10.0))
            } else {
                (Segment::Walk(self.rng.random_range(0..lib.walk.len()) as u8), mins(&mut self.rng, 1.0, 3.0))
            }
        } else if r < 0.55 {
            (Segment::Sit(self.rng.random_range(0..lib.sit.len()) as u8), mins(&mut self.rng, 3.0, 20.0))
        } else if r < 0.92 {
            (Segment::Walk(self.rng.random_range(0..lib.walk.len()) as u8), mins(&mut self.rng, 1.0, 6.0))
        } else {
            (Segment::Lie(self.rng.random_range(0..lib.lie.len()) as u8), mins(&mut self.rng, 10.0, 30.0))
        };
        (seg, (minutes * 60.0 * f64::from(self.rate)) as u64)
    }

    /// Chooses what follows the segment that just ended.
    fn next_segment(&mut self, lib: &Library) {
        if let Some(plan) = self.fall.as_mut() {
            match plan.stage {
                FallStage::Pending if self.motion.sample >= plan.start_sample => {
                    plan.stage = FallStage::Replaying;
                    let seg = Segment::Replay { fall: true, trial: plan.trial, end: plan.end };
                    self.motion.start(lib, seg, plan.j0, 0);
                    return;
                }
                FallStage::Pending => {
                    let len = plan.start_sample - self.motion.sample;
                    let v = self.rng.random_range(0..lib.walk.len()) as u8;
                    self.motion.start(lib, Segment::Walk(v), 0, len);
                    return;
                }
                FallStage::Replaying => {
                    plan.stage = FallStage::Lying;
                    let g = lib.falls[usize::from(plan.trial)].end_g;
                    self.motion.start(lib, Segment::Still { g }, 0, plan.lying_samples);
                    return;
                }
                FallStage::Lying => self.fall = None,
            }
        }
        // Now and then a real daily activity from SisFall follows a walk (sitting down fast,
        // a stumble, a little jump).
        if matches!(self.motion.seg, Segment::Walk(_)) && !lib.adls.is_empty() && self.rng.random_bool(0.08) {
            let trial = self.rng.random_range(0..lib.adls.len());
            let end = lib.adls[trial].acc.len() as u32;
            self.motion.start(lib, Segment::Replay { fall: false, trial: trial as u16, end }, 0, 0);
            return;
        }
        let now = self.sample_ms(self.motion.sample);
        let (seg, len) = self.routine(lib, now);
        self.motion.start(lib, seg, 0, len);
    }

    /// Plans a fall: the wearer walks until the trial's lead-in, which starts up to
    /// [`FALL_LEAD_MS`] before `impact_target_ms` (less if that is already past), replays
    /// [`FALL_REPLAY_MS`] of the trial and then lies still for minutes. Returns the impact's
    /// wall-clock ms and the batches holding the impact and the end of the decision window.
    pub fn plan_fall(&mut self, lib: &Library, trial: usize, impact_target_ms: i64) -> (i64, u64, u64) {
        let rate = u64::from(self.rate);
        let t = &lib.falls[trial];
        let next = self.motion.sample;
        let start_ms = self.sample_ms(next).max(impact_target_ms - FALL_LEAD_MS);
        let start_sample = self.sample_at_or_after(start_ms);
        let pre = self.sample_at_or_after(impact_target_ms).saturating_sub(start_sample) as usize;
        let j0 = t.impact - pre.min(t.impact);
        let replay = (FALL_REPLAY_MS as u64 * rate / 1000) as usize;
        let end = (j0 + replay).max(t.impact + 2 * rate as usize).min(t.acc.len());
        let impact_sample = start_sample + (t.impact - j0) as u64;
        let lying_samples = self.rng.random_range(180..600) * rate;
        self.fall = Some(FallPlan {
            trial: trial as u16,
            start_sample,
            j0: j0 as u32,
            end: end as u32,
            stage: FallStage::Pending,
            lying_samples,
        });
        // Cut the current activity: walk until the trial starts (or start it now).
        let walk = start_sample - next;
        let v = self.rng.random_range(0..lib.walk.len()) as u8;
        self.motion.start(lib, Segment::Walk(v), 0, walk);
        if walk == 0 {
            self.motion.seg_end = self.motion.sample;
        }
        let completing = impact_sample + (DECISION_MS as u64 * rate).div_ceil(1000);
        (self.sample_ms(impact_sample), impact_sample / rate, completing / rate)
    }

    /// The next motion batch (one second of samples), advancing the batch counters.
    pub fn motion_batch(&mut self, lib: &Library) -> zhulao_proto::MotionBatch {
        let n = usize::from(self.rate);
        let mut accel = Vec::with_capacity(n);
        while accel.len() < n {
            if self.motion.left() == 0 {
                self.next_segment(lib);
            }
            self.motion.emit(lib, n - accel.len(), &mut accel);
        }
        let batch = zhulao_proto::MotionBatch {
            seq: self.seq,
            t0_ms: self.t_first_ms + self.batch as i64 * 1000,
            rate_hz: self.rate,
            accel,
            gyro: None,
        };
        self.seq = self.seq.wrapping_add(1);
        self.batch += 1;
        self.next_send_ms += 1000;
        batch
    }

    /// Moves the position by one second of the current activity: walking wanders about near
    /// home (turning back beyond ~150 m), anything else stays put.
    pub fn step_position(&mut self) {
        if self.activity() != Activity::Walk {
            return;
        }
        const M_PER_DEG: f64 = 111_320.0;
        let (lat0, lon0) = self.spec.home;
        let cos = lat0.to_radians().cos().max(0.1);
        let dy = (self.pos.0 - lat0) * M_PER_DEG;
        let dx = (self.pos.1 - lon0) * M_PER_DEG * cos;
        let d = (dx * dx + dy * dy).sqrt();
        self.heading += 0.3 * self.rng.normal();
        if d > 150.0 {
            // Steer towards home.
            let home = (-dy).atan2(-dx);
            let diff = (home - self.heading + std::f64::consts::PI).rem_euclid(std::f64::consts::TAU)
                - std::f64::consts::PI;
            self.heading += 0.5 * diff;
        }
        let speed = 0.9 + 0.2 * self.rng.unit();
        self.pos.0 += speed * self.heading.sin() / M_PER_DEG;
        self.pos.1 += speed * self.heading.cos() / (M_PER_DEG * cos);
    }

    fn distance_from_home_m(&self) -> f64 {
        let (lat0, lon0) = self.spec.home;
        let dy = (self.pos.0 - lat0) * 111_320.0;
        let dx = (self.pos.1 - lon0) * 111_320.0 * lat0.to_radians().cos();
        (dx * dx + dy * dy).sqrt()
    }

    fn vital(&mut self, now: i64) -> VitalReport {
        let v = &mut self.vitals;
        // Slow drift: mean-reverting, about a minute per step.
        let sd = [2.0, 4.0, 3.0, 0.5, 0.08];
        for (d, sd) in v.drift.iter_mut().zip(sd) {
            *d = 0.9 * *d + sd * 0.44 * self.rng.normal();
        }
        if v.anomaly.is_some_and(|(_, until)| now >= until) {
            v.anomaly = None;
        }
        if v.anomaly.is_none() && self.rng.random_bool(ANOMALIES_PER_HOUR * REPORT_MS as f64 / 3_600_000.0) {
            let kind = [
                Anomaly::Tachycardia,
                Anomaly::Bradycardia,
                Anomaly::Hypoxia,
                Anomaly::Hypertension,
                Anomaly::Fever,
            ][self.rng.random_range(0..5)];
            v.anomaly = Some((kind, now + self.rng.random_range(3..8) * 60_000));
        }
        let effort = match self.motion.seg.activity() {
            Activity::Walk => 18.0,
            Activity::Sleep => -7.0,
            Activity::Fallen => 12.0,
            Activity::Replay => 10.0,
            Activity::Sit => 0.0,
        };
        let n = |rng: &mut WyRand, s: f64| s * rng.normal();
        let mut hr = v.hr + v.drift[0] + effort + n(&mut self.rng, 1.5);
        let mut sbp = v.sbp + v.drift[1] + effort * 0.5 + n(&mut self.rng, 3.0);
        let mut dbp = v.dbp + v.drift[2] + n(&mut self.rng, 2.0);
        let mut spo2 = v.spo2 + v.drift[3] + n(&mut self.rng, 0.4);
        let mut temp = v.temp + v.drift[4] + n(&mut self.rng, 0.05);
        match v.anomaly.map(|a| a.0) {
            Some(Anomaly::Tachycardia) => hr = 150.0 + n(&mut self.rng, 4.0),
            Some(Anomaly::Bradycardia) => hr = 38.0 + n(&mut self.rng, 2.0),
            Some(Anomaly::Hypoxia) => spo2 = 87.0 + n(&mut self.rng, 1.0),
            Some(Anomaly::Hypertension) => {
                sbp = 188.0 + n(&mut self.rng, 5.0);
                dbp = 112.0 + n(&mut self.rng, 3.0);
            }
            Some(Anomaly::Fever) => temp = 38.9 + n(&mut self.rng, 0.2),
            None => {}
        }
        let sbp = sbp.round().clamp(80.0, 230.0);
        VitalReport {
            t_ms: now,
            hr: Some(hr.round().clamp(30.0, 220.0) as u16),
            sbp: Some(sbp as u16),
            dbp: Some(dbp.round().clamp(40.0, sbp - 15.0) as u16),
            spo2: Some(spo2.round().clamp(70.0, 100.0) as u8),
            temp: Some((temp.clamp(34.0, 41.5) * 10.0).round() / 10.0),
        }
    }

    fn location(&mut self, now: i64) -> LocationReport {
        let walking = self.activity() == Activity::Walk;
        let (fix, acc) = if !walking && self.distance_from_home_m() < 40.0 {
            (Fix::Wifi, 25.0 + 10.0 * self.rng.unit())
        } else {
            (Fix::Gps, 5.0 + 10.0 * self.rng.unit())
        };
        // A fix is off by a few metres.
        let jitter = acc * 0.3 / 111_320.0;
        let lat = self.pos.0 + jitter * self.rng.normal();
        let lon = self.pos.1 + jitter * self.rng.normal() / self.pos.0.to_radians().cos().max(0.1);
        let round6 = |x: f64| (x * 1e6).round() / 1e6;
        LocationReport {
            t_ms: now,
            lat: Some(round6(lat)),
            lon: Some(round6(lon)),
            acc_m: Some(acc.round()),
            fix,
        }
    }

    fn battery(&mut self, now: i64) -> BatteryReport {
        let minutes = BATTERY_MS as f64 / 60_000.0;
        if self.charging {
            self.battery += 0.6 * minutes;
            if self.battery >= 98.0 {
                self.charging = false;
            }
        } else {
            // About 1.5 days from full.
            self.battery -= 0.045 * minutes * (0.8 + 0.4 * self.rng.unit());
            if self.battery < 8.0 {
                self.charging = true;
            }
        }
        self.battery = self.battery.clamp(0.0, 100.0);
        BatteryReport { t_ms: now, pct: self.battery.round() as u8, charging: self.charging }
    }

    /// The retained status on connecting: `{"online":true,"fw":…,"model":…}`.
    pub fn online_payload(model: &str) -> Vec<u8> {
        let model = (!model.is_empty()).then(|| model.to_string());
        Uplink::Status(StatusReport { online: true, fw: Some(FIRMWARE.into()), model }).encode()
    }

    /// The last will, and the status a device publishes before leaving on purpose.
    pub fn offline_payload() -> Vec<u8> {
        Uplink::Status(StatusReport::offline()).encode()
    }

    /// The retained status payload.
    pub fn status(&self, online: bool) -> Vec<u8> {
        if online { Self::online_payload(&self.spec.model) } else { Self::offline_payload() }
    }

    /// Everything besides motion that is due at `now`: a new or retransmitted SOS, vital
    /// signs (watches), position, battery, and a heartbeat if nothing else went out for a
    /// report interval. Returns the messages and whether an SOS was new / retransmitted.
    pub fn reports(&mut self, now: i64, out: &mut Vec<(Kind, bool, Vec<u8>)>) -> (bool, bool) {
        let (mut new_sos, mut retx) = (false, false);
        if let Some(pressed) = self.sos_request.take()
            && self.sos.is_none()
        {
            self.sos_count += 1;
            let with_position = self.rng.random_bool(0.5);
            let ev = DeviceEvent {
                id: format!("sos-{}-{}", self.run_tag, self.sos_count),
                t_ms: pressed,
                kind: EventKind::Sos,
                lat: with_position.then_some((self.pos.0 * 1e6).round() / 1e6),
                lon: with_position.then_some((self.pos.1 * 1e6).round() / 1e6),
                conf: None,
            };
            let payload = Uplink::Event(ev.clone()).encode();
            out.push((Kind::Event, true, payload.clone()));
            self.sos = Some(PendingSos {
                id: ev.id,
                payload,
                first_sent_ms: now,
                next_ms: now + 10_000,
                gap_ms: 10_000,
            });
            new_sos = true;
        } else if let Some(p) = self.sos.as_mut()
            && now >= p.next_ms
        {
            // Retransmit with the same id and content: after 10 s, doubling to at most 60 s.
            out.push((Kind::Event, true, p.payload.clone()));
            p.gap_ms = (p.gap_ms * 2).min(60_000);
            p.next_ms = now + p.gap_ms;
            retx = true;
        }
        if now >= self.next_vital_ms {
            self.next_vital_ms += REPORT_MS;
            if self.spec.watch {
                let v = self.vital(now);
                out.push((Kind::Vital, true, Uplink::Vital(v).encode()));
            }
        }
        if now >= self.next_loc_ms {
            self.next_loc_ms += REPORT_MS;
            let l = self.location(now);
            out.push((Kind::Location, true, Uplink::Location(l).encode()));
        }
        if now >= self.next_battery_ms {
            self.next_battery_ms += BATTERY_MS;
            let b = self.battery(now);
            out.push((Kind::Battery, true, Uplink::Battery(b).encode()));
        }
        if out.is_empty() && now - self.last_pub_ms >= REPORT_MS {
            out.push((Kind::Heartbeat, false, Uplink::Heartbeat(Heartbeat { t_ms: Some(now) }).encode()));
        }
        (new_sos, retx)
    }

    /// The connection came back (a new session): an unacknowledged event goes again at once,
    /// as the protocol asks after every reconnect.
    pub fn reconnected(&mut self, now: i64) {
        if let Some(p) = self.sos.as_mut() {
            p.next_ms = p.next_ms.min(now);
        }
    }

    /// The topic of an uplink kind.
    pub fn topic(&self, kind: Kind) -> &str {
        match kind {
            Kind::Motion => &self.topics.motion,
            Kind::Vital => &self.topics.vital,
            Kind::Location => &self.topics.loc,
            Kind::Event => &self.topics.event,
            Kind::Battery => &self.topics.battery,
            Kind::Status => &self.topics.status,
            _ => &self.topics.hb,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::motion::{Library, embedded_trials, norm};
    use zhulao_proto::decode_uplink;

    const T0: i64 = 1_790_000_000_000;

    fn spec(watch: bool) -> WearerSpec {
        WearerSpec {
            serial: "ZL-W-000001".into(),
            secret: "demo-ZL-W-000001".into(),
            watch,
            model: "ZL-W3".into(),
            home: (40.0765, 113.3001),
        }
    }

    #[test]
    fn batches_are_contiguous_seconds_of_valid_motion() {
        let lib = Library::new(100, embedded_trials(100));
        let mut w = Wearer::new(spec(false), "zl", 0, 1, &lib, T0);
        for k in 0..300u32 {
            let b = w.motion_batch(&lib);
            assert_eq!((b.seq, b.t0_ms, b.accel.len()), (k, T0 + i64::from(k) * 1000, 100));
            assert!(b.validate().is_ok());
            let back = decode_uplink(Kind::Motion, &b.encode()).unwrap();
            assert!(matches!(back, Uplink::Motion(m) if m == b));
        }
        assert_eq!(w.next_send_ms, T0 + 301_000);
        // Other rates: the sample times follow the protocol's rule.
        let lib30 = Library::new(30, embedded_trials(30));
        let mut w = Wearer::new(spec(false), "zl", 0, 1, &lib30, T0);
        let b = w.motion_batch(&lib30);
        assert_eq!((b.len(), b.sample_time_ms(3)), (30, T0 + 100));
        assert_eq!(w.sample_ms(33), T0 + 1100);
    }

    #[test]
    fn a_planned_fall_hits_at_the_target_and_ends_lying() {
        let lib = Library::new(100, embedded_trials(100));
        let mut w = Wearer::new(spec(false), "zl", 0, 2, &lib, T0);
        for _ in 0..3 {
            w.motion_batch(&lib);
        }
        let trial = lib.clearest_fall();
        let target = T0 + 20_000;
        let (impact, impact_batch, completing_batch) = w.plan_fall(&lib, trial, target);
        assert_eq!(impact, target);
        assert_eq!((impact_batch, completing_batch), (20, 20));
        let mut samples = Vec::new();
        for _ in 3..60 {
            let b = w.motion_batch(&lib);
            samples.extend(b.samples());
        }
        let peak = samples.iter().max_by(|a, b| norm(a.acc).total_cmp(&norm(b.acc))).unwrap();
        assert_eq!(peak.t_ms, impact);
        assert!(norm(peak.acc) >= 2.5);
        // Walking until the lead-in (5 s before the impact), then the trial, then still.
        assert_eq!(w.activity(), Activity::Fallen);
        let last: Vec<f32> = samples[samples.len() - 100..].iter().map(|s| norm(s.acc)).collect();
        assert!(last.iter().all(|g| (g - 1.0).abs() < 0.15));
        // A target already past starts the trial at once, impact as soon as possible.
        let mut w = Wearer::new(spec(false), "zl", 0, 3, &lib, T0);
        w.motion_batch(&lib);
        let (impact, ..) = w.plan_fall(&lib, trial, T0);
        assert_eq!(impact, T0 + 1000);
    }

    #[test]
    fn reports_are_valid_protocol_messages() {
        let lib = Library::new(100, embedded_trials(100));
        let mut w = Wearer::new(spec(true), "zl", 0, 4, &lib, T0);
        let mut kinds = std::collections::HashMap::new();
        w.sos_request = Some(T0 + 500);
        for s in 1..=901i64 {
            let now = T0 + s * 1000;
            w.motion_batch(&lib);
            w.step_position();
            let mut out = Vec::new();
            w.reports(now, &mut out);
            w.last_pub_ms = now;
            for (kind, _, payload) in out {
                let m = decode_uplink(kind, &payload).unwrap_or_else(|e| panic!("{kind}: {e}"));
                if let Uplink::Location(l) = &m {
                    let (lat, lon) = l.position().unwrap();
                    assert!((lat - 40.0765).abs() < 0.003 && (lon - 113.3001).abs() < 0.004);
                }
                *kinds.entry(kind).or_insert(0) += 1;
            }
        }
        // 15 minutes: 15 vitals and positions, 3 battery reports, the SOS and its
        // retransmissions (10, 20, 40, 60, 60… s), no heartbeat (something else always went).
        assert_eq!(kinds.get(&Kind::Vital), Some(&15));
        assert_eq!(kinds.get(&Kind::Location), Some(&15));
        assert_eq!(kinds.get(&Kind::Battery), Some(&3));
        assert_eq!(kinds.get(&Kind::Event), Some(&(1 + 3 + 13)));
        assert_eq!(kinds.get(&Kind::Heartbeat), None);
        let p = w.sos.as_ref().unwrap();
        assert_eq!(p.gap_ms, 60_000);
        // A pendant has no vital signs; a silent device sends heartbeats.
        let mut w = Wearer::new(spec(false), "zl", 0, 5, &lib, T0);
        let mut out = Vec::new();
        w.next_vital_ms = i64::MAX;
        w.next_loc_ms = i64::MAX;
        w.next_battery_ms = i64::MAX;
        w.reports(T0 + 61_000, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0, Kind::Heartbeat);
        assert_eq!(w.status(false), b"{\"online\":false}");
    }

    #[test]
    fn an_unacknowledged_sos_goes_again_after_a_reconnect() {
        let lib = Library::new(100, embedded_trials(100));
        let mut w = Wearer::new(spec(false), "zl", 0, 6, &lib, T0);
        w.next_vital_ms = i64::MAX;
        w.next_loc_ms = i64::MAX;
        w.next_battery_ms = i64::MAX;
        w.sos_request = Some(T0);
        let mut out = Vec::new();
        assert_eq!(w.reports(T0 + 1000, &mut out), (true, false));
        let first = out.pop().unwrap().2;
        assert_eq!(w.reports(T0 + 2000, &mut out), (false, false), "not before 10 s");
        w.reconnected(T0 + 3000);
        assert_eq!(w.reports(T0 + 3000, &mut out), (false, true));
        assert_eq!(out.pop().unwrap().2, first, "same id and content");
        // Acknowledged: nothing more.
        w.sos = None;
        w.reconnected(T0 + 4000);
        out.clear();
        assert_eq!(w.reports(T0 + 4000, &mut out), (false, false));
        assert!(out.is_empty());
    }

    #[test]
    fn local_hours() {
        // 2026-01-01T00:00:00Z is 08:00 in Beijing.
        assert_eq!(local_hour(1_767_225_600_000), 8);
        assert_eq!(local_hour(1_767_225_600_000 + 15 * 3_600_000), 23);
    }
}
