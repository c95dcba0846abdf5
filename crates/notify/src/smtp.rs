//! E-mail over SMTP (lettre on tokio, rustls). One plain-text message per notification: a UTF-8
//! subject `"{zh} / {en}"` and a body with the Chinese text first, then the English. The
//! `Message-ID` is derived from the notification's id, so a retried message can be recognised as
//! the same one.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use async_trait::async_trait;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::retry::{self, RetryPolicy, Step, Target};
use crate::{Attempt, Channel, Clock, Notification, NotifyError, SharedClock, SystemClock, mask_email};

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain text. Only for a relay on the same host or network; credentials are refused.
    None,
    /// Plain connect, then `STARTTLS`, which is required: a server that does not offer it gets
    /// nothing (no credentials, no message).
    StartTls,
    /// TLS from the first byte (SMTPS).
    Implicit,
}

impl SmtpTls {
    /// The usual port: 25, 587 or 465.
    pub fn default_port(self) -> u16 {
        match self {
            SmtpTls::None => 25,
            SmtpTls::StartTls => 587,
            SmtpTls::Implicit => 465,
        }
    }
}

/// SMTP credentials. `Debug` hides the password.
#[derive(Clone)]
pub struct SmtpCredentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for SmtpCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpCredentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Where mail goes out. `retry.attempt_timeout` bounds a whole try (connect to the final reply)
/// and also each single SMTP command.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub credentials: Option<SmtpCredentials>,
    /// The sender mailbox, e.g. `助老平台 <noreply@zhulao.example.cn>`.
    pub from: String,
    /// The name given in `EHLO`; `localhost` when unset.
    pub hello_name: Option<String>,
    pub retry: RetryPolicy,
}

impl SmtpConfig {
    /// A configuration on the usual port for `tls`, without credentials.
    pub fn new(host: impl Into<String>, tls: SmtpTls, from: impl Into<String>) -> Self {
        SmtpConfig {
            host: host.into(),
            port: tls.default_port(),
            tls,
            credentials: None,
            from: from.into(),
            hello_name: None,
            retry: RetryPolicy::default(),
        }
    }
}

/// Sends notifications as e-mail to the recipient's address.
pub struct SmtpChannel {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    retry: RetryPolicy,
    clock: SharedClock,
}

impl fmt::Debug for SmtpChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpChannel").field("retry", &self.retry).finish_non_exhaustive()
    }
}

impl SmtpChannel {
    /// Checks the sender address and the TLS settings. No connection is made until the first send.
    pub fn new(config: SmtpConfig) -> Result<Self, NotifyError> {
        let from: Mailbox = config
            .from
            .parse()
            .map_err(|_| NotifyError::Config("smtp from is not a valid mailbox".into()))?;
        let host = config.host.trim();
        if host.is_empty() {
            return Err(NotifyError::Config("smtp host must not be empty".into()));
        }
        let tls_parameters = || {
            TlsParameters::new(host.to_owned())
                .map_err(|_| NotifyError::Config("smtp TLS parameters could not be built".into()))
        };
        let tls = match config.tls {
            SmtpTls::None if config.credentials.is_some() => {
                return Err(NotifyError::Config("smtp credentials need STARTTLS or implicit TLS".into()));
            }
            SmtpTls::None => Tls::None,
            SmtpTls::StartTls => Tls::Required(tls_parameters()?),
            SmtpTls::Implicit => Tls::Wrapper(tls_parameters()?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(config.port)
            .tls(tls)
            .timeout(Some(config.retry.attempt_timeout))
            .hello_name(ClientId::Domain(config.hello_name.unwrap_or_else(|| "localhost".to_owned())));
        if let Some(c) = config.credentials {
            builder = builder.credentials(Credentials::new(c.username, c.password));
        }
        Ok(SmtpChannel {
            transport: builder.build(),
            from,
            retry: config.retry,
            clock: Arc::new(SystemClock),
        })
    }

    /// Replaces the wall clock (for `started_at_ms` and the `Date` header).
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    fn message(&self, n: &Notification, to: Address) -> Option<Message> {
        let date = UNIX_EPOCH + Duration::from_millis(u64::try_from(self.clock.now_ms()).unwrap_or(0));
        let body = Body::new_with_encoding(text_body(n), ContentTransferEncoding::Base64).ok()?;
        Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(Some(n.recipient.name.clone()), to))
            .subject(subject(n))
            .date(date)
            .message_id(Some(message_id(&n.id)))
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .ok()
    }
}

/// `"{zh} / {en}"`, or whichever is not empty.
fn subject(n: &Notification) -> String {
    match (n.subject_zh.trim(), n.subject_en.trim()) {
        (zh, "") => zh.to_owned(),
        ("", en) => en.to_owned(),
        (zh, en) => format!("{zh} / {en}"),
    }
}

/// Chinese first, then English, then the alarm number and the link if the payload has one.
fn text_body(n: &Notification) -> String {
    let mut text =
        format!("{}\n\n{}\n\n告警编号 / Alarm ID: {}\n", n.body_zh.trim(), n.body_en.trim(), n.alarm_id);
    if let Some(link) = n.data.get("link").and_then(|l| l.as_str()) {
        text.push_str(&format!("详情 / Details: {link}\n"));
    }
    text
}

/// `<{id}@zhulao>`, with anything outside `[A-Za-z0-9._-]` replaced by `-`.
fn message_id(id: &str) -> String {
    let safe: String = id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '-' })
        .collect();
    format!("<{safe}@zhulao>")
}

/// Maps lettre's error to an attempt; the server's reply text (which may echo the address) is dropped.
fn step_for_error(e: &lettre::transport::smtp::Error) -> Step {
    if let Some(code) = e.status() {
        let code = u16::from(code);
        return Step::failed(!e.is_permanent(), Some(code), format!("SMTP {code}"));
    }
    if e.is_timeout() {
        Step::failed(true, None, "timed out")
    } else if e.is_tls() {
        Step::failed(false, None, "TLS failed")
    } else if e.is_client() {
        let detail = if e.to_string().contains("STARTTLS") {
            "server does not offer STARTTLS"
        } else {
            "refused by the SMTP client"
        };
        Step::failed(false, None, detail)
    } else if e.is_response() {
        Step::failed(true, None, "malformed SMTP reply")
    } else {
        Step::failed(true, None, "connection failed")
    }
}

/// A single permanent failure, for a notification that cannot be sent at all.
fn unsendable(clock: &dyn Clock, target: String, detail: &str) -> Vec<Attempt> {
    vec![Attempt {
        channel: "smtp",
        target,
        attempt: 1,
        started_at_ms: clock.now_ms(),
        duration_ms: 0,
        outcome: crate::DeliveryOutcome::Failed { retryable: false },
        status: None,
        detail: detail.to_owned(),
    }]
}

#[async_trait]
impl Channel for SmtpChannel {
    fn name(&self) -> &'static str {
        "smtp"
    }

    async fn send(&self, n: &Notification) -> Vec<Attempt> {
        let Some(email) = n.recipient.email.as_deref().map(str::trim).filter(|e| !e.is_empty()) else {
            return unsendable(self.clock.as_ref(), "-".to_owned(), "no e-mail address");
        };
        let target = mask_email(email);
        let Ok(address) = email.parse::<Address>() else {
            return unsendable(self.clock.as_ref(), target, "invalid e-mail address");
        };
        let Some(message) = self.message(n, address) else {
            return unsendable(self.clock.as_ref(), target, "message could not be built");
        };
        let envelope = message.envelope().clone();
        let raw = message.formatted();
        let who =
            Target { channel: self.name(), target: &target, notification_id: &n.id, alarm_id: n.alarm_id };
        retry::run(&who, &self.retry, self.clock.as_ref(), fastrand::f64, |_, _| async {
            match self.transport.send_raw(&envelope, &raw).await {
                Ok(reply) => {
                    let code = u16::from(reply.code());
                    Step::delivered(Some(code), format!("SMTP {code}"))
                }
                Err(e) => step_for_error(&e),
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Recipient;

    fn notification() -> Notification {
        Notification {
            id: "alarm-1-family-0/attempt 1".into(),
            alarm_id: 1,
            kind: "alarm_raised".into(),
            recipient: Recipient::new("李娜", "family").email("li@example.cn"),
            subject_zh: "跌倒告警".into(),
            subject_en: "Fall alarm".into(),
            body_zh: "母亲可能跌倒。".into(),
            body_en: "Your mother may have fallen.".into(),
            data: serde_json::json!({ "link": "https://zhulao.example.cn/alarms/1" }),
        }
    }

    #[test]
    fn subject_body_and_message_id() {
        let n = notification();
        assert_eq!(subject(&n), "跌倒告警 / Fall alarm");
        assert_eq!(subject(&Notification { subject_en: " ".into(), ..n.clone() }), "跌倒告警");
        let body = text_body(&n);
        assert!(body.find("母亲").unwrap() < body.find("Your mother").unwrap());
        assert!(body.contains("告警编号 / Alarm ID: 1") && body.contains("/alarms/1"));
        assert_eq!(message_id(&n.id), "<alarm-1-family-0-attempt-1@zhulao>");
    }

    #[test]
    fn config_checks() {
        let ok = SmtpConfig::new("127.0.0.1", SmtpTls::None, "助老 <noreply@zhulao.example.cn>");
        assert!(SmtpChannel::new(ok.clone()).is_ok());
        assert!(SmtpChannel::new(SmtpConfig { from: "nobody".into(), ..ok.clone() }).is_err());
        assert!(SmtpChannel::new(SmtpConfig { host: " ".into(), ..ok.clone() }).is_err());
        let creds = SmtpCredentials { username: "u".into(), password: "hunter2".into() };
        assert!(format!("{creds:?}").contains("<redacted>") && !format!("{creds:?}").contains("hunter2"));
        let plain_with_creds = SmtpConfig { credentials: Some(creds.clone()), ..ok.clone() };
        assert!(SmtpChannel::new(plain_with_creds).is_err());
        let tls = SmtpConfig { tls: SmtpTls::Implicit, port: 465, credentials: Some(creds), ..ok };
        assert!(SmtpChannel::new(tls).is_ok());
    }
}
