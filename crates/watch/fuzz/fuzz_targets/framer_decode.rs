//! Fuzz target: arbitrary bytes, cut into arbitrary reads, through the framer and the decoder of
//! both protocols. Checks that nothing panics, the buffer stays within its cap and decoded
//! coordinates are in range.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zhulao_watch::{DecodeOptions, Framer, Protocol, decode_with};

fuzz_target!(|data: &[u8]| {
    let Some((&control, bytes)) = data.split_first() else { return };
    let protocol = if control & 1 == 0 { Protocol::Watch3g } else { Protocol::Iw };
    // Cap between 64 bytes and 16 KiB, read sizes between 1 and 64 bytes.
    let max = 64usize << (control >> 1 & 0x7);
    let chunk = usize::from(control >> 4) * 4 + 1;
    let options = DecodeOptions::default();
    let mut framer = Framer::new(protocol, max);
    let mut check = |framer: &mut Framer| {
        while let Some(r) = framer.next_frame() {
            if let Ok(frame) = r {
                assert!(frame.raw.len() <= framer.max_frame());
                if let Ok(m) = decode_with(&frame, &options) {
                    assert!(m.lat.is_none_or(|v| v.abs() <= 90.0));
                    assert!(m.lon.is_none_or(|v| v.abs() <= 180.0));
                }
            }
        }
        assert!(framer.buffered() <= framer.max_frame());
    };
    for piece in bytes.chunks(chunk) {
        framer.push(piece);
        check(&mut framer);
    }
    while framer.finish().is_some() {}
});
