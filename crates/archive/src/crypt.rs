//! Encryption with [age](https://age-encryption.org): backups that sit on a
//! shared file server are readable by the holders of the keys only.
//!
//! Design (why it looks like this):
//! - age wraps the *zstd stream*: `NAME.tar.zst.age` is
//!   `age(zstd(tar))`, so `age -d -i key.txt NAME.tar.zst.age | zstd -dc |
//!   tar -x` gives the mail back with standard tools alone, and age's own
//!   64 KiB authenticated chunks name the damaged place when a byte flips.
//! - The full manifest (folder names, flags, dates) is as revealing as the
//!   mail's subjects, so beside the archive it is encrypted too
//!   (`NAME.manifest.jsonl.age`, the same recipients). What stays in clear
//!   in `NAME.manifest.jsonl` is only what the file server shows anyway:
//!   the archive's name, time, size, the BLAKE3 of both encrypted files and
//!   the parent's file name (see [`crate::manifest::SealedRecord`]). So
//!   `verify` proves without any key that both files are the ones the
//!   backup wrote, and with `--identity` checks every entry as usual.
//! - Only x25519 recipients (`age1...`): no passphrases (a backup job must
//!   not prompt) and no plugins (nothing outside this binary).

use std::fmt;
use std::io::{self, BufRead, Read};
use std::path::Path;
use std::str::FromStr;

use mailshift_model::{Error, Location, Result};

/// The extension age files get.
pub const AGE_EXT: &str = ".age";

/// The keys an archive is encrypted to.
#[derive(Clone, Default)]
pub struct Recipients(pub Vec<age::x25519::Recipient>);

impl fmt::Debug for Recipients {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.iter().map(ToString::to_string)).finish()
    }
}

impl Recipients {
    /// Parses one `age1...` recipient.
    pub fn parse_one(text: &str) -> std::result::Result<age::x25519::Recipient, String> {
        let t = text.trim();
        age::x25519::Recipient::from_str(t).map_err(|e| {
            format!("{t:?} is not an age X25519 recipient (age1...; ssh keys are not supported): {e}")
        })
    }

    /// Adds every recipient of a file: one per line, `#` comments and blank
    /// lines ignored (the format of `age -R`).
    pub fn add_file(&mut self, path: &Path) -> Result<()> {
        let f = std::fs::File::open(path).map_err(|e| Error::io(Location::path(path), e))?;
        for (n, line) in io::BufReader::new(f).lines().enumerate() {
            let line = line.map_err(|e| Error::io(Location::path(path), e))?;
            let t = line.trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            let r = Self::parse_one(t)
                .map_err(|e| Error::refused(Location::path(path).with_item(format!("line {}", n + 1)), e))?;
            self.0.push(r);
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// An encryptor to all of them.
    pub(crate) fn encryptor(&self, loc: &Path) -> Result<age::Encryptor> {
        age::Encryptor::with_recipients(self.0.iter().map(|r| r as &dyn age::Recipient))
            .map_err(|e| Error::refused(Location::path(loc), format!("cannot encrypt: {e}")))
    }
}

/// The identities (secret keys) that open encrypted archives: an age
/// identity file (`AGE-SECRET-KEY-1...` lines, as `age-keygen` writes).
pub struct Identities {
    keys: Vec<Box<dyn age::Identity + Send + Sync>>,
    /// Where they came from, for messages.
    pub source: String,
}

impl fmt::Debug for Identities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identities({} from {})", self.keys.len(), self.source)
    }
}

impl Identities {
    /// Reads an identity file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(Location::path(path), e))?;
        let mut keys: Vec<Box<dyn age::Identity + Send + Sync>> = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let t = line.trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            let key = age::x25519::Identity::from_str(t).map_err(|_| {
                Error::refused(
                    Location::path(path).with_item(format!("line {}", n + 1)),
                    "not an age identity (AGE-SECRET-KEY-1...; ssh keys are not supported)",
                )
            })?;
            keys.push(Box::new(key));
        }
        if keys.is_empty() {
            return Err(Error::refused(Location::path(path), "holds no age identity"));
        }
        Ok(Identities { keys, source: path.display().to_string() })
    }

    /// One identity (tests).
    pub fn from_identity(key: age::x25519::Identity) -> Self {
        Identities { keys: vec![Box::new(key)], source: "(given)".to_owned() }
    }

    /// Opens an age stream. A wrong key or a file that is not age is an
    /// error (the run cannot go on), damage further in shows up as read
    /// errors of the returned reader.
    pub fn decrypt<R: Read>(&self, input: R, what: &Path) -> Result<age::stream::StreamReader<R>> {
        let d = age::Decryptor::new(input).map_err(|e| decrypt_error(e, what, self))?;
        d.decrypt(self.keys.iter().map(|k| k.as_ref() as &dyn age::Identity))
            .map_err(|e| decrypt_error(e, what, self))
    }
}

fn decrypt_error(e: age::DecryptError, what: &Path, ids: &Identities) -> Error {
    match e {
        age::DecryptError::NoMatchingKeys => Error::refused(
            Location::path(what),
            format!("none of the identities in {} can decrypt it (wrong key?)", ids.source),
        ),
        age::DecryptError::Io(e) => Error::io(Location::path(what), e),
        e => Error::format(Location::path(what), format!("not a readable age file: {e}")),
    }
}

/// Whether `archive` is encrypted (by its name).
pub fn is_encrypted(archive: &Path) -> bool {
    archive.to_string_lossy().ends_with(AGE_EXT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn round_trip_and_wrong_key() {
        let key = age::x25519::Identity::generate();
        let mut r = Recipients::default();
        r.0.push(Recipients::parse_one(&key.to_public().to_string()).unwrap());
        assert!(Recipients::parse_one("age1nope").is_err());
        let mut out = Vec::new();
        let mut w = r.encryptor(Path::new("x")).unwrap().wrap_output(&mut out).unwrap();
        w.write_all(b"hello mail").unwrap();
        w.finish().unwrap();
        let ids = Identities::from_identity(key);
        let mut back = String::new();
        ids.decrypt(&out[..], Path::new("x")).unwrap().read_to_string(&mut back).unwrap();
        assert_eq!(back, "hello mail");
        let other = Identities::from_identity(age::x25519::Identity::generate());
        let e = other.decrypt(&out[..], Path::new("x")).err().unwrap();
        assert!(e.to_string().contains("wrong key"), "{e}");
    }
}
