//! Secrets in configuration and memory — passwords, tokens, webhook keys — and URLs that may
//! carry a password: shown as `***` by `Debug` and `Display`, so a secret reaches a log or a
//! message only by an explicit [`Secret::expose`].

use std::fmt;

/// A secret string. `Debug` and `Display` print `***`; serialisation keeps the value (the
/// configuration layers pass it through), so never serialise a `Secret` into a log or a reply.
#[derive(Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the one place that must use it (a login, a signature).
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret(s)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret(s.to_string())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// `scheme://user:password@host/…` with the password replaced by `***` (and a password-only
/// `scheme://:password@…` likewise), for messages and logs. Other strings are returned as they are.
pub fn redact_url(url: &str) -> String {
    let Some(start) = url.find("://").map(|i| i + 3) else { return url.to_string() };
    // The authority ends at the first '/', '?' or '#' after the scheme.
    let end = url[start..].find(['/', '?', '#']).map_or(url.len(), |i| start + i);
    let Some(at) = url[start..end].rfind('@').map(|i| start + i) else { return url.to_string() };
    match url[start..at].split_once(':') {
        Some((user, _)) => format!("{}{user}:***{}", &url[..start], &url[at..]),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_print() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "*** ***");
        assert_eq!(s.expose(), "hunter2");
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Config {
            password: Secret,
        }
        assert!(!format!("{:?}", Config { password: s }).contains("hunter2"));
    }

    #[test]
    fn urls_lose_their_passwords() {
        assert_eq!(redact_url("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact_url("mqtt://gw:p%40ss:w@broker:1883"), "mqtt://gw:***@broker:1883");
        assert_eq!(redact_url("mqtt://:token@broker:1883"), "mqtt://:***@broker:1883");
        assert_eq!(redact_url("mqtt://broker:1883"), "mqtt://broker:1883");
        assert_eq!(redact_url("sqlite://zhulao.db"), "sqlite://zhulao.db");
        assert_eq!(redact_url("https://h/path?u=a@b"), "https://h/path?u=a@b");
        assert_eq!(redact_url("not a url"), "not a url");
    }
}
