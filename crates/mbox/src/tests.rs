//! Unit tests of the reader and writer on the mbox traps, one per trap.

use mailshift_model::{Finding, FindingKind, Flags, Item, Message};

use super::*;

#[derive(Debug, Default)]
struct Read {
    messages: Vec<Message>,
    skipped: Vec<Finding>,
    findings: Vec<Finding>,
}

impl Read {
    fn raws(&self) -> Vec<String> {
        self.messages.iter().map(|m| String::from_utf8_lossy(&m.raw).into_owned()).collect()
    }

    fn kinds(&self) -> Vec<FindingKind> {
        self.findings.iter().chain(&self.skipped).map(|f| f.kind).collect()
    }
}

fn read_with(bytes: &[u8], opts: MboxReadOptions) -> Read {
    let mut out = Read::default();
    // a tiny buffer, so that lines straddle buffer boundaries
    let reader = std::io::BufReader::with_capacity(7, bytes);
    for item in MboxReader::new(reader, opts) {
        match item.expect("no I/O error on a slice") {
            Item::Message(m) => out.messages.push(m),
            Item::Skipped(f) => out.skipped.push(f),
            Item::Finding(f) => out.findings.push(f),
        }
    }
    out
}

fn read(bytes: &[u8]) -> Read {
    read_with(bytes, MboxReadOptions::default())
}

const F1: &str = "From a@example.com Sat Jan  3 01:05:34 1996\n";
const F2: &str = "From b@example.com Sun Jan  4 02:00:00 1996\n";

#[test]
fn splits_and_gives_back_the_separator_blank_line() {
    let r = read(format!("{F1}Subject: one\n\nbody 1\n\n{F2}Subject: two\n\nbody 2\n\n").as_bytes());
    assert_eq!(r.raws(), vec!["Subject: one\n\nbody 1\n", "Subject: two\n\nbody 2\n"]);
    assert!(r.findings.is_empty(), "{:?}", r.findings);
    let m = &r.messages[1];
    assert_eq!(m.envelope.sender.as_deref(), Some("b@example.com"));
    assert_eq!(m.envelope.received.unwrap().to_rfc3339(), "1996-01-04T02:00:00+00:00");
    assert_eq!(m.envelope.origin.offset, Some((F1.len() + "Subject: one\n\nbody 1\n\n".len()) as u64));
    assert_eq!(m.envelope.origin.item.as_deref(), Some("2"));
}

#[test]
fn extra_blank_lines_stay_with_the_message() {
    let r = read(format!("{F1}S: 1\n\nbody\n\n\n\n{F2}S: 2\n\nlast\n\n\n").as_bytes());
    assert_eq!(r.raws(), vec!["S: 1\n\nbody\n\n\n", "S: 2\n\nlast\n\n"]);
}

#[test]
fn no_blank_line_before_from_and_no_final_newline() {
    // rubymail's mbox.odd: both traps at once
    let r = read(
        b"From foo@bar  Wed Nov 27 12:27:36 2002\nmessage1\nFrom foo@bar  Wed Nov 27 12:27:40 2002\nmessage2",
    );
    assert_eq!(r.raws(), vec!["message1\n", "message2"]);
}

#[test]
fn crlf_files_keep_crlf() {
    let r = read(b"From a Sat Jan  3 01:05:34 1996\r\nSubject: x\r\nStatus: RO\r\n\r\nbody\r\n\r\nFrom b Sat Jan  3 01:05:34 1996\r\nS: y\r\n\r\nb2\r\n");
    assert_eq!(r.raws(), vec!["Subject: x\r\n\r\nbody\r\n", "S: y\r\n\r\nb2\r\n"]);
    assert!(r.messages[0].envelope.flags.seen);
}

#[test]
fn mboxrd_unquotes_one_level_and_mboxo_none() {
    let mbox = format!("{F1}S: 1\n\n>From a\n>>From b\n> From c\nFrom nobody\n\n");
    let r = read(mbox.as_bytes());
    assert_eq!(r.raws(), vec!["S: 1\n\nFrom a\n>From b\n> From c\nFrom nobody\n"]);
    let o = read_with(
        mbox.as_bytes(),
        MboxReadOptions { variant: Some(MboxVariant::MboxO), ..Default::default() },
    );
    assert_eq!(o.raws(), vec!["S: 1\n\n>From a\n>>From b\n> From c\nFrom nobody\n"]);
}

#[test]
fn loose_from_lines_split_only_before_headers() {
    // comm-central's mbox_unquoted and MimeKit's unmunged
    let r = read(b"From \nFrom: A\n\nOld Thunderbird:\nFrom \nhere.\n\nFrom \nFrom: B\n\nsecond\n");
    assert_eq!(r.raws(), vec!["From: A\n\nOld Thunderbird:\nFrom \nhere.\n", "From: B\n\nsecond\n"]);
    let r = read(b"From -\nSubject: a\n\nmovie:\n\nFrom Russia with love\nYear: 1963\n\nok\nFrom - \nSubject: b\n\nx\n");
    assert_eq!(
        r.raws(),
        vec!["Subject: a\n\nmovie:\n\nFrom Russia with love\nYear: 1963\n\nok\n", "Subject: b\n\nx\n"]
    );
    assert_eq!(r.kinds(), vec![FindingKind::Date, FindingKind::Date]);
    assert!(r.messages[0].envelope.received.is_none());
}

#[test]
fn content_length_lets_mboxcl2_bodies_hold_from_lines() {
    let body = "From the start\nFrom Mon Jan  5 10:00:00 1996 looks like a separator\n";
    let mbox = format!("{F1}Content-Length: {}\nS: 1\n\n{body}\n{F2}S: 2\n\nb\n", body.len());
    let r = read(mbox.as_bytes());
    assert_eq!(r.raws(), vec![format!("S: 1\n\n{body}"), "S: 2\n\nb\n".to_owned()]);
    assert!(r.findings.is_empty(), "{:?}", r.findings);
}

#[test]
fn lying_content_length_neither_swallows_nor_splits() {
    // too long: would swallow the next message
    let mbox = format!("{F1}Content-Length: 40\nS: 1\n\nshort\n\n{F2}S: 2\n\nsecond body\n\n");
    let r = read(mbox.as_bytes());
    assert_eq!(r.raws(), vec!["S: 1\n\nshort\n", "S: 2\n\nsecond body\n"]);
    assert_eq!(r.kinds(), vec![FindingKind::BadContentLength]);
    assert!(r.findings[0].message.contains("Content-Length: 40"));
    // too short: would split this message
    let mbox = format!("{F1}Content-Length: 3\nS: 1\n\nlonger body\n\n{F2}S: 2\n\nb\n");
    let r = read(mbox.as_bytes());
    assert_eq!(r.raws(), vec!["S: 1\n\nlonger body\n", "S: 2\n\nb\n"]);
    assert_eq!(r.kinds(), vec![FindingKind::BadContentLength]);
    // past the end of the file, and absurdly large
    for cl in ["999", "99999999999999"] {
        let r = read(format!("{F1}Content-Length: {cl}\n\nb\n").as_bytes());
        assert_eq!(r.raws(), vec!["\nb\n"]);
        assert_eq!(r.kinds(), vec![FindingKind::BadContentLength]);
    }
    // forced mboxrd ignores it without a word
    let r = read_with(
        mbox.as_bytes(),
        MboxReadOptions { variant: Some(MboxVariant::MboxRd), ..Default::default() },
    );
    assert_eq!(r.messages.len(), 2);
    assert!(r.findings.is_empty());
}

#[test]
fn uw_imap_pseudo_message_is_skipped() {
    let mbox = format!(
        "From MAILER-DAEMON Sat Jan  3 01:05:34 1996\nSubject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\nX-IMAP: 1234 5\n\nThis text is part of the internal format of your mail folder.\n\n{F1}X-UID: 1\nS: 1\n\nb\n"
    );
    let r = read(mbox.as_bytes());
    assert_eq!(r.raws(), vec!["S: 1\n\nb\n"]);
    assert_eq!(r.skipped.len(), 1);
    assert_eq!(r.skipped[0].kind, FindingKind::PseudoMessage);
    assert_eq!(r.messages[0].envelope.origin.item.as_deref(), Some("2"));
}

#[test]
fn expunged_thunderbird_messages() {
    let mbox =
        format!("{F1}X-Mozilla-Status: 0009\nS: gone\n\nb\n\n{F2}X-Mozilla-Status: 0005\nS: kept\n\nb\n");
    let r = read(mbox.as_bytes());
    assert_eq!(r.raws(), vec!["S: kept\n\nb\n"]);
    assert_eq!(r.skipped.iter().map(|f| f.kind).collect::<Vec<_>>(), vec![FindingKind::Deleted]);
    assert!(r.messages[0].envelope.flags.seen && r.messages[0].envelope.flags.flagged);
    let r = read_with(mbox.as_bytes(), MboxReadOptions { include_deleted: true, ..Default::default() });
    assert_eq!(r.messages.len(), 2);
    assert!(r.messages[0].envelope.flags.deleted && r.messages[0].envelope.flags.seen);
}

#[test]
fn bookkeeping_headers_removed_unless_kept() {
    let mbox = format!(
        "{F1}Received: x\nStatus: RO\nX-Status: AF\nX-Mozilla-Status2: 00000000\nX-UID: 7\nX-Keywords: $Label1\nLines: 1\nKeywords: work\nSubject: s\n\nStatus: body line\n"
    );
    let r = read(mbox.as_bytes());
    assert_eq!(r.raws(), vec!["Received: x\nKeywords: work\nSubject: s\n\nStatus: body line\n"]);
    let flags = &r.messages[0].envelope.flags;
    assert!(flags.seen && flags.answered && flags.flagged && !flags.draft);
    assert_eq!(flags.keywords.iter().collect::<Vec<_>>(), vec!["$Label1", "work"]);
    let k = read_with(mbox.as_bytes(), MboxReadOptions { keep_mbox_headers: true, ..Default::default() });
    assert_eq!(k.messages[0].raw, &mbox.as_bytes()[F1.len()..]);
    assert_eq!(k.messages[0].envelope.flags, *flags);
}

#[test]
fn empty_garbage_and_not_mbox() {
    assert_eq!(read(b"").kinds(), vec![FindingKind::Empty]);
    assert_eq!(read(b"\n\n").kinds(), vec![FindingKind::Empty]);
    let r = read(format!("junk line\nmore junk\n{F1}S: 1\n\nb\n").as_bytes());
    assert_eq!(r.raws(), vec!["S: 1\n\nb\n"]);
    assert_eq!(r.kinds(), vec![FindingKind::Garbage]);
    assert_eq!(r.findings[0].level, mailshift_model::Level::Warning);
    let r = read(b"\x00\x01binary\xff without any From line at all");
    assert!(r.messages.is_empty());
    assert_eq!(r.kinds(), vec![FindingKind::Garbage]);
    assert_eq!(r.findings[0].level, mailshift_model::Level::Error);
    // a byte order mark is not garbage
    let r = read(format!("\u{feff}{F1}S: 1\n\nb\n").as_bytes());
    assert_eq!(r.raws(), vec!["S: 1\n\nb\n"]);
    assert!(r.findings.is_empty());
}

#[test]
fn empty_message_between_separators_is_skipped() {
    let r = read(format!("{F1}{F2}S: 2\n\nb\n").as_bytes());
    assert_eq!(r.raws(), vec!["S: 2\n\nb\n"]);
    assert_eq!(r.kinds(), vec![FindingKind::Empty]);
}

#[test]
fn variant_names_parse() {
    for v in [MboxVariant::MboxO, MboxVariant::MboxRd, MboxVariant::MboxCl, MboxVariant::MboxCl2] {
        assert_eq!(v.to_string().parse::<MboxVariant>().unwrap(), v);
    }
    assert!("mboxx".parse::<MboxVariant>().is_err());
}

fn msg(raw: &[u8], flags: Flags) -> Message {
    let env = mailshift_model::Envelope {
        flags,
        received: from_line::parse(F1.as_bytes()).date,
        sender: Some("a@example.com".to_owned()),
        ..Default::default()
    };
    Message::new(raw.to_vec(), env)
}

#[test]
fn written_mboxrd_reads_back_exactly() {
    let mut flags = Flags { seen: true, forwarded: true, draft: true, ..Flags::default() };
    flags.add_keyword("$Label3");
    let messages = vec![
        msg(b"Subject: a\n\nFrom here\n>From there\n\n", flags.clone()),
        msg(b"Subject: b\r\n\r\nno final newline", Flags::default()),
        msg(b"Subject: c\n\nends in CR\r", Flags::SEEN),
        msg(b"\nno header at all\n", Flags::default()),
        msg(b"From x\nS: own From_ line\n\nb\n", Flags::default()),
        msg(b"\tFrom \n", Flags::default()),
        msg(b"\tstarts folded\n\nbody", Flags::SEEN),
    ];
    let mut out = Vec::new();
    for m in &messages {
        writer::write_message(&mut out, m);
    }
    let r = read(&out);
    assert!(r.findings.is_empty(), "{:?}", r.findings);
    assert_eq!(
        r.raws(),
        messages.iter().map(|m| String::from_utf8_lossy(&m.raw).into_owned()).collect::<Vec<_>>()
    );
    for (got, want) in r.messages.iter().zip(&messages) {
        assert_eq!(got.envelope.flags, want.envelope.flags);
        assert_eq!(got.envelope.received, want.envelope.received);
        assert_eq!(got.envelope.sender, want.envelope.sender);
    }
}

#[test]
fn all_header_message_without_line_end_keeps_its_bytes() {
    let mut out = Vec::new();
    writer::write_message(&mut out, &msg(b"\tfolded only", Flags::SEEN));
    let r = read(&out);
    assert_eq!(r.raws(), vec!["\tfolded only\n"]);
    assert!(r.messages[0].envelope.flags.seen);
}
