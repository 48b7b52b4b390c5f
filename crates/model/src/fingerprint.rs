use std::fmt;

use serde::{Deserialize, Serialize};

use crate::headers;

/// BLAKE3 of a message's bytes with line endings normalised to CRLF, so the
/// same message stored with LF (maildir, mbox) and CRLF (IMAP, PST) matches.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ExactHash(pub [u8; 32]);

impl ExactHash {
    pub fn to_hex(&self) -> String {
        blake3::Hash::from_bytes(self.0).to_hex().to_string()
    }
}

impl fmt::Debug for ExactHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ExactHash({})", &self.to_hex()[..16])
    }
}

impl fmt::Display for ExactHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for ExactHash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for ExactHash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        blake3::Hash::from_hex(&s).map(|h| ExactHash(*h.as_bytes())).map_err(serde::de::Error::custom)
    }
}

/// A message's identity for servers that rewrite bytes: `mid:` plus the
/// Message-ID, or `hdr:` plus a hash of Date, From, To and Subject.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LogicalKey(pub String);

/// How two stores are compared: exactly, or logically when a server
/// rewrites messages.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Fingerprint {
    pub exact: ExactHash,
    pub logical: LogicalKey,
}

impl Fingerprint {
    /// Both fingerprints of a message's bytes.
    pub fn of(raw: &[u8]) -> Self {
        Fingerprint { exact: exact_hash(raw), logical: logical_key(raw) }
    }
}

/// The [`ExactHash`] of a message: BLAKE3 over the bytes with every bare LF
/// written as CRLF (existing CRLFs are kept, a lone CR is kept).
///
/// The normalised bytes are gathered in a 64 KiB block before hashing:
/// BLAKE3 hashes large updates several chunks at a time with SIMD, while one
/// update per line (tens of bytes) runs a block at a time and was, with the
/// line loop, most of a conversion's CPU time.
pub fn exact_hash(raw: &[u8]) -> ExactHash {
    const BLOCK: usize = 64 << 10;
    let mut hasher = blake3::Hasher::new();
    if memchr::memchr(b'\n', raw).is_none() {
        hasher.update(raw);
        return ExactHash(*hasher.finalize().as_bytes());
    }
    let mut block: Vec<u8> = Vec::with_capacity(BLOCK.min(raw.len() + raw.len() / 16 + 2));
    let mut start = 0;
    for i in memchr::memchr_iter(b'\n', raw) {
        if i > 0 && raw[i - 1] == b'\r' {
            continue; // already CRLF: stays in the current span
        }
        push(&mut hasher, &mut block, &raw[start..i], BLOCK);
        push(&mut hasher, &mut block, b"\r\n", BLOCK);
        start = i + 1;
    }
    push(&mut hasher, &mut block, &raw[start..], BLOCK);
    hasher.update(&block);
    ExactHash(*hasher.finalize().as_bytes())
}

/// Appends `bytes` to `block`, hashing the block whenever it is full; large
/// spans go to the hasher directly.
fn push(hasher: &mut blake3::Hasher, block: &mut Vec<u8>, bytes: &[u8], cap: usize) {
    if block.len() + bytes.len() > cap {
        hasher.update(block);
        block.clear();
        if bytes.len() >= cap {
            hasher.update(bytes);
            return;
        }
    }
    block.extend_from_slice(bytes);
}

/// The [`LogicalKey`] of a message.
pub fn logical_key(raw: &[u8]) -> LogicalKey {
    if let Some(id) = headers::message_id(raw) {
        return LogicalKey(format!("mid:{id}"));
    }
    let mut hasher = blake3::Hasher::new();
    for name in ["Date", "From", "To", "Subject"] {
        let value = headers::get(raw, name).unwrap_or_default();
        // Collapse white space: servers refold long headers.
        let norm: Vec<&[u8]> = value.split(u8::is_ascii_whitespace).filter(|w| !w.is_empty()).collect();
        hasher.update(norm.join(&b' ').as_slice());
        hasher.update(b"\0");
    }
    LogicalKey(format!("hdr:{}", &hasher.finalize().to_hex()[..32]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_ignores_line_ending_style_only() {
        assert_eq!(exact_hash(b"a\nb\n"), exact_hash(b"a\r\nb\r\n"));
        assert_eq!(exact_hash(b"a\nb"), exact_hash(b"a\r\nb"));
        assert_ne!(exact_hash(b"a\nb\n"), exact_hash(b"a\nb\n\n"));
        assert_ne!(exact_hash(b"a\rb"), exact_hash(b"a\r\nb"));
    }

    #[test]
    fn logical_prefers_message_id() {
        assert_eq!(logical_key(b"Message-Id: <a@b>\n\nx").0, "mid:a@b");
        let a = logical_key(b"Subject: x\r\n y\nFrom: f\n\nbody1");
        let b = logical_key(b"From: f\nSubject: x y\n\nbody2");
        assert_eq!(a, b);
        assert!(a.0.starts_with("hdr:"));
    }

    /// The straightforward definition, to check the blocked one against.
    fn naive(raw: &[u8]) -> ExactHash {
        let mut norm = Vec::new();
        for (i, &b) in raw.iter().enumerate() {
            if b == b'\n' && (i == 0 || raw[i - 1] != b'\r') {
                norm.push(b'\r');
            }
            norm.push(b);
        }
        ExactHash(*blake3::hash(&norm).as_bytes())
    }

    #[test]
    fn blocked_hash_matches_the_definition() {
        let big: Vec<u8> = (0..300_000u32)
            .map(|i| {
                if i % 37 == 0 {
                    b'\n'
                } else if i % 91 == 0 {
                    b'\r'
                } else {
                    b'x'
                }
            })
            .collect();
        assert_eq!(exact_hash(&big), naive(&big));
        let long_line = [vec![b'y'; 200_000], b"\n\n".to_vec(), vec![b'z'; 70_000]].concat();
        assert_eq!(exact_hash(&long_line), naive(&long_line));
        for s in [&b""[..], b"\n", b"\r\n", b"\r", b"a\r\r\n\nb"] {
            assert_eq!(exact_hash(s), naive(s));
        }
    }

    proptest::proptest! {
        #[test]
        fn blocked_agrees_with_naive(raw in proptest::collection::vec(proptest::sample::select(vec![b'a', b'\r', b'\n']), 0..300)) {
            proptest::prop_assert_eq!(exact_hash(&raw), naive(&raw));
        }

        #[test]
        fn crlf_and_lf_forms_agree(lines in proptest::collection::vec("[^\r\n]{0,20}", 0..8)) {
            let lf = lines.join("\n");
            let crlf = lines.join("\r\n");
            proptest::prop_assert_eq!(exact_hash(lf.as_bytes()), exact_hash(crlf.as_bytes()));
        }
    }
}
