//! Region prefixes for configuration that varies by place (prices, dispatch radii, subsidy
//! rules): the most specific prefix that matches an elder's region wins.

use std::fmt;

use zhulao_domain::{FieldError, RegionCode};

/// A prefix of statistical division codes: `""` (everywhere), `14` (a province), `1402` (a
/// city), `140213` (a county or district), `140213001` (a street or township), or a full
/// 12-digit village code.
///
/// Written forms are normalised to the significant digits, so an administrator may type a
/// full padded code: `140213000000` and `140213` are the same prefix, `140200` is the city
/// `1402` and `140000` the province `14` (trailing `000` groups are dropped down to 6 digits,
/// then trailing `00` pairs down to 2).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct RegionPrefix(String);

impl RegionPrefix {
    /// Everywhere: matches every region, the least specific prefix.
    pub fn everywhere() -> Self {
        RegionPrefix(String::new())
    }

    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let s = raw.trim();
        let ok = s.len() <= 12 && s.bytes().all(|c| c.is_ascii_digit()) && !s.starts_with('0');
        if !ok {
            return Err(FieldError::new(
                field,
                "region_prefix_format",
                format!("{field} 应为统计用区划代码或其前缀（最多12位数字）"),
                format!("{field} must be a statistical division code or a prefix of one (at most 12 digits)"),
            ));
        }
        let mut p = s.to_string();
        while p.len() > 6 && p.len().is_multiple_of(3) && p.ends_with("000") {
            p.truncate(p.len() - 3);
        }
        while (p.len() == 6 || p.len() == 4) && p.ends_with("00") {
            p.truncate(p.len() - 2);
        }
        Ok(RegionPrefix(p))
    }

    /// The prefix of exactly this region (and everything inside it).
    pub fn of(region: &RegionCode) -> Self {
        // A RegionCode is always a valid prefix.
        Self::parse("region", region.as_str()).unwrap_or_default()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn matches(&self, region: &RegionCode) -> bool {
        region.as_str().starts_with(&self.0)
    }

    /// The number of significant digits: more is more specific.
    pub fn specificity(&self) -> usize {
        self.0.len()
    }
}

impl fmt::Debug for RegionPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RegionPrefix({})", self.0)
    }
}

impl<'de> serde::Deserialize<'de> for RegionPrefix {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        RegionPrefix::parse("region_prefix", &s).map_err(serde::de::Error::custom)
    }
}

/// The entry whose prefix is the longest one matching `region`. Among equally specific
/// matches the first in `entries` wins, so the answer is deterministic.
pub fn most_specific<'a, T>(
    entries: impl IntoIterator<Item = (&'a RegionPrefix, T)>,
    region: &RegionCode,
) -> Option<T> {
    let mut best: Option<(usize, T)> = None;
    for (prefix, value) in entries {
        if prefix.matches(region) && best.as_ref().is_none_or(|(n, _)| prefix.specificity() > *n) {
            best = Some((prefix.specificity(), value));
        }
    }
    best.map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> RegionPrefix {
        RegionPrefix::parse("p", s).unwrap()
    }
    fn r(s: &str) -> RegionCode {
        RegionCode::parse("r", s).unwrap()
    }

    #[test]
    fn prefixes_normalise() {
        assert_eq!(p("140213000000").as_str(), "140213");
        assert_eq!(p("140213001000").as_str(), "140213001");
        assert_eq!(p("140213001002").as_str(), "140213001002");
        assert_eq!(p("140200").as_str(), "1402");
        assert_eq!(p("140000000000").as_str(), "14");
        assert_eq!(p("").as_str(), "");
        assert_eq!(p("4101").as_str(), "4101");
        for bad in ["abc", "0012", "1234567890123", "14 02"] {
            assert!(RegionPrefix::parse("p", bad).is_err(), "{bad}");
        }
        assert_eq!(RegionPrefix::of(&r("140213001")).as_str(), "140213001");
    }

    #[test]
    fn the_longest_matching_prefix_wins() {
        let table = [(p(""), 1), (p("14"), 2), (p("140213"), 3), (p("140213001"), 4), (p("410103"), 5)];
        let look = |code: &str| most_specific(table.iter().map(|(k, v)| (k, *v)), &r(code));
        assert_eq!(look("140213001002"), Some(4));
        assert_eq!(look("140213002001"), Some(3));
        assert_eq!(look("140211001001"), Some(2));
        assert_eq!(look("410103001001"), Some(5));
        assert_eq!(look("110101001001"), Some(1));
        let none: [(RegionPrefix, i32); 1] = [(p("41"), 1)];
        assert_eq!(most_specific(none.iter().map(|(k, v)| (k, *v)), &r("140213")), None);
    }
}
