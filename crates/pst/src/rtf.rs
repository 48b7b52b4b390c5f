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
}
