//! Fuzzes every payload decoder: the first byte picks the kind (all ten, uplink and downlink),
//! the rest is the payload. Nothing may panic; whatever decodes must re-encode to an accepted
//! message equal to it (a motion batch to the very same bytes).
#![no_main]

use libfuzzer_sys::fuzz_target;
use zhulao_proto::{Kind, Uplink, decode_downlink, decode_uplink};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, payload)) = data.split_first() else { return };
    let kind = Kind::ALL[usize::from(selector) % Kind::ALL.len()];
    match decode_uplink(kind, payload) {
        Ok(Uplink::Motion(m)) => assert_eq!(m.encode(), payload),
        Ok(u) => assert_eq!(decode_uplink(kind, &u.encode()), Ok(u)),
        Err(e) => assert!(!e.code().is_empty() && !e.zh().is_empty() && !e.en().is_empty()),
    }
    if let Ok(d) = decode_downlink(kind, payload) {
        assert_eq!(decode_downlink(kind, &d.encode()), Ok(d));
    }
});
