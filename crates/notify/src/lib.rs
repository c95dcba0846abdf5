//! zhulao-notify: the channels that tell people about an alarm — a signed webhook (which SMS and
//! voice providers plug into), e-mail over SMTP, and the operators' live consoles.
//!
//! Every channel implements [`Channel`]: `send` makes its own retries and returns *every*
//! [`Attempt`], delivered or not, so the caller can record them all on the alarm. An attempt names
//! its target only in masked form (`138****5678`, `a***@x.cn`, a URL's host), and its `detail` is a
//! short fixed text: it never holds a secret, a phone number or an address. The same goes for the
//! `tracing` events the channels emit.
//!
//! Time is injected: `started_at_ms` (and the webhook's signed timestamp) come from a [`Clock`];
//! backoff sleeps and durations use tokio's clock, so tests may pause it.
//!
//! ```
//! use zhulao_notify::{Channel, ConsoleChannel, Notification, DeliveryOutcome, Recipient};
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let (tx, mut rx) = tokio::sync::broadcast::channel(16);
//! let console = ConsoleChannel::new(tx).with_clock(|| 1_700_000_000_000);
//! let n = Notification {
//!     id: "alarm-7-operators-attempt-1".into(),
//!     alarm_id: 7,
//!     kind: "alarm_raised".into(),
//!     recipient: Recipient::new("值班员", "operator"),
//!     subject_zh: "跌倒告警".into(),
//!     subject_en: "Fall alarm".into(),
//!     body_zh: "王秀英（幸福里 3 号楼）可能跌倒。".into(),
//!     body_en: "Wang Xiuying (Xingfuli bldg 3) may have fallen.".into(),
//!     data: serde_json::json!({ "alarm_kind": "fall" }),
//! };
//! let attempts = console.send(&n).await;
//! assert_eq!(attempts[0].outcome, DeliveryOutcome::Delivered);
//! assert_eq!(rx.recv().await.unwrap().alarm_id, 7);
//! # });
//! ```

mod console;
mod mask;
mod retry;
mod smtp;
mod webhook;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use console::ConsoleChannel;
pub use mask::{mask_email, mask_phone, mask_target, mask_url};
pub use retry::RetryPolicy;
pub use smtp::{SmtpChannel, SmtpConfig, SmtpCredentials, SmtpTls};
pub use webhook::{
    Bilingual, HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, WebhookChannel, WebhookConfig, WebhookPayload,
    sign, verify_signature,
};

/// One message to one recipient about one alarm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// Idempotency key, e.g. `alarm-123-family-0-attempt-1`. It stays the same across a channel's
    /// retries (the webhook sends it as `X-Zhulao-Id`, e-mail derives its `Message-ID` from it), so a
    /// receiver can drop duplicates.
    pub id: String,
    pub alarm_id: i64,
    /// `alarm_raised`, `family_call`, `escalation`, `dispatch`, `closed`, …
    pub kind: String,
    pub recipient: Recipient,
    pub subject_zh: String,
    pub subject_en: String,
    pub body_zh: String,
    pub body_en: String,
    /// Structured payload for machines: alarm kind, elder display name, location, link.
    pub data: serde_json::Value,
}

/// Who a notification is for. `Debug` masks the phone number and the e-mail address.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    pub name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    /// `family`, `responder`, `operator`, …
    pub role: String,
}

impl Recipient {
    /// A recipient with neither phone nor e-mail; add them with [`Recipient::phone`] and [`Recipient::email`].
    pub fn new(name: impl Into<String>, role: impl Into<String>) -> Self {
        Recipient { name: name.into(), phone: None, email: None, role: role.into() }
    }

    pub fn phone(mut self, phone: impl Into<String>) -> Self {
        self.phone = Some(phone.into());
        self
    }

    pub fn email(mut self, email: impl Into<String>) -> Self {
        self.email = Some(email.into());
        self
    }
}

impl fmt::Debug for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recipient")
            .field("name", &self.name)
            .field("phone", &self.phone.as_deref().map(mask_phone))
            .field("email", &self.email.as_deref().map(mask_email))
            .field("role", &self.role)
            .finish()
    }
}

/// How one attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum DeliveryOutcome {
    Delivered,
    /// `retryable`: the failure may go away by itself (a 5xx, a timeout, no console listening);
    /// `false` means sending the same thing again will fail the same way (a 4xx, a missing address).
    Failed {
        retryable: bool,
    },
}

impl DeliveryOutcome {
    pub fn is_delivered(self) -> bool {
        self == DeliveryOutcome::Delivered
    }
}

/// One try of one channel, as recorded on the alarm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attempt {
    /// `webhook`, `smtp` or `console`.
    pub channel: &'static str,
    /// Where it went, masked: `138****5678`, `a***@x.cn`, a URL's host (and port).
    pub target: String,
    /// 1 for the first try.
    pub attempt: u32,
    /// From the channel's [`Clock`], Unix milliseconds.
    pub started_at_ms: i64,
    pub duration_ms: u64,
    pub outcome: DeliveryOutcome,
    /// The HTTP status or the SMTP reply code, when the other side answered.
    pub status: Option<u16>,
    /// A short fixed text (`HTTP 503, Retry-After 2 s`, `timed out after 10000 ms`); never a
    /// secret, a phone number or an address.
    pub detail: String,
}

/// A way to reach people. `send` performs its own retries and returns every attempt (at least one).
#[async_trait]
pub trait Channel: Send + Sync {
    fn name(&self) -> &'static str;
    async fn send(&self, n: &Notification) -> Vec<Attempt>;
}

/// The time source for `started_at_ms` and signed timestamps, in Unix milliseconds. Any
/// `Fn() -> i64` is a clock, so tests pass `|| 1_700_000_000_000`.
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> i64;
}

impl<F: Fn() -> i64 + Send + Sync> Clock for F {
    fn now_ms(&self) -> i64 {
        self()
    }
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        i64::try_from(now.as_millis()).unwrap_or(i64::MAX)
    }
}

pub(crate) type SharedClock = Arc<dyn Clock>;

/// A channel that cannot be built from its configuration. The message names the setting, never
/// its value.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("invalid notification channel configuration: {0}")]
    Config(String),
}
