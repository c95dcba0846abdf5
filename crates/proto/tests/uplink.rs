//! Uplink payloads as data: each valid message and what it decodes to, each invalid one and its error.

use zhulao_proto::{
    BatteryReport, DecodeError, DeviceEvent, EventKind, Fix, Heartbeat, Kind, LocationReport, MAX_PAYLOAD,
    MotionBatch, StatusReport, Uplink, VitalReport, decode_uplink, peek_event_id,
};

const T: i64 = 1_700_000_000_000;

fn ok(kind: Kind, json: &str) -> Uplink {
    match decode_uplink(kind, json.as_bytes()) {
        Ok(u) => u,
        Err(e) => panic!("{kind} {json}: {e}"),
    }
}

/// Asserts the payload is refused with `code` about `field`.
fn refused(kind: Kind, json: &str, code: &str, field: Option<&str>) {
    match decode_uplink(kind, json.as_bytes()) {
        Ok(u) => panic!("{kind} {json}: accepted as {u:?}"),
        Err(e) => {
            assert_eq!((e.code(), e.field()), (code, field), "{kind} {json}: {e}");
            assert!(!e.zh().is_empty() && !e.en().is_empty());
        }
    }
}

#[test]
fn vital_valid() {
    let full = r#"{"t":1700000000000,"hr":72,"sbp":120,"dbp":80,"spo2":97,"temp":36.6}"#;
    assert_eq!(
        ok(Kind::Vital, full),
        Uplink::Vital(VitalReport {
            t_ms: T,
            hr: Some(72),
            sbp: Some(120),
            dbp: Some(80),
            spo2: Some(97),
            temp: Some(36.6)
        })
    );
    // One measurement is enough; unknown fields and nulls are ignored; numbers may be floats.
    let Uplink::Vital(v) = ok(Kind::Vital, r#"{"t":1.7e12,"hr":71.6,"sbp":null,"extra":{"x":[1]}}"#) else {
        panic!()
    };
    assert_eq!((v.t_ms, v.hr, v.sbp), (T, Some(72), None));
    // Bounds are inclusive.
    for json in [
        r#"{"t":1700000000000,"hr":20}"#,
        r#"{"t":1700000000000,"hr":250}"#,
        r#"{"t":1700000000000,"sbp":260,"dbp":160}"#,
        r#"{"t":1700000000000,"sbp":50}"#,
        r#"{"t":1700000000000,"dbp":30}"#,
        r#"{"t":1700000000000,"spo2":50}"#,
        r#"{"t":1700000000000,"spo2":100}"#,
        r#"{"t":1700000000000,"temp":30}"#,
        r#"{"t":1700000000000,"temp":43.0}"#,
        r#"{"t":1577836800000,"hr":60}"#,
    ] {
        ok(Kind::Vital, json);
    }
}

#[test]
fn vital_invalid() {
    let cases: &[(&str, &str, Option<&str>)] = &[
        (r#"{"hr":72}"#, "missing", Some("t")),
        (r#"{"t":1700000000000}"#, "missing", Some("hr|sbp|dbp|spo2|temp")),
        (r#"{"t":1700000000000,"hr":null}"#, "missing", Some("hr|sbp|dbp|spo2|temp")),
        (r#"{"t":1700000000000,"hr":19}"#, "out_of_range", Some("hr")),
        (r#"{"t":1700000000000,"hr":251}"#, "out_of_range", Some("hr")),
        (r#"{"t":1700000000000,"hr":-1}"#, "out_of_range", Some("hr")),
        (r#"{"t":1700000000000,"hr":1e300}"#, "out_of_range", Some("hr")),
        (r#"{"t":1700000000000,"sbp":49}"#, "out_of_range", Some("sbp")),
        (r#"{"t":1700000000000,"sbp":261}"#, "out_of_range", Some("sbp")),
        (r#"{"t":1700000000000,"dbp":29}"#, "out_of_range", Some("dbp")),
        (r#"{"t":1700000000000,"dbp":161}"#, "out_of_range", Some("dbp")),
        (r#"{"t":1700000000000,"sbp":80,"dbp":80}"#, "out_of_range", Some("dbp")),
        (r#"{"t":1700000000000,"sbp":80,"dbp":120}"#, "out_of_range", Some("dbp")),
        (r#"{"t":1700000000000,"spo2":49}"#, "out_of_range", Some("spo2")),
        (r#"{"t":1700000000000,"spo2":101}"#, "out_of_range", Some("spo2")),
        (r#"{"t":1700000000000,"temp":29.9}"#, "out_of_range", Some("temp")),
        (r#"{"t":1700000000000,"temp":43.1}"#, "out_of_range", Some("temp")),
        (r#"{"t":0,"hr":72}"#, "bad_time", Some("t")),
        (r#"{"t":1577836799999,"hr":72}"#, "bad_time", Some("t")),
        (r#"{"t":4102444800000,"hr":72}"#, "bad_time", Some("t")),
        (r#"{"t":-1e30,"hr":72}"#, "bad_time", Some("t")),
        (r#"{"t":"1700000000000","hr":72}"#, "bad_json", None),
        (r#"{"t":1700000000000,"hr":"72"}"#, "bad_json", None),
        (r#"{"t":1700000000000,"hr":72"#, "bad_json", None),
        (r#"{"t":1700000000000,"hr":72,"hr":73}"#, "bad_json", None),
        (r#"[1700000000000,72]"#, "bad_json", None),
        ("null", "bad_json", None),
        ("", "empty", None),
        ("  \n", "empty", None),
    ];
    for (json, code, field) in cases {
        refused(Kind::Vital, json, code, *field);
    }
}

#[test]
fn location() {
    let Uplink::Location(l) =
        ok(Kind::Location, r#"{"t":1700000000000,"lat":39.9087,"lon":116.3975,"acc":15,"fix":"gps"}"#)
    else {
        panic!()
    };
    assert_eq!(
        l,
        LocationReport { t_ms: T, lat: Some(39.9087), lon: Some(116.3975), acc_m: Some(15.0), fix: Fix::Gps }
    );
    assert_eq!(l.position(), Some((39.9087, 116.3975)));
    for fix in ["wifi", "cell"] {
        ok(Kind::Location, &format!(r#"{{"t":1700000000000,"lat":-90,"lon":180,"fix":"{fix}"}}"#));
    }
    let Uplink::Location(none) = ok(Kind::Location, r#"{"t":1700000000000,"fix":"none"}"#) else { panic!() };
    assert_eq!((none.fix, none.position()), (Fix::None, None));

    let cases: &[(&str, &str, Option<&str>)] = &[
        (r#"{"t":1700000000000,"fix":"gps"}"#, "missing", Some("lat")),
        (r#"{"t":1700000000000,"lat":39.9,"fix":"gps"}"#, "missing", Some("lon")),
        (r#"{"t":1700000000000,"lon":116.4,"fix":"none"}"#, "missing", Some("lat")),
        (r#"{"t":1700000000000,"lat":39.9,"lon":116.4}"#, "missing", Some("fix")),
        (r#"{"t":1700000000000,"lat":39.9,"lon":116.4,"fix":"GPS"}"#, "unknown_value", Some("fix")),
        (r#"{"t":1700000000000,"lat":90.1,"lon":116.4,"fix":"gps"}"#, "out_of_range", Some("lat")),
        (r#"{"t":1700000000000,"lat":39.9,"lon":-180.5,"fix":"gps"}"#, "out_of_range", Some("lon")),
        (r#"{"t":1700000000000,"lat":39.9,"lon":116.4,"acc":-1,"fix":"gps"}"#, "out_of_range", Some("acc")),
        (r#"{"t":1700000000000,"lat":39.9,"lon":116.4,"acc":1e6,"fix":"cell"}"#, "out_of_range", Some("acc")),
        (r#"{"lat":39.9,"lon":116.4,"fix":"gps"}"#, "missing", Some("t")),
        (r#"{"t":100,"lat":39.9,"lon":116.4,"fix":"gps"}"#, "bad_time", Some("t")),
    ];
    for (json, code, field) in cases {
        refused(Kind::Location, json, code, *field);
    }
}

#[test]
fn event() {
    let Uplink::Event(e) = ok(
        Kind::Event,
        r#"{"id":"e-42","t":1700000000000,"type":"fall","lat":39.9,"lon":116.4,"conf":0.9,"v":2}"#,
    ) else {
        panic!()
    };
    assert_eq!(
        e,
        DeviceEvent {
            id: "e-42".into(),
            t_ms: T,
            kind: EventKind::Fall,
            lat: Some(39.9),
            lon: Some(116.4),
            conf: Some(0.9)
        }
    );
    // An SOS without a fix still decodes.
    let Uplink::Event(sos) = ok(Kind::Event, r#"{"id":"1","t":1700000000000,"type":"sos"}"#) else {
        panic!()
    };
    assert_eq!((sos.kind, sos.position(), sos.conf), (EventKind::Sos, None, None));
    for kind in EventKind::ALL {
        let json = format!(r#"{{"id":"x","t":1700000000000,"type":"{kind}"}}"#);
        let Uplink::Event(e) = ok(Kind::Event, &json) else { panic!() };
        assert_eq!(e.kind, *kind);
    }
    let id64 = "A".repeat(64);
    ok(Kind::Event, &format!(r#"{{"id":"{id64}","t":1700000000000,"type":"sos"}}"#));
    ok(Kind::Event, r#"{"id":"~!@{}[]","t":1700000000000,"type":"sos","conf":0}"#);

    let id65 = "A".repeat(65);
    let too_long = format!(r#"{{"id":"{id65}","t":1700000000000,"type":"sos"}}"#);
    let cases: &[(&str, &str, Option<&str>)] = &[
        (r#"{"t":1700000000000,"type":"sos"}"#, "missing", Some("id")),
        (r#"{"id":"","t":1700000000000,"type":"sos"}"#, "bad_text", Some("id")),
        (&too_long, "bad_text", Some("id")),
        (r#"{"id":"e 42","t":1700000000000,"type":"sos"}"#, "bad_text", Some("id")),
        (r#"{"id":"求助","t":1700000000000,"type":"sos"}"#, "bad_text", Some("id")),
        (r#"{"id":"e\n","t":1700000000000,"type":"sos"}"#, "bad_text", Some("id")),
        (r#"{"id":42,"t":1700000000000,"type":"sos"}"#, "bad_json", None),
        (r#"{"id":"e","type":"sos"}"#, "missing", Some("t")),
        (r#"{"id":"e","t":1700000000000}"#, "missing", Some("type")),
        (r#"{"id":"e","t":1700000000000,"type":"smoke"}"#, "unknown_value", Some("type")),
        (r#"{"id":"e","t":1700000000000,"type":"sos","lat":39.9}"#, "missing", Some("lon")),
        (r#"{"id":"e","t":1700000000000,"type":"sos","lat":91,"lon":0}"#, "out_of_range", Some("lat")),
        (r#"{"id":"e","t":1700000000000,"type":"fall","conf":1.01}"#, "out_of_range", Some("conf")),
        (r#"{"id":"e","t":1700000000000,"type":"fall","conf":-0.1}"#, "out_of_range", Some("conf")),
        (r#"{"id":"e","t":4200000000000,"type":"sos"}"#, "bad_time", Some("t")),
    ];
    for (json, code, field) in cases {
        refused(Kind::Event, json, code, *field);
    }
}

#[test]
fn event_id_can_be_read_from_a_refused_event() {
    let bad_time = br#"{"id":"e-7","t":0,"type":"sos"}"#;
    assert_eq!(decode_uplink(Kind::Event, bad_time).unwrap_err().code(), "bad_time");
    assert_eq!(peek_event_id(bad_time).as_deref(), Some("e-7"));
    assert_eq!(peek_event_id(br#"{"id":"e-8","type":"smoke"}"#).as_deref(), Some("e-8"));
    assert_eq!(peek_event_id(br#"{"id":"e 8"}"#), None);
    assert_eq!(peek_event_id(br#"{"type":"sos"}"#), None);
    assert_eq!(peek_event_id(b"{\"id\":"), None);
    assert_eq!(peek_event_id(b"\xff"), None);
}

#[test]
fn unknown_values_are_clipped_in_errors() {
    let long = "x".repeat(10_000);
    let json = format!(r#"{{"id":"e","t":1700000000000,"type":"{long}"}}"#);
    let e = decode_uplink(Kind::Event, json.as_bytes()).unwrap_err();
    assert!(e.en().len() < 300, "{}", e.en());
    let json = format!(r#"{{"t":"{long}","hr":70}}"#);
    let e = decode_uplink(Kind::Vital, json.as_bytes()).unwrap_err();
    assert_eq!(e.code(), "bad_json");
    assert!(e.en().len() < 300, "{}", e.en());
}

#[test]
fn battery() {
    assert_eq!(
        ok(Kind::Battery, r#"{"t":1700000000000,"pct":87,"charging":true}"#),
        Uplink::Battery(BatteryReport { t_ms: T, pct: 87, charging: true })
    );
    assert_eq!(
        ok(Kind::Battery, r#"{"t":1700000000000,"pct":0}"#),
        Uplink::Battery(BatteryReport { t_ms: T, pct: 0, charging: false })
    );
    ok(Kind::Battery, r#"{"t":1700000000000,"pct":100,"charging":false}"#);
    let cases: &[(&str, &str, Option<&str>)] = &[
        (r#"{"t":1700000000000,"pct":101}"#, "out_of_range", Some("pct")),
        (r#"{"t":1700000000000,"pct":-1}"#, "out_of_range", Some("pct")),
        (r#"{"t":1700000000000}"#, "missing", Some("pct")),
        (r#"{"pct":50}"#, "missing", Some("t")),
        (r#"{"t":1700000000000,"pct":50,"charging":"yes"}"#, "bad_json", None),
    ];
    for (json, code, field) in cases {
        refused(Kind::Battery, json, code, *field);
    }
}

#[test]
fn heartbeat() {
    assert_eq!(ok(Kind::Heartbeat, ""), Uplink::Heartbeat(Heartbeat { t_ms: None }));
    assert_eq!(ok(Kind::Heartbeat, " \r\n"), Uplink::Heartbeat(Heartbeat { t_ms: None }));
    assert_eq!(ok(Kind::Heartbeat, "{}"), Uplink::Heartbeat(Heartbeat { t_ms: None }));
    assert_eq!(ok(Kind::Heartbeat, r#"{"t":1700000000000}"#), Uplink::Heartbeat(Heartbeat { t_ms: Some(T) }));
    refused(Kind::Heartbeat, r#"{"t":5}"#, "bad_time", Some("t"));
    refused(Kind::Heartbeat, "hb", "bad_json", None);
}

#[test]
fn status() {
    assert_eq!(
        ok(Kind::Status, r#"{"online":true,"fw":"1.2.0","model":"ZL-P1"}"#),
        Uplink::Status(StatusReport { online: true, fw: Some("1.2.0".into()), model: Some("ZL-P1".into()) })
    );
    assert_eq!(ok(Kind::Status, r#"{"online":false}"#), Uplink::Status(StatusReport::offline()));
    ok(Kind::Status, r#"{"online":true,"model":"智能手表-三十二个字符以内"}"#);
    let long = "v".repeat(33);
    let too_long = format!(r#"{{"online":true,"fw":"{long}"}}"#);
    let cases: &[(&str, &str, Option<&str>)] = &[
        (r#"{"fw":"1.2.0"}"#, "missing", Some("online")),
        (r#"{"online":"true"}"#, "bad_json", None),
        (&too_long, "bad_text", Some("fw")),
        (r#"{"online":true,"model":""}"#, "bad_text", Some("model")),
        (r#"{"online":true,"model":"a\u0007b"}"#, "bad_text", Some("model")),
    ];
    for (json, code, field) in cases {
        refused(Kind::Status, json, code, *field);
    }
}

#[test]
fn size_encoding_and_direction() {
    // Over 64 KiB is refused before anything else, for every kind.
    let mut big = br#"{"t":1700000000000,"hr":72,"pad":""#.to_vec();
    big.resize(MAX_PAYLOAD + 1 - 2, b'x');
    big.extend_from_slice(b"\"}");
    assert_eq!(big.len(), MAX_PAYLOAD + 1);
    for kind in Kind::UPLINK {
        assert_eq!(decode_uplink(kind, &big), Err(DecodeError::TooLarge { len: MAX_PAYLOAD + 1 }));
    }
    // Exactly 64 KiB is fine.
    big.truncate(MAX_PAYLOAD - 2);
    big.extend_from_slice(b"\"}");
    assert!(decode_uplink(Kind::Vital, &big).is_ok());

    // Non-UTF-8 JSON.
    let latin1 = b"{\"id\":\"caf\xe9\",\"t\":1700000000000,\"type\":\"sos\"}";
    assert_eq!(decode_uplink(Kind::Event, latin1), Err(DecodeError::NotUtf8 { valid_up_to: 10 }));
    let e = decode_uplink(Kind::Status, b"\xff\xfe{}").unwrap_err();
    assert_eq!(e.code(), "not_utf8");
    assert!(e.en().contains("UTF-8") && e.zh().contains("UTF-8"));

    // Downlink kinds are not uplink payloads.
    for kind in Kind::DOWNLINK {
        assert_eq!(decode_uplink(kind, b"{}"), Err(DecodeError::WrongDirection { kind }));
    }
    // Motion is binary: JSON on the motion topic is a bad magic.
    assert_eq!(decode_uplink(Kind::Motion, br#"{"t":1700000000000,"accel":[]}"#), Err(DecodeError::BadMagic));
}

#[test]
fn motion_through_decode_uplink() {
    let batch = MotionBatch { seq: 9, t0_ms: T, rate_hz: 25, accel: vec![[1, 2, 3]; 25], gyro: None };
    let up = Uplink::Motion(batch.clone());
    assert_eq!(up.kind(), Kind::Motion);
    assert_eq!(decode_uplink(Kind::Motion, &up.encode()), Ok(Uplink::Motion(batch)));
    assert_eq!(up.t_ms(), Some(T));
}

#[test]
fn encoders_write_what_the_document_shows() {
    let v = VitalReport {
        t_ms: T,
        hr: Some(72),
        sbp: Some(120),
        dbp: Some(80),
        spo2: Some(97),
        temp: Some(36.6),
    };
    assert_eq!(
        Uplink::Vital(v).encode(),
        br#"{"t":1700000000000,"hr":72,"sbp":120,"dbp":80,"spo2":97,"temp":36.6}"#
    );
    let e =
        DeviceEvent { id: "e-42".into(), t_ms: T, kind: EventKind::Sos, lat: None, lon: None, conf: None };
    assert_eq!(Uplink::Event(e).encode(), br#"{"id":"e-42","t":1700000000000,"type":"sos"}"#);
    assert_eq!(Uplink::Status(StatusReport::offline()).encode(), br#"{"online":false}"#);
    assert_eq!(Uplink::Heartbeat(Heartbeat::default()).encode(), b"{}");
    let l = LocationReport { t_ms: T, lat: None, lon: None, acc_m: None, fix: Fix::None };
    assert_eq!(Uplink::Location(l).encode(), br#"{"t":1700000000000,"fix":"none"}"#);
    let b = BatteryReport { t_ms: T, pct: 5, charging: false };
    assert_eq!(Uplink::Battery(b).encode(), br#"{"t":1700000000000,"pct":5,"charging":false}"#);
}

#[test]
fn serde_deserialize_validates_too() {
    // The public types deserialise through the same checks (for callers using serde_json directly).
    let r: Result<VitalReport, _> = serde_json::from_str(r#"{"t":1700000000000,"hr":300}"#);
    assert!(r.unwrap_err().to_string().contains("hr out of range"));
    let e: DeviceEvent = serde_json::from_str(r#"{"id":"a","t":1700000000000,"type":"worn"}"#).unwrap();
    assert_eq!(e.kind, EventKind::Worn);
}

#[test]
fn every_error_has_a_listed_code_and_both_messages() {
    let samples = [
        decode_uplink(Kind::Event, b"{").unwrap_err(),
        decode_uplink(Kind::Motion, b"ZM").unwrap_err(),
        decode_uplink(Kind::Ack, b"").unwrap_err(),
        decode_uplink(Kind::Vital, b"").unwrap_err(),
        zhulao_proto::parse_topic("zl", "zl/v1/xx/a/up/hb").unwrap_err(),
    ];
    for e in samples {
        assert!(DecodeError::CODES.contains(&e.code()), "{}", e.code());
        let shown = e.to_string();
        assert!(shown.contains(&e.zh()) && shown.contains(&e.en()));
    }
}
