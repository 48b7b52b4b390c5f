//! The upload journal: SQLite, one row per message uploaded (or found
//! already there) per destination account and server folder, keyed by the
//! message's exact hash and its occurrence number (two identical messages
//! in one folder are two rows), with the UID when UIDPLUS gave one.
//!
//! Rows are written in one transaction per batch of confirmed APPENDs,
//! after the server's OK: a crash can lose the last batch's rows, never
//! record a message the server does not have; the server-side scan at the
//! next start finds those messages, so nothing is appended twice.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension};

use crate::{ImapError, Result};

/// One journaled message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub hash: String,
    pub occurrence: u32,
    pub uid: Option<u32>,
}

/// An open journal (one per connection: SQLite handles are not shared
/// across threads; WAL lets them write side by side).
#[derive(Debug)]
pub struct Journal {
    db: Connection,
    path: PathBuf,
}

/// How long a journal operation waits for another worker's lock.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The journal's settings and tables, created on first open.
const SCHEMA: &str = "PRAGMA journal_mode=WAL;
             PRAGMA synchronous=NORMAL;
             CREATE TABLE IF NOT EXISTS uploaded (
                 account TEXT NOT NULL,
                 folder TEXT NOT NULL,
                 hash TEXT NOT NULL,
                 occurrence INTEGER NOT NULL,
                 uid INTEGER,
                 uidvalidity INTEGER,
                 at INTEGER NOT NULL,
                 PRIMARY KEY (account, folder, hash, occurrence)
             );
             CREATE TABLE IF NOT EXISTS pending (
                 account TEXT NOT NULL,
                 folder TEXT NOT NULL,
                 hash TEXT NOT NULL,
                 occurrence INTEGER NOT NULL,
                 at INTEGER NOT NULL,
                 PRIMARY KEY (account, folder, hash, occurrence)
             );";

/// SQLite's "busy" or "locked": another connection holds the lock.
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

impl Journal {
    /// The default location: `$XDG_STATE_HOME/mailshift/upload.sqlite`, or
    /// `~/.local/state/mailshift/upload.sqlite`.
    pub fn default_path() -> Option<PathBuf> {
        let base = match std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
            Some(d) => PathBuf::from(d),
            None => PathBuf::from(std::env::var_os("HOME")?).join(".local/state"),
        };
        Some(base.join("mailshift").join("upload.sqlite"))
    }

    pub fn open(path: &Path) -> Result<Journal> {
        let err = |e| ImapError::Journal { path: path.display().to_string(), source: e };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| ImapError::Journal {
                path: path.display().to_string(),
                source: rusqlite::Error::ToSqlConversionFailure(Box::new(e)),
            })?;
        }
        let db = Connection::open(path).map_err(err)?;
        db.busy_timeout(BUSY_TIMEOUT).map_err(err)?;
        // Several upload workers open the same file at once. Switching a
        // fresh file to WAL needs an exclusive lock, and SQLite answers that
        // race with "database is locked" at once instead of waiting out the
        // busy timeout: so the set-up is retried until the timeout.
        let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
        loop {
            match db.execute_batch(SCHEMA) {
                Ok(()) => break,
                Err(e) if is_busy(&e) && std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(e) => return Err(err(e)),
            }
        }
        Ok(Journal { db, path: path.to_owned() })
    }

    fn err(&self, e: rusqlite::Error) -> ImapError {
        ImapError::Journal { path: self.path.display().to_string(), source: e }
    }

    /// Whether this occurrence of the message is recorded.
    pub fn has(&self, account: &str, folder: &str, hash: &str, occurrence: u32) -> Result<bool> {
        self.db
            .prepare_cached(
                "SELECT 1 FROM uploaded WHERE account=?1 AND folder=?2 AND hash=?3 AND occurrence=?4",
            )
            .and_then(|mut s| s.query_row(params![account, folder, hash, occurrence], |_| Ok(())).optional())
            .map(|r| r.is_some())
            .map_err(|e| self.err(e))
    }

    /// Records a batch in one transaction.
    pub fn record(&mut self, account: &str, folder: &str, entries: &[(Entry, Option<u32>)]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let now = chrono::Utc::now().timestamp();
        let tx = self
            .db
            .transaction()
            .map_err(|e| ImapError::Journal { path: self.path.display().to_string(), source: e })?;
        {
            let mut st = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO uploaded (account, folder, hash, occurrence, uid, uidvalidity, at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(|e| ImapError::Journal { path: self.path.display().to_string(), source: e })?;
            for (e, validity) in entries {
                st.execute(params![account, folder, e.hash, e.occurrence, e.uid, validity, now])
                    .map_err(|e| ImapError::Journal { path: self.path.display().to_string(), source: e })?;
            }
        }
        tx.commit().map_err(|e| self.err(e))
    }

    /// Records that these messages are about to be sent (before the
    /// APPEND): a run killed before the answer leaves them here, and the
    /// next run knows an APPEND of this folder may still be landing.
    pub fn intend(&mut self, account: &str, folder: &str, entries: &[&Entry]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let now = chrono::Utc::now().timestamp();
        let path = self.path.display().to_string();
        let err = |e| ImapError::Journal { path: path.clone(), source: e };
        let tx = self.db.transaction().map_err(err)?;
        {
            let mut st = tx
                .prepare_cached("INSERT OR REPLACE INTO pending (account, folder, hash, occurrence, at) VALUES (?1, ?2, ?3, ?4, ?5)")
                .map_err(err)?;
            for e in entries {
                st.execute(params![account, folder, e.hash, e.occurrence, now]).map_err(err)?;
            }
        }
        tx.commit().map_err(err)
    }

    /// How many messages of the folder were sent by a run that never
    /// heard the answer.
    pub fn pending(&self, account: &str, folder: &str) -> Result<u64> {
        self.db
            .query_row(
                "SELECT COUNT(*) FROM pending WHERE account=?1 AND folder=?2",
                params![account, folder],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))
    }

    /// Forgets the folder's pending rows (once a scan has settled them, or
    /// the folder is done).
    pub fn clear_pending(&self, account: &str, folder: &str) -> Result<()> {
        self.db
            .execute("DELETE FROM pending WHERE account=?1 AND folder=?2", params![account, folder])
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Forgets the pending rows of these messages (hash, occurrence): what
    /// one of several connections sharing a folder sent and saw answered.
    /// The other connections' rows stay.
    pub fn clear_pending_of(&mut self, account: &str, folder: &str, done: &[(String, u32)]) -> Result<()> {
        if done.is_empty() {
            return Ok(());
        }
        let path = self.path.display().to_string();
        let err = |e| ImapError::Journal { path: path.clone(), source: e };
        let tx = self.db.transaction().map_err(err)?;
        {
            let mut st = tx
                .prepare_cached(
                    "DELETE FROM pending WHERE account=?1 AND folder=?2 AND hash=?3 AND occurrence=?4",
                )
                .map_err(err)?;
            for (hash, occurrence) in done {
                st.execute(params![account, folder, hash, occurrence]).map_err(err)?;
            }
        }
        tx.commit().map_err(err)
    }

    /// Every entry for a folder (tests, diagnostics).
    pub fn entries(&self, account: &str, folder: &str) -> Result<Vec<Entry>> {
        let mut st = self
            .db
            .prepare("SELECT hash, occurrence, uid FROM uploaded WHERE account=?1 AND folder=?2 ORDER BY hash, occurrence")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map(params![account, folder], |r| {
                Ok(Entry { hash: r.get(0)?, occurrence: r.get(1)?, uid: r.get(2)? })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<std::result::Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_finds_per_account_and_folder() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state/j.sqlite");
        let mut j = Journal::open(&p).unwrap();
        let e = Entry { hash: "h".into(), occurrence: 0, uid: Some(3) };
        j.record("a", "INBOX", &[(e.clone(), Some(9))]).unwrap();
        assert!(j.has("a", "INBOX", "h", 0).unwrap());
        assert!(!j.has("a", "INBOX", "h", 1).unwrap());
        assert!(!j.has("b", "INBOX", "h", 0).unwrap());
        drop(j);
        let j = Journal::open(&p).unwrap();
        assert_eq!(j.entries("a", "INBOX").unwrap(), vec![e]);
    }

    /// Upload workers open one fresh journal at the same moment; each must
    /// get it (this failed with "database is locked" before the retry).
    #[test]
    fn workers_opening_a_fresh_journal_at_once_all_succeed() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..100 {
            let p = dir.path().join(format!("j{i}.sqlite"));
            let opens: Vec<_> = (0..3)
                .map(|_| {
                    let p = p.clone();
                    std::thread::spawn(move || Journal::open(&p).map(drop).map_err(|e| e.to_string()))
                })
                .collect();
            for open in opens {
                open.join().unwrap().unwrap();
            }
        }
    }
}
