//! zhulao-services: home-care services as pure rules — the 六助 catalogue, service orders
//! and their lifecycle, grab dispatch with widening radii and escalation timers, ratings,
//! complaints and caregiver quality, settlement of each order among subsidies, quotas, the
//! service card and the elder's own payment, caregiver pay, meals, and the time bank.
//!
//! Invariant: no I/O, no clock, no async. Time comes in as `DateTime<Utc>` arguments (and
//! local dates as `NaiveDate`), so the store persists each case after a step, a restarted
//! process picks the timers up from the stored case, and tests advance time instead of
//! sleeping. Money is integer fen ([`zhulao_domain::Fen`]); no floating point touches it.
//! Every refused step is a value implementing [`Refusal`] — a stable code and Chinese and
//! English messages — and leaves the case unchanged.

pub mod catalogue;
pub mod codes;
pub mod dispatch;
pub mod error;
pub mod meals;
pub mod order;
pub mod pay;
pub mod profile;
pub mod quality;
pub mod region;
pub mod settlement;
pub mod timebank;

pub use catalogue::{Catalogue, Quote, RegionPrice, ServiceCategory, ServiceItem, ServiceItemInput};
pub use codes::{MenuCode, PoolCode, RuleCode, ServiceCode, SkillCode};
pub use dispatch::{
    Caregiver, DispatchPolicies, DispatchPolicy, Ineligible, RadiusStep, Ranked, Timer, Window,
};
pub use error::Refusal;
pub use order::{
    Actor, ActorRole, CancelReason, Command, Effect, NewOrder, Notice, Order, OrderChannel, OrderError,
    OrderPolicy, OrderState, Recipient, Schedule,
};
pub use pay::{PayLine, PayPolicy, PayRecord, PayStatement, pay_statement};
pub use profile::{ElderCategory, ElderProfile};
pub use quality::{
    ComplaintCase, ComplaintCommand, ComplaintPolicy, QualityInputs, QualityPolicy, QualityScore, Rating,
    quality_score,
};
pub use region::RegionPrefix;
pub use settlement::{
    Balances, Debits, FundingSource, MonthlyStatement, Rule, RuleBook, SettleInput, SettledOrder, Settlement,
    SettlementError, Split, SplitLine, monthly_statement, settle,
};
pub use timebank::{HourRecord, Ledger, Posting};
