//! The operators' consoles: notifications go onto a tokio broadcast channel that the live feed
//! subscribes to. Delivered when at least one console is listening; there is nothing to retry
//! in-process, so a send is always one attempt.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::broadcast;
use tokio::time::Instant;

use crate::{Attempt, Channel, Clock, DeliveryOutcome, Notification, SharedClock, SystemClock};

/// Publishes notifications to every subscribed operator console.
#[derive(Clone)]
pub struct ConsoleChannel {
    tx: broadcast::Sender<Notification>,
    clock: SharedClock,
}

impl fmt::Debug for ConsoleChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsoleChannel").field("receivers", &self.tx.receiver_count()).finish()
    }
}

impl ConsoleChannel {
    pub fn new(tx: broadcast::Sender<Notification>) -> Self {
        ConsoleChannel { tx, clock: Arc::new(SystemClock) }
    }

    /// Replaces the wall clock (for `started_at_ms`).
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// A new console's feed.
    pub fn subscribe(&self) -> broadcast::Receiver<Notification> {
        self.tx.subscribe()
    }
}

#[async_trait]
impl Channel for ConsoleChannel {
    fn name(&self) -> &'static str {
        "console"
    }

    async fn send(&self, n: &Notification) -> Vec<Attempt> {
        let started_at_ms = self.clock.now_ms();
        let t0 = Instant::now();
        let (outcome, detail) = match self.tx.send(n.clone()) {
            Ok(1) => (DeliveryOutcome::Delivered, "delivered to 1 console".to_owned()),
            Ok(k) => (DeliveryOutcome::Delivered, format!("delivered to {k} consoles")),
            // Nobody is watching right now; an operator may connect later.
            Err(_) => (DeliveryOutcome::Failed { retryable: true }, "no console is listening".to_owned()),
        };
        let attempt = Attempt {
            channel: self.name(),
            target: "operator consoles".to_owned(),
            attempt: 1,
            started_at_ms,
            duration_ms: u64::try_from(t0.elapsed().as_millis()).unwrap_or(u64::MAX),
            outcome,
            status: None,
            detail,
        };
        if outcome.is_delivered() {
            tracing::info!(channel = "console", notification = %n.id, alarm_id = n.alarm_id,
                detail = %attempt.detail, "notification delivered");
        } else {
            tracing::warn!(channel = "console", notification = %n.id, alarm_id = n.alarm_id,
                detail = %attempt.detail, "notification attempt failed");
        }
        vec![attempt]
    }
}
