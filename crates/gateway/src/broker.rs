//! The embedded MQTT broker (rumqttd), so a single machine needs nothing installed. rumqttd
//! listens on loopback only; devices reach it through [`crate::front`], which authenticates
//! each device against the registry and lets it touch only its own topics. The gateway's own
//! client logs in on loopback with a random per-process token.

use crate::error::GatewayError;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rand::TryRngCore as _;
use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use zhulao_store::Store;

/// Where the embedded broker listens for devices, and how.
#[derive(Clone)]
pub struct EmbeddedBroker {
    /// Plain MQTT (3.1.1 or 5: the version is read from each CONNECT).
    pub listen_v4: SocketAddr,
    /// A second plain port, for devices configured with a separate MQTT 5 port.
    pub listen_v5: Option<SocketAddr>,
    /// MQTT over TLS (3.1.1 or 5), with `tls`.
    pub listen_tls: Option<SocketAddr>,
    /// The certificate and key served on `listen_tls`.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub max_connections: usize,
    /// The topic root devices publish under (`zl`).
    pub topic_root: String,
    /// A connection that has not logged in within this is closed.
    pub login_timeout: Duration,
}

impl std::fmt::Debug for EmbeddedBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedBroker")
            .field("listen_v4", &self.listen_v4)
            .field("listen_v5", &self.listen_v5)
            .field("listen_tls", &self.listen_tls)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

impl EmbeddedBroker {
    /// Plain MQTT on `listen` only, with the defaults.
    pub fn plain(listen: SocketAddr) -> Self {
        EmbeddedBroker {
            listen_v4: listen,
            listen_v5: None,
            listen_tls: None,
            tls: None,
            max_connections: 100_000,
            topic_root: zhulao_proto::DEFAULT_ROOT.into(),
            login_timeout: Duration::from_secs(10),
        }
    }
}

/// The credentials the gateway's own client uses on the embedded broker.
#[derive(Clone)]
pub struct InternalLogin {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for InternalLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InternalLogin").field("username", &self.username).field("password", &"***").finish()
    }
}

/// A running embedded broker.
#[derive(Debug)]
pub struct Started {
    /// Where the gateway's own client connects (loopback, MQTT 3.1.1).
    pub internal: SocketAddr,
    pub login: InternalLogin,
    /// The bound device-facing addresses: plain 3.1.1 port, plain 5 port, TLS port.
    pub plain: SocketAddr,
    pub plain_v5: Option<SocketAddr>,
    pub tls: Option<SocketAddr>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Started {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// A free loopback port for one of rumqttd's listeners (it binds them itself, on its thread).
fn loopback_port() -> Result<SocketAddr, GatewayError> {
    let l = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    Ok(l.local_addr()?)
}

/// Binds a device-facing listener; a busy port names the option that changes it. (Tokio sets
/// `SO_REUSEADDR`: connections of a previous run still in TIME_WAIT do not make it busy.)
async fn bind(addr: SocketAddr, option: &'static str) -> Result<tokio::net::TcpListener, GatewayError> {
    tokio::net::TcpListener::bind(addr).await.map_err(|source| GatewayError::PortBusy {
        addr,
        option,
        what: "mqtt",
        source,
    })
}

fn random_token() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.try_fill_bytes(&mut bytes).expect("the operating system provides randomness");
    hex(&bytes)
}

/// Starts the broker on its own threads (rumqttd runs its own runtime) on loopback, and the
/// device-facing door ([`crate::front`]) on the configured addresses in the caller's runtime.
/// rumqttd binds its ports on its own thread a moment later; the door waits for it.
pub async fn start(
    cfg: &EmbeddedBroker,
    store: Arc<dyn Store>,
    metrics: crate::Metrics,
) -> Result<Started, GatewayError> {
    // The device-facing listeners first: a busy port is reported before anything starts.
    let plain = bind(cfg.listen_v4, "--mqtt-listen").await?;
    let plain_v5 = match cfg.listen_v5 {
        Some(a) => Some(bind(a, "--mqtt-listen-v5").await?),
        None => None,
    };
    let tls = match (cfg.listen_tls, &cfg.tls) {
        (Some(a), Some(c)) => Some((bind(a, "--mqtt-tls-listen").await?, c.clone())),
        _ => None,
    };
    let internal = InternalLogin { username: "zhulao-internal".into(), password: random_token() };
    let relay_token = random_token();
    let (upstream_v4, upstream_v5) = (loopback_port()?, loopback_port()?);

    let mut connections = ConnectionSettings {
        connection_timeout_ms: 10_000,
        max_payload_size: zhulao_proto::MAX_PAYLOAD + 1024,
        max_inflight_count: 500,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
    };
    // Only the gateway and the door log in here: both with tokens of this process.
    let (login, relay) = (internal.clone(), relay_token.clone());
    connections.set_auth_handler(move |client_id: String, user: String, pass: String| {
        let ok = if user == login.username {
            constant_eq(pass.as_bytes(), login.password.as_bytes())
        } else {
            client_id == user
                && zhulao_proto::is_valid_serial(&user)
                && constant_eq(pass.as_bytes(), relay.as_bytes())
        };
        async move { ok }
    });
    let server = |name: &str, listen: SocketAddr| ServerSettings {
        name: name.into(),
        listen,
        tls: None,
        next_connection_delay_ms: 0,
        connections: connections.clone(),
    };
    let config = Config {
        id: 0,
        router: RouterConfig {
            max_connections: cfg.max_connections + 16,
            max_outgoing_packet_count: 2000,
            max_segment_size: 64 * 1024 * 1024,
            max_segment_count: 4,
            custom_segment: None,
            initialized_filters: None,
            shared_subscriptions_strategy: Default::default(),
        },
        v4: Some(HashMap::from([("1".to_string(), server("v4", upstream_v4))])),
        v5: Some(HashMap::from([("1".to_string(), server("v5", upstream_v5))])),
        ws: None,
        cluster: None,
        console: None,
        bridge: None,
        prometheus: None,
        metrics: None,
    };
    std::thread::Builder::new().name("mqtt-broker".into()).spawn(move || {
        let mut broker = Broker::new(config);
        if let Err(e) = broker.start() {
            tracing::error!(error = %e, "embedded MQTT broker stopped");
        }
    })?;
    let door = Arc::new(crate::front::Door {
        root: cfg.topic_root.clone(),
        relay_token,
        upstream_v4,
        upstream_v5,
        store,
        metrics,
        login_timeout: cfg.login_timeout,
        max_packet: zhulao_proto::MAX_PAYLOAD + 1024,
        slots: Arc::new(Semaphore::new(cfg.max_connections)),
    });
    let local = |l: &tokio::net::TcpListener| l.local_addr().map_err(GatewayError::Io);
    let mut started = Started {
        internal: upstream_v4,
        login: internal,
        plain: local(&plain)?,
        plain_v5: plain_v5.as_ref().map(local).transpose()?,
        tls: tls.as_ref().map(|(l, _)| local(l)).transpose()?,
        tasks: Vec::new(),
    };
    started.tasks.push(tokio::spawn(crate::front::listen(door.clone(), plain, None)));
    if let Some(l) = plain_v5 {
        started.tasks.push(tokio::spawn(crate::front::listen(door.clone(), l, None)));
    }
    if let Some((l, c)) = tls {
        let acceptor = tokio_rustls::TlsAcceptor::from(c);
        started.tasks.push(tokio::spawn(crate::front::listen(door, l, Some(acceptor))));
    }
    Ok(started)
}

/// Whether `serial` / `secret` is the login of a registered, active device (its secret is
/// stored only as a SHA-256 hash).
pub(crate) async fn device_login(store: &dyn Store, serial: &str, secret: &str) -> bool {
    if !zhulao_proto::is_valid_serial(serial) {
        return false;
    }
    match store.device_by_serial(serial).await {
        Ok(Some((device, secret_hash))) => {
            let hash = hex(&Sha256::digest(secret.as_bytes()));
            device.active && constant_eq(hash.as_bytes(), secret_hash.as_bytes())
        }
        _ => false,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
