//! Configuration, layered: built-in defaults → a TOML file (`--config`) → `ZHULAO_*`
//! environment variables (`ZHULAO_DATABASE_URL`, `ZHULAO_LISTEN`, `ZHULAO_MQTT_URL`) →
//! command-line flags. The TOML file may also carry `[mqtt]`, `[watch]`, `[notify]`, `[alarms]`
//! and `[services]` sections (see `docs/configuration.md`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use zhulao_domain::Secret;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Settings {
    /// `sqlite://zhulao.db` (the embedded default) or `postgres://user@host/db`.
    pub database_url: String,
    /// The HTTP listen address.
    pub listen: SocketAddr,
    #[serde(default)]
    pub mqtt: MqttSettings,
    #[serde(default)]
    pub watch: WatchSettings,
    #[serde(default)]
    pub notify: NotifySettings,
    /// Response targets and escalation delays: `[alarms.default]`, `[alarms.regions."140213"]`.
    #[serde(default)]
    pub alarms: zhulao_response::Policies,
    /// Home-care services: `[services.order]`, `[services.dispatch.default]`, `[services.meals]`,
    /// `[services.pay]` … (every key has a default).
    #[serde(default)]
    pub services: zhulao_orders::ServicesConfig,
    /// HTTPS and the embedded broker's TLS port (`[tls]`).
    #[serde(default)]
    pub tls: TlsSettings,
    /// Serve plain text (no TLS) on addresses other than loopback: HTTP without `[tls]`, the
    /// embedded broker's plain ports, the watch ports. Off by default: such a listener is
    /// refused at start with a message naming this option; with it, a warning is printed.
    #[serde(default)]
    pub allow_plaintext: bool,
}

/// A certificate chain and its private key, PEM files (e.g. from the district's CA or ACME).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct TlsSettings {
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

/// The device gateway.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct MqttSettings {
    /// Run the device gateway at all.
    pub enabled: bool,
    /// An external broker, `mqtt://[user:pass@]host:port` (Mosquitto, EMQX). Unset: the
    /// embedded broker.
    pub url: Option<String>,
    /// Where the embedded broker listens for MQTT 3.1.1 (1883 is usually taken by a system
    /// broker; use 0.0.0.0:… to let devices on the network in).
    pub listen: SocketAddr,
    /// Where the embedded broker listens for MQTT 5.
    pub listen_v5: Option<SocketAddr>,
    /// Where the embedded broker listens for MQTT over TLS (3.1.1 and 5), when `[tls]` is set.
    pub listen_tls: SocketAddr,
    /// A device connection that has not logged in within this many seconds is closed.
    pub login_timeout_s: u64,
    pub topic_root: String,
    /// This instance's name: its MQTT client id is `zhulao-<instance>`, its persistent
    /// session on an external broker survives restarts.
    pub instance: String,
    /// The device shards this instance consumes, `0-63` (all) or e.g. `0-31`.
    pub shards: String,
    /// Detector workers (devices are split among them by shard).
    pub workers: usize,
}

impl Default for MqttSettings {
    fn default() -> Self {
        MqttSettings {
            enabled: true,
            url: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 18830)),
            listen_v5: Some(SocketAddr::from(([127, 0, 0, 1], 18831))),
            listen_tls: SocketAddr::from(([127, 0, 0, 1], 18832)),
            login_timeout_s: 10,
            topic_root: "zl".into(),
            instance: "1".into(),
            shards: "0-63".into(),
            workers: 2,
        }
    }
}

impl MqttSettings {
    pub fn shard_range(&self) -> anyhow::Result<std::ops::Range<u8>> {
        let bad =
            || anyhow::anyhow!("分片范围应为 a-b（0–63）/ --mqtt-shards must look like 0-31 (within 0-63)");
        let (a, b) = self.shards.split_once('-').ok_or_else(bad)?;
        let (a, b): (u8, u8) = (a.trim().parse().map_err(|_| bad())?, b.trim().parse().map_err(|_| bad())?);
        anyhow::ensure!(a <= b && b < 64, bad());
        Ok(a..b + 1)
    }
}

/// The TCP gateway for 3G and IW watches. Off unless a port is given: a district turns it on
/// for the watches it has (Traccar's defaults are 5093 for 3G and 5036 for IW; use 0.0.0.0:…
/// so watches on the mobile network can reach it).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct WatchSettings {
    /// Where 3G-protocol watches connect (`[3G*id*len*…]`).
    pub listen_3g: Option<SocketAddr>,
    /// Where IW-protocol watches connect (`IWAPxx…#`).
    pub listen_iw: Option<SocketAddr>,
    /// Minutes east of UTC of the zone told to IW watches and used to read their clocks
    /// (0, as Traccar; 480 for Beijing time).
    pub utc_offset_minutes: i32,
    /// A connection silent this long is closed.
    pub idle_timeout_s: u64,
    /// A connection that has not logged in within this long is closed.
    pub login_timeout_s: u64,
    /// Queued settings (SOS numbers, phone book …) go only to a session that has lasted this
    /// long, or that an operator confirmed (`confirm_session`).
    pub settle_time_s: u64,
    /// Source networks (CIDR) that may connect, e.g. a private APN's range; empty: any.
    pub allow_from: Vec<String>,
    /// Logins with unknown watch ids one source address may try at once …
    pub unknown_id_burst: u32,
    /// … and then one every this many seconds.
    pub unknown_id_every_s: u64,
    /// A login from the address of the watch's live connection replaces it instead of raising
    /// a device conflict (private APNs, where each watch has its own address).
    pub same_address_replaces: bool,
    /// A login for a watch whose connection has been silent this many seconds replaces it
    /// instead of raising a conflict (longer than the watches' link interval; 0: never).
    pub replace_silent_after_s: u64,
}

impl Default for WatchSettings {
    fn default() -> Self {
        WatchSettings {
            listen_3g: None,
            listen_iw: None,
            utc_offset_minutes: 0,
            idle_timeout_s: 1200,
            login_timeout_s: 10,
            settle_time_s: 60,
            allow_from: Vec::new(),
            unknown_id_burst: 5,
            unknown_id_every_s: 12,
            same_address_replaces: false,
            replace_silent_after_s: 360,
        }
    }
}

impl WatchSettings {
    /// The gateway's configuration, or `None` when no watch port is set.
    pub fn config(&self) -> anyhow::Result<Option<zhulao_gateway::WatchConfig>> {
        if self.listen_3g.is_none() && self.listen_iw.is_none() {
            return Ok(None);
        }
        let utc_offset = chrono::FixedOffset::east_opt(self.utc_offset_minutes * 60).ok_or_else(|| {
            anyhow::anyhow!("watch.utc_offset_minutes 应在 ±1439 之内 / must be within ±1439")
        })?;
        let allow_from = self
            .allow_from
            .iter()
            .map(|n| {
                n.parse::<zhulao_gateway::SourceNet>().map_err(|e| anyhow::anyhow!("watch.allow_from: {e}"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Some(zhulao_gateway::WatchConfig {
            listen_3g: self.listen_3g,
            listen_iw: self.listen_iw,
            utc_offset,
            idle_timeout: std::time::Duration::from_secs(self.idle_timeout_s.max(30)),
            login_timeout: std::time::Duration::from_secs(self.login_timeout_s.max(1)),
            settle_time: std::time::Duration::from_secs(self.settle_time_s),
            allow_from,
            unknown_id_limit: zhulao_gateway::UnknownIdLimit {
                burst: self.unknown_id_burst,
                every: std::time::Duration::from_secs(self.unknown_id_every_s),
            },
            same_address_replaces: self.same_address_replaces,
            replace_silent_after: (self.replace_silent_after_s > 0)
                .then(|| std::time::Duration::from_secs(self.replace_silent_after_s)),
            ..Default::default()
        }))
    }
}

/// `zhulao serve` flags for who may reach the watch ports and what their sessions get
/// (the `[watch]` section's keys of the same names).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct WatchGuardArgs {
    /// Close a watch connection that has not logged in within this many seconds (default 10).
    #[arg(long = "watch-login-timeout")]
    pub watch_login_timeout: Option<u64>,
    /// Send queued settings only to a watch session that has lasted this many seconds, or that an operator confirmed (default 60).
    #[arg(long = "watch-settle-time")]
    pub watch_settle_time: Option<u64>,
    /// Accept watch connections only from this network (CIDR; repeat for several; default any).
    #[arg(long = "watch-allow-from")]
    pub watch_allow_from: Vec<String>,
    /// Logins with unknown watch ids allowed per source address at once (default 5) …
    #[arg(long = "watch-unknown-id-burst")]
    pub watch_unknown_id_burst: Option<u32>,
    /// … then one every this many seconds (default 12).
    #[arg(long = "watch-unknown-id-every")]
    pub watch_unknown_id_every: Option<u64>,
    /// A login from the address of the watch's live connection replaces it (private APN) instead of raising a device conflict.
    #[arg(long = "watch-same-address-replaces")]
    pub watch_same_address_replaces: bool,
    /// A login for a watch whose connection has sent nothing for this many seconds replaces it instead of raising a conflict (default 360; 0: never).
    #[arg(long = "watch-replace-silent-after")]
    pub watch_replace_silent_after: Option<u64>,
}

impl WatchGuardArgs {
    /// Lays the flags over the settings.
    pub fn apply(&self, w: &mut WatchSettings) {
        if let Some(v) = self.watch_login_timeout {
            w.login_timeout_s = v;
        }
        if let Some(v) = self.watch_settle_time {
            w.settle_time_s = v;
        }
        if !self.watch_allow_from.is_empty() {
            w.allow_from.clone_from(&self.watch_allow_from);
        }
        if let Some(v) = self.watch_unknown_id_burst {
            w.unknown_id_burst = v;
        }
        if let Some(v) = self.watch_unknown_id_every {
            w.unknown_id_every_s = v;
        }
        if self.watch_same_address_replaces {
            w.same_address_replaces = true;
        }
        if let Some(v) = self.watch_replace_silent_after {
            w.replace_silent_after_s = v;
        }
    }
}

/// Notification channels. Without a webhook, family calls are left to the operators (the
/// console shows it); SMS and voice providers plug in through the webhook.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct NotifySettings {
    pub webhook_url: Option<String>,
    pub webhook_secret: Option<Secret>,
    pub smtp_host: Option<String>,
    pub smtp_port: Option<u16>,
    /// `none`, `starttls` or `tls`.
    pub smtp_tls: Option<String>,
    pub smtp_username: Option<String>,
    pub smtp_password: Option<Secret>,
    pub smtp_from: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            database_url: "sqlite://zhulao.db".into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            mqtt: MqttSettings::default(),
            watch: WatchSettings::default(),
            notify: NotifySettings::default(),
            alarms: zhulao_response::Policies::default(),
            services: zhulao_orders::ServicesConfig::default(),
            tls: TlsSettings::default(),
            allow_plaintext: false,
        }
    }
}

/// Overrides given on the command line (highest precedence).
#[derive(Debug, Default, Clone, clap::Args)]
pub struct CommonArgs {
    /// Database URL: `sqlite://PATH` (default `sqlite://zhulao.db`) or `postgres://…`.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Address to serve HTTP on (default 127.0.0.1:8080).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// A TOML file with `database_url`, `listen` and `[mqtt]`, `[watch]`, `[notify]`, `[alarms]` sections.
    #[arg(long)]
    pub config: Option<std::path::PathBuf>,
    /// An external MQTT broker, `mqtt://host:port` (default: the embedded broker).
    #[arg(long)]
    pub mqtt_url: Option<String>,
    /// Where the embedded MQTT broker listens (default 127.0.0.1:18830).
    #[arg(long)]
    pub mqtt_listen: Option<SocketAddr>,
    /// Where the embedded broker listens for MQTT 5 (default 127.0.0.1:18831).
    #[arg(long)]
    pub mqtt_listen_v5: Option<SocketAddr>,
    /// Where the embedded broker listens for MQTT over TLS (default 127.0.0.1:18832; needs --tls-cert).
    #[arg(long)]
    pub mqtt_tls_listen: Option<SocketAddr>,
    /// TLS certificate chain (PEM): serves HTTPS and the embedded broker's TLS port.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Allow plain-text listeners (HTTP without TLS, the broker's plain ports, watch ports) on
    /// addresses other than loopback.
    #[arg(long)]
    pub allow_plaintext: bool,
    /// The device shards this instance consumes, e.g. `0-31` (default all, `0-63`).
    #[arg(long)]
    pub mqtt_shards: Option<String>,
    /// This instance's name (its MQTT client id and persistent session).
    #[arg(long)]
    pub instance: Option<String>,
    /// The first level of every device topic (default `zl`).
    #[arg(long)]
    pub mqtt_topic_root: Option<String>,
    /// Run without the MQTT device gateway.
    #[arg(long)]
    pub no_mqtt: bool,
    /// Serve 3G-protocol watches over TCP on this address (off by default).
    #[arg(long = "watch-3g-listen")]
    pub watch_3g_listen: Option<SocketAddr>,
    /// Serve IW-protocol watches over TCP on this address (off by default).
    #[arg(long = "watch-iw-listen")]
    pub watch_iw_listen: Option<SocketAddr>,
    #[command(flatten)]
    pub watch_guard: WatchGuardArgs,
}

impl CommonArgs {
    /// Resolves the layers into settings, with `defaults` as the bottom layer.
    pub fn settings(&self, defaults: Settings) -> anyhow::Result<Settings> {
        let mut fig = Figment::from(Serialized::defaults(defaults));
        if let Some(path) = &self.config {
            anyhow::ensure!(Path::new(path).exists(), "config file {} does not exist", path.display());
            fig = fig.merge(Toml::file(path));
        }
        fig = fig.merge(Env::prefixed("ZHULAO_").only(&["database_url", "listen"]));
        fig = fig.merge(Env::prefixed("ZHULAO_MQTT_").only(&["url"]).map(|k| format!("mqtt.{k}").into()));
        let mut s: Settings = fig.extract()?;
        if let Some(u) = &self.mqtt_url {
            s.mqtt.url = Some(u.clone());
        }
        if let Some(l) = self.mqtt_listen {
            s.mqtt.listen = l;
        }
        if let Some(l) = self.mqtt_listen_v5 {
            s.mqtt.listen_v5 = Some(l);
        }
        if let Some(l) = self.mqtt_tls_listen {
            s.mqtt.listen_tls = l;
        }
        if let (Some(c), Some(k)) = (&self.tls_cert, &self.tls_key) {
            s.tls = TlsSettings { cert: Some(c.clone()), key: Some(k.clone()) };
        }
        if self.allow_plaintext {
            s.allow_plaintext = true;
        }
        if let Some(sh) = &self.mqtt_shards {
            s.mqtt.shards = sh.clone();
        }
        if let Some(i) = &self.instance {
            s.mqtt.instance = i.clone();
        }
        if let Some(r) = &self.mqtt_topic_root {
            s.mqtt.topic_root = r.clone();
        }
        if self.no_mqtt {
            s.mqtt.enabled = false;
        }
        if let Some(l) = self.watch_3g_listen {
            s.watch.listen_3g = Some(l);
        }
        if let Some(l) = self.watch_iw_listen {
            s.watch.listen_iw = Some(l);
        }
        self.watch_guard.apply(&mut s.watch);
        s.watch.config()?;
        s.mqtt.shard_range()?;
        if let Some(url) = &self.database_url {
            s.database_url = url.clone();
        }
        if let Some(listen) = self.listen {
            s.listen = listen;
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::result_large_err)] // figment::Jail's closure signature
    fn layers_in_order() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("z.toml", "listen = \"127.0.0.1:9000\"\ndatabase_url = \"sqlite://file.db\"")?;
            jail.set_env("ZHULAO_DATABASE_URL", "postgres://env/db");
            let args = CommonArgs { config: Some("z.toml".into()), ..Default::default() };
            let s = args.settings(Settings::default()).unwrap();
            assert_eq!(s.listen, "127.0.0.1:9000".parse().unwrap());
            assert_eq!(s.database_url, "postgres://env/db");
            let args = CommonArgs { database_url: Some("sqlite://cli.db".into()), ..args };
            assert_eq!(args.settings(Settings::default()).unwrap().database_url, "sqlite://cli.db");
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)]
    fn the_documented_configuration_parses() {
        let doc = include_str!("../../../docs/configuration.md");
        let toml = doc.split("```toml\n").nth(1).and_then(|rest| rest.split("```").next()).unwrap();
        figment::Jail::expect_with(|jail| {
            jail.create_file("doc.toml", toml)?;
            let args = CommonArgs { config: Some("doc.toml".into()), ..Default::default() };
            let s = args.settings(Settings::default()).unwrap();
            assert_eq!(s.mqtt.listen, "127.0.0.1:18830".parse().unwrap());
            assert_eq!(s.mqtt.shard_range().unwrap(), 0..64);
            assert_eq!(s.alarms.for_region("140213050002").answer_target_s, 20);
            assert_eq!(s.alarms.for_region("140213050002").family_confirm_s, 60);
            assert_eq!(s.alarms.for_region("140213051001").answer_target_s, 30);
            assert_eq!(s.watch, WatchSettings::default());
            assert!(s.watch.config().unwrap().is_none(), "watches are off by default");
            let rural = zhulao_domain::RegionCode::parse("r", "130732200201").unwrap();
            let town = zhulao_domain::RegionCode::parse("r", "140213050002").unwrap();
            assert_eq!(s.services.order_policy(&rural).dispatch.radius_steps[0].radius_m, 5_000);
            assert_eq!(s.services.order_policy(&town).dispatch, s.services.dispatch.default);
            assert_eq!(s.services.order_policy(&town).door_tolerance_m, 200);
            assert_eq!(s.services.meals.cutoff, chrono::NaiveTime::from_hms_opt(18, 0, 0).unwrap());
            assert_eq!(s.services.pay.complaint_penalty, zhulao_domain::Fen(2_000));
            assert_eq!(s.services.max_radius_m(), 30_000);
            let args = CommonArgs { mqtt_shards: Some("32-70".into()), ..args };
            assert!(args.settings(Settings::default()).is_err());
            Ok(())
        });
    }
}
