//! The decode tool as a library function: a raw byte stream in, one JSON object per line out.

use crate::Protocol;
use crate::decode::{DecodeOptions, decode_with};
use crate::frame::{DEFAULT_MAX_FRAME, Frame, Framer};
use crate::message::WatchMessage;
use serde::Serialize;
use std::io::{self, Read, Write};

/// What a run of [`decode_stream`] saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Frames cut from the stream.
    pub frames: u64,
    /// Frames decoded into a message (one JSON line each).
    pub messages: u64,
    /// Frame and decoding errors (one error line each).
    pub errors: u64,
    /// Noise skipped between frames (newlines, garbage).
    pub skipped_bytes: u64,
}

/// Reads a raw byte stream of `protocol` frames (newlines or other noise between them allowed)
/// and writes one JSON object per line for each message, or
/// `{"error":code,"message":zh,"message_en":en}` for a frame that could not be cut or decoded;
/// decoding goes on after errors. Uses the default [`DecodeOptions`] (watch clock in UTC, no
/// server time, so an IW login's reply is `null`); an IW login's IMEI is carried to the frames
/// after it, as a server session would.
pub fn decode_stream(protocol: Protocol, input: impl Read, out: impl Write) -> io::Result<Stats> {
    decode_stream_with(protocol, &DecodeOptions::default(), input, out)
}

/// [`decode_stream`] with explicit options.
pub fn decode_stream_with(
    protocol: Protocol,
    options: &DecodeOptions,
    mut input: impl Read,
    mut out: impl Write,
) -> io::Result<Stats> {
    let mut framer = Framer::new(protocol, DEFAULT_MAX_FRAME);
    let mut options = options.clone();
    let mut stats = Stats::default();
    let mut buf = [0u8; 4096];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        framer.push(&buf[..n]);
        while let Some(r) = framer.next_frame() {
            emit(r, &mut options, &mut stats, &mut out)?;
        }
    }
    while let Some(r) = framer.finish() {
        emit(r, &mut options, &mut stats, &mut out)?;
    }
    stats.skipped_bytes = framer.skipped_bytes();
    out.flush()?;
    Ok(stats)
}

fn emit(
    r: Result<Frame, crate::FrameError>,
    options: &mut DecodeOptions,
    stats: &mut Stats,
    out: &mut impl Write,
) -> io::Result<()> {
    let line = match r {
        Ok(frame) => {
            stats.frames += 1;
            match decode_with(&frame, options) {
                Ok(msg) => {
                    stats.messages += 1;
                    remember_login(&frame, &msg, options);
                    serde_json::to_string(&msg).map_err(io::Error::other)?
                }
                Err(e) => {
                    stats.errors += 1;
                    error_line(e.code(), e.zh(), e.en())
                }
            }
        }
        Err(e) => {
            stats.errors += 1;
            error_line(e.code(), e.zh(), e.en())
        }
    };
    out.write_all(line.as_bytes())?;
    out.write_all(b"\n")
}

fn remember_login(frame: &Frame, msg: &WatchMessage, options: &mut DecodeOptions) {
    if frame.protocol == Protocol::Iw && msg.kind.eq_ignore_ascii_case("AP00") {
        options.device_id.clone_from(&msg.device_id);
    }
}

fn error_line(code: &str, zh: String, en: String) -> String {
    serde_json::json!({ "error": code, "message": zh, "message_en": en }).to_string()
}
