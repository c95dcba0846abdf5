//! Poisson schedules of injected events (falls, SOS presses).
//!
//! A district-wide rate is split evenly over the generator shards: the superposition of
//! independent Poisson processes with rates λ/k is a Poisson process with rate λ.

use rand::RngCore;

use crate::rng::exponential;

/// Event times of a Poisson process, in wall-clock ms, drawn one ahead.
#[derive(Clone, Debug)]
pub struct Poisson {
    mean_gap_ms: f64,
    next_ms: Option<f64>,
}

impl Poisson {
    /// A process with `per_hour` events per hour starting at `start_ms`; none when the rate is 0.
    pub fn new(per_hour: f64, start_ms: i64, rng: &mut impl RngCore) -> Self {
        if !(per_hour.is_finite() && per_hour > 0.0) {
            return Poisson { mean_gap_ms: f64::INFINITY, next_ms: None };
        }
        let mean_gap_ms = 3_600_000.0 / per_hour;
        let first = start_ms as f64 + exponential(rng, mean_gap_ms);
        Poisson { mean_gap_ms, next_ms: Some(first) }
    }

    /// The next event time, if it is at or before `horizon_ms`; the schedule then moves on.
    pub fn take_before(&mut self, horizon_ms: i64, rng: &mut impl RngCore) -> Option<i64> {
        let t = self.next_ms?;
        if t.round() as i64 > horizon_ms {
            return None;
        }
        self.next_ms = Some(t + exponential(rng, self.mean_gap_ms));
        Some(t.round() as i64)
    }

    /// The time of the next event, without taking it.
    pub fn peek(&self) -> Option<i64> {
        self.next_ms.map(|t| t.round() as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn counts_and_gaps_match_the_rate() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        // 6 per hour over 2,000 hours: about 12,000 events, gaps averaging 10 minutes.
        let mut p = Poisson::new(6.0, 0, &mut rng);
        let end = 2_000 * 3_600_000i64;
        let mut times = Vec::new();
        while let Some(t) = p.take_before(end, &mut rng) {
            times.push(t);
        }
        let n = times.len() as f64;
        assert!((n - 12_000.0).abs() < 4.0 * 12_000f64.sqrt(), "{n}");
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
        let gaps: Vec<f64> = times.windows(2).map(|w| (w[1] - w[0]) as f64).collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        assert!((mean - 600_000.0).abs() < 20_000.0, "{mean}");
        // Exponential gaps: the standard deviation equals the mean, and ~63% are below it.
        let sd = (gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64).sqrt();
        assert!((sd / mean - 1.0).abs() < 0.05, "{sd}");
        let below = gaps.iter().filter(|&&g| g < mean).count() as f64 / gaps.len() as f64;
        assert!((below - (1.0 - (-1.0f64).exp())).abs() < 0.02, "{below}");
        // Counts per hour are Poisson: variance ≈ mean.
        let mut per_hour = vec![0u32; 2_000];
        for t in &times {
            per_hour[(*t / 3_600_000) as usize] += 1;
        }
        let m = per_hour.iter().map(|&c| f64::from(c)).sum::<f64>() / 2_000.0;
        let var = per_hour.iter().map(|&c| (f64::from(c) - m).powi(2)).sum::<f64>() / 2_000.0;
        assert!((var / m - 1.0).abs() < 0.15, "{m} {var}");
    }

    #[test]
    fn nothing_is_due_before_its_time_and_a_zero_rate_never_fires() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut p = Poisson::new(3600.0, 1_000, &mut rng);
        let first = p.peek().unwrap();
        assert!(first >= 1_000);
        assert_eq!(p.take_before(first - 1, &mut rng), None);
        assert_eq!(p.take_before(first, &mut rng), Some(first));
        assert!(p.peek().unwrap() >= first);
        let mut z = Poisson::new(0.0, 0, &mut rng);
        assert_eq!(z.take_before(i64::MAX, &mut rng), None);
        let mut nan = Poisson::new(f64::NAN, 0, &mut rng);
        assert_eq!(nan.take_before(i64::MAX, &mut rng), None);
    }
}
