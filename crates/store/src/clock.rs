//! Injected time: the system clock in production, a manual clock in tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Anything with a deadline or a timestamp asks a `Clock`, so tests advance time instead of
/// sleeping.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;

    /// Today's date in China Standard Time (UTC+8), the platform's civil calendar.
    fn today(&self) -> chrono::NaiveDate {
        let secs = self.now_ms().div_euclid(1000) + 8 * 3600;
        chrono::DateTime::from_timestamp(secs, 0).map(|d| d.date_naive()).unwrap_or_default()
    }
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis()
    }
}

/// A clock that only moves when told to.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn new(start_ms: i64) -> Self {
        Self(Arc::new(AtomicI64::new(start_ms)))
    }
    pub fn advance_ms(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
    pub fn set_ms(&self, ms: i64) {
        self.0.store(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}
