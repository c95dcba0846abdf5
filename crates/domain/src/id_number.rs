//! Resident identity card numbers (居民身份证号码) per GB 11643-1999, with the ISO 7064
//! MOD 11-2 check digit; birth date and sex are derived from the number.

use std::fmt;

use chrono::{Datelike, NaiveDate};

use crate::error::FieldError;

/// Weights of the first 17 digits for the MOD 11-2 check (GB 11643-1999, 2^(18-i) mod 11).
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// Check character for each remainder 0..=10.
const CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

/// Male or female, as encoded by the parity of the 17th digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Male,
    Female,
}

impl Sex {
    pub fn as_str(self) -> &'static str {
        match self {
            Sex::Male => "male",
            Sex::Female => "female",
        }
    }
    pub fn label_zh(self) -> &'static str {
        match self {
            Sex::Male => "男",
            Sex::Female => "女",
        }
    }
}

/// A validated 18-character resident ID number. It cannot exist with a wrong check digit
/// or an impossible birth date.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdNumber(String);

/// The check character for the first 17 digits of an ID number.
pub fn check_char(first17: &[u8; 17]) -> char {
    let sum: u32 = first17.iter().zip(WEIGHTS).map(|(d, w)| u32::from(d - b'0') * w).sum();
    CHECK[(sum % 11) as usize]
}

impl IdNumber {
    /// Parses and validates: 18 characters, 17 digits then a digit or `X` (lower case is
    /// accepted and normalised), a real birth date not after `today` and not before 1880,
    /// and the check digit.
    pub fn parse(raw: &str, today: NaiveDate) -> Result<Self, FieldError> {
        let s = raw.trim().to_ascii_uppercase();
        let err = |code: &'static str, zh: &str, en: &str| {
            FieldError::new("id_number", code, zh.to_string(), en.to_string())
        };
        let b = s.as_bytes();
        if b.len() != 18 {
            return Err(err("id_number_length", "身份证号码应为18位", "an ID number has 18 characters"));
        }
        if !b[..17].iter().all(u8::is_ascii_digit) || !(b[17].is_ascii_digit() || b[17] == b'X') {
            return Err(err(
                "id_number_format",
                "身份证号码格式错误：前17位应为数字，末位为数字或X",
                "an ID number is 17 digits followed by a digit or X",
            ));
        }
        let birth = birth_of(b).ok_or_else(|| {
            err(
                "id_number_birth_date",
                "身份证号码中的出生日期无效",
                "the birth date in the ID number is not a real date",
            )
        })?;
        if birth > today || birth.year() < 1880 {
            return Err(err(
                "id_number_birth_date",
                "身份证号码中的出生日期不合理",
                "the birth date in the ID number is impossible",
            ));
        }
        let first17: &[u8; 17] = b[..17].try_into().expect("length checked above");
        if check_char(first17) != char::from(b[17]) {
            return Err(err(
                "id_number_checksum",
                "身份证号码校验位错误",
                "the ID number's check digit is wrong",
            ));
        }
        Ok(Self(s))
    }

    /// Re-validates a number read back from storage (no "not in the future" check, since the
    /// record was validated against the day it was written).
    pub fn parse_stored(raw: &str) -> Result<Self, FieldError> {
        Self::parse(raw, NaiveDate::MAX)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn birth_date(&self) -> NaiveDate {
        birth_of(self.0.as_bytes()).expect("validated on construction")
    }

    pub fn sex(&self) -> Sex {
        if (self.0.as_bytes()[16] - b'0') % 2 == 1 { Sex::Male } else { Sex::Female }
    }

    /// The six-digit administrative division code of the place of first registration.
    pub fn division_prefix(&self) -> &str {
        &self.0[..6]
    }

    /// Masked for display to roles that do not need the number: `140213********0012`.
    pub fn masked(&self) -> String {
        mask_middle(&self.0, 6, 4)
    }
}

fn birth_of(b: &[u8]) -> Option<NaiveDate> {
    let s = std::str::from_utf8(&b[6..14]).ok()?;
    let y: i32 = s[..4].parse().ok()?;
    let m: u32 = s[4..6].parse().ok()?;
    let d: u32 = s[6..8].parse().ok()?;
    NaiveDate::from_ymd_opt(y, m, d)
}

/// Keeps `head` leading and `tail` trailing characters and stars out the rest.
pub fn mask_middle(s: &str, head: usize, tail: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= head + tail {
        return "*".repeat(chars.len());
    }
    let mut out: String = chars[..head].iter().collect();
    out.extend(std::iter::repeat_n('*', chars.len() - head - tail));
    out.extend(&chars[chars.len() - tail..]);
    out
}

/// Builds a valid ID number from its parts (used by the demo generator and tests).
/// `seq` is the three-digit order code; its parity sets the sex.
pub fn compose(division6: &str, birth: NaiveDate, seq: u16) -> Option<IdNumber> {
    if division6.len() != 6 || !division6.bytes().all(|c| c.is_ascii_digit()) || seq > 999 {
        return None;
    }
    let body = format!("{division6}{}{seq:03}", birth.format("%Y%m%d"));
    let first17: &[u8; 17] = body.as_bytes().try_into().ok()?;
    Some(IdNumber(format!("{body}{}", check_char(first17))))
}

impl fmt::Debug for IdNumber {
    // Personal data stays out of logs and panics: Debug shows only the masked form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdNumber({})", self.masked())
    }
}

impl serde::Serialize for IdNumber {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
    }

    #[test]
    fn accepts_the_standard_example() {
        // The worked example of GB 11643-1999.
        let id = IdNumber::parse("11010519491231002X", today()).unwrap();
        assert_eq!(id.birth_date(), NaiveDate::from_ymd_opt(1949, 12, 31).unwrap());
        assert_eq!(id.sex(), Sex::Female);
        assert_eq!(id.masked(), "110105********002X");
        assert_eq!(IdNumber::parse("11010519491231002x", today()).unwrap().as_str(), "11010519491231002X");
    }

    #[test]
    fn rejects_bad_numbers_with_specific_codes() {
        let code = |s: &str| IdNumber::parse(s, today()).unwrap_err().code;
        assert_eq!(code("110105194912310021"), "id_number_checksum");
        assert_eq!(code("11010519491231002"), "id_number_length");
        assert_eq!(code("1101051949123100ZX"), "id_number_format");
        assert_eq!(code("110105194902300028"), "id_number_birth_date"); // 30 February
        assert_eq!(code("110105207001010026"), "id_number_birth_date"); // in the future
        assert_eq!(code("１１０１０５１９４９１２３１００２X"), "id_number_length"); // full-width
    }

    #[test]
    fn debug_never_shows_the_number() {
        let id = IdNumber::parse("11010519491231002X", today()).unwrap();
        assert!(!format!("{id:?}").contains("19491231"));
    }

    proptest::proptest! {
        #[test]
        fn composed_numbers_validate(y in 1900i32..2020, doy in 1u32..365, seq in 0u16..1000) {
            let birth = NaiveDate::from_yo_opt(y, doy).unwrap();
            let id = compose("140213", birth, seq).unwrap();
            let parsed = IdNumber::parse(id.as_str(), today()).unwrap();
            proptest::prop_assert_eq!(parsed.birth_date(), birth);
            proptest::prop_assert_eq!(parsed.sex() == Sex::Male, seq % 2 == 1);
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,30}") {
            let _ = IdNumber::parse(&s, today());
        }

        #[test]
        fn one_changed_digit_is_caught(pos in 0usize..17, delta in 1u8..10) {
            let id = compose("140213", NaiveDate::from_ymd_opt(1950, 6, 1).unwrap(), 123).unwrap();
            let mut b = id.as_str().as_bytes().to_vec();
            b[pos] = b'0' + (b[pos] - b'0' + delta) % 10;
            let s = String::from_utf8(b).unwrap();
            proptest::prop_assert!(IdNumber::parse(&s, today()).is_err());
        }
    }
}
