//! zhulao-orders: the home-care service layer around the pure rules of `zhulao-services` —
//! orders from creation to settlement, grab dispatch and assignment, the dispatch and
//! complaint timers, settlement of orders and meals with guarded balances, statements and
//! caregiver pay, meals and the time bank.
//!
//! Invariants: every step is load → pure transition → conditional save (version *and*
//! state), retried on a concurrent change, so of any number of concurrent grabs exactly one
//! wins and the rest are refused with `order_already_taken`; effects (offers, notifications,
//! auto-assignment, complaint cases, settlement, rescoring) run only after the step is
//! committed, and a settlement a crash interrupted is finished by the timer loop; timers
//! live in the database (`next_due_at`), so a restarted process resumes them; time comes
//! from an injected clock; live events carry no names, phones or addresses.

mod config;
mod error;
mod meals;
mod service;
mod settle;
mod timebank;

pub use config::ServicesConfig;
pub use error::{ServiceError, ServiceResult};
pub use meals::PlaceMeal;
pub use service::{CreateOrder, Offered, Orders, due_at, order_summary};
pub use settle::year_month;
