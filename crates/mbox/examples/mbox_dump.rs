//! Prints, per message of an mbox file, its offset, size and how it ends
//! (a debugging aid: `cargo run -p mailshift-mbox --example mbox_dump FILE`).
#![allow(clippy::print_stdout)]

use mailshift_mbox::{MboxReadOptions, MboxReader};
use mailshift_model::Item;

fn main() {
    let path = std::env::args().nth(1).expect("usage: mbox_dump FILE");
    let file = std::io::BufReader::new(std::fs::File::open(&path).expect("open"));
    for item in MboxReader::new(file, MboxReadOptions::default()) {
        match item.expect("read") {
            Item::Message(m) => {
                let tail = &m.raw[m.raw.len().saturating_sub(12)..];
                println!(
                    "{:>8} {:>8} {:?}",
                    m.envelope.origin.offset.unwrap_or(0),
                    m.raw.len(),
                    String::from_utf8_lossy(tail)
                );
            }
            Item::Skipped(f) | Item::Finding(f) => println!("{f}"),
        }
    }
}
