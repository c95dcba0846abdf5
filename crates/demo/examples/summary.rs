//! Generates a demo district and prints its summary and how long generation took:
//! `cargo run -p zhulao-demo --release --example summary -- [seed] [elders] [yyyy-mm-dd]`.

use std::time::Instant;

use chrono::NaiveDate;
use zhulao_demo::{DemoSize, generate};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seed = args.first().and_then(|s| s.parse().ok()).unwrap_or(2026);
    let elders = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(DemoSize::default().elders);
    let today = args
        .get(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| NaiveDate::from_ymd_opt(2026, 11, 23).expect("a real date"));
    let started = Instant::now();
    let d = generate(seed, today, DemoSize { elders });
    let took = started.elapsed();
    println!("{}", d.summary());
    println!(
        "generated {} elders, {} accounts, {} devices in {:.1} ms",
        d.elders.len(),
        d.accounts.len(),
        d.devices.len(),
        took.as_secs_f64() * 1e3
    );
}
