//! Response-time statistics per step of the chain: median, 90th percentile and the share
//! within target.

use serde::Serialize;

use crate::{AlarmCase, Policy};

/// A step whose duration is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Raised → answered by an operator.
    Answer,
    /// Answered → first responder dispatched.
    Dispatch,
    /// Raised → responder on site.
    OnSite,
    /// Raised → a family member confirmed.
    Family,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepStats {
    pub step: Step,
    /// Alarms that completed this step.
    pub count: usize,
    pub p50_ms: Option<i64>,
    pub p90_ms: Option<i64>,
    pub target_ms: Option<i64>,
    /// Share of completed steps within the target (0–1).
    pub within_target: Option<f64>,
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

/// How long one case took over a step, if it got there.
type Measure = fn(&AlarmCase) -> Option<i64>;

/// Statistics over `cases` for every step.
pub fn response_stats(cases: &[AlarmCase], policy: &Policy) -> Vec<StepStats> {
    let s = |secs: u32| Some(secs as i64 * 1000);
    let steps: [(Step, Option<i64>, Measure); 4] = [
        (Step::Answer, s(policy.answer_target_s), |c| c.answered_at.map(|t| t - c.raised_at)),
        (Step::Dispatch, None, |c| Some(c.offers.first()?.offered_at - c.answered_at?)),
        (Step::OnSite, s(policy.on_site_target_s), |c| c.on_site_at.map(|t| t - c.raised_at)),
        (Step::Family, s(policy.family_target_s), |c| c.family.confirmed_at.map(|t| t - c.raised_at)),
    ];
    steps
        .into_iter()
        .map(|(step, target_ms, measure)| {
            let mut v: Vec<i64> = cases.iter().filter_map(measure).map(|d| d.max(0)).collect();
            v.sort_unstable();
            let within_target = target_ms
                .filter(|_| !v.is_empty())
                .map(|t| v.iter().filter(|&&d| d <= t).count() as f64 / v.len() as f64);
            StepStats {
                step,
                count: v.len(),
                p50_ms: percentile(&v, 0.5),
                p90_ms: percentile(&v, 0.9),
                target_ms,
                within_target,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AlarmKind, Command};

    #[test]
    fn percentiles_and_share_within_target() {
        let cases: Vec<AlarmCase> = (1..=10)
            .map(|i| {
                let (mut c, _) = AlarmCase::raise(AlarmKind::Sos, 0, 0);
                c.apply(&Command::Answer { by: 1 }, i * 5_000).unwrap();
                c
            })
            .collect();
        let stats = response_stats(&cases, &Policy::default());
        let answer = &stats[0];
        assert_eq!((answer.count, answer.p50_ms, answer.p90_ms), (10, Some(25_000), Some(45_000)));
        assert_eq!(answer.within_target, Some(0.6));
        assert_eq!(stats[2].count, 0);
        assert_eq!(stats[2].within_target, None);
    }
}
