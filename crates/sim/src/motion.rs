//! The motion generator: cheap, realistic accelerometer streams for many wearers.
//!
//! Signals are built once, in a shared *body frame* that matches SisFall's waist mounting
//! (standing upright reads about −1 g on Y, see `zhulao_fall_eval::SISFALL_UPRIGHT`; +Z points
//! out of the belly, X is lateral): a few looped clips per activity (walking gait, sitting,
//! lying) and the real SisFall trials (falls and daily activities). Each wearer reads them
//! through its own fixed random rotation (the device hangs at some angle, so gravity is not on
//! one axis) and adds its own sensor noise. Per sample that is a 3×3 rotation, one random draw
//! and a rounding to milli-g — a few nanoseconds — so 20,000 wearers at 100 Hz cost a small
//! fraction of a core (see `examples/gen_cost.rs`).

use std::f32::consts::TAU;
use std::path::Path;

use anyhow::{Context, bail};

use crate::rng::WyRand;

/// The upright gravity reading in the body frame (SisFall's mounting).
pub const UP: [f32; 3] = [0.0, -1.0, 0.0];
/// Out of the belly.
pub const FWD: [f32; 3] = [0.0, 0.0, 1.0];
/// The wearer's left.
pub const LAT: [f32; 3] = [1.0, 0.0, 0.0];

/// Sensor noise per axis (standard deviation), g. Above the detector's "perfectly still"
/// threshold (6 mg), as a worn device always is.
pub const NOISE_G: f32 = 0.008;

/// Length of the walking, sitting and lying loops, seconds (a whole number of gait cycles
/// at cadences that are multiples of 0.2 steps/s, and of 4 s breaths).
const CLIP_SECS: usize = 20;
/// Breathing, Hz.
const BREATH_HZ: f32 = 0.25;
/// Cadences of the walking variants, steps per second (~1.8 Hz for older adults).
pub const CADENCES: [f32; 4] = [1.6, 1.8, 1.8, 2.0];

/// A SisFall trial ready for replay: acceleration at the simulator's rate, in the body frame.
#[derive(Clone, Debug)]
pub struct ReplayTrial {
    /// File stem, e.g. `F05_SA07_R02`.
    pub name: String,
    pub is_fall: bool,
    pub acc: Vec<[f32; 3]>,
    /// Index of the peak magnitude (the impact, for a fall).
    pub impact: usize,
    pub peak_g: f32,
    /// Mean of the last half second: how the wearer lies after a fall.
    pub end_g: [f32; 3],
}

impl ReplayTrial {
    /// From 100 Hz samples (as `zhulao_fall_eval::data::parse_raw` gives them), resampled to `rate_hz`.
    pub fn new(name: &str, is_fall: bool, acc100: &[[f32; 3]], rate_hz: u16) -> Self {
        let acc = resample(acc100, 100, rate_hz);
        let (impact, peak_g) = acc
            .iter()
            .map(|a| norm(*a))
            .enumerate()
            .fold((0, 0.0f32), |m, (i, g)| if g > m.1 { (i, g) } else { m });
        let tail = &acc[acc.len().saturating_sub(usize::from(rate_hz) / 2)..];
        let mut end_g = [0.0f32; 3];
        for a in tail {
            for k in 0..3 {
                end_g[k] += a[k] / tail.len() as f32;
            }
        }
        ReplayTrial { name: name.to_string(), is_fall, acc, impact, peak_g, end_g }
    }
}

/// The six real SisFall trials shipped with the repository (3 falls, 3 daily activities).
const EMBEDDED: [(&str, &str); 6] = [
    ("F01_SA03_R01", include_str!("../../fall-eval/tests/data/raw/SA03/F01_SA03_R01.txt")),
    ("F05_SA07_R02", include_str!("../../fall-eval/tests/data/raw/SA07/F05_SA07_R02.txt")),
    ("F13_SA02_R01", include_str!("../../fall-eval/tests/data/raw/SA02/F13_SA02_R01.txt")),
    ("D10_SA04_R02", include_str!("../../fall-eval/tests/data/raw/SA04/D10_SA04_R02.txt")),
    ("D18_SA03_R02", include_str!("../../fall-eval/tests/data/raw/SA03/D18_SA03_R02.txt")),
    ("D19_SA07_R01", include_str!("../../fall-eval/tests/data/raw/SA07/D19_SA07_R01.txt")),
];

/// The embedded trials at `rate_hz`.
pub fn embedded_trials(rate_hz: u16) -> Vec<ReplayTrial> {
    EMBEDDED
        .iter()
        .map(|(name, text)| {
            let acc = zhulao_fall_eval::data::parse_raw(text).expect("embedded SisFall trial parses");
            ReplayTrial::new(name, name.starts_with('F'), &acc, rate_hz)
        })
        .collect()
}

/// Every trial of a SisFall-layout directory at `rate_hz` (unreadable files are skipped, as
/// `zhulao fall-eval` does).
pub fn load_trials(dir: &Path, rate_hz: u16) -> anyhow::Result<Vec<ReplayTrial>> {
    let (trials, skipped) = zhulao_fall_eval::data::load(dir, None)
        .with_context(|| format!("loading SisFall trials from {}", dir.display()))?;
    if !skipped.is_empty() {
        tracing::warn!(skipped = skipped.len(), "some SisFall files could not be read");
    }
    let out: Vec<ReplayTrial> = trials
        .iter()
        .filter(|t| t.acc.len() >= 200)
        .map(|t| ReplayTrial::new(&t.name, t.is_fall, &t.acc, rate_hz))
        .collect();
    if !out.iter().any(|t| t.is_fall) {
        bail!("no fall trial (F…) in {}", dir.display());
    }
    Ok(out)
}

/// Linear resampling from `from` Hz to `to` Hz.
pub fn resample(x: &[[f32; 3]], from: u16, to: u16) -> Vec<[f32; 3]> {
    if from == to || x.len() < 2 {
        return x.to_vec();
    }
    let n = ((x.len() - 1) as f64 * f64::from(to) / f64::from(from)).floor() as usize + 1;
    (0..n)
        .map(|i| {
            let p = i as f64 * f64::from(from) / f64::from(to);
            let j = (p.floor() as usize).min(x.len() - 2);
            let f = (p - j as f64) as f32;
            std::array::from_fn(|k| x[j][k] * (1.0 - f) + x[j + 1][k] * f)
        })
        .collect()
}

pub fn norm(v: [f32; 3]) -> f32 {
    (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt()
}

fn add(a: [f32; 3], b: [f32; 3]) -> [f32; 3] {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

fn scale(a: [f32; 3], s: f32) -> [f32; 3] {
    [a[0] * s, a[1] * s, a[2] * s]
}

fn unit(a: [f32; 3]) -> [f32; 3] {
    scale(a, 1.0 / norm(a).max(1e-6))
}

/// A 3×3 rotation (row-major).
pub type Rotation = [[f32; 3]; 3];

#[inline(always)]
pub fn rotate(r: &Rotation, v: [f32; 3]) -> [f32; 3] {
    [
        r[0][0] * v[0] + r[0][1] * v[1] + r[0][2] * v[2],
        r[1][0] * v[0] + r[1][1] * v[1] + r[1][2] * v[2],
        r[2][0] * v[0] + r[2][1] * v[1] + r[2][2] * v[2],
    ]
}

/// A uniformly random rotation (Shoemake's unit quaternion from three uniforms).
pub fn random_rotation(rng: &mut WyRand) -> Rotation {
    let (u1, u2, u3) = (rng.unit() as f32, rng.unit() as f32, rng.unit() as f32);
    let (a, b) = ((1.0 - u1).sqrt(), u1.sqrt());
    let (w, x, y, z) =
        (a * (TAU * u2).sin(), a * (TAU * u2).cos(), b * (TAU * u3).sin(), b * (TAU * u3).cos());
    [
        [1.0 - 2.0 * (y * y + z * z), 2.0 * (x * y - w * z), 2.0 * (x * z + w * y)],
        [2.0 * (x * y + w * z), 1.0 - 2.0 * (x * x + z * z), 2.0 * (y * z - w * x)],
        [2.0 * (x * z - w * y), 2.0 * (y * z + w * x), 1.0 - 2.0 * (x * x + y * y)],
    ]
}

/// What a wearer is doing, for the routine, vitals and position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activity {
    Sleep,
    Sit,
    Walk,
    /// Replaying a SisFall trial (a fall or a daily activity).
    Replay,
    /// Lying where a fall left them.
    Fallen,
}

/// The shared clip library and trials at one sample rate.
#[derive(Debug)]
pub struct Library {
    pub rate_hz: u16,
    pub walk: Vec<Vec<[f32; 3]>>,
    pub sit: Vec<Vec<[f32; 3]>>,
    pub lie: Vec<Vec<[f32; 3]>>,
    /// One breathing cycle: relative amplitude per sample, looped while lying after a fall.
    pub breath: Vec<f32>,
    pub falls: Vec<ReplayTrial>,
    pub adls: Vec<ReplayTrial>,
}

impl Library {
    /// Builds the clips at `rate_hz` around `trials` (see [`embedded_trials`], [`load_trials`]).
    pub fn new(rate_hz: u16, trials: Vec<ReplayTrial>) -> Self {
        let n = CLIP_SECS * usize::from(rate_hz);
        let dt = 1.0 / f32::from(rate_hz);
        let breath_at = |i: usize| (TAU * BREATH_HZ * i as f32 * dt).sin();

        // Walking: vertical bounce at the step frequency with its harmonic, fore–aft sway at the
        // step frequency, lateral sway at the stride frequency, the trunk leaning a little forward.
        let walk = CADENCES
            .iter()
            .enumerate()
            .map(|(v, &f)| {
                let lean = (4.0 + 2.0 * v as f32).to_radians();
                let up = unit(add(scale(UP, lean.cos()), scale(FWD, -lean.sin())));
                let (av, a2, aap, aml) = (0.22 + 0.03 * v as f32, 0.07, 0.12, 0.07);
                (0..n)
                    .map(|i| {
                        let t = i as f32 * dt;
                        let ph = TAU * f * t;
                        let vert = 1.0 + av * ph.sin() + a2 * (2.0 * ph + 0.8).sin();
                        add(
                            add(scale(up, vert), scale(FWD, aap * (ph + 1.3).sin())),
                            scale(LAT, aml * (0.5 * ph).sin()),
                        )
                    })
                    .collect()
            })
            .collect();

        // Sitting: reclined 10–25°, breathing, a fidget now and then (so a sitter moves).
        let sit = [10.0f32, 18.0, 25.0]
            .iter()
            .enumerate()
            .map(|(v, deg)| {
                let r = deg.to_radians();
                let g = unit(add(scale(UP, r.cos()), scale(FWD, r.sin())));
                let fidgets = [3.0 + v as f32, 11.5 - v as f32, 16.0];
                (0..n)
                    .map(|i| {
                        let t = i as f32 * dt;
                        let mut s = add(g, scale(FWD, 0.01 * breath_at(i)));
                        for &c in &fidgets {
                            let b = (-((t - c) / 0.25).powi(2)).exp();
                            s = add(
                                s,
                                add(scale(FWD, 0.09 * b * (TAU * 2.0 * t).sin()), scale(LAT, 0.05 * b)),
                            );
                        }
                        s
                    })
                    .collect()
            })
            .collect();

        // Lying: on the back, on either side; breathing, and a small shift once per loop.
        let lie = [FWD, LAT, scale(LAT, -1.0)]
            .iter()
            .map(|&g| {
                (0..n)
                    .map(|i| {
                        let t = i as f32 * dt;
                        let shift = (-((t - 9.0) / 0.4).powi(2)).exp();
                        add(scale(g, 1.0 + 0.012 * breath_at(i)), scale(UP, 0.04 * shift))
                    })
                    .collect()
            })
            .collect();

        let per_breath = (f32::from(rate_hz) / BREATH_HZ).round() as usize;
        let breath = (0..per_breath).map(|i| 0.012 * breath_at(i)).collect();
        let (falls, adls) = trials.into_iter().partition(|t| t.is_fall);
        Library { rate_hz, walk, sit, lie, breath, falls, adls }
    }

    /// The fall trial for a forced (demonstration) fall: a clear one — peak at least 3 g, with
    /// the most time after the impact; any fall if none is that clear.
    pub fn clearest_fall(&self) -> usize {
        let key = |t: &ReplayTrial| (t.peak_g >= 3.0, t.acc.len() - t.impact);
        (0..self.falls.len()).max_by_key(|&i| key(&self.falls[i])).unwrap_or(0)
    }
}

/// Which signal a wearer is producing.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Segment {
    Walk(u8),
    Sit(u8),
    Lie(u8),
    /// A fall trial (`fall`) or a daily-activity trial from `pos` up to `end` (exclusive).
    Replay {
        fall: bool,
        trial: u16,
        end: u32,
    },
    /// Still, breathing, along `g` (body frame): after a fall.
    Still {
        g: [f32; 3],
    },
}

impl Segment {
    pub fn activity(&self) -> Activity {
        match self {
            Segment::Walk(_) => Activity::Walk,
            Segment::Sit(_) => Activity::Sit,
            Segment::Lie(_) => Activity::Sleep,
            Segment::Replay { .. } => Activity::Replay,
            Segment::Still { .. } => Activity::Fallen,
        }
    }
}

/// One wearer's signal state: its rotation, its noise, the current segment and position in it.
#[derive(Clone, Debug)]
pub struct MotionState {
    pub rot: Rotation,
    pub rng: WyRand,
    pub seg: Segment,
    /// Position within the clip, trial or breathing cycle.
    pub pos: u32,
    /// Global index of the next sample.
    pub sample: u64,
    /// Global sample index where the segment ends.
    pub seg_end: u64,
}

impl MotionState {
    pub fn new(rng: &mut WyRand) -> Self {
        let rot = random_rotation(rng);
        let seed = rng.next_raw();
        MotionState { rot, rng: WyRand::new(seed), seg: Segment::Sit(0), pos: 0, sample: 0, seg_end: 0 }
    }

    /// Starts `seg` at the next sample, lasting `len` samples (a replay lasts its own length).
    pub fn start(&mut self, lib: &Library, seg: Segment, start_pos: u32, len: u64) {
        let len = match seg {
            Segment::Replay { end, .. } => u64::from(end.saturating_sub(start_pos)),
            _ => len,
        };
        let pos = match seg {
            Segment::Walk(_) | Segment::Sit(_) | Segment::Lie(_) => {
                // Start loops at a random phase so wearers doing the same thing differ.
                let n = (CLIP_SECS * usize::from(lib.rate_hz)) as u64;
                (self.rng.next_raw() % n) as u32
            }
            _ => start_pos,
        };
        self.seg = seg;
        self.pos = pos;
        self.seg_end = self.sample + len.max(1);
    }

    /// Samples left in the current segment.
    pub fn left(&self) -> u64 {
        self.seg_end.saturating_sub(self.sample)
    }

    /// Appends `k` samples of the current segment (at most [`left`](Self::left)) to `out`, in milli-g.
    pub fn emit(&mut self, lib: &Library, k: usize, out: &mut Vec<[i16; 3]>) {
        let k = k.min(self.left() as usize);
        match self.seg {
            Segment::Walk(v) => self.looped(&lib.walk[usize::from(v) % lib.walk.len()], k, out),
            Segment::Sit(v) => self.looped(&lib.sit[usize::from(v) % lib.sit.len()], k, out),
            Segment::Lie(v) => self.looped(&lib.lie[usize::from(v) % lib.lie.len()], k, out),
            Segment::Replay { fall, trial, .. } => {
                let t = if fall { &lib.falls[usize::from(trial)] } else { &lib.adls[usize::from(trial)] };
                let start = self.pos as usize;
                for &v in &t.acc[start..start + k] {
                    out.push(self.sample_mg(v));
                }
                self.pos += k as u32;
            }
            Segment::Still { g } => {
                let b = &lib.breath;
                for _ in 0..k {
                    let s = 1.0 + b[self.pos as usize % b.len()];
                    out.push(self.sample_mg(scale(g, s)));
                    self.pos = (self.pos + 1) % b.len() as u32;
                }
            }
        }
        self.sample += k as u64;
    }

    #[inline(always)]
    fn looped(&mut self, clip: &[[f32; 3]], k: usize, out: &mut Vec<[i16; 3]>) {
        let mut p = self.pos as usize;
        for _ in 0..k {
            out.push(self.sample_mg(clip[p]));
            p += 1;
            if p == clip.len() {
                p = 0;
            }
        }
        self.pos = p as u32;
    }

    /// Body-frame g → device axes, plus noise, in milli-g (saturating at ±32.767 g).
    #[inline(always)]
    fn sample_mg(&mut self, v: [f32; 3]) -> [i16; 3] {
        const NOISE_MG: f32 = NOISE_G * 1000.0 * 2.449_49; // tri3's unit spread is 1/√6
        let r = rotate(&self.rot, v);
        let n = self.rng.tri3();
        // Round half away from zero without `f32::round` (a library call on baseline x86-64);
        // `as` saturates at the i16 range, as the protocol wants (clip, do not wrap).
        #[inline(always)]
        fn q(x: f32) -> i16 {
            (x + 0.5f32.copysign(x)) as i16
        }
        [
            q(r[0] * 1000.0 + n[0] * NOISE_MG),
            q(r[1] * 1000.0 + n[1] * NOISE_MG),
            q(r[2] * 1000.0 + n[2] * NOISE_MG),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lib() -> Library {
        Library::new(100, embedded_trials(100))
    }

    fn run(st: &mut MotionState, lib: &Library, seg: Segment, n: usize) -> Vec<[f32; 3]> {
        st.start(lib, seg, 0, n as u64);
        let mut out = Vec::new();
        st.emit(lib, n, &mut out);
        out.iter().map(|a| a.map(|v| f32::from(v) / 1000.0)).collect()
    }

    fn mean(v: &[[f32; 3]]) -> [f32; 3] {
        let mut m = [0.0; 3];
        for a in v {
            for k in 0..3 {
                m[k] += a[k] / v.len() as f32;
            }
        }
        m
    }

    #[test]
    fn rotations_are_orthonormal() {
        let mut rng = WyRand::new(1);
        for _ in 0..100 {
            let r = random_rotation(&mut rng);
            for i in 0..3 {
                for j in 0..3 {
                    let d: f32 = (0..3).map(|k| r[i][k] * r[j][k]).sum();
                    assert!((d - if i == j { 1.0 } else { 0.0 }).abs() < 1e-5);
                }
            }
        }
    }

    #[test]
    fn gravity_is_one_g_at_rest_and_not_on_one_axis() {
        let lib = lib();
        let mut rng = WyRand::new(42);
        let mut off_axis = 0;
        for w in 0..50 {
            let mut st = MotionState::new(&mut rng);
            for seg in [Segment::Sit((w % 3) as u8), Segment::Lie((w % 3) as u8), Segment::Still { g: FWD }] {
                let s = run(&mut st, &lib, seg, 1000);
                let m = mean(&s);
                assert!((norm(m) - 1.0).abs() < 0.03, "{seg:?}: {m:?}");
                // Every sample is about 1 g too (rest, not a vector average of motion).
                assert!(s.iter().all(|a| (norm(*a) - 1.0).abs() < 0.2));
                // The sensor noise is there: no axis is perfectly still.
                let sd = (0..3)
                    .map(|k| (s.iter().map(|a| (a[k] - m[k]).powi(2)).sum::<f32>() / s.len() as f32).sqrt())
                    .fold(f32::MAX, f32::min);
                assert!(sd > 0.006, "{sd}");
                if m.iter().all(|v| v.abs() < 0.95) {
                    off_axis += 1;
                }
            }
        }
        assert!(off_axis > 100, "the rotation spreads gravity over the axes: {off_axis}/150");
    }

    #[test]
    fn the_gait_has_the_step_frequency_and_looks_like_walking() {
        let lib = lib();
        let mut rng = WyRand::new(9);
        for (v, &cadence) in CADENCES.iter().enumerate() {
            let mut st = MotionState::new(&mut rng);
            let s = run(&mut st, &lib, Segment::Walk(v as u8), 2000);
            let mag: Vec<f32> = s.iter().map(|a| norm(*a)).collect();
            let avg = mag.iter().sum::<f32>() / mag.len() as f32;
            // Dominant frequency of the magnitude between 0.5 and 4 Hz (plain DFT, 0.05 Hz steps).
            let power = |f: f32| {
                let (mut re, mut im) = (0.0f32, 0.0f32);
                for (i, m) in mag.iter().enumerate() {
                    let ph = TAU * f * i as f32 / 100.0;
                    re += (m - avg) * ph.cos();
                    im += (m - avg) * ph.sin();
                }
                re * re + im * im
            };
            let best =
                (10..=80).map(|k| k as f32 * 0.05).max_by(|a, b| power(*a).total_cmp(&power(*b))).unwrap();
            assert!((best - cadence).abs() < 0.06, "cadence {cadence}: peak at {best} Hz");
            // What the detector calls walking-like: 1 s blocks with 0.08–0.8 g of movement around ~1 g.
            for block in s.chunks(100) {
                let m = mean(block);
                let sd = (0..3)
                    .map(|k| block.iter().map(|a| (a[k] - m[k]).powi(2)).sum::<f32>() / 100.0)
                    .sum::<f32>()
                    .sqrt();
                assert!((0.08..=0.8).contains(&sd) && (norm(m) - 1.0).abs() < 0.15, "{sd} {m:?}");
            }
            // No step reaches the detector's 1.6 g trigger.
            assert!(mag.iter().all(|&g| g < 1.6), "{}", mag.iter().fold(0.0f32, |a, &b| a.max(b)));
        }
    }

    #[test]
    fn a_replayed_fall_keeps_its_peak_and_lands_lying() {
        let lib = lib();
        assert_eq!((lib.falls.len(), lib.adls.len()), (3, 3));
        let mut rng = WyRand::new(5);
        for (i, t) in lib.falls.iter().enumerate() {
            let mut st = MotionState::new(&mut rng);
            let end = t.acc.len() as u32;
            let s = run(&mut st, &lib, Segment::Replay { fall: true, trial: i as u16, end }, t.acc.len());
            let (ip, peak) = s
                .iter()
                .map(|a| norm(*a))
                .enumerate()
                .fold((0, 0.0f32), |m, (i, g)| if g > m.1 { (i, g) } else { m });
            // A rotation does not change magnitudes: the peak (≥ 2.4 g in every shipped fall) stays.
            assert!((peak - t.peak_g).abs() < 0.05, "{}: {peak} vs {}", t.name, t.peak_g);
            assert!(ip.abs_diff(t.impact) <= 2, "{}", t.name);
            assert!(peak >= 2.4, "{}: {peak}", t.name);
            // The wearer ends lying: far from upright (in the rotated frame too).
            let up = rotate(&st.rot, UP);
            let e = unit(rotate(&st.rot, t.end_g));
            let cos = up.iter().zip(e).map(|(a, b)| a * b).sum::<f32>();
            assert!(cos < 0.6, "{}: {cos}", t.name);
        }
        let clear = &lib.falls[lib.clearest_fall()];
        assert!(clear.peak_g >= 2.5, "{} {}", clear.name, clear.peak_g);
        assert_eq!(clear.name, "F05_SA07_R02");
    }

    #[test]
    fn resampling_keeps_duration_and_values() {
        let x: Vec<[f32; 3]> = (0..101).map(|i| [i as f32, 0.0, 1.0]).collect();
        let y = resample(&x, 100, 50);
        assert_eq!(y.len(), 51);
        assert_eq!(y[10], [20.0, 0.0, 1.0]);
        let z = resample(&x, 100, 200);
        assert_eq!(z.len(), 201);
        assert_eq!(z[3], [1.5, 0.0, 1.0]);
        let t = ReplayTrial::new("F", true, &embedded_trials(100)[0].acc, 50);
        assert!(t.peak_g > 2.0);
    }

    #[test]
    fn segments_do_not_overrun() {
        let lib = lib();
        let mut rng = WyRand::new(11);
        let mut st = MotionState::new(&mut rng);
        st.start(&lib, Segment::Walk(0), 0, 30);
        let mut out = Vec::new();
        st.emit(&lib, 100, &mut out);
        assert_eq!((out.len(), st.left(), st.sample), (30, 0, 30));
    }
}
