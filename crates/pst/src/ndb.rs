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
use outlook_pst::ndb::block_ref::{AnsiPageRef, BlockRef, UnicodePageRef};
use outlook_pst::ndb::byte_index::ByteIndex;
use outlook_pst::ndb::header::Header as _;

use outlook_pst::ndb::page::{
    AnsiBlockBTree, AnsiBlockBTreeEntry, AnsiNodeBTree, BTreeEntry, BTreePage, BTreePageEntry,
    BlockBTreeEntry, NodeBTreeEntry, UnicodeBlockBTree, UnicodeBlockBTreeEntry, UnicodeNodeBTree,
};
use outlook_pst::ndb::root::Root;
use outlook_pst::{AnsiPstFile, PstFile, PstReader, UnicodePstFile};

use crate::cache::Backing;
use crate::header::{pst_crc, Format, Header};

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
    /// The file's bytes, for reading data blocks without `outlook-pst`.
    raw: Backing,
    /// How data blocks are decoded when read here; `None` (cyclic
    /// encryption) leaves them to `outlook-pst`.
    decode: Option<Decode>,
}

/// How a data block's bytes are stored (bCryptMethod).
#[derive(Debug, Clone, Copy)]
enum Decode {
    /// NDB_CRYPT_NONE.
    Plain,
    /// NDB_CRYPT_PERMUTE: each byte through a table.
    Permute(&'static [u8; 256]),
}

enum Inner {
    Unicode(Box<UnicodePstFile>, Caches<UnicodePageRef, UnicodeBlockBTreeEntry>),
    Ansi(Box<AnsiPstFile>, Caches<AnsiPageRef, AnsiBlockBTreeEntry>),
}

/// Block B-tree entries already looked up, by block id. Each lookup
/// descends the tree from its root, reading and checksumming two or three
/// pages, and a message needs several (its data, its sub-nodes, each
/// attachment's), some of them twice (the contents table, then the item).
/// Cleared when full: bounded memory, and a re-lookup is only slower.
type Memo<E> = std::cell::RefCell<std::collections::HashMap<u64, E>>;

/// Entries kept in a [`Memo`] (about 1.5 MiB of them).
const MEMO_MAX: usize = 65_536;

/// What one handle keeps of the B-trees it descended: `R` is a page
/// reference, `E` a block B-tree entry.
struct Caches<R, E> {
    /// Block B-tree lookups by block id.
    blocks: Memo<E>,
    /// Block B-tree pages, parsed.
    bbt: Pages<R, E>,
    /// Node B-tree pages, parsed.
    nbt: Pages<R, NodeRec>,
}

impl<R, E> Default for Caches<R, E> {
    fn default() -> Self {
        Caches { blocks: Memo::default(), bbt: Pages::default(), nbt: Pages::default() }
    }
}

/// A B-tree page as read and checked by `outlook-pst` (page type, entry
/// counts and sizes, CRC), reduced to what a descent needs: the keys and
/// children of an intermediate page, or a leaf's entries.
pub(crate) enum Page<R, E> {
    Intermediate(Vec<(u64, R)>),
    Leaf(Vec<E>),
}

/// Pages by (page id, byte offset): every lookup descends from the root,
/// so the root and the pages below it were read, checksummed and parsed
/// again for each block of each message (10% of a conversion). Cleared
/// when full, like a [`Memo`].
pub(crate) type Pages<R, E> =
    std::cell::RefCell<std::collections::HashMap<(u64, u64), std::rc::Rc<Page<R, E>>>>;

/// Pages kept in [`Pages`] (about 4 MiB at most).
const PAGES_MAX: usize = 4096;

/// The page at `at`, parsed by `read` unless it was before.
fn cached_page<R, E>(
    pages: &Pages<R, E>,
    at: (u64, u64),
    read: impl FnOnce() -> io::Result<Page<R, E>>,
) -> io::Result<std::rc::Rc<Page<R, E>>> {
    if let Some(p) = pages.borrow().get(&at) {
        return Ok(std::rc::Rc::clone(p));
    }
    let page = std::rc::Rc::new(read()?);
    let mut m = pages.borrow_mut();
    if m.len() >= PAGES_MAX {
        m.clear();
    }
    m.insert(at, std::rc::Rc::clone(&page));
    Ok(page)
}

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
    /// normalised) by [`crate::header`]. Every block is read through
    /// `outlook-pst`; [`crate::PstSource`] opens its handles with
    /// the file's bytes as well, for the faster data block reads.
    pub fn open(header: &Header, reader: Box<dyn PstReader>, file_len: u64) -> io::Result<Ndb> {
        let mut ndb = Self::open_backed(header, reader, Backing::Bytes(Vec::new().into()), file_len)?;
        ndb.decode = None;
        Ok(ndb)
    }

    /// [`Ndb::open`] where `raw` holds the same bytes as `reader` (less the
    /// header patch): data blocks are read from there
    /// ([`Ndb::read_blocks`]), except with cyclic encryption.
    pub(crate) fn open_backed(
        header: &Header,
        reader: Box<dyn PstReader>,
        raw: Backing,
        file_len: u64,
    ) -> io::Result<Ndb> {
        let inner = match header.format {
            Format::Unicode => {
                Inner::Unicode(Box::new(UnicodePstFile::read_from(reader)?), Caches::default())
            }
            Format::Ansi => Inner::Ansi(Box::new(AnsiPstFile::read_from(reader)?), Caches::default()),
        };
        let decode = match header.crypt {
            0 => Some(Decode::Plain),
            1 => permute_table().map(Decode::Permute),
            _ => None,
        };
        Ok(Ndb { inner, file_len, raw, decode })
    }

    /// Finds a node in the node B-tree.
    pub fn node(&self, nid: u32) -> io::Result<Option<NodeRec>> {
        with_variant!(self, pst, memo, Bbt, Nbt, Dt, Snt, Key, {
            let mut guard = pst.reader().lock().map_err(|_| bad("reader lock poisoned"))?;
            let f = &mut *guard;
            let mut page_ref = *pst.header().root().node_btree();
            let key = u64::from(nid);
            for _ in 0..MAX_DEPTH {
                let at = (page_ref.block().into_u64(), page_ref.index().index().into());
                let page = cached_page(&memo.nbt, at, || {
                    Ok(match Nbt::read(f, page_ref)? {
                        Nbt::Intermediate(page, ..) => Page::Intermediate(
                            page.entries().iter().map(|e| (e.key().into(), e.block())).collect(),
                        ),
                        Nbt::Leaf(page) => Page::Leaf(
                            page.entries()
                                .iter()
                                .map(|e| NodeRec {
                                    nid: u32::from(e.node()),
                                    data: e.data().into_u64(),
                                    sub: e.sub_node().map_or(0, BlockId::into_u64),
                                    parent: e.parent().map_or(0, u32::from),
                                })
                                .collect(),
                        ),
                    })
                })?;
                match &*page {
                    Page::Intermediate(entries) => {
                        let i = entries.partition_point(|(k, _)| *k <= key);
                        let Some((_, child)) = i.checked_sub(1).and_then(|i| entries.get(i)) else {
                            return Ok(None);
                        };
                        page_ref = *child;
                    }
                    Page::Leaf(entries) => {
                        return Ok(entries.iter().find(|e| u64::from(e.nid) == key).copied());
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
        let mut blocks = self.read_blocks(bid, limit)?;
        // Most nodes are one block: no copy then.
        Ok(if blocks.len() == 1 { blocks.swap_remove(0) } else { blocks.concat() })
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
                let entry = memoized(&memo.blocks, u64::from(key), || {
                    find_block::<Bbt, _>(f, bbt_ref, key, &memo.bbt)
                })?
                .ok_or_else(|| bad(format!("block {bid:#x} is not in the block B-tree")))?;
                let at: u64 = entry.block().index().index().into();
                let internal = entry.block().block().is_internal();
                check_block(f, at, entry.size(), UNICODE, BlockKind::Data { internal })?;
                if let (false, Some(decode)) = (internal, self.decode) {
                    let data = read_leaf(&self.raw, at, entry.size(), UNICODE, decode)?;
                    total += data.len() as u64;
                    if total > limit {
                        return Err(bad(format!("data tree of block {bid:#x} is larger than {limit} bytes")));
                    }
                    out.push(data);
                    continue;
                }
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
            Ok(memoized(&memo.blocks, u64::from(key), || find_block::<Bbt, _>(f, bbt_ref, key, &memo.bbt))?
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
                let entry = memoized(&memo.blocks, u64::from(key), || {
                    find_block::<Bbt, _>(f, bbt_ref, key, &memo.bbt)
                })?
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

/// Reads the data block (a leaf of a data tree) of `size` bytes at `at`
/// and decodes it, with `outlook-pst`'s checks: the trailer's size in
/// range and equal to the block B-tree's, its block id not an internal
/// one, and the CRC of the stored bytes.
///
/// Ours because it is where most of a conversion's bytes pass: the
/// crate reads a block through three buffers and computes the CRC 8 bytes
/// at a time with tables, where `crc32fast` (the same CRC, see
/// [`pst_crc`]) uses the CPU's carry-less multiply and the bytes come
/// straight from the file cache.
fn read_leaf(raw: &Backing, at: u64, size: u16, unicode: bool, decode: Decode) -> io::Result<Vec<u8>> {
    let trailer: usize = if unicode { 16 } else { 12 };
    let cb = usize::from(size);
    // Blocks are stored in multiples of 64 bytes, the trailer last.
    let stored = (cb + trailer).div_ceil(64) * 64;
    raw.with_bytes(at, stored, |b| {
        let t = &b[stored - trailer..];
        let le32 = |i: usize| u32::from_le_bytes([t[i], t[i + 1], t[i + 2], t[i + 3]]);
        let t_size = u16::from_le_bytes([t[0], t[1]]);
        let (crc, internal) = if unicode { (le32(4), t[8] & 2 != 0) } else { (le32(8), t[4] & 2 != 0) };
        if t_size == 0 || usize::from(t_size) + trailer > 8192 || t_size != size {
            return Err(bad(format!(
                "block at byte {at}: its trailer says {t_size} bytes, the block B-tree {size}"
            )));
        }
        if internal {
            return Err(bad(format!(
                "block at byte {at}: a data block whose trailer has an internal block id"
            )));
        }
        let data = &b[..cb];
        let computed = pst_crc(data);
        if computed != crc {
            return Err(bad(format!(
                "block at byte {at}: CRC mismatch (stored {crc:#010x}, computed {computed:#010x})"
            )));
        }
        Ok(match decode {
            Decode::Plain => data.to_vec(),
            Decode::Permute(table) => {
                let mut out = vec![0u8; cb];
                for (o, &x) in out.iter_mut().zip(data) {
                    *o = table[usize::from(x)];
                }
                out
            }
        })
    })?
}

/// NDB_CRYPT_PERMUTE's decoding table (MS-PST 5.1), learnt once from
/// `outlook-pst`, whose encoding module is private: it decodes one block
/// holding every byte value once, and what byte `x` comes out as is the
/// table's entry `x`. `None` if that fails (the crate then decodes every
/// block itself).
fn permute_table() -> Option<&'static [u8; 256]> {
    static TABLE: std::sync::OnceLock<Option<[u8; 256]>> = std::sync::OnceLock::new();
    TABLE
        .get_or_init(|| {
            use outlook_pst::ndb::block_id::UnicodeBlockId;
            use outlook_pst::ndb::block_ref::UnicodeBlockRef;
            use outlook_pst::ndb::byte_index::UnicodeByteIndex;
            use outlook_pst::ndb::header::NdbCryptMethod;
            let every: Vec<u8> = (0..=255u8).collect();
            // 256 bytes, padding to 320, the Unicode trailer (size, signature, CRC, block id 4).
            let mut block = every.clone();
            block.resize(320 - 16, 0);
            block.extend_from_slice(&256u16.to_le_bytes());
            block.extend_from_slice(&0u16.to_le_bytes());
            block.extend_from_slice(&pst_crc(&every).to_le_bytes());
            block.extend_from_slice(&4u64.to_le_bytes());
            let id = UnicodeBlockId::new(false, 1).ok()?;
            let entry = UnicodeBlockBTreeEntry::new(UnicodeBlockRef::new(id, UnicodeByteIndex::new(0)), 256);
            let mut f = std::io::Cursor::new(block);
            match UnicodeDataTree::read(&mut f, NdbCryptMethod::Permute, &entry).ok()? {
                UnicodeDataTree::Leaf(b) => b.data().try_into().ok(),
                UnicodeDataTree::Intermediate(_) => None,
            }
        })
        .as_ref()
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
/// pages deep, through the handle's parsed pages.
fn find_block<T, K>(
    f: &mut Box<dyn PstReader>,
    mut page_ref: PageRefOf<T>,
    key: K,
    pages: &Pages<PageRefOf<T>, <T as outlook_pst::ndb::page::RootBTree>::Entry>,
) -> io::Result<Option<<T as outlook_pst::ndb::page::RootBTree>::Entry>>
where
    T: BbtOps<K>,
{
    T::find(f, &mut page_ref, key, pages)
}

/// The page reference type of B-tree `T`'s file format.
type PageRefOf<T> = <<T as outlook_pst::ndb::page::RootBTree>::Pst as PstFile>::PageRef;

/// The block B-tree lookup, for both layouts (ANSI and Unicode).
pub(crate) trait BbtOps<K>: outlook_pst::ndb::page::RootBTree + Sized {
    fn find(
        f: &mut Box<dyn PstReader>,
        page_ref: &mut PageRefOf<Self>,
        key: K,
        pages: &Pages<PageRefOf<Self>, <Self as outlook_pst::ndb::page::RootBTree>::Entry>,
    ) -> io::Result<Option<<Self as outlook_pst::ndb::page::RootBTree>::Entry>>;
}

macro_rules! bbt_ops {
    ($bbt:ident, $key:ty) => {
        impl BbtOps<$key> for $bbt {
            fn find(
                f: &mut Box<dyn PstReader>,
                page_ref: &mut PageRefOf<Self>,
                key: $key,
                pages: &Pages<PageRefOf<Self>, <Self as outlook_pst::ndb::page::RootBTree>::Entry>,
            ) -> io::Result<Option<<Self as outlook_pst::ndb::page::RootBTree>::Entry>> {
                for _ in 0..MAX_DEPTH {
                    let at = (page_ref.block().into_u64(), page_ref.index().index().into());
                    let page = cached_page(pages, at, || {
                        Ok(match $bbt::read(f, *page_ref)? {
                            $bbt::Intermediate(page, ..) => Page::Intermediate(
                                page.entries().iter().map(|e| (e.key().into(), e.block())).collect(),
                            ),
                            $bbt::Leaf(page) => Page::Leaf(page.entries().to_vec()),
                        })
                    })?;
                    match &*page {
                        Page::Intermediate(entries) => {
                            let k = u64::from(key);
                            let i = entries.partition_point(|(e, _)| *e <= k);
                            let Some((_, child)) = i.checked_sub(1).and_then(|i| entries.get(i)) else {
                                return Ok(None);
                            };
                            *page_ref = *child;
                        }
                        Page::Leaf(entries) => {
                            return Ok(entries.iter().find(|e| e.key() == key).copied());
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

    /// Every node's data and sub-node data of every corpus file, read with
    /// our data block reader and with `outlook-pst`'s: the same bytes, or
    /// both an error; the same on a copy with damaged blocks.
    #[test]
    fn own_block_reads_match_outlook_pst() {
        let Some(corpus) = mailshift_testkit::shared_corpus("own_block_reads_match_outlook_pst") else {
            return;
        };
        let files = mailshift_testkit::corpus_files(&corpus, "pst", &["pst", "ost"]);
        let (mut compared, mut permuted, mut failed) = (0usize, 0usize, 0usize);
        let mut check = |src: &crate::PstSource, damaged: bool| -> Vec<(u64, u16)> {
            let ours = src.ndb().unwrap();
            let mut theirs = src.ndb().unwrap();
            theirs.decode = None;
            let mut nodes = Vec::new();
            ours.walk_nodes(&mut |n| nodes.push(n)).unwrap();
            let mut bids = Vec::new();
            for n in &nodes {
                bids.push(n.data);
                if let Ok(subs) = ours.read_subnodes(n.sub) {
                    bids.extend(subs.iter().map(|s| s.data));
                }
            }
            let mut places = Vec::new();
            for bid in bids {
                let (a, b) = (ours.read_data(bid, u64::MAX), theirs.read_data(bid, u64::MAX));
                match (&a, &b) {
                    (Ok(x), Ok(y)) => assert_eq!(x, y, "block {bid:#x}"),
                    (Err(_), Err(_)) => failed += 1,
                    _ => panic!("block {bid:#x} (damaged: {damaged}): ours {a:?}, outlook-pst {b:?}"),
                }
                compared += 1;
                permuted += usize::from(matches!(ours.decode, Some(Decode::Permute(_))));
                if bid & 2 == 0 {
                    places.extend(ours.block_location(bid).ok().flatten());
                }
            }
            places
        };
        for f in &files {
            let Ok(src) = crate::PstSource::open(f, Default::default()) else { continue };
            let places = check(&src, false);
            // Every third data block gets a flipped byte: in its data, or
            // (every sixth) in its trailer.
            let mut bytes = std::fs::read(f).unwrap();
            for (i, (at, size)) in places.iter().enumerate().skip(20).step_by(3) {
                let off = if i % 2 == 0 { u64::from(*size) / 2 } else { u64::from(*size) + 1 };
                bytes[usize::try_from(at + off).unwrap()] ^= 0x5A;
            }
            if let Ok(src) = crate::PstSource::from_bytes(f, bytes, Default::default()) {
                check(&src, true);
            }
        }
        assert!(compared > 2_000 && permuted > 2_000, "{compared} blocks compared, {permuted} permuted");
        assert!(failed > 100, "the damaged copies should fail somewhere: {failed}");
    }

    /// The page cache stays within its bound and does not keep failures.
    #[test]
    fn page_cache_is_bounded() {
        let pages: Pages<u64, u64> = Pages::default();
        for i in 0..=PAGES_MAX as u64 {
            cached_page(&pages, (i, i), || Ok(Page::Leaf(vec![i]))).unwrap();
        }
        assert!(pages.borrow().len() <= PAGES_MAX);
        assert!(cached_page(&pages, (7, 7), || Err(bad("unreadable"))).is_err());
        assert!(!pages.borrow().contains_key(&(7, 7)));
        let again = cached_page(&pages, (7, 7), || Ok(Page::Leaf(vec![1]))).unwrap();
        assert!(matches!(&*again, Page::Leaf(v) if v == &[1]));
        // A second read of the same page is the first one's.
        let same = cached_page(&pages, (7, 7), || Err(bad("read again"))).unwrap();
        assert!(std::rc::Rc::ptr_eq(&again, &same));
    }

    #[test]
    fn the_permute_table_is_a_permutation() {
        let t = permute_table().expect("learnt from outlook-pst");
        let mut seen = [false; 256];
        for &x in t {
            seen[usize::from(x)] = true;
        }
        assert!(seen.iter().all(|&s| s));
        assert_ne!(t[0], 0, "the identity is no encryption");
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
