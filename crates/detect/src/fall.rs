//! Fall detection on the 100 Hz stream: candidate impacts, a decision after a fixed delay,
//! a late look for the doubtful ones, the follow-up report with the trace, and recovery
//! within a grace period.
//!
//! A candidate opens when the acceleration magnitude crosses `trigger_g`; its peak follows
//! larger samples for up to `reanchor_ms`. `decision_delay_ms` after the peak the window
//! features are computed from the ring and the model decides. Two rules stand beside the
//! model: lying before the impact and upright after it is getting up, never a fall; and an
//! alarm the model is less sure of (below `FallModel::confirm`) waits until `late_look_ms`
//! after the peak and is dropped if the wearer is by then back in the posture held before
//! the impact and moving (a stumble walked on from). An alarm starts a refractory period
//! (one fall, one alarm), schedules the [`FallReport`] for 5 s after the impact and watches
//! for the wearer getting up and moving.

use crate::block::BlockStats;
use crate::event::{Event, EventSink, FallAlarm, FallCandidate, FallReport, Posture};
use crate::fall_model::FallModel;
use crate::features::{RING, RingView, angle_deg, norm, posture};
use crate::resample::TICK_MS;

/// Fall-detection parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct FallConfig {
    /// Magnitude that opens a candidate impact, g.
    pub trigger_g: f32,
    /// Delay from the impact peak to the decision, ms (kept within 500–2000).
    pub decision_delay_ms: i64,
    /// Delay from the impact peak to the late look, ms (kept between the decision delay and
    /// the smaller of 2,900 and three decision delays): an alarm below the model's `confirm`
    /// level is raised then, unless the second before shows the wearer back in the posture
    /// held before the impact and moving.
    pub late_look_ms: i64,
    /// How long after the trigger a larger peak still moves the candidate, ms.
    pub reanchor_ms: i64,
    /// No second alarm this long after one, ms.
    pub refractory_ms: i64,
    /// After an alarm, getting up and moving within this time turns it into "recovered", ms.
    pub recovery_grace_ms: i64,
    /// How long the wearer must be upright and moving to count as recovered, ms.
    pub recovery_moving_ms: i64,
    /// The device's "up" when the wearer stands (as read by the accelerometer, any scale),
    /// from its mounting, used until sustained walking (four steady seconds) replaces it with
    /// a learnt one. `None`: no reference until the wearer has walked.
    pub upright_hint: Option<[f32; 3]>,
    /// Emit [`Event::FallCandidate`] for every decision (tuning and training).
    pub report_candidates: bool,
    pub model: FallModel,
}

impl Default for FallConfig {
    fn default() -> Self {
        Self {
            trigger_g: 1.6,
            decision_delay_ms: 900,
            late_look_ms: 2_500,
            reanchor_ms: 1500,
            refractory_ms: 10_000,
            recovery_grace_ms: 60_000,
            recovery_moving_ms: 3_000,
            upright_hint: None,
            report_candidates: false,
            model: FallModel::TRAINED,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Candidate {
    first: i64,
    peak: i64,
    /// Squared peak magnitude, g².
    peak_sq: f32,
}

/// A judged candidate waiting for its late look. The features are computed again then from
/// the ring, bounded at the decision tick (`peak` + the decision delay), with the upright
/// reference the decision used: the same numbers, and the look stays small.
#[derive(Clone, Copy, Debug)]
struct Look {
    peak: i64,
    upright: Option<[f32; 3]>,
    gyro_peak: f32,
    /// The model called it a fall (and the got-up rule did not stop it): an alarm unless the
    /// wearer walked on.
    doubtful_alarm: bool,
    got_up: bool,
}

/// How long the stream may be silent, on the caller's clock, before a pending late look is
/// given up, ms.
const SILENT_MS: i64 = 5_000;

/// Late looks pending at once. A candidate opens only after the previous one was decided, so
/// peaks are more than the decision delay apart; with the late look at most three decision
/// delays after the peak and due looks resolved before a decision, two always suffice. (A
/// full array would resolve its oldest look early, without looking, a report-only one first.)
const LOOKS: usize = 2;

#[derive(Clone, Copy, Debug)]
struct Pending {
    impact: i64,
    reference: Option<[f32; 3]>,
}

#[derive(Clone, Copy, Debug)]
struct Recovery {
    impact_ms: i64,
    decision_ms: i64,
    deadline_ms: i64,
    reference: [f32; 3],
    moving_ms: i64,
}

/// Half the trace length, ticks (5 s).
const TRACE_HALF: i64 = 500;

/// The fall detector of one device (part of [`crate::Detector`]).
pub struct FallDetector {
    cfg: FallConfig,
    /// Decision delay in ticks (50–200).
    delay: u16,
    /// Late-look delay in ticks (the decision delay to the smaller of 290 and three decision
    /// delays).
    late: u16,
    looks: [Option<Look>; LOOKS],
    /// The last 10 s of acceleration, allocated at the first motion sample (a device that
    /// sends none — a watch reporting positions and vitals — never holds it).
    ring: Option<Box<[[i16; 3]; RING]>>,
    valid_from: i64,
    now: Option<i64>,
    broken: bool,
    cand: Option<Candidate>,
    suppress_until: i64,
    pending: Option<Pending>,
    recovery: Option<Recovery>,
    upright: Option<[f32; 3]>,
    /// Whether `upright` was learnt from walking (not just the mounting hint).
    upright_learnt: bool,
    /// Consecutive walking-like seconds, and the last one's gravity direction.
    walk_secs: u32,
    walk_dir: Option<[f32; 3]>,
    last_gyro: f32,
    gyro_peak: f32,
    /// The newest tick at the last `check`, and the caller's time it was first seen then: the
    /// stream's silence measured on the caller's clock alone (a device clock running behind or
    /// ahead does not matter).
    heard: Option<(i64, i64)>,
}

impl FallDetector {
    pub fn new(cfg: FallConfig) -> Self {
        let hint = cfg.upright_hint.and_then(unit);
        let delay = cfg.decision_delay_ms.clamp(500, 2000) / TICK_MS;
        Self {
            delay: delay as u16,
            late: (cfg.late_look_ms / TICK_MS).clamp(delay, (3 * delay).min(290)) as u16,
            looks: [None; LOOKS],
            cfg,
            ring: None,
            valid_from: 0,
            now: None,
            broken: true,
            cand: None,
            suppress_until: i64::MIN,
            pending: None,
            recovery: None,
            upright: hint,
            upright_learnt: false,
            walk_secs: 0,
            walk_dir: None,
            last_gyro: 0.0,
            gyro_peak: 0.0,
            heard: None,
        }
    }

    pub fn config(&self) -> &FallConfig {
        &self.cfg
    }

    /// The wearer's upright gravity direction: learnt from walking, else the mounting hint.
    pub fn upright_reference(&self) -> Option<[f32; 3]> {
        self.upright
    }

    /// The upright direction learnt from this wearer's walking, once it has been (a caller
    /// may keep it as the next detector's `upright_hint`).
    pub fn learnt_upright(&self) -> Option<[f32; 3]> {
        self.upright.filter(|_| self.upright_learnt)
    }

    pub(crate) fn note_gyro(&mut self, g: [f32; 3]) {
        let m = norm(g);
        if m.is_finite() {
            self.last_gyro = m;
            if self.cand.is_some() {
                self.gyro_peak = self.gyro_peak.max(m);
            }
        }
    }

    /// With the caller's clock: a stream that brought no new sample between checks at least
    /// [`SILENT_MS`] apart while a late look is pending means the device went silent after the
    /// impact (broken in the fall, out of range); the look cannot come, and a doubtful alarm
    /// is raised rather than assuming the wearer walked on. The silence is timed from the
    /// first check that saw the last sample, so it is found within [`SILENT_MS`] plus the
    /// caller's check interval; a device uploading less often than every [`SILENT_MS`] would
    /// have its doubtful alarms raised without their look.
    pub(crate) fn check<S: EventSink + ?Sized>(&mut self, now_ms: i64, sink: &mut S) {
        let Some(now) = self.now else { return };
        let since = match self.heard {
            Some((tick, at)) if tick == now => at,
            _ => {
                self.heard = Some((now, now_ms));
                now_ms
            }
        };
        if now_ms.saturating_sub(since) >= SILENT_MS {
            self.resolve_all_unseen(now, sink);
        }
    }

    pub(crate) fn on_break<S: EventSink + ?Sized>(&mut self, sink: &mut S) {
        // Nothing to look at across a break: doubtful alarms are raised.
        if let Some(now) = self.now {
            self.resolve_all_unseen(now, sink);
        }
        if let (Some(p), Some(now)) = (self.pending.take(), self.now) {
            self.emit_report(p, now, sink);
        }
        self.broken = true;
        self.cand = None;
    }

    /// One 100 Hz sample: tick `k`, acceleration `acc` (g). Magnitudes are compared squared:
    /// no square root on the per-sample path.
    pub(crate) fn tick<S: EventSink + ?Sized>(&mut self, k: i64, acc: [f32; 3], sink: &mut S) {
        match self.now {
            Some(n) if k <= n => return,
            Some(n) if k == n + 1 && !self.broken => {}
            _ => {
                self.valid_from = k;
                self.broken = false;
                self.cand = None;
            }
        }
        self.now = Some(k);
        let ring = self.ring.get_or_insert_with(|| Box::new([[0; 3]; RING]));
        ring[(k & (RING as i64 - 1)) as usize] = [to_mg(acc[0]), to_mg(acc[1]), to_mg(acc[2])];
        let sq = acc[0] * acc[0] + acc[1] * acc[1] + acc[2] * acc[2];
        match &mut self.cand {
            None => {
                if sq >= self.cfg.trigger_g * self.cfg.trigger_g && k >= self.suppress_until {
                    self.cand = Some(Candidate { first: k, peak: k, peak_sq: sq });
                    self.gyro_peak = self.last_gyro;
                }
            }
            Some(c) => {
                if sq > c.peak_sq && (k - c.first) * TICK_MS <= self.cfg.reanchor_ms {
                    c.peak = k;
                    c.peak_sq = sq;
                }
            }
        }
        // Looks due now first: their slots are free for this tick's decision.
        let late = i64::from(self.late);
        for i in 0..LOOKS {
            if let Some(l) = self.looks[i].filter(|l| k >= l.peak + late) {
                self.looks[i] = None;
                self.resolve(l, k, true, sink);
            }
        }
        let delay = i64::from(self.delay);
        if let Some(c) = self.cand.filter(|c| k >= c.peak + delay) {
            self.cand = None;
            self.decide(c, k, sink);
        }
        if let Some(p) = self.pending.filter(|p| k >= p.impact + TRACE_HALF) {
            self.pending = None;
            self.emit_report(p, k, sink);
        }
    }

    fn view(&self, now: i64) -> RingView<'_> {
        RingView { ring: self.ring(), valid_from: self.valid_from, now }
    }

    /// The ring, or zeros before the first sample (nothing reads it then: candidates and
    /// reports follow samples).
    fn ring(&self) -> &[[i16; 3]; RING] {
        static NONE_YET: [[i16; 3]; RING] = [[0; 3]; RING];
        self.ring.as_deref().unwrap_or(&NONE_YET)
    }

    /// The model's judgement of the candidate with peak `look.peak`, decided the decision
    /// delay after it (the ring read up to then only), and the upright reference it used.
    fn judge(&self, look: &Look) -> (FallAlarm, Option<[f32; 3]>) {
        let decided = look.peak + i64::from(self.delay);
        let view = self.view(decided);
        let (mut features, post) = view.features(look.peak, look.upright);
        features.gyro_peak_dps = look.gyro_peak;
        let reference = look.upright.or_else(|| view.mean(look.peak - 200, look.peak - 100));
        let alarm = FallAlarm {
            impact_ms: look.peak * TICK_MS,
            decision_ms: decided * TICK_MS,
            confidence: self.cfg.model.probability(&features.to_array()),
            features,
            posture: reference.map_or(Posture::Unknown, |r| posture(angle_deg(r, post))),
        };
        (alarm, reference)
    }

    fn decide<S: EventSink + ?Sized>(&mut self, c: Candidate, k: i64, sink: &mut S) {
        debug_assert_eq!(k, c.peak + i64::from(self.delay));
        let mut look = Look {
            peak: c.peak,
            upright: self.upright,
            gyro_peak: self.gyro_peak,
            doubtful_alarm: false,
            got_up: false,
        };
        let (alarm, reference) = self.judge(&look);
        let model = &self.cfg.model;
        look.got_up = got_up(&alarm.features);
        let fall = !look.got_up && alarm.confidence >= model.threshold;
        look.doubtful_alarm = fall && alarm.confidence < model.confirm;
        // A doubtful alarm raised at its late look since this candidate opened covers it.
        if fall && !look.doubtful_alarm && k >= self.suppress_until {
            self.raise(alarm, reference, k, sink);
        }
        if look.doubtful_alarm || self.cfg.report_candidates {
            let slot = match self.looks.iter().position(Option::is_none) {
                Some(i) => i,
                None => {
                    let i = (0..LOOKS)
                        .min_by_key(|&i| self.looks[i].map(|l| (l.doubtful_alarm, l.peak)))
                        .unwrap_or(0);
                    if let Some(old) = self.looks[i].take() {
                        self.resolve(old, k, false, sink);
                    }
                    i
                }
            };
            self.looks[slot] = Some(look);
        }
    }

    /// Resolves every pending look without looking, oldest impact first (so an alarm names
    /// the first impact and the refractory period covers the later one).
    fn resolve_all_unseen<S: EventSink + ?Sized>(&mut self, k: i64, sink: &mut S) {
        while let Some(i) =
            (0..LOOKS).filter(|&i| self.looks[i].is_some()).min_by_key(|&i| self.looks[i].map(|l| l.peak))
        {
            if let Some(l) = self.looks[i].take() {
                self.resolve(l, k, false, sink);
            }
        }
    }

    /// The late look at tick `k` (`looked`: false when the ring can no longer show it): a
    /// doubtful alarm is raised unless the wearer walked on.
    fn resolve<S: EventSink + ?Sized>(&mut self, look: Look, k: i64, looked: bool, sink: &mut S) {
        let (alarm, reference) = self.judge(&look);
        let walked_on = looked.then(|| self.view(k).walked_on(look.peak, look.peak + i64::from(self.late)));
        if self.cfg.report_candidates {
            let look_ms = (look.peak + i64::from(self.late)) * TICK_MS;
            sink.emit(Event::FallCandidate(FallCandidate { alarm, got_up: look.got_up, walked_on, look_ms }));
        }
        // An alarm raised meanwhile (its refractory period still running) covers this one.
        if look.doubtful_alarm && walked_on != Some(true) && k >= self.suppress_until {
            self.raise(FallAlarm { decision_ms: k * TICK_MS, ..alarm }, reference, k, sink);
        }
    }

    fn raise<S: EventSink + ?Sized>(
        &mut self,
        alarm: FallAlarm,
        reference: Option<[f32; 3]>,
        k: i64,
        sink: &mut S,
    ) {
        sink.emit(Event::Fall(alarm));
        self.suppress_until = k.saturating_add(self.cfg.refractory_ms / TICK_MS);
        if let Some(p) = self.pending.take() {
            self.emit_report(p, k, sink);
        }
        self.pending = Some(Pending { impact: alarm.impact_ms / TICK_MS, reference });
        self.recovery = reference.map(|r| Recovery {
            impact_ms: alarm.impact_ms,
            decision_ms: alarm.decision_ms,
            deadline_ms: alarm.impact_ms.saturating_add(self.cfg.recovery_grace_ms),
            reference: r,
            moving_ms: 0,
        });
    }

    fn emit_report<S: EventSink + ?Sized>(&self, p: Pending, now: i64, sink: &mut S) {
        let view = self.view(now);
        let start = (p.impact - TRACE_HALF).max(self.valid_from).max(now - (RING as i64 - 1));
        let end = (p.impact + TRACE_HALF).min(now + 1);
        let trace_mg: Vec<[i16; 3]> =
            (start..end.max(start)).map(|k| self.ring()[(k & (RING as i64 - 1)) as usize]).collect();
        let last = view.mean(end - 100, end);
        let posture_after = match (p.reference, last) {
            (Some(r), Some(m)) => posture(angle_deg(r, m)),
            _ => Posture::Unknown,
        };
        sink.emit(Event::FallReport(Box::new(FallReport {
            impact_ms: p.impact * TICK_MS,
            posture_after,
            trace_start_ms: start * TICK_MS,
            trace_mg,
        })));
    }

    pub(crate) fn on_block<S: EventSink + ?Sized>(&mut self, b: &BlockStats, sink: &mut S) {
        if let Some(r) = &mut self.recovery {
            if b.end_ms > r.deadline_ms {
                self.recovery = None;
            } else if b.end_ms > r.decision_ms {
                let up = angle_deg(r.reference, b.mean) < 35.0;
                if up && b.std_g > 0.08 {
                    r.moving_ms += b.n as i64 * TICK_MS;
                    if r.moving_ms >= self.cfg.recovery_moving_ms {
                        sink.emit(Event::FallRecovered { impact_ms: r.impact_ms, at_ms: b.end_ms });
                        self.recovery = None;
                    }
                } else {
                    r.moving_ms = 0;
                }
            }
            return;
        }
        // Sustained walking shows the upright gravity direction: several consecutive seconds of
        // moderate movement around a steady direction (rolling over in bed is shorter).
        let n = norm(b.mean);
        let walking_like = (0.08..=0.8).contains(&b.std_g) && (n - 1.0).abs() < 0.15;
        let m = [b.mean[0] / n.max(1e-6), b.mean[1] / n.max(1e-6), b.mean[2] / n.max(1e-6)];
        let steady = self.walk_dir.is_some_and(|d| angle_deg(d, m) < 20.0);
        self.walk_secs = match (walking_like, steady) {
            (false, _) => 0,
            (true, true) => self.walk_secs.saturating_add(1),
            (true, false) => 1,
        };
        self.walk_dir = walking_like.then_some(m);
        if self.walk_secs < WALK_SECS {
            return;
        }
        let prior = if self.upright_learnt { self.upright } else { None };
        self.upright_learnt = true;
        self.upright = Some(match prior {
            None => m,
            Some(u) => {
                let v = [0.9 * u[0] + 0.1 * m[0], 0.9 * u[1] + 0.1 * m[1], 0.9 * u[2] + 0.1 * m[2]];
                let nv = norm(v).max(1e-6);
                [v[0] / nv, v[1] / nv, v[2] / nv]
            }
        });
    }
}

/// Consecutive walking-like seconds before the upright reference learns from them.
const WALK_SECS: u32 = 4;

/// Getting up, not falling: lying before the impact (more than 60° from upright) and upright
/// after it (within 30°). A fall does not end more upright than it began; on the SisFall
/// development split no fall comes near (the lowest tilt after a fall from lying-like tilts
/// above 60° is 93°), while sitting up hard from lying on a bed does. Needs an upright
/// reference (without one the tilt before reads 0 and the rule never applies).
fn got_up(f: &crate::FallFeatures) -> bool {
    f.pre_tilt_deg > 60.0 && f.post_tilt_deg < 30.0
}

/// The unit vector along `v`, if `v` is finite and not (nearly) zero.
fn unit(v: [f32; 3]) -> Option<[f32; 3]> {
    let n = norm(v);
    (n.is_finite() && n > 1e-3).then(|| [v[0] / n, v[1] / n, v[2] / n])
}

/// g → milli-g; `as` saturates at the i16 range (±32 g, beyond any full scale).
fn to_mg(g: f32) -> i16 {
    (g * 1000.0) as i16
}
