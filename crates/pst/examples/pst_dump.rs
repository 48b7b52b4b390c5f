//! Reads PST files and prints counts per file (and the time taken).
#![allow(clippy::print_stdout)]
use std::ops::ControlFlow;

use mailshift_model::{Item, Source};
use mailshift_pst::{PstOptions, PstSource};

fn main() {
    let verbose = std::env::var_os("VERBOSE").is_some();
    let start = std::time::Instant::now();
    for arg in std::env::args().skip(1) {
        let t = std::time::Instant::now();
        let pst = match PstSource::open(arg.as_ref(), PstOptions::default()) {
            Ok(p) => p,
            Err(e) => {
                println!("{arg}: ERROR {e}");
                continue;
            }
        };
        let mut findings = Vec::new();
        let (mut mail, mut skipped, mut other) = (0, 0, 0);
        for unit in pst.units(&mut findings).unwrap_or_default() {
            let r = pst.read_unit(&unit, &mut |item| {
                match item {
                    Item::Message(m) => {
                        mail += 1;
                        if verbose {
                            let subj = m
                                .raw
                                .split(|&c| c == b'\n')
                                .find(|l| l.starts_with(b"Subject:"))
                                .map(|l| String::from_utf8_lossy(l).trim().to_string());
                            println!(
                                "  [{}] {:?} {} bytes flags={} {:?}",
                                unit.folder.key(),
                                subj,
                                m.raw.len(),
                                m.envelope.flags.maildir_letters(),
                                m.envelope.received
                            );
                        }
                    }
                    Item::Skipped(f) => {
                        skipped += 1;
                        println!("  skipped: {f}");
                    }
                    Item::Finding(f) => {
                        other += 1;
                        println!("  finding: {f}");
                    }
                }
                ControlFlow::Continue(())
            });
            if let Err(e) = r {
                println!("  unit error: {e}");
            }
        }
        let inv = pst.inventory().map(|i| format!("{i:?}")).unwrap_or_else(|e| e.to_string());
        println!(
            "{arg}: mail={mail} skipped={skipped} findings={other} unit-findings={} in {:?}\n  {inv}",
            findings.len(),
            t.elapsed()
        );
    }
    println!("total {:?}", start.elapsed());
}
