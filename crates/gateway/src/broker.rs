//! The embedded MQTT broker (rumqttd), so a single machine needs nothing installed. Devices
//! authenticate with their serial and the secret issued at registration; the gateway's own
//! client with a random per-process token.

use crate::error::GatewayError;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use rand::TryRngCore as _;
use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};
use zhulao_store::Store;

/// Where the embedded broker listens.
#[derive(Debug, Clone)]
pub struct EmbeddedBroker {
    /// MQTT 3.1.1.
    pub listen_v4: SocketAddr,
    /// MQTT 5, when set.
    pub listen_v5: Option<SocketAddr>,
    pub max_connections: usize,
}

/// The credentials the gateway's own client uses on the embedded broker.
#[derive(Debug, Clone)]
pub struct InternalLogin {
    pub username: String,
    pub password: String,
}

/// Checks that each listen address is free, with a message that names the option to change.
/// (`SO_REUSEADDR`, as the broker's own listener uses: connections of a previous run still in
/// TIME_WAIT do not make the port busy.)
fn check_free(addr: SocketAddr, option: &'static str) -> Result<(), GatewayError> {
    let socket =
        if addr.is_ipv4() { tokio::net::TcpSocket::new_v4() } else { tokio::net::TcpSocket::new_v6() };
    socket
        .and_then(|s| {
            s.set_reuseaddr(true)?;
            s.bind(addr)?;
            s.listen(1).map(drop)
        })
        .map_err(|source| GatewayError::PortBusy { addr, option, what: "mqtt", source })
}

type AuthRequest = (String, String, String, oneshot::Sender<bool>);

/// Starts the broker on its own threads (rumqttd runs its own runtime) and answers its
/// authentication questions from the device registry in the caller's runtime.
pub fn start(
    cfg: &EmbeddedBroker,
    store: Arc<dyn Store>,
    metrics: crate::Metrics,
) -> Result<InternalLogin, GatewayError> {
    check_free(cfg.listen_v4, "--mqtt-listen")?;
    if let Some(v5) = cfg.listen_v5 {
        check_free(v5, "--mqtt-listen-v5")?;
    }
    let internal = InternalLogin {
        username: "zhulao-internal".into(),
        password: {
            let mut bytes = [0u8; 16];
            rand::rngs::OsRng.try_fill_bytes(&mut bytes).expect("the operating system provides randomness");
            hex(&bytes)
        },
    };

    // Authentication runs here, in our runtime: the broker's threads ask over a channel.
    let (tx, mut rx) = mpsc::channel::<AuthRequest>(1024);
    let login = internal.clone();
    tokio::spawn(async move {
        while let Some((client_id, user, pass, reply)) = rx.recv().await {
            let store = store.clone();
            let login = login.clone();
            let metrics = metrics.clone();
            tokio::spawn(async move {
                let ok = authenticate(&*store, &login, &client_id, &user, &pass).await;
                if !ok {
                    metrics.auth_failures.inc();
                }
                let _ = reply.send(ok);
            });
        }
    });

    let mut connections = ConnectionSettings {
        connection_timeout_ms: 10_000,
        max_payload_size: zhulao_proto::MAX_PAYLOAD + 1024,
        max_inflight_count: 500,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
    };
    connections.set_auth_handler(move |client_id: String, user: String, pass: String| {
        let tx = tx.clone();
        async move {
            let (reply, answer) = oneshot::channel();
            if tx.send((client_id, user, pass, reply)).await.is_err() {
                return false;
            }
            answer.await.unwrap_or(false)
        }
    });
    let server = |name: &str, listen: SocketAddr| ServerSettings {
        name: name.into(),
        listen,
        tls: None,
        next_connection_delay_ms: 0,
        connections: connections.clone(),
    };
    let mut v4 = HashMap::new();
    v4.insert("1".to_string(), server("v4", cfg.listen_v4));
    let v5 = cfg.listen_v5.map(|a| HashMap::from([("1".to_string(), server("v5", a))]));
    let config = Config {
        id: 0,
        router: RouterConfig {
            max_connections: cfg.max_connections,
            max_outgoing_packet_count: 2000,
            max_segment_size: 64 * 1024 * 1024,
            max_segment_count: 4,
            custom_segment: None,
            initialized_filters: None,
            shared_subscriptions_strategy: Default::default(),
        },
        v4: Some(v4),
        v5,
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
    Ok(internal)
}

/// A device logs in with client id = username = its serial and password = its secret; the
/// gateway with its per-process token.
async fn authenticate(
    store: &dyn Store,
    internal: &InternalLogin,
    client_id: &str,
    user: &str,
    pass: &str,
) -> bool {
    if user == internal.username {
        return constant_eq(pass.as_bytes(), internal.password.as_bytes());
    }
    if client_id != user || !zhulao_proto::is_valid_serial(user) {
        return false;
    }
    match store.device_by_serial(user).await {
        Ok(Some((device, secret_hash))) => {
            let hash = hex(&Sha256::digest(pass.as_bytes()));
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
