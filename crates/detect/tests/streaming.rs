//! The per-device detector end to end on synthetic traces, with injected time.

mod common;

use common::*;
use zhulao_detect::{
    Detector, DetectorConfig, DeviceConfig, Event, FallAlarm, GeoZone, GpsFix, MotionSample, Posture,
    VitalKind, VitalReading,
};

fn run(config: DetectorConfig, samples: &[MotionSample]) -> Vec<Event> {
    let mut det = Detector::new(config);
    let mut events = Vec::new();
    for s in samples {
        det.push_motion(s, &mut events);
    }
    events
}

fn config() -> DetectorConfig {
    DetectorConfig { fall: rule_config(), ..DetectorConfig::default() }
}

fn alarms(events: &[Event]) -> Vec<FallAlarm> {
    events.iter().filter_map(|e| if let Event::Fall(a) = e { Some(*a) } else { None }).collect()
}

#[test]
fn a_fall_raises_one_alarm_then_the_report() {
    let events = run(config(), &sample(|t| fall(t, None), 100, 30.0));
    let a = alarms(&events);
    assert_eq!(a.len(), 1, "{events:?}");
    let a = a[0];
    assert!((a.impact_ms - (T0 + 10_470)).abs() <= 10, "impact at {}", a.impact_ms - T0);
    assert_eq!(a.decision_ms - a.impact_ms, 900);
    assert_eq!(a.posture, Posture::Lying);
    assert!(a.features.peak_g > 5.5 && a.features.post_tilt_deg > 80.0, "{:?}", a.features);
    assert!(a.confidence > 0.99);
    let report = events
        .iter()
        .find_map(|e| if let Event::FallReport(r) = e { Some(r) } else { None })
        .expect("report");
    assert_eq!(report.impact_ms, a.impact_ms);
    assert_eq!(report.trace_start_ms, a.impact_ms - 5_000);
    assert_eq!(report.trace_mg.len(), 1000);
    assert_eq!(report.posture_after, Posture::Lying);
    // The trace holds the impact 500 samples in.
    let peak = report.trace_mg[500];
    assert!(peak.iter().map(|&v| (v as f32 / 1000.0).powi(2)).sum::<f32>().sqrt() > 5.5);
    assert!(!events.iter().any(|e| matches!(e, Event::FallRecovered { .. })));
}

#[test]
fn getting_up_within_the_grace_period_is_recovered() {
    let events = run(config(), &sample(|t| fall(t, Some(20.0)), 100, 40.0));
    let a = alarms(&events);
    assert_eq!(a.len(), 1);
    let at = events
        .iter()
        .find_map(|e| {
            if let Event::FallRecovered { impact_ms, at_ms } = e { Some((*impact_ms, *at_ms)) } else { None }
        })
        .expect("recovered");
    assert_eq!(at.0, a[0].impact_ms);
    assert!(at.1 >= T0 + 23_000 && at.1 <= T0 + 25_000, "recovered at {}", at.1 - T0);
}

#[test]
fn getting_up_after_the_grace_period_is_not_recovered() {
    let mut cfg = config();
    cfg.fall.recovery_grace_ms = 5_000;
    let events = run(cfg, &sample(|t| fall(t, Some(20.0)), 100, 40.0));
    assert_eq!(alarms(&events).len(), 1);
    assert!(!events.iter().any(|e| matches!(e, Event::FallRecovered { .. })));
}

#[test]
fn walking_and_jogging_raise_nothing() {
    let jog = |t: f64| {
        let w = std::f64::consts::TAU * 2.8 * t;
        [0.3 * (w + 1.0).sin() as f32, (-1.0 + 1.6 * w.sin()) as f32, 0.2 * (w / 2.0).sin() as f32]
    };
    assert!(alarms(&run(config(), &sample(walking, 100, 120.0))).is_empty());
    assert!(alarms(&run(config(), &sample(jog, 100, 120.0))).is_empty());
}

#[test]
fn the_same_fall_is_found_at_25_and_200_hz_and_when_worn_rotated() {
    for hz in [25, 50, 200] {
        let a = alarms(&run(config(), &sample(|t| fall(t, None), hz, 30.0)));
        assert_eq!(a.len(), 1, "{hz} Hz");
        assert!((a[0].impact_ms - (T0 + 10_470)).abs() <= 40, "{hz} Hz: {}", a[0].impact_ms - T0);
    }
    let a = alarms(&run(config(), &sample(|t| rotate(fall(t, None)), 100, 30.0)));
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].posture, Posture::Lying);
}

#[test]
fn duplicates_out_of_order_nan_and_clipping_do_not_change_the_outcome() {
    let clean = sample(|t| fall(t, None), 100, 30.0);
    let mut messy = Vec::new();
    for (i, s) in clean.iter().enumerate() {
        messy.push(*s);
        if i % 7 == 0 {
            messy.push(*s); // duplicate
        }
        if i % 11 == 0 && i > 0 {
            messy.push(clean[i - 1]); // late
        }
        if i % 13 == 0 {
            messy.push(MotionSample::accel(s.t_ms + 3, [f32::NAN, 0.0, 1.0]));
        }
    }
    let mut det = Detector::new(config());
    let mut events = Vec::new();
    for s in &messy {
        det.push_motion(s, &mut events);
    }
    assert_eq!(alarms(&events), alarms(&run(config(), &clean)));
    let stats = det.stream_stats();
    assert!(stats.duplicates > 0 && stats.out_of_order > 0 && stats.non_finite > 0);
    // A sensor clipping at ±4 g still shows the impact.
    let mut cfg = config();
    cfg.resample.full_scale_g = 4.0;
    cfg.fall.model = rule_model();
    let clipped: Vec<MotionSample> =
        clean.iter().map(|s| MotionSample::accel(s.t_ms, s.acc.map(|v| v.clamp(-4.0, 4.0)))).collect();
    assert_eq!(alarms(&run(cfg, &clipped)).len(), 1);
}

#[test]
fn a_gap_in_the_stream_breaks_it_without_inventing_a_fall() {
    let mut s = sample(|t| fall(t, None), 100, 30.0);
    // Drop 10.3 s–11.0 s: the impact is lost with the gap.
    s.retain(|m| !(T0 + 10_300..T0 + 11_000).contains(&m.t_ms));
    let mut det = Detector::new(config());
    let mut events = Vec::new();
    for m in &s {
        det.push_motion(m, &mut events);
    }
    assert!(alarms(&events).is_empty());
    assert_eq!(det.stream_stats().breaks, 1);
}

#[test]
fn a_second_impact_within_the_refractory_period_is_one_alarm() {
    let twice = |t: f64| {
        if t >= 15.0 { fall(t - 5.0, None) } else { fall(t, None) }
    };
    assert_eq!(alarms(&run(config(), &sample(twice, 100, 30.0))).len(), 1);
    let far = |t: f64| {
        if t >= 30.0 { fall(t - 20.0, None) } else { fall(t, None) }
    };
    assert_eq!(alarms(&run(config(), &sample(far, 100, 50.0))).len(), 2);
}

#[test]
fn candidates_are_reported_only_when_asked() {
    let mut cfg = config();
    cfg.fall.report_candidates = true;
    let events = run(cfg, &sample(|t| fall(t, None), 100, 30.0));
    assert!(events.iter().any(|e| matches!(e, Event::FallCandidate(_))));
    let events = run(config(), &sample(|t| fall(t, None), 100, 30.0));
    assert!(!events.iter().any(|e| matches!(e, Event::FallCandidate(_))));
}

/// The rule model, every alarm of which is doubtful (below `confirm`): it waits for the late look.
fn doubtful_config() -> DetectorConfig {
    let mut c = config();
    c.fall.model.confirm = 1.0;
    c
}

#[test]
fn a_doubtful_alarm_waits_for_the_late_look() {
    let events = run(doubtful_config(), &sample(|t| fall(t, None), 100, 30.0));
    let a = alarms(&events);
    assert_eq!(a.len(), 1, "{events:?}");
    // Decided 2.5 s after the peak (the late look), not 0.9 s; the report and the rest follow.
    assert_eq!(a[0].decision_ms - a[0].impact_ms, 2_500);
    assert!(events.iter().any(|e| matches!(e, Event::FallReport(r) if r.impact_ms == a[0].impact_ms)));
}

#[test]
fn a_doubtful_alarm_is_dropped_when_the_wearer_walks_on() {
    // Down for a second after the impact (the model, seeing lying at 0.9 s, calls it a fall),
    // walking again from 11.5 s: by the look, back in the posture held before and moving.
    let stumble = |t: f64| fall(t, Some(11.5));
    let mut cfg = doubtful_config();
    cfg.fall.report_candidates = true;
    let events = run(cfg, &sample(stumble, 100, 30.0));
    assert!(alarms(&events).is_empty(), "{events:?}");
    let c = events
        .iter()
        .find_map(|e| if let Event::FallCandidate(c) = e { Some(*c) } else { None })
        .expect("candidate");
    assert!(c.alarm.confidence > 0.99 && c.walked_on == Some(true) && !c.got_up, "{c:?}");
    // A confident alarm does not wait: the same stumble alarms at 0.9 s.
    let a = alarms(&run(config(), &sample(stumble, 100, 30.0)));
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].decision_ms - a[0].impact_ms, 900);
}

#[test]
fn a_device_silent_after_a_doubtful_impact_still_raises_it() {
    // The stream stops 1.5 s after the impact: the look never comes.
    let samples = sample(|t| fall(t, None), 100, 12.0);
    let mut det = Detector::new(doubtful_config());
    let mut events = Vec::new();
    for s in &samples {
        det.push_motion(s, &mut events);
    }
    assert!(alarms(&events).is_empty());
    // The caller's clock runs a minute ahead of the device's: only silence on it counts.
    let now = T0 + 12_000 + 60_000;
    det.check(now, &mut events);
    det.check(now + 4_000, &mut events);
    assert!(alarms(&events).is_empty(), "still waiting for the stream");
    det.check(now + 5_000, &mut events);
    assert_eq!(alarms(&events).len(), 1, "{events:?}");
}

#[test]
fn a_flowing_stream_is_never_taken_for_silence() {
    // Checks on a clock a minute ahead of the device's, every second while the samples flow:
    // the walked-on stumble is still judged by its look.
    let stumble = |t: f64| fall(t, Some(11.5));
    let mut det = Detector::new(doubtful_config());
    let mut events = Vec::new();
    for (i, s) in sample(stumble, 100, 30.0).iter().enumerate() {
        det.push_motion(s, &mut events);
        if i % 100 == 0 {
            det.check(s.t_ms + 60_000, &mut events);
        }
    }
    assert!(alarms(&events).is_empty(), "{events:?}");
}

#[test]
fn a_doubtful_impact_then_a_confident_one_is_one_alarm() {
    use std::borrow::Cow;
    use zhulao_detect::{FallFeatures, FallModel, TREE_LEAVES, TREE_SPLITS, Tree};
    // By the peak alone: above 5 g a sure fall, 3–5 g a doubtful one, below nothing.
    let peak = FallFeatures::NAMES.iter().position(|n| *n == "peak_g").unwrap() as u8;
    let mut t = Tree {
        feature: [peak; TREE_SPLITS],
        threshold: [f32::INFINITY; TREE_SPLITS],
        leaf: [-10.0; TREE_LEAVES],
    };
    t.threshold[0] = 3.0; // root: > 3 g goes right (node 2)
    t.threshold[2] = 5.0; // node 2: > 5 g goes right (node 6, leaf 6), else node 5 (leaf 4)
    t.leaf[4] = 2.0;
    t.leaf[6] = 10.0;
    let mut cfg = config();
    cfg.fall.model = FallModel { trees: Cow::Owned(vec![t]), base: 0.0, threshold: 0.5, confirm: 0.99 };
    let jolt = |t: f64, at: f64, g: f64| {
        let mag = 1.0 + (g - 1.0) * (1.0 - (t - at).abs() / 0.05).max(0.0);
        [0.0, 0.0, mag as f32]
    };
    // A 4 g impact at 10 s (decided doubtful at 10.9 s, due for its look at 12.5 s), then,
    // still down, a 7 g one at 12.2 s, decided after that look raised the first alarm.
    let two = |t: f64| match t {
        t if t < 9.9 => walking(t),
        t if t < 10.1 => jolt(t, 10.0, 4.0),
        t if (12.1..12.3).contains(&t) => jolt(t, 12.2, 7.0),
        t => lying(t),
    };
    let a = alarms(&run(cfg.clone(), &sample(two, 100, 30.0)));
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!((a[0].impact_ms - T0, a[0].decision_ms - a[0].impact_ms), (10_000, 2_500));
    // Each alone alarms: the 4 g one at its look, the 7 g one at once.
    let first = |t: f64| if t < 12.0 { two(t) } else { lying(t) };
    assert_eq!(alarms(&run(cfg.clone(), &sample(first, 100, 30.0))).len(), 1);
    let second = |t: f64| if t < 12.0 { if t < 9.9 { walking(t) } else { lying(t) } } else { two(t) };
    let a = alarms(&run(cfg, &sample(second, 100, 30.0)));
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].decision_ms - a[0].impact_ms, 900);
}

#[test]
fn lying_before_and_upright_after_is_getting_up_not_a_fall() {
    use std::borrow::Cow;
    use zhulao_detect::{FallModel, TREE_LEAVES, TREE_SPLITS, Tree};
    // A model that calls every impact a fall: only the got-up rule can stop it.
    let always = Tree {
        feature: [0; TREE_SPLITS],
        threshold: [f32::INFINITY; TREE_SPLITS],
        leaf: [10.0; TREE_LEAVES],
    };
    let mut cfg = config();
    cfg.fall.model = FallModel { trees: Cow::Owned(vec![always]), base: 0.0, threshold: 0.5, confirm: 0.5 };
    cfg.fall.upright_hint = Some([0.0, -1.0, 0.0]);
    // Lying in bed, then sitting up hard (a 4 g jolt) and staying upright.
    let sit_up = |t: f64| match t {
        t if t < 10.0 => lying(t),
        t if t < 10.1 => [0.0, -4.0, 0.0],
        t => [0.004 * (7.0 * t).sin() as f32, -1.0, 0.05],
    };
    let mut with_candidates = cfg.clone();
    with_candidates.fall.report_candidates = true;
    let events = run(with_candidates, &sample(sit_up, 100, 30.0));
    assert!(alarms(&events).is_empty(), "{events:?}");
    assert!(events.iter().any(|e| matches!(e, Event::FallCandidate(c) if c.got_up)));
    // The same model on a fall from standing alarms.
    assert_eq!(alarms(&run(cfg, &sample(|t| fall(t, None), 100, 30.0))).len(), 1);
}

#[test]
fn shipped_model_flags_the_synthetic_fall_and_not_walking() {
    let events = run(DetectorConfig::default(), &sample(|t| fall(t, None), 100, 30.0));
    assert_eq!(alarms(&events).len(), 1, "{events:?}");
    assert!(alarms(&run(DetectorConfig::default(), &sample(walking, 100, 60.0))).is_empty());
}

#[test]
fn a_device_on_the_table_is_not_worn() {
    let flat = |t: f64| [0.0, 0.0, 1.0 + 0.001 * (3.0 * t).sin() as f32];
    let events = run(DetectorConfig::default(), &sample(flat, 25, 11.0 * 60.0));
    assert!(
        events.iter().any(|e| matches!(e, Event::NotWorn { at_ms, .. } if *at_ms - T0 >= 600_000)),
        "{events:?}"
    );
}

#[test]
fn vitals_battery_location_and_offline_through_the_detector() {
    let home = (40.08, 113.30);
    let mut det = Detector::new(DetectorConfig {
        device: DeviceConfig {
            zones: vec![GeoZone::Circle { center: home, radius_m: 200.0 }],
            ..Default::default()
        },
        ..Default::default()
    });
    let mut ev = Vec::new();
    for i in 0..4 {
        det.push_vital(
            VitalReading { t_ms: T0 + i * 30_000, kind: VitalKind::HeartRate, value: 140.0 },
            &mut ev,
        );
    }
    det.push_battery(T0 + 100_000, 10.0, &mut ev);
    for i in 0..10 {
        let fix =
            GpsFix { t_ms: T0 + 100_000 + i * 20_000, lat: home.0 + 0.01, lon: home.1, accuracy_m: 8.0 };
        det.push_location(fix, &mut ev);
    }
    det.check(T0 + 280_000 + 16 * 60_000, &mut ev);
    det.heartbeat(T0 + 2_000_000, &mut ev);
    let names: Vec<&str> = ev
        .iter()
        .map(|e| match e {
            Event::VitalAlarm(_) => "vital",
            Event::LowBattery { .. } => "battery",
            Event::GeofenceExit { .. } => "exit",
            Event::Offline { .. } => "offline",
            Event::Online { .. } => "online",
            _ => "other",
        })
        .collect();
    assert_eq!(names, ["vital", "battery", "exit", "offline", "online"]);
}

#[test]
fn changed_settings_apply_to_a_running_detector() {
    let home = (40.08, 113.30);
    let mut det = Detector::new(DetectorConfig::default());
    let mut ev = Vec::new();
    let spo2 = |i: i64| VitalReading { t_ms: T0 + i * 30_000, kind: VitalKind::SpO2, value: 91.0 };
    let away = |i: i64| GpsFix { t_ms: T0 + i * 20_000, lat: home.0 + 0.01, lon: home.1, accuracy_m: 8.0 };
    // Defaults: SpO2 91 % is fine and there is no geofence.
    for i in 0..4 {
        det.push_vital(spo2(i), &mut ev);
        det.push_location(away(i), &mut ev);
    }
    assert!(ev.is_empty(), "{ev:?}");
    // A doctor raises the SpO2 floor to 93 % and a safe zone is drawn around home.
    let mut cfg = DetectorConfig::default();
    cfg.vitals = cfg.vitals.with_limits(VitalKind::SpO2, 93.0, 101.0);
    cfg.device.zones = vec![GeoZone::Circle { center: home, radius_m: 200.0 }];
    det.reconfigure(&cfg);
    for i in 4..10 {
        det.push_vital(spo2(i), &mut ev);
        det.push_location(away(i), &mut ev);
    }
    let kinds = |ev: &[Event]| -> Vec<&'static str> {
        ev.iter()
            .map(|e| match e {
                Event::VitalAlarm(_) => "vital",
                Event::GeofenceExit { .. } => "exit",
                Event::GeofenceReturn { .. } => "return",
                _ => "other",
            })
            .collect()
    };
    let mut got = kinds(&ev);
    got.sort_unstable();
    assert_eq!(got, ["exit", "vital"]);
    // Removing the zones ends the exit: drawing them again needs a new confirmed exit.
    ev.clear();
    cfg.device.zones.clear();
    det.reconfigure(&cfg);
    cfg.device.zones = vec![GeoZone::Circle { center: home, radius_m: 200.0 }];
    det.reconfigure(&cfg);
    for i in 10..14 {
        det.push_location(away(i), &mut ev);
    }
    assert_eq!(kinds(&ev), ["exit"]);
}
