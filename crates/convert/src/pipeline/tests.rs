use std::io;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use mailshift_model::{Finding, FindingKind, FolderPath, Level, Location, NoProgress, Report};

use super::*;
use crate::memory::{MemorySink, MemorySource, Stored};

fn msg(folder: &FolderPath, subject: &str, i: usize) -> Stored {
    MemorySource::message(folder, format!("Subject: {subject}\n\nbody {subject}\n").as_bytes(), i)
}

/// INBOX (two units), Work with 3 messages, a skipped item and a finding.
fn sample() -> MemorySource {
    let inbox = FolderPath::inbox();
    let work = FolderPath::new(["Work"]);
    let mut s = MemorySource::new();
    s.unit(inbox.clone(), vec![msg(&inbox, "a", 1), msg(&inbox, "b", 2)]);
    s.unit(
        work.clone(),
        vec![
            msg(&work, "w1", 1),
            Stored::Skipped(Finding::warning(FindingKind::Deleted, Location::path("w"), "expunged")),
            Stored::Finding(Finding::info(FindingKind::Garbage, Location::path("w"), "junk bytes")),
            msg(&work, "w2", 3),
            msg(&work, "w1", 4),
        ],
    );
    s.unit(FolderPath::new(["inbox"]), vec![msg(&inbox, "c", 1)]);
    s.listing_finding(Finding::info(FindingKind::Ignored, Location::path("x.msf"), "index file"));
    s
}

fn subjects(sink: &MemorySink, key: &str) -> Vec<String> {
    sink.folder(key)
        .iter()
        .map(|m| String::from_utf8_lossy(&m.raw).lines().next().unwrap_or_default().to_owned())
        .collect()
}

fn run(source: &MemorySource, sink: &MemorySink, opts: &ConvertOptions) -> Result<Report, ConvertError> {
    convert(source, sink, opts, &NoProgress)
}

#[test]
fn every_message_is_written_in_order_and_counted() {
    let sink = MemorySink::new();
    let r = run(&sample(), &sink, &ConvertOptions { jobs: 2, ..ConvertOptions::default() }).unwrap();
    assert_eq!((r.read, r.written, r.skipped, r.duplicates, r.already_present), (7, 6, 1, 0, 0));
    assert_eq!(subjects(&sink, "INBOX"), ["Subject: a", "Subject: b", "Subject: c"]);
    assert_eq!(subjects(&sink, "Work"), ["Subject: w1", "Subject: w2", "Subject: w1"]);
    assert_eq!(r.folders["INBOX"].read, 3);
    assert_eq!(r.folders["Work"].skipped, 1);
    let kinds: Vec<FindingKind> = r.findings.iter().map(|f| f.kind).collect();
    assert_eq!(kinds, [FindingKind::Ignored, FindingKind::Deleted, FindingKind::Garbage]);
    assert!(sink.finished());
    assert!(r.bytes_read > 0 && r.bytes_read == r.bytes_written);
    assert_eq!(r.destination.as_deref(), Some("memory"));
}

#[test]
fn dedupe_drops_exact_duplicates_within_a_folder() {
    let sink = MemorySink::new();
    let r = run(&sample(), &sink, &ConvertOptions { dedupe: true, ..ConvertOptions::default() }).unwrap();
    assert_eq!((r.read, r.written, r.skipped, r.duplicates), (7, 5, 1, 1));
    assert_eq!(subjects(&sink, "Work"), ["Subject: w1", "Subject: w2"]);
    let dup = r.findings.iter().find(|f| f.kind == FindingKind::Duplicate).unwrap();
    assert_eq!(dup.level, Level::Info);
    assert_eq!(dup.location.item.as_deref(), Some("4"));
    assert_eq!(dup.location.folder.as_deref(), Some("Work"));
}

#[test]
fn dry_run_counts_but_writes_nothing() {
    let sink = MemorySink::new();
    let r = run(&sample(), &sink, &ConvertOptions { dry_run: true, ..ConvertOptions::default() }).unwrap();
    assert_eq!((r.read, r.written, r.skipped), (7, 6, 1));
    assert!(sink.keys().is_empty());
    assert!(!sink.finished());
}

#[test]
fn a_rerun_finds_everything_already_present() {
    let sink = MemorySink::new();
    run(&sample(), &sink, &ConvertOptions::default()).unwrap();
    let r = run(&sample(), &sink, &ConvertOptions::default()).unwrap();
    assert_eq!((r.read, r.written, r.already_present, r.bytes_written), (7, 6, 6, 0));
    assert_eq!(sink.folder("INBOX").len(), 3);
}

#[test]
fn a_failed_write_is_one_finding_and_the_folder_goes_on() {
    let mut sink = MemorySink::new();
    sink.fail_with = Some(Arc::new(|m| {
        m.raw.starts_with(b"Subject: b").then(|| io::Error::new(io::ErrorKind::InvalidData, "bad name"))
    }));
    let r = run(&sample(), &sink, &ConvertOptions::default()).unwrap();
    assert_eq!((r.read, r.written, r.skipped), (7, 5, 2));
    assert_eq!(subjects(&sink, "INBOX"), ["Subject: a", "Subject: c"]);
    let f = r.findings.iter().find(|f| f.kind == FindingKind::Unwritable).unwrap();
    assert_eq!(f.level, Level::Error);
    assert_eq!(f.location.item.as_deref(), Some("2"));
    assert!(f.message.contains("bad name"), "{}", f.message);
}

#[test]
fn a_full_disk_aborts_the_run() {
    let mut sink = MemorySink::new();
    sink.fail_with = Some(Arc::new(|m| {
        m.raw.starts_with(b"Subject: w2").then(|| io::Error::from(io::ErrorKind::StorageFull))
    }));
    let e = run(&sample(), &sink, &ConvertOptions { jobs: 1, ..ConvertOptions::default() }).unwrap_err();
    let ConvertError::Aborted { error, report } = &e else { panic!("{e:?}") };
    assert!(is_fatal(error));
    assert!(report.read < 7, "the run went on after the disk was full: {report:?}");
    assert!(!sink.finished());
    // The report says that what it counts may not all be on disk.
    assert!(report
        .findings
        .iter()
        .any(|f| f.kind == FindingKind::Unwritable && f.message.contains("final sync")));
}

#[test]
fn a_refused_folder_skips_its_messages_only() {
    let mut sink = MemorySink::new();
    sink.refuse_folders.insert("Work".into());
    let r = run(&sample(), &sink, &ConvertOptions::default()).unwrap();
    assert_eq!((r.read, r.written, r.skipped), (7, 3, 4));
    let refused = r.findings.iter().filter(|f| f.kind == FindingKind::Unwritable).count();
    assert_eq!(refused, 3);
    assert_eq!(sink.keys(), ["INBOX"]);
}

#[test]
fn an_unreadable_unit_is_a_finding_and_what_came_before_is_kept() {
    let inbox = FolderPath::inbox();
    let mut s = MemorySource::new();
    s.unit(inbox.clone(), vec![msg(&inbox, "a", 1), Stored::Fail("truncated".into()), msg(&inbox, "z", 2)]);
    let sink = MemorySink::new();
    let r = run(&s, &sink, &ConvertOptions::default()).unwrap();
    assert_eq!((r.read, r.written), (1, 1));
    let f = &r.findings[0];
    assert_eq!((f.level, f.kind), (Level::Error, FindingKind::Unreadable));
    assert!(f.message.contains("truncated"));
}

#[test]
fn a_failed_commit_aborts() {
    let mut sink = MemorySink::new();
    sink.fail_commit = Some(io::ErrorKind::PermissionDenied);
    let e = run(&sample(), &sink, &ConvertOptions::default()).unwrap_err();
    assert!(matches!(e, ConvertError::Aborted { .. }), "{e:?}");
    assert!(e.report().is_some());
}

#[test]
fn cancel_stops_and_says_so() {
    let cancel = Arc::new(AtomicBool::new(true));
    let sink = MemorySink::new();
    let opts = ConvertOptions { cancel: Some(cancel), ..ConvertOptions::default() };
    let e = run(&sample(), &sink, &opts).unwrap_err();
    let ConvertError::Aborted { error, report } = e else { panic!() };
    assert!(matches!(error.kind, ErrorKind::Cancelled));
    // What was committed is kept: a sink that defers durability to
    // `finish` (maildir) gets it after a cancel too.
    assert!(sink.finished());
    assert!(report.findings.iter().all(|f| f.kind != FindingKind::Unwritable), "{:?}", report.findings);
}

#[test]
fn many_folders_in_parallel_keep_their_order() {
    let mut s = MemorySource::new();
    for f in 0..20 {
        let folder = FolderPath::new([format!("f{f}")]);
        let items = (0..f * 3).map(|i| msg(&folder, &format!("{f}-{i}"), i)).collect();
        s.unit(folder, items);
    }
    let sink = MemorySink::new();
    let r = run(&s, &sink, &ConvertOptions { jobs: 4, ..ConvertOptions::default() }).unwrap();
    assert_eq!(r.written, (0..20).map(|f| f * 3).sum::<u64>());
    for f in 0..20 {
        let want: Vec<String> = (0..f * 3).map(|i| format!("Subject: {f}-{i}")).collect();
        assert_eq!(subjects(&sink, &format!("f{f}")), want);
    }
}

#[test]
fn fatal_errors_are_recognised() {
    let loc = Location::default();
    assert!(is_fatal(&Error::io(loc.clone(), io::Error::from_raw_os_error(28))));
    assert!(is_fatal(&Error::io(loc.clone(), io::Error::from_raw_os_error(30))));
    assert!(is_fatal(&Error::io(loc.clone(), io::Error::from_raw_os_error(5))));
    let wrapped = io::Error::other(format!("/x: {}", io::Error::from_raw_os_error(5)));
    assert!(is_fatal(&Error::io(loc.clone(), wrapped)));
    assert!(!is_fatal(&Error::io(loc.clone(), io::Error::from_raw_os_error(2))));
    assert!(!is_fatal(&Error::refused(loc, "name")));
}

#[test]
fn writer_findings_reach_the_report() {
    let mut sink = MemorySink::new();
    sink.report_commits = true;
    let r = run(&sample(), &sink, &ConvertOptions::default()).unwrap();
    let notes: Vec<&str> =
        r.findings.iter().filter(|f| f.kind == FindingKind::Leftover).map(|f| f.message.as_str()).collect();
    assert_eq!(notes, ["committed 3", "committed 3"]);
}

#[test]
fn one_big_folder_keeps_its_order_through_the_writer_thread() {
    let inbox = FolderPath::inbox();
    let mut s = MemorySource::new();
    s.unit(inbox.clone(), (0..3000).map(|i| msg(&inbox, &format!("m{i}"), i)).collect());
    let sink = MemorySink::new();
    let r = run(&s, &sink, &ConvertOptions::default()).unwrap();
    assert_eq!((r.read, r.written), (3000, 3000));
    let want: Vec<String> = (0..3000).map(|i| format!("Subject: m{i}")).collect();
    assert_eq!(subjects(&sink, "INBOX"), want);
}
