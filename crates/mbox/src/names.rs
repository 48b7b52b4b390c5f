//! Folder names on disk in an mbox tree (Thunderbird style): folder
//! `A/B/C` is the file `A.sbd/B.sbd/C`, the inbox is `Inbox`.
//!
//! A segment may hold any character, so the file name escapes, reversibly:
//! `%` as `%25`, `/` as `%2F`, a leading `.` as `%2E` (dot files are
//! ignored on reading) and the `.` of a name ending in a suffix the reader
//! ignores or treats specially (`.sbd`, `.msf`, `.dat`, `.html`, `.json`)
//! as `%2E`. Reading decodes exactly these three escapes (`%25`, `%2F`,
//! `%2E`, any case) and leaves every other `%` alone. Segments `.` and
//! `..`, segments holding NUL and segments starting with `/` (absolute)
//! are refused.

use mailshift_model::{Error, FolderPath, Location, Result};

/// File name suffixes the tree reader skips (besides dot files).
pub const IGNORED_SUFFIXES: [&str; 5] = [".msf", ".dat", ".html", ".json", ".sbd"];

/// The file name of one folder segment.
pub fn encode_segment(segment: &str, location: &Location) -> Result<String> {
    if segment == "." || segment == ".." || segment.contains('\0') || segment.starts_with('/') {
        return Err(Error::refused(
            location.clone(),
            format!("folder name {segment:?} would escape the target"),
        ));
    }
    let mut out = segment.replace('%', "%25").replace('/', "%2F");
    if out.starts_with('.') {
        out.replace_range(..1, "%2E");
    }
    let lower = out.to_ascii_lowercase();
    if let Some(suffix) = IGNORED_SUFFIXES.iter().find(|s| lower.ends_with(*s)) {
        let dot = out.len() - suffix.len();
        out.replace_range(dot..=dot, "%2E");
    }
    Ok(out)
}

/// The folder segment of a file name (the inverse of [`encode_segment`]).
pub fn decode_segment(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let esc = rest.get(i..i + 3).map(str::to_ascii_uppercase);
        match esc.as_deref() {
            Some("%25") => out.push('%'),
            Some("%2F") => out.push('/'),
            Some("%2E") => out.push('.'),
            _ => {
                out.push('%');
                rest = &rest[i + 1..];
                continue;
            }
        }
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    out
}

/// The relative path of a folder's mbox file in a tree: `A.sbd/B.sbd/C`,
/// `Inbox` for the inbox.
pub fn folder_file(folder: &FolderPath, location: &Location) -> Result<std::path::PathBuf> {
    if folder.is_inbox() {
        return Ok("Inbox".into());
    }
    let mut path = std::path::PathBuf::new();
    let n = folder.segments.len();
    for (i, seg) in folder.segments.iter().enumerate() {
        let name = encode_segment(seg, location)?;
        if i + 1 < n {
            path.push(format!("{name}.sbd"));
        } else {
            path.push(name);
        }
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_round_trip() {
        let loc = Location::default();
        for s in ["a/b", "100%", ".hidden", "notes.msf", "x.SBD", "plain", "%2F", "é/ü", "a.b.c"] {
            let e = encode_segment(s, &loc).unwrap();
            assert!(!e.contains('/') && !e.starts_with('.'), "{e}");
            assert!(!IGNORED_SUFFIXES.iter().any(|x| e.to_ascii_lowercase().ends_with(x)), "{e}");
            assert_eq!(decode_segment(&e), s);
        }
        assert_eq!(decode_segment("50%off"), "50%off");
    }

    #[test]
    fn refuses_escapes() {
        let loc = Location::default();
        for s in ["..", ".", "a\0b", "/etc"] {
            let e = encode_segment(s, &loc).unwrap_err();
            assert!(matches!(e.kind, mailshift_model::ErrorKind::Refused(_)), "{s}");
        }
    }

    #[test]
    fn tree_paths() {
        let loc = Location::default();
        assert_eq!(folder_file(&FolderPath::inbox(), &loc).unwrap(), std::path::Path::new("Inbox"));
        let f = FolderPath::new(["Work", "a/b"]);
        assert_eq!(folder_file(&f, &loc).unwrap(), std::path::Path::new("Work.sbd/a%2Fb"));
    }
}
