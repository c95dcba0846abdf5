//! Inactivity within waking hours, and the device not being worn (flat and perfectly still).

use crate::block::BlockStats;
use crate::event::{Event, EventSink};

/// Inactivity and wear parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ActivityConfig {
    /// A second whose acceleration vector varies more than this (std, g) counts as movement.
    pub movement_std_g: f32,
    /// No movement for this long within waking hours raises [`Event::Inactivity`], ms.
    pub inactivity_ms: i64,
    /// Waking hours, local minutes after midnight: `[wake_start_min, wake_end_min)`.
    pub wake_start_min: u16,
    pub wake_end_min: u16,
    /// Local time offset from UTC, minutes (China: +480).
    pub utc_offset_min: i32,
    /// A second with every axis' std below this is "perfectly still", g (above sensor noise).
    pub still_std_g: f32,
    /// "Flat": gravity within this angle of a device axis, degrees.
    pub flat_tolerance_deg: f32,
    /// Flat and still for this long raises [`Event::NotWorn`], ms.
    pub not_worn_ms: i64,
}

impl Default for ActivityConfig {
    fn default() -> Self {
        Self {
            movement_std_g: 0.02,
            inactivity_ms: 2 * 3_600_000,
            wake_start_min: 7 * 60,
            wake_end_min: 21 * 60,
            utc_offset_min: 480,
            still_std_g: 0.006,
            flat_tolerance_deg: 10.0,
            not_worn_ms: 10 * 60_000,
        }
    }
}

pub(crate) struct ActivityMonitor {
    cfg: ActivityConfig,
    /// End of the last second with movement (or of the first second seen).
    last_move_ms: Option<i64>,
    inactive_alerted: bool,
    /// Start of the current flat-and-still run.
    still_since: Option<i64>,
    not_worn: bool,
}

impl ActivityMonitor {
    pub(crate) fn new(cfg: ActivityConfig) -> Self {
        Self { cfg, last_move_ms: None, inactive_alerted: false, still_since: None, not_worn: false }
    }

    /// New periods and waking hours; the time since the last movement is kept.
    pub(crate) fn set_config(&mut self, cfg: ActivityConfig) {
        self.cfg = cfg;
    }

    /// A break in the stream: we cannot tell what happened in it, so stillness restarts.
    pub(crate) fn on_break(&mut self) {
        self.still_since = None;
    }

    fn awake(&self, t_ms: i64) -> bool {
        let minute = (t_ms.div_euclid(60_000) + self.cfg.utc_offset_min as i64).rem_euclid(1440);
        let (s, e) = (self.cfg.wake_start_min as i64, self.cfg.wake_end_min as i64);
        if s <= e { (s..e).contains(&minute) } else { minute >= s || minute < e }
    }

    pub(crate) fn on_block<S: EventSink + ?Sized>(&mut self, b: &BlockStats, sink: &mut S) {
        let t = b.end_ms;
        let max_axis = b.axis_std.iter().fold(0.0f32, |m, &v| m.max(v));
        let moving = b.std_g > self.cfg.movement_std_g;

        // Wear.
        let n = crate::features::norm(b.mean);
        let flat = n > 0.5
            && b.mean
                .iter()
                .any(|&v| (v.abs() / n).clamp(-1.0, 1.0).acos().to_degrees() <= self.cfg.flat_tolerance_deg);
        if flat && max_axis < self.cfg.still_std_g {
            let since = *self.still_since.get_or_insert(t.saturating_sub(b.n as i64 * 10));
            if !self.not_worn && t.saturating_sub(since) >= self.cfg.not_worn_ms {
                self.not_worn = true;
                sink.emit(Event::NotWorn { since_ms: since, at_ms: t });
            }
        } else {
            self.still_since = None;
            if self.not_worn && moving {
                self.not_worn = false;
                sink.emit(Event::Worn { at_ms: t });
            }
        }

        // Inactivity (not while the device lies on a table).
        if moving || self.last_move_ms.is_none() {
            if self.inactive_alerted && moving {
                self.inactive_alerted = false;
                sink.emit(Event::ActivityResumed { at_ms: t });
            }
            self.last_move_ms = Some(t);
            return;
        }
        let due = self.last_move_ms.filter(|&since| {
            !self.inactive_alerted
                && !self.not_worn
                && t.saturating_sub(since) >= self.cfg.inactivity_ms
                && self.awake(t)
        });
        if let Some(since) = due {
            self.inactive_alerted = true;
            sink.emit(Event::Inactivity { since_ms: since, at_ms: t });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2024-01-01 00:00 Beijing time (UTC+8) in Unix ms.
    const MIDNIGHT: i64 = 1_704_038_400_000;

    fn block(end_ms: i64, mean: [f32; 3], std: f32) -> BlockStats {
        BlockStats { end_ms, n: 100, mean, axis_std: [std; 3], std_g: std * 3f32.sqrt() }
    }

    fn run(cfg: ActivityConfig, from_ms: i64, secs: i64, f: impl Fn(i64) -> BlockStats) -> Vec<Event> {
        let mut m = ActivityMonitor::new(cfg);
        let mut ev = Vec::new();
        for s in 0..secs {
            m.on_block(&f(from_ms + (s + 1) * 1000), &mut ev);
        }
        ev
    }

    #[test]
    fn inactivity_during_the_day_then_resumed() {
        let cfg = ActivityConfig { inactivity_ms: 600_000, ..Default::default() };
        let start = MIDNIGHT + 10 * 3_600_000; // 10:00
        let ev = run(cfg, start, 1300, |t| {
            let s = if t - start > 1_200_000 { 0.1 } else { 0.01 };
            block(t, [0.3, -0.9, 0.2], s)
        });
        assert_eq!(
            ev,
            vec![
                Event::Inactivity { since_ms: start + 1000, at_ms: start + 601_000 },
                Event::ActivityResumed { at_ms: start + 1_201_000 }
            ]
        );
    }

    #[test]
    fn no_inactivity_at_night() {
        let cfg = ActivityConfig { inactivity_ms: 600_000, ..Default::default() };
        let start = MIDNIGHT + 2 * 3_600_000; // 02:00
        assert!(run(cfg, start, 1300, |t| block(t, [0.3, -0.9, 0.2], 0.01)).is_empty());
    }

    #[test]
    fn inactivity_since_night_is_raised_at_wake_time() {
        let cfg = ActivityConfig { inactivity_ms: 600_000, ..Default::default() };
        let start = MIDNIGHT + 6 * 3_600_000 + 40 * 60_000; // 06:40
        let ev = run(cfg, start, 1300, |t| block(t, [0.3, -0.9, 0.2], 0.01));
        assert_eq!(ev, vec![Event::Inactivity { since_ms: start + 1000, at_ms: MIDNIGHT + 7 * 3_600_000 }]);
    }

    #[test]
    fn flat_and_still_is_not_worn_then_worn() {
        let cfg = ActivityConfig::default();
        let start = MIDNIGHT + 12 * 3_600_000;
        let ev = run(cfg, start, 700, |t| {
            if t - start > 650_000 {
                block(t, [0.2, -0.95, 0.1], 0.2)
            } else {
                block(t, [0.0, 0.0, 1.0], 0.002)
            }
        });
        assert_eq!(
            ev,
            vec![
                Event::NotWorn { since_ms: start, at_ms: start + 600_000 },
                Event::Worn { at_ms: start + 651_000 }
            ]
        );
    }

    #[test]
    fn still_but_tilted_is_worn() {
        let cfg = ActivityConfig { inactivity_ms: i64::MAX, ..Default::default() };
        let ev = run(cfg, MIDNIGHT, 900, |t| block(t, [0.5, -0.8, 0.3], 0.002));
        assert!(ev.is_empty());
    }
}
