//! The 3G protocol's messages (Traccar's `WatchProtocolDecoder`).

use super::{
    DecodeOptions, Soft, battery, coordinate, heart_rate, pressure, spo2, status_alarms, temperature,
};
use crate::error::WatchError;
use crate::fields::{self, dec_or_hex, fit, int, num, six_digits, uint};
use crate::frame::Frame;
use crate::message::{CellTower, Confirmation, WatchMessage, Wifi};

/// Builds a 3G frame: `[MK*ID*LLLL*CONTENT]` (with the sequence field when the watch sent one),
/// `LLLL` being the content length in four lower-case hex digits, as Traccar writes it.
pub(crate) fn frame_3g(maker: &str, device_id: &str, index: Option<&str>, content: &str) -> String {
    let len = content.len().min(0xFFFF);
    match index {
        Some(ix) => format!("[{maker}*{device_id}*{ix}*{len:04x}*{content}]"),
        None => format!("[{maker}*{device_id}*{len:04x}*{content}]"),
    }
}

pub(super) fn decode(frame: &Frame, options: &DecodeOptions) -> Result<WatchMessage, WatchError> {
    let text = String::from_utf8_lossy(&frame.content);
    let (kind, rest) = match text.split_once(',') {
        Some((k, r)) => (k, Some(r)),
        None => (&*text, None),
    };
    let device_id = frame.device_id.clone().or_else(|| options.device_id.clone());
    let mut m = WatchMessage::new(device_id.clone(), frame.maker.clone(), kind);
    let reply = |content: &str| {
        device_id.as_deref().map(|id| frame_3g(&frame.maker, id, frame.index.as_deref(), content))
    };
    let values = || rest.map(|r| r.split(',').collect::<Vec<_>>()).unwrap_or_default();
    let upper = kind.to_ascii_uppercase();
    match upper.as_str() {
        "INIT" => m.reply = reply("INIT,1"),
        "LK" => {
            // LK[,steps,tumbles,battery]
            m.reply = reply("LK");
            let v = values();
            if v.len() >= 3 {
                m.steps = fit("steps", v[0], uint("steps", v[0])?)?;
                m.battery = battery(v[2])?;
            }
        }
        t if t.starts_with("UD") || t.starts_with("AL") || t.starts_with("WT") => {
            let alarm_frame = t.starts_with("AL");
            position(&mut m, &values(), options, alarm_frame);
            if alarm_frame {
                m.reply = reply("AL");
            }
        }
        // Voice-message queries: the watch waits for the same word back.
        "TKQ" | "TKQ2" => m.reply = reply(kind),
        // Health readings. No reply: the same words sent to the watch are the commands that
        // start a measurement (`bphrt`, `oxygen` …), so echoing them would loop (Traccar sends none).
        "PULSE" | "HEART" => {
            if let Some(v) = values().first() {
                m.heart_rate = heart_rate(v)?;
            }
        }
        "BPHRT" | "BLOOD" => {
            // bphrt,systolic,diastolic,heart rate,… / BLOOD,systolic,diastolic
            let v = values();
            if let Some(s) = v.first() {
                m.bp_systolic = pressure("bp_systolic", s)?;
            }
            if let Some(d) = v.get(1) {
                m.bp_diastolic = pressure("bp_diastolic", d)?;
            }
            if let Some(h) = v.get(2) {
                m.heart_rate = heart_rate(h)?;
            }
        }
        "OXYGEN" => {
            // oxygen,<n>,<spo2> per Traccar (the saturation is the second value); a lone value
            // is taken as the saturation.
            let v = values();
            if let Some(s) = v.get(1).or(v.first()) {
                m.spo2 = spo2(s)?;
            }
        }
        "TEMP" => {
            if let Some(t) = values().first() {
                m.temperature = temperature(t)?;
            }
        }
        "BTEMP2" => {
            // btemp2,<measured flag>,<°C>
            let v = values();
            if let (Some(flag), Some(t)) = (v.first(), v.get(1))
                && uint("temperature", flag)?.unwrap_or(0) > 0
            {
                m.temperature = temperature(t)?;
            }
        }
        // Voice chunks: the watch waits for a receipt per chunk.
        "JXTK" => m.reply = reply("JXTKR,1"),
        // Voice and image payloads are recognised but not decoded here.
        "TK" | "IMG" => {}
        // The watch's receipt for a server command: the same word back.
        t if crate::command::WORDS_3G.contains(&t) => {
            m.confirms = Some(Confirmation { command: t.to_string(), journal: None });
        }
        _ => {}
    }
    Ok(m)
}

/// UD / UD2 / UD3 / UD_LTE / UD_WCDMA / WT / AL / AL_LTE / ALCUSTOMER1 …:
/// `ddMMyy,HHmmss,A|V,lat,N|S,lon,E|W,speed,course,altitude,satellites,rssi,battery,steps,
/// tumbles,status(hex),<cells>,<wifi>,…`
///
/// Read field by field, so that one bad field does not hide the others: a field left out at
/// the end is `None`; a hemisphere left out (the next field is already a number) is skipped;
/// an empty, zero or unreadable position is kept invalid (`valid: false`). The first field
/// that cannot be read is noted in `m.undecoded` (the caller refuses the frame unless it
/// carries an alarm). An alarm frame (`AL…`) whose status word is left out or unreadable
/// reports [`Alarm::Unreadable`](crate::Alarm::Unreadable).
fn position(m: &mut WatchMessage, v: &[&str], options: &DecodeOptions, alarm_frame: bool) {
    let mut soft = Soft::default();
    let at = |i: usize| v.get(i).copied();
    if let (Some(d), Some(t)) = (at(0), at(1)) {
        let date = soft.ok(six_digits("date", d).map(Some));
        let hms = soft.ok(six_digits("time", t).map(Some));
        if let (Some((day, month, year)), Some(hms)) = (date, hms) {
            m.time = fields::datetime(day, month, year, hms, options.utc_offset);
        }
    }
    let flag = match at(2).map(str::trim) {
        Some("A") => Some(true),
        Some("V") | Some("") | None => Some(false),
        Some(other) => {
            soft.note(WatchError::bad("valid", other));
            None
        }
    };
    // Latitude, its hemisphere unless left out, longitude, its hemisphere unless left out.
    let mut i = 3;
    let mut coordinate_of =
        |i: &mut usize, name: &'static str, hemi: &'static str, limit: f64, neg: &str, pos: &str| {
            let raw = at(*i)?;
            *i += 1;
            let value = soft.ok(num(name, raw));
            let sign = match at(*i).map(str::trim) {
                Some(h) if h == pos || h.is_empty() => {
                    *i += 1;
                    1.0
                }
                Some(h) if h == neg => {
                    *i += 1;
                    -1.0
                }
                // Left out: the next field is already a number.
                Some(h) if num(hemi, h).is_ok() => 1.0,
                Some(h) => {
                    *i += 1;
                    soft.note(WatchError::bad(hemi, h));
                    return None;
                }
                None => 1.0,
            };
            let value = value?;
            let value = if sign < 0.0 { -value.abs() } else { value };
            soft.ok(coordinate(name, raw, value, limit).map(Some))
        };
    let lat = coordinate_of(&mut i, "lat", "lat_hemisphere", 90.0, "S", "N");
    let lon = coordinate_of(&mut i, "lon", "lon_hemisphere", 180.0, "W", "E");
    m.lat = lat;
    m.lon = lon;
    // A fix only with both coordinates, and never at exactly 0°, 0° (what a watch without a
    // fix sends, whatever its flag says).
    let located = matches!((lat, lon), (Some(a), Some(b)) if a != 0.0 || b != 0.0);
    m.valid = Some(flag == Some(true) && located);
    let rest = &v[i.min(v.len())..];
    let at = |k: usize| rest.get(k).copied();
    if let Some(s) = at(0) {
        m.speed_kmh = soft.ok(num("speed_kmh", s));
    }
    if let Some(s) = at(1) {
        m.course = soft.ok(num("course", s));
    }
    if let Some(s) = at(2) {
        m.altitude = soft.ok(num("altitude", s));
    }
    if let Some(s) = at(3) {
        m.satellites = soft.ok(uint("satellites", s).and_then(|x| fit("satellites", s, x)));
    }
    if let Some(s) = at(4) {
        m.rssi = soft.ok(int("rssi", s).and_then(|x| fit("rssi", s, x)));
    }
    if let Some(s) = at(5) {
        m.battery = soft.ok(battery(s));
    }
    if let Some(s) = at(6) {
        m.steps = soft.ok(uint("steps", s).and_then(|x| fit("steps", s, x)));
    }
    if let Some(s) = at(7) {
        soft.ok(uint("tumbles", s));
    }
    match at(8).map(|s| fields::hex("status", s)) {
        Some(Ok(Some(status))) => status_alarms(status, m),
        Some(Ok(None)) | None if alarm_frame => m.add_alarm(crate::Alarm::Unreadable),
        Some(Ok(None)) | None => {}
        Some(Err(e)) => {
            soft.note(e);
            if alarm_frame {
                m.add_alarm(crate::Alarm::Unreadable);
            }
        }
    }
    if rest.len() > 9 {
        network(m, &rest[9..]);
    }
    m.undecoded = soft.first;
}

/// `cells,[timing advance,mcc,mnc,(lac,cid,rssi)×cells],wifis,(ssid,mac,rssi)×wifis,…`, read as
/// far as it is consistent: a position is worth keeping even when its cell list is mangled.
fn network(m: &mut WatchMessage, v: &[&str]) {
    let mut it = v.iter().copied();
    let Some(Ok(Some(cells))) = it.next().map(|s| uint("cells", s)) else { return };
    if cells > 0 {
        let _timing_advance = it.next();
        let mcc = it.next().and_then(|s| uint("mcc", s).ok()).map(|v| v.unwrap_or(0));
        let mnc = it.next().and_then(|s| uint("mnc", s).ok()).map(|v| v.unwrap_or(0));
        let (Some(Ok(mcc)), Some(Ok(mnc))) = (mcc.map(u16::try_from), mnc.map(u16::try_from)) else { return };
        for _ in 0..cells {
            let (Some(lac), Some(cid), Some(rssi)) = (it.next(), it.next(), it.next()) else { return };
            let lac = dec_or_hex("lac", lac).ok().flatten().and_then(|v| u32::try_from(v).ok());
            let cid = dec_or_hex("cid", cid).ok().flatten().and_then(|v| u32::try_from(v).ok());
            let rssi = int("rssi", rssi).map(|r| r.and_then(|r| i32::try_from(r).ok()));
            let (Some(lac), Some(cid), Ok(rssi)) = (lac, cid, rssi) else { return };
            m.cells.push(CellTower { mcc, mnc, lac, cid, rssi });
        }
    }
    let Some(Ok(Some(wifis))) = it.next().map(|s| uint("wifi", s)) else { return };
    for _ in 0..wifis {
        let (Some(ssid), Some(mac), Some(rssi)) = (it.next(), it.next(), it.next()) else { return };
        if mac.trim().is_empty() || mac.trim() == "0" {
            // Traccar skips entries without an address.
            continue;
        }
        if !looks_like_mac(mac) {
            // A comma inside an SSID shifted the fields: the rest cannot be trusted.
            return;
        }
        let rssi = int("rssi", rssi).ok().flatten().and_then(|r| i32::try_from(r).ok());
        m.wifi.push(Wifi { ssid: ssid.to_string(), mac: fields::mac(mac), rssi });
    }
}

/// Six pairs of hex digits separated by `:` or `-`.
pub(super) fn looks_like_mac(s: &str) -> bool {
    let b = s.trim().as_bytes();
    b.len() == 17
        && b.iter()
            .enumerate()
            .all(|(i, &c)| if i % 3 == 2 { c == b':' || c == b'-' } else { c.is_ascii_hexdigit() })
}
