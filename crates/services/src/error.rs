//! The shape every refusal in this crate shares: a stable machine code and a message in
//! Chinese and in English, so the API layer renders all of them the same way.

/// A refused step or an invalid request. `code` is stable for machines (the API's `code`
/// field); `zh` and `en` are for people (the API's `message` and `message_en`).
pub trait Refusal: std::error::Error {
    fn code(&self) -> &'static str;
    fn zh(&self) -> String;
    fn en(&self) -> String;
}

/// `Display` (the English message) and `std::error::Error` for a [`Refusal`].
macro_rules! refusal_display {
    ($t:ty) => {
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&$crate::error::Refusal::en(self))
            }
        }
        impl std::error::Error for $t {}
    };
}
pub(crate) use refusal_display;
