//! The retry policy shared by the webhook and SMTP channels, and the loop that runs the attempts,
//! times them, logs them (masked) and sleeps between them on tokio's clock.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::{Attempt, Clock, DeliveryOutcome};

/// How a channel retries: at most `max_attempts` tries, each bounded by `attempt_timeout`; after a
/// retryable failure it sleeps an exponential backoff with jitter — for the n-th failure a random
/// delay in `[d/2, d)` with `d = min(max_delay, base_delay · 2^(n-1))` — or, when the other side
/// sent `Retry-After`, exactly that, capped at `max_delay`. A permanent failure stops at once.
///
/// The defaults (4 tries, 0.5 s base, 10 s cap, 10 s per try) bound one `send` to about a minute,
/// so the caller can move on to the next contact while the alarm is still fresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries in all, the first included; 0 counts as 1.
    pub max_attempts: u32,
    pub base_delay: Duration,
    /// Caps the backoff and any `Retry-After`.
    pub max_delay: Duration,
    /// Bounds one try from connect to the last byte of the answer.
    pub attempt_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(10),
            attempt_timeout: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// The backoff after the `failed_attempt`-th try (1-based) failed, for `unit` drawn uniformly
    /// from `[0, 1)`.
    pub fn backoff(&self, failed_attempt: u32, unit: f64) -> Duration {
        let doublings = failed_attempt.saturating_sub(1).min(30);
        let full = self.base_delay.saturating_mul(1 << doublings).min(self.max_delay);
        let half = full / 2;
        half + half.mul_f64(unit.clamp(0.0, 1.0))
    }

    /// The sleep before the next try: the server's `Retry-After` (capped) if it sent one, else the backoff.
    pub fn delay(&self, failed_attempt: u32, retry_after: Option<Duration>, unit: f64) -> Duration {
        match retry_after {
            Some(after) => after.min(self.max_delay),
            None => self.backoff(failed_attempt, unit),
        }
    }
}

/// What one try of a channel produced.
#[derive(Debug)]
pub(crate) struct Step {
    pub outcome: DeliveryOutcome,
    pub status: Option<u16>,
    pub detail: String,
    pub retry_after: Option<Duration>,
}

impl Step {
    pub fn delivered(status: Option<u16>, detail: impl Into<String>) -> Step {
        Step { outcome: DeliveryOutcome::Delivered, status, detail: detail.into(), retry_after: None }
    }

    pub fn failed(retryable: bool, status: Option<u16>, detail: impl Into<String>) -> Step {
        Step {
            outcome: DeliveryOutcome::Failed { retryable },
            status,
            detail: detail.into(),
            retry_after: None,
        }
    }
}

/// Who is being tried, for the attempts and the log.
pub(crate) struct Target<'a> {
    pub channel: &'static str,
    /// Already masked.
    pub target: &'a str,
    pub notification_id: &'a str,
    pub alarm_id: i64,
}

/// Runs `try_once(attempt, started_at_ms)` until it delivers, fails permanently or the attempts run
/// out; each try is cut off after `policy.attempt_timeout`. `unit` draws the jitter.
pub(crate) async fn run<F, Fut>(
    who: &Target<'_>,
    policy: &RetryPolicy,
    clock: &dyn Clock,
    unit: fn() -> f64,
    mut try_once: F,
) -> Vec<Attempt>
where
    F: FnMut(u32, i64) -> Fut,
    Fut: Future<Output = Step>,
{
    let max_attempts = policy.max_attempts.max(1);
    let mut attempts = Vec::with_capacity(max_attempts as usize);
    for n in 1..=max_attempts {
        let started_at_ms = clock.now_ms();
        let t0 = Instant::now();
        let step = match tokio::time::timeout(policy.attempt_timeout, try_once(n, started_at_ms)).await {
            Ok(step) => step,
            Err(_) => {
                Step::failed(true, None, format!("timed out after {} ms", policy.attempt_timeout.as_millis()))
            }
        };
        let attempt = Attempt {
            channel: who.channel,
            target: who.target.to_owned(),
            attempt: n,
            started_at_ms,
            duration_ms: u64::try_from(t0.elapsed().as_millis()).unwrap_or(u64::MAX),
            outcome: step.outcome,
            status: step.status,
            detail: step.detail,
        };
        log(who, &attempt);
        attempts.push(attempt);
        match step.outcome {
            DeliveryOutcome::Delivered | DeliveryOutcome::Failed { retryable: false } => break,
            DeliveryOutcome::Failed { retryable: true } if n < max_attempts => {
                tokio::time::sleep(policy.delay(n, step.retry_after, unit())).await;
            }
            DeliveryOutcome::Failed { retryable: true } => {}
        }
    }
    attempts
}

/// One event per attempt; every field is masked or fixed text.
fn log(who: &Target<'_>, a: &Attempt) {
    let status = a.status.unwrap_or(0);
    if a.outcome.is_delivered() {
        tracing::info!(
            channel = who.channel, target = who.target, notification = who.notification_id,
            alarm_id = who.alarm_id, attempt = a.attempt, status, duration_ms = a.duration_ms,
            detail = %a.detail, "notification delivered"
        );
    } else {
        tracing::warn!(
            channel = who.channel, target = who.target, notification = who.notification_id,
            alarm_id = who.alarm_id, attempt = a.attempt, status, duration_ms = a.duration_ms,
            outcome = ?a.outcome, detail = %a.detail, "notification attempt failed"
        );
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1_000),
            attempt_timeout: Duration::from_millis(500),
        }
    }

    const WHO: Target<'static> = Target { channel: "test", target: "t", notification_id: "n-1", alarm_id: 1 };

    #[test]
    fn backoff_doubles_with_jitter_and_caps() {
        let p = policy();
        assert_eq!(p.backoff(1, 0.0), Duration::from_millis(50));
        assert!(p.backoff(1, 0.999_999) < Duration::from_millis(100));
        assert_eq!(p.backoff(2, 0.5), Duration::from_millis(150));
        assert_eq!(p.backoff(3, 0.0), Duration::from_millis(200));
        assert_eq!(p.backoff(5, 0.0), Duration::from_millis(500), "capped at max_delay");
        assert_eq!(p.backoff(u32::MAX, 1.0), Duration::from_millis(1_000));
        assert_eq!(p.backoff(0, 0.0), Duration::from_millis(50));
    }

    #[test]
    fn retry_after_wins_but_is_capped() {
        let p = policy();
        assert_eq!(p.delay(1, Some(Duration::from_millis(700)), 0.0), Duration::from_millis(700));
        assert_eq!(p.delay(1, Some(Duration::from_secs(3_600)), 0.0), Duration::from_millis(1_000));
        assert_eq!(p.delay(1, Some(Duration::ZERO), 0.9), Duration::ZERO);
    }

    /// A clock that follows tokio's (paused) clock, so start times show the sleeps exactly.
    fn tokio_clock() -> impl Clock {
        let t0 = Instant::now();
        move || 1_000_000 + t0.elapsed().as_millis() as i64
    }

    #[tokio::test(start_paused = true)]
    async fn sleeps_between_retryable_failures_then_stops_on_delivery() {
        let calls = AtomicU32::new(0);
        let attempts = run(
            &WHO,
            &policy(),
            &tokio_clock(),
            || 0.0,
            |n, _| {
                calls.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n < 3 { Step::failed(true, Some(503), "x") } else { Step::delivered(Some(200), "ok") }
                }
            },
        )
        .await;
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        let starts: Vec<i64> = attempts.iter().map(|a| a.started_at_ms).collect();
        assert_eq!(starts, [1_000_000, 1_000_050, 1_000_150]);
        assert_eq!(attempts[2].outcome, DeliveryOutcome::Delivered);
        assert_eq!(attempts.iter().map(|a| a.attempt).collect::<Vec<_>>(), [1, 2, 3]);
    }

    #[tokio::test(start_paused = true)]
    async fn permanent_failure_stops_and_attempts_run_out() {
        let one = run(
            &WHO,
            &policy(),
            &tokio_clock(),
            || 0.0,
            |_, _| async { Step::failed(false, Some(400), "HTTP 400") },
        )
        .await;
        assert_eq!(one.len(), 1);

        let all = run(
            &WHO,
            &policy(),
            &tokio_clock(),
            || 0.0,
            |_, _| async { Step::failed(true, Some(500), "HTTP 500") },
        )
        .await;
        assert_eq!(all.len(), 4);
        assert!(all.iter().all(|a| a.outcome == DeliveryOutcome::Failed { retryable: true }));
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_try_is_cut_off_and_retry_after_is_used() {
        let attempts = run(
            &WHO,
            &policy(),
            &tokio_clock(),
            || 0.0,
            |n, _| async move {
                match n {
                    1 => {
                        tokio::time::sleep(Duration::from_secs(60)).await;
                        Step::delivered(Some(200), "too late")
                    }
                    2 => Step {
                        retry_after: Some(Duration::from_millis(800)),
                        ..Step::failed(true, Some(429), "x")
                    },
                    _ => Step::delivered(Some(200), "ok"),
                }
            },
        )
        .await;
        assert_eq!(attempts[0].detail, "timed out after 500 ms");
        assert_eq!(attempts[0].duration_ms, 500);
        assert_eq!(attempts[0].outcome, DeliveryOutcome::Failed { retryable: true });
        // 500 ms timeout, then 50 ms backoff; then the 800 ms Retry-After.
        assert_eq!(attempts[1].started_at_ms, 1_000_550);
        assert_eq!(attempts[2].started_at_ms, 1_001_350);
        assert!(attempts[2].outcome.is_delivered());
    }
}
