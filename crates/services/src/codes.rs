//! Validated machine codes for open vocabularies that administrators extend ("+X"): service
//! items, skills, settlement rules and funding pools.

use std::fmt;

use zhulao_domain::FieldError;

/// Longest code accepted.
pub const CODE_MAX: usize = 40;

/// Whether `s` is a valid code: 2–40 characters of lowercase ASCII letters, digits and `_`,
/// starting with a letter.
pub fn is_valid_code(s: &str) -> bool {
    let b = s.as_bytes();
    (2..=CODE_MAX).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
}

macro_rules! code_type {
    ($(#[$meta:meta])* $name:ident, $what_zh:literal, $what_en:literal) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Validates a code (see [`is_valid_code`]); surrounding spaces are trimmed.
            pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
                let s = raw.trim();
                if is_valid_code(s) {
                    Ok(Self(s.to_string()))
                } else {
                    Err(FieldError::new(
                        field,
                        "code_format",
                        format!(
                            "{field}：{}代码应为2~{CODE_MAX}位小写字母、数字或下划线，以字母开头",
                            $what_zh
                        ),
                        format!(
                            "{field}: a {} code is 2-{CODE_MAX} lowercase letters, digits or '_', starting with a letter",
                            $what_en
                        ),
                    ))
                }
            }

            /// For codes written in this crate's source. Panics on an invalid code, which is a
            /// programming error caught by the tests.
            #[allow(dead_code)]
            pub(crate) fn lit(s: &str) -> Self {
                match Self::parse("code", s) {
                    Ok(c) => c,
                    Err(e) => panic!("invalid built-in code {s:?}: {e}"),
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = FieldError;
            fn from_str(s: &str) -> Result<Self, FieldError> {
                Self::parse(stringify!($name), s)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(stringify!($name), &s).map_err(serde::de::Error::custom)
            }
        }
    };
}

code_type!(
    /// A service item in the catalogue (`bathing`, `home_cleaning`, or an admin's own).
    ServiceCode, "服务项目", "service item"
);
code_type!(
    /// A caregiver skill or qualification (`bathing`, `nursing`, `haircut` …).
    SkillCode, "技能", "skill"
);
code_type!(
    /// A settlement rule, unique within a region's rule book; usage caps are counted per rule.
    RuleCode, "结算规则", "settlement rule"
);
code_type!(
    /// A funding pool with a balance: a government budget, a charity fund, a village
    /// collective's fund.
    PoolCode, "资金池", "funding pool"
);
code_type!(
    /// A dish or a set meal on a canteen's menu (`braised_tofu`, `set_a`).
    MenuCode, "菜品", "menu"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_validate() {
        for ok in ["bathing", "x1", "home_cleaning_2", "a_"] {
            assert!(ServiceCode::parse("c", ok).is_ok(), "{ok}");
        }
        for bad in ["", "a", "1abc", "Bathing", "bath ing", "洗澡", "_a", &"a".repeat(41)] {
            assert!(ServiceCode::parse("c", bad).is_err(), "{bad}");
        }
        assert_eq!(SkillCode::parse("c", "  nursing ").unwrap().as_str(), "nursing");
        let e = RuleCode::parse("rule", "X").unwrap_err();
        assert_eq!(e.code, "code_format");
        assert!(e.zh.contains("结算规则"));
    }

    #[test]
    fn codes_deserialize_with_validation() {
        let c: PoolCode = serde_json::from_str("\"erqi_gov_2026\"").unwrap();
        assert_eq!(c.as_str(), "erqi_gov_2026");
        assert!(serde_json::from_str::<PoolCode>("\"Erqi\"").is_err());
        assert_eq!(serde_json::to_string(&c).unwrap(), "\"erqi_gov_2026\"");
    }
}
