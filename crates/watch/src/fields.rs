//! Strict parsers for the numeric fields of both protocols: plain ASCII digits only, so that
//! `nan`, `inf`, exponents or stray letters never become numbers.

use crate::error::WatchError;
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

/// An unsigned decimal integer; empty (after trimming spaces) is `None`.
pub(crate) fn uint(field: &'static str, s: &str) -> Result<Option<u64>, WatchError> {
    let t = s.trim();
    if t.is_empty() {
        return Ok(None);
    }
    if t.len() > 18 || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(WatchError::bad(field, s));
    }
    t.parse().map(Some).map_err(|_| WatchError::bad(field, s))
}

/// A signed decimal integer; empty is `None`.
pub(crate) fn int(field: &'static str, s: &str) -> Result<Option<i64>, WatchError> {
    let t = s.trim();
    let (neg, digits) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    if t.is_empty() {
        return Ok(None);
    }
    let v = uint(field, digits)?.ok_or_else(|| WatchError::bad(field, s))? as i64;
    Ok(Some(if neg { -v } else { v }))
}

/// An unsigned integer written in decimal, or in hex when it holds a hex letter (cell IDs).
pub(crate) fn dec_or_hex(field: &'static str, s: &str) -> Result<Option<u64>, WatchError> {
    let t = s.trim();
    if t.bytes().any(|b| matches!(b, b'a'..=b'f' | b'A'..=b'F')) {
        return hex(field, t);
    }
    uint(field, t)
}

/// An unsigned hexadecimal integer of at most 16 digits; empty is `None`.
pub(crate) fn hex(field: &'static str, s: &str) -> Result<Option<u64>, WatchError> {
    let t = s.trim();
    if t.is_empty() {
        return Ok(None);
    }
    if t.len() > 16 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(WatchError::bad(field, s));
    }
    u64::from_str_radix(t, 16).map(Some).map_err(|_| WatchError::bad(field, s))
}

/// A decimal number `[-+]digits[.digits]` (also `5.` and `.5`); empty is `None`.
pub(crate) fn num(field: &'static str, s: &str) -> Result<Option<f64>, WatchError> {
    let t = s.trim();
    if t.is_empty() {
        return Ok(None);
    }
    let body = t.strip_prefix(['-', '+']).unwrap_or(t);
    let mut dots = 0;
    let mut digits = 0;
    for b in body.bytes() {
        match b {
            b'0'..=b'9' => digits += 1,
            b'.' => dots += 1,
            _ => return Err(WatchError::bad(field, s)),
        }
    }
    if digits == 0 || digits > 30 || dots > 1 {
        return Err(WatchError::bad(field, s));
    }
    let v: f64 = t.parse().map_err(|_| WatchError::bad(field, s))?;
    if v.is_finite() { Ok(Some(v)) } else { Err(WatchError::bad(field, s)) }
}

/// A value that must fit in a smaller integer type.
pub(crate) fn fit<S, T: TryFrom<S>>(
    field: &'static str,
    raw: &str,
    v: Option<S>,
) -> Result<Option<T>, WatchError> {
    v.map(|v| T::try_from(v).map_err(|_| WatchError::range(field, raw))).transpose()
}

/// Readings of 0 mean "no reading" on these watches (not worn, measurement failed).
pub(crate) fn nonzero<T: PartialEq + Default>(v: Option<T>) -> Option<T> {
    v.filter(|x| *x != T::default())
}

/// A date and time from six-digit fields in the device's zone, converted to UTC. Dates that do
/// not exist (devices send `000000` before their first fix) give `None`, not an error.
pub(crate) fn datetime(
    day: u32,
    month: u32,
    year2: u32,
    hms: (u32, u32, u32),
    offset: FixedOffset,
) -> Option<DateTime<Utc>> {
    let date = NaiveDate::from_ymd_opt(2000 + year2 as i32, month, day)?;
    let time = NaiveTime::from_hms_opt(hms.0, hms.1, hms.2)?;
    let local = NaiveDateTime::new(date, time);
    offset.from_local_datetime(&local).single().map(|t| t.with_timezone(&Utc))
}

/// Splits six ASCII digits into three two-digit numbers.
pub(crate) fn six_digits(field: &'static str, s: &str) -> Result<(u32, u32, u32), WatchError> {
    let t = s.trim();
    let b = t.as_bytes();
    if b.len() != 6 || !b.iter().all(u8::is_ascii_digit) {
        return Err(WatchError::bad(field, s));
    }
    let two = |i: usize| u32::from(b[i] - b'0') * 10 + u32::from(b[i + 1] - b'0');
    Ok((two(0), two(2), two(4)))
}

/// Normalises a MAC address to lower case with colons (`74-DE-2B-…` → `74:de:2b:…`).
pub(crate) fn mac(s: &str) -> String {
    s.trim().chars().map(|c| if c == '-' { ':' } else { c.to_ascii_lowercase() }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_strict() {
        assert_eq!(num("x", " 9.1574736").unwrap(), Some(9.1574736));
        assert_eq!(num("x", "-84.1422119").unwrap(), Some(-84.1422119));
        assert_eq!(num("x", "5.").unwrap(), Some(5.0));
        assert_eq!(num("x", "").unwrap(), None);
        for bad in ["nan", "inf", "1e5", "1.2.3", "-", ".", "0x10", "１２"] {
            assert!(num("x", bad).is_err(), "{bad}");
        }
        assert_eq!(int("x", "-1").unwrap(), Some(-1));
        assert!(int("x", "-").is_err());
        assert!(uint("x", "+1").is_err());
        assert!(uint("x", "99999999999999999999").is_err());
        assert_eq!(hex("x", "00200010").unwrap(), Some(0x0020_0010));
        assert_eq!(dec_or_hex("x", "3A2B").unwrap(), Some(0x3A2B));
        assert_eq!(dec_or_hex("x", "9520").unwrap(), Some(9520));
    }

    #[test]
    fn impossible_dates_are_none() {
        assert!(datetime(0, 0, 0, (0, 0, 0), FixedOffset::east_opt(0).unwrap()).is_none());
        assert!(datetime(31, 2, 24, (0, 0, 0), FixedOffset::east_opt(0).unwrap()).is_none());
        let t = datetime(22, 4, 14, (13, 46, 52), FixedOffset::east_opt(8 * 3600).unwrap()).unwrap();
        assert_eq!(t.to_rfc3339(), "2014-04-22T05:46:52+00:00");
    }
}
