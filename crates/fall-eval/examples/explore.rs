//! Exploration tool behind the model choices in `crates/detect/README.md`: nested
//! leave-one-subject-out cross-validation of feature sets and training settings, with extra
//! features computed offline from the trial (including the ITG3200 gyroscope). Not the
//! production path: `fall_eval --cv` runs the detector itself and is the measure.
//!
//! `cargo run --release -p zhulao-fall-eval --example explore -- --sisfall RAW --labels LABELS`
//! with, in the environment or per `;`-separated entry of `CONFIGS`: `DELAY` (ms), `FEATS`
//! (`all`, or names added to the 16 production features, `-name` to drop one), `MONO`
//! (`name+`/`name-` monotone constraints), `HINT=0` (no mounting hint), `TREES`, `LR`, `ADLW` (weight of daily-activity
//! candidates), `LAMBDA`, `MINH`, `RULE` (`youden`, `cost:W` = TP − W·FP, `sens:S` = fewest
//! false positives at sensitivity ≥ S), `THREADS`, `GSIGN`; the rules beside the model: `GOTUP=1`
//! (lying before, upright after: no alarm), `VANG`/`VSTD`/`BAND` (the late look 1.5–2.5 s after the
//! peak — within `VANG`° of the posture before and magnitude deviation above `VSTD` g — stops
//! an alarm less than `BAND` log-odds above the threshold), `SOFTG`/`SHARE` (no alarm for a peak
//! under `SOFTG` g with under `SHARE` of the orientation change before it); `DUMP=1` prints the
//! features as CSV, `SHOW=<trial>` each of that trial's candidates in its outer fold.
//! Outer and inner folds share the models trained without two subjects (each used both ways).
#![allow(clippy::needless_range_loop)]
use std::collections::BTreeMap;

use clap::Parser;
use zhulao_detect::{FallFeatures, FallModel};
use zhulao_fall_eval::{TrainArgs, data, eval};

fn env<T: std::str::FromStr>(k: &str, d: T) -> T {
    std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d)
}

fn n3(a: [f32; 3]) -> f32 {
    (a[0] * a[0] + a[1] * a[1] + a[2] * a[2]).sqrt()
}
fn ang(a: [f32; 3], b: [f32; 3]) -> f32 {
    let (na, nb) = (n3(a), n3(b));
    if na < 1e-3 || nb < 1e-3 {
        return 0.0;
    }
    ((a[0] * b[0] + a[1] * b[1] + a[2] * b[2]) / (na * nb)).clamp(-1.0, 1.0).acos().to_degrees()
}
fn mean(v: &[[f32; 3]], a: i64, b: i64) -> Option<[f32; 3]> {
    let a = a.max(0) as usize;
    let b = (b.max(0) as usize).min(v.len());
    if b <= a {
        return None;
    }
    let mut s = [0.0; 3];
    for x in &v[a..b] {
        for j in 0..3 {
            s[j] += x[j];
        }
    }
    let n = (b - a) as f32;
    Some([s[0] / n, s[1] / n, s[2] / n])
}
fn rng(len: usize, a: i64, b: i64) -> std::ops::Range<usize> {
    let a = a.max(0) as usize;
    let b = (b.max(0) as usize).min(len);
    a..b.max(a)
}
fn std_of(it: impl Iterator<Item = f32>) -> f32 {
    let (mut n, mut s, mut q) = (0.0f32, 0.0f32, 0.0f32);
    for x in it {
        n += 1.0;
        s += x;
        q += x * x;
    }
    if n < 1.0 {
        return 0.0;
    }
    let m = s / n;
    (q / n - m * m).max(0.0).sqrt()
}

const EXTRA: &[&str] = &[
    "vdown_reset",
    "vdown_raw",
    "descent_dur",
    "post_std_late",
    "post_max",
    "post_settle_deg",
    "gyro_peak",
    "gyro_int_pre",
    "gyro_post",
    "gyro_pre_max",
    "rebound_min",
    "post_std_short",
    "acc_rot_rate",
    "vdown_late",
    "gyro_int_impact",
    "post_jerk",
    "g_drop_m",
    "g_vimp",
    "g_track_err",
    "post_tilt_local",
    "pre_tilt_local",
    "early_tilt_local",
    "late_back_deg",
    "late_std",
    "late_tilt_deg",
    "rot_share",
];

fn extras(t: &data::Trial, p: i64, d: i64) -> Vec<f32> {
    let acc = &t.acc;
    let gy = &t.gyro;
    let len = acc.len();
    let m = |k: usize| n3(acc[k]);
    let g = mean(acc, p - 200, p - 100).or_else(|| mean(acc, p - 250, p - 50)).unwrap_or([0.0, -1.0, 0.0]);
    let ng = n3(g).max(1e-3);
    let u = [g[0] / ng, g[1] / ng, g[2] / ng];
    let dot = |a: [f32; 3]| a[0] * u[0] + a[1] * u[1] + a[2] * u[2];
    let (mut run, mut vr, mut dur, mut cur) = (0.0f32, 0.0f32, 0.0f32, 0usize);
    let mut raw = 0.0f32;
    let mut vraw = 0.0f32;
    for k in rng(len, p - 150, p) {
        let av = dot(acc[k]) - 1.0;
        run = (run + av * 0.01).min(0.0);
        if run < 0.0 {
            cur += 1;
        } else {
            cur = 0;
        }
        if run < vr {
            vr = run;
            dur = cur as f32 * 0.01;
        }
        if k as i64 >= p - 100 {
            raw += av * 0.01;
            vraw = vraw.min(raw);
        }
    }
    let mut vlate = 0.0f32;
    let mut r2 = 0.0f32;
    for k in rng(len, p - 40, p) {
        r2 += (dot(acc[k]) - 1.0) * 0.01;
        vlate = vlate.min(r2);
    }
    let post_std_late = std_of(rng(len, p + 50, d + 1).map(m));
    let post_max = rng(len, p + 30, d + 1).map(m).fold(0.0f32, f32::max);
    let a1 = mean(acc, p + 40, p + 65);
    let a2 = mean(acc, d - 24, d + 1);
    let post_settle = match (a1, a2) {
        (Some(a), Some(b)) => ang(a, b),
        _ => 0.0,
    };
    let gm = |k: usize| n3(gy[k]);
    let gyro_peak = rng(len, p - 100, p + 20).map(gm).fold(0.0f32, f32::max);
    let gyro_int_pre: f32 = rng(len, p - 150, p).map(|k| gm(k) * 0.01).sum();
    let gr = rng(len, p + 40, d + 1);
    let gyro_post = if gr.is_empty() { 0.0 } else { gr.clone().map(gm).sum::<f32>() / gr.len() as f32 };
    let gyro_pre_max = rng(len, p - 150, p - 10).map(gm).fold(0.0f32, f32::max);
    let gyro_int_impact: f32 = rng(len, p - 50, p + 50).map(|k| gm(k) * 0.01).sum();
    let rebound_min = rng(len, p + 5, p + 40).map(m).fold(f32::INFINITY, f32::min);
    let rebound_min = if rebound_min.is_finite() { rebound_min } else { 0.0 };
    let post_std_short = std_of(rng(len, p + 40, p + 70).map(m));
    let mut rot = 0.0f32;
    let mut k = p - 100;
    while k + 20 <= p {
        if let (Some(a), Some(b)) = (mean(acc, k, k + 10), mean(acc, k + 10, k + 20)) {
            rot = rot.max(ang(a, b) / 0.1);
        }
        k += 10;
    }
    let mut pj = 0.0f32;
    let r = rng(len, p + 40, d + 1);
    let nr = r.len().max(1) as f32;
    for k in r {
        if k > 0 {
            pj += (m(k) - m(k - 1)).abs();
        }
    }
    // Orientation tracking with the gyroscope: the "up" reading rotated by the body's rotation.
    let sign: f32 = std::env::var("GSIGN").ok().and_then(|v| v.parse().ok()).unwrap_or(1.0);
    let mut up = [g[0] / ng, g[1] / ng, g[2] / ng];
    let (mut v, mut h, mut hmin, mut vmin) = (0.0f32, 0.0f32, 0.0f32, 0.0f32);
    let k0 = (p - 120).max(0) as usize;
    let k1 = ((p + 60).max(0) as usize).min(len);
    for k in k0..k1 {
        let w = gy[k];
        let w = [
            w[0].to_radians() * 0.01 * sign,
            w[1].to_radians() * 0.01 * sign,
            w[2].to_radians() * 0.01 * sign,
        ];
        // v_body' = -w x v
        let c = [w[1] * up[2] - w[2] * up[1], w[2] * up[0] - w[0] * up[2], w[0] * up[1] - w[1] * up[0]];
        up = [up[0] - c[0], up[1] - c[1], up[2] - c[2]];
        let nu = n3(up).max(1e-6);
        up = [up[0] / nu, up[1] / nu, up[2] / nu];
        if (k as i64) < p + 10 {
            let av = acc[k][0] * up[0] + acc[k][1] * up[1] + acc[k][2] * up[2] - 1.0;
            v += av * 9.81 * 0.01;
            h += v * 0.01;
            hmin = hmin.min(h);
            vmin = vmin.min(v);
        }
    }
    let track_err = mean(acc, p + 50, p + 70).map_or(0.0, |m| ang(m, up));
    // Upright from the walking right before the impact, else the mounting hint.
    let pre_std = std_of(rng(len, p - 250, p - 50).map(m));
    let pre_mean = mean(acc, p - 250, p - 50).map_or(0.0, n3);
    let walking = (0.08..=0.8).contains(&pre_std) && (pre_mean - 1.0).abs() < 0.15;
    let reference = if walking { g } else { [0.0, -1.0, 0.0] };
    let post = mean(acc, p + 40, d + 1).unwrap_or(g);
    let early = mean(acc, p - 500, p - 400).unwrap_or(g);
    vec![
        -vr,
        -vraw,
        dur,
        post_std_late,
        post_max,
        post_settle,
        gyro_peak,
        gyro_int_pre,
        gyro_post,
        gyro_pre_max,
        rebound_min,
        post_std_short,
        rot,
        -vlate,
        gyro_int_impact,
        pj / nr * 100.0,
        -hmin,
        -vmin,
        track_err,
        ang(reference, post),
        ang(reference, g),
        ang(reference, early),
        mean(acc, p + 150, p + 250).map_or(0.0, |m| ang(m, g)),
        std_of(rng(len, p + 150, p + 250).map(m)),
        mean(acc, p + 150, p + 250).map_or(90.0, |m| ang(m, [0.0, -1.0, 0.0])),
    ]
}

struct Ex {
    x: Vec<f32>,
    /// Vetoed at the late look: back in the pre-impact posture and moving (`VANG`, `VSTD`).
    veto: bool,
    /// Rejected at the decision: a soft impact before most of the rotation (`SOFTG`, `SHARE`).
    soft: bool,
    fall: bool,
    trial: usize,
    counts: bool,
}

#[derive(Clone)]
struct T {
    f: [usize; 7],
    th: [f32; 7],
    leaf: [f32; 8],
}
struct Model {
    trees: Vec<T>,
}
impl Model {
    fn score(&self, x: &[f32]) -> f32 {
        let mut s = 0.0;
        for t in &self.trees {
            let mut i = 0;
            for _ in 0..3 {
                i = 2 * i + 1 + usize::from(x[t.f[i]] > t.th[i]);
            }
            s += t.leaf[i - 7];
        }
        s
    }
}

struct Params {
    trees: usize,
    lr: f64,
    adlw: f64,
    lambda: f64,
    minh: f64,
    mono: Vec<i8>,
}

fn sig(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

fn fit(ex: &[&Ex], nf: usize, p: &Params) -> Model {
    let n = ex.len();
    let pos = ex.iter().filter(|e| e.fall).count().max(1) as f64;
    let neg = (n as f64 - pos).max(1.0);
    let w: Vec<f64> = ex
        .iter()
        .map(|e| if e.fall { n as f64 / (2.0 * pos) } else { p.adlw * n as f64 / (2.0 * neg) })
        .collect();
    let y: Vec<f64> = ex.iter().map(|e| f64::from(u8::from(e.fall))).collect();
    const BINS: usize = 64;
    let cuts: Vec<Vec<f32>> = (0..nf)
        .map(|f| {
            let mut v: Vec<f32> = ex.iter().map(|e| e.x[f]).collect();
            v.sort_by(f32::total_cmp);
            let mut c: Vec<f32> = (1..BINS).map(|q| v[(q * v.len() / BINS).min(v.len() - 1)]).collect();
            c.dedup();
            c
        })
        .collect();
    let bin: Vec<Vec<u8>> = ex
        .iter()
        .map(|e| (0..nf).map(|f| cuts[f].partition_point(|&c| c < e.x[f]) as u8).collect())
        .collect();
    let mut score = vec![0.0f64; n];
    let mut trees = Vec::new();
    let mut node = vec![0usize; n];
    let mut hg = vec![0.0f64; BINS + 1];
    let mut hh = vec![0.0f64; BINS + 1];
    for _ in 0..p.trees {
        let g: Vec<f64> = (0..n).map(|i| w[i] * (sig(score[i]) - y[i])).collect();
        let h: Vec<f64> = (0..n)
            .map(|i| {
                let q = sig(score[i]);
                w[i] * (q * (1.0 - q)).max(1e-6)
            })
            .collect();
        node.iter_mut().for_each(|v| *v = 0);
        let mut t = T { f: [0; 7], th: [f32::INFINITY; 7], leaf: [0.0; 8] };
        // value bounds per node (index 0..15), for monotone constraints
        let mut lo = [f64::NEG_INFINITY; 15];
        let mut hi = [f64::INFINITY; 15];
        for level in 0..3 {
            let first = (1 << level) - 1;
            for k in first..first + (1 << level) {
                let members: Vec<usize> = (0..n).filter(|&i| node[i] == k).collect();
                let (gt, ht) = members.iter().fold((0.0, 0.0), |a, &i| (a.0 + g[i], a.1 + h[i]));
                let (mut bg, mut best) = (0.0, None);
                for f in 0..nf {
                    let nb = cuts[f].len() + 1;
                    hg[..nb].iter_mut().for_each(|v| *v = 0.0);
                    hh[..nb].iter_mut().for_each(|v| *v = 0.0);
                    for &i in &members {
                        hg[bin[i][f] as usize] += g[i];
                        hh[bin[i][f] as usize] += h[i];
                    }
                    let (mut gl, mut hl) = (0.0, 0.0);
                    for b in 0..nb - 1 {
                        gl += hg[b];
                        hl += hh[b];
                        let (gr, hr) = (gt - gl, ht - hl);
                        if hl < p.minh || hr < p.minh {
                            continue;
                        }
                        let wl = (-gl / (hl + p.lambda)).clamp(lo[k], hi[k]);
                        let wr = (-gr / (hr + p.lambda)).clamp(lo[k], hi[k]);
                        if (p.mono[f] > 0 && wl > wr) || (p.mono[f] < 0 && wl < wr) {
                            continue;
                        }
                        let obj = |g: f64, h: f64, w: f64| -(2.0 * g * w + (h + p.lambda) * w * w);
                        let gain = obj(gl, hl, wl) + obj(gr, hr, wr)
                            - obj(gt, ht, (-gt / (ht + p.lambda)).clamp(lo[k], hi[k]));
                        if gain > bg {
                            bg = gain;
                            best = Some((f, b));
                        }
                    }
                }
                let (l, r) = (2 * k + 1, 2 * k + 2);
                lo[l] = lo[k];
                hi[l] = hi[k];
                lo[r] = lo[k];
                hi[r] = hi[k];
                if let Some((f, b)) = best {
                    t.f[k] = f;
                    t.th[k] = cuts[f][b];
                    if p.mono[f] != 0 {
                        let (mut gl, mut hl) = (0.0, 0.0);
                        for &i in &members {
                            if ex[i].x[f] <= t.th[k] {
                                gl += g[i];
                                hl += h[i];
                            }
                        }
                        let wl = (-gl / (hl + p.lambda)).clamp(lo[k], hi[k]);
                        let wr = (-(gt - gl) / (ht - hl + p.lambda)).clamp(lo[k], hi[k]);
                        let mid = (wl + wr) / 2.0;
                        if p.mono[f] > 0 {
                            hi[l] = mid;
                            lo[r] = mid;
                        } else {
                            lo[l] = mid;
                            hi[r] = mid;
                        }
                    }
                }
                for &i in &members {
                    node[i] = 2 * k + 1 + usize::from(ex[i].x[t.f[k]] > t.th[k]);
                }
            }
        }
        let mut lg = [0.0; 8];
        let mut lh = [0.0; 8];
        for i in 0..n {
            lg[node[i] - 7] += g[i];
            lh[node[i] - 7] += h[i];
        }
        for j in 0..8 {
            t.leaf[j] = (-lg[j] / (lh[j] + p.lambda)).clamp(lo[7 + j], hi[7 + j]) as f32 * p.lr as f32;
        }
        for i in 0..n {
            score[i] += f64::from(t.leaf[node[i] - 7]);
        }
        trees.push(t);
    }
    Model { trees }
}

/// Threshold (log-odds) from per-trial best scores.
fn pick(scored: &mut [(f32, bool)], rule: &str) -> f32 {
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let falls = scored.iter().filter(|s| s.1).count().max(1) as f64;
    let adls = scored.iter().filter(|s| !s.1).count().max(1) as f64;
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut best = f64::NEG_INFINITY;
    let mut thr = 0.0;
    let (kind, arg) = rule.split_once(':').unwrap_or((rule, "0"));
    let arg: f64 = arg.parse().unwrap_or(0.0);
    for i in 0..scored.len() {
        if scored[i].1 {
            tp += 1.0
        } else {
            fp += 1.0
        }
        let next = scored.get(i + 1).map_or(scored[i].0 - 1.0, |s| s.0);
        if next == scored[i].0 {
            continue;
        }
        let obj = match kind {
            "cost" => tp - arg * fp,
            // lowest FP subject to sensitivity ≥ arg, ties to the higher threshold
            "sens" => {
                if tp / falls >= arg {
                    -fp * 1e6 + tp
                } else {
                    f64::NEG_INFINITY
                }
            }
            _ => tp / falls - fp / adls,
        };
        if obj > best {
            best = obj;
            thr = (scored[i].0 + next) / 2.0;
        }
    }
    thr
}

fn main() -> anyhow::Result<()> {
    let a = TrainArgs::parse();
    let (trials, _) = data::load(&a.sisfall, Some(&a.labels))?;
    let delay: i64 = env("DELAY", 900);
    let mut cfg = zhulao_fall_eval::config_with(FallModel::TRAINED);
    cfg.fall.model.threshold = f32::INFINITY;
    cfg.fall.report_candidates = true;
    cfg.fall.decision_delay_ms = delay;
    if env("HINT", 1) == 0 {
        cfg.fall.upright_hint = None;
    }
    let mut names: Vec<String> = FallFeatures::NAMES.iter().map(|s| s.to_string()).collect();
    names.extend(EXTRA.iter().map(|s| s.to_string()));
    let mut full_ex = Vec::new();
    for (ti, t) in trials.iter().enumerate() {
        let run = eval::run_trial(t, &cfg);
        let w = eval::fall_window(t);
        for c in run.candidates.iter().map(|c| &c.alarm) {
            let mut full: Vec<f32> = c.features.to_array().to_vec();
            full.extend(extras(t, c.impact_ms / 10, c.decision_ms / 10));
            full.push(c.features.pre_rotation_deg / c.features.tilt_change_deg.max(10.0));
            if full.iter().any(|v| !v.is_finite()) {
                continue;
            }
            let (fall, counts) = match w {
                None => (false, true),
                Some(w) if w.contains(c.decision_ms) => ((c.impact_ms - w.impact_ms).abs() <= 300, true),
                Some(_) => (false, false),
            };
            full_ex.push(Ex { x: full, veto: false, soft: false, fall, trial: ti, counts });
        }
    }
    let configs: String = env("CONFIGS", String::new());
    let configs: Vec<String> = if configs.is_empty() {
        vec![String::new()]
    } else {
        configs.split(';').map(|s| s.to_string()).collect()
    };
    for c in configs {
        // KEY=VALUE pairs separated by spaces override the environment
        let kv: BTreeMap<String, String> = c
            .split_whitespace()
            .filter_map(|p| p.split_once('='))
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        let get =
            |k: &str, d: &str| kv.get(k).cloned().or_else(|| std::env::var(k).ok()).unwrap_or(d.to_string());
        run_config(&trials, &names, &full_ex, delay, &get);
    }
    Ok(())
}

fn run_config(
    trials: &[data::Trial],
    names: &[String],
    full_ex: &[Ex],
    delay: i64,
    get: &dyn Fn(&str, &str) -> String,
) {
    let feats: Vec<usize> = match Some(get("FEATS", "")).filter(|s| !s.is_empty()) {
        Some(s) if s == "all" => (0..names.len()).collect(),
        Some(s) => {
            let mut v: Vec<usize> = (0..16).collect();
            for n in s.split(',').filter(|n| !n.is_empty()) {
                if let Some(x) = n.strip_prefix('-') {
                    let i = names.iter().position(|m| m == x).expect(x);
                    v.retain(|&j| j != i);
                } else {
                    v.push(names.iter().position(|m| m == n).expect(n));
                }
            }
            v
        }
        None => (0..16).collect(),
    };
    let vang: f32 = get("VANG", "0").parse().unwrap();
    let vstd: f32 = get("VSTD", "0.05").parse().unwrap();
    let band: f32 = get("BAND", "0").parse().unwrap();
    let (ilb, ils) = (
        names.iter().position(|n| n == "late_back_deg").unwrap(),
        names.iter().position(|n| n == "late_std").unwrap(),
    );
    let softg: f32 = get("SOFTG", "0").parse().unwrap();
    let share: f32 = get("SHARE", "0.15").parse().unwrap();
    let gotup = get("GOTUP", "0") == "1";
    let irs = names.iter().position(|n| n == "rot_share").unwrap();
    let ex: Vec<Ex> = full_ex
        .iter()
        .map(|e| Ex {
            soft: (e.x[0] < softg && e.x[irs] < share) || (gotup && e.x[14] > 60.0 && e.x[6] < 30.0),
            veto: e.x[ilb] < vang && e.x[ils] > vstd,
            x: feats.iter().map(|&i| e.x[i]).collect(),
            fall: e.fall,
            trial: e.trial,
            counts: e.counts,
        })
        .collect();
    let mono: Vec<i8> = {
        let spec = get("MONO", "");
        let mut m = vec![0i8; feats.len()];
        for item in spec.split(',').filter(|s| !s.is_empty()) {
            let (n, d) = item.split_at(item.len() - 1);
            if let Some(i) = feats.iter().position(|&f| names[f] == n) {
                m[i] = if d == "+" { 1 } else { -1 };
            }
        }
        m
    };
    if std::env::var("DUMP").is_ok() {
        println!(
            "trial,activity,fall,counts,{}",
            feats.iter().map(|&i| names[i].as_str()).collect::<Vec<_>>().join(",")
        );
        for e in &ex {
            let xs: Vec<String> = e.x.iter().map(|v| format!("{v:.3}")).collect();
            println!(
                "{},{},{},{},{}",
                trials[e.trial].name,
                trials[e.trial].activity,
                e.fall as u8,
                e.counts as u8,
                xs.join(",")
            );
        }
        return;
    }
    let nf = feats.len();
    let p = Params {
        trees: get("TREES", "120").parse().unwrap(),
        lr: get("LR", "0.1").parse().unwrap(),
        adlw: get("ADLW", "1").parse().unwrap(),
        lambda: get("LAMBDA", "1").parse().unwrap(),
        minh: get("MINH", "2").parse().unwrap(),
        mono,
    };
    let rule: String = get("RULE", "youden");
    let mut subjects: Vec<String> = trials.iter().map(|t| t.subject.clone()).collect();
    subjects.sort();
    subjects.dedup();
    let ns = subjects.len();
    let subj_of: Vec<usize> =
        trials.iter().map(|t| subjects.iter().position(|s| *s == t.subject).unwrap()).collect();
    let trainable = |e: &Ex| !(trials[e.trial].is_fall && e.counts && !e.fall);
    // Pair models: trained without subjects i and j (i < j); outer models without i.
    let mut jobs: Vec<(usize, usize)> = (0..ns).map(|i| (i, i)).collect();
    for i in 0..ns {
        for j in i + 1..ns {
            jobs.push((i, j));
        }
    }
    let threads: usize = get("THREADS", "2").parse().unwrap();
    let chunks: Vec<Vec<(usize, usize)>> =
        (0..threads).map(|k| jobs.iter().copied().skip(k).step_by(threads).collect()).collect();
    let results: Vec<((usize, usize), Vec<f32>)> = std::thread::scope(|sc| {
        let hs: Vec<_> = chunks
            .iter()
            .map(|ch| {
                let ex = &ex;
                let p = &p;
                let subj_of = &subj_of;
                let trials = &trials;
                let trainable = &trainable;
                sc.spawn(move || {
                    let mut out = Vec::new();
                    for &(i, j) in ch {
                        let tr: Vec<&Ex> = ex
                            .iter()
                            .filter(|e| subj_of[e.trial] != i && subj_of[e.trial] != j && trainable(e))
                            .collect();
                        let m = fit(&tr, nf, p);
                        // per-trial best score over counting candidates of subjects i, j
                        // effective score: a vetoed candidate alarms only at or above threshold + BAND;
                        // the fast score (not vetoable) is kept alongside to count late decisions
                        let mut best = vec![f32::NEG_INFINITY; 2 * trials.len()];
                        for e in
                            ex.iter().filter(|e| e.counts && (subj_of[e.trial] == i || subj_of[e.trial] == j))
                        {
                            let sc = if e.soft { -30.0 } else { m.score(&e.x) };
                            if i == j && std::env::var("SHOW").is_ok_and(|v| trials[e.trial].name == v) {
                                eprintln!(
                                    "cand peak {:.2} score {sc:.2} veto {} soft {}",
                                    e.x[0], e.veto, e.soft
                                );
                            }
                            let eff = if e.veto { sc - band } else { sc };
                            best[e.trial] = best[e.trial].max(eff);
                            best[trials.len() + e.trial] = best[trials.len() + e.trial].max(sc - band);
                        }
                        out.push(((i, j), best));
                    }
                    out
                })
            })
            .collect();
        hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let map: BTreeMap<(usize, usize), Vec<f32>> = results.into_iter().collect();
    let pair = |i: usize, j: usize| &map[&(i.min(j), i.max(j))];
    let (mut tp, mut nf_, mut fp, mut nadl) = (0, 0, 0, 0);
    let mut fps = Vec::new();
    let mut misses = Vec::new();
    let mut margins: Vec<(f32, String)> = Vec::new();
    let mut late = 0;
    for s in 0..ns {
        let mut scored = Vec::new();
        for s2 in (0..ns).filter(|&x| x != s) {
            let b = pair(s, s2);
            for (ti, t) in trials.iter().enumerate().filter(|(ti, _)| subj_of[*ti] == s2) {
                scored.push((b[ti].max(-30.0), t.is_fall));
            }
        }
        let thr = pick(&mut scored, &rule);
        let b = pair(s, s);
        for (ti, t) in trials.iter().enumerate().filter(|(ti, _)| subj_of[*ti] == s) {
            let sc = b[ti].max(-30.0);
            let alarm = sc >= thr;
            margins.push((sc - thr, t.name.clone()));
            if t.is_fall {
                nf_ += 1;
                if alarm {
                    tp += 1;
                    if b[trials.len() + ti] < thr {
                        late += 1;
                    }
                } else {
                    misses.push(t.name.clone())
                }
            } else {
                nadl += 1;
                if alarm {
                    fp += 1;
                    fps.push(t.name.clone())
                }
            }
        }
        eprint!("{}:{:.2} ", subjects[s], thr);
    }
    eprintln!();
    println!(
        "DELAY={delay} FEATS={} MONO={} trees={} lr={} adlw={} rule={rule}: sens {}/{} {:.2}% spec {}/{} fp={} ",
        feats.iter().map(|&i| names[i].as_str()).collect::<Vec<_>>().join(","),
        get("MONO", ""),
        p.trees,
        p.lr,
        p.adlw,
        tp,
        nf_,
        100.0 * tp as f64 / nf_ as f64,
        nadl - fp,
        nadl,
        fp
    );
    println!("  late decisions (VANG={vang} VSTD={vstd} BAND={band}): {late} of {tp} detected");
    println!("  FP: {}", fps.join(" "));
    println!("  miss: {}", misses.join(" "));
    // closest calls
    let mut adl: Vec<&(f32, String)> = margins.iter().filter(|m| m.1.starts_with('D')).collect();
    adl.sort_by(|a, b| b.0.total_cmp(&a.0));
    let top: Vec<String> = adl.iter().take(10).map(|m| format!("{}:{:+.2}", m.1, m.0)).collect();
    println!("  top ADL margins: {}", top.join(" "));
    let mut fl: Vec<&(f32, String)> = margins.iter().filter(|m| m.1.starts_with('F')).collect();
    fl.sort_by(|a, b| a.0.total_cmp(&b.0));
    let low: Vec<String> = fl.iter().take(22).map(|m| format!("{}:{:+.2}", m.1, m.0)).collect();
    println!("  low fall margins: {}", low.join(" "));
}
