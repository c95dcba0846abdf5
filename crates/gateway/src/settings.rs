//! Per-elder detector settings: the registry's monitoring settings (监护设置) as a detector
//! configuration, and which elders and device bindings changed on this instance since a worker
//! last looked (so a change applies on the device's next message, not at the next refresh).

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use zhulao_detect::{Detector, DetectorConfig, GeoZone, VitalKind};
use zhulao_domain::{MonitoringSettings, VitalSign, ZoneShape};

/// The detector configuration for an elder's settings: defaults where nothing is set.
pub(crate) fn detector_config(m: &MonitoringSettings) -> DetectorConfig {
    let mut c = DetectorConfig::default();
    for l in &m.vital_limits {
        let kind = match l.kind {
            VitalSign::HeartRate => VitalKind::HeartRate,
            VitalSign::Systolic => VitalKind::Systolic,
            VitalSign::Diastolic => VitalKind::Diastolic,
            VitalSign::Spo2 => VitalKind::SpO2,
            VitalSign::Temperature => VitalKind::Temperature,
        };
        c.vitals = c.vitals.with_limits(kind, l.low as f32, l.high as f32);
    }
    c.device.zones = m
        .safe_zones
        .iter()
        .map(|z| match &z.shape {
            ZoneShape::Circle { center, radius_m } => {
                GeoZone::Circle { center: (center.lat, center.lon), radius_m: *radius_m }
            }
            ZoneShape::Polygon { points } => {
                GeoZone::Polygon(points.iter().map(|p| (p.lat, p.lon)).collect())
            }
        })
        .collect();
    if let Some(min) = m.inactivity_min {
        c.activity.inactivity_ms = i64::from(min) * 60_000;
    }
    c
}

/// A device's detector: its elder's settings, starting from the upright direction learnt
/// before (if any) until the wearer walks again.
pub(crate) fn new_detector(monitoring: &MonitoringSettings, upright: Option<[f32; 3]>) -> Detector {
    let mut config = detector_config(monitoring);
    config.fall.upright_hint = upright;
    Detector::new(config)
}

/// Elders whose record or settings, and devices whose binding, changed here, each with the
/// generation of its last change.
#[derive(Debug, Default)]
pub(crate) struct Changes {
    generation: AtomicU64,
    /// Keyed by elder id (`Ok`) or device id (`Err`).
    changed: RwLock<HashMap<Result<i64, i64>, u64>>,
}

impl Changes {
    pub(crate) fn mark_elder(&self, elder_id: i64) {
        self.mark(Ok(elder_id));
    }

    pub(crate) fn mark_device(&self, device_id: i64) {
        self.mark(Err(device_id));
    }

    fn mark(&self, key: Result<i64, i64>) {
        let mut changed = self.changed.write().expect("changes lock");
        let g = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
        changed.insert(key, g);
    }

    /// The latest generation: a worker that has seen it has nothing to re-read.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Whether the device or its elder changed after generation `seen`.
    pub(crate) fn changed_since(&self, device_id: i64, elder_id: Option<i64>, seen: u64) -> bool {
        let changed = self.changed.read().expect("changes lock");
        let after = |k| changed.get(&k).is_some_and(|&g| g > seen);
        after(Err(device_id)) || elder_id.is_some_and(|e| after(Ok(e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_map_onto_the_detector() {
        let m: MonitoringSettings = serde_json::from_value(serde_json::json!({
            "vital_limits": [{"kind": "spo2", "low": 93, "high": 100}],
            "safe_zones": [
                {"name": "家", "shape": "circle", "center": {"lat": 40.0, "lon": 113.0}, "radius_m": 300},
                {"name": "小区", "shape": "polygon", "points": [{"lat": 40.0, "lon": 113.0}, {"lat": 40.0, "lon": 113.01}, {"lat": 40.01, "lon": 113.0}]}
            ],
            "inactivity_min": 240
        }))
        .unwrap();
        let c = detector_config(&m);
        assert_eq!(c.vitals.rule(VitalKind::SpO2).limits.low, 93.0);
        assert_eq!(
            c.vitals.rule(VitalKind::HeartRate),
            DetectorConfig::default().vitals.rule(VitalKind::HeartRate)
        );
        assert_eq!(c.device.zones.len(), 2);
        assert_eq!(c.activity.inactivity_ms, 4 * 3_600_000);
        assert!(detector_config(&MonitoringSettings::default()).device.zones.is_empty());
    }

    #[test]
    fn a_new_detector_starts_from_the_saved_upright() {
        let d = new_detector(&MonitoringSettings::default(), Some([0.0, -1.0, 0.0]));
        assert_eq!(d.fall().upright_reference(), Some([0.0, -1.0, 0.0]));
        assert_eq!(d.fall().learnt_upright(), None, "a hint until the wearer walks");
        assert_eq!(new_detector(&MonitoringSettings::default(), None).fall().upright_reference(), None);
    }

    #[test]
    fn changes_are_seen_once_per_generation() {
        let ch = Changes::default();
        let seen = ch.generation();
        ch.mark_elder(7);
        assert!(ch.changed_since(1, Some(7), seen));
        assert!(!ch.changed_since(1, Some(8), seen));
        assert!(!ch.changed_since(1, None, seen), "an elder id is not a device id");
        assert!(!ch.changed_since(1, Some(7), ch.generation()));
        ch.mark_device(1);
        assert!(ch.changed_since(1, None, seen));
        assert!(!ch.changed_since(2, Some(8), seen));
    }
}
