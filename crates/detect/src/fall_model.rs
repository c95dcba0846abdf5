//! The fall model: logistic regression over standardised window features, trained offline.
//!
//! The trained parameters live in `trained_model.rs`, written by
//! `cargo run --release -p zhulao-fall-eval --example train`.

#[path = "trained_model.rs"]
mod trained;

/// Number of model inputs ([`crate::FallFeatures::to_array`]).
pub const N_FEATURES: usize = 10;

/// Magnitude-like features enter the model as `ln(x + offset)`, so that the linear model
/// combines them multiplicatively (a hard impact *and* a lying posture); others enter as they are.
pub const LOG_OFFSET: [f32; N_FEATURES] = [0.1, 0.0, 0.01, 0.0, 0.01, 0.01, 0.0, 0.01, 0.01, 0.0];

/// Model inputs from raw features: [`LOG_OFFSET`] applied, non-finite values mapped to 0.
pub fn model_inputs(x: &[f32; N_FEATURES]) -> [f32; N_FEATURES] {
    std::array::from_fn(|i| {
        let v = if LOG_OFFSET[i] > 0.0 {
            (x[i].max(0.0) + LOG_OFFSET[i]).ln()
        } else {
            x[i]
        };
        if v.is_finite() { v } else { 0.0 }
    })
}

/// A logistic-regression model over [`model_inputs`]:
/// `p = σ(bias + Σ wᵢ (uᵢ − meanᵢ) / scaleᵢ)`; alarm when `p ≥ threshold`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FallModel {
    pub mean: [f32; N_FEATURES],
    pub scale: [f32; N_FEATURES],
    pub weights: [f32; N_FEATURES],
    pub bias: f32,
    pub threshold: f32,
}

impl FallModel {
    /// The model trained on the SisFall development split, shipped with the crate.
    pub const TRAINED: FallModel = trained::TRAINED;

    /// Probability that the candidate is a fall (0–1; 0 for non-finite input).
    pub fn probability(&self, x: &[f32; N_FEATURES]) -> f32 {
        if x.iter().any(|v| !v.is_finite()) {
            return 0.0;
        }
        let x = model_inputs(x);
        let mut z = self.bias;
        for i in 0..N_FEATURES {
            let s = if self.scale[i] > 0.0 {
                self.scale[i]
            } else {
                1.0
            };
            z += self.weights[i] * (x[i] - self.mean[i]) / s;
        }
        if !z.is_finite() {
            return if z == f32::INFINITY { 1.0 } else { 0.0 };
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
    fn sigmoid_bounds() {
        let mut m = FallModel::TRAINED;
        m.weights = [0.0; N_FEATURES];
        m.bias = 0.0;
        assert_eq!(m.probability(&[1.0; N_FEATURES]), 0.5);
        m.weights[0] = 1.0;
        assert_eq!(m.probability(&[f32::NAN; N_FEATURES]), 0.0);
        let p = FallModel::TRAINED.probability(&[0.0; N_FEATURES]);
        assert!((0.0..=1.0).contains(&p));
    }
}
