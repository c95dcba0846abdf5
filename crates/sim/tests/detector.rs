//! The simulated streams through the production fall detector (`zhulao-detect`, configured as
//! the gateway configures it: no mounting hint): injected falls are detected at their impact,
//! whatever the wearer's device rotation, and everyday routine raises no fall alarm.

use zhulao_detect::{Detector, DetectorConfig, Event, MotionSample};
use zhulao_sim::motion::{Library, embedded_trials};
use zhulao_sim::wearer::{Wearer, WearerSpec};

/// 2026-03-02 10:00 Beijing time: daytime routine.
const T0: i64 = 1_772_416_800_000;

fn spec(i: usize) -> WearerSpec {
    let serial = format!("ZL-P-{i:06}");
    WearerSpec {
        secret: format!("demo-{serial}"),
        serial,
        watch: false,
        model: "ZL-P2".into(),
        home: (40.0765, 113.3001),
    }
}

/// Feeds `secs` seconds of the wearer's batches to the detector; returns its fall alarms.
fn feed(w: &mut Wearer, lib: &Library, det: &mut Detector, secs: usize) -> Vec<zhulao_detect::FallAlarm> {
    let mut events: Vec<Event> = Vec::new();
    for _ in 0..secs {
        let b = w.motion_batch(lib);
        for s in b.samples() {
            det.push_motion(&MotionSample::accel(s.t_ms, s.acc), &mut events);
        }
    }
    events
        .into_iter()
        .filter_map(|e| match e {
            Event::Fall(a) => Some(a),
            _ => None,
        })
        .collect()
}

#[test]
fn injected_falls_are_detected_at_their_impact_in_any_orientation() {
    let lib = Library::new(100, embedded_trials(100));
    let (mut detected, mut total) = (0, 0);
    for seed in 0..10u64 {
        for trial in 0..lib.falls.len() {
            let mut w = Wearer::new(spec(seed as usize), "zl", 0, seed * 31 + trial as u64, &lib, T0);
            let mut det = Detector::new(DetectorConfig::default());
            let early = feed(&mut w, &lib, &mut det, 20);
            // The fall's impact 40 s from now: the wearer walks until the trial's lead-in.
            let (impact, _, _) = w.plan_fall(&lib, trial, T0 + 60_000);
            let alarms = feed(&mut w, &lib, &mut det, 70);
            total += 1;
            assert!(early.is_empty(), "seed {seed}: alarm before the fall: {early:?}");
            match alarms.as_slice() {
                [a] => {
                    assert!((a.impact_ms - impact).abs() <= 1_600, "{} vs {impact}", a.impact_ms);
                    assert!(a.decision_ms - impact < 2_600);
                    detected += 1;
                }
                [] => println!("seed {seed}, {}: not detected", lib.falls[trial].name),
                more => panic!("one fall, one alarm: {more:?}"),
            }
        }
    }
    println!("detected {detected} of {total} injected falls");
    assert!(detected * 10 >= total * 9, "detected {detected} of {total}");
}

#[test]
fn everyday_routine_raises_no_fall_alarm() {
    let lib = Library::new(100, embedded_trials(100));
    let mut alarms = 0;
    for seed in 0..8u64 {
        let mut w = Wearer::new(spec(seed as usize), "zl", 0, 1000 + seed, &lib, T0);
        let mut det = Detector::new(DetectorConfig::default());
        let a = feed(&mut w, &lib, &mut det, 1800);
        if !a.is_empty() {
            println!("seed {seed}: {a:?}");
        }
        alarms += a.len();
    }
    assert_eq!(alarms, 0, "four hours of routine");
}
