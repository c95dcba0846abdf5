//! Decode errors: a stable code for metrics and logs, and messages in Chinese and English.

use crate::topic::{Direction, Kind};
use crate::{MAX_PAYLOAD, MAX_RATE_HZ, MIN_RATE_HZ};

/// The level of a topic that is wrong (see [`DecodeError::BadTopic`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TopicPart {
    /// The topic does not start with `{root}/`.
    Root,
    /// The level after the root is not `v1`.
    Version,
    /// The shard level is not two decimal digits `00`..`63`.
    Shard,
    /// The serial is empty, longer than 32 characters or has characters outside `[A-Za-z0-9_-]`.
    Serial,
    /// The direction level is neither `up` nor `down`.
    Direction,
    /// The kind level is unknown or belongs to the other direction.
    Kind,
    /// Too few or too many levels.
    Levels,
    /// The topic contains an MQTT wildcard (`+`, `#`) or a NUL character.
    Wildcard,
}

impl TopicPart {
    /// The machine name of the part (`root`, `version`, `shard`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            TopicPart::Root => "root",
            TopicPart::Version => "version",
            TopicPart::Shard => "shard",
            TopicPart::Serial => "serial",
            TopicPart::Direction => "direction",
            TopicPart::Kind => "kind",
            TopicPart::Levels => "levels",
            TopicPart::Wildcard => "wildcard",
        }
    }

    const fn zh(self) -> &'static str {
        match self {
            TopicPart::Root => "前缀",
            TopicPart::Version => "协议版本",
            TopicPart::Shard => "分片",
            TopicPart::Serial => "设备编号",
            TopicPart::Direction => "方向",
            TopicPart::Kind => "消息类型",
            TopicPart::Levels => "层级数",
            TopicPart::Wildcard => "通配符",
        }
    }
}

/// Why a topic or a payload was refused.
///
/// [`code`](Self::code) is stable snake_case, meant for metric labels and log fields;
/// [`zh`](Self::zh) and [`en`](Self::en) are for people and name the offending field.
/// `Display` shows both messages. Decoders never panic: every malformed input ends here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} / {}", self.zh(), self.en())]
pub enum DecodeError {
    /// The topic does not follow `{root}/v1/{shard}/{serial}/{up|down}/{kind}`.
    BadTopic { part: TopicPart },
    /// The shard level is well formed but is not the serial's shard.
    BadShard { expected: u8, found: u8 },
    /// A payload decoder was given a kind of the other direction.
    WrongDirection { kind: Kind },
    /// The payload is larger than [`MAX_PAYLOAD`].
    TooLarge { len: usize },
    /// A JSON payload is empty (only heartbeats may be empty).
    Empty,
    /// A JSON payload is not valid UTF-8.
    NotUtf8 { valid_up_to: usize },
    /// A JSON payload does not parse, or a field has the wrong JSON type.
    BadJson { detail: String },
    /// A motion batch does not start with `ZM`.
    BadMagic,
    /// A motion batch of an unknown version.
    BadVersion { version: u8 },
    /// Motion flags other than bit 0 are set.
    BadFlags { flags: u8 },
    /// A motion batch whose length is not `20 + n × stride` (or is shorter than its header).
    BadLength { expected: usize, actual: usize },
    /// A motion sample rate outside 25..=200 Hz.
    BadRate { rate_hz: u16 },
    /// A required field is missing (or, for a vital report, every measurement is).
    Missing { field: &'static str },
    /// A number outside its range; `range` is written as in the protocol document.
    OutOfRange { field: &'static str, range: &'static str },
    /// A timestamp outside 2020-01-01..2100-01-01 (Unix ms).
    BadTime { field: &'static str, t_ms: i64 },
    /// A text field that is empty, too long or has characters it may not have.
    BadText { field: &'static str, max: usize },
    /// A text field whose value is not one of the known values (e.g. an unknown event type).
    UnknownValue { field: &'static str, value: String },
}

/// How much of a parser message or an unknown value an error keeps (they may echo device input).
const MAX_DETAIL: usize = 120;

/// `text` cut to at most [`MAX_DETAIL`] characters.
pub(crate) fn clip(text: &str) -> String {
    match text.char_indices().nth(MAX_DETAIL) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

impl DecodeError {
    /// A stable machine-readable code, e.g. `bad_topic`, `out_of_range`.
    pub const fn code(&self) -> &'static str {
        match self {
            DecodeError::BadTopic { .. } => "bad_topic",
            DecodeError::BadShard { .. } => "bad_shard",
            DecodeError::WrongDirection { .. } => "bad_kind",
            DecodeError::TooLarge { .. } => "too_large",
            DecodeError::Empty => "empty",
            DecodeError::NotUtf8 { .. } => "not_utf8",
            DecodeError::BadJson { .. } => "bad_json",
            DecodeError::BadMagic => "bad_magic",
            DecodeError::BadVersion { .. } => "bad_version",
            DecodeError::BadFlags { .. } => "bad_flags",
            DecodeError::BadLength { .. } => "bad_length",
            DecodeError::BadRate { .. } => "bad_rate",
            DecodeError::Missing { .. } => "missing",
            DecodeError::OutOfRange { .. } => "out_of_range",
            DecodeError::BadTime { .. } => "bad_time",
            DecodeError::BadText { .. } => "bad_text",
            DecodeError::UnknownValue { .. } => "unknown_value",
        }
    }

    /// Every code [`code`](Self::code) can return (to pre-register metric labels).
    pub const CODES: [&'static str; 17] = [
        "bad_topic",
        "bad_shard",
        "bad_kind",
        "too_large",
        "empty",
        "not_utf8",
        "bad_json",
        "bad_magic",
        "bad_version",
        "bad_flags",
        "bad_length",
        "bad_rate",
        "missing",
        "out_of_range",
        "bad_time",
        "bad_text",
        "unknown_value",
    ];

    /// The payload field or topic level the error is about, when there is one.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            DecodeError::BadTopic { part } => Some(part.as_str()),
            DecodeError::BadShard { .. } => Some("shard"),
            DecodeError::BadMagic => Some("magic"),
            DecodeError::BadVersion { .. } => Some("version"),
            DecodeError::BadFlags { .. } => Some("flags"),
            DecodeError::BadRate { .. } => Some("rate_hz"),
            DecodeError::Missing { field }
            | DecodeError::OutOfRange { field, .. }
            | DecodeError::BadTime { field, .. }
            | DecodeError::BadText { field, .. }
            | DecodeError::UnknownValue { field, .. } => Some(field),
            _ => None,
        }
    }

    /// The message for people, in Chinese.
    pub fn zh(&self) -> String {
        match self {
            DecodeError::BadTopic { part } => format!(
                "主题格式错误（{}）：应为 {{root}}/v1/{{分片}}/{{设备编号}}/{{up|down}}/{{类型}}",
                part.zh()
            ),
            DecodeError::BadShard { expected, found } => {
                format!("主题中的分片 {found:02} 与设备编号不符（应为 {expected:02}）")
            }
            DecodeError::WrongDirection { kind } => match kind.direction() {
                Direction::Up => format!("消息类型 {kind} 是上行类型，不能作为下行消息解析"),
                Direction::Down => format!("消息类型 {kind} 是下行类型，不能作为上行消息解析"),
            },
            DecodeError::TooLarge { len } => {
                format!("消息过大（{len} 字节，最多 {MAX_PAYLOAD} 字节）")
            }
            DecodeError::Empty => "消息内容为空".into(),
            DecodeError::NotUtf8 { valid_up_to } => {
                format!("JSON 消息不是有效的 UTF-8 编码（第 {valid_up_to} 字节处）")
            }
            DecodeError::BadJson { detail } => format!("JSON 格式错误：{detail}"),
            DecodeError::BadMagic => "运动数据包头错误：应以 \"ZM\" 开头".into(),
            DecodeError::BadVersion { version } => {
                format!("不支持的运动数据版本 version={version}（应为 1）")
            }
            DecodeError::BadFlags { flags } => {
                format!("运动数据标志位 flags=0x{flags:02x} 无效（只定义了第 0 位）")
            }
            DecodeError::BadLength { expected, actual } => {
                format!("运动数据长度错误：{actual} 字节，应为 {expected} 字节")
            }
            DecodeError::BadRate { rate_hz } => {
                format!("采样率 rate_hz={rate_hz} 超出范围（应为 {MIN_RATE_HZ}–{MAX_RATE_HZ} Hz）")
            }
            DecodeError::Missing { field } => format!("缺少字段 {field}"),
            DecodeError::OutOfRange { field, range } => format!("{field} 超出范围（应为 {range}）"),
            DecodeError::BadTime { field, t_ms } => format!(
                "{field} 时间戳无效（{t_ms}）：应为 2020-01-01 至 2100-01-01 之间的 Unix 毫秒，请检查设备时钟"
            ),
            DecodeError::BadText { field, max } => {
                format!("{field} 长度或字符无效（应为 1–{max} 个可打印字符）")
            }
            DecodeError::UnknownValue { field, value } => format!("{field} 的取值 {value:?} 未定义"),
        }
    }

    /// The message for people, in English.
    pub fn en(&self) -> String {
        match self {
            DecodeError::BadTopic { part } => format!(
                "malformed topic ({}): expected {{root}}/v1/{{shard}}/{{serial}}/{{up|down}}/{{kind}}",
                part.as_str()
            ),
            DecodeError::BadShard { expected, found } => {
                format!("the topic's shard {found:02} does not match the serial (expected {expected:02})")
            }
            DecodeError::WrongDirection { kind } => match kind.direction() {
                Direction::Up => format!("kind {kind} is an uplink kind, not a downlink one"),
                Direction::Down => format!("kind {kind} is a downlink kind, not an uplink one"),
            },
            DecodeError::TooLarge { len } => {
                format!("payload too large ({len} bytes, at most {MAX_PAYLOAD})")
            }
            DecodeError::Empty => "empty payload".into(),
            DecodeError::NotUtf8 { valid_up_to } => {
                format!("JSON payload is not valid UTF-8 (at byte {valid_up_to})")
            }
            DecodeError::BadJson { detail } => format!("malformed JSON: {detail}"),
            DecodeError::BadMagic => "bad motion header: expected the magic \"ZM\"".into(),
            DecodeError::BadVersion { version } => {
                format!("unsupported motion version {version} (expected 1)")
            }
            DecodeError::BadFlags { flags } => {
                format!("invalid motion flags 0x{flags:02x} (only bit 0 is defined)")
            }
            DecodeError::BadLength { expected, actual } => {
                format!("bad motion length: {actual} bytes, expected {expected}")
            }
            DecodeError::BadRate { rate_hz } => {
                format!("rate_hz {rate_hz} out of range (expected {MIN_RATE_HZ}..={MAX_RATE_HZ} Hz)")
            }
            DecodeError::Missing { field } => format!("missing field {field}"),
            DecodeError::OutOfRange { field, range } => {
                format!("{field} out of range (expected {range})")
            }
            DecodeError::BadTime { field, t_ms } => format!(
                "{field} timestamp {t_ms} is invalid: expected Unix ms between 2020-01-01 and 2100-01-01; check the device clock"
            ),
            DecodeError::BadText { field, max } => {
                format!("{field} has a bad length or characters (expected 1..={max} printable characters)")
            }
            DecodeError::UnknownValue { field, value } => format!("unknown value {value:?} for {field}"),
        }
    }
}

zhulao_domain::coded_by_methods!(DecodeError, field);
