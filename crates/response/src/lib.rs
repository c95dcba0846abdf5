//! zhulao-response: the emergency response service around the pure rules of
//! `zhulao-alarms` — it raises alarms (durably, before the device is acknowledged), applies
//! operators', responders' and family members' steps, fires escalation timers, picks the
//! nearest responder, sends notifications and tells the device, and feeds live consoles.
//!
//! Invariants: every step is load → pure transition → versioned save, retried on a
//! concurrent change, so two operators or two instances never both win a step; effects run
//! only after the step is committed; timers live in the database (`next_due_at`), so a
//! restarted process resumes them; time comes from the store's injected clock.

mod decide;
mod live;
mod notifier;
mod policy;
mod service;

pub use live::{LiveEvent, LiveHub};
pub use notifier::{
    Addressee, CommandRefused, DeviceLink, DeviceMessage, NoDevices, Notifier, OutgoingNotification,
};
pub use policy::Policies;
pub use service::{ActError, RankedResponder, ResponderPosition, Response, alarm_summary};
