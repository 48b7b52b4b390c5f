//! A reader that hashes (BLAKE3) and counts the bytes it yields, so a file
//! is hashed in the same pass that copies or checks it.

use std::io::{self, Read};

pub(crate) struct HashReader<R> {
    pub inner: R,
    pub hasher: blake3::Hasher,
    pub bytes: u64,
}

impl<R> HashReader<R> {
    pub fn new(inner: R) -> Self {
        HashReader { inner, hasher: blake3::Hasher::new(), bytes: 0 }
    }
}

impl<R: Read> Read for HashReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

/// A reader that tells `progress` how many bytes it yielded: the bars of
/// `verify` and `restore` count the archive file's bytes against its size,
/// the one total known before the stream is read.
pub(crate) struct Counted<'a, R> {
    pub inner: R,
    pub progress: &'a dyn mailshift_model::Progress,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.message(n as u64);
        Ok(n)
    }
}
