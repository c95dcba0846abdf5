//! Property tests: no input panics the decoders, and every valid message round-trips.

use proptest::collection::vec;
use proptest::prelude::*;
use zhulao_proto::{
    Ack, BatteryReport, ClockTime, ConfigContact, DeviceConfigMsg, DeviceEvent, Downlink, EventKind,
    FallSensitivity, Feedback, FeedbackState, Fix, Heartbeat, Kind, LocationReport, MAX_TIME_MS, MIN_TIME_MS,
    MotionBatch, SilentHours, StatusReport, Uplink, VitalReport, decode_downlink, decode_uplink, parse_topic,
    topic,
};

fn time() -> impl Strategy<Value = i64> {
    MIN_TIME_MS..MAX_TIME_MS
}

/// A number with `decimals` decimal places, as devices print them (`k / 10^decimals`).
fn fixed(lo: i64, hi: i64, decimals: i32) -> impl Strategy<Value = f64> {
    (lo..=hi).prop_map(move |k| k as f64 / 10f64.powi(decimals))
}

fn position() -> impl Strategy<Value = Option<(f64, f64)>> {
    proptest::option::of((fixed(-90_000_000, 90_000_000, 6), fixed(-180_000_000, 180_000_000, 6)))
}

fn motion() -> impl Strategy<Value = MotionBatch> {
    (any::<u32>(), time(), 25u16..=200, 1usize..=1000, any::<bool>()).prop_flat_map(
        |(seq, t0_ms, rate_hz, n, g)| {
            let gyro = if g { vec(any::<[i16; 3]>(), n).prop_map(Some).boxed() } else { Just(None).boxed() };
            (vec(any::<[i16; 3]>(), n), gyro).prop_map(move |(accel, gyro)| MotionBatch {
                seq,
                t0_ms,
                rate_hz,
                accel,
                gyro,
            })
        },
    )
}

fn vital() -> impl Strategy<Value = VitalReport> {
    (
        time(),
        proptest::option::of(20u16..=250),
        proptest::option::of(50u16..=260),
        proptest::option::of(30u16..=160),
        proptest::option::of(50u8..=100),
        proptest::option::of(fixed(300, 430, 1)),
    )
        .prop_map(|(t_ms, hr, sbp, dbp, spo2, temp)| VitalReport { t_ms, hr, sbp, dbp, spo2, temp })
        .prop_filter("one measurement, dbp below sbp", |v| {
            (v.hr.is_some() || v.sbp.is_some() || v.dbp.is_some() || v.spo2.is_some() || v.temp.is_some())
                && !matches!((v.sbp, v.dbp), (Some(s), Some(d)) if d >= s)
        })
}

fn location() -> impl Strategy<Value = LocationReport> {
    (time(), prop::sample::select(Fix::ALL), position(), proptest::option::of(fixed(0, 1_000_000, 1)))
        .prop_filter("a position unless fix is none", |(_, fix, pos, _)| pos.is_some() || *fix == Fix::None)
        .prop_map(|(t_ms, fix, pos, acc_m)| LocationReport {
            t_ms,
            lat: pos.map(|p| p.0),
            lon: pos.map(|p| p.1),
            acc_m,
            fix,
        })
}

fn event() -> impl Strategy<Value = DeviceEvent> {
    (
        "[!-~]{1,64}",
        time(),
        prop::sample::select(EventKind::ALL),
        position(),
        proptest::option::of(fixed(0, 1000, 3)),
    )
        .prop_map(|(id, t_ms, kind, pos, conf)| DeviceEvent {
            id,
            t_ms,
            kind,
            lat: pos.map(|p| p.0),
            lon: pos.map(|p| p.1),
            conf,
        })
}

fn json_uplink() -> impl Strategy<Value = Uplink> {
    prop_oneof![
        vital().prop_map(Uplink::Vital),
        location().prop_map(Uplink::Location),
        event().prop_map(Uplink::Event),
        (time(), 0u8..=100, any::<bool>()).prop_map(|(t_ms, pct, charging)| Uplink::Battery(BatteryReport {
            t_ms,
            pct,
            charging
        })),
        proptest::option::of(time()).prop_map(|t_ms| Uplink::Heartbeat(Heartbeat { t_ms })),
        (any::<bool>(), proptest::option::of("\\PC{1,32}"), proptest::option::of("\\PC{1,32}"))
            .prop_map(|(online, fw, model)| Uplink::Status(StatusReport { online, fw, model })),
    ]
}

fn downlink() -> impl Strategy<Value = Downlink> {
    let contact =
        ("\\PC{1,32}", "\\+?[0-9][0-9-]{2,18}").prop_map(|(name, phone)| ConfigContact { name, phone });
    let clock = (0u8..24, 0u8..60).prop_filter_map("valid", |(h, m)| ClockTime::new(h, m));
    let config = (
        proptest::option::of(10u32..=86_400),
        proptest::option::of(vec(contact, 0..=10)),
        proptest::option::of((20u16..=249).prop_flat_map(|lo| (Just(lo), lo + 1..=250))),
        proptest::option::of(prop::sample::select(FallSensitivity::ALL)),
        proptest::option::of((clock.clone(), clock)),
    )
        .prop_map(|(report_interval_s, contacts, hr, fall_sensitivity, silent)| DeviceConfigMsg {
            report_interval_s,
            contacts,
            hr_low: hr.map(|h| h.0),
            hr_high: hr.map(|h| h.1),
            fall_sensitivity,
            silent: silent.map(|(start, end)| SilentHours { start, end }),
        });
    prop_oneof![
        ("[!-~]{1,64}", proptest::option::of(any::<i64>()))
            .prop_map(|(id, alarm)| Downlink::Ack(Ack::accepted(id, alarm))),
        ("[!-~]{1,64}", "[a-z_]{1,64}").prop_map(|(id, err)| Downlink::Ack(Ack::refused(id, err))),
        config.prop_map(Downlink::Config),
        (any::<i64>(), prop::sample::select(FeedbackState::ALL))
            .prop_map(|(a, s)| Downlink::Feedback(Feedback::for_state(a, s))),
        (any::<i64>(), prop::sample::select(FeedbackState::ALL), "\\PC{1,200}", "\\PC{1,200}")
            .prop_map(|(alarm, state, zh, en)| Downlink::Feedback(Feedback { alarm, state, zh, en })),
    ]
}

/// JSON-looking text: the decoder's interesting paths, far more often than random bytes.
fn jsonish() -> impl Strategy<Value = String> {
    let token = prop::sample::select(vec![
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\"t\"",
        "\"id\"",
        "\"type\"",
        "\"sos\"",
        "\"fix\"",
        "\"none\"",
        "\"lat\"",
        "\"lon\"",
        "\"hr\"",
        "\"sbp\"",
        "\"dbp\"",
        "\"pct\"",
        "\"online\"",
        "\"fw\"",
        "1700000000000",
        "0",
        "-1",
        "1e308",
        "1e-308",
        "36.6",
        "true",
        "false",
        "null",
        "\"\\u0000\"",
        "\"\\ud800\"",
        " ",
    ]);
    vec(token, 0..40).prop_map(|t| t.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn decode_uplink_never_panics_on_bytes(bytes in vec(any::<u8>(), 0..2048)) {
        for kind in Kind::ALL {
            let r = decode_uplink(kind, &bytes);
            // A motion batch has exactly one encoding: what decodes re-encodes to the input.
            if let Ok(Uplink::Motion(m)) = r {
                prop_assert_eq!(m.encode(), bytes.clone());
            }
            let _ = decode_downlink(kind, &bytes);
        }
    }

    #[test]
    fn decode_uplink_never_panics_on_jsonish(text in jsonish()) {
        for kind in Kind::ALL {
            if let Ok(u) = decode_uplink(kind, text.as_bytes()) {
                // Whatever is accepted re-encodes to something accepted as the same message.
                prop_assert_eq!(decode_uplink(kind, &u.encode()), Ok(u));
            }
            let _ = decode_downlink(kind, text.as_bytes());
        }
    }

    #[test]
    fn damaged_motion_never_panics(b in motion(), at in any::<prop::sample::Index>(), byte in any::<u8>(), cut in any::<prop::sample::Index>()) {
        let good = b.encode();
        let mut bytes = good.clone();
        let i = at.index(bytes.len());
        bytes[i] = byte;
        if let Ok(Uplink::Motion(m)) = decode_uplink(Kind::Motion, &bytes) {
            prop_assert_eq!(m.encode(), bytes);
        }
        // Any strict prefix of a valid batch is refused.
        let prefix = &good[..cut.index(good.len())];
        prop_assert!(decode_uplink(Kind::Motion, prefix).is_err());
    }

    #[test]
    fn parse_topic_never_panics(s in "\\PC{0,80}", root in "[a-z/]{0,4}") {
        for r in [root.as_str(), "zl"] {
            if let Ok(t) = parse_topic(r, &s) {
                prop_assert_eq!(topic(r, t.serial, t.dir, t.kind), s.clone());
            }
        }
    }

    #[test]
    fn parse_topic_never_panics_on_topicish(
        levels in vec(prop_oneof![Just("zl".to_string()), Just("v1".to_string()), Just("up".to_string()),
            Just("down".to_string()), Just("+".to_string()), Just("#".to_string()), "[0-9]{1,3}",
            "[A-Za-z0-9_-]{0,34}", "(motion|vital|loc|event|battery|hb|status|ack|config|feedback)"], 0..9)
    ) {
        let s = levels.join("/");
        if let Ok(t) = parse_topic("zl", &s) {
            prop_assert_eq!(topic("zl", t.serial, t.dir, t.kind), s.clone());
            prop_assert_eq!(t.shard, zhulao_proto::shard_of(t.serial));
        }
    }

    #[test]
    fn topics_round_trip(serial in "[A-Za-z0-9_-]{1,32}", kind in prop::sample::select(Kind::ALL.to_vec())) {
        let t = topic("zl", &serial, kind.direction(), kind);
        let p = parse_topic("zl", &t).unwrap();
        prop_assert_eq!((p.serial, p.dir, p.kind, p.shard), (serial.as_str(), kind.direction(), kind, zhulao_proto::shard_of(&serial)));
    }

    #[test]
    fn motion_round_trips(b in motion()) {
        let bytes = b.encode();
        prop_assert_eq!(bytes.len(), b.encoded_len());
        prop_assert_eq!(decode_uplink(Kind::Motion, &bytes), Ok(Uplink::Motion(b.clone())));
        let samples: Vec<_> = b.samples().collect();
        prop_assert_eq!(samples.len(), b.len());
        prop_assert!(samples.windows(2).all(|w| w[0].t_ms <= w[1].t_ms));
        prop_assert_eq!(samples.first().map(|s| s.t_ms), Some(b.t0_ms));
    }

    #[test]
    fn json_uplinks_round_trip(u in json_uplink()) {
        let kind = u.kind();
        prop_assert_eq!(decode_uplink(kind, &u.encode()), Ok(u.clone()));
        // serde_json directly gives the same bytes as `encode`.
        let direct = match &u {
            Uplink::Vital(v) => serde_json::to_vec(v),
            Uplink::Location(v) => serde_json::to_vec(v),
            Uplink::Event(v) => serde_json::to_vec(v),
            Uplink::Battery(v) => serde_json::to_vec(v),
            Uplink::Heartbeat(v) => serde_json::to_vec(v),
            Uplink::Status(v) => serde_json::to_vec(v),
            Uplink::Motion(_) => unreachable!(),
        };
        prop_assert_eq!(direct.ok(), Some(u.encode()));
    }

    #[test]
    fn downlinks_round_trip(d in downlink()) {
        prop_assert_eq!(decode_downlink(d.kind(), &d.encode()), Ok(d.clone()));
    }
}
