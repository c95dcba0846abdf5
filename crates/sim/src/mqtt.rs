//! MQTT connections: one per wearer (with the device's own credentials and last will) or a
//! small pool shared by all wearers, and the honest count of what reached the socket.
//!
//! Each `EventLoop` is driven by its own task with a plain `loop { poll().await }` — never a
//! timeout or a cancelling `select!` around `poll()`, which loses rumqttc's state. Downlink
//! acks are handed to the generator shards over channels.
//!
//! Counting: every publish handed to a client is logged, in order, in the connection's queue
//! (with its motion sample count) under the same lock as the hand-over, and taken off when the
//! event loop reports `Outgoing::Publish` — the packet written to the socket. Requests the
//! client refuses (queue full) and those a dropped connection discards are publish errors.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use rumqttc::{AsyncClient, Event, EventLoop, LastWill, MqttOptions, Outgoing, Packet, QoS};
use tokio::sync::Semaphore;
use zhulao_proto::{Direction, Downlink, Kind, decode_downlink, parse_topic};

use crate::Ctx;

/// Where the broker is: `mqtt://[user:password@]host[:port]` (`tcp://` is accepted too).
#[derive(Clone, PartialEq, Eq)]
pub struct Broker {
    pub host: String,
    pub port: u16,
    /// Credentials for pooled connections (devices always use their own).
    pub username: Option<String>,
    pub password: Option<String>,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
}

impl Broker {
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        let Some(rest) = url.strip_prefix("mqtt://").or_else(|| url.strip_prefix("tcp://")) else {
            bail!("MQTT 地址应为 mqtt://主机:端口 / the broker URL must be mqtt://host:port, not {url:?}");
        };
        let rest = rest.trim_end_matches('/');
        let (cred, hostport) = match rest.rsplit_once('@') {
            Some((c, h)) => (Some(c), h),
            None => (None, rest),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) => (h, p.parse().with_context(|| format!("bad port in broker URL {url:?}"))?),
            None => (hostport, 1883),
        };
        if host.is_empty() {
            bail!("no host in broker URL {url:?}");
        }
        let (username, password) = match cred.map(|c| c.split_once(':').unwrap_or((c, ""))) {
            Some((u, p)) => (Some(u.to_string()), Some(p.to_string())),
            None => (None, None),
        };
        Ok(Broker { host: host.trim_matches(['[', ']']).to_string(), port, username, password })
    }
}

/// One MQTT connection and the log of what was handed to it but not yet written.
#[derive(Debug)]
pub struct Conn {
    pub client: AsyncClient,
    /// Per handed publish, in order: its motion samples (0 for other kinds).
    log: Mutex<VecDeque<u32>>,
    pub up: AtomicBool,
    /// Connections made so far (a new one means a new session: unacknowledged events are
    /// retransmitted at once).
    pub sessions: AtomicU32,
    closing: AtomicBool,
}

impl Conn {
    pub fn new(client: AsyncClient) -> Self {
        Conn {
            client,
            log: Mutex::new(VecDeque::new()),
            up: AtomicBool::new(false),
            sessions: AtomicU32::new(0),
            closing: AtomicBool::new(false),
        }
    }

    /// Hands a publish to the client without waiting; false (and a publish error) if refused.
    pub fn send(
        &self,
        ctx: &Ctx,
        topic: &str,
        qos1: bool,
        retain: bool,
        payload: Vec<u8>,
        samples: u32,
    ) -> bool {
        let qos = if qos1 { QoS::AtLeastOnce } else { QoS::AtMostOnce };
        let mut log = self.log.lock().expect("conn log");
        match self.client.try_publish(topic, qos, retain, payload) {
            Ok(()) => {
                log.push_back(samples);
                true
            }
            Err(_) => {
                drop(log);
                ctx.stats.publish_errors.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// The event loop wrote a publish.
    fn written(&self, ctx: &Ctx) {
        let samples = self.log.lock().expect("conn log").pop_front();
        let s = &ctx.stats;
        s.messages_sent.fetch_add(1, Ordering::Relaxed);
        if let Some(n) = samples
            && n > 0
        {
            s.motion_sent.fetch_add(1, Ordering::Relaxed);
            s.samples_sent.fetch_add(u64::from(n), Ordering::Relaxed);
        }
    }

    /// The connection dropped: with a clean session, everything not yet written is gone.
    fn lost(&self, ctx: &Ctx) {
        let mut log = self.log.lock().expect("conn log");
        ctx.stats.publish_errors.fetch_add(log.len() as u64, Ordering::Relaxed);
        log.clear();
    }

    /// Publishes handed over and not yet written.
    pub fn backlog(&self) -> usize {
        self.log.lock().expect("conn log").len()
    }

    /// Asks the event loop to disconnect cleanly; its task ends when it has.
    pub fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
        let _ = self.client.try_disconnect();
    }
}

/// What a connection does each time it (re)connects.
#[derive(Clone, Debug)]
pub enum OnConnect {
    /// A device: publish the retained `online` status, subscribe to its own downlink.
    Device { status_topic: String, online: Vec<u8>, downlink: String },
    /// A pooled connection: subscribe to a downlink filter (one of the pool does).
    Pool { subscribe: Option<String> },
}

/// MQTT options of a device connection: client id and username = serial, password = secret,
/// clean session, keep-alive 60 s, last will `{"online":false}` retained on its status topic.
pub fn device_options(
    b: &Broker,
    serial: &str,
    secret: &str,
    status_topic: &str,
    offline: Vec<u8>,
) -> MqttOptions {
    let mut o = MqttOptions::new(serial, b.host.clone(), b.port);
    o.set_credentials(serial, secret)
        .set_keep_alive(Duration::from_secs(60))
        .set_clean_session(true)
        .set_max_packet_size(zhulao_proto::MAX_PAYLOAD + 4096, zhulao_proto::MAX_PAYLOAD + 4096)
        .set_last_will(LastWill::new(status_topic, offline, QoS::AtLeastOnce, true));
    o
}

/// MQTT options of pooled connection `k`.
pub fn pool_options(b: &Broker, client_id: String) -> MqttOptions {
    let mut o = MqttOptions::new(client_id, b.host.clone(), b.port);
    if let (Some(u), Some(p)) = (&b.username, &b.password) {
        o.set_credentials(u.clone(), p.clone());
    }
    o.set_keep_alive(Duration::from_secs(60))
        .set_clean_session(true)
        .set_inflight(1000)
        .set_max_packet_size(zhulao_proto::MAX_PAYLOAD + 4096, zhulao_proto::MAX_PAYLOAD + 4096);
    o
}

/// Drives one connection's event loop until it is closed. `gate` limits how many
/// connections are being set up at once (thousands of devices connecting together).
pub async fn drive(
    conn: Arc<Conn>,
    mut ev: EventLoop,
    ctx: Arc<Ctx>,
    on: OnConnect,
    gate: Option<Arc<Semaphore>>,
) {
    let mut permit = match gate {
        Some(g) => g.acquire_owned().await.ok(),
        None => None,
    };
    let mut ever_up = false;
    let mut errors = 0u32;
    loop {
        match ev.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                permit = None;
                conn.up.store(true, Ordering::SeqCst);
                conn.sessions.fetch_add(1, Ordering::SeqCst);
                if !ever_up {
                    ever_up = true;
                    ctx.connected.fetch_add(1, Ordering::SeqCst);
                    ctx.connected_notify.notify_waiters();
                }
                match &on {
                    OnConnect::Device { status_topic, online, downlink } => {
                        conn.send(&ctx, status_topic, true, true, online.clone(), 0);
                        let _ = conn.client.try_subscribe(downlink.clone(), QoS::AtLeastOnce);
                    }
                    OnConnect::Pool { subscribe: Some(f) } => {
                        let _ = conn.client.try_subscribe(f.clone(), QoS::AtLeastOnce);
                    }
                    OnConnect::Pool { subscribe: None } => {}
                }
            }
            Ok(Event::Incoming(Packet::Publish(p))) => route_downlink(&ctx, &p.topic, &p.payload),
            Ok(Event::Outgoing(Outgoing::Publish(_))) => conn.written(&ctx),
            Ok(Event::Outgoing(Outgoing::Disconnect)) => {
                conn.up.store(false, Ordering::SeqCst);
                break;
            }
            Ok(_) => {}
            Err(e) => {
                conn.up.store(false, Ordering::SeqCst);
                conn.lost(&ctx);
                if conn.closing.load(Ordering::SeqCst) || matches!(e, rumqttc::ConnectionError::RequestsDone)
                {
                    break;
                }
                permit = None;
                errors += 1;
                ctx.stats.connection_errors.fetch_add(1, Ordering::Relaxed);
                let n = ctx.stats.connection_errors.load(Ordering::Relaxed);
                if n <= 5 || n.is_power_of_two() {
                    tracing::warn!(error = %e, total = n, "MQTT connection error; reconnecting in 1 s");
                }
                // Back off (not a timeout around poll: the loop's state is intact).
                tokio::time::sleep(Duration::from_millis(1000.min(100 * u64::from(errors)))).await;
            }
        }
    }
    drop(permit);
}

/// Routes a downlink message: acks go to the wearer's shard; the rest is counted.
fn route_downlink(ctx: &Ctx, topic: &str, payload: &[u8]) {
    let Ok(t) = parse_topic(&ctx.root, topic) else { return };
    if t.dir != Direction::Down {
        return;
    }
    ctx.stats.downlinks.fetch_add(1, Ordering::Relaxed);
    if t.kind != Kind::Ack {
        return;
    }
    let Ok(Downlink::Ack(ack)) = decode_downlink(Kind::Ack, payload) else { return };
    let Some(&(shard, local)) = ctx.wearer_index.get(t.serial) else { return };
    ctx.stats.acks_received.fetch_add(1, Ordering::Relaxed);
    let _ = ctx.ack_tx[shard].send(crate::AckIn { local, id: ack.id, at_ms: ctx.clock.now_ms() });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_urls() {
        let b = Broker::parse("mqtt://127.0.0.1:1883").unwrap();
        assert_eq!((b.host.as_str(), b.port, b.username), ("127.0.0.1", 1883, None));
        let b = Broker::parse("tcp://gw.example:18830/").unwrap();
        assert_eq!((b.host.as_str(), b.port), ("gw.example", 18830));
        let b = Broker::parse("mqtt://svc:s3cr:et@h").unwrap();
        assert_eq!((b.host.as_str(), b.port), ("h", 1883));
        assert_eq!((b.username.as_deref(), b.password.as_deref()), (Some("svc"), Some("s3cr:et")));
        assert!(Broker::parse("http://h:1").is_err());
        assert!(Broker::parse("mqtt://h:port").is_err());
        assert!(Broker::parse("mqtt://:1883").is_err());
    }
}
