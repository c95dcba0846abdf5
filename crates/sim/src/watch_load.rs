//! Load generator for the TCP watch gateway: N simulated 3G-protocol watches, each on its
//! own connection, logging in and then sending link (`LK`) and position (`UD`) frames, heart
//! rates and now and then an SOS (`AL`), measuring the round trip of every answered frame.
//! Watch ids are `<prefix><8 digits>`; `zhulao watch-load register` puts them in the registry.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::report::Percentiles;

/// What to run.
#[derive(Debug, Clone)]
pub struct WatchLoadConfig {
    pub addr: SocketAddr,
    pub watches: usize,
    /// Watch ids are `prefix` + an 8-digit number (1-based).
    pub prefix: String,
    /// Connections opened per second while ramping up.
    pub connect_rate: u32,
    /// How long every watch sends once all are connected.
    pub duration: Duration,
    /// Between one watch's frames; 0 = send the next `LK` as soon as the last is answered
    /// (closed loop: the gateway's maximum rate).
    pub interval: Duration,
    /// SOS alarms per watch per hour (0 = none).
    pub sos_per_hour: f64,
    pub seed: u64,
}

/// What a run measured.
#[derive(Debug, Clone, Serialize)]
pub struct WatchLoadReport {
    pub watches: usize,
    pub connected: u64,
    pub connect_failures: u64,
    /// Seconds from the first connection attempt until every watch had its login answered.
    pub ramp_s: f64,
    pub duration_s: f64,
    pub frames_sent: u64,
    pub replies: u64,
    /// Frames sent per second during the steady phase.
    pub frames_per_second: f64,
    pub sos_sent: u64,
    pub sos_answered: u64,
    /// Send → reply of `LK` frames during the steady phase.
    pub lk_rtt_ms: Percentiles,
    /// Send → reply of `AL` (SOS) frames: the alarm is committed when the reply comes.
    pub sos_rtt_ms: Percentiles,
    pub disconnects: u64,
}

#[derive(Default)]
struct Counters {
    connected: AtomicU64,
    connect_failures: AtomicU64,
    logged_in: AtomicU64,
    frames: AtomicU64,
    replies: AtomicU64,
    sos_sent: AtomicU64,
    sos_answered: AtomicU64,
    disconnects: AtomicU64,
}

fn frame(id: &str, content: &str) -> Vec<u8> {
    format!("[3G*{id}*{:04X}*{content}]", content.len()).into_bytes()
}

/// Reads one `]`-terminated frame into `buf` (reusing it); false on EOF or error.
async fn read_reply(s: &mut TcpStream, pending: &mut Vec<u8>, chunk: &mut [u8]) -> Option<Vec<u8>> {
    loop {
        if let Some(end) = pending.iter().position(|b| *b == b']') {
            let rest = pending.split_off(end + 1);
            return Some(std::mem::replace(pending, rest));
        }
        let n = s.read(chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        pending.extend_from_slice(&chunk[..n]);
    }
}

fn content_of(frame: &[u8]) -> &[u8] {
    // [MK*ID*LLLL*CONTENT]
    let mut stars = 0;
    for (i, b) in frame.iter().enumerate() {
        if *b == b'*' {
            stars += 1;
            if stars == 3 {
                return &frame[i + 1..frame.len().saturating_sub(1)];
            }
        }
    }
    &[]
}

struct Watch {
    id: String,
    lat: f64,
    lon: f64,
    rng: rand_chacha::ChaCha8Rng,
}

impl Watch {
    fn position(&mut self, kind: &str, status: &str) -> String {
        self.lat += self.rng.random_range(-0.0002..0.0002);
        self.lon += self.rng.random_range(-0.0002..0.0002);
        let now = chrono::Utc::now();
        format!(
            "{kind},{},A,{:.6},N,{:.6},E,0.00,0.0,0.0,9,100,{},{},0,{status},0,0",
            now.format("%d%m%y,%H%M%S"),
            self.lat,
            self.lon,
            self.rng.random_range(20..100),
            self.rng.random_range(0..9000),
        )
    }
}

/// One watch's life: connect, log in, then send until `stop`; answered round trips go to
/// `lk` and `sos`.
async fn run_watch(
    cfg: Arc<WatchLoadConfig>,
    n: usize,
    c: Arc<Counters>,
    start: Instant,
    stop: Instant,
) -> (Vec<f32>, Vec<f32>) {
    let (mut lk, mut sos) = (Vec::new(), Vec::new());
    let mut w = Watch {
        id: format!("{}{:08}", cfg.prefix, n + 1),
        lat: 40.07 + (n % 100) as f64 * 0.0005,
        lon: 113.29 + (n / 100 % 100) as f64 * 0.0005,
        rng: rand_chacha::ChaCha8Rng::seed_from_u64(cfg.seed ^ n as u64),
    };
    let mut s = match TcpStream::connect(cfg.addr).await {
        Ok(s) => s,
        Err(_) => {
            c.connect_failures.fetch_add(1, Ordering::Relaxed);
            return (lk, sos);
        }
    };
    let _ = s.set_nodelay(true);
    c.connected.fetch_add(1, Ordering::Relaxed);
    let (mut pending, mut chunk) = (Vec::with_capacity(64), [0u8; 256]);
    let login = frame(&w.id, "LK,0,0,100");
    if s.write_all(&login).await.is_err() || read_reply(&mut s, &mut pending, &mut chunk).await.is_none() {
        c.disconnects.fetch_add(1, Ordering::Relaxed);
        return (lk, sos);
    }
    c.frames.fetch_add(1, Ordering::Relaxed);
    c.replies.fetch_add(1, Ordering::Relaxed);
    c.logged_in.fetch_add(1, Ordering::Relaxed);
    // Wait for everyone, so the steady phase has all connections open.
    tokio::time::sleep_until(start.into()).await;
    // Spread the watches' phases over one interval.
    if !cfg.interval.is_zero() {
        let phase = cfg.interval.mul_f64(w.rng.random_range(0.0..1.0));
        tokio::time::sleep(phase).await;
    }
    let p_sos = if cfg.interval.is_zero() {
        0.0
    } else {
        (cfg.sos_per_hour * cfg.interval.as_secs_f64() / 3600.0).min(1.0)
    };
    let mut k = 0u64;
    while Instant::now() < stop {
        k += 1;
        let is_sos = p_sos > 0.0 && w.rng.random_bool(p_sos);
        // Every fourth frame a position (no reply), every tenth a heart rate (no reply).
        if !is_sos && k.is_multiple_of(4) {
            let ud = frame(&w.id.clone(), &w.position("UD", "00000000"));
            if s.write_all(&ud).await.is_err() {
                break;
            }
            c.frames.fetch_add(1, Ordering::Relaxed);
        }
        if !is_sos && k.is_multiple_of(10) {
            let hr = frame(&w.id, &format!("heart,{}", w.rng.random_range(60..95)));
            if s.write_all(&hr).await.is_err() {
                break;
            }
            c.frames.fetch_add(1, Ordering::Relaxed);
        }
        let out = if is_sos {
            c.sos_sent.fetch_add(1, Ordering::Relaxed);
            frame(&w.id.clone(), &w.position("AL", "00010000"))
        } else {
            frame(&w.id, &format!("LK,{},0,{}", k * 10, 100 - (k % 50)))
        };
        let sent = Instant::now();
        if s.write_all(&out).await.is_err() {
            break;
        }
        c.frames.fetch_add(1, Ordering::Relaxed);
        // The gateway may also send feedback (MESSAGE) frames: wait for the reply itself.
        let want: &[u8] = if is_sos { b"AL" } else { b"LK" };
        let answered = loop {
            match tokio::time::timeout(Duration::from_secs(30), read_reply(&mut s, &mut pending, &mut chunk))
                .await
            {
                Ok(Some(f)) => {
                    if content_of(&f) == want {
                        break true;
                    }
                }
                _ => break false,
            }
        };
        if !answered {
            c.disconnects.fetch_add(1, Ordering::Relaxed);
            return (lk, sos);
        }
        c.replies.fetch_add(1, Ordering::Relaxed);
        let ms = sent.elapsed().as_secs_f32() * 1000.0;
        if is_sos {
            c.sos_answered.fetch_add(1, Ordering::Relaxed);
            sos.push(ms);
        } else {
            lk.push(ms);
        }
        if !cfg.interval.is_zero() {
            tokio::time::sleep(cfg.interval).await;
        }
    }
    (lk, sos)
}

/// Runs the load and reports.
pub async fn run(cfg: WatchLoadConfig) -> anyhow::Result<WatchLoadReport> {
    anyhow::ensure!(cfg.watches > 0, "--watches must be at least 1");
    let cfg = Arc::new(cfg);
    let c = Arc::new(Counters::default());
    let t0 = Instant::now();
    let per = Duration::from_secs_f64(1.0 / f64::from(cfg.connect_rate.max(1)));
    let ramp = per.mul_f64(cfg.watches as f64) + Duration::from_secs(5);
    let start = t0 + ramp;
    let stop = start + cfg.duration;
    let mut tasks = Vec::with_capacity(cfg.watches);
    for n in 0..cfg.watches {
        tasks.push(tokio::spawn(run_watch(cfg.clone(), n, c.clone(), start, stop)));
        tokio::time::sleep_until((t0 + per.mul_f64((n + 1) as f64)).into()).await;
    }
    let mut ramp_done = None;
    while ramp_done.is_none() && Instant::now() < start {
        let done = c.logged_in.load(Ordering::Relaxed)
            + c.connect_failures.load(Ordering::Relaxed)
            + c.disconnects.load(Ordering::Relaxed);
        if done >= cfg.watches as u64 {
            ramp_done = Some(t0.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep_until(start.into()).await;
    let f0 = c.frames.load(Ordering::Relaxed);
    tracing::info!(connected = c.connected.load(Ordering::Relaxed), "steady phase");
    let (mut lk, mut sos) = (Vec::new(), Vec::new());
    for t in tasks {
        let (a, b) = t.await?;
        lk.extend(a.into_iter().map(f64::from));
        sos.extend(b.into_iter().map(f64::from));
    }
    let steady = stop.saturating_duration_since(start).as_secs_f64().max(1e-9);
    let f1 = c.frames.load(Ordering::Relaxed);
    Ok(WatchLoadReport {
        watches: cfg.watches,
        connected: c.connected.load(Ordering::Relaxed),
        connect_failures: c.connect_failures.load(Ordering::Relaxed),
        ramp_s: ramp_done.unwrap_or(ramp).as_secs_f64(),
        duration_s: steady,
        frames_sent: f1,
        replies: c.replies.load(Ordering::Relaxed),
        frames_per_second: (f1 - f0) as f64 / steady,
        sos_sent: c.sos_sent.load(Ordering::Relaxed),
        sos_answered: c.sos_answered.load(Ordering::Relaxed),
        lk_rtt_ms: Percentiles::of(&lk),
        sos_rtt_ms: Percentiles::of(&sos),
        disconnects: c.disconnects.load(Ordering::Relaxed),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_and_contents() {
        let f = frame("8800000001", "LK");
        assert_eq!(f, b"[3G*8800000001*0002*LK]");
        assert_eq!(content_of(&f), b"LK");
    }
}
