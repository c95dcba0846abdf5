//! A tiny, fast per-wearer random generator (wyrand) and the few distributions the simulator needs.
//!
//! Each wearer draws sensor noise for every sample, two million times a second at full scale, so
//! the generator must be a handful of instructions; ChaCha is kept for the district-level schedule.

use rand::RngCore;

/// wyrand: 64-bit state, one multiply per output. Not cryptographic; plenty for sensor noise.
#[derive(Clone, Debug)]
pub struct WyRand(u64);

impl WyRand {
    pub fn new(seed: u64) -> Self {
        WyRand(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    #[inline(always)]
    pub fn next_raw(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0xa076_1d64_78bd_642f);
        let t = u128::from(self.0) * u128::from(self.0 ^ 0xe703_7ed1_a0b4_28db);
        ((t >> 64) as u64) ^ (t as u64)
    }

    /// Uniform in `[0, 1)`.
    #[inline]
    pub fn unit(&mut self) -> f64 {
        (self.next_raw() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Three independent triangular noise values in `[-1, 1]` (standard deviation 1/√6 ≈ 0.408)
    /// from one draw: each is the sum of two 10-bit uniforms, centred.
    #[inline(always)]
    pub fn tri3(&mut self) -> [f32; 3] {
        let r = self.next_raw();
        let u = |k: u32| ((r >> (k * 10)) & 0x3ff) as i32;
        const S: f32 = 1.0 / 1023.0;
        [(u(0) + u(1) - 1023) as f32 * S, (u(2) + u(3) - 1023) as f32 * S, (u(4) + u(5) - 1023) as f32 * S]
    }

    /// Standard normal (Box–Muller; used a few times per report, not per sample).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.unit().max(f64::MIN_POSITIVE);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

impl RngCore for WyRand {
    fn next_u32(&mut self) -> u32 {
        (self.next_raw() >> 32) as u32
    }

    fn next_u64(&mut self) -> u64 {
        self.next_raw()
    }

    fn fill_bytes(&mut self, dst: &mut [u8]) {
        for chunk in dst.chunks_mut(8) {
            let b = self.next_raw().to_le_bytes();
            chunk.copy_from_slice(&b[..chunk.len()]);
        }
    }
}

/// An exponential waiting time with the given mean (the gap between Poisson events).
pub fn exponential(rng: &mut impl RngCore, mean: f64) -> f64 {
    let u = (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
    -(1.0 - u).ln() * mean
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_is_centred_with_the_expected_spread() {
        let mut r = WyRand::new(7);
        let n = 200_000;
        let (mut sum, mut sq) = ([0f64; 3], [0f64; 3]);
        for _ in 0..n {
            let v = r.tri3();
            for k in 0..3 {
                assert!((-1.0..=1.0).contains(&v[k]));
                sum[k] += f64::from(v[k]);
                sq[k] += f64::from(v[k]) * f64::from(v[k]);
            }
        }
        for k in 0..3 {
            let mean = sum[k] / n as f64;
            let sd = (sq[k] / n as f64 - mean * mean).sqrt();
            assert!(mean.abs() < 0.01, "{mean}");
            assert!((sd - 1.0 / 6f64.sqrt()).abs() < 0.01, "{sd}");
        }
    }

    #[test]
    fn normal_and_exponential_moments() {
        let mut r = WyRand::new(3);
        let n = 100_000;
        let xs: Vec<f64> = (0..n).map(|_| r.normal()).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.02 && (var - 1.0).abs() < 0.03, "{mean} {var}");
        let e = (0..n).map(|_| exponential(&mut r, 5.0)).sum::<f64>() / n as f64;
        assert!((e - 5.0).abs() < 0.1, "{e}");
    }
}
