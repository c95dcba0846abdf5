//! Decoding a frame into a [`WatchMessage`], with the reply the server owes the watch.

mod g3;
mod iw;

pub(crate) use g3::frame_3g;

use crate::error::WatchError;
use crate::frame::Frame;
use crate::message::{Alarm, WatchMessage};
use crate::{Protocol, fields};
use chrono::{DateTime, FixedOffset, Utc};

/// What the decoder cannot know from the frame itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeOptions {
    /// The zone of the watch's clock, used for the date and time in position frames. Default UTC,
    /// like Traccar without `decoder.timezone`: 3G watches report UTC, and IW watches report the
    /// zone the server gave them in the login reply — which is this same offset.
    pub utc_offset: FixedOffset,
    /// The server's current time, needed only for the IW login reply (`IWBP00,<time>,<zone>#`).
    /// Without it the login decodes with `reply: None`, and the server must build the reply.
    pub now: Option<DateTime<Utc>>,
    /// The IMEI of the connection's IW login, for IW frames after it (they carry no device ID).
    pub device_id: Option<String>,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            utc_offset: FixedOffset::east_opt(0).expect("zero offset"),
            now: None,
            device_id: None,
        }
    }
}

/// Decodes a frame with the default options (watch clock in UTC, no server time).
pub fn decode(frame: &Frame) -> Result<WatchMessage, WatchError> {
    decode_with(frame, &DecodeOptions::default())
}

/// Decodes a frame. Unknown message types decode to a message with just the identity fields and
/// no reply; malformed fields are a [`WatchError`] — except in a frame that carries an alarm,
/// which decodes to its alarms and whatever else could be read, the first unreadable field in
/// [`WatchMessage::undecoded`] (an alarm is never lost to an odd field). Fields left out at the
/// end, empty or zero positions and hemispheres left out are not errors: the position is
/// marked invalid. Never panics.
pub fn decode_with(frame: &Frame, options: &DecodeOptions) -> Result<WatchMessage, WatchError> {
    let m = match frame.protocol {
        Protocol::Watch3g => g3::decode(frame, options)?,
        Protocol::Iw => iw::decode(frame, options)?,
    };
    match m.undecoded {
        Some(e) if m.alarms.is_empty() => Err(e),
        _ => Ok(m),
    }
}

/// The first error met while reading a frame field by field; reading goes on past it.
#[derive(Debug, Default)]
pub(crate) struct Soft {
    pub first: Option<WatchError>,
}

impl Soft {
    /// The value, or `None` with the error noted.
    pub fn ok<T>(&mut self, r: Result<Option<T>, WatchError>) -> Option<T> {
        r.unwrap_or_else(|e| {
            self.note(e);
            None
        })
    }

    pub fn note(&mut self, e: WatchError) {
        self.first.get_or_insert(e);
    }
}

/// A latitude or longitude that must lie within ±`limit` degrees.
fn coordinate(field: &'static str, raw: &str, value: f64, limit: f64) -> Result<f64, WatchError> {
    if value.is_finite() && value.abs() <= limit { Ok(value) } else { Err(WatchError::range(field, raw)) }
}

/// Battery percent; values beyond 100 are not percentages and are dropped.
fn battery(raw: &str) -> Result<Option<u8>, WatchError> {
    Ok(fields::uint("battery", raw)?.filter(|&b| b <= 100).map(|b| b as u8))
}

fn heart_rate(raw: &str) -> Result<Option<u16>, WatchError> {
    Ok(fields::nonzero(fields::fit("heart_rate", raw, fields::uint("heart_rate", raw)?)?))
}

fn pressure(field: &'static str, raw: &str) -> Result<Option<u16>, WatchError> {
    Ok(fields::nonzero(fields::fit(field, raw, fields::uint(field, raw)?)?))
}

fn spo2(raw: &str) -> Result<Option<u8>, WatchError> {
    match fields::uint("spo2", raw)? {
        Some(v) if v > 100 => Err(WatchError::range("spo2", raw)),
        v => Ok(fields::nonzero(v.map(|v| v as u8))),
    }
}

fn temperature(raw: &str) -> Result<Option<f64>, WatchError> {
    match fields::num("temperature", raw)? {
        Some(t) if !(-50.0..=100.0).contains(&t) => Err(WatchError::range("temperature", raw)),
        t => Ok(t.filter(|&t| t != 0.0)),
    }
}

/// The 3G status word's alarm bits, as Traccar's `WatchProtocolDecoder.decodeAlarm` reads them —
/// except that every bit set is reported, not only the first.
fn status_alarms(status: u64, m: &mut WatchMessage) {
    const BITS: [(u32, Alarm); 11] = [
        (0, Alarm::LowBattery),
        (1, Alarm::GeofenceExit),
        (2, Alarm::GeofenceEnter),
        (14, Alarm::PowerCut),
        (16, Alarm::Sos),
        (17, Alarm::LowBattery),
        (18, Alarm::GeofenceExit),
        (19, Alarm::GeofenceEnter),
        (20, Alarm::Removed),
        (21, Alarm::Fall),
        (22, Alarm::Fall),
    ];
    for (bit, alarm) in BITS {
        if status & (1 << bit) != 0 {
            m.add_alarm(alarm);
        }
    }
}

/// Formats a UTC offset in hours the way these watches take it: `8`, `-5`, `5.5`, `5.75`.
pub(crate) fn offset_hours(offset: FixedOffset) -> String {
    let secs = offset.local_minus_utc();
    if secs % 3600 == 0 {
        return (secs / 3600).to_string();
    }
    let s = format!("{:.2}", f64::from(secs) / 3600.0);
    s.trim_end_matches('0').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets() {
        let h = |s| offset_hours(FixedOffset::east_opt(s).unwrap());
        assert_eq!(h(8 * 3600), "8");
        assert_eq!(h(0), "0");
        assert_eq!(h(-5 * 3600), "-5");
        assert_eq!(h(19800), "5.5");
        assert_eq!(h(20700), "5.75");
        assert_eq!(h(-41400), "-11.5");
    }
}
