//! The MQTT ingest: one MQTT client reads the uplink stream and hands each publish to its
//! device's worker ([`crate::pipeline`]); workers decode, detect, raise alarms through the
//! response service, and only then acknowledge (MQTT QoS 1 and the protocol's `down/ack`).
//!
//! Backpressure: worker queues are bounded; when one is full the reader waits, so the TCP
//! connection stops being read and the broker holds the stream. Nothing is dropped here.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event as MqttEvent, EventLoop, MqttOptions, Packet, Publish, QoS};
use zhulao_alarms::Feedback;
use zhulao_proto::{self as proto, Direction, Kind};
use zhulao_response::{DeviceLink, DeviceMessage};

use crate::error::GatewayError;
use crate::metrics::Metrics;
use crate::pipeline::{Inbound, Outcome, Payload, Pipeline, PipelineConfig, Reply};

/// How the gateway reaches the broker and splits the work.
#[derive(Debug, Clone)]
pub struct IngestConfig {
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<zhulao_domain::Secret>,
    /// Stable per instance, so a persistent session survives restarts.
    pub client_id: String,
    /// Keep the session (and the broker's queue for us) across disconnects.
    pub persistent_session: bool,
    pub topic_root: String,
    /// The shards this instance consumes (0..64 for all).
    pub shards: Range<u8>,
    pub workers: usize,
    /// Messages per worker queue.
    pub queue: usize,
    /// How often time-based rules run and device state is written.
    pub tick: Duration,
    /// The region given to alarms of devices bound to nobody.
    pub default_region: String,
}

impl IngestConfig {
    /// Parses `mqtt://[user:pass@]host:port`.
    pub fn from_url(url: &str, client_id: &str) -> Result<Self, GatewayError> {
        let rest = url
            .strip_prefix("mqtt://")
            .or_else(|| url.strip_prefix("tcp://"))
            .ok_or(GatewayError::BadBrokerUrl { reason: "scheme" })?;
        let (cred, hostport) = match rest.rsplit_once('@') {
            Some((c, h)) => (Some(c), h),
            None => (None, rest),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) => {
                (h.to_string(), p.parse().map_err(|_| GatewayError::BadBrokerUrl { reason: "port" })?)
            }
            None => (hostport.to_string(), 1883),
        };
        let (username, password) = match cred.map(|c| c.split_once(':').unwrap_or((c, ""))) {
            Some((u, p)) => (Some(u.to_string()), Some(p.into())),
            None => (None, None),
        };
        Ok(IngestConfig {
            host,
            port,
            username,
            password,
            client_id: client_id.to_string(),
            persistent_session: true,
            topic_root: proto::DEFAULT_ROOT.into(),
            shards: 0..proto::SHARDS,
            workers: 2,
            queue: 4096,
            tick: Duration::from_secs(5),
            default_region: String::new(),
        })
    }

    /// The worker settings this configuration carries.
    pub fn pipeline(&self) -> PipelineConfig {
        PipelineConfig {
            workers: self.workers,
            queue: self.queue,
            tick: self.tick,
            default_region: self.default_region.clone(),
        }
    }
}

/// Downlink to devices through the broker. `send` never blocks: a full request queue
/// hands the publish to a task.
pub struct MqttLink {
    client: AsyncClient,
    root: String,
    serials: RwLock<HashMap<i64, String>>,
    metrics: Metrics,
}

impl std::fmt::Debug for MqttLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttLink").field("root", &self.root).finish_non_exhaustive()
    }
}

fn feedback_state(f: Feedback) -> proto::FeedbackState {
    match f {
        Feedback::Received => proto::FeedbackState::Received,
        Feedback::Answered => proto::FeedbackState::Answered,
        Feedback::HelpOnTheWay => proto::FeedbackState::HelpOnTheWay,
        Feedback::ResponderOnSite => proto::FeedbackState::ResponderOnSite,
        Feedback::Closed => proto::FeedbackState::Closed,
    }
}

impl MqttLink {
    pub(crate) fn remember(&self, device_id: i64, serial: &str) {
        let known = self.serials.read().expect("serials lock").get(&device_id).is_some_and(|s| s == serial);
        if !known {
            self.serials.write().expect("serials lock").insert(device_id, serial.to_string());
        }
    }

    /// Publishes `msg` to the device `serial` (QoS 1).
    pub fn send_to(&self, serial: &str, msg: &proto::Downlink) {
        let topic = proto::topic(&self.root, serial, Direction::Down, msg.kind());
        let payload = msg.encode();
        if let Err(e) = self.client.try_publish(topic.clone(), QoS::AtLeastOnce, false, payload.clone()) {
            if matches!(e, rumqttc::ClientError::TryRequest(_)) {
                let client = self.client.clone();
                tokio::spawn(async move {
                    let _ = client.publish(topic, QoS::AtLeastOnce, false, payload).await;
                });
            } else {
                self.metrics.downlink_dropped.inc();
            }
        }
    }
}

impl DeviceLink for MqttLink {
    fn send(&self, device_id: i64, msg: DeviceMessage) {
        let msg = match msg {
            DeviceMessage::Config { serial, config } => {
                let payload = proto::Downlink::Config(config).encode();
                // Retained: a device not connected now gets its settings when it next connects.
                let topic = proto::topic(&self.root, &serial, Direction::Down, Kind::Config);
                if self.client.try_publish(topic, QoS::AtLeastOnce, true, payload).is_err() {
                    self.metrics.downlink_dropped.inc();
                }
                return;
            }
            DeviceMessage::Ack { msg_id, alarm_id } => {
                proto::Downlink::Ack(proto::Ack::accepted(msg_id, alarm_id))
            }
            DeviceMessage::Feedback { alarm_id, state } => {
                proto::Downlink::Feedback(proto::Feedback::for_state(alarm_id, feedback_state(state)))
            }
        };
        let Some(serial) = self.serials.read().expect("serials lock").get(&device_id).cloned() else {
            // A device this instance has not heard from: it is connected elsewhere or not at
            // all; its next retransmission will be acknowledged by whoever holds it.
            self.metrics.downlink_dropped.inc();
            return;
        };
        self.send_to(&serial, &msg);
    }
}

/// The MQTT side a message is answered through.
#[derive(Clone)]
pub(crate) struct MqttSide {
    pub acks: Arc<Acks>,
    pub link: Arc<MqttLink>,
}

/// How one MQTT publish is answered: the broker's acknowledgement in delivery order (withheld
/// while what it caused is not committed), and `down/ack` for a device event.
struct MqttReply {
    serial: String,
    side: MqttSide,
    ticket: Option<AckTicket>,
}

impl Reply for MqttReply {
    fn resolved(&self, device_id: i64, serial: &str) {
        self.side.link.remember(device_id, serial);
    }

    fn event_accepted(&self, msg_id: &str, alarm_id: Option<i64>) {
        self.side
            .link
            .send_to(&self.serial, &proto::Downlink::Ack(proto::Ack::accepted(msg_id.to_string(), alarm_id)));
    }

    fn event_refused(&self, msg_id: &str, code: &str) {
        self.side
            .link
            .send_to(&self.serial, &proto::Downlink::Ack(proto::Ack::refused(msg_id.to_string(), code)));
    }

    fn finish(self: Box<Self>, outcome: Outcome) {
        // Only what is safely stored is acknowledged: on a database error the device (no
        // `down/ack`) sends it again, and so does an external broker on the next session.
        // Refused and unknown messages are acknowledged: sending them again would not help.
        self.side.acks.done(self.ticket, outcome != Outcome::NotCommitted);
    }
}

/// Creates the MQTT client and its downlink; the reader starts with [`read`].
pub(crate) fn connect(cfg: &IngestConfig, metrics: &Metrics) -> (AsyncClient, EventLoop, MqttSide) {
    let mut opts = MqttOptions::new(cfg.client_id.clone(), cfg.host.clone(), cfg.port);
    opts.set_keep_alive(Duration::from_secs(30))
        .set_clean_session(!cfg.persistent_session)
        .set_manual_acks(true)
        .set_max_packet_size(proto::MAX_PAYLOAD + 4096, proto::MAX_PAYLOAD + 4096)
        .set_inflight(1000)
        .set_request_channel_capacity(1 << 16);
    if let (Some(u), Some(p)) = (&cfg.username, &cfg.password) {
        opts.set_credentials(u.clone(), p.expose());
    }
    let (client, eventloop) = AsyncClient::new(opts, 1 << 16);
    let link = Arc::new(MqttLink {
        client: client.clone(),
        root: cfg.topic_root.clone(),
        serials: RwLock::new(HashMap::new()),
        metrics: metrics.clone(),
    });
    let acks = Arc::new(Acks { client: client.clone(), state: Default::default() });
    (client, eventloop, MqttSide { acks, link })
}

/// The reader: polls the connection, routes each publish to its device's worker.
pub(crate) async fn read(
    cfg: IngestConfig,
    client: AsyncClient,
    mut eventloop: EventLoop,
    pipeline: Pipeline,
    side: MqttSide,
    metrics: Metrics,
) {
    let acks = side.acks.clone();
    let filters = proto::uplink_filters(&cfg.topic_root, cfg.shards.clone());
    loop {
        match eventloop.poll().await {
            Ok(MqttEvent::Incoming(Packet::ConnAck(_))) => {
                metrics.reconnects.inc();
                acks.new_connection();
                let subs = filters.iter().map(|f| rumqttc::SubscribeFilter::new(f.clone(), QoS::AtLeastOnce));
                if let Err(e) = client.try_subscribe_many(subs) {
                    tracing::error!(error = %e, "MQTT subscribe failed");
                }
            }
            Ok(MqttEvent::Incoming(Packet::Publish(p))) => {
                let received = Instant::now();
                let ticket = acks.register(&p);
                let routed = match proto::parse_topic(&cfg.topic_root, &p.topic) {
                    Ok(t) if t.dir == Direction::Up => Some((t.serial.to_string(), t.kind)),
                    Ok(_) => None,
                    Err(e) => {
                        metrics.rejected.get_or_create(&[("reason", e.code())]).inc();
                        None
                    }
                };
                let Some((serial, kind)) = routed else {
                    acks.done(ticket, true);
                    continue;
                };
                let reply = Box::new(MqttReply { serial: serial.clone(), side: side.clone(), ticket });
                let msg =
                    Inbound { serial, received, payload: Payload::Encoded { kind, bytes: p.payload }, reply };
                if !pipeline.submit(msg, &metrics).await {
                    return;
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, host = %cfg.host, port = cfg.port, "MQTT connection lost; reconnecting");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

/// Acknowledges a QoS 1 message to the broker (QoS 0 needs none).
fn ack(client: &AsyncClient, p: &Publish) {
    if p.qos == QoS::AtMostOnce {
        return;
    }
    if client.try_ack(p).is_err() {
        let (client, p) = (client.clone(), p.clone());
        tokio::spawn(async move {
            let _ = client.ack(&p).await;
        });
    }
}

/// Broker acknowledgements in the order the broker delivered the messages, whichever worker
/// finishes first (brokers track in-flight messages in order; rumqttd drops a client that acks
/// out of order). A message is acknowledged only once it and everything before it is handled.
pub(crate) struct Acks {
    client: AsyncClient,
    state: std::sync::Mutex<AckState>,
}

#[derive(Default)]
struct AckState {
    /// Bumped on every new connection: tickets of an old connection are void.
    epoch: u64,
    /// The sequence number of `pending[0]`.
    head: u64,
    /// QoS 1 messages not yet acknowledged, in delivery order: the message (payload dropped)
    /// and, once handled, whether to acknowledge it.
    pending: std::collections::VecDeque<(Publish, Option<bool>)>,
}

/// A place in the acknowledgement order.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AckTicket {
    epoch: u64,
    seq: u64,
}

impl Acks {
    fn new_connection(&self) {
        let mut st = self.state.lock().expect("acks lock");
        st.epoch += 1;
        st.head = 0;
        st.pending.clear();
    }

    /// Takes a place for a QoS 1 message; `None` for QoS 0.
    fn register(&self, p: &Publish) -> Option<AckTicket> {
        if p.qos == QoS::AtMostOnce {
            return None;
        }
        let mut st = self.state.lock().expect("acks lock");
        let seq = st.head + st.pending.len() as u64;
        let stub = Publish { payload: Default::default(), topic: String::new(), ..p.clone() };
        st.pending.push_back((stub, None));
        Some(AckTicket { epoch: st.epoch, seq })
    }

    /// The message is handled: acknowledge it (`ack`) or leave it for the broker to send
    /// again; then acknowledge every handled message at the head, in order.
    pub(crate) fn done(&self, ticket: Option<AckTicket>, ack_it: bool) {
        let Some(t) = ticket else { return };
        let mut st = self.state.lock().expect("acks lock");
        if t.epoch != st.epoch || t.seq < st.head {
            return;
        }
        let i = (t.seq - st.head) as usize;
        if let Some(slot) = st.pending.get_mut(i) {
            slot.1 = Some(ack_it);
        }
        while let Some((_, Some(_))) = st.pending.front() {
            let (p, a) = st.pending.pop_front().expect("front exists");
            st.head += 1;
            if a == Some(true) {
                ack(&self.client, &p);
            }
        }
    }
}
