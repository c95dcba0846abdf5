//! Trained fall-model parameters — generated, do not edit: `cargo run --release -p zhulao-fall-eval --example train` on 2345 trials of 19 SisFall subjects (SA01–SE07), 7959 candidates
//! Features, in order: peak_g, freefall_min_g, freefall_gs, tilt_change_deg, post_std_g, pre_std_g, post_tilt_deg, impact_width_s, horiz_std_g, post_mean_g.

use super::FallModel;

pub(crate) const TRAINED: FallModel = FallModel {
    mean: [
        1.0590812e0,
        3.8819584e-1,
        -1.9751747e0,
        1.815853e1,
        -1.1566906e0,
        -1.1384327e0,
        1.8659218e1,
        -2.030146e0,
        -1.2966086e0,
        1.149154e0,
    ],
    scale: [
        4.6743906e-1,
        2.5171086e-1,
        6.3060635e-1,
        3.1484018e1,
        9.64577e-1,
        1.0120189e0,
        3.0693815e1,
        9.6090186e-1,
        7.054478e-1,
        1.8317585e-1,
    ],
    weights: [
        1.1573792e0,
        -2.4238883e-1,
        5.210013e-2,
        5.303966e-1,
        -7.3900825e-1,
        -3.6352602e-1,
        2.8526533e0,
        6.023186e-1,
        2.577307e0,
        -2.9484263e-1,
    ],
    bias: -6.9354615e0,
    threshold: 8.195991e-1,
};
