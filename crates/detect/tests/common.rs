//! Shared synthetic traces for the integration tests (continuous functions of time, sampled at any rate).

#![allow(dead_code)]

use std::borrow::Cow;

use zhulao_detect::{FallConfig, FallFeatures, FallModel, MotionSample, TREE_LEAVES, TREE_SPLITS, Tree};

pub const T0: i64 = 1_704_067_200_000; // 2024-01-01 08:00 Beijing time

/// Walking upright: the device reads about [0, −1, 0] g (as SisFall's waist device), with steps.
pub fn walking(t: f64) -> [f32; 3] {
    let w = std::f64::consts::TAU * 1.8 * t;
    [(0.05 * (w + 1.0).sin()) as f32, (-1.0 + 0.25 * w.sin()) as f32, (0.1 * (w / 2.0).sin()) as f32]
}

/// Lying still on the side: gravity along +Z, with a breath of noise.
pub fn lying(t: f64) -> [f32; 3] {
    [0.004 * (7.0 * t).sin() as f32, 0.003 * (5.0 * t).cos() as f32, 1.0]
}

/// Walks until 10 s, falls (0.4 s of free fall, a 6 g impact peaking at 10.47 s), then lies
/// still; with `get_up_at`, walks again from then on.
pub fn fall(t: f64, get_up_at: Option<f64>) -> [f32; 3] {
    match t {
        t if t < 10.0 => walking(t),
        t if t < 10.4 => [0.0, -0.2, 0.0],
        t if t < 10.55 => {
            let mag = 1.0 + 5.0 * (1.0 - (t - 10.47).abs() / 0.08).max(0.0);
            let d = [0.5f64, -0.8, 0.33];
            let n = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt();
            [(d[0] / n * mag) as f32, (d[1] / n * mag) as f32, (d[2] / n * mag) as f32]
        }
        t if get_up_at.is_some_and(|g| t >= g) => walking(t),
        t => lying(t),
    }
}

/// Samples `f` at `hz` from 0 to `secs` seconds, starting at `T0`.
pub fn sample(f: impl Fn(f64) -> [f32; 3], hz: u32, secs: f64) -> Vec<MotionSample> {
    let n = (secs * hz as f64) as usize;
    (0..n)
        .map(|i| {
            let t_ms = i as i64 * 1000 / hz as i64;
            MotionSample::accel(T0 + t_ms, f(t_ms as f64 / 1000.0))
        })
        .collect()
}

fn index(name: &str) -> u8 {
    FallFeatures::NAMES.iter().position(|n| *n == name).expect("feature") as u8
}

/// A transparent rule as a one-tree model: fall when peak > 3 g and lying (> 60°) afterwards.
pub fn rule_model() -> FallModel {
    let mut tree = Tree {
        feature: [0; TREE_SPLITS],
        threshold: [f32::INFINITY; TREE_SPLITS],
        leaf: [-10.0; TREE_LEAVES],
    };
    tree.feature[0] = index("peak_g");
    tree.threshold[0] = 3.0;
    tree.feature[2] = index("post_tilt_deg");
    tree.threshold[2] = 60.0;
    // Node 6 (peak and tilt both high) keeps threshold +inf: always left, to leaf 6.
    tree.leaf[6] = 10.0;
    FallModel { trees: Cow::Owned(vec![tree]), base: 0.0, threshold: 0.5, confirm: 0.5 }
}

pub fn rule_config() -> FallConfig {
    FallConfig { model: rule_model(), ..FallConfig::default() }
}

/// Rotates a vector: 30° about X, then 45° about Z (the device worn askew).
pub fn rotate(v: [f32; 3]) -> [f32; 3] {
    let (s1, c1) = 30f32.to_radians().sin_cos();
    let (s2, c2) = 45f32.to_radians().sin_cos();
    let a = [v[0], c1 * v[1] - s1 * v[2], s1 * v[1] + c1 * v[2]];
    [c2 * a[0] - s2 * a[1], s2 * a[0] + c2 * a[1], a[2]]
}
