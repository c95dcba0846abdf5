//! One service order's lifecycle: created → published → taken → on the way → checked in →
//! completed → rated → settled, or cancelled, no-show, expired — with the check-in and
//! check-out at the elder's door, the rules on who may do what in which state, the full
//! history, and the effects the service must carry out after each step.
//!
//! A refused step leaves the order unchanged. The timers live in [`crate::dispatch`].

use chrono::{DateTime, Duration, Utc};
use zhulao_domain::error::{optional_text, required_text};
use zhulao_domain::{Fen, FieldError, GeoPoint, RegionCode, code_enum};

use crate::catalogue::{Quote, ServiceCategory};
use crate::codes::{ServiceCode, SkillCode};
use crate::dispatch::{self, Caregiver, DispatchPolicy, Ineligible, distance_m, minutes};
use crate::error::{Refusal, refusal_display};
use crate::quality::{ComplaintKind, Rating, RatingTag};
use crate::settlement::Split;

code_enum! {
    /// Where an order is in its lifecycle.
    OrderState {
        Created = ("created", "已创建", "Created"),
        Published = ("published", "待接单", "Waiting for a caregiver"),
        Taken = ("taken", "已接单", "Taken"),
        OnTheWay = ("on_the_way", "已出发", "On the way"),
        CheckedIn = ("checked_in", "服务中", "In service"),
        Completed = ("completed", "已完成", "Completed"),
        Rated = ("rated", "已评价", "Rated"),
        Settled = ("settled", "已结算", "Settled"),
        Cancelled = ("cancelled", "已取消", "Cancelled"),
        NoShow = ("no_show", "爽约", "No-show"),
        Expired = ("expired", "已过期", "Expired"),
    }
}

impl OrderState {
    /// No step leads out of a final state except a late rating or complaint on a settled
    /// order and a complaint on a cancelled or missed one.
    pub fn is_final(self) -> bool {
        matches!(self, OrderState::Settled | OrderState::Cancelled | OrderState::NoShow | OrderState::Expired)
    }

    /// A caregiver holds the order.
    pub fn is_held(self) -> bool {
        matches!(self, OrderState::Taken | OrderState::OnTheWay | OrderState::CheckedIn)
    }
}

code_enum! {
    /// Who acts on an order.
    ActorRole {
        Elder = ("elder", "老人", "elder"),
        Family = ("family", "家属", "family member"),
        CareManager = ("care_manager", "养老管家", "care manager"),
        Operator = ("operator", "坐席", "call-centre operator"),
        Caregiver = ("caregiver", "助老员", "caregiver"),
        Station = ("station", "服务站", "station staff"),
        Supervisor = ("supervisor", "民政监管", "supervisor"),
        System = ("system", "系统", "system"),
    }
}

impl ActorRole {
    /// The elder and the people acting for them (family, care manager).
    pub fn is_elder_side(self) -> bool {
        matches!(self, ActorRole::Elder | ActorRole::Family | ActorRole::CareManager)
    }
    /// Platform and station staff.
    pub fn is_staff(self) -> bool {
        matches!(self, ActorRole::Operator | ActorRole::Station | ActorRole::Supervisor)
    }
}

/// Someone acting: a role and their id (an elder id for the elder, an account id otherwise,
/// 0 for the system).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderActor {
    pub role: ActorRole,
    pub id: i64,
}

impl OrderActor {
    pub fn new(role: ActorRole, id: i64) -> Self {
        OrderActor { role, id }
    }
    pub fn system() -> Self {
        OrderActor { role: ActorRole::System, id: 0 }
    }
}

code_enum! {
    /// How the order reached the platform.
    OrderChannel {
        DeviceButton = ("device_button", "一键呼叫", "Device service button"),
        Phone = ("phone", "电话", "Phone call"),
        App = ("app", "手机应用", "App"),
        Counter = ("counter", "服务站窗口", "At the station"),
    }
}

code_enum! {
    /// Why an order was cancelled.
    CancelReason {
        NotNeeded = ("not_needed", "不再需要", "No longer needed"),
        Rescheduled = ("rescheduled", "改约时间", "Rescheduled"),
        Hospitalised = ("hospitalised", "住院", "In hospital"),
        FamilyArranged = ("family_arranged", "家属已安排", "Family arranged it"),
        Duplicate = ("duplicate", "重复下单", "Duplicate order"),
        NoCaregiver = ("no_caregiver", "无人接单", "No caregiver available"),
        CaregiverUnavailable = ("caregiver_unavailable", "助老员无法服务", "Caregiver unavailable"),
        Other = ("other", "其他", "Other"),
    }
}

code_enum! {
    /// Who did not turn up.
    NoShowParty {
        Elder = ("elder", "老人不在家", "Elder not at home"),
        Caregiver = ("caregiver", "助老员未到", "Caregiver did not come"),
    }
}

code_enum! {
    /// What happened, in the history.
    OrderAction {
        Create = ("create", "下单", "Created"),
        Publish = ("publish", "发布", "Published"),
        Grab = ("grab", "抢单", "Grabbed"),
        Assign = ("assign", "派单", "Assigned"),
        Release = ("release", "放弃接单", "Released"),
        StartTrip = ("start_trip", "出发", "Set off"),
        CheckIn = ("check_in", "签到", "Checked in"),
        CheckOut = ("check_out", "签退", "Checked out"),
        Confirm = ("confirm", "确认完成", "Confirmed"),
        Rate = ("rate", "评价", "Rated"),
        Complain = ("complain", "投诉", "Complaint"),
        Settle = ("settle", "结算", "Settled"),
        Cancel = ("cancel", "取消", "Cancelled"),
        NoShow = ("no_show", "爽约", "No-show"),
        Expire = ("expire", "过期", "Expired"),
        Widen = ("widen", "扩大派单范围", "Offer radius widened"),
        Escalate = ("escalate", "无人接单上报", "Escalated"),
        AutoAssign = ("auto_assign", "自动派单", "Auto-assignment requested"),
        LateAlert = ("late_alert", "迟到提醒", "Late arrival alert"),
        AutoConfirm = ("auto_confirm", "自动确认", "Confirmed automatically"),
    }
}

code_enum! {
    /// What a notification is about.
    Notice {
        Taken = ("taken", "订单已被接单", "Your order was taken"),
        Assigned = ("assigned", "您有新派单", "An order was assigned to you"),
        Reassigned = ("reassigned", "订单已改派他人", "The order was reassigned"),
        Released = ("released", "助老员放弃了订单", "The caregiver gave the order up"),
        OnTheWay = ("on_the_way", "助老员已出发", "The caregiver is on the way"),
        Arrived = ("arrived", "助老员已到达", "The caregiver has arrived"),
        ConfirmRequested = ("confirm_requested", "服务已完成，请确认并评价", "Service done: please confirm and rate"),
        ShortService = ("short_service", "服务时长明显不足", "The service was much shorter than standard"),
        LowRating = ("low_rating", "收到差评", "Low rating"),
        Complaint = ("complaint", "收到投诉", "Complaint"),
        Settled = ("settled", "订单已结算", "The order was settled"),
        Cancelled = ("cancelled", "订单已取消", "The order was cancelled"),
        NoShow = ("no_show", "订单爽约", "No-show"),
        Expired = ("expired", "订单无人接单已过期", "Nobody took the order; it expired"),
        Unanswered = ("unanswered", "订单长时间无人接单", "Nobody has taken the order"),
        Late = ("late", "助老员尚未到达", "The caregiver has not arrived"),
    }
}

/// Who a notification goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NoticeRecipient {
    Caregiver {
        id: i64,
    },
    /// The elder and the family who follow their orders.
    Requester,
    /// The elder's service station.
    Station,
    /// The call centre.
    Operators,
}

/// What the service must do after a step or a timer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum OrderEffect {
    /// Show the order to eligible caregivers within `radius_m` of the home
    /// ([`dispatch::eligible`]), except `exclude`.
    Offer {
        radius_m: u32,
        exclude: Vec<i64>,
    },
    /// Take the order off caregivers' lists.
    Withdraw,
    Notify {
        to: NoticeRecipient,
        notice: Notice,
    },
    /// The caregiver may now see the elder's address and phone …
    GrantContact {
        caregiver: i64,
    },
    /// … and no longer.
    RevokeContact {
        caregiver: i64,
    },
    /// Rank the eligible caregivers within `radius_m` ([`dispatch::best_candidate`]) and
    /// apply [`OrderCommand::Assign`] by the system to the best one, if any.
    AutoAssign {
        radius_m: u32,
        exclude: Vec<i64>,
    },
    /// Open a complaint case ([`crate::quality::ComplaintCase::open`]).
    OpenComplaint {
        kind: ComplaintKind,
        caregiver: Option<i64>,
    },
    /// The elder side confirmed (or the window passed): settle the order
    /// ([`crate::settlement::settle`], then [`OrderCommand::Settle`]).
    ReadyToSettle,
    /// Something that counts in the caregiver's quality score happened.
    RescoreCaregiver {
        caregiver: i64,
    },
}

/// When the elder wants the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Schedule {
    Asap,
    At { start: DateTime<Utc> },
}

/// The rules an order lives by, fixed when it is created (so a later change of
/// configuration does not change an order in flight, and its history can be replayed).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct OrderPolicy {
    pub dispatch: DispatchPolicy,
    /// How far from the home a check-in, check-out or "elder not at home" may be made.
    pub door_tolerance_m: u32,
    /// For an order "as soon as possible", the caregiver is due this long after taking it.
    pub asap_arrival_min: u32,
    /// Not checked in this long after being due: the station is told.
    pub late_alert_min: u32,
    /// A caregiver no-show may be declared this long after they were due.
    pub no_show_grace_min: u32,
    /// The elder side has this long after check-out to confirm; then it is confirmed for them.
    pub confirm_window_min: u32,
    /// A visit shorter than this share (percent) of the standard duration is flagged.
    pub short_service_pct: u32,
    /// Complaints are accepted this many days after the order ended.
    pub complaint_window_days: u32,
    /// Check-out needs at least this many photos.
    pub min_photos: u32,
    /// A scheduled start may be at most this many days ahead.
    pub max_days_ahead: u32,
}

impl Default for OrderPolicy {
    fn default() -> Self {
        OrderPolicy {
            dispatch: DispatchPolicy::default(),
            door_tolerance_m: 200,
            asap_arrival_min: 60,
            late_alert_min: 15,
            no_show_grace_min: 30,
            confirm_window_min: 24 * 60,
            short_service_pct: 50,
            complaint_window_days: 30,
            min_photos: 0,
            max_days_ahead: 60,
        }
    }
}

pub const MAX_PHOTOS: usize = 9;
pub const MAX_NOTE: usize = 500;
pub const MAX_TEXT: usize = 1000;

/// A photo the platform stored (its storage key), attached at check-out.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct PhotoRef(pub String);

/// What it takes to create an order. Build it from a catalogue quote with
/// [`NewOrder::from_quote`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewOrder {
    pub elder: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub region: RegionCode,
    /// The elder's home, for dispatch radii and the door checks.
    pub home: GeoPoint,
    pub item: ServiceCode,
    pub category: ServiceCategory,
    pub skills: Vec<SkillCode>,
    pub duration_min: u32,
    pub price: Fen,
    pub placed_by: OrderActor,
    pub channel: OrderChannel,
    pub schedule: Schedule,
    pub note: String,
}

impl NewOrder {
    /// An order for a catalogue item at its price in the elder's region.
    #[allow(clippy::too_many_arguments)]
    pub fn from_quote(
        quote: &Quote<'_>,
        elder: i64,
        region: RegionCode,
        home: GeoPoint,
        placed_by: OrderActor,
        channel: OrderChannel,
        schedule: Schedule,
        note: &str,
    ) -> Self {
        NewOrder {
            elder,
            region,
            home,
            item: quote.item.code.clone(),
            category: quote.item.category,
            skills: quote.item.skills.clone(),
            duration_min: quote.item.duration_min,
            price: quote.price,
            placed_by,
            channel,
            schedule,
            note: note.to_string(),
        }
    }
}

/// Where the order stands in dispatch.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DispatchState {
    /// When the current offer began (publication, or the last release).
    pub offered_at: Option<DateTime<Utc>>,
    /// The offer ring reached by the widen timer (index into the policy's steps).
    pub step: usize,
    pub escalated: bool,
    pub auto_assign_attempts: u32,
    /// Caregivers who released this order; it is not offered to them again.
    pub excluded: Vec<i64>,
}

/// A position check at the door.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DoorCheck {
    pub at: DateTime<Utc>,
    pub position: GeoPoint,
    pub distance_m: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Cancellation {
    pub at: DateTime<Utc>,
    pub by: OrderActor,
    pub reason: CancelReason,
    pub text: String,
    /// The state it was cancelled in.
    pub from: OrderState,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NoShowRecord {
    pub at: DateTime<Utc>,
    pub by: OrderActor,
    pub party: NoShowParty,
    pub position: Option<GeoPoint>,
}

/// A complaint lodged on this order (the case itself is a
/// [`crate::quality::ComplaintCase`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ComplaintNote {
    pub at: DateTime<Utc>,
    pub by: OrderActor,
    pub kind: ComplaintKind,
    pub text: String,
}

/// One line of the order's history.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HistoryEntry {
    pub at: DateTime<Utc>,
    pub action: OrderAction,
    pub by: Option<OrderActor>,
    pub from: OrderState,
    pub to: OrderState,
    pub note: String,
}

/// An order's whole state, stored as one document beside the columns queries need (state,
/// caregiver, elder, region, next due time).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Order {
    pub elder: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub region: RegionCode,
    pub home: GeoPoint,
    pub item: ServiceCode,
    pub category: ServiceCategory,
    pub skills: Vec<SkillCode>,
    pub duration_min: u32,
    pub price: Fen,
    pub placed_by: OrderActor,
    pub channel: OrderChannel,
    pub schedule: Schedule,
    pub note: String,
    pub policy: OrderPolicy,
    pub state: OrderState,
    pub created_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
    pub dispatch: DispatchState,
    /// The caregiver holding (or who last held) the order.
    pub caregiver: Option<i64>,
    /// `None` when grabbed; who assigned it otherwise.
    pub assigned_by: Option<OrderActor>,
    pub taken_at: Option<DateTime<Utc>>,
    pub trip_started_at: Option<DateTime<Utc>>,
    pub check_in: Option<DoorCheck>,
    pub check_out: Option<DoorCheck>,
    pub checked_out_at: Option<DateTime<Utc>>,
    /// Minutes between check-in and check-out.
    pub served_min: Option<u32>,
    /// Served less than [`OrderPolicy::short_service_pct`] of the standard duration.
    pub short_service: bool,
    pub service_notes: String,
    pub photos: Vec<PhotoRef>,
    pub late_alerted: bool,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub confirmed_by: Option<OrderActor>,
    pub rating: Option<Rating>,
    pub complaints: Vec<ComplaintNote>,
    pub settlement: Option<Split>,
    pub settled_at: Option<DateTime<Utc>>,
    pub cancellation: Option<Cancellation>,
    pub no_show: Option<NoShowRecord>,
    /// When the order stopped moving: completed, cancelled, no-show or expired.
    pub ended_at: Option<DateTime<Utc>>,
    pub history: Vec<HistoryEntry>,
}

/// A step by someone. The caregiver in `Grab` and `Assign` is a snapshot the store fetched
/// (skills, duty, position, agenda) at the moment of the step.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum OrderCommand {
    Publish {
        by: OrderActor,
    },
    Grab {
        caregiver: Caregiver,
    },
    Assign {
        caregiver: Caregiver,
        by: OrderActor,
    },
    /// The holder gives the order back before setting off (a grab released, an assignment
    /// declined).
    Release {
        caregiver: i64,
        reason: String,
    },
    StartTrip {
        caregiver: i64,
    },
    CheckIn {
        caregiver: i64,
        position: GeoPoint,
    },
    CheckOut {
        caregiver: i64,
        position: GeoPoint,
        notes: String,
        photos: Vec<PhotoRef>,
    },
    Confirm {
        by: OrderActor,
    },
    Rate {
        by: OrderActor,
        stars: u8,
        tags: Vec<RatingTag>,
        text: String,
    },
    Complain {
        by: OrderActor,
        kind: ComplaintKind,
        text: String,
    },
    Settle {
        split: Split,
    },
    Cancel {
        by: OrderActor,
        reason: CancelReason,
        text: String,
    },
    NoShow {
        by: OrderActor,
        party: NoShowParty,
        position: Option<GeoPoint>,
    },
    Expire,
}

impl OrderCommand {
    pub fn action(&self) -> OrderAction {
        match self {
            OrderCommand::Publish { .. } => OrderAction::Publish,
            OrderCommand::Grab { .. } => OrderAction::Grab,
            OrderCommand::Assign { .. } => OrderAction::Assign,
            OrderCommand::Release { .. } => OrderAction::Release,
            OrderCommand::StartTrip { .. } => OrderAction::StartTrip,
            OrderCommand::CheckIn { .. } => OrderAction::CheckIn,
            OrderCommand::CheckOut { .. } => OrderAction::CheckOut,
            OrderCommand::Confirm { .. } => OrderAction::Confirm,
            OrderCommand::Rate { .. } => OrderAction::Rate,
            OrderCommand::Complain { .. } => OrderAction::Complain,
            OrderCommand::Settle { .. } => OrderAction::Settle,
            OrderCommand::Cancel { .. } => OrderAction::Cancel,
            OrderCommand::NoShow { .. } => OrderAction::NoShow,
            OrderCommand::Expire => OrderAction::Expire,
        }
    }
}

/// A step that does not fit the order. `code()` is stable for the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderError {
    WrongState {
        action: OrderAction,
        state: OrderState,
    },
    NotPermitted {
        action: OrderAction,
        role: ActorRole,
    },
    /// The caregiver does not hold this order.
    NotHolder,
    Ineligible(Ineligible),
    TooFar {
        distance_m: u32,
        tolerance_m: u32,
    },
    Invalid(FieldError),
    AlreadyConfirmed,
    AlreadyRated,
    /// Settlement before the elder side confirmed.
    NotConfirmed,
    /// The split does not add up to the order's price.
    SplitMismatch {
        split: Fen,
        price: Fen,
    },
    /// Too early for this step (a no-show before the grace period, an expiry before the
    /// deadline).
    TooEarly {
        until: DateTime<Utc>,
    },
    ComplaintWindowClosed,
    /// An assignment to the caregiver who already holds the order.
    SameCaregiver,
}

impl Refusal for OrderError {
    fn code(&self) -> &'static str {
        match self {
            OrderError::WrongState { .. } => "order_wrong_state",
            OrderError::NotPermitted { .. } => "order_not_permitted",
            OrderError::NotHolder => "order_not_holder",
            OrderError::Ineligible(i) => i.code(),
            OrderError::TooFar { .. } => "order_too_far_from_home",
            OrderError::Invalid(e) => e.code,
            OrderError::AlreadyConfirmed => "order_already_confirmed",
            OrderError::AlreadyRated => "order_already_rated",
            OrderError::NotConfirmed => "order_not_confirmed",
            OrderError::SplitMismatch { .. } => "order_split_mismatch",
            OrderError::TooEarly { .. } => "order_too_early",
            OrderError::ComplaintWindowClosed => "order_complaint_window_closed",
            OrderError::SameCaregiver => "order_same_caregiver",
        }
    }
    fn zh(&self) -> String {
        match self {
            OrderError::WrongState { action, state } => {
                format!("订单当前状态为“{}”，不能{}", state.label_zh(), action.label_zh())
            }
            OrderError::NotPermitted { action, role } => {
                format!("{}无权对该订单执行“{}”", role.label_zh(), action.label_zh())
            }
            OrderError::NotHolder => "您不是该订单的服务人员".into(),
            OrderError::Ineligible(i) => i.zh(),
            OrderError::TooFar { distance_m, tolerance_m } => {
                format!("当前位置距老人住址约{distance_m}米，超出允许的{tolerance_m}米，请到达后再操作")
            }
            OrderError::Invalid(e) => e.zh.clone(),
            OrderError::AlreadyConfirmed => "订单已确认".into(),
            OrderError::AlreadyRated => "订单已评价".into(),
            OrderError::NotConfirmed => "老人或家属尚未确认服务完成".into(),
            OrderError::SplitMismatch { split, price } => format!("结算金额{split}与订单价格{price}不符"),
            OrderError::TooEarly { until } => format!("时间未到，{until}之后才能操作"),
            OrderError::ComplaintWindowClosed => "已超过投诉期限".into(),
            OrderError::SameCaregiver => "该助老员已经在服务此订单".into(),
        }
    }
    fn en(&self) -> String {
        match self {
            OrderError::WrongState { action, state } => {
                format!("cannot do '{}' on an order in state '{}'", action.as_str(), state.as_str())
            }
            OrderError::NotPermitted { action, role } => {
                format!("a {} may not do '{}' on this order", role.label_en(), action.as_str())
            }
            OrderError::NotHolder => "you do not hold this order".into(),
            OrderError::Ineligible(i) => i.en(),
            OrderError::TooFar { distance_m, tolerance_m } => {
                format!("you are about {distance_m} m from the home, more than the {tolerance_m} m allowed")
            }
            OrderError::Invalid(e) => e.en.clone(),
            OrderError::AlreadyConfirmed => "the order is already confirmed".into(),
            OrderError::AlreadyRated => "the order is already rated".into(),
            OrderError::NotConfirmed => "the elder side has not confirmed the service".into(),
            OrderError::SplitMismatch { split, price } => {
                format!("the split adds up to {split}, the price is {price}")
            }
            OrderError::TooEarly { until } => format!("too early: not before {until}"),
            OrderError::ComplaintWindowClosed => "the complaint period is over".into(),
            OrderError::SameCaregiver => "this caregiver already holds the order".into(),
        }
    }
}

refusal_display!(OrderError);

impl From<FieldError> for OrderError {
    fn from(e: FieldError) -> Self {
        OrderError::Invalid(e)
    }
}

/// Who may place an order.
fn may_place(role: ActorRole) -> bool {
    role.is_elder_side() || matches!(role, ActorRole::Operator | ActorRole::Station)
}

/// Who may cancel in which state. The elder side may cancel until the caregiver sets off;
/// operators, stations and supervisors until the caregiver checks in; nobody after that (a
/// complaint is the way). A caregiver never cancels: before setting off they release the
/// order, after that they call the station.
pub fn may_cancel(role: ActorRole, state: OrderState) -> bool {
    match state {
        OrderState::Created | OrderState::Published | OrderState::Taken => {
            role.is_elder_side() || role.is_staff()
        }
        OrderState::OnTheWay => role.is_staff(),
        _ => false,
    }
}

impl Order {
    /// A new order, not yet on offer (apply [`OrderCommand::Publish`]).
    pub fn new(input: NewOrder, policy: OrderPolicy, now: DateTime<Utc>) -> Result<Order, OrderError> {
        if !may_place(input.placed_by.role) {
            return Err(OrderError::NotPermitted { action: OrderAction::Create, role: input.placed_by.role });
        }
        let invalid = |field: &str, zh: String, en: String| {
            OrderError::Invalid(FieldError::new(field, "invalid", zh, en))
        };
        if let Schedule::At { start } = input.schedule {
            if start < now - Duration::minutes(5) {
                return Err(invalid(
                    "schedule",
                    "预约时间已过".into(),
                    "the scheduled time has passed".into(),
                ));
            }
            if start > now + dispatch::days(policy.max_days_ahead) {
                return Err(invalid(
                    "schedule",
                    format!("最多可预约{}天以内的服务", policy.max_days_ahead),
                    format!("services can be booked at most {} days ahead", policy.max_days_ahead),
                ));
            }
        }
        if input.duration_min == 0 || input.duration_min > crate::catalogue::MAX_DURATION_MIN {
            return Err(invalid("duration_min", "服务时长无效".into(), "invalid duration".into()));
        }
        if input.price < Fen::ZERO {
            return Err(invalid("price", "价格不能为负".into(), "the price cannot be negative".into()));
        }
        let note = optional_text("note", &input.note, MAX_NOTE)?.unwrap_or_default();
        let mut order = Order {
            elder: input.elder,
            region: input.region,
            home: input.home,
            item: input.item,
            category: input.category,
            skills: input.skills,
            duration_min: input.duration_min,
            price: input.price,
            placed_by: input.placed_by,
            channel: input.channel,
            schedule: input.schedule,
            note,
            policy,
            state: OrderState::Created,
            created_at: now,
            published_at: None,
            dispatch: DispatchState::default(),
            caregiver: None,
            assigned_by: None,
            taken_at: None,
            trip_started_at: None,
            check_in: None,
            check_out: None,
            checked_out_at: None,
            served_min: None,
            short_service: false,
            service_notes: String::new(),
            photos: Vec::new(),
            late_alerted: false,
            confirmed_at: None,
            confirmed_by: None,
            rating: None,
            complaints: Vec::new(),
            settlement: None,
            settled_at: None,
            cancellation: None,
            no_show: None,
            ended_at: None,
            history: Vec::new(),
        };
        order.history.push(HistoryEntry {
            at: now,
            action: OrderAction::Create,
            by: Some(input.placed_by),
            from: OrderState::Created,
            to: OrderState::Created,
            note: String::new(),
        });
        Ok(order)
    }

    /// Whether `caregiver` may see the elder's address and phone now: only while holding the
    /// order and until check-out.
    pub fn may_see_contact(&self, caregiver: i64) -> bool {
        self.state.is_held() && self.caregiver == Some(caregiver)
    }

    /// Applies one step at `now`. On error the order is unchanged.
    pub fn apply(&mut self, cmd: &OrderCommand, now: DateTime<Utc>) -> Result<Vec<OrderEffect>, OrderError> {
        let mut next = self.clone();
        let fx = next.step(cmd, now)?;
        *self = next;
        Ok(fx)
    }

    fn step(&mut self, cmd: &OrderCommand, now: DateTime<Utc>) -> Result<Vec<OrderEffect>, OrderError> {
        let action = cmd.action();
        let from = self.state;
        let wrong = || OrderError::WrongState { action, state: from };
        let mut fx = Vec::new();
        let by: Option<OrderActor>;
        let mut note = String::new();
        match cmd {
            OrderCommand::Publish { by: who } => {
                if from != OrderState::Created {
                    return Err(wrong());
                }
                if !(may_place(who.role) || who.role == ActorRole::System) {
                    return Err(OrderError::NotPermitted { action, role: who.role });
                }
                by = Some(*who);
                self.state = OrderState::Published;
                self.published_at = Some(now);
                fx.push(self.start_offer(now));
            }
            OrderCommand::Grab { caregiver } => {
                dispatch::validate_grab(self, caregiver, now)?;
                by = Some(OrderActor::new(ActorRole::Caregiver, caregiver.id));
                self.take(caregiver.id, None, now, &mut fx);
                fx.push(OrderEffect::Notify { to: NoticeRecipient::Requester, notice: Notice::Taken });
            }
            OrderCommand::Assign { caregiver, by: who } => {
                if !matches!(from, OrderState::Created | OrderState::Published | OrderState::Taken) {
                    return Err(wrong());
                }
                if !(who.role.is_staff() || who.role == ActorRole::System) {
                    return Err(OrderError::NotPermitted { action, role: who.role });
                }
                if from == OrderState::Taken && self.caregiver == Some(caregiver.id) {
                    return Err(OrderError::SameCaregiver);
                }
                if who.role == ActorRole::System {
                    // Auto-assignment follows the same rules as a grab.
                    dispatch::eligible(self, caregiver, now).map_err(OrderError::Ineligible)?;
                } else {
                    // Staff may send someone off duty or beyond the radius, never someone
                    // unqualified or double-booked.
                    dispatch::qualified_and_free(self, caregiver, now).map_err(OrderError::Ineligible)?;
                }
                if from == OrderState::Taken
                    && let Some(previous) = self.caregiver
                {
                    fx.push(OrderEffect::RevokeContact { caregiver: previous });
                    fx.push(OrderEffect::Notify {
                        to: NoticeRecipient::Caregiver { id: previous },
                        notice: Notice::Reassigned,
                    });
                    note = format!("from {previous}");
                }
                by = Some(*who);
                if from == OrderState::Created {
                    self.published_at = Some(now);
                }
                self.take(caregiver.id, Some(*who), now, &mut fx);
                fx.push(OrderEffect::Notify {
                    to: NoticeRecipient::Caregiver { id: caregiver.id },
                    notice: Notice::Assigned,
                });
                if from != OrderState::Taken {
                    fx.push(OrderEffect::Notify { to: NoticeRecipient::Requester, notice: Notice::Taken });
                }
            }
            OrderCommand::Release { caregiver, reason } => {
                self.require_holder(*caregiver)?;
                if from != OrderState::Taken {
                    return Err(wrong());
                }
                note = required_text("reason", reason, MAX_NOTE)?;
                by = Some(OrderActor::new(ActorRole::Caregiver, *caregiver));
                if !self.dispatch.excluded.contains(caregiver) {
                    self.dispatch.excluded.push(*caregiver);
                }
                self.state = OrderState::Published;
                self.caregiver = None;
                self.assigned_by = None;
                self.taken_at = None;
                fx.push(OrderEffect::RevokeContact { caregiver: *caregiver });
                fx.push(OrderEffect::Notify { to: NoticeRecipient::Station, notice: Notice::Released });
                fx.push(self.start_offer(now));
            }
            OrderCommand::StartTrip { caregiver } => {
                self.require_holder(*caregiver)?;
                if from != OrderState::Taken {
                    return Err(wrong());
                }
                by = Some(OrderActor::new(ActorRole::Caregiver, *caregiver));
                self.state = OrderState::OnTheWay;
                self.trip_started_at = Some(now);
                fx.push(OrderEffect::Notify { to: NoticeRecipient::Requester, notice: Notice::OnTheWay });
            }
            OrderCommand::CheckIn { caregiver, position } => {
                self.require_holder(*caregiver)?;
                // Checking in straight from "taken" is allowed: caregivers forget to tap
                // "on my way", and the door check is what matters.
                if !matches!(from, OrderState::Taken | OrderState::OnTheWay) {
                    return Err(wrong());
                }
                let check = self.door_check(*position, now)?;
                by = Some(OrderActor::new(ActorRole::Caregiver, *caregiver));
                note = format!("{} m", check.distance_m);
                self.check_in = Some(check);
                self.state = OrderState::CheckedIn;
                fx.push(OrderEffect::Notify { to: NoticeRecipient::Requester, notice: Notice::Arrived });
            }
            OrderCommand::CheckOut { caregiver, position, notes, photos } => {
                self.require_holder(*caregiver)?;
                if from != OrderState::CheckedIn {
                    return Err(wrong());
                }
                let check = self.door_check(*position, now)?;
                let notes = optional_text("notes", notes, MAX_TEXT)?.unwrap_or_default();
                validate_photos(photos, self.policy.min_photos)?;
                let checked_in = self.check_in.map_or(now, |c| c.at);
                let served = (now - checked_in).num_minutes().clamp(0, i64::from(u32::MAX)) as u32;
                by = Some(OrderActor::new(ActorRole::Caregiver, *caregiver));
                note = format!("{served} min, {} m", check.distance_m);
                self.check_out = Some(check);
                self.checked_out_at = Some(now);
                self.served_min = Some(served);
                self.short_service = u64::from(served) * 100
                    < u64::from(self.duration_min) * u64::from(self.policy.short_service_pct);
                self.service_notes = notes;
                self.photos = photos.clone();
                self.state = OrderState::Completed;
                self.ended_at = Some(now);
                fx.push(OrderEffect::RevokeContact { caregiver: *caregiver });
                fx.push(OrderEffect::Notify {
                    to: NoticeRecipient::Requester,
                    notice: Notice::ConfirmRequested,
                });
                if self.short_service {
                    fx.push(OrderEffect::Notify {
                        to: NoticeRecipient::Station,
                        notice: Notice::ShortService,
                    });
                }
            }
            OrderCommand::Confirm { by: who } => {
                if !(who.role.is_elder_side() || who.role == ActorRole::Operator) {
                    return Err(OrderError::NotPermitted { action, role: who.role });
                }
                match from {
                    OrderState::Completed if self.confirmed_at.is_none() => {}
                    OrderState::Completed | OrderState::Rated | OrderState::Settled => {
                        return Err(OrderError::AlreadyConfirmed);
                    }
                    _ => return Err(wrong()),
                }
                by = Some(*who);
                self.confirmed_at = Some(now);
                self.confirmed_by = Some(*who);
                fx.push(OrderEffect::ReadyToSettle);
            }
            OrderCommand::Rate { by: who, stars, tags, text } => {
                // An operator's return call (电话回访) may record the elder's rating.
                if !(who.role.is_elder_side() || who.role == ActorRole::Operator) {
                    return Err(OrderError::NotPermitted { action, role: who.role });
                }
                match from {
                    OrderState::Completed | OrderState::Settled if self.rating.is_none() => {}
                    OrderState::Completed | OrderState::Rated | OrderState::Settled => {
                        return Err(OrderError::AlreadyRated);
                    }
                    _ => return Err(wrong()),
                }
                let rating = Rating::new(*who, *stars, tags, text, now)?;
                by = Some(*who);
                note = format!("{stars}★");
                if self.confirmed_at.is_none() {
                    // Rating a service confirms it.
                    self.confirmed_at = Some(now);
                    self.confirmed_by = Some(*who);
                    fx.push(OrderEffect::ReadyToSettle);
                }
                if from == OrderState::Completed {
                    self.state = OrderState::Rated;
                }
                if let Some(c) = self.caregiver {
                    fx.push(OrderEffect::RescoreCaregiver { caregiver: c });
                }
                if rating.stars <= 2 {
                    fx.push(OrderEffect::Notify { to: NoticeRecipient::Station, notice: Notice::LowRating });
                }
                self.rating = Some(rating);
            }
            OrderCommand::Complain { by: who, kind, text } => {
                if !(who.role.is_elder_side() || who.role.is_staff()) {
                    return Err(OrderError::NotPermitted { action, role: who.role });
                }
                let caregiver_involved = self.caregiver.is_some() || self.no_show.is_some();
                if matches!(from, OrderState::Created | OrderState::Published | OrderState::Expired)
                    || !caregiver_involved
                {
                    return Err(wrong());
                }
                if let Some(end) = self.ended_at
                    && now > end + dispatch::days(self.policy.complaint_window_days)
                {
                    return Err(OrderError::ComplaintWindowClosed);
                }
                let text = required_text("text", text, MAX_TEXT)?;
                by = Some(*who);
                note = kind.as_str().to_string();
                self.complaints.push(ComplaintNote { at: now, by: *who, kind: *kind, text });
                fx.push(OrderEffect::OpenComplaint { kind: *kind, caregiver: self.caregiver });
                fx.push(OrderEffect::Notify { to: NoticeRecipient::Station, notice: Notice::Complaint });
            }
            OrderCommand::Settle { split } => {
                match from {
                    OrderState::Completed | OrderState::Rated => {}
                    _ => return Err(wrong()),
                }
                if self.confirmed_at.is_none() {
                    return Err(OrderError::NotConfirmed);
                }
                let total = split.total();
                if total != self.price || split.price != self.price {
                    return Err(OrderError::SplitMismatch { split: total, price: self.price });
                }
                by = Some(OrderActor::system());
                self.settlement = Some(split.clone());
                self.settled_at = Some(now);
                self.state = OrderState::Settled;
                fx.push(OrderEffect::Notify { to: NoticeRecipient::Requester, notice: Notice::Settled });
            }
            OrderCommand::Cancel { by: who, reason, text } => {
                if from.is_final()
                    || matches!(from, OrderState::CheckedIn | OrderState::Completed | OrderState::Rated)
                {
                    return Err(wrong());
                }
                if !may_cancel(who.role, from) {
                    return Err(OrderError::NotPermitted { action, role: who.role });
                }
                let text = if *reason == CancelReason::Other {
                    required_text("text", text, MAX_NOTE)?
                } else {
                    optional_text("text", text, MAX_NOTE)?.unwrap_or_default()
                };
                by = Some(*who);
                note = reason.as_str().to_string();
                self.cancellation = Some(Cancellation { at: now, by: *who, reason: *reason, text, from });
                self.state = OrderState::Cancelled;
                self.ended_at = Some(now);
                if from == OrderState::Published {
                    fx.push(OrderEffect::Withdraw);
                }
                if from.is_held()
                    && let Some(c) = self.caregiver
                {
                    fx.push(OrderEffect::RevokeContact { caregiver: c });
                    fx.push(OrderEffect::Notify {
                        to: NoticeRecipient::Caregiver { id: c },
                        notice: Notice::Cancelled,
                    });
                }
                if who.role.is_staff() {
                    fx.push(OrderEffect::Notify {
                        to: NoticeRecipient::Requester,
                        notice: Notice::Cancelled,
                    });
                } else {
                    fx.push(OrderEffect::Notify { to: NoticeRecipient::Station, notice: Notice::Cancelled });
                }
            }
            OrderCommand::NoShow { by: who, party, position } => {
                if !matches!(from, OrderState::Taken | OrderState::OnTheWay) {
                    return Err(wrong());
                }
                let holder = self.caregiver.unwrap_or_default();
                let mut record_position = None;
                match party {
                    NoShowParty::Elder => {
                        // Only the caregiver at the door can say nobody opened it.
                        if who.role != ActorRole::Caregiver {
                            return Err(OrderError::NotPermitted { action, role: who.role });
                        }
                        self.require_holder(who.id)?;
                        // Not before the appointment: an elder may be out until then.
                        if let Schedule::At { start } = self.schedule
                            && now < start
                        {
                            return Err(OrderError::TooEarly { until: start });
                        }
                        let p =
                            position.ok_or_else(|| OrderError::Invalid(FieldError::required("position")))?;
                        self.door_check(p, now)?;
                        record_position = Some(p);
                        fx.push(OrderEffect::Notify {
                            to: NoticeRecipient::Requester,
                            notice: Notice::NoShow,
                        });
                        fx.push(OrderEffect::Notify { to: NoticeRecipient::Station, notice: Notice::NoShow });
                    }
                    NoShowParty::Caregiver => {
                        if !(who.role.is_elder_side() || who.role.is_staff()) {
                            return Err(OrderError::NotPermitted { action, role: who.role });
                        }
                        let due = self.due_at().unwrap_or(now);
                        let until = due + minutes(self.policy.no_show_grace_min);
                        if now < until {
                            return Err(OrderError::TooEarly { until });
                        }
                        fx.push(OrderEffect::Notify {
                            to: NoticeRecipient::Caregiver { id: holder },
                            notice: Notice::NoShow,
                        });
                        fx.push(OrderEffect::Notify { to: NoticeRecipient::Station, notice: Notice::NoShow });
                        fx.push(OrderEffect::RescoreCaregiver { caregiver: holder });
                    }
                }
                fx.insert(0, OrderEffect::RevokeContact { caregiver: holder });
                by = Some(*who);
                note = party.as_str().to_string();
                self.no_show =
                    Some(NoShowRecord { at: now, by: *who, party: *party, position: record_position });
                self.state = OrderState::NoShow;
                self.ended_at = Some(now);
            }
            OrderCommand::Expire => {
                if !matches!(from, OrderState::Created | OrderState::Published) {
                    return Err(wrong());
                }
                let until = self.expires_at();
                if now < until {
                    return Err(OrderError::TooEarly { until });
                }
                by = Some(OrderActor::system());
                self.state = OrderState::Expired;
                self.ended_at = Some(now);
                if from == OrderState::Published {
                    fx.push(OrderEffect::Withdraw);
                }
                fx.push(OrderEffect::Notify { to: NoticeRecipient::Requester, notice: Notice::Expired });
                fx.push(OrderEffect::Notify { to: NoticeRecipient::Station, notice: Notice::Expired });
            }
        }
        self.history.push(HistoryEntry { at: now, action, by, from, to: self.state, note });
        Ok(fx)
    }

    /// Starts (or restarts) the offer at the first ring.
    fn start_offer(&mut self, now: DateTime<Utc>) -> OrderEffect {
        self.dispatch.offered_at = Some(now);
        self.dispatch.step = 0;
        self.dispatch.escalated = false;
        self.dispatch.auto_assign_attempts = 0;
        let radius_m = self.policy.dispatch.radius_steps.first().map_or(0, |s| s.radius_m);
        OrderEffect::Offer { radius_m, exclude: self.dispatch.excluded.clone() }
    }

    fn take(
        &mut self,
        caregiver: i64,
        by: Option<OrderActor>,
        now: DateTime<Utc>,
        fx: &mut Vec<OrderEffect>,
    ) {
        if self.state == OrderState::Published {
            fx.push(OrderEffect::Withdraw);
        }
        self.state = OrderState::Taken;
        self.caregiver = Some(caregiver);
        self.assigned_by = by;
        self.taken_at = Some(now);
        self.late_alerted = false;
        fx.push(OrderEffect::GrantContact { caregiver });
    }

    fn require_holder(&self, caregiver: i64) -> Result<(), OrderError> {
        if self.state.is_held() && self.caregiver == Some(caregiver) {
            Ok(())
        } else {
            Err(OrderError::NotHolder)
        }
    }

    fn door_check(&self, position: GeoPoint, now: DateTime<Utc>) -> Result<DoorCheck, OrderError> {
        let d = distance_m(self.home, position);
        let tolerance_m = self.policy.door_tolerance_m;
        if d > tolerance_m {
            return Err(OrderError::TooFar { distance_m: d, tolerance_m });
        }
        Ok(DoorCheck { at: now, position, distance_m: d })
    }

    pub(crate) fn log(
        &mut self,
        at: DateTime<Utc>,
        action: OrderAction,
        by: Option<OrderActor>,
        note: String,
    ) {
        self.history.push(HistoryEntry { at, action, by, from: self.state, to: self.state, note });
    }
}

fn validate_photos(photos: &[PhotoRef], min: u32) -> Result<(), OrderError> {
    if photos.len() > MAX_PHOTOS {
        return Err(OrderError::Invalid(FieldError::new(
            "photos",
            "too_many",
            format!("最多上传{MAX_PHOTOS}张照片"),
            format!("at most {MAX_PHOTOS} photos"),
        )));
    }
    if photos.len() < min as usize {
        return Err(OrderError::Invalid(FieldError::new(
            "photos",
            "too_few",
            format!("请至少上传{min}张服务照片"),
            format!("at least {min} photos of the service are required"),
        )));
    }
    for (i, p) in photos.iter().enumerate() {
        let field = format!("photos[{i}]");
        required_text(&field, &p.0, 200)?;
    }
    Ok(())
}
