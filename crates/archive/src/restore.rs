//! `restore`: an archive's maildir into a destination, crash-safely and
//! idempotently, refusing every entry that could leave the destination.
//!
//! `tar`'s own unpacking is not used: every path is checked here. Only the
//! shapes a backup writes are accepted (`NAME/maildir/` then an optional
//! `.Folder`, then `cur`/`new`/`tmp`, a message name, `dovecot-keywords` or
//! `maildirfolder`), only regular files and directories; absolute paths,
//! `..`, links, devices and FIFOs are refused and named in the report.
//! Existing directories inside the destination must be real directories,
//! not symlinks.
//!
//! Messages are written to the folder's `tmp/`, dated (mtime = received),
//! and renamed into `cur/` in batches made durable by one `syncfs`
//! ([`RenameBatch`]). A message whose unique name is already in the folder
//! is left alone, so restoring twice (or after a crash) adds nothing, and
//! keyword letters are translated into the destination's own
//! `dovecot-keywords`, so restoring into a maildir that has other keywords
//! keeps every flag right.
//!
//! Three threads: one decompresses and checks entries, one writes files,
//! one makes full batches durable and renames them while the next batch is
//! written, so the disk's flush never stalls the writing.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::time::Instant;

use filetime::FileTime;
use mailshift_maildir::keywords::{self, Keywords};
use mailshift_maildir::name::{
    decode_folder, file_name, flags_from_letters, is_mailshift_unique, parse_file_name,
};
use mailshift_maildir::Layout;
use mailshift_model::durable::{sync_dir, RenameBatch};
use mailshift_model::{Error, Finding, FindingKind, Location, Progress, Report, Result};
use tar::EntryType;

use crate::budget::Budget;
use crate::manifest::Manifest;
use crate::{tarfmt, MAILDIR_DIR, MANIFEST_ENTRY, ORIGINAL_DIR};

/// Entries in flight between the decompressing and the writing thread.
const CHANNEL: usize = 256;

/// How to run [`restore`].
#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    /// Restore only this folder (its key, `a/b`; `INBOX` for the inbox)
    /// and the folders below it.
    pub folder: Option<String>,
}

/// Where an accepted entry goes, relative to the destination maildir.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    /// A folder directory (`""` is the inbox) or one of its `cur/new/tmp`.
    Dir { folder: String },
    /// A message file in `cur/` or `new/`.
    Message { folder: String, sub: &'static str, name: String },
    /// The folder's `dovecot-keywords`.
    Keywords { folder: String },
    /// Something that is not restored and not wrong (the manifest, originals).
    Ignore,
}

fn sub_name(s: &str) -> Option<&'static str> {
    match s {
        "cur" => Some("cur"),
        "new" => Some("new"),
        "tmp" => Some("tmp"),
        _ => None,
    }
}

fn is_folder_dir(s: &str) -> bool {
    s.starts_with('.') && s != "." && s != ".." && decode_folder(s, Layout::MaildirPlusPlus).is_some()
}

/// Decides what an entry is, or why it is refused.
fn classify(path: &[u8], kind: EntryType) -> std::result::Result<Target, String> {
    let Ok(path) = std::str::from_utf8(path) else { return Err("path is not UTF-8".to_owned()) };
    if path.starts_with('/') {
        return Err("absolute path".to_owned());
    }
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    if parts.iter().any(|p| *p == ".." || *p == ".") {
        return Err("path holds a `..` or `.` component".to_owned());
    }
    if path.contains('\0') || path.contains('\\') && parts.iter().any(|p| p.contains("..")) {
        return Err("path holds a NUL or an escaped separator".to_owned());
    }
    let is_dir = kind.is_dir();
    let is_file = matches!(kind, EntryType::Regular | EntryType::Continuous);
    if !is_dir && !is_file {
        return Err(format!("entry type {kind:?} (links, devices and FIFOs are never restored)"));
    }
    match parts.as_slice() {
        [_] if is_dir => return Ok(Target::Ignore),
        [_, m] if *m == MANIFEST_ENTRY && is_file => return Ok(Target::Ignore),
        [_, o, ..] if *o == ORIGINAL_DIR => return Ok(Target::Ignore),
        [_, m, ..] if *m == MAILDIR_DIR => {}
        _ => return Err("not part of a mailshift archive's maildir".to_owned()),
    }
    let rest = &parts[2..];
    let (folder, rest) = match rest.first() {
        Some(f) if is_folder_dir(f) => ((*f).to_owned(), &rest[1..]),
        _ => (String::new(), rest),
    };
    match (rest, is_dir) {
        ([], true) => Ok(Target::Dir { folder }),
        ([s], true) if sub_name(s).is_some() => Ok(Target::Dir { folder }),
        ([k], false) if *k == keywords::FILE => Ok(Target::Keywords { folder }),
        ([m], false) if *m == "maildirfolder" && !folder.is_empty() => Ok(Target::Dir { folder }),
        ([s, name], false) if matches!(*s, "cur" | "new") && parse_file_name(name).is_some() => {
            Ok(Target::Message { folder, sub: sub_name(s).unwrap_or("cur"), name: (*name).to_owned() })
        }
        _ => Err("not a maildir folder, message, dovecot-keywords or maildirfolder entry".to_owned()),
    }
}

/// One accepted entry, handed to the writing thread.
struct Job {
    target: Target,
    entry: String,
    mtime: i64,
    data: Vec<u8>,
}

/// Restores the maildir of `archive` into `dest` (created if missing).
/// Returns the run's report; refused entries are error findings.
pub fn restore(
    archive: &Path,
    dest: &Path,
    opts: &RestoreOptions,
    progress: &dyn Progress,
) -> Result<Report> {
    let started = Instant::now();
    let loc = || Location::path(archive);
    let file = File::open(archive).map_err(|e| Error::io(loc(), e))?;
    progress.begin(1, file.metadata().map(|m| m.len()).unwrap_or(0));
    let mut report = Report::new("restore");
    report.source = Some(archive.display().to_string());
    report.destination = Some(dest.display().to_string());
    let listed = listed_messages(archive, &mut report);
    let dest_existed = dest.exists();
    fs::create_dir_all(dest).map_err(|e| Error::io(Location::path(dest), e))?;
    let (tx, rx) = sync_channel::<Job>(CHANNEL);
    let budget = Budget::default();
    let mut read_result: Result<()> = Ok(());
    let write_result = std::thread::scope(|s| {
        let budget = &budget;
        let writer = s.spawn(move || {
            let r = write_jobs(dest, archive, listed, rx, progress, budget);
            budget.close();
            r
        });
        read_result = read_jobs(file, archive, opts, &tx, budget, &mut report);
        drop(tx);
        writer
            .join()
            .unwrap_or_else(|_| Err(Error::format(Location::path(dest), "the writing thread panicked")))
    });
    let w = write_result?;
    read_result?;
    report.merge(w);
    if !dest_existed {
        if let Some(parent) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync_dir(parent).map_err(|e| Error::io(Location::path(parent), e))?;
        }
    }
    progress.end();
    report.elapsed_seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// The messages the manifest beside `archive` lists (path → BLAKE3), or
/// `None` (with a warning) when there is no usable manifest beside it.
fn listed_messages(archive: &Path, report: &mut Report) -> Option<HashMap<String, String>> {
    let path = crate::manifest_path(archive);
    match Manifest::load(&path) {
        Ok(m) if m.bad_lines.is_empty() && m.end.is_some() => {
            Some(m.messages().map(|r| (r.path.trim_end_matches('/').to_owned(), r.blake3.clone())).collect())
        }
        Ok(_) => {
            report.findings.push(Finding::warning(
                FindingKind::Malformed,
                Location::path(&path),
                "the manifest beside the archive is damaged or incomplete: messages are restored unchecked \
                 (run `mailshift verify`)",
            ));
            None
        }
        Err(e) => {
            report.findings.push(Finding::warning(
                FindingKind::Missing,
                Location::path(&path),
                format!("no usable manifest beside the archive ({e}): messages are restored unchecked"),
            ));
            None
        }
    }
}

fn folder_key(dir: &str) -> String {
    decode_folder(dir, Layout::MaildirPlusPlus).map_or_else(|| dir.to_owned(), |f| f.key())
}

fn wanted(filter: Option<&str>, target: &Target) -> bool {
    let Some(f) = filter else { return true };
    let dir = match target {
        Target::Dir { folder } | Target::Message { folder, .. } | Target::Keywords { folder } => folder,
        Target::Ignore => return false,
    };
    let key = folder_key(dir);
    key == f || key.starts_with(&format!("{f}/")) || (dir.is_empty() && f.eq_ignore_ascii_case("inbox"))
}

fn read_jobs(
    file: File,
    archive: &Path,
    opts: &RestoreOptions,
    tx: &std::sync::mpsc::SyncSender<Job>,
    budget: &Budget,
    report: &mut Report,
) -> Result<()> {
    let loc = || Location::path(archive);
    let dec = zstd::stream::read::Decoder::new(file).map_err(|e| Error::io(loc(), e))?;
    let mut ar = tar::Archive::new(dec);
    let entries = ar.entries().map_err(|e| Error::io(loc(), e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| Error::format(loc(), format!("the archive is damaged: {e}")))?;
        let path = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&path).into_owned();
        let target = match classify(&path, entry.header().entry_type()) {
            Ok(t) => t,
            Err(why) => {
                report.findings.push(Finding::error(
                    FindingKind::Name,
                    loc().with_item(shown),
                    format!("entry refused, not restored: {why}"),
                ));
                continue;
            }
        };
        if target == Target::Ignore || !wanted(opts.folder.as_deref(), &target) {
            continue;
        }
        let mtime = tarfmt::entry_mtime(&mut entry);
        let mut data = Vec::with_capacity(usize::try_from(entry.size()).unwrap_or(0).min(256 << 20));
        entry.read_to_end(&mut data).map_err(|e| {
            Error::format(loc().with_item(shown.clone()), format!("the entry is damaged: {e}"))
        })?;
        budget.take(data.len() as u64);
        if tx.send(Job { target, entry: shown, mtime, data }).is_err() {
            break; // the writer stopped; its error is reported
        }
    }
    Ok(())
}

/// A destination folder being written.
struct FolderOut {
    dir: PathBuf,
    existing: HashSet<String>,
    archive_kw: Keywords,
    dest_kw: Keywords,
}

struct Writer<'a> {
    dest: &'a Path,
    folders: HashMap<String, FolderOut>,
    batch: RenameBatch,
    /// Staged in `batch`: bytes and files.
    staged: (u64, usize),
    /// Full batches go to the committing thread, which makes them durable
    /// (one `syncfs`) and renames them while this thread writes the next.
    commit: SyncSender<RenameBatch>,
    report: Report,
    archive: &'a Path,
    /// Message entry path → BLAKE3, from the manifest beside the archive:
    /// every message is checked before it is written.
    listed: Option<HashMap<String, String>>,
}

/// Hand a batch to the committing thread at this many bytes or files.
/// Larger than [`RenameBatch`]'s own limits: the `syncfs` runs beside the
/// writing, so fewer, larger batches cost nothing in safety (nothing is
/// under a final name before it is durable) and save `syncfs` calls.
const COMMIT_BYTES: u64 = 256 << 20;
const COMMIT_FILES: usize = 16_384;

/// Checks that `p` is a real directory (not a symlink) or creates it.
fn real_dir(p: &Path) -> io::Result<bool> {
    match fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => Ok(false),
        Ok(_) => Err(io::Error::other(format!(
            "{} exists and is not a directory (symlinks are not followed)",
            p.display()
        ))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir(p)?;
            Ok(true)
        }
        Err(e) => Err(e),
    }
}

impl Writer<'_> {
    fn folder(&mut self, dir: &str) -> Result<&mut FolderOut> {
        if !self.folders.contains_key(dir) {
            let path = if dir.is_empty() { self.dest.to_path_buf() } else { self.dest.join(dir) };
            let loc = || Location::path(&path).with_folder(folder_key(dir));
            let mut created = real_dir(&path).map_err(|e| Error::io(loc(), e))?;
            for sub in ["cur", "new", "tmp"] {
                created |= real_dir(&path.join(sub)).map_err(|e| Error::io(loc(), e))?;
            }
            if !dir.is_empty() {
                let marker = path.join("maildirfolder");
                if fs::symlink_metadata(&marker).is_err() {
                    File::create(&marker).map_err(|e| Error::io(loc(), e))?;
                    created = true;
                }
            }
            if created {
                sync_dir(&path).map_err(|e| Error::io(loc(), e))?;
                sync_dir(self.dest).map_err(|e| Error::io(loc(), e))?;
            }
            let mut existing = HashSet::new();
            for sub in ["cur", "new"] {
                for e in fs::read_dir(path.join(sub)).map_err(|e| Error::io(loc(), e))? {
                    let e = e.map_err(|e| Error::io(loc(), e))?;
                    if let Some(p) = e.file_name().to_str().and_then(parse_file_name) {
                        existing.insert(p.unique.to_owned());
                    }
                }
            }
            // What an interrupted restore left in tmp/ (our names only).
            for e in fs::read_dir(path.join("tmp")).map_err(|e| Error::io(loc(), e))?.flatten() {
                let ours = e
                    .file_name()
                    .to_str()
                    .and_then(parse_file_name)
                    .is_some_and(|p| is_mailshift_unique(p.unique));
                if ours {
                    fs::remove_file(e.path()).map_err(|e| Error::io(loc(), e))?;
                }
            }
            let (dest_kw, _) = Keywords::load(&path).map_err(|e| Error::io(loc(), e))?;
            let f = FolderOut { dir: path, existing, archive_kw: Keywords::parse("").0, dest_kw };
            self.folders.insert(dir.to_owned(), f);
        }
        Ok(self.folders.get_mut(dir).expect("inserted above"))
    }

    fn flush(&mut self) -> Result<()> {
        // Keyword letters are durable before any message that uses them.
        for f in self.folders.values_mut() {
            f.dest_kw.save(&f.dir).map_err(|e| Error::io(Location::path(&f.dir), e))?;
        }
        self.staged = (0, 0);
        let batch = std::mem::take(&mut self.batch);
        if batch.is_empty() {
            return Ok(());
        }
        self.commit.send(batch).map_err(|_| {
            Error::format(Location::path(self.dest), "the committing thread stopped (its error follows)")
        })
    }

    fn job(&mut self, job: Job) -> Result<()> {
        match job.target {
            Target::Dir { folder } => {
                self.folder(&folder)?;
            }
            Target::Keywords { folder } => {
                let text = String::from_utf8_lossy(&job.data).into_owned();
                self.folder(&folder)?.archive_kw = Keywords::parse(&text).0;
            }
            Target::Message { folder, sub, name } => {
                self.message(&folder, sub, &name, job.mtime, &job.data, &job.entry)?
            }
            Target::Ignore => {}
        }
        Ok(())
    }

    fn message(
        &mut self,
        folder: &str,
        sub: &str,
        name: &str,
        mtime: i64,
        data: &[u8],
        entry: &str,
    ) -> Result<()> {
        let key = folder_key(folder);
        self.report.read += 1;
        let stats = self.report.folders.entry(key.clone()).or_default();
        stats.read += 1;
        if let Some(listed) = &self.listed {
            let why = match listed.get(entry.trim_end_matches('/')) {
                Some(want) if blake3::hash(data).to_hex().as_str() == want => None,
                Some(_) => Some("its bytes differ from the manifest (BLAKE3): damaged, not restored"),
                None => Some("not listed in the manifest beside the archive: not restored"),
            };
            if let Some(why) = why {
                stats.skipped += 1;
                self.report.skipped += 1;
                self.report.findings.push(Finding::error(
                    FindingKind::Mismatch,
                    Location::path(self.archive).with_item(entry.to_owned()),
                    why,
                ));
                return Ok(());
            }
        }
        let Some(parsed) = parse_file_name(name) else { return Ok(()) };
        let f = self.folder(folder)?;
        if f.existing.contains(parsed.unique) {
            self.report.written += 1;
            self.report.already_present += 1;
            if let Some(s) = self.report.folders.get_mut(&key) {
                s.written += 1;
            }
            return Ok(());
        }
        let (flags, kw_letters) = flags_from_letters(parsed.flags, |_| None);
        let mut letters = String::new();
        let mut lost = Vec::new();
        for c in kw_letters.chars() {
            match f.archive_kw.name(c).map(str::to_owned).and_then(|k| f.dest_kw.letter_for(&k)) {
                Some(l) => letters.push(l),
                None => lost.push(c),
            }
        }
        let final_name = file_name(parsed.unique, parsed.size, &flags, &letters);
        let tmp = f.dir.join("tmp").join(&final_name);
        let target = f.dir.join(sub).join(&final_name);
        f.existing.insert(parsed.unique.to_owned());
        let write = || -> io::Result<()> {
            let mut out = File::create(&tmp)?;
            out.write_all(data)?;
            let t = FileTime::from_unix_time(mtime, 0);
            filetime::set_file_handle_times(&out, Some(t), Some(t))
        };
        if let Err(e) = write() {
            let _ = fs::remove_file(&tmp);
            return Err(Error::io(Location::path(&tmp).with_folder(key), e));
        }
        if !lost.is_empty() {
            self.report.findings.push(Finding::warning(
                FindingKind::Unsupported,
                Location::path(&target).with_item(entry.to_owned()),
                format!("keyword letters {lost:?} have no name in the archive's dovecot-keywords; left out"),
            ));
        }
        self.batch.stage(tmp, target, data.len() as u64);
        self.report.written += 1;
        self.report.bytes_written += data.len() as u64;
        if let Some(s) = self.report.folders.get_mut(&key) {
            s.written += 1;
            s.bytes += data.len() as u64;
        }
        self.staged.0 += data.len() as u64;
        self.staged.1 += 1;
        if self.staged.0 >= COMMIT_BYTES || self.staged.1 >= COMMIT_FILES {
            self.flush()?;
        }
        Ok(())
    }
}

fn write_jobs(
    dest: &Path,
    archive: &Path,
    listed: Option<HashMap<String, String>>,
    rx: Receiver<Job>,
    progress: &dyn Progress,
    budget: &Budget,
) -> Result<Report> {
    let (commit, batches) = sync_channel::<RenameBatch>(1);
    std::thread::scope(|s| {
        let committer = s.spawn(move || -> Result<()> {
            for mut batch in batches.iter() {
                batch.flush().map_err(|e| Error::io(Location::path(dest), e))?;
            }
            Ok(())
        });
        let mut w = Writer {
            dest,
            folders: HashMap::new(),
            batch: RenameBatch::new(),
            staged: (0, 0),
            commit,
            report: Report::new("restore"),
            archive,
            listed,
        };
        let written = (|| -> Result<()> {
            w.folder("")?;
            for job in rx.iter() {
                let n = job.data.len() as u64;
                progress.message(n);
                w.report.bytes_read += n;
                w.job(job)?;
                budget.give(n);
            }
            w.flush()
        })();
        drop(w.commit);
        let committed = committer
            .join()
            .unwrap_or_else(|_| Err(Error::format(Location::path(dest), "the committing thread panicked")));
        // The committer's error is the cause when both failed.
        committed?;
        written?;
        sync_dir(dest).map_err(|e| Error::io(Location::path(dest), e))?;
        Ok(w.report)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_maildir_shapes_are_accepted() {
        let f = EntryType::Regular;
        let d = EntryType::Directory;
        let ok = |p: &str, k| classify(p.as_bytes(), k).unwrap();
        assert_eq!(ok("n/maildir/cur/", d), Target::Dir { folder: String::new() });
        assert_eq!(ok("n/maildir/.Sent/", d), Target::Dir { folder: ".Sent".into() });
        assert_eq!(
            ok("n/maildir/.Sent/cur/1.M1_1.mailshift,S=3:2,S", f),
            Target::Message { folder: ".Sent".into(), sub: "cur", name: "1.M1_1.mailshift,S=3:2,S".into() }
        );
        assert_eq!(ok("n/manifest.jsonl", f), Target::Ignore);
        assert_eq!(ok("n/original/x.mbox", f), Target::Ignore);
        for bad in [
            "../x",
            "/etc/passwd",
            "n/maildir/../../x",
            "n/maildir/cur/../../../x",
            "n/maildir/./cur/x",
            "n/other/x",
            "n/maildir/tmp/1.x",
            "n/maildir/sub/cur/x",
            "n/maildir/.Sent/.hidden",
            "n/maildir/cur/.hidden",
            "n/maildir/..",
        ] {
            assert!(classify(bad.as_bytes(), f).is_err(), "{bad}");
        }
        for kind in [EntryType::Symlink, EntryType::Link, EntryType::Char, EntryType::Block, EntryType::Fifo]
        {
            assert!(classify(b"n/maildir/cur/1.x:2,", kind).is_err(), "{kind:?}");
        }
        assert!(classify(b"n/maildir/cur/\xff", f).is_err());
    }
}
