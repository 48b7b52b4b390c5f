//! An mbox file or a tree of them as a [`Source`]: one unit per file.
//!
//! A single file is the inbox. A directory is walked recursively: each mbox
//! file is a folder named by its path (file and directory names decoded by
//! [`crate::names::decode_segment`]); Thunderbird's `Name.sbd/` directory
//! holds the subfolders of `Name`. A `.mbox` suffix is not part of the
//! folder name (`Inbox.mbox` is `Inbox`), and Apple Mail's `Name.mbox/mbox`
//! is the folder `Name`. Dot files and `.msf`, `.dat`, `.html`,
//! `.json` files are skipped silently; other files that are not mbox get an
//! `ignored` info finding.

use std::fs::File;
use std::io::{BufReader, Read};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use mailshift_model::{Error, Finding, FindingKind, FolderPath, Location, Result, Source, SourceInfo, Unit};

use crate::names::{decode_segment, IGNORED_SUFFIXES};
use crate::{MboxReadOptions, MboxReader};

/// The read buffer: large, so that reading runs at disk speed.
const BUFFER: usize = 1 << 20;

/// An mbox file or tree, opened for reading.
#[derive(Debug)]
pub struct MboxSource {
    path: PathBuf,
    opts: MboxReadOptions,
}

impl MboxSource {
    /// Opens `path`: an mbox file (the inbox) or a directory tree of them.
    pub fn open(path: &Path, opts: MboxReadOptions) -> Result<Self> {
        std::fs::metadata(path).map_err(|e| Error::io(Location::path(path), e))?;
        Ok(MboxSource { path: path.to_path_buf(), opts })
    }

    /// A reader over one file, for callers that want the items themselves.
    pub fn reader(&self, path: &Path, folder: FolderPath) -> Result<MboxReader<BufReader<File>>> {
        let file = File::open(path).map_err(|e| Error::io(Location::path(path), e))?;
        Ok(MboxReader::new(BufReader::with_capacity(BUFFER, file), self.opts.clone())
            .with_path(path)
            .with_folder(folder))
    }
}

impl Source for MboxSource {
    fn info(&self) -> SourceInfo {
        SourceInfo {
            format: "mbox".to_owned(),
            variant: Some(self.opts.variant.map_or("auto", |v| v.name()).to_owned()),
            path: self.path.clone(),
        }
    }

    fn units(&self, findings: &mut Vec<Finding>) -> Result<Vec<Unit>> {
        let meta = std::fs::metadata(&self.path).map_err(|e| Error::io(Location::path(&self.path), e))?;
        let mut units = Vec::new();
        if meta.is_file() {
            units.push(Unit {
                folder: FolderPath::inbox(),
                id: self.path.display().to_string(),
                path: Some(self.path.clone()),
                bytes: meta.len(),
            });
        } else {
            walk(&self.path, &[], &mut units, findings)?;
        }
        Ok(units)
    }

    fn read_unit(&self, unit: &Unit, emit: mailshift_model::Emit<'_>) -> Result<()> {
        let path = unit.path.clone().unwrap_or_else(|| PathBuf::from(&unit.id));
        let mut reader = self.reader(&path, unit.folder.clone())?;
        while let Some(item) = reader.next_item()? {
            if emit(item).is_break() {
                return Err(Error::new(Location::path(&path), mailshift_model::ErrorKind::Cancelled));
            }
        }
        Ok(())
    }
}

/// Whether `name` is skipped without a word: dot files, summaries, filters.
fn silently_ignored(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    name.starts_with('.') || IGNORED_SUFFIXES[..4].iter().any(|s| lower.ends_with(s))
}

fn walk(dir: &Path, parents: &[String], units: &mut Vec<Unit>, findings: &mut Vec<Finding>) -> Result<()> {
    let read = std::fs::read_dir(dir).map_err(|e| Error::io(Location::path(dir), e))?;
    let mut entries: Vec<(String, PathBuf)> = Vec::new();
    for entry in read {
        let entry = entry.map_err(|e| Error::io(Location::path(dir), e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        entries.push((name, entry.path()));
    }
    entries.sort();
    for (name, path) in entries {
        if silently_ignored(&name) {
            continue;
        }
        let Ok(meta) = std::fs::metadata(&path) else {
            findings.push(Finding::warning(
                FindingKind::Unreadable,
                Location::path(&path),
                "cannot stat; skipped",
            ));
            continue;
        };
        if meta.is_dir() {
            // `Name.sbd/` holds the children of `Name`; a plain directory is
            // a folder of its own (Apple Mail's `Name.mbox/` too: its file
            // `mbox` holds the folder's messages, see below).
            let base = name.strip_suffix(".sbd").unwrap_or(&name);
            let mut segments = parents.to_vec();
            segments.push(decode_segment(strip_mbox_suffix(base)));
            walk(&path, &segments, units, findings)?;
        } else if meta.is_file() {
            if meta.len() > 0 && !sniff_file(&path) {
                findings.push(Finding::info(
                    FindingKind::Ignored,
                    Location::path(&path),
                    "not an mbox file (does not start with a From_ line): ignored",
                ));
                continue;
            }
            let mut segments = parents.to_vec();
            let in_mbox_dir = dir.file_name().and_then(|n| n.to_str()).is_some_and(has_mbox_suffix);
            if !(name == "mbox" && in_mbox_dir && !segments.is_empty()) {
                segments.push(decode_segment(strip_mbox_suffix(&name)));
            }
            units.push(Unit {
                folder: FolderPath::new(segments),
                id: path.display().to_string(),
                path: Some(path.clone()),
                bytes: meta.len(),
            });
        }
    }
    Ok(())
}

/// Whether `name` ends in `.mbox` (any case) after something.
fn has_mbox_suffix(name: &str) -> bool {
    name.len() > 5
        && name.is_char_boundary(name.len() - 5)
        && name[name.len() - 5..].eq_ignore_ascii_case(".mbox")
}

/// `Inbox.mbox` is the folder `Inbox`: the suffix names the file format
/// (Gmail Takeout, Apple Mail, exports), not the folder. mailshift's own
/// mbox writer escapes a `.` in a folder name (`%2E`), so a folder really
/// called `x.mbox` does not lose its suffix on the way back.
fn strip_mbox_suffix(name: &str) -> &str {
    if has_mbox_suffix(name) {
        &name[..name.len() - 5]
    } else {
        name
    }
}

/// Whether the file at `path` starts like an mbox: `From ` (after an
/// optional byte order mark and blank lines).
pub fn sniff_file(path: &Path) -> bool {
    let mut head = [0u8; 512];
    let Ok(mut f) = File::open(path) else { return false };
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    let head = &head[..n];
    let head = head.strip_prefix(b"\xEF\xBB\xBF".as_slice()).unwrap_or(head);
    let start = head.iter().position(|b| !matches!(b, b'\r' | b'\n')).unwrap_or(head.len());
    head[start..].starts_with(b"From ")
}

/// Whether `path` is an mbox file, or a directory (a tree of mbox files or
/// a Thunderbird mail folder) holding at least one mbox file and no maildir.
pub fn sniff(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else { return false };
    if meta.is_file() {
        return sniff_file(path);
    }
    let mut units = Vec::new();
    let mut findings = Vec::new();
    if ["cur", "new"].iter().all(|d| path.join(d).is_dir()) {
        return false;
    }
    walk(path, &[], &mut units, &mut findings).is_ok() && units.iter().any(|u| u.bytes > 0)
}

/// Reads every unit of `source` into a list (for tests and small tools).
pub fn read_all(source: &dyn Source, unit: &Unit) -> Result<Vec<mailshift_model::Item>> {
    let mut items = Vec::new();
    source.read_unit(unit, &mut |item| {
        items.push(item);
        ControlFlow::Continue(())
    })?;
    Ok(items)
}
