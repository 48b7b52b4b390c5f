//! A bounded cache of a PST file's bytes, shared by every handle on it.
//!
//! The node database reads in small, scattered pieces: every block lookup
//! descends the block B-tree from its root (two or three 512-byte pages),
//! then reads the block. Through a `BufReader`, each of those seeks throws
//! the buffer away, so converting a 4 MiB OST took 4,300 `read` and 4,300
//! `lseek` calls, and every worker (one [`crate::ndb::Ndb`] per folder,
//! since the NDB types are not `Send`) started cold. Here the file is read
//! in 64 KiB chunks with `pread`, kept in one cache all handles share, so a
//! small file is read from the kernel once and a large one keeps its
//! B-tree pages (the hottest chunks) resident. Memory stays bounded:
//! at most [`FileCache::MAX_CHUNKS`] chunks, the least recently used
//! evicted first.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex};

/// Bytes per chunk: about the size of a B-tree's top levels plus the
/// blocks they point at in a freshly written PST, and few enough `pread`s
/// for a whole small file.
const CHUNK: u64 = 64 << 10;

/// One file, read through a shared chunk cache.
#[derive(Debug)]
pub struct FileCache {
    file: File,
    len: u64,
    chunks: Mutex<Chunks>,
}

#[derive(Debug, Default)]
struct Chunks {
    /// Chunks as read (an `Arc<[u8]>` would cost a copy of each).
    map: HashMap<u64, (Arc<Vec<u8>>, u64)>,
    /// A clock for least-recently-used eviction.
    tick: u64,
}

impl FileCache {
    /// At most this many chunks (16 MiB) are kept.
    pub const MAX_CHUNKS: usize = 256;

    /// Wraps an open file of `len` bytes.
    pub fn new(file: File, len: u64) -> Arc<Self> {
        Arc::new(FileCache { file, len, chunks: Mutex::new(Chunks::default()) })
    }

    /// A reader with its own position over the shared cache.
    pub fn reader(self: &Arc<Self>) -> CachedReader {
        CachedReader { cache: Arc::clone(self), pos: 0 }
    }

    /// The chunk starting at `start` (a multiple of [`CHUNK`]), read on a miss.
    fn chunk(&self, start: u64) -> io::Result<Arc<Vec<u8>>> {
        let mut chunks = self.chunks.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        chunks.tick += 1;
        let tick = chunks.tick;
        if let Some((data, used)) = chunks.map.get_mut(&start) {
            *used = tick;
            return Ok(Arc::clone(data));
        }
        // Read under the lock: a second handle wanting the same chunk waits
        // for it rather than reading it twice (a miss is one `pread`).
        let want = usize::try_from(CHUNK.min(self.len.saturating_sub(start))).unwrap_or(0);
        let mut buf = vec![0u8; want];
        let mut got = 0;
        while got < want {
            match self.file.read_at(&mut buf[got..], start + got as u64) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        buf.truncate(got);
        let data = Arc::new(buf);
        if chunks.map.len() >= Self::MAX_CHUNKS {
            if let Some(oldest) = chunks.map.iter().min_by_key(|(_, (_, used))| *used).map(|(k, _)| *k) {
                chunks.map.remove(&oldest);
            }
        }
        chunks.map.insert(start, (Arc::clone(&data), tick));
        Ok(data)
    }
}

/// Where a store's bytes are: a file read through a [`FileCache`], or
/// memory (fuzzing, tests). The node database reads its data blocks
/// straight from here ([`Backing::with_bytes`]): no seek, no copy into a
/// reader's buffer.
#[derive(Debug, Clone)]
pub enum Backing {
    File(Arc<FileCache>),
    Bytes(Arc<[u8]>),
}

impl Backing {
    /// Calls `f` with the `len` bytes at `at`: a slice of one cached chunk
    /// (or of the memory) where they are in one, else a copy. An error
    /// when the file ends before.
    pub fn with_bytes<R>(&self, at: u64, len: usize, f: impl FnOnce(&[u8]) -> R) -> io::Result<R> {
        let short = || {
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{len} bytes at byte {at} are past the end of the file"),
            )
        };
        match self {
            Backing::Bytes(b) => {
                let start = usize::try_from(at).map_err(|_| short())?;
                let bytes = start.checked_add(len).and_then(|end| b.get(start..end)).ok_or_else(short)?;
                Ok(f(bytes))
            }
            Backing::File(cache) => {
                let end = at.checked_add(len as u64).filter(|&e| e <= cache.len).ok_or_else(short)?;
                let start = at - at % CHUNK;
                if end <= start + CHUNK {
                    let chunk = cache.chunk(start)?;
                    let off = usize::try_from(at - start).unwrap_or(usize::MAX);
                    let bytes = off.checked_add(len).and_then(|e| chunk.get(off..e)).ok_or_else(short)?;
                    return Ok(f(bytes));
                }
                let mut buf = vec![0u8; len];
                let mut r = cache.reader();
                r.seek(SeekFrom::Start(at))?;
                r.read_exact(&mut buf)?;
                Ok(f(&buf))
            }
        }
    }
}

/// A `Read + Seek` view of a [`FileCache`]: seeking is free, reading copies
/// from cached chunks.
#[derive(Debug)]
pub struct CachedReader {
    cache: Arc<FileCache>,
    pos: u64,
}

impl Read for CachedReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() || self.pos >= self.cache.len {
            return Ok(0);
        }
        let start = self.pos - self.pos % CHUNK;
        let chunk = self.cache.chunk(start)?;
        let off = usize::try_from(self.pos - start).unwrap_or(usize::MAX);
        let Some(avail) = chunk.get(off..) else { return Ok(0) };
        let n = avail.len().min(buf.len());
        buf[..n].copy_from_slice(&avail[..n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for CachedReader {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let target = match pos {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.cache.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = target.ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "seek before the start of the file")
        })?;
        Ok(self.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn reads_across_chunks_and_evicts() {
        let len = CHUNK as usize * (FileCache::MAX_CHUNKS + 3) + 17;
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let mut tmp = tempfile::tempfile().unwrap();
        tmp.write_all(&data).unwrap();
        let cache = FileCache::new(tmp, len as u64);
        let mut a = cache.reader();
        let mut b = cache.reader();
        // Across a chunk boundary, through read_exact.
        let at = CHUNK - 5;
        a.seek(SeekFrom::Start(at)).unwrap();
        let mut buf = [0u8; 10];
        a.read_exact(&mut buf).unwrap();
        assert_eq!(&buf[..], &data[at as usize..at as usize + 10]);
        // Every chunk once: the cache stays within its bound.
        let mut all = Vec::new();
        b.read_to_end(&mut all).unwrap();
        assert_eq!(all, data);
        assert!(cache.chunks.lock().unwrap().map.len() <= FileCache::MAX_CHUNKS);
        // The tail, and reading past the end.
        b.seek(SeekFrom::End(-3)).unwrap();
        let mut tail = Vec::new();
        b.read_to_end(&mut tail).unwrap();
        assert_eq!(tail, data[len - 3..]);
        assert!(b.seek(SeekFrom::Current(-(len as i64) - 1)).is_err());
        b.seek(SeekFrom::Start(len as u64 + 100)).unwrap();
        assert_eq!(b.read(&mut buf).unwrap(), 0);
    }

    /// Ranges inside one chunk, across chunks and past the end, from a
    /// file and from memory alike.
    #[test]
    fn backing_ranges() {
        let len = CHUNK as usize * 2 + 100;
        let data: Vec<u8> = (0..len).map(|i| (i % 253) as u8).collect();
        let mut tmp = tempfile::tempfile().unwrap();
        tmp.write_all(&data).unwrap();
        let backings = [Backing::File(FileCache::new(tmp, len as u64)), Backing::Bytes(data.clone().into())];
        for b in &backings {
            for (at, n) in [
                (0u64, 512usize),
                (CHUNK - 64, 64),
                (CHUNK - 64, 128),
                (5, CHUNK as usize * 2),
                (len as u64 - 100, 100),
            ] {
                let got = b.with_bytes(at, n, <[u8]>::to_vec).unwrap();
                assert_eq!(got, &data[at as usize..at as usize + n], "{at} {n}");
            }
            assert!(b.with_bytes(len as u64 - 99, 100, |_| ()).is_err());
            assert!(b.with_bytes(u64::MAX - 1, 100, |_| ()).is_err());
        }
    }
}
