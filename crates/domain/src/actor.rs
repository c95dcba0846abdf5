//! Who is writing: an account, or the system itself (migrations, the demo loader, timers,
//! devices). Recorded in the audit log and on every timeline entry.

/// Who is writing. `account_id: None` is the system itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    pub account_id: Option<i64>,
}

impl Actor {
    pub const SYSTEM: Actor = Actor { account_id: None };
    pub fn account(id: i64) -> Self {
        Actor { account_id: Some(id) }
    }
}
