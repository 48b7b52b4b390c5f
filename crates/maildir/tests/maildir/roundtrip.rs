//! Write generated messages, read them back: same bytes, flags, dates, folders.

use mailshift_maildir::{Layout, MaildirSource};
use mailshift_model::{ErrorKind, FolderPath, Sink, Source, WriteOutcome};

use crate::support::{content_of, message, odd_folders, read_dir, sink, tree, write_all};

fn generated() -> Vec<mailshift_model::Message> {
    let mut msgs = Vec::new();
    for (fi, folder) in odd_folders().iter().enumerate() {
        let count = if fi == 0 { 64 } else { 5 };
        for i in 0..count {
            msgs.push(message(folder, i + fi * 64));
        }
    }
    // Two identical messages (same bytes, same date) must both survive.
    let twin = msgs[3].clone();
    msgs.insert(4, twin);
    msgs
}

fn round_trip(layout: Layout, utf8: bool) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("Maildir");
    let msgs = generated();
    let (outcomes, findings) = write_all(&sink(&root, layout, utf8), &msgs);
    assert!(outcomes.iter().all(|o| *o == WriteOutcome::Written), "{outcomes:?}");
    assert!(findings.is_empty(), "{findings:?}");

    let src = MaildirSource::open(&root).unwrap();
    assert_eq!(src.layout(), layout);
    let (back, findings) = read_dir(&root);
    assert!(findings.is_empty(), "{findings:?}");
    assert_eq!(back.len(), msgs.len());
    assert_eq!(content_of(&back), content_of(&msgs));
    // Every read message names its file; no file was written outside the root.
    assert!(back.iter().all(|m| m.envelope.origin.path.as_ref().is_some_and(|p| p.starts_with(&root))));
    let entries: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(entries, ["Maildir"]);

    // Everything is in cur/ with an info part and a size, nothing in new/ or tmp/.
    let files = tree(&root);
    let msg_files: Vec<_> = files.iter().filter(|f| f.contains("/cur/") || f.starts_with("cur/")).collect();
    assert_eq!(msg_files.len(), msgs.len());
    assert!(msg_files.iter().all(|f| f.contains(",S=") && f.contains(":2,")), "{msg_files:?}");
    assert!(!files.iter().any(|f| f.contains("tmp/") || f.contains("new/")), "{files:?}");

    // A re-run writes nothing new.
    let (outcomes, _) = write_all(&sink(&root, layout, utf8), &msgs);
    assert!(outcomes.iter().all(|o| *o == WriteOutcome::AlreadyPresent), "{outcomes:?}");
    assert_eq!(tree(&root), files);
}

#[test]
fn maildirpp_round_trip_mutf7() {
    round_trip(Layout::MaildirPlusPlus, false);
}

#[test]
fn maildirpp_round_trip_utf8() {
    round_trip(Layout::MaildirPlusPlus, true);
}

#[test]
fn fs_round_trip_mutf7() {
    round_trip(Layout::Fs, false);
}

#[test]
fn fs_round_trip_utf8() {
    round_trip(Layout::Fs, true);
}

#[test]
fn on_disk_names_are_dovecots() {
    let dir = tempfile::tempdir().unwrap();
    let s = sink(dir.path(), Layout::MaildirPlusPlus, false);
    let folder = FolderPath::new(["Entwürfe", "Project 1.5"]);
    let mut w = s.open_folder(&folder).unwrap();
    let mut m = message(&folder, 7);
    m.envelope.flags = mailshift_model::Flags::SEEN;
    m.envelope.flags.add_keyword("$Label1");
    w.write(&m).unwrap();
    w.commit().unwrap();
    let fdir = dir.path().join(".Entw&APw-rfe.Project 1\\2e5");
    assert!(fdir.join("maildirfolder").is_file());
    assert_eq!(std::fs::read_to_string(fdir.join("dovecot-keywords")).unwrap(), "0 $Label1\n");
    let names: Vec<String> = std::fs::read_dir(fdir.join("cur"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 1);
    let t = m.envelope.received.unwrap().timestamp();
    assert!(names[0].starts_with(&format!("{t}.M")), "{names:?}");
    assert!(names[0].ends_with(&format!(".mailshift,S={}:2,Sa", m.raw.len())), "{names:?}");
    let mtime = std::fs::metadata(fdir.join("cur").join(&names[0])).unwrap().modified().unwrap();
    assert_eq!(mtime.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64, t);
}

#[test]
fn keywords_merge_and_overflow_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let s = sink(dir.path(), Layout::MaildirPlusPlus, false);
    std::fs::write(dir.path().join("dovecot-keywords"), "3 Existing\n").unwrap();
    let mut w = s.open_folder(&FolderPath::inbox()).unwrap();
    let mut m = message(&FolderPath::inbox(), 1);
    for k in 0..30 {
        m.envelope.flags.add_keyword(&format!("kw{k:02}"));
    }
    m.envelope.flags.add_keyword("Existing");
    w.write(&m).unwrap();
    w.commit().unwrap();
    let findings = w.take_findings();
    // 26 letters, one taken by "Existing": 25 of the 30 new keywords fit.
    assert_eq!(findings.len(), 5, "{findings:?}");
    assert!(findings.iter().all(|f| f.message.contains("left out")));
    let text = std::fs::read_to_string(dir.path().join("dovecot-keywords")).unwrap();
    assert!(text.contains("3 Existing\n"), "{text}");
    assert_eq!(text.lines().count(), 26);
    let (back, _) = read_dir(dir.path());
    let kws = &back[0].envelope.flags.keywords;
    assert_eq!(kws.len(), 26);
    assert!(kws.contains("Existing") && kws.contains("kw00") && !kws.contains("kw29"));
}

#[test]
fn unsafe_folder_names_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for layout in [Layout::MaildirPlusPlus, Layout::Fs] {
        let s = sink(&dir.path().join(layout.as_str()), layout, false);
        for bad in [vec!["..", "etc"], vec!["a", ".."], vec!["nul\0"], vec!["."]] {
            let folder = FolderPath::with_role(bad.iter().map(|s| (*s).to_owned()).collect(), None);
            let err = s.open_folder(&folder).err().expect("refused");
            assert!(matches!(err.kind, ErrorKind::Refused(_)), "{err}");
        }
    }
    let entries: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(entries.len(), 2);
}

#[test]
fn message_without_date_is_written_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = message(&FolderPath::inbox(), 2);
    m.envelope.received = None;
    let msgs = vec![m.clone(), m];
    let (o, _) = write_all(&sink(dir.path(), Layout::MaildirPlusPlus, false), &msgs);
    assert_eq!(o, [WriteOutcome::Written, WriteOutcome::Written]);
    let (o, _) = write_all(&sink(dir.path(), Layout::MaildirPlusPlus, false), &msgs);
    assert_eq!(o, [WriteOutcome::AlreadyPresent, WriteOutcome::AlreadyPresent]);
    let (back, _) = read_dir(dir.path());
    assert_eq!(back.len(), 2);
    assert!(MaildirSource::open(dir.path()).unwrap().info().variant.as_deref() == Some("maildir++"));
}

#[test]
fn folders_are_written_in_parallel() {
    let dir = tempfile::tempdir().unwrap();
    let s = sink(dir.path(), Layout::Fs, false);
    let folders: Vec<FolderPath> =
        (0..8).map(|i| FolderPath::new(["Shared", "Parent", &format!("f{i}")])).collect();
    let msgs: Vec<Vec<_>> = folders.iter().map(|f| (0..50).map(|i| message(f, i)).collect()).collect();
    std::thread::scope(|scope| {
        for (folder, ms) in folders.iter().zip(&msgs) {
            let s = &s;
            scope.spawn(move || {
                let mut w = s.open_folder(folder).unwrap();
                for m in ms {
                    assert_eq!(w.write(m).unwrap(), WriteOutcome::Written);
                }
                w.commit().unwrap();
            });
        }
    });
    let all: Vec<_> = msgs.into_iter().flatten().collect();
    let (back, _) = read_dir(dir.path());
    assert_eq!(content_of(&back), content_of(&all));
}

#[test]
fn message_without_received_date_is_dated_by_its_date_header() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = message(&FolderPath::inbox(), 3);
    m.envelope.received = None;
    m.raw = [b"Date: Mon, 22 Jul 1996 00:02:55 -0700 (PDT)\n".as_slice(), &m.raw].concat();
    write_all(&sink(dir.path(), Layout::MaildirPlusPlus, false), &[m]);
    let (back, _) = read_dir(dir.path());
    assert_eq!(back[0].envelope.received.unwrap().timestamp(), 838_018_975);
    let name =
        back[0].envelope.origin.path.as_ref().unwrap().file_name().unwrap().to_str().unwrap().to_owned();
    assert!(name.starts_with("838018975.M"), "{name}");
}
