//! One alarm's lifecycle: raised → queued → answered → assessed → responder dispatched →
//! on site → closed, with the 120 call and the family call chain alongside, and the
//! escalation timers that fire when a step takes too long.

use serde::{Deserialize, Serialize};
use zhulao_domain::code_enum;

code_enum! {
    /// What raised the alarm.
    AlarmKind {
        Fall = ("fall", "跌倒", "Fall"),
        Sos = ("sos", "紧急呼叫", "SOS"),
        Bedside = ("bedside", "床头呼叫", "Bedside button"),
        Vital = ("vital", "体征异常", "Vital sign"),
        Inactivity = ("inactivity", "长时间未活动", "Inactivity"),
        DeviceRemoved = ("device_removed", "设备摘除", "Device removed"),
        Offline = ("offline", "设备离线", "Device offline"),
        LowBattery = ("low_battery", "电量低", "Low battery"),
        GeofenceExit = ("geofence_exit", "离开安全区域", "Left safe zone"),
        DeviceConflict = ("device_conflict", "设备冲突", "Device conflict"),
    }
}

impl AlarmKind {
    /// 1 is the most urgent. Operators' queues sort by priority, then by age.
    pub fn priority(self) -> u8 {
        match self {
            AlarmKind::Fall | AlarmKind::Sos => 1,
            AlarmKind::Bedside | AlarmKind::Vital | AlarmKind::Inactivity | AlarmKind::GeofenceExit => 2,
            // Someone may be impersonating the wearer's device: after the people in danger,
            // before the devices' own troubles.
            AlarmKind::DeviceConflict | AlarmKind::DeviceRemoved | AlarmKind::Offline => 3,
            AlarmKind::LowBattery => 4,
        }
    }

    /// Whether the alarm concerns the wearer, so the device is told how it goes and the family
    /// is called when nobody answers. A device conflict (two connections claiming one watch)
    /// is for the operators alone: nothing goes to the device (either connection may be an
    /// impostor) and the family cannot help.
    pub fn concerns_wearer(self) -> bool {
        self != AlarmKind::DeviceConflict
    }
}

code_enum! {
    /// Where an alarm is in its lifecycle. `Queued` is "raised, waiting for an operator".
    Stage {
        Queued = ("queued", "待接警", "Queued"),
        Answered = ("answered", "已接警", "Answered"),
        Assessed = ("assessed", "已研判", "Assessed"),
        Dispatched = ("dispatched", "已派员", "Responder dispatched"),
        OnSite = ("on_site", "已到场", "Responder on site"),
        Closed = ("closed", "已结案", "Closed"),
    }
}

code_enum! {
    /// The operator's judgement after talking to the elder (or failing to).
    Assessment {
        FalseAlarm = ("false_alarm", "误报", "False alarm"),
        PhoneAdvice = ("phone_advice", "电话指导", "Advice by phone"),
        HomeVisit = ("home_visit", "上门查看", "Home visit"),
        Emergency = ("emergency", "紧急救助", "Emergency"),
    }
}

code_enum! {
    /// How an alarm ended.
    Outcome {
        FalseAlarm = ("false_alarm", "误报", "False alarm"),
        ResolvedByPhone = ("resolved_by_phone", "电话处置", "Resolved by phone"),
        ResolvedOnSite = ("resolved_on_site", "上门处置", "Resolved on site"),
        Hospitalised = ("hospitalised", "送医", "Taken to hospital"),
        Other = ("other", "其他", "Other"),
    }
}

code_enum! {
    /// What the device is told ("help is on the way").
    Feedback {
        Received = ("received", "已收到求助", "Received"),
        Answered = ("answered", "已接警", "Answered"),
        HelpOnTheWay = ("help_on_the_way", "救助人员正在赶来", "Help is on the way"),
        ResponderOnSite = ("responder_on_site", "救助人员已到达", "Responder on site"),
        Closed = ("closed", "已处理完毕", "Closed"),
    }
}

/// Response targets and escalation delays, in seconds; configurable per region. Keys left out
/// of a configuration keep their defaults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Policy {
    /// The answer target (the seed's 30 s); also the first escalation: every operator and the
    /// supervisor are alerted.
    pub answer_target_s: u32,
    /// Still unanswered after this long: call the family directly.
    pub answer_family_s: u32,
    /// A dispatched responder must accept within this long, or the next nearest is asked.
    pub accept_timeout_s: u32,
    /// The on-site target (the seed's 3 minutes), for statistics.
    pub on_site_target_s: u32,
    /// Dispatched but not on site after this long: the supervisor is alerted.
    pub on_site_escalate_s: u32,
    /// Each family contact has this long to confirm before the next one is called.
    pub family_confirm_s: u32,
    /// The family target, for statistics: someone in the family knows within this long.
    pub family_target_s: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            answer_target_s: 30,
            answer_family_s: 90,
            accept_timeout_s: 60,
            on_site_target_s: 180,
            on_site_escalate_s: 900,
            family_confirm_s: 60,
            family_target_s: 300,
        }
    }
}

/// One responder asked to go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    pub responder: i64,
    pub eta_s: u32,
    pub offered_at: i64,
    pub accepted_at: Option<i64>,
    pub declined_at: Option<i64>,
    /// Set when the accept timer fired and the next responder was sought.
    pub timed_out: bool,
}

impl Offer {
    fn pending(&self) -> bool {
        self.accepted_at.is_none() && self.declined_at.is_none() && !self.timed_out
    }
}

/// One call to a family contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FamilyCall {
    pub contact: usize,
    pub at: i64,
    /// `Some(true)` confirmed, `Some(false)` no answer or declined, `None` still ringing.
    pub confirmed: Option<bool>,
}

/// The family call chain: contacts in order until one confirms.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FamilyChain {
    /// How many contacts the elder has (fixed when the chain starts).
    pub contacts: usize,
    pub started_at: Option<i64>,
    pub calls: Vec<FamilyCall>,
    pub confirmed_at: Option<i64>,
    /// Every contact was tried and none confirmed.
    pub exhausted: bool,
}

impl FamilyChain {
    fn active(&self) -> bool {
        self.started_at.is_some() && self.confirmed_at.is_none() && !self.exhausted
    }
    fn ringing(&self) -> Option<&FamilyCall> {
        self.calls.last().filter(|c| c.confirmed.is_none())
    }
}

/// An alarm's whole state. Stored as one document beside the columns queries need.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlarmCase {
    pub kind: AlarmKind,
    /// How many family contacts the elder had when the alarm was raised (the call chain's
    /// length).
    pub contacts: usize,
    pub priority: u8,
    pub stage: Stage,
    pub raised_at: i64,
    /// Repeats merged into this alarm (a second SOS press, a re-detected fall).
    pub repeats: u32,
    pub last_repeat_at: Option<i64>,
    pub answered_at: Option<i64>,
    pub answered_by: Option<i64>,
    /// 0 none; 1 every operator and the supervisor alerted; 2 family called directly.
    pub answer_escalation: u8,
    pub assessed_at: Option<i64>,
    pub assessment: Option<Assessment>,
    pub offers: Vec<Offer>,
    pub on_site_at: Option<i64>,
    pub on_site_escalated: bool,
    pub called_120_at: Option<i64>,
    pub called_120_by: Option<i64>,
    pub family: FamilyChain,
    pub closed_at: Option<i64>,
    pub closed_by: Option<i64>,
    pub outcome: Option<Outcome>,
    pub notes: String,
    /// The wearer pressed "I'm fine" (latest press). An operator still calls back: a cancel
    /// is not a close.
    #[serde(default)]
    pub cancelled_at: Option<i64>,
    /// When the fall's acceleration trace was attached.
    #[serde(default)]
    pub trace_at: Option<i64>,
    /// When the detector saw the wearer get up and move after the fall.
    #[serde(default)]
    pub recovered_at: Option<i64>,
}

/// An operator's, responder's or family member's step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Command {
    Answer {
        by: i64,
    },
    Assess {
        by: i64,
        assessment: Assessment,
    },
    Dispatch {
        responder: i64,
        eta_s: u32,
    },
    Accept {
        responder: i64,
    },
    Decline {
        responder: i64,
    },
    OnSite {
        responder: i64,
    },
    Called120 {
        by: i64,
    },
    /// Start the family call chain (an operator's click, or the rules).
    NotifyFamily,
    /// The result of the call to `contact`.
    FamilyResult {
        contact: usize,
        confirmed: bool,
    },
    Close {
        by: i64,
        outcome: Outcome,
        notes: String,
    },
    /// The same alarm again from the device while this one is open.
    Repeat,
    /// The wearer pressed "I'm fine" on the device.
    WearerCancelled,
    /// The fall's acceleration trace arrived (also after the alarm is closed).
    AttachTrace {
        trace: crate::record::FallTrace,
    },
    /// The detector saw the wearer get up after the fall (also after the alarm is closed).
    Recovered {
        impact_ms: i64,
        at_ms: i64,
    },
}

impl Command {
    /// The step's name on the timeline and in the audit log.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Answer { .. } => "answer",
            Command::Assess { .. } => "assess",
            Command::Dispatch { .. } => "dispatch",
            Command::Accept { .. } => "accept",
            Command::Decline { .. } => "decline",
            Command::OnSite { .. } => "on_site",
            Command::Called120 { .. } => "called_120",
            Command::NotifyFamily => "notify_family",
            Command::FamilyResult { .. } => "family_result",
            Command::Close { .. } => "close",
            Command::Repeat => "repeat",
            Command::WearerCancelled => "wearer_cancelled",
            Command::AttachTrace { .. } => "fall_trace",
            Command::Recovered { .. } => "recovered",
        }
    }
}

/// A timer that can come due; [`AlarmCase::next_due`] says when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Timer {
    /// Unanswered at the answer target.
    AnswerEscalate,
    /// Still unanswered: call the family.
    AnswerFamily,
    /// The current responder has not accepted.
    ResponderAccept,
    /// Dispatched, not on site.
    OnSiteOverdue,
    /// The ringing family contact has not confirmed.
    FamilyNext,
}

/// What the service must do after a step: notify, call, look for a responder, tell the device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    /// Put the alarm in front of operators; `escalated` means every operator and the supervisor.
    NotifyOperators {
        escalated: bool,
    },
    NotifySupervisor {
        reason: String,
    },
    /// Ring family contact number `contact` (0-based, in contact order).
    CallFamily {
        contact: usize,
    },
    /// Every family contact was tried; nobody confirmed.
    FamilyUnreachable,
    /// Find the nearest available responder not in `exclude` and dispatch them.
    FindResponder {
        exclude: Vec<i64>,
    },
    /// Tell the device.
    DeviceFeedback {
        state: Feedback,
    },
}

/// A step that does not fit the alarm's state. `code()` is stable for the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransitionError {
    Closed,
    NotAnswered,
    AlreadyAnswered,
    AlreadyDone,
    NotDispatched,
    WrongResponder,
    NoContacts,
    NoSuchCall,
    /// Nobody is available to send (used by the service when it looks for one).
    NoResponder,
}

impl TransitionError {
    pub fn code(&self) -> &'static str {
        match self {
            TransitionError::Closed => "alarm_closed",
            TransitionError::NotAnswered => "alarm_not_answered",
            TransitionError::AlreadyAnswered => "alarm_already_answered",
            TransitionError::AlreadyDone => "alarm_step_done",
            TransitionError::NotDispatched => "alarm_not_dispatched",
            TransitionError::WrongResponder => "alarm_wrong_responder",
            TransitionError::NoContacts => "alarm_no_contacts",
            TransitionError::NoSuchCall => "alarm_no_such_call",
            TransitionError::NoResponder => "alarm_no_responder",
        }
    }
    pub fn zh(&self) -> &'static str {
        match self {
            TransitionError::Closed => "该警情已结案",
            TransitionError::NotAnswered => "请先接警",
            TransitionError::AlreadyAnswered => "该警情已被接警",
            TransitionError::AlreadyDone => "该步骤已完成",
            TransitionError::NotDispatched => "尚未派员",
            TransitionError::WrongResponder => "您不是该警情的派遣人员",
            TransitionError::NoContacts => "老人没有登记紧急联系人",
            TransitionError::NoSuchCall => "没有正在进行的家属呼叫",
            TransitionError::NoResponder => "附近暂无可派遣的在岗人员",
        }
    }
    pub fn en(&self) -> &'static str {
        match self {
            TransitionError::Closed => "the alarm is closed",
            TransitionError::NotAnswered => "answer the alarm first",
            TransitionError::AlreadyAnswered => "the alarm was already answered",
            TransitionError::AlreadyDone => "this step is already done",
            TransitionError::NotDispatched => "no responder is dispatched",
            TransitionError::WrongResponder => "you are not the dispatched responder",
            TransitionError::NoContacts => "the elder has no emergency contacts",
            TransitionError::NoSuchCall => "no family call is in progress",
            TransitionError::NoResponder => "no responder is available nearby",
        }
    }
}

impl std::fmt::Display for TransitionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.en())
    }
}

impl std::error::Error for TransitionError {}

zhulao_domain::coded_by_methods!(TransitionError);

const S: i64 = 1000;

impl AlarmCase {
    /// A new alarm, queued for operators. The effects alert the console and tell the device.
    pub fn raise(kind: AlarmKind, now: i64, contacts: usize) -> (AlarmCase, Vec<Effect>) {
        // The family is not called for an alarm that does not concern the wearer.
        let contacts = if kind.concerns_wearer() { contacts } else { 0 };
        let case = AlarmCase {
            contacts,
            kind,
            priority: kind.priority(),
            stage: Stage::Queued,
            raised_at: now,
            repeats: 0,
            last_repeat_at: None,
            answered_at: None,
            answered_by: None,
            answer_escalation: 0,
            assessed_at: None,
            assessment: None,
            offers: Vec::new(),
            on_site_at: None,
            on_site_escalated: false,
            called_120_at: None,
            called_120_by: None,
            family: FamilyChain::default(),
            closed_at: None,
            closed_by: None,
            outcome: None,
            notes: String::new(),
            cancelled_at: None,
            trace_at: None,
            recovered_at: None,
        };
        let effects = case.for_kind(Self::raised_effects());
        (case, effects)
    }

    /// Drops what does not apply to this kind of alarm ([`AlarmKind::concerns_wearer`]).
    fn for_kind(&self, mut fx: Vec<Effect>) -> Vec<Effect> {
        if !self.kind.concerns_wearer() {
            fx.retain(|e| !matches!(e, Effect::DeviceFeedback { .. } | Effect::CallFamily { .. }));
        }
        fx
    }

    /// What follows a raise (or a repeat merged into an open alarm): the console is told, and
    /// the device hears that its call was received.
    pub fn raised_effects() -> Vec<Effect> {
        vec![
            Effect::NotifyOperators { escalated: false },
            Effect::DeviceFeedback { state: Feedback::Received },
        ]
    }

    pub fn is_open(&self) -> bool {
        self.stage != Stage::Closed
    }

    /// The responder currently asked or on the way, if any.
    pub fn current_offer(&self) -> Option<&Offer> {
        self.offers.iter().rev().find(|o| o.declined_at.is_none() && !o.timed_out)
    }

    /// Applies one step at `now`. On error the case is unchanged.
    pub fn apply(&mut self, cmd: &Command, now: i64) -> Result<Vec<Effect>, TransitionError> {
        let contacts = self.contacts;
        // Evidence about what happened attaches whatever the stage.
        let evidence = matches!(cmd, Command::AttachTrace { .. } | Command::Recovered { .. });
        if !self.is_open() && !evidence {
            return Err(TransitionError::Closed);
        }
        let mut fx = Vec::new();
        match cmd {
            Command::Answer { by } => {
                if self.answered_at.is_some() {
                    return Err(TransitionError::AlreadyAnswered);
                }
                self.answered_at = Some(now);
                self.answered_by = Some(*by);
                self.stage = Stage::Answered;
                fx.push(Effect::DeviceFeedback { state: Feedback::Answered });
            }
            Command::Assess { assessment, .. } => {
                self.require_answered()?;
                self.assessed_at = Some(now);
                self.assessment = Some(*assessment);
                if self.stage == Stage::Answered {
                    self.stage = Stage::Assessed;
                }
                if matches!(assessment, Assessment::HomeVisit | Assessment::Emergency) {
                    if self.current_offer().is_none() {
                        fx.push(Effect::FindResponder { exclude: self.tried() });
                    }
                    if self.family.started_at.is_none() && contacts > 0 {
                        fx.extend(self.start_family(now, contacts));
                    }
                }
            }
            Command::Dispatch { responder, eta_s } => {
                // Someone has judged the alarm before anyone is sent.
                self.require_answered()?;
                if let Some(cur) = self.offers.iter_mut().rev().find(|o| o.pending()) {
                    // A new dispatch replaces an offer still waiting for acceptance.
                    cur.timed_out = true;
                }
                self.offers.push(Offer {
                    responder: *responder,
                    eta_s: *eta_s,
                    offered_at: now,
                    accepted_at: None,
                    declined_at: None,
                    timed_out: false,
                });
                if self.on_site_at.is_none() {
                    self.stage = Stage::Dispatched;
                }
                fx.push(Effect::DeviceFeedback { state: Feedback::HelpOnTheWay });
            }
            Command::Accept { responder } => {
                let i = self.offer_index(*responder)?;
                let last = i + 1 == self.offers.len();
                let offer = &mut self.offers[i];
                if offer.accepted_at.is_some() {
                    return Err(TransitionError::AlreadyDone);
                }
                // A late acceptance counts only while nobody else has been asked since.
                if offer.timed_out && !last {
                    return Err(TransitionError::WrongResponder);
                }
                offer.accepted_at = Some(now);
                offer.timed_out = false;
            }
            Command::Decline { responder } => {
                let offer = self.offer_of(*responder)?;
                if offer.declined_at.is_some() {
                    return Err(TransitionError::AlreadyDone);
                }
                offer.declined_at = Some(now);
                fx.push(Effect::FindResponder { exclude: self.tried() });
            }
            Command::OnSite { responder } => {
                if self.on_site_at.is_some() {
                    return Err(TransitionError::AlreadyDone);
                }
                let offer = self.offer_of(*responder)?;
                if offer.accepted_at.is_none() {
                    offer.accepted_at = Some(now);
                }
                self.on_site_at = Some(now);
                self.stage = Stage::OnSite;
                fx.push(Effect::DeviceFeedback { state: Feedback::ResponderOnSite });
            }
            Command::Called120 { by } => {
                self.require_answered()?;
                if self.called_120_at.is_some() {
                    return Err(TransitionError::AlreadyDone);
                }
                self.called_120_at = Some(now);
                self.called_120_by = Some(*by);
            }
            Command::NotifyFamily => {
                if self.family.started_at.is_some() && !self.family.exhausted {
                    return Err(TransitionError::AlreadyDone);
                }
                if contacts == 0 {
                    return Err(TransitionError::NoContacts);
                }
                self.family = FamilyChain::default();
                fx.extend(self.start_family(now, contacts));
            }
            Command::FamilyResult { contact, confirmed } => {
                let call = self
                    .family
                    .calls
                    .iter_mut()
                    .rev()
                    .find(|c| c.contact == *contact && c.confirmed.is_none())
                    .ok_or(TransitionError::NoSuchCall)?;
                call.confirmed = Some(*confirmed);
                if *confirmed {
                    self.family.confirmed_at = Some(now);
                } else {
                    fx.extend(self.next_contact(now));
                }
            }
            Command::Close { by, outcome, notes } => {
                self.require_answered()?;
                self.closed_at = Some(now);
                self.closed_by = Some(*by);
                self.outcome = Some(*outcome);
                self.notes = notes.clone();
                self.stage = Stage::Closed;
                fx.push(Effect::DeviceFeedback { state: Feedback::Closed });
            }
            Command::Repeat => {
                self.repeats += 1;
                self.last_repeat_at = Some(now);
                fx.extend(Self::raised_effects());
            }
            Command::WearerCancelled => {
                self.cancelled_at = Some(now);
            }
            Command::AttachTrace { .. } => {
                self.trace_at = Some(now);
            }
            Command::Recovered { at_ms, .. } => {
                self.recovered_at = Some(*at_ms);
            }
        }
        Ok(self.for_kind(fx))
    }

    /// When the next timer comes due, and which. `None` when nothing is pending.
    pub fn next_due(&self, p: &Policy) -> Option<(i64, Timer)> {
        self.pending_timers(p).into_iter().min_by_key(|(at, _)| *at)
    }

    /// Fires every timer due at `now`, in due order; returns the effects. Idempotent: a fired
    /// timer is recorded in the case and does not fire again.
    pub fn fire_due(&mut self, now: i64, p: &Policy) -> Vec<(Timer, Vec<Effect>)> {
        let mut out = Vec::new();
        // Each firing changes the case, which may arm the next timer (the next family
        // contact): loop until nothing is due. Bounded: every firing consumes a flag or a
        // contact.
        for _ in 0..64 {
            let Some((at, timer)) = self.next_due(p) else { break };
            if at > now {
                break;
            }
            let fx = self.fire(timer, at);
            out.push((timer, fx));
        }
        out
    }

    fn pending_timers(&self, p: &Policy) -> Vec<(i64, Timer)> {
        let mut t = Vec::new();
        if !self.is_open() {
            return t;
        }
        if self.answered_at.is_none() {
            match self.answer_escalation {
                0 => t.push((self.raised_at + p.answer_target_s as i64 * S, Timer::AnswerEscalate)),
                1 => t.push((self.raised_at + p.answer_family_s as i64 * S, Timer::AnswerFamily)),
                _ => {}
            }
        }
        if let Some(o) = self.offers.last().filter(|o| o.pending()) {
            t.push((o.offered_at + p.accept_timeout_s as i64 * S, Timer::ResponderAccept));
        }
        if self.on_site_at.is_none()
            && !self.on_site_escalated
            && let Some(first) = self.offers.first()
        {
            t.push((first.offered_at + p.on_site_escalate_s as i64 * S, Timer::OnSiteOverdue));
        }
        if self.family.active()
            && let Some(call) = self.family.ringing()
        {
            t.push((call.at + p.family_confirm_s as i64 * S, Timer::FamilyNext));
        }
        t
    }

    fn fire(&mut self, timer: Timer, at: i64) -> Vec<Effect> {
        let mut fx = Vec::new();
        match timer {
            Timer::AnswerEscalate => {
                self.answer_escalation = 1;
                fx.push(Effect::NotifyOperators { escalated: true });
                fx.push(Effect::NotifySupervisor { reason: "unanswered".into() });
            }
            Timer::AnswerFamily => {
                self.answer_escalation = 2;
                if self.family.started_at.is_none() && self.contacts > 0 {
                    fx.extend(self.start_family(at, self.contacts));
                }
                fx.push(Effect::NotifySupervisor { reason: "still_unanswered".into() });
            }
            Timer::ResponderAccept => {
                if let Some(o) = self.offers.last_mut() {
                    o.timed_out = true;
                }
                fx.push(Effect::FindResponder { exclude: self.tried() });
            }
            Timer::OnSiteOverdue => {
                self.on_site_escalated = true;
                fx.push(Effect::NotifySupervisor { reason: "not_on_site".into() });
            }
            Timer::FamilyNext => {
                if let Some(call) = self.family.calls.last_mut() {
                    call.confirmed = Some(false);
                }
                fx.extend(self.next_contact(at));
            }
        }
        fx
    }

    fn start_family(&mut self, now: i64, contacts: usize) -> Vec<Effect> {
        self.family.contacts = contacts;
        self.family.started_at = Some(now);
        self.family.calls.push(FamilyCall { contact: 0, at: now, confirmed: None });
        vec![Effect::CallFamily { contact: 0 }]
    }

    fn next_contact(&mut self, now: i64) -> Vec<Effect> {
        let next = self.family.calls.last().map_or(0, |c| c.contact + 1);
        if next < self.family.contacts {
            self.family.calls.push(FamilyCall { contact: next, at: now, confirmed: None });
            vec![Effect::CallFamily { contact: next }]
        } else {
            self.family.exhausted = true;
            vec![Effect::FamilyUnreachable, Effect::NotifyOperators { escalated: true }]
        }
    }

    fn require_answered(&self) -> Result<(), TransitionError> {
        if self.answered_at.is_none() { Err(TransitionError::NotAnswered) } else { Ok(()) }
    }

    fn offer_index(&self, responder: i64) -> Result<usize, TransitionError> {
        if self.offers.is_empty() {
            return Err(TransitionError::NotDispatched);
        }
        self.offers
            .iter()
            .rposition(|o| o.responder == responder && o.declined_at.is_none())
            .ok_or(TransitionError::WrongResponder)
    }

    fn offer_of(&mut self, responder: i64) -> Result<&mut Offer, TransitionError> {
        let i = self.offer_index(responder)?;
        Ok(&mut self.offers[i])
    }

    fn tried(&self) -> Vec<i64> {
        self.offers.iter().map(|o| o.responder).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_800_000_000_000;
    const ME: i64 = 7;

    #[test]
    fn a_device_conflict_is_for_operators_alone() {
        let (mut c, fx) = AlarmCase::raise(AlarmKind::DeviceConflict, T0, 3);
        assert_eq!(c.priority, 3);
        assert_eq!(fx, [Effect::NotifyOperators { escalated: false }], "the device is not told");
        // Unanswered: operators and the supervisor are alerted, the family is not called.
        let fired = c.fire_due(T0 + 600 * S, &Policy::default());
        assert!(
            fired.iter().flat_map(|(_, fx)| fx).all(|e| !matches!(e, Effect::CallFamily { .. })),
            "{fired:?}"
        );
        assert!(c.family.started_at.is_none());
        c.apply(&Command::Answer { by: ME }, T0 + 700 * S).unwrap();
        let fx = c
            .apply(&Command::Close { by: ME, outcome: Outcome::Other, notes: String::new() }, T0 + 800 * S)
            .unwrap();
        assert!(fx.is_empty(), "{fx:?}");
        assert!(!c.is_open());
        assert!(AlarmKind::Sos.concerns_wearer() && !AlarmKind::DeviceConflict.concerns_wearer());
    }

    fn fired(c: &mut AlarmCase, now: i64) -> Vec<Timer> {
        c.fire_due(now, &Policy::default()).into_iter().map(|(t, _)| t).collect()
    }

    #[test]
    fn the_whole_chain() {
        let (mut c, fx) = AlarmCase::raise(AlarmKind::Fall, T0, 2);
        assert_eq!(c.priority, 1);
        assert!(fx.contains(&Effect::NotifyOperators { escalated: false }));
        c.apply(&Command::Answer { by: ME }, T0 + 12_000).unwrap();
        let fx =
            c.apply(&Command::Assess { by: ME, assessment: Assessment::Emergency }, T0 + 40_000).unwrap();
        assert_eq!(fx, vec![Effect::FindResponder { exclude: vec![] }, Effect::CallFamily { contact: 0 }]);
        c.apply(&Command::Dispatch { responder: 50, eta_s: 240 }, T0 + 41_000).unwrap();
        c.apply(&Command::Called120 { by: ME }, T0 + 45_000).unwrap();
        assert_eq!(c.apply(&Command::Called120 { by: ME }, T0 + 46_000), Err(TransitionError::AlreadyDone));
        c.apply(&Command::Accept { responder: 50 }, T0 + 50_000).unwrap();
        assert_eq!(
            c.apply(&Command::Accept { responder: 51 }, T0 + 50_000),
            Err(TransitionError::WrongResponder)
        );
        c.apply(&Command::FamilyResult { contact: 0, confirmed: true }, T0 + 70_000).unwrap();
        c.apply(&Command::OnSite { responder: 50 }, T0 + 200_000).unwrap();
        assert_eq!(c.stage, Stage::OnSite);
        assert_eq!(c.next_due(&Policy::default()), None);
        let close = Command::Close { by: ME, outcome: Outcome::Hospitalised, notes: "送医".into() };
        c.apply(&close, T0 + 900_000).unwrap();
        assert_eq!(c.stage, Stage::Closed);
        assert_eq!(c.apply(&Command::Repeat, T0 + 901_000), Err(TransitionError::Closed));
    }

    #[test]
    fn unanswered_escalates_then_calls_the_family_in_order() {
        let (mut c, _) = AlarmCase::raise(AlarmKind::Sos, T0, 3);
        let p = Policy::default();
        assert_eq!(c.next_due(&p), Some((T0 + 30_000, Timer::AnswerEscalate)));
        assert!(fired(&mut c, T0 + 29_999).is_empty());
        assert_eq!(fired(&mut c, T0 + 30_000), vec![Timer::AnswerEscalate]);
        assert!(fired(&mut c, T0 + 30_000).is_empty(), "a fired timer does not fire again");
        assert_eq!(fired(&mut c, T0 + 90_000), vec![Timer::AnswerFamily]);
        assert_eq!(c.family.calls.len(), 1);
        // Nobody confirms: every 60 s the next contact, then unreachable.
        let out = c.fire_due(T0 + 90_000 + 180_000, &p);
        let timers: Vec<Timer> = out.iter().map(|(t, _)| *t).collect();
        assert_eq!(timers, vec![Timer::FamilyNext; 3]);
        assert!(out.last().unwrap().1.contains(&Effect::FamilyUnreachable));
        assert_eq!(c.family.calls.iter().map(|k| k.contact).collect::<Vec<_>>(), vec![0, 1, 2]);
        assert_eq!(c.next_due(&p), None);
        // Answering late still works; the chain can be restarted by hand.
        c.apply(&Command::Answer { by: ME }, T0 + 400_000).unwrap();
        assert_eq!(
            c.apply(&Command::NotifyFamily, T0 + 401_000).unwrap(),
            vec![Effect::CallFamily { contact: 0 }]
        );
    }

    #[test]
    fn responder_timeout_and_decline_look_for_the_next() {
        let (mut c, _) = AlarmCase::raise(AlarmKind::Fall, T0, 0);
        let p = Policy::default();
        c.apply(&Command::Answer { by: ME }, T0 + 5_000).unwrap();
        // No contacts: assessment does not start a chain.
        let fx = c.apply(&Command::Assess { by: ME, assessment: Assessment::HomeVisit }, T0 + 6_000).unwrap();
        assert_eq!(fx, vec![Effect::FindResponder { exclude: vec![] }]);
        c.apply(&Command::Dispatch { responder: 1, eta_s: 100 }, T0 + 7_000).unwrap();
        let out = c.fire_due(T0 + 67_000, &p);
        assert_eq!(out, vec![(Timer::ResponderAccept, vec![Effect::FindResponder { exclude: vec![1] }])]);
        c.apply(&Command::Dispatch { responder: 2, eta_s: 200 }, T0 + 68_000).unwrap();
        let fx = c.apply(&Command::Decline { responder: 2 }, T0 + 70_000).unwrap();
        assert_eq!(fx, vec![Effect::FindResponder { exclude: vec![1, 2] }]);
        c.apply(&Command::Dispatch { responder: 3, eta_s: 300 }, T0 + 71_000).unwrap();
        c.apply(&Command::Accept { responder: 3 }, T0 + 72_000).unwrap();
        // On-site overdue counts from the first dispatch.
        assert_eq!(c.next_due(&p), Some((T0 + 7_000 + 900_000, Timer::OnSiteOverdue)));
        assert_eq!(fired(&mut c, T0 + 907_000), vec![Timer::OnSiteOverdue]);
        assert_eq!(c.current_offer().unwrap().responder, 3);
        assert_eq!(c.apply(&Command::NotifyFamily, T0), Err(TransitionError::NoContacts));
    }

    #[test]
    fn steps_need_an_answer_and_errors_change_nothing() {
        let (mut c, _) = AlarmCase::raise(AlarmKind::Vital, T0, 1);
        let before = c.clone();
        for cmd in [
            Command::Assess { by: ME, assessment: Assessment::FalseAlarm },
            Command::Dispatch { responder: 1, eta_s: 1 },
            Command::Called120 { by: ME },
            Command::Close { by: ME, outcome: Outcome::FalseAlarm, notes: String::new() },
            Command::OnSite { responder: 1 },
            Command::FamilyResult { contact: 0, confirmed: true },
        ] {
            assert!(c.apply(&cmd, T0 + 1).is_err(), "{cmd:?}");
            assert_eq!(c, before);
        }
        c.apply(&Command::Repeat, T0 + 2).unwrap();
        assert_eq!(c.repeats, 1);
        c.apply(&Command::Answer { by: ME }, T0 + 3).unwrap();
        assert_eq!(c.apply(&Command::Answer { by: 8 }, T0 + 4), Err(TransitionError::AlreadyAnswered));
    }

    #[test]
    fn evidence_attaches_after_closing_and_a_cancel_is_noted_only_while_open() {
        let (mut c, _) = AlarmCase::raise(AlarmKind::Fall, T0, 1);
        assert_eq!(c.apply(&Command::WearerCancelled, T0 + 1_000), Ok(vec![]));
        assert_eq!(c.cancelled_at, Some(T0 + 1_000));
        assert_eq!(c.stage, Stage::Queued, "a cancel is not a close");
        c.apply(&Command::Answer { by: ME }, T0 + 2_000).unwrap();
        c.apply(&Command::Close { by: ME, outcome: Outcome::FalseAlarm, notes: String::new() }, T0 + 3_000)
            .unwrap();
        let trace = crate::FallTrace {
            impact_ms: T0 - 900,
            posture_after: "lying".into(),
            trace_start_ms: T0 - 5_900,
            rate_hz: 100,
            trace_mg: vec![[0, 0, 1000]],
        };
        assert_eq!(c.apply(&Command::AttachTrace { trace }, T0 + 4_000), Ok(vec![]));
        assert_eq!(c.trace_at, Some(T0 + 4_000));
        assert_eq!(
            c.apply(&Command::Recovered { impact_ms: T0 - 900, at_ms: T0 + 4_500 }, T0 + 5_000),
            Ok(vec![])
        );
        assert_eq!(c.recovered_at, Some(T0 + 4_500));
        assert_eq!(c.apply(&Command::WearerCancelled, T0 + 6_000), Err(TransitionError::Closed));
        // Cases stored before these fields existed still read.
        let mut old = serde_json::to_value(&c).unwrap();
        for k in ["cancelled_at", "trace_at", "recovered_at"] {
            old.as_object_mut().unwrap().remove(k);
        }
        let back: AlarmCase = serde_json::from_value(old).unwrap();
        assert_eq!(back.trace_at, None);
    }

    #[test]
    fn the_case_round_trips_through_json() {
        let (mut c, _) = AlarmCase::raise(AlarmKind::Sos, T0, 1);
        c.apply(&Command::Answer { by: ME }, T0 + 1).unwrap();
        c.apply(&Command::NotifyFamily, T0 + 2).unwrap();
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<AlarmCase>(&json).unwrap(), c);
        let cmd: Command =
            serde_json::from_str(r#"{"action":"assess","by":3,"assessment":"home_visit"}"#).unwrap();
        assert_eq!(cmd, Command::Assess { by: 3, assessment: Assessment::HomeVisit });
    }
}
