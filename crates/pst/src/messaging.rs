//! The messaging layer (MS-PST 2.4): the store, the folder tree, messages
//! with their recipient and attachment tables, embedded messages.

use std::collections::HashSet;
use std::io;

use crate::ltp::{read_pc, read_tc, u32_at, Heap, NodeRef, Props};
use crate::ndb::Ndb;
use crate::value::Value;

pub const NID_MESSAGE_STORE: u32 = 0x21;
pub const NID_ROOT_FOLDER: u32 = 0x122;
const NID_RECIPIENT_TABLE: u32 = 0x692;
const NID_ATTACHMENT_TABLE: u32 = 0x671;

/// Property ids used here and in [`crate::mime`].
pub mod tag {
    pub const MESSAGE_CLASS: u16 = 0x001A;
    pub const SUBJECT: u16 = 0x0037;
    pub const CLIENT_SUBMIT_TIME: u16 = 0x0039;
    pub const SENT_REPRESENTING_NAME: u16 = 0x0042;
    pub const SENT_REPRESENTING_EMAIL: u16 = 0x0065;
    pub const TRANSPORT_HEADERS: u16 = 0x007D;
    pub const RECIPIENT_TYPE: u16 = 0x0C15;
    pub const SENDER_NAME: u16 = 0x0C1A;
    pub const SENDER_EMAIL: u16 = 0x0C1F;
    pub const SENDER_ADDRTYPE: u16 = 0x0C1E;
    pub const SENDER_SMTP: u16 = 0x5D01;
    pub const SENT_REPRESENTING_SMTP: u16 = 0x5D02;
    pub const DELIVERY_TIME: u16 = 0x0E06;
    pub const MESSAGE_FLAGS: u16 = 0x0E07;
    pub const MESSAGE_SIZE: u16 = 0x0E08;
    pub const BODY: u16 = 0x1000;
    pub const RTF_COMPRESSED: u16 = 0x1009;
    pub const HTML: u16 = 0x1013;
    pub const INTERNET_MESSAGE_ID: u16 = 0x1035;
    pub const IN_REPLY_TO: u16 = 0x1042;
    pub const REFERENCES: u16 = 0x1039;
    pub const LAST_VERB: u16 = 0x1081;
    pub const FLAG_STATUS: u16 = 0x1090;
    pub const DISPLAY_NAME: u16 = 0x3001;
    pub const ADDRTYPE: u16 = 0x3002;
    pub const EMAIL_ADDRESS: u16 = 0x3003;
    pub const SMTP_ADDRESS: u16 = 0x39FE;
    pub const CONTENT_COUNT: u16 = 0x3602;
    pub const CONTAINER_CLASS: u16 = 0x3613;
    pub const ATTACH_DATA: u16 = 0x3701;
    pub const ATTACH_EXTENSION: u16 = 0x3703;
    pub const ATTACH_FILENAME: u16 = 0x3704;
    pub const ATTACH_METHOD: u16 = 0x3705;
    pub const ATTACH_LONG_FILENAME: u16 = 0x3707;
    pub const ATTACH_MIME_TAG: u16 = 0x370E;
    pub const ATTACH_CONTENT_ID: u16 = 0x3712;
    pub const ATTACH_FLAGS: u16 = 0x3714;
    pub const ATTACHMENT_HIDDEN: u16 = 0x7FFE;
    pub const INTERNET_CPID: u16 = 0x3FDE;
    pub const MESSAGE_CODEPAGE: u16 = 0x3FFD;
    pub const IPM_SUBTREE: u16 = 0x35E0;
    pub const IPM_OUTBOX: u16 = 0x35E2;
    pub const IPM_WASTEBASKET: u16 = 0x35E3;
    pub const IPM_SENTMAIL: u16 = 0x35E4;
    pub const IPM_DRAFTS: u16 = 0x36D7;
    pub const ADDITIONAL_REN: u16 = 0x36D8;
    pub const PST_PASSWORD: u16 = 0x67FF;
}

/// The node id named by a 24-byte entry id (flags, provider uid, nid).
pub fn entry_id_nid(b: &[u8]) -> Option<u32> {
    if b.len() < 24 {
        return None;
    }
    u32_at(b, 20)
}

/// Reads the property context of a node of the node B-tree.
pub fn node_props(ndb: &Ndb, nid: u32) -> io::Result<(Props, Heap)> {
    let rec = ndb
        .node(nid)?
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("node {nid:#x} is missing")))?;
    let heap = Heap::load(ndb, NodeRef { data: rec.data, sub: rec.sub })?;
    Ok((read_pc(ndb, &heap)?, heap))
}

/// Reads the table context stored in node `nid` of the node B-tree.
pub fn node_table(ndb: &Ndb, nid: u32) -> io::Result<Vec<crate::ltp::Row>> {
    let Some(rec) = ndb.node(nid)? else { return Ok(Vec::new()) };
    let heap = Heap::load(ndb, NodeRef { data: rec.data, sub: rec.sub })?;
    read_tc(ndb, &heap)
}

/// One folder of the tree.
#[derive(Debug, Clone)]
pub struct FolderNode {
    pub nid: u32,
    /// Names from below the IPM subtree.
    pub path: Vec<String>,
    pub container_class: String,
    pub content_count: u32,
}

/// Walks the folder tree from `top` (depth-first, in table order), `top`
/// first with an empty path. Folders
/// that cannot be read are returned in `errors`.
pub fn folder_tree(ndb: &Ndb, top: u32, errors: &mut Vec<String>) -> Vec<FolderNode> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut stack = vec![(top, Vec::<String>::new(), 0usize)];
    while let Some((nid, path, depth)) = stack.pop() {
        if depth > 64 || !seen.insert(nid) {
            continue;
        }
        {
            // The top folder itself is included (path empty): some stores
            // keep mail directly in it.
            match node_props(ndb, nid) {
                Ok((p, _)) => out.push(FolderNode {
                    nid,
                    path: path.clone(),
                    container_class: p.string(tag::CONTAINER_CLASS, 0).unwrap_or_default(),
                    content_count: p.i32(tag::CONTENT_COUNT).and_then(|c| u32::try_from(c).ok()).unwrap_or(0),
                }),
                Err(e) => {
                    errors.push(format!("folder node {nid:#x}: {e}"));
                    continue;
                }
            }
        }
        let children = match node_table(ndb, (nid & !0x1F) | 0x0D) {
            Ok(rows) => rows,
            Err(e) => {
                errors.push(format!("hierarchy table of folder {nid:#x}: {e}"));
                continue;
            }
        };
        for row in children.iter().rev() {
            let name = match row.props.string(tag::DISPLAY_NAME, 0) {
                Some(n) => n,
                None => node_props(ndb, row.row_id)
                    .ok()
                    .and_then(|(p, _)| p.string(tag::DISPLAY_NAME, 0))
                    .unwrap_or_else(|| format!("folder {:#x}", row.row_id)),
            };
            let mut child = path.clone();
            child.push(name);
            stack.push((row.row_id, child, depth + 1));
        }
    }
    out
}

/// The message node ids listed in a folder's contents table.
pub fn folder_messages(ndb: &Ndb, folder: u32) -> io::Result<Vec<(u32, Props)>> {
    Ok(node_table(ndb, (folder & !0x1F) | 0x0E)?.into_iter().map(|r| (r.row_id, r.props)).collect())
}

/// A message read from MAPI: properties, recipients, attachments.
#[derive(Debug, Clone, Default)]
pub struct MapiMessage {
    pub props: Props,
    pub recipients: Vec<Props>,
    pub attachments: Vec<Attachment>,
    /// Parts that could not be read (attachment 2: why), for findings.
    pub errors: Vec<String>,
}

/// One attachment.
#[derive(Debug, Clone, Default)]
pub struct Attachment {
    pub props: Props,
    /// The bytes of a by-value attachment (or an OLE object's storage).
    pub data: Option<Vec<u8>>,
    /// An embedded message (attach method 5).
    pub embedded: Option<Box<MapiMessage>>,
}

impl MapiMessage {
    pub fn class(&self) -> String {
        self.props.string(tag::MESSAGE_CLASS, 0).unwrap_or_default()
    }

    /// The message's code page for 8-bit strings.
    pub fn codepage(&self) -> u32 {
        self.props
            .i32(tag::MESSAGE_CODEPAGE)
            .or_else(|| self.props.i32(tag::INTERNET_CPID))
            .and_then(|c| u32::try_from(c).ok())
            .unwrap_or(0)
    }
}

/// Deepest chain of embedded messages followed.
const MAX_EMBED_DEPTH: usize = 8;

/// Reads the message whose PC is `node`. Damage to recipients or
/// attachments is recorded in `errors`; only an unreadable PC fails.
pub fn read_message(ndb: &Ndb, node: NodeRef) -> io::Result<MapiMessage> {
    let mut cost =
        Cost { parts_left: MAX_PARTS, bytes_left: ndb.file_len.saturating_mul(2).saturating_add(1 << 20) };
    read_message_at(ndb, node, 0, &mut cost)
}

/// What one message may still cost: attachments and attachment bytes.
struct Cost {
    parts_left: usize,
    bytes_left: u64,
}

/// Most attachments (at every depth) one message may have: Outlook's own
/// limit is far lower; this stops an attachment table whose rows all name
/// the same embedded message from multiplying at every level.
const MAX_PARTS: usize = 10_000;

fn read_message_at(ndb: &Ndb, node: NodeRef, depth: usize, cost: &mut Cost) -> io::Result<MapiMessage> {
    let heap = Heap::load(ndb, node)?;
    let props = read_pc(ndb, &heap)?;
    let mut msg = MapiMessage { props, ..MapiMessage::default() };
    for (tag, e) in &msg.props.errors {
        msg.errors.push(format!("property {tag:#010x}: {e}"));
    }
    if let Some(s) = heap.subs.get(&NID_RECIPIENT_TABLE) {
        match Heap::load(ndb, NodeRef { data: s.data, sub: s.sub }).and_then(|h| read_tc(ndb, &h)) {
            Ok(rows) => msg.recipients = rows.into_iter().map(|r| r.props).collect(),
            Err(e) => msg.errors.push(format!("recipient table: {e}")),
        }
    }
    if let Some(s) = heap.subs.get(&NID_ATTACHMENT_TABLE) {
        let rows = match Heap::load(ndb, NodeRef { data: s.data, sub: s.sub }).and_then(|h| read_tc(ndb, &h))
        {
            Ok(rows) => rows,
            Err(e) => {
                msg.errors.push(format!("attachment table: {e}"));
                Vec::new()
            }
        };
        for (i, row) in rows.iter().enumerate() {
            if cost.parts_left == 0 {
                msg.errors.push(format!("more than {MAX_PARTS} attachments in all; the rest were not read"));
                break;
            }
            cost.parts_left -= 1;
            match read_attachment(ndb, &heap, row.row_id, depth, cost) {
                Ok(a) => {
                    if a.data.is_none() && a.embedded.is_none() {
                        let method = a.props.i32(tag::ATTACH_METHOD).unwrap_or(0);
                        msg.errors.push(format!(
                            "attachment {} (node {:#x}, method {method}) has no data in the file; kept as an empty part",
                            i + 1,
                            row.row_id
                        ));
                    }
                    msg.attachments.push(a);
                }
                Err(e) => msg.errors.push(format!("attachment {} (node {:#x}): {e}", i + 1, row.row_id)),
            }
        }
    }
    Ok(msg)
}

fn read_attachment(
    ndb: &Ndb,
    msg_heap: &Heap,
    nid: u32,
    depth: usize,
    cost: &mut Cost,
) -> io::Result<Attachment> {
    let s = msg_heap
        .subs
        .get(&nid)
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "attachment sub-node missing"))?;
    let heap = Heap::load(ndb, NodeRef { data: s.data, sub: s.sub })?;
    let props = read_pc(ndb, &heap)?;
    let mut att = Attachment { props, ..Attachment::default() };
    match att.props.get(tag::ATTACH_DATA) {
        Some(Value::Bin(b)) => att.data = Some(b.clone()),
        Some(Value::Object(obj)) => {
            // The object lives in the attachment's own sub-node tree (the
            // parent's is only a fallback for odd writers).
            let sub = heap.subs.get(obj).or_else(|| msg_heap.subs.get(obj)).copied();
            let sub = sub.ok_or_else(|| io::Error::other(format!("attached object {obj:#x} is missing")))?;
            let method = att.props.i32(tag::ATTACH_METHOD).unwrap_or(0);
            if method == 5 && depth < MAX_EMBED_DEPTH {
                att.embedded = Some(Box::new(read_message_at(
                    ndb,
                    NodeRef { data: sub.data, sub: sub.sub },
                    depth + 1,
                    cost,
                )?));
            } else {
                att.data = Some(ndb.read_data(sub.data, crate::ltp::NODE_LIMIT)?);
            }
        }
        _ => {}
    }
    let size = att.data.as_ref().map_or(0, Vec::len) as u64;
    cost.bytes_left = cost
        .bytes_left
        .checked_sub(size)
        .ok_or_else(|| io::Error::other("attachments larger than the file itself (shared references)"))?;
    Ok(att)
}

/// What kind of item a message class names, as `inspect` counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    Mail,
    Contact,
    DistList,
    Appointment,
    Task,
    Note,
    Journal,
    Other,
}

impl ItemKind {
    pub fn of_class(class: &str) -> ItemKind {
        let c = class.to_ascii_lowercase();
        let is = |p: &str| c == p || c.starts_with(&format!("{p}."));
        if c.is_empty()
            || is("ipm.note")
            || is("ipm.post")
            || is("ipm.schedule.meeting")
            || c.starts_with("report.")
            || c == "ipm"
            || is("ipm.outlook.recall")
            || is("ipm.recall")
            || is("ipm.sharing")
        {
            ItemKind::Mail
        } else if is("ipm.contact") {
            ItemKind::Contact
        } else if is("ipm.distlist") {
            ItemKind::DistList
        } else if is("ipm.appointment") {
            ItemKind::Appointment
        } else if is("ipm.task") || is("ipm.taskrequest") {
            ItemKind::Task
        } else if is("ipm.stickynote") {
            ItemKind::Note
        } else if is("ipm.activity") {
            ItemKind::Journal
        } else {
            ItemKind::Other
        }
    }
}
