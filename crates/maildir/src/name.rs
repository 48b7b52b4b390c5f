//! Names on disk: folder directories and message file names. Pure functions
//! (no file system access), fuzzed by `fuzz/fuzz_targets/maildir_name.rs`.
//!
//! # Folder names
//!
//! - **Maildir++** (Dovecot's and Courier's default): the inbox is the root
//!   maildir; every other folder is a directory `.A.B` directly under it.
//! - **fs** (Dovecot `LAYOUT=fs`): nested directories `A/B`.
//!
//! Each segment is first escaped, then (unless UTF-8 names were asked for)
//! written in modified UTF-7 ([`crate::mutf7`]). The escape is Dovecot's
//! `listescape` one: `\` and two lower-case hex digits. Escaped are `\`
//! itself, `/`, ASCII control characters, a leading `~`, every `.` in
//! Maildir++ (it is the hierarchy separator) and a leading `.` in fs (it
//! would hide the directory); in fs a segment named `cur`, `new` or `tmp`
//! has its first letter escaped, since those names belong to the maildir.
//! With UTF-8 names, an all-ASCII segment that would read as valid modified
//! UTF-7 (`A&-B`) has its `&` escaped too, so that reading cannot mistake it.
//!
//! So a folder `Project 1.5` is `.Project 1\2e5` on disk. A stock Dovecot
//! (separator `.`) shows it to IMAP clients as `Project 1\2e5`: an ordinary,
//! selectable name, nothing lost. With `mail_plugins = listescape` and a
//! namespace separator of `/` it shows `Project 1.5` exactly (separator `^`
//! restores both `.` and `/`). Encoding the `.` as `&AC4-` instead was
//! tried and rejected: Dovecot's strict decoder does not accept encoded
//! printable ASCII and shows the raw `&AC4-`, which clients then cannot
//! select.
//!
//! Refused (never written): an empty folder path or segment, `.` and `..`
//! segments, NUL characters and names longer than a directory entry holds
//! (255 bytes). Nothing else can leave the target directory, because `/` and
//! a leading `.` never reach the disk unescaped.
//!
//! # Message file names
//!
//! `unique[,S=size][,W=vsize]:2,FLAGS`: the unique part, Dovecot's size
//! fields (they spare it a `stat`), then the info part with the flag letters
//! in ASCII order: `D`raft, `F`lagged, `P`assed (forwarded), `R`eplied,
//! `S`een, `T`rashed (deleted), then keyword letters `a`–`z` (see
//! [`crate::keywords`]).

use std::fmt::Write as _;

use mailshift_model::{Flags, FolderPath, Role};

use crate::{mutf7, Layout};

/// Why a folder name cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    #[error("folder has no name")]
    Empty,
    #[error("folder name segment {0:?} is not allowed")]
    DotSegment(String),
    #[error("folder name {0:?} holds a NUL character")]
    Nul(String),
    #[error("folder name {0:?} is longer than 255 bytes on disk")]
    TooLong(String),
}

/// The longest directory entry name Linux file systems accept.
const NAME_MAX: usize = 255;

fn escape_segment(seg: &str, layout: Layout, out: &mut String) -> Result<(), NameError> {
    if seg.is_empty() {
        return Err(NameError::Empty);
    }
    if seg == "." || seg == ".." {
        return Err(NameError::DotSegment(seg.to_owned()));
    }
    if seg.contains('\0') {
        return Err(NameError::Nul(seg.to_owned()));
    }
    let reserved = layout == Layout::Fs && matches!(seg, "cur" | "new" | "tmp");
    for (i, c) in seg.char_indices() {
        let escape = match c {
            '\\' | '/' => true,
            '.' => layout == Layout::MaildirPlusPlus || i == 0,
            '~' => i == 0,
            c if c.is_ascii_control() => true,
            _ => reserved && i == 0,
        };
        if escape {
            let _ = write!(out, "\\{:02x}", c as u32);
        } else {
            out.push(c);
        }
    }
    Ok(())
}

fn unescape_segment(seg: &str) -> String {
    let mut out = String::with_capacity(seg.len());
    let mut rest = seg;
    while let Some(pos) = rest.find('\\') {
        out.push_str(&rest[..pos]);
        let hex = rest.get(pos + 1..pos + 3);
        match hex.and_then(|h| u8::from_str_radix(h, 16).ok()).filter(|b| *b != 0 && b.is_ascii()) {
            Some(b) if hex.is_some_and(|h| h.bytes().all(|c| c.is_ascii_hexdigit())) => {
                out.push(char::from(b));
                rest = &rest[pos + 3..];
            }
            _ => {
                out.push('\\');
                rest = &rest[pos + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn encode_segment(seg: &str, layout: Layout, utf8: bool) -> Result<String, NameError> {
    let mut escaped = String::with_capacity(seg.len() + 4);
    escape_segment(seg, layout, &mut escaped)?;
    if !utf8 {
        return Ok(mutf7::encode(&escaped));
    }
    // An ASCII UTF-8 name that happens to be valid modified UTF-7 (`A&-B`,
    // `&AOk-`) would be decoded on reading; escaping its `&` keeps it literal.
    if escaped.is_ascii() && mutf7::decode(&escaped).is_some_and(|d| d != escaped) {
        return Ok(escaped.replace('&', "\\26"));
    }
    Ok(escaped)
}

fn decode_segment(seg: &str) -> String {
    // Plain ASCII is modified UTF-7 (Dovecot's default); anything else was
    // written with UTF-8 names. An invalid mUTF-7 name is taken literally,
    // as Dovecot shows it.
    let unicode = if seg.is_ascii() { mutf7::decode(seg) } else { None };
    unescape_segment(unicode.as_deref().unwrap_or(seg))
}

/// The directory of `folder` relative to the maildir root: `""` for the
/// inbox (the root itself), `.A.B` in Maildir++, `A/B` in fs.
pub fn encode_folder(folder: &FolderPath, layout: Layout, utf8: bool) -> Result<String, NameError> {
    if folder.is_inbox() {
        return Ok(String::new());
    }
    if folder.segments.is_empty() {
        return Err(NameError::Empty);
    }
    let mut parts = Vec::with_capacity(folder.segments.len());
    for seg in &folder.segments {
        let part = encode_segment(seg, layout, utf8)?;
        if layout == Layout::Fs && part.len() > NAME_MAX {
            return Err(NameError::TooLong(seg.clone()));
        }
        parts.push(part);
    }
    Ok(match layout {
        Layout::MaildirPlusPlus => {
            let name = format!(".{}", parts.join("."));
            if name.len() > NAME_MAX {
                return Err(NameError::TooLong(folder.key()));
            }
            name
        }
        Layout::Fs => parts.join("/"),
    })
}

/// The folder a directory (relative to the maildir root) holds, or `None`
/// when it is not a folder name of this layout. `""` is the inbox. Invalid
/// modified UTF-7 and unknown escapes are kept literally.
pub fn decode_folder(dir_name: &str, layout: Layout) -> Option<FolderPath> {
    if dir_name.is_empty() {
        return Some(FolderPath::inbox());
    }
    if dir_name.contains('\0') {
        return None;
    }
    let segments: Vec<String> = match layout {
        Layout::MaildirPlusPlus => {
            let rest = dir_name.strip_prefix('.')?;
            if rest.is_empty() || rest.contains('/') || rest == "." {
                return None;
            }
            rest.split('.').filter(|s| !s.is_empty()).map(decode_segment).collect()
        }
        Layout::Fs => {
            let parts: Vec<&str> = dir_name.split('/').collect();
            if parts.iter().any(|p| p.is_empty() || *p == "." || *p == "..") {
                return None;
            }
            parts.into_iter().map(decode_segment).collect()
        }
    };
    if segments.is_empty() {
        return None;
    }
    Some(folder_from_segments(segments))
}

/// A folder from decoded segments, with its role guessed from the name, but
/// never turned into the inbox unless it is literally called `INBOX`: in a
/// maildir the inbox is the root, so a `.Posteingang` folder is a folder.
pub fn folder_from_segments(segments: Vec<String>) -> FolderPath {
    let literal_inbox = segments.len() == 1 && segments[0].eq_ignore_ascii_case("inbox");
    let guessed = FolderPath::new(segments.clone());
    if guessed.role == Some(Role::Inbox) && !literal_inbox {
        return FolderPath::with_role(segments, None);
    }
    guessed
}

/// A message file name taken apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedName<'a> {
    /// The unique part: everything before the first `,` or `:`.
    pub unique: &'a str,
    /// `S=`: the file's size, where the name records it.
    pub size: Option<u64>,
    /// `W=`: the size with CRLF line ends, where the name records it.
    pub vsize: Option<u64>,
    /// The info part after `:`, if any (`2,FS`).
    pub info: Option<&'a str>,
    /// The flag letters of a `:2,` info part (`""` without one).
    pub flags: &'a str,
}

/// Takes a maildir file name apart; `None` for names that are not message
/// files (empty, hidden, holding `/` or NUL).
pub fn parse_file_name(name: &str) -> Option<ParsedName<'_>> {
    if name.is_empty() || name.starts_with('.') || name.contains(['/', '\0']) {
        return None;
    }
    let (base, info) = match name.split_once(':') {
        Some((b, i)) => (b, Some(i)),
        None => (name, None),
    };
    let mut fields = base.split(',');
    let unique = fields.next().unwrap_or(base);
    if unique.is_empty() {
        return None;
    }
    let (mut size, mut vsize) = (None, None);
    for field in fields {
        if let Some(v) = field.strip_prefix("S=") {
            size = v.parse().ok();
        } else if let Some(v) = field.strip_prefix("W=") {
            vsize = v.parse().ok();
        }
    }
    let flags = info.and_then(|i| i.strip_prefix("2,")).unwrap_or("");
    Some(ParsedName { unique, size, vsize, info, flags })
}

/// The file name of a message: `unique,S=size:2,` plus the system flag
/// letters and the (already mapped) keyword letters, all in ASCII order.
pub fn file_name(unique: &str, size: Option<u64>, flags: &Flags, keyword_letters: &str) -> String {
    let mut name = String::with_capacity(unique.len() + 40);
    name.push_str(unique);
    if let Some(s) = size {
        let _ = write!(name, ",S={s}");
    }
    name.push_str(":2,");
    name.push_str(&flags.maildir_letters());
    let mut kw: Vec<char> = keyword_letters.chars().filter(char::is_ascii_lowercase).collect();
    kw.sort_unstable();
    kw.dedup();
    name.extend(kw);
    name
}

/// The deterministic unique part mailshift writes:
/// `<received seconds>.M<first 20 hex digits of the exact hash>_<n>.mailshift`,
/// where `n` counts identical messages (same time, same bytes) in a folder.
/// The same job run again produces the same names, which is how a re-run
/// after a crash recognises what is already there.
pub fn mailshift_unique(received_secs: i64, hash_hex: &str, n: u32) -> String {
    let hash = hash_hex.get(..20).unwrap_or(hash_hex);
    format!("{}.M{hash}_{n}.{MAILSHIFT_HOST}", received_secs.max(0))
}

/// The "host" part of mailshift's unique names; a file in `tmp/` whose
/// unique part ends with it was left there by an interrupted mailshift run.
pub const MAILSHIFT_HOST: &str = "mailshift";

/// Whether a unique part is one mailshift writes.
pub fn is_mailshift_unique(unique: &str) -> bool {
    unique.strip_suffix(MAILSHIFT_HOST).is_some_and(|s| s.ends_with('.'))
}

/// The leading timestamp of a unique part (`1700000000.` → 1700000000), the
/// first sort key when a folder's messages are listed.
pub fn leading_time(unique: &str) -> Option<u64> {
    let digits = unique.split('.').next()?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Flags from the letters of an info part. Keyword letters are resolved
/// with `keyword`; letters it does not know are returned as the second value.
pub fn flags_from_letters(letters: &str, keyword: impl Fn(char) -> Option<String>) -> (Flags, String) {
    let mut flags = Flags::default();
    let mut unknown = String::new();
    for c in letters.chars() {
        match c {
            'D' => flags.draft = true,
            'F' => flags.flagged = true,
            'P' => flags.forwarded = true,
            'R' => flags.answered = true,
            'S' => flags.seen = true,
            'T' => flags.deleted = true,
            'a'..='z' => match keyword(c) {
                Some(k) => flags.add_keyword(&k),
                None => unknown.push(c),
            },
            _ => unknown.push(c),
        }
    }
    (flags, unknown)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(segs: &[&str]) -> FolderPath {
        FolderPath::with_role(segs.iter().map(|s| (*s).to_owned()).collect(), None)
    }

    #[test]
    fn maildirpp_names() {
        let m = Layout::MaildirPlusPlus;
        assert_eq!(encode_folder(&FolderPath::inbox(), m, false).unwrap(), "");
        assert_eq!(encode_folder(&fp(&["Work", "2024"]), m, false).unwrap(), ".Work.2024");
        assert_eq!(encode_folder(&fp(&["Project 1.5"]), m, false).unwrap(), ".Project 1\\2e5");
        assert_eq!(encode_folder(&fp(&["a/b"]), m, false).unwrap(), ".a\\2fb");
        assert_eq!(encode_folder(&fp(&["Entwürfe"]), m, false).unwrap(), ".Entw&APw-rfe");
        assert_eq!(encode_folder(&fp(&["Entwürfe"]), m, true).unwrap(), ".Entwürfe");
        assert_eq!(encode_folder(&fp(&["A&B"]), m, true).unwrap(), ".A&B");
        assert_eq!(encode_folder(&fp(&["A&-B"]), m, true).unwrap(), ".A\\26-B");
        assert_eq!(decode_folder(".A\\26-B", m).unwrap().segments, ["A&-B"]);
        assert_eq!(decode_folder(".A&B", m).unwrap().segments, ["A&B"]);
        assert_eq!(encode_folder(&fp(&["~home"]), m, false).unwrap(), ".\\7ehome");
        assert_eq!(encode_folder(&fp(&["a\\2eb"]), m, false).unwrap(), ".a\\5c2eb");
        assert_eq!(decode_folder(".Work.2024", m).unwrap().segments, ["Work", "2024"]);
        assert_eq!(decode_folder(".Project 1\\2e5", m).unwrap().segments, ["Project 1.5"]);
        assert_eq!(decode_folder(".Entw&APw-rfe", m).unwrap().segments, ["Entwürfe"]);
        assert_eq!(decode_folder(".a&AC4-b", m).unwrap().segments, ["a&AC4-b"]);
        assert_eq!(decode_folder(".Sent", m).unwrap().role, Some(mailshift_model::Role::Sent));
        assert_eq!(decode_folder(".Posteingang", m).unwrap(), fp(&["Posteingang"]));
        assert!(decode_folder(".INBOX", m).unwrap().is_inbox());
        assert_eq!(decode_folder("cur", m), None);
        assert_eq!(decode_folder("..", m), None);
        assert_eq!(decode_folder(".", m), None);
    }

    #[test]
    fn fs_names() {
        let f = Layout::Fs;
        assert_eq!(encode_folder(&fp(&["Work", "v1.5"]), f, false).unwrap(), "Work/v1.5");
        assert_eq!(encode_folder(&fp(&[".hidden"]), f, false).unwrap(), "\\2ehidden");
        assert_eq!(encode_folder(&fp(&["a/b", "cur"]), f, false).unwrap(), "a\\2fb/\\63ur");
        assert_eq!(decode_folder("a\\2fb/\\63ur", f).unwrap().segments, ["a/b", "cur"]);
        assert_eq!(decode_folder("a/../b", f), None);
        assert_eq!(decode_folder("/abs", f), None);
    }

    #[test]
    fn refuses_unsafe_names() {
        for layout in [Layout::MaildirPlusPlus, Layout::Fs] {
            for bad in [&["..", "x"][..], &["."], &["a", ""], &["nul\0"]] {
                assert!(encode_folder(&fp(bad), layout, false).is_err(), "{bad:?}");
            }
            assert_eq!(encode_folder(&fp(&[]), layout, false), Err(NameError::Empty));
            let long = "x".repeat(300);
            assert!(matches!(encode_folder(&fp(&[&long]), layout, true), Err(NameError::TooLong(_))));
        }
    }

    #[test]
    fn file_names() {
        let mut f = Flags::SEEN;
        f.flagged = true;
        f.draft = true;
        let n = file_name("1700000000.Mabc_1.mailshift", Some(42), &f, "ca");
        assert_eq!(n, "1700000000.Mabc_1.mailshift,S=42:2,DFSac");
        let p = parse_file_name(&n).unwrap();
        assert_eq!(p.unique, "1700000000.Mabc_1.mailshift");
        assert_eq!(p.size, Some(42));
        assert_eq!(p.flags, "DFSac");
        assert!(is_mailshift_unique(p.unique));
        assert_eq!(leading_time(p.unique), Some(1_700_000_000));
        let p = parse_file_name("1234.M5P6.host,S=10,W=12:2,RS").unwrap();
        assert_eq!((p.unique, p.size, p.vsize, p.flags), ("1234.M5P6.host", Some(10), Some(12), "RS"));
        let p = parse_file_name("1234.x.host").unwrap();
        assert_eq!((p.info, p.flags), (None, ""));
        assert_eq!(parse_file_name(".hidden"), None);
        assert_eq!(parse_file_name(":2,S"), None);
        let (flags, unknown) = flags_from_letters("DFPRSTab!", |c| (c == 'a').then(|| "$Label1".to_owned()));
        assert!(
            flags.draft && flags.flagged && flags.forwarded && flags.answered && flags.seen && flags.deleted
        );
        assert_eq!(flags.keywords.iter().collect::<Vec<_>>(), ["$Label1"]);
        assert_eq!(unknown, "b!");
    }

    #[test]
    fn unique_names_are_deterministic() {
        let h = "0123456789abcdef0123456789abcdef";
        assert_eq!(mailshift_unique(1_700_000_000, h, 2), "1700000000.M0123456789abcdef0123_2.mailshift");
        assert_eq!(mailshift_unique(-5, h, 1), "0.M0123456789abcdef0123_1.mailshift");
        assert!(!is_mailshift_unique("1.M2.xmailshift"));
    }

    fn segment() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        prop_oneof![
            "[a-zA-Z0-9 ./&~\\\\-]{1,12}",
            "[&A-Za-z0-9+,-]{1,12}",
            "\\PC{1,10}",
            "[.~&/\\\\\\x01-\\x1f\\x7féü日本😀]{1,8}",
        ]
        .prop_filter("refused names", |s| s != "." && s != "..")
    }

    proptest::proptest! {
        #[test]
        fn folders_round_trip_and_stay_inside(
            segs in proptest::collection::vec(segment(), 1..4),
            fs in proptest::bool::ANY,
            utf8 in proptest::bool::ANY,
        ) {
            let layout = if fs { Layout::Fs } else { Layout::MaildirPlusPlus };
            let folder = FolderPath::with_role(segs.clone(), None);
            let name = encode_folder(&folder, layout, utf8).unwrap();
            if folder.is_inbox() {
                proptest::prop_assert_eq!(name, "");
                return Ok(());
            }
            // Nothing escapes the root: no absolute path, no `..` or `.`
            // component, exactly as many components as the layout promises.
            let components: Vec<&str> = name.split('/').collect();
            proptest::prop_assert!(!name.starts_with('/'));
            proptest::prop_assert!(components.iter().all(|c| !c.is_empty() && *c != "." && *c != ".."));
            proptest::prop_assert!(!components.iter().any(|c| matches!(*c, "cur" | "new" | "tmp")));
            let expected = if fs { segs.len() } else { 1 };
            proptest::prop_assert_eq!(components.len(), expected);
            if !utf8 {
                proptest::prop_assert!(name.bytes().all(|b| (0x20..0x7f).contains(&b)));
            }
            let back = decode_folder(&name, layout).unwrap();
            proptest::prop_assert_eq!(back.segments, segs);
        }

        #[test]
        fn parsing_never_panics(s in "\\PC*|[0-9.,:=SW2a-zA-Z]*") {
            if let Some(p) = parse_file_name(&s) {
                proptest::prop_assert!(s.starts_with(p.unique));
            }
            let _ = decode_folder(&s, Layout::MaildirPlusPlus);
            let _ = decode_folder(&s, Layout::Fs);
        }
    }
}
