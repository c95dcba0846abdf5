//! The IW protocol's messages (Traccar's `TrvProtocolDecoder`, `IW` prefix).

use super::{
    DecodeOptions, Soft, battery, coordinate, heart_rate, offset_hours, pressure, spo2, temperature,
};
use crate::error::WatchError;
use crate::fields::{self, dec_or_hex, fit, int, num, six_digits, uint};
use crate::frame::{Frame, MAX_ID_LEN};
use crate::message::{Alarm, CellTower, Confirmation, WatchMessage, Wifi};

/// Frames from the watch that acknowledge a server command: no reply is due (Traccar's
/// `IGNORE_RESPONSE`).
const ACKS: [&str; 11] =
    ["AP12", "AP14", "AP33", "AP34", "AP40", "AP76", "AP77", "AP84", "AP85", "AP86", "AP87"];

pub(super) fn decode(frame: &Frame, options: &DecodeOptions) -> Result<WatchMessage, WatchError> {
    let content = &frame.content;
    let split = content.len().min(4);
    let kind = String::from_utf8_lossy(&content[..split]).into_owned();
    let body = &content[split..];
    let mut m = WatchMessage::new(options.device_id.clone(), "IW", kind.as_str());
    let upper = kind.to_ascii_uppercase();
    // The server's answer is the type with A→B: AP01 → IWBP01#.
    let ack = || Some(format!("IWB{}#", upper.get(1..).unwrap_or("")));
    let text = String::from_utf8_lossy(body);
    // `IWAPxx,123456`: the watch confirming command 123456; nothing to answer.
    if is_journal_ack(&text) || ACKS.contains(&upper.as_str()) {
        let journal = text.strip_prefix(',').and_then(|t| t.split(',').next()).and_then(|j| {
            (j.len() == 6 && j.bytes().all(|b| b.is_ascii_digit())).then(|| j.parse().ok()).flatten()
        });
        m.confirms = Some(Confirmation { command: format!("B{}", upper.get(1..).unwrap_or("")), journal });
        return Ok(m);
    }
    let values = || text.strip_prefix(',').unwrap_or(&text).split(',').collect::<Vec<_>>();
    match upper.as_str() {
        "AP00" => {
            // IWAP00<IMEI>[,<ICCID>,<IMSI>…]
            let imei = text.split(',').next().unwrap_or("").trim();
            if imei.is_empty() || imei.len() > MAX_ID_LEN || !imei.bytes().all(|b| b.is_ascii_alphanumeric())
            {
                return Err(WatchError::bad("device_id", imei));
            }
            m.device_id = Some(imei.to_string());
            m.reply = options.now.map(|now| {
                let local = now.with_timezone(&options.utc_offset);
                format!("IWBP00,{},{}#", local.format("%Y%m%d%H%M%S"), offset_hours(options.utc_offset))
            });
        }
        "AP01" | "AP10" => {
            position(&mut m, body, options, upper == "AP10");
            m.reply = ack();
        }
        "AP02" => {
            lbs(&mut m, &values());
            m.reply = ack();
        }
        "AP03" => {
            // IWAP03,<gsm><satellites><battery><…>,<steps>,<rolls>
            let v = values();
            let status = v.first().copied().unwrap_or("");
            if status.len() < 9 || !status.is_ascii() {
                return Err(WatchError::bad("gsm_status", status));
            }
            m.rssi = fit("rssi", status, int("rssi", &status[0..3])?)?;
            m.satellites = fit("satellites", status, uint("satellites", &status[3..6])?)?;
            m.battery = battery(&status[6..9])?;
            if let Some(s) = v.get(1) {
                m.steps = fit("steps", s, uint("steps", s)?)?;
            }
            m.reply = ack();
        }
        "AP49" => {
            if let Some(h) = values().first() {
                m.heart_rate = heart_rate(h)?;
            }
            m.reply = ack();
        }
        "APHT" => {
            // IWAPHT,<heart rate>,<systolic>,<diastolic>
            let v = values();
            vitals(&mut m, &v)?;
            m.reply = ack();
        }
        "APHP" => {
            // IWAPHP,<heart rate>,<systolic>,<diastolic>,<SpO2>,<blood sugar>,<°C>,… — any may be empty.
            let v = values();
            vitals(&mut m, &v)?;
            if let Some(s) = v.get(3) {
                m.spo2 = spo2(s)?;
            }
            if let Some(t) = v.get(5) {
                m.temperature = temperature(t)?;
            }
            m.reply = ack();
        }
        "AP50" => {
            // IWAP50,<°C>,<battery>
            let v = values();
            if let Some(t) = v.first() {
                m.temperature = temperature(t)?;
            }
            if let Some(b) = v.get(1) {
                m.battery = battery(b)?;
            }
            m.reply = ack();
        }
        _ => {}
    }
    Ok(m)
}

fn is_journal_ack(text: &str) -> bool {
    text.strip_prefix(',').is_some_and(|d| d.len() == 6 && d.bytes().all(|b| b.is_ascii_digit()))
}

fn vitals(m: &mut WatchMessage, v: &[&str]) -> Result<(), WatchError> {
    if let Some(h) = v.first() {
        m.heart_rate = heart_rate(h)?;
    }
    if let Some(s) = v.get(1) {
        m.bp_systolic = pressure("bp_systolic", s)?;
    }
    if let Some(d) = v.get(2) {
        m.bp_diastolic = pressure("bp_diastolic", d)?;
    }
    Ok(())
}

/// A cursor over the fixed-width part of an AP01/AP10 frame.
struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a str, WatchError> {
        let end = self.i.checked_add(n).filter(|&e| e <= self.b.len());
        let Some(end) = end else { return Err(WatchError::MissingField { field }) };
        let s = &self.b[self.i..end];
        let s = std::str::from_utf8(s).map_err(|_| WatchError::bad(field, &String::from_utf8_lossy(s)))?;
        self.i = end;
        Ok(s)
    }

    /// Everything up to (not including) the first of `stops`, which is returned too.
    fn until(&mut self, stops: &[u8], field: &'static str) -> Result<(&'a str, u8), WatchError> {
        let rel = self.b[self.i..].iter().position(|b| stops.contains(b));
        let Some(rel) = rel.filter(|&r| r <= 16) else {
            let rest = &self.b[self.i..self.b.len().min(self.i + 16)];
            return Err(WatchError::bad(field, &String::from_utf8_lossy(rest)));
        };
        let s = self.take(rel, field)?;
        let stop = self.b[self.i];
        self.i += 1;
        Ok((s, stop))
    }

    /// Bytes left.
    fn rest(&self) -> usize {
        self.b.len() - self.i
    }

    /// A latitude (`ddmm.mmmm`, `deg_digits` 2) or longitude (`dddmm.mmmm`, 3) up to its
    /// hemisphere letter in `stops`, or `width` bytes when the letter is left out. `None`
    /// for an empty one (a watch without a fix), or when the part ends before it.
    fn coordinate(
        &mut self,
        stops: &[u8],
        width: usize,
        field: &'static str,
        deg_digits: usize,
    ) -> Result<Option<(&'a str, f64)>, WatchError> {
        if self.rest() == 0 {
            return Ok(None);
        }
        let found = self.b[self.i..].iter().take(17).position(|b| stops.contains(b));
        let (s, negative) = match found {
            Some(_) => {
                let (s, stop) = self.until(stops, field)?;
                (s, stop == stops[1])
            }
            None => (self.take(width.min(self.rest()), field)?, false),
        };
        if s.trim().is_empty() {
            return Ok(None);
        }
        let v = degrees_minutes(field, s, deg_digits)?;
        Ok(Some((s, if negative { -v } else { v })))
    }

    fn digits(&mut self, n: usize, field: &'static str) -> Result<u64, WatchError> {
        let s = self.take(n, field)?;
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(WatchError::bad(field, s));
        }
        uint(field, s)?.ok_or(WatchError::MissingField { field })
    }
}

/// `ddmm.mmmm` (latitude, `deg_digits` = 2) or `dddmm.mmmm` (longitude, 3) → degrees.
fn degrees_minutes(field: &'static str, s: &str, deg_digits: usize) -> Result<f64, WatchError> {
    let ok =
        s.len() > deg_digits + 2 && s.is_ascii() && s.as_bytes()[..deg_digits].iter().all(u8::is_ascii_digit);
    if !ok {
        return Err(WatchError::bad(field, s));
    }
    let deg = uint(field, &s[..deg_digits])?.unwrap_or(0) as f64;
    let min = num(field, &s[deg_digits..])?.ok_or_else(|| WatchError::bad(field, s))?;
    if !(0.0..60.0).contains(&min) {
        return Err(WatchError::range(field, s));
    }
    Ok(deg + min / 60.0)
}

/// `IWAP01` / `IWAP10`: `yyMMdd A|V ddmm.mmmm N|S dddmm.mmmm E|W sss.s HHmmss ccc.cc gsm(3)
/// satellites(3) battery(3) acc(1) arm(2) mode(2) [digits],mcc,mnc,lac,cid[,alarm][,…][,wifi]`
/// with the fixed part unseparated, e.g. `080524A2232.9806N11404.9355E000.1061830323.87060009080…`.
///
/// Lenient where real watches are: an empty or zero position is kept invalid, a hemisphere
/// left out is read by the fixed widths (`ddmm.mmmm`, `dddmm.mmmm`), fields left out at the
/// end are `None`. The first field that cannot be read is noted in `m.undecoded`, and the
/// fixed part is not read past it (its widths no longer line up); the cell and the alarm
/// code after the first comma are read all the same. An `AP10` whose alarm code is left out
/// or unreadable reports [`Alarm::Unreadable`].
fn position(m: &mut WatchMessage, body: &[u8], options: &DecodeOptions, alarm_frame: bool) {
    let mut soft = Soft::default();
    let comma = body.iter().position(|&b| b == b',');
    let fixed = &body[..comma.unwrap_or(body.len())];
    if let Err(e) = fixed_part(m, fixed, options) {
        soft.note(e);
    }
    let located = matches!((m.lat, m.lon), (Some(a), Some(b)) if a != 0.0 || b != 0.0);
    m.valid = Some(m.valid == Some(true) && located);
    let tail = comma.map(|c| String::from_utf8_lossy(&body[c + 1..]).into_owned()).unwrap_or_default();
    let v: Vec<&str> = if comma.is_some() { tail.split(',').collect() } else { Vec::new() };
    m.cells.extend(cell(&v));
    // The alarm code right after the cell: 01 SOS, 05/06 fall (Traccar's reading), 00 none.
    match v.get(4).map(|s| s.trim()) {
        Some(code) if code.len() == 2 && code.bytes().all(|b| b.is_ascii_digit()) => match code {
            "01" => m.add_alarm(Alarm::Sos),
            "05" | "06" => m.add_alarm(Alarm::Fall),
            _ => {}
        },
        Some(code) if alarm_frame => {
            soft.note(WatchError::bad("alarm", code));
            m.add_alarm(Alarm::Unreadable);
        }
        None if alarm_frame => m.add_alarm(Alarm::Unreadable),
        _ => {}
    }
    // Wi-Fi: `name|mac|signal&name|mac|signal…` from the first field holding a '|'.
    if let Some(first) = v.iter().skip(4).position(|s| s.contains('|')) {
        let wifi = v[4 + first..].join(",");
        wifi_list(m, &wifi);
    }
    m.undecoded = soft.first;
}

/// The fixed-width part up to the first comma; stops at the first field it cannot read (or
/// at its end: fields left out are `None`).
fn fixed_part(m: &mut WatchMessage, fixed: &[u8], options: &DecodeOptions) -> Result<(), WatchError> {
    let mut c = Cursor { b: fixed, i: 0 };
    if c.rest() == 0 {
        return Ok(());
    }
    let (year, month, day) = six_digits("date", c.take(6, "date")?)?;
    m.valid = match c.b.get(c.i) {
        Some(b'A') => Some(true),
        Some(b'V') => Some(false),
        None => return Ok(()),
        Some(_) => return Err(WatchError::bad("valid", &String::from_utf8_lossy(&c.b[c.i..c.i + 1]))),
    };
    c.i += 1;
    let lat = c.coordinate(b"NS", 9, "lat", 2)?;
    let lon = c.coordinate(b"EW", 10, "lon", 3)?;
    if let (Some((lat_s, lat)), Some((lon_s, lon))) = (lat, lon) {
        m.lat = Some(coordinate("lat", lat_s, lat, 90.0)?);
        m.lon = Some(coordinate("lon", lon_s, lon, 180.0)?);
    }
    if c.rest() == 0 {
        return Ok(());
    }
    m.speed_kmh = num("speed_kmh", c.take(5, "speed_kmh")?)?;
    if c.rest() == 0 {
        return Ok(());
    }
    let hms = six_digits("time", c.take(6, "time")?)?;
    m.time = fields::datetime(day, month, year, hms, options.utc_offset);
    if c.rest() == 0 {
        return Ok(());
    }
    m.course = num("course", c.take(6, "course")?)?;
    if c.rest() == 0 {
        return Ok(());
    }
    m.rssi = Some(c.digits(3, "rssi")? as i32);
    if c.rest() == 0 {
        return Ok(());
    }
    m.satellites = Some(c.digits(3, "satellites")? as u16);
    if c.rest() == 0 {
        return Ok(());
    }
    m.battery = battery(c.take(3, "battery")?)?;
    // acc, arm state, working mode, then optional digits up to the comma: not kept.
    Ok(())
}

/// `mcc,mnc,lac,cid` at the start of `v`, when all four are numbers.
fn cell(v: &[&str]) -> Option<CellTower> {
    let n = |i: usize, f: &'static str| v.get(i).and_then(|s| dec_or_hex(f, s).ok().flatten());
    let decimal = |i: usize, f: &'static str| v.get(i).and_then(|s| uint(f, s).ok().flatten());
    Some(CellTower {
        mcc: u16::try_from(decimal(0, "mcc")?).ok()?,
        mnc: u16::try_from(decimal(1, "mnc")?).ok()?,
        lac: u32::try_from(n(2, "lac")?).ok()?,
        cid: u32::try_from(n(3, "cid")?).ok()?,
        rssi: None,
    })
}

fn wifi_list(m: &mut WatchMessage, s: &str) {
    for entry in s.split('&') {
        let mut parts = entry.rsplitn(3, '|');
        let (Some(rssi), Some(mac), Some(ssid)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        if !super::g3::looks_like_mac(mac) {
            continue;
        }
        let rssi = int("rssi", rssi).ok().flatten().and_then(|r| i32::try_from(r).ok());
        m.wifi.push(Wifi { ssid: ssid.trim().to_string(), mac: fields::mac(mac), rssi });
    }
}

/// `IWAP02,<lang>,<reply flag>,<cells>,<mcc>,<mnc>,<lac|cid|rssi>…,<wifis>,<name|mac|signal&…>`,
/// read as far as it is consistent.
fn lbs(m: &mut WatchMessage, v: &[&str]) {
    let (Some(mcc), Some(mnc)) = (v.get(3), v.get(4)) else { return };
    let (Some(mcc), Some(mnc)) = (
        uint("mcc", mcc).ok().flatten().and_then(|x| u16::try_from(x).ok()),
        uint("mnc", mnc).ok().flatten().and_then(|x| u16::try_from(x).ok()),
    ) else {
        return;
    };
    let mut i = 5;
    while let Some(cell) = v.get(i).filter(|s| s.contains('|')) {
        let p: Vec<&str> = cell.split('|').collect();
        if p.len() == 3 {
            let lac = dec_or_hex("lac", p[0]).ok().flatten().and_then(|x| u32::try_from(x).ok());
            let cid = dec_or_hex("cid", p[1]).ok().flatten().and_then(|x| u32::try_from(x).ok());
            let rssi = int("rssi", p[2]).ok().flatten().and_then(|x| i32::try_from(x).ok());
            if let (Some(lac), Some(cid)) = (lac, cid) {
                m.cells.push(CellTower { mcc, mnc, lac, cid, rssi });
            }
        }
        i += 1;
    }
    // Then the Wi-Fi count and the list.
    if v.len() > i + 1 {
        wifi_list(m, &v[i + 1..].join(","));
    }
}
