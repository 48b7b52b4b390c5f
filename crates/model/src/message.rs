use serde::{Deserialize, Serialize};

use crate::{Fingerprint, Flags, FolderPath, Location};

/// A point in time with the UTC offset it was recorded in (the IMAP
/// INTERNALDATE keeps the offset, so we do too).
pub type Timestamp = chrono::DateTime<chrono::FixedOffset>;

/// Everything about a message that is not its bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The folder the message lives in.
    pub folder: FolderPath,
    /// Seen, answered, flagged, ... and keywords.
    pub flags: Flags,
    /// When the message arrived (the IMAP INTERNALDATE): the mbox From_
    /// line, PST delivery time, maildir mtime or IMAP INTERNALDATE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received: Option<Timestamp>,
    /// The envelope sender where the store records one (mbox From_ line).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
    /// Where the message was read from: file and byte offset, node id, UID.
    #[serde(default)]
    pub origin: Location,
}

/// One message: its exact RFC 5322 bytes plus its [`Envelope`].
///
/// `raw` is the message exactly as found in the source (less the store's own
/// bookkeeping, such as an mbox's From_ line and escaping). Converters never
/// re-encode it, which makes them lossless by construction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub raw: Vec<u8>,
    pub envelope: Envelope,
}

impl Message {
    pub fn new(raw: Vec<u8>, envelope: Envelope) -> Self {
        Message { raw, envelope }
    }

    /// The message's size in bytes, as stored.
    pub fn size(&self) -> u64 {
        self.raw.len() as u64
    }

    /// Both fingerprints of the message's bytes.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of(&self.raw)
    }

    /// The exact hash alone: what writers name files by and `--dedupe`
    /// compares, without the header scan the logical key needs.
    pub fn exact_hash(&self) -> crate::ExactHash {
        crate::fingerprint::exact_hash(&self.raw)
    }

    /// The logical key alone: what `compare --logical` matches on, from the
    /// header only (no pass over the body).
    pub fn logical_key(&self) -> crate::LogicalKey {
        crate::fingerprint::logical_key(&self.raw)
    }
}
