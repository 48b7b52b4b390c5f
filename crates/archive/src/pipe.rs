//! Stages of a read pipeline on threads of their own, joined by bounded
//! channels of big chunks, so reading an archive takes about as long as its
//! slowest stage instead of the sum of all of them.
//!
//! `verify` reads the file and hashes it (whole-file BLAKE3) on one thread,
//! decrypts (age) on another, decompresses (zstd) on another and parses the
//! tar and hashes every entry on the calling thread: the same split as
//! `age -d | zstd -dc | tar -t`, which runs as three processes.
//!
//! Memory: a pipe holds at most [`DEPTH`] chunks in its channel, [`DEPTH`]
//! emptied chunks waiting for reuse, and one chunk at each end: at most
//! `(2 * DEPTH + 2) * CHUNK` bytes (4.5 MiB), whatever the archive's size.
//! Chunks are reused so the steady state allocates nothing (a fresh chunk
//! costs 64 page faults).
//!
//! Every stage stops when the stage after it is gone (its reading end
//! dropped), except the file reader, which reads and hashes to the end so
//! the whole-file hash is always of the whole file. A reading end must
//! therefore be dropped or drained, never kept idle.

use std::io::{self, BufRead, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use mailshift_model::Progress;

/// Bytes per chunk: big enough that the per-chunk cost (a channel send, a
/// wake-up) is noise, small enough that the chunks in flight stay in the
/// caches (measured: no slower than 1 MiB chunks).
pub(crate) const CHUNK: usize = 256 << 10;
/// Chunks in flight per pipe.
pub(crate) const DEPTH: usize = 8;

/// What travels: a chunk of bytes, or the error that ended the stream.
type Chunk = io::Result<Vec<u8>>;

/// The writing end of a pipe.
pub(crate) struct Pipe {
    tx: SyncSender<Chunk>,
    recycled: Receiver<Vec<u8>>,
}

/// The reading end: a [`BufRead`] over the chunks. An error from the
/// writing end is returned once it is reached, and again on every later
/// read (a stream that failed must not look cleanly ended).
pub(crate) struct ChunkReader {
    rx: Receiver<Chunk>,
    recycle: SyncSender<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
    failed: Option<(io::ErrorKind, String)>,
}

impl std::fmt::Debug for ChunkReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkReader").field("pos", &self.pos).field("failed", &self.failed).finish()
    }
}

/// A new pipe: its writing and reading ends.
pub(crate) fn pipe() -> (Pipe, ChunkReader) {
    let (tx, rx) = sync_channel(DEPTH);
    let (recycle, recycled) = sync_channel(DEPTH);
    (Pipe { tx, recycled }, ChunkReader { rx, recycle, cur: Vec::new(), pos: 0, failed: None })
}

impl Pipe {
    /// An empty buffer of [`CHUNK`] bytes, reused when one came back.
    fn buffer(&self) -> Vec<u8> {
        let mut b = self.recycled.try_recv().unwrap_or_default();
        b.resize(CHUNK, 0);
        b
    }

    /// Sends a chunk; gives it back when the reading end is gone.
    fn send(&self, chunk: Vec<u8>) -> std::result::Result<(), Vec<u8>> {
        self.tx.send(Ok(chunk)).map_err(|e| e.0.unwrap_or_default())
    }

    /// Ends the stream with `e` (the reader gets a copy: same kind and text).
    fn fail(&self, e: &io::Error) {
        let _ = self.tx.send(Err(io::Error::new(e.kind(), e.to_string())));
    }
}

/// Fills `buf` from `input` as far as it goes: the bytes read, and the
/// error that stopped it early, if any.
fn fill(input: &mut dyn Read, buf: &mut [u8]) -> (usize, Option<io::Error>) {
    let mut n = 0;
    while n < buf.len() {
        match input.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (n, Some(e)),
        }
    }
    (n, None)
}

/// Copies `input` into `out` until its end, its first error (passed on) or
/// until the reading end is gone: one stage (decryption, decompression).
pub(crate) fn pump(mut input: impl Read, out: Pipe) {
    loop {
        let mut buf = out.buffer();
        let (n, err) = fill(&mut input, &mut buf);
        buf.truncate(n);
        if n > 0 && out.send(buf).is_err() {
            return;
        }
        if let Some(e) = err {
            out.fail(&e);
            return;
        }
        if n == 0 {
            return;
        }
    }
}

/// What [`read_hashed`] read: the bytes and their BLAKE3.
pub(crate) struct WholeFile {
    pub bytes: u64,
    pub blake3: blake3::Hash,
}

/// Reads `file` to its end in chunks, hashing every byte and telling
/// `progress` about them, and sends the chunks to `out`. When the reading
/// end stops early (damage further on) the rest is still read and hashed,
/// so the hash covers the whole file; `stop` abandons the reading (the run
/// failed and the hash is not wanted). A read error goes to the reading
/// end and is returned beside what was read before it.
pub(crate) fn read_hashed(
    mut file: impl Read,
    out: Pipe,
    progress: &dyn Progress,
    stop: &AtomicBool,
) -> (WholeFile, Option<io::Error>) {
    let mut hasher = blake3::Hasher::new();
    let mut bytes = 0u64;
    // After the reading end is gone, one buffer is reused for the rest.
    let mut spare: Option<Vec<u8>> = None;
    loop {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let mut buf = spare.take().unwrap_or_else(|| out.buffer());
        buf.resize(CHUNK, 0);
        let (n, err) = fill(&mut file, &mut buf);
        buf.truncate(n);
        hasher.update(&buf);
        bytes += n as u64;
        progress.message(n as u64);
        if n > 0 {
            if let Err(back) = out.send(buf) {
                spare = Some(back);
            }
        }
        if let Some(e) = err {
            out.fail(&e);
            return (WholeFile { bytes, blake3: hasher.finalize() }, Some(e));
        }
        if n == 0 {
            break;
        }
    }
    (WholeFile { bytes, blake3: hasher.finalize() }, None)
}

impl ChunkReader {
    /// The next chunk, once the current one is used up: `false` at the end.
    fn next_chunk(&mut self) -> io::Result<bool> {
        if let Some((kind, text)) = &self.failed {
            return Err(io::Error::new(*kind, text.clone()));
        }
        match self.rx.recv() {
            Ok(Ok(chunk)) => {
                let old = std::mem::replace(&mut self.cur, chunk);
                self.pos = 0;
                if old.capacity() > 0 {
                    // When enough wait for reuse (or the writer is gone) it is dropped.
                    let _ = self.recycle.try_send(old);
                }
                Ok(true)
            }
            Ok(Err(e)) => {
                self.failed = Some((e.kind(), e.to_string()));
                Err(e)
            }
            Err(_) => Ok(false),
        }
    }
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let avail = self.fill_buf()?;
        let n = avail.len().min(buf.len());
        buf[..n].copy_from_slice(&avail[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for ChunkReader {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.pos >= self.cur.len() {
            if !self.next_chunk()? {
                return Ok(&[]);
            }
        }
        Ok(&self.cur[self.pos..])
    }

    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt).min(self.cur.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Yields `good` bytes, then fails.
    struct Failing {
        good: usize,
    }

    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.good == 0 {
                return Err(io::Error::other("disk on fire"));
            }
            let n = buf.len().min(self.good).min(7777);
            buf[..n].fill(b'x');
            self.good -= n;
            Ok(n)
        }
    }

    struct Quiet;
    impl Progress for Quiet {}

    #[test]
    fn bytes_pass_in_order_and_are_hashed() {
        let data: Vec<u8> = (0..3 * CHUNK + 12345).map(|i| (i % 251) as u8).collect();
        let (p, mut r) = pipe();
        let stop = AtomicBool::new(false);
        let (whole, got) = std::thread::scope(|s| {
            let t = s.spawn(|| read_hashed(&data[..], p, &Quiet, &stop));
            let (p2, mut r2) = pipe();
            s.spawn(move || pump(&mut r, p2));
            let mut got = Vec::new();
            r2.read_to_end(&mut got).unwrap();
            (t.join().unwrap(), got)
        });
        assert_eq!(got, data);
        assert!(whole.1.is_none());
        assert_eq!(whole.0.bytes, data.len() as u64);
        assert_eq!(whole.0.blake3, blake3::hash(&data));
    }

    #[test]
    fn a_read_error_reaches_the_reader_after_the_good_bytes_and_stays() {
        let good = CHUNK + 100;
        let (p, mut r) = pipe();
        let stop = AtomicBool::new(false);
        let (res, n, e) = std::thread::scope(|s| {
            let t = s.spawn(|| read_hashed(Failing { good }, p, &Quiet, &stop));
            let mut buf = vec![0; 4096];
            let mut n = 0;
            let e = loop {
                match r.read(&mut buf) {
                    Ok(0) => panic!("the stream looks cleanly ended"),
                    Ok(k) => n += k,
                    Err(e) => break e,
                }
            };
            (t.join().unwrap(), n, e)
        });
        assert_eq!(n, good);
        assert!(e.to_string().contains("disk on fire"), "{e}");
        assert_eq!(res.0.bytes, good as u64);
        assert_eq!(res.0.blake3, blake3::hash(&vec![b'x'; good]));
        assert!(res.1.unwrap().to_string().contains("disk on fire"));
        let again = r.read(&mut [0; 10]).unwrap_err();
        assert!(again.to_string().contains("disk on fire"), "{again}");
    }

    #[test]
    fn the_whole_file_is_hashed_when_the_reader_stops_early() {
        let data = vec![7u8; 5 * CHUNK + 1];
        let (p, r) = pipe();
        let stop = AtomicBool::new(false);
        let whole = std::thread::scope(|s| {
            let t = s.spawn(|| read_hashed(&data[..], p, &Quiet, &stop));
            drop(r);
            t.join().unwrap().0
        });
        assert_eq!(whole.bytes, data.len() as u64);
        assert_eq!(whole.blake3, blake3::hash(&data));
    }
}
