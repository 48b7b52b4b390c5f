//! The PST file header (MS-PST 2.2.2.6), checked by mailshift itself so that
//! a file that is not a PST, is truncated or has a bad checksum gets a clear
//! error at once, and so that OST files (client signature `SO`) can be read:
//! `outlook-pst` 1.2 accepts only `SM`, so [`PatchedReader`] shows the crate a
//! copy of the header with the signature normalised and the CRCs recomputed.

use std::io::{self, Read, Seek, SeekFrom};

/// `!BDN`, the first four bytes of every PST and OST file.
pub const MAGIC: &[u8; 4] = b"!BDN";

/// Bytes of the header the readers look at (the Unicode header is the longer).
pub const HEADER_LEN: usize = 564;

/// Which on-disk layout the file uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// wVer 14/15: 32-bit block ids and offsets.
    Ansi,
    /// wVer 23: 64-bit block ids and offsets, 512-byte pages.
    Unicode,
}

/// What the header says.
#[derive(Debug, Clone)]
pub struct Header {
    pub format: Format,
    pub version: u16,
    /// `SM` (PST), `SO` (OST), `SA` (...).
    pub client: [u8; 2],
    /// bCryptMethod: 0 none, 1 permute ("compressible"), 2 cyclic ("high").
    pub crypt: u8,
    /// ibFileEof: the file size the header expects.
    pub file_eof: u64,
    /// Whether the checksums matched.
    pub crc_ok: bool,
    /// The raw header bytes (zero-padded to [`HEADER_LEN`]).
    pub raw: Box<[u8; HEADER_LEN]>,
}

impl Header {
    /// The encryption, as `inspect` shows it.
    pub fn encryption_name(&self) -> &'static str {
        match self.crypt {
            0 => "none",
            1 => "compressible",
            2 => "high",
            _ => "unknown",
        }
    }
}

/// The CRC MS-PST uses (5.3): CRC-32 (reflected 0xEDB88320) started at zero,
/// without the final inversion.
pub fn pst_crc(data: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new_with_initial(u32::MAX);
    h.update(data);
    !h.finalize()
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// Parses and checks the header in `bytes` (the start of the file).
///
/// # Errors
/// A sentence saying what is wrong: not a PST, truncated, unsupported
/// version, bad checksum.
pub fn parse(bytes: &[u8]) -> Result<Header, String> {
    if bytes.len() < 4 || &bytes[..4] != MAGIC {
        let shown: Vec<u8> = bytes.iter().take(4).copied().collect();
        return Err(format!(
            "not a PST/OST file: the first bytes are {:?}, not \"!BDN\"",
            String::from_utf8_lossy(&shown)
        ));
    }
    if bytes.len() < 512 {
        return Err(format!("truncated PST header: {} bytes, at least 512 needed", bytes.len()));
    }
    let version = u16_at(bytes, 10);
    let format = match version {
        14 | 15 => Format::Ansi,
        23 => Format::Unicode,
        36 => return Err("Outlook 2013+ OST with 4 KiB pages (wVer 36) is not supported yet".into()),
        v => return Err(format!("unknown PST format version wVer={v}")),
    };
    if format == Format::Unicode && bytes.len() < HEADER_LEN {
        return Err(format!(
            "truncated PST header: {} bytes, {HEADER_LEN} needed for a Unicode PST",
            bytes.len()
        ));
    }
    let mut raw = Box::new([0u8; HEADER_LEN]);
    let n = bytes.len().min(HEADER_LEN);
    raw[..n].copy_from_slice(&bytes[..n]);
    let partial_ok = u32_at(bytes, 4) == pst_crc(&bytes[8..8 + 471]);
    let full_ok = format == Format::Ansi || u32_at(bytes, 524) == pst_crc(&bytes[8..8 + 516]);
    let (crypt, file_eof) = match format {
        Format::Unicode => (bytes[513], u64_at(bytes, 184)),
        Format::Ansi => (bytes[461], u64::from(u32_at(bytes, 168))),
    };
    Ok(Header {
        format,
        version,
        client: [bytes[8], bytes[9]],
        crypt,
        file_eof,
        crc_ok: partial_ok && full_ok,
        raw,
    })
}

/// The header as `outlook-pst` accepts it: client signature `SM`, client
/// version 19, platform bytes 1, CRCs
/// recomputed (only used when the file's own header was checked or the
/// caller asked to recover).
pub fn normalised(header: &Header) -> Box<[u8; HEADER_LEN]> {
    let mut raw = header.raw.clone();
    raw[8] = b'S';
    raw[9] = b'M';
    // wVerClient, bPlatformCreate, bPlatformAccess: the values MS-PST
    // prescribes, which the crate insists on and Outlook's OSTs do not use.
    raw[12..14].copy_from_slice(&19u16.to_le_bytes());
    raw[14] = 1;
    raw[15] = 1;
    let partial = pst_crc(&raw[8..8 + 471]);
    raw[4..8].copy_from_slice(&partial.to_le_bytes());
    if header.format == Format::Unicode {
        let full = pst_crc(&raw[8..8 + 516]);
        raw[524..528].copy_from_slice(&full.to_le_bytes());
    }
    raw
}

/// A reader that shows a replacement for the first [`HEADER_LEN`] bytes.
pub struct PatchedReader<R> {
    inner: R,
    header: Box<[u8; HEADER_LEN]>,
    pos: u64,
}

impl<R> std::fmt::Debug for PatchedReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PatchedReader").field("pos", &self.pos).finish_non_exhaustive()
    }
}

impl<R: Read + Seek> PatchedReader<R> {
    pub fn new(inner: R, header: Box<[u8; HEADER_LEN]>) -> Self {
        PatchedReader { inner, header, pos: 0 }
    }
}

impl<R: Read + Seek> Read for PatchedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let start = self.pos;
        self.pos += n as u64;
        if start < HEADER_LEN as u64 {
            let s = usize::try_from(start).unwrap_or(HEADER_LEN);
            let end = (s + n).min(HEADER_LEN);
            buf[..end - s].copy_from_slice(&self.header[s..end]);
        }
        Ok(n)
    }
}

impl<R: Read + Seek> Seek for PatchedReader<R> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.pos = self.inner.seek(pos)?;
        Ok(self.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_html_and_short_files() {
        let e = parse(b"<html><body>").unwrap_err();
        assert!(e.contains("not a PST"), "{e}");
        let e = parse(b"!BDN\0\0").unwrap_err();
        assert!(e.contains("truncated"), "{e}");
    }

    #[test]
    fn normalised_header_has_valid_crcs() {
        let mut b = vec![0u8; HEADER_LEN];
        b[..4].copy_from_slice(MAGIC);
        b[8..10].copy_from_slice(b"SO");
        b[10] = 23;
        let h = parse(&b).unwrap();
        assert!(!h.crc_ok);
        let n = normalised(&h);
        let h2 = parse(&n[..]).unwrap();
        assert!(h2.crc_ok);
        assert_eq!(&h2.client, b"SM");
    }

    #[test]
    fn patched_reader_replaces_only_the_header() {
        let data: Vec<u8> = (0..2000u32).map(|i| (i % 251) as u8).collect();
        let mut r = PatchedReader::new(io::Cursor::new(data.clone()), Box::new([7u8; HEADER_LEN]));
        r.seek(SeekFrom::Start(560)).unwrap();
        let mut buf = [0u8; 8];
        r.read_exact(&mut buf).unwrap();
        assert_eq!(&buf[..4], &[7, 7, 7, 7]);
        assert_eq!(&buf[4..], &data[564..568]);
    }
}
