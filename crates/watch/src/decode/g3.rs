//! The 3G protocol's messages (Traccar's `WatchProtocolDecoder`).

use super::{DecodeOptions, battery, coordinate, heart_rate, pressure, spo2, status_alarms, temperature};
use crate::error::WatchError;
use crate::fields::{self, dec_or_hex, fit, int, num, six_digits, uint};
use crate::frame::Frame;
use crate::message::{CellTower, WatchMessage, Wifi};

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
            position(&mut m, &values(), options)?;
            if t.starts_with("AL") {
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
        _ => {}
    }
    Ok(m)
}

/// UD / UD2 / UD3 / UD_LTE / UD_WCDMA / WT / AL / AL_LTE / ALCUSTOMER1 …:
/// `ddMMyy,HHmmss,A|V,lat,N|S,lon,E|W,speed,course,altitude,satellites,rssi,battery,steps,
/// tumbles,status(hex),<cells>,<wifi>,…`
fn position(m: &mut WatchMessage, v: &[&str], options: &DecodeOptions) -> Result<(), WatchError> {
    const NAMES: [&str; 16] = [
        "date",
        "time",
        "valid",
        "lat",
        "lat_hemisphere",
        "lon",
        "lon_hemisphere",
        "speed_kmh",
        "course",
        "altitude",
        "satellites",
        "rssi",
        "battery",
        "steps",
        "tumbles",
        "status",
    ];
    if v.len() < NAMES.len() {
        return Err(WatchError::MissingField { field: NAMES[v.len()] });
    }
    let (day, month, year) = six_digits("date", v[0])?;
    let hms = six_digits("time", v[1])?;
    m.time = fields::datetime(day, month, year, hms, options.utc_offset);
    m.valid = Some(match v[2].trim() {
        "A" => true,
        "V" => false,
        other => return Err(WatchError::bad("valid", other)),
    });
    let lat = num("lat", v[3])?.ok_or(WatchError::MissingField { field: "lat" })?;
    let lat = match v[4].trim() {
        // Watches without a fix send both hemispheres empty (`V,00.000000,,00.0000000,,`):
        // the sign (if any) stands, and `valid` says the position is not one.
        "N" | "" => lat,
        "S" => -lat.abs(),
        other => return Err(WatchError::bad("lat_hemisphere", other)),
    };
    let lon = num("lon", v[5])?.ok_or(WatchError::MissingField { field: "lon" })?;
    let lon = match v[6].trim() {
        // Some watches leave the hemisphere out; the sign (if any) stands.
        "E" | "" => lon,
        "W" => -lon.abs(),
        other => return Err(WatchError::bad("lon_hemisphere", other)),
    };
    m.lat = Some(coordinate("lat", v[3], lat, 90.0)?);
    m.lon = Some(coordinate("lon", v[5], lon, 180.0)?);
    m.speed_kmh = num("speed_kmh", v[7])?;
    m.course = num("course", v[8])?;
    m.altitude = num("altitude", v[9])?;
    m.satellites = fit("satellites", v[10], uint("satellites", v[10])?)?;
    m.rssi = fit("rssi", v[11], int("rssi", v[11])?)?;
    m.battery = battery(v[12])?;
    m.steps = fit("steps", v[13], uint("steps", v[13])?)?;
    uint("tumbles", v[14])?;
    if let Some(status) = fields::hex("status", v[15])? {
        status_alarms(status, m);
    }
    network(m, &v[16..]);
    Ok(())
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
