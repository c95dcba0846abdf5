//! zhulao-gateway: the device side of the platform. An MQTT client reads the uplink stream
//! from a broker — the embedded one ([`broker`], rumqttd behind a door that lets each device
//! touch only its own topics) or an external one (Mosquitto,
//! EMQX) — and TCP listeners serve elderly-care watches speaking the 3G and IW protocols
//! ([`WatchConfig`]); both feed each device's messages, in order, to one detector worker;
//! detections and the devices' own alarms become alarms through the response service;
//! devices are answered on their downlink topics or in their protocol's replies; [`Metrics`]
//! counts everything for `/metrics`.
//!
//! Invariants: a device message that raises an alarm is acknowledged (MQTT QoS 1 and the
//! protocol's `down/ack`; a watch's reply frame) only after the alarm is committed; each
//! device's messages are handled by one worker in arrival order; bounded queues, nothing
//! dropped by the gateway; a watch's memory is bounded by its frame cap.

pub mod broker;
mod device;
mod directory;
mod error;
mod front;
mod ingest;
mod metrics;
mod pipeline;
mod settings;
mod watch_guard;
mod watch_link;
mod watches;
mod worker;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use broker::{EmbeddedBroker, InternalLogin, Started as BrokerStarted};
pub use error::GatewayError;
pub use ingest::{IngestConfig, MqttLink};
pub use metrics::Metrics;
pub use pipeline::PipelineConfig;
pub use watches::{SourceNet, UnknownIdLimit, WatchConfig, WatchLink};
pub use zhulao_watch::Protocol as WatchProtocol;

use zhulao_response::{CommandRefused, DeviceLink, DeviceMessage, Response};

/// A running gateway: the MQTT ingest and/or the watch listeners over one set of workers.
#[derive(Debug)]
pub struct Ingest {
    pub mqtt: Option<Arc<MqttLink>>,
    pub watches: Arc<WatchLink>,
    /// The watch listeners' bound addresses.
    pub watch_addrs: Vec<(WatchProtocol, SocketAddr)>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Ingest {
    /// Stops reading (the broker keeps what is unread for a persistent session).
    pub fn abort(&self) {
        for t in &self.tasks {
            t.abort();
        }
    }

    /// Where watches of `protocol` connect, if served.
    pub fn watch_addr(&self, protocol: WatchProtocol) -> Option<SocketAddr> {
        self.watch_addrs.iter().find(|(p, _)| *p == protocol).map(|(_, a)| *a)
    }
}

impl Drop for Ingest {
    fn drop(&mut self) {
        self.abort();
    }
}

/// Sends each downlink the way its device is connected: TCP watches through their
/// connection, everything else through the broker.
struct Links {
    mqtt: Option<Arc<MqttLink>>,
    watches: Arc<WatchLink>,
    changes: Arc<settings::Changes>,
}

impl DeviceLink for Links {
    fn send(&self, device_id: i64, msg: DeviceMessage) {
        if self.watches.is_watch(device_id) {
            self.watches.send(device_id, msg);
        } else if let Some(m) = &self.mqtt {
            m.send(device_id, msg);
        }
    }

    fn command(&self, device_id: i64, command: &serde_json::Value) -> Result<(), CommandRefused> {
        if self.watches.is_watch(device_id) {
            self.watches.command(device_id, command)
        } else if self.mqtt.is_some() {
            // MQTT devices take settings (`/devices/{id}/config`), not commands.
            Err(CommandRefused::Unsupported)
        } else {
            Err(CommandRefused::NotConnected)
        }
    }

    fn elder_changed(&self, elder_id: i64) {
        self.changes.mark_elder(elder_id);
    }

    fn device_changed(&self, device_id: i64) {
        self.changes.mark_device(device_id);
    }
}

/// Starts the workers, the MQTT ingest (`mqtt`) and the watch listeners (`watches`), and
/// tells `response` how to reach devices. Must run inside a Tokio runtime. Fails only when
/// a watch port cannot be bound.
pub fn start_gateway(
    pipeline_cfg: &PipelineConfig,
    mqtt: Option<IngestConfig>,
    watches: Option<&WatchConfig>,
    response: Arc<Response>,
    metrics: Metrics,
) -> Result<Ingest, GatewayError> {
    let client = mqtt.as_ref().map(|cfg| ingest::connect(cfg, &metrics));
    let side = client.as_ref().map(|(_, _, side)| side.clone());
    let (pipeline, mut tasks) = pipeline::Pipeline::start(pipeline_cfg, &response, &metrics);
    let watch_link = Arc::new(WatchLink::new(
        metrics.clone(),
        response.store().clone(),
        watches.map_or(Duration::from_secs(60), |w| w.settle_time),
        watches.is_some_and(|w| w.same_address_replaces),
        watches.and_then(|w| w.replace_silent_after),
    ));
    let mut watch_addrs = Vec::new();
    if let Some(w) = watches {
        let (addrs, t) = watches::listen(w, pipeline.clone(), watch_link.clone(), metrics.clone())?;
        watch_addrs = addrs;
        tasks.extend(t);
    }
    let mqtt_link = side.as_ref().map(|s| s.link.clone());
    response.set_device_link(Arc::new(Links {
        mqtt: mqtt_link.clone(),
        watches: watch_link.clone(),
        changes: pipeline.changes.clone(),
    }));
    let directory = pipeline.clone();
    let reader = async move {
        // Know every registered device before the MQTT stream starts; refreshed in the background.
        let refresher = directory.load_directory().await;
        if let (Some(cfg), Some((client, eventloop, side))) = (mqtt, client) {
            ingest::read(cfg, client, eventloop, directory, side, metrics).await;
        }
        let _ = refresher.await;
    };
    tasks.push(tokio::spawn(reader));
    Ok(Ingest { mqtt: mqtt_link, watches: watch_link, watch_addrs, tasks })
}

/// The MQTT ingest alone (no watch listeners).
pub fn start(cfg: IngestConfig, response: Arc<Response>, metrics: Metrics) -> Ingest {
    start_gateway(&cfg.pipeline(), Some(cfg), None, response, metrics).expect("no ports to bind")
}
