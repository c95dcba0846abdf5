//! Cleans a raw motion stream and resamples it onto the 100 Hz grid (ticks of 10 ms).
//!
//! Duplicates and out-of-order samples are dropped, non-finite samples are dropped, values
//! beyond the sensor's full scale are clipped to it, short gaps are interpolated and long gaps
//! (or a clock jumping backwards) break the stream so no detector reasons across them.

use crate::MotionSample;

/// How the stream is cleaned.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ResampleConfig {
    /// Sensor full scale in g: larger magnitudes are clipped (and counted).
    pub full_scale_g: f32,
    /// Gaps up to this long are interpolated; longer ones break the stream.
    pub max_gap_ms: i64,
    /// A timestamp this far behind the last one is a device clock reset, not a late sample.
    pub clock_reset_ms: i64,
}

impl Default for ResampleConfig {
    fn default() -> Self {
        Self { full_scale_g: 16.0, max_gap_ms: 250, clock_reset_ms: 60_000 }
    }
}

/// Counters of the cleaning step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamStats {
    pub accepted: u64,
    pub ticks: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    pub non_finite: u64,
    pub clipped: u64,
    pub breaks: u64,
}

/// What the resampler hands on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Resampled {
    /// A 100 Hz sample: tick index (`t_ms / 10`) and acceleration in g.
    Tick(i64, [f32; 3]),
    /// Discontinuity: forget short-term state.
    Break,
}

pub(crate) struct Resampler {
    cfg: ResampleConfig,
    last: Option<(i64, [f32; 3])>,
    stats: StreamStats,
}

pub(crate) const TICK_MS: i64 = 10;

impl Resampler {
    pub(crate) fn new(cfg: ResampleConfig) -> Self {
        Self { cfg, last: None, stats: StreamStats::default() }
    }

    pub(crate) fn stats(&self) -> StreamStats {
        self.stats
    }

    pub(crate) fn push(&mut self, s: &MotionSample, mut out: impl FnMut(Resampled)) {
        if !s.acc.iter().all(|v| v.is_finite()) {
            self.stats.non_finite += 1;
            return;
        }
        let fs = if self.cfg.full_scale_g.is_finite() && self.cfg.full_scale_g > 0.0 {
            self.cfg.full_scale_g
        } else {
            16.0
        };
        let mut acc = s.acc;
        let mut clipped = false;
        for v in &mut acc {
            if v.abs() > fs {
                *v = v.clamp(-fs, fs);
                clipped = true;
            }
        }
        if clipped {
            self.stats.clipped += 1;
        }
        let t = s.t_ms;
        match self.last {
            Some((lt, _)) if t.saturating_sub(lt) == TICK_MS && t.rem_euclid(TICK_MS) == 0 => {
                // The common case: the next 100 Hz sample, on the grid.
                self.stats.accepted += 1;
                self.stats.ticks += 1;
                out(Resampled::Tick(t.div_euclid(TICK_MS), acc));
                self.last = Some((t, acc));
            }
            Some((lt, _)) if t == lt => {
                self.stats.duplicates += 1;
            }
            Some((lt, _)) if t < lt && lt.saturating_sub(t) < self.cfg.clock_reset_ms => {
                self.stats.out_of_order += 1;
            }
            Some((lt, la)) if t > lt && t.saturating_sub(lt) <= self.cfg.max_gap_ms.max(TICK_MS) => {
                self.stats.accepted += 1;
                // Ticks k with lt < k*10 <= t, linearly interpolated.
                let first = lt.div_euclid(TICK_MS) + 1;
                let last = t.div_euclid(TICK_MS);
                let span = (t - lt) as f32;
                for k in first..=last {
                    let w = ((k * TICK_MS - lt) as f32) / span;
                    let v = [
                        la[0] + (acc[0] - la[0]) * w,
                        la[1] + (acc[1] - la[1]) * w,
                        la[2] + (acc[2] - la[2]) * w,
                    ];
                    self.stats.ticks += 1;
                    out(Resampled::Tick(k, v));
                }
                self.last = Some((t, acc));
            }
            prev => {
                // First sample, a long gap, or a clock reset: start afresh.
                if prev.is_some() {
                    self.stats.breaks += 1;
                    out(Resampled::Break);
                }
                self.stats.accepted += 1;
                self.last = Some((t, acc));
                if t.rem_euclid(TICK_MS) == 0 {
                    self.stats.ticks += 1;
                    out(Resampled::Tick(t.div_euclid(TICK_MS), acc));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(samples: &[(i64, f32)]) -> (Vec<Resampled>, StreamStats) {
        let mut r = Resampler::new(ResampleConfig::default());
        let mut v = Vec::new();
        for &(t, a) in samples {
            r.push(&MotionSample::accel(t, [a, 0.0, 0.0]), |o| v.push(o));
        }
        (v, r.stats())
    }

    #[test]
    fn passes_100hz_through() {
        let (v, _) = run(&[(0, 1.0), (10, 2.0), (20, 3.0)]);
        assert_eq!(
            v,
            vec![
                Resampled::Tick(0, [1.0, 0.0, 0.0]),
                Resampled::Tick(1, [2.0, 0.0, 0.0]),
                Resampled::Tick(2, [3.0, 0.0, 0.0])
            ]
        );
    }

    #[test]
    fn upsamples_25hz_and_downsamples_200hz() {
        let (v, _) = run(&[(0, 0.0), (40, 4.0)]);
        assert_eq!(v.len(), 5);
        assert_eq!(v[2], Resampled::Tick(2, [2.0, 0.0, 0.0]));
        let samples: Vec<(i64, f32)> = (0..20).map(|i| (i * 5, i as f32)).collect();
        let (v, _) = run(&samples);
        assert_eq!(v.len(), 10);
    }

    #[test]
    fn drops_duplicates_and_out_of_order_and_nan() {
        let mut r = Resampler::new(ResampleConfig::default());
        let mut n = 0;
        for (t, a) in [(0, 1.0), (10, 1.0), (10, 5.0), (5, 1.0), (20, f32::NAN), (20, 1.0)] {
            r.push(&MotionSample::accel(t, [a, 0.0, 0.0]), |_| n += 1);
        }
        let s = r.stats();
        assert_eq!((n, s.duplicates, s.out_of_order, s.non_finite), (3, 1, 1, 1));
    }

    #[test]
    fn long_gap_and_clock_reset_break_the_stream() {
        let (v, s) = run(&[(0, 1.0), (10, 1.0), (5_000, 1.0), (5_010, 1.0), (-100_000, 1.0)]);
        assert_eq!(s.breaks, 2);
        assert_eq!(v.iter().filter(|o| **o == Resampled::Break).count(), 2);
    }

    #[test]
    fn clips_to_full_scale() {
        let (v, s) = run(&[(0, 40.0)]);
        assert_eq!(v, vec![Resampled::Tick(0, [16.0, 0.0, 0.0])]);
        assert_eq!(s.clipped, 1);
    }
}
