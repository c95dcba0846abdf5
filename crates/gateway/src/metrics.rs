//! Prometheus metrics of the device pipeline, rendered in the text exposition format at
//! `/metrics`.

use std::sync::Arc;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

type Labels = [(&'static str, &'static str); 1];

/// Every counter the gateway keeps. Cheap to clone (shared atomics).
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    /// Messages received, by uplink kind.
    pub messages: Family<Labels, Counter>,
    /// Motion samples fed to detectors.
    pub samples: Counter,
    /// Messages that failed to decode, by error code.
    pub decode_errors: Family<Labels, Counter>,
    /// Messages refused, by reason (unknown device, inactive device, bad topic).
    pub rejected: Family<Labels, Counter>,
    /// Alarms raised (new or merged), by kind.
    pub alarms: Family<Labels, Counter>,
    /// Retransmitted device messages recognised as duplicates.
    pub duplicates: Counter,
    /// Alarm writes that failed (raise, cancel noted, trace, recovered), by step: the message
    /// is not acknowledged, so the device sends it again.
    pub alarm_errors: Family<Labels, Counter>,
    /// Messages waiting in the workers' queues.
    pub queue_depth: Gauge,
    /// Downlink messages that could not be queued.
    pub downlink_dropped: Counter,
    /// Receipt of the message that completed a detection (or carried the event) → alarm
    /// committed and on the live feed, seconds.
    pub alarm_latency: Histogram,
    /// Devices with detector state in this instance.
    pub devices: Gauge,
    /// MQTT connection (re)starts of the ingest client.
    pub reconnects: Counter,
    /// Logins refused (embedded broker: unknown serial, wrong secret, inactive device; TCP
    /// watches: unregistered id).
    pub auth_failures: Counter,
    /// Embedded broker: connections and packets refused at its door, by reason (`publish`,
    /// `subscribe`, `will` outside the device's own topics; `login_timeout`, `malformed`,
    /// `tls_handshake`, `too_many_connections`).
    pub refused: Family<Labels, Counter>,
    /// TCP watch connections open now.
    pub watch_connections: Gauge,
    /// Frames cut from TCP watch streams.
    pub watch_frames: Counter,
    /// Watch session events, by event: `device_conflict`, `session_confirmed`,
    /// `conflict_closed`, `settings_confirmed`, `replaced_same_address`.
    pub watch_sessions: Family<Labels, Counter>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut r = Registry::with_prefix("zhulao");
        let m = Metrics {
            registry: Arc::new(Registry::default()),
            messages: Family::default(),
            samples: Counter::default(),
            decode_errors: Family::default(),
            rejected: Family::default(),
            alarms: Family::default(),
            duplicates: Counter::default(),
            alarm_errors: Family::default(),
            queue_depth: Gauge::default(),
            downlink_dropped: Counter::default(),
            // 0.5 ms … ~16 s.
            alarm_latency: Histogram::new(exponential_buckets(0.0005, 2.0, 16)),
            devices: Gauge::default(),
            reconnects: Counter::default(),
            auth_failures: Counter::default(),
            refused: Family::default(),
            watch_connections: Gauge::default(),
            watch_frames: Counter::default(),
            watch_sessions: Family::default(),
        };
        r.register("device_messages", "Device messages received, by kind", m.messages.clone());
        r.register("motion_samples", "Motion samples fed to detectors", m.samples.clone());
        r.register(
            "decode_errors",
            "Device messages that failed to decode, by code",
            m.decode_errors.clone(),
        );
        r.register("rejected_messages", "Device messages refused, by reason", m.rejected.clone());
        r.register("alarms_raised", "Alarms raised or merged, by kind", m.alarms.clone());
        r.register("duplicate_messages", "Retransmitted device messages recognised", m.duplicates.clone());
        r.register(
            "alarm_errors",
            "Alarm writes that failed, by step (not acknowledged)",
            m.alarm_errors.clone(),
        );
        r.register("ingest_queue_depth", "Messages waiting for a detector worker", m.queue_depth.clone());
        r.register(
            "downlink_dropped",
            "Downlink messages that could not be queued",
            m.downlink_dropped.clone(),
        );
        r.register(
            "alarm_latency_seconds",
            "Message receipt to alarm committed and published on the live feed",
            m.alarm_latency.clone(),
        );
        r.register("devices_active", "Devices with detector state in this instance", m.devices.clone());
        r.register("mqtt_reconnects", "Ingest client (re)connections", m.reconnects.clone());
        r.register("mqtt_auth_failures", "Logins refused by the embedded broker", m.auth_failures.clone());
        r.register(
            "mqtt_refused",
            "Connections and packets refused by the embedded broker, by reason",
            m.refused.clone(),
        );
        r.register("watch_connections", "TCP watch connections open", m.watch_connections.clone());
        r.register("watch_frames", "Frames read from TCP watches", m.watch_frames.clone());
        r.register(
            "watch_sessions",
            "Watch session events (conflicts, confirmations), by event",
            m.watch_sessions.clone(),
        );
        Metrics { registry: Arc::new(r), ..m }
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String does not fail");
        out
    }
}
