//! The signed webhook: POSTs a notification as JSON to one configured URL. SMS and voice providers
//! (Aliyun, Tencent …) plug in behind a small receiver that verifies the signature and calls them.
//!
//! Signature scheme: the request carries `X-Zhulao-Timestamp: <Unix seconds>` and
//! `X-Zhulao-Signature: sha256=<hex>`, the lowercase hex of HMAC-SHA256 keyed with the shared
//! secret over the bytes `"{timestamp}.{body}"` — the timestamp header's text, a full stop, and the
//! raw request body. Receivers check it with [`verify_signature`] (constant time) and should also
//! refuse timestamps more than a few minutes away from their own clock, which stops replays. Each
//! retry is signed afresh (new timestamp and `sent_at`); `X-Zhulao-Id` stays the same, so receivers
//! deduplicate on it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use reqwest::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::retry::{self, RetryPolicy, Step, Target};
use crate::{
    Attempt, Channel, Clock, Notification, NotifyError, Recipient, SharedClock, SystemClock, mask_url,
};

/// The idempotency key header: the notification's `id`, the same on every retry.
pub const HEADER_ID: &str = "X-Zhulao-Id";
/// Unix seconds at which this try was signed.
pub const HEADER_TIMESTAMP: &str = "X-Zhulao-Timestamp";
/// `sha256=<hex HMAC-SHA256(secret, "{timestamp}.{body}")>`.
pub const HEADER_SIGNATURE: &str = "X-Zhulao-Signature";

const SIGNATURE_PREFIX: &str = "sha256=";

/// Where the webhook goes and how it retries. `Debug` shows only the URL's host and hides the secret.
#[derive(Clone)]
pub struct WebhookConfig {
    /// `http://` or `https://`. Only its host appears in attempts and logs.
    pub url: String,
    /// The shared HMAC key; use at least 32 random bytes.
    pub secret: String,
    pub retry: RetryPolicy,
}

impl WebhookConfig {
    pub fn new(url: impl Into<String>, secret: impl Into<String>) -> Self {
        WebhookConfig { url: url.into(), secret: secret.into(), retry: RetryPolicy::default() }
    }
}

impl fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("url", &mask_url(&self.url))
            .field("secret", &"<redacted>")
            .field("retry", &self.retry)
            .finish()
    }
}

/// Chinese and English versions of one text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bilingual {
    pub zh: String,
    pub en: String,
}

/// The JSON body of a webhook request. It carries the recipient's real phone and e-mail, since the
/// receiver has to call or write to them; only the transport (HTTPS) protects it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookPayload {
    pub id: String,
    pub alarm_id: i64,
    pub kind: String,
    pub recipient: Recipient,
    pub subject: Bilingual,
    pub body: Bilingual,
    pub data: serde_json::Value,
    /// When this try was made, Unix milliseconds.
    pub sent_at: i64,
}

impl WebhookPayload {
    pub fn new(n: &Notification, sent_at: i64) -> Self {
        WebhookPayload {
            id: n.id.clone(),
            alarm_id: n.alarm_id,
            kind: n.kind.clone(),
            recipient: n.recipient.clone(),
            subject: Bilingual { zh: n.subject_zh.clone(), en: n.subject_en.clone() },
            body: Bilingual { zh: n.body_zh.clone(), en: n.body_en.clone() },
            data: n.data.clone(),
            sent_at,
        }
    }
}

fn mac(secret: &[u8], timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `X-Zhulao-Signature` value for a request: `sha256=` and the hex HMAC-SHA256 of
/// `"{timestamp}.{body}"` under `secret`.
pub fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let tag = mac(secret, timestamp, body).finalize().into_bytes();
    let mut out = String::with_capacity(SIGNATURE_PREFIX.len() + 64);
    out.push_str(SIGNATURE_PREFIX);
    for b in tag {
        out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(b & 0xf)]));
    }
    out
}

/// For receivers: whether `header` (the `X-Zhulao-Signature` value) signs `timestamp` (the
/// `X-Zhulao-Timestamp` text) and the raw `body` under `secret`. The comparison is constant-time.
/// It does not judge the timestamp's age; a receiver should refuse stale ones itself.
pub fn verify_signature(secret: &[u8], timestamp: &str, body: &[u8], header: &str) -> bool {
    let Some(hex) = header.trim().strip_prefix(SIGNATURE_PREFIX) else { return false };
    let Some(tag) = decode_hex(hex) else { return false };
    mac(secret, timestamp, body).verify_slice(&tag).is_ok()
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    bytes.chunks_exact(2).map(|p| Some(nibble(p[0])? << 4 | nibble(p[1])?)).collect()
}

/// Delivers notifications to one signed webhook. See the module documentation for the scheme.
pub struct WebhookChannel {
    client: reqwest::Client,
    url: reqwest::Url,
    secret: Vec<u8>,
    target: String,
    retry: RetryPolicy,
    clock: SharedClock,
}

impl fmt::Debug for WebhookChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookChannel").field("target", &self.target).field("retry", &self.retry).finish()
    }
}

impl WebhookChannel {
    /// Checks the URL (http or https) and the secret (not empty) and builds the HTTP client. Redirects
    /// are not followed: a signed alarm goes only where it was configured to go.
    pub fn new(config: WebhookConfig) -> Result<Self, NotifyError> {
        let url = reqwest::Url::parse(config.url.trim())
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .ok_or_else(|| NotifyError::Config("webhook url must be an absolute http(s) URL".into()))?;
        if config.secret.is_empty() {
            return Err(NotifyError::Config("webhook secret must not be empty".into()));
        }
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("zhulao-notify/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(config.retry.attempt_timeout)
            .build()
            .map_err(|_| NotifyError::Config("webhook HTTP client could not be built".into()))?;
        Ok(WebhookChannel {
            client,
            target: mask_url(url.as_str()),
            url,
            secret: config.secret.into_bytes(),
            retry: config.retry,
            clock: Arc::new(SystemClock),
        })
    }

    /// Replaces the wall clock (for `started_at_ms`, `X-Zhulao-Timestamp` and `sent_at`).
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    async fn try_once(&self, n: &Notification, id: &HeaderValue, started_at_ms: i64) -> Step {
        let body = match serde_json::to_vec(&WebhookPayload::new(n, started_at_ms)) {
            Ok(body) => body,
            Err(_) => return Step::failed(false, None, "payload could not be encoded"),
        };
        let timestamp = started_at_ms.div_euclid(1000).to_string();
        let signature = sign(&self.secret, &timestamp, &body);
        let sent = self
            .client
            .post(self.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(HEADER_ID, id.clone())
            .header(HEADER_TIMESTAMP, timestamp)
            .header(HEADER_SIGNATURE, signature)
            .body(body)
            .send()
            .await;
        // reqwest's error text names the URL, which may hold a token: only its kind is reported.
        let response = match sent {
            Ok(response) => response,
            Err(e) if e.is_timeout() => return Step::failed(true, None, "timed out"),
            Err(e) if e.is_connect() => return Step::failed(true, None, "connection failed"),
            Err(e) if e.is_builder() => return Step::failed(false, None, "request could not be built"),
            Err(_) => return Step::failed(true, None, "request failed"),
        };
        let status = response.status();
        let code = status.as_u16();
        if status.is_success() {
            return Step::delivered(Some(code), format!("HTTP {code}"));
        }
        if status.is_server_error() || code == 408 || code == 429 {
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let detail = match retry_after {
                Some(after) => format!("HTTP {code}, Retry-After {} s", after.as_secs()),
                None => format!("HTTP {code}"),
            };
            return Step { retry_after, ..Step::failed(true, Some(code), detail) };
        }
        let detail = if status.is_redirection() {
            format!("HTTP {code} (redirects are not followed)")
        } else {
            format!("HTTP {code}")
        };
        Step::failed(false, Some(code), detail)
    }
}

#[async_trait]
impl Channel for WebhookChannel {
    fn name(&self) -> &'static str {
        "webhook"
    }

    async fn send(&self, n: &Notification) -> Vec<Attempt> {
        let who = Target {
            channel: self.name(),
            target: &self.target,
            notification_id: &n.id,
            alarm_id: n.alarm_id,
        };
        let id = HeaderValue::from_str(&n.id).ok();
        retry::run(&who, &self.retry, self.clock.as_ref(), fastrand::f64, |_, started_at_ms| {
            let id = id.clone();
            async move {
                match id {
                    Some(id) => self.try_once(n, &id, started_at_ms).await,
                    None => Step::failed(false, None, "notification id is not a valid header value"),
                }
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_round_trip() {
        let sig = sign(b"k", "1700000000", br#"{"a":1}"#);
        assert!(sig.starts_with("sha256=") && sig.len() == 7 + 64);
        assert!(verify_signature(b"k", "1700000000", br#"{"a":1}"#, &sig));
        assert!(verify_signature(
            b"k",
            "1700000000",
            br#"{"a":1}"#,
            &sig.to_uppercase().replace("SHA256=", "sha256=")
        ));
        assert!(!verify_signature(b"K", "1700000000", br#"{"a":1}"#, &sig), "other secret");
        assert!(!verify_signature(b"k", "1700000001", br#"{"a":1}"#, &sig), "other timestamp");
        assert!(!verify_signature(b"k", "1700000000", br#"{"a":2}"#, &sig), "other body");
        assert!(!verify_signature(b"k", "1700000000", br#"{"a":1}"#, &sig[7..]), "no prefix");
        assert!(!verify_signature(b"k", "1700000000", br#"{"a":1}"#, &sig[..70]), "short");
        assert!(!verify_signature(b"k", "1700000000", br#"{"a":1}"#, "sha256=zz"), "not hex");
    }

    /// A known answer computed independently (Python's `hmac` module), as a receiver would.
    #[test]
    fn signature_matches_a_reference_hmac() {
        assert_eq!(
            sign(b"whsec_test", "1700000000", br#"{"id":"a-1"}"#),
            "sha256=0bf26072f8d2b6a946a2d7dbba3c3e65a2190f5bf52d6cffef27d92aaa9e5b59"
        );
    }

    #[test]
    fn config_is_checked_and_debug_hides_secrets() {
        let cfg = WebhookConfig::new("https://u:p@sms.example.cn/hook?key=abc", "s3cret");
        let dbg = format!("{cfg:?}");
        assert!(dbg.contains("sms.example.cn") && !dbg.contains("s3cret") && !dbg.contains("key=abc"));
        assert!(WebhookChannel::new(WebhookConfig::new("ftp://x.cn/", "s")).is_err());
        assert!(WebhookChannel::new(WebhookConfig::new("not a url", "s")).is_err());
        assert!(WebhookChannel::new(WebhookConfig::new("https://x.cn/", "")).is_err());
        let ch = WebhookChannel::new(cfg).unwrap();
        assert!(!format!("{ch:?}").contains("s3cret"));
        assert_eq!(ch.target, "sms.example.cn");
    }
}
