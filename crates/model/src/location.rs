use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Where something is: the file, the folder inside the store, the message and
/// the byte offset. Used by [`crate::Error`], [`crate::Finding`] and as a
/// message's origin, so that every report names the exact place to look.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    /// The file or directory on disk (or a URL for a server).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// The folder inside the store, as `a/b/c`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub folder: Option<String>,
    /// The message: its 1-based index in the unit, PST node id, IMAP UID, file name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    /// Byte offset inside `path`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
}

impl Location {
    /// A location that names only a path.
    pub fn path(path: impl Into<PathBuf>) -> Self {
        Location { path: Some(path.into()), ..Location::default() }
    }

    #[must_use]
    pub fn with_folder(mut self, folder: impl Into<String>) -> Self {
        self.folder = Some(folder.into());
        self
    }

    #[must_use]
    pub fn with_item(mut self, item: impl Into<String>) -> Self {
        self.item = Some(item.into());
        self
    }

    #[must_use]
    pub fn with_offset(mut self, offset: u64) -> Self {
        self.offset = Some(offset);
        self
    }
}

impl fmt::Display for Location {
    /// `path:offset [folder] #item`, leaving out what is unknown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut wrote = false;
        if let Some(p) = &self.path {
            write!(f, "{}", p.display())?;
            wrote = true;
        }
        if let Some(o) = self.offset {
            write!(f, "{}byte {o}", if wrote { ": " } else { "" })?;
            wrote = true;
        }
        if let Some(folder) = &self.folder {
            write!(f, "{}folder {folder:?}", if wrote { ", " } else { "" })?;
            wrote = true;
        }
        if let Some(i) = &self.item {
            write!(f, "{}message {i}", if wrote { ", " } else { "" })?;
            wrote = true;
        }
        if !wrote {
            f.write_str("(unknown location)")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_every_known_part() {
        let l = Location::path("/m/inbox").with_offset(42).with_folder("a/b").with_item("7");
        assert_eq!(l.to_string(), "/m/inbox: byte 42, folder \"a/b\", message 7");
        assert_eq!(Location::default().to_string(), "(unknown location)");
    }
}
