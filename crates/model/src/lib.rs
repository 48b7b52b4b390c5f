//! The one data model that every mailshift reader and writer shares.
//!
//! A store is a [`Source`] of messages or a [`Sink`] for them. Every message
//! travels as a [`Message`]: its exact RFC 5322 bytes plus an [`Envelope`]
//! (folder, flags, received date, origin). Conversion, backup, upload and
//! verification are all "source → sink, then prove it" with a [`Report`]
//! that accounts for every message read.
//!
//! ```
//! use mailshift_model::{Envelope, Flags, FolderPath, Message};
//! let msg = Message::new(
//!     b"Subject: hi\r\n\r\nbody\r\n".to_vec(),
//!     Envelope { folder: FolderPath::inbox(), flags: Flags::SEEN, ..Envelope::default() },
//! );
//! assert!(msg.envelope.flags.seen);
//! assert_eq!(msg.fingerprint().exact, mailshift_model::Fingerprint::of(b"Subject: hi\n\nbody\n").exact);
//! ```

pub mod durable;
mod error;
mod finding;
mod fingerprint;
mod flags;
mod folder;
pub mod headers;
mod location;
mod message;
mod progress;
mod report;
mod store;

pub use error::{Error, ErrorKind, Result};
pub use finding::{Finding, FindingKind, Level};
pub use fingerprint::{ExactHash, Fingerprint, LogicalKey};
pub use flags::Flags;
pub use folder::{FolderPath, Role};
pub use location::Location;
pub use message::{Envelope, Message, Timestamp};
pub use progress::{NoProgress, Progress};
pub use report::{BalanceError, FolderStats, Report};
pub use store::{Emit, FolderWriter, Item, Sink, Source, SourceInfo, Unit, WriteOutcome};
