//! The two roles a store can play: [`Source`] and [`Sink`].

use std::ops::ControlFlow;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::{Finding, FolderPath, Message, Result};

/// What a source is, for `inspect` and reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceInfo {
    /// `mbox`, `maildir`, `eml`, `pst`, `imap`, ...
    pub format: String,
    /// The variant detected or forced: `mboxrd`, `maildir++`, `unicode`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// The path (or URL) it was opened from.
    pub path: PathBuf,
}

/// A unit of work: one folder (or one file holding one folder) that can be
/// read on its own, in parallel with the others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unit {
    /// The folder its messages belong to.
    pub folder: FolderPath,
    /// The source's own locator: a file path, a PST node id, ...
    pub id: String,
    /// The file behind it, where there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// Its size in bytes, for progress and scheduling (largest first).
    pub bytes: u64,
}

/// What a source emits while it reads a unit.
#[derive(Debug)]
pub enum Item {
    /// A message read.
    Message(Message),
    /// A message read but not passed on, with the reason (deleted, pseudo
    /// message, unreadable item). Counts as read and skipped.
    Skipped(Finding),
    /// Something worth reporting that is not a message (garbage bytes, a
    /// lying Content-Length).
    Finding(Finding),
}

/// The callback a source calls for each [`Item`]; `Break` asks it to stop.
pub type Emit<'a> = &'a mut dyn FnMut(Item) -> ControlFlow<()>;

/// A store messages are read from. Readers stream: memory is bounded by the
/// largest single message, not by the store.
pub trait Source: Send + Sync {
    /// Which format and variant this is.
    fn info(&self) -> SourceInfo;

    /// Lists the units of work, in a stable order. Things found while
    /// listing (ignored files, odd names) go into `findings`.
    fn units(&self, findings: &mut Vec<Finding>) -> Result<Vec<Unit>>;

    /// Reads one unit, calling `emit` for every item in store order. An
    /// error is returned only when the unit cannot be read on at all; damage
    /// inside it is emitted as findings and reading goes on.
    fn read_unit(&self, unit: &Unit, emit: Emit<'_>) -> Result<()>;
}

/// What a [`FolderWriter`] did with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Written now.
    Written,
    /// Already in the destination, written by an earlier run of the same
    /// job (so a re-run after a crash adds no duplicates).
    AlreadyPresent,
}

/// A store messages are written to.
pub trait Sink: Send + Sync {
    /// A short description for reports: `maildir++ at /path`.
    fn describe(&self) -> String;

    /// Opens one folder for writing. The pipeline opens each folder at most
    /// once at a time and writes its messages in source order.
    fn open_folder(&self, folder: &FolderPath) -> Result<Box<dyn FolderWriter + '_>>;

    /// Makes everything committed durable under its final name. A sink may
    /// defer the durability of committed folders to this call (the maildir
    /// sink `convert` uses does: one barrier for the run instead of one
    /// per folder), so a run counts messages as written only once it
    /// returned `Ok`. Called once at the end of a run, after every folder
    /// writer was committed and dropped, and also after a cancel (Ctrl-C),
    /// so that what was committed is kept. After the target failed (disk
    /// full, I/O error) it is not called: what a deferring sink still holds
    /// is then lost with the process, never under a final name
    /// half-written, and a re-run writes it.
    fn finish(&self) -> Result<()> {
        Ok(())
    }
}

/// Writes the messages of one folder.
pub trait FolderWriter: Send {
    /// Writes one message. It need not be durable until [`Self::commit`].
    fn write(&mut self, message: &Message) -> Result<WriteOutcome>;

    /// Whether [`Self::write`] computes [`Message::exact_hash`] (to name its
    /// files): the pipeline then computes the hash on its reading thread and
    /// calls [`Self::write_hashed`], which takes the hashing off the writing
    /// thread, the busier of the two.
    fn uses_exact_hash(&self) -> bool {
        false
    }

    /// [`Self::write`] given the message's [`Message::exact_hash`], computed
    /// by the caller.
    fn write_hashed(&mut self, message: &Message, exact: crate::ExactHash) -> Result<WriteOutcome> {
        let _ = exact;
        self.write(message)
    }

    /// Ends the folder's writing: every message written so far is durable
    /// under its final name when this returns, or, for a sink that defers
    /// durability to the end of the run, when [`Sink::finish`] returns
    /// (until then such a message may have no name at all). Either way no
    /// message is ever under its final name before its bytes are durable.
    fn commit(&mut self) -> Result<()>;

    /// Takes what the writer noticed but could not act on (a keyword the
    /// format cannot hold, flags a format has no place for, leftovers of an
    /// interrupted run it cleaned up). The pipeline calls it after `commit`.
    fn take_findings(&mut self) -> Vec<Finding> {
        Vec::new()
    }
}
