//! The manifest: JSON lines, one [`Record`] per line, tagged by `type`.
//!
//! Order: one `header`; then `entry`, `message` and `folder` records in the
//! order the entries appear in the tar; one `end` (the last line of the copy
//! inside the archive); beside the archive one more line, `archive`, with
//! the BLAKE3 and size of the whole `.tar.zst` file. Plain JSON lines so that
//! anyone can read it without mailshift (`jq`, `grep`).
//!
//! Version 2 manifests are *snapshots*: every message present at backup
//! time is listed, also those whose bytes an earlier archive of the chain
//! holds (`stored_in`); so the newest manifest of a chain alone says what
//! the mailbox was, deletions, flag changes and moves included. Version 1
//! manifests (no `snapshot` in the header) list only the messages stored in
//! their own archive and are still read.
//!
//! An encrypted archive (`NAME.tar.zst.age`) has its full manifest beside it
//! encrypted (`NAME.manifest.jsonl.age`) and in clear only a `sealed` and an
//! `archive` line in `NAME.manifest.jsonl` (see [`crate::crypt`]).

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;
use std::path::{Path, PathBuf};

use crate::crypt::Identities;
use mailshift_model::{Error, ExactHash, Flags, Location, LogicalKey, Result, SourceInfo, Timestamp};
use serde::{Deserialize, Serialize};

/// The `format` of every header.
pub const FORMAT: &str = "mailshift-archive";
/// The manifest version this crate writes and reads.
pub const VERSION: u32 = 2;

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
    Sealed(SealedRecord),
}

/// The clear first line of an encrypted archive's manifest: only what the
/// file server shows anyway (names, time, sizes), nothing about the mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedRecord {
    /// Always [`FORMAT`].
    pub format: String,
    pub version: u32,
    pub name: String,
    pub created: String,
    pub tool: String,
    /// `age`.
    pub encryption: String,
    /// The encrypted full manifest's file name (beside this one), size and
    /// BLAKE3 (of the encrypted bytes: checked without a key).
    pub manifest: String,
    pub manifest_size: u64,
    pub manifest_blake3: String,
    /// The parent's manifest file name, for an incremental backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
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
    /// Every message present at backup time is listed (version 2): those
    /// an earlier archive holds carry `stored_in`.
    #[serde(default)]
    pub snapshot: bool,
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
    /// Not in this archive: the bytes are the entry of an earlier archive
    /// of the chain (the same message, maybe since moved or re-flagged).
    /// `path` is then where the message belongs in this snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stored_in: Option<StoredIn>,
}

/// Where the bytes of a message listed but not stored are.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StoredIn {
    /// The manifest file name of the archive that holds the entry.
    pub manifest: String,
    /// The entry's path in that archive.
    pub path: String,
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
    /// Only in the clear manifest of an encrypted archive.
    pub sealed: Option<SealedRecord>,
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
            Record::Sealed(s) => self.sealed = Some(s),
            Record::Folder(f) => self.folders.push(f),
            r @ (Record::Entry(_) | Record::Message(_)) => self.records.push(r),
        }
    }

    /// The message records (those stored here and those listed with
    /// `stored_in`).
    pub fn messages(&self) -> impl Iterator<Item = &MessageRecord> {
        self.records.iter().filter_map(|r| match r {
            Record::Message(m) => Some(m),
            _ => None,
        })
    }

    /// The messages whose bytes this archive holds.
    pub fn stored_messages(&self) -> impl Iterator<Item = &MessageRecord> {
        self.messages().filter(|m| m.stored_in.is_none())
    }

    /// A snapshot manifest of an incremental backup: restoring it means
    /// restoring the chain as this manifest lists it.
    pub fn is_snapshot_increment(&self) -> bool {
        self.header.as_ref().is_some_and(|h| h.snapshot && h.parent.is_some())
    }

    /// The parent's manifest file name (clear or full manifest).
    pub fn parent_name(&self) -> Option<&str> {
        self.header
            .as_ref()
            .and_then(|h| h.parent.as_ref().map(|p| p.manifest.as_str()))
            .or_else(|| self.sealed.as_ref().and_then(|s| s.parent.as_deref()))
    }
}

/// Loads the full manifest at `path`: for an encrypted archive (a clear
/// manifest with a `sealed` line) the encrypted one beside it, decrypted
/// with `keys`; its `archive` line must agree with the clear one.
pub fn load_full(path: &Path, keys: Option<&Identities>) -> Result<Manifest> {
    let clear = Manifest::load(path)?;
    let Some(sealed) = clear.sealed.clone() else { return Ok(clear) };
    let enc = path.with_file_name(&sealed.manifest);
    let Some(keys) = keys else {
        return Err(Error::refused(
            Location::path(&enc),
            "the manifest is encrypted: give --identity FILE (an age identity of a recipient)",
        ));
    };
    let f = std::fs::File::open(&enc).map_err(|e| Error::io(Location::path(&enc), e))?;
    let r = keys.decrypt(std::io::BufReader::new(f), &enc)?;
    let full = Manifest::parse(std::io::BufReader::new(r)).map_err(|e| Error::io(Location::path(&enc), e))?;
    if full.archive != clear.archive {
        return Err(Error::format(
            Location::path(&enc),
            "the encrypted manifest names another archive than the clear one beside it",
        ));
    }
    Ok(full)
}

/// Loads `path` and every manifest it builds on (its `parent`, found beside
/// it), oldest first.
pub fn load_chain(path: &Path, keys: Option<&Identities>) -> Result<Vec<(PathBuf, Manifest)>> {
    let mut chain = Vec::new();
    let mut next = Some(path.to_path_buf());
    while let Some(p) = next.take() {
        if chain.len() > 10_000 || chain.iter().any(|(q, _): &(PathBuf, Manifest)| q == &p) {
            return Err(Error::format(Location::path(&p), "the chain of parent manifests loops"));
        }
        let m = load_full(&p, keys)?;
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

/// What a chain of backups knows: how many copies of each message (by
/// folder and exact fingerprint) the mailbox had at the newest backup,
/// where the bytes of every message ever stored are, and the keyword
/// letters of each folder.
#[derive(Debug, Clone, Default)]
pub struct Known {
    pub messages: HashMap<(String, ExactHash), u32>,
    /// Exact fingerprint → the archive entry holding those bytes.
    pub stored: HashMap<ExactHash, StoredIn>,
    pub keywords: BTreeMap<String, Vec<(usize, String)>>,
}

impl Known {
    /// Everything the manifests of a chain (oldest first) hold. The newest
    /// snapshot alone says which messages are present; before version 2,
    /// every manifest of the chain adds its messages.
    pub fn from_chain(chain: &[(PathBuf, Manifest)]) -> Self {
        let mut k = Known::default();
        let snapshot = chain.last().is_some_and(|(_, m)| m.header.as_ref().is_some_and(|h| h.snapshot));
        let n = chain.len();
        for (i, (path, m)) in chain.iter().enumerate() {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            for msg in m.messages() {
                if !snapshot || i + 1 == n {
                    *k.messages.entry((msg.folder.clone(), msg.exact)).or_insert(0) += 1;
                }
                let at = msg
                    .stored_in
                    .clone()
                    .unwrap_or_else(|| StoredIn { manifest: name.clone(), path: msg.path.clone() });
                k.stored.entry(msg.exact).or_insert(at);
            }
            for f in &m.folders {
                k.keywords.insert(f.folder.clone(), f.keywords.clone());
            }
        }
        k
    }

    /// What one manifest lists (no chain).
    pub fn from_manifest(m: &Manifest) -> Self {
        let mut k = Known::default();
        for msg in m.messages() {
            *k.messages.entry((msg.folder.clone(), msg.exact)).or_insert(0) += 1;
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

    /// A version 1 chain (written before snapshots): each manifest lists
    /// only what its archive stores, so the chain's messages add up, and
    /// restore takes the archive-by-archive path.
    #[test]
    fn version_1_manifests_are_still_read() {
        let header = |name: &str, parent: &str| {
            let parent = if parent.is_empty() {
                String::new()
            } else {
                format!(",\"parent\":{{\"manifest\":\"{parent}\"}}")
            };
            format!(
                "{{\"type\":\"header\",\"format\":\"mailshift-archive\",\"version\":1,\"name\":\"{name}\",\
                 \"created\":\"2026-01-01T00:00:00Z\",\"tool\":\"mailshift 0.1.0\",\"source\":{{\"format\":\"maildir\",\
                 \"path\":\"/m\"}},\"level\":3,\"original\":false{parent}}}\n"
            )
        };
        let msg = |name: &str, hex: char| {
            format!(
                "{{\"type\":\"message\",\"path\":\"{name}/maildir/cur/1.M{hex}_1.mailshift:2,S\",\"size\":3,\
                 \"blake3\":\"00\",\"folder\":\"INBOX\",\"exact\":\"{}\",\"logical\":\"mid:x\",\"flags\":\"S\",\
                 \"mtime\":1}}\n",
                hex.to_string().repeat(64)
            )
        };
        let end = "{\"type\":\"end\",\"entries\":1,\"messages\":1,\"bytes\":3}\n";
        let full =
            Manifest::parse(format!("{}{}{end}", header("full", ""), msg("full", 'a')).as_bytes()).unwrap();
        let incr = Manifest::parse(
            format!("{}{}{end}", header("incr", "full.manifest.jsonl"), msg("incr", 'b')).as_bytes(),
        )
        .unwrap();
        assert!(full.bad_lines.is_empty() && incr.bad_lines.is_empty(), "{:?}", incr.bad_lines);
        assert!(!incr.is_snapshot_increment());
        assert_eq!(incr.parent_name(), Some("full.manifest.jsonl"));
        let chain =
            vec![(PathBuf::from("full.manifest.jsonl"), full), (PathBuf::from("incr.manifest.jsonl"), incr)];
        let k = Known::from_chain(&chain);
        assert_eq!(k.messages.len(), 2, "a v1 chain is the union of its manifests");
        let a = ExactHash(*blake3::Hash::from_hex("a".repeat(64)).unwrap().as_bytes());
        assert_eq!(k.stored[&a].manifest, "full.manifest.jsonl");
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
            stored_in: None,
        };
        let f = r.flags();
        assert!(f.flagged && f.forwarded && f.seen && !f.draft);
        assert!(f.keywords.contains("$Junk"));
        let line = serde_json::to_string(&Record::Message(r.clone())).unwrap();
        assert!(line.starts_with("{\"type\":\"message\""), "{line}");
        assert_eq!(serde_json::from_str::<Record>(&line).unwrap(), Record::Message(r));
    }
}
