//! Crash-safe, re-runnable maildir writing.
//!
//! Choices, and why:
//!
//! - **Every message goes to `cur/`** with an info part (`:2,` plus its
//!   flags, possibly none). A converter does not deliver new mail: by the
//!   maildir spec a message in `new/` has no info part (so no flags), and
//!   `new/` means "just delivered, \Recent" to Dovecot and most clients, so
//!   years-old mail would show up as just arrived. Unread state is kept by
//!   the absence of `S`, which every client honours in `cur/` too.
//! - **Deterministic names**: the unique part is
//!   `<received seconds>.M<20 hex digits of the exact hash>_<n>.mailshift`
//!   ([`crate::name::mailshift_unique`]), `n` counting identical messages
//!   (same date, same bytes) in the folder in source order. The same job run
//!   again produces the same names, so a message whose unique part is
//!   already in `cur/` or `new/` is [`WriteOutcome::AlreadyPresent`]; the
//!   existing names are listed once when the folder is opened (no `stat`
//!   per message). A consequence: re-opening a folder later in the same run
//!   and writing a byte-identical message with the same date again counts
//!   it as already present, which is what deduplication wants anyway.
//! - **Durability in batches**: each message is written to an unnamed
//!   file (`O_TMPFILE`) in `cur/`, staged in a [`BackgroundBatch`] and,
//!   when the batch is full (on a background thread, while the next batch
//!   is written) or at [`FolderWriter::commit`], made durable with one
//!   `syncfs`, linked into `cur/` under its final name, and the names made
//!   durable with a second `syncfs` (see [`mailshift_model::durable`]). A
//!   message is visible only once its bytes are durable; a process killed
//!   before the link leaves nothing (the kernel frees unnamed files). Where
//!   the file system refuses unnamed files, a message goes to `tmp/` under
//!   its final name and is renamed into `cur/` after the `syncfs`, then the
//!   directory is synced: a crash before the rename leaves only `tmp/`
//!   files, which the next open of the folder deletes (only names mailshift
//!   writes, never another program's); a crash in the middle of the renames
//!   leaves complete files that the re-run finds present.
//! - **Durability deferred to the end of the run**
//!   ([`MaildirSink::create_deferred`], what `convert` uses): a folder's
//!   commit hands its staged messages, still unnamed, to one
//!   [`RunBatch`] shared by every folder of the run, and new folder
//!   directories (and new `dovecot-keywords` files) are not synced one by
//!   one; when the batch fills, and at [`Sink::finish`], one `syncfs`
//!   makes every byte and directory durable, the messages are linked (or
//!   renamed) into `cur/`, and a second `syncfs` makes the names durable.
//!   A PST of 14 small folders goes from 12 `syncfs` and 44 `fsync`s to 2
//!   and 0. The price: a run killed before `finish` keeps nothing of its
//!   small folders (a re-run writes them again, under the same names), and
//!   `finish` must be called before anything counts as written.
//! - **Dates**: the file's mtime and atime are the received date (Dovecot
//!   takes INTERNALDATE from the mtime); `,S=<size>` spares Dovecot a
//!   `stat`. A message without a received date (an mbox `From -` line) is
//!   dated by its `Date:` header where that parses ([`date_header`]), else it
//!   gets the time of writing and `0` as the time part of its name.
//! - **Keywords** get letters `a`–`z` from the folder's `dovecot-keywords`
//!   ([`crate::keywords`]), written before any message using a new letter is
//!   renamed into place. A folder holds at most 26 keywords; more, or
//!   keywords that cannot be stored, are left out and reported through
//!   [`FolderWriter::take_findings`].
//! - **Forwarded** is written twice: as the `P` letter (mutt and other
//!   maildir readers) and as the `$Forwarded` keyword, because Dovecot keeps
//!   `P` on disk but never shows it to IMAP clients (checked with doveadm).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use mailshift_model::durable::{self, BackgroundBatch, RunBatch, Staging};
use mailshift_model::{
    Error, ExactHash, Finding, FindingKind, FolderPath, FolderWriter, Location, Message, Result, Sink,
    WriteOutcome,
};

use crate::keywords::Keywords;
use crate::name::{self, file_name, is_mailshift_unique, mailshift_unique, parse_file_name};
use crate::{Layout, MaildirWriteOptions};

/// The IMAP keyword for maildir's `P` (passed) flag.
const FORWARDED: &str = "$Forwarded";

/// A maildir being written. Folders can be written in parallel; each folder
/// by one writer at a time.
#[derive(Debug)]
pub struct MaildirSink {
    root: PathBuf,
    opts: MaildirWriteOptions,
    staging: Staging,
    /// Where folders hand their messages at commit when durability is
    /// deferred to the end of the run ([`Self::create_deferred`]).
    run: Option<Arc<RunBatch>>,
    /// The folder directories opened so far in this run, whose `tmp/` was
    /// cleaned: a folder opened again must not delete the temp files that
    /// wait in `run` for their rename.
    opened: Mutex<HashSet<PathBuf>>,
    /// Set when a folder of a deferred run commits a message or a keywords
    /// file: a run that did neither (an empty PST, a re-run finding
    /// everything present) ends without a barrier ([`Sink::finish`]).
    wrote: Arc<AtomicBool>,
}

impl MaildirSink {
    /// Creates (or reopens, for a re-run) the maildir at `path`; the root is
    /// the inbox.
    /// Each [`FolderWriter::commit`] makes its folder durable.
    pub fn create(path: &Path, opts: MaildirWriteOptions) -> Result<Self> {
        Self::create_with(path, opts, None)
    }

    /// Creates (or reopens) the maildir at `path` with durability deferred
    /// to the end of the run: [`FolderWriter::commit`] hands the folder's
    /// messages to one batch shared by all folders, still without their
    /// names, and [`Sink::finish`] (or a full batch) makes them durable and
    /// names them, with one `syncfs` before the names and one after for
    /// the whole run, where committing each folder costs two and creating
    /// each folder a few directory `fsync`s. For a run of many small
    /// folders (a PST) that is most of the time spent. The caller must call
    /// [`Sink::finish`], also after an error or a cancel, before it counts
    /// anything as written: until then a committed message may have no
    /// name (a crash loses it and a re-run writes it again; nothing is ever
    /// named before its bytes are durable).
    pub fn create_deferred(path: &Path, opts: MaildirWriteOptions) -> Result<Self> {
        Self::create_with(path, opts, Some(Arc::new(RunBatch::new(path))))
    }

    fn create_with(path: &Path, opts: MaildirWriteOptions, run: Option<Arc<RunBatch>>) -> Result<Self> {
        let loc = || Location::path(path);
        if path.exists() && !path.is_dir() {
            return Err(Error::refused(loc(), "destination exists and is not a directory"));
        }
        let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).map(Path::to_path_buf);
        let root_existed = path.is_dir();
        if !root_existed && run.is_some() {
            fs::create_dir_all(path).map_err(|e| Error::io(loc(), e))?;
        }
        let created = make_maildir(path, run.is_none()).map_err(|e| Error::io(loc(), e))?;
        match &run {
            Some(run) if created => run.touch(),
            Some(_) => {}
            None if !root_existed => {
                if let Some(parent) = parent {
                    durable::sync_dir(&parent).map_err(|e| Error::io(loc(), e))?;
                }
            }
            None => {}
        }
        Ok(MaildirSink {
            root: path.to_path_buf(),
            opts,
            staging: Staging::default(),
            run,
            opened: Mutex::new(HashSet::new()),
            wrote: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Whether durability is deferred to [`Sink::finish`]
    /// ([`Self::create_deferred`]).
    pub fn is_deferred(&self) -> bool {
        self.run.is_some()
    }

    /// Stages new messages as `staging` says: unnamed files linked into
    /// `cur/` (the default, where the file system allows) or files in `tmp/`
    /// renamed into `cur/` (the maildir spec's way; what the default falls
    /// back to).
    #[must_use]
    pub fn with_staging(mut self, staging: Staging) -> Self {
        self.staging = staging;
        self
    }

    /// The maildir's root directory (the inbox).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The options it writes with.
    pub fn options(&self) -> &MaildirWriteOptions {
        &self.opts
    }

    /// The directory a folder is written to (without creating it).
    pub fn folder_dir(&self, folder: &FolderPath) -> Result<PathBuf> {
        let rel = name::encode_folder(folder, self.opts.layout, self.opts.utf8_names)
            .map_err(|e| Error::refused(Location::path(&self.root).with_folder(folder.key()), e))?;
        Ok(if rel.is_empty() { self.root.clone() } else { self.root.join(rel) })
    }
}

/// Creates `cur/`, `new/` and `tmp/` in `dir`; with `sync`, syncs `dir`
/// when it changed (else a later `syncfs` must). Returns whether anything
/// was created.
fn make_maildir(dir: &Path, sync: bool) -> io::Result<bool> {
    let mut created = false;
    for sub in ["cur", "new", "tmp"] {
        let p = dir.join(sub);
        if !p.is_dir() {
            fs::create_dir_all(&p)?;
            created = true;
        }
    }
    if created && sync {
        durable::sync_dir(dir)?;
    }
    Ok(created)
}

impl Sink for MaildirSink {
    fn describe(&self) -> String {
        format!("{} maildir at {}", self.opts.layout, self.root.display())
    }

    fn open_folder(&self, folder: &FolderPath) -> Result<Box<dyn FolderWriter + '_>> {
        let dir = self.folder_dir(folder)?;
        let loc = || Location::path(&dir).with_folder(folder.key());
        let sync = self.run.is_none();
        let mut created = make_maildir(&dir, sync).map_err(|e| Error::io(loc(), e))?;
        if self.opts.layout == Layout::MaildirPlusPlus && dir != self.root {
            let marker = dir.join("maildirfolder");
            if !marker.exists() {
                File::create(&marker).map_err(|e| Error::io(loc(), e))?;
                if sync {
                    durable::sync_dir(&dir).map_err(|e| Error::io(loc(), e))?;
                }
                created = true;
            }
        }
        if let Some(run) = self.run.as_ref().filter(|_| created) {
            // The run's next `syncfs` makes the directories durable, before
            // any message is named in them.
            run.touch();
        } else if created {
            // Make the new directories themselves durable, up to the root.
            let mut d = dir.parent();
            while let Some(p) = d {
                durable::sync_dir(p).map_err(|e| Error::io(loc(), e))?;
                if p == self.root {
                    break;
                }
                d = p.parent();
            }
        }
        let first_open =
            self.opened.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(dir.clone());
        let mut writer = MaildirFolderWriter::open_in_run(dir, folder.key(), self.staging, first_open)?;
        writer.run = self.run.clone();
        writer.wrote = Some(Arc::clone(&self.wrote));
        Ok(Box::new(writer))
    }

    /// Deferred ([`Self::create_deferred`]): makes every message committed
    /// so far durable under its final name, and every folder created
    /// durable. Otherwise the commits did that already.
    ///
    /// A deferred run that committed no message and no keywords file
    /// created at most empty folders (directories and `maildirfolder`
    /// markers): it ends without a barrier, which would cost a journal
    /// commit (and, with `syncfs`, the flush of every other writer's dirty
    /// data on the file system) to protect nothing a re-run does not
    /// recreate. No message is at stake, and none is reported written.
    fn finish(&self) -> Result<()> {
        let loc = || Location::path(&self.root);
        match &self.run {
            Some(_) if !self.wrote.load(Ordering::Acquire) => Ok(()),
            Some(run) => run.flush().map_err(|e| Error::io(loc(), e)),
            None => durable::sync_dir(&self.root).map_err(|e| Error::io(loc(), e)),
        }
    }
}

/// Writes the messages of one maildir folder.
#[derive(Debug)]
pub struct MaildirFolderWriter {
    dir: PathBuf,
    cur: PathBuf,
    tmp: PathBuf,
    folder: String,
    existing: HashSet<String>,
    counts: HashMap<(i64, [u8; 10]), u32>,
    keywords: Keywords,
    dropped_keywords: BTreeMap<String, u64>,
    batch: BackgroundBatch,
    findings: Vec<Finding>,
    /// The run's batch its commit hands messages to, when deferred.
    run: Option<Arc<RunBatch>>,
    /// The sink's "something was written" flag, when deferred.
    wrote: Option<Arc<AtomicBool>>,
}

impl MaildirFolderWriter {
    /// Opens an existing maildir folder directory: lists what is there and
    /// removes what an interrupted mailshift run left in `tmp/`.
    pub fn open(dir: PathBuf, folder: String, staging: Staging) -> Result<Self> {
        Self::open_in_run(dir, folder, staging, true)
    }

    /// [`Self::open`]; with `clean_tmp` false, leaves `tmp/` alone (the
    /// folder was opened earlier in this run, and its temp files may still
    /// wait in the run's batch).
    fn open_in_run(dir: PathBuf, folder: String, staging: Staging, clean_tmp: bool) -> Result<Self> {
        let loc = |p: &Path| Location::path(p).with_folder(folder.clone());
        let mut existing = HashSet::new();
        for sub in ["cur", "new"] {
            let d = dir.join(sub);
            for entry in fs::read_dir(&d).map_err(|e| Error::io(loc(&d), e))? {
                let entry = entry.map_err(|e| Error::io(loc(&d), e))?;
                if let Some(p) = entry.file_name().to_str().and_then(parse_file_name) {
                    existing.insert(p.unique.to_owned());
                }
            }
        }
        let mut findings = Vec::new();
        let tmp = dir.join("tmp");
        let mut removed = 0u64;
        let leftovers =
            if clean_tmp { Some(fs::read_dir(&tmp).map_err(|e| Error::io(loc(&tmp), e))?) } else { None };
        for entry in leftovers.into_iter().flatten() {
            let entry = entry.map_err(|e| Error::io(loc(&tmp), e))?;
            let ours = entry
                .file_name()
                .to_str()
                .and_then(parse_file_name)
                .is_some_and(|p| is_mailshift_unique(p.unique));
            if ours {
                fs::remove_file(entry.path()).map_err(|e| Error::io(loc(&entry.path()), e))?;
                removed += 1;
            }
        }
        let keywords_file = dir.join(crate::keywords::FILE);
        removed +=
            durable::remove_stale_temps(&keywords_file).map_err(|e| Error::io(loc(&keywords_file), e))?;
        if removed > 0 {
            findings.push(Finding::info(
                FindingKind::Leftover,
                loc(&tmp),
                format!("removed {removed} temporary file(s) left by an interrupted run"),
            ));
        }
        let (keywords, bad) = Keywords::load(&dir).map_err(|e| Error::io(loc(&dir), e))?;
        for line in bad {
            findings.push(Finding::warning(
                FindingKind::Malformed,
                loc(&dir.join(crate::keywords::FILE)),
                format!("ignored a line that is not `<index> <keyword>`: {line:?}"),
            ));
        }
        Ok(MaildirFolderWriter {
            cur: dir.join("cur"),
            tmp,
            dir,
            folder,
            existing,
            counts: HashMap::new(),
            keywords,
            dropped_keywords: BTreeMap::new(),
            batch: BackgroundBatch::with_staging(staging),
            findings,
            run: None,
            wrote: None,
        })
    }

    fn loc(&self, p: &Path) -> Location {
        Location::path(p).with_folder(self.folder.clone())
    }

    /// Makes everything written so far durable (waiting for the batch
    /// being synced in the background, if any).
    fn flush(&mut self) -> Result<()> {
        self.keywords.save(&self.dir).map_err(|e| Error::io(self.loc(&self.dir), e))?;
        self.batch.flush().map_err(|e| Error::io(self.loc(&self.cur), e))
    }

    /// Hands a full batch to the background sync, once the keyword letters
    /// its names use are durable.
    fn hand_over(&mut self) -> Result<()> {
        self.keywords.save(&self.dir).map_err(|e| Error::io(self.loc(&self.dir), e))?;
        self.batch.hand_over().map_err(|e| Error::io(self.loc(&self.cur), e))
    }
}

/// The `Date:` header as a timestamp: the fallback when the source has no
/// received date, so that Dovecot shows a sensible date rather than the day
/// of the conversion.
pub use mailshift_model::headers::date as date_header;

impl FolderWriter for MaildirFolderWriter {
    fn write(&mut self, message: &Message) -> Result<WriteOutcome> {
        self.write_hashed(message, message.exact_hash())
    }

    fn uses_exact_hash(&self) -> bool {
        true
    }

    fn write_hashed(&mut self, message: &Message, exact: ExactHash) -> Result<WriteOutcome> {
        let received = message.envelope.received.or_else(|| date_header(&message.raw));
        let secs = received.map_or(0, |t| t.timestamp());
        let mut short = [0u8; 10];
        short.copy_from_slice(&exact.0[..10]);
        let n = self.counts.entry((secs, short)).or_insert(0);
        *n += 1;
        let unique = mailshift_unique(secs, &exact.to_hex(), *n);
        if self.existing.contains(&unique) {
            return Ok(WriteOutcome::AlreadyPresent);
        }
        let flags = &message.envelope.flags;
        let mut letters = String::new();
        // Dovecot keeps `P` but does not show it to IMAP clients: the
        // `$Forwarded` keyword is what they see, so both are written.
        let forwarded = flags.forwarded.then_some(FORWARDED);
        for kw in flags.keywords.iter().map(String::as_str).chain(forwarded) {
            match self.keywords.letter_for(kw) {
                Some(c) => letters.push(c),
                None => *self.dropped_keywords.entry(kw.to_owned()).or_insert(0) += 1,
            }
        }
        let name = file_name(&unique, Some(message.size()), flags, &letters);
        let tmp = self.tmp.join(&name);
        if let Err(e) = self.batch.write_file(&tmp, self.cur.join(&name), &message.raw, received) {
            return Err(Error::io(self.loc(&tmp), e));
        }
        self.existing.insert(unique);
        if self.batch.is_full() {
            self.hand_over()?;
        }
        Ok(WriteOutcome::Written)
    }

    /// Makes every message written so far durable under its final name;
    /// deferred ([`MaildirSink::create_deferred`]), hands them, still
    /// without names, to the run's batch, which names them once durable, at
    /// [`Sink::finish`] at the latest. The keywords file is written here
    /// either way, and durable before any name that uses its letters
    /// appears (synced now, or, when new, by the run's first `syncfs`).
    fn commit(&mut self) -> Result<()> {
        let Some(run) = self.run.clone() else { return self.flush() };
        let mut wrote = false;
        if self.keywords.is_dirty() {
            self.keywords.save_before_syncfs(&self.dir).map_err(|e| Error::io(self.loc(&self.dir), e))?;
            run.touch();
            wrote = true;
        }
        let (pending, unsynced) = self.batch.take_pending().map_err(|e| Error::io(self.loc(&self.cur), e))?;
        if wrote || unsynced || !pending.is_empty() {
            if let Some(flag) = &self.wrote {
                flag.store(true, Ordering::Release);
            }
        }
        run.absorb(pending, unsynced).map_err(|e| Error::io(self.loc(&self.cur), e))
    }

    fn take_findings(&mut self) -> Vec<Finding> {
        for (kw, count) in std::mem::take(&mut self.dropped_keywords) {
            let f = Finding::warning(
                FindingKind::Unsupported,
                self.loc(&self.dir),
                format!(
                    "keyword {kw:?} left out of {count} message(s): a maildir folder holds at most 26 \
                     keywords, without white space"
                ),
            );
            self.findings.push(f);
        }
        std::mem::take(&mut self.findings)
    }
}
