//! The live feed: alarm and device-state changes, broadcast to consoles in this process.
//! Each subscriber filters by the viewer's role and region before anything leaves.

use serde::Serialize;
use tokio::sync::broadcast;

/// One change, with the facts a viewer's scope is checked against.
#[derive(Debug, Clone, Serialize)]
pub struct LiveEvent {
    /// `alarm` or `device`.
    pub topic: &'static str,
    pub region_code: String,
    pub elder_id: Option<i64>,
    /// The responder dispatched to the alarm, who may see it whatever their region.
    pub responder_id: Option<i64>,
    /// When the change was committed (Unix ms), for end-to-end latency.
    pub at: i64,
    /// The change itself: no ID numbers, phones or addresses.
    pub data: serde_json::Value,
}

/// A broadcast channel; slow subscribers skip (they are told how many events they missed).
#[derive(Debug, Clone)]
pub struct LiveHub {
    tx: broadcast::Sender<LiveEvent>,
}

impl LiveHub {
    pub fn new(capacity: usize) -> Self {
        Self { tx: broadcast::channel(capacity).0 }
    }
    pub fn publish(&self, e: LiveEvent) {
        // No subscriber is fine: nobody is watching.
        let _ = self.tx.send(e);
    }
    pub fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.tx.subscribe()
    }
    pub fn subscribers(&self) -> usize {
        self.tx.receiver_count()
    }
}

impl Default for LiveHub {
    fn default() -> Self {
        Self::new(4096)
    }
}
