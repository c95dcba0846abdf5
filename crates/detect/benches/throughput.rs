//! Throughput of the per-device detector on synthetic 100 Hz traces (target: ≥ 20 M samples/s on one core).

use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use zhulao_detect::{Detector, DetectorConfig, Event, MotionSample};

/// `secs` of 100 Hz motion: walking (1.8 Hz steps, ±0.3 g) with a jog every 10th second.
fn trace(secs: usize) -> Vec<MotionSample> {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut noise = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        ((seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.02
    };
    (0..secs * 100)
        .map(|i| {
            let t = i as f32 / 100.0;
            let amp = if (i / 100) % 10 == 9 { 1.4 } else { 0.3 };
            let s = (t * 1.8 * std::f32::consts::TAU).sin() * amp;
            MotionSample::accel(
                1_700_000_000_000 + i as i64 * 10,
                [0.1 + noise(), -1.0 + s + noise(), 0.05 + noise()],
            )
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let samples = trace(600);
    let mut g = c.benchmark_group("detector");
    g.throughput(Throughput::Elements(samples.len() as u64));
    g.bench_function("push_motion_100hz", |b| {
        let mut events: Vec<Event> = Vec::with_capacity(64);
        b.iter(|| {
            let mut det = Detector::new(DetectorConfig::default());
            for s in &samples {
                det.push_motion(black_box(s), &mut events);
            }
            events.clear();
            black_box(&det);
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
