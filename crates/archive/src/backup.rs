//! `backup`: a source into `NAME.tar.zst` plus `NAME.manifest.jsonl`.
//!
//! Folders are read in parallel (one reader thread per folder at a time,
//! biggest first); each reader names its messages exactly as the maildir
//! writer would (`mailshift_maildir::name`), hashes them and hands them over
//! a bounded channel to the one thread that writes the tar stream into a
//! multithreaded zstd encoder. So memory is bounded by a few messages in
//! flight, and nothing is staged on disk but the manifest (spooled to an
//! unlinked temp file until its size is known).
//!
//! Crash safety: the archive is written as `NAME.tar.zst.partial`, fsynced,
//! and only then is the manifest renamed into place, then the archive, then
//! the directory fsynced. A crash, a full disk or a vanished target leaves
//! no file under a final name; on any error the partial files are removed.
//! An existing archive or manifest is never overwritten.
//!
//! Incremental backups are snapshots: the manifest lists every message the
//! store holds, and those whose bytes (same exact fingerprint) an archive
//! of the chain already holds are listed with `stored_in` instead of being
//! stored again, wherever they are now and whatever their flags. So a
//! moved or re-flagged message costs one manifest line, and a deleted one
//! is simply not listed.
//!
//! With recipients, the zstd stream goes through age before the file
//! (`NAME.tar.zst.age`) and the manifest beside it is encrypted too; see
//! [`crate::crypt`] for why.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, Write};
use std::ops::ControlFlow;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use mailshift_maildir::keywords::{self, Keywords};
use mailshift_maildir::name::{encode_folder, file_name, mailshift_unique};
use mailshift_maildir::Layout;
use mailshift_model::durable::sync_dir;
use mailshift_model::{
    headers, Error, ExactHash, Finding, FindingKind, Fingerprint, FolderPath, FolderStats, Item, Location,
    Progress, Report, Result, Source, Unit,
};
use tar::{Builder, EntryType};

use crate::budget::Budget;
use crate::crypt::{Identities, Recipients, AGE_EXT};
use crate::hash_reader::HashReader;
use crate::manifest::{
    self, ArchiveRecord, EndRecord, EntryKind, EntryRecord, FolderRecord, Header, Known, MessageRecord,
    Parent, Record, SealedRecord, StoredIn,
};
use crate::tarfmt;
use crate::{ARCHIVE_EXT, MAILDIR_DIR, MANIFEST_ENTRY, MANIFEST_EXT, ORIGINAL_DIR};

/// Messages (or files) in flight between the readers and the tar writer.
const CHANNEL: usize = 1024;
/// The IMAP keyword for maildir's `P` (written as both, like the maildir
/// writer: Dovecot never shows `P` to clients).
const FORWARDED: &str = "$Forwarded";

/// How to run [`backup`].
#[derive(Debug, Clone)]
pub struct BackupOptions {
    /// The archive's name: `NAME.tar.zst`, top directory `NAME/`.
    pub name: String,
    /// zstd level (1..=19; 3 is zstd's default).
    pub level: i32,
    /// Folders read at once; 0 means one per core.
    pub jobs: usize,
    /// zstd worker threads; 0 means one per core.
    pub zstd_threads: u32,
    /// Also store these source files as they are, under `NAME/original/`.
    pub original: Option<PathBuf>,
    /// Store only messages that the chain ending in this manifest lacks.
    pub incremental_from: Option<PathBuf>,
    /// Set from outside (Ctrl-C) to stop: the partial archive is removed.
    pub cancel: Option<Arc<AtomicBool>>,
    /// Encrypt the archive and its manifest to these age recipients.
    pub recipients: Recipients,
    /// Opens the manifests of an encrypted parent chain.
    pub identities: Option<Arc<Identities>>,
}

impl Default for BackupOptions {
    fn default() -> Self {
        BackupOptions {
            name: "backup".to_owned(),
            level: 3,
            jobs: 0,
            zstd_threads: 0,
            original: None,
            incremental_from: None,
            cancel: None,
            recipients: Recipients::default(),
            identities: None,
        }
    }
}

/// What [`backup`] wrote.
#[derive(Debug, Clone)]
pub struct BackupSummary {
    pub archive: PathBuf,
    pub manifest: PathBuf,
    /// Archive size in bytes (compressed).
    pub archive_bytes: u64,
    pub archive_blake3: String,
    /// Entries listed in the manifest.
    pub entries: u64,
    pub messages: u64,
    /// Messages left out because the parent chain holds them.
    pub unchanged: u64,
    /// The run's counts and findings (`written` includes `already_present`,
    /// which counts the messages left out of an incremental backup).
    pub report: Report,
}

/// A name for the archive of `src`: its file name (letters, digits, `.`,
/// `_`, `-` kept) and the UTC time, so backups of the same store never clash.
pub fn default_name(src: &Path) -> String {
    let stem = if src.is_dir() { src.file_name() } else { src.file_stem() };
    let stem = stem.map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let clean: String =
        stem.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' }).collect();
    let clean = clean.trim_start_matches('.');
    let clean = if clean.is_empty() { "backup" } else { clean };
    format!("{clean}-{}", chrono::Utc::now().format("%Y%m%dT%H%M%SZ"))
}

/// Whether `name` can be an archive name: one plain path component.
pub fn check_name(name: &str) -> std::result::Result<(), String> {
    if name.is_empty() || name == "." || name == ".." || name.starts_with('.') {
        return Err(format!("archive name {name:?} must not be empty or start with a dot"));
    }
    if name.contains(['/', '\0', '\\']) || name.len() > 200 {
        return Err(format!(
            "archive name {name:?} must be one file name without / or \\ (200 bytes at most)"
        ));
    }
    Ok(())
}

/// Backs up `source` into `dir/NAME.tar.zst` (see the module docs).
pub fn backup(
    source: &dyn Source,
    dir: &Path,
    opts: &BackupOptions,
    progress: &dyn Progress,
) -> Result<BackupSummary> {
    let started = Instant::now();
    check_name(&opts.name).map_err(|e| Error::refused(Location::path(dir), e))?;
    let encrypt = !opts.recipients.is_empty();
    let plain = dir.join(format!("{}{ARCHIVE_EXT}", opts.name));
    let sealed_name = format!("{}{ARCHIVE_EXT}{AGE_EXT}", opts.name);
    let archive = if encrypt { dir.join(&sealed_name) } else { plain.clone() };
    let other = if encrypt { plain } else { dir.join(&sealed_name) };
    let manifest_final = dir.join(format!("{}{MANIFEST_EXT}", opts.name));
    let partial = archive.with_file_name(format!("{}.partial", base_name(&archive)));
    let manifest_partial = dir.join(format!("{}{MANIFEST_EXT}.partial", opts.name));
    let enc_final = dir.join(format!("{}{MANIFEST_EXT}{AGE_EXT}", opts.name));
    let enc_partial = dir.join(format!("{}{MANIFEST_EXT}{AGE_EXT}.partial", opts.name));
    let paths = Paths {
        archive: archive.clone(),
        partial: partial.clone(),
        manifest: manifest_final.clone(),
        manifest_partial: manifest_partial.clone(),
        encrypted_manifest: encrypt.then(|| (enc_final.clone(), enc_partial.clone())),
    };
    let exists = |p: &Path| fs::symlink_metadata(p).is_ok();
    // A kill between the final renames leaves the manifest(s) beside a
    // partial archive: they belong to no archive and are removed.
    if !exists(&archive) && exists(&partial) {
        for m in [&manifest_final, &enc_final] {
            if exists(m) {
                fs::remove_file(m).map_err(|e| Error::io(Location::path(m), e))?;
            }
        }
    }
    for p in [&archive, &other, &manifest_final, &enc_final] {
        if exists(p) {
            return Err(Error::refused(
                Location::path(p),
                "already exists; an archive is never overwritten (choose another --name)",
            ));
        }
    }
    fs::create_dir_all(dir).map_err(|e| Error::io(Location::path(dir), e))?;
    let mut report = Report::new("backup");
    report.source = Some(describe(source));
    report.destination = Some(archive.display().to_string());
    for p in [&partial, &manifest_partial, &enc_partial] {
        if fs::symlink_metadata(p).is_ok() {
            fs::remove_file(p).map_err(|e| Error::io(Location::path(p), e))?;
            report.findings.push(Finding::info(
                FindingKind::Leftover,
                Location::path(p),
                "removed the partial file of an interrupted backup",
            ));
        }
    }
    let chain = match &opts.incremental_from {
        Some(p) => manifest::load_chain(p, opts.identities.as_deref())?,
        None => Vec::new(),
    };
    let parent = opts.incremental_from.as_ref().map(|p| Parent {
        manifest: p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        archive_blake3: chain.last().and_then(|(_, m)| m.archive.as_ref()).map(|a| a.blake3.clone()),
    });
    let known = Known::from_chain(&chain);

    // Mail is private: archives and manifests are readable by their owner
    // only (0600), whatever the umask of the backup job.
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(tarfmt::FILE_MODE)
        .open(&partial)
        .map_err(|e| Error::io(Location::path(&partial), e))?;
    let result = write_archive(file, source, dir, &partial, opts, parent, known, progress, &mut report)
        .and_then(|w| seal(w, &paths, opts, dir));
    match result {
        Ok(sealed) => {
            report.elapsed_seconds = started.elapsed().as_secs_f64();
            Ok(BackupSummary {
                archive,
                manifest: manifest_final,
                archive_bytes: sealed.bytes,
                archive_blake3: sealed.blake3,
                entries: sealed.end.entries,
                messages: sealed.end.messages,
                unchanged: sealed.end.unchanged,
                report,
            })
        }
        Err(e) => {
            // Nothing under a final name was written; leave nothing behind.
            let _ = fs::remove_file(&partial);
            let _ = fs::remove_file(&manifest_partial);
            let _ = fs::remove_file(&enc_partial);
            Err(e)
        }
    }
}

fn base_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Where the files of one backup go.
struct Paths {
    archive: PathBuf,
    partial: PathBuf,
    /// The manifest beside (the clear stub when encrypted).
    manifest: PathBuf,
    manifest_partial: PathBuf,
    /// When encrypted: the full manifest's final and partial paths.
    encrypted_manifest: Option<(PathBuf, PathBuf)>,
}

fn describe(source: &dyn Source) -> String {
    let info = source.info();
    match &info.variant {
        Some(v) => format!("{} ({v}) at {}", info.format, info.path.display()),
        None => format!("{} at {}", info.format, info.path.display()),
    }
}

/// A writer that hashes and counts what passes through: the BLAKE3 of the
/// whole archive file, computed while it is written.
struct HashWriter<W> {
    inner: W,
    hasher: blake3::Hasher,
    bytes: u64,
}

impl<W: Write> Write for HashWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Under the zstd stream: the file, or age and then the file.
enum Sink {
    Plain(HashWriter<File>),
    Age(age::stream::StreamWriter<HashWriter<File>>),
}

impl Sink {
    fn finish(self) -> io::Result<HashWriter<File>> {
        match self {
            Sink::Plain(w) => Ok(w),
            Sink::Age(w) => w.finish(),
        }
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Plain(w) => w.write(buf),
            Sink::Age(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Plain(w) => w.flush(),
            Sink::Age(w) => w.flush(),
        }
    }
}

type Tar = Builder<zstd::stream::write::Encoder<'static, Sink>>;

/// What the tar writer is handed.
enum Piece {
    Dir(String),
    File {
        path: String,
        mtime: i64,
        data: Vec<u8>,
        hash: blake3::Hash,
    },
    Message {
        data: Vec<u8>,
        record: MessageRecord,
    },
    /// A message listed, its bytes in an earlier archive (`stored_in`).
    Listed(MessageRecord),
    Folder(FolderRecord),
}

impl Piece {
    /// The bytes it holds (what the budget counts).
    fn bytes(&self) -> u64 {
        match self {
            Piece::File { data, .. } | Piece::Message { data, .. } => data.len() as u64,
            Piece::Dir(_) | Piece::Folder(_) | Piece::Listed(_) => 0,
        }
    }
}

/// The archive being written: the tar stream and the spooled manifest.
struct Writing {
    tar: Tar,
    spool: BufWriter<File>,
    partial: PathBuf,
    entries: u64,
    messages: u64,
    bytes: u64,
    unchanged: u64,
    /// When the backup started: the mtime of directories and other files.
    now: i64,
    /// For the clear manifest of an encrypted archive.
    created: String,
    parent: Option<String>,
}

impl Writing {
    fn err(&self, e: io::Error) -> Error {
        Error::io(Location::path(&self.partial), e)
    }

    fn record(&mut self, r: &Record) -> Result<()> {
        let mut line = serde_json::to_vec(r).map_err(|e| self.err(io::Error::other(e)))?;
        line.push(b'\n');
        self.spool.write_all(&line).map_err(|e| Error::io(Location::path("(manifest spool)"), e))
    }

    fn piece(&mut self, p: Piece) -> Result<()> {
        match p {
            Piece::Dir(path) => {
                tarfmt::append(&mut self.tar, &path, EntryType::Directory, 0, self.now, io::empty())
                    .map_err(|e| self.err(e))?;
                self.entries += 1;
                self.record(&Record::Entry(EntryRecord { path, kind: EntryKind::Dir, size: 0, blake3: None }))
            }
            Piece::File { path, mtime, data, hash } => {
                let size = data.len() as u64;
                tarfmt::append(&mut self.tar, &path, EntryType::Regular, size, mtime, data.as_slice())
                    .map_err(|e| self.err(e))?;
                self.entries += 1;
                self.bytes += size;
                let blake3 = Some(hash.to_hex().to_string());
                self.record(&Record::Entry(EntryRecord { path, kind: EntryKind::File, size, blake3 }))
            }
            Piece::Message { data, record } => {
                tarfmt::append(
                    &mut self.tar,
                    &record.path,
                    EntryType::Regular,
                    record.size,
                    record.mtime,
                    data.as_slice(),
                )
                .map_err(|e| self.err(e))?;
                self.entries += 1;
                self.messages += 1;
                self.bytes += record.size;
                self.record(&Record::Message(record))
            }
            Piece::Listed(record) => self.record(&Record::Message(record)),
            Piece::Folder(f) => self.record(&Record::Folder(f)),
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn write_archive(
    file: File,
    source: &dyn Source,
    dir: &Path,
    partial: &Path,
    opts: &BackupOptions,
    parent: Option<Parent>,
    known: Known,
    progress: &dyn Progress,
    report: &mut Report,
) -> Result<Writing> {
    let partial = partial.to_path_buf();
    let io_err = |e: io::Error| Error::io(Location::path(&partial), e);
    let threads = if opts.zstd_threads > 0 { opts.zstd_threads } else { cores() as u32 };
    let hw = HashWriter { inner: file, hasher: blake3::Hasher::new(), bytes: 0 };
    let sink = if opts.recipients.is_empty() {
        Sink::Plain(hw)
    } else {
        Sink::Age(opts.recipients.encryptor(&partial)?.wrap_output(hw).map_err(io_err)?)
    };
    let mut enc = zstd::stream::write::Encoder::new(sink, opts.level).map_err(io_err)?;
    enc.include_checksum(true).map_err(io_err)?;
    if threads > 1 {
        enc.multithread(threads).map_err(io_err)?;
    }
    let spool = tempfile::tempfile_in(dir).map_err(|e| Error::io(Location::path(dir), e))?;
    let now = chrono::Utc::now();
    let created = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut w = Writing {
        created: created.clone(),
        parent: parent.as_ref().map(|p| p.manifest.clone()),
        now: now.timestamp(),
        tar: Builder::new(enc),
        spool: BufWriter::with_capacity(1 << 20, spool),
        partial: partial.clone(),
        entries: 0,
        messages: 0,
        bytes: 0,
        unchanged: 0,
    };
    w.record(&Record::Header(Header {
        format: manifest::FORMAT.to_owned(),
        version: manifest::VERSION,
        name: opts.name.clone(),
        created,
        tool: tool(),
        source: source.info(),
        level: opts.level,
        original: opts.original.is_some(),
        parent,
        snapshot: true,
    }))?;
    let top = format!("{}/", opts.name);
    let maildir = format!("{top}{MAILDIR_DIR}/");
    for d in [top.clone(), maildir.clone()] {
        w.piece(Piece::Dir(d))?;
    }
    for sub in ["cur/", "new/", "tmp/"] {
        w.piece(Piece::Dir(format!("{maildir}{sub}")))?;
    }

    let units = source.units(&mut report.findings)?;
    for f in &report.findings {
        progress.finding(f);
    }
    progress.begin(units.len() as u64, units.iter().map(|u| u.bytes).sum());
    let groups = group_units(units);
    let mut order: Vec<usize> = (0..groups.len()).collect();
    order.sort_by(|&a, &b| groups[b].bytes.cmp(&groups[a].bytes).then(a.cmp(&b)));
    let shared = Shared {
        source,
        maildir: &maildir,
        now: now.timestamp(),
        stored: &known.stored,
        keywords: &known.keywords,
        progress,
        stop: AtomicBool::new(false),
        cancel: opts.cancel.clone(),
        reports: Mutex::new(Vec::new()),
        budget: Budget::default(),
    };
    let (tx, rx) = sync_channel::<Piece>(CHANNEL);
    let next = AtomicUsize::new(0);
    let readers = if opts.jobs > 0 { opts.jobs } else { cores() }.min(groups.len()).max(1);
    let mut write_result = Ok(());
    std::thread::scope(|s| {
        for _ in 0..readers {
            let tx = tx.clone();
            let (shared, groups, order, next) = (&shared, &groups, &order, &next);
            s.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&g) = order.get(i) else { break };
                if shared.stopping() {
                    break;
                }
                let r = read_folder(shared, &groups[g], &tx);
                shared.reports.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(r);
            });
        }
        drop(tx);
        write_result = drain(&mut w, rx, &shared);
        shared.budget.close();
    });
    write_result?;
    if shared.cancelled() {
        return Err(Error::new(Location::path(&partial), mailshift_model::ErrorKind::Cancelled));
    }
    for r in shared.reports.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner) {
        w.unchanged += r.already_present;
        report.merge(r);
    }
    if let Some(orig) = &opts.original {
        append_original(&mut w, orig, &format!("{top}{ORIGINAL_DIR}/"), report)?;
    }
    progress.end();
    report.bytes_written = w.bytes;
    Ok(w)
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Writes pieces until the readers are done; on an error, stops them.
fn drain(w: &mut Writing, rx: Receiver<Piece>, shared: &Shared<'_>) -> Result<()> {
    for piece in rx.iter() {
        let n = piece.bytes();
        let written = w.piece(piece);
        shared.budget.give(n);
        if let Err(e) = written {
            shared.stop.store(true, Ordering::Relaxed);
            return Err(e);
        }
        if shared.cancelled() {
            shared.stop.store(true, Ordering::Relaxed);
            return Ok(());
        }
    }
    Ok(())
}

/// What every reader thread shares.
struct Shared<'a> {
    source: &'a dyn Source,
    maildir: &'a str,
    now: i64,
    /// Where the parent chain holds the bytes of each message it stored.
    stored: &'a HashMap<ExactHash, StoredIn>,
    keywords: &'a BTreeMap<String, Vec<(usize, String)>>,
    progress: &'a dyn Progress,
    stop: AtomicBool,
    cancel: Option<Arc<AtomicBool>>,
    reports: Mutex<Vec<Report>>,
    budget: Budget,
}

impl Shared<'_> {
    fn cancelled(&self) -> bool {
        self.cancel.as_ref().is_some_and(|c| c.load(Ordering::Relaxed))
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed) || self.cancelled()
    }

    /// Where an archive of the parent chain holds these bytes.
    fn in_parent(&self, exact: ExactHash) -> Option<StoredIn> {
        self.stored.get(&exact).cloned()
    }
}

/// The units of one folder, in source order.
struct Group {
    folder: FolderPath,
    units: Vec<Unit>,
    bytes: u64,
}

fn group_units(units: Vec<Unit>) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for unit in units {
        let i = *index.entry(unit.folder.key()).or_insert_with(|| {
            groups.push(Group { folder: unit.folder.clone(), units: Vec::new(), bytes: 0 });
            groups.len() - 1
        });
        groups[i].bytes += unit.bytes;
        groups[i].units.push(unit);
    }
    groups
}

/// One folder's naming state: what the maildir writer keeps per folder.
struct FolderState {
    key: String,
    /// `NAME/maildir/` plus the folder's directory and `/` (or nothing for the inbox).
    prefix: String,
    dir: String,
    counts: HashMap<(i64, [u8; 10]), u32>,
    keywords: Keywords,
    dropped: BTreeMap<String, u64>,
    stats: FolderStats,
}

fn keywords_piece(st: &FolderState, now: i64) -> Piece {
    let data = st.keywords.to_text().into_bytes();
    let hash = blake3::hash(&data);
    Piece::File { path: format!("{}{}", st.prefix, keywords::FILE), mtime: now, data, hash }
}

fn read_folder(sh: &Shared<'_>, group: &Group, tx: &SyncSender<Piece>) -> Report {
    let mut report = Report::new("backup");
    let key = group.folder.key();
    let loc = || Location::default().with_folder(key.clone());
    let dir = match encode_folder(&group.folder, Layout::MaildirPlusPlus, false) {
        Ok(d) => d,
        Err(e) => {
            report.findings.push(Finding::error(
                FindingKind::Name,
                loc(),
                format!("folder not backed up: {e}"),
            ));
            // Its messages are read and counted as skipped, so nothing disappears.
            for unit in &group.units {
                let _ = sh.source.read_unit(unit, &mut |item| {
                    if matches!(item, Item::Message(_) | Item::Skipped(_)) {
                        report.read += 1;
                        report.skipped += 1;
                    }
                    ControlFlow::Continue(())
                });
            }
            return report;
        }
    };
    let prefix = if dir.is_empty() { sh.maildir.to_owned() } else { format!("{}{dir}/", sh.maildir) };
    let seeded = sh.keywords.get(&key).map(|kw| {
        let text: String = kw.iter().map(|(i, k)| format!("{i} {k}\n")).collect();
        Keywords::parse(&text).0
    });
    let mut st = FolderState {
        key: key.clone(),
        prefix,
        dir: dir.clone(),
        counts: HashMap::new(),
        keywords: seeded.clone().unwrap_or_else(|| Keywords::parse("").0),
        dropped: BTreeMap::new(),
        stats: FolderStats::default(),
    };
    let send = |p: Piece| {
        sh.budget.take(p.bytes());
        tx.send(p).is_ok()
    };
    if !dir.is_empty() {
        let mut ok = send(Piece::Dir(st.prefix.clone()));
        for sub in ["cur/", "new/", "tmp/"] {
            ok = ok && send(Piece::Dir(format!("{}{sub}", st.prefix)));
        }
        let marker = Vec::new();
        let hash = blake3::hash(&marker);
        ok = ok
            && send(Piece::File {
                path: format!("{}maildirfolder", st.prefix),
                mtime: sh.now,
                data: marker,
                hash,
            });
        if !ok {
            return report;
        }
    }
    if seeded.as_ref().is_some_and(|k| !k.to_text().is_empty()) && !send(keywords_piece(&st, sh.now)) {
        return report;
    }
    for unit in &group.units {
        let result = sh.source.read_unit(unit, &mut |item| {
            if sh.stopping() {
                return ControlFlow::Break(());
            }
            match item {
                Item::Message(m) => {
                    report.read += 1;
                    st.stats.read += 1;
                    let size = m.size();
                    report.bytes_read += size;
                    sh.progress.message(size);
                    match message_pieces(sh, &mut st, m) {
                        (pieces, false) => {
                            for p in pieces {
                                if !send(p) {
                                    return ControlFlow::Break(());
                                }
                            }
                            report.written += 1;
                            report.already_present += 1;
                            st.stats.written += 1;
                        }
                        (pieces, true) => {
                            for p in pieces {
                                if !send(p) {
                                    return ControlFlow::Break(());
                                }
                            }
                            report.written += 1;
                            st.stats.written += 1;
                            st.stats.bytes += size;
                        }
                    }
                }
                Item::Skipped(f) => {
                    report.read += 1;
                    report.skipped += 1;
                    st.stats.read += 1;
                    st.stats.skipped += 1;
                    sh.progress.finding(&f);
                    report.findings.push(f);
                }
                Item::Finding(f) => {
                    sh.progress.finding(&f);
                    report.findings.push(f);
                }
            }
            ControlFlow::Continue(())
        });
        if let Err(e) = result {
            let mut location = e.location.clone();
            location.folder.get_or_insert_with(|| key.clone());
            report.findings.push(Finding::error(
                FindingKind::Unreadable,
                location,
                format!("cannot read {} any further: {}", unit.id, e.kind),
            ));
        }
        sh.progress.unit_done(unit);
    }
    for (kw, count) in std::mem::take(&mut st.dropped) {
        report.findings.push(Finding::warning(
            FindingKind::Unsupported,
            loc(),
            format!(
                "keyword {kw:?} left out of {count} message(s): a maildir folder holds at most 26 keywords, \
                 without white space"
            ),
        ));
    }
    let keywords_list = st
        .keywords
        .to_text()
        .lines()
        .filter_map(|l| l.split_once(' ').and_then(|(i, k)| Some((i.parse().ok()?, k.to_owned()))))
        .collect();
    let _ = send(Piece::Folder(FolderRecord {
        folder: st.key.clone(),
        dir: st.dir.clone(),
        keywords: keywords_list,
        messages: st.stats.written - report.already_present,
    }));
    report.folders.insert(key, st.stats.clone());
    report
}

/// The pieces for one message (a new `dovecot-keywords` first when it uses
/// a new letter) and whether its bytes are stored here (`false`: only
/// listed, an archive of the parent chain holds them).
fn message_pieces(sh: &Shared<'_>, st: &mut FolderState, m: mailshift_model::Message) -> (Vec<Piece>, bool) {
    let fp = Fingerprint::of(&m.raw);
    let received = m.envelope.received.or_else(|| headers::date(&m.raw));
    let secs = received.map_or(0, |t| t.timestamp());
    let mut short = [0u8; 10];
    short.copy_from_slice(&fp.exact.0[..10]);
    let n = st.counts.entry((secs, short)).or_insert(0);
    *n += 1;
    let n = *n;
    let stored_in = sh.in_parent(fp.exact);
    let unique = mailshift_unique(secs, &fp.exact.to_hex(), n);
    let flags = &m.envelope.flags;
    let mut pieces = Vec::with_capacity(2);
    let mut letters = String::new();
    let mut kept = Vec::new();
    let was_dirty = st.keywords.to_text();
    let forwarded = flags.forwarded.then_some(FORWARDED);
    for kw in flags.keywords.iter().map(String::as_str).chain(forwarded) {
        match st.keywords.letter_for(kw) {
            Some(c) => {
                letters.push(c);
                if kw != FORWARDED {
                    kept.push(kw.to_owned());
                }
            }
            None => *st.dropped.entry(kw.to_owned()).or_insert(0) += 1,
        }
    }
    if st.keywords.to_text() != was_dirty {
        // Letters never change once given, so each version of the file is a
        // prefix of the next and `tar -x` (last one wins) gets them all.
        pieces.push(keywords_piece(st, sh.now));
    }
    let name = file_name(&unique, Some(m.size()), flags, &letters);
    let mtime = received.map_or(sh.now, |t| t.timestamp());
    let record = MessageRecord {
        path: format!("{}cur/{name}", st.prefix),
        size: m.size(),
        blake3: blake3::hash(&m.raw).to_hex().to_string(),
        folder: st.key.clone(),
        exact: fp.exact,
        logical: fp.logical,
        flags: flags.maildir_letters(),
        keywords: kept,
        received: m.envelope.received,
        mtime,
        stored_in,
    };
    if record.stored_in.is_some() {
        pieces.push(Piece::Listed(record));
        return (pieces, false);
    }
    pieces.push(Piece::Message { data: m.raw, record });
    (pieces, true)
}

/// Appends the source files as they are under `prefix`.
fn append_original(w: &mut Writing, src: &Path, prefix: &str, report: &mut Report) -> Result<()> {
    w.piece(Piece::Dir(prefix.to_owned()))?;
    let name =
        src.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "source".to_owned());
    let mut stack = vec![(src.to_path_buf(), format!("{prefix}{name}"))];
    while let Some((path, inner)) = stack.pop() {
        let meta = fs::symlink_metadata(&path).map_err(|e| Error::io(Location::path(&path), e))?;
        if meta.is_dir() {
            w.piece(Piece::Dir(format!("{inner}/")))?;
            let mut children: Vec<(PathBuf, String)> = fs::read_dir(&path)
                .map_err(|e| Error::io(Location::path(&path), e))?
                .filter_map(std::result::Result::ok)
                .map(|e| (e.path(), format!("{inner}/{}", e.file_name().to_string_lossy())))
                .collect();
            children.sort();
            children.reverse();
            stack.extend(children);
        } else if meta.is_file() {
            append_file(w, &path, &inner, meta.len(), mtime_of(&meta))?;
        } else {
            report.findings.push(Finding::info(
                FindingKind::Ignored,
                Location::path(&path),
                "not a regular file or directory; not stored under original/",
            ));
        }
    }
    Ok(())
}

fn mtime_of(meta: &fs::Metadata) -> i64 {
    meta.modified().ok().map_or(0, |t| chrono::DateTime::<chrono::Utc>::from(t).timestamp())
}

fn append_file(w: &mut Writing, path: &Path, inner: &str, size: u64, mtime: i64) -> Result<()> {
    let f = File::open(path).map_err(|e| Error::io(Location::path(path), e))?;
    let mut r = HashReader::new(io::BufReader::with_capacity(1 << 20, f).take(size));
    tarfmt::append(&mut w.tar, inner, EntryType::Regular, size, mtime, &mut r).map_err(|e| w.err(e))?;
    if r.bytes != size {
        return Err(Error::format(
            Location::path(path),
            format!("the file shrank from {size} to {} bytes while it was backed up", r.bytes),
        ));
    }
    w.entries += 1;
    w.bytes += size;
    let blake3 = Some(r.hasher.finalize().to_hex().to_string());
    w.record(&Record::Entry(EntryRecord { path: inner.to_owned(), kind: EntryKind::File, size, blake3 }))
}

/// What sealing the archive produced.
struct Sealed {
    bytes: u64,
    blake3: String,
    end: EndRecord,
}

/// Ends the manifest, appends it, finishes the stream, syncs, writes the
/// manifest beside, and renames both into place.
fn seal(mut w: Writing, paths: &Paths, opts: &BackupOptions, dir: &Path) -> Result<Sealed> {
    let (partial, archive) = (paths.partial.as_path(), paths.archive.as_path());
    let (manifest_partial, manifest_final) = (paths.manifest_partial.as_path(), paths.manifest.as_path());
    let end = EndRecord { entries: w.entries, messages: w.messages, bytes: w.bytes, unchanged: w.unchanged };
    w.record(&Record::End(end.clone()))?;
    let spool_err = |e: io::Error| Error::io(Location::path("(manifest spool)"), e);
    let mut spool = w.spool.into_inner().map_err(|e| spool_err(e.into_error()))?;
    let size = spool.stream_position().map_err(spool_err)?;
    spool.rewind().map_err(spool_err)?;
    let top = opts.name.clone();
    let mut tar = w.tar;
    let mtime = chrono::Utc::now().timestamp();
    let io_err = |e: io::Error| Error::io(Location::path(partial), e);
    tarfmt::append(
        &mut tar,
        &format!("{top}/{MANIFEST_ENTRY}"),
        EntryType::Regular,
        size,
        mtime,
        (&mut spool).take(size),
    )
    .map_err(io_err)?;
    tar.finish().map_err(io_err)?;
    let enc = tar.into_inner().map_err(io_err)?;
    let hw = enc.finish().map_err(io_err)?.finish().map_err(io_err)?;
    let bytes = hw.bytes;
    let blake3 = hw.hasher.finalize().to_hex().to_string();
    let file = hw.inner;
    file.sync_all().map_err(io_err)?;
    drop(file);

    // The manifest beside: the same lines plus the archive's hash.
    let archive_line = json_line(&Record::Archive(ArchiveRecord {
        file: base_name(archive),
        size: bytes,
        blake3: blake3.clone(),
    }));
    spool.rewind().map_err(spool_err)?;
    let mut body = (&mut spool).take(size).chain(archive_line.as_slice());
    match &paths.encrypted_manifest {
        None => {
            write_synced(manifest_partial, |w| io::copy(&mut body, w).map(drop))?;
        }
        Some((enc_final, enc_partial)) => {
            // The full manifest encrypted; in clear only what the file
            // server shows anyway, and the hashes that prove both files.
            let mut enc_hash = (0u64, String::new());
            let recipients = &opts.recipients;
            write_synced(enc_partial, |w| {
                let hw = HashWriter { inner: w, hasher: blake3::Hasher::new(), bytes: 0 };
                let enc = recipients.encryptor(enc_partial).map_err(io::Error::other)?;
                let mut aw = enc.wrap_output(hw)?;
                io::copy(&mut body, &mut aw)?;
                let hw = aw.finish()?;
                enc_hash = (hw.bytes, hw.hasher.finalize().to_hex().to_string());
                Ok(())
            })?;
            let sealed = json_line(&Record::Sealed(SealedRecord {
                format: manifest::FORMAT.to_owned(),
                version: manifest::VERSION,
                name: opts.name.clone(),
                created: w.created.clone(),
                tool: tool(),
                encryption: "age".to_owned(),
                manifest: base_name(enc_final),
                manifest_size: enc_hash.0,
                manifest_blake3: enc_hash.1,
                parent: w.parent.clone(),
            }));
            write_synced(manifest_partial, |w| {
                w.write_all(&sealed)?;
                w.write_all(&archive_line)
            })?;
            rename_noreplace(enc_partial, enc_final)?;
        }
    }
    // The archive's rename is the commit point: its manifests are in place first.
    if let Err(e) = rename_noreplace(manifest_partial, manifest_final) {
        if let Some((f, _)) = &paths.encrypted_manifest {
            let _ = fs::remove_file(f);
        }
        return Err(e);
    }
    if let Err(e) = rename_noreplace(partial, archive) {
        let _ = fs::remove_file(manifest_final);
        if let Some((f, _)) = &paths.encrypted_manifest {
            let _ = fs::remove_file(f);
        }
        return Err(e);
    }
    sync_dir(dir).map_err(|e| Error::io(Location::path(dir), e))?;
    Ok(Sealed { bytes, blake3, end })
}

fn tool() -> String {
    format!("mailshift {}", env!("CARGO_PKG_VERSION"))
}

fn json_line(r: &Record) -> Vec<u8> {
    let mut line = serde_json::to_vec(r).unwrap_or_default();
    line.push(b'\n');
    line
}

/// Writes a new file at `path` with `fill`, then fsyncs it.
fn write_synced(path: &Path, fill: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>) -> Result<()> {
    let err = |e: io::Error| Error::io(Location::path(path), e);
    let f =
        OpenOptions::new().write(true).create_new(true).mode(tarfmt::FILE_MODE).open(path).map_err(err)?;
    let mut w = BufWriter::with_capacity(1 << 20, f);
    fill(&mut w).map_err(err)?;
    let f = w.into_inner().map_err(|e| err(e.into_error()))?;
    f.sync_all().map_err(err)
}

/// Renames without ever replacing an existing file.
fn rename_noreplace(from: &Path, to: &Path) -> Result<()> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    match renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::EXIST) => Err(Error::refused(
            Location::path(to),
            "appeared while the backup ran; an archive is never overwritten",
        )),
        // File systems without RENAME_NOREPLACE (some network ones).
        Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOSYS) if fs::symlink_metadata(to).is_err() => {
            fs::rename(from, to).map_err(|e| Error::io(Location::path(to), e))
        }
        Err(e) => Err(Error::io(Location::path(to), e.into())),
    }
}
