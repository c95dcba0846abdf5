//! Property tests: the framer and decoders on arbitrary bytes and arbitrary chunking — the same
//! frames however the stream is split, no panics, the buffer within its cap.

use proptest::prelude::*;
use zhulao_watch::{
    Contact, DecodeOptions, Frame, FrameError, Framer, Protocol, WatchCommand, decode, decode_stream,
    decode_with, encode_command,
};

const G3_FRAMES: &[&str] = &[
    "[3G*4700186508*000B*LK,0,10,100]",
    "[SG*8800000015*0002*LK]",
    "[3G*8308373902*0080*AL,230817,095346,A,47.083950,N,15.4821850,E,7.60,273.8,0.0,4,15,44,0,0,00200010,2,255,232,1,7605,42530,118,7605,58036,119,0,65.8]",
    "[ZJ*014111001350304*0033*0064*UD,070318,020827,V,00.000000,N,000.000000,E,0,0,0,0,100,19,1000,50,00000000,1,255,460,0,9346,5223,42]",
    "[3G*1*0046*UD,120623,140020,A,1,N,2,E,0,0,0,1,1,1,1,0,00000000,0,1,[LG_Wall]e725,66:a1:ed:e1:e7:25,-82,15.0]",
    "[3G*4700609403*0013*bphrt,120,79,73,,,,]",
    "[CS*1234567890*000e*TK,#!AMR\x7d\x01\x7d\x02\x7d\x03\x7d\x04\x7d\x05\x7f]",
    "[CS*8800000015*0008*PULSE,72]",
];

const IW_FRAMES: &[&str] = &[
    "IWAP00353456789012345#",
    "IWAP01080524A2232.9806N11404.9355E000.1061830323.8706000908000102,460,0,9520,3671,Home|74-DE-2B-44-88-8C|97#",
    "IWAP10080524A2232.9806N11404.9355E000.1061830323.8706000908000502,460,0,9520,3671,01,zh-cn,00#",
    "IWAP49,68#",
    "IWAPHP,60,130,85,95,90,36.5,,,,,,,#",
    "IWAP07,20140818064408,6,1,5,#a#b##",
];

/// A stream of known frames with noise (random bytes, newlines) between them.
fn stream(pool: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        4 => (0..pool.len()).prop_map(move |i| pool[i].as_bytes().to_vec()),
        1 => proptest::collection::vec(any::<u8>(), 0..24),
        1 => Just(b"\r\n".to_vec()),
    ];
    proptest::collection::vec(piece, 0..24).prop_map(|v| v.concat())
}

/// Cut points for splitting a stream of length `n`.
fn cuts(n: usize, raw: &[usize]) -> Vec<usize> {
    let mut c: Vec<usize> = raw.iter().map(|&x| if n == 0 { 0 } else { x % (n + 1) }).collect();
    c.sort_unstable();
    c
}

type Outcome = (Vec<Result<Frame, FrameError>>, u64);

/// Frames the stream pushed in pieces; checks the buffer bound after every drain.
fn run(protocol: Protocol, max: usize, data: &[u8], cut_at: &[usize]) -> Outcome {
    let mut f = Framer::new(protocol, max);
    let cap = f.max_frame();
    let mut out = Vec::new();
    let mut last = 0;
    for &c in cut_at.iter().chain(std::iter::once(&data.len())) {
        f.push(&data[last..c]);
        last = c;
        out.extend(f.by_ref());
        assert!(f.buffered() <= cap, "buffered {} > cap {cap}", f.buffered());
    }
    while let Some(r) = f.finish() {
        out.push(r);
    }
    assert_eq!(f.buffered(), 0);
    (out, f.skipped_bytes())
}

fn decode_all(outcome: &Outcome) {
    for frame in outcome.0.iter().flatten() {
        if let Ok(m) = decode(frame) {
            assert!(m.lat.is_none_or(|v| v.abs() <= 90.0));
            assert!(m.lon.is_none_or(|v| v.abs() <= 180.0));
            assert!(m.battery.is_none_or(|b| b <= 100));
            serde_json::to_string(&m).unwrap();
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn g3_same_frames_however_split(data in stream(G3_FRAMES), raw in proptest::collection::vec(any::<usize>(), 0..12)) {
        let whole = run(Protocol::Watch3g, 16 * 1024, &data, &[]);
        let split = run(Protocol::Watch3g, 16 * 1024, &data, &cuts(data.len(), &raw));
        prop_assert_eq!(&whole, &split);
        decode_all(&whole);
    }

    #[test]
    fn iw_same_frames_however_split(data in stream(IW_FRAMES), raw in proptest::collection::vec(any::<usize>(), 0..12)) {
        let whole = run(Protocol::Iw, 16 * 1024, &data, &[]);
        let split = run(Protocol::Iw, 16 * 1024, &data, &cuts(data.len(), &raw));
        prop_assert_eq!(&whole, &split);
        decode_all(&whole);
    }

    #[test]
    fn byte_at_a_time_equals_one_push(data in stream(G3_FRAMES)) {
        let whole = run(Protocol::Watch3g, 16 * 1024, &data, &[]);
        let bytes: Vec<usize> = (1..data.len()).collect();
        prop_assert_eq!(whole, run(Protocol::Watch3g, 16 * 1024, &data, &bytes));
    }

    #[test]
    fn arbitrary_bytes_small_cap(
        data in proptest::collection::vec(prop_oneof![any::<u8>(), Just(b'['), Just(b']'), Just(b'*'), Just(b'#'), Just(0x7d)], 0..2048),
        raw in proptest::collection::vec(any::<usize>(), 0..16),
        max in 0usize..300,
    ) {
        for protocol in [Protocol::Watch3g, Protocol::Iw] {
            let whole = run(protocol, max, &data, &[]);
            let split = run(protocol, max, &data, &cuts(data.len(), &raw));
            prop_assert_eq!(&whole, &split);
            decode_all(&whole);
            for frame in whole.0.iter().flatten() {
                prop_assert!(frame.raw.len() <= max.max(64));
            }
        }
    }

    #[test]
    fn decoders_survive_arbitrary_content(
        content in proptest::collection::vec(any::<u8>(), 0..300),
        prefix in prop_oneof![
            Just(""), Just("UD,"), Just("AL,"), Just("LK,"), Just("bphrt,"), Just("oxygen,"), Just("btemp2,"),
            Just("AP01"), Just("AP10"), Just("AP00"), Just("AP02,"), Just("AP03,"), Just("APHP,"), Just("AP50,"),
        ],
    ) {
        let mut bytes = prefix.as_bytes().to_vec();
        bytes.extend_from_slice(&content);
        let opts = DecodeOptions { now: Some(chrono::Utc::now()), ..DecodeOptions::default() };
        for protocol in [Protocol::Watch3g, Protocol::Iw] {
            let frame = Frame {
                protocol,
                maker: "3G".into(),
                device_id: Some("1".into()),
                index: None,
                declared_len: Some(bytes.len()),
                content: bytes.clone(),
                raw: Vec::new(),
            };
            let _ = decode_with(&frame, &opts);
        }
    }

    #[test]
    fn decoders_survive_mangled_fields(field in 0usize..30, value in "[ -~]{0,12}") {
        // A real UD frame with one field replaced by arbitrary printable text.
        let mut v: Vec<String> = "UD,220414,134652,A,22.571707,N,113.8613968,E,0.1,0.0,100,7,60,90,1000,50,0000,4,1,460,0,9360,4082,131,9360,4092,148"
            .split(',').map(String::from).collect();
        let i = field % v.len();
        v[i] = value.clone();
        let content = v.join(",");
        let wire = format!("[3G*1*{:04x}*{content}]", content.len());
        let mut f = Framer::new(Protocol::Watch3g, 16 * 1024);
        f.push(wire.as_bytes());
        for frame in f.by_ref().flatten() {
            if let Ok(m) = decode(&frame) {
                prop_assert!(m.lat.is_none_or(|v| v.abs() <= 90.0));
            }
        }
        // The same for an IW position.
        let body = "080524A2232.9806N11404.9355E000.1061830323.8706000908000502,460,0,9520,3671,01,zh-cn,00";
        let at = field % body.len();
        let mut mangled = body.as_bytes()[..at].to_vec();
        mangled.extend_from_slice(value.as_bytes());
        mangled.extend_from_slice(&body.as_bytes()[at..]);
        let mut wire = b"IWAP10".to_vec();
        wire.extend_from_slice(&mangled);
        wire.push(b'#');
        let mut f = Framer::new(Protocol::Iw, 16 * 1024);
        f.push(&wire);
        for frame in f.by_ref().flatten() {
            if let Ok(m) = decode(&frame) {
                prop_assert!(m.lon.is_none_or(|v| v.abs() <= 180.0));
            }
        }
    }

    #[test]
    fn alarm_frames_keep_their_alarm_whatever_one_field_holds(field in 0usize..24, value in "[ -+\\--Z^-~]{0,12}") {
        // A real SOS frame (status bit 16) with one field other than its type, hemispheres
        // and status word replaced by any text without a separator: still the SOS.
        let mut v: Vec<String> = "AL,220414,134652,A,22.571707,N,113.8613968,E,0.1,0.0,100,7,60,90,1000,50,00010000,4,1,460,0,9360,4082,131"
            .split(',').map(String::from).collect();
        let i = 1 + field % (v.len() - 1);
        prop_assume!(![5, 7, 16].contains(&i));
        v[i] = value.clone();
        let content = v.join(",");
        let wire = format!("[3G*1*{:04x}*{content}]", content.len());
        let mut f = Framer::new(Protocol::Watch3g, 16 * 1024);
        f.push(wire.as_bytes());
        let frame = f.next_frame().unwrap().unwrap();
        let m = decode(&frame).map_err(|e| TestCaseError::fail(format!("{wire}: {e}")))?;
        prop_assert!(m.alarms.contains(&zhulao_watch::Alarm::Sos), "{wire}: {:?}", m.alarms);
        prop_assert!(m.valid == Some(true) || m.valid == Some(false));
        // The same for an IW alarm: any text in its fixed part.
        let body = "080524A2232.9806N11404.9355E000.1061830323.8706000908000502";
        let at = field % body.len();
        let mut wire = format!("IWAP10{}{}{}", &body[..at], value.replace('#', ""), &body[at..]);
        wire.push_str(",460,0,9520,3671,01,zh-cn,00#");
        let mut f = Framer::new(Protocol::Iw, 16 * 1024);
        f.push(wire.as_bytes());
        let frame = f.next_frame().unwrap().unwrap();
        let m = decode(&frame).map_err(|e| TestCaseError::fail(format!("{wire}: {e}")))?;
        prop_assert_eq!(m.alarms, vec![zhulao_watch::Alarm::Sos], "{}", wire);
    }

    #[test]
    fn decode_stream_writes_json_lines(data in stream(G3_FRAMES)) {
        let mut out = Vec::new();
        let stats = decode_stream(Protocol::Watch3g, &data[..], &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        prop_assert_eq!(lines.len() as u64, stats.messages + stats.errors);
        for l in lines {
            let _: serde_json::Value = serde_json::from_str(l).unwrap();
        }
    }

    #[test]
    fn encoded_commands_frame_back(phones in proptest::collection::vec("\\+?[0-9]{1,15}", 1..10), name in "\\PC{0,12}") {
        let contacts: Vec<Contact> = phones.iter().map(|p| Contact { name: name.clone(), phone: p.clone() }).collect();
        let sos = [phones.first().cloned(), phones.get(1).cloned(), None];
        for cmd in [WatchCommand::Phonebook(contacts), WatchCommand::SosNumbers(sos), WatchCommand::Message(format!("{name}x"))] {
            let bytes = encode_command(Protocol::Watch3g, "SG", "8800000015", &cmd).unwrap();
            let mut f = Framer::new(Protocol::Watch3g, 16 * 1024);
            f.push(&bytes);
            let frames: Vec<Frame> = f.by_ref().map(|r| r.unwrap()).collect();
            prop_assert!(!frames.is_empty());
            for fr in frames {
                prop_assert_eq!(fr.length_matches(), Some(true));
                prop_assert_eq!(fr.device_id.as_deref(), Some("8800000015"));
            }
        }
    }
}
