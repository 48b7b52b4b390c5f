//! The lists, tables and properties layer (MS-PST 2.3), written for mailshift:
//! heap-on-node (HN), BTree-on-heap (BTH), property contexts (PC) and table
//! contexts (TC).
//!
//! Why not `outlook-pst`'s own: it refuses nodes without a sub-node tree,
//! fails a whole table on one column of an unexpected size, stops reading a
//! property list at an unknown type (PtypObject), and sizes allocations from
//! counts in the file. Here every count is bounded by the bytes present, a
//! value of an unknown type is kept as raw bytes, and a bad value loses only
//! itself.

use std::collections::HashMap;
use std::io;

use crate::ndb::{Ndb, SubRec};
use crate::value::{decode_value, Value};

fn bad(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

pub(crate) fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Most bytes one node's data may hold (a message with its attachments is
/// read whole; Outlook caps a PST item far below this).
pub const NODE_LIMIT: u64 = 1 << 31;

/// A node's data and sub-nodes: what a PC or TC is read from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeRef {
    pub data: u64,
    pub sub: u64,
}

/// A node with its heap loaded and its sub-node tree indexed.
#[derive(Debug)]
pub struct Heap {
    /// The data blocks; each is one heap page.
    pages: Vec<Vec<u8>>,
    /// Client signature: 0xBC property context, 0x7C table context.
    pub client_sig: u8,
    pub user_root: u32,
    /// Sub-nodes by node id.
    pub subs: HashMap<u32, SubRec>,
}

impl Heap {
    /// Loads a node's heap (and its sub-node index).
    pub fn load(ndb: &Ndb, node: NodeRef) -> io::Result<Heap> {
        let pages = ndb.read_blocks(node.data, NODE_LIMIT)?;
        let first = pages.first().ok_or_else(|| bad("empty heap node"))?;
        if first.get(2) != Some(&0xEC) {
            return Err(bad(format!("not a heap-on-node (signature {:?})", first.get(2))));
        }
        let client_sig = first.get(3).copied().unwrap_or(0);
        let user_root = u32_at(first, 4).ok_or_else(|| bad("short heap header"))?;
        let subs = if node.sub == 0 {
            HashMap::new()
        } else {
            ndb.read_subnodes(node.sub)?.into_iter().map(|s| (s.nid, s)).collect()
        };
        Ok(Heap { pages, client_sig, user_root, subs })
    }

    /// The bytes of heap allocation `hid`, or `None` when it does not exist.
    pub fn get(&self, hid: u32) -> Option<&[u8]> {
        if hid & 0x1F != 0 {
            return None;
        }
        let index = ((hid >> 5) & 0x7FF) as usize;
        let page = self.pages.get((hid >> 16) as usize)?;
        let map = usize::from(u16_at(page, 0)?);
        let count = usize::from(u16_at(page, map)?);
        if index == 0 || index > count {
            return None;
        }
        let start = usize::from(u16_at(page, map + 4 + 2 * (index - 1))?);
        let end = usize::from(u16_at(page, map + 4 + 2 * index)?);
        page.get(start..end)
    }

    /// The value behind an HNID: a heap allocation or a sub-node's data.
    pub fn hnid(&self, ndb: &Ndb, hnid: u32) -> io::Result<Vec<u8>> {
        if hnid == 0 {
            return Ok(Vec::new());
        }
        if hnid & 0x1F == 0 {
            return self
                .get(hnid)
                .map(<[u8]>::to_vec)
                .ok_or_else(|| bad(format!("heap item {hnid:#x} does not exist")));
        }
        let sub = self.subs.get(&hnid).ok_or_else(|| bad(format!("sub-node {hnid:#x} is missing")))?;
        ndb.read_data(sub.data, NODE_LIMIT)
    }

    /// Every leaf record (key, data) of the BTH at `hid`.
    pub fn bth_records(&self, hid: u32) -> io::Result<(usize, Vec<Record<'_>>)> {
        let h = self.get(hid).ok_or_else(|| bad(format!("BTH header {hid:#x} missing")))?;
        if h.len() < 8 || h[0] != 0xB5 {
            return Err(bad("bad BTH header"));
        }
        let (cb_key, cb_ent, levels) = (usize::from(h[1]), usize::from(h[2]), usize::from(h[3]));
        let root = u32_at(h, 4).unwrap_or(0);
        let mut out = Vec::new();
        if root == 0 || cb_key == 0 {
            return Ok((cb_key, out));
        }
        let mut stack = vec![(root, levels)];
        // Each heap item is read once, so a loop or a shared leaf cannot
        // multiply the records.
        let mut visited = std::collections::HashSet::new();
        while let Some((hid, level)) = stack.pop() {
            if !visited.insert(hid) {
                continue;
            }
            let Some(data) = self.get(hid) else { continue };
            if level == 0 {
                for rec in data.chunks_exact(cb_key + cb_ent) {
                    out.push((&rec[..cb_key], &rec[cb_key..]));
                }
            } else if level < 8 {
                for rec in data.chunks_exact(cb_key + 4).rev() {
                    if let Some(next) = u32_at(rec, cb_key) {
                        stack.push((next, level - 1));
                    }
                }
            }
        }
        Ok((cb_key, out))
    }
}

/// One BTH leaf record: key bytes and data bytes.
pub type Record<'a> = (&'a [u8], &'a [u8]);

/// A property bag: values by property id, with their types.
#[derive(Debug, Clone, Default)]
pub struct Props {
    pub map: HashMap<u16, (u16, Value)>,
    /// Properties that could not be read: (tag, why).
    pub errors: Vec<(u32, String)>,
}

impl Props {
    pub fn get(&self, id: u16) -> Option<&Value> {
        self.map.get(&id).map(|(_, v)| v)
    }

    pub fn i32(&self, id: u16) -> Option<i32> {
        match self.get(id)? {
            Value::I32(v) => Some(*v),
            Value::I16(v) => Some(i32::from(*v)),
            Value::Bool(b) => Some(i32::from(*b)),
            Value::I64(v) => i32::try_from(*v).ok(),
            _ => None,
        }
    }

    pub fn bool(&self, id: u16) -> Option<bool> {
        match self.get(id)? {
            Value::Bool(b) => Some(*b),
            Value::I32(v) => Some(*v != 0),
            _ => None,
        }
    }

    pub fn time(&self, id: u16) -> Option<i64> {
        match self.get(id)? {
            Value::Time(t) | Value::I64(t) => Some(*t),
            _ => None,
        }
    }

    pub fn bytes(&self, id: u16) -> Option<&[u8]> {
        match self.get(id)? {
            Value::Bin(b) | Value::Str8(b) | Value::Other(_, b) => Some(b),
            _ => None,
        }
    }

    /// A string property, 8-bit ones decoded with `cp` (a Windows code page).
    pub fn string(&self, id: u16, cp: u32) -> Option<String> {
        match self.get(id)? {
            Value::Str(s) => Some(s.clone()),
            Value::Str8(b) => Some(crate::value::decode_8bit(b, cp)),
            _ => None,
        }
    }
}

/// Reads a property context (MS-PST 2.3.3).
pub fn read_pc(ndb: &Ndb, heap: &Heap) -> io::Result<Props> {
    let mut budget = Budget::new(ndb);
    if heap.client_sig != 0xBC {
        return Err(bad(format!("not a property context (client signature {:#x})", heap.client_sig)));
    }
    let (cb_key, recs) = heap.bth_records(heap.user_root)?;
    let mut props = Props::default();
    if cb_key != 2 {
        return Err(bad(format!("property context with {cb_key}-byte keys")));
    }
    for (key, data) in recs {
        let id = u16::from_le_bytes([key[0], key[1]]);
        let (Some(ty), Some(raw)) = (u16_at(data, 0), u32_at(data, 2)) else { continue };
        let tag = (u32::from(id) << 16) | u32::from(ty);
        let bytes = if is_inline_in_pc(ty) {
            raw.to_le_bytes().to_vec()
        } else if ty == 0x000D {
            // PtypObject: the HNID is the sub-node holding the object, or a
            // heap item whose first four bytes name it.
            let nid =
                if raw & 0x1F == 0 { heap.get(raw).and_then(|b| u32_at(b, 0)).unwrap_or(0) } else { raw };
            props.map.insert(id, (ty, Value::Object(nid)));
            continue;
        } else {
            match heap.hnid(ndb, raw) {
                Ok(b) => b,
                Err(e) => {
                    props.errors.push((tag, e.to_string()));
                    continue;
                }
            }
        };
        budget.spend(bytes.len())?;
        props.map.insert(id, (ty, decode_value(ty, &bytes)));
    }
    Ok(props)
}

/// The bytes one PC or TC may materialise: what the file could hold twice
/// over, so values that all point at the same big sub-node cannot multiply
/// it past memory.
struct Budget(u64);

impl Budget {
    fn new(ndb: &Ndb) -> Self {
        Budget(ndb.file_len.saturating_mul(2).saturating_add(1 << 20))
    }

    fn spend(&mut self, n: usize) -> io::Result<()> {
        self.0 = self
            .0
            .checked_sub(n as u64)
            .ok_or_else(|| bad("values larger than the file itself (shared or looping references)"))?;
        Ok(())
    }
}

/// Types whose value fits in the PC record itself.
fn is_inline_in_pc(ty: u16) -> bool {
    matches!(ty, 0x0002 | 0x0003 | 0x0004 | 0x000A | 0x000B)
}

/// One row of a table context: its row id and cells.
#[derive(Debug, Clone, Default)]
pub struct Row {
    pub row_id: u32,
    pub props: Props,
}

/// Reads every row of a table context (MS-PST 2.3.4). Columns of any size
/// are read as they are declared; a cell that cannot be read is left out.
pub fn read_tc(ndb: &Ndb, heap: &Heap) -> io::Result<Vec<Row>> {
    if heap.client_sig != 0x7C {
        return Err(bad(format!("not a table context (client signature {:#x})", heap.client_sig)));
    }
    let info = heap.get(heap.user_root).ok_or_else(|| bad("table info missing"))?;
    if info.len() < 22 || info[0] != 0x7C {
        return Err(bad("bad table info"));
    }
    let cols = usize::from(info[1]);
    let ceb_at = usize::from(u16_at(info, 6).unwrap_or(0));
    let row_size = usize::from(u16_at(info, 8).unwrap_or(0));
    let rows_hnid = u32_at(info, 14).unwrap_or(0);
    let mut columns = Vec::new();
    for c in 0..cols {
        let at = 22 + 8 * c;
        let Some(d) = info.get(at..at + 8) else { break };
        let tag = u32_at(d, 0).unwrap_or(0);
        columns.push((tag, usize::from(u16_at(d, 4).unwrap_or(0)), usize::from(d[6]), usize::from(d[7])));
    }
    if row_size == 0 || rows_hnid == 0 {
        return Ok(Vec::new());
    }
    // The row matrix: a heap item, or a sub-node whose blocks each hold
    // whole rows.
    let blocks: Vec<Vec<u8>> = if rows_hnid & 0x1F == 0 {
        vec![heap.get(rows_hnid).map(<[u8]>::to_vec).unwrap_or_default()]
    } else {
        let sub = heap.subs.get(&rows_hnid).ok_or_else(|| bad("row matrix sub-node missing"))?;
        ndb.read_blocks(sub.data, NODE_LIMIT)?
    };
    // The row id is the PidTagLtpRowId column wherever it is declared (it
    // is first in every table Outlook writes).
    let row_id_at = columns.iter().find(|c| c.0 == 0x67F2_0003).map_or(0, |c| c.1);
    let mut rows = Vec::new();
    let mut budget = Budget::new(ndb);
    for block in &blocks {
        for raw in block.chunks_exact(row_size) {
            let mut row = Row { row_id: u32_at(raw, row_id_at).unwrap_or(0), props: Props::default() };
            for &(tag, ib, cb, bit) in &columns {
                let present = raw.get(ceb_at + bit / 8).is_some_and(|b| b & (0x80 >> (bit % 8)) != 0);
                if !present {
                    continue;
                }
                let Some(cell) = raw.get(ib..ib + cb) else { continue };
                let ty = (tag & 0xFFFF) as u16;
                let id = (tag >> 16) as u16;
                let bytes = if is_fixed(ty) {
                    cell.to_vec()
                } else {
                    let Some(hnid) = u32_at(cell, 0) else { continue };
                    if ty == 0x000D {
                        row.props.map.insert(id, (ty, Value::Object(hnid)));
                        continue;
                    }
                    match heap.hnid(ndb, hnid) {
                        Ok(b) => b,
                        Err(e) => {
                            row.props.errors.push((tag, e.to_string()));
                            continue;
                        }
                    }
                };
                budget.spend(bytes.len() + 16)?;
                row.props.map.insert(id, (ty, decode_value(ty, &bytes)));
            }
            rows.push(row);
        }
    }
    Ok(rows)
}

/// Types stored in the row itself (up to 8 bytes).
fn is_fixed(ty: u16) -> bool {
    matches!(ty, 0x0002 | 0x0003 | 0x0004 | 0x0005 | 0x0006 | 0x0007 | 0x000A | 0x000B | 0x0014 | 0x0040)
}
