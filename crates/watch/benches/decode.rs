//! Frames per second through the framer and decoder: a UD frame with 5 cells and 5 Wi-Fi access
//! points, and an AL (alarm) frame. Prints figures; asserts nothing about time.

use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use zhulao_watch::{Framer, Protocol, decode};

/// A UD_LTE frame with 5 cells and 5 Wi-Fi access points (fields after Traccar's samples).
const UD: &str = "UD_LTE,300621,135101,A,32.162652,N,34.888748,E,30.84,265.158,65.621,18,100,83,0,0,00000000,\
5,1,425,01,10223,8012811,100,10223,8012812,95,10223,8012813,90,10223,8012814,85,10223,8012815,80,\
5,ES4104,22:74:1d:39:64:ff,-46,metropoline-wifi,a8:3f:a1:e0:66:ba,-89,Egged.co.il,00:0c:42:51:cf:cd,-81,\
Home2,60:45:cb:cb:34:68,-93,Gilad,58:d5:6e:9d:1b:af,-80,1.7055488";

/// Traccar's AL sample with the fall bit set.
const AL: &str = "AL,230817,095346,A,47.083950,N,15.4821850,E,7.60,273.8,0.0,4,15,44,0,0,00200010,2,255,232,1,\
7605,42530,118,7605,58036,119,0,65.8";

fn wire(content: &str) -> Vec<u8> {
    format!("[3G*2104326058*{:04X}*{content}]", content.len()).into_bytes()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("watch");
    for (name, content) in [("ud_5_cells_5_wifi", UD), ("al", AL)] {
        let frame = wire(content);
        // A read of 64 frames at once, as a busy connection would deliver them.
        let batch: Vec<u8> = frame.iter().copied().cycle().take(frame.len() * 64).collect();
        g.throughput(Throughput::Elements(64));
        g.bench_function(format!("frame_and_decode/{name}"), |b| {
            let mut framer = Framer::new(Protocol::Watch3g, zhulao_watch::DEFAULT_MAX_FRAME);
            b.iter(|| {
                framer.push(black_box(&batch));
                let mut n = 0;
                while let Some(Ok(f)) = framer.next_frame() {
                    let m = decode(&f).expect("decodes");
                    n += m.cells.len() + m.wifi.len() + m.alarms.len();
                }
                black_box(n)
            });
        });
        g.bench_function(format!("frame_only/{name}"), |b| {
            let mut framer = Framer::new(Protocol::Watch3g, zhulao_watch::DEFAULT_MAX_FRAME);
            b.iter(|| {
                framer.push(black_box(&batch));
                let mut n = 0;
                while let Some(Ok(f)) = framer.next_frame() {
                    n += f.content.len();
                }
                black_box(n)
            });
        });
        let mut framer = Framer::new(Protocol::Watch3g, zhulao_watch::DEFAULT_MAX_FRAME);
        framer.push(&batch);
        let frames: Vec<_> = framer.by_ref().map(|r| r.expect("frames")).collect();
        g.bench_function(format!("decode_only/{name}"), |b| {
            b.iter(|| {
                let mut n = 0;
                for f in &frames {
                    let m = decode(black_box(f)).expect("decodes");
                    n += m.cells.len() + m.wifi.len() + m.alarms.len();
                }
                black_box(n)
            });
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
