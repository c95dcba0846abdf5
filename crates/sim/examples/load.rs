//! A load run without the `zhulao` binary: `cargo run --release -p zhulao-sim --example load --
//! [--wearers N] [--pooled K] [--seconds S] [--elders E] [--broker URL] [--root R] [--qos Q]
//! [--falls-per-hour F] [--sos-per-hour S] [--first-fall S] [--api URL] [--json]`.
//! Per-wearer connections unless `--pooled K`; logs the achieved rates every second.

use std::time::Duration;

use zhulao_sim::{ApiConfig, Connections, SimConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_target(false).init();
    let mut cfg = SimConfig::default();
    let mut json = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or_else(|| anyhow::anyhow!("{a} needs a value"));
        match a.as_str() {
            "--wearers" => cfg.wearers = val()?.parse()?,
            "--pooled" => cfg.connections = Connections::Pooled(val()?.parse()?),
            "--seconds" => cfg.duration = Some(Duration::from_secs_f64(val()?.parse()?)),
            "--elders" => cfg.demo_elders = val()?.parse()?,
            "--broker" => cfg.broker = val()?,
            "--root" => cfg.topic_root = val()?,
            "--qos" => cfg.motion_qos = val()?.parse()?,
            "--falls-per-hour" => cfg.falls_per_hour = val()?.parse()?,
            "--sos-per-hour" => cfg.sos_per_hour = val()?.parse()?,
            "--first-fall" => cfg.first_fall_after = Some(Duration::from_secs_f64(val()?.parse()?)),
            "--api" => {
                let base_url = val()?;
                cfg.api = Some(ApiConfig {
                    base_url,
                    username: "admin".into(),
                    password: zhulao_demo::DEMO_PASSWORD.into(),
                })
            }
            "--json" => json = true,
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    let report = zhulao_sim::run(cfg, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        report.print_text();
    }
    Ok(())
}
