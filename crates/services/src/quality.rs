//! Ratings (1–5 stars with tags and text), complaint cases with deadlines
//! (open → handling → resolved → closed), and the caregiver quality score: a Bayesian
//! average of the ratings in which upheld complaints and no-shows count as one-star ratings.

use chrono::{DateTime, Utc};
use zhulao_domain::error::{optional_text, required_text};
use zhulao_domain::{FieldError, code_enum};

use crate::dispatch::{days, hours};
use crate::error::{Refusal, refusal_display};
use crate::order::{ActorRole, OrderActor};

code_enum! {
    /// Quick tags on a rating.
    RatingTag {
        Punctual = ("punctual", "准时守约", "Punctual"),
        Skilled = ("skilled", "专业细致", "Skilled and careful"),
        Friendly = ("friendly", "态度热情", "Friendly"),
        Patient = ("patient", "耐心周到", "Patient"),
        Tidy = ("tidy", "干净整洁", "Tidy"),
        Late = ("late", "迟到", "Late"),
        Hasty = ("hasty", "敷衍了事", "Hasty"),
        Rude = ("rude", "态度不好", "Rude"),
        Incomplete = ("incomplete", "服务未完成", "Not finished"),
        Overcharged = ("overcharged", "额外收费", "Asked for extra money"),
    }
}

impl RatingTag {
    pub fn is_positive(self) -> bool {
        matches!(
            self,
            RatingTag::Punctual
                | RatingTag::Skilled
                | RatingTag::Friendly
                | RatingTag::Patient
                | RatingTag::Tidy
        )
    }
}

pub const MAX_TAGS: usize = 8;
pub const MAX_RATING_TEXT: usize = 500;

/// A rating of one order by the elder side.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Rating {
    pub stars: u8,
    pub tags: Vec<RatingTag>,
    pub text: String,
    pub by: OrderActor,
    pub at: DateTime<Utc>,
}

impl Rating {
    /// Validates the stars (1–5), the tags (at most 8, duplicates dropped) and the text.
    pub fn new(
        by: OrderActor,
        stars: u8,
        tags: &[RatingTag],
        text: &str,
        at: DateTime<Utc>,
    ) -> Result<Rating, FieldError> {
        if !(1..=5).contains(&stars) {
            return Err(FieldError::new("stars", "out_of_range", "评分应为1至5星", "stars must be 1 to 5"));
        }
        let mut t: Vec<RatingTag> = Vec::new();
        for tag in tags {
            if !t.contains(tag) {
                t.push(*tag);
            }
        }
        if t.len() > MAX_TAGS {
            return Err(FieldError::new(
                "tags",
                "too_many",
                format!("标签最多{MAX_TAGS}个"),
                format!("at most {MAX_TAGS} tags"),
            ));
        }
        let text = optional_text("text", text, MAX_RATING_TEXT)?.unwrap_or_default();
        Ok(Rating { stars, tags: t, text, by, at })
    }
}

code_enum! {
    /// What a complaint is about.
    ComplaintKind {
        Attitude = ("attitude", "服务态度", "Attitude"),
        Quality = ("quality", "服务质量", "Quality of the service"),
        Lateness = ("lateness", "迟到爽约", "Late or did not come"),
        Billing = ("billing", "收费问题", "Billing"),
        Safety = ("safety", "安全问题", "Safety"),
        Conduct = ("conduct", "违规行为", "Misconduct"),
        Other = ("other", "其他", "Other"),
    }
}

code_enum! {
    /// Where a complaint case is.
    ComplaintState {
        Open = ("open", "待受理", "Open"),
        Handling = ("handling", "处理中", "Being handled"),
        Resolved = ("resolved", "已办结", "Resolved"),
        Closed = ("closed", "已关闭", "Closed"),
    }
}

/// Deadlines of complaint handling; configurable per region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct ComplaintPolicy {
    /// A case must be taken up within this many hours, or the supervisor is told.
    pub accept_within_h: u32,
    /// A case must be resolved within this many hours of opening (or reopening): its deadline.
    pub resolve_within_h: u32,
    /// The complainant may reopen a resolved case for this many days; then it closes.
    pub reopen_within_days: u32,
}

impl Default for ComplaintPolicy {
    fn default() -> Self {
        ComplaintPolicy { accept_within_h: 24, resolve_within_h: 72, reopen_within_days: 7 }
    }
}

/// One line of a case's history.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ComplaintEntry {
    pub at: DateTime<Utc>,
    pub by: OrderActor,
    pub from: ComplaintState,
    pub to: ComplaintState,
    pub note: String,
}

/// A complaint case for the station or the supervisor.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ComplaintCase {
    /// The order complained about, if any (a complaint may be about a station in general).
    pub order: Option<i64>,
    pub elder: i64,
    pub caregiver: Option<i64>,
    pub kind: ComplaintKind,
    pub text: String,
    pub complainant: OrderActor,
    pub policy: ComplaintPolicy,
    pub state: ComplaintState,
    pub opened_at: DateTime<Utc>,
    /// When it must be resolved by (moves on reopening).
    pub deadline: DateTime<Utc>,
    pub handler: Option<OrderActor>,
    pub accepted_at: Option<DateTime<Utc>>,
    /// Whether the complaint was found justified; counts against the caregiver when true.
    pub upheld: Option<bool>,
    pub resolution: String,
    pub resolved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub reopened: u32,
    pub accept_escalated: bool,
    pub overdue_escalated: bool,
    pub history: Vec<ComplaintEntry>,
}

/// A step on a complaint case.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ComplaintCommand {
    /// Staff take the case up.
    Accept { by: OrderActor },
    /// Staff conclude: justified or not, and what was done.
    Resolve { by: OrderActor, upheld: bool, resolution: String },
    /// The complainant is not satisfied.
    Reopen { by: OrderActor, reason: String },
    /// The complainant is satisfied, or staff close a resolved case.
    Close { by: OrderActor },
    /// The complainant withdraws before it is resolved.
    Withdraw { by: OrderActor },
}

/// A timer on a complaint case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComplaintTimer {
    /// Not taken up in time.
    AcceptOverdue,
    /// Not resolved by the deadline.
    ResolveOverdue,
    /// Resolved and not reopened in time: closed.
    AutoClose,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum ComplaintEffect {
    NotifyStation,
    NotifySupervisor {
        reason: ComplaintTimer,
    },
    NotifyComplainant {
        state: ComplaintState,
    },
    /// An upheld (or no longer upheld) complaint changes the caregiver's score.
    RescoreCaregiver {
        caregiver: i64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComplaintError {
    WrongState { state: ComplaintState },
    NotPermitted { role: ActorRole },
    Invalid(FieldError),
    ReopenWindowClosed,
}

impl Refusal for ComplaintError {
    fn code(&self) -> &'static str {
        match self {
            ComplaintError::WrongState { .. } => "complaint_wrong_state",
            ComplaintError::NotPermitted { .. } => "complaint_not_permitted",
            ComplaintError::Invalid(e) => e.code,
            ComplaintError::ReopenWindowClosed => "complaint_reopen_window_closed",
        }
    }
    fn zh(&self) -> String {
        match self {
            ComplaintError::WrongState { state } => {
                format!("投诉当前为“{}”，不能执行此操作", state.label_zh())
            }
            ComplaintError::NotPermitted { role } => format!("{}无权处理该投诉", role.label_zh()),
            ComplaintError::Invalid(e) => e.zh.clone(),
            ComplaintError::ReopenWindowClosed => "已超过重新投诉的期限".into(),
        }
    }
    fn en(&self) -> String {
        match self {
            ComplaintError::WrongState { state } => {
                format!("not possible on a complaint that is {}", state.as_str())
            }
            ComplaintError::NotPermitted { role } => {
                format!("a {} may not do this on the complaint", role.label_en())
            }
            ComplaintError::Invalid(e) => e.en.clone(),
            ComplaintError::ReopenWindowClosed => "the period for reopening is over".into(),
        }
    }
}

refusal_display!(ComplaintError);

impl From<FieldError> for ComplaintError {
    fn from(e: FieldError) -> Self {
        ComplaintError::Invalid(e)
    }
}

impl ComplaintCase {
    /// Opens a case (after [`crate::order::Effect::OpenComplaint`], or from a phone call).
    #[allow(clippy::too_many_arguments)]
    pub fn open(
        order: Option<i64>,
        elder: i64,
        caregiver: Option<i64>,
        kind: ComplaintKind,
        text: &str,
        complainant: OrderActor,
        policy: ComplaintPolicy,
        now: DateTime<Utc>,
    ) -> Result<(ComplaintCase, Vec<ComplaintEffect>), ComplaintError> {
        let text = required_text("text", text, crate::order::MAX_TEXT)?;
        let case = ComplaintCase {
            order,
            elder,
            caregiver,
            kind,
            text,
            complainant,
            policy,
            state: ComplaintState::Open,
            opened_at: now,
            deadline: now + hours(policy.resolve_within_h),
            handler: None,
            accepted_at: None,
            upheld: None,
            resolution: String::new(),
            resolved_at: None,
            closed_at: None,
            reopened: 0,
            accept_escalated: false,
            overdue_escalated: false,
            history: vec![ComplaintEntry {
                at: now,
                by: complainant,
                from: ComplaintState::Open,
                to: ComplaintState::Open,
                note: String::new(),
            }],
        };
        Ok((case, vec![ComplaintEffect::NotifyStation]))
    }

    fn is_complainant_side(&self, by: &OrderActor) -> bool {
        *by == self.complainant || by.role.is_elder_side()
    }

    /// Applies one step at `now`. On error the case is unchanged.
    pub fn apply(
        &mut self,
        cmd: &ComplaintCommand,
        now: DateTime<Utc>,
    ) -> Result<Vec<ComplaintEffect>, ComplaintError> {
        let from = self.state;
        let wrong = || ComplaintError::WrongState { state: from };
        let mut fx = Vec::new();
        let (by, note) = match cmd {
            ComplaintCommand::Accept { by } => {
                if !by.role.is_staff() {
                    return Err(ComplaintError::NotPermitted { role: by.role });
                }
                if from != ComplaintState::Open {
                    return Err(wrong());
                }
                self.state = ComplaintState::Handling;
                self.handler = Some(*by);
                self.accepted_at = Some(now);
                fx.push(ComplaintEffect::NotifyComplainant { state: ComplaintState::Handling });
                (*by, String::new())
            }
            ComplaintCommand::Resolve { by, upheld, resolution } => {
                if !by.role.is_staff() {
                    return Err(ComplaintError::NotPermitted { role: by.role });
                }
                if !matches!(from, ComplaintState::Open | ComplaintState::Handling) {
                    return Err(wrong());
                }
                let resolution = required_text("resolution", resolution, crate::order::MAX_TEXT)?;
                let changed = self.upheld != Some(*upheld);
                self.state = ComplaintState::Resolved;
                if self.handler.is_none() {
                    self.handler = Some(*by);
                    self.accepted_at = Some(now);
                }
                self.upheld = Some(*upheld);
                self.resolution = resolution;
                self.resolved_at = Some(now);
                fx.push(ComplaintEffect::NotifyComplainant { state: ComplaintState::Resolved });
                if changed && let Some(c) = self.caregiver {
                    fx.push(ComplaintEffect::RescoreCaregiver { caregiver: c });
                }
                (*by, if *upheld { "upheld".into() } else { "not upheld".into() })
            }
            ComplaintCommand::Reopen { by, reason } => {
                if !self.is_complainant_side(by) {
                    return Err(ComplaintError::NotPermitted { role: by.role });
                }
                if from != ComplaintState::Resolved {
                    return Err(wrong());
                }
                if let Some(r) = self.resolved_at
                    && now > r + days(self.policy.reopen_within_days)
                {
                    return Err(ComplaintError::ReopenWindowClosed);
                }
                let reason = required_text("reason", reason, crate::order::MAX_TEXT)?;
                self.state = ComplaintState::Handling;
                self.reopened += 1;
                self.resolved_at = None;
                self.deadline = now + hours(self.policy.resolve_within_h);
                self.overdue_escalated = false;
                fx.push(ComplaintEffect::NotifyStation);
                (*by, reason)
            }
            ComplaintCommand::Close { by } => {
                if !(self.is_complainant_side(by) || by.role.is_staff()) {
                    return Err(ComplaintError::NotPermitted { role: by.role });
                }
                if from != ComplaintState::Resolved {
                    return Err(wrong());
                }
                self.state = ComplaintState::Closed;
                self.closed_at = Some(now);
                (*by, String::new())
            }
            ComplaintCommand::Withdraw { by } => {
                if !self.is_complainant_side(by) {
                    return Err(ComplaintError::NotPermitted { role: by.role });
                }
                if !matches!(from, ComplaintState::Open | ComplaintState::Handling) {
                    return Err(wrong());
                }
                self.state = ComplaintState::Closed;
                self.closed_at = Some(now);
                (*by, "withdrawn".into())
            }
        };
        self.history.push(ComplaintEntry { at: now, by, from, to: self.state, note });
        Ok(fx)
    }

    /// Whether the case counts against the caregiver.
    pub fn counts_against_caregiver(&self) -> bool {
        self.upheld == Some(true)
    }

    /// When the next timer comes due, and which.
    pub fn next_due(&self) -> Option<(DateTime<Utc>, ComplaintTimer)> {
        let mut t = Vec::new();
        match self.state {
            ComplaintState::Open | ComplaintState::Handling => {
                if self.state == ComplaintState::Open && !self.accept_escalated {
                    t.push((
                        self.opened_at + hours(self.policy.accept_within_h),
                        ComplaintTimer::AcceptOverdue,
                    ));
                }
                if !self.overdue_escalated {
                    t.push((self.deadline, ComplaintTimer::ResolveOverdue));
                }
            }
            ComplaintState::Resolved => {
                if let Some(r) = self.resolved_at {
                    t.push((r + days(self.policy.reopen_within_days), ComplaintTimer::AutoClose));
                }
            }
            ComplaintState::Closed => {}
        }
        t.into_iter().min_by_key(|(at, timer)| (*at, *timer as u8))
    }

    /// Fires every timer due at `now`; each fires once.
    pub fn fire_due(&mut self, now: DateTime<Utc>) -> Vec<(ComplaintTimer, Vec<ComplaintEffect>)> {
        let mut out = Vec::new();
        for _ in 0..8 {
            let Some((at, timer)) = self.next_due() else { break };
            if at > now {
                break;
            }
            let fx = match timer {
                ComplaintTimer::AcceptOverdue => {
                    self.accept_escalated = true;
                    vec![ComplaintEffect::NotifySupervisor { reason: timer }]
                }
                ComplaintTimer::ResolveOverdue => {
                    self.overdue_escalated = true;
                    vec![ComplaintEffect::NotifySupervisor { reason: timer }]
                }
                ComplaintTimer::AutoClose => {
                    let from = self.state;
                    self.state = ComplaintState::Closed;
                    self.closed_at = Some(at);
                    self.history.push(ComplaintEntry {
                        at,
                        by: OrderActor::system(),
                        from,
                        to: ComplaintState::Closed,
                        note: "auto".into(),
                    });
                    vec![]
                }
            };
            out.push((timer, fx));
        }
        out
    }
}

/// How the quality score is computed; the same for every caregiver of a region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct QualityPolicy {
    /// The prior mean, in thousandths of a star: what a caregiver with no ratings scores.
    pub prior_mean_milli: u32,
    /// How many ratings the prior is worth: a new caregiver's first ratings move the score
    /// only part of the way.
    pub prior_weight: u32,
    /// An upheld complaint counts as this many one-star ratings.
    pub complaint_weight: u32,
    /// A caregiver no-show counts as this many one-star ratings.
    pub no_show_weight: u32,
}

impl Default for QualityPolicy {
    fn default() -> Self {
        QualityPolicy { prior_mean_milli: 4_000, prior_weight: 5, complaint_weight: 3, no_show_weight: 2 }
    }
}

/// What the score is computed from, over the period the caller chooses (e.g. the last 180
/// days).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QualityInputs {
    /// How many ratings of 1, 2, 3, 4 and 5 stars.
    pub stars: [u32; 5],
    pub upheld_complaints: u32,
    pub no_shows: u32,
}

impl QualityInputs {
    /// Counts one rating; stars outside 1–5 are ignored.
    pub fn add_rating(&mut self, stars: u8) {
        if (1..=5).contains(&stars) {
            let n = &mut self.stars[usize::from(stars - 1)];
            *n = n.saturating_add(1);
        }
    }

    pub fn ratings(&self) -> u32 {
        self.stars.iter().fold(0u32, |a, n| a.saturating_add(*n))
    }
}

/// A caregiver's quality score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QualityScore {
    /// Thousandths of a star, 1,000–5,000.
    pub milli: u32,
    pub ratings: u32,
}

impl std::fmt::Display for QualityScore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hundredths = (self.milli + 5) / 10;
        write!(f, "{}.{:02}", hundredths / 100, hundredths % 100)
    }
}

/// The score: `(prior × weight + Σ stars + penalties × 1) / (weight + ratings + penalties)`
/// where each upheld complaint and no-show adds its weight in one-star ratings — a Bayesian
/// average that starts at the prior and that complaints pull down. Integer arithmetic in
/// thousandths of a star, rounded half up: the same inputs always give the same score.
pub fn quality_score(inputs: &QualityInputs, policy: &QualityPolicy) -> QualityScore {
    // In u128: no configuration or count can overflow it.
    let penalties = u128::from(policy.complaint_weight) * u128::from(inputs.upheld_complaints)
        + u128::from(policy.no_show_weight) * u128::from(inputs.no_shows);
    let ratings: u128 = inputs.stars.iter().map(|n| u128::from(*n)).sum();
    let stars_milli: u128 =
        inputs.stars.iter().enumerate().map(|(i, n)| (i as u128 + 1) * 1000 * u128::from(*n)).sum();
    let prior = u128::from(policy.prior_mean_milli.clamp(1000, 5000));
    let num = prior * u128::from(policy.prior_weight) + stars_milli + penalties * 1000;
    let den = u128::from(policy.prior_weight) + ratings + penalties;
    let milli = (num + den / 2).checked_div(den).unwrap_or(prior);
    QualityScore {
        milli: milli.clamp(1000, 5000) as u32,
        ratings: u32::try_from(ratings).unwrap_or(u32::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 1, 2, 0, 0).unwrap()
    }
    const ELDER: OrderActor = OrderActor { role: ActorRole::Elder, id: 9 };
    const STATION: OrderActor = OrderActor { role: ActorRole::Station, id: 3 };

    #[test]
    fn ratings_validate() {
        let r = Rating::new(ELDER, 5, &[RatingTag::Punctual, RatingTag::Punctual], " 很好 ", t0()).unwrap();
        assert_eq!(r.tags, vec![RatingTag::Punctual]);
        assert_eq!(r.text, "很好");
        assert_eq!(Rating::new(ELDER, 0, &[], "", t0()).unwrap_err().code, "out_of_range");
        assert!(Rating::new(ELDER, 6, &[], "", t0()).is_err());
        assert!(Rating::new(ELDER, 3, &[], &"长".repeat(501), t0()).is_err());
        assert!(RatingTag::Tidy.is_positive() && !RatingTag::Rude.is_positive());
    }

    #[test]
    fn a_complaint_is_handled_resolved_and_closed() {
        let (mut c, fx) = ComplaintCase::open(
            Some(1),
            9,
            Some(50),
            ComplaintKind::Attitude,
            "态度不好",
            ELDER,
            ComplaintPolicy::default(),
            t0(),
        )
        .unwrap();
        assert_eq!(fx, vec![ComplaintEffect::NotifyStation]);
        assert_eq!(c.deadline, t0() + Duration::hours(72));
        assert_eq!(
            c.apply(&ComplaintCommand::Accept { by: ELDER }, t0()),
            Err(ComplaintError::NotPermitted { role: ActorRole::Elder })
        );
        c.apply(&ComplaintCommand::Accept { by: STATION }, t0() + Duration::hours(1)).unwrap();
        assert_eq!(c.state, ComplaintState::Handling);
        let resolve =
            ComplaintCommand::Resolve { by: STATION, upheld: true, resolution: "已约谈助老员".into() };
        let fx = c.apply(&resolve, t0() + Duration::hours(5)).unwrap();
        assert!(fx.contains(&ComplaintEffect::RescoreCaregiver { caregiver: 50 }));
        assert!(c.counts_against_caregiver());
        // Not satisfied: reopened with a new deadline.
        c.apply(
            &ComplaintCommand::Reopen { by: ELDER, reason: "问题没解决".into() },
            t0() + Duration::hours(10),
        )
        .unwrap();
        assert_eq!(c.state, ComplaintState::Handling);
        assert_eq!(c.deadline, t0() + Duration::hours(82));
        // Resolving again with the same verdict does not rescore.
        let fx = c.apply(&resolve, t0() + Duration::hours(11)).unwrap();
        assert!(!fx.iter().any(|e| matches!(e, ComplaintEffect::RescoreCaregiver { .. })));
        c.apply(&ComplaintCommand::Close { by: ELDER }, t0() + Duration::hours(12)).unwrap();
        assert_eq!(c.state, ComplaintState::Closed);
        assert!(c.apply(&ComplaintCommand::Close { by: ELDER }, t0()).is_err());
        assert_eq!(c.history.len(), 6);
    }

    #[test]
    fn complaint_timers_escalate_once_and_auto_close() {
        let (mut c, _) = ComplaintCase::open(
            None,
            9,
            None,
            ComplaintKind::Quality,
            "饭菜凉了",
            ELDER,
            ComplaintPolicy::default(),
            t0(),
        )
        .unwrap();
        assert_eq!(c.next_due(), Some((t0() + Duration::hours(24), ComplaintTimer::AcceptOverdue)));
        assert!(c.fire_due(t0() + Duration::hours(23)).is_empty());
        let fired = c.fire_due(t0() + Duration::hours(80));
        let timers: Vec<_> = fired.iter().map(|(t, _)| *t).collect();
        assert_eq!(timers, vec![ComplaintTimer::AcceptOverdue, ComplaintTimer::ResolveOverdue]);
        assert!(c.fire_due(t0() + Duration::hours(100)).is_empty());
        c.apply(
            &ComplaintCommand::Resolve { by: STATION, upheld: false, resolution: "已核实".into() },
            t0() + Duration::hours(100),
        )
        .unwrap();
        let reopen_by = t0() + Duration::hours(100) + Duration::days(7);
        assert!(c.fire_due(reopen_by - Duration::seconds(1)).is_empty());
        assert_eq!(c.fire_due(reopen_by).len(), 1);
        assert_eq!(c.state, ComplaintState::Closed);
        let late = c.apply(&ComplaintCommand::Reopen { by: ELDER, reason: "x".into() }, reopen_by);
        assert_eq!(late, Err(ComplaintError::WrongState { state: ComplaintState::Closed }));
    }

    #[test]
    fn withdrawal_and_reopen_window() {
        let p = ComplaintPolicy::default();
        let (mut c, _) =
            ComplaintCase::open(None, 9, None, ComplaintKind::Other, "x", ELDER, p, t0()).unwrap();
        c.apply(&ComplaintCommand::Withdraw { by: ELDER }, t0()).unwrap();
        assert_eq!(c.state, ComplaintState::Closed);
        let (mut c, _) =
            ComplaintCase::open(None, 9, None, ComplaintKind::Other, "x", ELDER, p, t0()).unwrap();
        c.apply(&ComplaintCommand::Resolve { by: STATION, upheld: false, resolution: "ok".into() }, t0())
            .unwrap();
        let late = t0() + Duration::days(8);
        assert_eq!(
            c.apply(&ComplaintCommand::Reopen { by: ELDER, reason: "x".into() }, late),
            Err(ComplaintError::ReopenWindowClosed)
        );
        assert!(ComplaintCase::open(None, 9, None, ComplaintKind::Other, "  ", ELDER, p, t0()).is_err());
    }

    fn score(stars: &[u8], complaints: u32, no_shows: u32) -> u32 {
        let mut q = QualityInputs { upheld_complaints: complaints, no_shows, ..QualityInputs::default() };
        for s in stars {
            q.add_rating(*s);
        }
        quality_score(&q, &QualityPolicy::default()).milli
    }

    #[test]
    fn the_quality_score_is_a_bayesian_average_pulled_down_by_complaints() {
        assert_eq!(score(&[], 0, 0), 4000);
        // One 5-star rating moves a new caregiver only a sixth of the way: (20+5)/6.
        assert_eq!(score(&[5], 0, 0), 4167);
        // Many 5-star ratings approach 5.
        assert_eq!(score(&[5; 95], 0, 0), 4950);
        // An upheld complaint is worth three 1-star ratings: (20+475+3)/(5+95+3).
        assert_eq!(score(&[5; 95], 1, 0), 4835);
        assert!(score(&[5; 95], 1, 0) > score(&[5; 95], 2, 0));
        assert!(score(&[5; 95], 0, 1) < score(&[5; 95], 0, 0));
        assert_eq!(score(&[1; 1000], 50, 50), 1012);
        let extreme = QualityInputs { stars: [u32::MAX; 5], upheld_complaints: u32::MAX, no_shows: u32::MAX };
        let policy = QualityPolicy {
            complaint_weight: u32::MAX,
            no_show_weight: u32::MAX,
            ..QualityPolicy::default()
        };
        assert!((1000..=5000).contains(&quality_score(&extreme, &policy).milli));
        let s = quality_score(
            &QualityInputs { stars: [0, 0, 0, 1, 1], ..QualityInputs::default() },
            &QualityPolicy::default(),
        );
        assert_eq!((s.milli, s.ratings, s.to_string()), (4143, 2, "4.14".into()));
    }

    proptest::proptest! {
        #[test]
        fn scores_stay_between_one_and_five_and_more_complaints_never_help(
            stars in proptest::collection::vec(1u8..=5, 0..200),
            complaints in 0u32..20,
            no_shows in 0u32..20,
        ) {
            let s = score(&stars, complaints, no_shows);
            proptest::prop_assert!((1000..=5000).contains(&s));
            proptest::prop_assert!(score(&stars, complaints + 1, no_shows) <= s);
            proptest::prop_assert_eq!(s, score(&stars, complaints, no_shows));
        }
    }
}
