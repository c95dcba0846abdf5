//! Serving: bind with a clear message when the port is taken, then run until Ctrl-C/SIGTERM.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;

/// Binds the HTTP listener; a busy port names the option that changes it.
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            anyhow::anyhow!(
                "端口 {addr} 已被占用 / address {addr} is already in use: \
                 choose another with --listen HOST:PORT (or ZHULAO_LISTEN)"
            )
        } else {
            anyhow::Error::new(e).context(format!("cannot listen on {addr}"))
        }
    })
}

/// Serves `app` on `listener` — HTTPS with `tls`, else plain HTTP — until `shutdown`
/// completes, then drains in-flight requests.
pub async fn run(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    app: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    match tls {
        Some(config) => {
            let https = crate::tls::HttpsListener::new(listener, config)?;
            axum::serve(https, app).with_graceful_shutdown(shutdown).await.context("HTTPS server")
        }
        None => axum::serve(listener, app).with_graceful_shutdown(shutdown).await.context("HTTP server"),
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
