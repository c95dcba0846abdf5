//! Grab dispatch (抢单): which caregivers are offered an order — qualified, on duty, inside
//! a radius of the elder's home that widens with time, not busy — the check of one grab, the
//! ranking for operators and auto-assignment, and the order's timers (widen, escalate,
//! auto-assign, expire, late arrival, auto-confirm).
//!
//! "Exactly one winner" is the store's guarantee (a conditional update on the order's state
//! and version); this module decides whether a grab is valid at all.

use std::cmp::Reverse;

use chrono::{DateTime, Duration, Utc};
use zhulao_domain::error::Errors;
use zhulao_domain::{FieldError, GeoPoint, RegionCode};

use crate::codes::SkillCode;
use crate::error::{Refusal, refusal_display};
use crate::order::{
    HistoryEntry, Notice, NoticeRecipient, Order, OrderAction, OrderActor, OrderEffect, OrderState, Schedule,
};
use crate::region::{RegionPrefix, most_specific};

/// One ring of the widening offer: from `after_min` minutes on the dispatch clock, caregivers
/// within `radius_m` of the home see the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RadiusStep {
    pub after_min: u32,
    pub radius_m: u32,
}

/// How an order looks for a caregiver; configurable per region ([`DispatchPolicies`]). Keys
/// left out of a configuration keep their defaults. Minutes count on the order's dispatch
/// clock ([`Order::dispatch_clock`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct DispatchPolicy {
    /// The widening rings, by increasing time and radius; the first starts at 0. Default:
    /// 2 km at once, 5 km after 5 minutes, 10 km after 15 (a 15-minute service circle first).
    pub radius_steps: Vec<RadiusStep>,
    /// Nobody has taken the order after this long: the station and the operators are told.
    pub escalate_after_min: u32,
    /// Nobody has taken it after this long: the best candidate is assigned automatically.
    pub auto_assign_after_min: u32,
    /// A failed auto-assignment (nobody eligible) is retried this much later …
    pub auto_assign_retry_min: u32,
    /// … at most this many times in all.
    pub auto_assign_attempts: u32,
    /// An order for "as soon as possible" nobody took expires this long after publication.
    pub asap_expire_min: u32,
    /// A scheduled order nobody took expires this long after its start.
    pub scheduled_expire_min: u32,
    /// A scheduled order's dispatch clock starts this long before its start (or at
    /// publication, if later), so an order for next week does not escalate tonight.
    pub scheduled_lead_min: u32,
    /// Added after each order's standard duration when checking a caregiver's agenda, for the
    /// trip to the next home.
    pub travel_buffer_min: u32,
    /// Candidates are ranked by distance in bands this wide, then by quality score.
    pub rank_band_m: u32,
}

impl Default for DispatchPolicy {
    fn default() -> Self {
        DispatchPolicy {
            radius_steps: vec![
                RadiusStep { after_min: 0, radius_m: 2_000 },
                RadiusStep { after_min: 5, radius_m: 5_000 },
                RadiusStep { after_min: 15, radius_m: 10_000 },
            ],
            escalate_after_min: 20,
            auto_assign_after_min: 30,
            auto_assign_retry_min: 10,
            auto_assign_attempts: 3,
            asap_expire_min: 240,
            scheduled_expire_min: 60,
            scheduled_lead_min: 24 * 60,
            travel_buffer_min: 30,
            rank_band_m: 1_000,
        }
    }
}

impl DispatchPolicy {
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errs = Errors::default();
        let bad = |field: &str, zh: &str, en: &str| FieldError::new(field, "invalid_policy", zh, en);
        match self.radius_steps.first() {
            None => errs.push(bad("radius_steps", "至少需要一个派单半径", "at least one radius step")),
            Some(first) if first.after_min != 0 => errs.push(bad(
                "radius_steps",
                "第一个派单半径须从0分钟开始",
                "the first radius step starts at 0",
            )),
            Some(_) => {}
        }
        if self
            .radius_steps
            .windows(2)
            .any(|w| w[1].after_min <= w[0].after_min || w[1].radius_m <= w[0].radius_m)
        {
            errs.push(bad(
                "radius_steps",
                "派单半径须随时间递增",
                "radius steps must grow in both time and radius",
            ));
        }
        if self.radius_steps.iter().any(|s| s.radius_m == 0 || s.radius_m > 100_000) {
            errs.push(bad("radius_steps", "派单半径应在1米至100公里之间", "radii must be 1 m to 100 km"));
        }
        if self.auto_assign_attempts > 1 && self.auto_assign_retry_min == 0 {
            errs.push(bad("auto_assign_retry_min", "重试间隔不能为0", "the retry interval cannot be 0"));
        }
        if self.rank_band_m == 0 {
            errs.push(bad("rank_band_m", "排序距离分档不能为0", "the ranking band cannot be 0"));
        }
        errs.check()
    }

    /// The widest ring.
    pub fn max_radius_m(&self) -> u32 {
        self.radius_steps.last().map_or(0, |s| s.radius_m)
    }
}

/// Dispatch policies per region: the most specific prefix wins, else the default.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct DispatchPolicies {
    pub default: DispatchPolicy,
    pub regions: Vec<RegionDispatch>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegionDispatch {
    pub region_prefix: RegionPrefix,
    pub policy: DispatchPolicy,
}

impl DispatchPolicies {
    pub fn for_region(&self, region: &RegionCode) -> &DispatchPolicy {
        most_specific(self.regions.iter().map(|r| (&r.region_prefix, &r.policy)), region)
            .unwrap_or(&self.default)
    }
}

/// The radius of the offer `now`, for a dispatch clock started at `clock`: the ring whose
/// start has passed most recently (the first ring before the clock starts).
pub fn offer_radius(clock: DateTime<Utc>, now: DateTime<Utc>, policy: &DispatchPolicy) -> u32 {
    let step = current_step(clock, now, policy);
    policy.radius_steps.get(step).map_or(0, |s| s.radius_m)
}

/// The index of the ring in force `now`.
pub fn current_step(clock: DateTime<Utc>, now: DateTime<Utc>, policy: &DispatchPolicy) -> usize {
    policy.radius_steps.iter().rposition(|s| clock + minutes(s.after_min) <= now).unwrap_or(0)
}

pub(crate) fn minutes(m: u32) -> Duration {
    Duration::minutes(i64::from(m))
}

/// A century: configured periods are capped at this, so no configuration can push a date
/// past the calendar's end (a longer period means "never" anyway).
const CENTURY_DAYS: u32 = 36_525;

pub(crate) fn hours(h: u32) -> Duration {
    Duration::hours(i64::from(h.min(CENTURY_DAYS * 24)))
}

pub(crate) fn days(d: u32) -> Duration {
    Duration::days(i64::from(d.min(CENTURY_DAYS)))
}

/// A time span in a caregiver's agenda: `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Window {
    pub fn overlaps(&self, other: &Window) -> bool {
        self.start < other.end && other.start < self.end
    }
}

/// What dispatch needs to know about one caregiver at the moment of a grab or a ranking,
/// fetched by the store.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Caregiver {
    pub id: i64,
    pub skills: Vec<SkillCode>,
    pub on_duty: bool,
    /// The last reported position (the phone's GPS).
    pub position: Option<GeoPoint>,
    /// The windows of the orders the caregiver already holds ([`Order::window`]).
    #[serde(default)]
    pub commitments: Vec<Window>,
    /// The quality score in thousandths of a star ([`crate::quality::QualityScore`]).
    #[serde(default)]
    pub quality_milli: u32,
}

/// Why a caregiver may not take an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ineligible {
    /// Released or declined this order before.
    Excluded,
    NotOnDuty,
    MissingSkills(Vec<SkillCode>),
    NoPosition,
    OutOfRange {
        distance_m: u32,
        radius_m: u32,
    },
    /// Holds another order whose window overlaps this one.
    Busy {
        start: DateTime<Utc>,
    },
}

impl Refusal for Ineligible {
    fn code(&self) -> &'static str {
        match self {
            Ineligible::Excluded => "dispatch_excluded",
            Ineligible::NotOnDuty => "dispatch_not_on_duty",
            Ineligible::MissingSkills(_) => "dispatch_missing_skills",
            Ineligible::NoPosition => "dispatch_no_position",
            Ineligible::OutOfRange { .. } => "dispatch_out_of_range",
            Ineligible::Busy { .. } => "dispatch_busy",
        }
    }
    fn zh(&self) -> String {
        match self {
            Ineligible::Excluded => "您已放弃过该订单，不能再次接单".into(),
            Ineligible::NotOnDuty => "您当前不在岗，请先上岗".into(),
            Ineligible::MissingSkills(s) => format!("缺少该服务所需的技能：{}", join(s)),
            Ineligible::NoPosition => "无法获取您的位置，请打开定位".into(),
            Ineligible::OutOfRange { distance_m, radius_m } => {
                format!("您距老人住址约{distance_m}米，超出当前派单范围{radius_m}米")
            }
            Ineligible::Busy { start } => format!("与您已接的订单时间冲突（{start}）"),
        }
    }
    fn en(&self) -> String {
        match self {
            Ineligible::Excluded => "you gave this order up before and cannot take it again".into(),
            Ineligible::NotOnDuty => "you are not on duty".into(),
            Ineligible::MissingSkills(s) => format!("missing skills for this service: {}", join(s)),
            Ineligible::NoPosition => "your position is unknown; turn on location".into(),
            Ineligible::OutOfRange { distance_m, radius_m } => {
                format!(
                    "you are about {distance_m} m from the home, beyond the current radius of {radius_m} m"
                )
            }
            Ineligible::Busy { start } => format!("it overlaps an order you already hold ({start})"),
        }
    }
}

refusal_display!(Ineligible);

fn join(s: &[SkillCode]) -> String {
    s.iter().map(SkillCode::as_str).collect::<Vec<_>>().join(", ")
}

/// The skills `order` requires that the caregiver lacks.
pub fn missing_skills(required: &[SkillCode], has: &[SkillCode]) -> Vec<SkillCode> {
    required.iter().filter(|s| !has.contains(s)).cloned().collect()
}

/// Whether the caregiver may be offered (and grab) the order `now`: not excluded, on duty,
/// qualified (skills ⊇ required), inside the current offer radius, and free for the order's
/// window. Checks in that order and reports the first failure. Does not look at the order's
/// state; [`validate_grab`] does.
pub fn eligible(order: &Order, caregiver: &Caregiver, now: DateTime<Utc>) -> Result<(), Ineligible> {
    if order.dispatch.excluded.contains(&caregiver.id) {
        return Err(Ineligible::Excluded);
    }
    if !caregiver.on_duty {
        return Err(Ineligible::NotOnDuty);
    }
    qualified_and_free(order, caregiver, now)?;
    let position = caregiver.position.ok_or(Ineligible::NoPosition)?;
    let distance_m = distance_m(order.home, position);
    let radius_m = order.offer_radius(now);
    if distance_m > radius_m {
        return Err(Ineligible::OutOfRange { distance_m, radius_m });
    }
    Ok(())
}

/// The checks an operator's assignment cannot override: skills and a free agenda.
pub fn qualified_and_free(
    order: &Order,
    caregiver: &Caregiver,
    now: DateTime<Utc>,
) -> Result<(), Ineligible> {
    let missing = missing_skills(&order.skills, &caregiver.skills);
    if !missing.is_empty() {
        return Err(Ineligible::MissingSkills(missing));
    }
    let window = order.window(now);
    if let Some(w) = caregiver.commitments.iter().filter(|w| w.overlaps(&window)).min_by_key(|w| w.start) {
        return Err(Ineligible::Busy { start: w.start });
    }
    Ok(())
}

/// Validates one grab: the order is on offer and the caregiver is eligible `now`. The store
/// then makes it stick only if the order is still on offer (one winner).
pub fn validate_grab(
    order: &Order,
    caregiver: &Caregiver,
    now: DateTime<Utc>,
) -> Result<(), crate::order::OrderError> {
    if order.state != OrderState::Published {
        return Err(crate::order::OrderError::WrongState { action: OrderAction::Grab, state: order.state });
    }
    eligible(order, caregiver, now).map_err(crate::order::OrderError::Ineligible)
}

/// Whole metres between two points, rounded.
pub fn distance_m(a: GeoPoint, b: GeoPoint) -> u32 {
    let d = a.distance_m(b).round();
    if d.is_finite() && d >= 0.0 { d.min(u32::MAX as f64) as u32 } else { u32::MAX }
}

/// One eligible caregiver in the ranking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Ranked {
    pub caregiver: i64,
    pub distance_m: u32,
    pub quality_milli: u32,
}

/// The eligible caregivers, best first: nearest by distance band
/// ([`DispatchPolicy::rank_band_m`]), then the best quality score, then the exact distance,
/// then the lowest id — a total order, so the ranking is deterministic.
pub fn rank(order: &Order, candidates: &[Caregiver], now: DateTime<Utc>) -> Vec<Ranked> {
    let band = order.policy.dispatch.rank_band_m.max(1);
    let mut out: Vec<Ranked> = candidates
        .iter()
        .filter(|c| eligible(order, c, now).is_ok())
        .filter_map(|c| {
            let position = c.position?;
            Some(Ranked {
                caregiver: c.id,
                distance_m: distance_m(order.home, position),
                quality_milli: c.quality_milli,
            })
        })
        .collect();
    out.sort_by_key(|r| (r.distance_m / band, Reverse(r.quality_milli), r.distance_m, r.caregiver));
    // A caregiver listed twice counts once, at their better rank.
    let mut seen = std::collections::BTreeSet::new();
    out.retain(|r| seen.insert(r.caregiver));
    out
}

/// The caregiver auto-assignment picks ([`OrderEffect::AutoAssign`]), if anyone is eligible.
pub fn best_candidate(order: &Order, candidates: &[Caregiver], now: DateTime<Utc>) -> Option<i64> {
    rank(order, candidates, now).first().map(|r| r.caregiver)
}

/// A timer that can come due on an order; [`Order::next_due`] says when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum OrderTimer {
    /// The next offer ring starts.
    Widen,
    /// Nobody took it: tell the station and the operators.
    Escalate,
    /// Nobody took it: assign the best candidate.
    AutoAssign,
    /// Nobody took it in time: the order expires.
    Expire,
    /// The caregiver has not checked in by the time they were due.
    LateAlert,
    /// The elder side did not confirm a completed order: it is confirmed for them.
    AutoConfirm,
}

impl Order {
    /// When the dispatch timers count from: publication (or the last release) for an order
    /// "as soon as possible"; for a scheduled one, [`DispatchPolicy::scheduled_lead_min`]
    /// before its start if that is later.
    pub fn dispatch_clock(&self) -> Option<DateTime<Utc>> {
        let offered = self.dispatch.offered_at?;
        Some(match self.schedule {
            Schedule::Asap => offered,
            Schedule::At { start } => offered.max(start - minutes(self.policy.dispatch.scheduled_lead_min)),
        })
    }

    /// The offer radius `now` (the first ring when the order is not on offer).
    pub fn offer_radius(&self, now: DateTime<Utc>) -> u32 {
        match self.dispatch_clock() {
            Some(clock) => offer_radius(clock, now, &self.policy.dispatch),
            None => self.policy.dispatch.radius_steps.first().map_or(0, |s| s.radius_m),
        }
    }

    /// When an order nobody takes expires.
    pub fn expires_at(&self) -> DateTime<Utc> {
        let p = &self.policy.dispatch;
        match self.schedule {
            Schedule::Asap => self.published_at.unwrap_or(self.created_at) + minutes(p.asap_expire_min),
            Schedule::At { start } => start + minutes(p.scheduled_expire_min),
        }
    }

    /// When the caregiver is due at the door: the scheduled start, or for an order "as soon as
    /// possible" [`crate::order::OrderPolicy::asap_arrival_min`] after it was taken.
    pub fn due_at(&self) -> Option<DateTime<Utc>> {
        match self.schedule {
            Schedule::At { start } => Some(start),
            Schedule::Asap => self.taken_at.map(|t| t + minutes(self.policy.asap_arrival_min)),
        }
    }

    /// The span this order occupies in a caregiver's agenda: its start (the scheduled start,
    /// or when it was taken — `now` if not yet) for its standard duration plus the travel
    /// buffer.
    pub fn window(&self, now: DateTime<Utc>) -> Window {
        let start = match self.schedule {
            Schedule::At { start } => start,
            Schedule::Asap => self.taken_at.unwrap_or(now),
        };
        Window {
            start,
            end: start + minutes(self.duration_min.saturating_add(self.policy.dispatch.travel_buffer_min)),
        }
    }

    /// When the next timer comes due, and which. `None` when nothing is pending.
    pub fn next_due(&self) -> Option<(DateTime<Utc>, OrderTimer)> {
        self.pending_timers().into_iter().min_by_key(|(at, t)| (*at, *t as u8))
    }

    /// Fires every timer due at `now`, in due order, and returns their effects. A fired timer
    /// is recorded on the order and does not fire again.
    pub fn fire_due(&mut self, now: DateTime<Utc>) -> Vec<(OrderTimer, Vec<OrderEffect>)> {
        let mut out = Vec::new();
        // Each firing consumes a step, a flag or an attempt, or ends the order; bounded anyway.
        for _ in 0..64 {
            let Some((at, timer)) = self.next_due() else { break };
            if at > now {
                break;
            }
            let fx = self.fire(timer, at);
            out.push((timer, fx));
        }
        out
    }

    fn pending_timers(&self) -> Vec<(DateTime<Utc>, OrderTimer)> {
        let p = &self.policy.dispatch;
        let mut t = Vec::new();
        match self.state {
            OrderState::Created => t.push((self.expires_at(), OrderTimer::Expire)),
            OrderState::Published => {
                t.push((self.expires_at(), OrderTimer::Expire));
                if let Some(clock) = self.dispatch_clock() {
                    if let Some(next) = p.radius_steps.get(self.dispatch.step + 1) {
                        t.push((clock + minutes(next.after_min), OrderTimer::Widen));
                    }
                    if !self.dispatch.escalated {
                        t.push((clock + minutes(p.escalate_after_min), OrderTimer::Escalate));
                    }
                    if self.dispatch.auto_assign_attempts < p.auto_assign_attempts {
                        let retry =
                            p.auto_assign_retry_min.saturating_mul(self.dispatch.auto_assign_attempts);
                        t.push((
                            clock + minutes(p.auto_assign_after_min.saturating_add(retry)),
                            OrderTimer::AutoAssign,
                        ));
                    }
                }
            }
            OrderState::Taken | OrderState::OnTheWay => {
                if !self.late_alerted
                    && let Some(due) = self.due_at()
                {
                    t.push((due + minutes(self.policy.late_alert_min), OrderTimer::LateAlert));
                }
            }
            OrderState::Completed => {
                if self.confirmed_at.is_none()
                    && let Some(out) = self.checked_out_at
                {
                    t.push((out + minutes(self.policy.confirm_window_min), OrderTimer::AutoConfirm));
                }
            }
            _ => {}
        }
        t
    }

    fn fire(&mut self, timer: OrderTimer, at: DateTime<Utc>) -> Vec<OrderEffect> {
        let mut fx = Vec::new();
        let system = Some(OrderActor::system());
        match timer {
            OrderTimer::Widen => {
                self.dispatch.step += 1;
                let radius_m =
                    self.policy.dispatch.radius_steps.get(self.dispatch.step).map_or(0, |s| s.radius_m);
                fx.push(OrderEffect::Offer { radius_m, exclude: self.dispatch.excluded.clone() });
                self.log(at, OrderAction::Widen, system, format!("{radius_m} m"));
            }
            OrderTimer::Escalate => {
                self.dispatch.escalated = true;
                fx.push(OrderEffect::Notify { to: NoticeRecipient::Station, notice: Notice::Unanswered });
                fx.push(OrderEffect::Notify { to: NoticeRecipient::Operators, notice: Notice::Unanswered });
                self.log(at, OrderAction::Escalate, system, String::new());
            }
            OrderTimer::AutoAssign => {
                self.dispatch.auto_assign_attempts += 1;
                let radius_m = self.offer_radius(at);
                fx.push(OrderEffect::AutoAssign { radius_m, exclude: self.dispatch.excluded.clone() });
                self.log(
                    at,
                    OrderAction::AutoAssign,
                    system,
                    format!("attempt {}", self.dispatch.auto_assign_attempts),
                );
            }
            OrderTimer::Expire => {
                let from = self.state;
                self.state = OrderState::Expired;
                self.ended_at = Some(at);
                if from == OrderState::Published {
                    fx.push(OrderEffect::Withdraw);
                }
                fx.push(OrderEffect::Notify { to: NoticeRecipient::Requester, notice: Notice::Expired });
                fx.push(OrderEffect::Notify { to: NoticeRecipient::Station, notice: Notice::Expired });
                self.history.push(HistoryEntry {
                    at,
                    action: OrderAction::Expire,
                    by: system,
                    from,
                    to: OrderState::Expired,
                    note: String::new(),
                });
            }
            OrderTimer::LateAlert => {
                self.late_alerted = true;
                fx.push(OrderEffect::Notify { to: NoticeRecipient::Station, notice: Notice::Late });
                if let Some(c) = self.caregiver {
                    fx.push(OrderEffect::Notify {
                        to: NoticeRecipient::Caregiver { id: c },
                        notice: Notice::Late,
                    });
                }
                self.log(at, OrderAction::LateAlert, system, String::new());
            }
            OrderTimer::AutoConfirm => {
                self.confirmed_at = Some(at);
                self.confirmed_by = system;
                fx.push(OrderEffect::ReadyToSettle);
                self.log(at, OrderAction::AutoConfirm, system, String::new());
            }
        }
        fx
    }
}
