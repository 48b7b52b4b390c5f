//! An IMAP account as a [`Source`], so `compare` (and the upload's proof)
//! can read a server like any store.
//!
//! Blocking, with its own tokio runtime. Connections are kept in a small
//! pool: a thread reading a folder takes an idle one (or opens one), so
//! compare's threads read folders in parallel while a run of many folders
//! logs in once per thread, not once per folder (a login costs a TLS
//! handshake, and providers count and throttle logins).
//! Messages are fetched in batches of at most [`BATCH_BYTES`], so memory
//! is bounded by a batch, not by the folder.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::PathBuf;

use mailshift_model::{Envelope, Flags, FolderPath, Item, Location, Message, Source, SourceInfo, Unit};

use crate::connection::{Conn, Connector};
use crate::folders::{FolderMapper, ServerFolders};
use crate::protocol::{parse_internal_date, quoted, Resp, Status};
use crate::{ImapError, Result};

/// Bytes fetched per round trip when reading a folder.
pub const BATCH_BYTES: u64 = 16 << 20;

/// An IMAP account read as a store.
#[derive(Debug)]
pub struct ImapSource {
    connector: Connector,
    rt: tokio::runtime::Runtime,
    /// Server name → the source folder it stands for (from an upload's
    /// mapping); other names are split on the server's delimiter.
    known: HashMap<String, FolderPath>,
    /// Read only the folders in `known` (the upload's proof).
    only_known: bool,
    /// Fetch only the header fields the logical key is made of
    /// (Message-ID, Date, From, To, Subject): enough for a logical
    /// comparison, and a fraction of the bytes.
    headers_only: bool,
    /// Logged-in connections between two folders.
    idle: std::sync::Mutex<Vec<Conn>>,
}

impl ImapSource {
    pub fn new(
        connector: Connector,
        known: HashMap<String, FolderPath>,
        only_known: bool,
        headers_only: bool,
    ) -> Result<Self> {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(
            |e| ImapError::Io {
                server: connector.target.server(),
                what: "start the runtime".into(),
                source: e,
            },
        )?;
        Ok(ImapSource { connector, rt, known, only_known, headers_only, idle: Default::default() })
    }

    /// An idle connection (and `true`), or a new one.
    async fn take(&self) -> Result<(Conn, bool)> {
        let idle = self.idle.lock().ok().and_then(|mut v| v.pop());
        match idle {
            Some(c) => Ok((c, true)),
            None => Ok((self.connector.connect().await?, false)),
        }
    }

    /// Keeps `conn` for the next folder.
    fn give_back(&self, conn: Conn) {
        if let Ok(mut v) = self.idle.lock() {
            v.push(conn);
        }
    }

    fn location(&self) -> Location {
        Location::path(self.connector.target.to_string())
    }

    fn to_model(&self, e: ImapError) -> mailshift_model::Error {
        mailshift_model::Error::new(self.location(), std::io::Error::other(e.to_string()))
    }

    /// The folders a [`crate::upload`] of `folders` would write to, for
    /// `compare SRC imaps://...`: connects once to learn the server's
    /// delimiter and special folders, and maps each source folder.
    pub fn mapping_for(
        &self,
        folders: &[FolderPath],
        map: std::collections::BTreeMap<String, String>,
    ) -> Result<HashMap<String, FolderPath>> {
        self.rt.block_on(async {
            let mut conn = self.connector.connect().await?;
            let server = ServerFolders::list(&mut conn).await?;
            let mapper = FolderMapper::new(&server, map, conn.is_m365());
            conn.logout().await;
            Ok(folders.iter().map(|f| (mapper.map(f).wire, f.clone())).collect())
        })
    }

    /// Sets the known mapping (see [`Self::mapping_for`]).
    pub fn set_known(&mut self, known: HashMap<String, FolderPath>) {
        self.known = known;
    }

    async fn read_folder(
        &self,
        conn: &mut Conn,
        unit: &Unit,
        emit: &mut dyn FnMut(Item) -> ControlFlow<()>,
    ) -> Result<()> {
        let server = conn.session.server.clone();
        let q = quoted(&unit.id).ok_or_else(|| ImapError::Refused {
            server: server.clone(),
            command: "EXAMINE".into(),
            why: "unsendable name".into(),
        })?;
        conn.session.run_ok(&format!("EXAMINE {q}"), "EXAMINE").await?;
        let (untagged, _) = conn.session.run_ok("UID FETCH 1:* (UID RFC822.SIZE)", "FETCH").await?;
        let mut all: Vec<(u32, u64)> = untagged
            .into_iter()
            .filter_map(|r| match r {
                Resp::Fetch(f) => Some((f.uid?, u64::from(f.size.unwrap_or(0)))),
                _ => None,
            })
            .collect();
        all.sort_unstable();
        let part = if self.headers_only {
            "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID DATE FROM TO SUBJECT)]"
        } else {
            "BODY.PEEK[]"
        };
        let mut i = 0;
        while i < all.len() {
            let mut bytes = 0;
            let mut j = i;
            while j < all.len() && (j == i || bytes + all[j].1 <= BATCH_BYTES) {
                bytes += all[j].1;
                j += 1;
            }
            let set: Vec<String> = all[i..j].iter().map(|(u, _)| u.to_string()).collect();
            let tag = conn
                .session
                .queue_command(&format!("UID FETCH {} (UID FLAGS INTERNALDATE {part})", set.join(",")));
            conn.session.flush().await?;
            let mut stop = false;
            loop {
                match conn.session.read().await? {
                    Resp::Fetch(f) if !stop => {
                        let mut flags = Flags::default();
                        for fl in &f.flags {
                            flags.add_keyword(fl);
                        }
                        let uid = f.uid.unwrap_or(0);
                        let envelope = Envelope {
                            folder: unit.folder.clone(),
                            flags,
                            received: f.internal_date.as_deref().and_then(parse_internal_date),
                            sender: None,
                            origin: self
                                .location()
                                .with_folder(unit.folder.key())
                                .with_item(format!("UID {uid}")),
                        };
                        let raw = f.body.unwrap_or_default();
                        if emit(Item::Message(Message::new(raw, envelope))).is_break() {
                            stop = true;
                        }
                    }
                    Resp::Tagged(t) if t.tag == tag => {
                        if t.status != Status::Ok {
                            return Err(ImapError::Refused {
                                server,
                                command: "FETCH".into(),
                                why: t.describe(),
                            });
                        }
                        break;
                    }
                    _ => {}
                }
            }
            if stop {
                break;
            }
            i = j;
        }
        Ok(())
    }
}

impl Drop for ImapSource {
    /// Logs the idle connections out (a polite end, not a dropped socket).
    fn drop(&mut self) {
        let idle = self.idle.get_mut().map(std::mem::take).unwrap_or_default();
        if idle.is_empty() {
            return;
        }
        self.rt.block_on(async {
            let mut logouts = tokio::task::JoinSet::new();
            for c in idle {
                logouts.spawn(c.logout()); // each bounded by its own timeout
            }
            while logouts.join_next().await.is_some() {}
        });
    }
}

impl Source for ImapSource {
    fn info(&self) -> SourceInfo {
        SourceInfo {
            format: "imap".into(),
            variant: None,
            path: PathBuf::from(self.connector.target.to_string()),
        }
    }

    fn units(&self, _findings: &mut Vec<mailshift_model::Finding>) -> mailshift_model::Result<Vec<Unit>> {
        self.rt
            .block_on(async {
                let mut conn = self.connector.connect().await?;
                let server = ServerFolders::list(&mut conn).await?;
                let mapper = FolderMapper::new(&server, Default::default(), conn.is_m365());
                let mut units = Vec::new();
                for f in &server.folders {
                    if f.attributes.iter().any(|a| {
                        a.eq_ignore_ascii_case("\\NoSelect") || a.eq_ignore_ascii_case("\\NonExistent")
                    }) {
                        continue;
                    }
                    if self.only_known
                        && !self.known.contains_key(&f.name)
                        && !(f.name.eq_ignore_ascii_case("INBOX") && self.known.contains_key("INBOX"))
                    {
                        continue;
                    }
                    let folder = mapper.folder_of(&f.name, &self.known);
                    units.push(Unit { folder, id: f.name.clone(), path: None, bytes: 0 });
                }
                self.give_back(conn);
                Ok(units)
            })
            .map_err(|e: ImapError| self.to_model(e))
    }

    fn read_unit(&self, unit: &Unit, emit: mailshift_model::Emit<'_>) -> mailshift_model::Result<()> {
        self.rt
            .block_on(async {
                let (mut conn, pooled) = self.take().await?;
                let emitted = std::cell::Cell::new(false);
                let mut counted = |item: Item| {
                    emitted.set(true);
                    emit(item)
                };
                let mut r = self.read_folder(&mut conn, unit, &mut counted).await;
                // A pooled connection may have been closed by the server
                // while it waited (an idle timeout): if it failed before
                // anything was read, the folder is read again on a new one.
                if pooled && !emitted.get() && r.as_ref().is_err_and(ImapError::is_transient) {
                    conn = self.connector.connect().await?;
                    r = self.read_folder(&mut conn, unit, &mut counted).await;
                }
                // A connection that failed is not reused (a stopped read
                // still read to the FETCH's end: the connection is clean).
                if r.is_ok() {
                    self.give_back(conn);
                }
                r
            })
            .map_err(|e| self.to_model(e))
    }
}
