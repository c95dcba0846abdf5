//! The time bank (时间银行): volunteers — often younger elders — record the minutes they
//! served an elder; the elder, the family or the station confirms; confirmed minutes are
//! banked in a double-entry ledger and redeemed later for services (never below zero).
//! Volunteers are paired with elders, those of 80 and over living alone first.
//!
//! The ledger has four kinds of account. `balance = credits − debits`:
//!
//! | posting   | debit            | credit           |
//! |-----------|------------------|------------------|
//! | record    | issued           | pending(v)       |
//! | confirm   | pending(v)       | volunteer(v)     |
//! | reject    | pending(v)       | issued           |
//! | redeem    | volunteer(v)     | redeemed         |
//! | transfer  | volunteer(a)     | volunteer(b)     |
//!
//! Every posting moves the same minutes out of one account and into another, so the
//! balances always sum to zero; volunteer and pending accounts never go below zero.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use zhulao_domain::error::optional_text;
use zhulao_domain::{FieldError, GeoPoint, code_enum};

use crate::catalogue::ServiceCategory;
use crate::codes::SkillCode;
use crate::dispatch::{distance_m, missing_skills};
use crate::error::{Refusal, refusal_display};
use crate::order::{ActorRole, OrderActor};

/// A ledger account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TimeAccount {
    /// Minutes a volunteer has banked and not spent.
    Volunteer { id: i64 },
    /// Minutes recorded for a volunteer, waiting for confirmation.
    Pending { id: i64 },
    /// The community's side of every banked minute (its balance is minus what is owed).
    Issued,
    /// Minutes spent on services.
    Redeemed,
}

impl TimeAccount {
    /// Volunteer and pending accounts hold minutes and can never go below zero.
    pub fn must_stay_non_negative(self) -> bool {
        matches!(self, TimeAccount::Volunteer { .. } | TimeAccount::Pending { .. })
    }
}

code_enum! {
    PostingKind {
        Record = ("record", "登记服务时长", "Minutes recorded"),
        Confirm = ("confirm", "确认时长", "Minutes confirmed"),
        Reject = ("reject", "驳回时长", "Minutes rejected"),
        Redeem = ("redeem", "兑换服务", "Redeemed for a service"),
        Transfer = ("transfer", "转赠", "Transferred"),
    }
}

/// One ledger posting: `minutes` out of `debit`, into `credit`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Posting {
    pub at: DateTime<Utc>,
    pub kind: PostingKind,
    pub debit: TimeAccount,
    pub credit: TimeAccount,
    pub minutes: u32,
    /// The hour record or service order it belongs to.
    pub reference: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeBankError {
    Invalid(FieldError),
    /// The debited account does not hold enough minutes.
    Insufficient {
        account: TimeAccount,
        balance: i64,
        wanted: u32,
    },
    WrongState {
        state: HourState,
    },
    NotPermitted {
        role: ActorRole,
    },
    /// A posting from an account to itself, or of zero minutes.
    BadPosting,
}

impl Refusal for TimeBankError {
    fn code(&self) -> &'static str {
        match self {
            TimeBankError::Invalid(e) => e.code,
            TimeBankError::Insufficient { .. } => "timebank_insufficient",
            TimeBankError::WrongState { .. } => "timebank_wrong_state",
            TimeBankError::NotPermitted { .. } => "timebank_not_permitted",
            TimeBankError::BadPosting => "timebank_bad_posting",
        }
    }
    fn zh(&self) -> String {
        match self {
            TimeBankError::Invalid(e) => e.zh.clone(),
            TimeBankError::Insufficient { balance, wanted, .. } => {
                format!("时间余额不足：现有{balance}分钟，需要{wanted}分钟")
            }
            TimeBankError::WrongState { state } => format!("该记录为“{}”，不能执行此操作", state.label_zh()),
            TimeBankError::NotPermitted { role } => format!("{}无权确认该记录", role.label_zh()),
            TimeBankError::BadPosting => "无效的记账".into(),
        }
    }
    fn en(&self) -> String {
        match self {
            TimeBankError::Invalid(e) => e.en.clone(),
            TimeBankError::Insufficient { balance, wanted, .. } => {
                format!("not enough time banked: {balance} minutes, {wanted} needed")
            }
            TimeBankError::WrongState { state } => {
                format!("not possible on a record that is {}", state.as_str())
            }
            TimeBankError::NotPermitted { role } => {
                format!("a {} may not decide on this record", role.label_en())
            }
            TimeBankError::BadPosting => "invalid posting".into(),
        }
    }
}

refusal_display!(TimeBankError);

impl From<FieldError> for TimeBankError {
    fn from(e: FieldError) -> Self {
        TimeBankError::Invalid(e)
    }
}

/// The ledger: every posting, and the balances they add up to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ledger {
    postings: Vec<Posting>,
    balances: BTreeMap<TimeAccount, i64>,
}

impl Ledger {
    /// Replays stored postings, refusing a history that ever overdraws an account.
    pub fn from_postings(postings: impl IntoIterator<Item = Posting>) -> Result<Ledger, TimeBankError> {
        let mut l = Ledger::default();
        for p in postings {
            l.post(p)?;
        }
        Ok(l)
    }

    /// Records a posting, or refuses it — changing nothing — if it moves zero minutes, moves
    /// them within one account, or would take a volunteer or pending account below zero.
    pub fn post(&mut self, p: Posting) -> Result<(), TimeBankError> {
        if p.minutes == 0 || p.debit == p.credit {
            return Err(TimeBankError::BadPosting);
        }
        let balance = self.balance(p.debit);
        if p.debit.must_stay_non_negative() && balance < i64::from(p.minutes) {
            return Err(TimeBankError::Insufficient { account: p.debit, balance, wanted: p.minutes });
        }
        *self.balances.entry(p.debit).or_default() -= i64::from(p.minutes);
        *self.balances.entry(p.credit).or_default() += i64::from(p.minutes);
        self.postings.push(p);
        Ok(())
    }

    pub fn balance(&self, a: TimeAccount) -> i64 {
        self.balances.get(&a).copied().unwrap_or(0)
    }

    pub fn balances(&self) -> &BTreeMap<TimeAccount, i64> {
        &self.balances
    }

    pub fn postings(&self) -> &[Posting] {
        &self.postings
    }

    /// The trial balance: the balances sum to zero, match a recomputation from the postings,
    /// and no volunteer or pending account is negative.
    pub fn is_balanced(&self) -> bool {
        let mut again: BTreeMap<TimeAccount, i64> = BTreeMap::new();
        for p in &self.postings {
            *again.entry(p.debit).or_default() -= i64::from(p.minutes);
            *again.entry(p.credit).or_default() += i64::from(p.minutes);
        }
        again == self.balances
            && self.balances.values().sum::<i64>() == 0
            && self.balances.iter().all(|(a, b)| !a.must_stay_non_negative() || *b >= 0)
    }

    /// Spends a volunteer's minutes on a service (`reference`: the service order).
    pub fn redeem(
        &mut self,
        volunteer: i64,
        minutes: u32,
        reference: Option<i64>,
        at: DateTime<Utc>,
    ) -> Result<Posting, TimeBankError> {
        let p = Posting {
            at,
            kind: PostingKind::Redeem,
            debit: TimeAccount::Volunteer { id: volunteer },
            credit: TimeAccount::Redeemed,
            minutes,
            reference,
        };
        self.post(p.clone())?;
        Ok(p)
    }

    /// Gives minutes to another volunteer (e.g. a parent).
    pub fn transfer(
        &mut self,
        from: i64,
        to: i64,
        minutes: u32,
        at: DateTime<Utc>,
    ) -> Result<Posting, TimeBankError> {
        let p = Posting {
            at,
            kind: PostingKind::Transfer,
            debit: TimeAccount::Volunteer { id: from },
            credit: TimeAccount::Volunteer { id: to },
            minutes,
            reference: None,
        };
        self.post(p.clone())?;
        Ok(p)
    }
}

code_enum! {
    HourState {
        Pending = ("pending", "待确认", "Pending"),
        Confirmed = ("confirmed", "已确认", "Confirmed"),
        Rejected = ("rejected", "已驳回", "Rejected"),
    }
}

/// The longest single record: a day's work.
pub const MAX_RECORD_MIN: u32 = 8 * 60;
/// How far back a service may be recorded.
pub const MAX_RECORD_AGE_DAYS: i64 = 30;

/// Minutes a volunteer says they served an elder.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HourRecord {
    pub volunteer: i64,
    pub elder: i64,
    pub minutes: u32,
    pub served_at: DateTime<Utc>,
    pub activity: ServiceCategory,
    pub note: String,
    pub state: HourState,
    pub recorded_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decided_by: Option<OrderActor>,
}

impl HourRecord {
    /// A new record (1–480 minutes, served in the last 30 days) and its posting into the
    /// volunteer's pending account. `id` is the record's id, for the posting's reference.
    #[allow(clippy::too_many_arguments)]
    pub fn record(
        id: i64,
        volunteer: i64,
        elder: i64,
        minutes: u32,
        served_at: DateTime<Utc>,
        activity: ServiceCategory,
        note: &str,
        now: DateTime<Utc>,
    ) -> Result<(HourRecord, Posting), TimeBankError> {
        if !(1..=MAX_RECORD_MIN).contains(&minutes) {
            return Err(FieldError::new(
                "minutes",
                "out_of_range",
                format!("单次服务时长应在1至{MAX_RECORD_MIN}分钟之间"),
                format!("a record is 1 to {MAX_RECORD_MIN} minutes"),
            )
            .into());
        }
        if served_at > now || served_at < now - Duration::days(MAX_RECORD_AGE_DAYS) {
            return Err(FieldError::new(
                "served_at",
                "out_of_range",
                format!("服务时间应在最近{MAX_RECORD_AGE_DAYS}天内且不晚于现在"),
                format!("the service must be in the last {MAX_RECORD_AGE_DAYS} days, not in the future"),
            )
            .into());
        }
        let note = optional_text("note", note, 500)?.unwrap_or_default();
        let record = HourRecord {
            volunteer,
            elder,
            minutes,
            served_at,
            activity,
            note,
            state: HourState::Pending,
            recorded_at: now,
            decided_at: None,
            decided_by: None,
        };
        let posting = Posting {
            at: now,
            kind: PostingKind::Record,
            debit: TimeAccount::Issued,
            credit: TimeAccount::Pending { id: volunteer },
            minutes,
            reference: Some(id),
        };
        Ok((record, posting))
    }

    /// Who may confirm or reject: the elder served, their family or care manager, the station.
    fn may_decide(&self, by: &OrderActor) -> bool {
        match by.role {
            ActorRole::Elder => by.id == self.elder,
            ActorRole::Family | ActorRole::CareManager | ActorRole::Station => true,
            _ => false,
        }
    }

    fn decide(
        &mut self,
        id: i64,
        by: OrderActor,
        now: DateTime<Utc>,
        to: HourState,
    ) -> Result<Posting, TimeBankError> {
        if !self.may_decide(&by) {
            return Err(TimeBankError::NotPermitted { role: by.role });
        }
        if self.state != HourState::Pending {
            return Err(TimeBankError::WrongState { state: self.state });
        }
        let (kind, credit) = match to {
            HourState::Confirmed => (PostingKind::Confirm, TimeAccount::Volunteer { id: self.volunteer }),
            _ => (PostingKind::Reject, TimeAccount::Issued),
        };
        self.state = to;
        self.decided_at = Some(now);
        self.decided_by = Some(by);
        Ok(Posting {
            at: now,
            kind,
            debit: TimeAccount::Pending { id: self.volunteer },
            credit,
            minutes: self.minutes,
            reference: Some(id),
        })
    }

    /// Confirms the minutes; the posting banks them for the volunteer.
    pub fn confirm(&mut self, id: i64, by: OrderActor, now: DateTime<Utc>) -> Result<Posting, TimeBankError> {
        self.decide(id, by, now, HourState::Confirmed)
    }

    /// Rejects the minutes; the posting returns them.
    pub fn reject(&mut self, id: i64, by: OrderActor, now: DateTime<Utc>) -> Result<Posting, TimeBankError> {
        self.decide(id, by, now, HourState::Rejected)
    }
}

/// A volunteer available for pairing.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Volunteer {
    pub id: i64,
    pub position: GeoPoint,
    pub skills: Vec<SkillCode>,
    /// How many elders they will look after in all …
    pub capacity: u32,
    /// … and how many they already do.
    pub paired: u32,
}

/// An elder who would like a volunteer.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ElderNeed {
    pub elder: i64,
    pub age: u8,
    pub living_alone: bool,
    pub position: GeoPoint,
    /// Skills the volunteer needs (e.g. `escort`).
    pub needs: Vec<SkillCode>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct PairingPolicy {
    /// Volunteers farther than this are not suggested.
    pub max_distance_m: u32,
    /// Elders this old or older come first.
    pub priority_age: u8,
}

impl Default for PairingPolicy {
    fn default() -> Self {
        PairingPolicy { max_distance_m: 3_000, priority_age: 80 }
    }
}

/// A suggested pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Pair {
    pub volunteer: i64,
    pub elder: i64,
    pub distance_m: u32,
    /// 0: old and living alone, 1: old, 2: living alone, 3: others.
    pub tier: u8,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Pairing {
    pub pairs: Vec<Pair>,
    /// Elders nobody suitable is near enough to, in priority order.
    pub unpaired: Vec<i64>,
}

/// The priority tier of an elder (lower first).
pub fn tier(e: &ElderNeed, policy: &PairingPolicy) -> u8 {
    match (e.age >= policy.priority_age, e.living_alone) {
        (true, true) => 0,
        (true, false) => 1,
        (false, true) => 2,
        (false, false) => 3,
    }
}

/// Pairs volunteers with elders greedily: elders in priority order (80+ living alone, 80+,
/// living alone, the rest; older first; then by id), each with the nearest volunteer who has
/// the skills and room left, within the distance limit (ties to the lower id). Deterministic.
pub fn pair(volunteers: &[Volunteer], elders: &[ElderNeed], policy: &PairingPolicy) -> Pairing {
    let mut order: Vec<&ElderNeed> = elders.iter().collect();
    order.sort_by_key(|e| (tier(e, policy), std::cmp::Reverse(e.age), e.elder));
    let mut room: BTreeMap<i64, u32> =
        volunteers.iter().map(|v| (v.id, v.capacity.saturating_sub(v.paired))).collect();
    let mut out = Pairing::default();
    for e in order {
        let best = volunteers
            .iter()
            .filter(|v| {
                room.get(&v.id).is_some_and(|r| *r > 0) && missing_skills(&e.needs, &v.skills).is_empty()
            })
            .map(|v| (distance_m(v.position, e.position), v.id))
            .filter(|(d, _)| *d <= policy.max_distance_m)
            .min();
        match best {
            Some((distance_m, volunteer)) => {
                if let Some(r) = room.get_mut(&volunteer) {
                    *r -= 1;
                }
                out.pairs.push(Pair { volunteer, elder: e.elder, distance_m, tier: tier(e, policy) });
            }
            None => out.unpaired.push(e.elder),
        }
    }
    out
}
