//! `decode_stream`: raw bytes in, one JSON object per line out, errors as lines, decoding goes on.

use serde_json::Value;
use zhulao_watch::{Protocol, Stats, decode_stream};

fn run(protocol: Protocol, input: &[u8]) -> (Vec<Value>, Stats) {
    let mut out = Vec::new();
    let stats = decode_stream(protocol, input, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let lines = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    (lines, stats)
}

#[test]
fn three_g_stream_with_noise_and_errors() {
    let input = b"\r\n[3G*4700186508*000B*LK,0,10,100]\r\n\
[3G*8308373902*0080*AL,230817,095346,A,47.083950,N,15.4821850,E,7.60,273.8,0.0,4,15,44,0,0,00200010,2,255,232,1,7605,42530,118,7605,58036,119,0,65.8]\n\
garbage[xx*oops]\n\
[3G*1*0050*UD,010124,080000,A,95.5,N,114.0,E,0,0,0,5,80,50,10,0,00000000,0,0]\n\
[3G*4700609403*0013*bphrt,120,79,73,,,,]\n\
[3G*1*0002*L";
    let (lines, stats) = run(Protocol::Watch3g, input);
    assert_eq!(lines.len(), 6, "{lines:#?}");

    let lk = &lines[0];
    for key in [
        "device_id",
        "maker",
        "type",
        "time",
        "valid",
        "lat",
        "lon",
        "speed_kmh",
        "course",
        "battery",
        "steps",
        "alarms",
        "heart_rate",
        "bp_systolic",
        "bp_diastolic",
        "spo2",
        "temperature",
        "reply",
    ] {
        assert!(lk.get(key).is_some(), "missing key {key}");
    }
    assert_eq!(lk["type"], "LK");
    assert_eq!(lk["battery"], 100);
    assert_eq!(lk["time"], Value::Null);
    assert_eq!(lk["reply"], "[3G*4700186508*0002*LK]");

    let al = &lines[1];
    assert_eq!(al["alarms"], serde_json::json!(["fall"]));
    assert_eq!(al["time"], "2017-08-23T09:53:46Z");
    assert_eq!(al["valid"], true);
    assert_eq!(al["reply"], "[3G*8308373902*0002*AL]");

    assert_eq!(lines[2]["error"], "frame_header");
    assert!(lines[2]["message"].as_str().unwrap().contains("帧头"));
    assert!(lines[2]["message_en"].as_str().unwrap().contains("header"));
    assert_eq!(lines[3]["error"], "out_of_range");
    assert_eq!(lines[4]["bp_systolic"], 120);
    assert_eq!(lines[4]["reply"], Value::Null);
    assert_eq!(lines[5]["error"], "frame_truncated");

    assert_eq!(stats.frames, 4);
    assert_eq!(stats.messages, 3);
    assert_eq!(stats.errors, 3);
    // "\r\n" ×2, "\n" ×4, "garbage", and "xx*oops]" left after the bad '['.
    assert_eq!(stats.skipped_bytes, 2 + 2 + 4 + 7 + 8);
}

#[test]
fn iw_stream_carries_the_login_imei() {
    let input = b"IWAP00353456789012345#\nIWAP49,68#\nIWAP10080524A2232.9806N11404.9355E000.1061830323.8706000908000502,460,0,9520,3671,01,zh-cn,00#\n";
    let (lines, stats) = run(Protocol::Iw, input);
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["type"], "AP00");
    assert_eq!(lines[0]["reply"], Value::Null, "no clock in a pure decode");
    assert_eq!(lines[1]["device_id"], "353456789012345");
    assert_eq!(lines[1]["heart_rate"], 68);
    assert_eq!(lines[1]["reply"], "IWBP49#");
    assert_eq!(lines[2]["device_id"], "353456789012345");
    assert_eq!(lines[2]["alarms"], serde_json::json!(["sos"]));
    assert_eq!(lines[2]["time"], "2008-05-24T06:18:30Z");
    assert_eq!(stats, Stats { frames: 3, messages: 3, errors: 0, skipped_bytes: 3 });
}

#[test]
fn empty_input() {
    let (lines, stats) = run(Protocol::Iw, b"");
    assert!(lines.is_empty());
    assert_eq!(stats, Stats::default());
}
