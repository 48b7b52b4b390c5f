//! Maildir and Maildir++ for mailshift: reading both layouts and crash-safe,
//! re-runnable writing.
//!
//! A maildir folder is a directory with `cur/`, `new/` and `tmp/`; each
//! message is one file (<https://cr.yp.to/proto/maildir.html>). Two ways of
//! nesting folders are handled ([`Layout`]): Maildir++ (Courier, Dovecot's
//! default: the inbox is the root, `.A.B` directories for the rest, each with
//! a `maildirfolder` file) and Dovecot's `LAYOUT=fs` (nested directories).
//! Folder and file names are in [`name`], keyword letters in [`keywords`].
//!
//! - [`MaildirSource`]: one unit per folder, messages in a stable order,
//!   flags and keywords from the file names, the received date from the
//!   file's mtime.
//! - [`MaildirSink`]: writes every message to an unnamed file (or to `tmp/`
//!   where the file system refuses those), stages it in a
//!   [`mailshift_model::durable::BackgroundBatch`] (one `syncfs` per batch,
//!   then links or renames into `cur/` and makes the names durable) and names
//!   it deterministically, so that a run killed at any point and started
//!   again ends with exactly one copy of every message.
//!   [`MaildirSink::create_deferred`] defers that durability to
//!   [`mailshift_model::Sink::finish`], for one barrier per run instead of
//!   per folder. See [`mod@write`] for the choices made (why `cur/`, the
//!   name scheme, mtimes, deferral).
//!
//! ```no_run
//! use mailshift_maildir::{Layout, MaildirSink, MaildirWriteOptions};
//! use mailshift_model::{Envelope, FolderWriter, Message, Sink};
//! let sink = MaildirSink::create(
//!     "/tmp/Maildir".as_ref(),
//!     MaildirWriteOptions { layout: Layout::MaildirPlusPlus, utf8_names: false },
//! )?;
//! let mut inbox = sink.open_folder(&mailshift_model::FolderPath::inbox())?;
//! inbox.write(&Message::new(b"Subject: hi\n\nbody\n".to_vec(), Envelope::default()))?;
//! inbox.commit()?;
//! # Ok::<(), mailshift_model::Error>(())
//! ```

use std::fmt;
use std::path::Path;
use std::str::FromStr;

pub mod keywords;
pub mod mutf7;
pub mod name;
mod read;
pub mod write;

pub use read::MaildirSource;
pub use write::MaildirSink;

/// How folders nest on disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Layout {
    /// Courier's and Dovecot's default: `.A.B` directories under the root.
    #[default]
    MaildirPlusPlus,
    /// Dovecot's `LAYOUT=fs`: nested directories `A/B`.
    Fs,
}

impl Layout {
    /// The name used on the command line and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Layout::MaildirPlusPlus => "maildir++",
            Layout::Fs => "fs",
        }
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing a [`Layout`] name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown maildir layout {0:?} (expected maildir++ or fs)")]
pub struct UnknownLayout(pub String);

impl FromStr for Layout {
    type Err = UnknownLayout;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "maildir++" | "maildirplusplus" | "maildir" => Ok(Layout::MaildirPlusPlus),
            "fs" => Ok(Layout::Fs),
            _ => Err(UnknownLayout(s.to_owned())),
        }
    }
}

/// How a [`MaildirSink`] writes.
#[derive(Debug, Clone, Default)]
pub struct MaildirWriteOptions {
    pub layout: Layout,
    /// Folder names in UTF-8 on disk (Dovecot's `:UTF-8` option) instead of
    /// modified UTF-7.
    pub utf8_names: bool,
}

fn is_dir(p: &Path) -> bool {
    p.is_dir()
}

/// Whether `dir` is a maildir folder itself (has `cur/` and `new/`).
pub(crate) fn is_maildir(dir: &Path) -> bool {
    is_dir(&dir.join("cur")) && is_dir(&dir.join("new"))
}

/// Whether `path` looks like a maildir: a directory with `cur/` and `new/`
/// (`tmp/` is often missing from copies), or one holding Maildir++ `.Folder`
/// subfolders, or fs-layout subfolders one or two levels down.
pub fn sniff(path: &Path) -> bool {
    if !is_dir(path) {
        return false;
    }
    if is_maildir(path) {
        return true;
    }
    let Ok(entries) = std::fs::read_dir(path) else { return false };
    entries.flatten().filter(|e| e.file_type().is_ok_and(|t| t.is_dir())).take(1000).any(|e| {
        let p = e.path();
        is_maildir(&p)
            || std::fs::read_dir(&p).is_ok_and(|rd| {
                rd.flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .take(1000)
                    .any(|e| is_maildir(&e.path()))
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_names() {
        assert_eq!("maildir++".parse::<Layout>().unwrap(), Layout::MaildirPlusPlus);
        assert_eq!("FS".parse::<Layout>().unwrap(), Layout::Fs);
        assert!("mbox".parse::<Layout>().is_err());
        assert_eq!(Layout::Fs.to_string(), "fs");
    }

    #[test]
    fn sniffs_maildirs_only() {
        let d = tempfile::tempdir().unwrap();
        assert!(!sniff(d.path()));
        std::fs::create_dir_all(d.path().join("A/B/cur")).unwrap();
        std::fs::create_dir_all(d.path().join("A/B/new")).unwrap();
        assert!(sniff(d.path()));
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join(".Sent/cur")).unwrap();
        std::fs::create_dir_all(d.path().join(".Sent/new")).unwrap();
        assert!(sniff(d.path()));
        std::fs::write(d.path().join("file"), b"x").unwrap();
        assert!(!sniff(&d.path().join("file")));
    }
}
