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
    Caregiver, DispatchPolicies, DispatchPolicy, Ineligible, OrderTimer, RadiusStep, Ranked, Window,
};
pub use error::Refusal;
pub use order::{
    ActorRole, CancelReason, NewOrder, Notice, NoticeRecipient, Order, OrderActor, OrderChannel,
    OrderCommand, OrderEffect, OrderError, OrderPolicy, OrderState, Schedule,
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

#[cfg(test)]
mod tests {
    /// The `code_enum!` vocabularies serialise by variant name in snake case; their codes
    /// must be the same strings, or the API and the stored JSON would disagree.
    #[test]
    fn every_code_is_its_serde_name() {
        fn check<T: serde::Serialize + Copy>(all: &[T], code: impl Fn(T) -> &'static str) {
            for v in all {
                assert_eq!(serde_json::to_value(v).unwrap(), serde_json::Value::from(code(*v)));
            }
        }
        macro_rules! check_all {
            ($($t:path),+ $(,)?) => { $( check(<$t>::ALL, <$t>::as_str); )+ };
        }
        check_all!(
            crate::catalogue::ServiceCategory,
            crate::profile::ElderCategory,
            crate::order::OrderState,
            crate::order::ActorRole,
            crate::order::OrderChannel,
            crate::order::CancelReason,
            crate::order::NoShowParty,
            crate::order::OrderAction,
            crate::order::Notice,
            crate::quality::RatingTag,
            crate::quality::ComplaintKind,
            crate::quality::ComplaintState,
            crate::settlement::FundingSource,
            crate::settlement::Limit,
            crate::settlement::SkipReason,
            crate::meals::DishTag,
            crate::meals::MealSlot,
            crate::meals::Fulfilment,
            crate::meals::MealOrderState,
            crate::timebank::PostingKind,
            crate::timebank::HourState,
        );
    }
}
