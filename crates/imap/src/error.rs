//! The errors of an IMAP session. Every one names the server, and where it
//! matters the folder, so a report points at the place to look.

use std::io;

/// What stopped an IMAP operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImapError {
    /// The destination URL is not `imap[s]://USER@HOST[:PORT]`.
    #[error("bad IMAP URL {url:?}: {why}")]
    Url { url: String, why: String },
    /// Connecting, TLS or a read/write on the connection failed.
    #[error("{server}: {what}: {source}")]
    Io {
        server: String,
        what: String,
        #[source]
        source: io::Error,
    },
    /// The server said nothing for longer than the timeout.
    #[error("{server}: no answer to {what} within {secs} s")]
    Timeout { server: String, what: String, secs: u64 },
    /// The server closed the connection (BYE or EOF).
    #[error("{server}: connection closed by the server{}", .why.as_deref().map(|w| format!(": {w}")).unwrap_or_default())]
    Closed { server: String, why: Option<String> },
    /// The server sent something that is not IMAP.
    #[error("{server}: cannot parse the server's answer: {snippet:?}")]
    Protocol { server: String, snippet: String },
    /// TLS could not be set up (bad CA file, no roots, bad host name).
    #[error("{server}: TLS: {why}")]
    Tls { server: String, why: String },
    /// The server refused our credentials.
    #[error("{server}: authentication as {user} failed: {why}")]
    Auth { server: String, user: String, why: String },
    /// The credentials could not be obtained (password file, token command).
    #[error("credentials: {0}")]
    Credentials(String),
    /// A command the run needs was refused (NO/BAD).
    #[error("{server}: {command} refused: {why}")]
    Refused { server: String, command: String, why: String },
    /// The journal (SQLite) failed.
    #[error("journal {path}: {source}")]
    Journal {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    /// The folder map file is unreadable or malformed.
    #[error("folder map {path}: {why}")]
    FolderMap { path: String, why: String },
    /// A worker thread or task died (a bug): the run stops.
    #[error("internal error: {0}")]
    Internal(String),
    /// Reading the source failed beyond recovery.
    #[error(transparent)]
    Source(#[from] mailshift_model::Error),
}

impl ImapError {
    /// Whether reconnecting may help: network trouble, timeouts, a server
    /// that hung up (Microsoft 365 disconnects after throttling).
    pub fn is_transient(&self) -> bool {
        matches!(self, ImapError::Io { .. } | ImapError::Timeout { .. } | ImapError::Closed { .. })
    }
}

/// The result type of this crate.
pub type Result<T, E = ImapError> = std::result::Result<T, E>;
