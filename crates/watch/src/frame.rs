//! Framing: cutting a TCP byte stream into watch frames, with bounded memory.
//!
//! 3G frames are `[MK*ID*LLLL*CONTENT]` (some makers add a four-hex-digit sequence number:
//! `[MK*ID*IDX*LLLL*CONTENT]`). A frame ends at the `]` that closes its opening `[` by depth,
//! since a Wi-Fi name inside may hold brackets. The length `LLLL` is not trusted (real devices
//! send wrong ones) except for binary payloads — voice (`TK`, `JXTK`) and images (`img`) — where
//! a `]` right after `LLLL` content bytes ends the frame even if raw brackets in the audio upset
//! the depth. Binary bytes travel escaped: `7D 01`→`7D`, `7D 02`→`[`, `7D 03`→`]`, `7D 04`→`,`,
//! `7D 05`→`*`; the framer unescapes them (and the declared length counts unescaped bytes, as in
//! Traccar's `WatchFrameDecoderTest`).
//!
//! IW frames are `IWAPxx…#`. Voice (`AP07`) carries its byte count and may hold raw `#`.
//!
//! Every decision depends only on the bytes of the stream, never on how they were split into
//! reads, so the same stream gives the same frames however it arrives.

use crate::Protocol;
use crate::error::FrameError;

/// Default cap on one frame (and on what the framer buffers between calls): 16 KiB.
pub const DEFAULT_MAX_FRAME: usize = 16 * 1024;

/// The smallest cap the framer accepts (a 3G header alone can take 47 bytes).
const MIN_MAX_FRAME: usize = 64;

/// Real frames nest at most a bracket or two (a Wi-Fi name like `[LG_Wall-Mount A/C]`). Deeper
/// nesting means a `[` that never closes; giving up early also keeps the work linear in the input.
const MAX_DEPTH: i32 = 8;

/// Longest device ID accepted in a 3G header (IMEIs are 15 digits, most IDs 10).
pub(crate) const MAX_ID_LEN: usize = 32;

const ESCAPE: u8 = 0x7D;
const IW_MARKER: &[u8] = b"IWAP";

/// One frame as it came off the wire, with its header parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The protocol it was framed as.
    pub protocol: Protocol,
    /// The maker code (`3G`, `SG`, `CS`, `ZJ` …); `IW` for IW frames.
    pub maker: String,
    /// The device ID from a 3G header. IW frames carry none (the login `AP00` has the IMEI in
    /// its content).
    pub device_id: Option<String>,
    /// The sequence field of 3G makers that send `[MK*ID*IDX*LLLL*…]` (echoed in replies).
    pub index: Option<String>,
    /// The 3G length field as declared by the device (not trusted for text frames).
    pub declared_len: Option<usize>,
    /// The content, unescaped: for 3G what follows the header (`UD,220414,…`), for IW what
    /// follows `IW` up to the `#` (`AP01080524A…`).
    pub content: Vec<u8>,
    /// The exact bytes on the wire, delimiters included.
    pub raw: Vec<u8>,
}

impl Frame {
    /// The message type as sent: the content up to the first comma for 3G (`UD`, `bphrt`),
    /// the four characters after `IW` for IW (`AP01`).
    pub fn kind(&self) -> String {
        let t = match self.protocol {
            Protocol::Watch3g => {
                let end = self.content.iter().position(|&b| b == b',').unwrap_or(self.content.len());
                &self.content[..end]
            }
            Protocol::Iw => &self.content[..self.content.len().min(4)],
        };
        String::from_utf8_lossy(t).into_owned()
    }

    /// Whether the declared 3G length matches the content (`None` for IW). Informational only.
    pub fn length_matches(&self) -> Option<bool> {
        self.declared_len.map(|n| n == self.content.len())
    }
}

/// Cuts a byte stream into frames. Push bytes as they arrive, then take frames until `None`.
///
/// Memory: after [`next_frame`](Self::next_frame) has returned `None`, at most `max_frame` bytes
/// stay buffered; in between, the framer also holds the bytes of the last [`push`](Self::push),
/// so push reads of bounded size (a socket read of a few KiB).
#[derive(Debug, Clone)]
pub struct Framer {
    protocol: Protocol,
    max_frame: usize,
    buf: Vec<u8>,
    pos: usize,
    skipped: u64,
}

enum Scan {
    /// A frame ending at index `end` (inclusive) of the scanned slice.
    Frame { end: usize, frame: Frame },
    /// Not enough bytes to decide yet.
    Need,
    /// Bad bytes: drop `skip` bytes and report `err` (or count them as garbage when `err` is None).
    Drop { skip: usize, err: Option<FrameError> },
}

impl Framer {
    /// A framer for `protocol` that refuses frames longer than `max_frame` bytes (at least 64).
    pub fn new(protocol: Protocol, max_frame: usize) -> Self {
        Framer { protocol, max_frame: max_frame.max(MIN_MAX_FRAME), buf: Vec::new(), pos: 0, skipped: 0 }
    }

    /// The protocol this framer cuts.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The cap on one frame, in bytes.
    pub fn max_frame(&self) -> usize {
        self.max_frame
    }

    /// Bytes received but not yet returned as a frame or dropped.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Bytes skipped as noise between frames so far (newlines, garbage) — not counting bytes
    /// dropped with a [`FrameError`].
    pub fn skipped_bytes(&self) -> u64 {
        self.skipped
    }

    /// Appends bytes read from the connection.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next frame, an error for bytes that could not be framed (they are dropped and framing
    /// goes on), or `None` when more bytes are needed.
    pub fn next_frame(&mut self) -> Option<Result<Frame, FrameError>> {
        self.step(false)
    }

    /// Ends the stream: returns what is left as a last frame when it is one (a binary frame
    /// waiting for its declared length), or an error for an unfinished frame; trailing noise is
    /// counted as skipped. The framer is empty afterwards. Call it until it returns `None`.
    pub fn finish(&mut self) -> Option<Result<Frame, FrameError>> {
        let out = self.step(true);
        if out.is_none() {
            // Whatever is left is noise (or a partial frame reported above).
            self.skipped += self.buffered() as u64;
            self.buf.clear();
            self.pos = 0;
        }
        out
    }

    fn step(&mut self, eof: bool) -> Option<Result<Frame, FrameError>> {
        loop {
            let data = &self.buf[self.pos..];
            if data.is_empty() {
                return None;
            }
            // Skip noise up to the next frame start.
            let start = match self.protocol {
                Protocol::Watch3g => data.iter().position(|&b| b == b'['),
                Protocol::Iw => find(data, IW_MARKER),
            };
            let start = match start {
                Some(s) => s,
                None => {
                    // Keep a tail that may be the beginning of a marker split across reads.
                    let keep = match self.protocol {
                        Protocol::Watch3g => 0,
                        Protocol::Iw if eof => 0,
                        Protocol::Iw => partial_marker_len(data, IW_MARKER),
                    };
                    let skip = data.len() - keep;
                    self.skipped += skip as u64;
                    self.pos += skip;
                    return None;
                }
            };
            self.skipped += start as u64;
            self.pos += start;
            let data = &self.buf[self.pos..];
            let scan = match self.protocol {
                Protocol::Watch3g => scan_3g(data, self.max_frame, eof),
                Protocol::Iw => scan_iw(data, self.max_frame, eof),
            };
            match scan {
                Scan::Frame { end, frame } => {
                    self.pos += end + 1;
                    return Some(Ok(frame));
                }
                Scan::Need if eof => {
                    // An unfinished frame at the end of the stream: report it once, drop it.
                    let len = self.buffered();
                    self.pos += len;
                    return Some(Err(FrameError::Truncated));
                }
                Scan::Need => return None,
                Scan::Drop { skip, err } => {
                    let skip = skip.max(1);
                    self.pos += skip;
                    match err {
                        Some(e) => return Some(Err(e)),
                        None => self.skipped += skip as u64,
                    }
                }
            }
        }
    }
}

impl Iterator for Framer {
    type Item = Result<Frame, FrameError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_frame()
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// How many trailing bytes of `data` are a proper prefix of `marker`.
fn partial_marker_len(data: &[u8], marker: &[u8]) -> usize {
    (1..marker.len()).rev().find(|&n| data.len() >= n && data[data.len() - n..] == marker[..n]).unwrap_or(0)
}

fn is_maker_byte(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit()
}

/// Parses four hex digits.
fn hex4(bytes: &[u8]) -> Option<usize> {
    if bytes.len() != 4 || !bytes.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    usize::from_str_radix(std::str::from_utf8(bytes).ok()?, 16).ok()
}

struct Header3g {
    maker: String,
    device_id: String,
    index: Option<String>,
    declared_len: usize,
    /// Index of the first content byte.
    content_start: usize,
}

enum HeaderScan {
    Ok(Header3g),
    Need,
    Bad(&'static str),
}

/// Parses `[MK*ID*[IDX*]LLLL*` at the start of `d` (which begins with `[`).
fn header_3g(d: &[u8]) -> HeaderScan {
    // Maker: two characters, then '*'.
    for (i, want_star) in [(1, false), (2, false), (3, true)] {
        let Some(&b) = d.get(i) else { return HeaderScan::Need };
        let ok = if want_star { b == b'*' } else { is_maker_byte(b) };
        if !ok {
            return HeaderScan::Bad("maker");
        }
    }
    // Device ID: 1..=32 letters or digits, then '*'.
    let mut i = 4;
    loop {
        let Some(&b) = d.get(i) else { return HeaderScan::Need };
        if b == b'*' {
            break;
        }
        if !b.is_ascii_alphanumeric() || i - 4 >= MAX_ID_LEN {
            return HeaderScan::Bad("device id");
        }
        i += 1;
    }
    if i == 4 {
        return HeaderScan::Bad("device id");
    }
    let id_end = i;
    // First field after the ID: four hex digits and '*' (the length, or the sequence index).
    let f1 = id_end + 1;
    let Some(field) = d.get(f1..f1 + 5) else {
        // Reject early when the bytes seen so far already cannot be a length field.
        let seen = &d[f1.min(d.len())..];
        if seen.iter().take(4).any(|b| !b.is_ascii_hexdigit()) || seen.get(4).is_some_and(|&b| b != b'*') {
            return HeaderScan::Bad("length");
        }
        return HeaderScan::Need;
    };
    let Some(first) = hex4(&field[..4]).filter(|_| field[4] == b'*') else {
        return HeaderScan::Bad("length");
    };
    // A second such field means the first was a sequence index (Traccar's rule).
    let f2 = f1 + 5;
    let seen = &d[f2.min(d.len())..];
    let second = match seen.get(..5) {
        Some(field) => hex4(&field[..4]).filter(|_| field[4] == b'*'),
        None => {
            let impossible = seen.iter().take(4).any(|b| !b.is_ascii_hexdigit())
                || seen.get(4).is_some_and(|&b| b != b'*');
            if !impossible {
                return HeaderScan::Need;
            }
            None
        }
    };
    let text = |r: std::ops::Range<usize>| String::from_utf8_lossy(&d[r]).into_owned();
    let (index, declared_len, content_start) = match second {
        Some(len) => (Some(text(f1..f1 + 4)), len, f2 + 5),
        None => (None, first, f2),
    };
    HeaderScan::Ok(Header3g {
        maker: text(1..3),
        device_id: text(4..id_end),
        index,
        declared_len,
        content_start,
    })
}

fn is_binary_type(t: &[u8]) -> bool {
    [&b"TK"[..], b"JXTK", b"IMG"].iter().any(|k| t.eq_ignore_ascii_case(k))
}

fn scan_3g(d: &[u8], max: usize, eof: bool) -> Scan {
    let h = match header_3g(d) {
        HeaderScan::Ok(h) => h,
        HeaderScan::Need => return Scan::Need,
        HeaderScan::Bad(reason) => {
            return Scan::Drop { skip: 1, err: Some(FrameError::BadHeader { reason }) };
        }
    };
    // Whether the payload is binary, known once the type (up to the first raw comma) is read.
    let mut binary: Option<bool> = None;
    // The length is only used for binary payloads that fit under the cap.
    let len_usable = h.content_start + h.declared_len < max;
    let mut depth: i32 = 1;
    let mut out: Vec<u8> = Vec::new();
    // The first place where the brackets balance, kept while a binary frame waits for its length.
    let mut first_close: Option<(usize, usize)> = None;
    let mut i = h.content_start;
    let frame_at = |end: usize, content: Vec<u8>| Scan::Frame {
        end,
        frame: Frame {
            protocol: Protocol::Watch3g,
            maker: h.maker.clone(),
            device_id: Some(h.device_id.clone()),
            index: h.index.clone(),
            declared_len: Some(h.declared_len),
            content,
            raw: d[..=end].to_vec(),
        },
    };
    loop {
        if i >= max {
            return match first_close {
                Some((end, n)) => frame_at(end, out[..n].to_vec()),
                None => Scan::Drop { skip: 1, err: Some(FrameError::TooLong { max }) },
            };
        }
        if binary == Some(true) && out.len() > h.declared_len {
            // Past the declared length without a ']' there: the length was wrong after all.
            match first_close {
                Some((end, n)) => return frame_at(end, out[..n].to_vec()),
                None => binary = Some(false),
            }
        }
        let Some(&b) = d.get(i) else {
            if eof && let Some((end, n)) = first_close {
                return frame_at(end, out[..n].to_vec());
            }
            return Scan::Need;
        };
        if binary == Some(true) && out.len() == h.declared_len && b == b']' {
            return frame_at(i, out);
        }
        match b {
            ESCAPE => {
                let Some(&next) = d.get(i + 1) else {
                    if eof && let Some((end, n)) = first_close {
                        return frame_at(end, out[..n].to_vec());
                    }
                    return Scan::Need;
                };
                let mapped = match next {
                    0x01 => Some(ESCAPE),
                    0x02 => Some(b'['),
                    0x03 => Some(b']'),
                    0x04 => Some(b','),
                    0x05 => Some(b'*'),
                    _ => None,
                };
                match mapped {
                    Some(m) => {
                        out.push(m);
                        i += 2;
                    }
                    None => {
                        // Not an escape sequence: a literal '}' (lenient, unlike Traccar).
                        out.push(b);
                        i += 1;
                    }
                }
                continue;
            }
            b'[' => {
                depth += 1;
                if depth > MAX_DEPTH && first_close.is_none() {
                    return Scan::Drop {
                        skip: 1,
                        err: Some(FrameError::TooDeep { max: MAX_DEPTH as usize }),
                    };
                }
            }
            b']' => {
                depth -= 1;
                if depth == 0 && first_close.is_none() {
                    // A type without a comma has no payload, so nothing binary to wait for.
                    let is_binary = binary.unwrap_or(false);
                    if !is_binary {
                        return frame_at(i, out);
                    }
                    first_close = Some((i, out.len()));
                }
            }
            b',' if binary.is_none() => {
                binary = Some(is_binary_type(&out) && len_usable);
            }
            _ => {}
        }
        out.push(b);
        i += 1;
    }
}

fn scan_iw(d: &[u8], max: usize, eof: bool) -> Scan {
    // d starts with "IWAP"; the type is "AP" plus two letters or digits.
    let Some(t) = d.get(4..6) else { return Scan::Need };
    if !t.iter().all(|&b| is_maker_byte(b.to_ascii_uppercase())) {
        return Scan::Drop { skip: 1, err: Some(FrameError::BadHeader { reason: "type" }) };
    }
    let frame_at = |end: usize| Scan::Frame {
        end,
        frame: Frame {
            protocol: Protocol::Iw,
            maker: "IW".into(),
            device_id: None,
            index: None,
            declared_len: None,
            content: d[2..end].to_vec(),
            raw: d[..=end].to_vec(),
        },
    };
    // Voice: IWAP07,<time>,<packets>,<packet no>,<byte count>,<bytes>#
    if t == b"07" {
        match voice_end(d, max) {
            VoiceEnd::At(end) => return frame_at(end),
            VoiceEnd::Need if !eof => return Scan::Need,
            VoiceEnd::Need | VoiceEnd::NotVoice => {}
        }
    }
    let limit = d.len().min(max);
    let hash = d[..limit].iter().position(|&b| b == b'#');
    let next = find(&d[IW_MARKER.len()..limit], IW_MARKER).map(|p| p + IW_MARKER.len());
    match (hash, next) {
        (Some(h), Some(n)) if n < h => Scan::Drop { skip: n, err: Some(FrameError::Truncated) },
        (Some(h), _) => frame_at(h),
        (None, Some(n)) => Scan::Drop { skip: n, err: Some(FrameError::Truncated) },
        (None, None) if d.len() >= max => Scan::Drop { skip: 1, err: Some(FrameError::TooLong { max }) },
        (None, None) => Scan::Need,
    }
}

enum VoiceEnd {
    At(usize),
    Need,
    NotVoice,
}

/// Where an `AP07` voice frame ends, from its byte count.
fn voice_end(d: &[u8], max: usize) -> VoiceEnd {
    let mut i = 6;
    let mut count = 0usize;
    for field in 0..5 {
        // Fields: ",time" ",packets" ",packet no" ",byte count" and the comma before the bytes.
        match d.get(i) {
            None => return VoiceEnd::Need,
            Some(b',') => i += 1,
            Some(_) => return VoiceEnd::NotVoice,
        }
        if field == 4 {
            break;
        }
        let start = i;
        while let Some(b) = d.get(i) {
            if !b.is_ascii_digit() {
                break;
            }
            i += 1;
            if i - start > 14 {
                return VoiceEnd::NotVoice;
            }
        }
        if i == d.len() {
            return VoiceEnd::Need;
        }
        if i == start {
            return VoiceEnd::NotVoice;
        }
        if field == 3 {
            count = std::str::from_utf8(&d[start..i]).ok().and_then(|s| s.parse().ok()).unwrap_or(usize::MAX);
        }
    }
    let Some(end) = i.checked_add(count).filter(|&e| e < max) else { return VoiceEnd::NotVoice };
    match d.get(end) {
        None => VoiceEnd::Need,
        Some(b'#') => VoiceEnd::At(end),
        Some(_) => VoiceEnd::NotVoice,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(protocol: Protocol, chunks: &[&[u8]]) -> (Vec<Result<Frame, FrameError>>, u64) {
        let mut f = Framer::new(protocol, DEFAULT_MAX_FRAME);
        let mut out = Vec::new();
        for c in chunks {
            f.push(c);
            out.extend(f.by_ref());
        }
        while let Some(r) = f.finish() {
            out.push(r);
        }
        (out, f.skipped_bytes())
    }

    fn contents(rs: &[Result<Frame, FrameError>]) -> Vec<String> {
        rs.iter()
            .map(|r| match r {
                Ok(f) => String::from_utf8_lossy(&f.content).into_owned(),
                Err(e) => format!("ERR {}", e.code()),
            })
            .collect()
    }

    #[test]
    fn joined_frames_and_noise_between() {
        let (rs, skipped) = frames(
            Protocol::Watch3g,
            &[b"\r\n[SG*8800000015*0002*LK]\r\n[3G*1*0003*TKQ]xx[CS*12*0008*PULSE,72]\n"],
        );
        assert_eq!(contents(&rs), ["LK", "TKQ", "PULSE,72"]);
        assert_eq!(skipped, 2 + 2 + 2 + 1);
        let f = rs[0].as_ref().unwrap();
        assert_eq!((f.maker.as_str(), f.device_id.as_deref()), ("SG", Some("8800000015")));
        assert_eq!(f.declared_len, Some(2));
        assert_eq!(f.raw, b"[SG*8800000015*0002*LK]");
    }

    #[test]
    fn split_anywhere() {
        let stream = b"[3G*4700186508*000B*LK,0,10,100][ZJ*014111001350304*0034*0009*LK,0,0,19]";
        for cut in 0..stream.len() {
            let (rs, _) = frames(Protocol::Watch3g, &[&stream[..cut], &stream[cut..]]);
            assert_eq!(contents(&rs), ["LK,0,10,100", "LK,0,0,19"], "cut at {cut}");
        }
    }

    #[test]
    fn sequence_index_header() {
        let (rs, _) = frames(Protocol::Watch3g, &[b"[ZJ*357653059860416*0007*000c*BLOOD,109,68]"]);
        let f = rs[0].as_ref().unwrap();
        assert_eq!(f.index.as_deref(), Some("0007"));
        assert_eq!(f.declared_len, Some(12));
        assert_eq!(f.content, b"BLOOD,109,68");
        assert_eq!(f.length_matches(), Some(true));
    }

    #[test]
    fn content_starting_with_hex_is_not_an_index() {
        let (rs, _) = frames(Protocol::Watch3g, &[b"[3G*1*0002*AB]", b"[3G*1*0004*ABCD]"]);
        assert_eq!(contents(&rs), ["AB", "ABCD"]);
        assert!(rs.iter().all(|r| r.as_ref().unwrap().index.is_none()));
    }

    #[test]
    fn brackets_inside_ssid() {
        // Traccar's WatchFrameDecoderTest: an SSID "[LG_Wall-Mount A/C]e725" inside a UD frame.
        let frame = b"[3G*8800000015*0046*UD,120623,140020,A,1,N,2,E,0,0,0,1,1,1,1,0,00000000,0,1,[LG_Wall]e725,66:a1:ed:e1:e7:25,-82,15.0]";
        let (rs, _) = frames(Protocol::Watch3g, &[frame, b"[3G*1*0002*LK]"]);
        assert_eq!(rs.len(), 2);
        assert!(contents(&rs)[0].contains("[LG_Wall]e725"));
        assert_eq!(contents(&rs)[1], "LK");
    }

    #[test]
    fn escapes_are_undone() {
        // Traccar's WatchFrameDecoderTest: the escaped voice frame and its unescaped content.
        let mut wire = b"[CS*1234567890*000e*TK,#!AMR".to_vec();
        wire.extend_from_slice(&[0x7d, 0x01, 0x7d, 0x02, 0x7d, 0x03, 0x7d, 0x04, 0x7d, 0x05, 0xff]);
        wire.push(b']');
        let (rs, _) = frames(Protocol::Watch3g, &[&wire]);
        let f = rs[0].as_ref().unwrap();
        let mut want = b"TK,#!AMR".to_vec();
        want.extend_from_slice(&[0x7d, b'[', b']', b',', b'*', 0xff]);
        assert_eq!(f.content, want);
        assert_eq!(f.length_matches(), Some(true));
        assert_eq!(f.raw, wire);
    }

    #[test]
    fn binary_payload_with_raw_brackets_uses_the_length() {
        // A device that does not escape: an unbalanced ']' inside the audio.
        let mut wire = b"[CS*1*0008*TK,".to_vec();
        wire.extend_from_slice(&[0x01, b']', 0x02, b'[', b'[']);
        wire.extend_from_slice(b"]");
        wire.extend_from_slice(b"[CS*1*0002*LK]");
        let (rs, _) = frames(Protocol::Watch3g, &[&wire]);
        assert_eq!(rs.len(), 2, "{:?}", contents(&rs));
        assert_eq!(rs[0].as_ref().unwrap().content.len(), 8);
        assert_eq!(contents(&rs)[1], "LK");
    }

    #[test]
    fn wrong_lengths_are_ignored_for_text() {
        let (rs, _) = frames(Protocol::Watch3g, &[b"[3G*1*0099*LK,1,2,3][3G*1*0000*LK]"]);
        assert_eq!(contents(&rs), ["LK,1,2,3", "LK"]);
        assert_eq!(rs[0].as_ref().unwrap().length_matches(), Some(false));
    }

    #[test]
    fn wrong_length_on_binary_falls_back_to_brackets() {
        let (rs, _) = frames(Protocol::Watch3g, &[b"[CS*1*0003*TK,abcdef][CS*1*0002*LK]"]);
        assert_eq!(contents(&rs), ["TK,abcdef", "LK"]);
    }

    #[test]
    fn bad_headers_are_reported_and_skipped() {
        let (rs, _) =
            frames(Protocol::Watch3g, &[b"[xx*1*0002*LK][3G**0002*LK][3G*1*zz02*LK][3G*1*0002*LK]"]);
        let c = contents(&rs);
        assert_eq!(c.last().unwrap(), "LK");
        assert!(c[..c.len() - 1].iter().all(|s| s == "ERR frame_header"), "{c:?}");
    }

    #[test]
    fn overlong_frames_are_dropped_and_the_buffer_stays_bounded() {
        let mut f = Framer::new(Protocol::Watch3g, 100);
        f.push(b"[3G*1*0002*");
        for _ in 0..10 {
            f.push(&[b'a'; 50]);
            while let Some(r) = f.next_frame() {
                assert_eq!(r.unwrap_err().code(), "frame_too_long");
            }
            assert!(f.buffered() <= 100);
        }
        f.push(b"[3G*1*0002*LK]");
        let got: Vec<_> = f.by_ref().collect();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].as_ref().unwrap().content, b"LK");
    }

    #[test]
    fn runaway_nesting_is_cut() {
        let (rs, _) = frames(Protocol::Watch3g, &[b"[3G*1*0002*[[[[[[[[[[[[", b"[3G*1*0002*LK]"]);
        assert_eq!(contents(&rs)[0], "ERR frame_nesting");
        assert_eq!(contents(&rs).last().unwrap(), "LK");
    }

    #[test]
    fn unfinished_frame_at_end_of_stream() {
        let (rs, _) = frames(Protocol::Watch3g, &[b"[3G*1*0002*LK][3G*1*0002*L"]);
        assert_eq!(contents(&rs), ["LK", "ERR frame_truncated"]);
    }

    #[test]
    fn iw_frames() {
        let (rs, skipped) = frames(
            Protocol::Iw,
            &[b"IWAP00353456789012345#\r\nIWAP49,6", b"8#IWAPHT,60,130,85#", b"\nI", b"W"],
        );
        assert_eq!(contents(&rs), ["AP00353456789012345", "AP49,68", "APHT,60,130,85"]);
        assert_eq!(skipped, 2 + 1 + 2);
        assert_eq!(rs[1].as_ref().unwrap().raw, b"IWAP49,68#");
        assert_eq!(rs[1].as_ref().unwrap().kind(), "AP49");
    }

    #[test]
    fn iw_truncated_frame_is_reported() {
        let (rs, _) = frames(Protocol::Iw, &[b"IWAP01080524A22IWAP49,68#"]);
        assert_eq!(contents(&rs), ["ERR frame_truncated", "AP49,68"]);
    }

    #[test]
    fn iw_voice_may_hold_hashes() {
        let mut wire = b"IWAP07,20140818064408,6,1,5,".to_vec();
        wire.extend_from_slice(b"#a#b#");
        wire.extend_from_slice(b"#IWAP03,06000908000102,5555,30#");
        for cut in 0..wire.len() {
            let (rs, _) = frames(Protocol::Iw, &[&wire[..cut], &wire[cut..]]);
            let c = contents(&rs);
            assert_eq!(c.len(), 2, "cut {cut}: {c:?}");
            assert_eq!(c[0], "AP07,20140818064408,6,1,5,#a#b#");
            assert_eq!(c[1], "AP03,06000908000102,5555,30");
        }
    }

    #[test]
    fn iw_overlong_is_dropped() {
        let mut f = Framer::new(Protocol::Iw, 64);
        f.push(b"IWAP01");
        f.push(&[b'1'; 100]);
        assert_eq!(f.next_frame().unwrap().unwrap_err().code(), "frame_too_long");
        assert!(f.next_frame().is_none());
        assert!(f.buffered() <= 64);
    }
}
