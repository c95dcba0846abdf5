//! Fuzzes topic parsing: the first byte picks the root, the rest is the topic. Nothing may
//! panic, and a topic that parses must be exactly the one `topic()` builds for it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zhulao_proto::{parse_topic, shard_of, topic};

const ROOTS: [&str; 3] = ["zl", "", "prod/zl"];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let Ok(name) = std::str::from_utf8(rest) else { return };
    let root = ROOTS[usize::from(selector) % ROOTS.len()];
    if let Ok(t) = parse_topic(root, name) {
        assert_eq!(topic(root, t.serial, t.dir, t.kind), name);
        assert_eq!(t.shard, shard_of(t.serial));
    }
});
