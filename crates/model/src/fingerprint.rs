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
pub fn exact_hash(raw: &[u8]) -> ExactHash {
    let mut hasher = blake3::Hasher::new();
    let mut prev_cr = false;
    let mut start = 0;
    for (i, &b) in raw.iter().enumerate() {
        if b == b'\n' && !prev_cr {
            hasher.update(&raw[start..i]);
            hasher.update(b"\r\n");
            start = i + 1;
        }
        prev_cr = b == b'\r';
    }
    hasher.update(&raw[start..]);
    ExactHash(*hasher.finalize().as_bytes())
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

    proptest::proptest! {
        #[test]
        fn crlf_and_lf_forms_agree(lines in proptest::collection::vec("[^\r\n]{0,20}", 0..8)) {
            let lf = lines.join("\n");
            let crlf = lines.join("\r\n");
            proptest::prop_assert_eq!(exact_hash(lf.as_bytes()), exact_hash(crlf.as_bytes()));
        }
    }
}
