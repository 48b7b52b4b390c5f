//! The node database (MS-PST 2.2): nodes, blocks, data trees and sub-node
//! trees, read through `outlook-pst`'s NDB types (header, page and block
//! parsing, decoding of permute/cyclic encryption).
//!
//! What is ours: the B-tree descent (a depth limit, so a page that points at
//! itself cannot recurse forever), the walk over every node, and bounds on
//! every data tree (the bytes of one node never exceed the file's size, so a
//! block referenced a million times cannot exhaust memory).

// The same code serves ANSI (u32 offsets) and Unicode (u64): `.into()` is
// needed for one and a no-op for the other.
#![allow(clippy::useless_conversion)]

use std::io;

use outlook_pst::ndb::block::{
    AnsiDataTree, AnsiSubNodeTree, Block, IntermediateDataTreeEntry, IntermediateTreeBlock, UnicodeDataTree,
    UnicodeSubNodeTree,
};
use outlook_pst::ndb::block_id::BlockId;
use outlook_pst::ndb::block_ref::BlockRef;
use outlook_pst::ndb::byte_index::ByteIndex;
use outlook_pst::ndb::header::Header as _;

use outlook_pst::ndb::page::{
    AnsiBlockBTree, AnsiBlockBTreeEntry, AnsiNodeBTree, BTreeEntry, BTreePage, BTreePageEntry,
    BlockBTreeEntry, NodeBTreeEntry, UnicodeBlockBTree, UnicodeBlockBTreeEntry, UnicodeNodeBTree,
};
use outlook_pst::ndb::root::Root;
use outlook_pst::{AnsiPstFile, PstFile, PstReader, UnicodePstFile};

use crate::header::{Format, Header};

/// Deepest B-tree, data tree or sub-node tree followed.
const MAX_DEPTH: usize = 12;

/// One node of the node B-tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeRec {
    pub nid: u32,
    pub data: u64,
    pub sub: u64,
    pub parent: u32,
}

/// One entry of a sub-node tree (nodes private to a message or folder).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubRec {
    pub nid: u32,
    pub data: u64,
    pub sub: u64,
}

fn bad(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

/// Reads the node database of one file, ANSI or Unicode.
pub struct Ndb {
    inner: Inner,
    /// The file's size: no node's data can legitimately be larger.
    pub file_len: u64,
}

enum Inner {
    Unicode(Box<UnicodePstFile>, Memo<UnicodeBlockBTreeEntry>),
    Ansi(Box<AnsiPstFile>, Memo<AnsiBlockBTreeEntry>),
}

/// Block B-tree entries already looked up, by block id. Each lookup
/// descends the tree from its root, reading and checksumming two or three
/// pages, and a message needs several (its data, its sub-nodes, each
/// attachment's), some of them twice (the contents table, then the item).
/// Cleared when full: bounded memory, and a re-lookup is only slower.
type Memo<E> = std::cell::RefCell<std::collections::HashMap<u64, E>>;

/// Entries kept in a [`Memo`] (about 1.5 MiB of them).
const MEMO_MAX: usize = 65_536;

/// `find`'s answer for `key`, from the memo when it was asked before.
fn memoized<E: Copy>(
    memo: &Memo<E>,
    key: u64,
    find: impl FnOnce() -> io::Result<Option<E>>,
) -> io::Result<Option<E>> {
    if let Some(e) = memo.borrow().get(&key) {
        return Ok(Some(*e));
    }
    let found = find()?;
    if let Some(e) = found {
        let mut m = memo.borrow_mut();
        if m.len() >= MEMO_MAX {
            m.clear();
        }
        m.insert(key, e);
    }
    Ok(found)
}

impl std::fmt::Debug for Ndb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.inner {
            Inner::Unicode(..) => "Ndb::Unicode",
            Inner::Ansi(..) => "Ndb::Ansi",
        })
    }
}

macro_rules! with_variant {
    ($self:ident, $pst:ident, $memo:ident, $bbt:ident, $nbt:ident, $dt:ident, $snt:ident, $key:ty, $body:block) => {
        match &$self.inner {
            Inner::Unicode($pst, $memo) => {
                #[allow(dead_code)]
                type $bbt = UnicodeBlockBTree;
                #[allow(dead_code)]
                type $nbt = UnicodeNodeBTree;
                #[allow(dead_code)]
                type $dt = UnicodeDataTree;
                #[allow(dead_code)]
                type $snt = UnicodeSubNodeTree;
                #[allow(dead_code)]
                type Key = u64;
                #[allow(dead_code)]
                const UNICODE: bool = true;
                let _ = &$memo;
                $body
            }
            Inner::Ansi($pst, $memo) => {
                #[allow(dead_code)]
                type $bbt = AnsiBlockBTree;
                #[allow(dead_code)]
                type $nbt = AnsiNodeBTree;
                #[allow(dead_code)]
                type $dt = AnsiDataTree;
                #[allow(dead_code)]
                type $snt = AnsiSubNodeTree;
                #[allow(dead_code)]
                type Key = u32;
                #[allow(dead_code)]
                const UNICODE: bool = false;
                let _ = &$memo;
                $body
            }
        }
    };
}

impl Ndb {
    /// Opens the database behind `reader`, whose header was checked (and
    /// normalised) by [`crate::header`].
    pub fn open(header: &Header, reader: Box<dyn PstReader>, file_len: u64) -> io::Result<Ndb> {
        let inner = match header.format {
            Format::Unicode => Inner::Unicode(Box::new(UnicodePstFile::read_from(reader)?), Memo::default()),
            Format::Ansi => Inner::Ansi(Box::new(AnsiPstFile::read_from(reader)?), Memo::default()),
        };
        Ok(Ndb { inner, file_len })
    }

    /// Finds a node in the node B-tree.
    pub fn node(&self, nid: u32) -> io::Result<Option<NodeRec>> {
        with_variant!(self, pst, memo, Bbt, Nbt, Dt, Snt, Key, {
            let mut guard = pst.reader().lock().map_err(|_| bad("reader lock poisoned"))?;
            let f = &mut *guard;
            let mut page_ref = *pst.header().root().node_btree();
            let key = u64::from(nid);
            for _ in 0..MAX_DEPTH {
                match Nbt::read(f, page_ref)? {
                    Nbt::Intermediate(page, ..) => {
                        let entries = page.entries();
                        let i = entries.partition_point(|e| Into::<u64>::into(e.key()) <= key);
                        let Some(e) = i.checked_sub(1).and_then(|i| entries.get(i)) else {
                            return Ok(None);
                        };
                        page_ref = e.block();
                    }
                    Nbt::Leaf(page) => {
                        return Ok(page
                            .entries()
                            .iter()
                            .find(|e| u64::from(u32::from(e.node())) == key)
                            .map(|e| NodeRec {
                                nid: u32::from(e.node()),
                                data: e.data().into_u64(),
                                sub: e.sub_node().map_or(0, BlockId::into_u64),
                                parent: e.parent().map_or(0, u32::from),
                            }));
                    }
                }
            }
            Err(bad("node B-tree deeper than 12 levels (a loop?)"))
        })
    }

    /// Calls `visit` for every node of the node B-tree, in key order.
    /// Unreadable pages are skipped and counted in the result.
    pub fn walk_nodes(&self, visit: &mut dyn FnMut(NodeRec)) -> io::Result<usize> {
        with_variant!(self, pst, memo, Bbt, Nbt, Dt, Snt, Key, {
            let mut guard = pst.reader().lock().map_err(|_| bad("reader lock poisoned"))?;
            let f = &mut *guard;
            let root = *pst.header().root().node_btree();
            let mut bad_pages = 0usize;
            let mut stack = vec![(root, 0usize)];
            let mut seen = std::collections::HashSet::new();
            while let Some((page_ref, depth)) = stack.pop() {
                let at: u64 = page_ref.index().index().into();
                if depth > MAX_DEPTH || !seen.insert(at) {
                    bad_pages += 1;
                    continue;
                }
                match Nbt::read(f, page_ref) {
                    Ok(Nbt::Intermediate(page, ..)) => {
                        for e in page.entries().iter().rev() {
                            stack.push((e.block(), depth + 1));
                        }
                    }
                    Ok(Nbt::Leaf(page)) => {
                        for e in page.entries() {
                            visit(NodeRec {
                                nid: u32::from(e.node()),
                                data: e.data().into_u64(),
                                sub: e.sub_node().map_or(0, BlockId::into_u64),
                                parent: e.parent().map_or(0, u32::from),
                            });
                        }
                    }
                    Err(_) => bad_pages += 1,
                }
            }
            Ok(bad_pages)
        })
    }

    /// Reads the whole data tree of `bid` (a data block, or an XBLOCK /
    /// XXBLOCK of them), at most `limit` bytes.
    pub fn read_data(&self, bid: u64, limit: u64) -> io::Result<Vec<u8>> {
        Ok(self.read_blocks(bid, limit)?.concat())
    }

    /// The data blocks of `bid`'s data tree, in order (each block is one
    /// heap page for the LTP layer), at most `limit` bytes in all.
    pub fn read_blocks(&self, bid: u64, limit: u64) -> io::Result<Vec<Vec<u8>>> {
        if bid == 0 {
            return Ok(Vec::new());
        }
        let limit = limit.min(self.file_len);
        with_variant!(self, pst, memo, Bbt, Nbt, Dt, Snt, Key, {
            let mut guard = pst.reader().lock().map_err(|_| bad("reader lock poisoned"))?;
            let f = &mut *guard;
            let bbt_ref = *pst.header().root().block_btree();
            let crypt = pst.header().crypt_method();
            let mut out: Vec<Vec<u8>> = Vec::new();
            let mut total = 0u64;
            let mut stack = vec![(bid, 0usize)];
            while let Some((bid, depth)) = stack.pop() {
                if depth > 2 {
                    return Err(bad(format!("data tree of block {bid:#x} is deeper than XXBLOCK")));
                }
                let key = Key::try_from(bid & !1).map_err(|_| bad("block id out of range"))?;
                let entry = memoized(memo, u64::from(key), || find_block::<Bbt, _>(f, bbt_ref, key))?
                    .ok_or_else(|| bad(format!("block {bid:#x} is not in the block B-tree")))?;
                let at: u64 = entry.block().index().index().into();
                check_block(
                    f,
                    at,
                    entry.size(),
                    UNICODE,
                    BlockKind::Data { internal: entry.block().block().is_internal() },
                )?;
                match Dt::read(f, crypt, &entry)? {
                    Dt::Intermediate(block) => {
                        for e in block.entries().iter().rev() {
                            stack.push((e.block().into_u64(), depth + 1));
                        }
                    }
                    Dt::Leaf(block) => {
                        let data = block.data();
                        total += data.len() as u64;
                        if total > limit {
                            return Err(bad(format!(
                                "data tree of block {bid:#x} is larger than {limit} bytes"
                            )));
                        }
                        out.push(data.to_vec());
                    }
                }
            }
            Ok(out)
        })
    }

    /// Where block `bid` is in the file and its size (for reports and
    /// tests that damage one block).
    pub fn block_location(&self, bid: u64) -> io::Result<Option<(u64, u16)>> {
        with_variant!(self, pst, memo, Bbt, Nbt, Dt, Snt, Key, {
            let mut guard = pst.reader().lock().map_err(|_| bad("reader lock poisoned"))?;
            let f = &mut *guard;
            let bbt_ref = *pst.header().root().block_btree();
            let key = Key::try_from(bid & !1).map_err(|_| bad("block id out of range"))?;
            Ok(memoized(memo, u64::from(key), || find_block::<Bbt, _>(f, bbt_ref, key))?
                .map(|e| (e.block().index().index().into(), e.size())))
        })
    }

    /// Reads the sub-node tree rooted at `bid`.
    pub fn read_subnodes(&self, bid: u64) -> io::Result<Vec<SubRec>> {
        let mut out = Vec::new();
        if bid == 0 {
            return Ok(out);
        }
        with_variant!(self, pst, memo, Bbt, Nbt, Dt, Snt, Key, {
            let mut guard = pst.reader().lock().map_err(|_| bad("reader lock poisoned"))?;
            let f = &mut *guard;
            let bbt_ref = *pst.header().root().block_btree();
            let mut stack = vec![(bid, 0usize)];
            let mut seen = std::collections::HashSet::new();
            while let Some((bid, depth)) = stack.pop() {
                if !seen.insert(bid) {
                    continue;
                }
                if depth > 2 {
                    return Err(bad(format!("sub-node tree at block {bid:#x} is too deep or loops")));
                }
                let key = Key::try_from(bid & !1).map_err(|_| bad("block id out of range"))?;
                let entry = memoized(memo, u64::from(key), || find_block::<Bbt, _>(f, bbt_ref, key))?
                    .ok_or_else(|| bad(format!("sub-node block {bid:#x} is not in the block B-tree")))?;
                let at: u64 = entry.block().index().index().into();
                check_block(f, at, entry.size(), UNICODE, BlockKind::SubNode)?;
                match Snt::read(f, &entry)? {
                    Snt::Intermediate(block) => {
                        for e in block.entries().iter().rev() {
                            stack.push((e.block().into_u64(), depth + 1));
                        }
                    }
                    Snt::Leaf(block) => {
                        for e in block.entries() {
                            out.push(SubRec {
                                nid: u32::from(e.node()),
                                data: e.block().into_u64(),
                                sub: e.sub_node().map_or(0, BlockId::into_u64),
                            });
                        }
                    }
                }
            }
            Ok(out)
        })
    }
}

/// What a block is expected to hold.
#[derive(Debug, Clone, Copy)]
enum BlockKind {
    Data { internal: bool },
    SubNode,
}

/// Checks a block's size and (for XBLOCKs and sub-node blocks) its entry
/// count against what the block holds, before `outlook-pst` reads it: the
/// crate asserts on sizes above 8 KiB and multiplies the count in 16 bits,
/// which would panic (or wrap) on a damaged file.
fn check_block(
    f: &mut Box<dyn PstReader>,
    at: u64,
    size: u16,
    unicode: bool,
    kind: BlockKind,
) -> io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let trailer: u32 = if unicode { 16 } else { 12 };
    if size == 0 || u32::from(size) + trailer > 8192 {
        return Err(bad(format!("block at byte {at} has an impossible size {size}")));
    }
    let (header, entry): (u32, fn(u8) -> u32) = match kind {
        BlockKind::Data { internal: false } => return Ok(()),
        BlockKind::Data { internal: true } => (8, if unicode { |_| 8 } else { |_| 4 }),
        BlockKind::SubNode if unicode => (8, |level| if level == 0 { 24 } else { 16 }),
        BlockKind::SubNode => (4, |level| if level == 0 { 12 } else { 8 }),
    };
    let mut h = [0u8; 4];
    f.seek(SeekFrom::Start(at))?;
    f.read_exact(&mut h)?;
    let count = u32::from(u16::from_le_bytes([h[2], h[3]]));
    if u32::from(size) < header || count * entry(h[1]) > u32::from(size) - header {
        return Err(bad(format!("block at byte {at}: {count} entries do not fit in {size} bytes")));
    }
    Ok(())
}

/// Descends the block B-tree to the entry for `key`, at most [`MAX_DEPTH`]
/// pages deep.
fn find_block<T, K>(
    f: &mut Box<dyn PstReader>,
    mut page_ref: <<T as outlook_pst::ndb::page::RootBTree>::Pst as PstFile>::PageRef,
    key: K,
) -> io::Result<Option<<T as outlook_pst::ndb::page::RootBTree>::Entry>>
where
    T: BbtOps<K>,
{
    T::find(f, &mut page_ref, key)
}

/// The block B-tree lookup, for both layouts (ANSI and Unicode).
pub trait BbtOps<K>: outlook_pst::ndb::page::RootBTree + Sized {
    fn find(
        f: &mut Box<dyn PstReader>,
        page_ref: &mut <<Self as outlook_pst::ndb::page::RootBTree>::Pst as PstFile>::PageRef,
        key: K,
    ) -> io::Result<Option<<Self as outlook_pst::ndb::page::RootBTree>::Entry>>;
}

macro_rules! bbt_ops {
    ($bbt:ident, $key:ty) => {
        impl BbtOps<$key> for $bbt {
            fn find(
                f: &mut Box<dyn PstReader>,
                page_ref: &mut <<Self as outlook_pst::ndb::page::RootBTree>::Pst as PstFile>::PageRef,
                key: $key,
            ) -> io::Result<Option<<Self as outlook_pst::ndb::page::RootBTree>::Entry>> {
                for _ in 0..MAX_DEPTH {
                    match $bbt::read(f, *page_ref)? {
                        $bbt::Intermediate(page, ..) => {
                            let entries = page.entries();
                            let i = entries.partition_point(|e| e.key() <= key);
                            let Some(e) = i.checked_sub(1).and_then(|i| entries.get(i)) else {
                                return Ok(None);
                            };
                            *page_ref = e.block();
                        }
                        $bbt::Leaf(page) => {
                            return Ok(page.entries().iter().find(|e| e.key() == key).copied());
                        }
                    }
                }
                Err(bad("block B-tree deeper than 12 levels (a loop?)"))
            }
        }
    };
}

bbt_ops!(UnicodeBlockBTree, u64);
bbt_ops!(AnsiBlockBTree, u32);

#[cfg(test)]
mod tests {
    use super::*;

    fn block(bytes: &[u8]) -> Box<dyn PstReader> {
        Box::new(std::io::Cursor::new(bytes.to_vec()))
    }

    /// Regression (fuzzing): an XBLOCK or sub-node block claiming 0xFFFF
    /// entries made `outlook-pst` overflow a 16-bit multiplication.
    #[test]
    fn entry_counts_beyond_the_block_are_refused() {
        let mut f = block(&[0x02, 0x00, 0xFF, 0xFF, 0, 0, 0, 0]);
        assert!(check_block(&mut f, 0, 64, true, BlockKind::SubNode).is_err());
        let mut f = block(&[0x01, 0x01, 0xFF, 0xFF, 0, 0, 0, 0]);
        assert!(check_block(&mut f, 0, 64, false, BlockKind::Data { internal: true }).is_err());
        let mut f = block(&[0x01, 0x01, 0x02, 0x00, 0, 0, 0, 0]);
        assert!(check_block(&mut f, 0, 24, true, BlockKind::Data { internal: true }).is_ok());
    }

    /// `outlook-pst` asserts on block sizes above 8 KiB.
    #[test]
    fn impossible_sizes_are_refused() {
        let mut f = block(&[0u8; 8]);
        assert!(check_block(&mut f, 0, 0, true, BlockKind::Data { internal: false }).is_err());
        assert!(check_block(&mut f, 0, 8180, true, BlockKind::Data { internal: false }).is_err());
        assert!(check_block(&mut f, 0, 8176, true, BlockKind::Data { internal: false }).is_ok());
        assert!(check_block(&mut f, 0, 2, true, BlockKind::SubNode).is_err());
    }
}
