//! One-second summaries of the 100 Hz stream, for the slow rules (posture, inactivity, wear).

/// Statistics of one second of acceleration (ticks `k` with `k / 100` equal).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BlockStats {
    /// End of the block (Unix ms): the time just after its last tick.
    pub end_ms: i64,
    /// Number of ticks in the block (up to 100; fewer after a break).
    pub n: u32,
    /// Mean acceleration vector in g: the gravity direction when still.
    pub mean: [f32; 3],
    /// Standard deviation of each axis, g.
    pub axis_std: [f32; 3],
    /// Overall variability, g: `sqrt(Σ axis_std²)`, the standard deviation of the vector
    /// (rotation-invariant; no square root per sample needed).
    pub std_g: f32,
}

/// Accumulates ticks into [`BlockStats`]; values are shifted by the block's first sample so
/// single-precision sums of squares stay exact enough for sensor-noise-level deviations.
#[derive(Default)]
pub(crate) struct BlockAccumulator {
    /// Last tick of the current block (`None` before the first tick): one comparison per tick.
    last_tick: Option<i64>,
    n: u32,
    origin: [f32; 3],
    sum: [f32; 3],
    sq: [f32; 3],
}

pub(crate) const BLOCK_TICKS: i64 = 100;
/// Blocks with fewer ticks than this (after a break) are discarded.
const MIN_TICKS: u32 = 50;

impl BlockAccumulator {
    pub(crate) fn reset(&mut self) {
        *self = Self::default();
    }

    /// Adds one tick; returns the finished block when `k` is the last tick of its second.
    pub(crate) fn add(&mut self, k: i64, acc: [f32; 3]) -> Option<BlockStats> {
        let in_block = self.last_tick.is_some_and(|l| k <= l && k > l - BLOCK_TICKS);
        if !in_block {
            *self = Self {
                last_tick: Some(k.div_euclid(BLOCK_TICKS) * BLOCK_TICKS + BLOCK_TICKS - 1),
                origin: acc,
                ..Self::default()
            };
        }
        self.n += 1;
        let d = [acc[0] - self.origin[0], acc[1] - self.origin[1], acc[2] - self.origin[2]];
        self.sum = [self.sum[0] + d[0], self.sum[1] + d[1], self.sum[2] + d[2]];
        self.sq = [self.sq[0] + d[0] * d[0], self.sq[1] + d[1] * d[1], self.sq[2] + d[2] * d[2]];
        if Some(k) != self.last_tick {
            return None;
        }
        let n = self.n;
        self.last_tick = None;
        if n < MIN_TICKS {
            return None;
        }
        let nf = n as f32;
        let mut mean = [0.0; 3];
        let mut axis_std = [0.0; 3];
        for i in 0..3 {
            let m = self.sum[i] / nf;
            mean[i] = self.origin[i] + m;
            axis_std[i] = (self.sq[i] / nf - m * m).max(0.0).sqrt();
        }
        Some(BlockStats {
            end_ms: (k + 1) * crate::resample::TICK_MS,
            n,
            mean,
            axis_std,
            std_g: (axis_std[0] * axis_std[0] + axis_std[1] * axis_std[1] + axis_std[2] * axis_std[2]).sqrt(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summarises_a_second() {
        let mut acc = BlockAccumulator::default();
        let mut out = None;
        for k in 100..200 {
            let x = if k % 2 == 0 { 0.01 } else { -0.01 };
            if let Some(b) = acc.add(k, [x, -1.0, 0.0]) {
                out = Some(b);
            }
        }
        let b = out.expect("block");
        assert_eq!((b.n, b.end_ms), (100, 2000));
        assert!((b.axis_std[0] - 0.01).abs() < 1e-4);
        assert!(b.axis_std[1] < 1e-6);
        assert!((b.mean[1] + 1.0).abs() < 1e-6);
    }

    #[test]
    fn discards_partial_blocks() {
        let mut acc = BlockAccumulator::default();
        assert!((170..200).all(|k| acc.add(k, [0.0, 1.0, 0.0]).is_none()));
    }
}
