use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Location;

/// How serious a [`Finding`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Worth knowing, nothing was lost (a bookkeeping pseudo-message skipped).
    Info,
    /// Something was recovered or skipped by policy; check it.
    Warning,
    /// Something could not be read or written.
    Error,
}

/// What kind of thing a [`Finding`] reports; stable names for the JSON report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FindingKind {
    /// Bytes that are not part of any message (garbage before the first separator).
    Garbage,
    /// A message or structure was damaged; what could be recovered was.
    Malformed,
    /// The data ends early.
    Truncated,
    /// A Content-Length header that does not land on a message boundary was ignored.
    BadContentLength,
    /// A store-internal pseudo-message (UW-IMAP "FOLDER INTERNAL DATA").
    PseudoMessage,
    /// A message marked deleted/expunged in the source, skipped by policy.
    Deleted,
    /// An exact duplicate of a message already written to the same folder.
    Duplicate,
    /// An item that is not mail (contact, appointment, ...) in a mail folder.
    NotMail,
    /// A feature or item type that is not handled.
    Unsupported,
    /// A message larger than the destination accepts.
    TooLarge,
    /// A file or message could not be read.
    Unreadable,
    /// A file or message could not be written.
    Unwritable,
    /// A folder or file name that had to be changed or was refused.
    Name,
    /// An empty file or folder.
    Empty,
    /// A file in a store that is not part of it (ignored).
    Ignored,
    /// A date that could not be parsed or was missing.
    Date,
    /// A message present in one store and not in the other.
    Missing,
    /// A message present in the other store and not in this one.
    Extra,
    /// Two stores disagree on flags, dates or bytes of the same message.
    Mismatch,
    /// Something a previous, interrupted run left behind was cleaned up.
    Leftover,
    /// The store is protected or encrypted (and was read anyway).
    Protected,
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The serde name is the stable, documented name.
        let s = serde_json::to_value(self).ok().and_then(|v| v.as_str().map(str::to_owned));
        f.write_str(s.as_deref().unwrap_or("unknown"))
    }
}

/// One thing that went wrong or was skipped: level, kind, where, and a human
/// sentence. Parsers report findings instead of failing, and every run's
/// [`crate::Report`] lists them all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub level: Level,
    pub kind: FindingKind,
    pub location: Location,
    pub message: String,
}

impl Finding {
    pub fn new(level: Level, kind: FindingKind, location: Location, message: impl Into<String>) -> Self {
        Finding { level, kind, location, message: message.into() }
    }

    pub fn info(kind: FindingKind, location: Location, message: impl Into<String>) -> Self {
        Self::new(Level::Info, kind, location, message)
    }

    pub fn warning(kind: FindingKind, location: Location, message: impl Into<String>) -> Self {
        Self::new(Level::Warning, kind, location, message)
    }

    pub fn error(kind: FindingKind, location: Location, message: impl Into<String>) -> Self {
        Self::new(Level::Error, kind, location, message)
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.level {
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Error => "error",
        };
        write!(f, "{level} [{}] {}: {}", self.kind, self.location, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_are_snake_case() {
        assert_eq!(FindingKind::BadContentLength.to_string(), "bad_content_length");
        let f = Finding::warning(FindingKind::Deleted, Location::path("x"), "expunged");
        let json = serde_json::to_string(&f).unwrap();
        assert!(json.contains(r#""level":"warning""#), "{json}");
        assert!(json.contains(r#""kind":"deleted""#), "{json}");
    }
}
