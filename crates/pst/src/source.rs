//! [`PstSource`]: a PST/OST file as a mailshift [`Source`], one unit per
//! mail folder, plus the [`Inventory`] `inspect` shows and the non-mail
//! items (contacts, calendar) as property bags.

use std::collections::HashMap;
use std::io::{Cursor, Read};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use mailshift_model::{
    Emit, Envelope, Error, Finding, FindingKind, Flags, FolderPath, Item, Location, Message, Result, Role,
    Source, SourceInfo, Unit,
};
use outlook_pst::PstReader;

use crate::cache::{Backing, FileCache};
use crate::header::{self, Format, Header, PatchedReader, HEADER_LEN};
use crate::ltp::{NodeRef, Props};
use crate::messaging::{self, entry_id_nid, tag, Attachment, FolderNode, ItemKind, MapiMessage};
use crate::ndb::Ndb;
use crate::value::{filetime, Value};

/// How to read a PST.
#[derive(Debug, Clone, Default)]
pub struct PstOptions {
    /// Read on despite a bad header checksum or a short file, and export
    /// mail items that no folder lists (orphans) to a `Recovered` folder.
    pub recover: bool,
}

/// Counts of what a store holds, for `inspect` (which shows it as it is,
/// in text and in JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Inventory {
    pub mail: u64,
    pub contacts: u64,
    pub distribution_lists: u64,
    pub appointments: u64,
    pub tasks: u64,
    pub notes: u64,
    pub journal: u64,
    pub other: u64,
    /// Items whose message could not be read.
    pub unreadable: u64,
    pub folders: u64,
    /// `none`, `compressible` or `high`.
    pub encryption: String,
    pub unicode: bool,
    /// An OST (client signature `SO`) rather than a PST.
    pub ost: bool,
    pub password_protected: bool,
    /// The store's display name.
    pub name: String,
}

/// A non-mail (or any) item as a property bag, for the address book.
#[derive(Debug, Clone)]
pub struct PstItem {
    pub folder: FolderPath,
    pub node: u32,
    pub class: String,
    /// Properties by id, with their MAPI type.
    pub properties: Props,
    pub recipients: Vec<Props>,
    pub attachments: Vec<Attachment>,
    /// The item's code page for 8-bit strings.
    pub codepage: u32,
}

/// A folder as a unit.
#[derive(Debug, Clone)]
struct FolderEntry {
    node: FolderNode,
    path: FolderPath,
}

/// A PST or OST file. Opening checks the header and reads the folder tree;
/// each [`Source::read_unit`] opens its own handle (the NDB types are not
/// `Send`), so folders can be read in parallel.
#[derive(Debug)]
pub struct PstSource {
    path: PathBuf,
    backing: Backing,
    header: Header,
    len: u64,
    folders: Vec<FolderEntry>,
    folder_errors: Vec<String>,
    password: bool,
    name: String,
    recover: bool,
    /// The property id of Outlook's categories (PS_PUBLIC_STRINGS
    /// "Keywords") in this store, if it has one.
    keywords_id: Option<u16>,
}

/// The unit id of the folder of recovered (orphaned) items.
const RECOVERED_ID: &str = "recovered";

/// Whether `path` starts with the PST magic `!BDN`.
pub fn sniff(path: &Path) -> bool {
    let mut b = [0u8; 4];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut b)).is_ok() && &b == header::MAGIC
}

impl PstSource {
    /// Opens a PST/OST file: a clear error naming the file when it is not a
    /// PST, is truncated or has a bad checksum (unless `opts.recover`).
    pub fn open(path: &Path, opts: PstOptions) -> Result<Self> {
        let loc = || Location::path(path);
        let mut f = std::fs::File::open(path).map_err(|e| Error::io(loc(), e))?;
        let len = f.metadata().map_err(|e| Error::io(loc(), e))?.len();
        let mut head = Vec::with_capacity(HEADER_LEN);
        f.by_ref().take(HEADER_LEN as u64).read_to_end(&mut head).map_err(|e| Error::io(loc(), e))?;
        Self::finish_open(path.to_path_buf(), Backing::File(FileCache::new(f, len)), &head, len, &opts)
    }

    /// Reads a PST held in memory; `name` is used in locations.
    pub fn from_bytes(name: &Path, bytes: Vec<u8>, opts: PstOptions) -> Result<Self> {
        let len = bytes.len() as u64;
        let bytes: Arc<[u8]> = bytes.into();
        let head = bytes[..bytes.len().min(HEADER_LEN)].to_vec();
        Self::finish_open(name.to_path_buf(), Backing::Bytes(bytes), &head, len, &opts)
    }

    fn finish_open(
        path: PathBuf,
        backing: Backing,
        head: &[u8],
        len: u64,
        opts: &PstOptions,
    ) -> Result<Self> {
        let loc = Location::path(&path);
        let header = header::parse(head)
            .map_err(|e| Error::format(loc.clone(), format!("cannot read PST header: {e}")))?;
        if !header.crc_ok && !opts.recover {
            return Err(Error::format(
                loc,
                "cannot read PST header: checksum mismatch (the file is damaged)\nhint: `mailshift convert --recover` reads it anyway",
            ));
        }
        if header.file_eof > len && !opts.recover {
            return Err(Error::format(
                loc,
                format!(
                    "PST file is truncated: the header says {} bytes, the file has {len}\nhint: --recover reads what is there",
                    header.file_eof
                ),
            ));
        }
        let mut src = PstSource {
            path,
            backing,
            header,
            len,
            folders: Vec::new(),
            folder_errors: Vec::new(),
            password: false,
            recover: opts.recover,
            keywords_id: None,
            name: String::new(),
        };
        let ndb = src.ndb()?;
        let (store, _) = messaging::node_props(&ndb, messaging::NID_MESSAGE_STORE)
            .map_err(|e| Error::format(src.loc(), format!("cannot read the message store: {e}")))?;
        // PR_PST_PASSWORD is the CRC of a PST's password. OSTs hold
        // 0xFFFFFFFF there and cannot have one: not reported for them.
        src.password = &src.header.client != b"SO" && store.i32(tag::PST_PASSWORD).is_some_and(|p| p != 0);
        src.name = store.string(tag::DISPLAY_NAME, 0).unwrap_or_default();
        src.keywords_id = crate::named::find_name(&ndb, &crate::named::PS_PUBLIC_STRINGS, "Keywords");
        // The IPM subtree ("Top of Personal Folders"): from the store's entry
        // id, else (OSTs have none) `Root - Mailbox/IPM_SUBTREE`.
        let (top, mailbox_root) = match store.bytes(tag::IPM_SUBTREE).and_then(entry_id_nid) {
            Some(nid) => (nid, None),
            None => find_ipm_subtree(&ndb).map_or((messaging::NID_ROOT_FOLDER, None), |(t, r)| (t, Some(r))),
        };
        let roles = special_folders(&ndb, &store, top, mailbox_root);
        let mut errors = Vec::new();
        let tree = messaging::folder_tree(&ndb, top, &mut errors);
        src.folder_errors = errors;
        src.folders = tree
            .into_iter()
            .map(|node| {
                let path = match roles.get(&node.nid) {
                    Some(Role::Inbox) => FolderPath::inbox(),
                    Some(r) => FolderPath::with_role(node.path.clone(), Some(*r)),
                    None => FolderPath::new(node.path.clone()),
                };
                FolderEntry { node, path }
            })
            .collect();
        // Below a top-level folder that became INBOX, paths start with
        // `INBOX` too, so the tree stays one tree (`INBOX/sub1`).
        let inboxes: Vec<String> = src
            .folders
            .iter()
            .filter(|f| f.node.path.len() == 1 && f.path.is_inbox())
            .map(|f| f.node.path[0].clone())
            .collect();
        for f in &mut src.folders {
            if f.node.path.len() > 1 && inboxes.contains(&f.node.path[0]) {
                f.path.segments[0] = "INBOX".to_owned();
            }
        }
        Ok(src)
    }

    fn loc(&self) -> Location {
        Location::path(&self.path)
    }

    /// A fresh handle on the node database.
    pub(crate) fn ndb(&self) -> Result<Ndb> {
        let patched = header::normalised(&self.header);
        let reader: Box<dyn PstReader> = match &self.backing {
            Backing::File(cache) => Box::new(PatchedReader::new(cache.reader(), patched)),
            Backing::Bytes(b) => Box::new(PatchedReader::new(Cursor::new(Arc::clone(b)), patched)),
        };
        Ndb::open_backed(&self.header, reader, self.backing.clone(), self.len)
            .map_err(|e| Error::format(self.loc(), format!("cannot read the PST node database: {e}")))
    }

    /// Counts every item by kind, for `inspect`.
    pub fn inventory(&self) -> Result<Inventory> {
        let ndb = self.ndb()?;
        let mut inv = Inventory {
            encryption: self.header.encryption_name().to_owned(),
            unicode: self.header.format == Format::Unicode,
            ost: &self.header.client == b"SO",
            password_protected: self.password,
            name: self.name.clone(),
            folders: self.folders.len() as u64,
            ..Inventory::default()
        };
        for f in &self.folders {
            let Ok(rows) = messaging::folder_messages(&ndb, f.node.nid) else {
                continue;
            };
            for (nid, row) in rows {
                let class = match row.string(tag::MESSAGE_CLASS, 0) {
                    Some(c) => c,
                    None => match read_node_message(&ndb, nid) {
                        Ok(m) => m.class(),
                        Err(_) => {
                            inv.unreadable += 1;
                            continue;
                        }
                    },
                };
                let n = match ItemKind::of_class(&class) {
                    ItemKind::Mail => &mut inv.mail,
                    ItemKind::Contact => &mut inv.contacts,
                    ItemKind::DistList => &mut inv.distribution_lists,
                    ItemKind::Appointment => &mut inv.appointments,
                    ItemKind::Task => &mut inv.tasks,
                    ItemKind::Note => &mut inv.notes,
                    ItemKind::Journal => &mut inv.journal,
                    ItemKind::Other => &mut inv.other,
                };
                *n += 1;
            }
        }
        Ok(inv)
    }

    /// Calls `visit` for every item whose message class starts with
    /// `prefix` (case-insensitive; `IPM.Contact`, `IPM.DistList`,
    /// `IPM.Appointment`, ...). Unreadable items are skipped.
    pub fn items_of_class(&self, prefix: &str, visit: &mut dyn FnMut(PstItem)) -> Result<()> {
        let ndb = self.ndb()?;
        let prefix = prefix.to_ascii_lowercase();
        for f in &self.folders {
            let Ok(rows) = messaging::folder_messages(&ndb, f.node.nid) else { continue };
            for (nid, row) in rows {
                if let Some(c) = row.string(tag::MESSAGE_CLASS, 0) {
                    if !c.to_ascii_lowercase().starts_with(&prefix) {
                        continue;
                    }
                }
                let Ok(m) = read_node_message(&ndb, nid) else { continue };
                let class = m.class();
                if !class.to_ascii_lowercase().starts_with(&prefix) {
                    continue;
                }
                let codepage = m.codepage();
                visit(PstItem {
                    folder: f.path.clone(),
                    node: nid,
                    class,
                    properties: m.props,
                    recipients: m.recipients,
                    attachments: m.attachments,
                    codepage,
                });
            }
        }
        Ok(())
    }

    /// Message nodes (NID type 4) that no folder's contents table lists:
    /// deleted or orphaned items still present in the file.
    fn orphans(&self, ndb: &Ndb) -> Vec<u32> {
        let mut messages = Vec::new();
        let mut folders = Vec::new();
        let _ = ndb.walk_nodes(&mut |rec| match rec.nid & 0x1F {
            0x04 => messages.push(rec.nid),
            0x02 => folders.push(rec.nid),
            _ => {}
        });
        let mut listed = std::collections::HashSet::new();
        for f in folders {
            if let Ok(rows) = messaging::folder_messages(ndb, f) {
                listed.extend(rows.into_iter().map(|(nid, _)| nid));
            }
        }
        messages.retain(|m| !listed.contains(m));
        messages
    }

    /// The store's name-to-id map: what property ids 0x8000 and up in
    /// [`PstItem::properties`] mean (e.g. PSETID_Address 0x8083 = a
    /// contact's first e-mail address).
    pub fn named_properties(&self) -> Result<HashMap<u16, crate::NamedProperty>> {
        Ok(crate::named::read_map(&self.ndb()?))
    }

    /// Whether the store has a password (only a checksum; it was read anyway).
    pub fn password_protected(&self) -> bool {
        self.password
    }
}

fn read_node_message(ndb: &Ndb, nid: u32) -> std::io::Result<MapiMessage> {
    let rec = ndb.node(nid)?.ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::NotFound, "message node is not in the node B-tree")
    })?;
    messaging::read_message(ndb, NodeRef { data: rec.data, sub: rec.sub })
}

/// `IPM_SUBTREE` under a root folder's child other than `Root - Public`
/// (an OST's `Root - Mailbox`): (subtree, its parent).
fn find_ipm_subtree(ndb: &Ndb) -> Option<(u32, u32)> {
    let children = |nid: u32| messaging::node_table(ndb, (nid & !0x1F) | 0x0D).unwrap_or_default();
    let name = |row: &crate::ltp::Row| {
        row.props
            .string(tag::DISPLAY_NAME, 0)
            .or_else(|| {
                messaging::node_props(ndb, row.row_id).ok().and_then(|(p, _)| p.string(tag::DISPLAY_NAME, 0))
            })
            .unwrap_or_default()
    };
    for root in children(messaging::NID_ROOT_FOLDER) {
        if name(&root).eq_ignore_ascii_case("Root - Public") {
            continue;
        }
        if let Some(ipm) = children(root.row_id).iter().find(|r| name(r).eq_ignore_ascii_case("IPM_SUBTREE"))
        {
            return Some((ipm.row_id, root.row_id));
        }
    }
    None
}

/// Roles from the store's and root folders' special entry ids.
fn special_folders(ndb: &Ndb, store: &Props, top: u32, mailbox_root: Option<u32>) -> HashMap<u32, Role> {
    let mut roles = HashMap::new();
    for (t, role) in [
        (tag::IPM_WASTEBASKET, Role::Trash),
        (tag::IPM_SENTMAIL, Role::Sent),
        (tag::IPM_OUTBOX, Role::Outbox),
    ] {
        if let Some(nid) = store.bytes(t).and_then(entry_id_nid) {
            roles.insert(nid, role);
        }
    }
    for folder in [Some(messaging::NID_ROOT_FOLDER), Some(top), mailbox_root].into_iter().flatten() {
        let Ok((p, _)) = messaging::node_props(ndb, folder) else { continue };
        if let Some(nid) = p.bytes(tag::IPM_DRAFTS).and_then(entry_id_nid) {
            roles.entry(nid).or_insert(Role::Drafts);
        }
        if let Some(Value::Multi(v)) = p.get(tag::ADDITIONAL_REN) {
            if let Some(Value::Bin(b)) = v.get(4) {
                if let Some(nid) = entry_id_nid(b) {
                    roles.entry(nid).or_insert(Role::Junk);
                }
            }
        }
    }
    roles
}

fn is_mail_container(class: &str) -> bool {
    let c = class.to_ascii_lowercase();
    c.is_empty() || c.starts_with("ipf.note") || c == "ipf" || c.starts_with("ipf.imap")
}

/// A folder's bytes for the scheduler (biggest folders start first): the
/// sum of the contents table's PR_MESSAGE_SIZE where the table has it,
/// else a guess of 20 kB per message. A folder of a few messages with big
/// attachments must not start after folders of many small ones.
fn folder_bytes(rows: &[(u32, Props)], content_count: u32) -> u64 {
    const GUESS: u64 = 20_000;
    let count = (rows.len() as u64).max(u64::from(content_count));
    let sized: Vec<u64> = rows
        .iter()
        .filter_map(|(_, p)| p.i32(tag::MESSAGE_SIZE).and_then(|n| u64::try_from(n).ok()))
        .collect();
    let unsized_rows = count.saturating_sub(sized.len() as u64);
    sized.iter().sum::<u64>() + unsized_rows * GUESS
}

impl Source for PstSource {
    fn info(&self) -> SourceInfo {
        let variant = match (self.header.format, &self.header.client) {
            (_, b"SO") => "ost",
            (Format::Unicode, _) => "unicode",
            (Format::Ansi, _) => "ansi",
        };
        SourceInfo { format: "pst".into(), variant: Some(variant.into()), path: self.path.clone() }
    }

    fn units(&self, findings: &mut Vec<Finding>) -> Result<Vec<Unit>> {
        if self.password {
            findings.push(Finding::info(
                FindingKind::Protected,
                self.loc(),
                "the store has a password (only a checksum in the file); it was read without it",
            ));
        }
        for e in &self.folder_errors {
            findings.push(Finding::error(FindingKind::Unreadable, self.loc(), e.clone()));
        }
        let ndb = self.ndb()?;
        let mut units = Vec::new();
        for f in &self.folders {
            let rows = messaging::folder_messages(&ndb, f.node.nid).ok();
            // The top of the store maps to INBOX; it is a unit only when mail
            // was filed right there, so it does not double the real Inbox.
            if f.node.path.is_empty() && rows.as_ref().is_none_or(Vec::is_empty) {
                continue;
            }
            let rows = rows.unwrap_or_default();
            if !is_mail_container(&f.node.container_class) {
                // A contacts or calendar folder is a unit only if mail was filed there.
                let has_mail = rows.iter().any(|(_, p)| {
                    p.string(tag::MESSAGE_CLASS, 0).is_none_or(|c| ItemKind::of_class(&c) == ItemKind::Mail)
                });
                if !has_mail {
                    continue;
                }
            }
            units.push(Unit {
                folder: f.path.clone(),
                id: format!("{:#x}", f.node.nid),
                path: Some(self.path.clone()),
                bytes: folder_bytes(&rows, f.node.content_count),
            });
        }
        if self.recover {
            let orphans = self.orphans(&ndb);
            if !orphans.is_empty() {
                units.push(Unit {
                    folder: FolderPath::new(["Recovered"]),
                    id: RECOVERED_ID.to_owned(),
                    path: Some(self.path.clone()),
                    bytes: orphans.len() as u64 * 20_000,
                });
            }
        }
        Ok(units)
    }

    fn read_unit(&self, unit: &Unit, emit: Emit<'_>) -> Result<()> {
        if unit.id == RECOVERED_ID {
            let ndb = self.ndb()?;
            let rows = self.orphans(&ndb).into_iter().map(|nid| (nid, Props::default())).collect();
            let recovered = FolderEntry {
                node: FolderNode {
                    nid: 0,
                    path: vec!["Recovered".into()],
                    container_class: String::new(),
                    content_count: 0,
                },
                path: unit.folder.clone(),
            };
            return self.read_messages(&ndb, &recovered, rows, emit);
        }
        let folder = self
            .folders
            .iter()
            .find(|f| format!("{:#x}", f.node.nid) == unit.id)
            .ok_or_else(|| Error::format(self.loc(), format!("no folder with node id {}", unit.id)))?;
        let ndb = self.ndb()?;
        let floc = self.loc().with_folder(folder.path.key());
        let rows = messaging::folder_messages(&ndb, folder.node.nid)
            .map_err(|e| Error::format(floc, format!("cannot read the folder's contents table: {e}")))?;
        self.read_messages(&ndb, folder, rows, emit)
    }
}

impl PstSource {
    /// Emits the mail items among `rows` (node id, contents-table row).
    fn read_messages(
        &self,
        ndb: &Ndb,
        folder: &FolderEntry,
        rows: Vec<(u32, Props)>,
        emit: Emit<'_>,
    ) -> Result<()> {
        let floc = self.loc().with_folder(folder.path.key());
        for (nid, row) in rows {
            if let Some(c) = row.string(tag::MESSAGE_CLASS, 0) {
                if ItemKind::of_class(&c) != ItemKind::Mail {
                    continue;
                }
            }
            let loc = floc.clone().with_item(format!("node {nid:#x}"));
            let m = match read_node_message(ndb, nid) {
                Ok(m) => m,
                Err(e) => {
                    // Name the byte offset of the item's first block where it can be found.
                    let at =
                        ndb.node(nid).ok().flatten().and_then(|n| ndb.block_location(n.data).ok().flatten());
                    let loc = match at {
                        Some((offset, _)) => loc.with_offset(offset),
                        None => loc,
                    };
                    let f =
                        Finding::error(FindingKind::Unreadable, loc, format!("cannot read the item: {e}"));
                    if emit(Item::Skipped(f)).is_break() {
                        return Ok(());
                    }
                    continue;
                }
            };
            if ItemKind::of_class(&m.class()) != ItemKind::Mail {
                continue;
            }
            let message = Message::new(
                crate::mime::to_mime(&m),
                envelope(&m, &folder.path, loc.clone(), self.keywords_id),
            );
            let errors = m.errors.clone();
            if emit(Item::Message(message)) == ControlFlow::Break(()) {
                return Ok(());
            }
            for e in errors {
                let f = Finding::warning(
                    FindingKind::Malformed,
                    loc.clone(),
                    format!("part of the item was lost: {e}"),
                );
                if emit(Item::Finding(f)).is_break() {
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}

/// Flags, received date and origin from MAPI properties.
fn envelope(m: &MapiMessage, folder: &FolderPath, origin: Location, keywords_id: Option<u16>) -> Envelope {
    let p = &m.props;
    let msg_flags = p.i32(tag::MESSAGE_FLAGS).unwrap_or(0);
    let verb = p.i32(tag::LAST_VERB).unwrap_or(0);
    let mut flags = Flags {
        seen: msg_flags & 0x1 != 0,
        draft: msg_flags & 0x8 != 0,
        answered: verb == 102 || verb == 103,
        forwarded: verb == 104,
        flagged: p.i32(tag::FLAG_STATUS) == Some(2),
        ..Flags::default()
    };
    // Outlook categories become keywords; whitespace (which IMAP keywords
    // and Dovecot's keyword files cannot hold) becomes `_`.
    if let Some(Value::Multi(cats)) = keywords_id.and_then(|id| p.get(id)) {
        for c in cats {
            let name = match c {
                Value::Str(s) => s.clone(),
                Value::Str8(b) => crate::value::decode_8bit(b, m.codepage()),
                _ => continue,
            };
            let name: String = name.split_whitespace().collect::<Vec<_>>().join("_");
            flags.add_keyword(&name);
        }
    }
    let sent = folder.role == Some(Role::Sent);
    let (first, second) = if sent {
        (tag::CLIENT_SUBMIT_TIME, tag::DELIVERY_TIME)
    } else {
        (tag::DELIVERY_TIME, tag::CLIENT_SUBMIT_TIME)
    };
    let received = p.time(first).or_else(|| p.time(second)).and_then(filetime);
    Envelope { folder: folder.clone(), flags, received, sender: None, origin }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(props: &[(u16, u16, Value)]) -> MapiMessage {
        let mut m = MapiMessage::default();
        for (id, ty, v) in props {
            m.props.map.insert(*id, (*ty, v.clone()));
        }
        m
    }

    #[test]
    fn flags_dates_and_categories_from_mapi() {
        let m = message(&[
            (tag::MESSAGE_FLAGS, 0x0003, Value::I32(0x1)),
            (tag::LAST_VERB, 0x0003, Value::I32(104)),
            (tag::FLAG_STATUS, 0x0003, Value::I32(2)),
            (tag::DELIVERY_TIME, 0x0040, Value::Time(130_000_000_000_000_000)),
            (tag::CLIENT_SUBMIT_TIME, 0x0040, Value::Time(129_000_000_000_000_000)),
            (
                0x8123,
                0x101F,
                Value::Multi(vec![Value::Str("Red Category".into()), Value::Str("work".into())]),
            ),
        ]);
        let inbox = FolderPath::inbox();
        let e = envelope(&m, &inbox, Location::default(), Some(0x8123));
        assert!(e.flags.seen && e.flags.forwarded && e.flags.flagged && !e.flags.answered && !e.flags.draft);
        assert_eq!(
            e.flags.keywords.iter().map(String::as_str).collect::<Vec<_>>(),
            vec!["Red_Category", "work"]
        );
        assert_eq!(e.received, filetime(130_000_000_000_000_000));
        // In Sent Items the submit time is the date that counts.
        let sent = FolderPath::with_role(vec!["Sent Items".into()], Some(Role::Sent));
        assert_eq!(
            envelope(&m, &sent, Location::default(), None).received,
            filetime(129_000_000_000_000_000)
        );
        let draft = message(&[
            (tag::MESSAGE_FLAGS, 0x0003, Value::I32(0x8)),
            (tag::LAST_VERB, 0x0003, Value::I32(103)),
        ]);
        let e = envelope(&draft, &inbox, Location::default(), None);
        assert!(e.flags.draft && e.flags.answered && !e.flags.seen);
    }
}
