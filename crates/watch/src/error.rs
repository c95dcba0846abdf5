//! Errors of the three stages — framing, decoding, command encoding — each with a stable code and
//! messages in Chinese and English.

use std::fmt;

/// Keeps a field value short and printable for an error message (devices send anything).
pub(crate) fn excerpt(value: &str) -> String {
    const MAX: usize = 24;
    let mut out: String = value.chars().take(MAX).map(|c| if c.is_control() { '?' } else { c }).collect();
    if value.chars().count() > MAX {
        out.push('…');
    }
    out
}

/// Why bytes on the wire did not make a frame. The framer drops the bad bytes and carries on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// No end of frame within `max` bytes of its start.
    TooLong { max: usize },
    /// A `[` not followed by `MK*ID*[IDX*]LLLL*` (3G), or an `IW` frame with a bad type.
    BadHeader { reason: &'static str },
    /// More nested `[` than any real frame has (a frame that never closes).
    TooDeep { max: usize },
    /// An `IW` frame interrupted by the start of the next one before its `#`.
    Truncated,
}

impl FrameError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            FrameError::TooLong { .. } => "frame_too_long",
            FrameError::BadHeader { .. } => "frame_header",
            FrameError::TooDeep { .. } => "frame_nesting",
            FrameError::Truncated => "frame_truncated",
        }
    }

    /// The message for people, in Chinese.
    pub fn zh(&self) -> String {
        match self {
            FrameError::TooLong { max } => format!("数据帧过长（超过 {max} 字节），已丢弃"),
            FrameError::BadHeader { reason } => format!("数据帧头格式错误（{}），已丢弃", reason_zh(reason)),
            FrameError::TooDeep { max } => format!("数据帧中方括号嵌套超过 {max} 层，已丢弃"),
            FrameError::Truncated => "数据帧不完整（未遇到结束符“#”即开始了下一帧），已丢弃".into(),
        }
    }

    /// The message for people, in English.
    pub fn en(&self) -> String {
        match self {
            FrameError::TooLong { max } => format!("frame longer than {max} bytes; dropped"),
            FrameError::BadHeader { reason } => format!("malformed frame header ({reason}); dropped"),
            FrameError::TooDeep { max } => format!("more than {max} nested brackets in a frame; dropped"),
            FrameError::Truncated => "incomplete frame (the next one began before its '#'); dropped".into(),
        }
    }
}

fn reason_zh(reason: &str) -> &'static str {
    match reason {
        "maker" => "厂商代码应为两位大写字母或数字",
        "device id" => "设备号应为 1 至 32 位字母或数字",
        "length" => "长度应为四位十六进制数",
        "type" => "消息类型应为四位大写字母或数字",
        _ => "无法识别",
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} / {}", self.zh(), self.en())
    }
}

impl std::error::Error for FrameError {}

/// Why a well-framed message could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchError {
    /// A required field is absent.
    MissingField { field: &'static str },
    /// A field is not in the expected format (not a number, wrong width …).
    BadField { field: &'static str, value: String },
    /// A field is a number, but outside the range it can have (latitude beyond ±90° …).
    OutOfRange { field: &'static str, value: String },
}

impl WatchError {
    pub(crate) fn bad(field: &'static str, value: &str) -> Self {
        WatchError::BadField { field, value: excerpt(value) }
    }

    pub(crate) fn range(field: &'static str, value: &str) -> Self {
        WatchError::OutOfRange { field, value: excerpt(value) }
    }

    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            WatchError::MissingField { .. } => "missing_field",
            WatchError::BadField { .. } => "bad_field",
            WatchError::OutOfRange { .. } => "out_of_range",
        }
    }

    /// The field concerned (English name, as in [`crate::WatchMessage`] where there is one).
    pub fn field(&self) -> &'static str {
        match self {
            WatchError::MissingField { field }
            | WatchError::BadField { field, .. }
            | WatchError::OutOfRange { field, .. } => field,
        }
    }

    /// The message for people, in Chinese.
    pub fn zh(&self) -> String {
        match self {
            WatchError::MissingField { field } => format!("缺少字段：{}", field_zh(field)),
            WatchError::BadField { field, value } => {
                format!("字段格式错误：{}（“{value}”）", field_zh(field))
            }
            WatchError::OutOfRange { field, value } => {
                format!("字段取值超出范围：{}（“{value}”）", field_zh(field))
            }
        }
    }

    /// The message for people, in English.
    pub fn en(&self) -> String {
        match self {
            WatchError::MissingField { field } => format!("missing field: {field}"),
            WatchError::BadField { field, value } => format!("malformed field {field}: '{value}'"),
            WatchError::OutOfRange { field, value } => format!("field {field} out of range: '{value}'"),
        }
    }
}

/// How [`crate::WatchMessage::undecoded`] is written in JSON: `{"code", "field", "message",
/// "message_en"}`.
pub(crate) fn serialize_partial<S: serde::Serializer>(
    e: &Option<WatchError>,
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::Serialize;
    e.as_ref()
        .map(|e| {
            serde_json::json!({ "code": e.code(), "field": e.field(), "message": e.zh(), "message_en": e.en() })
        })
        .serialize(s)
}

fn field_zh(field: &str) -> &'static str {
    match field {
        "date" => "日期",
        "time" => "时间",
        "valid" => "定位有效标志",
        "lat" => "纬度",
        "lat_hemisphere" => "纬度半球（N/S）",
        "lon" => "经度",
        "lon_hemisphere" => "经度半球（E/W）",
        "speed_kmh" => "速度",
        "course" => "方向",
        "altitude" => "海拔",
        "satellites" => "卫星数",
        "rssi" => "信号强度",
        "battery" => "电量",
        "steps" => "步数",
        "tumbles" => "翻转次数",
        "status" => "状态位",
        "heart_rate" => "心率",
        "bp_systolic" => "收缩压",
        "bp_diastolic" => "舒张压",
        "spo2" => "血氧",
        "temperature" => "体温",
        "device_id" => "设备号（IMEI）",
        "mcc" => "移动国家码",
        "mnc" => "移动网络码",
        "lac" => "位置区码",
        "cid" => "基站编号",
        "alarm" => "报警类型",
        "gsm_status" => "终端状态",
        _ => "其他字段",
    }
}

impl fmt::Display for WatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} / {}", self.zh(), self.en())
    }
}

impl std::error::Error for WatchError {}

/// Why a command could not be encoded for a watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandError {
    /// A value the watch cannot carry (a phone number with letters, a comma in free text …).
    InvalidValue { field: &'static str, value: String },
    /// More entries than the watch accepts in one command.
    TooMany { field: &'static str, max: usize },
    /// This protocol has no such command.
    Unsupported { command: &'static str, protocol: &'static str },
}

impl CommandError {
    pub(crate) fn invalid(field: &'static str, value: &str) -> Self {
        CommandError::InvalidValue { field, value: excerpt(value) }
    }

    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            CommandError::InvalidValue { .. } => "invalid_value",
            CommandError::TooMany { .. } => "too_many",
            CommandError::Unsupported { .. } => "unsupported_command",
        }
    }

    /// The message for people, in Chinese.
    pub fn zh(&self) -> String {
        match self {
            CommandError::InvalidValue { field, value } => {
                format!("指令参数无效：{}（“{value}”）", command_field_zh(field))
            }
            CommandError::TooMany { field, max } => {
                format!("{}数量超过手表一次可接受的上限（最多 {max} 个）", command_field_zh(field))
            }
            CommandError::Unsupported { command, protocol } => {
                format!("{protocol} 协议的手表不支持该指令（{command}）")
            }
        }
    }

    /// The message for people, in English.
    pub fn en(&self) -> String {
        match self {
            CommandError::InvalidValue { field, value } => {
                format!("invalid command value for {field}: '{value}'")
            }
            CommandError::TooMany { field, max } => {
                format!("too many {field}: the watch accepts at most {max}")
            }
            CommandError::Unsupported { command, protocol } => {
                format!("{protocol} watches have no {command} command")
            }
        }
    }
}

fn command_field_zh(field: &str) -> &'static str {
    match field {
        "phone" => "电话号码",
        "contacts" => "联系人",
        "silent_hours" => "免打扰时段",
        "seconds" => "上报间隔（秒）",
        "minutes" => "测量间隔（分钟）",
        "slot" => "SOS 号码序号",
        "text" => "文本内容",
        "maker" => "厂商代码",
        "device_id" => "设备号",
        "index" => "帧序号",
        _ => "参数",
    }
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} / {}", self.zh(), self.en())
    }
}

impl std::error::Error for CommandError {}

zhulao_domain::coded_by_methods!(FrameError);
zhulao_domain::coded_by_methods!(WatchError, field);
zhulao_domain::coded_by_methods!(CommandError);
