//! A macro for the closed vocabularies of the registry (living arrangement, economic status…):
//! each value has a stable machine code, a Chinese label and an English label, and parses
//! from either the code or the Chinese label (as staff type it in a ledger).

/// Declares a code enum. Every variant gets `code` / `zh` / `en` strings.
#[macro_export]
macro_rules! code_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = ($code:literal, $zh:literal, $en:literal)),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }
            pub fn label_zh(self) -> &'static str {
                match self { $($name::$variant => $zh),+ }
            }
            pub fn label_en(self) -> &'static str {
                match self { $($name::$variant => $en),+ }
            }
            /// Accepts the code, the Chinese label or the English label (case-insensitive).
            pub fn parse_label(s: &str) -> Option<$name> {
                let s = s.trim();
                Self::ALL.iter().copied().find(|v| {
                    v.as_str().eq_ignore_ascii_case(s) || v.label_zh() == s || v.label_en().eq_ignore_ascii_case(s)
                })
            }
            /// Like [`Self::parse_label`], with a field error that lists the accepted values.
            pub fn parse_field(field: &str, s: &str) -> Result<$name, $crate::error::FieldError> {
                Self::parse_label(s).ok_or_else(|| {
                    let zh: Vec<&str> = Self::ALL.iter().map(|v| v.label_zh()).collect();
                    let en: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                    $crate::error::FieldError::new(
                        field,
                        "unknown_value",
                        format!("{field} 的值“{s}”无效，可选：{}", zh.join("、")),
                        format!("{field} value '{s}' is not one of: {}", en.join(", ")),
                    )
                })
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::error::FieldError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse_field(stringify!($name), s)
            }
        }
    };
}
