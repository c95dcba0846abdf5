//! zhulao-detect: pure streaming detection of falls, inactivity, wear, vital-sign and device events.
//!
//! Invariant: this crate never does I/O, never reads a clock, never allocates per sample and
//! never panics on input. Every sample carries its own timestamp (`t_ms`, Unix milliseconds);
//! events come out through a caller-supplied [`EventSink`].
//!
//! The gateway keeps one [`Detector`] per device and feeds it every decoded frame:
//!
//! ```
//! use zhulao_detect::{Detector, DetectorConfig, Event, MotionSample};
//! let mut det = Detector::new(DetectorConfig::default());
//! let mut events: Vec<Event> = Vec::new();
//! det.push_motion(&MotionSample::accel(1_000, [0.0, -1.0, 0.0]), &mut events);
//! det.check(2_000, &mut events); // time-based rules (offline), with the caller's clock
//! assert!(events.is_empty());
//! ```

mod activity;
mod block;
mod device;
mod event;
mod fall;
mod fall_model;
mod features;
mod geo;
mod resample;
mod vitals;

pub use activity::ActivityConfig;
pub use block::BlockStats;
pub use device::{DeviceConfig, GeoZone, GpsFix};
pub use event::{Event, EventSink, FallAlarm, FallCandidate, FallReport, FnSink, Posture, VitalAlarm};
pub use fall::{FallConfig, FallDetector};
pub use fall_model::{FallModel, N_FEATURES, TREE_DEPTH, TREE_LEAVES, TREE_SPLITS, Tree};
pub use features::FallFeatures;
pub use resample::{ResampleConfig, StreamStats};
pub use vitals::{Limits, VitalConfig, VitalDirection, VitalKind, VitalReading, VitalRule};

use activity::ActivityMonitor;
use block::BlockAccumulator;
use device::DeviceMonitor;
use resample::{Resampled, Resampler};
use vitals::VitalsMonitor;

/// One motion sample as decoded from the device: acceleration in g, gyroscope in °/s.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MotionSample {
    /// Sample time, Unix milliseconds, from the device.
    pub t_ms: i64,
    /// Acceleration in g (1 g = 9.80665 m/s²), device axes, any orientation.
    pub acc: [f32; 3],
    /// Angular rate in °/s, when the device has a gyroscope.
    pub gyro: Option<[f32; 3]>,
}

impl MotionSample {
    /// An accelerometer-only sample.
    pub const fn accel(t_ms: i64, acc: [f32; 3]) -> Self {
        Self { t_ms, acc, gyro: None }
    }
}

/// Everything one device's detector needs to know: defaults everywhere, per-elder overrides.
#[derive(Clone, Debug, Default)]
pub struct DetectorConfig {
    pub resample: ResampleConfig,
    pub fall: FallConfig,
    pub activity: ActivityConfig,
    pub vitals: VitalConfig,
    pub device: DeviceConfig,
}

/// The per-device detector: feed it every frame of one device, in any order; it emits events.
///
/// State is fixed-size: about 1 KB inline, plus the 6 KB ring of the last 10 s of acceleration
/// (kept for the operator's trace), allocated once at the first motion sample — a device that
/// sends no motion (a watch) never holds it.
pub struct Detector {
    resampler: Resampler,
    blocks: BlockAccumulator,
    fall: FallDetector,
    activity: ActivityMonitor,
    vitals: VitalsMonitor,
    device: DeviceMonitor,
}

impl Detector {
    pub fn new(config: DetectorConfig) -> Self {
        Self {
            resampler: Resampler::new(config.resample),
            blocks: BlockAccumulator::default(),
            fall: FallDetector::new(config.fall),
            activity: ActivityMonitor::new(config.activity),
            vitals: VitalsMonitor::new(config.vitals),
            device: DeviceMonitor::new(config.device),
        }
    }

    /// Applies changed per-elder settings to a running detector without losing its state:
    /// the activity, vital-sign and device rules take `config`'s; the fall detector and the
    /// resampler keep theirs (a new [`Detector`] takes those). Changed safe zones restart the
    /// exit debounce; removing every zone ends an exit.
    pub fn reconfigure(&mut self, config: &DetectorConfig) {
        self.activity.set_config(config.activity);
        self.vitals.set_config(config.vitals);
        self.device.set_config(config.device.clone());
    }

    /// Feeds one motion sample (any rate from 25 to 200 Hz; resampled to 100 Hz).
    pub fn push_motion<S: EventSink + ?Sized>(&mut self, sample: &MotionSample, sink: &mut S) {
        self.device.heartbeat(sample.t_ms, sink);
        let Self { resampler, blocks, fall, activity, .. } = self;
        if let Some(g) = sample.gyro {
            fall.note_gyro(g);
        }
        resampler.push(sample, |out| match out {
            Resampled::Tick(k, acc) => {
                fall.tick(k, acc, sink);
                if let Some(b) = blocks.add(k, acc) {
                    fall.on_block(&b, sink);
                    activity.on_block(&b, sink);
                }
            }
            Resampled::Break => {
                blocks.reset();
                fall.on_break(sink);
                activity.on_break();
            }
        });
    }

    /// Feeds one vital-sign reading.
    pub fn push_vital<S: EventSink + ?Sized>(&mut self, reading: VitalReading, sink: &mut S) {
        self.device.heartbeat(reading.t_ms, sink);
        self.vitals.push(reading, sink);
    }

    /// Feeds a battery level report (percent, 0–100).
    pub fn push_battery<S: EventSink + ?Sized>(&mut self, t_ms: i64, percent: f32, sink: &mut S) {
        self.device.heartbeat(t_ms, sink);
        self.device.battery(t_ms, percent, sink);
    }

    /// Feeds a GPS fix (checked against the safe zones).
    pub fn push_location<S: EventSink + ?Sized>(&mut self, fix: GpsFix, sink: &mut S) {
        self.device.heartbeat(fix.t_ms, sink);
        self.device.location(fix, sink);
    }

    /// Records that the device was heard from (any frame, including bare heartbeats).
    pub fn heartbeat<S: EventSink + ?Sized>(&mut self, t_ms: i64, sink: &mut S) {
        self.device.heartbeat(t_ms, sink);
    }

    /// Evaluates the time-based rules (offline; a fall's late look the stream never delivered)
    /// at the caller's `now_ms`.
    pub fn check<S: EventSink + ?Sized>(&mut self, now_ms: i64, sink: &mut S) {
        self.device.check(now_ms, sink);
        self.fall.check(now_ms, sink);
    }

    /// Counters of what the motion stream's cleaning step accepted, dropped and repaired.
    pub fn stream_stats(&self) -> StreamStats {
        self.resampler.stats()
    }

    /// The fall detector alone, for tools that inspect it.
    pub fn fall(&self) -> &FallDetector {
        &self.fall
    }
}
