//! The alarm side of the store: alarms with their timelines and notification attempts, the
//! device-message ledger that makes retransmissions idempotent, and the latest device state.
//!
//! Invariants: raising an alarm, recording the device message that raised it and writing the
//! first timeline entry commit together, so a message acknowledged after `raise_alarm`
//! returns is never lost and a retransmission is never a second alarm; at most one alarm per
//! subject (elder, or device when unbound) and kind is open at a time (`open_key` is unique).

use async_trait::async_trait;
use zhulao_alarms::{AlarmCase, AlarmKind, Policy};

use crate::{Actor, Page, Result};

/// Where an alarm's position came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct AlarmLocation {
    pub lat: f64,
    pub lon: f64,
    pub source: LocationSource,
    /// When the position was measured (Unix ms).
    pub at: Option<i64>,
}

/// A new alarm (or a repeat of an open one) as the gateway or an operator reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAlarm {
    pub kind: AlarmKind,
    pub elder_id: Option<i64>,
    pub device_id: Option<i64>,
    /// The elder's region (the device's elder), or the district's code for an unbound device.
    pub region_code: String,
    pub location: Option<AlarmLocation>,
    /// `device_event`, `detector`, `watch`, `operator`.
    pub source: String,
    /// What decided it: fall features and trace, vital values, the event as sent.
    pub detail: serde_json::Value,
    /// The elder's family contacts, for the call chain.
    pub contacts: usize,
    /// The device's message id, when the alarm comes from a message the device retransmits
    /// until acknowledged.
    pub msg_id: Option<String>,
}

/// A stored alarm: its indexed columns and its whole case.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AlarmRow {
    pub id: i64,
    pub elder_id: Option<i64>,
    pub device_id: Option<i64>,
    pub region_code: String,
    pub location: Option<AlarmLocation>,
    pub source: String,
    pub detail: serde_json::Value,
    pub case: AlarmCase,
    pub next_due_at: Option<i64>,
    pub version: i64,
    pub updated_at: i64,
}

/// What `raise_alarm` did.
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
    /// The step: `answer`, `assess`, `dispatch`, `timer:answer_escalate`, …
    pub kind: String,
    pub detail: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AlarmEvent {
    pub id: i64,
    pub alarm_id: i64,
    pub at: i64,
    pub actor_id: Option<i64>,
    pub actor: String,
    pub kind: String,
    pub detail: serde_json::Value,
}

/// One notification attempt, as recorded on the alarm. `target` is already masked.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NotificationRecord {
    pub at: i64,
    pub channel: String,
    pub target: String,
    /// Why: `family_call`, `escalation`, `dispatch`, …
    pub purpose: String,
    pub attempt: i32,
    pub duration_ms: i64,
    /// `delivered`, `failed`, `failed_permanent`.
    pub outcome: String,
    pub status: Option<i32>,
    pub detail: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlarmFilter {
    /// Alarms of elders in regions under this prefix.
    pub region_prefix: Option<String>,
    /// Only these elders' alarms (family).
    pub elder_ids: Option<Vec<i64>>,
    /// Only alarms this responder is dispatched to.
    pub responder_id: Option<i64>,
    pub open: Option<bool>,
    pub kind: Option<AlarmKind>,
    pub elder_id: Option<i64>,
    /// Raised at or after (Unix ms).
    pub since: Option<i64>,
    /// Raised before (Unix ms).
    pub until: Option<i64>,
    pub offset: i64,
    pub limit: i64,
}

/// The latest state of one device. `None` fields keep the stored value on upsert.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DeviceState {
    pub device_id: i64,
    pub last_seen_at: i64,
    pub online: bool,
    pub battery_pct: Option<i16>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub location_at: Option<i64>,
    pub vitals: Option<serde_json::Value>,
    pub vitals_at: Option<i64>,
    /// The wearer's upright direction the fall detector learnt from walking (device axes,
    /// unit vector), so a restarted gateway starts from it.
    pub upright: Option<[f32; 3]>,
}

/// One bound wearer as the map shows it: the device's latest state, with the elder's region
/// and home position for a device that has not reported a fix yet.
#[derive(Debug, Clone, PartialEq)]
pub struct WearerState {
    pub device_id: i64,
    pub elder_id: i64,
    pub region_code: String,
    /// `None` when the device has never connected.
    pub online: Option<bool>,
    pub last_seen_at: Option<i64>,
    /// The device's last fix (WGS-84), if it has reported one.
    pub fix: Option<(f64, f64)>,
    /// The elder's home (WGS-84), if the record has one.
    pub home: Option<(f64, f64)>,
}

/// Alarm persistence; a supertrait of [`crate::Store`], so every store has it.
#[async_trait]
pub trait AlarmStore: Send + Sync {
    /// Raises an alarm or merges a repeat into the open one, idempotently per device
    /// message, in one transaction with its timeline entry and audit entry.
    async fn raise_alarm(&self, a: &NewAlarm, policy: &Policy) -> Result<Raised>;
    /// Records a device message that raised no alarm (a cancel press, a service call) so a
    /// retransmission is recognised. `false` if it was already recorded.
    async fn record_device_message(&self, device_id: i64, msg_id: &str) -> Result<bool>;
    async fn alarm(&self, id: i64) -> Result<AlarmRow>;
    /// Stores the case after one step, if nobody else changed it since `expected_version`
    /// ([`crate::StoreError::Stale`] otherwise), with its timeline and audit entries.
    async fn save_alarm(
        &self,
        id: i64,
        expected_version: i64,
        case: &AlarmCase,
        policy: &Policy,
        event: &NewAlarmEvent,
    ) -> Result<AlarmRow>;
    /// Adds a timeline entry that changes no step (a fall's trace arriving, the wearer
    /// getting up again), with its audit entry.
    async fn append_alarm_event(&self, alarm_id: i64, event: &NewAlarmEvent) -> Result<()>;
    async fn list_alarms(&self, f: &AlarmFilter) -> Result<Page<AlarmRow>>;
    /// Open alarms whose next timer is due at `now`, oldest due first.
    async fn due_alarms(&self, now: i64, limit: i64) -> Result<Vec<AlarmRow>>;
    /// The earliest pending timer of any open alarm.
    async fn next_alarm_due(&self) -> Result<Option<i64>>;
    async fn alarm_events(&self, alarm_id: i64) -> Result<Vec<AlarmEvent>>;
    async fn record_notifications(&self, alarm_id: i64, attempts: &[NotificationRecord]) -> Result<()>;
    async fn alarm_notifications(&self, alarm_id: i64) -> Result<Vec<NotificationRecord>>;
    /// Upserts many device states in one transaction.
    async fn upsert_device_states(&self, states: &[DeviceState]) -> Result<()>;
    async fn device_state(&self, device_id: i64) -> Result<Option<DeviceState>>;
    /// Every device's learnt upright direction (`DeviceState::upright`), for a starting gateway.
    async fn learnt_uprights(&self) -> Result<Vec<(i64, [f32; 3])>>;
    /// Keeps the latest settings pushed to a device (its protocol's encoding) until a
    /// transport that does not keep them itself — a TCP watch logging in — takes them.
    async fn queue_device_config(&self, device_id: i64, payload: &str) -> Result<()>;
    /// Takes (removes and returns) the device's queued settings.
    async fn take_device_config(&self, device_id: i64) -> Result<Option<String>>;
    /// Every active device bound to an active elder in `scope`, with its latest state, in
    /// device id order (the big screen's map).
    async fn wearer_states(&self, scope: &zhulao_domain::ElderScope) -> Result<Vec<WearerState>>;
}
