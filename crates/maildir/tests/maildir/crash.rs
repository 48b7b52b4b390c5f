//! Interrupted runs: whatever a crash leaves, a re-run ends with exactly one
//! copy of every message.

use std::fs;

use mailshift_maildir::Layout;
use mailshift_model::durable::Staging;
use mailshift_model::{FindingKind, FolderPath, Sink, WriteOutcome};

use crate::support::{content_of, message, read_dir, sink, write_all};

fn folder_files(dir: &std::path::Path, sub: &str) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir.join(sub))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

/// The fallback staging (files in `tmp/`, renamed): a crash leaves temp
/// files, half-written ones and renames cut short.
#[test]
fn crash_mid_batch_then_rerun_gives_one_copy() {
    for layout in [Layout::MaildirPlusPlus, Layout::Fs] {
        let dir = tempfile::tempdir().unwrap();
        let folder = FolderPath::new(["Archive", "2019.old"]);
        let msgs: Vec<_> = (0..40).map(|i| message(&folder, i)).collect();
        let s = sink(dir.path(), layout, false).with_staging(Staging::TempFiles);
        let fdir = s.folder_dir(&folder).unwrap();

        // First run: the first 10 messages committed, 20 more written to
        // tmp/ when the process "dies" half way through renaming them.
        {
            let mut w = s.open_folder(&folder).unwrap();
            for m in &msgs[..10] {
                w.write(m).unwrap();
            }
            w.commit().unwrap();
            for m in &msgs[10..30] {
                w.write(m).unwrap();
            }
            let staged = folder_files(&fdir, "tmp");
            assert_eq!(staged.len(), 20);
            for name in &staged[..8] {
                fs::rename(fdir.join("tmp").join(name), fdir.join("cur").join(name)).unwrap();
            }
            // And one file was still being written (truncated).
            let half = &staged[9];
            let len = fs::metadata(fdir.join("tmp").join(half)).unwrap().len();
            fs::OpenOptions::new()
                .write(true)
                .open(fdir.join("tmp").join(half))
                .unwrap()
                .set_len(len / 2)
                .unwrap();
            // The writer is dropped without commit: the crash.
        }
        assert_eq!(folder_files(&fdir, "cur").len(), 18);
        // Another program's file in tmp/ must be left alone.
        fs::write(fdir.join("tmp/1700000000.M1P2.otherhost"), b"not ours").unwrap();

        // The re-run.
        let s = sink(dir.path(), layout, false);
        let mut w = s.open_folder(&folder).unwrap();
        let outcomes: Vec<_> = msgs.iter().map(|m| w.write(m).unwrap()).collect();
        w.commit().unwrap();
        let findings = w.take_findings();
        assert_eq!(outcomes.iter().filter(|o| **o == WriteOutcome::AlreadyPresent).count(), 18);
        assert_eq!(outcomes.iter().filter(|o| **o == WriteOutcome::Written).count(), 22);
        assert!(
            findings.iter().any(|f| f.kind == FindingKind::Leftover && f.message.contains("removed 12")),
            "{findings:?}"
        );
        assert_eq!(folder_files(&fdir, "cur").len(), 40);
        assert_eq!(folder_files(&fdir, "tmp"), ["1700000000.M1P2.otherhost"]);

        let (back, findings) = read_dir(dir.path());
        assert_eq!(content_of(&back), content_of(&msgs));
        // The foreign tmp file is reported, not read as a message.
        assert_eq!(findings.iter().filter(|f| f.kind == FindingKind::Leftover).count(), 1, "{findings:?}");
    }
}

/// The default staging (unnamed files, linked): what a crash before the
/// link leaves is nothing at all.
#[test]
fn unnamed_files_appear_only_when_committed() {
    let dir = tempfile::tempdir().unwrap();
    let folder = FolderPath::new(["Work"]);
    let msgs: Vec<_> = (0..40).map(|i| message(&folder, i)).collect();
    let s = sink(dir.path(), Layout::MaildirPlusPlus, false);
    let fdir = s.folder_dir(&folder).unwrap();
    {
        let mut w = s.open_folder(&folder).unwrap();
        for m in &msgs[..10] {
            w.write(m).unwrap();
        }
        assert!(folder_files(&fdir, "cur").is_empty(), "visible before the commit");
        w.commit().unwrap();
        for m in &msgs[10..30] {
            w.write(m).unwrap();
        }
        // Staged but unnamed: not in tmp/, not in cur/.
        assert!(folder_files(&fdir, "tmp").is_empty());
        assert_eq!(folder_files(&fdir, "cur").len(), 10);
        // The writer is dropped without commit: the crash.
    }
    assert_eq!(folder_files(&fdir, "cur").len(), 10);
    assert!(folder_files(&fdir, "tmp").is_empty());
    let s = sink(dir.path(), Layout::MaildirPlusPlus, false);
    let (outcomes, findings) = write_all(&s, &msgs);
    assert_eq!(outcomes.iter().filter(|o| **o == WriteOutcome::AlreadyPresent).count(), 10);
    assert!(findings.is_empty(), "{findings:?}");
    assert_eq!(folder_files(&fdir, "cur").len(), 40);
    // Bytes, flags and dates (the files' mtimes) as written.
    let (back, _) = read_dir(dir.path());
    assert_eq!(content_of(&back), content_of(&msgs));
}

#[test]
fn large_folder_flushes_in_batches_and_reruns_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let folder = FolderPath::inbox();
    // More than one RenameBatch worth of files.
    let n = mailshift_model::durable::RenameBatch::MAX_FILES + 100;
    let msgs: Vec<_> = (0..n).map(|i| message(&folder, i)).collect();
    let s = sink(dir.path(), Layout::MaildirPlusPlus, false);
    {
        let mut w = s.open_folder(&folder).unwrap();
        for m in &msgs {
            w.write(m).unwrap();
        }
        // Crash before commit (the writer dropped): the first batch was
        // handed to the background sync, which the drop waits for.
    }
    // The first batch is durable and linked, the rest is gone with the
    // process's descriptors.
    assert_eq!(folder_files(dir.path(), "cur").len(), mailshift_model::durable::RenameBatch::MAX_FILES);
    assert!(folder_files(dir.path(), "tmp").is_empty());
    let (outcomes, _) = write_all(&sink(dir.path(), Layout::MaildirPlusPlus, false), &msgs);
    assert_eq!(outcomes.iter().filter(|o| **o == WriteOutcome::Written).count(), 100);
    assert_eq!(folder_files(dir.path(), "cur").len(), n);
    assert!(folder_files(dir.path(), "tmp").is_empty());
}

/// The job the SIGKILL test runs in a child process (this test binary run
/// again with `MAILSHIFT_KILL_DIR` set).
fn kill_job() -> Vec<mailshift_model::Message> {
    let folders = [FolderPath::inbox(), FolderPath::new(["Sent"]), FolderPath::new(["Deep", "Er.1"])];
    (0..1500).map(|i| message(&folders[i % 3], i)).collect()
}

#[test]
#[ignore = "run by sigkill_at_random_points_then_rerun_gives_one_copy in a child process"]
fn kill_child_writer() {
    let Some(dir) = std::env::var_os("MAILSHIFT_KILL_DIR") else { return };
    let msgs = kill_job();
    let s = sink(std::path::Path::new(&dir), Layout::MaildirPlusPlus, false);
    let mut sorted = msgs.clone();
    sorted.sort_by_key(|m| m.envelope.folder.key());
    // Commit every 100 messages, as a pipeline with small batches would.
    for chunk in sorted.chunks(100) {
        let mut w = s.open_folder(&chunk[0].envelope.folder).unwrap();
        for m in chunk.iter().filter(|m| m.envelope.folder == chunk[0].envelope.folder) {
            w.write(m).unwrap();
        }
        w.commit().unwrap();
        let mut rest: Vec<_> =
            chunk.iter().filter(|m| m.envelope.folder != chunk[0].envelope.folder).collect();
        if let Some(first) = rest.first() {
            let mut w = s.open_folder(&first.envelope.folder).unwrap();
            for m in rest.drain(..) {
                w.write(m).unwrap();
            }
            w.commit().unwrap();
        }
    }
}

#[test]
fn sigkill_at_random_points_then_rerun_gives_one_copy() {
    let exe = std::env::current_exe().unwrap();
    let msgs = kill_job();
    let mut sorted = msgs.clone();
    sorted.sort_by_key(|m| m.envelope.folder.key());
    let mut mid_run = 0;
    for delay_ms in [0u64, 30, 100, 250, 500] {
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new(&exe)
            .args(["--exact", "crash::kill_child_writer", "--ignored", "--test-threads=1"])
            .env("MAILSHIFT_KILL_DIR", dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let (outcomes, _) = write_all(&sink(dir.path(), Layout::MaildirPlusPlus, false), &sorted);
        assert_eq!(outcomes.len(), msgs.len());
        let present = outcomes.iter().filter(|o| **o == WriteOutcome::AlreadyPresent).count();
        if present > 0 && present < msgs.len() {
            mid_run += 1;
        }
        let (back, findings) = read_dir(dir.path());
        assert_eq!(back.len(), msgs.len(), "after a kill at {delay_ms} ms");
        assert_eq!(content_of(&back), content_of(&msgs), "after a kill at {delay_ms} ms");
        assert!(findings.is_empty(), "after a kill at {delay_ms} ms: {findings:?}");
    }
    // The kills must have hit a run in progress, not only before or after it.
    assert!(mid_run >= 1, "{mid_run} kill(s) landed in the middle of the run");
}
