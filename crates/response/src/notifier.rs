//! The service's two outward ports: notifications to people, and messages to devices.

use async_trait::async_trait;
use serde::Serialize;
use zhulao_alarms::Feedback;
use zhulao_domain::Phone;
use zhulao_store::NotificationRecord;

/// Who is notified about an alarm. Personal data stays inside the notifier; records carry
/// masked targets, and `Debug` shows the phone masked (it is a [`Phone`]).
#[derive(Debug, Clone, Serialize)]
pub struct Addressee {
    pub name: String,
    pub role: String,
    pub phone: Option<Phone>,
    pub email: Option<String>,
}

/// One message to one person about one alarm.
#[derive(Debug, Clone, Serialize)]
pub struct OutgoingNotification {
    /// Idempotency key, stable across retries: `alarm-<id>-<purpose>-<n>`.
    pub id: String,
    pub alarm_id: i64,
    /// The alarm's region and elder, for the console's scope.
    pub region_code: String,
    pub elder_id: Option<i64>,
    /// `family_call`, `escalation`, `dispatch`, `supervisor`.
    pub purpose: String,
    pub recipient: Addressee,
    pub subject_zh: String,
    pub subject_en: String,
    pub body_zh: String,
    pub body_en: String,
    pub data: serde_json::Value,
}

/// Sends notifications through whatever channels are configured (webhook for SMS and voice
/// providers, e-mail, the operator console) and reports every attempt.
#[async_trait]
pub trait Notifier: Send + Sync {
    async fn notify(&self, n: &OutgoingNotification) -> Vec<NotificationRecord>;
}

/// A message for a device, queued by the gateway that holds its connection.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum DeviceMessage {
    /// The device's message `msg_id` is safely stored (and raised or merged into `alarm_id`).
    Ack {
        msg_id: String,
        alarm_id: Option<i64>,
    },
    Feedback {
        alarm_id: i64,
        state: Feedback,
    },
    /// Settings for the device `serial`, validated by the device protocol; each transport
    /// encodes them its own way (`down/config`, kept by the broker for the device's next
    /// connection; a watch's commands).
    Config {
        serial: String,
        config: zhulao_proto::DeviceConfigMsg,
    },
}

/// Why a command for a device did not go out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandRefused {
    /// The device is not connected to this instance now.
    NotConnected,
    /// The device's protocol has no such commands.
    Unsupported,
    /// Two connections claim the watch: nothing goes to it until an operator resolves the
    /// device-conflict alarm (confirms one connection, or closes the alarm).
    DeviceConflict,
    /// The watch's session is too new to be sent numbers or contacts (it has not lasted the
    /// settle time, and no operator confirmed it).
    NotSettled,
    /// The command is malformed or the device's protocol refuses it.
    Invalid { code: &'static str, zh: String, en: String },
}

impl zhulao_domain::Coded for CommandRefused {
    fn code(&self) -> &'static str {
        match self {
            CommandRefused::NotConnected => "device_not_connected",
            CommandRefused::Unsupported => "unsupported",
            CommandRefused::DeviceConflict => "device_conflict",
            CommandRefused::NotSettled => "session_not_settled",
            CommandRefused::Invalid { code, .. } => code,
        }
    }
    fn zh(&self) -> std::borrow::Cow<'_, str> {
        match self {
            CommandRefused::NotConnected => "手表当前未连接，请稍后再试".into(),
            CommandRefused::Unsupported => "该设备不支持远程命令，请使用设备设置".into(),
            CommandRefused::DeviceConflict => {
                "该手表有多个连接同时登录（设备冲突），请先处理设备冲突警情：确认要保留的连接，或结案以断开全部连接".into()
            }
            CommandRefused::NotSettled => {
                "该手表刚刚连接，尚未通过稳定期，暂不下发号码和通讯录；请稍后再试或由值班人员确认该连接".into()
            }
            CommandRefused::Invalid { zh, .. } => zh.into(),
        }
    }
    fn en(&self) -> std::borrow::Cow<'_, str> {
        match self {
            CommandRefused::NotConnected => "the watch is not connected now; try again later".into(),
            CommandRefused::Unsupported => "this device takes settings (/config), not commands".into(),
            CommandRefused::DeviceConflict => {
                "several connections claim this watch (device conflict): resolve the device-conflict alarm first — confirm the connection to keep, or close the alarm to drop them all".into()
            }
            CommandRefused::NotSettled => {
                "the watch has just connected: numbers and contacts wait until its session has settled or an operator confirmed it".into()
            }
            CommandRefused::Invalid { en, .. } => en.into(),
        }
    }
    fn field(&self) -> Option<&str> {
        Some(match self {
            CommandRefused::NotConnected | CommandRefused::DeviceConflict | CommandRefused::NotSettled => {
                "device"
            }
            _ => "command",
        })
    }
}

/// Reaches devices. `send` and `command` must not block: they queue.
pub trait DeviceLink: Send + Sync {
    fn send(&self, device_id: i64, msg: DeviceMessage);

    /// A device-specific command (`{"command": "find_device"}` …), for devices whose
    /// protocol has commands (TCP watches).
    fn command(&self, _device_id: i64, _command: &serde_json::Value) -> Result<(), CommandRefused> {
        Err(CommandRefused::Unsupported)
    }

    /// The elder's record or monitoring settings changed: the gateway re-reads the devices
    /// worn by `elder_id` on their next message (other instances within their refresh period).
    fn elder_changed(&self, _elder_id: i64) {}

    /// The device was bound or unbound: the gateway re-reads it on its next message.
    fn device_changed(&self, _device_id: i64) {}
}

/// For tools and tests without devices.
#[derive(Debug, Default)]
pub struct NoDevices;

impl DeviceLink for NoDevices {
    fn send(&self, _device_id: i64, _msg: DeviceMessage) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_addressee_never_prints_a_phone_number() {
        let a = Addressee {
            name: "王芳".into(),
            role: "family".into(),
            phone: Some(Phone::parse("phone", "13812345678").unwrap()),
            email: None,
        };
        let debug = format!("{a:?}");
        assert!(!debug.contains("13812345678"), "{debug}");
        assert!(!debug.contains("12345678"), "{debug}");
    }
}
