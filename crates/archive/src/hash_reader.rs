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
