//! Per-elder monitoring settings (监护设置): vital-sign limits a doctor sets over the platform
//! defaults, safe zones for an elder with dementia, and the inactivity period.
//!
//! The settings travel as JSON (the API, the `elders.monitoring` column) and are validated
//! whole by [`MonitoringSettings::validate`], every bad field reported at once.

use crate::code_enum;
use crate::error::{Errors, FieldError, required_text};
use crate::geo::GeoPoint;

code_enum! {
    /// A vital sign with per-elder limits.
    VitalSign {
        HeartRate = ("heart_rate", "心率", "heart rate"),
        Systolic = ("systolic", "收缩压", "systolic pressure"),
        Diastolic = ("diastolic", "舒张压", "diastolic pressure"),
        Spo2 = ("spo2", "血氧", "SpO2"),
        Temperature = ("temperature", "体温", "body temperature"),
    }
}

impl VitalSign {
    /// The range a limit may be set in, and its unit.
    pub fn settable(self) -> (f64, f64, &'static str) {
        match self {
            VitalSign::HeartRate => (20.0, 250.0, "次/分"),
            VitalSign::Systolic => (60.0, 260.0, "mmHg"),
            VitalSign::Diastolic => (30.0, 160.0, "mmHg"),
            VitalSign::Spo2 => (70.0, 100.0, "%"),
            VitalSign::Temperature => (34.0, 42.0, "℃"),
        }
    }
}

/// Alarm when the sign stays below `low` or above `high` (the detector's sustain and
/// hysteresis rules apply).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct VitalLimit {
    pub kind: VitalSign,
    pub low: f64,
    pub high: f64,
}

/// The shape of a safe zone.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "shape", rename_all = "snake_case", deny_unknown_fields)]
pub enum ZoneShape {
    Circle {
        center: GeoPoint,
        radius_m: f64,
    },
    /// Vertices in order, closed implicitly.
    Polygon {
        points: Vec<GeoPoint>,
    },
}

/// A place the elder may be without an alarm (home, the community, a daughter's flat).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SafeZone {
    pub name: String,
    #[serde(flatten)]
    pub shape: ZoneShape,
}

/// Everything about one elder's monitoring that differs from the platform defaults. The
/// default (nothing set) means: default vital limits, no geofence, the default inactivity period.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct MonitoringSettings {
    /// Limits per sign; signs not listed keep the defaults.
    pub vital_limits: Vec<VitalLimit>,
    /// Safe zones; leaving all of them raises a geofence alarm. Empty: no geofence.
    pub safe_zones: Vec<SafeZone>,
    /// Minutes without movement within waking hours before an inactivity alarm.
    pub inactivity_min: Option<u32>,
}

/// At most this many safe zones per elder …
pub const MAX_ZONES: usize = 10;
/// … and vertices per polygon.
pub const MAX_VERTICES: usize = 64;

impl MonitoringSettings {
    /// Checks every field (names trimmed); all errors at once.
    pub fn validate(mut self) -> Result<Self, Vec<FieldError>> {
        let mut errs = Errors::default();
        let mut seen = Vec::new();
        for (i, l) in self.vital_limits.iter().enumerate() {
            let field = format!("vital_limits[{i}]");
            if seen.contains(&l.kind) {
                errs.push(FieldError::new(
                    &field,
                    "duplicate",
                    format!("{} 重复设置", l.kind.label_zh()),
                    format!("{} is set twice", l.kind.label_en()),
                ));
            }
            seen.push(l.kind);
            let (min, max, unit) = l.kind.settable();
            let in_range = |v: f64| v.is_finite() && (min..=max).contains(&v);
            if !in_range(l.low) || !in_range(l.high) {
                errs.push(FieldError::new(
                    &field,
                    "out_of_range",
                    format!("{} 阈值应在 {min}~{max} {unit} 之间", l.kind.label_zh()),
                    format!("{} limits must be within {min}–{max} {unit}", l.kind.label_en()),
                ));
            } else if l.low >= l.high {
                errs.push(FieldError::new(
                    &field,
                    "low_not_below_high",
                    format!("{} 下限应低于上限", l.kind.label_zh()),
                    format!("{} low limit must be below the high limit", l.kind.label_en()),
                ));
            }
        }
        if self.safe_zones.len() > MAX_ZONES {
            errs.push(FieldError::new(
                "safe_zones",
                "too_many",
                format!("安全区最多 {MAX_ZONES} 个"),
                format!("at most {MAX_ZONES} safe zones"),
            ));
        }
        for (i, z) in self.safe_zones.iter_mut().enumerate() {
            let field = format!("safe_zones[{i}]");
            if let Some(name) = errs.take(required_text(&format!("{field}.name"), &z.name, 40)) {
                z.name = name;
            }
            match &z.shape {
                ZoneShape::Circle { center, radius_m } => {
                    errs.take(
                        GeoPoint::new(center.lat, center.lon).map_err(|e| e.at(format!("{field}.center"))),
                    );
                    if !(radius_m.is_finite() && (50.0..=20_000.0).contains(radius_m)) {
                        errs.push(FieldError::new(
                            format!("{field}.radius_m"),
                            "out_of_range",
                            "安全区半径应在 50~20000 米之间",
                            "a safe zone's radius must be 50–20,000 m",
                        ));
                    }
                }
                ZoneShape::Polygon { points } => {
                    if !(3..=MAX_VERTICES).contains(&points.len()) {
                        errs.push(FieldError::new(
                            format!("{field}.points"),
                            "vertices",
                            format!("多边形安全区应有 3~{MAX_VERTICES} 个顶点"),
                            format!("a polygon safe zone needs 3–{MAX_VERTICES} vertices"),
                        ));
                    }
                    for (j, p) in points.iter().enumerate() {
                        errs.take(
                            GeoPoint::new(p.lat, p.lon).map_err(|e| e.at(format!("{field}.points[{j}]"))),
                        );
                    }
                }
            }
        }
        if let Some(m) = self.inactivity_min
            && !(30..=24 * 60).contains(&m)
        {
            errs.push(FieldError::new(
                "inactivity_min",
                "out_of_range",
                "无活动报警时长应在 30~1440 分钟之间",
                "the inactivity period must be 30–1,440 minutes",
            ));
        }
        errs.check().map(|()| self)
    }

    /// Whether nothing differs from the defaults.
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(s: &str) -> MonitoringSettings {
        serde_json::from_str(s).expect("parses")
    }

    #[test]
    fn a_full_setting_round_trips() {
        let s = json(
            r#"{"vital_limits":[{"kind":"heart_rate","low":50,"high":110}],
                "safe_zones":[{"name":" 家附近 ","shape":"circle","center":{"lat":40.07,"lon":113.3},"radius_m":500},
                              {"name":"小区","shape":"polygon","points":[{"lat":40.0,"lon":113.0},{"lat":40.0,"lon":113.01},{"lat":40.01,"lon":113.0}]}],
                "inactivity_min":180}"#,
        )
        .validate()
        .expect("valid");
        assert_eq!(s.safe_zones[0].name, "家附近");
        let back: MonitoringSettings = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back, s);
        assert!(MonitoringSettings::default().is_default());
        assert!(json("{}").validate().unwrap().is_default());
    }

    #[test]
    fn every_bad_field_is_reported_in_chinese() {
        let errs = json(
            r#"{"vital_limits":[{"kind":"spo2","low":95,"high":90},{"kind":"spo2","low":88,"high":100},
                                {"kind":"heart_rate","low":10,"high":300}],
                "safe_zones":[{"name":"","shape":"circle","center":{"lat":95,"lon":113},"radius_m":5},
                              {"name":"x","shape":"polygon","points":[{"lat":1,"lon":1}]}],
                "inactivity_min":5}"#,
        )
        .validate()
        .unwrap_err();
        let codes: Vec<(&str, &str)> = errs.iter().map(|e| (e.field.as_str(), e.code)).collect();
        assert_eq!(
            codes,
            [
                ("vital_limits[0]", "low_not_below_high"),
                ("vital_limits[1]", "duplicate"),
                ("vital_limits[2]", "out_of_range"),
                ("safe_zones[0].name", "required"),
                ("safe_zones[0].center", "coordinates"),
                ("safe_zones[0].radius_m", "out_of_range"),
                ("safe_zones[1].points", "vertices"),
                ("inactivity_min", "out_of_range"),
            ]
        );
        assert!(errs[0].zh.contains("血氧"));
    }

    #[test]
    fn unknown_kinds_and_fields_are_refused() {
        assert!(
            serde_json::from_str::<MonitoringSettings>(
                r#"{"vital_limits":[{"kind":"glucose","low":1,"high":2}]}"#
            )
            .is_err()
        );
        assert!(serde_json::from_str::<MonitoringSettings>(r#"{"geofence":[]}"#).is_err());
    }
}
