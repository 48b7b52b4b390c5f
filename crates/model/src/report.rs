use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Finding, Level};

/// Counts for one folder of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FolderStats {
    pub read: u64,
    pub written: u64,
    pub skipped: u64,
    pub duplicates: u64,
    pub bytes: u64,
}

/// What a run did: counts plus every [`Finding`]. Serialises to the JSON
/// report (`--report FILE.json`).
///
/// The invariant every command checks at the end: `read == written +
/// skipped + duplicates`. `already_present` counts messages that a previous
/// (interrupted) run had written already; they are part of `written`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub command: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    pub read: u64,
    pub written: u64,
    pub already_present: u64,
    pub skipped: u64,
    pub duplicates: u64,
    pub bytes_read: u64,
    pub bytes_written: u64,
    #[serde(default)]
    pub folders: BTreeMap<String, FolderStats>,
    #[serde(default)]
    pub findings: Vec<Finding>,
    #[serde(default)]
    pub elapsed_seconds: f64,
}

/// The counts of a run do not add up: a message went missing somewhere.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("report does not balance: read {read} != written {written} + skipped {skipped} + duplicates {duplicates}{folder}")]
pub struct BalanceError {
    pub read: u64,
    pub written: u64,
    pub skipped: u64,
    pub duplicates: u64,
    /// `" in folder X"` when one folder is off, empty otherwise.
    pub folder: String,
}

impl Report {
    pub fn new(command: impl Into<String>) -> Self {
        Report { command: command.into(), ..Report::default() }
    }

    /// Adds another report's counts and findings into this one.
    pub fn merge(&mut self, other: Report) {
        self.read += other.read;
        self.written += other.written;
        self.already_present += other.already_present;
        self.skipped += other.skipped;
        self.duplicates += other.duplicates;
        self.bytes_read += other.bytes_read;
        self.bytes_written += other.bytes_written;
        for (k, v) in other.folders {
            let f = self.folders.entry(k).or_default();
            f.read += v.read;
            f.written += v.written;
            f.skipped += v.skipped;
            f.duplicates += v.duplicates;
            f.bytes += v.bytes;
        }
        self.findings.extend(other.findings);
    }

    /// Checks `read == written + skipped + duplicates`, overall and per folder.
    pub fn check_balance(&self) -> Result<(), BalanceError> {
        let off = |read, written, skipped, duplicates, folder: String| BalanceError {
            read,
            written,
            skipped,
            duplicates,
            folder,
        };
        if self.read != self.written + self.skipped + self.duplicates {
            return Err(off(self.read, self.written, self.skipped, self.duplicates, String::new()));
        }
        for (name, f) in &self.folders {
            if f.read != f.written + f.skipped + f.duplicates {
                return Err(off(f.read, f.written, f.skipped, f.duplicates, format!(" in folder {name}")));
            }
        }
        Ok(())
    }

    /// The number of findings at `level` or above.
    pub fn count_at_least(&self, level: Level) -> usize {
        self.findings.iter().filter(|f| f.level >= level).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balance_is_checked_overall_and_per_folder() {
        let mut r = Report::new("convert");
        r.read = 3;
        r.written = 2;
        r.skipped = 1;
        assert!(r.check_balance().is_ok());
        r.folders.insert("INBOX".into(), FolderStats { read: 3, written: 1, ..FolderStats::default() });
        let e = r.check_balance().unwrap_err();
        assert!(e.to_string().contains("in folder INBOX"), "{e}");
        r.written = 1;
        assert!(r.check_balance().is_err());
    }

    #[test]
    fn merge_adds() {
        let mut a = Report::new("x");
        a.read = 1;
        a.folders.insert("f".into(), FolderStats { read: 1, ..FolderStats::default() });
        let mut b = Report::new("x");
        b.read = 2;
        b.folders.insert("f".into(), FolderStats { read: 2, ..FolderStats::default() });
        a.merge(b);
        assert_eq!(a.read, 3);
        assert_eq!(a.folders["f"].read, 3);
    }
}
