//! The header lines mbox writers use for their own bookkeeping: flags
//! (`Status`, `X-Status`, `X-Mozilla-Status`, `X-Mozilla-Status2`,
//! `X-Mozilla-Keys`, `X-Keywords`, `Keywords`), UW-IMAP state (`X-UID`,
//! `X-IMAP`, `X-IMAPbase`) and lengths (`Content-Length`, `Lines`).
//!
//! Their meaning goes into the envelope; the lines themselves are removed
//! from the message (except `Keywords`, a real RFC 5322 field), so that the
//! same message read from mbox and from maildir has the same bytes.

use mailshift_model::Flags;

/// The fields removed from a message once read (lower case).
pub const BOOKKEEPING: [&str; 11] = [
    "status",
    "x-status",
    "x-mozilla-status",
    "x-mozilla-status2",
    "x-mozilla-keys",
    "x-uid",
    "x-imap",
    "x-imapbase",
    "content-length",
    "lines",
    "x-keywords",
];

// Thunderbird's nsMsgMessageFlags, as written in X-Mozilla-Status(2).
const MOZ_READ: u32 = 0x1;
const MOZ_REPLIED: u32 = 0x2;
const MOZ_MARKED: u32 = 0x4;
/// Deleted from the folder but not yet compacted away.
pub const MOZ_EXPUNGED: u32 = 0x8;
const MOZ_FORWARDED: u32 = 0x1000;
const MOZ_IMAP_DELETED: u32 = 0x20_0000;
const MOZ_MDN_SENT: u32 = 0x80_0000;
const MOZ_LABELS: u32 = 0x0E00_0000;

/// What the bookkeeping headers of one message say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Meta {
    pub flags: Flags,
    /// Thunderbird's expunged bit: the message is deleted, awaiting compaction.
    pub expunged: bool,
    /// The Content-Length value, where there is one and it is a number.
    pub content_length: Option<u64>,
    /// Whether an `X-IMAP`/`X-IMAPbase` field is present (UW-IMAP folder state).
    pub x_imap: bool,
    /// The Subject (to recognise UW-IMAP's pseudo-message).
    pub subject: Option<Vec<u8>>,
}

/// The field names [`read`] looks at (lower case): the bookkeeping fields,
/// `Keywords` and `Subject`.
const READ: [&[u8]; 11] = [
    b"status",
    b"x-status",
    b"x-mozilla-status",
    b"x-mozilla-status2",
    b"x-mozilla-keys",
    b"x-keywords",
    b"keywords",
    b"content-length",
    b"x-imap",
    b"x-imapbase",
    b"subject",
];

/// Reads the bookkeeping fields of a header block.
///
/// Runs once per message, so it only unfolds the values of the fields it
/// wants: a scan of the names, no allocation for the others.
pub fn read(header: &[u8]) -> Meta {
    let mut m = Meta::default();
    let block = mailshift_model::headers::header_block(header);
    let mut pos = 0;
    while pos < block.len() {
        let end = memchr::memchr(b'\n', &block[pos..]).map_or(block.len(), |i| pos + i + 1);
        let line = &block[pos..end];
        pos = end;
        if line.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
            continue; // a continuation of a field not wanted (or already taken)
        }
        let Some(colon) = memchr::memchr(b':', line) else { continue };
        let name = line[..colon].trim_ascii();
        let Some(&want) = READ.iter().find(|w| name.eq_ignore_ascii_case(w)) else { continue };
        let mut value = line[colon + 1..].to_vec();
        while pos < block.len() && matches!(block[pos], b' ' | b'\t') {
            let end = memchr::memchr(b'\n', &block[pos..]).map_or(block.len(), |i| pos + i + 1);
            value.extend_from_slice(&block[pos..end]);
            pos = end;
        }
        value.retain(|b| *b != b'\n' && *b != b'\r');
        let value = value.trim_ascii().to_vec();
        field(&mut m, want, value);
    }
    if m.expunged {
        m.flags.deleted = true;
    }
    m
}

/// Applies one wanted field (`name` in lower case) to `m`.
fn field(m: &mut Meta, name: &[u8], value: Vec<u8>) {
    let text = String::from_utf8_lossy(&value);
    match name {
        b"status" => {
            m.flags.seen |= text.contains('R');
        }
        b"x-status" => {
            m.flags.answered |= text.contains('A');
            m.flags.flagged |= text.contains('F');
            m.flags.draft |= text.contains('T');
            m.flags.deleted |= text.contains('D');
        }
        b"x-mozilla-status" | b"x-mozilla-status2" => {
            let Ok(bits) = u32::from_str_radix(text.trim(), 16) else { return };
            // Status2 holds the upper 16 bits of the same flag word.
            let bits = if name == b"x-mozilla-status2" { bits & 0xFFFF_0000 } else { bits & 0xFFFF };
            m.flags.seen |= bits & MOZ_READ != 0;
            m.flags.answered |= bits & MOZ_REPLIED != 0;
            m.flags.flagged |= bits & MOZ_MARKED != 0;
            m.flags.forwarded |= bits & MOZ_FORWARDED != 0;
            m.flags.deleted |= bits & MOZ_IMAP_DELETED != 0;
            m.expunged |= bits & MOZ_EXPUNGED != 0;
            if bits & MOZ_MDN_SENT != 0 {
                m.flags.add_keyword("$MDNSent");
            }
            let label = (bits & MOZ_LABELS) >> 25;
            if label != 0 {
                m.flags.add_keyword(&format!("$Label{label}"));
            }
        }
        b"x-mozilla-keys" | b"x-keywords" | b"keywords" => {
            for k in text.split(|c: char| c == ',' || c.is_whitespace()) {
                m.flags.add_keyword(k);
            }
        }
        b"content-length" => m.content_length = text.trim().parse().ok(),
        b"x-imap" | b"x-imapbase" => m.x_imap = true,
        b"subject" if m.subject.is_none() => m.subject = Some(value),
        _ => {}
    }
}

/// Whether this is UW-IMAP's "FOLDER INTERNAL DATA" pseudo-message, which
/// holds the folder's UID state and is no mail.
pub fn is_pseudo(meta: &Meta) -> bool {
    meta.subject.as_deref().is_some_and(|s| memchr::memmem::find(s, b"FOLDER INTERNAL DATA").is_some())
        && meta.x_imap
}

/// The length of the header block, the blank line included (all of `raw`
/// when there is no blank line).
pub fn header_len(raw: &[u8]) -> usize {
    let block = mailshift_model::headers::header_block(raw).len();
    if block == raw.len() {
        return block;
    }
    block + if raw[block] == b'\r' { 2 } else { 1 }
}

/// Removes the bookkeeping fields (and their folded continuations) from
/// the header block of `raw`, in place. Every other byte stays.
pub fn strip(raw: &mut Vec<u8>) {
    let end = mailshift_model::headers::header_block(raw).len();
    let mut out = Vec::with_capacity(end);
    let mut pos = 0;
    let mut dropping = false;
    let mut changed = false;
    while pos < end {
        let line_end = memchr::memchr(b'\n', &raw[pos..end]).map_or(end, |i| pos + i + 1);
        let line = &raw[pos..line_end];
        let continuation = line.first().is_some_and(|b| *b == b' ' || *b == b'\t');
        if !continuation {
            dropping = is_bookkeeping(line);
        }
        if dropping {
            changed = true;
        } else {
            out.extend_from_slice(line);
        }
        pos = line_end;
    }
    if changed {
        raw.splice(..end, out);
    }
}

fn is_bookkeeping(line: &[u8]) -> bool {
    let Some(colon) = memchr::memchr(b':', line) else { return false };
    let name = line[..colon].trim_ascii();
    BOOKKEEPING.iter().any(|b| name.eq_ignore_ascii_case(b.as_bytes()))
}

/// The header lines that carry `flags` in an mbox: `Status`, `X-Status`
/// and `X-Keywords` (with `$Forwarded` as a keyword), each ending in `eol`.
pub fn flag_headers(flags: &Flags, eol: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let status = if flags.seen { "RO" } else { "O" };
    out.extend_from_slice(b"Status: ");
    out.extend_from_slice(status.as_bytes());
    out.extend_from_slice(eol);
    let mut x = String::new();
    for (on, c) in [(flags.answered, 'A'), (flags.flagged, 'F'), (flags.draft, 'T'), (flags.deleted, 'D')] {
        if on {
            x.push(c);
        }
    }
    if !x.is_empty() {
        out.extend_from_slice(b"X-Status: ");
        out.extend_from_slice(x.as_bytes());
        out.extend_from_slice(eol);
    }
    let mut keywords: Vec<&str> = flags.keywords.iter().map(String::as_str).collect();
    if flags.forwarded {
        keywords.insert(0, "$Forwarded");
    }
    if !keywords.is_empty() {
        out.extend_from_slice(b"X-Keywords: ");
        out.extend_from_slice(keywords.join(" ").as_bytes());
        out.extend_from_slice(eol);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_from_every_header() {
        let m = read(b"Status: RO\nX-Status: AFT\nX-Keywords: work, $Forwarded home\nSubject: x\n\nbody");
        assert!(m.flags.seen && m.flags.answered && m.flags.flagged && m.flags.draft && !m.flags.deleted);
        assert!(m.flags.forwarded);
        assert_eq!(m.flags.keywords.iter().collect::<Vec<_>>(), vec!["home", "work"]);
        let m =
            read(b"X-Mozilla-Status: 1003\nX-Mozilla-Status2: 02000000\nX-Mozilla-Keys: $label1 todo   \n\n");
        assert!(m.flags.seen && m.flags.answered && m.flags.forwarded && !m.flags.flagged && !m.expunged);
        assert!(m.flags.keywords.contains("$Label1") && m.flags.keywords.contains("todo"));
        let m = read(b"X-Mozilla-Status: 0009\nContent-Length: 12\n\n");
        assert!(m.expunged && m.flags.deleted && m.flags.seen);
        assert_eq!(m.content_length, Some(12));
        let m = read(b"X-Mozilla-Status: zz\nStatus: O\n\n");
        assert_eq!(m.flags, Flags::default());
    }

    #[test]
    fn strip_keeps_every_other_byte() {
        let mut raw =
            b"Status: RO\r\nSubject: a\r\nX-Keywords: a,\r\n b\r\nLines: 3\r\n\r\nStatus: body\r\n".to_vec();
        strip(&mut raw);
        assert_eq!(raw, b"Subject: a\r\n\r\nStatus: body\r\n");
        let mut raw = b"Subject: none\n\nbody".to_vec();
        strip(&mut raw);
        assert_eq!(raw, b"Subject: none\n\nbody");
    }

    #[test]
    fn written_flags_read_back() {
        let mut f = Flags { seen: true, answered: true, draft: true, forwarded: true, ..Flags::default() };
        f.add_keyword("$Label2");
        let h = flag_headers(&f, b"\n");
        assert_eq!(read(&h).flags, f);
        let h = flag_headers(&Flags::default(), b"\r\n");
        assert_eq!(h, b"Status: O\r\n");
        assert_eq!(read(&h).flags, Flags::default());
    }

    #[test]
    fn pseudo_message() {
        let m = read(b"Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\nX-IMAP: 1 2\n\n");
        assert!(is_pseudo(&m));
        assert!(!is_pseudo(&read(b"Subject: FOLDER INTERNAL DATA\n\n")));
    }
}
