//! Downlink payloads (server → device): `ack`, `config` and `feedback`, all JSON.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::DecodeError;
use crate::topic::Kind;
use crate::uplink::{MAX_EVENT_ID_LEN, ascii_id, parse_json, text, to_json, vocabulary};

/// Longest `err` code in an ack.
pub const MAX_ACK_ERR_LEN: usize = 64;
/// Most contacts in a config message.
pub const MAX_CONTACTS: usize = 10;
/// Longest contact name, in characters.
pub const MAX_CONTACT_NAME: usize = 32;
/// Longest feedback text, in characters.
pub const MAX_FEEDBACK_TEXT: usize = 200;

// --- ack -------------------------------------------------------------------------------

/// `down/ack`: the answer to an `up/event` with the same `id`. The server sends `ok: true`
/// only after the alarm (if any) is committed; the device keeps and retransmits the event
/// until it gets an ack, whichever `ok`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// The event id being acknowledged.
    pub id: String,
    /// Whether the event was accepted.
    pub ok: bool,
    /// The alarm the event opened or joined, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarm: Option<i64>,
    /// Why it was refused (`ok: false`): a stable code, e.g. `unknown_device` or a
    /// [`DecodeError::code`] such as `bad_time`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub err: Option<String>,
}

impl Ack {
    /// An ack for an accepted event.
    pub fn accepted(id: impl Into<String>, alarm: Option<i64>) -> Self {
        Ack { id: id.into(), ok: true, alarm, err: None }
    }

    /// An ack for a refused event, with a stable code.
    pub fn refused(id: impl Into<String>, err: impl Into<String>) -> Self {
        Ack { id: id.into(), ok: false, alarm: None, err: Some(err.into()) }
    }

    fn validate(self) -> Result<Self, DecodeError> {
        Ok(Ack {
            id: ascii_id("id", self.id, MAX_EVENT_ID_LEN)?,
            err: self.err.map(|e| ascii_id("err", e, MAX_ACK_ERR_LEN)).transpose()?,
            ..self
        })
    }
}

// --- feedback --------------------------------------------------------------------------

vocabulary! {
    /// Where a help request stands, as told to the wearer.
    FeedbackState, "state" {
        /// The platform has the alarm.
        Received = "received",
        /// An operator has taken it.
        Answered = "answered",
        /// Someone has been dispatched.
        HelpOnTheWay = "help_on_the_way",
        /// The responder has arrived.
        ResponderOnSite = "responder_on_site",
        /// The alarm is closed.
        Closed = "closed",
    }
}

impl FeedbackState {
    /// The standard Chinese text shown or spoken on the device.
    pub const fn zh(self) -> &'static str {
        match self {
            FeedbackState::Received => "已收到求助，正在为您联系",
            FeedbackState::Answered => "值班人员已接警，正在处理",
            FeedbackState::HelpOnTheWay => "救助人员正在赶来，请保持冷静",
            FeedbackState::ResponderOnSite => "救助人员已到达",
            FeedbackState::Closed => "本次求助已处理完毕",
        }
    }

    /// The standard English text.
    pub const fn en(self) -> &'static str {
        match self {
            FeedbackState::Received => "Help request received",
            FeedbackState::Answered => "An operator is handling your call",
            FeedbackState::HelpOnTheWay => "Help is on the way, please stay calm",
            FeedbackState::ResponderOnSite => "The responder has arrived",
            FeedbackState::Closed => "Your help request is closed",
        }
    }
}

/// `down/feedback`: progress of an alarm, for the wearer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Feedback {
    /// The alarm id (from the ack).
    pub alarm: i64,
    pub state: FeedbackState,
    /// Chinese text to show or speak.
    pub zh: String,
    /// English text.
    pub en: String,
}

impl Feedback {
    /// Feedback with the standard texts of `state`.
    pub fn for_state(alarm_id: i64, state: FeedbackState) -> Self {
        Feedback { alarm: alarm_id, state, zh: state.zh().to_string(), en: state.en().to_string() }
    }

    fn validate(self) -> Result<Self, DecodeError> {
        Ok(Feedback {
            zh: text("zh", self.zh, MAX_FEEDBACK_TEXT)?,
            en: text("en", self.en, MAX_FEEDBACK_TEXT)?,
            ..self
        })
    }
}

// --- config ----------------------------------------------------------------------------

vocabulary! {
    /// How readily the device-side fall detector fires.
    FallSensitivity, "fall_sensitivity" {
        Low = "low",
        Normal = "normal",
        High = "high",
    }
}

/// A time of day, `HH:MM` on the wire (device local time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClockTime {
    hour: u8,
    minute: u8,
}

impl ClockTime {
    /// `None` unless `hour < 24` and `minute < 60`.
    pub const fn new(hour: u8, minute: u8) -> Option<Self> {
        if hour < 24 && minute < 60 { Some(ClockTime { hour, minute }) } else { None }
    }

    pub const fn hour(self) -> u8 {
        self.hour
    }

    pub const fn minute(self) -> u8 {
        self.minute
    }

    /// Parses `HH:MM` (two digits each).
    pub fn parse(s: &str) -> Option<Self> {
        let d = |b: u8| b.is_ascii_digit().then(|| b - b'0');
        match s.as_bytes() {
            &[h1, h2, b':', m1, m2] => Self::new(d(h1)? * 10 + d(h2)?, d(m1)? * 10 + d(m2)?),
            _ => None,
        }
    }
}

impl fmt::Display for ClockTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.hour, self.minute)
    }
}

impl TryFrom<String> for ClockTime {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        ClockTime::parse(&s)
            .ok_or_else(|| format!("invalid time of day {:?}, expected HH:MM", crate::error::clip(&s)))
    }
}

impl From<ClockTime> for String {
    fn from(t: ClockTime) -> String {
        t.to_string()
    }
}

/// Quiet hours `[start, end]`; `end` before `start` spans midnight (`["22:00","07:00"]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "[ClockTime; 2]", into = "[ClockTime; 2]")]
pub struct SilentHours {
    pub start: ClockTime,
    pub end: ClockTime,
}

impl From<[ClockTime; 2]> for SilentHours {
    fn from([start, end]: [ClockTime; 2]) -> Self {
        SilentHours { start, end }
    }
}

impl From<SilentHours> for [ClockTime; 2] {
    fn from(s: SilentHours) -> Self {
        [s.start, s.end]
    }
}

/// A phone number the device may call (speed dial, SOS call). `Debug` shows only the last
/// four digits, so a logged settings message leaks no phone number.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigContact {
    pub name: String,
    /// Digits, optionally with a leading `+` and `-` separators; 3..=20 characters.
    pub phone: String,
}

impl std::fmt::Debug for ConfigContact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let digits: Vec<char> = self.phone.chars().filter(char::is_ascii_digit).collect();
        let tail: String = digits[digits.len().saturating_sub(4)..].iter().collect();
        f.debug_struct("ConfigContact")
            .field("name", &self.name)
            .field("phone", &format!("****{tail}"))
            .finish()
    }
}

/// `down/config`: settings for the device. Every field is optional; an absent field leaves
/// the device's setting unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DeviceConfigMsg {
    /// Seconds between vital/location/battery reports (10..=86400).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_interval_s: Option<u32>,
    /// Replaces the contact list (at most 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contacts: Option<Vec<ConfigContact>>,
    /// Heart-rate alarm thresholds in bpm (20..=250, `hr_low` < `hr_high`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hr_low: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hr_high: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fall_sensitivity: Option<FallSensitivity>,
    /// Quiet hours: no prompts or beeps (alarms still work).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silent: Option<SilentHours>,
}

impl DeviceConfigMsg {
    /// The settings if the device protocol accepts them (ranges, at most 10 contacts, phone
    /// text): the one check for settings built by the platform and settings received.
    pub fn validate(self) -> Result<Self, DecodeError> {
        let range = |field, v: Option<u16>| match v {
            Some(v) if !(20..=250).contains(&v) => Err(DecodeError::OutOfRange { field, range: "20..=250" }),
            _ => Ok(()),
        };
        if let Some(s) = self.report_interval_s
            && !(10..=86_400).contains(&s)
        {
            return Err(DecodeError::OutOfRange { field: "report_interval_s", range: "10..=86400" });
        }
        range("hr_low", self.hr_low)?;
        range("hr_high", self.hr_high)?;
        if let (Some(lo), Some(hi)) = (self.hr_low, self.hr_high)
            && lo >= hi
        {
            return Err(DecodeError::OutOfRange { field: "hr_low", range: "below hr_high" });
        }
        let contacts = match self.contacts {
            Some(list) if list.len() > MAX_CONTACTS => {
                return Err(DecodeError::OutOfRange { field: "contacts", range: "at most 10 contacts" });
            }
            Some(list) => Some(
                list.into_iter()
                    .map(|c| {
                        let phone_ok = (3..=20).contains(&c.phone.len())
                            && c.phone
                                .bytes()
                                .enumerate()
                                .all(|(i, b)| b.is_ascii_digit() || b == b'-' || (b == b'+' && i == 0))
                            && c.phone.bytes().any(|b| b.is_ascii_digit());
                        if !phone_ok {
                            return Err(DecodeError::BadText { field: "phone", max: 20 });
                        }
                        Ok(ConfigContact { name: text("name", c.name, MAX_CONTACT_NAME)?, phone: c.phone })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            None => None,
        };
        Ok(DeviceConfigMsg { contacts, ..self })
    }
}

// --- the downlink ----------------------------------------------------------------------

/// Any downlink message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Downlink {
    Ack(Ack),
    Config(DeviceConfigMsg),
    Feedback(Feedback),
}

impl Downlink {
    /// The kind (last topic level) this message is published under.
    pub fn kind(&self) -> Kind {
        match self {
            Downlink::Ack(_) => Kind::Ack,
            Downlink::Config(_) => Kind::Config,
            Downlink::Feedback(_) => Kind::Feedback,
        }
    }

    /// The JSON payload.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Downlink::Ack(v) => to_json(v),
            Downlink::Config(v) => to_json(v),
            Downlink::Feedback(v) => to_json(v),
        }
    }
}

/// Decodes the payload of a downlink message of `kind` (devices and the simulator read these).
/// Unknown fields are ignored; values are checked as on the uplink.
pub fn decode_downlink(kind: Kind, payload: &[u8]) -> Result<Downlink, DecodeError> {
    match kind {
        Kind::Ack => parse_json::<Ack>(payload)?.validate().map(Downlink::Ack),
        Kind::Config => parse_json::<DeviceConfigMsg>(payload)?.validate().map(Downlink::Config),
        Kind::Feedback => parse_json::<Feedback>(payload)?.validate().map(Downlink::Feedback),
        _ => Err(DecodeError::WrongDirection { kind }),
    }
}

#[cfg(test)]
mod debug_tests {
    use super::*;

    #[test]
    fn settings_in_a_log_show_no_phone_number() {
        let c = DeviceConfigMsg {
            contacts: Some(vec![ConfigContact { name: "王芳".into(), phone: "138-1234-5678".into() }]),
            ..Default::default()
        };
        let debug = format!("{c:?}");
        assert!(!debug.contains("1234") && debug.contains("****5678"), "{debug}");
    }
}
