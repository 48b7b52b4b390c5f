//! The transfer encodings a generated message uses: RFC 2047 encoded words
//! (UTF-8 in B and Q, ISO-8859-1 in Q, ISO-2022-JP in B), quoted-printable
//! (RFC 2045 §6.7) and base64 bodies wrapped at 76 columns.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

/// A header charset for non-ASCII text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WordCharset {
    Utf8B,
    Utf8Q,
    Latin1Q,
    Iso2022JpB,
}

/// Encodes `text` as one or more encoded words joined by folding white
/// space, or `None` when the charset cannot represent it.
pub(crate) fn encoded_words(text: &str, cs: WordCharset) -> Option<String> {
    let words: Vec<String> = match cs {
        WordCharset::Utf8B => chunks(text, 45)
            .into_iter()
            .map(|c| format!("=?UTF-8?B?{}?=", STANDARD.encode(c.as_bytes())))
            .collect(),
        WordCharset::Utf8Q => {
            chunks(text, 20).into_iter().map(|c| format!("=?UTF-8?Q?{}?=", q_word(c.as_bytes()))).collect()
        }
        WordCharset::Latin1Q => {
            let mut out = Vec::new();
            for c in chunks(text, 30) {
                out.push(format!("=?ISO-8859-1?Q?{}?=", q_word(&latin1(c)?)));
            }
            out
        }
        WordCharset::Iso2022JpB => {
            let mut out = Vec::new();
            for c in chunks(text, 24) {
                out.push(format!("=?ISO-2022-JP?B?{}?=", STANDARD.encode(iso2022jp(c)?)));
            }
            out
        }
    };
    Some(words.join("\n "))
}

/// Splits at character boundaries into pieces of at most `max` bytes.
fn chunks(text: &str, max: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut last = 0;
    for (i, ch) in text.char_indices() {
        let end = i + ch.len_utf8();
        if end - start > max && last > start {
            out.push(&text[start..last]);
            start = last;
        }
        last = end;
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

fn q_word(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        match b {
            b' ' => s.push('_'),
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'!' | b'*' | b'+' | b'-' | b'/' => s.push(b as char),
            _ => s.push_str(&format!("={b:02X}")),
        }
    }
    s
}

/// ISO-8859-1 bytes of `text`, or `None` if a character is outside Latin-1.
pub(crate) fn latin1(text: &str) -> Option<Vec<u8>> {
    text.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect()
}

/// ISO-2022-JP for the kana-only text the generator uses (hiragana, katakana,
/// the long-vowel mark and the ideographic space): JIS X 0208 rows 1, 4, 5.
pub(crate) fn iso2022jp(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() + 6);
    let mut in_jis = false;
    for ch in text.chars() {
        let c = u32::from(ch);
        let jis = match c {
            0x3041..=0x3093 => Some(0x2421 + (c - 0x3041)),
            0x30A1..=0x30F6 => Some(0x2521 + (c - 0x30A1)),
            0x30FC => Some(0x213C),
            0x3000 => Some(0x2121),
            0x3001 => Some(0x2122),
            0x3002 => Some(0x2123),
            _ => None,
        };
        match jis {
            Some(code) => {
                if !in_jis {
                    out.extend_from_slice(b"\x1b$B");
                    in_jis = true;
                }
                out.push((code >> 8) as u8);
                out.push((code & 0xFF) as u8);
            }
            None if c < 0x80 => {
                if in_jis {
                    out.extend_from_slice(b"\x1b(B");
                    in_jis = false;
                }
                out.push(c as u8);
            }
            None => return None,
        }
    }
    if in_jis {
        out.extend_from_slice(b"\x1b(B");
    }
    Some(out)
}

/// Quoted-printable body encoding of LF-separated text; the result uses LF
/// line ends and soft breaks so that no line passes 76 characters.
pub(crate) fn quoted_printable(body: &[u8], out: &mut Vec<u8>) {
    for line in body.split(|&b| b == b'\n') {
        let mut col = 0;
        for (i, &b) in line.iter().enumerate() {
            let last = i + 1 == line.len();
            let literal = matches!(b, 33..=60 | 62..=126) || (matches!(b, b' ' | b'\t') && !last);
            let width = if literal { 1 } else { 3 };
            if col + width > 75 {
                out.extend_from_slice(b"=\n");
                col = 0;
            }
            if literal {
                out.push(b);
            } else {
                out.extend_from_slice(format!("={b:02X}").as_bytes());
            }
            col += width;
        }
        out.push(b'\n');
    }
    // One LF too many: after the last piece (empty when `body` ends in LF).
    out.pop();
}

/// Base64 of `bytes` in lines of 76 characters, each ending in LF.
pub(crate) fn base64_lines(bytes: &[u8], out: &mut Vec<u8>) {
    for chunk in bytes.chunks(57) {
        out.extend_from_slice(STANDARD.encode(chunk).as_bytes());
        out.push(b'\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso2022jp_switches_and_returns_to_ascii() {
        assert_eq!(iso2022jp("こん a").unwrap(), b"\x1b$B\x24\x33\x24\x73\x1b(B a".to_vec());
        assert!(iso2022jp("漢").is_none());
    }

    #[test]
    fn qp_escapes_and_soft_breaks() {
        let mut out = Vec::new();
        quoted_printable("Grüße = ok \nx".as_bytes(), &mut out);
        assert_eq!(out, b"Gr=C3=BC=C3=9Fe =3D ok=20\nx".to_vec());
        let mut long = Vec::new();
        quoted_printable(&[b'a'; 200], &mut long);
        assert!(long.split(|&b| b == b'\n').all(|l| l.len() <= 76));
        assert_eq!(long.iter().filter(|&&b| b == b'a').count(), 200);
    }

    #[test]
    fn encoded_words_stay_short() {
        let s =
            encoded_words("Überweisung für die Rechnung Nr. 2023-0042 über 1.250,00 €", WordCharset::Utf8B)
                .unwrap();
        assert!(s.split("\n ").all(|w| w.len() <= 75), "{s}");
        assert!(encoded_words("€", WordCharset::Latin1Q).is_none());
    }
}
