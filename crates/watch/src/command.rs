//! Commands from the server to the watch.
//!
//! 3G frames follow Traccar's `WatchProtocolEncoder` (and its test strings) where Traccar has the
//! command, and the SeTracker/Beesure protocol descriptions otherwise (`SOS,n1,n2,n3`, `PHB`,
//! `FIND`, `SILENCETIME`, `hrtstart`). IW frames are `IWBPxx,<IMEI>,<journal>,…#`, the journal
//! number being echoed by the watch in its acknowledgement (`IWAP12,080835,…`).

use crate::Protocol;
use crate::error::CommandError;
use crate::frame::MAX_ID_LEN;
use crate::message::Confirmation;
use chrono::{NaiveTime, Timelike};

/// A phone-book entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    /// Any text; sent as UTF-16BE hex, so Chinese names are fine.
    pub name: String,
    /// Digits, optionally with a leading `+`.
    pub phone: String,
}

/// A command for the watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchCommand {
    /// The three SOS numbers at once (`None` clears a slot). 3G `SOS,n1,n2,n3`; IW `BP12`.
    SosNumbers([Option<String>; 3]),
    /// One SOS number, slot 1–3. 3G only: `SOS1,n` (Traccar's `sosNumber`).
    SosNumber { slot: u8, phone: String },
    /// The phone book (whitelist), at most 10 entries. 3G `PHB` (entries 1–5) and `PHB2`
    /// (entries 6–10) as two frames; IW `BP14`.
    Phonebook(Vec<Contact>),
    /// Position report interval, 10 s to 24 h. 3G `UPLOAD,s`; IW `BP15`.
    ReportInterval { seconds: u32 },
    /// Make the watch ring. 3G `FIND`; IW has none.
    FindDevice,
    /// Report a position now. 3G `CR`; IW `BP16`.
    LocateNow,
    /// Do-not-disturb periods (at most 4). 3G `SILENCETIME,HH:MM-HH:MM,…`; IW has none.
    SilentHours(Vec<(NaiveTime, NaiveTime)>),
    /// Automatic heart-rate measurement every `minutes` (5 to 1092; 0 stops it).
    /// 3G `hrtstart,<seconds>`; IW `BP86,…,<on>,<minutes>`.
    HeartRateInterval { minutes: u32 },
    /// Measure the heart rate once now. 3G `hrtstart,1`; IW `BPXL`.
    MeasureHeartRate,
    /// A text shown on the watch. 3G `MESSAGE,<UTF-16BE hex>` (Traccar); IW has none here.
    Message(String),
    /// Restart the watch. 3G `RESET` (Traccar); IW `BP18`.
    Reboot,
    /// Raw content, printable ASCII: 3G the frame content (`WORK,6-9`), IW what follows `IW`
    /// (`BP33,<IMEI>,<journal>,1`).
    Custom(String),
}

impl WatchCommand {
    /// A short English name, for errors and logs.
    pub fn name(&self) -> &'static str {
        match self {
            WatchCommand::SosNumbers(_) => "sos_numbers",
            WatchCommand::SosNumber { .. } => "sos_number",
            WatchCommand::Phonebook(_) => "phonebook",
            WatchCommand::ReportInterval { .. } => "report_interval",
            WatchCommand::FindDevice => "find_device",
            WatchCommand::LocateNow => "locate_now",
            WatchCommand::SilentHours(_) => "silent_hours",
            WatchCommand::HeartRateInterval { .. } => "heart_rate_interval",
            WatchCommand::MeasureHeartRate => "measure_heart_rate",
            WatchCommand::Message(_) => "message",
            WatchCommand::Reboot => "reboot",
            WatchCommand::Custom(_) => "custom",
        }
    }
}

/// Where a command goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target<'a> {
    pub protocol: Protocol,
    /// The 3G maker code the watch uses (`3G`, `SG` …); ignored for IW.
    pub maker: &'a str,
    /// The 3G device ID, or the IW watch's IMEI.
    pub device_id: &'a str,
    /// For 3G makers that send a sequence field (`[ZJ*ID*IDX*LLLL*…]`), the field to send.
    pub index: Option<&'a str>,
    /// The IW journal number (six digits, modulo 1 000 000); ignored for 3G.
    pub serial: u32,
}

impl<'a> Target<'a> {
    /// A target without sequence field, journal number 1.
    pub fn new(protocol: Protocol, maker: &'a str, device_id: &'a str) -> Self {
        Target { protocol, maker, device_id, index: None, serial: 1 }
    }
}

/// The 3G command words (upper case) a watch sends back bare to confirm a command.
pub(crate) const WORDS_3G: [&str; 15] = [
    "SOS",
    "SOS1",
    "SOS2",
    "SOS3",
    "PHB",
    "PHB2",
    "UPLOAD",
    "FIND",
    "CR",
    "SILENCETIME",
    "HRTSTART",
    "MESSAGE",
    "RESET",
    "WORK",
    "PEDO",
];

/// What the watch sends back to confirm `command` sent to `target` (one per frame
/// [`encode_for`] writes): the 3G word (`SOS`, `PHB` and `PHB2` …), or the IW command with the
/// target's journal number. Empty for raw ([`WatchCommand::Custom`]) commands.
pub fn confirmations(target: &Target<'_>, command: &WatchCommand) -> Vec<Confirmation> {
    let word = |w: &str| Confirmation { command: w.to_string(), journal: None };
    match target.protocol {
        Protocol::Watch3g => match command {
            WatchCommand::SosNumbers(_) => vec![word("SOS")],
            WatchCommand::SosNumber { slot, .. } => vec![word(&format!("SOS{slot}"))],
            WatchCommand::Phonebook(c) if c.len() > 5 => vec![word("PHB"), word("PHB2")],
            WatchCommand::Phonebook(_) => vec![word("PHB")],
            WatchCommand::ReportInterval { .. } => vec![word("UPLOAD")],
            WatchCommand::FindDevice => vec![word("FIND")],
            WatchCommand::LocateNow => vec![word("CR")],
            WatchCommand::SilentHours(_) => vec![word("SILENCETIME")],
            WatchCommand::HeartRateInterval { .. } | WatchCommand::MeasureHeartRate => vec![word("HRTSTART")],
            WatchCommand::Message(_) => vec![word("MESSAGE")],
            WatchCommand::Reboot => vec![word("RESET")],
            WatchCommand::Custom(_) => Vec::new(),
        },
        Protocol::Iw => {
            let code = match command {
                WatchCommand::SosNumbers(_) => "BP12",
                WatchCommand::Phonebook(_) => "BP14",
                WatchCommand::ReportInterval { .. } => "BP15",
                WatchCommand::LocateNow => "BP16",
                WatchCommand::HeartRateInterval { .. } => "BP86",
                WatchCommand::MeasureHeartRate => "BPXL",
                WatchCommand::Reboot => "BP18",
                _ => return Vec::new(),
            };
            vec![Confirmation { command: code.into(), journal: Some(target.serial % 1_000_000) }]
        }
    }
}

/// Encodes `command` for a watch (journal number 1 for IW). See [`encode_for`].
pub fn encode_command(
    protocol: Protocol,
    maker: &str,
    device_id: &str,
    command: &WatchCommand,
) -> Result<Vec<u8>, CommandError> {
    encode_for(&Target::new(protocol, maker, device_id), command)
}

/// Encodes `command` as the bytes to write to the watch's connection (one frame; two for a 3G
/// phone book of more than five entries).
pub fn encode_for(target: &Target<'_>, command: &WatchCommand) -> Result<Vec<u8>, CommandError> {
    let id = target.device_id;
    if id.is_empty() || id.len() > MAX_ID_LEN || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(CommandError::invalid("device_id", id));
    }
    match target.protocol {
        Protocol::Watch3g => encode_3g(target, command),
        Protocol::Iw => encode_iw(target, command),
    }
}

fn phone(p: &str) -> Result<&str, CommandError> {
    let digits = p.strip_prefix('+').unwrap_or(p);
    if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CommandError::invalid("phone", p));
    }
    Ok(p)
}

fn sos_slots(numbers: &[Option<String>; 3]) -> Result<String, CommandError> {
    let v: Vec<&str> =
        numbers.iter().map(|n| n.as_deref().map_or(Ok(""), phone)).collect::<Result<_, _>>()?;
    Ok(v.join(","))
}

/// UTF-16BE code units in lower-case hex, as Traccar's encoder writes text (`text` → `0074006500780074`).
fn utf16_hex(s: &str) -> String {
    s.encode_utf16().map(|u| format!("{u:04x}")).collect()
}

fn custom(s: &str, forbidden: &[u8]) -> Result<String, CommandError> {
    let ok = !s.is_empty()
        && s.len() <= 1000
        && s.bytes().all(|b| (0x20..0x7F).contains(&b) && !forbidden.contains(&b));
    if ok { Ok(s.to_string()) } else { Err(CommandError::invalid("text", s)) }
}

fn hhmm(t: NaiveTime) -> String {
    format!("{:02}:{:02}", t.hour(), t.minute())
}

fn check_contacts(contacts: &[Contact]) -> Result<(), CommandError> {
    if contacts.len() > 10 {
        return Err(CommandError::TooMany { field: "contacts", max: 10 });
    }
    for c in contacts {
        phone(&c.phone)?;
        if c.name.chars().count() > 20 {
            return Err(CommandError::invalid("text", &c.name));
        }
    }
    Ok(())
}

fn heart_minutes(minutes: u32) -> Result<u32, CommandError> {
    if minutes == 0 || (5..=1092).contains(&minutes) {
        Ok(minutes)
    } else {
        Err(CommandError::invalid("minutes", &minutes.to_string()))
    }
}

fn report_seconds(seconds: u32) -> Result<u32, CommandError> {
    if (10..=86_400).contains(&seconds) {
        Ok(seconds)
    } else {
        Err(CommandError::invalid("seconds", &seconds.to_string()))
    }
}

fn encode_3g(t: &Target<'_>, command: &WatchCommand) -> Result<Vec<u8>, CommandError> {
    let maker_ok =
        t.maker.len() == 2 && t.maker.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if !maker_ok {
        return Err(CommandError::invalid("maker", t.maker));
    }
    if let Some(ix) = t.index
        && (ix.len() != 4 || !ix.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Err(CommandError::invalid("index", ix));
    }
    let contents: Vec<String> = match command {
        WatchCommand::SosNumbers(numbers) => vec![format!("SOS,{}", sos_slots(numbers)?)],
        WatchCommand::SosNumber { slot, phone: p } => {
            if !(1..=3).contains(slot) {
                return Err(CommandError::invalid("slot", &slot.to_string()));
            }
            vec![format!("SOS{slot},{}", phone(p)?)]
        }
        WatchCommand::Phonebook(contacts) => {
            check_contacts(contacts)?;
            let entry = |c: &Contact| format!("{},{}", c.phone, utf16_hex(&c.name));
            let mut out = Vec::new();
            for (i, chunk) in contacts.chunks(5).enumerate() {
                let key = if i == 0 { "PHB" } else { "PHB2" };
                let list: Vec<String> = chunk.iter().map(entry).collect();
                out.push(format!("{key},{}", list.join(",")));
            }
            if out.is_empty() {
                out.push("PHB".to_string());
            }
            out
        }
        WatchCommand::ReportInterval { seconds } => vec![format!("UPLOAD,{}", report_seconds(*seconds)?)],
        WatchCommand::FindDevice => vec!["FIND".into()],
        WatchCommand::LocateNow => vec!["CR".into()],
        WatchCommand::SilentHours(periods) => {
            if periods.len() > 4 {
                return Err(CommandError::TooMany { field: "silent_hours", max: 4 });
            }
            let list: Vec<String> =
                periods.iter().map(|(a, b)| format!(",{}-{}", hhmm(*a), hhmm(*b))).collect();
            vec![format!("SILENCETIME{}", list.concat())]
        }
        WatchCommand::HeartRateInterval { minutes } => {
            vec![format!("hrtstart,{}", heart_minutes(*minutes)? * 60)]
        }
        WatchCommand::MeasureHeartRate => vec!["hrtstart,1".into()],
        WatchCommand::Message(text) => {
            if text.is_empty() || text.chars().count() > 200 {
                return Err(CommandError::invalid("text", text));
            }
            vec![format!("MESSAGE,{}", utf16_hex(text))]
        }
        WatchCommand::Reboot => vec!["RESET".into()],
        WatchCommand::Custom(s) => vec![custom(s, b"[]")?],
    };
    let frames: String =
        contents.iter().map(|c| crate::decode::frame_3g(t.maker, t.device_id, t.index, c)).collect();
    Ok(frames.into_bytes())
}

fn encode_iw(t: &Target<'_>, command: &WatchCommand) -> Result<Vec<u8>, CommandError> {
    let head = |code: &str| format!("IWBP{code},{},{:06}", t.device_id, t.serial % 1_000_000);
    let unsupported = || CommandError::Unsupported { command: command.name(), protocol: "IW" };
    let body = match command {
        WatchCommand::SosNumbers(numbers) => format!("{},{}", head("12"), sos_slots(numbers)?),
        WatchCommand::Phonebook(contacts) => {
            check_contacts(contacts)?;
            let list: Vec<String> =
                contacts.iter().map(|c| format!("{}|{}", utf16_hex(&c.name), c.phone)).collect();
            format!("{},{}", head("14"), list.join(","))
        }
        WatchCommand::ReportInterval { seconds } => format!("{},{}", head("15"), report_seconds(*seconds)?),
        WatchCommand::LocateNow => head("16"),
        WatchCommand::HeartRateInterval { minutes } => {
            let m = heart_minutes(*minutes)?;
            format!("{},{},{m}", head("86"), u8::from(m > 0))
        }
        WatchCommand::MeasureHeartRate => head("XL"),
        WatchCommand::Reboot => head("18"),
        WatchCommand::Custom(s) => format!("IW{}", custom(s, b"#")?),
        WatchCommand::SosNumber { .. }
        | WatchCommand::FindDevice
        | WatchCommand::SilentHours(_)
        | WatchCommand::Message(_) => {
            return Err(unsupported());
        }
    };
    Ok(format!("{body}#").into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g3(c: &WatchCommand) -> String {
        // Traccar's encoder tests address the device "123456789012345" with maker "CS".
        String::from_utf8(encode_command(Protocol::Watch3g, "CS", "123456789012345", c).unwrap()).unwrap()
    }

    fn iw(c: &WatchCommand) -> String {
        let t = Target { serial: 80835, ..Target::new(Protocol::Iw, "IW", "353456789012345") };
        String::from_utf8(encode_for(&t, c).unwrap()).unwrap()
    }

    #[test]
    fn traccar_encoder_strings() {
        // From Traccar's WatchProtocolEncoderTest.
        assert_eq!(g3(&WatchCommand::Reboot), "[CS*123456789012345*0005*RESET]");
        assert_eq!(
            g3(&WatchCommand::SosNumber { slot: 1, phone: "123456789".into() }),
            "[CS*123456789012345*000e*SOS1,123456789]"
        );
        assert_eq!(
            g3(&WatchCommand::Message("text".into())),
            "[CS*123456789012345*0018*MESSAGE,0074006500780074]"
        );
        assert_eq!(
            g3(&WatchCommand::Custom("WORK,6-9,11-13,13-15,17-19".into())),
            "[CS*123456789012345*001a*WORK,6-9,11-13,13-15,17-19]"
        );
    }

    #[test]
    fn setracker_commands() {
        let sos = WatchCommand::SosNumbers([Some("13800138000".into()), None, Some("+8613900139000".into())]);
        assert_eq!(g3(&sos), "[CS*123456789012345*001f*SOS,13800138000,,+8613900139000]");
        assert_eq!(
            g3(&WatchCommand::ReportInterval { seconds: 600 }),
            "[CS*123456789012345*000a*UPLOAD,600]"
        );
        assert_eq!(g3(&WatchCommand::FindDevice), "[CS*123456789012345*0004*FIND]");
        assert_eq!(g3(&WatchCommand::LocateNow), "[CS*123456789012345*0002*CR]");
        assert_eq!(
            g3(&WatchCommand::HeartRateInterval { minutes: 60 }),
            "[CS*123456789012345*000d*hrtstart,3600]"
        );
        assert_eq!(
            g3(&WatchCommand::HeartRateInterval { minutes: 0 }),
            "[CS*123456789012345*000a*hrtstart,0]"
        );
        assert_eq!(g3(&WatchCommand::MeasureHeartRate), "[CS*123456789012345*000a*hrtstart,1]");
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap();
        let quiet = WatchCommand::SilentHours(vec![(t(21, 10), t(7, 30)), (t(8, 0), t(11, 30))]);
        assert_eq!(g3(&quiet), "[CS*123456789012345*0023*SILENCETIME,21:10-07:30,08:00-11:30]");
        let book =
            WatchCommand::Phonebook(vec![Contact { name: "女儿".into(), phone: "13800138000".into() }]);
        assert_eq!(g3(&book), "[CS*123456789012345*0018*PHB,13800138000,5973513f]");
    }

    #[test]
    fn long_phonebook_is_two_frames() {
        let c: Vec<Contact> =
            (0..7).map(|i| Contact { name: format!("n{i}"), phone: format!("1380013800{i}") }).collect();
        let s = g3(&WatchCommand::Phonebook(c));
        assert_eq!(s.matches('[').count(), 2);
        assert!(s.contains("*PHB,13800138000,006e0030,"));
        assert!(s.contains("*PHB2,13800138005,006e0035,13800138006,006e0036]"));
    }

    #[test]
    fn index_and_maker_are_echoed() {
        let t = Target { index: Some("0001"), ..Target::new(Protocol::Watch3g, "ZJ", "014111001350304") };
        let out = encode_for(&t, &WatchCommand::FindDevice).unwrap();
        assert_eq!(out, b"[ZJ*014111001350304*0001*0004*FIND]");
    }

    #[test]
    fn iw_commands() {
        let sos =
            WatchCommand::SosNumbers([Some("+491773329827".into()), Some("+491773329826".into()), None]);
        assert_eq!(iw(&sos), "IWBP12,353456789012345,080835,+491773329827,+491773329826,#");
        // The name hex matches what Traccar's IW sample echoes back in IWAP14.
        let book = WatchCommand::Phonebook(vec![Contact {
            name: "NikuTRAX".into(),
            phone: "+4952032960728".into(),
        }]);
        assert_eq!(
            iw(&book),
            "IWBP14,353456789012345,080835,004e0069006b00750054005200410058|+4952032960728#"
        );
        assert_eq!(iw(&WatchCommand::ReportInterval { seconds: 300 }), "IWBP15,353456789012345,080835,300#");
        assert_eq!(iw(&WatchCommand::LocateNow), "IWBP16,353456789012345,080835#");
        assert_eq!(
            iw(&WatchCommand::HeartRateInterval { minutes: 30 }),
            "IWBP86,353456789012345,080835,1,30#"
        );
        assert_eq!(iw(&WatchCommand::MeasureHeartRate), "IWBPXL,353456789012345,080835#");
        assert_eq!(iw(&WatchCommand::Reboot), "IWBP18,353456789012345,080835#");
    }

    #[test]
    fn bad_values_are_refused() {
        let e = |p: Protocol, c: &WatchCommand| encode_command(p, "3G", "1234567890", c).unwrap_err().code();
        assert_eq!(
            e(Protocol::Watch3g, &WatchCommand::SosNumber { slot: 4, phone: "1".into() }),
            "invalid_value"
        );
        assert_eq!(
            e(Protocol::Watch3g, &WatchCommand::SosNumbers([Some("12,3".into()), None, None])),
            "invalid_value"
        );
        assert_eq!(e(Protocol::Watch3g, &WatchCommand::Custom("A]B".into())), "invalid_value");
        assert_eq!(e(Protocol::Iw, &WatchCommand::Custom("BP33#".into())), "invalid_value");
        assert_eq!(e(Protocol::Iw, &WatchCommand::FindDevice), "unsupported_command");
        assert_eq!(e(Protocol::Watch3g, &WatchCommand::ReportInterval { seconds: 1 }), "invalid_value");
        assert_eq!(e(Protocol::Watch3g, &WatchCommand::HeartRateInterval { minutes: 2 }), "invalid_value");
        let many = vec![Contact { name: "a".into(), phone: "1".into() }; 11];
        assert_eq!(e(Protocol::Iw, &WatchCommand::Phonebook(many)), "too_many");
        let err = encode_command(Protocol::Watch3g, "3g", "1", &WatchCommand::FindDevice).unwrap_err();
        assert_eq!(err.code(), "invalid_value");
        assert!(err.zh().contains("厂商代码") && err.en().contains("maker"));
        assert!(encode_command(Protocol::Watch3g, "3G", "12*3", &WatchCommand::FindDevice).is_err());
    }
}
