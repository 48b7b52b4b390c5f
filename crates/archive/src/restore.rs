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
//! A chain of snapshot backups (version 2 manifests) is restored as its
//! newest manifest lists it ([`restore_chain`]): each listed message is
//! taken from the archive that holds its bytes and written with the
//! folder, flags and date of the newest backup; messages deleted since an
//! earlier backup are not restored. Restore only adds: files already in
//! DEST are never removed or renamed, so restore a chain into an empty DEST
//! to get the mailbox exactly as it was.
//!
//! Four threads, as `zstd -dc | tar -x` is two processes: one reads and
//! decompresses the archive (a `pipe` stage, as in `verify`), one parses
//! the tar, checks each entry's path and hashes each message as it comes
//! out of the decompressor (BLAKE3, against the manifest), one writes the
//! files, and one makes full batches durable (one `syncfs`) and renames
//! them while the next batch is written, so the disk's flush never stalls
//! the writing. The first batch is small and each next one twice as big, so
//! the disk starts early. Memory is bounded: the entries in flight by a
//! byte budget, the pipe by its chunks, and the writer hands message
//! buffers back to the parser for reuse (a few, of at most 1 MiB), which
//! spares the page faults of fresh ones.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::time::Instant;

use filetime::FileTime;
use mailshift_maildir::keywords::{self, Keywords};
use mailshift_maildir::name::{
    decode_folder, file_name, flags_from_letters, is_mailshift_unique, parse_file_name,
};
use mailshift_maildir::Layout;
use mailshift_model::durable::{sync_dir, RenameBatch};
use mailshift_model::{Error, Finding, FindingKind, Flags, Location, Progress, Report, Result};
use tar::EntryType;

use crate::budget::Budget;
use crate::crypt::{is_encrypted, Identities};
use crate::hash_reader::{Counted, HashReader};
use crate::manifest::{self, Manifest};
use crate::pipe::{pipe, pump};
use crate::{tarfmt, MAILDIR_DIR, MANIFEST_ENTRY, ORIGINAL_DIR};

/// Entries in flight between the decompressing and the writing thread.
const CHANNEL: usize = 256;
/// Message buffers the writing thread hands back for reuse, at most this
/// many and of at most [`RECYCLE_MAX`] bytes each (8 MiB in all): a fresh
/// buffer costs a page fault per 4 KiB, which was a tenth of the reading
/// thread's time. A reused buffer may be larger than its message, so the
/// [`Budget`] counts buffers by their capacity.
const RECYCLE: usize = 8;
const RECYCLE_MAX: usize = 1 << 20;

/// How to run [`restore`].
#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    /// Restore only this folder (its key, `a/b`; `INBOX` for the inbox)
    /// and the folders below it.
    pub folder: Option<String>,
    /// Open encrypted archives and manifests.
    pub identities: Option<Arc<Identities>>,
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
    /// A message entry of a chain restore: where the newest manifest
    /// puts these bytes (one or more places).
    Placed(Vec<Placement>),
}

/// Where a chain restore writes one message: folder, name, flags and date
/// from the newest manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Placement {
    folder: String,
    unique: String,
    size: Option<u64>,
    flags: Flags,
    mtime: i64,
    blake3: String,
}

fn sub_name(s: &str) -> Option<&'static str> {
    match s {
        "cur" => Some("cur"),
        "new" => Some("new"),
        "tmp" => Some("tmp"),
        _ => None,
    }
}

/// Whether a folder record's `dir` is one a restore may create: the inbox
/// (`""`) or one Maildir++ folder directory (never a path).
fn classify_folder_dir(dir: &str) -> bool {
    dir.is_empty() || (!dir.contains(['/', '\\', '\0']) && is_folder_dir(dir))
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
    check: Check,
}

/// What a message's bytes are checked against before they are written.
enum Check {
    /// No usable manifest beside the archive (a warning says so).
    Unchecked,
    /// The manifest does not list this entry.
    Unlisted,
    /// The BLAKE3 the manifest lists (read in [`read_jobs`], which hashes
    /// the bytes as they are decompressed and turns this into one of the
    /// two below before the job leaves it).
    Hash(String),
    /// The bytes have the BLAKE3 the manifest lists.
    Matches,
    /// The bytes differ from the manifest.
    Differs,
}

impl Check {
    /// The verdict for bytes hashing to `got`.
    fn verdict(self, got: &blake3::Hash) -> Check {
        match self {
            // Hex text from a damaged manifest does not parse: no match.
            Check::Hash(want) if blake3::Hash::from_hex(want.as_bytes()).is_ok_and(|w| w == *got) => {
                Check::Matches
            }
            Check::Hash(_) => Check::Differs,
            c => c,
        }
    }
}

/// Restores the maildir of `archive` into `dest` (created if missing).
/// Returns the run's report; refused entries are error findings. An
/// incremental snapshot backup is restored with its chain
/// ([`restore_chain`]).
pub fn restore(
    archive: &Path,
    dest: &Path,
    opts: &RestoreOptions,
    progress: &dyn Progress,
) -> Result<Report> {
    restore_chain(&[archive.to_path_buf()], dest, opts, progress)
}

/// Restores `archives` (oldest first) into `dest`. When the newest one is
/// an incremental snapshot backup, the mailbox is restored as its manifest
/// lists it, from the archives of its chain (those given, else those found
/// beside its manifest); otherwise each archive is restored in turn.
pub fn restore_chain(
    archives: &[PathBuf],
    dest: &Path,
    opts: &RestoreOptions,
    progress: &dyn Progress,
) -> Result<Report> {
    let started = Instant::now();
    let Some(newest) = archives.last() else {
        return Err(Error::refused(Location::path(dest), "no archive to restore"));
    };
    let keys = opts.identities.as_deref();
    if is_encrypted(newest) && keys.is_none() {
        return Err(Error::refused(
            Location::path(newest),
            "the archive is encrypted: give --identity FILE (an age identity of a recipient)",
        ));
    }
    let mut report = Report::new("restore");
    report.source = Some(archives.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "));
    report.destination = Some(dest.display().to_string());
    let newest_manifest = manifest::load_full(&crate::manifest_path(newest), keys).ok();
    // What to read: (archive, its message list, its plan).
    let mut work: Vec<(PathBuf, Option<Listed>, Option<Plan>)> = Vec::new();
    // Folders of the snapshot, also the empty ones.
    let mut plan_folders: Vec<String> = Vec::new();
    if newest_manifest.as_ref().is_some_and(Manifest::is_snapshot_increment) {
        let chain = manifest::load_chain(&crate::manifest_path(newest), keys)?;
        let Some((newest_path, snapshot)) = chain.last() else {
            return Err(Error::format(Location::path(newest), "empty chain"));
        };
        let mut plans = plan(newest_path, snapshot, opts.folder.as_deref(), &mut report);
        plan_folders.extend(
            snapshot
                .folders
                .iter()
                .filter(|f| classify_folder_dir(&f.dir))
                .filter(|f| wanted(opts.folder.as_deref(), &Target::Dir { folder: f.dir.clone() }))
                .map(|f| f.dir.clone()),
        );
        for (mpath, m) in &chain {
            let name = base_name(mpath);
            let Some(p) = plans.remove(&name) else { continue };
            let file = m.archive.as_ref().map(|a| a.file.clone()).unwrap_or_default();
            let path = archives
                .iter()
                .find(|a| base_name(a) == file)
                .cloned()
                .unwrap_or_else(|| mpath.with_file_name(&file));
            work.push((path, None, Some(p)));
        }
        for (name, left) in plans {
            let n: usize = left.values().map(Vec::len).sum();
            report.findings.push(Finding::error(
                FindingKind::Missing,
                Location::path(newest_path),
                format!("{n} message(s) are stored in {name}, which is not part of the chain: not restored"),
            ));
        }
    } else {
        for a in archives {
            work.push((a.clone(), listed_messages(a, keys, &mut report)?, None));
        }
    }
    let total: u64 = work.iter().map(|(a, _, _)| fs::metadata(a).map_or(0, |m| m.len())).sum();
    progress.begin(work.len() as u64, total);
    let dest_existed = dest.exists();
    fs::create_dir_all(dest).map_err(|e| Error::io(Location::path(dest), e))?;
    let (tx, rx) = sync_channel::<Job>(CHANNEL);
    let (recycle, recycled) = sync_channel::<Vec<u8>>(RECYCLE);
    let budget = Budget::default();
    let mut read_result: Result<()> = Ok(());
    plan_folders.extend(
        work.iter()
            .filter_map(|(_, _, p)| p.as_ref())
            .flat_map(|p| p.values().flatten().map(|pl| pl.folder.clone())),
    );
    plan_folders.sort();
    plan_folders.dedup();
    let write_result = std::thread::scope(|s| {
        let budget = &budget;
        let writer = s.spawn(move || {
            let r = write_jobs(dest, newest, rx, budget, recycle);
            budget.close();
            r
        });
        let chans = Channels { jobs: &tx, recycled: &recycled, budget };
        read_result = (|| {
            for f in plan_folders {
                let job = Job {
                    target: Target::Dir { folder: f },
                    entry: String::new(),
                    mtime: 0,
                    data: Vec::new(),
                    check: Check::Unchecked,
                };
                if tx.send(job).is_err() {
                    return Ok(());
                }
            }
            for (archive, listed, mut plan) in work {
                let file = File::open(&archive).map_err(|e| Error::io(Location::path(&archive), e))?;
                let counted = Counted { inner: file, progress };
                let src = Source { archive: &archive, listed, plan: plan.as_mut() };
                if is_encrypted(&archive) {
                    let Some(keys) = keys else {
                        return Err(Error::refused(
                            Location::path(&archive),
                            "the archive is encrypted: give --identity FILE",
                        ));
                    };
                    let plain = keys.decrypt(counted, &archive)?;
                    // Decryption is a stage of its own (as `age -d |` is):
                    // on its own thread, ahead of decompression.
                    std::thread::scope(|s| {
                        let (out, plain_in) = pipe();
                        s.spawn(move || pump(plain, out));
                        read_jobs(plain_in, src, opts, &chans, &mut report)
                    })?;
                } else {
                    read_jobs(counted, src, opts, &chans, &mut report)?;
                }
                for (entry, left) in plan.into_iter().flatten() {
                    for p in left {
                        report.read += 1;
                        report.skipped += 1;
                        report.folders.entry(folder_key(&p.folder)).or_default().read += 1;
                        if let Some(st) = report.folders.get_mut(&folder_key(&p.folder)) {
                            st.skipped += 1;
                        }
                        report.findings.push(Finding::error(
                            FindingKind::Missing,
                            Location::path(&archive).with_item(entry.clone()),
                            format!(
                                "not in the archive: message {} of folder {:?} not restored",
                                p.unique,
                                folder_key(&p.folder)
                            ),
                        ));
                    }
                }
            }
            Ok(())
        })();
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

/// Message entry path → BLAKE3, from the manifest beside an archive.
type Listed = HashMap<String, String>;
/// Entry path → where a chain restore writes its bytes.
type Plan = HashMap<String, Vec<Placement>>;

fn base_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Where every message of a snapshot manifest goes, by the manifest file
/// name and the entry path of the archive that holds its bytes.
fn plan(
    newest_path: &Path,
    snapshot: &Manifest,
    filter: Option<&str>,
    report: &mut Report,
) -> HashMap<String, HashMap<String, Vec<Placement>>> {
    let newest = base_name(newest_path);
    let mut plans: HashMap<String, HashMap<String, Vec<Placement>>> = HashMap::new();
    for r in snapshot.messages() {
        let (folder, name) = match classify(r.path.as_bytes(), EntryType::Regular) {
            Ok(Target::Message { folder, name, .. }) => (folder, name),
            _ => {
                report.findings.push(Finding::error(
                    FindingKind::Name,
                    Location::path(newest_path).with_item(r.path.clone()),
                    "the manifest lists a message at a path that is not a maildir message: not restored",
                ));
                continue;
            }
        };
        if !wanted(filter, &Target::Dir { folder: folder.clone() }) {
            continue;
        }
        let Some(parsed) = parse_file_name(&name) else { continue };
        let (manifest, entry) = match &r.stored_in {
            Some(s) => (s.manifest.clone(), s.path.clone()),
            None => (newest.clone(), r.path.clone()),
        };
        plans.entry(manifest).or_default().entry(entry.trim_end_matches('/').to_owned()).or_default().push(
            Placement {
                folder,
                unique: parsed.unique.to_owned(),
                size: parsed.size,
                flags: r.flags(),
                mtime: r.mtime,
                blake3: r.blake3.clone(),
            },
        );
    }
    plans
}

/// One archive being read.
struct Source<'a> {
    archive: &'a Path,
    /// Message entry path → BLAKE3, from the manifest beside the archive:
    /// every message is checked before it is written.
    listed: Option<HashMap<String, String>>,
    /// A chain restore: entry path → where it goes (taken when found).
    plan: Option<&'a mut HashMap<String, Vec<Placement>>>,
}

/// The messages the manifest beside `archive` lists (path → BLAKE3), or
/// `None` (with a warning) when there is no usable manifest beside it.
fn listed_messages(
    archive: &Path,
    keys: Option<&Identities>,
    report: &mut Report,
) -> Result<Option<HashMap<String, String>>> {
    let path = crate::manifest_path(archive);
    Ok(match manifest::load_full(&path, keys) {
        Ok(m) if m.bad_lines.is_empty() && m.end.is_some() => Some(
            m.stored_messages()
                .map(|r| (r.path.trim_end_matches('/').to_owned(), r.blake3.clone()))
                .collect(),
        ),
        Err(e) if matches!(e.kind, mailshift_model::ErrorKind::Refused(_)) => return Err(e),
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
    })
}

fn folder_key(dir: &str) -> String {
    decode_folder(dir, Layout::MaildirPlusPlus).map_or_else(|| dir.to_owned(), |f| f.key())
}

fn wanted(filter: Option<&str>, target: &Target) -> bool {
    let Some(f) = filter else { return true };
    let dir = match target {
        Target::Dir { folder } | Target::Message { folder, .. } | Target::Keywords { folder } => folder,
        Target::Ignore | Target::Placed(_) => return false,
    };
    let key = folder_key(dir);
    key == f || key.starts_with(&format!("{f}/")) || (dir.is_empty() && f.eq_ignore_ascii_case("inbox"))
}

/// Reads the archive stream `input` (zstd-compressed tar), checks every
/// entry and hands the accepted ones to the writing thread. Decompression
/// runs on a thread of its own (a [`pipe`] stage, as in `verify`), ahead of
/// the tar parsing and hashing on this one.
fn read_jobs(
    input: impl Read + Send,
    src: Source<'_>,
    opts: &RestoreOptions,
    chans: &Channels<'_>,
    report: &mut Report,
) -> Result<()> {
    let loc = || Location::path(src.archive);
    let dec = zstd::stream::read::Decoder::new(input).map_err(|e| Error::io(loc(), e))?;
    std::thread::scope(|s| {
        let (out, tar_in) = pipe();
        s.spawn(move || pump(dec, out));
        // The tar reader (the pipe's reading end) is dropped when this
        // returns, early or not, which stops the decompressing thread.
        read_entries(tar::Archive::new(tar_in), src, opts, chans, report)
    })
}

/// The reading side's ends of the channels to the writing thread.
#[derive(Clone, Copy)]
struct Channels<'a> {
    jobs: &'a SyncSender<Job>,
    /// Buffers the writer is done with, for reuse.
    recycled: &'a Receiver<Vec<u8>>,
    budget: &'a Budget,
}

fn read_entries(
    mut ar: tar::Archive<impl Read>,
    src: Source<'_>,
    opts: &RestoreOptions,
    chans: &Channels<'_>,
    report: &mut Report,
) -> Result<()> {
    let archive = src.archive;
    let mut plan = src.plan;
    let loc = || Location::path(archive);
    let Channels { jobs: tx, recycled, budget } = *chans;
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
        let (target, check) = match (&mut plan, target) {
            (_, Target::Ignore) => continue,
            // A chain restore takes folders from the plan and flags from
            // the newest manifest; only message entries it lists are read.
            (Some(plan), Target::Message { .. }) => match plan.remove(shown.trim_end_matches('/')) {
                Some(places) => {
                    let want = places.first().map(|p| p.blake3.clone());
                    (Target::Placed(places), Check::Hash(want.unwrap_or_default()))
                }
                None => continue,
            },
            (Some(_), _) => continue,
            (None, t) if !wanted(opts.folder.as_deref(), &t) => continue,
            (None, t @ Target::Message { .. }) => {
                let check = match &src.listed {
                    None => Check::Unchecked,
                    Some(l) => {
                        l.get(shown.trim_end_matches('/')).map_or(Check::Unlisted, |h| Check::Hash(h.clone()))
                    }
                };
                (t, check)
            }
            (None, t) => (t, Check::Unchecked),
        };
        let mtime = tarfmt::entry_mtime(&mut entry);
        // A buffer the writer is done with: its pages are mapped already.
        let mut data = recycled.try_recv().unwrap_or_default();
        data.clear();
        data.reserve(usize::try_from(entry.size()).unwrap_or(0).min(256 << 20));
        let damaged = |e: io::Error| {
            Error::format(loc().with_item(shown.clone()), format!("the entry is damaged: {e}"))
        };
        // Hashed here, as the bytes come out of the decompressor (still in
        // the caches), rather than on the writing thread, the busier one.
        let check = if matches!(check, Check::Hash(_)) {
            let mut hashing = HashReader::new(&mut entry);
            hashing.read_to_end(&mut data).map_err(damaged)?;
            check.verdict(&hashing.hasher.finalize())
        } else {
            entry.read_to_end(&mut data).map_err(damaged)?;
            check
        };
        // By capacity: that is the memory held (see [`RECYCLE`]).
        budget.take(data.capacity() as u64);
        if tx.send(Job { target, entry: shown, mtime, data, check }).is_err() {
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
    /// The size at which the batch is handed over: [`FIRST_COMMIT_BYTES`],
    /// doubled after each hand-over up to [`COMMIT_BYTES`].
    commit_at: u64,
    /// Full batches go to the committing thread, which makes them durable
    /// (one `syncfs`) and renames them while this thread writes the next.
    commit: SyncSender<RenameBatch>,
    report: Report,
    archive: &'a Path,
}

/// Hand a batch to the committing thread at this many bytes or files.
/// Larger than [`RenameBatch`]'s own limits: the `syncfs` runs beside the
/// writing, so fewer, larger batches cost nothing in safety (nothing is
/// under a final name before it is durable) and save `syncfs` calls.
const COMMIT_BYTES: u64 = 256 << 20;
const COMMIT_FILES: usize = 16_384;
/// The first batch is handed over small, and each next one twice as big:
/// the disk starts writing (the first `syncfs`) a few dozen milliseconds
/// into the run instead of after 256 MiB, which is most of what a restore
/// of a few GiB can gain on a disk slower than the decompression.
const FIRST_COMMIT_BYTES: u64 = 16 << 20;

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

    fn job(&mut self, job: Job, data: &[u8]) -> Result<()> {
        match job.target {
            Target::Dir { folder } => {
                self.folder(&folder)?;
            }
            Target::Keywords { folder } => {
                let text = String::from_utf8_lossy(data).into_owned();
                self.folder(&folder)?.archive_kw = Keywords::parse(&text).0;
            }
            Target::Message { folder, sub, name } => {
                let Some(parsed) = parse_file_name(&name) else { return Ok(()) };
                let (mut flags, kw_letters) = flags_from_letters(parsed.flags, |_| None);
                let f = self.folder(&folder)?;
                let mut lost = Vec::new();
                for c in kw_letters.chars() {
                    match f.archive_kw.name(c) {
                        Some(k) => flags.add_keyword(k),
                        None => lost.push(c),
                    }
                }
                if !lost.is_empty() {
                    self.report.findings.push(Finding::warning(
                        FindingKind::Unsupported,
                        Location::path(self.archive).with_item(job.entry.clone()),
                        format!("keyword letters {lost:?} have no name in the archive's dovecot-keywords; left out"),
                    ));
                }
                let p = Placement {
                    folder,
                    unique: parsed.unique.to_owned(),
                    size: parsed.size,
                    flags,
                    mtime: job.mtime,
                    blake3: String::new(),
                };
                if self.checked(&p.folder, &job.check, data, &job.entry) {
                    self.message(&p, sub, data)?;
                }
            }
            Target::Placed(places) => {
                let folder = places.first().map(|p| p.folder.clone()).unwrap_or_default();
                if self.checked(&folder, &job.check, data, &job.entry) {
                    for p in &places {
                        self.message(p, "cur", data)?;
                    }
                } else {
                    // Counted once above; the other places are lost too.
                    for p in places.iter().skip(1) {
                        self.count_skipped(&p.folder);
                    }
                }
            }
            Target::Ignore => {}
        }
        Ok(())
    }

    fn count_skipped(&mut self, folder: &str) {
        let stats = self.report.folders.entry(folder_key(folder)).or_default();
        stats.read += 1;
        stats.skipped += 1;
        self.report.read += 1;
        self.report.skipped += 1;
    }

    /// Whether the bytes are the ones the manifest lists; if not, the
    /// message is counted as read and skipped and named.
    fn checked(&mut self, folder: &str, check: &Check, data: &[u8], entry: &str) -> bool {
        let why = match check {
            Check::Unchecked | Check::Matches => None,
            Check::Hash(want) if blake3::hash(data).to_hex().as_str() == want => None,
            Check::Hash(_) | Check::Differs => {
                Some("its bytes differ from the manifest (BLAKE3): damaged, not restored")
            }
            Check::Unlisted => Some("not listed in the manifest beside the archive: not restored"),
        };
        let Some(why) = why else { return true };
        self.count_skipped(folder);
        self.report.findings.push(Finding::error(
            FindingKind::Mismatch,
            Location::path(self.archive).with_item(entry.to_owned()),
            why,
        ));
        false
    }

    /// Writes one message (unless its unique name is already in the folder).
    fn message(&mut self, p: &Placement, sub: &str, data: &[u8]) -> Result<()> {
        let key = folder_key(&p.folder);
        self.report.read += 1;
        self.report.folders.entry(key.clone()).or_default().read += 1;
        let f = self.folder(&p.folder)?;
        if f.existing.contains(&p.unique) {
            self.report.written += 1;
            self.report.already_present += 1;
            if let Some(s) = self.report.folders.get_mut(&key) {
                s.written += 1;
            }
            return Ok(());
        }
        let mut letters = String::new();
        let forwarded = p.flags.forwarded.then_some(FORWARDED);
        for k in p.flags.keywords.iter().map(String::as_str).chain(forwarded) {
            if let Some(l) = f.dest_kw.letter_for(k) {
                letters.push(l);
            }
        }
        let final_name = file_name(&p.unique, p.size, &p.flags, &letters);
        let tmp = f.dir.join("tmp").join(&final_name);
        let target = f.dir.join(sub).join(&final_name);
        f.existing.insert(p.unique.clone());
        let mtime = p.mtime;
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
        self.batch.stage(tmp, target, data.len() as u64);
        self.report.written += 1;
        self.report.bytes_written += data.len() as u64;
        if let Some(s) = self.report.folders.get_mut(&key) {
            s.written += 1;
            s.bytes += data.len() as u64;
        }
        self.staged.0 += data.len() as u64;
        self.staged.1 += 1;
        if self.staged.0 >= self.commit_at || self.staged.1 >= COMMIT_FILES {
            self.commit_at = (self.commit_at * 2).min(COMMIT_BYTES);
            self.flush()?;
        }
        Ok(())
    }
}

/// The IMAP keyword the backup writes beside maildir's `P`.
const FORWARDED: &str = "$Forwarded";

fn write_jobs(
    dest: &Path,
    archive: &Path,
    rx: Receiver<Job>,
    budget: &Budget,
    recycle: SyncSender<Vec<u8>>,
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
            commit_at: FIRST_COMMIT_BYTES,
            commit,
            report: Report::new("restore"),
            archive,
        };
        let written = (|| -> Result<()> {
            w.folder("")?;
            for mut job in rx.iter() {
                let data = std::mem::take(&mut job.data);
                w.report.bytes_read += data.len() as u64;
                w.job(job, &data)?;
                // What the reader took: the capacity (see [`RECYCLE`]).
                budget.give(data.capacity() as u64);
                if data.capacity() <= RECYCLE_MAX {
                    // Full (the reader has enough) or gone: dropped.
                    let _ = recycle.try_send(data);
                }
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
    fn a_hash_is_checked_against_the_manifest_text() {
        let h = blake3::hash(b"mail");
        let hex = h.to_hex().to_string();
        assert!(matches!(Check::Hash(hex.clone()).verdict(&h), Check::Matches));
        assert!(matches!(Check::Hash(hex).verdict(&blake3::hash(b"mail!")), Check::Differs));
        for bad in ["", "00", "not hex at all"] {
            assert!(matches!(Check::Hash(bad.to_owned()).verdict(&h), Check::Differs), "{bad:?}");
        }
        assert!(matches!(Check::Unlisted.verdict(&h), Check::Unlisted));
        assert!(matches!(Check::Unchecked.verdict(&h), Check::Unchecked));
    }

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

#[cfg(test)]
mod progress_tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use mailshift_maildir::MaildirSource;
    use mailshift_testkit::gen::{self, Amount, Profile};

    use super::*;
    use crate::backup::{backup, BackupOptions};

    /// Records what a progress bar is told.
    #[derive(Default)]
    struct Recorder {
        total: AtomicU64,
        done: AtomicU64,
    }

    impl Progress for Recorder {
        fn begin(&self, _units: u64, bytes: u64) {
            self.total.store(bytes, Ordering::Relaxed);
            self.done.store(0, Ordering::Relaxed);
        }
        fn message(&self, bytes: u64) {
            self.done.fetch_add(bytes, Ordering::Relaxed);
        }
    }

    /// The bars of restore and verify end at their total: the bytes they
    /// count are the bytes their total counts (the archive file's), not
    /// the uncompressed entries against the compressed size.
    #[test]
    fn progress_ends_at_its_total() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        gen::write_maildir(&src, 5, Amount::Messages(60), Profile::Small).unwrap();
        let source = MaildirSource::open(&src).unwrap();
        let opts = BackupOptions { name: "p".into(), ..BackupOptions::default() };
        let s = backup(&source, &dir.path().join("out"), &opts, &mailshift_model::NoProgress).unwrap();
        assert!(s.report.bytes_written > s.archive_bytes * 2, "the test needs compressible mail");
        let rec = Recorder::default();
        let r = restore(&s.archive, &dir.path().join("dest"), &RestoreOptions::default(), &rec).unwrap();
        assert_eq!(r.written, 60);
        assert_eq!(rec.total.load(Ordering::Relaxed), s.archive_bytes);
        assert_eq!(rec.done.load(Ordering::Relaxed), rec.total.load(Ordering::Relaxed));
        let rec = Recorder::default();
        let v = crate::verify(&s.archive, None, &rec).unwrap();
        assert!(v.is_clean());
        assert_eq!(rec.total.load(Ordering::Relaxed), s.archive_bytes);
        assert_eq!(rec.done.load(Ordering::Relaxed), rec.total.load(Ordering::Relaxed));
    }
}
