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
    let prefix = format!(".{name}.");
    let mut removed = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let file = entry.file_name();
        let Some(file) = file.to_str() else { continue };
        let pid = file.strip_prefix(&prefix).and_then(|rest| rest.strip_suffix(".tmp"));
        if pid.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())) {
            fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
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
        while let Some((tmp, dest)) = self.pending.first() {
            fs::rename(tmp, dest).map_err(|e| with_path(e, dest))?;
            self.pending.remove(0);
        }
        for dir in std::mem::take(&mut self.dirs) {
            sync_dir(&dir).map_err(|e| with_path(e, &dir))?;
        }
        self.bytes = 0;
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
    fn atomic_write_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        write_file_atomic(&p, b"one").unwrap();
        write_file_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
