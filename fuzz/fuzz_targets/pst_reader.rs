//! The PST reader on arbitrary bytes: open (strict and recovering) and walk
//! every unit, the inventory and every item. Must never panic or abort.
#![no_main]

use std::ops::ControlFlow;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use mailshift_model::Source;
use mailshift_pst::{PstOptions, PstSource};

fuzz_target!(|data: &[u8]| {
    for recover in [false, true] {
        let Ok(src) = PstSource::from_bytes(Path::new("fuzz.pst"), data.to_vec(), PstOptions { recover }) else {
            continue;
        };
        let mut findings = Vec::new();
        if let Ok(units) = src.units(&mut findings) {
            for unit in units {
                let _ = src.read_unit(&unit, &mut |_| ControlFlow::Continue(()));
            }
        }
        let _ = src.inventory();
        let _ = src.items_of_class("", &mut |_| {});
    }
});
