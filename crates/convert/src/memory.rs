//! In-memory [`Source`] and [`Sink`] for tests of the pipeline (and of
//! other crates, with the `testing` feature).

use std::collections::{BTreeMap, HashSet};
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use mailshift_model::{
    Emit, Envelope, Error, ExactHash, Finding, FolderPath, FolderWriter, Item, Location, Message, Result,
    Sink, Source, SourceInfo, Unit, WriteOutcome,
};

/// What a [`MemorySource`] emits for one unit; replayed on every read.
#[derive(Debug, Clone)]
pub enum Stored {
    Message(Message),
    Skipped(Finding),
    Finding(Finding),
    /// The unit cannot be read on from here.
    Fail(String),
}

/// A source whose units and items are given up front.
#[derive(Debug, Clone, Default)]
pub struct MemorySource {
    units: Vec<(Unit, Vec<Stored>)>,
    listing: Vec<Finding>,
}

impl MemorySource {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a unit for `folder` holding `items`; its `bytes` is the sum of
    /// the message sizes.
    pub fn unit(&mut self, folder: FolderPath, items: Vec<Stored>) -> &mut Self {
        let bytes = items.iter().map(|i| if let Stored::Message(m) = i { m.size() } else { 0 }).sum::<u64>();
        let id = format!("mem{}", self.units.len());
        self.units.push((Unit { folder, id, path: None, bytes }, items));
        self
    }

    /// Adds a finding reported while listing.
    pub fn listing_finding(&mut self, f: Finding) -> &mut Self {
        self.listing.push(f);
        self
    }

    /// A message with these bytes in `folder`, its origin naming `item`.
    pub fn message(folder: &FolderPath, raw: &[u8], item: usize) -> Stored {
        let envelope = Envelope {
            folder: folder.clone(),
            origin: Location::path("memory").with_item(item.to_string()),
            ..Envelope::default()
        };
        Stored::Message(Message::new(raw.to_vec(), envelope))
    }
}

impl Source for MemorySource {
    fn info(&self) -> SourceInfo {
        SourceInfo { format: "memory".into(), variant: None, path: PathBuf::from("memory") }
    }

    fn units(&self, findings: &mut Vec<Finding>) -> Result<Vec<Unit>> {
        findings.extend(self.listing.iter().cloned());
        Ok(self.units.iter().map(|(u, _)| u.clone()).collect())
    }

    fn read_unit(&self, unit: &Unit, emit: Emit<'_>) -> Result<()> {
        let Some((_, items)) = self.units.iter().find(|(u, _)| u.id == unit.id) else {
            return Err(Error::format(Location::path("memory"), format!("no unit {}", unit.id)));
        };
        for item in items {
            let flow = match item {
                Stored::Message(m) => emit(Item::Message(m.clone())),
                Stored::Skipped(f) => emit(Item::Skipped(f.clone())),
                Stored::Finding(f) => emit(Item::Finding(f.clone())),
                Stored::Fail(why) => {
                    return Err(Error::format(Location::path("memory").with_item(unit.id.clone()), why))
                }
            };
            if flow.is_break() {
                break;
            }
        }
        Ok(())
    }
}

/// Decides, per message, whether a [`MemorySink`] write fails and how.
pub type FailWith = Arc<dyn Fn(&Message) -> Option<io::Error> + Send + Sync>;

/// A sink that keeps committed messages per folder key. Like the real
/// sinks, a message whose exact hash is already committed in its folder is
/// [`WriteOutcome::AlreadyPresent`].
#[derive(Default)]
pub struct MemorySink {
    committed: Mutex<BTreeMap<String, Vec<Message>>>,
    /// Folder keys that cannot be opened.
    pub refuse_folders: HashSet<String>,
    /// Makes some writes fail.
    pub fail_with: Option<FailWith>,
    /// Makes every commit fail with this error kind.
    pub fail_commit: Option<io::ErrorKind>,
    /// Reports each commit as an info finding (through `take_findings`).
    pub report_commits: bool,
    finished: Mutex<bool>,
}

impl std::fmt::Debug for MemorySink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemorySink").field("committed", &self.committed).finish_non_exhaustive()
    }
}

impl MemorySink {
    pub fn new() -> Self {
        Self::default()
    }

    /// The committed messages of a folder, in write order.
    pub fn folder(&self, key: &str) -> Vec<Message> {
        self.committed.lock().expect("lock").get(key).cloned().unwrap_or_default()
    }

    /// The keys of the folders holding committed messages.
    pub fn keys(&self) -> Vec<String> {
        self.committed.lock().expect("lock").keys().cloned().collect()
    }

    /// Whether `finish` was called.
    pub fn finished(&self) -> bool {
        *self.finished.lock().expect("lock")
    }
}

struct MemoryWriter<'a> {
    sink: &'a MemorySink,
    key: String,
    pending: Vec<Message>,
    findings: Vec<Finding>,
}

impl Sink for MemorySink {
    fn describe(&self) -> String {
        "memory".into()
    }

    fn open_folder(&self, folder: &FolderPath) -> Result<Box<dyn FolderWriter + '_>> {
        let key = folder.key();
        if self.refuse_folders.contains(&key) {
            return Err(Error::refused(Location::path("memory").with_folder(key), "folder refused"));
        }
        Ok(Box::new(MemoryWriter { sink: self, key, pending: Vec::new(), findings: Vec::new() }))
    }

    fn finish(&self) -> Result<()> {
        *self.finished.lock().expect("lock") = true;
        Ok(())
    }
}

impl FolderWriter for MemoryWriter<'_> {
    fn write(&mut self, message: &Message) -> Result<WriteOutcome> {
        let location = Location::path("memory").with_folder(self.key.clone());
        if let Some(e) = self.sink.fail_with.as_ref().and_then(|f| f(message)) {
            return Err(Error::io(location, e));
        }
        let hash: ExactHash = message.fingerprint().exact;
        let present = self
            .sink
            .committed
            .lock()
            .expect("lock")
            .get(&self.key)
            .is_some_and(|v| v.iter().any(|m| m.fingerprint().exact == hash));
        if present {
            return Ok(WriteOutcome::AlreadyPresent);
        }
        self.pending.push(message.clone());
        Ok(WriteOutcome::Written)
    }

    fn commit(&mut self) -> Result<()> {
        if let Some(kind) = self.sink.fail_commit {
            return Err(Error::io(Location::path("memory"), io::Error::from(kind)));
        }
        if self.sink.report_commits {
            let location = Location::path("memory").with_folder(self.key.clone());
            let what = format!("committed {}", self.pending.len());
            self.findings.push(Finding::info(mailshift_model::FindingKind::Leftover, location, what));
        }
        let mut c = self.sink.committed.lock().expect("lock");
        c.entry(self.key.clone()).or_default().append(&mut self.pending);
        Ok(())
    }

    fn take_findings(&mut self) -> Vec<Finding> {
        std::mem::take(&mut self.findings)
    }
}
