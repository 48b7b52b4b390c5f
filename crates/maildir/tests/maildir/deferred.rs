//! Durability deferred to the end of the run (`MaildirSink::create_deferred`):
//! one barrier for many small folders, nothing named before it, and a run
//! cut short before it loses what it wrote but leaves nothing half-done.

use std::fs;
use std::path::Path;

use mailshift_maildir::{Layout, MaildirSink, MaildirWriteOptions};
use mailshift_model::durable::{barriers_on_this_thread, Barriers, Staging};
use mailshift_model::{Flags, FolderPath, Message, Sink, WriteOutcome};

use crate::support::{content_of, message, read_dir, write_all};

/// 30 folders of 3 messages each, without keywords (see below for those).
fn small_folders() -> Vec<Message> {
    let mut msgs = Vec::new();
    for f in 0..30 {
        let folder = FolderPath::new([format!("Folder {f}")]);
        for i in 0..3 {
            let mut m = message(&folder, f * 3 + i);
            m.envelope.flags = Flags { seen: i % 2 == 0, flagged: i == 1, ..Flags::default() };
            msgs.push(m);
        }
    }
    msgs
}

fn opts() -> MaildirWriteOptions {
    MaildirWriteOptions { layout: Layout::MaildirPlusPlus, utf8_names: false }
}

/// Every file under `dir/*/{cur,new}` (the names a reader sees).
fn named_messages(dir: &Path) -> Vec<String> {
    let mut names = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    for e in fs::read_dir(dir).unwrap().flatten() {
        if e.file_type().unwrap().is_dir() && e.file_name().to_string_lossy().starts_with('.') {
            folders.push(e.path());
        }
    }
    for f in folders {
        for sub in ["cur", "new"] {
            for e in fs::read_dir(f.join(sub)).unwrap().flatten() {
                names.push(e.file_name().into_string().unwrap());
            }
        }
    }
    names.sort();
    names
}

fn since(before: Barriers) -> Barriers {
    let now = barriers_on_this_thread();
    Barriers { syncfs: now.syncfs - before.syncfs, fsync: now.fsync - before.fsync }
}

#[test]
fn many_small_folders_take_one_barrier_per_run() {
    let msgs = small_folders();

    // Deferred: nothing is named at the commits, two syncfs at the end
    // (bytes, then names) and not one fsync for the 30 new folders.
    let dir = tempfile::tempdir().unwrap();
    let before = barriers_on_this_thread();
    let sink = MaildirSink::create_deferred(dir.path(), opts()).unwrap();
    assert!(sink.is_deferred());
    let (outcomes, _) = write_all(&sink, &msgs);
    assert!(outcomes.iter().all(|o| *o == WriteOutcome::Written));
    assert!(named_messages(dir.path()).is_empty(), "a message was named before the run's barrier");
    assert_eq!(since(before), Barriers { syncfs: 0, fsync: 0 }, "a barrier before the end of the run");
    sink.finish().unwrap();
    assert_eq!(since(before), Barriers { syncfs: 2, fsync: 0 });
    assert_eq!(named_messages(dir.path()).len(), msgs.len());
    let (back, _) = read_dir(dir.path());
    assert_eq!(content_of(&back), content_of(&msgs));

    // Committing each folder on its own: two syncfs per folder, and the
    // directories of each new folder synced one by one.
    let dir = tempfile::tempdir().unwrap();
    let before = barriers_on_this_thread();
    let sink = MaildirSink::create(dir.path(), opts()).unwrap();
    write_all(&sink, &msgs);
    sink.finish().unwrap();
    let per_folder = since(before);
    assert_eq!(per_folder.syncfs, 60, "{per_folder:?}");
    assert!(per_folder.fsync >= 60, "{per_folder:?}");
    assert_eq!(named_messages(dir.path()).len(), msgs.len());

    // A second deferred run finds everything present: no barrier needed
    // beyond nothing at all.
    let before = barriers_on_this_thread();
    let sink = MaildirSink::create_deferred(dir.path(), opts()).unwrap();
    let (outcomes, _) = write_all(&sink, &msgs);
    assert!(outcomes.iter().all(|o| *o == WriteOutcome::AlreadyPresent));
    sink.finish().unwrap();
    assert_eq!(since(before), Barriers { syncfs: 0, fsync: 0 });
}

#[test]
fn keywords_stay_durable_before_the_names_that_use_them() {
    // Messages with keywords: each folder's `dovecot-keywords` is written
    // at its commit, before the run names any message. A new one is not
    // synced on its own (no durable message uses its letters yet; the run's
    // first syncfs makes it durable before any name does).
    let dir = tempfile::tempdir().unwrap();
    let folders: Vec<_> = (0..4).map(|f| FolderPath::new([format!("K{f}")])).collect();
    let msgs: Vec<_> = folders.iter().flat_map(|f| (0..12).map(|i| message(f, i))).collect();
    let before = barriers_on_this_thread();
    let sink = MaildirSink::create_deferred(dir.path(), opts()).unwrap();
    write_all(&sink, &msgs[..24]);
    assert!(named_messages(dir.path()).is_empty());
    let kw = dir.path().join(".K0/dovecot-keywords");
    assert!(fs::read_to_string(&kw).unwrap().contains("$Label1"));
    sink.finish().unwrap();
    assert_eq!(since(before), Barriers { syncfs: 2, fsync: 0 });

    // A keywords file that exists may be what durable messages' letters
    // mean: adding to it replaces it crash-safely (file and directory
    // fsync), once per folder that gets a new keyword.
    let before = barriers_on_this_thread();
    let sink = MaildirSink::create_deferred(dir.path(), opts()).unwrap();
    let mut more = msgs.clone();
    let mut new_one = message(&folders[0], 100);
    new_one.envelope.flags.add_keyword("brand-new");
    more.push(new_one);
    let (outcomes, _) = write_all(&sink, &more);
    // K2 and K3 (new keywords files, not synced on their own) and the new
    // message of K0 (whose keywords file exists).
    assert_eq!(outcomes.iter().filter(|o| **o == WriteOutcome::Written).count(), 25);
    sink.finish().unwrap();
    assert_eq!(since(before), Barriers { syncfs: 2, fsync: 2 });
    assert!(fs::read_to_string(&kw).unwrap().contains("brand-new"));
    let (back, _) = read_dir(dir.path());
    assert_eq!(content_of(&back), content_of(&more));
}

/// A run that never reaches `finish` (killed, or dropped after an error)
/// leaves no message named, and the next run writes everything once.
#[test]
fn a_run_cut_short_before_its_barrier_leaves_nothing_named() {
    for staging in [Staging::Unnamed, Staging::TempFiles] {
        let msgs = small_folders();
        let dir = tempfile::tempdir().unwrap();
        {
            let sink = MaildirSink::create_deferred(dir.path(), opts()).unwrap().with_staging(staging);
            write_all(&sink, &msgs[..45]);
            // Dropped without finish: the crash.
        }
        assert!(named_messages(dir.path()).is_empty(), "{staging:?}");

        let sink = MaildirSink::create_deferred(dir.path(), opts()).unwrap().with_staging(staging);
        let (outcomes, findings) = write_all(&sink, &msgs);
        assert!(outcomes.iter().all(|o| *o == WriteOutcome::Written), "{staging:?}");
        if staging == Staging::TempFiles {
            assert!(findings.iter().any(|f| f.message.contains("temporary file")), "{findings:?}");
        }
        sink.finish().unwrap();
        assert_eq!(named_messages(dir.path()).len(), msgs.len(), "{staging:?}");
        let (back, _) = read_dir(dir.path());
        assert_eq!(content_of(&back), content_of(&msgs), "{staging:?}");
        let left: Vec<_> =
            fs::read_dir(dir.path().join(".Folder 0/tmp")).unwrap().flatten().map(|e| e.path()).collect();
        assert!(left.is_empty(), "left in tmp/: {left:?}");
    }
}

/// A folder opened twice in one run (temp files waiting in the run's batch)
/// does not delete the first writer's files when it opens again.
#[test]
fn a_folder_opened_again_in_the_same_run_keeps_its_waiting_files() {
    let dir = tempfile::tempdir().unwrap();
    let folder = FolderPath::new(["Twice"]);
    let msgs: Vec<_> = (0..6).map(|i| message(&folder, i)).collect();
    let sink = MaildirSink::create_deferred(dir.path(), opts()).unwrap().with_staging(Staging::TempFiles);
    for part in msgs.chunks(3) {
        let mut w = sink.open_folder(&folder).unwrap();
        for m in part {
            w.write(m).unwrap();
        }
        w.commit().unwrap();
        assert!(w.take_findings().iter().all(|f| !f.message.contains("temporary")));
    }
    sink.finish().unwrap();
    let (back, _) = read_dir(dir.path());
    assert_eq!(content_of(&back), content_of(&msgs));
}

/// A deferred run that writes no message (an empty PST: only folders)
/// takes no barrier; one message anywhere brings both `syncfs` back, and
/// with them the durability of the folders created.
#[test]
fn a_run_that_writes_nothing_takes_no_barrier() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("out");
    let before = barriers_on_this_thread();
    let sink = MaildirSink::create_deferred(&root, opts()).unwrap();
    for name in ["Inbox", "Deleted Items", "Contacts"] {
        let mut w = sink.open_folder(&FolderPath::new([name])).unwrap();
        w.commit().unwrap();
    }
    sink.finish().unwrap();
    assert_eq!(since(before), Barriers { syncfs: 0, fsync: 0 });
    assert!(root.join(".Deleted Items/cur").is_dir() && root.join("cur").is_dir());

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("out");
    let before = barriers_on_this_thread();
    let sink = MaildirSink::create_deferred(&root, opts()).unwrap();
    for (i, name) in ["Inbox", "Deleted Items", "Contacts"].into_iter().enumerate() {
        let folder = FolderPath::new([name]);
        let mut w = sink.open_folder(&folder).unwrap();
        if i == 2 {
            assert_eq!(w.write(&message(&folder, 1)).unwrap(), WriteOutcome::Written);
        }
        w.commit().unwrap();
    }
    sink.finish().unwrap();
    assert_eq!(since(before), Barriers { syncfs: 2, fsync: 0 });
    assert_eq!(named_messages(&root.join(".Contacts")).len(), 1);
}
