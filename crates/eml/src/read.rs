//! Reading an EML tree: one unit per directory.

use std::fs::{self, File};
use std::io::Read;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use mailshift_model::{
    Emit, Envelope, Error, Finding, FindingKind, FolderPath, Item, Location, Message, Result, Source,
    SourceInfo, Unit,
};

use crate::{is_eml, name};

/// Deepest nesting followed.
const MAX_DEPTH: usize = 64;

/// An EML tree (or a single `.eml` file) opened for reading.
#[derive(Debug, Clone)]
pub struct EmlSource {
    root: PathBuf,
}

impl EmlSource {
    /// Opens the tree at `path` (a directory, or one `.eml` file read as the inbox).
    pub fn open(path: &Path) -> Result<Self> {
        if !path.exists() {
            return Err(Error::io(Location::path(path), std::io::ErrorKind::NotFound.into()));
        }
        Ok(EmlSource { root: path.to_path_buf() })
    }
}

struct Listing {
    emls: Vec<(u64, String, PathBuf)>,
    dirs: Vec<(String, PathBuf)>,
    others: Vec<PathBuf>,
}

fn list(dir: &Path) -> std::io::Result<Listing> {
    let mut l = Listing { emls: Vec::new(), dirs: Vec::new(), others: Vec::new() };
    for e in fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        let t = e.file_type()?;
        if t.is_dir() {
            l.dirs.push((name, e.path()));
        } else if is_eml(&name) {
            l.emls.push((name::leading_number(&name), name, e.path()));
        } else {
            l.others.push(e.path());
        }
    }
    l.emls.sort();
    l.dirs.sort();
    l.others.sort();
    Ok(l)
}

fn unit(folder: FolderPath, id: String, path: PathBuf, l: &Listing) -> Unit {
    let bytes = l.emls.iter().filter_map(|(_, _, p)| fs::metadata(p).ok()).map(|m| m.len()).sum();
    Unit { folder, id, path: Some(path), bytes }
}

fn walk(dir: &Path, rel: &str, depth: usize, units: &mut Vec<Unit>, findings: &mut Vec<Finding>) {
    let l = match list(dir) {
        Ok(l) => l,
        Err(e) => {
            findings.push(Finding::error(FindingKind::Unreadable, Location::path(dir), e.to_string()));
            return;
        }
    };
    for (n, p) in &l.dirs {
        if n.starts_with('.') {
            findings.push(Finding::info(
                FindingKind::Ignored,
                Location::path(p),
                "hidden directory; not read",
            ));
            continue;
        }
        let child = if rel.is_empty() { n.clone() } else { format!("{rel}/{n}") };
        match (name::decode_folder(&child), list(p)) {
            (Some(folder), Ok(cl)) => units.push(unit(folder, child.clone(), p.clone(), &cl)),
            (None, _) => {
                findings.push(Finding::warning(
                    FindingKind::Name,
                    Location::path(p),
                    "not a folder name; not read",
                ));
                continue;
            }
            (_, Err(e)) => {
                findings.push(Finding::error(FindingKind::Unreadable, Location::path(p), e.to_string()));
                continue;
            }
        }
        if depth + 1 < MAX_DEPTH {
            walk(p, &child, depth + 1, units, findings);
        }
    }
}

impl Source for EmlSource {
    fn info(&self) -> SourceInfo {
        SourceInfo { format: "eml".to_owned(), variant: None, path: self.root.clone() }
    }

    fn units(&self, findings: &mut Vec<Finding>) -> Result<Vec<Unit>> {
        if self.root.is_file() {
            let bytes = fs::metadata(&self.root).map_err(|e| Error::io(Location::path(&self.root), e))?.len();
            return Ok(vec![Unit {
                folder: FolderPath::inbox(),
                id: String::new(),
                path: Some(self.root.clone()),
                bytes,
            }]);
        }
        let l = list(&self.root).map_err(|e| Error::io(Location::path(&self.root), e))?;
        let mut units = Vec::new();
        if !l.emls.is_empty() || l.dirs.is_empty() {
            units.push(unit(FolderPath::inbox(), String::new(), self.root.clone(), &l));
        }
        walk(&self.root, "", 0, &mut units, findings);
        Ok(units)
    }

    fn read_unit(&self, unit: &Unit, emit: Emit<'_>) -> Result<()> {
        let path = unit.path.clone().unwrap_or_else(|| self.root.join(&unit.id));
        let key = unit.folder.key();
        let loc = |p: &Path| Location::path(p).with_folder(key.clone());
        if path.is_file() {
            let _ = emit(read_message(&path, &unit.folder, loc(&path)));
            return Ok(());
        }
        let l = list(&path).map_err(|e| Error::io(loc(&path), e))?;
        for p in &l.others {
            let hidden_temp =
                p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with(name::TEMP_SUFFIX));
            let f = if hidden_temp {
                Finding::warning(
                    FindingKind::Leftover,
                    loc(p),
                    "temporary file of an interrupted run; not read",
                )
            } else {
                Finding::info(FindingKind::Ignored, loc(p), "not an .eml file; not read")
            };
            if emit(Item::Finding(f)).is_break() {
                return Ok(());
            }
        }
        for (_, _, p) in &l.emls {
            if let ControlFlow::Break(()) = emit(read_message(p, &unit.folder, loc(p))) {
                return Ok(());
            }
        }
        Ok(())
    }
}

fn read_message(path: &Path, folder: &FolderPath, loc: Location) -> Item {
    let read = || -> std::io::Result<_> {
        let mut f = File::open(path)?;
        let meta = f.metadata()?;
        let received = meta.modified().ok().map(|t| chrono::DateTime::<chrono::Utc>::from(t).fixed_offset());
        let mut raw = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
        f.read_to_end(&mut raw)?;
        Ok((raw, received))
    };
    match read() {
        Ok((raw, received)) => Item::Message(Message::new(
            raw,
            Envelope { folder: folder.clone(), received, origin: loc, ..Envelope::default() },
        )),
        Err(e) => Item::Skipped(Finding::error(
            FindingKind::Unreadable,
            loc,
            format!("cannot read message file: {e}"),
        )),
    }
}
