//! Crash-safe writing: temp file, sync, rename, directory sync.
//!
//! A file under its final name is always complete. For throughput, writers
//! stage many files in a [`RenameBatch`]: their bytes go to temp files, one
//! `syncfs` makes all of them durable at once, then they are renamed to
//! their final names and the directories are synced. A crash before the
//! rename leaves only temp files (cleaned up by the next run); a crash after
//! it leaves complete files.

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Flushes every dirty page and inode of the file system holding `path`.
/// One call makes a whole batch of files durable, which is what keeps
/// crash-safe maildir writing close to the speed of the disk.
pub fn sync_filesystem(path: &Path) -> io::Result<()> {
    let f = File::open(path)?;
    rustix::fs::syncfs(&f).map_err(io::Error::from)
}

/// Syncs a directory, making the renames and creations inside it durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Writes `bytes` to `path` crash-safely on its own: a temp file beside it,
/// `fsync`, rename, directory `fsync`. For small metadata files.
pub fn write_file_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| io::Error::other("path has no file name"))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = dir.join(tmp_name);
    let mut f = OpenOptions::new().write(true).create(true).truncate(true).open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, path)?;
    sync_dir(dir)
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
    let mut f = File::create(path)?;
    f.write_all(bytes)?;
    if let Some(t) = time.and_then(|t| system_time(&t)) {
        f.set_times(fs::FileTimes::new().set_accessed(t).set_modified(t))?;
    }
    Ok(())
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

/// Files written to temp names, waiting to be made durable and renamed.
#[derive(Debug, Default)]
pub struct RenameBatch {
    pending: Vec<(PathBuf, PathBuf)>,
    dirs: BTreeSet<PathBuf>,
    bytes: u64,
}

impl RenameBatch {
    /// Flush when this many bytes are staged.
    pub const MAX_BYTES: u64 = 64 << 20;
    /// Flush when this many files are staged.
    pub const MAX_FILES: usize = 4096;

    pub fn new() -> Self {
        Self::default()
    }

    /// Stages a file already written (not yet synced) at `tmp`, to be renamed
    /// to `final_path` at the next [`Self::flush`].
    pub fn stage(&mut self, tmp: PathBuf, final_path: PathBuf, bytes: u64) {
        if let Some(dir) = final_path.parent() {
            self.dirs.insert(dir.to_path_buf());
        }
        self.pending.push((tmp, final_path));
        self.bytes += bytes;
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

    /// Makes the staged files durable, renames them to their final names
    /// and syncs the directories. On error the batch keeps what was not
    /// renamed, and the error names the file.
    pub fn flush(&mut self) -> io::Result<()> {
        let Some((first, _)) = self.pending.first() else { return Ok(()) };
        sync_filesystem(first).map_err(|e| with_path(e, first))?;
        let mut done = 0;
        let renamed = self.pending.iter().try_for_each(|(tmp, dest)| {
            fs::rename(tmp, dest).map_err(|e| with_path(e, dest))?;
            done += 1;
            Ok::<(), io::Error>(())
        });
        self.pending.drain(..done);
        renamed?;
        for dir in std::mem::take(&mut self.dirs) {
            sync_dir(&dir).map_err(|e| with_path(e, &dir))?;
        }
        self.bytes = 0;
        Ok(())
    }
}

/// A [`RenameBatch`] whose full batches are flushed on a background thread,
/// so that writing the next batch's files overlaps with the disk making the
/// last one durable (on a 2-core machine the `syncfs` and the renames of a
/// batch otherwise stall the writer for a third of a conversion).
///
/// The guarantees are those of [`RenameBatch`]: a file is renamed to its
/// final name only after a `syncfs` that started after it was written and
/// closed. At most one batch is being flushed while the next one fills, so
/// at most two batches of files wait in temp names. [`Self::flush`] waits
/// for both and returns only when every file staged so far is durable under
/// its final name; an error of a background flush is returned by the next
/// call to [`Self::stage`] or [`Self::flush`].
#[derive(Debug, Default)]
pub struct BackgroundBatch {
    filling: RenameBatch,
    flushing: Option<std::thread::JoinHandle<io::Result<()>>>,
}

impl BackgroundBatch {
    pub fn new() -> Self {
        Self::default()
    }

    /// Stages a file written (not yet synced) at `tmp`, to be renamed to
    /// `final_path`.
    pub fn stage(&mut self, tmp: PathBuf, final_path: PathBuf, bytes: u64) {
        self.filling.stage(tmp, final_path, bytes);
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
        self.filling.is_empty() && self.flushing.is_none()
    }

    /// Waits for the batch being flushed (if any), then starts flushing
    /// the batch being filled on a background thread.
    pub fn hand_over(&mut self) -> io::Result<()> {
        self.wait()?;
        let mut batch = std::mem::take(&mut self.filling);
        if batch.is_empty() {
            return Ok(());
        }
        let spawned = std::thread::Builder::new().name("mailshift-sync".into()).spawn(move || batch.flush());
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
        match self.flushing.take() {
            Some(handle) => {
                handle.join().unwrap_or_else(|_| Err(io::Error::other("the sync thread panicked")))
            }
            None => Ok(()),
        }
    }

    /// Makes every file staged so far durable under its final name.
    pub fn flush(&mut self) -> io::Result<()> {
        self.wait()?;
        self.filling.flush()
    }
}

impl Drop for BackgroundBatch {
    fn drop(&mut self) {
        // A writer dropped without a commit still must not leave a thread
        // renaming behind its back.
        let _ = self.wait();
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
