//! `restore` through the library: what a killed restore leaves behind is
//! finished by the next run with no loss and no duplicates, and every
//! message is checked against the manifest before it counts as restored.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use mailshift_archive::{backup, restore, BackupOptions, Manifest, RestoreOptions};
use mailshift_maildir::name::parse_file_name;
use mailshift_maildir::MaildirSource;
use mailshift_model::{FindingKind, Level, NoProgress};
use mailshift_testkit::gen::{self, Amount, Profile};

/// A generated maildir of `n` messages backed up: (archive, its manifest).
fn archived(dir: &Path, n: u64) -> (PathBuf, PathBuf) {
    let src = dir.join("src");
    gen::write_maildir(&src, 7, Amount::Messages(n), Profile::Small).unwrap();
    let source = MaildirSource::open(&src).unwrap();
    let opts = BackupOptions { name: "r".into(), ..BackupOptions::default() };
    let s = backup(&source, &dir.join("out"), &opts, &NoProgress).unwrap();
    let manifest = mailshift_archive::manifest_path(&s.archive);
    (s.archive, manifest)
}

/// Unique name → file bytes of every message under `dir/cur` and `dir/new`.
fn messages(dir: &Path) -> HashMap<String, Vec<Vec<u8>>> {
    let mut out: HashMap<String, Vec<Vec<u8>>> = HashMap::new();
    for sub in ["cur", "new"] {
        for e in fs::read_dir(dir.join(sub)).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().into_string().unwrap();
            let unique = parse_file_name(&name).unwrap().unique.to_owned();
            out.entry(unique).or_default().push(fs::read(e.path()).unwrap());
        }
    }
    out
}

/// The BLAKE3 the manifest lists for each message's unique name.
fn listed(manifest: &Path) -> HashMap<String, String> {
    let m = Manifest::parse(&fs::read(manifest).unwrap()[..]).unwrap();
    m.stored_messages()
        .map(|r| {
            let name = r.path.rsplit('/').next().unwrap();
            (parse_file_name(name).unwrap().unique.to_owned(), r.blake3.clone())
        })
        .collect()
}

/// A restore killed after its first batches were named (here: half the
/// messages in `cur/`) and while the next ones were still being written
/// (files of ours in `tmp/`, one of them cut short) is finished by running
/// it again: every message exactly once, with the manifest's bytes, the
/// half already there counted as present, and nothing left in `tmp/`.
#[test]
fn a_killed_restore_is_finished_by_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let (archive, manifest) = archived(dir.path(), 40);
    let want = listed(&manifest);
    assert_eq!(want.len(), 40);

    // What a killed run leaves: built from a complete restore.
    let dest = dir.path().join("dest");
    let first = restore(&archive, &dest, &RestoreOptions::default(), &NoProgress).unwrap();
    assert_eq!((first.written, first.already_present), (40, 0));
    let mut names: Vec<PathBuf> =
        fs::read_dir(dest.join("cur")).unwrap().map(|e| e.unwrap().path()).collect();
    names.sort();
    assert_eq!(names.len(), 40);
    for (i, p) in names.iter().enumerate().skip(20) {
        let tmp = dest.join("tmp").join(p.file_name().unwrap());
        if i % 2 == 0 {
            // Written to tmp/, not renamed yet.
            fs::rename(p, &tmp).unwrap();
        } else {
            fs::remove_file(p).unwrap();
        }
    }
    let cut = fs::read_dir(dest.join("tmp")).unwrap().next().unwrap().unwrap().path();
    let bytes = fs::read(&cut).unwrap();
    fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    // Someone else's file in tmp/ is not ours to remove.
    fs::write(dest.join("tmp").join("1.other.host"), b"not ours").unwrap();

    let again = restore(&archive, &dest, &RestoreOptions::default(), &NoProgress).unwrap();
    assert_eq!((again.read, again.written, again.already_present, again.skipped), (40, 40, 20, 0));
    let got = messages(&dest);
    assert_eq!(got.len(), 40, "a message is missing");
    for (unique, copies) in &got {
        assert_eq!(copies.len(), 1, "{unique} is there {} times", copies.len());
        assert_eq!(
            blake3::hash(&copies[0]).to_hex().as_str(),
            want[unique],
            "{unique} differs from the manifest"
        );
    }
    let left: Vec<_> = fs::read_dir(dest.join("tmp")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, vec![std::ffi::OsString::from("1.other.host")], "tmp/ keeps only the foreign file");

    // A third run changes nothing.
    let third = restore(&archive, &dest, &RestoreOptions::default(), &NoProgress).unwrap();
    assert_eq!((third.written, third.already_present), (40, 40));
    assert_eq!(messages(&dest), got);
}

/// A message whose bytes do not hash to what the manifest lists (here the
/// manifest is changed, which is the same to the check) is not restored,
/// is named, and does not count as written; the others are restored.
#[test]
fn a_message_that_differs_from_the_manifest_is_not_restored() {
    let dir = tempfile::tempdir().unwrap();
    let (archive, manifest) = archived(dir.path(), 12);
    let want = listed(&manifest);
    let text = fs::read_to_string(&manifest).unwrap();
    let (victim, hash) = want.iter().min().unwrap();
    let first = if hash.starts_with('0') { '1' } else { '0' };
    let flipped = format!("{first}{}", &hash[1..]);
    assert_eq!(text.matches(hash.as_str()).count(), 1, "the test needs the hash once (the message record)");
    fs::write(&manifest, text.replace(hash.as_str(), &flipped)).unwrap();

    let dest = dir.path().join("dest");
    let r = restore(&archive, &dest, &RestoreOptions::default(), &NoProgress).unwrap();
    assert_eq!((r.read, r.written, r.skipped), (12, 11, 1));
    let named: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.level == Level::Error && f.kind == FindingKind::Mismatch)
        .map(|f| f.location.to_string())
        .collect();
    assert_eq!(named.len(), 1, "{:?}", r.findings);
    assert!(named[0].contains(victim.as_str()), "{named:?} does not name {victim}");
    let got = messages(&dest);
    assert_eq!(got.len(), 11);
    assert!(!got.contains_key(victim), "the message that differs was restored");
    for (unique, copies) in &got {
        assert_eq!(blake3::hash(&copies[0]).to_hex().as_str(), want[unique]);
    }
}

/// An archive cut short ends the restore with an error naming the archive
/// (the decompressing thread's error reaches the parser, nothing hangs);
/// what is under `cur/` by then is complete messages with the manifest's
/// bytes, and a restore of the whole archive afterwards finishes the job.
#[test]
fn a_truncated_archive_is_an_error_and_leaves_only_whole_messages() {
    let dir = tempfile::tempdir().unwrap();
    let (archive, manifest) = archived(dir.path(), 60);
    let want = listed(&manifest);
    let bytes = fs::read(&archive).unwrap();
    let cut_dir = dir.path().join("cut");
    fs::create_dir(&cut_dir).unwrap();
    let cut = cut_dir.join(archive.file_name().unwrap());
    fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    fs::copy(&manifest, cut_dir.join(manifest.file_name().unwrap())).unwrap();

    let dest = dir.path().join("dest");
    let e = restore(&cut, &dest, &RestoreOptions::default(), &NoProgress).unwrap_err();
    let text = e.to_string();
    assert!(text.contains("damaged") && text.contains(&cut.display().to_string()), "{text}");
    let got = messages(&dest);
    assert!(got.len() < 60, "a cut archive cannot hold every message");
    for (unique, copies) in &got {
        assert_eq!(copies.len(), 1);
        assert_eq!(blake3::hash(&copies[0]).to_hex().as_str(), want[unique], "{unique} is not whole");
    }
    let r = restore(&archive, &dest, &RestoreOptions::default(), &NoProgress).unwrap();
    assert_eq!((r.written, r.already_present), (60, got.len() as u64));
    assert_eq!(messages(&dest).len(), 60);
}
