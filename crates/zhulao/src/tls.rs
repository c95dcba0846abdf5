//! Transport security at the edges: the certificate and key from `[tls]` as a rustls server
//! configuration (HTTPS and the embedded broker's TLS port), an HTTPS listener for axum, and
//! the start-up rule that a plain-text listener on an address other than loopback needs
//! `--allow-plaintext` (and is then announced with a warning).

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::settings::Settings;

/// The server configuration for `[tls]`, or `None` when no certificate is configured.
pub fn server_config(s: &Settings) -> anyhow::Result<Option<Arc<rustls::ServerConfig>>> {
    let (Some(cert), Some(key)) = (&s.tls.cert, &s.tls.key) else {
        anyhow::ensure!(
            s.tls.cert.is_none() && s.tls.key.is_none(),
            "[tls] 需要同时设置 cert 与 key / [tls] needs both cert and key (--tls-cert, --tls-key)"
        );
        return Ok(None);
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<_, _>>())
        .with_context(|| format!("无法读取证书 / cannot read the certificate {}", cert.display()))?;
    anyhow::ensure!(!chain.is_empty(), "证书文件中没有证书 / no certificate in {}", cert.display());
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("无法读取私钥 / cannot read the private key {}", key.display()))?;
    let config =
        rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .context("证书与私钥不匹配 / the certificate and the key do not match")?;
    Ok(Some(Arc::new(config)))
}

/// Every listener that would carry plain text on an address other than loopback, each with
/// the option that sets it.
pub fn exposed_plaintext(s: &Settings, https: bool) -> Vec<(&'static str, SocketAddr)> {
    let mut out = Vec::new();
    if !https {
        out.push(("--listen", s.listen));
    }
    if s.mqtt.enabled && s.mqtt.url.is_none() {
        out.push(("--mqtt-listen", s.mqtt.listen));
        if let Some(a) = s.mqtt.listen_v5 {
            out.push(("--mqtt-listen-v5", a));
        }
    }
    if let Some(a) = s.watch.listen_3g {
        out.push(("--watch-3g-listen", a));
    }
    if let Some(a) = s.watch.listen_iw {
        out.push(("--watch-iw-listen", a));
    }
    out.retain(|(_, a)| !a.ip().is_loopback());
    out
}

/// Refuses to start with plain text exposed unless `allow_plaintext`; warns when allowed.
pub fn check_exposure(s: &Settings, https: bool) -> anyhow::Result<()> {
    let exposed = exposed_plaintext(s, https);
    if exposed.is_empty() {
        return Ok(());
    }
    let list = exposed.iter().map(|(o, a)| format!("{o} {a}")).collect::<Vec<_>>().join(", ");
    anyhow::ensure!(
        s.allow_plaintext,
        "未加密的端口对外开放：{list}。请配置 --tls-cert/--tls-key，或改为 127.0.0.1，或确认后加 --allow-plaintext \
         / plain-text listeners on the network: {list}. Configure --tls-cert/--tls-key, bind to 127.0.0.1, \
         or pass --allow-plaintext to accept it"
    );
    tracing::warn!(listeners = %list, "plain-text listeners on the network (--allow-plaintext): devices' traffic is readable on the way");
    eprintln!("警告 / warning: 未加密的端口对外开放 / plain-text listeners on the network: {list}");
    Ok(())
}

/// An HTTPS listener for axum: handshakes run in their own tasks (a slow or silent client
/// holds up nobody), finished ones are handed to the server.
pub struct HttpsListener {
    local: SocketAddr,
    ready: tokio::sync::mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    _accept: tokio::task::JoinHandle<()>,
}

impl HttpsListener {
    pub fn new(listener: TcpListener, config: Arc<rustls::ServerConfig>) -> std::io::Result<Self> {
        let local = listener.local_addr()?;
        let acceptor = TlsAcceptor::from(config);
        let (tx, ready) = tokio::sync::mpsc::channel(256);
        let accept = tokio::spawn(async move {
            loop {
                let (tcp, peer) = match listener.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(error = %e, "HTTPS accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    let handshake =
                        tokio::time::timeout(std::time::Duration::from_secs(10), acceptor.accept(tcp));
                    match handshake.await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(HttpsListener { local, ready, _accept: accept })
    }
}

impl Drop for HttpsListener {
    fn drop(&mut self) {
        self._accept.abort();
    }
}

impl axum::serve::Listener for HttpsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(c) => c,
            // The accept task never ends while the listener lives.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_off_loopback_is_listed_by_option() {
        let mut s = Settings::default();
        assert!(exposed_plaintext(&s, false).is_empty(), "the defaults are all loopback");
        s.listen = "0.0.0.0:8080".parse().unwrap();
        s.mqtt.listen = "0.0.0.0:18830".parse().unwrap();
        s.watch.listen_3g = Some("10.8.0.1:5093".parse().unwrap());
        let options =
            |s: &Settings, https| exposed_plaintext(s, https).into_iter().map(|(o, _)| o).collect::<Vec<_>>();
        assert_eq!(options(&s, false), ["--listen", "--mqtt-listen", "--watch-3g-listen"]);
        assert_eq!(options(&s, true), ["--mqtt-listen", "--watch-3g-listen"], "HTTPS is not plain text");
        assert!(check_exposure(&s, true).is_err());
        s.mqtt.url = Some("mqtt://broker:1883".into());
        assert_eq!(options(&s, true), ["--watch-3g-listen"], "no embedded broker with an external one");
        s.allow_plaintext = true;
        assert!(check_exposure(&s, true).is_ok());
    }
}
