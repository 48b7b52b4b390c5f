//! Folder directories and message file names of an EML tree. Pure functions.
//!
//! A folder segment is written in UTF-8 with Dovecot's `listescape` escape
//! (`\` and two lower-case hex digits) for `\`, `/`, ASCII control
//! characters, a leading `.` (it would hide the directory) and a leading
//! `~`. The inbox is the directory `INBOX`. Refused: empty names, `.` and
//! `..` segments, NUL and segments longer than 255 bytes.

use std::fmt::Write as _;

use mailshift_model::{FolderPath, Role};

/// Why a folder name cannot be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameError(pub String);

impl std::fmt::Display for NameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NameError {}

/// The directory of `folder`, relative to the tree's root (`/`-separated).
pub fn encode_folder(folder: &FolderPath) -> Result<String, NameError> {
    if folder.is_inbox() {
        return Ok("INBOX".to_owned());
    }
    if folder.segments.is_empty() {
        return Err(NameError("folder has no name".into()));
    }
    let mut parts = Vec::with_capacity(folder.segments.len());
    for seg in &folder.segments {
        if seg.is_empty() || seg == "." || seg == ".." || seg.contains('\0') {
            return Err(NameError(format!("folder name segment {seg:?} is not allowed")));
        }
        let mut out = String::with_capacity(seg.len() + 4);
        for (i, c) in seg.char_indices() {
            if matches!(c, '\\' | '/') || c.is_ascii_control() || (i == 0 && matches!(c, '.' | '~')) {
                let _ = write!(out, "\\{:02x}", c as u32);
            } else {
                out.push(c);
            }
        }
        if out.len() > 255 {
            return Err(NameError(format!("folder name segment {seg:?} is longer than 255 bytes on disk")));
        }
        parts.push(out);
    }
    Ok(parts.join("/"))
}

fn unescape(seg: &str) -> String {
    let mut out = String::with_capacity(seg.len());
    let mut rest = seg;
    while let Some(pos) = rest.find('\\') {
        out.push_str(&rest[..pos]);
        let hex = rest.get(pos + 1..pos + 3).filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()));
        match hex.and_then(|h| u8::from_str_radix(h, 16).ok()).filter(|b| *b != 0 && b.is_ascii()) {
            Some(b) => {
                out.push(char::from(b));
                rest = &rest[pos + 3..];
            }
            None => {
                out.push('\\');
                rest = &rest[pos + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The folder a directory (relative, `/`-separated) holds; `""` is the
/// inbox (the root's own files). `None` for `.`/`..`/empty components.
pub fn decode_folder(rel: &str) -> Option<FolderPath> {
    if rel.is_empty() {
        return Some(FolderPath::inbox());
    }
    let parts: Vec<&str> = rel.split('/').collect();
    if parts.iter().any(|p| p.is_empty() || *p == "." || *p == ".." || p.contains('\0')) {
        return None;
    }
    let segments: Vec<String> = parts.into_iter().map(unescape).collect();
    let literal_inbox = segments.len() == 1 && segments[0].eq_ignore_ascii_case("inbox");
    let guessed = FolderPath::new(segments.clone());
    // Only a directory literally called INBOX is the inbox; `Posteingang/`
    // stays a folder of its own (as in a maildir).
    if guessed.role == Some(Role::Inbox) && !literal_inbox {
        return Some(FolderPath::with_role(segments, None));
    }
    Some(guessed)
}

/// The file name mailshift gives a message: deterministic, so that a re-run
/// recognises what it wrote.
pub fn file_name(received_secs: i64, hash_hex: &str, n: u32) -> String {
    let hash = hash_hex.get(..20).unwrap_or(hash_hex);
    format!("{}.{hash}.{n}.eml", received_secs.max(0))
}

/// The temporary name a message is written under before its rename.
pub fn temp_name(final_name: &str) -> String {
    format!(".{final_name}{TEMP_SUFFIX}")
}

/// The suffix of mailshift's temporary files (removed when a folder is reopened).
pub const TEMP_SUFFIX: &str = ".mailshift-tmp";

/// The leading number of a file name, the first sort key of a folder.
pub fn leading_number(name: &str) -> u64 {
    let digits: &str = name.split(|c: char| !c.is_ascii_digit()).next().unwrap_or("");
    digits.parse().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(s: &[&str]) -> FolderPath {
        FolderPath::with_role(s.iter().map(|x| (*x).to_owned()).collect(), None)
    }

    #[test]
    fn names() {
        assert_eq!(encode_folder(&FolderPath::inbox()).unwrap(), "INBOX");
        assert_eq!(encode_folder(&fp(&["Work", "v1.5"])).unwrap(), "Work/v1.5");
        assert_eq!(encode_folder(&fp(&["a/b", ".x", "~y"])).unwrap(), "a\\2fb/\\2ex/\\7ey");
        assert!(encode_folder(&fp(&["..", "etc"])).is_err());
        assert!(encode_folder(&fp(&["a", ""])).is_err());
        assert!(decode_folder("INBOX").unwrap().is_inbox());
        assert!(decode_folder("").unwrap().is_inbox());
        assert_eq!(decode_folder("Posteingang").unwrap(), fp(&["Posteingang"]));
        assert_eq!(decode_folder("a/../b"), None);
        assert_eq!(
            file_name(1_700_000_000, "0123456789abcdef0123456789", 2),
            "1700000000.0123456789abcdef0123.2.eml"
        );
        assert_eq!(leading_number("1700000000.ab.1.eml"), 1_700_000_000);
        assert_eq!(leading_number("mail.eml"), 0);
    }

    proptest::proptest! {
        #[test]
        fn round_trip_and_stay_inside(segs in proptest::collection::vec("[a-z./\\\\~&]{1,6}|\\PC{1,6}", 1..4)) {
            proptest::prop_assume!(segs.iter().all(|s| s != "." && s != ".."));
            let folder = FolderPath::with_role(segs.clone(), None);
            let rel = encode_folder(&folder).unwrap();
            if folder.is_inbox() {
                return Ok(());
            }
            let comps: Vec<&str> = rel.split('/').collect();
            proptest::prop_assert_eq!(comps.len(), segs.len());
            proptest::prop_assert!(comps.iter().all(|c| !c.is_empty() && !c.starts_with('.')));
            proptest::prop_assert_eq!(decode_folder(&rel).unwrap().segments, segs);
        }
    }
}
