//! Vital-sign rules: per-elder limits over defaults, sustained duration, hysteresis, re-arm.
//!
//! Per kind the state goes Normal → Pending (out of range, not yet long enough) → Alarm →
//! Clearing (back inside the band narrowed by the hysteresis) → Normal after `rearm_ms`
//! (emitting [`Event::VitalCleared`]); only then can the same kind alarm again. A single wild
//! reading or a value flapping around a limit therefore raises at most one alarm.

use crate::event::{Event, EventSink, VitalAlarm};

/// What was measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VitalKind {
    /// Heart rate, beats per minute.
    HeartRate,
    /// Systolic blood pressure, mmHg.
    Systolic,
    /// Diastolic blood pressure, mmHg.
    Diastolic,
    /// Blood oxygen saturation, %.
    SpO2,
    /// Body temperature, °C.
    Temperature,
}

impl VitalKind {
    pub const ALL: [VitalKind; 5] =
        [Self::HeartRate, Self::Systolic, Self::Diastolic, Self::SpO2, Self::Temperature];

    fn index(self) -> usize {
        self as usize
    }

    /// Values outside this range are sensor errors, not readings.
    fn plausible(self) -> (f32, f32) {
        match self {
            Self::HeartRate => (20.0, 250.0),
            Self::Systolic => (50.0, 280.0),
            Self::Diastolic => (20.0, 180.0),
            Self::SpO2 => (50.0, 100.0),
            Self::Temperature => (30.0, 43.0),
        }
    }
}

/// Which limit was crossed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VitalDirection {
    Low,
    High,
}

/// One reading from the device.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VitalReading {
    pub t_ms: i64,
    pub kind: VitalKind,
    pub value: f32,
}

/// An alarm range: values `< low` or `> high` are out of range.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    pub low: f32,
    pub high: f32,
}

/// The rule for one kind.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VitalRule {
    pub limits: Limits,
    /// Back in range means inside `[low + hysteresis, high − hysteresis]`.
    pub hysteresis: f32,
    /// The value must stay out of range this long before the alarm, ms …
    pub sustain_ms: i64,
    /// … over at least this many consecutive readings.
    pub min_readings: u32,
    /// After an alarm, the value must stay back in range this long before the rule re-arms, ms.
    pub rearm_ms: i64,
}

/// Rules per kind; start from [`VitalConfig::default`] and override per elder.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VitalConfig {
    pub rules: [VitalRule; 5],
}

impl VitalConfig {
    pub fn rule(&self, kind: VitalKind) -> &VitalRule {
        &self.rules[kind.index()]
    }

    /// Overrides the limits of one kind (e.g. a doctor's per-elder thresholds).
    pub fn with_limits(mut self, kind: VitalKind, low: f32, high: f32) -> Self {
        self.rules[kind.index()].limits = Limits { low, high };
        self
    }
}

impl Default for VitalConfig {
    fn default() -> Self {
        let r = |low, high, hysteresis, sustain_ms, min_readings, rearm_ms| VitalRule {
            limits: Limits { low, high },
            hysteresis,
            sustain_ms,
            min_readings,
            rearm_ms,
        };
        Self {
            rules: [
                r(45.0, 120.0, 5.0, 60_000, 3, 120_000), // heart rate, bpm
                r(90.0, 160.0, 5.0, 0, 2, 600_000),      // systolic, mmHg (spot readings)
                r(50.0, 100.0, 5.0, 0, 2, 600_000),      // diastolic, mmHg
                r(90.0, 101.0, 2.0, 60_000, 3, 120_000), // SpO2, %
                r(35.0, 37.8, 0.3, 300_000, 2, 600_000), // temperature, °C
            ],
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum State {
    Normal,
    Pending { dir: VitalDirection, since: i64, count: u32 },
    Alarm { dir: VitalDirection },
    Clearing { dir: VitalDirection, since: i64 },
}

pub(crate) struct VitalsMonitor {
    cfg: VitalConfig,
    state: [State; 5],
    last_t: [i64; 5],
}

impl VitalsMonitor {
    pub(crate) fn new(cfg: VitalConfig) -> Self {
        Self { cfg, state: [State::Normal; 5], last_t: [i64::MIN; 5] }
    }

    /// New limits; an alarm in progress clears by the new band.
    pub(crate) fn set_config(&mut self, cfg: VitalConfig) {
        self.cfg = cfg;
    }

    pub(crate) fn push<S: EventSink + ?Sized>(&mut self, r: VitalReading, sink: &mut S) {
        let i = r.kind.index();
        let (pl, ph) = r.kind.plausible();
        if !r.value.is_finite() || r.value < pl || r.value > ph || r.t_ms <= self.last_t[i] {
            return; // sensor error, duplicate or late reading
        }
        self.last_t[i] = r.t_ms;
        let rule = self.cfg.rules[i];
        let out = if r.value < rule.limits.low {
            Some(VitalDirection::Low)
        } else if r.value > rule.limits.high {
            Some(VitalDirection::High)
        } else {
            None
        };
        let settled =
            r.value >= rule.limits.low + rule.hysteresis && r.value <= rule.limits.high - rule.hysteresis;
        let t = r.t_ms;
        self.state[i] = match (self.state[i], out) {
            (State::Normal, None) => State::Normal,
            (State::Normal, Some(dir)) => self.pending(r, dir, t, 1, sink),
            (State::Pending { dir, since, count }, Some(d)) if d == dir => {
                self.pending(r, dir, since, count + 1, sink)
            }
            (State::Pending { .. }, Some(d)) => self.pending(r, d, t, 1, sink),
            (State::Pending { .. }, None) => State::Normal,
            (State::Alarm { dir }, _) if settled => State::Clearing { dir, since: t },
            (s @ State::Alarm { .. }, _) => s,
            (State::Clearing { dir, since }, _) if settled => {
                if t.saturating_sub(since) >= rule.rearm_ms {
                    sink.emit(Event::VitalCleared { kind: r.kind, at_ms: t });
                    State::Normal
                } else {
                    State::Clearing { dir, since }
                }
            }
            (State::Clearing { dir, .. }, _) => State::Alarm { dir },
        };
    }

    fn pending<S: EventSink + ?Sized>(
        &self,
        r: VitalReading,
        dir: VitalDirection,
        since: i64,
        count: u32,
        sink: &mut S,
    ) -> State {
        let rule = self.cfg.rules[r.kind.index()];
        if count >= rule.min_readings.max(1) && r.t_ms.saturating_sub(since) >= rule.sustain_ms {
            sink.emit(Event::VitalAlarm(VitalAlarm {
                kind: r.kind,
                direction: dir,
                value: r.value,
                since_ms: since,
                at_ms: r.t_ms,
            }));
            State::Alarm { dir }
        } else {
            State::Pending { dir, since, count }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(cfg: VitalConfig, kind: VitalKind, readings: &[(i64, f32)]) -> Vec<Event> {
        let mut m = VitalsMonitor::new(cfg);
        let mut ev = Vec::new();
        for &(t, value) in readings {
            m.push(VitalReading { t_ms: t, kind, value }, &mut ev);
        }
        ev
    }

    fn hr_series(values: &[f32]) -> Vec<(i64, f32)> {
        values.iter().enumerate().map(|(i, &v)| (i as i64 * 30_000, v)).collect()
    }

    #[test]
    fn single_bad_reading_is_ignored() {
        let ev = feed(VitalConfig::default(), VitalKind::HeartRate, &hr_series(&[70.0, 150.0, 72.0, 71.0]));
        assert!(ev.is_empty());
    }

    #[test]
    fn sustained_high_heart_rate_alarms_once() {
        let ev = feed(
            VitalConfig::default(),
            VitalKind::HeartRate,
            &hr_series(&[70.0, 130.0, 131.0, 135.0, 140.0, 118.0, 125.0, 119.0, 130.0]),
        );
        assert_eq!(
            ev,
            vec![Event::VitalAlarm(VitalAlarm {
                kind: VitalKind::HeartRate,
                direction: VitalDirection::High,
                value: 135.0,
                since_ms: 30_000,
                at_ms: 90_000,
            })]
        );
    }

    #[test]
    fn clears_after_rearm_time_and_can_alarm_again() {
        let mut s = vec![130.0, 130.0, 130.0];
        s.extend([80.0; 6]); // 6 × 30 s back in range: cleared after 120 s
        s.extend([130.0; 3]);
        let ev = feed(VitalConfig::default(), VitalKind::HeartRate, &hr_series(&s));
        let kinds: Vec<_> = ev
            .iter()
            .map(|e| match e {
                Event::VitalAlarm(_) => "alarm",
                Event::VitalCleared { .. } => "cleared",
                _ => "other",
            })
            .collect();
        assert_eq!(kinds, ["alarm", "cleared", "alarm"]);
    }

    #[test]
    fn hysteresis_keeps_a_flapping_value_in_alarm() {
        let s = [50.0, 50.0, 50.0, 91.0, 89.0, 91.0, 89.0, 91.0, 89.0, 91.0, 89.0];
        let ev = feed(VitalConfig::default(), VitalKind::SpO2, &hr_series(&s));
        assert_eq!(ev.len(), 1);
    }

    #[test]
    fn per_elder_limits_override_defaults() {
        let cfg = VitalConfig::default().with_limits(VitalKind::Systolic, 90.0, 140.0);
        let ev = feed(cfg, VitalKind::Systolic, &[(0, 150.0), (60_000, 152.0)]);
        assert_eq!(ev.len(), 1);
        let ev = feed(VitalConfig::default(), VitalKind::Systolic, &[(0, 150.0), (60_000, 152.0)]);
        assert!(ev.is_empty());
    }

    #[test]
    fn implausible_and_late_readings_are_dropped() {
        let ev = feed(
            VitalConfig::default(),
            VitalKind::Temperature,
            &[(0, f32::NAN), (1, 99.0), (400_000, 38.5), (100, 39.0), (500_000, 38.6)],
        );
        assert!(ev.is_empty()); // two plausible readings, but only 100 s apart
    }

    #[test]
    fn low_temperature_sustained() {
        let ev = feed(VitalConfig::default(), VitalKind::Temperature, &[(0, 34.5), (300_000, 34.6)]);
        assert!(matches!(ev[..], [Event::VitalAlarm(VitalAlarm { direction: VitalDirection::Low, .. })]));
    }
}
