//! Administrative regions keyed by the national statistical division codes (统计用区划代码):
//! county/district → township/street → village/community.

use std::fmt;

use crate::error::FieldError;

/// The level of a region in the three-level service network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RegionLevel {
    /// 区县 — the platform's top level.
    County,
    /// 乡镇/街道.
    Township,
    /// 村/社区.
    Village,
}

impl RegionLevel {
    pub fn as_i16(self) -> i16 {
        match self {
            RegionLevel::County => 1,
            RegionLevel::Township => 2,
            RegionLevel::Village => 3,
        }
    }
    pub fn from_i16(v: i16) -> Option<Self> {
        match v {
            1 => Some(RegionLevel::County),
            2 => Some(RegionLevel::Township),
            3 => Some(RegionLevel::Village),
            _ => None,
        }
    }
}

/// A 12-digit statistical division code: 6 digits county, 3 township, 3 village.
/// Shorter codes (6 or 9 digits) are accepted and padded with zeros.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct RegionCode(String);

impl RegionCode {
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let s = raw.trim();
        let ok = matches!(s.len(), 6 | 9 | 12) && s.bytes().all(|c| c.is_ascii_digit()) && &s[..2] != "00";
        if !ok {
            return Err(FieldError::new(
                field,
                "region_code_format",
                format!("{field} 应为6、9或12位统计用区划代码"),
                format!("{field} must be a 6-, 9- or 12-digit statistical division code"),
            ));
        }
        Ok(Self(format!("{s:0<12}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn level(&self) -> RegionLevel {
        if &self.0[9..] != "000" {
            RegionLevel::Village
        } else if &self.0[6..9] != "000" {
            RegionLevel::Township
        } else {
            RegionLevel::County
        }
    }

    /// The significant prefix: 6 digits for a county, 9 for a township, 12 for a village.
    /// A region contains another when the other's code starts with this prefix.
    pub fn prefix(&self) -> &str {
        match self.level() {
            RegionLevel::County => &self.0[..6],
            RegionLevel::Township => &self.0[..9],
            RegionLevel::Village => &self.0,
        }
    }

    pub fn contains(&self, other: &RegionCode) -> bool {
        other.0.starts_with(self.prefix())
    }

    /// The enclosing region one level up (`None` for a county).
    pub fn parent(&self) -> Option<RegionCode> {
        match self.level() {
            RegionLevel::County => None,
            RegionLevel::Township => Some(Self(format!("{}000000", &self.0[..6]))),
            RegionLevel::Village => Some(Self(format!("{}000", &self.0[..9]))),
        }
    }
}

impl fmt::Debug for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RegionCode({})", self.0)
    }
}

impl fmt::Display for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for RegionCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        RegionCode::parse("region_code", &s).map_err(serde::de::Error::custom)
    }
}

/// A region as stored: code, official name, parent.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Region {
    pub code: RegionCode,
    pub name: String,
    pub level: RegionLevel,
    pub parent: Option<RegionCode>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_prefixes_parents() {
        let county = RegionCode::parse("r", "140213").unwrap();
        let street = RegionCode::parse("r", "140213001").unwrap();
        let village = RegionCode::parse("r", "140213001002").unwrap();
        assert_eq!(county.as_str(), "140213000000");
        assert_eq!(county.level(), RegionLevel::County);
        assert_eq!(street.level(), RegionLevel::Township);
        assert_eq!(village.level(), RegionLevel::Village);
        assert!(county.contains(&village) && street.contains(&village) && !village.contains(&street));
        assert_eq!(village.parent().unwrap(), street);
        assert_eq!(street.parent().unwrap(), county);
        assert!(RegionCode::parse("r", "14021").is_err());
        assert!(RegionCode::parse("r", "000000").is_err());
    }
}
