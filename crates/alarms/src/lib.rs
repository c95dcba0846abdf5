//! zhulao-alarms: the emergency response chain as pure rules — alarm kinds and priorities,
//! the lifecycle of one alarm, its escalation timers, responder ranking by travel time, and
//! response-time statistics, and the records around an alarm (a new alarm, a stored one, its
//! timeline) that the service, the store and the gateway exchange.
//!
//! Invariant: no I/O and no clock. Every function takes `now` (Unix milliseconds) from the
//! caller, so the service persists an [`AlarmCase`] after each step, a restarted process picks
//! the timers up from the stored case, and tests advance time instead of sleeping.

mod case;
mod rank;
mod record;
mod stats;

pub use case::{
    AlarmCase, AlarmKind, Assessment, Command, Effect, FamilyCall, FamilyChain, Feedback, Offer, Outcome,
    Policy, Stage, Timer, TransitionError,
};
pub use rank::{Candidate, TravelMode, rank_by_eta};
pub use record::{
    AlarmEvent, AlarmLocation, AlarmRow, AlarmSource, FallTrace, LocationSource, NewAlarm, NewAlarmEvent,
    RaiseDecision, Raised,
};
pub use stats::{Step, StepStats, response_stats};
