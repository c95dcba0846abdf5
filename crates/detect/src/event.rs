//! The events the detector emits, and the sink they are pushed into.

use crate::features::FallFeatures;
use crate::vitals::{VitalDirection, VitalKind};

/// Body posture, judged from the gravity direction against the wearer's upright reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Posture {
    /// Within 35° of upright (standing, walking).
    Upright,
    /// Between 35° and 60° (sitting back, leaning, kneeling).
    Reclined,
    /// More than 60° from upright.
    Lying,
    /// No reference yet, or no valid samples.
    Unknown,
}

/// A fall alarm, emitted at decision time: a fixed delay after the impact peak, or, when the
/// model was less sure, at the late look (or when the stream broke or went silent before it).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FallAlarm {
    /// Time of the impact peak (Unix ms).
    pub impact_ms: i64,
    /// Time the decision was taken (Unix ms); the alarm's latency is `decision_ms - impact_ms`.
    pub decision_ms: i64,
    /// Model probability that this is a fall, 0–1.
    pub confidence: f32,
    /// The features the model decided on.
    pub features: FallFeatures,
    /// Posture just after the impact.
    pub posture: Posture,
}

/// A judged impact and what the rules beside the model said about it (tuning and training).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FallCandidate {
    /// The decision as the model took it (`decision_ms` is the model's, not the late look's).
    pub alarm: FallAlarm,
    /// Lying before the impact and upright after it: getting up, never a fall alarm.
    pub got_up: bool,
    /// The late look: back in the posture held before the impact and moving (a stumble the
    /// wearer walked on from). `None` when there was no look: the stream broke or went silent
    /// first.
    pub walked_on: Option<bool>,
    /// When the late look was due (Unix ms): the time a doubtful alarm is raised.
    pub look_ms: i64,
}

/// The complete picture of a fall, emitted 5 s after the impact: posture then, and the trace.
#[derive(Clone, Debug, PartialEq)]
pub struct FallReport {
    pub impact_ms: i64,
    /// Posture over the last second of the trace.
    pub posture_after: Posture,
    /// Time of `trace_mg[0]` (Unix ms); one entry every 10 ms, from 5 s before to 5 s after.
    pub trace_start_ms: i64,
    /// Acceleration in milli-g, device axes, 100 Hz.
    pub trace_mg: Vec<[i16; 3]>,
}

/// A vital-sign alarm: the value stayed out of range for the configured duration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VitalAlarm {
    pub kind: VitalKind,
    pub direction: VitalDirection,
    /// The reading that raised the alarm.
    pub value: f32,
    /// When the value first left the range (Unix ms).
    pub since_ms: i64,
    pub at_ms: i64,
}

/// Everything the detector reports. Only [`Event::FallReport`] owns heap memory (the trace).
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// A fall was detected.
    Fall(FallAlarm),
    /// Follow-up of a [`Event::Fall`], 5 s after the impact.
    FallReport(Box<FallReport>),
    /// The person got up and moved within the grace period after the fall with this impact time.
    FallRecovered {
        impact_ms: i64,
        at_ms: i64,
    },
    /// Every impact the model judged, alarm or not, with the rules' verdicts (only with
    /// `FallConfig::report_candidates`; emitted after its late look).
    FallCandidate(FallCandidate),
    /// No meaningful movement since `since_ms`, within waking hours.
    Inactivity {
        since_ms: i64,
        at_ms: i64,
    },
    /// Movement again after an inactivity alarm.
    ActivityResumed {
        at_ms: i64,
    },
    /// The device lies flat and perfectly still: taken off.
    NotWorn {
        since_ms: i64,
        at_ms: i64,
    },
    /// Worn again after [`Event::NotWorn`].
    Worn {
        at_ms: i64,
    },
    VitalAlarm(VitalAlarm),
    /// The value came back into range and stayed there for the re-arm time.
    VitalCleared {
        kind: VitalKind,
        at_ms: i64,
    },
    LowBattery {
        percent: f32,
        at_ms: i64,
    },
    BatteryOk {
        percent: f32,
        at_ms: i64,
    },
    /// No frame since `last_seen_ms`, judged at `at_ms`.
    Offline {
        last_seen_ms: i64,
        at_ms: i64,
    },
    Online {
        at_ms: i64,
    },
    /// Confirmed outside every safe zone; `distance_m` is how far outside the nearest one.
    GeofenceExit {
        at_ms: i64,
        lat: f64,
        lon: f64,
        distance_m: f64,
    },
    GeofenceReturn {
        at_ms: i64,
    },
}

/// Where events go. Implemented for `Vec<Event>` and for closures through [`FnSink`].
pub trait EventSink {
    fn emit(&mut self, event: Event);
}

impl EventSink for Vec<Event> {
    fn emit(&mut self, event: Event) {
        self.push(event);
    }
}

/// Adapts a closure into an [`EventSink`].
pub struct FnSink<F: FnMut(Event)>(pub F);

impl<F: FnMut(Event)> EventSink for FnSink<F> {
    fn emit(&mut self, event: Event) {
        (self.0)(event);
    }
}
