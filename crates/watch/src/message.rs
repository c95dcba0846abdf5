//! The decoded message: one flat record for every message type, absent values `None`.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// An alarm raised by the watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Alarm {
    /// The SOS button.
    Sos,
    /// Fall detected by the watch.
    Fall,
    /// Battery low.
    LowBattery,
    /// The watch was taken off the wrist.
    Removed,
    /// Left a geofence.
    GeofenceExit,
    /// Entered a geofence.
    GeofenceEnter,
    /// External power cut (trackers with a supply).
    PowerCut,
    /// An alarm frame (3G `AL…`, IW `AP10`) whose alarm field could not be read (left out or
    /// malformed): the watch raised something, and the operator must see it.
    Unreadable,
}

/// A command the watch confirms having received: the command word as the server sent it
/// (3G `SOS`, `PHB`, `PHB2`, `UPLOAD` …, upper case; IW `BP12`, `BP14` …) and, for IW, the
/// journal number the watch echoes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Confirmation {
    pub command: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub journal: Option<u32>,
}

impl Confirmation {
    /// Whether this confirmation (from the watch) answers `sent` (what the server expects):
    /// the same command, and the same journal number when both carry one.
    pub fn answers(&self, sent: &Confirmation) -> bool {
        self.command == sent.command
            && match (self.journal, sent.journal) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }
}

/// One cell tower heard by the watch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CellTower {
    pub mcc: u16,
    pub mnc: u16,
    pub lac: u32,
    pub cid: u32,
    /// Signal as the watch reports it (0–255 scale or dBm, depending on the model).
    pub rssi: Option<i32>,
}

/// One Wi-Fi access point heard by the watch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Wifi {
    /// The network name as sent (bytes that are not UTF-8 are replaced).
    pub ssid: String,
    /// Lower case, colon separated.
    pub mac: String,
    /// Signal as the watch reports it (dBm, or a positive 0–100 level on IW watches).
    pub rssi: Option<i32>,
}

/// A decoded watch message. Every message type fills the fields it carries and leaves the
/// others `None`; unknown types carry just `device_id`, `maker` and `type`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WatchMessage {
    /// The 3G header's device ID, or the IMEI of an IW login (`None` for other IW frames unless
    /// the caller passed the session's IMEI in [`crate::DecodeOptions::device_id`]).
    pub device_id: Option<String>,
    /// The 3G maker code (`3G`, `SG` …), or `IW`.
    pub maker: String,
    /// The message type exactly as sent (`UD`, `AL`, `bphrt`, `AP01` …).
    #[serde(rename = "type")]
    pub kind: String,
    /// When the position was taken, in UTC (positions only; see the README for time zones).
    pub time: Option<DateTime<Utc>>,
    /// GPS fix valid (`A`) or not (`V`).
    pub valid: Option<bool>,
    /// WGS-84 degrees as the watch reports them, south negative.
    pub lat: Option<f64>,
    /// WGS-84 degrees as the watch reports them, west negative.
    pub lon: Option<f64>,
    pub speed_kmh: Option<f64>,
    /// Degrees from north.
    pub course: Option<f64>,
    /// Metres.
    pub altitude: Option<f64>,
    pub satellites: Option<u16>,
    /// GSM signal as the watch reports it (a 0–100 level on most models).
    pub rssi: Option<i32>,
    /// Battery, percent (values above 100 are dropped).
    pub battery: Option<u8>,
    /// Pedometer steps today.
    pub steps: Option<u32>,
    /// Alarms raised by this message (may be several).
    pub alarms: Vec<Alarm>,
    /// Beats per minute (a reading of 0 means no reading and gives `None`).
    pub heart_rate: Option<u16>,
    /// mmHg.
    pub bp_systolic: Option<u16>,
    /// mmHg.
    pub bp_diastolic: Option<u16>,
    /// Blood oxygen saturation, percent.
    pub spo2: Option<u8>,
    /// Body temperature, °C.
    pub temperature: Option<f64>,
    pub cells: Vec<CellTower>,
    pub wifi: Vec<Wifi>,
    /// The exact frame the server must send back, or `None` when none is due.
    pub reply: Option<String>,
    /// The server command this frame confirms, when it is the watch's receipt for one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirms: Option<Confirmation>,
    /// An alarm-bearing frame that could not be decoded whole: the first field that could
    /// not be read. The message keeps its alarms and whatever else was read, with the
    /// position marked invalid when the position was the problem. `None` for a frame decoded
    /// whole (frames without alarms that cannot be decoded whole are errors instead).
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "crate::error::serialize_partial")]
    pub undecoded: Option<crate::error::WatchError>,
}

impl WatchMessage {
    /// A message with only the identity fields set.
    pub fn new(device_id: Option<String>, maker: impl Into<String>, kind: impl Into<String>) -> Self {
        WatchMessage {
            device_id,
            maker: maker.into(),
            kind: kind.into(),
            time: None,
            valid: None,
            lat: None,
            lon: None,
            speed_kmh: None,
            course: None,
            altitude: None,
            satellites: None,
            rssi: None,
            battery: None,
            steps: None,
            alarms: Vec::new(),
            heart_rate: None,
            bp_systolic: None,
            bp_diastolic: None,
            spo2: None,
            temperature: None,
            cells: Vec::new(),
            wifi: Vec::new(),
            reply: None,
            confirms: None,
            undecoded: None,
        }
    }

    /// The reply as bytes to write to the socket.
    pub fn reply_bytes(&self) -> Option<&[u8]> {
        self.reply.as_deref().map(str::as_bytes)
    }

    /// Whether the frame carried an alarm but could not be decoded whole ([`Self::undecoded`]).
    pub fn is_partial(&self) -> bool {
        self.undecoded.is_some()
    }

    /// Whether the message carries a position (latitude and longitude).
    pub fn has_position(&self) -> bool {
        self.lat.is_some() && self.lon.is_some()
    }

    pub(crate) fn add_alarm(&mut self, alarm: Alarm) {
        if !self.alarms.contains(&alarm) {
            self.alarms.push(alarm);
        }
    }
}
