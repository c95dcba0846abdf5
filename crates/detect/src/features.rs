//! The window features a fall decision is made on, computed from the acceleration ring.
//!
//! All features are rotation-invariant: they use magnitudes and angles between mean
//! acceleration vectors, never a fixed device axis. Windows are in ticks (10 ms) relative to
//! the impact peak `p`: gravity before `[p-200, p-100)`, free fall `[p-100, p)`, activity before
//! `[p-250, p-50)`, impact `[p-50, p+50)`, after `[p+40, decision)`.

use crate::event::Posture;
use crate::fall_model::N_FEATURES;

pub(crate) const RING: usize = 1024;
const MASK: i64 = RING as i64 - 1;

/// The features of one candidate impact.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FallFeatures {
    /// Peak acceleration magnitude, g.
    pub peak_g: f32,
    /// Lowest magnitude in the second before the peak (free fall goes towards 0 g).
    pub freefall_min_g: f32,
    /// Integral of (1 g − magnitude)⁺ over the second before the peak, g·s (≈ fall speed / g).
    pub freefall_gs: f32,
    /// Angle between gravity before and after the impact, degrees.
    pub tilt_change_deg: f32,
    /// Magnitude standard deviation after the impact, g (lying still is near 0).
    pub post_std_g: f32,
    /// Magnitude standard deviation before the impact, g (walking, jogging).
    pub pre_std_g: f32,
    /// Angle between gravity after the impact and the upright reference, degrees.
    pub post_tilt_deg: f32,
    /// Time above 1.6 g within ±0.5 s of the peak, s.
    pub impact_width_s: f32,
    /// Standard deviation of the horizontal acceleration (perpendicular to gravity before) around the impact, g.
    pub horiz_std_g: f32,
    /// Mean magnitude after the impact, g.
    pub post_mean_g: f32,
    /// Impact energy: integral of (magnitude − 1 g)² within ±0.5 s of the peak, g²·s.
    pub impact_energy: f32,
    /// Steepest rise of the magnitude into the peak (0.2 s before to 0.05 s after), g/s.
    pub jerk_gps: f32,
    /// Rotation before the impact: gravity before vs. 0.3–0.1 s before the peak, degrees.
    pub pre_rotation_deg: f32,
    /// Largest descent-speed proxy: most negative running integral of (magnitude − 1 g) over the 1.5 s before the peak, g·s.
    pub descent_gs: f32,
    /// Gravity before the impact against the upright reference, degrees: a wearer already
    /// lying (rolling over in bed) is not falling.
    pub pre_tilt_deg: f32,
    /// The same 5–4 s before the peak, before a slow collapse began (or the earliest second
    /// since the stream started, if later).
    pub early_tilt_deg: f32,
    /// Largest angular rate seen since the candidate opened, °/s (0 without gyroscope; informative only).
    pub gyro_peak_dps: f32,
}

impl FallFeatures {
    /// The model's input vector (every field but the gyroscope's).
    pub fn to_array(&self) -> [f32; N_FEATURES] {
        [
            self.peak_g,
            self.freefall_min_g,
            self.freefall_gs,
            self.tilt_change_deg,
            self.post_std_g,
            self.pre_std_g,
            self.post_tilt_deg,
            self.impact_width_s,
            self.horiz_std_g,
            self.post_mean_g,
            self.impact_energy,
            self.jerk_gps,
            self.pre_rotation_deg,
            self.descent_gs,
            self.pre_tilt_deg,
            self.early_tilt_deg,
        ]
    }

    /// Names of [`FallFeatures::to_array`]'s entries.
    pub const NAMES: [&'static str; N_FEATURES] = [
        "peak_g",
        "freefall_min_g",
        "freefall_gs",
        "tilt_change_deg",
        "post_std_g",
        "pre_std_g",
        "post_tilt_deg",
        "impact_width_s",
        "horiz_std_g",
        "post_mean_g",
        "impact_energy",
        "jerk_gps",
        "pre_rotation_deg",
        "descent_gs",
        "pre_tilt_deg",
        "early_tilt_deg",
    ];
}

pub(crate) fn norm(a: [f32; 3]) -> f32 {
    (a[0] * a[0] + a[1] * a[1] + a[2] * a[2]).sqrt()
}

/// Angle between two vectors in degrees (0 when either is degenerate).
pub(crate) fn angle_deg(a: [f32; 3], b: [f32; 3]) -> f32 {
    let na = norm(a);
    let nb = norm(b);
    if na < 1e-3 || nb < 1e-3 {
        return 0.0;
    }
    let c = (a[0] * b[0] + a[1] * b[1] + a[2] * b[2]) / (na * nb);
    c.clamp(-1.0, 1.0).acos().to_degrees()
}

/// Posture from the angle to the upright reference.
pub(crate) fn posture(tilt_deg: f32) -> Posture {
    if tilt_deg < 35.0 {
        Posture::Upright
    } else if tilt_deg <= 60.0 {
        Posture::Reclined
    } else {
        Posture::Lying
    }
}

/// A read-only view of the acceleration ring (milli-g, 100 Hz) with the range of valid ticks.
pub(crate) struct RingView<'a> {
    pub ring: &'a [[i16; 3]; RING],
    /// First tick after the last stream break.
    pub valid_from: i64,
    /// The newest tick written.
    pub now: i64,
}

impl RingView<'_> {
    fn range(&self, a: i64, b: i64) -> std::ops::Range<i64> {
        let lo = a.max(self.valid_from).max(self.now - MASK);
        let hi = b.min(self.now + 1);
        lo..hi.max(lo)
    }

    pub(crate) fn at(&self, k: i64) -> [f32; 3] {
        let v = self.ring[(k & MASK) as usize];
        [v[0] as f32 * 1e-3, v[1] as f32 * 1e-3, v[2] as f32 * 1e-3]
    }

    /// Mean vector over `[a, b)`, or `None` when no valid tick is there.
    pub(crate) fn mean(&self, a: i64, b: i64) -> Option<[f32; 3]> {
        let r = self.range(a, b);
        let n = (r.end - r.start) as f32;
        if n < 1.0 {
            return None;
        }
        let mut s = [0.0f32; 3];
        for k in r {
            let v = self.at(k);
            s[0] += v[0];
            s[1] += v[1];
            s[2] += v[2];
        }
        Some([s[0] / n, s[1] / n, s[2] / n])
    }

    /// Mean and standard deviation of `f(sample)` over `[a, b)`.
    fn stats(&self, a: i64, b: i64, f: impl Fn([f32; 3]) -> f32) -> (f32, f32) {
        let r = self.range(a, b);
        let n = (r.end - r.start) as f32;
        if n < 1.0 {
            return (0.0, 0.0);
        }
        let (mut s, mut sq) = (0.0f32, 0.0f32);
        for k in r {
            let x = f(self.at(k));
            s += x;
            sq += x * x;
        }
        let m = s / n;
        (m, (sq / n - m * m).max(0.0).sqrt())
    }

    /// The late look of the candidate with peak `p`, over the second before tick `end`:
    /// within 25° of the gravity direction held before the impact, and moving (the
    /// magnitude's deviation above 0.05 g, a slow walk's) — a stumble walked on from. After a
    /// fall the wearer lies (on the SisFall development split every fall is at least 29° from
    /// its posture before, bar one the model misses anyway, and lies still).
    pub(crate) fn walked_on(&self, p: i64, end: i64) -> bool {
        let before = self.mean(p - 200, p - 100).or_else(|| self.mean(p - 250, p - 50));
        let late = self.mean(end - 100, end);
        let (_, moving) = self.stats(end - 100, end, norm);
        matches!((before, late), (Some(b), Some(l)) if angle_deg(b, l) < 25.0) && moving > 0.05
    }

    /// Computes the features of the candidate with peak at tick `p`.
    pub(crate) fn features(&self, p: i64, upright: Option<[f32; 3]>) -> (FallFeatures, [f32; 3]) {
        let peak_g = norm(self.at(p));
        let pre_grav = self.mean(p - 200, p - 100).or_else(|| self.mean(p - 250, p - 50));
        let post = self.mean(p + 40, self.now + 1).unwrap_or([0.0; 3]);

        let mut freefall_min_g = peak_g;
        let mut freefall_gs = 0.0;
        for k in self.range(p - 100, p) {
            let m = norm(self.at(k));
            freefall_min_g = freefall_min_g.min(m);
            freefall_gs += (1.0 - m).max(0.0) * 0.01;
        }
        let mut above = 0u32;
        let mut impact_energy = 0.0;
        for k in self.range(p - 50, p + 50) {
            let m = norm(self.at(k));
            if m > 1.6 {
                above += 1;
            }
            impact_energy += (m - 1.0) * (m - 1.0) * 0.01;
        }
        let mut jerk_gps = 0.0f32;
        let r = self.range(p - 20, p + 5);
        let mut prev = (r.start > self.valid_from).then(|| norm(self.at(r.start - 1)));
        for k in r {
            let m = norm(self.at(k));
            if let Some(q) = prev {
                jerk_gps = jerk_gps.max((m - q) / 0.01);
            }
            prev = Some(m);
        }
        let (mut run, mut descent_gs) = (0.0f32, 0.0f32);
        for k in self.range(p - 150, p) {
            run += (norm(self.at(k)) - 1.0) * 0.01;
            descent_gs = descent_gs.min(run);
            run = run.min(0.0);
        }
        let late_pre = self.mean(p - 30, p - 10);
        // The earliest second of the last 5 s that the ring still holds after any break.
        let early = self.range(p - 500, p).start;
        let (post_mean_g, post_std_g) = self.stats(p + 40, self.now + 1, norm);
        let (_, pre_std_g) = self.stats(p - 250, p - 50, norm);
        let reference = upright.or(pre_grav).unwrap_or(post);
        let horiz_std_g = match pre_grav {
            Some(g) if norm(g) > 0.3 => {
                let n = norm(g);
                let u = [g[0] / n, g[1] / n, g[2] / n];
                self.stats(p - 50, p + 50, |a| {
                    let d = a[0] * u[0] + a[1] * u[1] + a[2] * u[2];
                    norm([a[0] - d * u[0], a[1] - d * u[1], a[2] - d * u[2]])
                })
                .1
            }
            _ => 0.0,
        };
        let f = FallFeatures {
            peak_g,
            freefall_min_g,
            freefall_gs,
            tilt_change_deg: pre_grav.map_or(0.0, |g| angle_deg(g, post)),
            post_std_g,
            pre_std_g,
            post_tilt_deg: angle_deg(reference, post),
            impact_width_s: above as f32 * 0.01,
            horiz_std_g,
            post_mean_g,
            impact_energy,
            jerk_gps,
            pre_rotation_deg: match (pre_grav, late_pre) {
                (Some(a), Some(b)) => angle_deg(a, b),
                _ => 0.0,
            },
            descent_gs: -descent_gs,
            pre_tilt_deg: match (upright, pre_grav) {
                (Some(u), Some(g)) => angle_deg(u, g),
                _ => 0.0,
            },
            early_tilt_deg: match (upright, self.mean(early, (early + 100).min(p - 100)).or(pre_grav)) {
                (Some(u), Some(g)) => angle_deg(u, g),
                _ => 0.0,
            },
            gyro_peak_dps: 0.0,
        };
        (f, post)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn angles() {
        assert!((angle_deg([0.0, 1.0, 0.0], [1.0, 0.0, 0.0]) - 90.0).abs() < 1e-3);
        assert_eq!(angle_deg([0.0; 3], [1.0, 0.0, 0.0]), 0.0);
        assert_eq!(posture(10.0), Posture::Upright);
        assert_eq!(posture(45.0), Posture::Reclined);
        assert_eq!(posture(80.0), Posture::Lying);
    }

    #[test]
    fn features_of_a_synthetic_fall() {
        let mut ring = Box::new([[0i16; 3]; RING]);
        // Standing (y = -1 g) until tick 900, free fall 900..960, impact 6 g at 1000, lying (x = 1 g) after.
        for k in 0..1080i64 {
            let v: [i16; 3] = match k {
                ..900 => [0, -1000, 0],
                900..1000 => [0, -200, 0],
                1000 => [3000, -5000, 1000],
                _ => [1000, 0, 0],
            };
            ring[(k & MASK) as usize] = v;
        }
        let view = RingView { ring: &ring, valid_from: 0, now: 1079 };
        let (f, _) = view.features(1000, None);
        assert!(f.peak_g > 5.8);
        assert!(f.freefall_min_g < 0.25);
        assert!((f.freefall_gs - 0.8).abs() < 0.01);
        assert!((f.tilt_change_deg - 90.0).abs() < 0.5);
        assert!(f.post_std_g < 1e-3);
        assert!((f.post_tilt_deg - 90.0).abs() < 0.5);
    }

    #[test]
    fn empty_windows_are_harmless() {
        let ring = Box::new([[0i16; 3]; RING]);
        let view = RingView { ring: &ring, valid_from: 500, now: 500 };
        let (f, _) = view.features(500, None);
        assert!(f.to_array().iter().all(|v| v.is_finite()));
    }
}
