//! Phone numbers: mainland mobile numbers and landlines with an area code.

use std::fmt;

use crate::error::FieldError;
use crate::id_number::mask_middle;

/// A validated phone number in a canonical form: 11-digit mobile (`13812345678`) or a
/// landline `0352-1234567`. Spaces, dashes and a leading `+86` are accepted on input.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Phone(String);

impl Phone {
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let compact: String = raw.trim().chars().filter(|c| !matches!(c, ' ' | '-' | '(' | ')')).collect();
        let digits = compact.strip_prefix("+86").or_else(|| compact.strip_prefix("0086")).unwrap_or(&compact);
        let bad = || {
            FieldError::new(
                field,
                "phone_format",
                format!("{field} 不是有效的电话号码（手机号11位，固话需区号）"),
                format!("{field} is not a valid phone number (11-digit mobile or landline with area code)"),
            )
        };
        if !digits.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        let b = digits.as_bytes();
        if b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]) {
            return Ok(Self(digits.to_string()));
        }
        // Landline: area code 0 + 2..3 digits, subscriber number 7..8 digits.
        if b.first() == Some(&b'0') && (10..=12).contains(&b.len()) {
            let area_len = if matches!(b[1], b'1' | b'2') { 3 } else { 4 };
            let (area, local) = digits.split_at(area_len);
            if (7..=8).contains(&local.len()) {
                return Ok(Self(format!("{area}-{local}")));
            }
        }
        Err(bad())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `138****5678`: the form shown to roles that do not need to call.
    pub fn masked(&self) -> String {
        mask_middle(&self.0, 3, 4)
    }
}

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Phone({})", self.masked())
    }
}

impl serde::Serialize for Phone {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Phone {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Phone::parse("phone", &s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms() {
        assert_eq!(Phone::parse("p", "+86 138-1234-5678").unwrap().as_str(), "13812345678");
        assert_eq!(Phone::parse("p", "0352-1234567").unwrap().as_str(), "0352-1234567");
        assert_eq!(Phone::parse("p", "01012345678").unwrap().as_str(), "010-12345678");
        assert_eq!(Phone::parse("p", "13812345678").unwrap().masked(), "138****5678");
        for bad in ["", "12345", "12812345678", "1381234567x", "138123456789"] {
            assert!(Phone::parse("p", bad).is_err(), "{bad}");
        }
    }
}
