//! A line reader over any `BufRead` that can put bytes back (to look ahead
//! at the line after a candidate separator, or at the bytes after a
//! Content-Length) and knows the byte offset of what it returns next.

use std::io::{self, BufRead};

#[derive(Debug)]
pub struct Input<R> {
    inner: R,
    /// Bytes put back, returned before `inner`'s.
    back: Vec<u8>,
    back_pos: usize,
    /// The stream offset of the next byte returned.
    offset: u64,
}

impl<R: BufRead> Input<R> {
    pub fn new(inner: R) -> Self {
        Input { inner, back: Vec::new(), back_pos: 0, offset: 0 }
    }

    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Appends the next line (with its `\n`, if any) to `out`; returns its
    /// length, 0 at the end.
    pub fn read_line(&mut self, out: &mut Vec<u8>) -> io::Result<usize> {
        let mut n = 0;
        if self.back_pos < self.back.len() {
            let rest = &self.back[self.back_pos..];
            let (len, complete) = memchr::memchr(b'\n', rest).map_or((rest.len(), false), |i| (i + 1, true));
            out.extend_from_slice(&rest[..len]);
            self.back_pos += len;
            if self.back_pos == self.back.len() {
                self.back.clear();
                self.back_pos = 0;
            }
            n = len;
            if complete {
                self.offset += n as u64;
                return Ok(n);
            }
        }
        n += self.inner.read_until(b'\n', out)?;
        self.offset += n as u64;
        Ok(n)
    }

    /// Skips the next line without keeping more than `keep_max` of its
    /// first bytes in `keep` (garbage can be one endless line). Returns the
    /// line's full length, 0 at the end.
    pub fn skip_line(&mut self, keep: &mut Vec<u8>, keep_max: usize) -> io::Result<usize> {
        keep.clear();
        let mut n = 0;
        loop {
            let (len, complete) = {
                let buf = self.available()?;
                if buf.is_empty() {
                    break;
                }
                let (len, complete) =
                    memchr::memchr(b'\n', buf).map_or((buf.len(), false), |i| (i + 1, true));
                let room = keep_max.saturating_sub(keep.len()).min(len);
                keep.extend_from_slice(&buf[..room]);
                (len, complete)
            };
            self.consume(len);
            n += len;
            if complete {
                break;
            }
        }
        self.offset += n as u64;
        Ok(n)
    }

    /// The bytes that come next without reading further: the put-back ones
    /// first, then `inner`'s buffer (empty only at the end).
    fn available(&mut self) -> io::Result<&[u8]> {
        if self.back_pos < self.back.len() {
            Ok(&self.back[self.back_pos..])
        } else {
            self.inner.fill_buf()
        }
    }

    fn consume(&mut self, len: usize) {
        if self.back_pos < self.back.len() {
            self.back_pos += len;
            if self.back_pos >= self.back.len() {
                self.back.clear();
                self.back_pos = 0;
            }
        } else {
            self.inner.consume(len);
        }
    }

    /// Appends up to `n` bytes to `out`; returns how many (fewer only at the end).
    pub fn read_upto(&mut self, n: u64, out: &mut Vec<u8>) -> io::Result<u64> {
        let mut got = 0u64;
        while got < n {
            let len = {
                let buf = self.available()?;
                if buf.is_empty() {
                    break;
                }
                let len = usize::try_from(n - got).unwrap_or(usize::MAX).min(buf.len());
                out.extend_from_slice(&buf[..len]);
                len
            };
            self.consume(len);
            got += len as u64;
        }
        self.offset += got;
        Ok(got)
    }

    /// Puts `bytes` back in front of what is left: they are read again next.
    pub fn unread(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.offset -= bytes.len() as u64;
        if self.back_pos >= bytes.len() && self.back_pos < self.back.len() {
            // in place, over bytes already consumed: no copy of the rest
            // (a look-ahead inside a large put-back block stays linear)
            let start = self.back_pos - bytes.len();
            self.back[start..self.back_pos].copy_from_slice(bytes);
            self.back_pos = start;
            return;
        }
        if self.back_pos >= self.back.len() {
            self.back.clear();
            self.back.extend_from_slice(bytes);
        } else {
            let mut v = Vec::with_capacity(bytes.len() + self.back.len() - self.back_pos);
            v.extend_from_slice(bytes);
            v.extend_from_slice(&self.back[self.back_pos..]);
            self.back = v;
        }
        self.back_pos = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_unread_and_offsets() {
        let mut input = Input::new(io::BufReader::with_capacity(4, &b"one\ntwo\nthree"[..]));
        let mut v = Vec::new();
        assert_eq!(input.read_line(&mut v).unwrap(), 4);
        assert_eq!(input.read_line(&mut v).unwrap(), 4);
        assert_eq!(input.offset(), 8);
        input.unread(b"wo\n");
        input.unread(b"t");
        assert_eq!(input.offset(), 4);
        v.clear();
        input.read_line(&mut v).unwrap();
        assert_eq!(v, b"two\n");
        input.unread(b"tw");
        v.clear();
        assert_eq!(input.read_upto(3, &mut v).unwrap(), 3);
        assert_eq!(v, b"twt");
        let mut keep = Vec::new();
        assert_eq!(input.skip_line(&mut keep, 2).unwrap(), 4);
        assert_eq!(keep, b"hr");
        assert_eq!(input.offset(), 13);
        assert_eq!(input.read_line(&mut v).unwrap(), 0);
    }
}
