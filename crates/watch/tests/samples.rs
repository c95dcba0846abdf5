//! Decoding real frames. Frames marked "Traccar" are the published samples of Traccar's
//! `WatchProtocolDecoderTest`, `WatchFrameDecoderTest` and `TrvProtocolDecoderTest`
//! (github.com/traccar/traccar, Apache-2.0); IW samples there lack the closing `#`, added here.
//! The others are written from the protocol descriptions.

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use zhulao_watch::{Alarm, DecodeOptions, Frame, Framer, Protocol, WatchMessage, decode, decode_with};

fn frames(protocol: Protocol, wire: &[u8]) -> Vec<Frame> {
    let mut f = Framer::new(protocol, zhulao_watch::DEFAULT_MAX_FRAME);
    f.push(wire);
    let mut out: Vec<Frame> = f.by_ref().map(|r| r.expect("frames")).collect();
    while let Some(r) = f.finish() {
        out.push(r.expect("frames at end"));
    }
    out
}

fn one(protocol: Protocol, wire: &str) -> WatchMessage {
    let fs = frames(protocol, wire.as_bytes());
    assert_eq!(fs.len(), 1, "{wire}");
    decode(&fs[0]).unwrap_or_else(|e| panic!("{wire}: {e}"))
}

fn g3(wire: &str) -> WatchMessage {
    one(Protocol::Watch3g, wire)
}

fn iw(wire: &str) -> WatchMessage {
    one(Protocol::Iw, wire)
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-5)
}

// ---------------------------------------------------------------------------------------------
// 3G: Traccar's samples

#[test]
fn traccar_ud_positions() {
    let m = g3(
        "[SG*8800000015*0087*UD,220414,134652,A,22.571707,N,113.8613968,E,0.1,0.0,100,7,60,90,1000,50,0000,4,1,460,0,9360,4082,131,9360,4092,148,9360,4091,143,9360,4153,141]",
    );
    assert_eq!((m.maker.as_str(), m.device_id.as_deref(), m.kind.as_str()), ("SG", Some("8800000015"), "UD"));
    assert_eq!(m.time, Some(utc("2014-04-22T13:46:52Z")));
    assert_eq!(m.valid, Some(true));
    assert!(close(m.lat, 22.571707) && close(m.lon, 113.8613968));
    assert_eq!((m.speed_kmh, m.course, m.altitude), (Some(0.1), Some(0.0), Some(100.0)));
    assert_eq!((m.satellites, m.rssi, m.battery, m.steps), (Some(7), Some(60), Some(90), Some(1000)));
    assert!(m.alarms.is_empty());
    assert_eq!(m.cells.len(), 4);
    assert_eq!((m.cells[0].mcc, m.cells[0].mnc, m.cells[0].lac, m.cells[0].cid), (460, 0, 9360, 4082));
    assert_eq!(m.cells[3].rssi, Some(141));
    assert_eq!(m.reply, None);

    // Southern and western hemispheres, signs already in the number, missing E/W.
    let m = g3(
        "[3G*6105117105*008D*UD2,210716,231601,V,-33.480366,N,-70.7630692,E,0.00,0.0,0.0,0,100,34,0,0,00000000,3,255,730,2,29731,54315,167,29731,54316,162,29731,54317,145]",
    );
    assert_eq!(m.time, Some(utc("2016-07-21T23:16:01Z")));
    assert_eq!(m.valid, Some(false));
    assert!(close(m.lat, -33.480366) && close(m.lon, -70.7630692));
    let m = g3(
        "[SG*9081000548*00A9*UD,110116,113639,V,16.479064,S,68.119072,,0.7593,000,99,00,80,80,0,50,00000000,5,1,736,2,10103,10732,153,10103,11061,152,10103,11012,152,10103,10151,150,10103,10731,143,,00]",
    );
    assert!(close(m.lat, -16.479064) && close(m.lon, 68.119072));
    assert_eq!(m.cells.len(), 5);
    let m = g3(
        "[SG*9059056143*0053*UD,251021,223408,A,41.46500,N,081.53128,W,0.926,000,0,00,70,70,0,50,00000000,0,1,,,,00]",
    );
    assert!(close(m.lon, -81.53128));
    assert!(m.cells.is_empty() && m.wifi.is_empty());
    let m = g3(
        "[3G*6430073509*00E7*UD2,241016,081622,V,09.951861,N,-84.1422119,W,0.00,0.0,0.0,0,39,94,0,0,00000000,1,0,712,3,2007,18961,123,4,Luz,00:23:6a:34:ee:76,-70,familia,b0:c5:54:b9:90:ef,-78,fam salas delgado,fc:b4:e6:5d:50:ea,-81,QWERTY,c8:3a:35:43:0f:e8,-93]",
    );
    assert!(close(m.lon, -84.1422119));
    assert_eq!(m.wifi.len(), 4);
    assert_eq!(m.wifi[2].ssid, "fam salas delgado");
    let m = g3(
        "[3G*4700222306*0077*UD,120316,140610,V,48.779045,N, 9.1574736,E,0.00,0.0,0.0,0,25,83,0,0,00000000,2,255,262,1,21041,9067,121,21041,5981,116]",
    );
    assert!(close(m.lon, 9.1574736));
    let m = g3(
        "[3G*2256002206*0079*UD2,100116,153723,A,38.000000,N,-9.000000,W,0.44,299.3,0.0,7,100,86,0,0,00000008,2,0,268,3,3010,51042,146,3010,51043,132]",
    );
    assert!(close(m.lon, -9.0));
}

#[test]
fn traccar_ud_variants_with_wifi() {
    let m = g3(
        "[3G*2104326058*00E9*UD_LTE,300621,135101,A,32.162652,N,34.888748,E,30.84,265.158,65.621,18,100,83,0,0,00000000,1,1,425,01,10223,8012811,100,3,ES4104,22:74:1d:39:64:ff,-46,metropoline-wifi,a8:3f:a1:e0:66:ba,-89,Egged.co.il,00:0c:42:51:cf:cd,-81,1.7055488]",
    );
    assert_eq!(m.kind, "UD_LTE");
    assert_eq!(m.cells.len(), 1);
    assert_eq!((m.cells[0].mcc, m.cells[0].mnc, m.cells[0].cid), (425, 1, 8_012_811));
    assert_eq!(m.wifi.len(), 3);
    assert_eq!(m.wifi[0].ssid, "ES4104");
    assert_eq!(m.wifi[0].mac, "22:74:1d:39:64:ff");
    assert_eq!(m.wifi[0].rssi, Some(-46));
    let m = g3(
        "[3G*0304187088*0100*UD_WCDMA,100720,094202,V,0.0,N,0.0,E,22.0,0,-1,21,75,92,0,0,00000000,1,1,425,01,10192,1282125,75,5,Inet,04:f0:21:46:1f:57,-54,iNetSecurity,00:1e:42:25:2f:3e,-71,Gilad,58:d5:6e:9d:1b:af,-80,weekend,14:ae:db:cb:99:25,-82,advancemed1,04:f0:21:4c:c8:3e,-89,0.0]",
    );
    assert_eq!(m.altitude, Some(-1.0));
    assert_eq!(m.wifi.len(), 5);
    let m = g3(
        "[3G*2104134718*00A1*UD_WCDMA,161019,134938,A,43.373367,N,71.157615,W,22.0,350.206,279.717,17,28,79,0,0,00000000,1,1,310,410,23999,132013696,28,1,Home2,60:45:cb:cb:34:68,-93,8.263865]",
    );
    assert_eq!(m.cells[0].cid, 132_013_696);
    assert_eq!(m.wifi.len(), 1);
    let m = g3(
        "[3G*6005412902*011F*WT,170517,133811,V,18.512200,N,73.7750283,E,0.00,0.0,0.0,0,92,82,4262,0,00000010,2,1,404,22,10125,8301,141,10125,13921,122,5,Skynet,28:c6:8e:be:87:c0,-60,Intel Wi-Fi,4c:60:de:32:3d:38,-70,Nirvanic-2,40:e3:d6:4a:d9:c2,-73,A4-Guest,40:e3:d6:4a:d9:c4,-73,A4Idatix,40:e3:d6:4a:d9:c3,-73,13.8]",
    );
    assert_eq!((m.kind.as_str(), m.steps, m.cells.len(), m.wifi.len()), ("WT", Some(4262), 2, 5));
    assert!(m.alarms.is_empty(), "bit 4 is motion, not an alarm");
    let m = g3(
        "[3G*8308406279*00CC*UD3,170417,190930,V,54.739618,N,25.273213,E,0.0,323.53,175.1,6,51,83,0,0,00000000,1,1,246,01,200,13242758,51,3,TEO-189835,00:8c:54:58:1d:64,-84,Cgates_7137,78:54:2e:e3:71:37,-85,ASUS,9c:5c:8e:b8:d4:78,-93]",
    );
    assert_eq!((m.kind.as_str(), m.wifi.len()), ("UD3", 3));
    let m = g3(
        "[3G*4700222306*011F*UD2,120316,140444,A,48.779045,N, 9.1574736,E,0.57,12.8,0.0,7,28,77,0,0,00000000,2,2,262,1,21041,9067,121,21041,5981,116,5,WG-Superlativ,34:31:c4:c8:a9:22,-67,EasyBox-28E858,18:83:bf:28:e8:f4,-70,MoMaXXg,be:05:43:b7:19:15,-72,MoMaXX2,bc:05:43:b7:19:15,-72,Gastzugang,18:83:bf:28:e8:f5,-72]",
    );
    assert_eq!((m.cells.len(), m.wifi.len()), (2, 5));
    let m = g3(
        "[SG*9159059735*0066*UD2,230322,082138,A,59.55285,N,016.66185,E,0.0,000,26,14,80,70,0,50,00000000,1,1,240,7,34505,80806406,,00]",
    );
    assert_eq!(m.cells.len(), 1);
    assert_eq!(m.cells[0].rssi, None);
    let m = g3(
        "[3G*9031853319*004E*UD2,220322,055105,A,22.761162,N,114.360192,E,0,0,47,14,100,64,0,0,00000008,0,0]",
    );
    assert_eq!((m.battery, m.satellites), (Some(64), Some(14)));
    // No cells, then five Wi-Fi; the one without an address is skipped, as in Traccar.
    let m = g3(
        "[3G*8800000015*00DD*UD,010120,025946,V,0.0,N,0.0,E,22.0,0,-1,0,100,98,0,0,00000000,0,5,eduroam,f4:db:e6:d2:a8:00,-53,eduroam,f4:db:e6:da:d0:80,-79,eduroam,78:0c:f0:24:f9:80,-82,Lions,b0:be:76:0a:05:9a,-82,tubs-guest,0,-53,0.0]",
    );
    assert!(m.cells.is_empty());
    assert_eq!(m.wifi.len(), 4);
    // Sequence-index headers (ZJ).
    for wire in [
        "[ZJ*014111001350304*0033*0064*UD,070318,020827,V,00.000000,N,000.000000,E,0,0,0,0,100,19,1000,50,00000000,1,255,460,0,9346,5223,42]",
        "[ZJ*014111001350304*0035*0097*UD,070318,020857,V,00.000000,N,000.000000,E,0,0,0,0,100,19,1000,50,00000000,5,255,460,0,9346,5223,42,9346,5214,21,9784,4083,13,9346,5222,11,9346,5221,8]",
        "[ZJ*014111001350304*0038*008a*UD,070318,021027,V,00.000000,N,000.000000,E,0,0,0,0,100,18,1000,50,00000000,4,255,460,0,9346,5223,42,9346,5214,20,9784,4083,11,9346,5221,5]",
    ] {
        let m = g3(wire);
        assert_eq!(m.device_id.as_deref(), Some("014111001350304"));
        assert!(!m.cells.is_empty());
    }
}

#[test]
fn traccar_alarms() {
    let sos = g3(
        "[3G*8809008845*00C0*AL,271219,094744,V,00.000000,N, 0.0000000,E,0.00,0.0,0.0,0,100,81,0,0,00010000,7,0,460,0,9336,3981,141,9336,3912,141,9336,3982,140,9765,4233,134,9765,4071,134,9765,4321,134,9336,4353,132,0,0.0]",
    );
    assert_eq!(sos.alarms, [Alarm::Sos]);
    assert_eq!(sos.cells.len(), 7);
    assert_eq!(sos.reply.as_deref(), Some("[3G*8809008845*0002*AL]"));

    let fall = g3(
        "[3G*8308373902*0080*AL,230817,095346,A,47.083950,N,15.4821850,E,7.60,273.8,0.0,4,15,44,0,0,00200010,2,255,232,1,7605,42530,118,7605,58036,119,0,65.8]",
    );
    assert_eq!(fall.alarms, [Alarm::Fall]);

    let removed = g3(
        "[3G*358839237678820*0122*ALCUSTOMER1,251120,081821,V,0.0,N,0.0,E,2.58,317.462,35.147,14,100,2,11089,0,00100008,1,1,460,01,42308,101992452,100,5,shizhou1,44:56:e2:03:ea:2a,-69,FART3,30:0d:9e:bb:fa:4d,-70,ZKY-A209,88:c3:97:c1:f4:7f,-73,ChinaNet-HNeD,e8:84:c6:21:7c:dc,-77,,30:45:96:10:14:5d,-79,1.2035439]",
    );
    assert_eq!(removed.alarms, [Alarm::Removed]);
    assert_eq!(removed.wifi.len(), 5);
    assert_eq!(removed.wifi[4].ssid, "");
    assert_eq!(removed.reply.as_deref(), Some("[3G*358839237678820*0002*AL]"));

    let low = g3(
        "[SG*8800000015*0087*AL,220414,134652,A,22.571707,N,113.8613968,E,0.1,0.0,100,7,60,90,1000,50,0001,4,1,460,0,9360,4082,131,9360,4092,148,9360,4091,143,9360,4153,141]",
    );
    assert_eq!(low.alarms, [Alarm::LowBattery]);

    // The reply keeps the maker's sequence field.
    let zj = g3(
        "[ZJ*014111001332708*0075*0064*AL,040418,052156,A,22.536207,N,113.938673,E,0,0,0,5,100,82,1000,50,00100000,1,255,460,0,9340,3663,35]",
    );
    assert_eq!(zj.alarms, [Alarm::Removed]);
    assert_eq!(zj.reply.as_deref(), Some("[ZJ*014111001332708*0075*0002*AL]"));

    let plain = g3(
        "[SG*9051004074*0058*AL,120117,145602,V,40.058413,N,76.336618,W,11.519,188,99,00,01,80,0,50,00000000,0,1,0,0,,10]",
    );
    assert!(plain.alarms.is_empty());
    assert_eq!((plain.rssi, plain.battery), (Some(1), Some(80)));
    assert!(plain.reply.is_some());
}

#[test]
fn status_bits_all_reported() {
    // SOS (16), fall (21) and power cut (14) at once; Traccar keeps only the first.
    let m = g3("[3G*1*0050*AL_LTE,010124,080000,A,22.5,N,114.0,E,0,0,0,5,80,50,10,0,00214000,0,0]");
    assert_eq!(m.kind, "AL_LTE");
    assert_eq!(m.alarms, [Alarm::PowerCut, Alarm::Sos, Alarm::Fall]);
    let m = g3("[3G*1*0050*UD,010124,080000,A,22.5,N,114.0,E,0,0,0,5,80,50,10,0,000C0006,0,0]");
    assert_eq!(m.alarms, [Alarm::GeofenceExit, Alarm::GeofenceEnter]);
    assert_eq!(m.reply, None);
}

#[test]
fn traccar_link_and_health() {
    let m = g3("[3G*4700186508*000B*LK,0,10,100]");
    assert_eq!((m.steps, m.battery), (Some(0), Some(100)));
    assert_eq!(m.reply.as_deref(), Some("[3G*4700186508*0002*LK]"));
    let m = g3("[SG*9081000548*0009*LK,0,100]");
    assert_eq!((m.steps, m.battery), (None, None));
    assert_eq!(m.reply.as_deref(), Some("[SG*9081000548*0002*LK]"));
    assert_eq!(g3("[SG*8800000015*0002*LK]").reply.as_deref(), Some("[SG*8800000015*0002*LK]"));
    assert_eq!(g3("[3G*8800000015*0003*TKQ]").reply.as_deref(), Some("[3G*8800000015*0003*TKQ]"));

    assert_eq!(g3("[CS*8800000015*0008*PULSE,72]").heart_rate, Some(72));
    assert_eq!(g3("[3G*6005412902*0007*heart,0]").heart_rate, None);
    let m = g3("[3G*6005412902*0008*heart,71]");
    assert_eq!((m.kind.as_str(), m.heart_rate, m.reply.as_deref()), ("heart", Some(71), None));

    let m = g3("[3G*4700609403*0013*bphrt,120,79,73,,,,]");
    assert_eq!((m.bp_systolic, m.bp_diastolic, m.heart_rate), (Some(120), Some(79), Some(73)));
    assert_eq!(m.reply, None, "echoing bphrt would start a new measurement");
    let m = g3("[ZJ*357653059860416*0007*000c*BLOOD,109,68]");
    assert_eq!((m.bp_systolic, m.bp_diastolic, m.heart_rate), (Some(109), Some(68), None));
    assert_eq!(g3("[3G*2104326058*000E*btemp2,1,35.29]").temperature, Some(35.29));
}

#[test]
fn health_and_link_from_descriptions() {
    let m = g3("[3G*1234567890*0004*INIT]");
    assert_eq!(m.reply.as_deref(), Some("[3G*1234567890*0006*INIT,1]"));
    assert_eq!(g3("[3G*1234567890*0009*oxygen,1,97]").spo2, Some(97));
    assert_eq!(g3("[3G*1234567890*0009*TEMP,36.8]").temperature, Some(36.8));
    assert_eq!(g3("[3G*1234567890*000b*btemp2,0,35.2]").temperature, None);
    // Case-insensitive types; the type is reported as sent.
    let m = g3("[3G*1234567890*000d*Lk,500,0,77]");
    assert_eq!((m.kind.as_str(), m.steps, m.battery), ("Lk", Some(500), Some(77)));
    assert_eq!(m.reply.as_deref(), Some("[3G*1234567890*0002*LK]"));
    let m = g3("[3G*1*0050*ud2,010124,080000,A,22.5,N,114.0,E,0,0,0,5,80,50,10,0,00000000,0,0]");
    assert!(close(m.lat, 22.5));
    assert_eq!(
        g3("[3G*1*0050*Al,010124,080000,A,22.5,N,114.0,E,0,0,0,5,80,50,10,0,00010000,0,0]").alarms,
        [Alarm::Sos]
    );
    assert_eq!(g3("[3G*1*000a*BPHRT,135,88]").bp_systolic, Some(135));
    assert_eq!(g3("[3G*1*0008*Pulse,66]").heart_rate, Some(66));
    assert_eq!(g3("[3G*1*0008*OXYGEN,98]").spo2, Some(98));
    // Voice chunks get a receipt.
    assert_eq!(g3("[3G*1*0010*JXTK,0,a,1,2,x]").reply.as_deref(), Some("[3G*1*0007*JXTKR,1]"));
}

#[test]
fn unknown_types_are_not_errors() {
    let m = g3("[3G*8308406279*0008*rcapture]");
    assert_eq!(
        (m.kind.as_str(), m.device_id.as_deref(), m.maker.as_str()),
        ("rcapture", Some("8308406279"), "3G")
    );
    assert_eq!(m.reply, None);
    assert!(m.lat.is_none() && m.battery.is_none() && m.alarms.is_empty());
}

#[test]
fn malformed_fields_are_errors() {
    let err = |wire: &str| {
        let fs = frames(Protocol::Watch3g, wire.as_bytes());
        decode(&fs[0]).unwrap_err()
    };
    let e = err("[3G*1*0050*UD,010124,080000,A,95.5,N,114.0,E,0,0,0,5,80,50,10,0,00000000,0,0]");
    assert_eq!((e.code(), e.field()), ("out_of_range", "lat"));
    assert!(e.zh().contains("纬度") && e.en().contains("lat"));
    let e = err("[3G*1*0050*UD,010124,080000,A,22.5,N,181.0,W,0,0,0,5,80,50,10,0,00000000,0,0]");
    assert_eq!((e.code(), e.field()), ("out_of_range", "lon"));
    let e = err("[3G*1*0050*UD,010124,080000,A,nan,N,114.0,E,0,0,0,5,80,50,10,0,00000000,0,0]");
    assert_eq!((e.code(), e.field()), ("bad_field", "lat"));
    let e = err("[3G*1*0050*UD,010124,080000,X,22.5,N,114.0,E,0,0,0,5,80,50,10,0,00000000,0,0]");
    assert_eq!(e.field(), "valid");
    // A bad hemisphere letter is malformed (one left out is not: see below).
    let e = err("[3G*1*0050*UD,010124,080000,A,22.5,Q,114.0,E,0,0,0,5,80,50,10,0,00000000,0,0]");
    assert_eq!((e.code(), e.field()), ("bad_field", "lat_hemisphere"));
    let e = err("[3G*1*0050*UD,0101,080000,A,22.5,N,114.0,E,0,0,0,5,80,50,10,0,00000000,0,0]");
    assert_eq!(e.field(), "date");
    let e = err("[3G*1*0050*UD,010124,080000,A,22.5,N,114.0,E,0,0,0,5,80,50,10,0,zz,0,0]");
    assert_eq!(e.field(), "status");
    assert_eq!(err("[3G*1*0008*heart,x7]").field(), "heart_rate");
    assert_eq!(err("[3G*1*0008*oxygen,1,170]").code(), "out_of_range");
    // A malformed battery in a frame without an alarm.
    let e = err("[3G*1*0050*UD,010124,080000,A,22.5,N,114.0,E,0,0,0,5,80,5x,10,0,00000000,0,0]");
    assert_eq!(e.field(), "battery");
    // Fields left out at the end are not an error: what is there is read.
    let m = g3("[3G*1*0050*UD,010124,080000,A,22.5,N,114.0,E,0,0,0,5,80]");
    assert_eq!((m.valid, m.battery, m.rssi), (Some(true), None, Some(80)));
    assert!(m.alarms.is_empty() && m.undecoded.is_none());
    // A date that does not exist is "no time", not an error.
    let m = g3("[3G*1*0050*UD,000000,000000,V,0,N,0,E,0,0,0,0,80,50,10,0,00000000,0,0]");
    assert_eq!(m.time, None);
}

#[test]
fn device_zone_option() {
    let fs = frames(
        Protocol::Watch3g,
        b"[3G*1*0050*UD,010124,080000,A,22.5,N,114.0,E,0,0,0,5,80,50,10,0,00000000,0,0]",
    );
    let opts =
        DecodeOptions { utc_offset: FixedOffset::east_opt(8 * 3600).unwrap(), ..DecodeOptions::default() };
    assert_eq!(decode_with(&fs[0], &opts).unwrap().time, Some(utc("2024-01-01T00:00:00Z")));
}

#[test]
fn traccar_frame_decoder_stream() {
    // WatchFrameDecoderTest: four frames in one read, then an SSID holding brackets.
    let hex = "5b33472a393730353134313734302a303030392a4c4b2c302c302c35335d5b33472a393730353134313734302a303035412a55442c3139303732332c3139303730372c412c33362e3831353130392c4e2c31302e313739323331322c452c382e32342c3132372e392c32312e302c352c3130302c35332c302c302c30303030303030302c302c302c35382e305d5b33472a393730353134313734302a303030332a544b515d5b33472a393730353134313734302a303030392a4c4b2c302c302c35335d";
    let fs = frames(Protocol::Watch3g, &unhex(hex));
    let kinds: Vec<String> = fs.iter().map(Frame::kind).collect();
    assert_eq!(kinds, ["LK", "UD", "TKQ", "LK"]);
    let ud = decode(&fs[1]).unwrap();
    assert_eq!(ud.time, Some(utc("2023-07-19T19:07:07Z")));
    assert!(close(ud.lat, 36.815109));

    let hex = "5b33472a3838303930303234322a303133442a55442c3132303632332c3134303032302c412c34382e3934393237332c4e2c20342e333738333036302c452c31382e35362c34332e382c302e302c31322c3130302c37362c3232363132302c302c30303030303030302c322c3235352c3230342c382c333131302c35353032352c3134362c333133302c34393239372c3132342c352c42616e67696e67576966692c33343a61313a65643a65313a39313a34662c2d37312c42415220576946692c33363a61323a65313a65643a61313a64652c2d37322c4e6574776f726b576966692c32363a64653a61313a65643a65313a61302c2d37332c46696265722c33363a61313a65643a65313a39313a34662c2d37352c5b4c475f57616c6c2d4d6f756e7420412f435d653732352c36363a61313a65643a65313a65373a32352c2d38322c31352e305d";
    let fs = frames(Protocol::Watch3g, &unhex(hex));
    assert_eq!(fs.len(), 1);
    let m = decode(&fs[0]).unwrap();
    assert_eq!(m.steps, Some(226_120));
    assert_eq!(m.cells.len(), 2);
    assert_eq!(m.wifi.len(), 5);
    assert_eq!(m.wifi[4].ssid, "[LG_Wall-Mount A/C]e725");

    let hex = "5b5a4a2a3031343131313030313335303330342a303033342a303030392a4c4b2c302c302c31395d";
    let fs = frames(Protocol::Watch3g, &unhex(hex));
    assert_eq!(fs[0].index.as_deref(), Some("0034"));
    assert_eq!(decode(&fs[0]).unwrap().reply.as_deref(), Some("[ZJ*014111001350304*0034*0002*LK]"));
}

#[test]
fn traccar_voice_frame() {
    // WatchProtocolDecoderTest.testDecodeVoiceMessage: raw (unescaped) brackets in the audio.
    let mut wire = b"[CS*1234567890*000e*TK,#!AMR".to_vec();
    wire.extend_from_slice(&unhex("7d5b5d2c2aff"));
    wire.push(b']');
    let fs = frames(Protocol::Watch3g, &wire);
    assert_eq!(fs.len(), 1);
    assert_eq!(fs[0].content.len(), 14);
    let m = decode(&fs[0]).unwrap();
    assert_eq!((m.kind.as_str(), m.reply.as_deref()), ("TK", None));
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

// ---------------------------------------------------------------------------------------------
// IW: Traccar's samples (TrvProtocolDecoderTest)

#[test]
fn iw_login() {
    let fs = frames(Protocol::Iw, b"IWAP00355932600077007,8901240204123656505f,310240202365650#");
    let m = decode(&fs[0]).unwrap();
    assert_eq!(
        (m.maker.as_str(), m.kind.as_str(), m.device_id.as_deref()),
        ("IW", "AP00", Some("355932600077007"))
    );
    assert_eq!(m.reply, None, "no server time given");
    let now = Utc.with_ymd_and_hms(2024, 3, 19, 2, 30, 0).unwrap();
    let utc_opts = DecodeOptions { now: Some(now), ..DecodeOptions::default() };
    assert_eq!(decode_with(&fs[0], &utc_opts).unwrap().reply.as_deref(), Some("IWBP00,20240319023000,0#"));
    let cst = DecodeOptions { utc_offset: FixedOffset::east_opt(8 * 3600).unwrap(), ..utc_opts };
    assert_eq!(decode_with(&fs[0], &cst).unwrap().reply.as_deref(), Some("IWBP00,20240319103000,8#"));
    assert_eq!(iw("IWAP00353456789012345#").device_id.as_deref(), Some("353456789012345"));
}

#[test]
fn iw_positions() {
    let m = iw(
        "IWAP01080524A2232.9806N11404.9355E000.1061830323.8706000908000102,460,0,9520,3671,Home|74-DE-2B-44-88-8C|97& Home1|74-DE-2B-44-88-8C|97&Home2|74-DE-2B-44-88-8C|97& Home3|74-DE-2B-44-88-8C|97#",
    );
    assert_eq!(m.kind, "AP01");
    assert_eq!(m.time, Some(utc("2008-05-24T06:18:30Z")));
    assert_eq!(m.valid, Some(true));
    assert!(close(m.lat, 22.54968) && close(m.lon, 114.0822583));
    assert_eq!((m.speed_kmh, m.course), (Some(0.1), Some(323.87)));
    assert_eq!((m.rssi, m.satellites, m.battery), (Some(60), Some(9), Some(80)));
    assert_eq!(m.cells.len(), 1);
    assert_eq!((m.cells[0].mcc, m.cells[0].mnc, m.cells[0].lac, m.cells[0].cid), (460, 0, 9520, 3671));
    assert_eq!(m.wifi.len(), 4);
    assert_eq!((m.wifi[1].ssid.as_str(), m.wifi[1].mac.as_str()), ("Home1", "74:de:2b:44:88:8c"));
    assert_eq!(m.wifi[1].rssi, Some(97));
    assert!(m.alarms.is_empty());
    assert_eq!(m.reply.as_deref(), Some("IWBP01#"));

    let sos = iw(
        "IWAP10080524A2232.9806N11404.9355E000.1061830323.8706000908000502,460,0,9520,3671,01,zhcn,00,HOME|74-DE-2B-44-88-8C|97&HOME1|74-DE-2B-44-88-8C|97&HOME2|74-DE-2B-44-88-8C|97&HOME3|74-DE-2B-44-88-8C|97#",
    );
    assert_eq!(sos.alarms, [Alarm::Sos]);
    assert_eq!(sos.wifi.len(), 4);
    assert_eq!(sos.reply.as_deref(), Some("IWBP10#"));
    let none = iw(
        "IWAP10080524A2232.9806N11404.9355E000.1061830323.8706000908000502,460,0,9520,3671,00,zh-cn,00,HOME|74-DE-2B-44-88-8C|97&HOME1|74-DE-2B-44-88-8C|97&HOME2|74-DE-2B-44-88-8C|97&HOME3|74-DE-2B-44-88-8C|97#",
    );
    assert!(none.alarms.is_empty());
    // Fall (05) on a southern, western position, from the descriptions.
    let fall = iw(
        "IWAP10240131V3351.1234S07045.6789W005.2123456090.0005010095000102,730,2,29731,54315,05,zh-cn,00#",
    );
    assert_eq!(fall.alarms, [Alarm::Fall]);
    assert_eq!(fall.valid, Some(false));
    assert!(close(fall.lat, -(33.0 + 51.1234 / 60.0)) && close(fall.lon, -(70.0 + 45.6789 / 60.0)));
    assert_eq!(fall.time, Some(utc("2024-01-31T12:34:56Z")));
}

#[test]
fn iw_heartbeat_lbs_and_health() {
    let m = iw("IWAP03,06000908000102,5555,30#");
    assert_eq!((m.rssi, m.satellites, m.battery, m.steps), (Some(60), Some(9), Some(80), Some(5555)));
    assert_eq!(m.reply.as_deref(), Some("IWBP03#"));
    let m = iw(
        "IWAP02,zh_cn,0,7,460,0,9520|3671|13,9520|3672|12,9520|3673|11,9520|3674|10,9520|3675|9,9520|3676|8,9520|3677|7,4,1|D8-24-BD-79-FA-1F|59&2|3C-46-D8-6D-CE-01|81&3|0C-4C-39-1A-7C-65|69&4|70-A8-E3-5D-D7-C0|65#",
    );
    assert_eq!((m.cells.len(), m.wifi.len()), (7, 4));
    assert_eq!(m.cells[6].rssi, Some(7));
    assert_eq!(m.reply.as_deref(), Some("IWBP02#"));
    let m = iw(
        "IWAP02,zh_cn,0,6,260,1,11002|39252|9,11002|35112|23,11002|11043|24,11002|39253|24,11002|13751|24,11018|8102|26,3,a|c0-4a-00-b6-9c-f5|64&a|c0-4a-00-b6-9c-f5|64&a|18-a6-f7-92-35-da|84#",
    );
    assert_eq!((m.cells.len(), m.wifi.len()), (6, 3));
    let m = iw("IWAP49,68#");
    assert_eq!((m.heart_rate, m.reply.as_deref()), (Some(68), Some("IWBP49#")));
    let m = iw("IWAPHT,60,130,85#");
    assert_eq!((m.heart_rate, m.bp_systolic, m.bp_diastolic), (Some(60), Some(130), Some(85)));
    assert_eq!(m.reply.as_deref(), Some("IWBPHT#"));
    let m = iw("IWAPHP,60,130,85,95,90,36.5,,,,,,,#");
    assert_eq!(
        (m.heart_rate, m.bp_systolic, m.bp_diastolic, m.spo2),
        (Some(60), Some(130), Some(85), Some(95))
    );
    assert_eq!(m.temperature, Some(36.5));
    assert_eq!(m.reply.as_deref(), Some("IWBPHP#"));
    let m = iw("IWAPHP,,,,96,,,,,,,,,#");
    assert_eq!((m.heart_rate, m.spo2, m.temperature), (None, Some(96), None));
    let m = iw("IWAP50,36.7,90#");
    assert_eq!((m.temperature, m.battery, m.reply.as_deref()), (Some(36.7), Some(90), Some("IWBP50#")));
    // Case-insensitive.
    assert_eq!(iw("IWAPht,61,120,80#").bp_systolic, Some(120));
}

#[test]
fn iw_acknowledgements_get_no_reply() {
    for wire in [
        "IWAPXL,080835#",
        "IWAP12,080835,+491773329827,+491773329826,+49306618438#",
        "IWAP14,080835,004e0069006b00750054005200410058|+4952032960728,004600720061006e006b|+4952034488,,,,,,,#",
    ] {
        let m = iw(wire);
        assert_eq!(m.reply, None, "{wire}");
    }
    let m = iw("IWAPZZ,1,2#");
    assert_eq!((m.kind.as_str(), m.reply.as_deref()), ("APZZ", None));
}

#[test]
fn iw_errors() {
    let err = |wire: &str| decode(&frames(Protocol::Iw, wire.as_bytes())[0]).unwrap_err();
    assert_eq!(
        err("IWAP01080524A9932.9806N11404.9355E000.1061830323.87060009080001#").code(),
        "out_of_range"
    );
    assert_eq!(err("IWAP01080524A22x2.9806N11404.9355E000.1061830323.87060009080001#").field(), "lat");
    assert_eq!(err("IWAP01080524A2232.9806N11404.9355E0x0.1061830323.87060009080001#").field(), "speed_kmh");
    // Fields left out at the end are not an error.
    let m = iw("IWAP01080524A2232.9806N11404.9355E000.1#");
    assert_eq!((m.valid, m.speed_kmh, m.battery), (Some(true), Some(0.1), None));
    assert_eq!(err("IWAP00#").field(), "device_id");
    assert_eq!(err("IWAP03,0600#").field(), "gsm_status");
    assert_eq!(err("IWAP49,abc#").field(), "heart_rate");
}

/// A real watch indoors, without a fix, sends its frames with both hemisphere fields empty;
/// the frame's alarms, battery and the invalid position must still come through (an SOS
/// sent indoors was refused whole: "malformed field lat_hemisphere").
#[test]
fn frames_without_a_fix_and_empty_hemispheres_keep_their_alarms() {
    let body = "260723,185105,V,00.000000,,00.0000000,,0.00,0.0,0.0,0,100,67,0,0,00010000,1,0,460,0,9336,3981,141,0,0.0";
    for kind in ["AL", "UD", "UD2", "UD_LTE", "AL_LTE"] {
        let content = format!("{kind},{body}");
        let wire = format!("[3G*9705141740*{:04X}*{content}]", content.len());
        let fs = frames(Protocol::Watch3g, wire.as_bytes());
        let m = decode(&fs[0]).unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(m.valid, Some(false), "{kind}");
        assert_eq!(m.battery, Some(67), "{kind}");
        assert_eq!(m.alarms, vec![zhulao_watch::Alarm::Sos], "{kind}");
    }
}

/// Field frames never lose an alarm: empty or zero positions, hemispheres or trailing fields
/// left out, and malformed fields in a frame that carries an alarm still give the frame's
/// alarms and battery, with the position invalid and the unreadable field named. A frame
/// without an alarm and with a malformed field stays an error.
#[test]
fn odd_field_frames_keep_their_alarms() {
    let g3_msg = |content: &str| g3(&format!("[3G*9705141740*{:04X}*{content}]", content.len()));
    // A zero position is no fix, whatever the flag says.
    let m = g3_msg("AL,260723,185105,A,0.000000,N,0.0000000,E,0.00,0.0,0.0,0,100,67,0,0,00010000,0");
    assert_eq!((m.valid, m.battery, m.alarms.clone()), (Some(false), Some(67), vec![Alarm::Sos]));
    // Both hemisphere fields left out (not empty: absent), fields after them still in place.
    let m = g3_msg(
        "AL,260723,185105,V,00.000000,00.0000000,0.00,0.0,0.0,0,100,67,0,0,00010000,1,0,460,0,9336,3981,141",
    );
    assert_eq!((m.valid, m.battery, m.alarms.clone()), (Some(false), Some(67), vec![Alarm::Sos]));
    assert_eq!(m.cells.len(), 1);
    assert!(m.undecoded.is_none());
    // Empty position fields.
    let m = g3_msg("UD,260723,185105,V,,,,,0.00,0.0,0.0,0,100,55,0,0,00200000");
    assert_eq!((m.valid, m.lat, m.battery), (Some(false), None, Some(55)));
    assert_eq!(m.alarms, [Alarm::Fall]);
    // Trailing fields left out after the status word, and the status word itself.
    let m = g3_msg("AL,260723,185105,V,0,N,0,E,0,0,0,0,100,41,0,0,00010000");
    assert_eq!((m.alarms.clone(), m.battery), (vec![Alarm::Sos], Some(41)));
    let m = g3_msg("AL,260723,185105,V,0,N,0,E,0,0,0,0,100,41");
    assert_eq!((m.alarms.clone(), m.battery), (vec![Alarm::Unreadable], Some(41)));
    assert_eq!(m.reply.as_deref(), Some("[3G*9705141740*0002*AL]"));
    // A malformed position in an alarm frame: the alarm, the battery, an invalid position,
    // and the field that could not be read.
    let m = g3_msg("AL,260723,185105,A,nan,N,113.1,E,0.00,0.0,0.0,0,100,67,0,0,00010000,0");
    assert_eq!((m.valid, m.lat, m.battery), (Some(false), None, Some(67)));
    assert_eq!(m.alarms, [Alarm::Sos]);
    let e = m.undecoded.as_ref().expect("the unreadable field is named");
    assert_eq!((e.code(), e.field()), ("bad_field", "lat"));
    let json = serde_json::to_value(&m).unwrap();
    assert_eq!(json["undecoded"]["field"], "lat", "{json}");
    // A malformed status word in an alarm frame: an unreadable alarm, never none.
    let m = g3_msg("AL,260723,185105,A,22.5,N,113.1,E,0.00,0.0,0.0,0,100,67,0,0,zz,0");
    assert_eq!((m.alarms.clone(), m.valid), (vec![Alarm::Unreadable], Some(true)));
    assert_eq!(m.undecoded.as_ref().map(|e| e.field()), Some("status"));
    // The same malformed position without an alarm is an error.
    let fs = frames(
        Protocol::Watch3g,
        b"[3G*1*0050*UD,260723,185105,A,nan,N,113.1,E,0.00,0.0,0.0,0,100,67,0,0,00000000,0]",
    );
    assert_eq!(decode(&fs[0]).unwrap_err().field(), "lat");

    // IW: an invalid fix with zero fields.
    let m = iw("IWAP01240131V0000.0000N00000.0000E000.0123456000.0006000005000102,460,0,9520,3671#");
    assert_eq!((m.valid, m.battery), (Some(false), Some(50)));
    // An AP10 alarm without a fix, zero and empty positions, hemispheres left out.
    for fix in ["V0000.0000N00000.0000E", "VNE", "V0000.000000000.0000", "A0000.0000N00000.0000E"] {
        let wire = format!("IWAP10240131{fix}000.0123456000.0006000005000102,460,0,9520,3671,01,zh-cn,00#");
        let m = iw(&wire);
        assert_eq!(
            (m.valid, m.battery, m.alarms.clone()),
            (Some(false), Some(50), vec![Alarm::Sos]),
            "{wire}"
        );
        assert!(m.undecoded.is_none(), "{wire}: {:?}", m.undecoded);
        assert_eq!(m.reply.as_deref(), Some("IWBP10#"));
    }
    // Hemispheres left out of a real position: read by the fixed widths.
    let m =
        iw("IWAP10080524A2232.980611404.9355000.1061830323.8706000908000502,460,0,9520,3671,05,zh-cn,00#");
    assert_eq!((m.valid, m.alarms.clone()), (Some(true), vec![Alarm::Fall]));
    assert!(close(m.lat, 22.54968) && close(m.lon, 114.0822583));
    // The fixed part cut short after the position: the alarm still comes through.
    let m = iw("IWAP10240131V0000.0000N00000.0000E,460,0,9520,3671,01,zh-cn,00#");
    assert_eq!((m.alarms.clone(), m.battery), (vec![Alarm::Sos], None));
    // A malformed fixed part: the alarm code after it is read all the same.
    let m =
        iw("IWAP10240131A22x2.9806N11404.9355E000.1061830323.87060009080001,460,0,9520,3671,05,zh-cn,00#");
    assert_eq!((m.valid, m.alarms.clone()), (Some(false), vec![Alarm::Fall]));
    assert_eq!(m.undecoded.as_ref().map(|e| e.field()), Some("lat"));
    // The alarm code left out (trailing fields omitted): an unreadable alarm.
    let m = iw("IWAP10240131V0000.0000N00000.0000E000.0123456000.0006000005000102#");
    assert_eq!((m.alarms.clone(), m.battery), (vec![Alarm::Unreadable], Some(50)));
    let m = iw("IWAP10240131V0000.0000N00000.0000E000.0123456000.0006000005000102,460,0,9520,3671,x1#");
    assert_eq!(m.alarms, [Alarm::Unreadable]);
    assert_eq!(m.undecoded.as_ref().map(|e| e.field()), Some("alarm"));
    // Not an alarm frame: a malformed field is an error.
    let fs = frames(
        Protocol::Iw,
        b"IWAP01240131A22x2.9806N11404.9355E000.1061830323.87060009080001,460,0,9520,3671#",
    );
    assert_eq!(decode(&fs[0]).unwrap_err().field(), "lat");
}

/// The watch's receipts for server commands name the command they confirm, and match what
/// the encoder says to expect.
#[test]
fn command_receipts_are_recognised() {
    use zhulao_watch::{Target, WatchCommand, confirmations};
    let t = Target::new(Protocol::Watch3g, "3G", "8800000015");
    let want = confirmations(&t, &WatchCommand::ReportInterval { seconds: 600 });
    let got = g3("[3G*8800000015*0006*UPLOAD]").confirms.expect("a receipt");
    assert!(got.answers(&want[0]), "{got:?} {want:?}");
    assert!(g3("[3G*8800000015*0003*PHB]").confirms.is_some_and(|c| c.command == "PHB"));
    assert!(g3("[3G*8800000015*0002*LK]").confirms.is_none());
    let t = Target { serial: 80835, ..Target::new(Protocol::Iw, "IW", "353456789012345") };
    let want = confirmations(&t, &WatchCommand::SosNumbers([Some("1".into()), None, None]));
    let got = iw("IWAP12,080835,+491773329827,+491773329826,+49306618438#").confirms.unwrap();
    assert!(got.answers(&want[0]), "{got:?} {want:?}");
    let other = iw("IWAP12,080836#").confirms.unwrap();
    assert!(!other.answers(&want[0]), "another journal number");
}
