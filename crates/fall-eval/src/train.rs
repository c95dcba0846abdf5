//! Fits the fall model (logistic regression, Newton's method, class-balanced, L2) on labelled
//! candidates, picks its alarm threshold, and writes it as Rust source for `zhulao-detect`.

use zhulao_detect::{FallAlarm, FallFeatures, FallModel, N_FEATURES, model_inputs};

use crate::data::Trial;
use crate::eval::{TrialRun, fall_window};

/// A candidate impact with its training label.
#[derive(Clone, Copy, Debug)]
pub struct Example {
    pub x: [f32; N_FEATURES],
    pub fall: bool,
    /// Index of the trial it came from.
    pub trial: usize,
    /// Whether an alarm from this candidate would count for its trial (fall: in the window; ADL: always).
    pub counts: bool,
}

/// Candidates closer than this to the labelled impact peak are the fall itself, ms.
const MATCH_MS: i64 = 300;

/// Labels the candidates of one trial: in a fall trial the candidate at the impact peak is a
/// fall, others inside the fall window are left out (neither clearly fall nor not), those
/// outside it are not falls; every candidate of a daily activity is not a fall.
pub fn examples(trial_index: usize, t: &Trial, run: &TrialRun, out: &mut Vec<Example>) {
    let window = fall_window(t);
    for c in &run.candidates {
        let x = c.features.to_array();
        if x.iter().any(|v| !v.is_finite()) {
            continue;
        }
        match window {
            None => out.push(Example {
                x,
                fall: false,
                trial: trial_index,
                counts: true,
            }),
            Some(w) if w.contains(c.decision_ms) => {
                let fall = (c.impact_ms - w.impact_ms).abs() <= MATCH_MS;
                out.push(Example {
                    x,
                    fall,
                    trial: trial_index,
                    counts: true,
                });
            }
            Some(_) => out.push(Example {
                x,
                fall: false,
                trial: trial_index,
                counts: false,
            }),
        }
    }
}

/// Candidates of fall trials that are inside the window but not at the impact are not
/// trained on (they are scored on, through `counts`).
fn trainable(e: &Example, trials: &[Trial]) -> bool {
    !(trials[e.trial].is_fall && e.counts && !e.fall)
}

const L2: f64 = 1.0;

/// Fits the model on the examples of `trials` whose index passes `use_trial`.
pub fn fit(all: &[Example], trials: &[Trial], use_trial: impl Fn(usize) -> bool) -> FallModel {
    let ex: Vec<Example> = all
        .iter()
        .filter(|e| use_trial(e.trial) && trainable(e, trials))
        .map(|e| Example {
            x: model_inputs(&e.x),
            ..*e
        })
        .collect();
    let n = ex.len().max(1) as f64;
    let mut mean = [0f64; N_FEATURES];
    let mut var = [0f64; N_FEATURES];
    for e in &ex {
        for j in 0..N_FEATURES {
            mean[j] += e.x[j] as f64 / n;
        }
    }
    for e in &ex {
        for j in 0..N_FEATURES {
            var[j] += (e.x[j] as f64 - mean[j]).powi(2) / n;
        }
    }
    let scale: [f64; N_FEATURES] = std::array::from_fn(|j| var[j].sqrt().max(1e-6));
    let pos = ex.iter().filter(|e| e.fall).count().max(1) as f64;
    let neg = (ex.len() as f64 - pos).max(1.0);
    let (wp, wn) = (n / (2.0 * pos), n / (2.0 * neg));
    const D: usize = N_FEATURES + 1;
    let rows: Vec<([f64; D], f64, f64)> = ex
        .iter()
        .map(|e| {
            let mut z = [1.0; D];
            for j in 0..N_FEATURES {
                z[j + 1] = (e.x[j] as f64 - mean[j]) / scale[j];
            }
            (
                z,
                if e.fall { 1.0 } else { 0.0 },
                if e.fall { wp } else { wn },
            )
        })
        .collect();
    let mut w = [0f64; D];
    for _ in 0..30 {
        let mut g = [0f64; D];
        let mut h = [[0f64; D]; D];
        for (z, y, sw) in &rows {
            let s: f64 = (0..D).map(|j| w[j] * z[j]).sum();
            let p = 1.0 / (1.0 + (-s).exp());
            for a in 0..D {
                g[a] += sw * (p - y) * z[a];
                for b in 0..D {
                    h[a][b] += sw * p * (1.0 - p) * z[a] * z[b];
                }
            }
        }
        for a in 1..D {
            g[a] += L2 * w[a];
            h[a][a] += L2;
        }
        let step = solve(h, g);
        for a in 0..D {
            w[a] -= step[a];
        }
        if step.iter().map(|s| s.abs()).fold(0.0, f64::max) < 1e-9 {
            break;
        }
    }
    let mut model = FallModel {
        mean: mean.map(|v| v as f32),
        scale: scale.map(|v| v as f32),
        weights: std::array::from_fn(|j| w[j + 1] as f32),
        bias: w[0] as f32,
        threshold: 0.5,
    };
    model.threshold = pick_threshold(&model, all, trials, &use_trial);
    model
}

/// Gaussian elimination with partial pivoting; a singular system gives a zero step.
fn solve<const D: usize>(mut a: [[f64; D]; D], mut b: [f64; D]) -> [f64; D] {
    for c in 0..D {
        let p = (c..D)
            .max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))
            .unwrap_or(c);
        if a[p][c].abs() < 1e-12 {
            return [0.0; D];
        }
        a.swap(c, p);
        b.swap(c, p);
        for r in c + 1..D {
            let f = a[r][c] / a[c][c];
            for k in c..D {
                a[r][k] -= f * a[c][k];
            }
            b[r] -= f * b[c];
        }
    }
    let mut x = [0.0; D];
    for r in (0..D).rev() {
        let s: f64 = (r + 1..D).map(|k| a[r][k] * x[k]).sum();
        x[r] = (b[r] - s) / a[r][r];
    }
    x
}

/// The threshold maximising sensitivity + specificity per trial on the training trials
/// (each trial scored by its highest counting candidate), midway between neighbouring scores.
fn pick_threshold(
    model: &FallModel,
    all: &[Example],
    trials: &[Trial],
    use_trial: &impl Fn(usize) -> bool,
) -> f32 {
    let mut best = vec![f32::NEG_INFINITY; trials.len()];
    for e in all.iter().filter(|e| use_trial(e.trial) && e.counts) {
        best[e.trial] = best[e.trial].max(model.probability(&e.x));
    }
    let mut scored: Vec<(f32, bool)> = (0..trials.len())
        .filter(|&i| use_trial(i))
        .map(|i| (best[i].max(0.0), trials[i].is_fall))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let falls = scored.iter().filter(|s| s.1).count().max(1) as f64;
    let adls = scored.iter().filter(|s| !s.1).count().max(1) as f64;
    // Walking the threshold down past each score: detected falls and false positives so far.
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut best_j = f64::NEG_INFINITY;
    let mut threshold = 0.5;
    for i in 0..scored.len() {
        if scored[i].1 {
            tp += 1.0
        } else {
            fp += 1.0
        }
        let next = scored.get(i + 1).map_or(0.0, |s| s.0);
        if next == scored[i].0 {
            continue;
        }
        let j = tp / falls - fp / adls;
        if j > best_j {
            best_j = j;
            threshold = (scored[i].0 + next) / 2.0;
        }
    }
    threshold.clamp(1e-4, 0.9999)
}

/// Rust source of `crates/detect/src/trained_model.rs` for `model`.
pub fn model_source(model: &FallModel, provenance: &str) -> String {
    let arr = |v: &[f32; N_FEATURES]| {
        v.iter()
            .map(|x| format!("{x:e}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "//! Trained fall-model parameters — generated, do not edit: {provenance}\n\
         //! Features, in order: {names}.\n\n\
         use super::FallModel;\n\n\
         pub(crate) const TRAINED: FallModel = FallModel {{\n    \
         mean: [{mean}],\n    scale: [{scale}],\n    weights: [{weights}],\n    bias: {bias:e},\n    threshold: {th:e},\n}};\n",
        names = FallFeatures::NAMES.join(", "),
        mean = arr(&model.mean),
        scale = arr(&model.scale),
        weights = arr(&model.weights),
        bias = model.bias,
        th = model.threshold,
    )
}

/// The candidate the model scored highest in a trial (for diagnostics).
pub fn top_candidate<'a>(model: &FallModel, run: &'a TrialRun) -> Option<&'a FallAlarm> {
    run.candidates.iter().max_by(|a, b| {
        model
            .probability(&a.features.to_array())
            .total_cmp(&model.probability(&b.features.to_array()))
    })
}
