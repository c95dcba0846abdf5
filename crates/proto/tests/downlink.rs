//! Downlink messages: encoding, decoding, validation and the standard feedback texts.

use zhulao_proto::{
    Ack, ClockTime, ConfigContact, DecodeError, DeviceConfigMsg, Downlink, FallSensitivity, Feedback,
    FeedbackState, Kind, SilentHours, decode_downlink,
};

fn round_trip(d: Downlink) {
    let bytes = d.encode();
    assert_eq!(decode_downlink(d.kind(), &bytes).as_ref(), Ok(&d), "{}", String::from_utf8_lossy(&bytes));
}

fn code(kind: Kind, json: &str) -> (&'static str, Option<&'static str>) {
    match decode_downlink(kind, json.as_bytes()) {
        Ok(d) => panic!("{json}: accepted as {d:?}"),
        Err(e) => (e.code(), e.field()),
    }
}

#[test]
fn ack() {
    let a = Ack::accepted("e-42", Some(123));
    assert_eq!(Downlink::Ack(a.clone()).encode(), br#"{"id":"e-42","ok":true,"alarm":123}"#);
    round_trip(Downlink::Ack(a));
    let r = Ack::refused("e-43", "unknown_device");
    assert_eq!(Downlink::Ack(r.clone()).encode(), br#"{"id":"e-43","ok":false,"err":"unknown_device"}"#);
    round_trip(Downlink::Ack(r));
    round_trip(Downlink::Ack(Ack::accepted("x", None)));
    assert_eq!(
        decode_downlink(Kind::Ack, br#"{"id":"e","ok":true,"future":1}"#),
        Ok(Downlink::Ack(Ack::accepted("e", None)))
    );
    assert_eq!(code(Kind::Ack, r#"{"ok":true}"#), ("bad_json", None));
    assert_eq!(code(Kind::Ack, r#"{"id":"","ok":true}"#), ("bad_text", Some("id")));
    assert_eq!(code(Kind::Ack, r#"{"id":"a","ok":false,"err":"no such"}"#), ("bad_text", Some("err")));
}

#[test]
fn feedback() {
    let f = Feedback::for_state(123, FeedbackState::Received);
    assert_eq!(
        String::from_utf8(Downlink::Feedback(f.clone()).encode()).unwrap(),
        r#"{"alarm":123,"state":"received","zh":"已收到求助，正在为您联系","en":"Help request received"}"#
    );
    for state in FeedbackState::ALL {
        let f = Feedback::for_state(7, *state);
        assert!(!f.zh.is_empty() && !f.en.is_empty());
        assert_eq!(FeedbackState::parse(state.as_str()), Some(*state));
        round_trip(Downlink::Feedback(f));
    }
    assert_eq!(code(Kind::Feedback, r#"{"alarm":1,"state":"lost","zh":"x","en":"x"}"#), ("bad_json", None));
    assert_eq!(
        code(Kind::Feedback, r#"{"alarm":1,"state":"closed","zh":"","en":"x"}"#),
        ("bad_text", Some("zh"))
    );
}

#[test]
fn config() {
    let c = DeviceConfigMsg {
        report_interval_s: Some(60),
        contacts: Some(vec![ConfigContact { name: "女儿 王芳".into(), phone: "13800138000".into() }]),
        hr_low: Some(45),
        hr_high: Some(120),
        fall_sensitivity: Some(FallSensitivity::Normal),
        silent: ClockTime::new(22, 0)
            .zip(ClockTime::new(7, 0))
            .map(|(start, end)| SilentHours { start, end }),
    };
    assert_eq!(
        String::from_utf8(Downlink::Config(c.clone()).encode()).unwrap(),
        r#"{"report_interval_s":60,"contacts":[{"name":"女儿 王芳","phone":"13800138000"}],"hr_low":45,"hr_high":120,"fall_sensitivity":"normal","silent":["22:00","07:00"]}"#
    );
    round_trip(Downlink::Config(c));
    // Everything is optional.
    assert_eq!(Downlink::Config(DeviceConfigMsg::default()).encode(), b"{}");
    round_trip(Downlink::Config(DeviceConfigMsg::default()));
    round_trip(Downlink::Config(DeviceConfigMsg {
        contacts: Some(vec![ConfigContact { name: "120".into(), phone: "+86-10-12345678".into() }]),
        ..Default::default()
    }));

    let eleven: Vec<String> =
        (0..11).map(|i| format!(r#"{{"name":"c{i}","phone":"1380013800{}"}}"#, i % 10)).collect();
    let eleven = format!(r#"{{"contacts":[{}]}}"#, eleven.join(","));
    let cases: &[(&str, (&str, Option<&str>))] = &[
        (r#"{"report_interval_s":5}"#, ("out_of_range", Some("report_interval_s"))),
        (r#"{"report_interval_s":86401}"#, ("out_of_range", Some("report_interval_s"))),
        (r#"{"hr_low":19}"#, ("out_of_range", Some("hr_low"))),
        (r#"{"hr_high":251}"#, ("out_of_range", Some("hr_high"))),
        (r#"{"hr_low":100,"hr_high":100}"#, ("out_of_range", Some("hr_low"))),
        (r#"{"fall_sensitivity":"max"}"#, ("bad_json", None)),
        (r#"{"silent":["22:00"]}"#, ("bad_json", None)),
        (r#"{"silent":["24:00","07:00"]}"#, ("bad_json", None)),
        (r#"{"silent":["22:00","7:00"]}"#, ("bad_json", None)),
        (r#"{"contacts":[{"name":"","phone":"13800138000"}]}"#, ("bad_text", Some("name"))),
        (r#"{"contacts":[{"name":"a","phone":"call me"}]}"#, ("bad_text", Some("phone"))),
        (r#"{"contacts":[{"name":"a","phone":"1+1"}]}"#, ("bad_text", Some("phone"))),
        (r#"{"contacts":[{"name":"a","phone":"---"}]}"#, ("bad_text", Some("phone"))),
        (&eleven, ("out_of_range", Some("contacts"))),
    ];
    for (json, want) in cases {
        assert_eq!(code(Kind::Config, json), *want, "{json}");
    }
}

#[test]
fn clock_time() {
    assert_eq!(ClockTime::parse("00:00"), ClockTime::new(0, 0));
    assert_eq!(ClockTime::parse("23:59").map(|t| (t.hour(), t.minute())), Some((23, 59)));
    for bad in ["24:00", "12:60", "1:00", "12-00", "ab:cd", "", "12:000"] {
        assert_eq!(ClockTime::parse(bad), None, "{bad}");
    }
    assert_eq!(ClockTime::new(7, 5).map(|t| t.to_string()).as_deref(), Some("07:05"));
}

#[test]
fn wrong_direction_and_garbage() {
    for kind in Kind::UPLINK {
        assert_eq!(decode_downlink(kind, b"{}"), Err(DecodeError::WrongDirection { kind }));
    }
    assert_eq!(code(Kind::Ack, ""), ("empty", None));
    assert_eq!(code(Kind::Config, "\u{feff}{}"), ("bad_json", None));
    assert_eq!(decode_downlink(Kind::Feedback, b"\xc3\x28").unwrap_err().code(), "not_utf8");
}
