//! Folder names on the server.
//!
//! A [`FolderPath`] becomes a server name by, in order: the user's map file
//! (`--folder-map`), the server's SPECIAL-USE folder for the role of a
//! top-level folder (`\Sent`, `\Drafts`, `\Trash`, `\Junk`, `\Archive`),
//! Microsoft 365's own names for those roles when the server is M365 and
//! has no SPECIAL-USE, and otherwise the segments joined with the server's
//! hierarchy delimiter. Names travel in modified UTF-7.
//!
//! A segment holding the delimiter itself (`a.b` on a `.` server) cannot be
//! one folder there; the delimiter is written as a look-alike (U+2024 ONE
//! DOT LEADER for `.`, U+2215 DIVISION SLASH for `/`) and read back as the
//! original, so the name survives the round trip; each such change is
//! reported as a `name` finding with the mapping used.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use mailshift_maildir::mutf7;
use mailshift_model::{FolderPath, Role};

use crate::connection::Conn;
use crate::protocol::{ListItem, Resp};
use crate::{ImapError, Result};

/// What the server has.
#[derive(Debug, Clone, Default)]
pub struct ServerFolders {
    pub delimiter: Option<char>,
    pub folders: Vec<ListItem>,
}

impl ServerFolders {
    /// Lists every folder (with SPECIAL-USE attributes where the server
    /// gives them in LIST, as Dovecot and Exchange do).
    pub async fn list(conn: &mut Conn) -> Result<ServerFolders> {
        let (untagged, _) = conn.session.run_ok("LIST \"\" \"*\"", "LIST").await?;
        let mut out = ServerFolders::default();
        for r in untagged {
            if let Resp::List(l) = r {
                if out.delimiter.is_none() {
                    out.delimiter = l.delimiter.as_deref().and_then(|d| d.chars().next());
                }
                out.folders.push(l);
            }
        }
        if out.delimiter.is_none() {
            let (untagged, _) = conn.session.run_ok("LIST \"\" \"\"", "LIST").await?;
            for r in untagged {
                if let Resp::List(l) = r {
                    out.delimiter = l.delimiter.as_deref().and_then(|d| d.chars().next());
                }
            }
        }
        Ok(out)
    }

    pub fn exists(&self, wire: &str) -> bool {
        self.folders.iter().any(|f| {
            f.name == wire || (wire.eq_ignore_ascii_case("INBOX") && f.name.eq_ignore_ascii_case("INBOX"))
        })
    }

    fn by_role(&self) -> HashMap<Role, String> {
        let mut m = HashMap::new();
        for f in &self.folders {
            for a in &f.attributes {
                let role = match a.to_ascii_lowercase().as_str() {
                    "\\sent" => Role::Sent,
                    "\\drafts" => Role::Drafts,
                    "\\trash" => Role::Trash,
                    "\\junk" => Role::Junk,
                    "\\archive" => Role::Archive,
                    _ => continue,
                };
                m.entry(role).or_insert_with(|| f.name.clone());
            }
        }
        m
    }
}

/// A name on the server for one source folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapped {
    /// As sent on the wire (modified UTF-7).
    pub wire: String,
    /// Readable (UTF-8), for reports.
    pub display: String,
    /// Why it differs from the plain join, when it does.
    pub note: Option<String>,
}

/// Maps source folders to server names and back.
#[derive(Debug, Clone)]
pub struct FolderMapper {
    pub delimiter: char,
    by_role: HashMap<Role, String>,
    user_map: BTreeMap<String, String>,
    m365: bool,
}

/// Microsoft 365's names for the special folders.
fn m365_name(role: Role) -> Option<&'static str> {
    Some(match role {
        Role::Sent => "Sent Items",
        Role::Trash => "Deleted Items",
        Role::Junk => "Junk Email",
        Role::Drafts => "Drafts",
        Role::Archive => "Archive",
        Role::Outbox => "Outbox",
        Role::Inbox => return None,
    })
}

fn substitute(delim: char) -> char {
    match delim {
        '.' => '\u{2024}',
        '/' => '\u{2215}',
        _ => '_',
    }
}

impl FolderMapper {
    pub fn new(server: &ServerFolders, user_map: BTreeMap<String, String>, m365: bool) -> Self {
        FolderMapper { delimiter: server.delimiter.unwrap_or('/'), by_role: server.by_role(), user_map, m365 }
    }

    /// The server name for `folder`.
    pub fn map(&self, folder: &FolderPath) -> Mapped {
        let key = folder.key();
        if let Some(name) = self.user_map.get(&key) {
            let display: String = name.split('/').collect::<Vec<_>>().join(&self.delimiter.to_string());
            return Mapped {
                wire: mutf7::encode(&display),
                display,
                note: Some(format!("folder map: {key} -> {name}")),
            };
        }
        if folder.is_inbox() {
            return Mapped { wire: "INBOX".into(), display: "INBOX".into(), note: None };
        }
        if let (Some(role), 1) = (folder.role, folder.segments.len()) {
            if let Some(wire) = self.by_role.get(&role) {
                let display = mutf7::decode(wire).unwrap_or_else(|| wire.clone());
                let note = (display != folder.segments[0])
                    .then(|| format!("{key} -> {display} (the server's {role:?} folder)"));
                return Mapped { wire: wire.clone(), display, note };
            }
            if self.m365 {
                if let Some(name) = m365_name(role) {
                    let note = (name != folder.segments[0])
                        .then(|| format!("{key} -> {name} (Microsoft 365's {role:?} folder)"));
                    return Mapped { wire: mutf7::encode(name), display: name.into(), note };
                }
            }
        }
        let sub = substitute(self.delimiter);
        let mut changed = false;
        let segments: Vec<String> = folder
            .segments
            .iter()
            .map(|s| {
                if s.contains(self.delimiter) {
                    changed = true;
                    s.replace(self.delimiter, &sub.to_string())
                } else {
                    s.clone()
                }
            })
            .collect();
        let display = segments.join(&self.delimiter.to_string());
        let note = changed.then(|| {
            format!("{key} -> {display}: the server's hierarchy delimiter {:?} inside a name is written as {sub:?}", self.delimiter)
        });
        Mapped { wire: mutf7::encode(&display), display, note }
    }

    /// The source folder a server name stands for (the inverse of
    /// [`Self::map`] for names it made; others are split on the delimiter).
    pub fn folder_of(&self, wire: &str, known: &HashMap<String, FolderPath>) -> FolderPath {
        if let Some(f) = known.get(wire) {
            return f.clone();
        }
        if wire.eq_ignore_ascii_case("INBOX") {
            return FolderPath::inbox();
        }
        let display = mutf7::decode(wire).unwrap_or_else(|| wire.to_owned());
        let sub = substitute(self.delimiter);
        let segments: Vec<String> = display
            .split(self.delimiter)
            .map(|s| if sub == '_' { s.to_owned() } else { s.replace(sub, &self.delimiter.to_string()) })
            .collect();
        FolderPath::new(segments)
    }
}

/// Reads a `--folder-map` file: one `SOURCE = SERVER` a line, both written
/// with `/` between levels as `mailshift inspect` shows them (`#` starts a
/// comment). `Sent = Gesendete Elemente` or `Archive/2019 = Old/2019`.
pub fn read_map(path: &Path) -> Result<BTreeMap<String, String>> {
    let bad = |why: String| ImapError::FolderMap { path: path.display().to_string(), why };
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let mut map = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (from, to) =
            line.split_once('=').ok_or_else(|| bad(format!("line {}: expected SOURCE = SERVER", n + 1)))?;
        let (from, to) = (from.trim(), to.trim());
        if from.is_empty() || to.is_empty() {
            return Err(bad(format!("line {}: empty name", n + 1)));
        }
        let key = FolderPath::new(from.split('/')).key();
        map.insert(key, to.to_owned());
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(delim: char, special: &[(&str, &str)]) -> ServerFolders {
        ServerFolders {
            delimiter: Some(delim),
            folders: special
                .iter()
                .map(|(n, a)| ListItem {
                    attributes: vec![a.to_string()],
                    delimiter: Some(delim.to_string()),
                    name: n.to_string(),
                })
                .collect(),
        }
    }

    #[test]
    fn maps_roles_hierarchy_utf7_and_delimiters_both_ways() {
        let m = FolderMapper::new(&server('.', &[("Sent Messages", "\\Sent")]), BTreeMap::new(), false);
        assert_eq!(m.map(&FolderPath::new(["Sent"])).wire, "Sent Messages");
        assert_eq!(m.map(&FolderPath::inbox()).wire, "INBOX");
        let f = FolderPath::new(["Privé", "Reçus 2024"]);
        let mapped = m.map(&f);
        assert_eq!(mapped.wire, "Priv&AOk-.Re&AOc-us 2024");
        assert_eq!(m.folder_of(&mapped.wire, &HashMap::new()), f);
        let dotted = FolderPath::new(["a.b", "c"]);
        let mapped = m.map(&dotted);
        assert!(mapped.note.is_some());
        assert_eq!(mapped.wire.matches('.').count(), 1, "{}", mapped.wire);
        assert_eq!(m.folder_of(&mapped.wire, &HashMap::new()), dotted);
        let m365 = FolderMapper::new(&server('/', &[]), BTreeMap::new(), true);
        assert_eq!(m365.map(&FolderPath::new(["Trash"])).display, "Deleted Items");
        assert_eq!(m365.map(&FolderPath::new(["Junk"])).display, "Junk Email");
    }

    #[test]
    fn map_file_wins() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("map");
        std::fs::write(&p, "# comment\nArchive/2019 = Old/2019\n\nSent = Gesendete Elemente\n").unwrap();
        let map = read_map(&p).unwrap();
        let m = FolderMapper::new(&server('.', &[]), map, false);
        assert_eq!(m.map(&FolderPath::new(["Archive", "2019"])).wire, "Old.2019");
        assert_eq!(m.map(&FolderPath::new(["Sent"])).wire, "Gesendete Elemente");
        std::fs::write(&p, "nonsense\n").unwrap();
        assert!(read_map(&p).is_err());
    }
}
