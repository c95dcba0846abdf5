//! Trained fall-model parameters — generated, do not edit: `cargo run --release -p zhulao-fall-eval --example train` on 2345 trials of 19 SisFall subjects (SA01–SE07), 7930 candidates
//! Features, in order: peak_g, freefall_min_g, freefall_gs, tilt_change_deg, post_std_g, pre_std_g, post_tilt_deg, impact_width_s, horiz_std_g, post_mean_g.

use super::FallModel;

pub(crate) const TRAINED: FallModel = FallModel {
    mean: [
        3.1719692e0,
        3.8858974e-1,
        1.530019e-1,
        1.8012024e1,
        4.4766295e-1,
        4.5863602e-1,
        1.805775e1,
        1.839675e-1,
        3.4396085e-1,
        1.15019e0,
    ],
    scale: [
        1.9764209e0,
        2.5170022e-1,
        8.2354225e-2,
        3.1364035e1,
        3.5397187e-1,
        3.5264626e-1,
        3.0270182e1,
        1.4761366e-1,
        2.9573122e-1,
        1.8322143e-1,
    ],
    weights: [
        8.626209e-1,
        -4.674562e-1,
        5.571594e-1,
        1.3778784e0,
        -1.7071491e0,
        -1.8124857e0,
        1.5049661e0,
        3.2726958e-1,
        2.4850223e0,
        4.3351847e-1,
    ],
    bias: -5.779279e0,
    threshold: 8.10771e-1,
};
