use std::fmt;
use std::io;

use crate::Location;

/// The result type of every store operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error that stopped an operation on a store (as opposed to a
/// [`crate::Finding`], which is recorded and the run goes on).
///
/// It always carries a [`Location`], so the message names the file, folder,
/// message and byte offset.
#[derive(Debug, thiserror::Error)]
#[error("{location}: {kind}")]
pub struct Error {
    pub location: Location,
    #[source]
    pub kind: ErrorKind,
}

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The operating system refused a read or write.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The data is not in the format it claims to be, beyond recovery.
    #[error("{0}")]
    Format(String),
    /// The input is valid but uses something mailshift does not handle.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A name or path would escape the target or is otherwise refused.
    #[error("refused: {0}")]
    Refused(String),
    /// The operation was cancelled (for example a broken pipe or Ctrl-C).
    #[error("cancelled")]
    Cancelled,
}

impl Error {
    pub fn new(location: Location, kind: impl Into<ErrorKind>) -> Self {
        Error { location, kind: kind.into() }
    }

    /// An I/O error at a location.
    pub fn io(location: Location, err: io::Error) -> Self {
        Error { location, kind: ErrorKind::Io(err) }
    }

    /// A format error at a location, with a human sentence.
    pub fn format(location: Location, what: impl fmt::Display) -> Self {
        Error { location, kind: ErrorKind::Format(what.to_string()) }
    }

    /// A refusal at a location (unsafe name, existing file, ...).
    pub fn refused(location: Location, what: impl fmt::Display) -> Self {
        Error { location, kind: ErrorKind::Refused(what.to_string()) }
    }

    /// An unsupported feature at a location.
    pub fn unsupported(location: Location, what: impl fmt::Display) -> Self {
        Error { location, kind: ErrorKind::Unsupported(what.to_string()) }
    }
}
