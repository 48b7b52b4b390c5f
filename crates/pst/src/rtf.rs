//! De-encapsulating HTML or plain text from RTF (MS-OXRTFEX 2.1.3): text
//! inside `{\*\htmltag ...}` groups and plain text outside `\htmlrtf`
//! regions is the original; everything else is RTF's own rendering.

use crate::value::decode_8bit;

/// Destinations whose text is never part of the original.
const SKIPPED: &[&str] = &[
    "fonttbl",
    "colortbl",
    "stylesheet",
    "info",
    "pict",
    "mhtmltag",
    "generator",
    "listtable",
    "listoverridetable",
    "rsidtbl",
    "themedata",
    "datastore",
    "latentstyles",
];

struct Out {
    text: String,
    bytes: Vec<u8>,
    cp: u32,
}

impl Out {
    fn flush(&mut self) {
        if !self.bytes.is_empty() {
            let b = std::mem::take(&mut self.bytes);
            self.text.push_str(&decode_8bit(&b, self.cp));
        }
    }
    fn byte(&mut self, b: u8) {
        self.bytes.push(b);
    }
    fn ch(&mut self, c: char) {
        self.flush();
        self.text.push(c);
    }
    fn str(&mut self, s: &str) {
        self.flush();
        self.text.push_str(s);
    }
}

#[derive(Clone, Copy, Default)]
struct Group {
    skip: bool,
    htmltag: bool,
    uc: usize,
}

/// The HTML or text that `rtf` encapsulates.
pub fn deencapsulate(rtf: &str) -> String {
    let b = rtf.as_bytes();
    let mut out = Out { text: String::new(), bytes: Vec::new(), cp: 1252 };
    let mut stack: Vec<Group> = Vec::new();
    let mut g = Group { uc: 1, ..Group::default() };
    let mut suppressed = false;
    let mut skip_chars = 0usize;
    let mut i = 0;
    let mut star = false;
    while i < b.len() {
        let c = b[i];
        let emit = |g: &Group, suppressed: bool| !g.skip && (g.htmltag || !suppressed);
        match c {
            b'{' => {
                if stack.len() < 4096 {
                    stack.push(g);
                }
                g.htmltag = false;
                star = false;
                i += 1;
            }
            b'}' => {
                out.flush();
                g = stack.pop().unwrap_or(g);
                i += 1;
            }
            b'\\' => {
                i += 1;
                let Some(&n) = b.get(i) else { break };
                if n.is_ascii_alphabetic() {
                    let start = i;
                    while i < b.len() && b[i].is_ascii_alphabetic() {
                        i += 1;
                    }
                    let word = &rtf[start..i];
                    let nstart = i;
                    if i < b.len() && (b[i] == b'-' || b[i].is_ascii_digit()) {
                        i += 1;
                        while i < b.len() && b[i].is_ascii_digit() {
                            i += 1;
                        }
                    }
                    let param: Option<i64> = rtf[nstart..i].parse().ok();
                    if i < b.len() && b[i] == b' ' {
                        i += 1;
                    }
                    match word {
                        "htmltag" => {
                            g.htmltag = true;
                            g.skip = false;
                        }
                        "htmlrtf" => suppressed = param != Some(0),
                        "ansicpg" => out.cp = param.and_then(|p| u32::try_from(p).ok()).unwrap_or(1252),
                        "uc" => g.uc = param.and_then(|p| usize::try_from(p).ok()).unwrap_or(1).min(8),
                        "u" => {
                            if emit(&g, suppressed) {
                                let v = param.unwrap_or(0);
                                let v = if v < 0 { v + 65536 } else { v };
                                out.ch(u32::try_from(v).ok().and_then(char::from_u32).unwrap_or('\u{FFFD}'));
                            }
                            skip_chars = g.uc;
                        }
                        "par" | "line" if emit(&g, suppressed) && !g.htmltag => out.str("\r\n"),
                        "tab" if emit(&g, suppressed) => out.ch('\t'),
                        w if (star || SKIPPED.contains(&w)) && !g.htmltag => g.skip = true,
                        _ => {}
                    }
                    star = false;
                    continue;
                }
                i += 1;
                match n {
                    b'*' => star = true,
                    b'\'' => {
                        let hex = rtf.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok());
                        i += 2;
                        if skip_chars > 0 {
                            skip_chars -= 1;
                        } else if let Some(v) = hex {
                            if emit(&g, suppressed) {
                                out.byte(v);
                            }
                        }
                    }
                    b'{' | b'}' | b'\\' if emit(&g, suppressed) => out.byte(n),
                    b'~' if emit(&g, suppressed) => out.ch('\u{A0}'),
                    _ => {}
                }
            }
            b'\r' | b'\n' => i += 1,
            _ => {
                if skip_chars > 0 {
                    skip_chars -= 1;
                } else if emit(&g, suppressed) {
                    out.byte(c);
                }
                i += 1;
            }
        }
    }
    out.flush();
    out.text
}

/// MS-OXRTFCP's initial dictionary: the first 207 bytes of the 4 KiB ring.
const INITIAL_DICTIONARY: &[u8; 207] = b"{\\rtf1\\ansi\\mac\\deff0\\deftab720{\\fonttbl;}{\\f0\\fnil \\froman \\fswiss \\fmodern \\fscript \\fdecor MS Sans SerifSymbolArialTimes New RomanCourier{\\colortbl\\red0\\green0\\blue0\r\n\\par \\pard\\plain\\f0\\fs20\\b\\i\\u\\tab\\tx";

/// Decompresses PR_RTF_COMPRESSED (MS-OXRTFCP): `None` where
/// `compressed_rtf::decompress_rtf` fails, else the same text (bytes up to
/// the first NUL, each byte one char U+0000..U+00FF).
///
/// Ours because the crate's decoder allocated a vector per dictionary
/// reference and checked the CRC a byte at a time: on an OST whose bodies
/// are RTF only, that was 12% of a conversion. Callers check the header
/// first (at least 16 bytes; a `MELA` size within the data). The output
/// is bounded by the input: a 2-byte reference yields at most 17 bytes.
pub(crate) fn decompress(data: &[u8]) -> Option<String> {
    let head = data.get(..16)?;
    let word = |i: usize| u32::from_le_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]);
    let (comp_size, raw_size, kind, crc) = (word(0), word(4), word(8), word(12));
    if usize::try_from(comp_size).ok()?.checked_add(4)? != data.len() {
        return None;
    }
    let body = &data[16..];
    let decoded;
    let out: &[u8] = match kind {
        // "LZFu"
        0x7546_5A4C => {
            if crate::header::pst_crc(body) != crc {
                return None;
            }
            // The 4 KiB dictionary is a window on everything written: `buf`
            // holds the dictionary's initial state, rotated so that the
            // next byte (ring position 207) lands at index 4096, then the
            // output. Ring position `p` was last written at index
            // `len - (write - p) % 4096`: a reference is a copy from the
            // output itself, with no ring to keep up to date.
            let mut buf = vec![0u8; 4096 - INITIAL_DICTIONARY.len()];
            buf.extend_from_slice(INITIAL_DICTIONARY);
            buf.reserve((raw_size as usize).min(body.len().saturating_mul(9)));
            let mut i = 0;
            'run: while let Some(&control) = body.get(i) {
                i += 1;
                for bit in 0..8 {
                    if control & (1 << bit) == 0 {
                        let Some(&b) = body.get(i) else { break 'run };
                        i += 1;
                        buf.push(b);
                    } else {
                        // A truncated reference is an error, as in the crate.
                        let r = u16::from_be_bytes([*body.get(i)?, *body.get(i + 1)?]);
                        i += 2;
                        let write = (buf.len() + INITIAL_DICTIONARY.len()) % 4096;
                        let back = (write + 4096 - usize::from(r >> 4)) % 4096;
                        if back == 0 {
                            break 'run;
                        }
                        let n = usize::from(r & 0xF) + 2;
                        let from = buf.len() - back;
                        if back >= n {
                            buf.extend_from_within(from..from + n);
                        } else {
                            // Overlapping: a run repeating the last `back` bytes.
                            for k in from..from + n {
                                buf.push(buf[k]);
                            }
                        }
                    }
                }
            }
            decoded = buf;
            &decoded[4096..]
        }
        // "MELA": stored as is.
        0x414C_454D => body.get(..raw_size as usize)?,
        _ => return None,
    };
    let end = out.iter().position(|&b| b == 0).unwrap_or(out.len());
    Some(out[..end].iter().map(|&b| char::from(b)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_taken_out_of_its_rtf_wrapper() {
        let rtf = r"{\rtf1\ansi\ansicpg1252\fromhtml1 {\fonttbl{\f0 Arial;}}{\*\htmltag19 <html>}\htmlrtf {\b junk}\htmlrtf0 caf\'e9 {\*\htmltag84 </html>}}";
        assert_eq!(deencapsulate(rtf), "<html>café </html>");
    }

    #[test]
    fn garbage_does_not_panic() {
        for s in ["\\", "{\\'", "{\\u-", "}}}{{{\\*", "\\'zz", "{\\uc9\\u65 abc"] {
            let _ = deencapsulate(s);
        }
    }
    /// Differential: the same text as `compressed_rtf` (whose decoder this
    /// replaces) on compressed RTF and on damaged copies of it.
    #[test]
    fn decompression_matches_compressed_rtf() {
        use proptest::prelude::*;
        let mut runner =
            proptest::test_runner::TestRunner::new(proptest::test_runner::Config::with_cases(64));
        let strategy = ("[ -~\r\n\t\u{a0}-\u{ff}]{0,600}", any::<u16>(), any::<u8>(), 0usize..6);
        runner
            .run(&strategy, |(text, at, byte, damage)| {
                let rtf = format!("{{\\rtf1\\ansi\\deff0 {text}{text}}}");
                let mut c = compressed_rtf::compress_rtf(&rtf).unwrap();
                let expect = |c: &[u8]| compressed_rtf::decompress_rtf(c).ok();
                prop_assert_eq!(decompress(&c), expect(&c));
                prop_assert_eq!(decompress(&c), Some(rtf.clone()));
                let n = c.len();
                match damage {
                    // A flipped byte (mostly a CRC mismatch).
                    0 => c[usize::from(at) % n] ^= byte | 1,
                    // A flipped byte with the CRC fixed: decoding garbage.
                    1 if n > 16 => {
                        let i = 16 + usize::from(at) % (n - 16);
                        c[i] ^= byte | 1;
                        let crc = crate::header::pst_crc(&c[16..]);
                        c[12..16].copy_from_slice(&crc.to_le_bytes());
                    }
                    // Truncated, with sizes and CRC fixed to match.
                    2 if n > 16 => {
                        c.truncate(16 + usize::from(at) % (n - 16));
                        let size = u32::try_from(c.len() - 4).unwrap();
                        c[..4].copy_from_slice(&size.to_le_bytes());
                        let crc = crate::header::pst_crc(&c[16..]);
                        c[12..16].copy_from_slice(&crc.to_le_bytes());
                    }
                    // Uncompressed ("MELA").
                    3 => {
                        c = compressed_rtf::encode_rtf(&rtf).unwrap();
                    }
                    _ => {}
                }
                if c.len() >= 16 {
                    prop_assert_eq!(decompress(&c), expect(&c));
                }
                Ok(())
            })
            .unwrap();
    }
}
