//! The maildir name parsers on arbitrary strings: `parse_file_name`,
//! `decode_folder` (both layouts) and the modified UTF-7 decoder must never
//! panic; what `decode_folder` returns must encode to a name that stays
//! inside the root and decodes back to the same folder.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailshift_maildir::{mutf7, name, Layout};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Some(p) = name::parse_file_name(s) {
        assert!(s.starts_with(p.unique));
        assert!(!p.unique.contains([':', ',', '/']));
        let _ = name::leading_time(p.unique);
        let _ = name::flags_from_letters(p.flags, |_| None);
    }
    if let Some(d) = mutf7::decode(s) {
        assert_eq!(mutf7::decode(&mutf7::encode(&d)), Some(d));
    }
    for layout in [Layout::MaildirPlusPlus, Layout::Fs] {
        let Some(folder) = name::decode_folder(s, layout) else { continue };
        for utf8 in [false, true] {
            // Decoded names may hold what the writer refuses (`..`): that
            // must be a refusal, never a path outside the root.
            let Ok(enc) = name::encode_folder(&folder, layout, utf8) else { continue };
            assert!(!enc.starts_with('/'));
            assert!(enc.split('/').all(|c| c != ".." && c != "."));
            if !folder.is_inbox() {
                let back = name::decode_folder(&enc, layout).expect("an encoded name decodes");
                assert_eq!(back.segments, folder.segments);
            }
        }
    }
});
