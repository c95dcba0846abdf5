//! An alarm as data around its lifecycle: a new alarm as a device, a detector or an operator
//! reports it, the stored alarm with its indexed columns, its timeline entries, and what a
//! raise decided. Shared by the response service (which decides), the store (which persists
//! what was decided) and the gateway (which reports), so none of them depends on another for
//! the vocabulary.

use serde::{Deserialize, Serialize};
use zhulao_domain::{Actor, code_enum};

use crate::case::{AlarmCase, AlarmKind};

/// Where an alarm's position came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LocationSource {
    /// The message carried a fix.
    Fix,
    /// No fix in the message: the device's last known position.
    LastKnown,
    /// Nothing from the device: the elder's home.
    Home,
    None,
}

impl LocationSource {
    pub fn as_str(self) -> &'static str {
        match self {
            LocationSource::Fix => "fix",
            LocationSource::LastKnown => "last_known",
            LocationSource::Home => "home",
            LocationSource::None => "none",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [LocationSource::Fix, LocationSource::LastKnown, LocationSource::Home, LocationSource::None]
            .into_iter()
            .find(|l| l.as_str() == s)
    }
}

/// Where the alarm happened (WGS-84).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AlarmLocation {
    pub lat: f64,
    pub lon: f64,
    pub source: LocationSource,
    /// When the position was measured (Unix ms).
    pub at: Option<i64>,
}

code_enum! {
    /// Who reported the alarm.
    AlarmSource {
        /// The device's own event (an SOS press, a pendant's fall flag, the bedside button).
        DeviceEvent = ("device_event", "设备事件", "Device event"),
        /// The platform's detector on the device's stream (fall, vital signs, inactivity …).
        Detector = ("detector", "智能识别", "Detector"),
        /// A 3G/IW watch's alarm bits.
        Watch = ("watch", "手表报警", "Watch"),
        /// Raised by hand in the call centre.
        Operator = ("operator", "人工录入", "Operator"),
    }
}

/// A new alarm (or a repeat of an open one) as the gateway or an operator reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAlarm {
    pub kind: AlarmKind,
    pub elder_id: Option<i64>,
    pub device_id: Option<i64>,
    /// The device's serial (not personal data; consoles and the simulator match by it).
    pub serial: Option<String>,
    /// The elder's region (the device's elder), or the district's code for an unbound device.
    pub region_code: String,
    pub location: Option<AlarmLocation>,
    pub source: AlarmSource,
    /// The impact of a detected fall (Unix ms): the trace and "got up" that follow refer to it.
    pub impact_ms: Option<i64>,
    /// What decided it: fall features, vital values, the event as sent. Evidence to show,
    /// never read back as fields.
    pub detail: serde_json::Value,
    /// The elder's family contacts, for the call chain.
    pub contacts: usize,
    /// The device's message id, when the alarm comes from a message the device retransmits
    /// until acknowledged.
    pub msg_id: Option<String>,
}

/// A stored alarm: its indexed columns and its whole case.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlarmRow {
    pub id: i64,
    pub elder_id: Option<i64>,
    pub device_id: Option<i64>,
    pub serial: Option<String>,
    pub region_code: String,
    pub location: Option<AlarmLocation>,
    pub source: AlarmSource,
    pub impact_ms: Option<i64>,
    pub detail: serde_json::Value,
    pub case: AlarmCase,
    pub next_due_at: Option<i64>,
    pub version: i64,
    pub updated_at: i64,
}

/// What a raise becomes, decided by the response service from the open alarm of the same
/// subject and kind; the store writes exactly this or reports that the open alarm moved.
#[derive(Debug, Clone, PartialEq)]
pub enum RaiseDecision {
    /// A new alarm with this case and first due timer.
    New { case: AlarmCase, next_due_at: Option<i64> },
    /// A repeat merged into the open alarm `id`, read at `expected_version`.
    Repeat { id: i64, expected_version: i64, case: AlarmCase, next_due_at: Option<i64> },
}

/// What a raise did.
#[derive(Debug, Clone, PartialEq)]
pub enum Raised {
    New(AlarmRow),
    /// Merged into the open alarm of the same subject and kind.
    Merged(AlarmRow),
    /// The device already sent this message; nothing was written. `alarm_id` is the alarm it
    /// raised or merged into the first time.
    Duplicate {
        alarm_id: Option<i64>,
    },
}

impl Raised {
    pub fn alarm_id(&self) -> Option<i64> {
        match self {
            Raised::New(a) | Raised::Merged(a) => Some(a.id),
            Raised::Duplicate { alarm_id } => *alarm_id,
        }
    }
}

/// One entry of an alarm's timeline, to write.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAlarmEvent {
    pub actor: Actor,
    /// `operator`, `responder`, `family`, `device`, `system`.
    pub actor_kind: String,
    /// The step: `answer`, `assess`, `dispatch`, `timer`, `fall_trace`, …
    pub kind: String,
    pub detail: serde_json::Value,
    /// What the audit log keeps of it, when not the whole detail (a fall's trace is evidence
    /// for the timeline, not a change to audit).
    pub audit: Option<serde_json::Value>,
}

/// One stored timeline entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlarmEvent {
    pub id: i64,
    pub alarm_id: i64,
    pub at: i64,
    pub actor_id: Option<i64>,
    pub actor: String,
    pub kind: String,
    pub detail: serde_json::Value,
}

/// The acceleration trace around a detected fall, attached to its alarm for the operator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FallTrace {
    pub impact_ms: i64,
    /// `upright`, `reclined`, `lying` or `unknown`, over the last second of the trace.
    pub posture_after: String,
    /// Time of `trace_mg[0]` (Unix ms).
    pub trace_start_ms: i64,
    pub rate_hz: u32,
    /// Acceleration in milli-g, device axes.
    pub trace_mg: Vec<[i16; 3]>,
}
