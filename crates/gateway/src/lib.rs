//! zhulao-gateway: the device side of the platform. An MQTT client reads the uplink stream
//! from a broker — the embedded one ([`broker`], rumqttd) or an external one (Mosquitto,
//! EMQX) — and feeds each device's messages, in order, to one detector; detections and the
//! devices' own events become alarms through the response service; devices are answered on
//! their downlink topics; [`Metrics`] counts everything for `/metrics`.
//!
//! Invariants: a device message that raises an alarm is acknowledged (MQTT QoS 1 and the
//! protocol's `down/ack`) only after the alarm is committed; each device's messages are
//! handled by one worker in arrival order; bounded queues, nothing dropped by the gateway.

pub mod broker;
mod ingest;
mod metrics;

pub use broker::{EmbeddedBroker, InternalLogin};
pub use ingest::{Ingest, IngestConfig, MqttLink, start};
pub use metrics::Metrics;
