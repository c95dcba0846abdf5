//! Runs the production detector over trials, sample by sample, and scores the alarms.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;
use zhulao_detect::{Detector, DetectorConfig, Event, FallAlarm, FallCandidate, MotionSample};

use crate::data::Trial;

/// Tick length of the device stream, ms.
pub const TICK_MS: i64 = 10;
/// A fall counts as detected by an alarm up to this long after the impact, ms.
pub const AFTER_IMPACT_MS: i64 = 3_000;
/// Without labels, the fall is taken to start this long before the impact peak, ms.
pub const UNLABELLED_START_MS: i64 = 2_000;

/// Where a trial's fall is, in ms from the trial start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FallWindow {
    pub start_ms: i64,
    pub impact_ms: i64,
}

impl FallWindow {
    pub fn contains(&self, t_ms: i64) -> bool {
        t_ms >= self.start_ms && t_ms <= self.impact_ms + AFTER_IMPACT_MS
    }
}

fn svm(a: [f32; 3]) -> f32 {
    (a[0] * a[0] + a[1] * a[1] + a[2] * a[2]).sqrt()
}

fn peak_in(acc: &[[f32; 3]], lo: usize, hi: usize) -> usize {
    (lo..hi.min(acc.len())).fold(lo, |best, i| if svm(acc[i]) > svm(acc[best]) { i } else { best })
}

/// The fall window of a fall trial: the labelled fall (first tick labelled 1 or 2) and the
/// peak magnitude within it (up to 0.5 s past the last labelled tick); without labels, the
/// peak of the whole trial.
pub fn fall_window(t: &Trial) -> Option<FallWindow> {
    if !t.is_fall || t.acc.is_empty() {
        return None;
    }
    if let Some(l) = &t.labels {
        let first = l.iter().position(|&v| v > 0);
        let last = l.iter().rposition(|&v| v > 0);
        if let (Some(a), Some(b)) = (first, last) {
            let p = peak_in(&t.acc, a, b + 51);
            return Some(FallWindow { start_ms: a as i64 * TICK_MS, impact_ms: p as i64 * TICK_MS });
        }
    }
    let p = peak_in(&t.acc, 0, t.acc.len());
    let impact_ms = p as i64 * TICK_MS;
    Some(FallWindow { start_ms: impact_ms - UNLABELLED_START_MS, impact_ms })
}

/// What the detector said about one trial.
#[derive(Clone, Debug)]
pub struct TrialRun {
    pub alarms: Vec<FallAlarm>,
    pub candidates: Vec<FallCandidate>,
    pub ticks: u64,
    pub elapsed: Duration,
}

/// Past the end of a trial, as the gateway's clock would be once the device has been silent.
const SILENT_AFTER_MS: i64 = 60_000;

/// Feeds a trial to a fresh detector exactly as the gateway would: one sample at a time.
pub fn run_trial(t: &Trial, config: &DetectorConfig) -> TrialRun {
    let mut det = Detector::new(config.clone());
    let mut events: Vec<Event> = Vec::with_capacity(16);
    let start = Instant::now();
    for (i, &acc) in t.acc.iter().enumerate() {
        det.push_motion(&MotionSample::accel(i as i64 * TICK_MS, acc), &mut events);
    }
    // The recording ends: as for a device gone silent, a late look still due is not waited
    // for (a doubtful alarm is raised). The gateway's clock sees the silence across two checks.
    let end = t.acc.len() as i64 * TICK_MS;
    det.check(end, &mut events);
    det.check(end + SILENT_AFTER_MS, &mut events);
    let elapsed = start.elapsed();
    let mut run = TrialRun { alarms: Vec::new(), candidates: Vec::new(), ticks: t.acc.len() as u64, elapsed };
    for e in events {
        match e {
            Event::Fall(a) => run.alarms.push(a),
            Event::FallCandidate(a) => run.candidates.push(a),
            _ => {}
        }
    }
    run
}

/// The outcome of one trial.
#[derive(Clone, Debug)]
pub struct TrialOutcome {
    pub name: String,
    pub subject: String,
    pub activity: String,
    pub is_fall: bool,
    pub duration_s: f64,
    /// Fall trials: an alarm fired in the window. ADL trials: any alarm fired.
    pub alarmed: bool,
    /// Alarms counted as false: all alarms of an ADL trial.
    pub false_alarms: u32,
    /// Decision time − impact peak of the first alarm in the window, ms.
    pub latency_ms: Option<i64>,
    /// The detecting alarm waited for the late look (the model was less sure).
    pub late: bool,
}

pub fn score(t: &Trial, run: &TrialRun) -> TrialOutcome {
    let window = fall_window(t);
    let (alarmed, latency_ms, false_alarms, late) = match window {
        Some(w) => {
            let hit = run.alarms.iter().find(|a| w.contains(a.decision_ms));
            let late = hit.is_some_and(|a| a.decision_ms - a.impact_ms > DECIDED_BY_MS);
            (hit.is_some(), hit.map(|a| a.decision_ms - w.impact_ms), 0, late)
        }
        None => (!run.alarms.is_empty(), None, run.alarms.len() as u32, false),
    };
    TrialOutcome {
        name: t.name.clone(),
        subject: t.subject.clone(),
        activity: t.activity.clone(),
        is_fall: t.is_fall,
        duration_s: t.acc.len() as f64 * TICK_MS as f64 / 1000.0,
        alarmed,
        false_alarms,
        latency_ms,
        late,
    }
}

/// Alarms decided later than this after their own impact peak waited for the late look
/// (the decision delay is at most 2 s; the look comes after it).
const DECIDED_BY_MS: i64 = 2_000;

#[derive(Clone, Debug, Serialize)]
pub struct Latency {
    pub p50: i64,
    pub p95: i64,
    pub max: i64,
}

#[derive(Clone, Debug, Serialize)]
pub struct ActivityRow {
    pub trials: usize,
    /// Fall activities: trials detected; ADL activities: trials with a false alarm.
    pub alarmed: usize,
    pub rate: f64,
}

/// The evaluation report (serialised as the `--json` output).
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// How the figures were obtained.
    pub protocol: String,
    pub falls: usize,
    pub adls: usize,
    pub detected: usize,
    pub false_positive_trials: usize,
    pub sensitivity: f64,
    pub specificity: f64,
    pub adl_hours: f64,
    pub false_alarms: u32,
    pub false_alarms_per_hour: f64,
    pub latency_ms: Latency,
    /// Detected falls whose alarm waited for the late look.
    pub late_decisions: usize,
    pub samples: u64,
    pub samples_per_second: f64,
    pub per_activity: BTreeMap<String, ActivityRow>,
    pub missed: Vec<String>,
    pub false_positives: Vec<String>,
    pub skipped_files: Vec<String>,
}

fn percentile(sorted: &[i64], q: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

pub fn report(
    protocol: &str,
    outcomes: &[TrialOutcome],
    samples: u64,
    elapsed: Duration,
    skipped: Vec<String>,
) -> Report {
    let falls: Vec<&TrialOutcome> = outcomes.iter().filter(|o| o.is_fall).collect();
    let adls: Vec<&TrialOutcome> = outcomes.iter().filter(|o| !o.is_fall).collect();
    let detected = falls.iter().filter(|o| o.alarmed).count();
    let fp = adls.iter().filter(|o| o.alarmed).count();
    let adl_hours = adls.iter().map(|o| o.duration_s).sum::<f64>() / 3600.0;
    let false_alarms: u32 = adls.iter().map(|o| o.false_alarms).sum();
    let mut lat: Vec<i64> = falls.iter().filter_map(|o| o.latency_ms).collect();
    lat.sort_unstable();
    let mut per_activity: BTreeMap<String, ActivityRow> = BTreeMap::new();
    for o in outcomes {
        let row = per_activity.entry(o.activity.clone()).or_insert(ActivityRow {
            trials: 0,
            alarmed: 0,
            rate: 0.0,
        });
        row.trials += 1;
        row.alarmed += o.alarmed as usize;
    }
    for row in per_activity.values_mut() {
        row.rate = row.alarmed as f64 / row.trials.max(1) as f64;
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    Report {
        protocol: protocol.to_owned(),
        falls: falls.len(),
        adls: adls.len(),
        detected,
        false_positive_trials: fp,
        sensitivity: ratio(detected, falls.len()),
        specificity: 1.0 - ratio(fp, adls.len()),
        adl_hours,
        false_alarms,
        false_alarms_per_hour: if adl_hours > 0.0 { false_alarms as f64 / adl_hours } else { 0.0 },
        latency_ms: Latency {
            p50: percentile(&lat, 0.5),
            p95: percentile(&lat, 0.95),
            max: lat.last().copied().unwrap_or(0),
        },
        late_decisions: falls.iter().filter(|o| o.alarmed && o.late).count(),
        samples,
        samples_per_second: samples as f64 / elapsed.as_secs_f64().max(1e-9),
        per_activity,
        missed: falls.iter().filter(|o| !o.alarmed).map(|o| o.name.clone()).collect(),
        false_positives: adls.iter().filter(|o| o.alarmed).map(|o| o.name.clone()).collect(),
        skipped_files: skipped,
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "fall-eval ({})", self.protocol)?;
        writeln!(
            f,
            "  fall trials        {:>6}   detected {} → sensitivity {:.2}%",
            self.falls,
            self.detected,
            100.0 * self.sensitivity
        )?;
        writeln!(
            f,
            "  daily-activity     {:>6}   with a false alarm {} → specificity {:.2}%",
            self.adls,
            self.false_positive_trials,
            100.0 * self.specificity
        )?;
        writeln!(
            f,
            "  false alarms       {:>6}   over {:.2} h of daily activity → {:.3} per hour",
            self.false_alarms, self.adl_hours, self.false_alarms_per_hour
        )?;
        writeln!(
            f,
            "  latency after impact peak: p50 {} ms, p95 {} ms, max {} ms ({} of the detected waited for the late look)",
            self.latency_ms.p50, self.latency_ms.p95, self.latency_ms.max, self.late_decisions
        )?;
        writeln!(
            f,
            "  throughput         {:.1} M samples/s on one core ({} samples)",
            self.samples_per_second / 1e6,
            self.samples
        )?;
        writeln!(f, "  per activity (falls: detected; daily activities: trials with a false alarm):")?;
        for (code, row) in &self.per_activity {
            writeln!(f, "    {code}  {:>4}/{:<4} {:>6.1}%", row.alarmed, row.trials, 100.0 * row.rate)?;
        }
        if !self.missed.is_empty() {
            writeln!(f, "  missed falls: {}", self.missed.join(" "))?;
        }
        if !self.false_positives.is_empty() {
            writeln!(f, "  false-positive trials: {}", self.false_positives.join(" "))?;
        }
        for s in &self.skipped_files {
            writeln!(f, "  skipped: {s}")?;
        }
        Ok(())
    }
}
