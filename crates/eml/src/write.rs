//! Crash-safe, re-runnable writing of an EML tree; the same scheme as the
//! maildir writer: deterministic names, temp files renamed in durable
//! batches, leftovers of an interrupted run removed when a folder is opened.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use mailshift_model::durable::{self, RenameBatch};
use mailshift_model::{
    Error, Finding, FindingKind, FolderPath, FolderWriter, Location, Message, Result, Sink, WriteOutcome,
};

use crate::{is_eml, name};

/// An EML tree being written.
#[derive(Debug)]
pub struct EmlSink {
    root: PathBuf,
}

impl EmlSink {
    /// Creates (or reopens, for a re-run) the tree at `path`.
    pub fn create(path: &Path) -> Result<Self> {
        let loc = || Location::path(path);
        if path.exists() && !path.is_dir() {
            return Err(Error::refused(loc(), "destination exists and is not a directory"));
        }
        if !path.is_dir() {
            fs::create_dir_all(path).map_err(|e| Error::io(loc(), e))?;
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                durable::sync_dir(parent).map_err(|e| Error::io(loc(), e))?;
            }
        }
        Ok(EmlSink { root: path.to_path_buf() })
    }

    /// The directory a folder is written to (without creating it).
    pub fn folder_dir(&self, folder: &FolderPath) -> Result<PathBuf> {
        let rel = name::encode_folder(folder)
            .map_err(|e| Error::refused(Location::path(&self.root).with_folder(folder.key()), e))?;
        Ok(self.root.join(rel))
    }
}

impl Sink for EmlSink {
    fn describe(&self) -> String {
        format!("eml tree at {}", self.root.display())
    }

    fn open_folder(&self, folder: &FolderPath) -> Result<Box<dyn FolderWriter + '_>> {
        let dir = self.folder_dir(folder)?;
        let loc = || Location::path(&dir).with_folder(folder.key());
        if !dir.is_dir() {
            fs::create_dir_all(&dir).map_err(|e| Error::io(loc(), e))?;
            let mut d = Some(dir.as_path());
            while let Some(p) = d {
                durable::sync_dir(p).map_err(|e| Error::io(loc(), e))?;
                if p == self.root {
                    break;
                }
                d = p.parent();
            }
        }
        Ok(Box::new(EmlFolderWriter::open(dir, folder.key())?))
    }

    fn finish(&self) -> Result<()> {
        durable::sync_dir(&self.root).map_err(|e| Error::io(Location::path(&self.root), e))
    }
}

/// Writes the messages of one folder of an EML tree.
#[derive(Debug)]
pub struct EmlFolderWriter {
    dir: PathBuf,
    folder: String,
    existing: HashSet<String>,
    counts: HashMap<(i64, [u8; 10]), u32>,
    batch: RenameBatch,
    flagged: u64,
    findings: Vec<Finding>,
}

impl EmlFolderWriter {
    fn open(dir: PathBuf, folder: String) -> Result<Self> {
        let loc = |p: &Path| Location::path(p).with_folder(folder.clone());
        let mut existing = HashSet::new();
        let mut removed = 0u64;
        for e in fs::read_dir(&dir).map_err(|e| Error::io(loc(&dir), e))? {
            let e = e.map_err(|e| Error::io(loc(&dir), e))?;
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with('.') && n.ends_with(name::TEMP_SUFFIX) {
                fs::remove_file(e.path()).map_err(|err| Error::io(loc(&e.path()), err))?;
                removed += 1;
            } else if is_eml(&n) {
                existing.insert(n);
            }
        }
        let mut findings = Vec::new();
        if removed > 0 {
            findings.push(Finding::info(
                FindingKind::Leftover,
                loc(&dir),
                format!("removed {removed} temporary file(s) left by an interrupted run"),
            ));
        }
        Ok(EmlFolderWriter {
            dir,
            folder,
            existing,
            counts: HashMap::new(),
            batch: RenameBatch::new(),
            flagged: 0,
            findings,
        })
    }

    fn loc(&self, p: &Path) -> Location {
        Location::path(p).with_folder(self.folder.clone())
    }
}

impl FolderWriter for EmlFolderWriter {
    fn write(&mut self, message: &Message) -> Result<WriteOutcome> {
        let exact = message.exact_hash();
        let received = message.envelope.received.or_else(|| mailshift_model::headers::date(&message.raw));
        let secs = received.map_or(0, |t| t.timestamp());
        let mut short = [0u8; 10];
        short.copy_from_slice(&exact.0[..10]);
        let n = self.counts.entry((secs, short)).or_insert(0);
        *n += 1;
        let final_name = name::file_name(secs, &exact.to_hex(), *n);
        if self.existing.contains(&final_name) {
            return Ok(WriteOutcome::AlreadyPresent);
        }
        if message.envelope.flags != mailshift_model::Flags::default() {
            self.flagged += 1;
        }
        let tmp = self.dir.join(name::temp_name(&final_name));
        if let Err(e) = durable::write_new_file(&tmp, &message.raw, received) {
            let _ = fs::remove_file(&tmp);
            return Err(Error::io(self.loc(&tmp), e));
        }
        self.batch.stage(tmp, self.dir.join(&final_name), message.size());
        self.existing.insert(final_name);
        if self.batch.is_full() {
            self.commit()?;
        }
        Ok(WriteOutcome::Written)
    }

    fn commit(&mut self) -> Result<()> {
        self.batch.flush().map_err(|e| Error::io(self.loc(&self.dir), e))
    }

    fn take_findings(&mut self) -> Vec<Finding> {
        if self.flagged > 0 {
            let f = Finding::warning(
                FindingKind::Unsupported,
                self.loc(&self.dir),
                format!(
                    "{} message(s) had flags or keywords (seen, answered, ...) that an .eml file cannot hold; \
                     their bytes and dates were kept",
                    self.flagged
                ),
            );
            self.findings.push(f);
            self.flagged = 0;
        }
        std::mem::take(&mut self.findings)
    }
}
