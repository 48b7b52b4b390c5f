//! The manifest: JSON lines, one [`Record`] per line, tagged by `type`.
//!
//! Order: one `header`; then `entry`, `message` and `folder` records in the
//! order the entries appear in the tar; one `end` (the last line of the copy
//! inside the archive); beside the archive one more line, `archive`, with
//! the BLAKE3 and size of the whole `.tar.zst` file. Plain JSON lines so that
//! anyone can read it without mailshift (`jq`, `grep`).

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;
use std::path::{Path, PathBuf};

use mailshift_model::{Error, ExactHash, Flags, Location, LogicalKey, Result, SourceInfo, Timestamp};
use serde::{Deserialize, Serialize};

/// The `format` of every header.
pub const FORMAT: &str = "mailshift-archive";
/// The manifest version this crate writes and reads.
pub const VERSION: u32 = 1;

/// One line of the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    Header(Header),
    Entry(EntryRecord),
    Message(MessageRecord),
    Folder(FolderRecord),
    End(EndRecord),
    Archive(ArchiveRecord),
}

/// What the archive is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// Always [`FORMAT`].
    pub format: String,
    pub version: u32,
    /// `NAME`: the archive's top directory.
    pub name: String,
    /// When the backup started (RFC 3339).
    pub created: String,
    /// The program that wrote it (`mailshift 0.1.0`).
    pub tool: String,
    pub source: SourceInfo,
    /// The zstd level.
    pub level: i32,
    /// Whether `NAME/original/` holds the source files.
    pub original: bool,
    /// For an incremental backup: the manifest it builds on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<Parent>,
}

/// The backup an incremental one builds on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Parent {
    /// The parent's manifest file name (beside this one).
    pub manifest: String,
    /// The parent's archive hash, from its manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive_blake3: Option<String>,
}

/// A tar entry that is not a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryRecord {
    pub path: String,
    pub kind: EntryKind,
    pub size: u64,
    /// BLAKE3 of the entry's bytes (files only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blake3: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    File,
    Dir,
}

/// A message: a tar entry (path, size, BLAKE3 of its bytes) plus what
/// `compare` needs to prove it is the same message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRecord {
    pub path: String,
    pub size: u64,
    pub blake3: String,
    /// The folder key (`a/b`).
    pub folder: String,
    pub exact: ExactHash,
    pub logical: LogicalKey,
    /// The system flag letters (`DFPRST`).
    pub flags: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    /// The received date from the source, if it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received: Option<Timestamp>,
    /// The entry's mtime (seconds since 1970): the received date, else the
    /// Date: header, else the time of the backup.
    pub mtime: i64,
}

impl MessageRecord {
    /// The flags as the model holds them.
    pub fn flags(&self) -> Flags {
        let (mut flags, _) = mailshift_maildir::name::flags_from_letters(&self.flags, |_| None);
        for k in &self.keywords {
            flags.add_keyword(k);
        }
        flags
    }
}

/// A folder: its directory in the maildir and its keyword letters (so that
/// an incremental backup keeps the same letters and extracting a chain
/// with `tar` gives consistent flags).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FolderRecord {
    pub folder: String,
    /// The directory relative to the maildir (`""` for the inbox).
    pub dir: String,
    /// `(index, keyword)`: letter `a` is index 0.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<(usize, String)>,
    pub messages: u64,
}

/// The last record inside the archive: the counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndRecord {
    /// Entries listed (files and directories, not the manifest itself).
    pub entries: u64,
    pub messages: u64,
    /// Bytes of all files listed.
    pub bytes: u64,
    /// Messages left out because the parent backup holds them.
    #[serde(default)]
    pub unchanged: u64,
}

/// The last line beside the archive: the whole file's hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveRecord {
    /// The archive's file name.
    pub file: String,
    pub size: u64,
    pub blake3: String,
}

/// A manifest read back.
#[derive(Debug, Clone, Default)]
pub struct Manifest {
    pub header: Option<Header>,
    /// Entry and message records in archive order.
    pub records: Vec<Record>,
    pub folders: Vec<FolderRecord>,
    pub end: Option<EndRecord>,
    pub archive: Option<ArchiveRecord>,
    /// Lines that are not records (1-based line number, text).
    pub bad_lines: Vec<(u64, String)>,
}

impl Manifest {
    /// Parses manifest text; bad lines are kept in [`Manifest::bad_lines`],
    /// never a panic.
    pub fn parse(reader: impl BufRead) -> std::io::Result<Self> {
        let mut m = Manifest::default();
        let mut n = 0u64;
        for line in reader.split(b'\n') {
            let line = line?;
            n += 1;
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice::<Record>(&line) {
                Ok(r) => m.push(r),
                Err(e) => {
                    let text = String::from_utf8_lossy(&line);
                    let short: String = text.chars().take(120).collect();
                    m.bad_lines.push((n, format!("{e}: {short}")));
                }
            }
        }
        Ok(m)
    }

    /// Reads the manifest file at `path`.
    pub fn load(path: &Path) -> Result<Self> {
        let f = std::fs::File::open(path).map_err(|e| Error::io(Location::path(path), e))?;
        Self::parse(std::io::BufReader::new(f)).map_err(|e| Error::io(Location::path(path), e))
    }

    fn push(&mut self, r: Record) {
        match r {
            Record::Header(h) => self.header = Some(h),
            Record::End(e) => self.end = Some(e),
            Record::Archive(a) => self.archive = Some(a),
            Record::Folder(f) => self.folders.push(f),
            r @ (Record::Entry(_) | Record::Message(_)) => self.records.push(r),
        }
    }

    /// The message records.
    pub fn messages(&self) -> impl Iterator<Item = &MessageRecord> {
        self.records.iter().filter_map(|r| match r {
            Record::Message(m) => Some(m),
            _ => None,
        })
    }
}

/// Loads `path` and every manifest it builds on (its `parent`, found beside
/// it), oldest first.
pub fn load_chain(path: &Path) -> Result<Vec<(PathBuf, Manifest)>> {
    let mut chain = Vec::new();
    let mut next = Some(path.to_path_buf());
    while let Some(p) = next.take() {
        if chain.len() > 10_000 || chain.iter().any(|(q, _): &(PathBuf, Manifest)| q == &p) {
            return Err(Error::format(Location::path(&p), "the chain of parent manifests loops"));
        }
        let m = Manifest::load(&p)?;
        if m.header.is_none() {
            return Err(Error::format(Location::path(&p), "not a mailshift manifest (no header line)"));
        }
        if let Some(parent) = m.header.as_ref().and_then(|h| h.parent.as_ref()) {
            next = Some(p.with_file_name(&parent.manifest));
        }
        chain.push((p, m));
    }
    chain.reverse();
    Ok(chain)
}

/// What an incremental backup leaves out: how many copies of each message
/// (by folder and exact fingerprint) the chain holds, and the keyword
/// letters of each folder.
#[derive(Debug, Clone, Default)]
pub struct Known {
    pub messages: HashMap<(String, ExactHash), u32>,
    pub keywords: BTreeMap<String, Vec<(usize, String)>>,
}

impl Known {
    /// Everything the manifests of a chain hold.
    pub fn from_chain(chain: &[(PathBuf, Manifest)]) -> Self {
        let mut k = Known::default();
        for (_, m) in chain {
            for msg in m.messages() {
                *k.messages.entry((msg.folder.clone(), msg.exact)).or_insert(0) += 1;
            }
            for f in &m.folders {
                k.keywords.insert(f.folder.clone(), f.keywords.clone());
            }
        }
        k
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_lines_are_kept_not_fatal() {
        let text = b"{\"type\":\"entry\",\"path\":\"a/\",\"kind\":\"dir\",\"size\":0}\nnot json\n\n{\"type\":\"end\",\"entries\":1,\"messages\":0,\"bytes\":0}\n\xff\xfe";
        let m = Manifest::parse(&text[..]).unwrap();
        assert_eq!(m.records.len(), 1);
        assert_eq!(m.end.as_ref().map(|e| e.entries), Some(1));
        assert_eq!(m.bad_lines.len(), 2);
        assert_eq!(m.bad_lines[0].0, 2);
    }

    #[test]
    fn message_flags_round_trip() {
        let r = MessageRecord {
            path: "x".into(),
            size: 1,
            blake3: String::new(),
            folder: "INBOX".into(),
            exact: ExactHash([0; 32]),
            logical: LogicalKey("mid:a".into()),
            flags: "FPS".into(),
            keywords: vec!["$Junk".into()],
            received: None,
            mtime: 0,
        };
        let f = r.flags();
        assert!(f.flagged && f.forwarded && f.seen && !f.draft);
        assert!(f.keywords.contains("$Junk"));
        let line = serde_json::to_string(&Record::Message(r.clone())).unwrap();
        assert!(line.starts_with("{\"type\":\"message\""), "{line}");
        assert_eq!(serde_json::from_str::<Record>(&line).unwrap(), Record::Message(r));
    }
}
