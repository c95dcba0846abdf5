//! `zhulao`: the platform's one binary. Parses configuration and wires the crates together;
//! no business logic lives here.

mod bench;
mod demo;
mod platform;
mod server;
mod settings;

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
    /// Decode raw watch frames from stdin (3G watch or IW protocol), one JSON object per line.
    WatchDecode {
        /// `3g` (`[3G*ID*LEN*…]` frames) or `iw` (`IWAPxx…#` frames).
        #[arg(long, value_parser = ["3g", "iw"])]
        protocol: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_target(false)
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
                    redact(&s.database_url)
                );
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
            }
            print_logins(&s);
            if no_serve { Ok(()) } else { serve(store, &s).await }
        }
        Command::Migrate(common) => {
            let s = common.settings(Settings::default())?;
            open(&s.database_url).await?;
            println!("schema is up to date: {}", redact(&s.database_url));
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
        .with_context(|| format!("opening database {}", redact(url)))
}

/// A database URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => match url[s + 3..at].split_once(':') {
            Some((user, _)) => format!("{}{}:***{}", &url[..s + 3], user, &url[at..]),
            None => url.to_string(),
        },
        _ => url.to_string(),
    }
}

fn remove_sqlite(url: &str) -> anyhow::Result<()> {
    let Some(path) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) else {
        anyhow::bail!("--fresh only deletes SQLite demo databases, not {}", redact(url));
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
    let listener = server::bind(s.listen).await?;
    let addr = listener.local_addr()?;
    let p = platform::start(store, s).await?;
    println!(
        "zhulao 已启动 / serving on http://{addr}  (API: http://{addr}/api/v1, OpenAPI: http://{addr}/api/openapi.json)"
    );
    if let Some(url) = &p.device_url {
        println!("设备接入 / devices connect to {url} (MQTT; protocol in docs/device-protocol.md)");
    }
    server::run(listener, zhulao_api::app(p.state), server::shutdown_signal()).await
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

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_passwords() {
        assert_eq!(super::redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(super::redact("sqlite://zhulao.db"), "sqlite://zhulao.db");
    }
}
