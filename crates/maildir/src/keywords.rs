//! Dovecot's `dovecot-keywords` file: which keyword each of the 26 letters
//! `a`–`z` of a folder's file names stands for.
//!
//! One line per keyword, `<index> <name>`, index 0 being `a`. The file is
//! per folder (beside `cur/`). A writer merges with the file it finds, never
//! renumbers, and writes it crash-safely before any message that uses a new
//! letter is renamed into `cur/`. Courier's `courierimapkeywords/` is not
//! read (its keywords are lost, not misread).

use std::collections::HashMap;
use std::io;
use std::path::Path;

use mailshift_model::durable;

/// The file name, beside `cur/`.
pub const FILE: &str = "dovecot-keywords";

/// How many keywords a maildir folder can hold: one per letter `a`–`z`.
pub const MAX: usize = 26;

/// A folder's keyword letters.
#[derive(Debug, Clone, Default)]
pub struct Keywords {
    names: Vec<Option<String>>,
    index: HashMap<String, u8>,
    dirty: bool,
}

impl Keywords {
    /// Parses the file's text; lines that make no sense are returned so the
    /// caller can report them.
    pub fn parse(text: &str) -> (Self, Vec<String>) {
        let mut k = Keywords { names: vec![None; MAX], ..Keywords::default() };
        let mut bad = Vec::new();
        for line in text.lines() {
            let parsed = line.split_once(' ').and_then(|(idx, name)| {
                let i: usize = idx.parse().ok()?;
                (i < MAX && !name.is_empty()).then_some((i, name))
            });
            match parsed {
                Some((i, name)) => {
                    k.index.insert(name.to_owned(), u8::try_from(i).unwrap_or(0));
                    k.names[i] = Some(name.to_owned());
                }
                None if line.trim().is_empty() => {}
                None => bad.push(line.to_owned()),
            }
        }
        (k, bad)
    }

    /// Reads `dir/dovecot-keywords`; a missing file is an empty map.
    pub fn load(dir: &Path) -> io::Result<(Self, Vec<String>)> {
        match std::fs::read(dir.join(FILE)) {
            Ok(bytes) => Ok(Self::parse(&String::from_utf8_lossy(&bytes))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Self::parse("")),
            Err(e) => Err(e),
        }
    }

    /// The keyword a letter stands for.
    pub fn name(&self, letter: char) -> Option<&str> {
        let i = (letter as usize).checked_sub('a' as usize)?;
        self.names.get(i)?.as_deref()
    }

    /// The letter for `keyword`, assigning the first free one if it is new.
    /// `None` when all 26 letters are taken or the keyword cannot be stored
    /// (empty, or holding white space or control characters).
    pub fn letter_for(&mut self, keyword: &str) -> Option<char> {
        if let Some(&i) = self.index.get(keyword) {
            return Some(char::from(b'a' + i));
        }
        if keyword.is_empty() || keyword.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return None;
        }
        if self.names.len() < MAX {
            self.names.resize(MAX, None);
        }
        let free = self.names.iter().position(Option::is_none)?;
        self.names[free] = Some(keyword.to_owned());
        let i = u8::try_from(free).ok()?;
        self.index.insert(keyword.to_owned(), i);
        self.dirty = true;
        Some(char::from(b'a' + i))
    }

    /// Whether letters were assigned since the last [`Self::save`].
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// The file's text.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for (i, name) in self.names.iter().enumerate() {
            if let Some(n) = name {
                s.push_str(&format!("{i} {n}\n"));
            }
        }
        s
    }

    /// [`Self::save`] for a writer that defers durability to a later
    /// `syncfs` (a deferred run, [`crate::MaildirSink::create_deferred`]):
    /// where the folder has no keywords file yet, it is written without
    /// `fsync`s, since no durable message can use its letters and the run's
    /// `syncfs` comes before any name that does. A file that exists may be
    /// what durable messages' letters mean, and a crash must not leave it
    /// empty: it is replaced crash-safely, as by [`Self::save`].
    pub fn save_before_syncfs(&mut self, dir: &Path) -> io::Result<()> {
        let path = dir.join(FILE);
        if self.dirty && !path.exists() {
            durable::write_file_unsynced(&path, self.to_text().as_bytes())?;
            self.dirty = false;
        }
        self.save(dir)
    }

    /// Writes `dir/dovecot-keywords` crash-safely if anything changed.
    pub fn save(&mut self, dir: &Path) -> io::Result<()> {
        if self.dirty {
            durable::write_file_atomic(&dir.join(FILE), self.to_text().as_bytes())?;
            self.dirty = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_without_renumbering() {
        let (mut k, bad) = Keywords::parse("0 $Junk\n2 work\nnonsense\n40 toolarge\n");
        assert_eq!(bad, ["nonsense", "40 toolarge"]);
        assert_eq!(k.name('a'), Some("$Junk"));
        assert_eq!(k.name('b'), None);
        assert_eq!(k.letter_for("work"), Some('c'));
        assert!(!k.is_dirty());
        assert_eq!(k.letter_for("new"), Some('b'));
        assert_eq!(k.letter_for("has space"), None);
        assert!(k.is_dirty());
        assert_eq!(k.to_text(), "0 $Junk\n1 new\n2 work\n");
    }

    #[test]
    fn holds_at_most_26() {
        let (mut k, _) = Keywords::parse("");
        for i in 0..MAX {
            assert!(k.letter_for(&format!("k{i}")).is_some());
        }
        assert_eq!(k.letter_for("one-too-many"), None);
        assert_eq!(k.letter_for("k25"), Some('z'));
    }

    #[test]
    fn saves_and_loads() {
        let dir = tempfile::tempdir().unwrap();
        let (mut k, _) = Keywords::load(dir.path()).unwrap();
        k.letter_for("$Label1");
        k.save(dir.path()).unwrap();
        let (k2, bad) = Keywords::load(dir.path()).unwrap();
        assert!(bad.is_empty());
        assert_eq!(k2.name('a'), Some("$Label1"));
    }
}
