//! `inspect`: what a store holds, folder by folder, without writing.

use std::collections::BTreeMap;
use std::path::PathBuf;

use mailshift_model::{Finding, Flags, Item, Message, Progress, Result, Role, Source, Timestamp};
use serde::Serialize;

use crate::schedule::{group_units, read_group, run_biggest_first};

/// What [`inspect`] found in a store.
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    /// `mbox`, `maildir`, `eml`, ...
    pub format: String,
    /// The variant detected (`mboxrd`, `maildir++`, ...), where there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    pub path: PathBuf,
    /// Messages read (not counting skipped items).
    pub messages: u64,
    /// Items read but not passed on (deleted, pseudo-messages, unreadable).
    pub skipped: u64,
    /// `messages + skipped`.
    pub read: u64,
    pub bytes: u64,
    pub folders: Vec<FolderInspection>,
    pub findings: Vec<Finding>,
    /// A PST/OST's inventory: every item by kind, the non-mail ones included
    /// (`folders` counts mail only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<NonMailItems>,
}

/// What a PST/OST holds, by kind: its mail and (what `folders` does not
/// count) contacts, distribution lists, appointments, tasks, notes and
/// journal entries, which `mailshift contacts` and `mailshift calendar`
/// turn into vCard and iCalendar; plus the store's name, encryption and
/// password flag. The PST reader's own [`mailshift_pst::Inventory`], so the
/// two never drift apart.
pub type NonMailItems = mailshift_pst::Inventory;

/// The inventory of a PST/OST; `None` when the store cannot be read again.
fn pst_inventory(path: &std::path::Path) -> Option<NonMailItems> {
    let pst = mailshift_pst::PstSource::open(path, mailshift_pst::PstOptions { recover: true }).ok()?;
    pst.inventory().ok()
}

/// One folder of an [`Inspection`].
#[derive(Debug, Clone, Default, Serialize)]
pub struct FolderInspection {
    /// The folder's key (`INBOX`, `Work/2024`).
    pub folder: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// Units (files) the folder is made of.
    pub units: u64,
    pub messages: u64,
    pub skipped: u64,
    pub bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_size: Option<u64>,
    /// The earliest and latest received date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub earliest: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latest: Option<Timestamp>,
    pub flags: FlagCounts,
}

/// How many messages carry each flag.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FlagCounts {
    pub seen: u64,
    pub answered: u64,
    pub flagged: u64,
    pub deleted: u64,
    pub draft: u64,
    pub forwarded: u64,
    pub keywords: BTreeMap<String, u64>,
}

impl FlagCounts {
    fn add(&mut self, f: &Flags) {
        self.seen += u64::from(f.seen);
        self.answered += u64::from(f.answered);
        self.flagged += u64::from(f.flagged);
        self.deleted += u64::from(f.deleted);
        self.draft += u64::from(f.draft);
        self.forwarded += u64::from(f.forwarded);
        for k in &f.keywords {
            *self.keywords.entry(k.clone()).or_default() += 1;
        }
    }
}

impl FolderInspection {
    fn add(&mut self, m: &Message) {
        let size = m.size();
        self.messages += 1;
        self.bytes += size;
        self.min_size = Some(self.min_size.map_or(size, |s| s.min(size)));
        self.max_size = Some(self.max_size.map_or(size, |s| s.max(size)));
        if let Some(t) = m.envelope.received {
            self.earliest = Some(self.earliest.map_or(t, |e| e.min(t)));
            self.latest = Some(self.latest.map_or(t, |l| l.max(t)));
        }
        self.flags.add(&m.envelope.flags);
    }
}

/// Reads every message of `source` (folders in parallel, one thread per
/// core) and sums it up. Fails only when the source cannot be listed.
pub fn inspect(source: &dyn Source, progress: &dyn Progress) -> Result<Inspection> {
    let info = source.info();
    let mut findings = Vec::new();
    let units = source.units(&mut findings)?;
    progress.begin(units.len() as u64, units.iter().map(|u| u.bytes).sum());
    let groups = group_units(units);
    let results = run_biggest_first(0, &groups, |g| {
        let mut folder = FolderInspection {
            folder: g.key.clone(),
            role: g.folder.role,
            units: g.units.len() as u64,
            ..FolderInspection::default()
        };
        let mut found = Vec::new();
        let mut unit_findings = Vec::new();
        read_group(source, g, &mut unit_findings, &mut |item| match item {
            Item::Message(m) => {
                progress.message(m.size());
                folder.add(&m);
            }
            Item::Skipped(f) => {
                progress.message(0);
                progress.finding(&f);
                folder.skipped += 1;
                found.push(f);
            }
            Item::Finding(f) => {
                progress.finding(&f);
                found.push(f);
            }
        });
        for u in &g.units {
            progress.unit_done(u);
        }
        found.extend(unit_findings);
        (folder, found)
    });
    progress.end();
    let items = if info.format == "pst" { pst_inventory(&info.path) } else { None };
    let mut out = Inspection {
        items,
        format: info.format,
        variant: info.variant,
        path: info.path,
        messages: 0,
        skipped: 0,
        read: 0,
        bytes: 0,
        folders: Vec::new(),
        findings,
    };
    for (folder, found) in results {
        out.messages += folder.messages;
        out.skipped += folder.skipped;
        out.bytes += folder.bytes;
        out.folders.push(folder);
        out.findings.extend(found);
    }
    out.read = out.messages + out.skipped;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;
    use mailshift_model::{FindingKind, FolderPath, Location, NoProgress};

    use super::*;
    use crate::memory::{MemorySource, Stored};

    #[test]
    fn sums_up_each_folder() {
        let inbox = FolderPath::inbox();
        let mut s = MemorySource::new();
        let mut items = Vec::new();
        for (i, (body, date, kw)) in
            [("x", "2020-05-01T00:00:00Z", None), ("longer body", "2019-01-01T00:00:00+01:00", Some("work"))]
                .into_iter()
                .enumerate()
        {
            let Stored::Message(mut m) = MemorySource::message(&inbox, body.as_bytes(), i) else { panic!() };
            m.envelope.received = Some(DateTime::parse_from_rfc3339(date).unwrap());
            m.envelope.flags.seen = true;
            m.envelope.flags.answered = i == 1;
            if let Some(k) = kw {
                m.envelope.flags.add_keyword(k);
            }
            items.push(Stored::Message(m));
        }
        items.push(Stored::Skipped(Finding::warning(FindingKind::Deleted, Location::default(), "gone")));
        s.unit(inbox, items);
        s.unit(FolderPath::new(["Empty"]), vec![]);
        let i = inspect(&s, &NoProgress).unwrap();
        assert_eq!((i.messages, i.skipped, i.read, i.bytes), (2, 1, 3, 12));
        assert_eq!(i.format, "memory");
        let f = &i.folders[0];
        assert_eq!((f.folder.as_str(), f.min_size, f.max_size), ("INBOX", Some(1), Some(11)));
        assert_eq!(f.earliest.unwrap().to_rfc3339(), "2019-01-01T00:00:00+01:00");
        assert_eq!(f.latest.unwrap().to_rfc3339(), "2020-05-01T00:00:00+00:00");
        assert_eq!((f.flags.seen, f.flags.answered, f.flags.keywords["work"]), (2, 1, 1));
        assert_eq!(i.folders[1].messages, 0);
        assert_eq!(i.findings.len(), 1);
        let json = serde_json::to_value(&i).unwrap();
        assert_eq!(json["folders"][0]["role"], "inbox");
    }
}
