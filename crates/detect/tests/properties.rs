//! Property tests over the streaming API: any input, in any order, never panics, and what one
//! push can emit (and hold) stays bounded.

use proptest::prelude::*;
use zhulao_detect::{
    Detector, DetectorConfig, DeviceConfig, Event, FallCandidate, GeoZone, GpsFix, MotionSample, VitalKind,
    VitalReading,
};

#[derive(Clone, Debug)]
enum Op {
    Motion { dt: i64, acc: [f32; 3], gyro: Option<[f32; 3]> },
    Jump(i64),
    Vital { dt: i64, kind: usize, value: f32 },
    Battery(f32),
    Location { lat: f64, lon: f64, accuracy: f64 },
    Check(i64),
}

fn any_f32() -> impl Strategy<Value = f32> {
    prop_oneof![
        6 => -3.0f32..3.0,
        2 => -40.0f32..40.0,
        1 => Just(f32::NAN),
        1 => Just(f32::INFINITY),
        1 => any::<f32>(),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        20 => (-30i64..60, [any_f32(), any_f32(), any_f32()], proptest::option::of([any_f32(), any_f32(), any_f32()]))
            .prop_map(|(dt, acc, gyro)| Op::Motion { dt, acc, gyro }),
        1 => prop_oneof![any::<i64>(), -100_000i64..100_000].prop_map(Op::Jump),
        2 => (0i64..120_000, 0usize..5, any_f32().prop_map(|v| v * 50.0)).prop_map(|(dt, kind, value)| Op::Vital { dt, kind, value }),
        1 => any_f32().prop_map(|v| v * 30.0).prop_map(Op::Battery),
        1 => (prop_oneof![39.9f64..40.3, any::<f64>()], prop_oneof![113.1f64..113.5, any::<f64>()], prop_oneof![0.0f64..300.0, any::<f64>()])
            .prop_map(|(lat, lon, accuracy)| Op::Location { lat, lon, accuracy }),
        1 => (0i64..3_600_000).prop_map(Op::Check),
    ]
}

fn config(report_candidates: bool) -> DetectorConfig {
    let mut c = DetectorConfig {
        device: DeviceConfig {
            zones: vec![
                GeoZone::Circle { center: (40.08, 113.30), radius_m: 300.0 },
                GeoZone::Polygon(vec![(40.0, 113.2), (40.0, 113.25), (40.05, 113.25)]),
                GeoZone::Polygon(vec![(40.0, 113.2)]),
            ],
            confirm_ms: 0,
            ..Default::default()
        },
        ..Default::default()
    };
    c.fall.report_candidates = report_candidates;
    c.fall.trigger_g = 1.2; // many candidates
    c.activity.not_worn_ms = 2_000;
    c.activity.inactivity_ms = 2_000;
    c
}

/// Events one push may produce: up to 26 resampled ticks (a 250 ms gap), each ending at most a
/// candidate, an alarm, a report, a recovery and two wear/activity events.
const MAX_EVENTS_PER_PUSH: usize = 26 * 6 + 2;

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn never_panics_and_stays_bounded(ops in proptest::collection::vec(op(), 1..600), candidates in any::<bool>()) {
        let mut det = Detector::new(config(candidates));
        let mut t: i64 = 1_700_000_000_000;
        let mut events: Vec<Event> = Vec::new();
        let mut motion_pushes = 0u64;
        for op in ops {
            let before = events.len();
            match op {
                Op::Motion { dt, acc, gyro } => {
                    t = t.saturating_add(dt);
                    motion_pushes += 1;
                    det.push_motion(&MotionSample { t_ms: t, acc, gyro }, &mut events);
                }
                Op::Jump(to) => t = to,
                Op::Vital { dt, kind, value } => {
                    t = t.saturating_add(dt);
                    det.push_vital(VitalReading { t_ms: t, kind: VitalKind::ALL[kind], value }, &mut events);
                }
                Op::Battery(p) => det.push_battery(t, p, &mut events),
                Op::Location { lat, lon, accuracy } => {
                    det.push_location(GpsFix { t_ms: t, lat, lon, accuracy_m: accuracy }, &mut events);
                }
                Op::Check(dt) => det.check(t.saturating_add(dt), &mut events),
            }
            prop_assert!(events.len() - before <= MAX_EVENTS_PER_PUSH);
        }
        let s = det.stream_stats();
        prop_assert_eq!(s.accepted + s.duplicates + s.out_of_order + s.non_finite, motion_pushes);
        for e in &events {
            match e {
                Event::FallReport(r) => prop_assert!(r.trace_mg.len() <= 1000),
                Event::Fall(a) | Event::FallCandidate(FallCandidate { alarm: a, .. }) => {
                    prop_assert!((0.0..=1.0).contains(&a.confidence));
                    prop_assert!(a.decision_ms >= a.impact_ms);
                }
                _ => {}
            }
        }
    }

    #[test]
    fn any_rate_from_25_to_200_hz_gives_100_hz_ticks(hz in 25u32..=200, secs in 1u32..20) {
        let mut det = Detector::new(DetectorConfig::default());
        let mut events = Vec::new();
        let n = (secs * hz) as i64;
        for i in 0..n {
            det.push_motion(&MotionSample::accel(i * 1000 / hz as i64, [0.0, -1.0, 0.0]), &mut events);
        }
        let s = det.stream_stats();
        let last = (n - 1) * 1000 / hz as i64;
        prop_assert_eq!(s.ticks as i64, last / 10 + 1);
        prop_assert_eq!(s.breaks, 0);
    }
}

#[test]
fn state_is_fixed_size() {
    // The detector owns no growing collection: its inline size (about 1 KB) plus the 6 KB ring
    // is all.
    assert!(std::mem::size_of::<Detector>() <= 1088, "{}", std::mem::size_of::<Detector>());
}
