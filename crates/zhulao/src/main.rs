//! `zhulao`: the platform's one binary. Parses configuration and wires the crates together;
//! no business logic lives here.

mod bench;
mod bench_orders;
mod demo;
mod demo_services;
mod platform;
mod server;
mod settings;
mod tls;

use std::io::Read;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use settings::{CommonArgs, Settings};
use zhulao_store::{Actor, SystemClock};

#[derive(Debug, Parser)]
#[command(name = "zhulao", version, about = "助老 zhulao — smart home & community elderly-care platform")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the platform (HTTP API) on a database.
    Serve(CommonArgs),
    /// Build the demo district (Datong's Pingcheng district) and serve it.
    Demo {
        #[command(flatten)]
        common: CommonArgs,
        /// Random seed of the generated district.
        #[arg(long, default_value_t = 2026)]
        seed: u64,
        /// Number of elders.
        #[arg(long, default_value_t = 2000)]
        elders: usize,
        /// Delete an existing demo database and build it anew.
        #[arg(long)]
        fresh: bool,
        /// Load the district and exit without serving.
        #[arg(long)]
        no_serve: bool,
    },
    /// Create or upgrade the database schema and exit.
    Migrate(CommonArgs),
    /// Create an administrator account (password from ZHULAO_ADMIN_PASSWORD or stdin).
    CreateAdmin {
        #[command(flatten)]
        common: CommonArgs,
        #[arg(long, default_value = "admin")]
        username: String,
    },
    /// Print the OpenAPI document.
    Openapi,
    /// Evaluate the fall detector, exactly as in production, on a SisFall-layout directory.
    FallEval(zhulao_fall_eval::FallEvalArgs),
    /// Benchmarks that print figures (ledger import, registry queries).
    Bench(bench::BenchArgs),
    /// Simulated wearers of the demo district publishing to a broker in real time (load generator).
    Sim(SimArgs),
    /// Load test of the TCP watch gateway: `register` N watches in a database, then `run` them.
    #[command(subcommand)]
    WatchLoad(WatchLoadCmd),
    /// Decode raw watch frames from stdin (3G watch or IW protocol), one JSON object per line.
    WatchDecode {
        /// `3g` (`[3G*ID*LEN*…]` frames) or `iw` (`IWAPxx…#` frames).
        #[arg(long, value_parser = ["3g", "iw"])]
        protocol: String,
    },
}

#[derive(Debug, Subcommand)]
enum WatchLoadCmd {
    /// Register watches `<prefix>00000001`… in the database (idempotent).
    Register {
        #[arg(long)]
        database_url: String,
        #[arg(long, default_value_t = 10_000)]
        watches: usize,
        #[arg(long, default_value = "86")]
        prefix: String,
    },
    /// Connect the watches to a running gateway and send frames; prints a JSON report.
    Run {
        /// The gateway's 3G port (`zhulao serve --watch-3g-listen`).
        #[arg(long)]
        addr: std::net::SocketAddr,
        #[arg(long, default_value_t = 10_000)]
        watches: usize,
        #[arg(long, default_value = "86")]
        prefix: String,
        /// Connections opened per second while ramping up.
        #[arg(long, default_value_t = 2000)]
        connect_rate: u32,
        /// Seconds of steady load once all are connected.
        #[arg(long, default_value_t = 60)]
        duration: u64,
        /// Milliseconds between one watch's frames (0: as fast as they are answered).
        #[arg(long, default_value_t = 10_000)]
        interval_ms: u64,
        #[arg(long, default_value_t = 6.0)]
        sos_per_hour: f64,
    },
}

#[derive(Debug, clap::Args)]
struct SimArgs {
    /// The broker: `mqtt://host:port` (the embedded one is mqtt://127.0.0.1:18830).
    #[arg(long, default_value = "mqtt://127.0.0.1:18830")]
    broker: String,
    #[arg(long, default_value_t = 100)]
    wearers: usize,
    /// Seed and size of the demo district the database holds.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    #[arg(long, default_value_t = 2000)]
    demo_elders: usize,
    /// Seconds to run (default: until Ctrl-C).
    #[arg(long)]
    duration: Option<u64>,
    #[arg(long, default_value_t = 6.0)]
    falls_per_hour: f64,
    #[arg(long, default_value_t = 2.0)]
    sos_per_hour: f64,
    /// One fall this many seconds after the start.
    #[arg(long)]
    first_fall_after: Option<u64>,
    /// Share K connections among the wearers (needs a broker that allows it, e.g. an
    /// anonymous Mosquitto) instead of one authenticated connection per wearer.
    #[arg(long)]
    pooled: Option<usize>,
    /// Motion QoS (0 or 1).
    #[arg(long, default_value_t = 0)]
    motion_qos: u8,
    #[arg(long, default_value = "zl")]
    topic_root: String,
    /// A SisFall directory for more fall and daily-activity trials.
    #[arg(long)]
    sisfall: Option<std::path::PathBuf>,
    /// zhulao's HTTP address, to measure latency on the live feed (`http://127.0.0.1:8080`).
    #[arg(long)]
    api: Option<String>,
    /// The account that watches the live feed: one that manages devices (the simulator matches
    /// alarms to its wearers by serial, which other roles do not see).
    #[arg(long, default_value = "admin")]
    api_user: String,
    #[arg(long, default_value = zhulao_demo::DEMO_PASSWORD)]
    api_password: String,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

impl SimArgs {
    fn config(self) -> zhulao_sim::SimConfig {
        zhulao_sim::SimConfig {
            broker: self.broker,
            topic_root: self.topic_root,
            wearers: self.wearers,
            seed: self.seed,
            demo_elders: self.demo_elders,
            duration: self.duration.map(std::time::Duration::from_secs),
            falls_per_hour: self.falls_per_hour,
            sos_per_hour: self.sos_per_hour,
            first_fall_after: self.first_fall_after.map(std::time::Duration::from_secs),
            connections: match self.pooled {
                Some(k) => zhulao_sim::Connections::Pooled(k.max(1)),
                None => zhulao_sim::Connections::PerWearer,
            },
            sisfall: self.sisfall,
            api: self.api.map(|base_url| zhulao_sim::ApiConfig {
                base_url,
                username: self.api_user,
                password: self.api_password,
            }),
            motion_qos: self.motion_qos,
            ..Default::default()
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_target(false)
        // Logs on stderr: stdout is for what commands print (JSON reports, decoded frames).
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Serve(common) => {
            let s = common.settings(Settings::default())?;
            let store = open(&s.database_url).await?;
            serve(store, &s).await
        }
        Command::Demo { common, seed, elders, fresh, no_serve } => {
            let defaults = Settings { database_url: "sqlite://zhulao-demo.db".into(), ..Settings::default() };
            let s = common.settings(defaults)?;
            if fresh {
                remove_sqlite(&s.database_url)?;
            }
            let store = open(&s.database_url).await?;
            if demo::already_loaded(&store).await? {
                println!(
                    "演示数据已存在 / demo district already loaded in {} (use --fresh to rebuild)",
                    zhulao_domain::redact_url(&s.database_url)
                );
                let district =
                    zhulao_demo::generate(seed, store.clock().today(), zhulao_demo::DemoSize { elders });
                demo_services::refresh_caregivers(&store, &district).await?;
            } else {
                let today = store.clock().today();
                println!(
                    "正在生成平城区演示数据 / building the Pingcheng demo district (seed {seed}, {elders} elders)…"
                );
                let district = zhulao_demo::generate(seed, today, zhulao_demo::DemoSize { elders });
                let r = demo::load(&store, &district).await?;
                println!(
                    "loaded {} regions, {} facilities, {} accounts, {} elders, {} devices in {:.1} s",
                    r.regions, r.facilities, r.accounts, r.elders, r.devices, r.total_seconds
                );
                let sr = demo_services::load(&store, &district, &r).await?;
                println!(
                    "home-care services: {} orders, {} menus, {} meal orders, {} time-bank volunteers in {:.1} s",
                    sr.orders, sr.menus, sr.meals, sr.volunteers, sr.seconds
                );
            }
            print_logins(&s);
            if no_serve { Ok(()) } else { serve_demo(store, &s, seed, elders).await }
        }
        Command::Migrate(common) => {
            let s = common.settings(Settings::default())?;
            open(&s.database_url).await?;
            println!("schema is up to date: {}", zhulao_domain::redact_url(&s.database_url));
            Ok(())
        }
        Command::CreateAdmin { common, username } => {
            let s = common.settings(Settings::default())?;
            let store = open(&s.database_url).await?;
            let password = match std::env::var("ZHULAO_ADMIN_PASSWORD") {
                Ok(p) => p,
                Err(_) => {
                    let mut p = String::new();
                    std::io::stdin().read_to_string(&mut p)?;
                    p.trim_end_matches(['\r', '\n']).to_string()
                }
            };
            let input = zhulao_domain::AccountInput {
                username,
                display_name: "管理员".into(),
                role: "admin".into(),
                password,
                ..Default::default()
            };
            let (acc, password) = input.validate().map_err(|e| {
                anyhow::anyhow!("{}", e.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))
            })?;
            let hash = zhulao_api::auth::hash_password(&password);
            let created = store.create_account(&acc, &hash, Actor::SYSTEM).await?;
            println!("created administrator {} (id {})", created.username, created.id);
            Ok(())
        }
        Command::Openapi => {
            println!("{}", zhulao_api::openapi_json());
            Ok(())
        }
        Command::Bench(args) => bench::run(args).await,
        Command::FallEval(args) => zhulao_fall_eval::run(&args),
        Command::Sim(args) => {
            let json = args.json;
            let report = zhulao_sim::run(args.config(), server::shutdown_signal()).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                report.print_text();
            }
            Ok(())
        }
        Command::WatchLoad(WatchLoadCmd::Register { database_url, watches, prefix }) => {
            let store = open(&database_url).await?;
            let mut added = 0;
            for n in 1..=watches {
                let serial = format!("{prefix}{n:08}");
                if store.device_by_serial(&serial).await?.is_some() {
                    continue;
                }
                let input = zhulao_domain::DeviceInput { serial, kind: "watch".into(), model: "3G-W".into() };
                let new = input.validate().map_err(|e| anyhow::anyhow!("{e:?}"))?;
                store.register_device(&new, "", zhulao_store::Actor::SYSTEM).await?;
                added += 1;
            }
            println!("{added} watches registered ({watches} wanted)");
            Ok(())
        }
        Command::WatchLoad(WatchLoadCmd::Run {
            addr,
            watches,
            prefix,
            connect_rate,
            duration,
            interval_ms,
            sos_per_hour,
        }) => {
            let report = zhulao_sim::watch_load::run(zhulao_sim::watch_load::WatchLoadConfig {
                addr,
                watches,
                prefix,
                connect_rate,
                duration: std::time::Duration::from_secs(duration),
                interval: std::time::Duration::from_millis(interval_ms),
                sos_per_hour,
                seed: 7,
            })
            .await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(())
        }
        Command::WatchDecode { protocol } => {
            let protocol =
                if protocol == "iw" { zhulao_watch::Protocol::Iw } else { zhulao_watch::Protocol::Watch3g };
            let stats =
                zhulao_watch::decode_stream(protocol, std::io::stdin().lock(), std::io::stdout().lock())?;
            if stats.errors > 0 {
                eprintln!("{} 帧无法解析 / {} frame(s) could not be decoded", stats.errors, stats.errors);
            }
            Ok(())
        }
    }
}

async fn open(url: &str) -> anyhow::Result<Arc<dyn zhulao_store::Store>> {
    zhulao_store::open(url, Arc::new(SystemClock))
        .await
        .with_context(|| format!("opening database {}", zhulao_domain::redact_url(url)))
}

fn remove_sqlite(url: &str) -> anyhow::Result<()> {
    let Some(path) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) else {
        anyhow::bail!("--fresh only deletes SQLite demo databases, not {}", zhulao_domain::redact_url(url));
    };
    let path = path.split('?').next().unwrap_or(path);
    for suffix in ["", "-wal", "-shm"] {
        match std::fs::remove_file(format!("{path}{suffix}")) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
    }
    Ok(())
}

async fn serve(store: Arc<dyn zhulao_store::Store>, s: &Settings) -> anyhow::Result<()> {
    let tls = tls::server_config(s)?;
    tls::check_exposure(s, tls.is_some())?;
    let listener = server::bind(s.listen).await?;
    let addr = listener.local_addr()?;
    let p = platform::start(store, s, tls.as_ref()).await?;
    let web = if tls.is_some() { "https" } else { "http" };
    println!(
        "zhulao 已启动 / serving on {web}://{addr}  (console: {web}://{addr}/, API: {web}://{addr}/api/v1, OpenAPI: {web}://{addr}/api/openapi.json)"
    );
    if let Some(url) = &p.device_url {
        println!("设备接入 / devices connect to {url} (MQTT; protocol in docs/device-protocol.md)");
    }
    if let Some(a) = p.broker.as_ref().and_then(|b| b.tls) {
        println!("设备加密接入 / devices connect over TLS to mqtts://{a}");
    }
    server::run(listener, tls, app(p.state), server::shutdown_signal()).await
}

/// Serves the demo with a small simulator in-process: 20 wearers on the embedded broker, one
/// of whom falls about 20 s in.
async fn serve_demo(
    store: Arc<dyn zhulao_store::Store>,
    s: &Settings,
    seed: u64,
    elders: usize,
) -> anyhow::Result<()> {
    let tls = tls::server_config(s)?;
    tls::check_exposure(s, tls.is_some())?;
    let listener = server::bind(s.listen).await?;
    let addr = listener.local_addr()?;
    // The demo's caregivers have no phones: keep them on duty where they are, as their
    // phones would, so orders keep being offered to them.
    let district = zhulao_demo::generate(seed, store.clock().today(), zhulao_demo::DemoSize { elders });
    let on_duty = store.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(20 * 60)).await;
            if let Err(e) = demo_services::refresh_caregivers(&on_duty, &district).await {
                tracing::warn!(error = %e, "demo caregivers: refresh failed");
            }
        }
    });
    let p = platform::start(store, s, tls.as_ref()).await?;
    let web = if tls.is_some() { "https" } else { "http" };
    println!(
        "zhulao 已启动 / serving on {web}://{addr}  (控制台 console: {web}://{addr}/, API: {web}://{addr}/api/v1)"
    );
    if let Some(url) = p.device_url.clone() {
        println!(
            "模拟佩戴者已接入 {url}，约 20 秒后有一位老人跌倒 / simulated wearers on {url}; one falls ~20 s in"
        );
        let sim = zhulao_sim::SimConfig {
            broker: url,
            topic_root: s.mqtt.topic_root.clone(),
            wearers: 20,
            seed,
            demo_elders: elders,
            falls_per_hour: 6.0,
            sos_per_hour: 6.0,
            first_fall_after: Some(std::time::Duration::from_secs(20)),
            ..Default::default()
        };
        tokio::spawn(async move {
            // Give the gateway a moment to subscribe.
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            if let Err(e) = zhulao_sim::run(sim, std::future::pending()).await {
                tracing::warn!(error = %e, "demo simulator stopped");
            }
        });
    }
    server::run(listener, tls, app(p.state), server::shutdown_signal()).await
}

/// The API with the web console behind it.
fn app(state: zhulao_api::AppState) -> axum::Router {
    // The console's files get the API's security headers too.
    zhulao_api::with_security_headers(zhulao_web::with_console(
        zhulao_api::app(state),
        zhulao_api::route_not_found,
    ))
}

fn print_logins(s: &Settings) {
    let pw = zhulao_demo::DEMO_PASSWORD;
    println!("\n演示账号 / demo logins (password for all: {pw})");
    for (user, role) in [
        ("admin", "管理员 admin"),
        ("supervisor", "民政监管 supervisor"),
        ("operator1", "坐席 operator"),
        ("caregiver1", "助老员 caregiver"),
        ("manager1", "养老管家 care manager"),
        ("station1", "服务站 station staff"),
        ("family1", "家属 family"),
    ] {
        println!("  {user:<12} {role}");
    }
    println!(
        "\n  try: curl -s -X POST http://{0}/api/v1/auth/login -H 'content-type: application/json' \
         -d '{{\"username\":\"admin\",\"password\":\"{pw}\"}}'\n",
        s.listen
    );
}
