//! Uplink payloads: the JSON reports (vital, loc, event, battery, hb, status), the [`Uplink`] enum
//! and [`decode_uplink`].
//!
//! Each JSON type is read through a private "raw" twin whose numbers are plain `f64` and whose
//! enumerations are plain strings, then validated, so a bad value is reported with its field
//! name (`hr out of range (expected 20..=250)`) rather than as a JSON type error. Unknown fields
//! are ignored for forward compatibility; `null` counts as absent.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{DecodeError, clip};
use crate::motion::MotionBatch;
use crate::topic::Kind;
use crate::{MAX_PAYLOAD, check_time};

/// Longest event id, in bytes (printable ASCII, no spaces).
pub const MAX_EVENT_ID_LEN: usize = 64;
/// Longest `fw` and `model` text in a status report, in characters.
pub const MAX_STATUS_TEXT: usize = 32;

// --- shared helpers (also used by the downlink) -------------------------------------------

/// Size, UTF-8 and JSON syntax checks, then deserialisation into `R`.
pub(crate) fn parse_json<R: DeserializeOwned>(payload: &[u8]) -> Result<R, DecodeError> {
    if payload.len() > MAX_PAYLOAD {
        return Err(DecodeError::TooLarge { len: payload.len() });
    }
    let text =
        std::str::from_utf8(payload).map_err(|e| DecodeError::NotUtf8 { valid_up_to: e.valid_up_to() })?;
    if text.trim().is_empty() {
        return Err(DecodeError::Empty);
    }
    serde_json::from_str(text).map_err(|e| DecodeError::BadJson { detail: clip(&e.to_string()) })
}

/// JSON bytes of a value. The protocol's types only have string keys, so this cannot fail.
pub(crate) fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

pub(crate) fn required<T>(field: &'static str, v: Option<T>) -> Result<T, DecodeError> {
    v.ok_or(DecodeError::Missing { field })
}

/// A JSON timestamp (a number of Unix ms; a fraction is dropped) within 2020..2100.
fn time(field: &'static str, v: f64) -> Result<i64, DecodeError> {
    // `as` saturates (and maps NaN to 0), so an absurd number becomes an out-of-range time.
    check_time(field, v as i64)
}

/// An integer field: the JSON number rounded to the nearest integer, within `lo..=hi`.
pub(crate) fn int(
    field: &'static str,
    v: f64,
    lo: i64,
    hi: i64,
    range: &'static str,
) -> Result<i64, DecodeError> {
    let r = v.round();
    if r >= lo as f64 && r <= hi as f64 {
        Ok(r as i64)
    } else {
        Err(DecodeError::OutOfRange { field, range })
    }
}

/// A real field within `lo..=hi` (NaN is out of range).
pub(crate) fn real(
    field: &'static str,
    v: f64,
    lo: f64,
    hi: f64,
    range: &'static str,
) -> Result<f64, DecodeError> {
    if (lo..=hi).contains(&v) { Ok(v) } else { Err(DecodeError::OutOfRange { field, range }) }
}

/// An optional WGS-84 position: `lat` and `lon` come together or not at all.
fn position(lat: Option<f64>, lon: Option<f64>) -> Result<Option<(f64, f64)>, DecodeError> {
    match (lat, lon) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(DecodeError::Missing { field: "lon" }),
        (None, Some(_)) => Err(DecodeError::Missing { field: "lat" }),
        (Some(lat), Some(lon)) => Ok(Some((
            real("lat", lat, -90.0, 90.0, "-90..=90")?,
            real("lon", lon, -180.0, 180.0, "-180..=180")?,
        ))),
    }
}

/// An identifier: 1..=`max` bytes of printable ASCII without spaces.
pub(crate) fn ascii_id(field: &'static str, s: String, max: usize) -> Result<String, DecodeError> {
    if (1..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(s)
    } else {
        Err(DecodeError::BadText { field, max })
    }
}

/// A text: 1..=`max` characters, no control characters.
pub(crate) fn text(field: &'static str, s: String, max: usize) -> Result<String, DecodeError> {
    let n = s.chars().count();
    if (1..=max).contains(&n) && !s.chars().any(char::is_control) {
        Ok(s)
    } else {
        Err(DecodeError::BadText { field, max })
    }
}

/// Defines a closed vocabulary carried as a snake_case string.
macro_rules! vocabulary {
    ($(#[$m:meta])* $name:ident, $field:literal { $($(#[$vm:meta])* $variant:ident = $s:literal,)+ }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vm])* #[serde(rename = $s)] $variant,)+
        }

        impl $name {
            /// Every value.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The wire value.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $s,)+
                }
            }

            /// Parses the wire value.
            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $($s => Some($name::$variant),)+
                    _ => None,
                }
            }

            #[allow(dead_code)]
            pub(crate) fn parse_field(s: String) -> Result<Self, DecodeError> {
                Self::parse(&s).ok_or_else(|| DecodeError::UnknownValue { field: $field, value: $crate::error::clip(&s) })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use vocabulary;

// --- vital -----------------------------------------------------------------------------

/// `up/vital`: one set of vital-sign measurements; at least one is present.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawVital")]
pub struct VitalReport {
    /// Unix ms of the measurement.
    #[serde(rename = "t")]
    pub t_ms: i64,
    /// Heart rate, bpm (20..=250).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hr: Option<u16>,
    /// Systolic blood pressure, mmHg (50..=260).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sbp: Option<u16>,
    /// Diastolic blood pressure, mmHg (30..=160, below `sbp`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dbp: Option<u16>,
    /// Oxygen saturation, % (50..=100).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spo2: Option<u8>,
    /// Body temperature, °C (30.0..=43.0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temp: Option<f64>,
}

#[derive(Deserialize)]
#[serde(rename = "VitalReport")]
struct RawVital {
    t: Option<f64>,
    hr: Option<f64>,
    sbp: Option<f64>,
    dbp: Option<f64>,
    spo2: Option<f64>,
    temp: Option<f64>,
}

impl TryFrom<RawVital> for VitalReport {
    type Error = DecodeError;

    fn try_from(r: RawVital) -> Result<Self, DecodeError> {
        let t_ms = time("t", required("t", r.t)?)?;
        if r.hr.is_none() && r.sbp.is_none() && r.dbp.is_none() && r.spo2.is_none() && r.temp.is_none() {
            return Err(DecodeError::Missing { field: "hr|sbp|dbp|spo2|temp" });
        }
        let hr = r.hr.map(|v| int("hr", v, 20, 250, "20..=250")).transpose()?;
        let sbp = r.sbp.map(|v| int("sbp", v, 50, 260, "50..=260")).transpose()?;
        let dbp = r.dbp.map(|v| int("dbp", v, 30, 160, "30..=160")).transpose()?;
        if let (Some(s), Some(d)) = (sbp, dbp)
            && d >= s
        {
            return Err(DecodeError::OutOfRange { field: "dbp", range: "below sbp" });
        }
        let spo2 = r.spo2.map(|v| int("spo2", v, 50, 100, "50..=100")).transpose()?;
        let temp = r.temp.map(|v| real("temp", v, 30.0, 43.0, "30.0..=43.0")).transpose()?;
        Ok(VitalReport {
            t_ms,
            hr: hr.map(|v| v as u16),
            sbp: sbp.map(|v| v as u16),
            dbp: dbp.map(|v| v as u16),
            spo2: spo2.map(|v| v as u8),
            temp,
        })
    }
}

// --- location --------------------------------------------------------------------------

vocabulary! {
    /// How a position was obtained.
    Fix, "fix" {
        /// Satellite fix.
        Gps = "gps",
        /// Wi-Fi positioning.
        Wifi = "wifi",
        /// Cell-tower positioning.
        Cell = "cell",
        /// No fix (lat/lon may be absent).
        None = "none",
    }
}

/// `up/loc`: a WGS-84 position. `lat`/`lon` are present unless `fix` is `none`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawLocation")]
pub struct LocationReport {
    /// Unix ms of the fix.
    #[serde(rename = "t")]
    pub t_ms: i64,
    /// WGS-84 latitude, degrees (-90..=90).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lat: Option<f64>,
    /// WGS-84 longitude, degrees (-180..=180).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lon: Option<f64>,
    /// Estimated accuracy radius, metres (0..=100000).
    #[serde(rename = "acc", skip_serializing_if = "Option::is_none")]
    pub acc_m: Option<f64>,
    pub fix: Fix,
}

impl LocationReport {
    /// `(lat, lon)` when the report has a position.
    pub fn position(&self) -> Option<(f64, f64)> {
        self.lat.zip(self.lon)
    }
}

#[derive(Deserialize)]
#[serde(rename = "LocationReport")]
struct RawLocation {
    t: Option<f64>,
    lat: Option<f64>,
    lon: Option<f64>,
    acc: Option<f64>,
    fix: Option<String>,
}

impl TryFrom<RawLocation> for LocationReport {
    type Error = DecodeError;

    fn try_from(r: RawLocation) -> Result<Self, DecodeError> {
        let t_ms = time("t", required("t", r.t)?)?;
        let fix = Fix::parse_field(required("fix", r.fix)?)?;
        let pos = position(r.lat, r.lon)?;
        if pos.is_none() && fix != Fix::None {
            return Err(DecodeError::Missing { field: "lat" });
        }
        let acc_m = r.acc.map(|v| real("acc", v, 0.0, 100_000.0, "0..=100000")).transpose()?;
        Ok(LocationReport { t_ms, lat: pos.map(|p| p.0), lon: pos.map(|p| p.1), acc_m, fix })
    }
}

// --- event -----------------------------------------------------------------------------

vocabulary! {
    /// What happened on the device.
    EventKind, "type" {
        /// The wearer pressed the SOS button.
        Sos = "sos",
        /// The device detected a fall.
        Fall = "fall",
        /// The bedside call button was pressed.
        Bedside = "bedside",
        /// A non-urgent service request (meal, cleaning, a call back).
        ServiceCall = "service_call",
        /// The wearable was taken off.
        Removed = "removed",
        /// The wearable was put on.
        Worn = "worn",
        /// The wearer cancelled an alarm on the device.
        Cancel = "cancel",
    }
}

/// `up/event`: a discrete event, kept and retransmitted by the device until acknowledged
/// by a `down/ack` with the same `id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawEvent")]
pub struct DeviceEvent {
    /// Device-chosen id, 1..=64 printable ASCII characters without spaces, unique per device;
    /// the server deduplicates retransmissions by it and acknowledges it.
    pub id: String,
    /// Unix ms of the event.
    #[serde(rename = "t")]
    pub t_ms: i64,
    #[serde(rename = "type")]
    pub kind: EventKind,
    /// WGS-84 latitude, when the device had a fix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lat: Option<f64>,
    /// WGS-84 longitude, when the device had a fix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lon: Option<f64>,
    /// Device-side confidence of a fall, 0..=1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conf: Option<f64>,
}

impl DeviceEvent {
    /// `(lat, lon)` when the event carries a position.
    pub fn position(&self) -> Option<(f64, f64)> {
        self.lat.zip(self.lon)
    }
}

#[derive(Deserialize)]
#[serde(rename = "DeviceEvent")]
struct RawEvent {
    id: Option<String>,
    t: Option<f64>,
    #[serde(rename = "type")]
    kind: Option<String>,
    lat: Option<f64>,
    lon: Option<f64>,
    conf: Option<f64>,
}

impl TryFrom<RawEvent> for DeviceEvent {
    type Error = DecodeError;

    fn try_from(r: RawEvent) -> Result<Self, DecodeError> {
        let id = ascii_id("id", required("id", r.id)?, MAX_EVENT_ID_LEN)?;
        let t_ms = time("t", required("t", r.t)?)?;
        let kind = EventKind::parse_field(required("type", r.kind)?)?;
        let pos = position(r.lat, r.lon)?;
        let conf = r.conf.map(|v| real("conf", v, 0.0, 1.0, "0..=1")).transpose()?;
        Ok(DeviceEvent { id, t_ms, kind, lat: pos.map(|p| p.0), lon: pos.map(|p| p.1), conf })
    }
}

/// The valid `id` of an event payload, even when the rest of it is refused — so that the
/// server can answer a refused event with `ok: false` and the device stops retransmitting it.
pub fn peek_event_id(payload: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct IdOnly {
        id: Option<String>,
    }
    let r: IdOnly = parse_json(payload).ok()?;
    ascii_id("id", r.id?, MAX_EVENT_ID_LEN).ok()
}

// --- battery ---------------------------------------------------------------------------

/// `up/battery`: battery level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawBattery")]
pub struct BatteryReport {
    #[serde(rename = "t")]
    pub t_ms: i64,
    /// Percent, 0..=100.
    pub pct: u8,
    /// Whether the device is on its charger (absent means false).
    pub charging: bool,
}

#[derive(Deserialize)]
#[serde(rename = "BatteryReport")]
struct RawBattery {
    t: Option<f64>,
    pct: Option<f64>,
    charging: Option<bool>,
}

impl TryFrom<RawBattery> for BatteryReport {
    type Error = DecodeError;

    fn try_from(r: RawBattery) -> Result<Self, DecodeError> {
        let t_ms = time("t", required("t", r.t)?)?;
        let pct = int("pct", required("pct", r.pct)?, 0, 100, "0..=100")? as u8;
        Ok(BatteryReport { t_ms, pct, charging: r.charging.unwrap_or(false) })
    }
}

// --- heartbeat -------------------------------------------------------------------------

/// `up/hb`: "still here". The payload may be empty (then `t_ms` is `None`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "RawHeartbeat")]
pub struct Heartbeat {
    #[serde(rename = "t", skip_serializing_if = "Option::is_none")]
    pub t_ms: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename = "Heartbeat")]
struct RawHeartbeat {
    t: Option<f64>,
}

impl TryFrom<RawHeartbeat> for Heartbeat {
    type Error = DecodeError;

    fn try_from(r: RawHeartbeat) -> Result<Self, DecodeError> {
        Ok(Heartbeat { t_ms: r.t.map(|t| time("t", t)).transpose()? })
    }
}

// --- status ----------------------------------------------------------------------------

/// `up/status`: retained; `{"online":true,…}` on connect, `{"online":false}` as the last will.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawStatus")]
pub struct StatusReport {
    pub online: bool,
    /// Firmware version, 1..=32 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fw: Option<String>,
    /// Device model, 1..=32 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

impl StatusReport {
    /// The last-will payload, `{"online":false}`.
    pub fn offline() -> Self {
        StatusReport { online: false, fw: None, model: None }
    }
}

#[derive(Deserialize)]
#[serde(rename = "StatusReport")]
struct RawStatus {
    online: Option<bool>,
    fw: Option<String>,
    model: Option<String>,
}

impl TryFrom<RawStatus> for StatusReport {
    type Error = DecodeError;

    fn try_from(r: RawStatus) -> Result<Self, DecodeError> {
        Ok(StatusReport {
            online: required("online", r.online)?,
            fw: r.fw.map(|s| text("fw", s, MAX_STATUS_TEXT)).transpose()?,
            model: r.model.map(|s| text("model", s, MAX_STATUS_TEXT)).transpose()?,
        })
    }
}

// --- the uplink ------------------------------------------------------------------------

/// Any decoded uplink message.
#[derive(Debug, Clone, PartialEq)]
pub enum Uplink {
    Motion(MotionBatch),
    Vital(VitalReport),
    Location(LocationReport),
    Event(DeviceEvent),
    Battery(BatteryReport),
    Heartbeat(Heartbeat),
    Status(StatusReport),
}

impl Uplink {
    /// The kind (last topic level) this message is published under.
    pub fn kind(&self) -> Kind {
        match self {
            Uplink::Motion(_) => Kind::Motion,
            Uplink::Vital(_) => Kind::Vital,
            Uplink::Location(_) => Kind::Location,
            Uplink::Event(_) => Kind::Event,
            Uplink::Battery(_) => Kind::Battery,
            Uplink::Heartbeat(_) => Kind::Heartbeat,
            Uplink::Status(_) => Kind::Status,
        }
    }

    /// The payload bytes: binary for motion, JSON for the rest.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Uplink::Motion(m) => m.encode(),
            Uplink::Vital(v) => to_json(v),
            Uplink::Location(v) => to_json(v),
            Uplink::Event(v) => to_json(v),
            Uplink::Battery(v) => to_json(v),
            Uplink::Heartbeat(v) => to_json(v),
            Uplink::Status(v) => to_json(v),
        }
    }

    /// The device's own timestamp of the message (the first sample for motion), when it has one.
    pub fn t_ms(&self) -> Option<i64> {
        match self {
            Uplink::Motion(m) => Some(m.t0_ms),
            Uplink::Vital(v) => Some(v.t_ms),
            Uplink::Location(v) => Some(v.t_ms),
            Uplink::Event(v) => Some(v.t_ms),
            Uplink::Battery(v) => Some(v.t_ms),
            Uplink::Heartbeat(v) => v.t_ms,
            Uplink::Status(_) => None,
        }
    }
}

fn json<R, T>(payload: &[u8]) -> Result<T, DecodeError>
where
    R: DeserializeOwned,
    T: TryFrom<R, Error = DecodeError>,
{
    T::try_from(parse_json::<R>(payload)?)
}

/// Decodes the payload of an uplink message of `kind` (from [`crate::parse_topic`]).
///
/// Refuses payloads over 64 KiB, non-UTF-8 JSON, malformed JSON, missing or out-of-range
/// fields, timestamps outside 2020..2100, and downlink kinds. Never panics.
pub fn decode_uplink(kind: Kind, payload: &[u8]) -> Result<Uplink, DecodeError> {
    if payload.len() > MAX_PAYLOAD {
        return Err(DecodeError::TooLarge { len: payload.len() });
    }
    match kind {
        Kind::Motion => MotionBatch::decode(payload).map(Uplink::Motion),
        Kind::Vital => json::<RawVital, _>(payload).map(Uplink::Vital),
        Kind::Location => json::<RawLocation, _>(payload).map(Uplink::Location),
        Kind::Event => json::<RawEvent, _>(payload).map(Uplink::Event),
        Kind::Battery => json::<RawBattery, _>(payload).map(Uplink::Battery),
        Kind::Heartbeat if payload.trim_ascii().is_empty() => Ok(Uplink::Heartbeat(Heartbeat::default())),
        Kind::Heartbeat => json::<RawHeartbeat, _>(payload).map(Uplink::Heartbeat),
        Kind::Status => json::<RawStatus, _>(payload).map(Uplink::Status),
        Kind::Ack | Kind::Config | Kind::Feedback => Err(DecodeError::WrongDirection { kind }),
    }
}
