//! `compare`: do two stores hold the same messages, folder by folder?
//!
//! Folders are matched by [`FolderPath::key`](mailshift_model::FolderPath::key),
//! messages by fingerprint as a multiset (two copies in A need two in B).
//! Only fingerprints and a little metadata per message are kept, never
//! bodies, so memory grows with the number of messages, not their size.

use std::collections::{BTreeMap, HashMap, VecDeque};

use mailshift_model::{
    headers, ExactHash, Finding, FindingKind, Flags, FolderStats, Item, Location, LogicalKey, Message,
    Progress, Report, Result, Source, SourceInfo, Timestamp,
};
use serde::Serialize;

use crate::pipeline::describe_source;
use crate::schedule::{group_units, read_group, run_biggest_first, FolderGroup};

/// How to run [`compare`].
#[derive(Debug, Clone, Default)]
pub struct CompareOptions {
    /// Match messages by Message-ID (or Date/From/To/Subject) instead of
    /// their exact bytes, for stores whose server rewrote messages.
    pub logical: bool,
    /// Worker threads per store; 0 means one per core.
    pub jobs: usize,
    /// Do not compare flags: for a side that cannot hold them (EML).
    pub ignore_flags: bool,
}

/// A message named for a human: where it is, its Subject and Message-ID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessageRef {
    pub origin: Location,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// The fingerprint it was matched on.
    pub fingerprint: String,
}

/// One folder of a [`Comparison`].
#[derive(Debug, Clone, Default, Serialize)]
pub struct FolderComparison {
    pub folder: String,
    pub in_a: u64,
    pub in_b: u64,
    pub matched: u64,
    /// In A, not in B.
    pub missing: Vec<MessageRef>,
    /// In B, not in A.
    pub extra: Vec<MessageRef>,
    /// Matched messages whose flags or received date differ.
    pub mismatched: u64,
}

/// The result of [`compare`].
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub a: SourceInfo,
    pub b: SourceInfo,
    /// `exact` or `logical`.
    pub by: String,
    pub messages_a: u64,
    pub messages_b: u64,
    /// Items the sources skipped while reading (deleted, unreadable).
    pub skipped_a: u64,
    pub skipped_b: u64,
    pub matched: u64,
    pub missing: u64,
    pub extra: u64,
    pub mismatched: u64,
    pub folders: Vec<FolderComparison>,
    /// What reading found in either store, then every difference.
    pub findings: Vec<Finding>,
}

impl Comparison {
    /// Whether both stores hold the same messages with the same flags and
    /// dates, folder by folder.
    pub fn is_equal(&self) -> bool {
        self.missing == 0 && self.extra == 0 && self.mismatched == 0
    }

    /// The comparison as a run [`Report`], from A's side: each message of A
    /// is `written` when B has it and `skipped` when it does not (or when A's
    /// reader skipped it), so the report balances like every other.
    pub fn to_report(&self) -> Report {
        let mut r = Report::new("compare");
        r.source = Some(describe_source(&self.a));
        r.destination = Some(describe_source(&self.b));
        for f in &self.folders {
            let stats = FolderStats {
                read: f.in_a,
                written: f.matched,
                skipped: f.missing.len() as u64,
                duplicates: 0,
                bytes: 0,
            };
            r.folders.insert(f.folder.clone(), stats);
        }
        r.read = self.messages_a + self.skipped_a;
        r.written = self.matched;
        r.skipped = self.missing + self.skipped_a;
        r.findings = self.findings.clone();
        r
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Exact(ExactHash),
    Logical(LogicalKey),
}

impl Key {
    fn show(&self) -> String {
        match self {
            Key::Exact(h) => h.to_hex(),
            Key::Logical(k) => k.0.clone(),
        }
    }
}

/// What is kept of each message: enough to match and to name it.
#[derive(Debug)]
struct Entry {
    key: Key,
    flags: Flags,
    received: Option<Timestamp>,
    origin: Location,
    subject: Option<String>,
    message_id: Option<String>,
}

impl Entry {
    fn of(m: &Message, logical: bool) -> Self {
        // Only the key that is matched on: the exact hash reads the whole
        // body, the logical key only the header.
        let key = if logical { Key::Logical(m.logical_key()) } else { Key::Exact(m.exact_hash()) };
        let subject = headers::get(&m.raw, "Subject").map(|s| {
            let s = String::from_utf8_lossy(&s);
            s.chars().take(120).collect()
        });
        Entry {
            key,
            flags: m.envelope.flags.clone(),
            received: m.envelope.received,
            origin: m.envelope.origin.clone(),
            subject,
            message_id: headers::message_id(&m.raw),
        }
    }

    fn to_ref(&self) -> MessageRef {
        MessageRef {
            origin: self.origin.clone(),
            subject: self.subject.clone(),
            message_id: self.message_id.clone(),
            fingerprint: self.key.show(),
        }
    }

    fn describe(&self) -> String {
        let subject = self.subject.as_deref().unwrap_or("(no subject)");
        match &self.message_id {
            Some(id) => format!("Subject {subject:?}, Message-ID <{id}>"),
            None => format!("Subject {subject:?}"),
        }
    }
}

/// One store read into entries per folder key.
struct Side {
    info: SourceInfo,
    folders: BTreeMap<String, Vec<Entry>>,
    messages: u64,
    skipped: u64,
    findings: Vec<Finding>,
}

/// A store listed, not yet read.
struct Listed<'s> {
    source: &'s dyn Source,
    groups: Vec<FolderGroup>,
    findings: Vec<Finding>,
}

fn list_side(source: &dyn Source) -> Result<Listed<'_>> {
    let mut findings = Vec::new();
    let units = source.units(&mut findings)?;
    Ok(Listed { source, groups: group_units(units), findings })
}

fn read_side(listed: Listed<'_>, opts: &CompareOptions, progress: &dyn Progress) -> Side {
    let Listed { source, groups, findings } = listed;
    let results = run_biggest_first(opts.jobs, &groups, |g| {
        let mut entries = Vec::new();
        let mut found = Vec::new();
        let mut unit_findings = Vec::new();
        let mut skipped = 0u64;
        read_group(source, g, &mut unit_findings, &mut |item| match item {
            Item::Message(m) => {
                progress.message(m.size());
                entries.push(Entry::of(&m, opts.logical));
            }
            Item::Skipped(f) => {
                progress.message(0);
                skipped += 1;
                found.push(f);
            }
            Item::Finding(f) => found.push(f),
        });
        for u in &g.units {
            progress.unit_done(u);
        }
        found.extend(unit_findings);
        (g.key.clone(), entries, skipped, found)
    });
    let mut side = Side { info: source.info(), folders: BTreeMap::new(), messages: 0, skipped: 0, findings };
    for (key, entries, skipped, found) in results {
        side.messages += entries.len() as u64;
        side.skipped += skipped;
        side.findings.extend(found);
        side.folders.insert(key, entries);
    }
    side
}

/// Compares store `a` with store `b`. Fails only when one of them cannot be
/// listed; damage inside them is reported as findings.
pub fn compare(
    a: &dyn Source,
    b: &dyn Source,
    opts: &CompareOptions,
    progress: &dyn Progress,
) -> Result<Comparison> {
    let listed_a = list_side(a)?;
    let listed_b = list_side(b)?;
    let (units, bytes) = [&listed_a, &listed_b]
        .iter()
        .flat_map(|l| &l.groups)
        .flat_map(|g| &g.units)
        .fold((0, 0), |(n, b), u| (n + 1, b + u.bytes));
    progress.begin(units, bytes);
    // Both sides at once: when one is a server, reading it waits on the
    // network while the other reads and hashes local files.
    let (mut side_a, mut side_b) = std::thread::scope(|s| {
        let b = s.spawn(|| read_side(listed_b, opts, progress));
        let a = read_side(listed_a, opts, progress);
        (a, b.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
    });
    progress.end();
    let mut out = Comparison {
        a: side_a.info,
        b: side_b.info,
        by: if opts.logical { "logical" } else { "exact" }.to_owned(),
        messages_a: side_a.messages,
        messages_b: side_b.messages,
        skipped_a: side_a.skipped,
        skipped_b: side_b.skipped,
        matched: 0,
        missing: 0,
        extra: 0,
        mismatched: 0,
        folders: Vec::new(),
        findings: Vec::new(),
    };
    out.findings.append(&mut side_a.findings);
    out.findings.append(&mut side_b.findings);
    let mut keys: Vec<String> = side_a.folders.keys().chain(side_b.folders.keys()).cloned().collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        let ea = side_a.folders.remove(&key).unwrap_or_default();
        let eb = side_b.folders.remove(&key).unwrap_or_default();
        let f = compare_folder(&key, &ea, &eb, opts, &mut out.findings);
        out.matched += f.matched;
        out.missing += f.missing.len() as u64;
        out.extra += f.extra.len() as u64;
        out.mismatched += f.mismatched;
        out.folders.push(f);
    }
    Ok(out)
}

fn compare_folder(
    key: &str,
    a: &[Entry],
    b: &[Entry],
    opts: &CompareOptions,
    findings: &mut Vec<Finding>,
) -> FolderComparison {
    let mut f = FolderComparison {
        folder: key.to_owned(),
        in_a: a.len() as u64,
        in_b: b.len() as u64,
        ..FolderComparison::default()
    };
    let mut in_b: HashMap<&Key, VecDeque<usize>> = HashMap::new();
    for (i, e) in b.iter().enumerate() {
        in_b.entry(&e.key).or_default().push_back(i);
    }
    let mut used = vec![false; b.len()];
    let at = |e: &Entry| {
        let mut l = e.origin.clone();
        l.folder.get_or_insert_with(|| key.to_owned());
        l
    };
    for ea in a {
        let Some(j) = in_b.get_mut(&ea.key).and_then(VecDeque::pop_front) else {
            findings.push(Finding::error(
                FindingKind::Missing,
                at(ea),
                format!("in A, missing in B: {}", ea.describe()),
            ));
            f.missing.push(ea.to_ref());
            continue;
        };
        used[j] = true;
        f.matched += 1;
        let eb = &b[j];
        let mut differs = Vec::new();
        if !opts.ignore_flags && ea.flags != eb.flags {
            differs.push(format!("flags {} in A, {} in B", show_flags(&ea.flags), show_flags(&eb.flags)));
        }
        if let Some(da) = ea.received {
            match eb.received {
                Some(db) if db.timestamp() == da.timestamp() => {}
                Some(db) => differs.push(format!("received {da} in A, {db} in B")),
                None => differs.push(format!("received {da} in A, none in B")),
            }
        }
        if !differs.is_empty() {
            f.mismatched += 1;
            findings.push(Finding::error(
                FindingKind::Mismatch,
                at(ea),
                format!("{} (B: {}): {}", ea.describe(), eb.origin, differs.join("; ")),
            ));
        }
    }
    for (j, eb) in b.iter().enumerate() {
        if !used[j] {
            findings.push(Finding::warning(
                FindingKind::Extra,
                at(eb),
                format!("in B, not in A: {}", eb.describe()),
            ));
            f.extra.push(eb.to_ref());
        }
    }
    f
}

fn show_flags(f: &Flags) -> String {
    let mut s = format!("[{}]", f.maildir_letters());
    for k in &f.keywords {
        s.push(' ');
        s.push_str(k);
    }
    s
}

#[cfg(test)]
mod tests;
