//! Turning an address book's bytes into text: byte-order marks, UTF-16
//! without a mark, UTF-8, and legacy code pages guessed with `chardetng`
//! (Shift_JIS, windows-1252, ...). Decoding never fails; the encoding that
//! was used is returned so a finding can name it.

use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, UTF_8};

/// Decoded text and the encoding it was read as.
#[derive(Debug, Clone)]
pub struct Decoded {
    pub text: String,
    pub encoding: &'static Encoding,
    /// Some bytes were not valid in `encoding` and became U+FFFD.
    pub had_errors: bool,
}

/// Guesses UTF-16 without a byte-order mark from the zero bytes of mostly
/// ASCII text (Windows "Unicode" CSV exports).
fn sniff_utf16(bytes: &[u8]) -> Option<&'static Encoding> {
    let sample = &bytes[..bytes.len().min(4096) & !1];
    if sample.len() < 4 {
        return None;
    }
    let pairs = sample.len() / 2;
    let even_zero = sample.chunks_exact(2).filter(|c| c[0] == 0 && c[1] != 0).count();
    let odd_zero = sample.chunks_exact(2).filter(|c| c[1] == 0 && c[0] != 0).count();
    if odd_zero * 10 >= pairs * 8 {
        Some(UTF_16LE)
    } else if even_zero * 10 >= pairs * 8 {
        Some(UTF_16BE)
    } else {
        None
    }
}

/// The encoding `chardetng` guesses for bytes that are not UTF-8.
pub fn guess_legacy(bytes: &[u8]) -> &'static Encoding {
    let mut det = chardetng::EncodingDetector::new();
    det.feed(bytes, true);
    det.guess(None, true)
}

/// Decodes a whole file: BOM first, then UTF-16 sniffing, then UTF-8, then
/// a guessed legacy encoding.
pub fn decode(bytes: &[u8]) -> Decoded {
    if let Some((enc, bom_len)) = Encoding::for_bom(bytes) {
        let (text, had_errors) = enc.decode_without_bom_handling(&bytes[bom_len..]);
        return Decoded { text: text.into_owned(), encoding: enc, had_errors };
    }
    if let Some(enc) = sniff_utf16(bytes) {
        let (text, had_errors) = enc.decode_without_bom_handling(bytes);
        return Decoded { text: text.into_owned(), encoding: enc, had_errors };
    }
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Decoded { text: s.to_owned(), encoding: UTF_8, had_errors: false };
    }
    let enc = guess_legacy(bytes);
    let (text, had_errors) = enc.decode_without_bom_handling(bytes);
    Decoded { text: text.into_owned(), encoding: enc, had_errors }
}

/// True when the bytes look like text at all (few control bytes), used to
/// refuse binary junk before trying to read it as an address book.
pub fn looks_binary(bytes: &[u8]) -> bool {
    if Encoding::for_bom(bytes).is_some() || sniff_utf16(bytes).is_some() {
        return false;
    }
    let sample = &bytes[..bytes.len().min(8192)];
    let ctl = sample.iter().filter(|&&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0c)).count();
    ctl * 20 > sample.len().max(1)
}

/// Reports text outside any card or calendar: names the line (searching
/// forward, so a long file stays linear) and stops listing after a hundred,
/// counting the rest in one last finding.
#[derive(Debug)]
pub struct Garbage<'a> {
    lines: Vec<&'a str>,
    next: usize,
    reported: usize,
    origin: mailshift_model::Location,
    what: &'static str,
}

const MAX_GARBAGE_FINDINGS: usize = 100;

impl<'a> Garbage<'a> {
    pub fn new(text: &'a str, origin: &mailshift_model::Location, what: &'static str) -> Self {
        Garbage { lines: text.lines().collect(), next: 0, reported: 0, origin: origin.clone(), what }
    }

    pub fn line(&mut self, line: &str, findings: &mut Vec<mailshift_model::Finding>) {
        let want = line.trim_end();
        let found = self.lines[self.next.min(self.lines.len())..].iter().position(|x| x.trim_end() == want);
        let n = found.map(|i| {
            self.next += i + 1;
            self.next
        });
        self.reported += 1;
        if self.reported > MAX_GARBAGE_FINDINGS {
            return;
        }
        let at = n.map(|n| format!("line {n}: ")).unwrap_or_default();
        let short: String = want.chars().take(60).collect();
        findings.push(mailshift_model::Finding::warning(
            mailshift_model::FindingKind::Garbage,
            self.origin.clone(),
            format!("{at}text outside any {} was ignored: {short}", self.what),
        ));
    }

    /// The summary finding for lines past the first hundred.
    pub fn finish(self, findings: &mut Vec<mailshift_model::Finding>) {
        if self.reported > MAX_GARBAGE_FINDINGS {
            findings.push(mailshift_model::Finding::warning(
                mailshift_model::FindingKind::Garbage,
                self.origin,
                format!(
                    "{} more lines outside any {} were ignored",
                    self.reported - MAX_GARBAGE_FINDINGS,
                    self.what
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_without_bom_is_found() {
        let bytes: Vec<u8> = "Name,Email\r\n".encode_utf16().flat_map(u16::to_le_bytes).collect();
        let d = decode(&bytes);
        assert_eq!(d.text, "Name,Email\r\n");
        assert_eq!(d.encoding, UTF_16LE);
    }

    #[test]
    fn shift_jis_is_guessed() {
        let (bytes, _, _) = encoding_rs::SHIFT_JIS.encode("安藤ロイド,山田太郎,東京都千代田区");
        let d = decode(&bytes);
        assert_eq!(d.encoding, encoding_rs::SHIFT_JIS);
        assert!(d.text.starts_with("安藤ロイド"));
    }

    #[test]
    fn junk_is_binary() {
        assert!(looks_binary(&[0u8, 1, 2, 3, 4, 5, 0xff, 0xfe, 7, 8]));
        assert!(!looks_binary(b"BEGIN:VCARD\r\n"));
    }
}
