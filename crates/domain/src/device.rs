//! Wearables and home devices, and their binding to elders.

use crate::code_enum;
use crate::error::{Errors, FieldError, optional_text, required_text};

code_enum! {
    DeviceKind {
        /// Motion sensor (fall detection), SOS button, GPS.
        Pendant = ("pendant", "智能胸牌", "pendant"),
        /// Heart rate, blood pressure, SpO2, GPS, SOS.
        Watch = ("watch", "智能手表", "watch"),
        BedsideButton = ("bedside_button", "床头呼叫器", "bedside button"),
        SmokeDetector = ("smoke_detector", "烟感报警器", "smoke detector"),
        DoorSensor = ("door_sensor", "门磁", "door sensor"),
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Device {
    pub id: i64,
    /// The maker's serial number or IMEI — the identity the device presents.
    pub serial: String,
    pub kind: DeviceKind,
    pub model: String,
    pub elder_id: Option<i64>,
    pub active: bool,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewDevice {
    pub serial: String,
    pub kind: DeviceKind,
    pub model: String,
}

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct DeviceInput {
    pub serial: String,
    pub kind: String,
    pub model: String,
}

impl DeviceInput {
    pub fn validate(&self) -> Result<NewDevice, Vec<FieldError>> {
        let mut errs = Errors::default();
        let serial = errs.take(required_text("serial", &self.serial, 40).and_then(|s| {
            if s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                Ok(s)
            } else {
                Err(FieldError::new(
                    "serial",
                    "serial_format",
                    "设备编号只能包含字母、数字、-、_",
                    "a serial has letters, digits, - and _ only",
                ))
            }
        }));
        let kind = errs.take(DeviceKind::parse_field("kind", &self.kind));
        let model = errs.take(optional_text("model", &self.model, 60));
        errs.check()?;
        Ok(NewDevice {
            serial: serial.expect("checked"),
            kind: kind.expect("checked"),
            model: model.flatten().unwrap_or_default(),
        })
    }
}

/// One period during which a device was bound to an elder.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceBinding {
    pub device_id: i64,
    pub elder_id: i64,
    pub bound_at: i64,
    pub unbound_at: Option<i64>,
    pub bound_by: i64,
}
