//! The gateway's own errors: what can stop it from starting (a port taken, a bad broker URL,
//! the system refusing a socket or a thread), each with a code and a message in Chinese and
//! English that names the option to change.

use std::net::SocketAddr;

/// Why the gateway could not start.
#[derive(Debug)]
pub enum GatewayError {
    /// A listen address is taken or not ours; `option` is the flag that changes it.
    PortBusy { addr: SocketAddr, option: &'static str, what: &'static str, source: std::io::Error },
    /// The external broker URL is not `mqtt://host:port`.
    BadBrokerUrl { reason: &'static str },
    /// The operating system refused a socket or a thread.
    Io(std::io::Error),
}

impl GatewayError {
    pub fn code(&self) -> &'static str {
        match self {
            GatewayError::PortBusy { .. } => "port_busy",
            GatewayError::BadBrokerUrl { .. } => "bad_broker_url",
            GatewayError::Io(_) => "io",
        }
    }

    pub fn zh(&self) -> String {
        match self {
            GatewayError::PortBusy { addr, option, what, source } => {
                let what = if *what == "mqtt" { "内置 MQTT 服务" } else { "手表网关" };
                format!("{what}端口 {addr} 无法使用（{source}），请用 {option} 指定其他端口")
            }
            GatewayError::BadBrokerUrl { reason } => {
                let reason =
                    if *reason == "port" { "端口号无效" } else { "应为 mqtt://主机:端口" };
                format!("MQTT 地址有误：{reason}")
            }
            GatewayError::Io(e) => format!("系统资源不可用：{e}"),
        }
    }

    pub fn en(&self) -> String {
        match self {
            GatewayError::PortBusy { addr, option, what, source } => {
                let what = if *what == "mqtt" { "the embedded MQTT broker" } else { "the watch gateway" };
                format!("{what} cannot listen on {addr} ({source}); choose another port with {option}")
            }
            GatewayError::BadBrokerUrl { reason } => {
                let reason = if *reason == "port" { "bad port" } else { "it must be mqtt://host:port" };
                format!("bad MQTT URL: {reason}")
            }
            GatewayError::Io(e) => format!("the system refused a resource: {e}"),
        }
    }
}

impl std::fmt::Display for GatewayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} / {}", self.zh(), self.en())
    }
}

impl std::error::Error for GatewayError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            GatewayError::PortBusy { source, .. } | GatewayError::Io(source) => Some(source),
            GatewayError::BadBrokerUrl { .. } => None,
        }
    }
}

impl From<std::io::Error> for GatewayError {
    fn from(e: std::io::Error) -> Self {
        GatewayError::Io(e)
    }
}

zhulao_domain::coded_by_methods!(GatewayError);
