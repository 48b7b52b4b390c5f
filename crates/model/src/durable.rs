//! Crash-safe writing: new files get their final names only once their
//! bytes are durable.
//!
//! A file under its final name is always complete. For throughput, writers
//! stage many files in a [`RenameBatch`]: their bytes go to files without
//! their final names, one `syncfs` makes all of them durable at once, then
//! they get their final names and the names are made durable. A crash
//! before that leaves no file under a final name (and at most temp files,
//! cleaned up by the next run); a crash after it leaves complete files.
//!
//! A staged file is one of two kinds ([`RenameBatch::write_file`] picks):
//!
//! - **Unnamed** (Linux `O_TMPFILE`): the file is created without any name
//!   in the directory it belongs in and, after the batch's `syncfs`, linked
//!   there under its final name (`linkat` of `/proc/self/fd/N`), and the
//!   directory syncs make the names durable; the link counts (which ext4
//!   without a journal does not write with a directory) are made durable by
//!   the next `syncfs`: the next batch's first one, or a second one that
//!   [`RenameBatch::flush`] and [`BackgroundBatch::flush`] end with before
//!   returning. Nothing ever names it before it is complete and durable, and a
//!   killed process leaves nothing behind at all: the kernel frees an
//!   unnamed file when its last descriptor closes. It also spares a
//!   directory entry in `tmp/` and a rename that dirties two directories,
//!   which measurably speeds up writing many small files (see
//!   `benches/convert.py`).
//! - **Temp-named**, the fallback where the file system refuses `O_TMPFILE`,
//!   `/proc` is missing, or the process has no descriptor to spare: written
//!   under a temp name, renamed after the `syncfs`, then the directories
//!   are synced.
//!
//! An unnamed file holds a descriptor until it is linked, so at most
//! [`unnamed_budget`] are open at once (the soft `RLIMIT_NOFILE` is
//! raised towards the hard limit the first time, as Go programs do at
//! start); beyond that, files are temp-named.
//!
//! A [`RunBatch`] gathers the batches of many writers (the small folders
//! of one run) so that they share those two `syncfs`: one barrier per run,
//! or per full batch (files, bytes, or half the descriptor budget), rather
//! than one per folder.

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use rustix::process as rlimit;

/// Flushes every dirty page and inode of the file system holding `path`.
/// One call makes a whole batch of files durable, which is what keeps
/// crash-safe maildir writing close to the speed of the disk.
pub fn sync_filesystem(path: &Path) -> io::Result<()> {
    let f = File::open(path)?;
    syncfs(&f)
}

/// `syncfs` of the file system holding `f`, counted in [`Barriers`].
fn syncfs(f: &File) -> io::Result<()> {
    count(|b| b.syncfs += 1);
    rustix::fs::syncfs(f).map_err(io::Error::from)
}

/// Syncs a directory, making the renames and creations inside it durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    count(|b| b.fsync += 1);
    File::open(dir)?.sync_all()
}

/// How many durability barriers this thread asked the kernel for: each is
/// a wait for the disk (a journal commit at least), which is what writing
/// many small folders costs. Counted per thread so that a test can show
/// how many barriers a piece of work takes without other tests of the same
/// process getting in the way (a [`BackgroundBatch`]'s flushes run on a
/// thread of their own and are not counted here).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Barriers {
    /// `syncfs` calls.
    pub syncfs: u64,
    /// `fsync` calls, of files and directories.
    pub fsync: u64,
}

thread_local! {
    static BARRIERS: std::cell::Cell<Barriers> = const { std::cell::Cell::new(Barriers { syncfs: 0, fsync: 0 }) };
}

fn count(f: impl FnOnce(&mut Barriers)) {
    BARRIERS.with(|c| {
        let mut b = c.get();
        f(&mut b);
        c.set(b);
    });
}

/// The barriers this thread has asked for so far ([`Barriers`]).
pub fn barriers_on_this_thread() -> Barriers {
    BARRIERS.with(std::cell::Cell::get)
}

/// Writes `bytes` to `path` crash-safely on its own: a temp file beside it,
/// `fsync`, rename, directory `fsync`. For small metadata files.
pub fn write_file_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    replace_file(path, bytes, true)
}

/// [`write_file_atomic`] without the `fsync`s: readers see the whole old
/// file or the whole new one, but the new one is durable only after the
/// next `syncfs` (a crash before it may leave it empty). For a new file
/// that nothing durable depends on yet, whose writer calls `syncfs` before
/// anything that does (a [`RunBatch`] flush).
pub fn write_file_unsynced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    replace_file(path, bytes, false)
}

fn replace_file(path: &Path, bytes: &[u8], sync: bool) -> io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| io::Error::other("path has no file name"))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = dir.join(tmp_name);
    let mut f = OpenOptions::new().write(true).create(true).truncate(true).open(&tmp)?;
    f.write_all(bytes)?;
    if sync {
        count(|b| b.fsync += 1);
        f.sync_all()?;
    }
    drop(f);
    fs::rename(&tmp, path)?;
    if sync {
        sync_dir(dir)?;
    }
    Ok(())
}

/// Removes the temp files that [`write_file_atomic`] leaves beside `path`
/// when a process is killed between creating and renaming them
/// (`.NAME.PID.tmp`). Returns how many were removed.
pub fn remove_stale_temps(path: &Path) -> io::Result<u64> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else { return Ok(0) };
    remove_pid_temps(dir, &format!(".{name}."))
}

/// Removes the files `PREFIX<pid>.tmp` in `dir` (temp files named after the
/// process that wrote them, left by a killed run). Returns how many.
pub fn remove_pid_temps(dir: &Path, prefix: &str) -> io::Result<u64> {
    let mut removed = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let file = entry.file_name();
        let Some(file) = file.to_str() else { continue };
        let pid = file.strip_prefix(prefix).and_then(|rest| rest.strip_suffix(".tmp"));
        if pid.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())) {
            fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Creates the file `path` (a temp name, staged afterwards in a
/// [`RenameBatch`] or [`BackgroundBatch`]) holding `bytes`, with mtime and
/// atime `time` when given (maildir readers such as Dovecot take a message's
/// received date from its mtime). Not synced: the batch's `syncfs` does that.
/// Shared by the maildir and EML writers.
pub fn write_new_file(path: &Path, bytes: &[u8], time: Option<crate::Timestamp>) -> io::Result<()> {
    fill(&mut File::create(path)?, bytes, time)
}

/// A timestamp as a `SystemTime`, before 1970 too; `None` out of range.
fn system_time(t: &crate::Timestamp) -> Option<std::time::SystemTime> {
    let epoch = std::time::UNIX_EPOCH;
    let secs = t.timestamp();
    let nanos = std::time::Duration::from_nanos(u64::from(t.timestamp_subsec_nanos()));
    let whole = std::time::Duration::from_secs(secs.unsigned_abs());
    let base = if secs >= 0 { epoch.checked_add(whole) } else { epoch.checked_sub(whole) };
    base?.checked_add(nanos)
}

/// How a [`RenameBatch`] stages new files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Staging {
    /// Unnamed (`O_TMPFILE`) files linked into place where the file system
    /// allows it, temp-named files otherwise.
    #[default]
    Unnamed,
    /// Always temp-named files, renamed into place.
    TempFiles,
}

/// A file staged in a batch: where its bytes are now.
#[derive(Debug)]
enum Staged {
    /// Written under this temp name, to be renamed.
    Temp(PathBuf),
    /// Written to an unnamed file, to be linked.
    Unnamed(UnnamedFile),
}

/// An open `O_TMPFILE` file, holding one unit of [`unnamed_budget`].
#[derive(Debug)]
struct UnnamedFile {
    file: File,
}

impl Drop for UnnamedFile {
    fn drop(&mut self) {
        OPEN_UNNAMED.fetch_sub(1, Ordering::Relaxed);
    }
}

/// How many unnamed files are open in this process.
static OPEN_UNNAMED: AtomicUsize = AtomicUsize::new(0);

/// Descriptors kept free for everything else (sources, directories, ...).
const RESERVED_FDS: u64 = 256;

/// How many unnamed files may be open at once in this process: the soft
/// descriptor limit (raised towards the hard one, at most 65,536, on first
/// use) less a reserve for everything else; 0 when unnamed files cannot be
/// linked at all (no `/proc/self/fd`).
pub fn unnamed_budget() -> usize {
    static BUDGET: OnceLock<usize> = OnceLock::new();
    *BUDGET.get_or_init(|| {
        if !Path::new("/proc/self/fd").is_dir() {
            return 0;
        }
        let limit = rlimit::getrlimit(rlimit::Resource::Nofile);
        let mut soft = limit.current.unwrap_or(u64::MAX);
        let wanted = limit.maximum.unwrap_or(u64::MAX).min(1 << 16);
        if soft < wanted
            && rlimit::setrlimit(
                rlimit::Resource::Nofile,
                rlimit::Rlimit { current: Some(wanted), maximum: limit.maximum },
            )
            .is_ok()
        {
            soft = wanted;
        }
        usize::try_from(soft.min(1 << 16).saturating_sub(RESERVED_FDS)).unwrap_or(0)
    })
}

/// Why no unnamed file was created.
#[derive(Debug, PartialEq, Eq)]
enum NoUnnamed {
    /// The file system or kernel does not do `O_TMPFILE` here: stop trying.
    Refused,
    /// Not now (no descriptor to spare, or an error the temp-named path
    /// will report if it is real).
    NotNow,
}

/// Whether an `open(O_TMPFILE)` error means the file system will never
/// allow it: `EOPNOTSUPP` (no support in this file system), `EISDIR`
/// (kernels before 3.11 read the flag as `O_DIRECTORY`), `EINVAL`,
/// `ENOSYS`.
fn refuses_unnamed(e: rustix::io::Errno) -> bool {
    use rustix::io::Errno;
    [Errno::OPNOTSUPP, Errno::ISDIR, Errno::INVAL, Errno::NOSYS].contains(&e)
}

impl UnnamedFile {
    /// Creates an unnamed file in `dir`, if the budget and the file system
    /// allow.
    fn create(dir: &Path, open: OpenUnnamed) -> std::result::Result<Self, NoUnnamed> {
        let budget = unnamed_budget();
        if budget == 0 {
            return Err(NoUnnamed::Refused);
        }
        if OPEN_UNNAMED.fetch_add(1, Ordering::Relaxed) >= budget {
            OPEN_UNNAMED.fetch_sub(1, Ordering::Relaxed);
            return Err(NoUnnamed::NotNow);
        }
        match open(dir) {
            Ok(fd) => Ok(UnnamedFile { file: File::from(fd) }),
            Err(e) => {
                OPEN_UNNAMED.fetch_sub(1, Ordering::Relaxed);
                Err(if refuses_unnamed(e) { NoUnnamed::Refused } else { NoUnnamed::NotNow })
            }
        }
    }

    /// Gives the file the name `dest`. A name already there is the same
    /// message (writers derive names from the bytes), so it counts as done.
    fn link(&self, dest: &Path) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        let proc_path = format!("/proc/self/fd/{}", self.file.as_raw_fd());
        match rustix::fs::linkat(
            rustix::fs::CWD,
            proc_path.as_str(),
            rustix::fs::CWD,
            dest,
            rustix::fs::AtFlags::SYMLINK_FOLLOW,
        ) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// Opens an unnamed file in a directory (a parameter so that tests can
/// play a file system that refuses).
type OpenUnnamed = fn(&Path) -> rustix::io::Result<std::os::fd::OwnedFd>;

fn open_unnamed(dir: &Path) -> rustix::io::Result<std::os::fd::OwnedFd> {
    use rustix::fs::{Mode, OFlags};
    // The mode `File::create` uses, so both kinds of file look the same.
    rustix::fs::openat(
        rustix::fs::CWD,
        dir,
        OFlags::WRONLY | OFlags::TMPFILE | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o666),
    )
}

/// Files written without their final names, waiting to be made durable and
/// named.
#[derive(Debug)]
pub struct RenameBatch {
    pending: Vec<(Staged, PathBuf)>,
    dirs: BTreeSet<PathBuf>,
    bytes: u64,
    staging: Staging,
    open: OpenUnnamed,
}

impl Default for RenameBatch {
    fn default() -> Self {
        RenameBatch::with_staging(Staging::default())
    }
}

impl RenameBatch {
    /// Flush when this many bytes are staged.
    pub const MAX_BYTES: u64 = 64 << 20;
    /// Flush when this many files are staged.
    pub const MAX_FILES: usize = 4096;

    pub fn new() -> Self {
        Self::default()
    }

    /// An empty batch that stages new files as `staging` says.
    pub fn with_staging(staging: Staging) -> Self {
        RenameBatch { pending: Vec::new(), dirs: BTreeSet::new(), bytes: 0, staging, open: open_unnamed }
    }

    /// How the next file will be staged: [`Staging::TempFiles`] once the
    /// file system refused an unnamed file.
    pub fn staging(&self) -> Staging {
        self.staging
    }

    /// An empty batch to fill next: same staging.
    fn successor(&self) -> Self {
        RenameBatch { open: self.open, ..RenameBatch::with_staging(self.staging) }
    }

    /// Stages a file already written (not yet synced) at `tmp`, to be renamed
    /// to `final_path` at the next [`Self::flush`].
    pub fn stage(&mut self, tmp: PathBuf, final_path: PathBuf, bytes: u64) {
        self.push(Staged::Temp(tmp), final_path, bytes);
    }

    fn push(&mut self, staged: Staged, final_path: PathBuf, bytes: u64) {
        if let Some(dir) = final_path.parent() {
            if !self.dirs.contains(dir) {
                self.dirs.insert(dir.to_path_buf());
            }
        }
        self.pending.push((staged, final_path));
        self.bytes += bytes;
    }

    /// Writes a new file holding `bytes`, with mtime and atime `time` when
    /// given, that gets the name `final_path` at the next [`Self::flush`].
    /// It is unnamed until then where possible (see the module docs), else
    /// written at `tmp` (a name the caller's clean-up of interrupted runs
    /// recognises). Not synced: the flush does that. On error nothing is
    /// staged and no temp file is left.
    pub fn write_file(
        &mut self,
        tmp: &Path,
        final_path: PathBuf,
        bytes: &[u8],
        time: Option<crate::Timestamp>,
    ) -> io::Result<()> {
        let len = bytes.len() as u64;
        if self.staging == Staging::Unnamed {
            let dir = final_path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            match UnnamedFile::create(dir, self.open) {
                Ok(mut unnamed) => {
                    fill(&mut unnamed.file, bytes, time).map_err(|e| with_path(e, &final_path))?;
                    self.push(Staged::Unnamed(unnamed), final_path, len);
                    return Ok(());
                }
                Err(NoUnnamed::Refused) => self.staging = Staging::TempFiles,
                Err(NoUnnamed::NotNow) => {}
            }
        }
        if let Err(e) = write_new_file(tmp, bytes, time) {
            let _ = fs::remove_file(tmp);
            return Err(e);
        }
        self.stage(tmp.to_path_buf(), final_path, len);
        Ok(())
    }

    /// Takes over the files staged in `other`, to be named at this batch's
    /// flush.
    pub fn absorb(&mut self, mut other: RenameBatch) {
        self.pending.append(&mut other.pending);
        self.dirs.append(&mut other.dirs);
        self.bytes += other.bytes;
    }

    /// Whether the batch is large enough to flush now.
    pub fn is_full(&self) -> bool {
        self.bytes >= Self::MAX_BYTES || self.pending.len() >= Self::MAX_FILES
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// The number of files staged.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Makes the staged files durable, gives them their final names and
    /// makes the names durable. On error the batch keeps what was not
    /// named yet, and the error names the file.
    pub fn flush(&mut self) -> io::Result<()> {
        self.flush_with(true).map(|_| ())
    }

    /// [`Self::flush`]; with `sync_links` false, linked names are made
    /// durable by directory syncs only, which on a file system without a
    /// journal may not write the files' link counts: the caller's next
    /// `syncfs` must, and the path to call it on is returned.
    fn flush_with(&mut self, sync_links: bool) -> io::Result<Option<PathBuf>> {
        let Some((first, dest)) = self.pending.first() else { return Ok(None) };
        match first {
            Staged::Temp(tmp) => sync_filesystem(tmp).map_err(|e| with_path(e, tmp))?,
            Staged::Unnamed(u) => syncfs(&u.file).map_err(|e| with_path(e, dest))?,
        }
        let mut done = 0;
        let mut linked = None;
        let named = self.pending.iter().try_for_each(|(staged, dest)| {
            match staged {
                Staged::Temp(tmp) => fs::rename(tmp, dest),
                Staged::Unnamed(u) => u.link(dest).map(|()| linked = Some(dest)),
            }
            .map_err(|e| with_path(e, dest))?;
            done += 1;
            Ok::<(), io::Error>(())
        });
        let linked = linked.cloned();
        // Renames into several directories (a run's batch, [`RunBatch`])
        // are made durable by one syncfs rather than one fsync each.
        let renamed_widely = (self.dirs.len() > 1).then(|| dest.clone());
        self.pending.drain(..done);
        named?;
        self.bytes = 0;
        match linked.clone().or(renamed_widely) {
            // A link also raises the file's link count from 0, which a
            // directory sync does not write on every file system (ext4
            // without a journal): one more syncfs makes names and counts
            // durable together.
            Some(dest) if sync_links => {
                sync_filesystem(&dest).map_err(|e| with_path(e, &dest))?;
                self.dirs.clear();
                Ok(None)
            }
            _ => {
                for dir in std::mem::take(&mut self.dirs) {
                    sync_dir(&dir).map_err(|e| with_path(e, &dir))?;
                }
                Ok(linked)
            }
        }
    }
}

/// Fills a new file: its bytes, then its times (before it has a name, so
/// no reader ever sees the time of writing).
fn fill(f: &mut File, bytes: &[u8], time: Option<crate::Timestamp>) -> io::Result<()> {
    f.write_all(bytes)?;
    if let Some(t) = time.and_then(|t| system_time(&t)) {
        f.set_times(fs::FileTimes::new().set_accessed(t).set_modified(t))?;
    }
    Ok(())
}

/// A [`RenameBatch`] whose full batches are flushed on a background thread,
/// so that writing the next batch's files overlaps with the disk making the
/// last one durable (on a 2-core machine the `syncfs` and the renames of a
/// batch otherwise stall the writer for a third of a conversion).
///
/// The guarantees are those of [`RenameBatch`]: a file gets its final name
/// only after a `syncfs` that started after all its bytes were written. At
/// most one batch is being flushed while the next one fills, so at most two
/// batches of files wait without their final names (and hold descriptors,
/// for unnamed ones). [`Self::flush`] waits for both and returns only when
/// every file staged so far is durable under its final name; an error of a
/// background flush is returned by the next call to [`Self::hand_over`] or
/// [`Self::flush`].
#[derive(Debug, Default)]
pub struct BackgroundBatch {
    filling: RenameBatch,
    flushing: Option<std::thread::JoinHandle<io::Result<Option<PathBuf>>>>,
    /// Where a background flush linked files whose link counts wait for a
    /// `syncfs` (see [`RenameBatch::flush_with`]): the next batch's first
    /// `syncfs` or [`Self::flush`] does it, so that a background flush
    /// costs one `syncfs`, not two.
    unsynced: Option<PathBuf>,
}

impl BackgroundBatch {
    pub fn new() -> Self {
        Self::default()
    }

    /// Batches that stage new files as `staging` says.
    pub fn with_staging(staging: Staging) -> Self {
        BackgroundBatch { filling: RenameBatch::with_staging(staging), flushing: None, unsynced: None }
    }

    /// Stages a file written (not yet synced) at `tmp`, to be renamed to
    /// `final_path`.
    pub fn stage(&mut self, tmp: PathBuf, final_path: PathBuf, bytes: u64) {
        self.filling.stage(tmp, final_path, bytes);
    }

    /// Writes and stages a new file: [`RenameBatch::write_file`].
    pub fn write_file(
        &mut self,
        tmp: &Path,
        final_path: PathBuf,
        bytes: &[u8],
        time: Option<crate::Timestamp>,
    ) -> io::Result<()> {
        self.filling.write_file(tmp, final_path, bytes, time)
    }

    /// How the next file will be staged.
    pub fn staging(&self) -> Staging {
        self.filling.staging()
    }

    /// Whether the batch being filled is full: time for [`Self::hand_over`]
    /// (after whatever must be durable before its renames, such as a
    /// keywords file).
    pub fn is_full(&self) -> bool {
        self.filling.is_full()
    }

    /// The number of files staged in the batch being filled.
    pub fn len(&self) -> usize {
        self.filling.len()
    }

    pub fn is_empty(&self) -> bool {
        self.filling.is_empty() && self.flushing.is_none() && self.unsynced.is_none()
    }

    /// Waits for the batch being flushed (if any), then starts flushing
    /// the batch being filled on a background thread.
    pub fn hand_over(&mut self) -> io::Result<()> {
        self.wait()?;
        let next = self.filling.successor();
        let mut batch = std::mem::replace(&mut self.filling, next);
        if batch.is_empty() {
            return Ok(());
        }
        let spawned =
            std::thread::Builder::new().name("mailshift-sync".into()).spawn(move || batch.flush_with(false));
        match spawned {
            Ok(handle) => self.flushing = Some(handle),
            // No thread to be had: the batch was moved into the closure that
            // could not run, so nothing was renamed; report it (the files
            // stay in temp names for the next run to remove).
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// Waits for the background flush, if one is running.
    fn wait(&mut self) -> io::Result<()> {
        if let Some(handle) = self.flushing.take() {
            let linked =
                handle.join().unwrap_or_else(|_| Err(io::Error::other("the sync thread panicked")))?;
            if linked.is_some() {
                self.unsynced = linked;
            }
        }
        Ok(())
    }

    /// Waits for the batch being flushed in the background, then hands
    /// back the files not named yet, and whether names linked by an
    /// earlier flush still wait for a `syncfs`:
    /// for a [`RunBatch`] to make them durable with other writers' files.
    /// Nothing is named by this call.
    pub fn take_pending(&mut self) -> io::Result<(RenameBatch, bool)> {
        self.wait()?;
        let next = self.filling.successor();
        let batch = std::mem::replace(&mut self.filling, next);
        Ok((batch, self.unsynced.take().is_some()))
    }

    /// Makes every file staged so far durable under its final name.
    pub fn flush(&mut self) -> io::Result<()> {
        self.wait()?;
        if self.filling.is_empty() {
            if let Some(path) = self.unsynced.take() {
                sync_filesystem(&path).map_err(|e| with_path(e, &path))?;
            }
            return Ok(());
        }
        self.filling.flush()?;
        self.unsynced = None;
        Ok(())
    }
}

impl Drop for BackgroundBatch {
    fn drop(&mut self) {
        // A writer dropped without a commit still must not leave a thread
        // renaming behind its back.
        let _ = self.wait();
    }
}

/// The files of many writers (the folders of one run) made durable and
/// named together: when the batch fills up, and at the end of the run.
///
/// Why: a folder that commits on its own costs at least two `syncfs` (one
/// for its messages' bytes, one for their names), and creating its
/// directories costs a directory `fsync` each; converting a PST of 30
/// small folders that way spends most of its time waiting for the disk.
/// A writer that shares a `RunBatch` hands its staged files over at its
/// commit instead ([`Self::absorb`]) and creates its directories without
/// syncing them ([`Self::touch`]); a `syncfs` covers every file and
/// directory of the file system, so one barrier before the names and one
/// after serve the whole run.
///
/// The guarantee of [`RenameBatch`] holds unchanged: a file gets its final
/// name only after a `syncfs` that started after all its bytes were
/// written (and after every directory on its path was created). What it
/// costs: until [`Self::flush`] returns, files handed over have no name at
/// all (unnamed ones) or only a temp name, so a process killed before it
/// loses them (a re-run writes them again, under the same names), and the
/// number of files waiting is bounded by the batch limits
/// ([`RenameBatch::MAX_FILES`], [`RenameBatch::MAX_BYTES`]) and half of
/// [`unnamed_budget`], not by one folder. Whoever owns a `RunBatch` must call [`Self::flush`]
/// before telling anyone that the files are written.
#[derive(Debug)]
pub struct RunBatch {
    /// A directory on the file system the files are written to.
    root: PathBuf,
    state: std::sync::Mutex<RunState>,
}

#[derive(Debug, Default)]
struct RunState {
    batch: RenameBatch,
    /// Whether metadata no barrier covered yet changed since the last
    /// flush: directories created, or names linked by a writer's own
    /// background flush whose link counts wait for a `syncfs`.
    dirty: bool,
}

impl RunBatch {
    /// An empty batch for files written under `root` (one file system).
    pub fn new(root: &Path) -> Self {
        RunBatch { root: root.to_path_buf(), state: std::sync::Mutex::default() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RunState> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records that something under the root changed without being synced
    /// (a directory created): the next [`Self::flush`] makes it durable
    /// even when no file is waiting.
    pub fn touch(&self) {
        self.lock().dirty = true;
    }

    /// Takes over a writer's staged files (and, with `unsynced`, names it
    /// linked whose link counts wait for a `syncfs`); flushes everything
    /// when the batch is full. Nothing of `batch` is named before a flush.
    pub fn absorb(&self, batch: RenameBatch, unsynced: bool) -> io::Result<()> {
        let mut state = self.lock();
        state.dirty |= unsynced;
        state.batch.absorb(batch);
        // Half the descriptor budget at most, so that the folders being
        // written still get unnamed files rather than temp files.
        let descriptors_short = OPEN_UNNAMED.load(Ordering::Relaxed) >= unnamed_budget() / 2;
        if state.batch.is_full() || (descriptors_short && !state.batch.is_empty()) {
            Self::flush_locked(&self.root, &mut state)?;
        }
        Ok(())
    }

    /// The number of files waiting for their names.
    pub fn len(&self) -> usize {
        self.lock().batch.len()
    }

    pub fn is_empty(&self) -> bool {
        let state = self.lock();
        state.batch.is_empty() && !state.dirty
    }

    /// Makes every file handed over so far durable under its final name,
    /// and every directory created before the call durable: `syncfs`,
    /// links and renames, `syncfs`; one `syncfs` when only directories
    /// wait; nothing when nothing does. On error the files not named yet
    /// stay in the batch, unnamed (or temp-named).
    pub fn flush(&self) -> io::Result<()> {
        let mut state = self.lock();
        Self::flush_locked(&self.root, &mut state)
    }

    fn flush_locked(root: &Path, state: &mut RunState) -> io::Result<()> {
        if !state.batch.is_empty() {
            // The flush's first `syncfs` also covers the directories, its
            // last one the links of earlier background flushes.
            state.batch.flush()?;
        } else if state.dirty {
            sync_filesystem(root).map_err(|e| with_path(e, root))?;
        }
        state.dirty = false;
        Ok(())
    }
}

fn with_path(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_renames_after_sync() {
        let dir = tempfile::tempdir().unwrap();
        let mut batch = RenameBatch::new();
        for i in 0..3 {
            let tmp = dir.path().join(format!("t{i}"));
            fs::write(&tmp, b"x").unwrap();
            batch.stage(tmp, dir.path().join(format!("f{i}")), 1);
        }
        assert_eq!(batch.len(), 3);
        assert!(!dir.path().join("f0").exists());
        batch.flush().unwrap();
        assert!(batch.is_empty());
        for i in 0..3 {
            assert!(dir.path().join(format!("f{i}")).exists());
            assert!(!dir.path().join(format!("t{i}")).exists());
        }
    }

    #[test]
    fn background_batches_rename_in_order_and_all_by_flush() {
        let dir = tempfile::tempdir().unwrap();
        let mut batch = BackgroundBatch::new();
        for i in 0..10 {
            let tmp = dir.path().join(format!("t{i}"));
            fs::write(&tmp, b"x").unwrap();
            batch.stage(tmp, dir.path().join(format!("f{i}")), 1);
            if i % 3 == 2 {
                batch.hand_over().unwrap();
            }
        }
        assert!(!batch.is_empty());
        batch.flush().unwrap();
        assert!(batch.is_empty());
        for i in 0..10 {
            assert!(dir.path().join(format!("f{i}")).exists());
            assert!(!dir.path().join(format!("t{i}")).exists());
        }
        // A failed background flush surfaces at the next call.
        batch.stage(dir.path().join("missing"), dir.path().join("g"), 1);
        batch.hand_over().unwrap();
        assert!(batch.flush().is_err());
    }

    #[test]
    fn stale_temps_of_atomic_writes_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        fs::write(dir.path().join(".k.123.tmp"), b"half").unwrap();
        fs::write(dir.path().join(".k.x.tmp"), b"not ours").unwrap();
        write_file_atomic(&p, b"one").unwrap();
        assert_eq!(remove_stale_temps(&p).unwrap(), 1);
        assert!(dir.path().join(".k.x.tmp").exists());
        assert_eq!(fs::read(&p).unwrap(), b"one");
    }

    #[test]
    fn new_files_carry_their_date() {
        let dir = tempfile::tempdir().unwrap();
        for (name, secs) in [("a", 838_018_975i64), ("b", -86_400)] {
            let p = dir.path().join(name);
            let t = chrono::DateTime::from_timestamp(secs, 5).unwrap().fixed_offset();
            write_new_file(&p, b"x", Some(t)).unwrap();
            let m = fs::metadata(&p).unwrap().modified().unwrap();
            assert_eq!(m, system_time(&t).unwrap());
            assert_eq!(fs::read(&p).unwrap(), b"x");
        }
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> =
            fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        v.sort();
        v
    }

    #[test]
    fn unnamed_files_get_their_names_at_flush_only() {
        let dir = tempfile::tempdir().unwrap();
        let t = chrono::DateTime::from_timestamp(838_018_975, 0).unwrap().fixed_offset();
        let mut batch = RenameBatch::new();
        for i in 0..3 {
            let tmp = dir.path().join(format!("t{i}"));
            batch
                .write_file(&tmp, dir.path().join(format!("f{i}")), format!("m{i}").as_bytes(), Some(t))
                .unwrap();
        }
        assert_eq!(batch.staging(), Staging::Unnamed, "this file system refused O_TMPFILE");
        assert_eq!(batch.len(), 3);
        assert!(names(dir.path()).is_empty(), "a staged file is visible: {:?}", names(dir.path()));
        batch.flush().unwrap();
        assert!(batch.is_empty());
        assert_eq!(names(dir.path()), ["f0", "f1", "f2"]);
        for i in 0..3 {
            let p = dir.path().join(format!("f{i}"));
            assert_eq!(fs::read(&p).unwrap(), format!("m{i}").as_bytes());
            assert_eq!(fs::metadata(&p).unwrap().modified().unwrap(), system_time(&t).unwrap());
        }
        // A batch dropped before its flush (a crash) leaves nothing behind.
        let mut batch = RenameBatch::new();
        batch.write_file(&dir.path().join("t9"), dir.path().join("f9"), b"lost", None).unwrap();
        drop(batch);
        assert_eq!(names(dir.path()), ["f0", "f1", "f2"]);
        // A name already there is the same message: linking it again is done.
        let mut batch = RenameBatch::new();
        batch.write_file(&dir.path().join("t0"), dir.path().join("f0"), b"m0", None).unwrap();
        batch.flush().unwrap();
        assert_eq!(fs::read(dir.path().join("f0")).unwrap(), b"m0");
    }

    fn refuse(_: &Path) -> rustix::io::Result<std::os::fd::OwnedFd> {
        Err(rustix::io::Errno::OPNOTSUPP)
    }

    #[test]
    fn a_file_system_refusing_unnamed_files_gets_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut batch = RenameBatch { open: refuse, ..RenameBatch::new() };
        batch.write_file(&dir.path().join("t0"), dir.path().join("f0"), b"zero", None).unwrap();
        assert_eq!(batch.staging(), Staging::TempFiles);
        assert_eq!(names(dir.path()), ["t0"]);
        // The next batch does not try again.
        let mut next = batch.successor();
        assert_eq!(next.staging(), Staging::TempFiles);
        batch.flush().unwrap();
        assert_eq!(names(dir.path()), ["f0"]);
        next.write_file(&dir.path().join("t1"), dir.path().join("f1"), b"one", None).unwrap();
        next.flush().unwrap();
        assert_eq!(names(dir.path()), ["f0", "f1"]);
        assert_eq!(fs::read(dir.path().join("f1")).unwrap(), b"one");
        // A failed write leaves no temp file and stages nothing.
        let err = next.write_file(&dir.path().join("no/t2"), dir.path().join("f2"), b"two", None);
        assert!(err.is_err());
        assert!(next.is_empty());
    }

    /// Fails every other open with ENOSPC: not a refusal, so only those
    /// files are temp-named.
    fn fail_every_other(dir: &Path) -> rustix::io::Result<std::os::fd::OwnedFd> {
        static CALLS: AtomicUsize = AtomicUsize::new(0);
        if CALLS.fetch_add(1, Ordering::Relaxed) % 2 == 1 {
            return Err(rustix::io::Errno::NOSPC);
        }
        open_unnamed(dir)
    }

    #[test]
    fn a_batch_can_mix_unnamed_and_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        fs::create_dir(&out).unwrap();
        let mut batch = RenameBatch { open: fail_every_other, ..RenameBatch::new() };
        for i in 0..4 {
            batch
                .write_file(&dir.path().join(format!("t{i}")), out.join(format!("f{i}")), &[b'0' + i], None)
                .unwrap();
        }
        assert_eq!(batch.staging(), Staging::Unnamed);
        assert_eq!(names(dir.path()).len(), 3, "two temp files and out/: {:?}", names(dir.path()));
        batch.flush().unwrap();
        assert_eq!(names(dir.path()), ["out"]);
        assert_eq!(names(&out), ["f0", "f1", "f2", "f3"]);
        assert_eq!(fs::read(out.join("f3")).unwrap(), b"3");
    }

    #[test]
    fn refusals_are_told_from_other_errors() {
        use rustix::io::Errno;
        for e in [Errno::OPNOTSUPP, Errno::ISDIR, Errno::INVAL, Errno::NOSYS] {
            assert!(refuses_unnamed(e), "{e}");
        }
        for e in [Errno::NOSPC, Errno::ACCESS, Errno::NOENT, Errno::MFILE] {
            assert!(!refuses_unnamed(e), "{e}");
        }
        assert!(unnamed_budget() > 0, "no /proc/self/fd here?");
    }

    #[test]
    fn background_batches_link_unnamed_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut batch = BackgroundBatch::new();
        for i in 0..10 {
            let tmp = dir.path().join(format!("t{i}"));
            batch.write_file(&tmp, dir.path().join(format!("f{i}")), b"x", None).unwrap();
            if i % 4 == 3 {
                batch.hand_over().unwrap();
            }
        }
        batch.flush().unwrap();
        assert_eq!(names(dir.path()).len(), 10);
        assert!(names(dir.path()).iter().all(|n| n.starts_with('f')));
    }

    #[test]
    fn a_run_batch_names_many_writers_files_with_two_barriers() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunBatch::new(dir.path());
        let before = barriers_on_this_thread();
        for w in 0..5 {
            let sub = dir.path().join(format!("w{w}"));
            fs::create_dir(&sub).unwrap();
            run.touch();
            let mut batch = BackgroundBatch::new();
            for i in 0..3 {
                batch.write_file(&sub.join(format!("t{i}")), sub.join(format!("f{i}")), b"x", None).unwrap();
            }
            let (pending, unsynced) = batch.take_pending().unwrap();
            assert!(!unsynced);
            run.absorb(pending, unsynced).unwrap();
            assert!(names(&sub).is_empty(), "named before the run's flush");
        }
        assert_eq!(run.len(), 15);
        let b = barriers_on_this_thread();
        assert_eq!((b.syncfs - before.syncfs, b.fsync - before.fsync), (0, 0));
        run.flush().unwrap();
        let b = barriers_on_this_thread();
        assert_eq!((b.syncfs - before.syncfs, b.fsync - before.fsync), (2, 0));
        assert!(run.is_empty());
        assert_eq!(names(&dir.path().join("w4")), ["f0", "f1", "f2"]);
        // Only a directory waiting: one syncfs; nothing waiting: none.
        fs::create_dir(dir.path().join("empty")).unwrap();
        run.touch();
        run.flush().unwrap();
        run.flush().unwrap();
        let b = barriers_on_this_thread();
        assert_eq!(b.syncfs - before.syncfs, 3);
    }

    #[test]
    fn atomic_write_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        write_file_atomic(&p, b"one").unwrap();
        write_file_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
