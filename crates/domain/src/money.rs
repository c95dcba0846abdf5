//! Money as integer fen (分). There are no floating-point amounts anywhere in zhulao.

use std::fmt;

use crate::error::FieldError;

/// An amount in fen (1 yuan = 100 fen). Signed so that ledgers can hold debits, but
/// balances are checked non-negative where they must be.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct Fen(pub i64);

impl Fen {
    pub const ZERO: Fen = Fen(0);

    pub fn checked_add(self, other: Fen) -> Option<Fen> {
        self.0.checked_add(other.0).map(Fen)
    }

    pub fn checked_sub(self, other: Fen) -> Option<Fen> {
        self.0.checked_sub(other.0).map(Fen)
    }

    /// Parses a yuan amount as people write it in ledgers: `12`, `12.5`, `12.50`, `¥12.50`,
    /// `1,234.00`. More than two decimals is an error rather than a silent rounding.
    pub fn parse_yuan(field: &str, raw: &str) -> Result<Fen, FieldError> {
        let bad = || {
            FieldError::new(
                field,
                "money_format",
                format!("{field} 金额格式错误（单位：元，最多两位小数）"),
                format!("{field} is not an amount in yuan with at most two decimals"),
            )
        };
        let s: String = raw.trim().trim_start_matches(['¥', '￥']).chars().filter(|c| *c != ',').collect();
        let s = s.strip_suffix('元').unwrap_or(&s).trim();
        let (neg, s) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        if int.is_empty()
            || !int.bytes().all(|c| c.is_ascii_digit())
            || frac.len() > 2
            || !frac.bytes().all(|c| c.is_ascii_digit())
        {
            return Err(bad());
        }
        let yuan: i64 = int.parse().map_err(|_| bad())?;
        let frac_fen: i64 = format!("{frac:0<2}").parse().map_err(|_| bad())?;
        let fen = yuan.checked_mul(100).and_then(|v| v.checked_add(frac_fen)).ok_or_else(bad)?;
        Ok(Fen(if neg { -fen } else { fen }))
    }
}

impl fmt::Display for Fen {
    /// `¥12.50`, `-¥0.05`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}¥{}.{:02}", abs / 100, abs % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_yuan() {
        let p = |s| Fen::parse_yuan("m", s).unwrap();
        assert_eq!(p("12"), Fen(1200));
        assert_eq!(p("12.5"), Fen(1250));
        assert_eq!(p("¥1,234.05"), Fen(123405));
        assert_eq!(p("8元"), Fen(800));
        assert_eq!(p("-0.05"), Fen(-5));
        assert_eq!(Fen(-5).to_string(), "-¥0.05");
        assert_eq!(Fen(123405).to_string(), "¥1234.05");
        for bad in ["", "1.234", "abc", "1e3", ".5", "99999999999999999999"] {
            assert!(Fen::parse_yuan("m", bad).is_err(), "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn display_round_trips(v in -1_000_000_000i64..1_000_000_000) {
            let shown = Fen(v).to_string().replace('¥', "");
            proptest::prop_assert_eq!(Fen::parse_yuan("m", &shown).unwrap(), Fen(v));
        }
    }
}
