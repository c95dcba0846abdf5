//! The response service: raise, act, tick, and the effects that follow each committed step.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde::Serialize;
use zhulao_alarms::{
    AlarmRow, Candidate, Command, Effect, NewAlarm, Raised, TransitionError, TravelMode, rank_by_eta,
};
use zhulao_domain::{Actor, GeoPoint, Role};
use zhulao_store::{AccountFilter, AlarmFilter, NotificationRecord, Store, StoreError};

use crate::decide::{change_name, decide_raise, due, step_event};

use crate::live::{LiveEvent, LiveHub};
use crate::notifier::{
    Addressee, CommandRefused, DeviceLink, DeviceMessage, NoDevices, Notifier, OutgoingNotification,
};
use crate::policy::Policies;

/// Why a step was refused.
#[derive(Debug)]
pub enum ActError {
    /// The step does not fit the alarm's state (409 for the API).
    Transition(TransitionError),
    /// Others kept changing the alarm through every retry (409 for the API: try again).
    Contended,
    Store(StoreError),
}

impl From<StoreError> for ActError {
    fn from(e: StoreError) -> Self {
        ActError::Store(e)
    }
}

impl std::fmt::Display for ActError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ActError::Transition(e) => write!(f, "{e}"),
            ActError::Contended => f.write_str("the alarm kept changing; try again"),
            ActError::Store(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ActError {}

impl zhulao_domain::Coded for ActError {
    fn code(&self) -> &'static str {
        match self {
            ActError::Transition(t) => t.code(),
            ActError::Contended => "alarm_busy",
            ActError::Store(_) => "internal",
        }
    }
    fn zh(&self) -> std::borrow::Cow<'_, str> {
        match self {
            ActError::Transition(t) => t.zh().into(),
            ActError::Contended => "警情正在被其他人同时处理，请稍后重试".into(),
            ActError::Store(_) => "服务器内部错误".into(),
        }
    }
    fn en(&self) -> std::borrow::Cow<'_, str> {
        match self {
            ActError::Transition(t) => t.en().into(),
            ActError::Contended => "the alarm is being changed by someone else; try again".into(),
            ActError::Store(_) => "internal server error".into(),
        }
    }
    fn field(&self) -> Option<&str> {
        Some("alarm")
    }
}

/// Where a responder is, as their phone last reported.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ResponderPosition {
    pub at: GeoPoint,
    pub reported_at: i64,
    pub on_duty: bool,
    pub mode: TravelMode,
}

/// A phone position older than this is not used for dispatch.
const POSITION_TTL_MS: i64 = 30 * 60 * 1000;
/// Concurrent-change retries for one step.
const RETRIES: usize = 5;

/// Counts effect tasks in flight, so tests (and shutdown) can wait for them.
#[derive(Debug, Default)]
struct Tracker {
    running: AtomicUsize,
    idle: tokio::sync::Notify,
    /// Effects that failed (logged each time; counted for `/metrics`).
    failed: std::sync::atomic::AtomicU64,
}

pub struct Response {
    store: Arc<dyn Store>,
    policies: Policies,
    hub: LiveHub,
    notifier: Arc<dyn Notifier>,
    devices: RwLock<Arc<dyn DeviceLink>>,
    positions: Mutex<HashMap<i64, ResponderPosition>>,
    tracker: Tracker,
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response").field("policies", &self.policies).finish_non_exhaustive()
    }
}

type BoxFut = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// The live-feed view of an alarm: what a console needs to place and sort it, no personal data.
/// A responder who could be sent to an alarm, as the console's map shows them.
#[derive(Debug, Clone, PartialEq)]
pub struct RankedResponder {
    pub account_id: i64,
    /// Their phone's last position, or their station's.
    pub at: GeoPoint,
    pub mode: TravelMode,
    /// Straight-line distance to the alarm, metres.
    pub distance_m: f64,
    /// Estimated travel time, seconds.
    pub eta_s: u32,
}

pub fn alarm_summary(a: &AlarmRow) -> serde_json::Value {
    let c = &a.case;
    serde_json::json!({
        "id": a.id,
        "kind": c.kind,
        "kind_zh": c.kind.label_zh(),
        "priority": c.priority,
        "stage": c.stage,
        "stage_zh": c.stage.label_zh(),
        "elder_id": a.elder_id,
        "device_id": a.device_id,
        "serial": a.serial,
        "region_code": a.region_code,
        "raised_at": c.raised_at,
        "answered_at": c.answered_at,
        "answered_by": c.answered_by,
        "repeats": c.repeats,
        "escalation": c.answer_escalation,
        "responder_id": c.current_offer().map(|o| o.responder),
        "on_site_at": c.on_site_at,
        "closed_at": c.closed_at,
        "location": a.location,
        "version": a.version,
    })
}

impl Response {
    pub fn new(
        store: Arc<dyn Store>,
        policies: Policies,
        notifier: Arc<dyn Notifier>,
        hub: LiveHub,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            policies,
            hub,
            notifier,
            devices: RwLock::new(Arc::new(NoDevices)),
            positions: Mutex::new(HashMap::new()),
            tracker: Tracker::default(),
        })
    }

    /// Connects the gateway that holds device connections (it starts after the service).
    pub fn set_device_link(&self, link: Arc<dyn DeviceLink>) {
        *self.devices.write().expect("device link lock") = link;
    }

    pub fn hub(&self) -> &LiveHub {
        &self.hub
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn policies(&self) -> &Policies {
        &self.policies
    }

    fn now(&self) -> i64 {
        self.store.clock().now_ms()
    }

    /// Queues a message for a device (feedback, settings from the console).
    pub fn send_to_device(&self, device_id: i64, msg: DeviceMessage) {
        let link = self.devices.read().expect("device link lock").clone();
        link.send(device_id, msg);
    }

    /// Sends a device-specific command (see [`DeviceLink::command`]).
    pub fn device_command(&self, device_id: i64, command: &serde_json::Value) -> Result<(), CommandRefused> {
        let link = self.devices.read().expect("device link lock").clone();
        link.command(device_id, command)
    }

    /// Tells the gateway an elder's record or monitoring settings changed (see
    /// [`DeviceLink::elder_changed`]).
    pub fn elder_changed(&self, elder_id: i64) {
        let link = self.devices.read().expect("device link lock").clone();
        link.elder_changed(elder_id);
    }

    /// Tells the gateway a device's binding changed (see [`DeviceLink::device_changed`]).
    pub fn device_changed(&self, device_id: i64) {
        let link = self.devices.read().expect("device link lock").clone();
        link.device_changed(device_id);
    }

    /// Raises (or merges, or recognises a retransmission of) an alarm: reads the open alarm
    /// of the same subject and kind, decides ([`decide_raise`]) and hands the store the
    /// decision, deciding again if the open alarm moved meanwhile. When this returns `Ok`,
    /// the alarm is committed: the caller may acknowledge the device's message.
    pub async fn raise(self: &Arc<Self>, a: &NewAlarm) -> Result<Raised, ActError> {
        let policy = self.policies.for_region(&a.region_code);
        for _ in 0..RETRIES {
            let open = self.store.open_alarm(a.elder_id, a.device_id, a.kind).await?;
            let step = decide_raise(open.as_ref(), a, self.now(), policy).map_err(ActError::Transition)?;
            match self.store.commit_raise(a, &step.decision, &step.event).await {
                Ok(raised) => {
                    if let Raised::New(row) | Raised::Merged(row) = &raised {
                        self.publish(row, step.change);
                        self.spawn_effects(row.clone(), step.effects);
                    }
                    return Ok(raised);
                }
                // The open alarm was closed, repeated or raised by someone else meanwhile.
                Err(StoreError::Stale { .. } | StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ActError::Contended)
    }

    /// Applies one step by `actor` and runs its effects. Concurrent changes are retried
    /// against the fresh state, so the step either fits the current state or is refused.
    pub async fn act(
        self: &Arc<Self>,
        id: i64,
        cmd: &Command,
        actor: Actor,
        actor_kind: &str,
    ) -> Result<AlarmRow, ActError> {
        for _ in 0..RETRIES {
            let row = self.store.alarm(id).await?;
            let mut case = row.case.clone();
            let fx = case.apply(cmd, self.now()).map_err(ActError::Transition)?;
            let event = step_event(cmd, actor, actor_kind);
            let next_due = due(&case, self.policies.for_region(&row.region_code));
            match self.store.save_alarm(id, row.version, &case, next_due, &event).await {
                Ok(saved) => {
                    self.publish(&saved, change_name(cmd.name(), &fx));
                    self.spawn_effects(saved.clone(), fx);
                    return Ok(saved);
                }
                Err(StoreError::Stale { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ActError::Contended)
    }

    /// A device message that raises no alarm (a service call, "worn again"), recorded so a
    /// retransmission is recognised. `false` if it was already recorded.
    pub async fn record_device_message(&self, device_id: i64, msg_id: &str) -> Result<bool, ActError> {
        Ok(self.store.record_device_message(device_id, msg_id).await?)
    }

    /// The wearer pressed "I'm fine" (device message `msg_id`): noted on every open alarm of
    /// the elder (an operator still calls back; a cancel is not a close), then the message
    /// is recorded. `false` for a retransmission already handled. At least once: a failure
    /// partway leaves the message unrecorded, so the device's retransmission notes every open
    /// alarm again — a note may repeat on the timeline, none is lost.
    pub async fn wearer_cancelled(
        self: &Arc<Self>,
        device_id: i64,
        elder_id: Option<i64>,
        msg_id: &str,
    ) -> Result<bool, ActError> {
        if self.store.device_message_seen(device_id, msg_id).await? {
            return Ok(false);
        }
        if let Some(elder_id) = elder_id {
            let f =
                AlarmFilter { open: Some(true), elder_id: Some(elder_id), limit: 20, ..Default::default() };
            for a in self.store.list_alarms(&f).await?.items {
                match self.act(a.id, &Command::WearerCancelled, Actor::SYSTEM, "device").await {
                    // Closed meanwhile: nothing to note.
                    Ok(_) | Err(ActError::Transition(TransitionError::Closed)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(self.store.record_device_message(device_id, msg_id).await?)
    }

    /// Fires every escalation timer due now. Returns how many alarms were advanced. Another
    /// instance firing the same timer first is not an error: its version wins and this one
    /// skips.
    pub async fn tick(self: &Arc<Self>) -> Result<usize, StoreError> {
        let now = self.now();
        let mut advanced = 0;
        for row in self.store.due_alarms(now, 200).await? {
            let policy = self.policies.for_region(&row.region_code);
            let mut case = row.case.clone();
            let fired = case.fire_due(now, policy);
            if fired.is_empty() {
                continue;
            }
            let timers: Vec<_> = fired.iter().map(|(t, _)| *t).collect();
            let event = zhulao_alarms::NewAlarmEvent {
                actor: Actor::SYSTEM,
                actor_kind: "system".into(),
                kind: "timer".into(),
                detail: serde_json::json!({ "timers": timers }),
                audit: None,
            };
            let fx: Vec<Effect> = fired.into_iter().flat_map(|(_, fx)| fx).collect();
            match self.store.save_alarm(row.id, row.version, &case, due(&case, policy), &event).await {
                Ok(saved) => {
                    advanced += 1;
                    self.publish(&saved, change_name("escalation", &fx));
                    self.spawn_effects(saved, fx);
                }
                Err(StoreError::Stale { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(advanced)
    }

    /// Runs [`Self::tick`] until `shutdown` resolves: every `period`, and sooner when a timer
    /// is due sooner.
    pub async fn run_timers(self: Arc<Self>, period: Duration, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            if let Err(e) = self.tick().await {
                tracing::warn!(error = %e, "alarm timers: tick failed");
            }
            let wait = match self.store.next_alarm_due().await {
                Ok(Some(due)) => {
                    Duration::from_millis((due - self.now()).clamp(10, period.as_millis() as i64) as u64)
                }
                _ => period,
            };
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// A responder's phone reports where they are and whether they are on duty.
    pub fn report_position(&self, account_id: i64, pos: ResponderPosition) {
        self.positions.lock().expect("positions lock").insert(account_id, pos);
    }

    /// How many effects (notifications, dispatches, device feedback) have failed since start.
    pub fn failed_effects(&self) -> u64 {
        self.tracker.failed.load(Ordering::Relaxed)
    }

    /// Waits until every effect task started so far has finished.
    pub async fn idle(&self) {
        loop {
            let notified = self.tracker.idle.notified();
            if self.tracker.running.load(Ordering::SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    }

    fn publish(&self, row: &AlarmRow, change: &str) {
        let mut data = alarm_summary(row);
        data["change"] = change.into();
        self.hub.publish(LiveEvent {
            topic: "alarm",
            region_code: row.region_code.clone(),
            elder_id: row.elder_id,
            responder_id: row.case.current_offer().map(|o| o.responder),
            at: row.updated_at,
            data,
        });
    }

    fn spawn_effects(self: &Arc<Self>, row: AlarmRow, fx: Vec<Effect>) {
        if fx.is_empty() {
            return;
        }
        self.tracker.running.fetch_add(1, Ordering::SeqCst);
        let this = self.clone();
        let fut: BoxFut = Box::pin(async move {
            for e in fx {
                this.run_effect(&row, e).await;
            }
            if this.tracker.running.fetch_sub(1, Ordering::SeqCst) == 1 {
                this.tracker.idle.notify_waiters();
            }
        });
        tokio::spawn(fut);
    }

    async fn run_effect(self: &Arc<Self>, row: &AlarmRow, e: Effect) {
        let result: Result<(), StoreError> = async {
            match e {
                // The step's one live event already put it in front of operators
                // (`escalated` for every operator and the supervisor).
                Effect::NotifyOperators { .. } => {}
                Effect::NotifySupervisor { reason } => self.notify_supervisors(row, &reason).await?,
                Effect::CallFamily { contact } => self.call_family(row, contact).await?,
                Effect::FamilyUnreachable => self.notify_supervisors(row, "family_unreachable").await?,
                Effect::FindResponder { exclude } => {
                    self.dispatch_nearest(row, &exclude).await?;
                }
                Effect::DeviceFeedback { state } => {
                    if let Some(d) = row.device_id {
                        self.send_to_device(d, DeviceMessage::Feedback { alarm_id: row.id, state });
                    }
                }
            }
            Ok(())
        }
        .await;
        if let Err(err) = result {
            self.tracker.failed.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(alarm = row.id, error = %err, "alarm effect failed");
        }
    }

    async fn send(&self, alarm_id: i64, n: OutgoingNotification) -> Result<(), StoreError> {
        let records: Vec<NotificationRecord> = self.notifier.notify(&n).await;
        self.store.record_notifications(alarm_id, &records).await
    }

    /// A notification about `row` for `who`'s alarm, with `extra` appended to the body
    /// (Chinese, English).
    fn compose(
        row: &AlarmRow,
        who: &str,
        id: String,
        purpose: &str,
        recipient: Addressee,
        extra: (String, String),
        data: serde_json::Value,
    ) -> OutgoingNotification {
        let kind = row.case.kind;
        OutgoingNotification {
            id,
            alarm_id: row.id,
            region_code: row.region_code.clone(),
            elder_id: row.elder_id,
            purpose: purpose.into(),
            recipient,
            subject_zh: format!("【助老】{who}{}警情", kind.label_zh()),
            subject_en: format!("[zhulao] {} alarm: {who}", kind.label_en()),
            body_zh: format!(
                "{who}触发{}警情（{}），警情编号 {}，请尽快处理。{}",
                kind.label_zh(),
                row.case.stage.label_zh(),
                row.id,
                extra.0
            ),
            body_en: format!(
                "{} alarm #{} ({}) for {who}.{}",
                kind.label_en(),
                row.id,
                row.case.stage.label_en(),
                extra.1
            ),
            data,
        }
    }

    async fn call_family(&self, row: &AlarmRow, contact: usize) -> Result<(), StoreError> {
        let Some(elder_id) = row.elder_id else { return Ok(()) };
        let elder = self.store.elder(elder_id).await?;
        let Some(c) = elder.record.contacts.get(contact) else { return Ok(()) };
        let recipient = Addressee {
            name: c.name.clone(),
            role: "family".into(),
            phone: Some(c.phone.clone()),
            email: None,
        };
        let n = Self::compose(
            row,
            &elder.record.name,
            format!("alarm-{}-family-{contact}-{}", row.id, row.version),
            "family_call",
            recipient,
            Default::default(),
            serde_json::json!({ "alarm": alarm_summary(row), "contact": contact, "relation": c.relation }),
        );
        self.send(row.id, n).await
    }

    async fn notify_supervisors(&self, row: &AlarmRow, reason: &str) -> Result<(), StoreError> {
        let supervisors = self
            .store
            .list_accounts(&AccountFilter {
                role: Some(Role::Supervisor),
                active: Some(true),
                limit: 200,
                ..Default::default()
            })
            .await?;
        for s in supervisors.items {
            let covers = s.region.as_ref().is_none_or(|r| row.region_code.starts_with(r.prefix()));
            if !covers {
                continue;
            }
            let recipient = Addressee {
                name: s.display_name.clone(),
                role: "supervisor".into(),
                phone: s.phone.clone(),
                email: None,
            };
            let n = Self::compose(
                row,
                "老人",
                format!("alarm-{}-supervisor-{}-{reason}", row.id, s.id),
                "escalation",
                recipient,
                (format!("升级原因：{reason}"), format!(" Escalated: {reason}")),
                serde_json::json!({ "alarm": alarm_summary(row), "reason": reason }),
            );
            self.send(row.id, n).await?;
        }
        Ok(())
    }

    /// Where the alarm happened, else the elder's home.
    async fn alarm_point(&self, row: &AlarmRow) -> Result<Option<GeoPoint>, StoreError> {
        if let Some(l) = row.location {
            return Ok(Some(GeoPoint { lat: l.lat, lon: l.lon }));
        }
        Ok(match row.elder_id {
            Some(e) => self.store.elder(e).await?.record.location,
            None => None,
        })
    }

    /// The responders the console shows on an alarm's map: up to `n` available candidates,
    /// fastest first, with where they are and their estimated travel time. Empty when the
    /// alarm has no position.
    pub async fn nearest_responders(
        &self,
        row: &AlarmRow,
        n: usize,
    ) -> Result<Vec<RankedResponder>, StoreError> {
        let Some(point) = self.alarm_point(row).await? else { return Ok(Vec::new()) };
        let candidates = self.candidates(row).await?;
        let at: HashMap<i64, &Candidate> = candidates.iter().map(|c| (c.account_id, c)).collect();
        Ok(rank_by_eta(point, &candidates, &[])
            .into_iter()
            .take(n)
            .filter_map(|(id, eta_s)| {
                at.get(&id).map(|c| RankedResponder {
                    account_id: id,
                    at: c.at,
                    mode: c.mode,
                    distance_m: c.at.distance_m(point),
                    eta_s,
                })
            })
            .collect())
    }

    /// Caregivers and station staff of the alarm's district who are on duty, not busy with
    /// another open alarm, and whose position is known (their phone, or their station).
    async fn candidates(&self, row: &AlarmRow) -> Result<Vec<Candidate>, StoreError> {
        let now = self.now();
        let district = &row.region_code[..row.region_code.len().min(6)];
        let busy: HashSet<i64> = self
            .store
            .list_alarms(&AlarmFilter { open: Some(true), limit: 2000, ..Default::default() })
            .await?
            .items
            .iter()
            .filter(|a| a.id != row.id)
            .filter_map(|a| a.case.current_offer().map(|o| o.responder))
            .collect();
        let positions = self.positions.lock().expect("positions lock").clone();
        let mut out = Vec::new();
        for role in [Role::Caregiver, Role::StationStaff] {
            let accounts = self
                .store
                .list_accounts(&AccountFilter {
                    role: Some(role),
                    active: Some(true),
                    region_prefix: Some(district.to_string()),
                    limit: 5000,
                    ..Default::default()
                })
                .await?;
            for a in accounts.items {
                if busy.contains(&a.id) {
                    continue;
                }
                match positions.get(&a.id) {
                    Some(p) if p.on_duty && now - p.reported_at <= POSITION_TTL_MS => {
                        out.push(Candidate { account_id: a.id, at: p.at, mode: p.mode });
                    }
                    Some(_) => {}
                    None => {
                        if let Some(f) = a.facility_id
                            && let Ok(f) = self.store.facility(f).await
                            && f.active
                        {
                            out.push(Candidate {
                                account_id: a.id,
                                at: f.record.location,
                                mode: TravelMode::Walk,
                            });
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// An operator asks for the nearest available responder now. `Ok(responder)` once
    /// dispatched; `NoResponder` when nobody with a known position is free.
    pub async fn dispatch_nearest_now(self: &Arc<Self>, row: &AlarmRow) -> Result<i64, ActError> {
        if row.case.answered_at.is_none() {
            return Err(ActError::Transition(TransitionError::NotAnswered));
        }
        if !row.case.is_open() {
            return Err(ActError::Transition(TransitionError::Closed));
        }
        let exclude: Vec<i64> = row.case.offers.iter().map(|o| o.responder).collect();
        match self.dispatch_nearest(row, &exclude).await? {
            Some(r) => Ok(r),
            None => Err(ActError::Transition(TransitionError::NoResponder)),
        }
    }

    async fn dispatch_nearest(
        self: &Arc<Self>,
        row: &AlarmRow,
        exclude: &[i64],
    ) -> Result<Option<i64>, StoreError> {
        let Some(point) = self.alarm_point(row).await? else {
            self.notify_supervisors(row, "no_location_for_dispatch").await?;
            return Ok(None);
        };
        let ranked = rank_by_eta(point, &self.candidates(row).await?, exclude);
        let Some(&(responder, eta_s)) = ranked.first() else {
            // Not a change of the alarm: the supervisors are told (and consoles see that
            // notification on the live feed).
            self.notify_supervisors(row, "no_responder").await?;
            return Ok(None);
        };
        let cmd = Command::Dispatch { responder, eta_s };
        match self.act(row.id, &cmd, Actor::SYSTEM, "system").await {
            Ok(saved) => {
                let account = self.store.account(responder).await?;
                let who = match saved.elder_id {
                    Some(e) => self.store.elder(e).await?.record.name,
                    None => "老人".into(),
                };
                let recipient = Addressee {
                    name: account.display_name,
                    role: account.role.as_str().into(),
                    phone: account.phone,
                    email: None,
                };
                let minutes = eta_s.div_ceil(60);
                let n = Self::compose(
                    &saved,
                    &who,
                    format!("alarm-{}-dispatch-{responder}", saved.id),
                    "dispatch",
                    recipient,
                    (
                        format!("请立即前往，预计用时 {minutes} 分钟。"),
                        format!(" Please go now; about {minutes} min away."),
                    ),
                    serde_json::json!({ "alarm": alarm_summary(&saved), "eta_s": eta_s, "to": point }),
                );
                self.send(saved.id, n).await?;
                Ok(Some(responder))
            }
            // Closed meanwhile, or an operator dispatched someone: nothing to do.
            Err(ActError::Transition(_) | ActError::Contended) => Ok(None),
            Err(ActError::Store(e)) => Err(e),
        }
    }
}
