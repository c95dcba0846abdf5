//! The alarm side of the store: alarms with their timelines and notification attempts, the
//! device-message ledger that makes retransmissions idempotent, and the latest device state.
//!
//! The store decides nothing about an alarm: the response service hands it the decided case,
//! its timeline entry and its next due time, and it writes them in one transaction with a
//! version check (the records themselves are `zhulao-alarms` types).
//!
//! Invariants: raising an alarm, recording the device message that raised it and writing the
//! first timeline entry commit together, so a message acknowledged after `raise_alarm`
//! returns is never lost and a retransmission is never a second alarm; at most one alarm per
//! subject (elder, or device when unbound) and kind is open at a time (`open_key` is unique).

use async_trait::async_trait;
use zhulao_alarms::{AlarmCase, AlarmKind};
pub use zhulao_alarms::{
    AlarmEvent, AlarmLocation, AlarmRow, AlarmSource, LocationSource, NewAlarm, NewAlarmEvent, RaiseDecision,
    Raised,
};

use crate::{Page, Result};

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

/// Alarm persistence; a supertrait of [`crate::Store`], so every store has it. Only the
/// response service writes through it.
#[async_trait]
pub trait AlarmStore: Send + Sync {
    /// The open alarm of this subject (the elder, else the device) and kind, if any.
    async fn open_alarm(
        &self,
        elder_id: Option<i64>,
        device_id: Option<i64>,
        kind: AlarmKind,
    ) -> Result<Option<AlarmRow>>;
    /// Writes a decided raise in one transaction: the device message (its id is the dedup
    /// key: a message already recorded writes nothing and is `Raised::Duplicate`), the new
    /// alarm or the repeat, the timeline entry and the audit entry. The open alarm having
    /// moved since the decision is [`crate::StoreError::Stale`] (repeat) or
    /// [`crate::StoreError::Conflict`] (another open alarm appeared): decide again.
    async fn commit_raise(
        &self,
        a: &NewAlarm,
        decision: &RaiseDecision,
        event: &NewAlarmEvent,
    ) -> Result<Raised>;
    /// Records a device message that raised no alarm (a cancel press, a service call) so a
    /// retransmission is recognised. `false` if it was already recorded.
    async fn record_device_message(&self, device_id: i64, msg_id: &str) -> Result<bool>;
    /// Whether the device's message was already recorded.
    async fn device_message_seen(&self, device_id: i64, msg_id: &str) -> Result<bool>;
    async fn alarm(&self, id: i64) -> Result<AlarmRow>;
    /// Stores the case after one decided step, if nobody else changed it since
    /// `expected_version` ([`crate::StoreError::Stale`] otherwise), with its next due time
    /// and its timeline and audit entries.
    async fn save_alarm(
        &self,
        id: i64,
        expected_version: i64,
        case: &AlarmCase,
        next_due_at: Option<i64>,
        event: &NewAlarmEvent,
    ) -> Result<AlarmRow>;
    async fn list_alarms(&self, f: &AlarmFilter) -> Result<Page<AlarmRow>>;
    /// Open alarms whose next timer is due at `now`, oldest due first.
    async fn due_alarms(&self, now: i64, limit: i64) -> Result<Vec<AlarmRow>>;
    /// The earliest pending timer of any open alarm.
    async fn next_alarm_due(&self) -> Result<Option<i64>>;
    async fn alarm_events(&self, alarm_id: i64) -> Result<Vec<AlarmEvent>>;
    async fn record_notifications(&self, alarm_id: i64, attempts: &[NotificationRecord]) -> Result<()>;
    async fn alarm_notifications(&self, alarm_id: i64) -> Result<Vec<NotificationRecord>>;
}

/// What the gateway keeps about devices between messages: latest state, learnt upright,
/// settings waiting for a watch; a supertrait of [`crate::Store`].
#[async_trait]
pub trait DeviceStateStore: Send + Sync {
    /// Upserts many device states in one transaction.
    async fn upsert_device_states(&self, states: &[DeviceState]) -> Result<()>;
    async fn device_state(&self, device_id: i64) -> Result<Option<DeviceState>>;
    /// Every device's learnt upright direction (`DeviceState::upright`), for a starting gateway.
    async fn learnt_uprights(&self) -> Result<Vec<(i64, [f32; 3])>>;
    /// Keeps the latest settings pushed to a device (its protocol's encoding) until a
    /// transport that does not keep them itself — a TCP watch logging in — takes them.
    async fn queue_device_config(&self, device_id: i64, payload: &str) -> Result<()>;
    /// The device's queued settings with when they were queued (their version), left in
    /// place: they are removed only once the device confirmed them ([`Self::clear_device_config`]).
    async fn pending_device_config(&self, device_id: i64) -> Result<Option<(String, i64)>>;
    /// Removes the device's queued settings if they are still the ones queued at `queued_at`
    /// (settings queued since are kept for the next delivery); whether they were removed.
    async fn clear_device_config(&self, device_id: i64, queued_at: i64) -> Result<bool>;
    /// Every active device bound to an active elder in `scope`, with its latest state, in
    /// device id order (the big screen's map).
    async fn wearer_states(&self, scope: &zhulao_domain::ElderScope) -> Result<Vec<WearerState>>;
}
