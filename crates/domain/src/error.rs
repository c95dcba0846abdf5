//! Validation errors: which field, a stable code, and a message in Chinese and English.

use std::borrow::Cow;
use std::fmt;

/// An error a person can be told about, from any layer: a stable code for machines, the
/// message in Chinese and in English, and the input field it concerns. Every layer's error
/// implements it, so the API renders them all the same way and no layer repeats the pattern
/// in its own shape.
pub trait Coded {
    /// Stable, for machines (`alarm_closed`, `bad_field` …).
    fn code(&self) -> &'static str;
    /// For people, in Chinese (the end users').
    fn zh(&self) -> Cow<'_, str>;
    fn en(&self) -> Cow<'_, str>;
    /// The input field concerned, when there is one.
    fn field(&self) -> Option<&str> {
        None
    }
    /// As a [`FieldError`], against `default_field` when the error names none.
    fn to_field_error(&self, default_field: &str) -> FieldError {
        FieldError::new(self.field().unwrap_or(default_field), self.code(), self.zh(), self.en())
    }
}

/// Implements [`Coded`] for a type by its own `code`, `zh` and `en` methods (and `field`,
/// returning `&'static str` or `Option<&'static str>`, with `field`).
#[macro_export]
macro_rules! coded_by_methods {
    ($t:ty) => {
        impl $crate::Coded for $t {
            fn code(&self) -> &'static str {
                <$t>::code(self)
            }
            fn zh(&self) -> std::borrow::Cow<'_, str> {
                <$t>::zh(self).into()
            }
            fn en(&self) -> std::borrow::Cow<'_, str> {
                <$t>::en(self).into()
            }
        }
    };
    ($t:ty, field) => {
        impl $crate::Coded for $t {
            fn code(&self) -> &'static str {
                <$t>::code(self)
            }
            fn zh(&self) -> std::borrow::Cow<'_, str> {
                <$t>::zh(self).into()
            }
            fn en(&self) -> std::borrow::Cow<'_, str> {
                <$t>::en(self).into()
            }
            fn field(&self) -> Option<&str> {
                <$t>::field(self).into()
            }
        }
    };
}

/// A value rejected at the edge. `field` names the offending input field so a form or a
/// ledger row report can point at it; `code` is stable for machines; the messages are for
/// people (Chinese first, since the end users are Chinese civil-affairs staff).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub code: &'static str,
    pub zh: String,
    pub en: String,
}

impl FieldError {
    pub fn new(
        field: impl Into<String>,
        code: &'static str,
        zh: impl Into<String>,
        en: impl Into<String>,
    ) -> Self {
        Self { field: field.into(), code, zh: zh.into(), en: en.into() }
    }

    /// The same error reported against another field name (e.g. a ledger column).
    pub fn at(mut self, field: impl Into<String>) -> Self {
        self.field = field.into();
        self
    }

    pub fn required(field: &str) -> Self {
        Self::new(field, "required", format!("{field} 不能为空"), format!("{field} is required"))
    }

    pub fn too_long(field: &str, max: usize) -> Self {
        Self::new(
            field,
            "too_long",
            format!("{field} 过长（最多 {max} 个字符）"),
            format!("{field} is too long (at most {max} characters)"),
        )
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} / {}", self.field, self.zh, self.en)
    }
}

impl std::error::Error for FieldError {}

impl Coded for FieldError {
    fn code(&self) -> &'static str {
        self.code
    }
    fn zh(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.zh)
    }
    fn en(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.en)
    }
    fn field(&self) -> Option<&str> {
        Some(&self.field)
    }
}

/// Trims `value` and checks it is non-empty and at most `max` characters.
pub fn required_text(field: &str, value: &str, max: usize) -> Result<String, FieldError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(FieldError::required(field));
    }
    optional_text(field, v, max).map(|o| o.unwrap_or_default())
}

/// Trims `value`; empty becomes `None`; longer than `max` characters is an error.
pub fn optional_text(field: &str, value: &str, max: usize) -> Result<Option<String>, FieldError> {
    let v = value.trim();
    if v.is_empty() {
        return Ok(None);
    }
    if v.chars().count() > max {
        return Err(FieldError::too_long(field, max));
    }
    if v.chars().any(|c| c.is_control()) {
        return Err(FieldError::new(
            field,
            "control_characters",
            format!("{field} 含有控制字符"),
            format!("{field} contains control characters"),
        ));
    }
    Ok(Some(v.to_string()))
}

/// Collects field errors while validating a whole input, so that every bad field is
/// reported at once rather than only the first.
#[derive(Debug, Default)]
pub struct Errors(pub Vec<FieldError>);

impl Errors {
    pub fn take<T>(&mut self, r: Result<T, FieldError>) -> Option<T> {
        r.map_err(|e| self.0.push(e)).ok()
    }

    pub fn push(&mut self, e: FieldError) {
        self.0.push(e);
    }

    /// `Err` with all errors if there were any.
    pub fn check(self) -> Result<(), Vec<FieldError>> {
        if self.0.is_empty() { Ok(()) } else { Err(self.0) }
    }
}
