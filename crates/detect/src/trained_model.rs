//! Placeholder parameters (hand-set) until the first training run overwrites this file.

use super::FallModel;

pub(crate) const TRAINED: FallModel = FallModel {
    mean: [0.0; 10],
    scale: [1.0; 10],
    weights: [1.0, -1.0, 2.0, 0.05, -10.0, -2.0, 0.02, 0.0, 0.0, 0.0],
    bias: -6.0,
    threshold: 0.5,
};
