//! One detector worker: takes its devices' messages in order, keeps each device's pure state
//! ([`Device`]), and executes what the state asks — alarms and their steps through the
//! response service (the gateway never writes alarm rows), device state to the store, live
//! device events — then answers the message's transport through its [`Reply`]. Every failed
//! write is counted and leaves the message unacknowledged, so the device sends it again.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;
use zhulao_alarms::Raised;
use zhulao_domain::Actor;
use zhulao_proto as proto;
use zhulao_response::{ActError, LiveEvent, Response};
use zhulao_store::{DeviceState, Store};

use crate::device::{Action, Device, Trigger};
use crate::directory::{Directory, REFRESH, Strangers, lookup};
use crate::metrics::Metrics;
use crate::pipeline::{Inbound, Item, NoReply, Outcome, Payload, PipelineConfig, Reply};
use crate::settings::Changes;

/// A device this worker serves, with when it was last read from the registry.
struct Slot {
    device: Device,
    resolved_at: Instant,
    /// The generation of [`Changes`] this device was last checked against.
    seen_changes: u64,
}

pub(crate) struct Worker {
    rx: mpsc::Receiver<Inbound>,
    response: Arc<Response>,
    store: Arc<dyn Store>,
    metrics: Metrics,
    cfg: PipelineConfig,
    devices: HashMap<String, Slot>,
    directory: Directory,
    changes: Arc<Changes>,
    unknown: Strangers,
}

impl Worker {
    pub(crate) fn new(
        rx: mpsc::Receiver<Inbound>,
        response: &Arc<Response>,
        metrics: &Metrics,
        cfg: &PipelineConfig,
        directory: Directory,
        changes: Arc<Changes>,
    ) -> Self {
        Worker {
            rx,
            response: response.clone(),
            store: response.store().clone(),
            metrics: metrics.clone(),
            cfg: cfg.clone(),
            devices: HashMap::new(),
            directory,
            changes,
            unknown: Strangers::default(),
        }
    }

    pub(crate) async fn run(mut self) {
        let mut tick = tokio::time::interval(self.cfg.tick);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                msg = self.rx.recv() => {
                    let Some(msg) = msg else { return };
                    self.metrics.queue_depth.dec();
                    self.handle(msg).await;
                }
                _ = tick.tick() => self.on_tick().await,
            }
        }
    }

    fn now(&self) -> i64 {
        self.store.clock().now_ms()
    }

    async fn handle(&mut self, msg: Inbound) {
        self.metrics.messages.get_or_create(&[("kind", msg.payload.kind())]).inc();
        let event_id = msg.event_id();
        let Inbound { serial, received, payload, reply } = msg;
        let Some(device_id) = self.resolve(&serial).await else {
            self.metrics.rejected.get_or_create(&[("reason", "unknown_device")]).inc();
            if let Some(id) = event_id {
                reply.event_refused(&id, "unknown_device");
            }
            reply.finish(Outcome::UnknownDevice);
            return;
        };
        reply.resolved(device_id, &serial);
        let items = match payload {
            Payload::Encoded { kind, bytes } => match proto::decode_uplink(kind, &bytes) {
                Ok(u) => vec![Item::Uplink(u)],
                Err(e) => {
                    self.metrics.decode_errors.get_or_create(&[("code", e.code())]).inc();
                    if let Some(id) = event_id {
                        reply.event_refused(&id, e.code());
                    }
                    reply.finish(Outcome::Refused);
                    return;
                }
            },
            Payload::Decoded { items, .. } => items,
        };
        let mut committed = true;
        for item in items {
            let now = self.now();
            let Some(slot) = self.devices.get_mut(&serial) else { break };
            let actions = match item {
                Item::Uplink(u) => {
                    if let proto::Uplink::Motion(b) = &u {
                        self.metrics.samples.inc_by(b.len() as u64);
                    }
                    slot.device.on_uplink(u, now)
                }
                Item::Alarm(t) => slot.device.on_alarm(t, now),
            };
            committed &= self.execute(&serial, actions, received, &*reply).await;
        }
        reply.finish(if committed { Outcome::Committed } else { Outcome::NotCommitted });
    }

    /// Executes a device's actions in order; `true` when everything they wrote is committed.
    async fn execute(
        &mut self,
        serial: &str,
        actions: Vec<Action>,
        received: Instant,
        reply: &dyn Reply,
    ) -> bool {
        let mut committed = true;
        for action in actions {
            committed &= match action {
                Action::Raise(t) => self.raise(serial, t, received, reply).await,
                Action::Record { msg_id } => {
                    let Some(device_id) = self.device_id(serial) else { continue };
                    let r = self.response.record_device_message(device_id, &msg_id).await;
                    self.answered(r, "record", &msg_id, reply)
                }
                Action::Cancel { msg_id } => {
                    let Some(slot) = self.devices.get(serial) else { continue };
                    let (device_id, elder_id) = (slot.device.device_id, slot.device.elder_id);
                    let r = self.response.wearer_cancelled(device_id, elder_id, &msg_id).await;
                    self.answered(r, "cancel", &msg_id, reply)
                }
                Action::Step { impact_ms, command } => {
                    let alarm = self.devices.get(serial).and_then(|s| s.device.fall_alarm(impact_ms));
                    // No alarm was raised for this impact (a got-up or walked-on candidate, or a
                    // fall raised before this process started): nothing to attach it to.
                    let Some(alarm_id) = alarm else { continue };
                    match self.response.act(alarm_id, &command, Actor::SYSTEM, "device").await {
                        // A step the alarm's state refuses is not a failure to store.
                        Ok(_) | Err(ActError::Transition(_)) => true,
                        Err(e) => {
                            self.failed(command.name(), &e);
                            false
                        }
                    }
                }
                Action::Publish(change) => {
                    self.publish_device(serial, change);
                    true
                }
            };
        }
        committed
    }

    /// A device event that raised nothing was handled: acknowledged when stored.
    fn answered(
        &self,
        r: Result<bool, ActError>,
        step: &'static str,
        msg_id: &str,
        reply: &dyn Reply,
    ) -> bool {
        match r {
            Ok(fresh) => {
                if !fresh {
                    self.metrics.duplicates.inc();
                }
                reply.event_accepted(msg_id, None);
                true
            }
            Err(e) => {
                self.failed(step, &e);
                false
            }
        }
    }

    fn failed(&self, step: &'static str, e: &ActError) {
        self.metrics.alarm_errors.get_or_create(&[("step", step)]).inc();
        tracing::error!(error = %e, step, "alarm write failed; not acknowledged");
    }

    fn device_id(&self, serial: &str) -> Option<i64> {
        self.devices.get(serial).map(|s| s.device.device_id)
    }

    /// Raises an alarm for this device through the response service; `true` once committed.
    async fn raise(&mut self, serial: &str, t: Trigger, received: Instant, reply: &dyn Reply) -> bool {
        let Some(slot) = self.devices.get_mut(serial) else { return true };
        // No fix in the message and none seen since this process started: the last position
        // stored before (an SOS is never raised without the best location there is).
        if slot.device.needs_stored_fix(&t)
            && let Ok(Some(st)) = self.store.device_state(slot.device.device_id).await
            && let (Some(lat), Some(lon)) = (st.lat, st.lon)
        {
            slot.device.restore_fix(lat, lon, st.location_at.unwrap_or(st.last_seen_at));
        }
        let alarm = slot.device.new_alarm(serial, &t);
        match self.response.raise(&alarm).await {
            Ok(raised) => {
                if let Raised::Duplicate { .. } = raised {
                    self.metrics.duplicates.inc();
                } else {
                    self.metrics.alarms.get_or_create(&[("kind", t.kind.as_str())]).inc();
                    self.metrics.alarm_latency.observe(received.elapsed().as_secs_f64());
                }
                if let (Some(id), Some(slot)) = (raised.alarm_id(), self.devices.get_mut(serial)) {
                    slot.device.raised(&t, id);
                }
                if t.ack {
                    reply.event_accepted(&t.msg_id, raised.alarm_id());
                }
                true
            }
            Err(e) => {
                self.failed("raise", &e);
                false
            }
        }
    }

    fn publish_device(&self, serial: &str, change: &str) {
        let Some(slot) = self.devices.get(serial) else { return };
        let d = &slot.device;
        self.response.hub().publish(LiveEvent {
            topic: "device",
            region_code: d.region.clone(),
            elder_id: d.elder_id,
            responder_id: None,
            at: self.now(),
            data: d.live_data(change),
        });
    }

    /// Knows the device `serial` (from the directory or the registry): its id, or `None` for
    /// an unknown or inactive one.
    async fn resolve(&mut self, serial: &str) -> Option<i64> {
        let generation = self.changes.generation();
        let mut changed = false;
        if let Some(slot) = self.devices.get_mut(serial) {
            // An elder or a binding changed through this instance: re-read this device from the
            // registry (not the directory, which may predate the change) if it was concerned. The
            // generation is taken as seen once the device is re-read.
            if slot.seen_changes != generation {
                changed = self.changes.changed_since(
                    slot.device.device_id,
                    slot.device.elder_id,
                    slot.seen_changes,
                );
                if !changed {
                    slot.seen_changes = generation;
                }
            }
            if !changed && slot.resolved_at.elapsed() < REFRESH {
                return Some(slot.device.device_id);
            }
        }
        let cached =
            if changed { None } else { self.directory.read().expect("directory lock").get(serial).cloned() };
        let known = match cached {
            Some(k) => k,
            None => {
                // Registered since the directory was loaded, or unknown.
                if self.unknown.known_stranger(serial, Instant::now()) {
                    return None;
                }
                match lookup(&*self.store, serial, &self.cfg.default_region).await {
                    Ok(Some(k)) => {
                        self.directory.write().expect("directory lock").insert(serial.to_string(), k.clone());
                        k
                    }
                    Ok(None) => {
                        self.unknown.note(serial, Instant::now());
                        if self.devices.remove(serial).is_some() {
                            self.metrics.devices.dec();
                        }
                        return None;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "device lookup failed");
                        // Keep serving a known device through a database hiccup.
                        return self.device_id(serial);
                    }
                }
            }
        };
        let device_id = known.device_id;
        let now = self.now();
        match self.devices.get_mut(serial) {
            Some(slot) => {
                slot.device.refresh(known);
                slot.resolved_at = Instant::now();
                slot.seen_changes = generation;
            }
            None => {
                let slot = Slot {
                    device: Device::new(known, now),
                    resolved_at: Instant::now(),
                    seen_changes: generation,
                };
                self.devices.insert(serial.to_string(), slot);
                self.metrics.devices.inc();
            }
        }
        Some(device_id)
    }

    /// Time-based rules (offline, late looks given up) and the batched device-state write.
    async fn on_tick(&mut self) {
        let now = self.now();
        let serials: Vec<String> = self.devices.keys().cloned().collect();
        for serial in serials {
            let Some(slot) = self.devices.get_mut(&serial) else { continue };
            let actions = slot.device.on_tick(now);
            if !actions.is_empty() {
                // Not acknowledged to anyone: a failed write is counted, and the detector's
                // derived message id lets the next detection raise it again.
                self.execute(&serial, actions, Instant::now(), &NoReply).await;
            }
        }
        let states: Vec<DeviceState> =
            self.devices.values_mut().filter_map(|s| s.device.take_state()).collect();
        if !states.is_empty() {
            let store = self.store.clone();
            tokio::spawn(async move {
                if let Err(e) = store.upsert_device_states(&states).await {
                    tracing::warn!(error = %e, "device state write failed");
                }
            });
        }
    }
}
