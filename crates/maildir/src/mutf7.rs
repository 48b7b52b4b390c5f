//! Modified UTF-7, the IMAP mailbox-name encoding of RFC 3501 §5.1.3, which
//! Dovecot and Courier also use for Maildir++ folder names on disk.
//!
//! Printable US-ASCII (0x20–0x7e) stands for itself except `&`, written
//! `&-`; everything else is UTF-16BE in base64 (with `,` instead of `/`, no
//! padding) between `&` and `-`.
//!
//! The decoder is strict the way Dovecot's is: an encoded run that holds
//! printable ASCII, has left-over bits, an unpaired surrogate or no closing
//! `-` is invalid. Dovecot shows such a name as it is on disk, and so does
//! [`crate::name::decode_folder`] (it falls back to the literal name).
//! (The `utf7-imap` crate was considered: it panics on bad base64 and passes
//! DEL through unencoded, so a small codec lives here instead.)

use base64::alphabet::Alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;

const ALPHABET: Alphabet =
    match Alphabet::new("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,") {
        Ok(a) => a,
        Err(_) => panic!("invalid modified base64 alphabet"),
    };

const ENGINE: GeneralPurpose = GeneralPurpose::new(
    &ALPHABET,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

fn is_direct(c: char) -> bool {
    (' '..='~').contains(&c)
}

/// Encodes a Unicode name in modified UTF-7.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 8);
    let mut pending: Vec<u16> = Vec::new();
    let mut units = [0u16; 2];
    for c in name.chars() {
        if is_direct(c) {
            flush(&mut out, &mut pending);
            out.push(c);
            if c == '&' {
                out.push('-');
            }
        } else {
            pending.extend_from_slice(c.encode_utf16(&mut units));
        }
    }
    flush(&mut out, &mut pending);
    out
}

fn flush(out: &mut String, pending: &mut Vec<u16>) {
    if pending.is_empty() {
        return;
    }
    let bytes: Vec<u8> = pending.iter().flat_map(|u| u.to_be_bytes()).collect();
    out.push('&');
    ENGINE.encode_string(&bytes, out);
    out.push('-');
    pending.clear();
}

/// Decodes a modified UTF-7 name; `None` when it is not valid (see the
/// module docs for what counts as invalid).
pub fn decode(name: &str) -> Option<String> {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(amp) = rest.find('&') {
        let direct = &rest[..amp];
        if !direct.chars().all(is_direct) {
            return None;
        }
        out.push_str(direct);
        let after = &rest[amp + 1..];
        let end = after.find('-')?;
        let b64 = &after[..end];
        if b64.is_empty() {
            out.push('&');
        } else {
            let bytes = ENGINE.decode(b64).ok()?;
            if bytes.len() % 2 != 0 {
                return None;
            }
            let units = bytes.chunks_exact(2).map(|p| u16::from_be_bytes([p[0], p[1]]));
            for c in char::decode_utf16(units) {
                let c = c.ok()?;
                if is_direct(c) {
                    return None; // printable ASCII must stand for itself
                }
                out.push(c);
            }
        }
        rest = &after[end + 1..];
    }
    if !rest.chars().all(is_direct) {
        return None;
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_encodings() {
        // Examples from RFC 3501 §5.1.3 and from Dovecot folders seen in the wild.
        assert_eq!(encode("~peter/mail/台北/日本語"), "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
        assert_eq!(encode("Отправленные"), "&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-");
        assert_eq!(encode("Entwürfe"), "Entw&APw-rfe");
        assert_eq!(encode("A&B"), "A&-B");
        assert_eq!(encode("tab\there"), "tab&AAk-here");
        assert_eq!(encode("del\u{7f}"), "del&AH8-");
        assert_eq!(encode("😀"), "&2D3eAA-");
        assert_eq!(decode("~peter/mail/&U,BTFw-/&ZeVnLIqe-").unwrap(), "~peter/mail/台北/日本語");
        assert_eq!(decode("A&-B").unwrap(), "A&B");
    }

    #[test]
    fn invalid_input_is_refused_not_guessed() {
        for bad in ["&AC4-", "a&Jjo", "&2D0-", "&AOk", "&AOkA-", "é", "&,,,-", "x\ty", "&AGEAYgBj-"] {
            assert_eq!(decode(bad), None, "{bad:?} should be invalid");
        }
    }

    proptest::proptest! {
        #[test]
        fn round_trips(s in "\\PC*|[\\x00-\\x7f&~./\\\\]*") {
            let e = encode(&s);
            proptest::prop_assert!(e.chars().all(is_direct));
            proptest::prop_assert_eq!(decode(&e), Some(s));
        }

        #[test]
        fn decode_never_panics(s in "\\PC*|[&\\-A-Za-z0-9+,]*") {
            let _ = decode(&s);
        }
    }
}
