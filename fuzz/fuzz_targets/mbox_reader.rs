//! The mbox reader on arbitrary bytes, in every variant: must never panic,
//! must account for every byte it was given, and what it reads must write
//! back and read again to the same messages.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailshift_mbox::{MboxReadOptions, MboxReader, MboxVariant};
use mailshift_model::Item;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else { return };
    let variant = match selector % 5 {
        0 => None,
        1 => Some(MboxVariant::MboxO),
        2 => Some(MboxVariant::MboxRd),
        3 => Some(MboxVariant::MboxCl),
        _ => Some(MboxVariant::MboxCl2),
    };
    let opts = MboxReadOptions {
        variant,
        include_deleted: selector & 8 != 0,
        keep_mbox_headers: selector & 16 != 0,
    };
    // a small buffer, so that lines straddle buffer boundaries
    let reader = MboxReader::new(std::io::BufReader::with_capacity(16, bytes), opts.clone());
    let mut messages = Vec::new();
    for item in reader {
        let item = item.expect("reading a slice cannot fail");
        if let Item::Message(m) = item {
            assert!(m.raw.len() <= bytes.len());
            assert!(m.envelope.origin.offset.is_some_and(|o| o <= bytes.len() as u64));
            messages.push(m);
        }
    }
    // mboxrd written by mailshift reads back to the same bytes (for messages
    // that end their last line: the others round-trip only when they have a
    // body, see the writer's docs)
    messages.retain(|m| m.raw.ends_with(b"\n"));
    let mut out = Vec::new();
    for m in &messages {
        mailshift_mbox::write_message(&mut out, m);
    }
    let again: Vec<Vec<u8>> = MboxReader::new(&out[..], MboxReadOptions::default())
        .filter_map(|i| match i.expect("slice") {
            Item::Message(m) => Some(m.raw),
            _ => None,
        })
        .collect();
    if !opts.keep_mbox_headers {
        let raws: Vec<&Vec<u8>> = messages.iter().map(|m| &m.raw).collect();
        assert_eq!(again.iter().collect::<Vec<_>>(), raws);
    }
});
