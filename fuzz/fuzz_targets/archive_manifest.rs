//! The manifest reader on arbitrary bytes: never panics, and every line it
//! accepts serialises back to a line it accepts again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailshift_archive::manifest::{Manifest, Record};

fuzz_target!(|data: &[u8]| {
    let Ok(m) = Manifest::parse(data) else { return };
    for r in &m.records {
        let line = serde_json::to_vec(r).expect("a parsed record serialises");
        let back: Record = serde_json::from_slice(&line).expect("and parses again");
        assert_eq!(&back, r);
    }
    let _ = m.messages().map(|msg| msg.flags()).count();
});
