//! The fall model: a small gradient-boosted ensemble of depth-3 decision trees over the window
//! features, trained offline; inference is a few dozen comparisons and additions.
//!
//! The trained parameters live in `trained_model.rs`, written by
//! `cargo run --release -p zhulao-fall-eval --example train`.

use std::borrow::Cow;

#[path = "trained_model.rs"]
mod trained;

/// Number of model inputs ([`crate::FallFeatures::to_array`]).
pub const N_FEATURES: usize = 16;

/// Depth of every tree.
pub const TREE_DEPTH: usize = 3;
/// Split nodes per tree (a complete binary tree, breadth-first).
pub const TREE_SPLITS: usize = (1 << TREE_DEPTH) - 1;
/// Leaves per tree.
pub const TREE_LEAVES: usize = 1 << TREE_DEPTH;

/// One complete depth-3 tree: split `i` sends `x` right when `x[feature[i]] > threshold[i]`;
/// children of `i` are `2i+1` and `2i+2`; leaf `j` is node `TREE_SPLITS + j`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tree {
    pub feature: [u8; TREE_SPLITS],
    pub threshold: [f32; TREE_SPLITS],
    /// Log-odds contributions.
    pub leaf: [f32; TREE_LEAVES],
}

impl Tree {
    /// The leaf value `x` falls into.
    pub fn eval(&self, x: &[f32; N_FEATURES]) -> f32 {
        let mut i = 0usize;
        for _ in 0..TREE_DEPTH {
            let f = (self.feature[i] as usize).min(N_FEATURES - 1);
            i = 2 * i + 1 + usize::from(x[f] > self.threshold[i]);
        }
        self.leaf[i - TREE_SPLITS]
    }
}

/// Boosted trees: `p = σ(base + Σ tree(x))`; alarm when `p ≥ threshold`, at once when
/// `p ≥ confirm`, and for `threshold ≤ p < confirm` only if the late look does not find the
/// wearer walking on (see [`crate::FallConfig::late_look_ms`]).
/// The shipped model borrows a static table, so cloning a configuration costs nothing.
#[derive(Clone, Debug, PartialEq)]
pub struct FallModel {
    pub trees: Cow<'static, [Tree]>,
    pub base: f32,
    pub threshold: f32,
    /// Probability from which an alarm needs no late look (at or below `threshold`: never
    /// waits).
    pub confirm: f32,
}

impl FallModel {
    /// The model trained on the SisFall development split, shipped with the crate.
    pub const TRAINED: FallModel = FallModel {
        trees: Cow::Borrowed(trained::TREES),
        base: trained::BASE,
        threshold: trained::THRESHOLD,
        confirm: trained::CONFIRM,
    };

    /// Log-odds that the candidate is a fall.
    pub fn score(&self, x: &[f32; N_FEATURES]) -> f32 {
        self.base + self.trees.iter().map(|t| t.eval(x)).sum::<f32>()
    }

    /// Probability that the candidate is a fall (0–1; 0 for non-finite input).
    pub fn probability(&self, x: &[f32; N_FEATURES]) -> f32 {
        if x.iter().any(|v| !v.is_finite()) {
            return 0.0;
        }
        let z = self.score(x);
        if z.is_nan() {
            return 0.0;
        }
        1.0 / (1.0 + (-z).exp())
    }
}

impl Default for FallModel {
    fn default() -> Self {
        Self::TRAINED
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_walk_and_bounds() {
        let mut t =
            Tree { feature: [0; TREE_SPLITS], threshold: [0.5; TREE_SPLITS], leaf: [0.0; TREE_LEAVES] };
        t.leaf = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0];
        t.feature[0] = 3;
        let mut x = [0.0; N_FEATURES];
        assert_eq!(t.eval(&x), 0.0);
        x[3] = 1.0; // right at the root, then left, left
        assert_eq!(t.eval(&x), 4.0);
        x[0] = 1.0; // right all the way
        assert_eq!(t.eval(&x), 7.0);
        let m = FallModel { trees: Cow::Owned(vec![t]), base: 0.0, threshold: 0.5, confirm: 0.5 };
        assert!((m.probability(&[0.0; N_FEATURES]) - 0.5).abs() < 1e-6);
        assert_eq!(m.probability(&[f32::NAN; N_FEATURES]), 0.0);
        let p = FallModel::TRAINED.probability(&[0.0; N_FEATURES]);
        assert!((0.0..=1.0).contains(&p));
    }
}
