//! The detector workers every transport feeds: MQTT devices (`ingest`) and TCP watches
//! (`watches`). A device's messages go to one worker, chosen by its serial, so each device's
//! messages reach exactly one detector, in order. A message carries its payload and a
//! transport-neutral [`Reply`]: the worker answers through it without knowing whether a
//! broker or a watch connection is behind it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use zhulao_proto::{self as proto, Kind, Uplink};
use zhulao_response::Response;
use zhulao_store::Store;

use crate::device::Trigger;
use crate::directory::{Directory, REFRESH, lookup, refresh_directory};
use crate::metrics::Metrics;
use crate::settings::Changes;
use crate::worker::Worker;

/// How the workers split the work.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    pub workers: usize,
    /// Messages per worker queue.
    pub queue: usize,
    /// How often time-based rules run and device state is written.
    pub tick: Duration,
    /// The region given to alarms of devices bound to nobody.
    pub default_region: String,
}

/// One thing a decoded message asks of the worker: a device-protocol uplink, or an alarm a
/// device decided itself (a watch's status bits).
#[derive(Debug)]
pub(crate) enum Item {
    Uplink(Uplink),
    Alarm(Trigger),
}

/// What arrived: still encoded in the device protocol (MQTT, decoded by the worker so
/// decoding spreads over workers), or decoded by its transport (a TCP watch).
pub(crate) enum Payload {
    Encoded { kind: Kind, bytes: bytes::Bytes },
    Decoded { items: Vec<Item>, kind: &'static str },
}

impl Payload {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Payload::Encoded { kind, .. } => kind.as_str(),
            Payload::Decoded { kind, .. } => kind,
        }
    }
}

/// How a message ended, for its transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Everything it caused is committed: acknowledge it.
    Committed,
    /// A write failed: do not acknowledge, so the device sends it again.
    NotCommitted,
    /// Undecodable: sending it again would not help.
    Refused,
    /// From a device the registry does not know (or no longer has active).
    UnknownDevice,
}

/// How the sender of one message learns what became of it. MQTT acknowledges to the broker
/// in delivery order and answers device events on `down/ack`; a watch connection writes its
/// protocol's reply only for a committed frame.
pub(crate) trait Reply: Send + Sync {
    /// The message's device is `device_id` (the MQTT downlink learns where to reach it).
    fn resolved(&self, _device_id: i64, _serial: &str) {}
    /// A device event is stored (and raised or merged into `alarm_id`).
    fn event_accepted(&self, _msg_id: &str, _alarm_id: Option<i64>) {}
    /// A device event is refused with this code (unknown device, undecodable).
    fn event_refused(&self, _msg_id: &str, _code: &str) {}
    /// The message is handled.
    fn finish(self: Box<Self>, outcome: Outcome);
}

/// For the worker's own work (ticks): nobody to answer.
pub(crate) struct NoReply;

impl Reply for NoReply {
    fn finish(self: Box<Self>, _outcome: Outcome) {}
}

pub(crate) struct Inbound {
    pub serial: String,
    pub received: Instant,
    pub payload: Payload,
    pub reply: Box<dyn Reply>,
}

impl Inbound {
    /// The event id of an encoded device event, to answer a refusal with.
    pub(crate) fn event_id(&self) -> Option<String> {
        match &self.payload {
            Payload::Encoded { kind: Kind::Event, bytes } => proto::peek_event_id(bytes),
            _ => None,
        }
    }
}

/// The running workers and the device directory they share.
#[derive(Clone)]
pub(crate) struct Pipeline {
    senders: Arc<Vec<mpsc::Sender<Inbound>>>,
    directory: Directory,
    /// Elders and device bindings changed through this instance's API.
    pub(crate) changes: Arc<Changes>,
    store: Arc<dyn Store>,
    default_region: String,
}

impl Pipeline {
    /// Starts the workers.
    pub(crate) fn start(
        cfg: &PipelineConfig,
        response: &Arc<Response>,
        metrics: &Metrics,
    ) -> (Pipeline, Vec<tokio::task::JoinHandle<()>>) {
        let directory: Directory = Arc::default();
        let changes = Arc::new(Changes::default());
        let mut tasks = Vec::new();
        let mut senders = Vec::new();
        for _ in 0..cfg.workers.max(1) {
            let (tx, rx) = mpsc::channel(cfg.queue.max(16));
            senders.push(tx);
            let worker = Worker::new(rx, response, metrics, cfg, directory.clone(), changes.clone());
            tasks.push(tokio::spawn(worker.run()));
        }
        let pipeline = Pipeline {
            senders: Arc::new(senders),
            directory,
            changes,
            store: response.store().clone(),
            default_region: cfg.default_region.clone(),
        };
        (pipeline, tasks)
    }

    /// Loads every registered device, then refreshes the directory in the background.
    pub(crate) async fn load_directory(&self) -> tokio::task::JoinHandle<()> {
        refresh_directory(&*self.store, &self.default_region, &self.directory).await;
        let this = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(REFRESH).await;
                refresh_directory(&*this.store, &this.default_region, &this.directory).await;
            }
        })
    }

    /// Hands a message to its device's worker; waits while that queue is full. `false` once
    /// the workers are gone.
    pub(crate) async fn submit(&self, msg: Inbound, metrics: &Metrics) -> bool {
        let w = &self.senders[proto::shard_of(&msg.serial) as usize % self.senders.len()];
        metrics.queue_depth.inc();
        if w.send(msg).await.is_err() {
            metrics.queue_depth.dec();
            return false;
        }
        true
    }

    /// Whether the directory knows `serial` (no database lookup).
    pub(crate) fn in_directory(&self, serial: &str) -> bool {
        self.directory.read().expect("directory lock").contains_key(serial)
    }

    /// The elder `serial` is bound to, as the directory knows.
    pub(crate) fn elder_of(&self, serial: &str) -> Option<i64> {
        self.directory.read().expect("directory lock").get(serial).and_then(|k| k.elder_id)
    }

    /// The registry id of an active device, from the directory or else the database.
    pub(crate) async fn registered(&self, serial: &str) -> zhulao_store::Result<Option<i64>> {
        if let Some(k) = self.directory.read().expect("directory lock").get(serial) {
            return Ok(Some(k.device_id));
        }
        let found = lookup(&*self.store, serial, &self.default_region).await?;
        Ok(found.map(|k| {
            let id = k.device_id;
            self.directory.write().expect("directory lock").insert(serial.to_string(), k);
            id
        }))
    }
}
