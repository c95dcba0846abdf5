//! Device-state rules: low battery, offline (no frame for too long), geofence exit.

use crate::event::{Event, EventSink};
use crate::geo::{circle_depth, polygon_depth};

/// A safe zone.
#[derive(Clone, Debug, PartialEq)]
pub enum GeoZone {
    /// Centre `(lat, lon)` in degrees and radius in metres.
    Circle { center: (f64, f64), radius_m: f64 },
    /// Vertices `(lat, lon)` in degrees, in order (closed implicitly).
    Polygon(Vec<(f64, f64)>),
}

/// One GPS fix.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GpsFix {
    pub t_ms: i64,
    pub lat: f64,
    pub lon: f64,
    /// Reported horizontal accuracy, metres (0 if unknown).
    pub accuracy_m: f64,
}

/// Device-state parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceConfig {
    /// Battery at or below this percent raises [`Event::LowBattery`] …
    pub low_battery_pct: f32,
    /// … and at or above this one clears it.
    pub battery_ok_pct: f32,
    /// No frame for this long means offline, ms.
    pub offline_after_ms: i64,
    /// Safe zones; none means no geofence.
    pub zones: Vec<GeoZone>,
    /// A fix must be this far outside every zone (or its accuracy, if larger) to count, m.
    pub exit_margin_m: f64,
    /// Fixes worse than this are ignored, m.
    pub max_accuracy_m: f64,
    /// An exit (or a return) is confirmed after this many consecutive fixes …
    pub confirm_fixes: u32,
    /// … spanning at least this long, ms.
    pub confirm_ms: i64,
}

impl Default for DeviceConfig {
    fn default() -> Self {
        Self {
            low_battery_pct: 15.0,
            battery_ok_pct: 25.0,
            offline_after_ms: 15 * 60_000,
            zones: Vec::new(),
            exit_margin_m: 30.0,
            max_accuracy_m: 100.0,
            confirm_fixes: 3,
            confirm_ms: 60_000,
        }
    }
}

pub(crate) struct DeviceMonitor {
    cfg: DeviceConfig,
    last_seen: Option<i64>,
    offline: bool,
    low_battery: bool,
    outside: bool,
    /// First fix and count of the current run pointing to the other side.
    run: Option<(i64, u32)>,
    last_fix_t: i64,
}

impl DeviceMonitor {
    pub(crate) fn new(cfg: DeviceConfig) -> Self {
        Self {
            cfg,
            last_seen: None,
            offline: false,
            low_battery: false,
            outside: false,
            run: None,
            last_fix_t: i64::MIN,
        }
    }

    /// New limits and zones, the state kept; changed zones restart the exit/return debounce,
    /// and no zones at all end an exit.
    pub(crate) fn set_config(&mut self, cfg: DeviceConfig) {
        if cfg.zones != self.cfg.zones {
            self.run = None;
            if cfg.zones.is_empty() {
                self.outside = false;
            }
        }
        self.cfg = cfg;
    }

    pub(crate) fn heartbeat<S: EventSink + ?Sized>(&mut self, t_ms: i64, sink: &mut S) {
        if self.last_seen.is_none_or(|l| t_ms > l) {
            self.last_seen = Some(t_ms);
        }
        if self.offline {
            self.offline = false;
            sink.emit(Event::Online { at_ms: t_ms });
        }
    }

    pub(crate) fn check<S: EventSink + ?Sized>(&mut self, now_ms: i64, sink: &mut S) {
        let due =
            self.last_seen.filter(|&l| !self.offline && now_ms.saturating_sub(l) > self.cfg.offline_after_ms);
        if let Some(l) = due {
            self.offline = true;
            sink.emit(Event::Offline { last_seen_ms: l, at_ms: now_ms });
        }
    }

    pub(crate) fn battery<S: EventSink + ?Sized>(&mut self, t_ms: i64, pct: f32, sink: &mut S) {
        if !pct.is_finite() || !(0.0..=100.0).contains(&pct) {
            return;
        }
        if !self.low_battery && pct <= self.cfg.low_battery_pct {
            self.low_battery = true;
            sink.emit(Event::LowBattery { percent: pct, at_ms: t_ms });
        } else if self.low_battery && pct >= self.cfg.battery_ok_pct {
            self.low_battery = false;
            sink.emit(Event::BatteryOk { percent: pct, at_ms: t_ms });
        }
    }

    /// Signed distance to the union of the zones: positive inside the deepest one.
    fn depth(&self, p: (f64, f64)) -> f64 {
        self.cfg
            .zones
            .iter()
            .map(|z| match z {
                GeoZone::Circle { center, radius_m } => circle_depth(p, *center, *radius_m),
                GeoZone::Polygon(v) => polygon_depth(p, v),
            })
            .fold(f64::NEG_INFINITY, f64::max)
    }

    pub(crate) fn location<S: EventSink + ?Sized>(&mut self, fix: GpsFix, sink: &mut S) {
        let ok = fix.lat.is_finite()
            && fix.lon.is_finite()
            && fix.lat.abs() <= 90.0
            && fix.lon.abs() <= 180.0
            && fix.accuracy_m.is_finite()
            && fix.accuracy_m <= self.cfg.max_accuracy_m;
        if self.cfg.zones.is_empty() || !ok || fix.t_ms <= self.last_fix_t {
            return;
        }
        self.last_fix_t = fix.t_ms;
        let depth = self.depth((fix.lat, fix.lon));
        let margin = self.cfg.exit_margin_m.max(fix.accuracy_m);
        // While inside, only a clearly-outside fix counts towards an exit; while outside, only a
        // fix inside the zone counts towards a return. Fixes in the margin keep the run going.
        let towards_other = if self.outside { depth > 0.0 } else { depth < -margin };
        let in_margin = if self.outside { false } else { depth < 0.0 };
        if !towards_other {
            if !in_margin {
                self.run = None;
            }
            return;
        }
        let (since, n) = match self.run {
            Some((s, n)) => (s, n + 1),
            None => (fix.t_ms, 1),
        };
        if n >= self.cfg.confirm_fixes.max(1) && fix.t_ms.saturating_sub(since) >= self.cfg.confirm_ms {
            self.run = None;
            self.outside = !self.outside;
            sink.emit(if self.outside {
                Event::GeofenceExit { at_ms: fix.t_ms, lat: fix.lat, lon: fix.lon, distance_m: -depth }
            } else {
                Event::GeofenceReturn { at_ms: fix.t_ms }
            });
        } else {
            self.run = Some((since, n));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: (f64, f64) = (40.08, 113.30);

    fn monitor() -> DeviceMonitor {
        DeviceMonitor::new(DeviceConfig {
            zones: vec![GeoZone::Circle { center: HOME, radius_m: 200.0 }],
            ..Default::default()
        })
    }

    /// A fix `north_m` metres north of home.
    fn fix(t_s: i64, north_m: f64) -> GpsFix {
        GpsFix { t_ms: t_s * 1000, lat: HOME.0 + north_m / 111_132.0, lon: HOME.1, accuracy_m: 10.0 }
    }

    #[test]
    fn offline_then_online() {
        let mut m = DeviceMonitor::new(DeviceConfig::default());
        let mut ev = Vec::new();
        m.check(0, &mut ev); // never seen: nothing to say
        m.heartbeat(1_000, &mut ev);
        m.check(1_000 + 15 * 60_000, &mut ev);
        m.check(1_001 + 15 * 60_000, &mut ev);
        m.check(1_002 + 15 * 60_000, &mut ev);
        m.heartbeat(2_000_000, &mut ev);
        assert_eq!(
            ev,
            vec![
                Event::Offline { last_seen_ms: 1_000, at_ms: 1_001 + 15 * 60_000 },
                Event::Online { at_ms: 2_000_000 }
            ]
        );
    }

    #[test]
    fn low_battery_with_hysteresis() {
        let mut m = DeviceMonitor::new(DeviceConfig::default());
        let mut ev = Vec::new();
        for (t, p) in [(0, 50.0), (1, 15.0), (2, 16.0), (3, 14.0), (4, 20.0), (5, 26.0), (6, 150.0)] {
            m.battery(t, p, &mut ev);
        }
        assert_eq!(
            ev,
            vec![Event::LowBattery { percent: 15.0, at_ms: 1 }, Event::BatteryOk { percent: 26.0, at_ms: 5 }]
        );
    }

    #[test]
    fn gps_jitter_across_the_edge_raises_nothing() {
        let mut m = monitor();
        let mut ev = Vec::new();
        for s in 0..100 {
            m.location(fix(s * 10, if s % 2 == 0 { 190.0 } else { 220.0 }), &mut ev);
        }
        // One wild fix far away between good ones.
        m.location(fix(2_000, 900.0), &mut ev);
        m.location(fix(2_010, 100.0), &mut ev);
        assert!(ev.is_empty(), "{ev:?}");
    }

    #[test]
    fn walking_away_exits_then_returns() {
        let mut m = monitor();
        let mut ev = Vec::new();
        for s in 0..30 {
            m.location(fix(s * 10, s as f64 * 20.0), &mut ev); // 2 m/s north
        }
        for s in 30..60 {
            m.location(fix(s * 10, 50.0), &mut ev);
        }
        assert!(matches!(ev[0], Event::GeofenceExit { at_ms: 180_000, .. }), "{ev:?}");
        assert_eq!(ev[1], Event::GeofenceReturn { at_ms: 360_000 });
        assert_eq!(ev.len(), 2);
    }

    #[test]
    fn polygon_zone_and_bad_fixes() {
        let d = 0.002;
        let mut m = DeviceMonitor::new(DeviceConfig {
            zones: vec![GeoZone::Polygon(vec![
                (HOME.0 - d, HOME.1 - d),
                (HOME.0 - d, HOME.1 + d),
                (HOME.0 + d, HOME.1 + d),
                (HOME.0 + d, HOME.1 - d),
            ])],
            ..Default::default()
        });
        let mut ev = Vec::new();
        let bad = GpsFix { t_ms: 1, lat: f64::NAN, lon: 0.0, accuracy_m: 5.0 };
        m.location(bad, &mut ev);
        for s in 0..10 {
            m.location(fix(s * 30, 1_000.0), &mut ev);
        }
        assert_eq!(ev.len(), 1);
    }
}
