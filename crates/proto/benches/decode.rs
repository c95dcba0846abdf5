//! Decode cost of the hot uplink messages: a 100-sample motion batch (with and without gyroscope)
//! and a JSON event. The server takes about 20,000 messages/s.
//!
//! `cargo bench -p zhulao-proto` — criterion reports the time per message.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use zhulao_proto::{Kind, MotionBatch, decode_uplink, parse_topic, topic};

fn batch(gyro: bool) -> Vec<u8> {
    let accel = (0..100).map(|i: i16| [i * 3 - 150, -1000 + i, 20 - i]).collect();
    let gyro = gyro.then(|| (0..100).map(|i: i16| [i * 7, -i, 300 - i]).collect());
    MotionBatch { seq: 12_345, t0_ms: 1_700_000_000_000, rate_hz: 100, accel, gyro }.encode()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(1));
    for (name, bytes) in [("motion_100_accel", batch(false)), ("motion_100_accel_gyro", batch(true))] {
        g.bench_function(name, |b| b.iter(|| decode_uplink(Kind::Motion, black_box(&bytes))));
    }
    let event =
        br#"{"id":"e-42","t":1700000000000,"type":"fall","lat":39.908722,"lon":116.397499,"conf":0.93}"#;
    g.bench_function("event_json", |b| b.iter(|| decode_uplink(Kind::Event, black_box(event))));
    let name = topic("zl", "ZL-P1-000042", zhulao_proto::Direction::Up, Kind::Motion);
    g.bench_function("parse_topic", |b| b.iter(|| parse_topic("zl", black_box(&name)).map(|t| t.shard)));
    let mb = batch(true);
    let Ok(zhulao_proto::Uplink::Motion(m)) = decode_uplink(Kind::Motion, &mb) else { return };
    g.bench_function("motion_100_samples_iter", |b| {
        b.iter(|| black_box(&m).samples().map(|s| s.acc[2] + s.gyro.map_or(0.0, |g| g[0])).sum::<f32>())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
