//! MQTT topics: `{root}/v1/{shard}/{serial}/{up|down}/{kind}`, serials, shards and subscription filters.

use std::fmt;
use std::ops::Range;

use crate::error::{DecodeError, TopicPart};

/// The default topic root.
pub const DEFAULT_ROOT: &str = "zl";
/// The protocol version level of every topic.
pub const VERSION_LEVEL: &str = "v1";
/// Number of shards; a shard is `00`..`63`.
pub const SHARDS: u8 = 64;
/// Longest serial, in characters (`[A-Za-z0-9_-]`).
pub const MAX_SERIAL_LEN: usize = 32;

/// Which way a message travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Device → server.
    Up,
    /// Server → device.
    Down,
}

impl Direction {
    /// The topic level: `up` or `down`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
        }
    }

    /// Parses a topic level (`up`, `down`).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "up" => Some(Direction::Up),
            "down" => Some(Direction::Down),
            _ => None,
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The last topic level: what the payload is. Each kind belongs to one [`Direction`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `up/motion`: a binary batch of accelerometer (and gyroscope) samples.
    Motion,
    /// `up/vital`: heart rate, blood pressure, SpO₂, temperature.
    Vital,
    /// `up/loc`: a position fix.
    Location,
    /// `up/event`: SOS, fall, bedside call … (acknowledged by `down/ack`).
    Event,
    /// `up/battery`: battery level.
    Battery,
    /// `up/hb`: heartbeat.
    Heartbeat,
    /// `up/status`: online/offline (retained; also the last will).
    Status,
    /// `down/ack`: acknowledges an event by its id.
    Ack,
    /// `down/config`: settings pushed to the device.
    Config,
    /// `down/feedback`: progress of a help request, shown or spoken to the wearer.
    Feedback,
}

impl Kind {
    /// Every kind, uplink first.
    pub const ALL: [Kind; 10] = [
        Kind::Motion,
        Kind::Vital,
        Kind::Location,
        Kind::Event,
        Kind::Battery,
        Kind::Heartbeat,
        Kind::Status,
        Kind::Ack,
        Kind::Config,
        Kind::Feedback,
    ];
    /// The uplink kinds.
    pub const UPLINK: [Kind; 7] = [
        Kind::Motion,
        Kind::Vital,
        Kind::Location,
        Kind::Event,
        Kind::Battery,
        Kind::Heartbeat,
        Kind::Status,
    ];
    /// The downlink kinds.
    pub const DOWNLINK: [Kind; 3] = [Kind::Ack, Kind::Config, Kind::Feedback];

    /// The topic level (`motion`, `vital`, `loc`, `event`, `battery`, `hb`, `status`, `ack`,
    /// `config`, `feedback`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Motion => "motion",
            Kind::Vital => "vital",
            Kind::Location => "loc",
            Kind::Event => "event",
            Kind::Battery => "battery",
            Kind::Heartbeat => "hb",
            Kind::Status => "status",
            Kind::Ack => "ack",
            Kind::Config => "config",
            Kind::Feedback => "feedback",
        }
    }

    /// Parses a topic level; `None` for anything else (case-sensitive).
    pub fn parse(s: &str) -> Option<Self> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The direction this kind travels in.
    pub const fn direction(self) -> Direction {
        match self {
            Kind::Ack | Kind::Config | Kind::Feedback => Direction::Down,
            _ => Direction::Up,
        }
    }

    /// Whether the payload is binary (only `motion`); every other kind is JSON.
    pub const fn is_binary(self) -> bool {
        matches!(self, Kind::Motion)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed topic. `serial` borrows from the topic string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Topic<'a> {
    pub shard: u8,
    pub serial: &'a str,
    pub dir: Direction,
    pub kind: Kind,
}

/// The shard of a serial: FNV-1a (32 bit) of its bytes, modulo 64.
pub fn shard_of(serial: &str) -> u8 {
    let mut h: u32 = 0x811c_9dc5;
    for &b in serial.as_bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    (h % u32::from(SHARDS)) as u8
}

/// Whether `serial` is 1–32 characters of `[A-Za-z0-9_-]`.
pub fn is_valid_serial(serial: &str) -> bool {
    (1..=MAX_SERIAL_LEN).contains(&serial.len())
        && serial.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The topic a message of `kind` for device `serial` is published on.
///
/// The caller passes a valid serial (see [`is_valid_serial`]) and a kind of direction `dir`;
/// otherwise the topic is built all the same and [`parse_topic`] will refuse it.
pub fn topic(root: &str, serial: &str, dir: Direction, kind: Kind) -> String {
    format!("{root}/{VERSION_LEVEL}/{:02}/{serial}/{dir}/{kind}", shard_of(serial))
}

/// The filter a device subscribes to for its downlink messages: `{root}/v1/{shard}/{serial}/down/#`.
pub fn downlink_filter(root: &str, serial: &str) -> String {
    format!("{root}/{VERSION_LEVEL}/{:02}/{serial}/down/#", shard_of(serial))
}

/// The subscription filters of a server instance that handles `shards` (clamped to `0..64`):
/// one filter for all devices when the range covers every shard, otherwise one per shard
/// (`zl/v1/07/+/up/#`). An empty range gives no filter.
pub fn uplink_filters(root: &str, shards: Range<u8>) -> Vec<String> {
    let end = shards.end.min(SHARDS);
    if shards.start == 0 && end == SHARDS {
        return vec![format!("{root}/{VERSION_LEVEL}/+/+/up/#")];
    }
    (shards.start..end).map(|s| format!("{root}/{VERSION_LEVEL}/{s:02}/+/up/#")).collect()
}

/// Parses a topic a message arrived on. `root` may itself have several levels (`a/zl`).
///
/// Refuses wildcards, extra or missing levels, a version other than `v1`, a malformed
/// shard or serial, an unknown kind or one of the other direction ([`DecodeError::BadTopic`]),
/// and a shard that is not the serial's ([`DecodeError::BadShard`]).
pub fn parse_topic<'a>(root: &str, topic: &'a str) -> Result<Topic<'a>, DecodeError> {
    let bad = |part| DecodeError::BadTopic { part };
    if topic.bytes().any(|b| matches!(b, b'+' | b'#' | 0)) {
        return Err(bad(TopicPart::Wildcard));
    }
    let rest = topic.strip_prefix(root).and_then(|r| r.strip_prefix('/')).ok_or(bad(TopicPart::Root))?;
    let mut levels = rest.split('/');
    let mut next = || levels.next().ok_or(bad(TopicPart::Levels));
    let (version, shard, serial, dir, kind) = (next()?, next()?, next()?, next()?, next()?);
    if levels.next().is_some() {
        return Err(bad(TopicPart::Levels));
    }
    if version != VERSION_LEVEL {
        return Err(bad(TopicPart::Version));
    }
    let found = match shard.as_bytes() {
        &[a, b] if a.is_ascii_digit() && b.is_ascii_digit() => (a - b'0') * 10 + (b - b'0'),
        _ => return Err(bad(TopicPart::Shard)),
    };
    if found >= SHARDS {
        return Err(bad(TopicPart::Shard));
    }
    if !is_valid_serial(serial) {
        return Err(bad(TopicPart::Serial));
    }
    let dir = Direction::parse(dir).ok_or(bad(TopicPart::Direction))?;
    let kind = Kind::parse(kind).filter(|k| k.direction() == dir).ok_or(bad(TopicPart::Kind))?;
    let expected = shard_of(serial);
    if found != expected {
        return Err(DecodeError::BadShard { expected, found });
    }
    Ok(Topic { shard: found, serial, dir, kind })
}

/// The access rule for a device logged in as `serial`: it may publish only on its own
/// uplink topics (`{root}/v1/{shard}/{serial}/up/{kind}`, the last will included).
pub fn device_may_publish(root: &str, serial: &str, topic: &str) -> bool {
    matches!(parse_topic(root, topic), Ok(t) if t.serial == serial && t.dir == Direction::Up)
}

/// The access rule for a device logged in as `serial`: it may subscribe only to its own
/// downlink, as a whole (`…/{serial}/down/#`, `…/{serial}/down/+`) or one kind at a time.
/// Every other filter — `#`, `{root}/#`, another serial, a wildcard for the serial or the
/// shard, `$share/…`, `$SYS/…` — is refused.
pub fn device_may_subscribe(root: &str, serial: &str, filter: &str) -> bool {
    let whole = downlink_filter(root, serial);
    if filter == whole || filter.strip_suffix('+') == whole.strip_suffix('#') {
        return true;
    }
    matches!(parse_topic(root, filter), Ok(t) if t.serial == serial && t.dir == Direction::Down)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(r: Result<Topic<'_>, DecodeError>) -> Option<TopicPart> {
        match r {
            Err(DecodeError::BadTopic { part }) => Some(part),
            _ => None,
        }
    }

    #[test]
    fn fnv1a_reference_values() {
        // FNV-1a 32 of "" is the offset basis 0x811c9dc5; of "a" it is 0xe40c292c.
        assert_eq!(shard_of(""), (0x811c_9dc5u32 % 64) as u8);
        assert_eq!(shard_of("a"), (0xe40c_292cu32 % 64) as u8);
        // "foobar" → 0xbf9cf968.
        assert_eq!(shard_of("foobar"), (0xbf9c_f968u32 % 64) as u8);
        // The example in docs/device-protocol.md: 0xe0d4e33a % 64 = 58.
        assert_eq!(shard_of("ZL-P1-000042"), 58);
        for s in ["ZL-P1-000001", "x", "IMEI860000000000001"] {
            assert!(shard_of(s) < 64);
        }
    }

    #[test]
    fn build_and_parse_every_kind() {
        for kind in Kind::ALL {
            let t = topic("zl", "ZL-P1-000042", kind.direction(), kind);
            let p = parse_topic("zl", &t).unwrap();
            assert_eq!(
                p,
                Topic {
                    shard: shard_of("ZL-P1-000042"),
                    serial: "ZL-P1-000042",
                    dir: kind.direction(),
                    kind
                }
            );
            assert_eq!(Kind::parse(kind.as_str()), Some(kind));
        }
        let t = topic("zl", "abc", Direction::Up, Kind::Motion);
        assert_eq!(t, format!("zl/v1/{:02}/abc/up/motion", shard_of("abc")));
    }

    #[test]
    fn multi_level_root() {
        let t = topic("prod/zl", "dev_1", Direction::Down, Kind::Ack);
        assert_eq!(parse_topic("prod/zl", &t).unwrap().serial, "dev_1");
        assert_eq!(part(parse_topic("zl", &t)), Some(TopicPart::Root));
    }

    #[test]
    fn shard_mismatch() {
        let s = shard_of("abc");
        let wrong = (s + 1) % 64;
        let t = format!("zl/v1/{wrong:02}/abc/up/hb");
        assert_eq!(parse_topic("zl", &t), Err(DecodeError::BadShard { expected: s, found: wrong }));
        assert_eq!(parse_topic("zl", &t).unwrap_err().code(), "bad_shard");
    }

    #[test]
    fn malformed_topics() {
        let s = shard_of("abc");
        let cases: Vec<(String, TopicPart)> = vec![
            (format!("zl/v1/{s:02}/+/up/hb"), TopicPart::Wildcard),
            (format!("zl/v1/{s:02}/abc/up/#"), TopicPart::Wildcard),
            ("zl/v1/+/+/up/#".into(), TopicPart::Wildcard),
            (format!("zl/v1/{s:02}/abc/up/hb\0"), TopicPart::Wildcard),
            (format!("zl/v1/{s:02}/abc/up/hb/extra"), TopicPart::Levels),
            (format!("zl/v1/{s:02}/abc/up/hb/"), TopicPart::Levels),
            (format!("zl/v1/{s:02}/abc/up"), TopicPart::Levels),
            ("zl/v1".into(), TopicPart::Levels),
            ("zl/".into(), TopicPart::Levels),
            ("zl".into(), TopicPart::Root),
            ("".into(), TopicPart::Root),
            (format!("zlx/v1/{s:02}/abc/up/hb"), TopicPart::Root),
            (format!("/zl/v1/{s:02}/abc/up/hb"), TopicPart::Root),
            (format!("zl/v2/{s:02}/abc/up/hb"), TopicPart::Version),
            ("zl/v1/7/abc/up/hb".into(), TopicPart::Shard),
            ("zl/v1/007/abc/up/hb".into(), TopicPart::Shard),
            ("zl/v1/64/abc/up/hb".into(), TopicPart::Shard),
            ("zl/v1/9x/abc/up/hb".into(), TopicPart::Shard),
            ("zl/v1/-1/abc/up/hb".into(), TopicPart::Shard),
            (format!("zl/v1/{:02}//up/hb", shard_of("")), TopicPart::Serial),
            (format!("zl/v1/{s:02}/ab c/up/hb"), TopicPart::Serial),
            (format!("zl/v1/{s:02}/{}/up/hb", "a".repeat(33)), TopicPart::Serial),
            (format!("zl/v1/{s:02}/设备/up/hb"), TopicPart::Serial),
            (format!("zl/v1/{s:02}/abc/UP/hb"), TopicPart::Direction),
            (format!("zl/v1/{s:02}/abc/sideways/hb"), TopicPart::Direction),
            (format!("zl/v1/{s:02}/abc/up/ack"), TopicPart::Kind),
            (format!("zl/v1/{s:02}/abc/down/motion"), TopicPart::Kind),
            (format!("zl/v1/{s:02}/abc/up/Motion"), TopicPart::Kind),
            (format!("zl/v1/{s:02}/abc/up/"), TopicPart::Kind),
        ];
        for (t, want) in cases {
            let r = parse_topic("zl", &t);
            assert_eq!(part(r), Some(want), "{t:?}");
        }
        assert_eq!(parse_topic("zl", "zl/v1").unwrap_err().code(), "bad_topic");
        // A 32-character serial is fine.
        let long = "a".repeat(32);
        assert!(parse_topic("zl", &topic("zl", &long, Direction::Up, Kind::Event)).is_ok());
    }

    #[test]
    fn filters() {
        assert_eq!(uplink_filters("zl", 0..64), vec!["zl/v1/+/+/up/#".to_string()]);
        assert_eq!(uplink_filters("zl", 0..200), vec!["zl/v1/+/+/up/#".to_string()]);
        assert_eq!(uplink_filters("zl", 7..9), vec!["zl/v1/07/+/up/#".to_string(), "zl/v1/08/+/up/#".into()]);
        assert_eq!(uplink_filters("zl", 32..64).len(), 32);
        assert_eq!(uplink_filters("zl", 60..70).len(), 4);
        assert!(uplink_filters("zl", 5..5).is_empty());
        assert!(uplink_filters("zl", 70..80).is_empty());
        let s = shard_of("abc");
        assert_eq!(downlink_filter("zl", "abc"), format!("zl/v1/{s:02}/abc/down/#"));
    }

    #[test]
    fn every_shard_is_covered_once_by_a_split() {
        // Two instances splitting 0..32 and 32..64 see every device exactly once.
        let a = uplink_filters("zl", 0..32);
        let b = uplink_filters("zl", 32..64);
        for serial in ["a", "b", "ZL-P1-000001", "ZL-P1-000002", "x_y-z"] {
            let level = format!("zl/v1/{:02}/+/up/#", shard_of(serial));
            assert_eq!(a.contains(&level) as u8 + b.contains(&level) as u8, 1);
        }
    }

    #[test]
    fn a_device_may_touch_only_its_own_topics() {
        let me = "ZL0001";
        let other = "ZL0002";
        for kind in Kind::UPLINK {
            assert!(device_may_publish("zl", me, &topic("zl", me, Direction::Up, kind)));
            assert!(!device_may_publish("zl", me, &topic("zl", other, Direction::Up, kind)));
        }
        for kind in Kind::DOWNLINK {
            let own = topic("zl", me, Direction::Down, kind);
            assert!(!device_may_publish("zl", me, &own), "a device never writes its own downlink");
            assert!(!device_may_publish("zl", me, &topic("zl", other, Direction::Down, kind)));
            assert!(device_may_subscribe("zl", me, &own));
            assert!(!device_may_subscribe("zl", me, &topic("zl", other, Direction::Down, kind)));
        }
        assert!(device_may_subscribe("zl", me, &downlink_filter("zl", me)));
        let shard = format!("{:02}", shard_of(me));
        assert!(device_may_subscribe("zl", me, &format!("zl/v1/{shard}/{me}/down/+")));
        for f in [
            "#".to_string(),
            "+".to_string(),
            "zl/#".to_string(),
            "zl/v1/#".to_string(),
            format!("zl/v1/{shard}/#"),
            format!("zl/v1/{shard}/+/down/#"),
            format!("zl/v1/+/{me}/down/#"),
            format!("zl/v1/{shard}/{me}/#"),
            format!("zl/v1/{shard}/{me}/up/#"),
            format!("zl/v1/{shard}/{me}/+/config"),
            format!("$share/g/zl/v1/{shard}/{me}/down/#"),
            "$SYS/#".to_string(),
            downlink_filter("zl", other),
            downlink_filter("other", me),
        ] {
            assert!(!device_may_subscribe("zl", me, &f), "{f}");
        }
        assert!(!device_may_publish("zl", me, "zl/v1/#"));
        let wrong_shard = format!("{:02}", (shard_of(me) + 1) % SHARDS);
        assert!(!device_may_publish("zl", me, &format!("zl/v1/{wrong_shard}/{me}/up/event")));
    }
}
