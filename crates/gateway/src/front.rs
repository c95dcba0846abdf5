//! The device-facing door of the embedded broker. Devices never reach rumqttd directly: each
//! connection is accepted here (TLS when configured), must log in within a few seconds as a
//! registered, active device (client id = username = serial, password = its secret), and from
//! then on every packet it sends is framed and checked with rumqttc's MQTT codec before it is
//! relayed to the broker on loopback. A device may publish only on its own uplink topics
//! (its last will included) and subscribe only to its own downlink
//! ([`zhulao_proto::device_may_publish`], [`zhulao_proto::device_may_subscribe`]); anything
//! else closes the connection, is counted in `mqtt_refused_total` and logged with the serial,
//! and never reaches the broker. The broker's answers are relayed back byte for byte.
//!
//! rumqttd keeps what a broker keeps (sessions, QoS 1 in flight, retained messages, last
//! wills); it accepts a device only with the per-process relay token this door substitutes
//! for the device's secret, so its loopback port is no way around the door.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use rumqttc::mqttbytes::{self, PacketType};
use rumqttc::v5::mqttbytes::v5 as m5;
use rumqttc::{ConnectReturnCode, mqttbytes::v4 as m4};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use zhulao_store::Store;

use crate::metrics::Metrics;

/// The MQTT protocol level a device spoke in its CONNECT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    V4,
    V5,
}

/// What the door needs to know.
pub(crate) struct Door {
    pub root: String,
    /// The password the door gives the broker in place of a device's secret.
    pub relay_token: String,
    /// The broker's loopback listeners.
    pub upstream_v4: SocketAddr,
    pub upstream_v5: SocketAddr,
    pub store: Arc<dyn Store>,
    pub metrics: Metrics,
    /// A connection that has not sent a valid CONNECT (after TLS) within this is closed.
    pub login_timeout: Duration,
    /// The largest packet a device may send.
    pub max_packet: usize,
    /// Open device connections, at most.
    pub slots: Arc<Semaphore>,
}

impl std::fmt::Debug for Door {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Door").field("root", &self.root).finish_non_exhaustive()
    }
}

/// Why a connection was closed before or after login (logged; the device sees a closed socket
/// or a refused CONNACK).
#[derive(Debug)]
enum Closed {
    Io,
    /// Nothing (or no CONNECT) within the login timeout.
    LoginTimeout,
    /// Not an MQTT 3.1.1 or 5 CONNECT, or a malformed packet.
    Malformed,
    /// Unknown serial, wrong secret, inactive device, client id ≠ username.
    LoginRefused,
    /// A publish, subscription or last will outside the device's own topics.
    Refused,
    /// The broker is not reachable.
    Upstream,
}

/// Serves one listener (plain, or TLS with `tls`) until the task is aborted.
pub(crate) async fn listen(door: Arc<Door>, listener: TcpListener, tls: Option<tokio_rustls::TlsAcceptor>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                // Out of file descriptors and the like: wait rather than spin.
                tracing::warn!(error = %e, "MQTT accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = door.slots.clone().try_acquire_owned() else {
            door.metrics.refused.get_or_create(&[("reason", "too_many_connections")]).inc();
            continue;
        };
        let _ = stream.set_nodelay(true);
        let door = door.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let result = match tls {
                Some(acceptor) => {
                    match tokio::time::timeout(door.login_timeout, acceptor.accept(stream)).await {
                        Ok(Ok(s)) => serve(&door, s, peer).await,
                        Ok(Err(e)) => {
                            door.metrics.refused.get_or_create(&[("reason", "tls_handshake")]).inc();
                            tracing::debug!(%peer, error = %e, "TLS handshake failed");
                            Err(Closed::Io)
                        }
                        Err(_) => Err(Closed::LoginTimeout),
                    }
                }
                None => serve(&door, stream, peer).await,
            };
            if let Err(why) = result {
                tracing::debug!(%peer, ?why, "device connection closed");
            }
        });
    }
}

/// Reads until `buf` holds one whole packet and returns its fixed header (the packet stays
/// in `buf`). `Ok(None)` on a clean end of stream.
async fn next_packet<R: AsyncRead + Unpin>(
    r: &mut R,
    buf: &mut BytesMut,
    max: usize,
) -> Result<Option<mqttbytes::FixedHeader>, Closed> {
    loop {
        match mqttbytes::check(buf.iter(), max) {
            Ok(h) => return Ok(Some(h)),
            Err(mqttbytes::Error::InsufficientBytes(_)) => {}
            Err(_) => return Err(Closed::Malformed),
        }
        if buf.capacity() - buf.len() < 1024 {
            buf.reserve(4096);
        }
        match r.read_buf(buf).await {
            Ok(0) if buf.is_empty() => return Ok(None),
            Ok(0) => return Err(Closed::Io),
            Ok(_) => {}
            Err(_) => return Err(Closed::Io),
        }
    }
}

/// The largest CONNECT read from a client that has not logged in.
const MAX_CONNECT: usize = 4096;

/// Reads the first packet, refusing anything that does not start as a CONNECT at its first byte.
async fn first_packet<R: AsyncRead + Unpin>(
    r: &mut R,
    buf: &mut BytesMut,
) -> Result<Option<mqttbytes::FixedHeader>, Closed> {
    loop {
        if let Some(&b) = buf.first()
            && b >> 4 != 1
        {
            return Err(Closed::Malformed);
        }
        match mqttbytes::check(buf.iter(), MAX_CONNECT) {
            Ok(h) => return Ok(Some(h)),
            Err(mqttbytes::Error::InsufficientBytes(_)) => {}
            Err(_) => return Err(Closed::Malformed),
        }
        match r.read_buf(buf).await {
            Ok(0) if buf.is_empty() => return Ok(None),
            Ok(0) | Err(_) => return Err(Closed::Io),
            Ok(_) => {}
        }
    }
}

/// A device's CONNECT: who it says it is, and the packet to hand the broker.
struct Hello {
    version: Version,
    client_id: String,
    username: String,
    password: String,
    will_topic: Option<String>,
    /// The CONNECT re-encoded with the relay token as password.
    relayed: BytesMut,
}

fn parse_connect(frame: BytesMut, relay_token: &str, max: usize) -> Result<Hello, Closed> {
    // The v5 reader refuses any other protocol level; the v4 one would misread a v5 CONNECT.
    let mut v5 = frame.clone();
    match m5::Packet::read(&mut v5, Some(max as u32)) {
        Ok(m5::Packet::Connect(c, will, Some(login))) => {
            let will_topic = match &will {
                Some(w) => Some(String::from_utf8(w.topic.to_vec()).map_err(|_| Closed::Malformed)?),
                None => None,
            };
            let client_id = c.client_id.clone();
            let packet =
                m5::Packet::Connect(c, will, Some(m5::Login::new(login.username.clone(), relay_token)));
            let mut relayed = BytesMut::new();
            packet.write(&mut relayed, Some(max as u32)).map_err(|_| Closed::Malformed)?;
            return Ok(Hello {
                version: Version::V5,
                client_id,
                username: login.username,
                password: login.password,
                will_topic,
                relayed,
            });
        }
        Ok(m5::Packet::Connect(_, _, None)) => return Err(Closed::LoginRefused),
        Err(rumqttc::v5::mqttbytes::Error::InvalidProtocolLevel(4)) => {}
        _ => return Err(Closed::Malformed),
    }
    let mut v4 = frame;
    match m4::Packet::read(&mut v4, max) {
        Ok(m4::Packet::Connect(mut c)) if c.protocol == mqttbytes::Protocol::V4 => {
            let login = c.login.take().ok_or(Closed::LoginRefused)?;
            let will_topic = c.last_will.as_ref().map(|w| w.topic.clone());
            let client_id = c.client_id.clone();
            c.set_login(login.username.clone(), relay_token);
            let mut relayed = BytesMut::new();
            c.write(&mut relayed).map_err(|_| Closed::Malformed)?;
            Ok(Hello {
                version: Version::V4,
                client_id,
                username: login.username,
                password: login.password,
                will_topic,
                relayed,
            })
        }
        _ => Err(Closed::Malformed),
    }
}

/// A refused CONNACK in the device's protocol version.
fn refuse_connack(version: Version) -> BytesMut {
    let mut out = BytesMut::new();
    match version {
        Version::V4 => {
            let _ = m4::ConnAck::new(ConnectReturnCode::NotAuthorized, false).write(&mut out);
        }
        Version::V5 => {
            let ack = m5::ConnAck {
                session_present: false,
                code: m5::ConnectReturnCode::NotAuthorized,
                properties: None,
            };
            let _ = ack.write(&mut out);
        }
    }
    out
}

/// One device connection: login, then relay in both directions until either side closes.
async fn serve<S>(door: &Door, stream: S, peer: SocketAddr) -> Result<(), Closed>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut buf = BytesMut::with_capacity(1024);
    let max = door.max_packet;

    // The first packet must be a CONNECT (a few hundred bytes), within the login timeout.
    let first = tokio::time::timeout(door.login_timeout, first_packet(&mut rd, &mut buf)).await;
    let header = match first {
        Err(_) => {
            door.metrics.refused.get_or_create(&[("reason", "login_timeout")]).inc();
            return Err(Closed::LoginTimeout);
        }
        Ok(Err(Closed::Malformed)) => {
            door.metrics.refused.get_or_create(&[("reason", "malformed")]).inc();
            return Err(Closed::Malformed);
        }
        Ok(r) => r?.ok_or(Closed::Io)?,
    };
    if !matches!(header.packet_type(), Ok(PacketType::Connect)) {
        door.metrics.refused.get_or_create(&[("reason", "malformed")]).inc();
        return Err(Closed::Malformed);
    }
    let frame = buf.split_to(header.frame_length());
    let hello = match parse_connect(frame, &door.relay_token, max) {
        Ok(h) => h,
        Err(e) => {
            door.metrics.refused.get_or_create(&[("reason", "malformed")]).inc();
            return Err(e);
        }
    };
    let serial = hello.username.clone();
    let authentic = hello.client_id == hello.username
        && crate::broker::device_login(&*door.store, &hello.username, &hello.password).await;
    if !authentic {
        door.metrics.auth_failures.inc();
        tracing::info!(%peer, serial = ?short(&serial), "MQTT login refused");
        let _ = wr.write_all(&refuse_connack(hello.version)).await;
        // A refused guesser waits a moment before the next try on this connection.
        tokio::time::sleep(Duration::from_millis(500)).await;
        return Err(Closed::LoginRefused);
    }
    if let Some(topic) = &hello.will_topic
        && !zhulao_proto::device_may_publish(&door.root, &serial, topic)
    {
        refused(door, &serial, "will", topic);
        let _ = wr.write_all(&refuse_connack(hello.version)).await;
        return Err(Closed::Refused);
    }

    let upstream = match hello.version {
        Version::V4 => door.upstream_v4,
        Version::V5 => door.upstream_v5,
    };
    // rumqttd binds its loopback ports on its own thread just after start: wait for it briefly.
    let mut tries = 0;
    let broker = loop {
        match TcpStream::connect(upstream).await {
            Ok(b) => break b,
            Err(_) if tries < 30 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(_) => return Err(Closed::Upstream),
        }
    };
    let _ = broker.set_nodelay(true);
    let (mut brd, mut bwr) = broker.into_split();
    bwr.write_all(&hello.relayed).await.map_err(|_| Closed::Upstream)?;

    // Broker → device: byte for byte.
    let down = async {
        let _ = tokio::io::copy(&mut brd, &mut wr).await;
        let _ = wr.shutdown().await;
        Ok::<(), Closed>(())
    };
    // Device → broker: packet by packet, each checked; whole packets are sent in one write.
    let up = async {
        let mut aliases = TopicAliases::default();
        let mut out = BytesMut::with_capacity(4096);
        loop {
            // Every whole packet already read.
            while let Ok(h) = mqttbytes::check(buf.iter(), max) {
                let frame = buf.split_to(h.frame_length());
                let verdict = check_packet(&door.root, hello.version, &serial, h, &frame, &mut aliases, max);
                if let Err((action, what)) = verdict {
                    refused(door, &serial, action, &what);
                    return Err(Closed::Refused);
                }
                out.extend_from_slice(&frame);
            }
            if !out.is_empty() {
                bwr.write_all(&out).await.map_err(|_| Closed::Upstream)?;
                out.clear();
            }
            match next_packet(&mut rd, &mut buf, max).await? {
                Some(_) => {}
                None => return Ok(()),
            }
        }
    };
    tokio::select! {
        r = up => r,
        r = down => r,
    }
}

/// v5 topic aliases the device has set on this connection (alias → topic), so a publish that
/// names its topic only by alias is checked against the topic it stands for.
#[derive(Default)]
struct TopicAliases(std::collections::HashMap<u16, String>);

/// Whether a packet from device `serial` may pass; `Err((action, topic or filter))` if not.
fn check_packet(
    root: &str,
    version: Version,
    serial: &str,
    header: mqttbytes::FixedHeader,
    frame: &BytesMut,
    aliases: &mut TopicAliases,
    max: usize,
) -> Result<(), (&'static str, String)> {
    let malformed = || ("malformed", String::new());
    match header.packet_type() {
        Ok(PacketType::Publish) => {
            let topic = match version {
                Version::V4 => match m4::Packet::read(&mut frame.clone(), max) {
                    Ok(m4::Packet::Publish(p)) => p.topic,
                    _ => return Err(malformed()),
                },
                Version::V5 => match m5::Packet::read(&mut frame.clone(), Some(max as u32)) {
                    Ok(m5::Packet::Publish(p)) => {
                        let named = String::from_utf8(p.topic.to_vec()).map_err(|_| malformed())?;
                        let alias = p.properties.as_ref().and_then(|pr| pr.topic_alias);
                        match (named.is_empty(), alias) {
                            (false, Some(a)) => {
                                aliases.0.insert(a, named.clone());
                                named
                            }
                            (false, None) => named,
                            (true, Some(a)) => aliases.0.get(&a).cloned().ok_or_else(malformed)?,
                            (true, None) => return Err(malformed()),
                        }
                    }
                    _ => return Err(malformed()),
                },
            };
            if zhulao_proto::device_may_publish(root, serial, &topic) {
                Ok(())
            } else {
                Err(("publish", topic))
            }
        }
        Ok(PacketType::Subscribe) => {
            let filters: Vec<String> = match version {
                Version::V4 => match m4::Packet::read(&mut frame.clone(), max) {
                    Ok(m4::Packet::Subscribe(s)) => s.filters.into_iter().map(|f| f.path).collect(),
                    _ => return Err(malformed()),
                },
                Version::V5 => match m5::Packet::read(&mut frame.clone(), Some(max as u32)) {
                    Ok(m5::Packet::Subscribe(s)) => s.filters.into_iter().map(|f| f.path).collect(),
                    _ => return Err(malformed()),
                },
            };
            match filters.into_iter().find(|f| !zhulao_proto::device_may_subscribe(root, serial, f)) {
                Some(f) => Err(("subscribe", f)),
                None => Ok(()),
            }
        }
        // A second CONNECT on a connection is a protocol violation.
        Ok(PacketType::Connect) => Err(malformed()),
        // Acknowledgements, pings, unsubscribes, disconnects: the broker checks them.
        Ok(_) => Ok(()),
        Err(_) => Err(malformed()),
    }
}

fn refused(door: &Door, serial: &str, action: &'static str, what: &str) {
    door.metrics.refused.get_or_create(&[("reason", action)]).inc();
    tracing::warn!(serial, action, topic = ?short(what), "MQTT packet outside the device's own topics refused; connection closed");
}

/// At most 200 characters of something a client sent, for a log line.
fn short(s: &str) -> &str {
    match s.char_indices().nth(200) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn connect_v4(user: &str, pass: &str, will: Option<&str>) -> BytesMut {
        let mut c = m4::Connect::new(user);
        c.set_login(user, pass);
        c.last_will =
            will.map(|t| m4::LastWill::new(t, b"offline".to_vec(), rumqttc::QoS::AtLeastOnce, true));
        let mut out = BytesMut::new();
        c.write(&mut out).unwrap();
        out
    }

    #[test]
    fn a_connect_is_read_and_relayed_with_the_token() {
        let hello = parse_connect(connect_v4("ZL1", "s3cret", Some("zl/v1/01/ZL1/up/status")), "tok", 4096)
            .unwrap_or_else(|_| panic!("parsed"));
        assert_eq!(
            (hello.version, hello.username.as_str(), hello.password.as_str()),
            (Version::V4, "ZL1", "s3cret")
        );
        assert_eq!(hello.will_topic.as_deref(), Some("zl/v1/01/ZL1/up/status"));
        let mut relayed = hello.relayed;
        let Ok(m4::Packet::Connect(c)) = m4::Packet::read(&mut relayed, 4096) else { panic!("relayed") };
        assert_eq!(c.login.unwrap().password, "tok", "the device's secret never reaches the broker");
        assert!(c.last_will.is_some(), "the will is kept");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        /// Whatever a client sends as its first packet, the door answers with a verdict, never
        /// a panic.
        #[test]
        fn any_first_packet_gets_a_verdict(body in proptest::collection::vec(any::<u8>(), 0..300), level in 0u8..8) {
            // A CONNECT fixed header and protocol name, then arbitrary bytes.
            let mut frame = BytesMut::new();
            let mut rest = vec![0, 4, b'M', b'Q', b'T', b'T', level];
            rest.extend_from_slice(&body);
            frame.extend_from_slice(&[0x10, rest.len() as u8 | if rest.len() > 127 { 0x80 } else { 0 }]);
            if rest.len() > 127 {
                frame.extend_from_slice(&[(rest.len() >> 7) as u8]);
            }
            frame.extend_from_slice(&rest);
            let _ = parse_connect(frame, "tok", MAX_CONNECT);
        }

        /// Whatever a logged-in device sends, each packet is allowed or refused without a panic,
        /// and a publish is allowed only on the device's own uplink.
        #[test]
        fn any_packet_gets_a_verdict(first in any::<u8>(), body in proptest::collection::vec(any::<u8>(), 0..200), v5 in any::<bool>()) {
            let mut frame = BytesMut::new();
            frame.extend_from_slice(&[first, body.len() as u8 | if body.len() > 127 { 0x80 } else { 0 }]);
            if body.len() > 127 {
                frame.extend_from_slice(&[(body.len() >> 7) as u8]);
            }
            frame.extend_from_slice(&body);
            if let Ok(h) = mqttbytes::check(frame.iter(), 4096) {
                let verdict = check_packet("zl", if v5 { Version::V5 } else { Version::V4 }, "ZL1", h, &frame, &mut TopicAliases::default(), 4096);
                if verdict.is_ok() && first >> 4 == 3 {
                    // An allowed publish is on ZL1's own uplink.
                    let mut copy = frame.clone();
                    if !v5 && let Ok(m4::Packet::Publish(p)) = m4::Packet::read(&mut copy, 4096) {
                        prop_assert!(zhulao_proto::device_may_publish("zl", "ZL1", &p.topic));
                    }
                }
            }
        }
    }
}
