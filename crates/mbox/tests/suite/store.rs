//! Sources and sinks on disk: folder trees, Thunderbird layout, the sink's
//! naming, refusals, crash safety and re-runs.

use std::fs;
use std::path::Path;

use mailshift_mbox::{read_all, sniff, MboxReadOptions, MboxSink, MboxSource};
use mailshift_model::{
    Envelope, ErrorKind, FindingKind, Flags, FolderPath, Item, Message, Role, Sink, Source,
};

const MSG: &str = "From a@b Sat Jan  3 01:05:34 1996\nSubject: x\n\nbody\n\n";

fn messages_of(source: &MboxSource) -> Vec<(String, Vec<Message>)> {
    let mut findings = Vec::new();
    let units = source.units(&mut findings).unwrap();
    units
        .iter()
        .map(|u| {
            let msgs = read_all(source, u)
                .unwrap()
                .into_iter()
                .filter_map(|i| if let Item::Message(m) = i { Some(m) } else { None })
                .collect();
            (u.folder.key(), msgs)
        })
        .collect()
}

#[test]
fn tree_of_mbox_files_and_thunderbird_sbd() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("Inbox"), MSG).unwrap();
    fs::write(d.join("Inbox.msf"), "// mork").unwrap();
    fs::write(d.join("Sent"), MSG.repeat(2)).unwrap();
    fs::write(d.join("Trash"), "").unwrap(); // Thunderbird's empty folder
    fs::write(d.join("Archive"), MSG).unwrap();
    fs::create_dir(d.join("Archive.sbd")).unwrap();
    fs::write(d.join("Archive.sbd/2019"), MSG).unwrap();
    fs::write(d.join("Archive.sbd/2019.msf"), "x").unwrap();
    fs::write(d.join("msgFilterRules.dat"), "version=\"9\"").unwrap();
    fs::write(d.join(".hidden"), MSG).unwrap();
    fs::write(d.join("notes.txt"), "just some notes\n").unwrap();
    fs::create_dir(d.join("lists")).unwrap();
    fs::write(d.join("lists/rust%2Fusers"), MSG).unwrap();
    assert!(sniff(d));

    let source = MboxSource::open(d, MboxReadOptions::default()).unwrap();
    let mut findings = Vec::new();
    let units = source.units(&mut findings).unwrap();
    let keys: Vec<String> = units.iter().map(|u| u.folder.key()).collect();
    assert_eq!(keys, vec!["Archive", "Archive/2019", "INBOX", "Sent", "Trash", "lists/rust\\/users"]);
    assert_eq!(units[0].folder.role, Some(Role::Archive));
    assert_eq!(units[1].folder.role, None);
    assert_eq!(units[3].folder.role, Some(Role::Sent));
    assert_eq!(units[5].folder.segments, vec!["lists", "rust/users"]);
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].kind, FindingKind::Ignored);
    assert!(findings[0].location.path.as_ref().unwrap().ends_with("notes.txt"));
    // listing twice gives the same order
    assert_eq!(source.units(&mut Vec::new()).unwrap(), units);

    let counts: Vec<usize> = messages_of(&source).iter().map(|(_, m)| m.len()).collect();
    assert_eq!(counts, vec![1, 1, 1, 2, 0, 1]);
    let trash = read_all(&source, &units[4]).unwrap();
    assert!(matches!(&trash[..], [Item::Finding(f)] if f.kind == FindingKind::Empty));
}

#[test]
fn a_single_file_is_the_inbox_and_sniff_tells_mbox_apart() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("mail.mbox");
    fs::write(&f, MSG).unwrap();
    let source = MboxSource::open(&f, MboxReadOptions::default()).unwrap();
    let units = source.units(&mut Vec::new()).unwrap();
    assert_eq!(units.len(), 1);
    assert_eq!(units[0].folder, FolderPath::inbox());
    let items = read_all(&source, &units[0]).unwrap();
    let Item::Message(m) = &items[0] else { panic!("{items:?}") };
    assert_eq!(m.envelope.origin.path.as_deref(), Some(f.as_path()));
    assert_eq!(m.envelope.origin.offset, Some(0));
    assert_eq!(m.envelope.origin.item.as_deref(), Some("1"));
    assert!(sniff(&f));
    let not = dir.path().join("x.txt");
    fs::write(&not, "Hello\nFrom me\n").unwrap();
    assert!(!sniff(&not));
    let maildir = dir.path().join("md");
    for sub in ["cur", "new", "tmp"] {
        fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    assert!(!sniff(&maildir));
    assert!(MboxSource::open(&dir.path().join("missing"), MboxReadOptions::default()).is_err());
}

fn message(body: &str, flags: Flags) -> Message {
    let env = Envelope {
        flags,
        received: chrono::DateTime::parse_from_rfc3339("2020-02-03T04:05:06+00:00").ok(),
        sender: Some("s@example.org".to_owned()),
        ..Envelope::default()
    };
    Message::new(format!("Subject: t\n\n{body}\n").into_bytes(), env)
}

fn write_folders(sink: &dyn Sink, folders: &[(FolderPath, Vec<Message>)]) {
    for (folder, msgs) in folders {
        let mut w = sink.open_folder(folder).unwrap();
        for m in msgs {
            assert_eq!(w.write(m).unwrap(), mailshift_model::WriteOutcome::Written);
        }
        w.commit().unwrap();
    }
    sink.finish().unwrap();
}

fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn tree_sink_writes_thunderbird_layout_and_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let folders = vec![
        (FolderPath::inbox(), vec![message("From inbox", Flags::SEEN), message("two", Flags::default())]),
        (FolderPath::new(["Sent"]), vec![message("sent", Flags { answered: true, ..Flags::default() })]),
        (FolderPath::new(["Work", "a/b"]), vec![message("slash", Flags::default())]),
        (FolderPath::new([".dot", "x.msf"]), vec![message("odd names", Flags::default())]),
    ];
    let sink = MboxSink::tree(&out).unwrap();
    write_folders(&sink, &folders);
    assert_eq!(files_under(&out), vec!["%2Edot.sbd/x%2Emsf", "Inbox", "Sent", "Work.sbd/a%2Fb"]);

    let source = MboxSource::open(&out, MboxReadOptions::default()).unwrap();
    let back = messages_of(&source);
    let mut want: Vec<(String, Vec<Message>)> = folders.iter().map(|(f, m)| (f.key(), m.clone())).collect();
    want.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(back.len(), want.len());
    for ((gk, gm), (wk, wm)) in back.iter().zip(&want) {
        assert_eq!(gk, wk);
        assert_eq!(gm.len(), wm.len());
        for (g, w) in gm.iter().zip(wm) {
            assert_eq!(g.raw, w.raw);
            assert_eq!(g.envelope.flags, w.envelope.flags);
            assert_eq!(g.envelope.received, w.envelope.received);
        }
    }

    // a re-run (say after a crash) rewrites each folder: same bytes, no duplicates
    let before: Vec<Vec<u8>> = files_under(&out).iter().map(|f| fs::read(out.join(f)).unwrap()).collect();
    let sink = MboxSink::tree(&out).unwrap();
    write_folders(&sink, &folders);
    let after: Vec<Vec<u8>> = files_under(&out).iter().map(|f| fs::read(out.join(f)).unwrap()).collect();
    assert_eq!(before, after);
}

#[test]
fn sink_refuses_escapes_and_a_second_folder_in_one_file() {
    let dir = tempfile::tempdir().unwrap();
    let sink = MboxSink::tree(dir.path()).unwrap();
    for bad in [vec!["..", "x"], vec!["a", ".."], vec!["nul\0"], vec!["/etc"]] {
        let e = sink.open_folder(&FolderPath::with_role(bad.iter().map(|s| (*s).to_owned()).collect(), None));
        assert!(matches!(e.map(|_| ()).unwrap_err().kind, ErrorKind::Refused(_)), "{bad:?}");
    }
    let file = dir.path().join("one.mbox");
    let sink = MboxSink::file(&file).unwrap();
    write_folders(&sink, &[(FolderPath::inbox(), vec![message("a", Flags::default())])]);
    let e = sink.open_folder(&FolderPath::new(["Other"])).map(|_| ()).unwrap_err();
    assert!(matches!(e.kind, ErrorKind::Refused(_)), "{e}");
    assert!(MboxSink::file(dir.path()).is_err(), "a directory is not a file");
}

#[test]
fn nothing_under_the_final_name_before_commit() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f.mbox");
    let sink = MboxSink::file(&file).unwrap();
    {
        let mut w = sink.open_folder(&FolderPath::inbox()).unwrap();
        w.write(&message("x", Flags::default())).unwrap();
        assert!(!file.exists());
        // dropped without commit: as if the run was killed here
    }
    assert!(fs::read_dir(dir.path()).unwrap().next().is_none(), "the temp file is removed");
    let mut w = sink.open_folder(&FolderPath::inbox()).unwrap();
    w.write(&message("x", Flags::default())).unwrap();
    w.commit().unwrap();
    w.write(&message("y", Flags::default())).unwrap();
    w.commit().unwrap();
    drop(w);
    assert_eq!(files_under(dir.path()), vec!["f.mbox"]);
    let text = fs::read_to_string(&file).unwrap();
    assert_eq!(text.matches("\nFrom s@example.org ").count() + usize::from(text.starts_with("From ")), 2);
}

#[test]
fn a_killed_runs_temp_file_is_removed_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    // What a run killed before its commit leaves beside the folder's file.
    fs::write(dir.path().join(".Sent.mailshift-4242.tmp"), b"From half\n").unwrap();
    fs::write(dir.path().join(".Sent.mailshift-x.tmp"), b"not ours").unwrap();
    let sink = MboxSink::tree(dir.path()).unwrap();
    let mut w = sink.open_folder(&FolderPath::new(["Sent"])).unwrap();
    w.write(&message("a", Flags::default())).unwrap();
    w.commit().unwrap();
    let findings = w.take_findings();
    assert!(findings.iter().any(|f| f.kind == FindingKind::Leftover), "{findings:?}");
    drop(w);
    let mut names: Vec<String> =
        fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(names, [".Sent.mailshift-x.tmp", "Sent"]);
}

#[test]
fn mbox_suffixes_are_not_part_of_folder_names() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("Inbox.mbox"), MSG).unwrap();
    fs::write(dir.path().join("Archived.MBOX"), MSG).unwrap();
    fs::create_dir_all(dir.path().join("Projects.mbox")).unwrap();
    fs::write(dir.path().join("Projects.mbox/mbox"), MSG).unwrap();
    fs::write(dir.path().join("x%2Embox"), MSG).unwrap();
    let source = MboxSource::open(dir.path(), MboxReadOptions::default()).unwrap();
    let keys: Vec<String> = messages_of(&source).into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, ["Archived", "INBOX", "Projects", "x.mbox"]);
}
