//! Generated messages and helpers shared by the tests.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::Path;

use chrono::{FixedOffset, TimeZone};
use mailshift_maildir::{Layout, MaildirSink, MaildirSource, MaildirWriteOptions};
use mailshift_model::{Envelope, Finding, Flags, FolderPath, Item, Message, Sink, Source, WriteOutcome};

/// Folder names that exercise every escaping rule.
pub fn odd_folders() -> Vec<FolderPath> {
    let f = |s: &[&str]| FolderPath::new(s.iter().map(|x| (*x).to_owned()));
    vec![
        FolderPath::inbox(),
        f(&["Sent"]),
        f(&["Work", "2024"]),
        f(&["Project 1.5"]),
        f(&["a/b"]),
        f(&["Entwürfe"]),
        f(&["日本語", "子.フォルダ"]),
        f(&["~tilde"]),
        f(&["A&B"]),
        f(&["cur"]),
        f(&[".hidden"]),
        f(&["back\\slash"]),
        FolderPath::with_role(vec!["Posteingang".into()], None),
    ]
}

/// The message flags for combination `i` (all 64 of the six system flags),
/// plus some keywords.
pub fn flags_for(i: usize) -> Flags {
    let mut f = Flags {
        seen: i & 1 != 0,
        answered: i & 2 != 0,
        flagged: i & 4 != 0,
        deleted: i & 8 != 0,
        draft: i & 16 != 0,
        forwarded: i & 32 != 0,
        ..Flags::default()
    };
    if i.is_multiple_of(3) {
        f.add_keyword("$Label1");
    }
    if i.is_multiple_of(5) {
        f.add_keyword("work");
        f.add_keyword("$Junk");
    }
    f
}

/// Message `i` in `folder`: distinct bytes with the traps (CRLF, 8-bit,
/// missing final newline, `From ` lines), a date with an offset, flags.
pub fn message(folder: &FolderPath, i: usize) -> Message {
    let mut raw = format!(
        "From: sender{i}@example.org\nTo: you@example.org\nSubject: message {i} in {}\n\
         Message-ID: <{i}.{}@example.org>\n\nbody {i}\nFrom here\n>From there\n",
        folder.key(),
        folder.key().len()
    )
    .into_bytes();
    match i % 4 {
        1 => raw = String::from_utf8(raw).unwrap().replace('\n', "\r\n").into_bytes(),
        2 => raw.extend_from_slice(b"8-bit \xe9\xff bytes\n"),
        3 => raw.extend_from_slice(b"no final newline"),
        _ => {}
    }
    let offset = FixedOffset::east_opt(((i % 7) as i32 - 3) * 3600).unwrap();
    let received = offset.timestamp_opt(1_500_000_000 + (i as i64) * 86_413, 0).single();
    Message::new(
        raw,
        Envelope { folder: folder.clone(), flags: flags_for(i), received, ..Envelope::default() },
    )
}

/// What a test compares: per folder key, sorted (bytes, flags, received as UTC seconds).
pub type Content = BTreeMap<String, Vec<(Vec<u8>, Vec<String>, Option<i64>)>>;

pub fn content_of(messages: &[Message]) -> Content {
    let mut c = Content::new();
    for m in messages {
        c.entry(m.envelope.folder.key()).or_default().push((
            m.raw.clone(),
            m.envelope.flags.imap_list(),
            m.envelope.received.map(|t| t.timestamp()),
        ));
    }
    for v in c.values_mut() {
        v.sort();
    }
    c
}

/// Writes `messages` (grouped by folder, in order) and returns the outcomes.
pub fn write_all(sink: &MaildirSink, messages: &[Message]) -> (Vec<WriteOutcome>, Vec<Finding>) {
    let mut outcomes = Vec::new();
    let mut findings = Vec::new();
    let mut by_folder: Vec<(FolderPath, Vec<&Message>)> = Vec::new();
    for m in messages {
        match by_folder.iter_mut().find(|(f, _)| *f == m.envelope.folder) {
            Some((_, v)) => v.push(m),
            None => by_folder.push((m.envelope.folder.clone(), vec![m])),
        }
    }
    for (folder, msgs) in by_folder {
        let mut w = sink.open_folder(&folder).unwrap();
        for m in msgs {
            outcomes.push(w.write(m).unwrap());
        }
        w.commit().unwrap();
        findings.extend(w.take_findings());
    }
    (outcomes, findings)
}

/// Reads every message of a source, with the findings.
pub fn read_all(src: &dyn Source) -> (Vec<Message>, Vec<Finding>) {
    let mut findings = Vec::new();
    let units = src.units(&mut findings).unwrap();
    let mut msgs = Vec::new();
    for u in &units {
        src.read_unit(u, &mut |item| {
            match item {
                Item::Message(m) => msgs.push(m),
                Item::Skipped(f) | Item::Finding(f) => findings.push(f),
            }
            ControlFlow::Continue(())
        })
        .unwrap();
    }
    (msgs, findings)
}

pub fn sink(dir: &Path, layout: Layout, utf8_names: bool) -> MaildirSink {
    MaildirSink::create(dir, MaildirWriteOptions { layout, utf8_names }).unwrap()
}

pub fn read_dir(dir: &Path) -> (Vec<Message>, Vec<Finding>) {
    read_all(&MaildirSource::open(dir).unwrap())
}

/// All files under `dir`, relative, sorted.
pub fn tree(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, d: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.push(p.strip_prefix(base).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut v = Vec::new();
    walk(dir, dir, &mut v);
    v.sort();
    v
}
