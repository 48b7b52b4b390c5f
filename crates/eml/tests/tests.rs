//! EML trees: round trip, re-run, crash.

use std::collections::BTreeMap;
use std::fs;
use std::ops::ControlFlow;

use chrono::{FixedOffset, TimeZone};
use mailshift_eml::{sniff, EmlSink, EmlSource};
use mailshift_model::{
    Envelope, Finding, FindingKind, Flags, FolderPath, Item, Message, Sink, Source, WriteOutcome,
};

fn folders() -> Vec<FolderPath> {
    let f = |s: &[&str]| FolderPath::new(s.iter().map(|x| (*x).to_owned()));
    vec![FolderPath::inbox(), f(&["Work", "v1.5"]), f(&["a/b"]), f(&[".hidden", "~x"]), f(&["Entwürfe"])]
}

fn message(folder: &FolderPath, i: usize) -> Message {
    let mut raw =
        format!("Subject: {i} in {}\nMessage-ID: <{i}@x>\n\nbody\nFrom me\n", folder.key()).into_bytes();
    if i % 2 == 1 {
        raw = String::from_utf8(raw).unwrap().replace('\n', "\r\n").into_bytes();
    }
    let received =
        FixedOffset::east_opt(3600).unwrap().timestamp_opt(1_400_000_000 + i as i64 * 977, 0).single();
    let flags = Flags { seen: i.is_multiple_of(3), ..Flags::default() };
    Message::new(raw, Envelope { folder: folder.clone(), flags, received, ..Envelope::default() })
}

fn all_messages() -> Vec<Message> {
    let mut v: Vec<Message> = folders()
        .iter()
        .enumerate()
        .flat_map(|(fi, f)| (0..6).map(move |i| message(f, fi * 10 + i)))
        .collect();
    let twin = v[1].clone();
    v.push(twin);
    v
}

fn write(sink: &EmlSink, msgs: &[Message]) -> (Vec<WriteOutcome>, Vec<Finding>) {
    let mut out = Vec::new();
    let mut findings = Vec::new();
    for folder in folders() {
        let mut w = sink.open_folder(&folder).unwrap();
        for m in msgs.iter().filter(|m| m.envelope.folder == folder) {
            out.push(w.write(m).unwrap());
        }
        w.commit().unwrap();
        findings.extend(w.take_findings());
    }
    (out, findings)
}

type Content = BTreeMap<String, Vec<(Vec<u8>, Option<i64>)>>;

fn content(msgs: &[Message]) -> Content {
    let mut c = Content::new();
    for m in msgs {
        c.entry(m.envelope.folder.key())
            .or_default()
            .push((m.raw.clone(), m.envelope.received.map(|t| t.timestamp())));
    }
    c.values_mut().for_each(|v| v.sort());
    c
}

fn read(path: &std::path::Path) -> (Vec<Message>, Vec<Finding>) {
    let src = EmlSource::open(path).unwrap();
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

#[test]
fn round_trip_keeps_bytes_dates_folders_and_reports_flags() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("export");
    let msgs = all_messages();
    let (outcomes, findings) = write(&EmlSink::create(&root).unwrap(), &msgs);
    assert!(outcomes.iter().all(|o| *o == WriteOutcome::Written));
    // Flags cannot be kept: every folder with seen messages says so.
    let lost: Vec<_> = findings.iter().filter(|f| f.kind == FindingKind::Unsupported).collect();
    assert_eq!(lost.len(), folders().len(), "{findings:?}");
    assert!(root.join("INBOX").is_dir() && root.join("Work/v1.5").is_dir() && root.join("a\\2fb").is_dir());
    let hidden: std::path::PathBuf = ["\\2ehidden", "\\7ex"].iter().collect();
    assert!(root.join(&hidden).is_dir());
    assert!(sniff(&root));

    let (back, findings) = read(&root);
    assert!(findings.is_empty(), "{findings:?}");
    assert_eq!(content(&back), content(&msgs));
    assert!(back.iter().all(|m| m.envelope.flags == Flags::default()));

    let (outcomes, _) = write(&EmlSink::create(&root).unwrap(), &msgs);
    assert!(outcomes.iter().all(|o| *o == WriteOutcome::AlreadyPresent));
    assert_eq!(read(&root).0.len(), msgs.len());
}

#[test]
fn crash_then_rerun_gives_one_copy() {
    let dir = tempfile::tempdir().unwrap();
    let folder = FolderPath::new(["Archive"]);
    let msgs: Vec<Message> = (0..20).map(|i| message(&folder, i)).collect();
    let sink = EmlSink::create(dir.path()).unwrap();
    let fdir = sink.folder_dir(&folder).unwrap();
    {
        let mut w = sink.open_folder(&folder).unwrap();
        for m in &msgs[..5] {
            w.write(m).unwrap();
        }
        w.commit().unwrap();
        for m in &msgs[5..15] {
            w.write(m).unwrap();
        }
        // Crash while renaming: 4 of the 10 staged files reached their names.
        let mut temps: Vec<String> = fs::read_dir(&fdir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().into_string().unwrap())
            .filter(|n| n.starts_with('.'))
            .collect();
        temps.sort();
        assert_eq!(temps.len(), 10);
        for t in &temps[..4] {
            let final_name = t.trim_start_matches('.').trim_end_matches(mailshift_eml::name::TEMP_SUFFIX);
            fs::rename(fdir.join(t), fdir.join(final_name)).unwrap();
        }
    }
    let (_, findings) = read(dir.path());
    assert_eq!(findings.iter().filter(|f| f.kind == FindingKind::Leftover).count(), 6);
    let mut w = sink.open_folder(&folder).unwrap();
    let outcomes: Vec<_> = msgs.iter().map(|m| w.write(m).unwrap()).collect();
    w.commit().unwrap();
    assert_eq!(outcomes.iter().filter(|o| **o == WriteOutcome::AlreadyPresent).count(), 9);
    assert!(w
        .take_findings()
        .iter()
        .any(|f| f.kind == FindingKind::Leftover && f.message.contains("removed 6")));
    let (back, findings) = read(dir.path());
    assert!(findings.is_empty(), "{findings:?}");
    assert_eq!(content(&back), content(&msgs));
}

#[test]
fn refuses_escaping_names_and_reads_single_files() {
    let dir = tempfile::tempdir().unwrap();
    let sink = EmlSink::create(dir.path()).unwrap();
    let bad = FolderPath::with_role(vec!["..".into(), "etc".into()], None);
    assert!(matches!(sink.open_folder(&bad).err().unwrap().kind, mailshift_model::ErrorKind::Refused(_)));
    let file = dir.path().join("one.EML");
    fs::write(&file, b"Subject: one\n\nx\n").unwrap();
    let (msgs, _) = read(&file);
    assert_eq!(msgs.len(), 1);
    assert!(msgs[0].envelope.folder.is_inbox());
    // Root-level files are the inbox; other files are reported, not read.
    fs::write(dir.path().join("notes.txt"), b"x").unwrap();
    let (msgs, findings) = read(dir.path());
    assert_eq!(msgs.len(), 1);
    assert!(findings.iter().any(|f| f.kind == FindingKind::Ignored));
}
