use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// A message's state: the IMAP system flags, maildir's "passed" (forwarded)
/// and free-form keywords (`$Junk`, `$Label1`, `NonJunk`, ...).
///
/// `forwarded` is first-class because maildir has a letter for it (`P`) and
/// Outlook records it; on IMAP it is the `$Forwarded` keyword.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Flags {
    pub seen: bool,
    pub answered: bool,
    pub flagged: bool,
    pub deleted: bool,
    pub draft: bool,
    pub forwarded: bool,
    /// Keywords, sorted and unique. Never holds a system flag or `$Forwarded`.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub keywords: BTreeSet<String>,
}

impl Flags {
    /// Only `\Seen`.
    pub const SEEN: Flags = Flags {
        seen: true,
        answered: false,
        flagged: false,
        deleted: false,
        draft: false,
        forwarded: false,
        keywords: BTreeSet::new(),
    };

    /// Adds a keyword; `$Forwarded` (any case) sets `forwarded` instead, and
    /// IMAP system flags (`\Seen`, ...) set the matching field.
    pub fn add_keyword(&mut self, keyword: &str) {
        let k = keyword.trim();
        match k.to_ascii_lowercase().as_str() {
            "" => {}
            "$forwarded" => self.forwarded = true,
            "\\seen" => self.seen = true,
            "\\answered" => self.answered = true,
            "\\flagged" => self.flagged = true,
            "\\deleted" => self.deleted = true,
            "\\draft" => self.draft = true,
            "\\recent" => {}
            _ => {
                self.keywords.insert(k.to_owned());
            }
        }
    }

    /// The maildir info letters, in ASCII order as the spec asks (`DFPRST`).
    pub fn maildir_letters(&self) -> String {
        let mut s = String::with_capacity(6);
        for (on, c) in [
            (self.draft, 'D'),
            (self.flagged, 'F'),
            (self.forwarded, 'P'),
            (self.answered, 'R'),
            (self.seen, 'S'),
            (self.deleted, 'T'),
        ] {
            if on {
                s.push(c);
            }
        }
        s
    }

    /// The IMAP flag list for APPEND/STORE, e.g. `\Seen \Answered $Forwarded work`.
    pub fn imap_list(&self) -> Vec<String> {
        let mut v = Vec::new();
        for (on, name) in [
            (self.seen, "\\Seen"),
            (self.answered, "\\Answered"),
            (self.flagged, "\\Flagged"),
            (self.deleted, "\\Deleted"),
            (self.draft, "\\Draft"),
            (self.forwarded, "$Forwarded"),
        ] {
            if on {
                v.push(name.to_owned());
            }
        }
        v.extend(self.keywords.iter().cloned());
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_are_sorted_and_keywords_classified() {
        let mut f = Flags::default();
        f.add_keyword("\\Seen");
        f.add_keyword("$FORWARDED");
        f.add_keyword("work");
        f.add_keyword("  ");
        f.draft = true;
        assert_eq!(f.maildir_letters(), "DPS");
        assert_eq!(f.keywords.iter().collect::<Vec<_>>(), vec!["work"]);
        assert_eq!(f.imap_list(), vec!["\\Seen", "\\Draft", "$Forwarded", "work"]);
    }
}
