//! Fits the fall model (gradient-boosted depth-3 trees, class-balanced logistic loss) on
//! labelled candidates, picks its alarm threshold, and writes it as Rust source for `zhulao-detect`.

use std::borrow::Cow;

use zhulao_detect::{
    FallAlarm, FallFeatures, FallModel, N_FEATURES, TREE_DEPTH, TREE_LEAVES, TREE_SPLITS, Tree,
};

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
            None => out.push(Example { x, fall: false, trial: trial_index, counts: true }),
            Some(w) if w.contains(c.decision_ms) => {
                let fall = (c.impact_ms - w.impact_ms).abs() <= MATCH_MS;
                out.push(Example { x, fall, trial: trial_index, counts: true });
            }
            Some(_) => out.push(Example { x, fall: false, trial: trial_index, counts: false }),
        }
    }
}

/// Candidates of fall trials that are inside the window but not at the impact are not
/// trained on (they are scored on, through `counts`).
fn trainable(e: &Example, trials: &[Trial]) -> bool {
    !(trials[e.trial].is_fall && e.counts && !e.fall)
}

/// Boosting parameters (fixed, not tuned per fold).
const TREES: usize = 120;
const LEARNING_RATE: f64 = 0.1;
/// L2 regularisation of leaf values and minimum hessian per child.
const LAMBDA: f64 = 1.0;
const MIN_CHILD_HESSIAN: f64 = 2.0;
/// Candidate split points per feature (quantiles of the training data).
const BINS: usize = 64;

/// Fits the model on the examples of `trials` whose index passes `use_trial`, and picks its
/// alarm threshold on out-of-fold scores: each training subject is scored by trees fitted
/// without it (nested leave-one-subject-out), so the threshold sees honest scores rather than
/// the ensemble's over-confident in-sample ones.
pub fn fit(all: &[Example], trials: &[Trial], use_trial: impl Fn(usize) -> bool) -> FallModel {
    let mut model = fit_trees(all, trials, &use_trial);
    let mut subjects: Vec<&str> =
        (0..trials.len()).filter(|&i| use_trial(i)).map(|i| trials[i].subject.as_str()).collect();
    subjects.sort_unstable();
    subjects.dedup();
    let mut best = vec![f32::NEG_INFINITY; trials.len()];
    for s in subjects {
        let inner = fit_trees(all, trials, &|i: usize| use_trial(i) && trials[i].subject != s);
        for e in all.iter().filter(|e| e.counts && trials[e.trial].subject == s && use_trial(e.trial)) {
            best[e.trial] = best[e.trial].max(inner.probability(&e.x));
        }
    }
    model.threshold = pick_threshold(&best, trials, &use_trial);
    model
}

/// Gradient boosting of depth-3 trees on the class-balanced logistic loss (threshold 0.5).
fn fit_trees(all: &[Example], trials: &[Trial], use_trial: &impl Fn(usize) -> bool) -> FallModel {
    let ex: Vec<&Example> = all.iter().filter(|e| use_trial(e.trial) && trainable(e, trials)).collect();
    let n = ex.len();
    let pos = ex.iter().filter(|e| e.fall).count().max(1) as f64;
    let neg = (n as f64 - pos).max(1.0);
    let weight: Vec<f64> =
        ex.iter().map(|e| if e.fall { n as f64 / (2.0 * pos) } else { n as f64 / (2.0 * neg) }).collect();
    let y: Vec<f64> = ex.iter().map(|e| f64::from(u8::from(e.fall))).collect();

    // Quantile split points per feature, and each example's bin.
    let cuts: Vec<Vec<f32>> = (0..N_FEATURES)
        .map(|f| {
            let mut v: Vec<f32> = ex.iter().map(|e| e.x[f]).collect();
            v.sort_by(f32::total_cmp);
            let mut c: Vec<f32> =
                (1..BINS).map(|q| v[(q * v.len() / BINS).min(v.len().saturating_sub(1))]).collect();
            c.dedup();
            c
        })
        .collect();
    let bin: Vec<[u8; N_FEATURES]> =
        ex.iter().map(|e| std::array::from_fn(|f| cuts[f].partition_point(|&c| c < e.x[f]) as u8)).collect();

    let base = (pos * (n as f64 / (2.0 * pos)) / (neg * (n as f64 / (2.0 * neg)))).ln(); // 0 with balanced weights
    let mut score = vec![base; n];
    let mut trees = Vec::with_capacity(TREES);
    for _ in 0..TREES {
        let g: Vec<f64> = (0..n).map(|i| weight[i] * (sigmoid(score[i]) - y[i])).collect();
        let h: Vec<f64> = (0..n)
            .map(|i| {
                let p = sigmoid(score[i]);
                weight[i] * (p * (1.0 - p)).max(1e-6)
            })
            .collect();
        let mut node = vec![0usize; n]; // node index of each example, breadth-first
        let mut tree = Tree {
            feature: [0; TREE_SPLITS],
            threshold: [f32::INFINITY; TREE_SPLITS],
            leaf: [0.0; TREE_LEAVES],
        };
        for level in 0..TREE_DEPTH {
            let first = (1 << level) - 1;
            let width = 1 << level;
            for k in first..first + width {
                let (mut best_gain, mut best) = (0.0, None);
                let members: Vec<usize> = (0..n).filter(|&i| node[i] == k).collect();
                let (gt, ht): (f64, f64) = members.iter().fold((0.0, 0.0), |a, &i| (a.0 + g[i], a.1 + h[i]));
                for f in 0..N_FEATURES {
                    let nb = cuts[f].len() + 1;
                    let mut hg = vec![0.0; nb];
                    let mut hh = vec![0.0; nb];
                    for &i in &members {
                        hg[bin[i][f] as usize] += g[i];
                        hh[bin[i][f] as usize] += h[i];
                    }
                    let (mut gl, mut hl) = (0.0, 0.0);
                    for b in 0..nb - 1 {
                        gl += hg[b];
                        hl += hh[b];
                        let (gr, hr) = (gt - gl, ht - hl);
                        if hl < MIN_CHILD_HESSIAN || hr < MIN_CHILD_HESSIAN {
                            continue;
                        }
                        let gain =
                            gl * gl / (hl + LAMBDA) + gr * gr / (hr + LAMBDA) - gt * gt / (ht + LAMBDA);
                        if gain > best_gain {
                            best_gain = gain;
                            best = Some((f, b));
                        }
                    }
                }
                // No useful split: everything goes left (threshold +inf).
                if let Some((f, b)) = best {
                    tree.feature[k] = f as u8;
                    tree.threshold[k] = cuts[f][b];
                }
                for &i in &members {
                    let right = ex[i].x[tree.feature[k] as usize] > tree.threshold[k];
                    node[i] = 2 * k + 1 + usize::from(right);
                }
            }
        }
        let mut lg = [0.0; TREE_LEAVES];
        let mut lh = [0.0; TREE_LEAVES];
        for i in 0..n {
            lg[node[i] - TREE_SPLITS] += g[i];
            lh[node[i] - TREE_SPLITS] += h[i];
        }
        for j in 0..TREE_LEAVES {
            tree.leaf[j] = (-LEARNING_RATE * lg[j] / (lh[j] + LAMBDA)) as f32;
        }
        for i in 0..n {
            score[i] += f64::from(tree.leaf[node[i] - TREE_SPLITS]);
        }
        trees.push(tree);
    }
    FallModel { trees: Cow::Owned(trees), base: base as f32, threshold: 0.5 }
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// The threshold maximising sensitivity + specificity per trial (each trial scored by its
/// highest counting candidate, `best`), midway between neighbouring scores.
fn pick_threshold(best: &[f32], trials: &[Trial], use_trial: &impl Fn(usize) -> bool) -> f32 {
    let mut scored: Vec<(f32, bool)> =
        (0..trials.len()).filter(|&i| use_trial(i)).map(|i| (best[i].max(0.0), trials[i].is_fall)).collect();
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
    use std::fmt::Write;
    let mut out = format!(
        "//! Trained fall-model parameters — generated, do not edit: {provenance}\n\
         //! Features, in order: {}.\n\n\
         use super::Tree;\n\n\
         pub(super) const BASE: f32 = {:e};\n\
         pub(super) const THRESHOLD: f32 = {:e};\n\n\
         #[rustfmt::skip]\n\
         pub(super) const TREES: &[Tree] = &[\n",
        FallFeatures::NAMES.join(", "),
        model.base,
        model.threshold,
    );
    for t in model.trees.iter() {
        let th: Vec<String> = t
            .threshold
            .iter()
            .map(|v| if v.is_finite() { format!("{v:e}") } else { "f32::INFINITY".into() })
            .collect();
        let leaf: Vec<String> = t.leaf.iter().map(|v| format!("{v:e}")).collect();
        let _ = writeln!(
            out,
            "    Tree {{ feature: {:?}, threshold: [{}], leaf: [{}] }},",
            t.feature,
            th.join(", "),
            leaf.join(", ")
        );
    }
    out.push_str("];\n");
    out
}

/// The candidate the model scored highest in a trial (for diagnostics).
pub fn top_candidate<'a>(model: &FallModel, run: &'a TrialRun) -> Option<&'a FallAlarm> {
    run.candidates.iter().max_by(|a, b| {
        model.probability(&a.features.to_array()).total_cmp(&model.probability(&b.features.to_array()))
    })
}
