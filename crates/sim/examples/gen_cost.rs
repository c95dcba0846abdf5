//! What the motion generator costs: builds 20,000 wearers (as the load test does) and times one
//! simulated minute of their batches — generation alone, then with the wire encoding — and
//! prints the cost per sample and the share of one core that 20,000 × 100 Hz takes.
//!
//! `cargo run --release -p zhulao-sim --example gen_cost [wearers] [seconds]`

use std::time::Instant;

use zhulao_sim::motion::{Library, embedded_trials};
use zhulao_sim::wearer::{Wearer, WearerSpec};

fn main() {
    let mut args = std::env::args().skip(1);
    let wearers: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let seconds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(60);
    let lib = Library::new(100, embedded_trials(100));
    // 2026-03-02 10:00 Beijing time: a daytime mix of walking, sitting and lying.
    let t0 = 1_772_416_800_000i64;
    let mut ws: Vec<Wearer> = (0..wearers)
        .map(|i| {
            let serial = format!("ZL-P-{i:06}");
            let spec = WearerSpec {
                secret: format!("demo-{serial}"),
                serial,
                watch: i % 8 == 0,
                model: "ZL-P2".into(),
                home: (40.0765, 113.3001),
            };
            Wearer::new(spec, "zl", 0, i as u64, &lib, t0 + (i * 1000 / wearers) as i64)
        })
        .collect();
    // A few falls in flight, as in a busy district.
    for (k, w) in ws.iter_mut().step_by(997).enumerate() {
        w.plan_fall(&lib, k % lib.falls.len(), t0 + 10_000 + k as i64 * 700);
    }

    let mut samples = 0u64;
    let start = Instant::now();
    for _ in 0..seconds / 2 {
        for w in &mut ws {
            let b = w.motion_batch(&lib);
            samples += b.accel.len() as u64;
            std::hint::black_box(&b);
        }
    }
    let gen_ns = start.elapsed().as_nanos() as f64 / samples as f64;

    let (mut encoded, mut bytes) = (0u64, 0u64);
    let start = Instant::now();
    for _ in seconds / 2..seconds {
        for w in &mut ws {
            let b = w.motion_batch(&lib);
            encoded += b.accel.len() as u64;
            bytes += std::hint::black_box(b.encode()).len() as u64;
        }
    }
    let enc_ns = start.elapsed().as_nanos() as f64 / encoded as f64;
    let per_second = wearers as f64 * 100.0;
    println!("wearers {wearers}, {seconds} simulated seconds, {} samples", samples + encoded);
    println!(
        "generation:          {gen_ns:6.1} ns/sample  → {:5.1} % of one core for {wearers} × 100 Hz",
        gen_ns * per_second / 1e7
    );
    println!(
        "generation + encode: {enc_ns:6.1} ns/sample  → {:5.1} % of one core ({:.0} bytes/batch)",
        enc_ns * per_second / 1e7,
        bytes as f64 / (encoded as f64 / 100.0)
    );
}
