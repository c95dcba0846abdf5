//! zhulao-proto: the device protocol over MQTT — topics and shards, the binary motion batch,
//! the JSON uplink and downlink messages, their errors, and WGS-84 ↔ GCJ-02.
//!
//! Invariant: pure — no I/O, no async, no clock — and no input panics: every malformed
//! topic or payload is a [`DecodeError`] with a stable code. The full specification, for
//! device makers, is `docs/device-protocol.md`.
//!
//! The server side, per message:
//!
//! ```
//! use zhulao_proto::{Direction, Kind, Uplink, decode_uplink, parse_topic, topic};
//! # let (name, payload) = (topic("zl", "ZL-P1-000042", Direction::Up, Kind::Heartbeat), b"{\"t\":1700000000000}");
//! let t = parse_topic("zl", &name)?;
//! match decode_uplink(t.kind, payload)? {
//!     Uplink::Heartbeat(hb) => assert_eq!(hb.t_ms, Some(1_700_000_000_000)),
//!     _ => unreachable!(),
//! }
//! # Ok::<(), zhulao_proto::DecodeError>(())
//! ```

pub mod coords;
mod downlink;
mod error;
mod motion;
mod topic;
mod uplink;

pub use downlink::{
    Ack, ClockTime, ConfigContact, DeviceConfigMsg, Downlink, FallSensitivity, Feedback, FeedbackState,
    MAX_ACK_ERR_LEN, MAX_CONTACT_NAME, MAX_CONTACTS, MAX_FEEDBACK_TEXT, SilentHours, decode_downlink,
};
pub use error::{DecodeError, TopicPart};
pub use motion::{
    FLAG_GYRO, MAX_RATE_HZ, MAX_SAMPLES, MIN_RATE_HZ, MOTION_HEADER_LEN, MOTION_MAGIC, MOTION_VERSION,
    MotionBatch, Sample, ddps_to_dps, mg_to_g,
};
pub use topic::{
    DEFAULT_ROOT, Direction, Kind, MAX_SERIAL_LEN, SHARDS, Topic, VERSION_LEVEL, device_may_publish,
    device_may_subscribe, downlink_filter, is_valid_serial, parse_topic, shard_of, topic, uplink_filters,
};
pub use uplink::{
    BatteryReport, DeviceEvent, EventKind, Fix, Heartbeat, LocationReport, MAX_EVENT_ID_LEN, MAX_STATUS_TEXT,
    StatusReport, Uplink, VitalReport, decode_uplink, peek_event_id,
};

/// Largest payload accepted, in bytes (64 KiB).
pub const MAX_PAYLOAD: usize = 64 * 1024;
/// Earliest accepted timestamp: 2020-01-01T00:00:00Z in Unix ms.
pub const MIN_TIME_MS: i64 = 1_577_836_800_000;
/// First refused timestamp: 2100-01-01T00:00:00Z in Unix ms.
pub const MAX_TIME_MS: i64 = 4_102_444_800_000;

/// `Ok(t_ms)` when it lies in `MIN_TIME_MS..MAX_TIME_MS`.
pub(crate) fn check_time(field: &'static str, t_ms: i64) -> Result<i64, DecodeError> {
    if (MIN_TIME_MS..MAX_TIME_MS).contains(&t_ms) {
        Ok(t_ms)
    } else {
        Err(DecodeError::BadTime { field, t_ms })
    }
}
