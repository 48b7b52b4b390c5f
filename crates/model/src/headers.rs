//! Just enough RFC 5322 header scanning for fingerprints, names and dates.
//!
//! Full parsing belongs to mail-parser; this module only finds the header
//! block and unfolds a named field, and never fails: a message without a
//! blank line is all header, a line without a colon is skipped.

/// The header block: everything before the first empty line (LF or CRLF).
pub fn header_block(raw: &[u8]) -> &[u8] {
    let mut pos = 0;
    while pos < raw.len() {
        let end = raw[pos..].iter().position(|&b| b == b'\n').map_or(raw.len(), |i| pos + i + 1);
        let line = &raw[pos..end];
        if line == b"\n" || line == b"\r\n" {
            return &raw[..pos];
        }
        pos = end;
    }
    raw
}

/// Iterates `(name, unfolded value)` over the header fields of a message.
/// Values keep their bytes; folding line breaks are removed.
pub fn fields(raw: &[u8]) -> impl Iterator<Item = (&[u8], Vec<u8>)> {
    let block = header_block(raw);
    let mut lines = block.split(|&b| b == b'\n').peekable();
    std::iter::from_fn(move || loop {
        let line = lines.next()?;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
            continue; // a continuation without a field: skip it
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else { continue };
        let name = trim(&line[..colon]);
        let mut value = line[colon + 1..].to_vec();
        while let Some(next) = lines.peek() {
            if next.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
                let next = lines.next().unwrap_or_default();
                value.extend_from_slice(next.strip_suffix(b"\r").unwrap_or(next));
            } else {
                break;
            }
        }
        return Some((name, trim(&value).to_vec()));
    })
}

/// The unfolded value of the first field called `name` (case-insensitive).
pub fn get(raw: &[u8], name: &str) -> Option<Vec<u8>> {
    fields(raw).find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes())).map(|(_, v)| v)
}

/// The first Message-ID, without angle brackets and surrounding space.
pub fn message_id(raw: &[u8]) -> Option<String> {
    let v = get(raw, "Message-ID")?;
    let s = String::from_utf8_lossy(&v);
    let s = s.trim();
    let s = match (s.find('<'), s.find('>')) {
        (Some(a), Some(b)) if a < b => &s[a + 1..b],
        _ => s,
    };
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

/// The `Date:` field as a timestamp, where it is RFC 5322 (a trailing
/// comment such as `(PST)` is ignored). Writers use it to date a message
/// whose source recorded no received date.
pub fn date(raw: &[u8]) -> Option<crate::Timestamp> {
    let value = get(raw, "Date")?;
    let text = String::from_utf8_lossy(&value);
    let text = match text.rfind('(') {
        Some(i) if text.trim_end().ends_with(')') => text[..i].trim().to_owned(),
        _ => text.trim().to_owned(),
    };
    chrono::DateTime::parse_from_rfc2822(&text).ok()
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(start, |i| i + 1);
    &s[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unfolds_and_finds() {
        let raw = b"From: a@b\r\nSubject: one\r\n two\r\nMessage-ID:\r\n <x@y>\r\n\r\nSubject: body\r\n";
        assert_eq!(get(raw, "subject").unwrap(), b"one two");
        assert_eq!(message_id(raw).unwrap(), "x@y");
        assert_eq!(header_block(raw).len(), raw.len() - b"\r\nSubject: body\r\n".len());
    }

    #[test]
    fn never_fails_on_junk() {
        assert_eq!(get(b"", "x"), None);
        assert_eq!(get(b" cont\nnocolon\n:empty\n", ""), Some(b"empty".to_vec()));
        assert_eq!(message_id(b"Message-ID: <>\n"), None);
    }

    #[test]
    fn date_header_fallback() {
        let t = date(b"Subject: x\nDate: Mon, 22 Jul 1996 00:02:55 -0700 (PDT)\n\nbody").unwrap();
        assert_eq!(t.timestamp(), 838_018_975);
        assert_eq!(date(b"Date: Tue, 1 Jul 2003 10:52:37 +0200\n\n").unwrap().timestamp(), 1_057_049_557);
        assert_eq!(date(b"Date: yesterday\n\n"), None);
        assert_eq!(date(b"Subject: none\n\n"), None);
    }
}
