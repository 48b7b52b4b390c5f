//! EML folder trees for mailshift: one `.eml` file per message, one
//! directory per folder, read and written crash-safely.
//!
//! The layout is what mail clients' "save as" and many export tools
//! produce: a message is an RFC 5322 file, its folder is the directory it is
//! in. Names follow [`name`]: the inbox is `INBOX/`, other folders are
//! nested directories with UTF-8 names, escaped like Dovecot's fs layout so
//! that a `/` or a leading `.` in a folder name survives and nothing leaves
//! the target. Messages written by mailshift are named
//! `<received seconds>.<20 hex digits of the exact hash>.<n>.eml`, which
//! makes a re-run after a crash add nothing twice.
//!
//! What EML cannot hold: **flags and keywords** have no place in a plain
//! `.eml` file (adding headers would change the message's bytes). The
//! writer keeps the bytes exact, counts the messages whose flags are lost
//! and reports them per folder ([`mailshift_model::FolderWriter::take_findings`]);
//! the reader returns no flags. The **received date** is kept as the file's
//! mtime. Names are not made safe for Windows file systems.
//!
//! - [`EmlSource`]: one unit per directory (the root's own `.eml` files are
//!   the inbox), messages sorted by name.
//! - [`EmlSink`]: temp file, one `syncfs` per batch, rename, directory sync.

use std::path::Path;

pub mod name;
mod read;
mod write;

pub use read::EmlSource;
pub use write::{EmlFolderWriter, EmlSink};

/// Whether a file name is an `.eml` message (any case).
pub(crate) fn is_eml(name: &str) -> bool {
    !name.starts_with('.')
        && name.len() > 4
        && name.get(name.len() - 4..).is_some_and(|ext| ext.eq_ignore_ascii_case(".eml"))
}

/// Whether `path` is an EML tree: a directory (not a maildir) holding
/// `.eml` files, directly or up to three levels down, or one `.eml` file.
pub fn sniff(path: &Path) -> bool {
    if path.is_file() {
        return path.file_name().and_then(|n| n.to_str()).is_some_and(is_eml);
    }
    if !path.is_dir() || (path.join("cur").is_dir() && path.join("new").is_dir()) {
        return false;
    }
    fn any_eml(dir: &Path, depth: usize, budget: &mut usize) -> bool {
        let Ok(rd) = std::fs::read_dir(dir) else { return false };
        for e in rd.flatten() {
            if *budget == 0 {
                return false;
            }
            *budget -= 1;
            let name = e.file_name();
            let name = name.to_string_lossy();
            match e.file_type() {
                Ok(t) if t.is_file() && is_eml(&name) => return true,
                Ok(t)
                    if t.is_dir()
                        && depth < 3
                        && !name.starts_with('.')
                        && any_eml(&e.path(), depth + 1, budget) =>
                {
                    return true;
                }
                _ => {}
            }
        }
        false
    }
    any_eml(path, 0, &mut 10_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eml_names() {
        assert!(is_eml("a.eml") && is_eml("B.EML"));
        assert!(!is_eml(".eml") && !is_eml(".x.eml") && !is_eml("a.emlx") && !is_eml("é"));
    }

    #[test]
    fn sniffs_trees_of_eml_files() {
        let d = tempfile::tempdir().unwrap();
        assert!(!sniff(d.path()));
        std::fs::create_dir_all(d.path().join("Work/2024")).unwrap();
        std::fs::write(d.path().join("Work/2024/m.eml"), b"Subject: x\n\n").unwrap();
        assert!(sniff(d.path()));
        assert!(sniff(&d.path().join("Work/2024/m.eml")));
        std::fs::create_dir_all(d.path().join("cur")).unwrap();
        std::fs::create_dir_all(d.path().join("new")).unwrap();
        assert!(!sniff(d.path()), "a maildir is not an EML tree");
    }
}
