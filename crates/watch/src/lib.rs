//! zhulao-watch: pure framer, decoder, reply builder and command encoder for elderly-care watches.
//!
//! Most affordable Chinese elderly-care watches speak one of two text protocols over TCP:
//!
//! * **3G** (the "SeTracker"/Beesure family): frames `[MK*<device id>*<len>*<content>]`, where `MK`
//!   is a two-character maker code (`3G`, `SG`, `CS`, `ZJ` …) and `<len>` four hex digits;
//! * **IW**: frames `IWAPxx…#` from the watch, answered by `IWBPxx…#` from the server.
//!
//! The formats follow the open-source Traccar server's decoders (`WatchFrameDecoder`,
//! `WatchProtocolDecoder`, `WatchProtocolEncoder` for 3G, `TrvProtocolDecoder` for IW); see the
//! crate's README for the message table, the time-zone rules and the sources.
//!
//! Invariant: this crate never does I/O (except [`decode_stream`], which only reads and writes the
//! streams it is handed), never reads a clock, is not async and never panics on any input. Memory
//! per connection is bounded by the [`Framer`]'s cap.
//!
//! ```
//! use zhulao_watch::{Framer, Protocol, decode};
//! let mut framer = Framer::new(Protocol::Watch3g, zhulao_watch::DEFAULT_MAX_FRAME);
//! framer.push(b"[3G*4700186508*000B*LK,0,10,100]");
//! let frame = framer.next_frame().unwrap().unwrap();
//! let msg = decode(&frame).unwrap();
//! assert_eq!(msg.battery, Some(100));
//! assert_eq!(msg.reply.as_deref(), Some("[3G*4700186508*0002*LK]"));
//! ```

mod command;
mod decode;
mod error;
mod fields;
mod frame;
mod message;
mod stream;

pub use command::{Contact, Target, WatchCommand, confirmations, encode_command, encode_for};
pub use decode::{DecodeOptions, decode, decode_with};
pub use error::{CommandError, FrameError, WatchError};
pub use frame::{DEFAULT_MAX_FRAME, Frame, Framer};
pub use message::{Alarm, CellTower, Confirmation, WatchMessage, Wifi};
pub use stream::{Stats, decode_stream, decode_stream_with};

use serde::Serialize;

/// Which of the two watch protocols a connection speaks (one TCP port per protocol).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Protocol {
    /// `[MK*ID*LEN*CONTENT]` frames (SeTracker / Beesure family, Traccar's "watch").
    #[serde(rename = "3g")]
    Watch3g,
    /// `IWAPxx…#` frames (Traccar's "trv" decoder, IW prefix).
    #[serde(rename = "iw")]
    Iw,
}

impl Protocol {
    /// The name used on the command line and in JSON: `3g` or `iw`.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Watch3g => "3g",
            Protocol::Iw => "iw",
        }
    }
}

impl std::str::FromStr for Protocol {
    type Err = String;

    /// Parses `3g` or `iw` (any case).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "3g" | "watch" | "setracker" => Ok(Protocol::Watch3g),
            "iw" => Ok(Protocol::Iw),
            other => Err(format!(
                "未知的手表协议“{other}”，应为 3g 或 iw / unknown watch protocol '{other}': use 3g or iw"
            )),
        }
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
