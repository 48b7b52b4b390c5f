//! Reading a maildir: every folder of either layout, one unit per folder.

use std::fs::{self, File};
use std::io::Read;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use mailshift_model::{
    Emit, Envelope, Error, Finding, FindingKind, FolderPath, Item, Location, Message, Result, Source,
    SourceInfo, Timestamp, Unit,
};

use crate::keywords::{self, Keywords};
use crate::name::{self, flags_from_letters, leading_time, parse_file_name};
use crate::{is_maildir, Layout};

/// Deepest fs-layout nesting followed (a guard against odd trees).
const MAX_DEPTH: usize = 64;

/// A maildir opened for reading.
#[derive(Debug, Clone)]
pub struct MaildirSource {
    root: PathBuf,
    layout: Layout,
}

impl MaildirSource {
    /// Opens the maildir at `path`, detecting its layout: Maildir++ when it
    /// has `.Folder` subfolders (or none at all), fs when its subfolders are
    /// plain nested directories.
    pub fn open(path: &Path) -> Result<Self> {
        let layout = detect_layout(path)?;
        Ok(MaildirSource { root: path.to_path_buf(), layout })
    }

    /// Opens the maildir at `path` with a layout chosen by the user.
    pub fn with_layout(path: &Path, layout: Layout) -> Result<Self> {
        if !path.is_dir() {
            return Err(Error::format(Location::path(path), "not a directory"));
        }
        Ok(MaildirSource { root: path.to_path_buf(), layout })
    }

    /// The layout detected or chosen.
    pub fn layout(&self) -> Layout {
        self.layout
    }
}

fn subdirs(dir: &Path) -> std::io::Result<Vec<(String, PathBuf)>> {
    let mut v = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        // Symlinks are not followed: no loops, nothing outside the store.
        if entry.file_type()?.is_dir() {
            v.push((entry.file_name().to_string_lossy().into_owned(), entry.path()));
        }
    }
    v.sort();
    Ok(v)
}

fn is_maildir_sub(name: &str) -> bool {
    matches!(name, "cur" | "new" | "tmp")
}

fn detect_layout(path: &Path) -> Result<Layout> {
    let dirs = subdirs(path).map_err(|e| Error::io(Location::path(path), e))?;
    let has_dot = dirs.iter().any(|(n, p)| n.starts_with('.') && n != ".." && is_maildir(p));
    if has_dot {
        return Ok(Layout::MaildirPlusPlus);
    }
    let has_fs =
        dirs.iter().any(|(n, p)| !is_maildir_sub(n) && !n.starts_with('.') && has_maildir_below(p, 0));
    Ok(if has_fs { Layout::Fs } else { Layout::MaildirPlusPlus })
}

fn has_maildir_below(dir: &Path, depth: usize) -> bool {
    if is_maildir(dir) {
        return true;
    }
    depth < 4
        && subdirs(dir)
            .is_ok_and(|v| v.iter().any(|(n, p)| !is_maildir_sub(n) && has_maildir_below(p, depth + 1)))
}

fn unit_bytes(dir: &Path) -> u64 {
    ["cur", "new"]
        .iter()
        .filter_map(|s| fs::read_dir(dir.join(s)).ok())
        .flat_map(|rd| rd.flatten())
        .filter_map(|e| e.metadata().ok())
        .filter(fs::Metadata::is_file)
        .map(|m| m.len())
        .sum()
}

fn make_unit(folder: FolderPath, id: String, path: PathBuf) -> Unit {
    let bytes = unit_bytes(&path);
    Unit { folder, id, path: Some(path), bytes }
}

impl MaildirSource {
    fn walk_fs(
        &self,
        dir: &Path,
        rel: &str,
        depth: usize,
        units: &mut Vec<Unit>,
        findings: &mut Vec<Finding>,
    ) {
        let dirs = match subdirs(dir) {
            Ok(d) => d,
            Err(e) => {
                findings.push(Finding::error(FindingKind::Unreadable, Location::path(dir), e.to_string()));
                return;
            }
        };
        for (n, p) in dirs {
            if is_maildir_sub(&n) {
                continue;
            }
            let child = if rel.is_empty() { n.clone() } else { format!("{rel}/{n}") };
            if is_maildir(&p) {
                match name::decode_folder(&child, Layout::Fs) {
                    Some(folder) => units.push(make_unit(folder, child.clone(), p.clone())),
                    None => findings.push(Finding::warning(
                        FindingKind::Name,
                        Location::path(&p),
                        "directory name is not a folder name; not read",
                    )),
                }
            }
            if depth + 1 < MAX_DEPTH {
                self.walk_fs(&p, &child, depth + 1, units, findings);
            } else {
                findings.push(Finding::warning(
                    FindingKind::Ignored,
                    Location::path(&p),
                    "nested too deep; not read",
                ));
            }
        }
    }
}

impl Source for MaildirSource {
    fn info(&self) -> SourceInfo {
        SourceInfo {
            format: "maildir".to_owned(),
            variant: Some(self.layout.as_str().to_owned()),
            path: self.root.clone(),
        }
    }

    fn units(&self, findings: &mut Vec<Finding>) -> Result<Vec<Unit>> {
        let mut units = Vec::new();
        if is_maildir(&self.root) {
            units.push(make_unit(FolderPath::inbox(), String::new(), self.root.clone()));
        }
        match self.layout {
            Layout::MaildirPlusPlus => {
                let dirs = subdirs(&self.root).map_err(|e| Error::io(Location::path(&self.root), e))?;
                for (n, p) in dirs {
                    if is_maildir_sub(&n) {
                        continue;
                    }
                    let folder = n.starts_with('.').then(|| name::decode_folder(&n, Layout::MaildirPlusPlus));
                    match folder.flatten() {
                        Some(f) if is_maildir(&p) => units.push(make_unit(f, n, p)),
                        _ => findings.push(Finding::info(
                            FindingKind::Ignored,
                            Location::path(&p),
                            "not a Maildir++ folder (no `.` prefix or no cur/ and new/); not read",
                        )),
                    }
                }
            }
            Layout::Fs => self.walk_fs(&self.root, "", 0, &mut units, findings),
        }
        Ok(units)
    }

    fn read_unit(&self, unit: &Unit, emit: Emit<'_>) -> Result<()> {
        let dir = unit.path.clone().unwrap_or_else(|| self.root.join(&unit.id));
        let folder_key = unit.folder.key();
        let loc = |p: &Path| Location::path(p).with_folder(folder_key.clone());
        let (kw, bad) = Keywords::load(&dir).map_err(|e| Error::io(loc(&dir), e))?;
        for line in bad {
            let f = Finding::warning(
                FindingKind::Malformed,
                loc(&dir.join(keywords::FILE)),
                format!("ignored a line that is not `<index> <keyword>`: {line:?}"),
            );
            if emit(Item::Finding(f)).is_break() {
                return Ok(());
            }
        }
        // Leftovers in tmp/ are not messages (a delivery that never finished).
        if let Ok(rd) = fs::read_dir(dir.join("tmp")) {
            let mut names: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
            names.sort();
            for p in names {
                let f = Finding::warning(
                    FindingKind::Leftover,
                    loc(&p),
                    "file in tmp/ is an unfinished delivery, not a message; not read",
                );
                if emit(Item::Finding(f)).is_break() {
                    return Ok(());
                }
            }
        }
        let mut files: Vec<(u64, String, PathBuf)> = Vec::new();
        for sub in ["cur", "new"] {
            let d = dir.join(sub);
            let rd = match fs::read_dir(&d) {
                Ok(rd) => rd,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io(loc(&d), e)),
            };
            for entry in rd {
                let entry = entry.map_err(|e| Error::io(loc(&d), e))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') {
                    continue;
                }
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    let f = Finding::info(
                        FindingKind::Ignored,
                        loc(&entry.path()),
                        "directory inside a maildir; not read",
                    );
                    if emit(Item::Finding(f)).is_break() {
                        return Ok(());
                    }
                    continue;
                }
                let time = parse_file_name(&name).and_then(|p| leading_time(p.unique)).unwrap_or(0);
                files.push((time, name, entry.path()));
            }
        }
        files.sort();
        for (_, name, path) in files {
            let item = read_message(&path, &name, &unit.folder, &kw, &folder_key);
            let mut flow = ControlFlow::Continue(());
            for it in item {
                flow = emit(it);
                if flow.is_break() {
                    break;
                }
            }
            if flow.is_break() {
                return Ok(());
            }
        }
        Ok(())
    }
}

fn read_file(path: &Path) -> std::io::Result<(Vec<u8>, Option<Timestamp>)> {
    let mut f = File::open(path)?;
    let meta = f.metadata()?;
    let received = meta.modified().ok().map(|t| chrono::DateTime::<chrono::Utc>::from(t).fixed_offset());
    let mut raw = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    f.read_to_end(&mut raw)?;
    Ok((raw, received))
}

/// Reads one message file: the message (or a skip) and any finding about it.
fn read_message(path: &Path, name: &str, folder: &FolderPath, kw: &Keywords, folder_key: &str) -> Vec<Item> {
    let loc = Location::path(path).with_folder(folder_key.to_owned());
    let (raw, received) = match read_file(path) {
        Ok(r) => r,
        Err(e) => {
            return vec![Item::Skipped(Finding::error(
                FindingKind::Unreadable,
                loc,
                format!("cannot read message file: {e}"),
            ))]
        }
    };
    let letters = parse_file_name(name).map_or("", |p| p.flags);
    let (flags, unknown) = flags_from_letters(letters, |c| kw.name(c).map(str::to_owned));
    let mut items = Vec::with_capacity(2);
    if !unknown.is_empty() {
        items.push(Item::Finding(Finding::info(
            FindingKind::Malformed,
            loc.clone(),
            format!("flag letters {unknown:?} are unknown (no dovecot-keywords entry); ignored"),
        )));
    }
    let envelope = Envelope { folder: folder.clone(), flags, received, sender: None, origin: loc };
    items.push(Item::Message(Message::new(raw, envelope)));
    items
}
